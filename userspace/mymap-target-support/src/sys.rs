// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Raw system calls for the tests and the bench, returning the errno the kernel
//! gave: the tests check errnos, so most calls here answer `Err(errno)`.

use std::{
    ffi::CString,
    fs::File,
    io,
    os::fd::{
        AsRawFd,
        FromRawFd,
        RawFd, //
    },
    sync::atomic::{
        AtomicU32,
        Ordering, //
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
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EAGAIN => "EAGAIN",
        libc::EIO => "EIO",
        libc::ENODEV => "ENODEV",
        libc::EEXIST => "EEXIST",
        libc::EINTR => "EINTR",
        libc::ESRCH => "ESRCH",
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

impl From<Fd> for File {
    fn from(fd: Fd) -> File {
        // SAFETY: `Fd` owns the descriptor, and `into_raw` gives up that ownership.
        unsafe { File::from_raw_fd(fd.into_raw()) }
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

/// Asks the kernel to let the pipe whose end is `file` hold `capacity` bytes
/// (`F_SETPIPE_SZ`).
pub fn set_pipe_size(file: &File, capacity: usize) -> io::Result<()> {
    // SAFETY: `F_SETPIPE_SZ` takes an int and touches no memory of ours.
    if unsafe {
        libc::fcntl(
            file.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            capacity as libc::c_int,
        )
    } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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
///
/// # Safety
///
/// `arg` is null or points where the kernel cannot write (it answers `EFAULT`),
/// or into a mapping that holds no Rust object (a fuzzer's scratch pages), or
/// to a value the kernel may read and write as many bytes of as `request`
/// encodes: whatever the driver does, it writes no Rust object it was not given.
pub unsafe fn ioctl_ptr(file: &File, request: u64, arg: *mut libc::c_void) -> Result<i32, i32> {
    // SAFETY: the descriptor is open for the call; `arg` is what the caller promised.
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

    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// The address of bytes `at .. at + size`, which must lie in the mapping and be
    /// aligned to `size` (a power of two).
    fn field(&self, at: usize, size: usize) -> *mut u8 {
        assert!(
            at + size <= self.len,
            "field {at}+{size} outside the mapping"
        );
        assert!(at % size == 0, "field at {at} not aligned to {size}");
        // SAFETY: in bounds (asserted above); the mapping starts on a page boundary, so
        // `at` aligned to `size` makes the address aligned to `size`.
        unsafe { self.ptr.add(at) }
    }

    /// A load-acquire of the `u32` at `at`: what a ring's consumer does with the
    /// producer position and a record's length word.
    pub fn load_acquire_u32(&self, at: usize) -> u32 {
        let ptr = self.field(at, 4).cast::<u32>();
        // SAFETY: `field` checked bounds and alignment, the mapping lives as long as
        // `self`, and every access to shared words goes through atomics or volatile loads
        // of the same size, as the kernel's smp_store_release() does.
        unsafe { AtomicU32::from_ptr(ptr) }.load(Ordering::Acquire)
    }

    /// A store-release of `value` at `at`: how a ring's consumer publishes its position.
    pub fn store_release_u32(&self, at: usize, value: u32) {
        let ptr = self.field(at, 4).cast::<u32>();
        // SAFETY: as in `load_acquire_u32`; the caller mapped this page writable.
        unsafe { AtomicU32::from_ptr(ptr) }.store(value, Ordering::Release)
    }

    /// A volatile load of the `u16` at `at`.
    pub fn read_u16(&self, at: usize) -> u16 {
        let ptr = self.field(at, 2).cast::<u16>();
        // SAFETY: `field` checked bounds and alignment of a live mapping.
        unsafe { ptr.read_volatile() }
    }

    /// A volatile load of the `u32` at `at`.
    pub fn read_u32(&self, at: usize) -> u32 {
        let ptr = self.field(at, 4).cast::<u32>();
        // SAFETY: `field` checked bounds and alignment of a live mapping.
        unsafe { ptr.read_volatile() }
    }

    /// A volatile load of the `u64` at `at`.
    pub fn read_u64(&self, at: usize) -> u64 {
        let ptr = self.field(at, 8).cast::<u64>();
        // SAFETY: `field` checked bounds and alignment of a live mapping.
        unsafe { ptr.read_volatile() }
    }

    /// A volatile store of the `u32` at `at`.
    pub fn write_u32(&self, at: usize, value: u32) {
        let ptr = self.field(at, 4).cast::<u32>();
        // SAFETY: `field` checked bounds and alignment of a live mapping, which the caller
        // mapped writable.
        unsafe { ptr.write_volatile(value) }
    }

    /// A volatile store of the `u64` at `at`.
    pub fn write_u64(&self, at: usize, value: u64) {
        let ptr = self.field(at, 8).cast::<u64>();
        // SAFETY: as in `write_u32`.
        unsafe { ptr.write_volatile(value) }
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

/// `poll` for `POLLIN | POLLRDNORM` on `file` for up to `timeout_ms` (negative:
/// forever): the returned events, 0 on timeout, or the errno.
pub fn poll_in(file: &File, timeout_ms: i32) -> Result<i16, i32> {
    poll_events(file, libc::POLLIN | libc::POLLRDNORM, timeout_ms)
}

/// `poll` for `events` on `file` for up to `timeout_ms` (negative: forever): the
/// returned events, 0 on timeout, or the errno.
pub fn poll_events(file: &File, events: i16, timeout_ms: i32) -> Result<i16, i32> {
    let mut fds = [libc::pollfd {
        fd: file.as_raw_fd(),
        events,
        revents: 0,
    }];
    // SAFETY: `fds` is valid for reading and writing one pollfd.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout_ms) };
    if r < 0 {
        return Err(errno());
    }
    Ok(if r == 0 { 0 } else { fds[0].revents })
}

/// An epoll instance, closed on drop.
pub struct Epoll(Fd);

impl Epoll {
    pub fn new() -> Result<Epoll, i32> {
        // SAFETY: epoll_create1 has no memory-safety preconditions.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(errno());
        }
        Ok(Epoll(Fd(fd)))
    }

    /// An instance watching `file` (a ring's, a pipe's, a GPIO line request's) for
    /// `EPOLLIN`, level-triggered.
    pub fn watching(file: &impl AsRawFd) -> io::Result<Epoll> {
        let epoll = Epoll::new().map_err(io::Error::from_raw_os_error)?;
        epoll
            .add(file, libc::EPOLLIN as u32)
            .map_err(io::Error::from_raw_os_error)?;
        Ok(epoll)
    }

    /// Watches `file` for `events` (`EPOLLIN`, with `EPOLLET` for edge triggering).
    pub fn add(&self, file: &impl AsRawFd, events: u32) -> Result<(), i32> {
        let mut event = libc::epoll_event { events, u64: 0 };
        // SAFETY: `event` is a valid epoll_event for the call.
        let r = unsafe {
            libc::epoll_ctl(
                (self.0).0,
                libc::EPOLL_CTL_ADD,
                file.as_raw_fd(),
                &mut event,
            )
        };
        if r < 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` for an event: the number of ready files (0 or 1 here).
    pub fn wait(&self, timeout_ms: i32) -> Result<usize, i32> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: `events` is valid for writing 4 epoll_events.
        let r = unsafe { libc::epoll_wait((self.0).0, events.as_mut_ptr(), 4, timeout_ms) };
        usize::try_from(r).map_err(|_| errno())
    }

    /// Waits up to `timeout_ms` for a watched file to be ready, resuming after a
    /// signal; whether one is.
    pub fn wait_ready(&self, timeout_ms: i32) -> io::Result<bool> {
        loop {
            match self.wait(timeout_ms) {
                Ok(n) => return Ok(n > 0),
                Err(libc::EINTR) => continue,
                Err(e) => return Err(io::Error::from_raw_os_error(e)),
            }
        }
    }
}

/// Sets or clears `O_NONBLOCK` on `file`.
pub fn set_nonblocking(file: &File, on: bool) -> Result<(), i32> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl with F_GETFL/F_SETFL takes and returns plain integers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(errno());
    }
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// `CLOCK_MONOTONIC` in nanoseconds, the clock of ring records' timestamps.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writing; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until CLOCK_MONOTONIC reads `ns` (at once if it has passed).
pub fn sleep_until_ns(ns: u64) {
    let ts = libc::timespec {
        // `as _`: `time_t` is deprecated on musl (it becomes 64-bit on 32-bit targets).
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    };
    // SAFETY: `ts` is a live `timespec`, only read; no remaining time is asked for. An
    // interrupted sleep is resumed with the same absolute time.
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    } == libc::EINTR
    {}
}

/// The calling thread's id, as /proc/self/task/ names it.
pub fn gettid() -> i64 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i64 }
}

/// The scheduler state letter of thread `tid` of this process (`R`, `S`, `D`...).
pub fn thread_state(tid: i64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The command name in parentheses may hold spaces: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// `finit_module` of the module file at `path` with `params`: the errno the
/// kernel gives, which `modprobe` only prints.
pub fn finit_module(path: &str, params: &str) -> Result<(), i32> {
    let file = File::open(path).map_err(|e| e.raw_os_error().unwrap_or(0))?;
    let params = CString::new(params).map_err(|_| libc::EINVAL)?;
    // SAFETY: the descriptor is open for the call and `params` is a NUL-terminated string.
    let r = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            file.as_raw_fd(),
            params.as_ptr(),
            0 as libc::c_int,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// The scheduler state letter of process `pid` (`R`, `S`, `D`...), `None` once it is
/// gone (reaped).
pub fn process_state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: libc::pid_t, signal: i32) -> Result<(), i32> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Sends `signal` to thread `tid` of this process.
pub fn tgkill(tid: i64, signal: i32) -> Result<(), i32> {
    // SAFETY: tgkill takes plain integers.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, signal) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// A signal handler that does nothing: the signal only interrupts a blocking call.
extern "C" fn interrupt_only(_signal: libc::c_int) {}

/// Makes `signal` interrupt blocking system calls (`EINTR`, no `SA_RESTART`) instead
/// of ending the process.
pub fn interrupt_on(signal: i32) -> Result<(), i32> {
    // SAFETY: an all-zero sigaction is valid (empty mask, no flags); the handler is a
    // function that does nothing, safe to run at any point of any thread.
    let r = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = interrupt_only as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigaction(signal, &action, std::ptr::null_mut())
    };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Restricts the calling thread to CPU `cpu`; an error if the kernel refused (no
/// such CPU).
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::other(format!("no CPU {cpu} in a cpu_set_t")));
    }
    // SAFETY: `cpu_set_t` is an array of integers, for which all zeroes is a valid value
    // (the empty set).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu < CPU_SETSIZE` (checked above): the bit is inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a live `cpu_set_t` of the size passed, only read; pid 0 is the
    // calling thread.
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("pin a thread to CPU {cpu}: {e}"),
        ));
    }
    Ok(())
}

/// Online CPUs.
pub fn cpus() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN).max(1) as usize }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_carries_bytes_and_epoll_sees_them() {
        use std::io::{
            Read,
            Write, //
        };
        let (r, w) = pipe().unwrap();
        let (mut r, mut w) = (File::from(r), File::from(w));
        set_pipe_size(&w, 1 << 16).unwrap();
        let ep = Epoll::watching(&r).unwrap();
        assert!(!ep.wait_ready(0).unwrap());
        w.write_all(b"abc").unwrap();
        assert!(ep.wait_ready(1000).unwrap());
        let mut buf = [0; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
    }

    #[test]
    fn a_thread_pins_to_cpu_0() {
        std::thread::spawn(|| pin_to_cpu(0))
            .join()
            .unwrap()
            .unwrap();
        assert!(pin_to_cpu(libc::CPU_SETSIZE as usize).is_err());
    }

    #[test]
    fn the_clock_moves_and_sleeps_until_a_time() {
        let start = monotonic_ns();
        sleep_until_ns(start + 2_000_000);
        assert!(monotonic_ns() >= start + 2_000_000);
        sleep_until_ns(0);
    }
}
