// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Raw system calls for the tests, returning the errno the kernel gave.

use std::{
    fs::File,
    os::fd::{
        AsRawFd,
        RawFd, //
    },
};

/// The errno of the last failed call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A name for an errno value, for messages.
pub fn errname(e: i32) -> String {
    let name = match e {
        libc::EINVAL => "EINVAL",
        libc::EFAULT => "EFAULT",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::EBADF => "EBADF",
        libc::ESPIPE => "ESPIPE",
        libc::ENOMEM => "ENOMEM",
        libc::EBUSY => "EBUSY",
        libc::ENOENT => "ENOENT",
        0 => "success",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// An owned descriptor, closed on drop unless taken with `into_raw`.
pub struct Fd(RawFd);

impl Fd {
    pub fn into_raw(self) -> RawFd {
        let fd = self.0;
        std::mem::forget(self);
        fd
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

pub fn pipe() -> std::io::Result<(Fd, Fd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is valid for writing two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// The child's wait status if it has exited.
pub fn try_wait(pid: libc::pid_t) -> Option<i32> {
    let mut status = 0;
    // SAFETY: `status` is valid for writing.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (r == pid).then_some(status)
}

pub fn wait(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: `status` is valid for writing.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

/// A read or write system call's result: the byte count, or the errno.
fn count(r: isize) -> Result<usize, i32> {
    usize::try_from(r).map_err(|_| errno())
}

/// `pread` into `buf`: the count, or the errno.
pub fn pread(file: &File, buf: &mut [u8], offset: i64) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for writing `buf.len()` bytes.
    let r = unsafe {
        libc::pread(
            file.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as libc::off_t,
        )
    };
    count(r)
}

/// `pwrite` from `buf`: the count, or the errno.
pub fn pwrite(file: &File, buf: &[u8], offset: i64) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for reading `buf.len()` bytes.
    let r = unsafe {
        libc::pwrite(
            file.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            offset as libc::off_t,
        )
    };
    count(r)
}

/// `read` at the file position.
pub fn read(file: &File, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for writing `buf.len()` bytes.
    let r = unsafe { libc::read(file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    count(r)
}

/// `write` at the file position.
pub fn write(file: &File, buf: &[u8]) -> Result<usize, i32> {
    // SAFETY: `buf` is valid for reading `buf.len()` bytes.
    let r = unsafe { libc::write(file.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    count(r)
}

pub fn lseek(file: &File, offset: i64, whence: i32) -> Result<i64, i32> {
    // SAFETY: lseek has no memory-safety preconditions.
    let r = unsafe { libc::lseek(file.as_raw_fd(), offset as libc::off_t, whence) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as i64)
    }
}

/// `ioctl` with a raw pointer argument: the return value, or the errno.
pub fn ioctl_ptr(file: &File, request: u64, arg: *mut libc::c_void) -> Result<i32, i32> {
    // SAFETY: the tests pass either a pointer valid for the request or a deliberately bad
    // one; the kernel checks user pointers and answers EFAULT, it never writes out of them.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), request as _, arg) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// A memory mapping, unmapped on drop. Accesses are volatile: the memory is
/// shared with the kernel and other processes.
pub struct Map {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a `Map` is an address range, not Rust data: every access goes through volatile
// byte loads and stores, which any thread may make to shared memory, and `Drop` unmaps it
// once, after the last owner is done.
unsafe impl Send for Map {}
// SAFETY: see `Send`; `&Map` allows only volatile accesses and system calls on the range.
unsafe impl Sync for Map {}

impl Map {
    pub fn new(file: &File, len: usize, prot: i32, flags: i32, offset: i64) -> Result<Map, i32> {
        // SAFETY: a fresh mapping at an address the kernel chooses cannot alias any Rust
        // object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                file.as_raw_fd(),
                offset as _,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Map {
            ptr: ptr.cast(),
            len,
        })
    }

    /// An anonymous private mapping.
    pub fn anon(len: usize, prot: i32) -> Result<Map, i32> {
        // SAFETY: as in `new`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Map {
            ptr: ptr.cast(),
            len,
        })
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, i: usize) -> u8 {
        assert!(i < self.len);
        // SAFETY: in bounds of a live mapping; volatile because others write it too.
        unsafe { self.ptr.add(i).read_volatile() }
    }

    pub fn set(&self, i: usize, v: u8) {
        assert!(i < self.len);
        // SAFETY: in bounds of a live mapping the caller mapped writable.
        unsafe { self.ptr.add(i).write_volatile(v) }
    }

    pub fn copy_out(&self, at: usize, len: usize) -> Vec<u8> {
        (at..at + len).map(|i| self.get(i)).collect()
    }

    /// Stores `bytes` at `at`, one volatile byte store each, in order.
    pub fn copy_in(&self, at: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            self.set(at + i, *b);
        }
    }

    pub fn mprotect(&self, prot: i32) -> Result<(), i32> {
        // SAFETY: the range is exactly this live mapping.
        if unsafe { libc::mprotect(self.ptr.cast(), self.len, prot) } < 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Takes over `ptr .. ptr + len` as this mapping after an `mremap` moved or resized it.
    ///
    /// The old range must be gone (the `mremap` that returned `ptr` removed it).
    pub fn replace(&mut self, ptr: *mut u8, len: usize) {
        self.ptr = ptr;
        self.len = len;
    }

    /// Tries to grow the mapping in place or by moving it; on success the mapping is
    /// replaced by the new one.
    pub fn mremap_grow(&mut self, new_len: usize) -> Result<(), i32> {
        // SAFETY: the old range is exactly this live mapping; on success it is replaced.
        let ptr = unsafe { libc::mremap(self.ptr.cast(), self.len, new_len, libc::MREMAP_MAYMOVE) };
        if ptr == libc::MAP_FAILED {
            return Err(errno());
        }
        self.ptr = ptr.cast();
        self.len = new_len;
        Ok(())
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the range is exactly this mapping, and nothing uses it after drop.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Runs `f` in a forked child as user and group `nobody` (65534), without
/// supplementary groups; returns what `f` returned.
pub fn as_nobody(f: fn() -> Result<(), String>) -> Result<(), String> {
    // SAFETY: called from a single-threaded test process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err("fork failed".into());
    }
    if pid == 0 {
        // SAFETY: plain credential changes in the child, no pointers but a null list.
        let dropped = unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setgid(65534) == 0
                && libc::setuid(65534) == 0
        };
        let code = if !dropped {
            3
        } else {
            match f() {
                Ok(()) => 0,
                Err(why) => {
                    eprintln!("as nobody: {why}");
                    1
                }
            }
        };
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    let status = wait(pid);
    match libc::WEXITSTATUS(status) {
        0 if libc::WIFEXITED(status) => Ok(()),
        3 => Err("could not drop privileges".into()),
        _ => Err(format!(
            "check as nobody failed (status {status:#x}, see stderr)"
        )),
    }
}
