// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A mapping of the device as the user buffer of zero-copy I/O: `O_DIRECT`
//! reads and writes of a RAM block device, and `vmsplice` into a pipe.
//!
//! The kernel then pins the mapping's pages (`pin_user_pages`) and moves the
//! bytes to or from them itself, as when a program writes a captured buffer to
//! a disk without a copy. Every test checks the bytes at the other end.

use std::{
    fs::{
        File,
        OpenOptions, //
    },
    os::{
        fd::{
            AsFd,
            AsRawFd, //
        },
        unix::fs::{
            FileTypeExt,
            OpenOptionsExt, //
        },
    },
};

use mymap_target_support::sys::{
    self,
    errname,
    Map, //
};

use crate::{
    common::{
        open_rw,
        DEV, //
    },
    harness::{
        check,
        TestResult, //
    },
};

/// The RAM block device of `CONFIG_BLK_DEV_RAM` (boards/common/linux.fragment).
const RAM: &str = "/dev/ram0";
/// `O_DIRECT` alignment of buffer, offset and length: the RAM disk's logical block.
const SECTOR: usize = 512;
/// Where on the RAM disk each test writes, apart so that a misplaced write shows.
const RAM_OUT: i64 = 0;
const RAM_IN: i64 = 4 * 1024 * 1024;

/// A byte pattern that differs per `seed` and per sector, so that a sector read
/// from or written to the wrong place shows.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ ((i / SECTOR) as u8).wrapping_mul(7) ^ seed)
        .collect()
}

fn open_dev() -> Result<(File, usize), String> {
    let f = open_rw()?;
    let size = mymap_uapi::info(f.as_fd())
        .map_err(|e| format!("INFO: {e}"))?
        .size as usize;
    Ok((f, size))
}

/// The RAM disk, opened for `O_DIRECT`; missing, it names the kernel option.
fn open_ram() -> Result<File, String> {
    match std::fs::metadata(RAM) {
        Ok(meta) if meta.file_type().is_block_device() => {}
        Ok(_) => return Err(format!("{RAM} is not a block device")),
        Err(e) => {
            return Err(format!(
                "{RAM}: {e}: the kernel needs CONFIG_BLK_DEV_RAM=y \
                 (boards/common/linux.fragment) for the O_DIRECT tests"
            ))
        }
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(RAM)
        .map_err(|e| format!("open {RAM} with O_DIRECT: {e}"))
}

/// `pwrite` of `len` bytes at `at` in `map`: the count, or the errno.
fn pwrite_from(file: &File, map: &Map, at: usize, len: usize, offset: i64) -> Result<usize, i32> {
    assert!(at + len <= map.len());
    // SAFETY: the range lies inside the live mapping `map`; the kernel only reads it,
    // and no Rust reference to that memory exists.
    let r = unsafe {
        libc::pwrite(
            file.as_raw_fd(),
            map.ptr().add(at).cast(),
            len,
            offset as libc::off_t,
        )
    };
    usize::try_from(r).map_err(|_| sys::errno())
}

/// `pread` of `len` bytes into `map` at `at`: the count, or the errno.
fn pread_into(file: &File, map: &Map, at: usize, len: usize, offset: i64) -> Result<usize, i32> {
    assert!(at + len <= map.len());
    // SAFETY: the range lies inside the live, writable mapping `map`; the kernel
    // writes it, and no Rust reference to that memory exists (accesses are volatile).
    let r = unsafe {
        libc::pread(
            file.as_raw_fd(),
            map.ptr().add(at).cast(),
            len,
            offset as libc::off_t,
        )
    };
    usize::try_from(r).map_err(|_| sys::errno())
}

/// The first index where `got` and `want` differ, for messages.
fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    got.iter().zip(want).position(|(g, w)| g != w)
}

fn check_bytes(got: &[u8], want: &[u8], what: &str) -> TestResult {
    check!(
        got.len() == want.len(),
        "{what}: {} bytes, want {}",
        got.len(),
        want.len()
    );
    if let Some(i) = first_difference(got, want) {
        return Err(format!(
            "{what}: byte {i} is {:#04x}, want {:#04x}",
            got[i], want[i]
        ));
    }
    Ok(())
}

/// Reads `len` bytes of the RAM disk at `offset` through a plain (anonymous,
/// page-aligned) buffer, with `O_DIRECT`, so that no page cache sits between.
fn ram_contents(ram: &File, offset: i64, len: usize) -> Result<Vec<u8>, String> {
    let buf = Map::anon(len, libc::PROT_READ | libc::PROT_WRITE).map_err(errname)?;
    let n = pread_into(ram, &buf, 0, len, offset)
        .map_err(|e| format!("O_DIRECT read of {RAM} into a plain buffer: {}", errname(e)))?;
    check!(n == len, "O_DIRECT read of {RAM} returned {n}, want {len}");
    Ok(buf.copy_out(0, len))
}

/// Writes `bytes` to the RAM disk at `offset` from a plain buffer, with `O_DIRECT`.
fn ram_store(ram: &File, offset: i64, bytes: &[u8]) -> TestResult {
    let buf = Map::anon(bytes.len(), libc::PROT_READ | libc::PROT_WRITE).map_err(errname)?;
    buf.copy_in(0, bytes);
    let n = pwrite_from(ram, &buf, 0, bytes.len(), offset).map_err(|e| {
        format!(
            "O_DIRECT write to {RAM} from a plain buffer: {}",
            errname(e)
        )
    })?;
    check!(
        n == bytes.len(),
        "O_DIRECT write to {RAM} returned {n}, want {}",
        bytes.len()
    );
    Ok(())
}

fn device_contents(f: &File, size: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; size];
    let n = sys::pread(f, &mut buf, 0).map_err(|e| format!("pread {DEV}: {}", errname(e)))?;
    check!(n == size, "pread of {DEV} returned {n}, want {size}");
    Ok(buf)
}

/// `O_DIRECT` from and into a `MAP_SHARED` mapping: the RAM disk gets the
/// mapping's bytes, and a read into the mapping changes the device's bytes.
pub fn shared_mapping() -> TestResult {
    let ram = open_ram()?;
    let (f, size) = open_dev()?;
    let page = sys::page_size();
    let map = Map::new(
        &f,
        size,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        0,
    )
    .map_err(|e| format!("mmap {DEV} shared: {}", errname(e)))?;

    // Out: the whole mapping, then three sectors from inside its first page.
    let out = pattern(0x11, size);
    map.copy_in(0, &out);
    let n = pwrite_from(&ram, &map, 0, size, RAM_OUT)
        .map_err(|e| format!("O_DIRECT write from the shared mapping: {}", errname(e)))?;
    check!(n == size, "O_DIRECT write from the mapping returned {n}");
    check_bytes(
        &ram_contents(&ram, RAM_OUT, size)?,
        &out,
        "RAM disk after O_DIRECT write from the shared mapping",
    )?;
    let inner = (SECTOR, 3 * SECTOR);
    let n = pwrite_from(&ram, &map, inner.0, inner.1, RAM_OUT + 2 * SECTOR as i64)
        .map_err(|e| format!("O_DIRECT write from inside a page: {}", errname(e)))?;
    check!(
        n == inner.1,
        "O_DIRECT write from inside a page returned {n}"
    );
    let mut want = out[..page].to_vec();
    want[2 * SECTOR..5 * SECTOR].copy_from_slice(&out[inner.0..inner.0 + inner.1]);
    check_bytes(
        &ram_contents(&ram, RAM_OUT, page)?,
        &want,
        "RAM disk after O_DIRECT write of sectors 1-3 of the mapping",
    )?;

    // In: the whole mapping, then two sectors into the middle of its second page.
    let incoming = pattern(0x5a, size);
    ram_store(&ram, RAM_IN, &incoming)?;
    let n = pread_into(&ram, &map, 0, size, RAM_IN)
        .map_err(|e| format!("O_DIRECT read into the shared mapping: {}", errname(e)))?;
    check!(n == size, "O_DIRECT read into the mapping returned {n}");
    check_bytes(
        &device_contents(&f, size)?,
        &incoming,
        "device (pread) after O_DIRECT read into its shared mapping",
    )?;
    check_bytes(
        &map.copy_out(0, size),
        &incoming,
        "shared mapping after O_DIRECT read into it",
    )?;
    if size >= 2 * page {
        let at = page + SECTOR;
        let n = pread_into(&ram, &map, at, 2 * SECTOR, RAM_OUT)
            .map_err(|e| format!("O_DIRECT read into inside a page: {}", errname(e)))?;
        check!(
            n == 2 * SECTOR,
            "O_DIRECT read into inside a page returned {n}"
        );
        let mut want = incoming.clone();
        want[at..at + 2 * SECTOR].copy_from_slice(&out[..2 * SECTOR]);
        check_bytes(
            &device_contents(&f, size)?,
            &want,
            "device after O_DIRECT read of 2 sectors into its second page",
        )?;
    }
    Ok(())
}

/// `O_DIRECT` from and into a `MAP_PRIVATE` mapping: the RAM disk gets the
/// device's bytes (untouched private pages are the device's), and a read into
/// the mapping lands in private copies, leaving the device as it was.
pub fn private_mapping() -> TestResult {
    let ram = open_ram()?;
    let (f, size) = open_dev()?;
    let device = pattern(0x33, size);
    let n = sys::pwrite(&f, &device, 0).map_err(|e| format!("pwrite {DEV}: {}", errname(e)))?;
    check!(n == size, "pwrite of {DEV} returned {n}");
    let map = Map::new(
        &f,
        size,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE,
        0,
    )
    .map_err(|e| format!("mmap {DEV} private: {}", errname(e)))?;

    let n = pwrite_from(&ram, &map, 0, size, RAM_OUT)
        .map_err(|e| format!("O_DIRECT write from the private mapping: {}", errname(e)))?;
    check!(
        n == size,
        "O_DIRECT write from the private mapping returned {n}"
    );
    check_bytes(
        &ram_contents(&ram, RAM_OUT, size)?,
        &device,
        "RAM disk after O_DIRECT write from an untouched private mapping",
    )?;

    let incoming = pattern(0xc3, size);
    ram_store(&ram, RAM_IN, &incoming)?;
    let n = pread_into(&ram, &map, 0, size, RAM_IN)
        .map_err(|e| format!("O_DIRECT read into the private mapping: {}", errname(e)))?;
    check!(
        n == size,
        "O_DIRECT read into the private mapping returned {n}"
    );
    check_bytes(
        &map.copy_out(0, size),
        &incoming,
        "private mapping after O_DIRECT read into it",
    )?;
    check_bytes(
        &device_contents(&f, size)?,
        &device,
        "device (pread) after O_DIRECT read into a private mapping (must not change)",
    )?;
    Ok(())
}

/// `vmsplice` of `len` bytes at `at` in `map` into a pipe, read out as it goes.
fn vmsplice_out(map: &Map, at: usize, len: usize) -> Result<Vec<u8>, String> {
    let (read_end, write_end) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (r, w) = (read_end.into_raw(), write_end.into_raw());
    let result = (|| {
        let mut got = Vec::with_capacity(len);
        let mut done = 0;
        while done < len {
            // Chunks smaller than a pipe's default capacity (16 pages), read out
            // before the next, so that vmsplice never waits for a reader.
            let chunk = (len - done).min(16 * 1024);
            let iov = libc::iovec {
                // SAFETY: `at + done` is inside the live mapping `map`.
                iov_base: unsafe { map.ptr().add(at + done) }.cast(),
                iov_len: chunk,
            };
            // SAFETY: one iovec describing memory of the live mapping `map`, which the
            // kernel only reads (no SPLICE_F_GIFT).
            let n = unsafe { libc::vmsplice(w, &iov, 1, 0) };
            let n =
                usize::try_from(n).map_err(|_| format!("vmsplice: {}", errname(sys::errno())))?;
            check!(n > 0, "vmsplice moved no bytes");
            let mut buf = vec![0u8; n];
            let mut filled = 0;
            while filled < n {
                // SAFETY: `buf[filled..]` is valid for writing `n - filled` bytes.
                let m = unsafe { libc::read(r, buf[filled..].as_mut_ptr().cast(), n - filled) };
                let m = usize::try_from(m)
                    .map_err(|_| format!("read from the pipe: {}", errname(sys::errno())))?;
                check!(m > 0, "the pipe ended early");
                filled += m;
            }
            got.extend_from_slice(&buf);
            done += n;
        }
        Ok(got)
    })();
    // SAFETY: both descriptors are ours and closed once.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
    result
}

/// `vmsplice` from a shared and from an untouched private mapping into a pipe:
/// what comes out of the pipe is the device's bytes.
pub fn vmsplice_from_mapping() -> TestResult {
    let (f, size) = open_dev()?;
    let shared = Map::new(
        &f,
        size,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        0,
    )
    .map_err(|e| format!("mmap {DEV} shared: {}", errname(e)))?;
    let bytes = pattern(0x77, size);
    shared.copy_in(0, &bytes);
    check_bytes(
        &vmsplice_out(&shared, 0, size)?,
        &bytes,
        "pipe after vmsplice of the whole shared mapping",
    )?;
    // Not page-aligned, across a page boundary.
    let (at, len) = (100, sys::page_size() + 1000);
    if at + len <= size {
        check_bytes(
            &vmsplice_out(&shared, at, len)?,
            &bytes[at..at + len],
            "pipe after vmsplice of an unaligned range",
        )?;
    }
    drop(shared);
    let private = Map::new(&f, size, libc::PROT_READ, libc::MAP_PRIVATE, 0)
        .map_err(|e| format!("mmap {DEV} private: {}", errname(e)))?;
    check_bytes(
        &vmsplice_out(&private, 0, size)?,
        &bytes,
        "pipe after vmsplice of an untouched private mapping",
    )?;
    Ok(())
}
