// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What tests of several files share: the buffer device, and expecting an errno.

use std::fs::{
    File,
    OpenOptions, //
};

use mymap_target_support::sys::{
    self,
    errname,
    Map, //
};
use mymap_uapi::MYMAP_DEFAULT_SIZE;

use crate::harness::TestResult;

/// The size of the buffer of a module loaded with its default parameters.
pub const SIZE: usize = MYMAP_DEFAULT_SIZE as usize;
/// The node of device 0.
pub const DEV: &str = "/dev/mymap";

pub fn open_rw() -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEV)
        .map_err(|e| format!("open {DEV}: {e}"))
}

/// Expects `res` to fail with `want`.
pub fn expect_errno<T: std::fmt::Debug>(res: Result<T, i32>, want: i32, what: &str) -> TestResult {
    match res {
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!(
            "{what}: got {}, want {}",
            errname(e),
            errname(want)
        )),
        Ok(v) => Err(format!("{what}: succeeded ({v:?}), want {}", errname(want))),
    }
}

/// Expects ioctl `request` on `file` with a null argument to fail with `want`.
pub fn expect_null_ioctl(file: &File, request: u64, want: i32, what: &str) -> TestResult {
    // SAFETY: a null argument, which the kernel never writes (ENOTTY or EFAULT).
    expect_errno(
        unsafe { sys::ioctl_ptr(file, request, std::ptr::null_mut()) },
        want,
        what,
    )
}

/// Expects `mmap` of `file` with these arguments to fail with `want`.
pub fn expect_mmap_errno(
    file: &File,
    len: usize,
    prot: i32,
    flags: i32,
    offset: i64,
    want: i32,
    what: &str,
) -> TestResult {
    expect_errno(
        Map::new(file, len, prot, flags, offset).map(|_| ()),
        want,
        what,
    )
}
