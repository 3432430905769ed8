// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Sleeping and waiting for a file to become readable, with `poll(2)` only.
//!
//! Not `std::thread::sleep` nor gpiocdev's `wait_edge_event`: on 32-bit ARM,
//! glibc implements them with the 32-bit-time system calls (`clock_nanosleep`,
//! `ppoll`), which a kernel built without `CONFIG_COMPAT_32BIT_TIME` answers
//! with `ENOSYS`, and then `std::thread::sleep` panics. `poll` takes its
//! timeout in milliseconds and works on every kernel.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Sleeps for `duration`.
pub fn sleep(duration: Duration) -> io::Result<()> {
    poll_until(&mut [], Some(duration)).map(drop)
}

/// Waits until `fd` is readable, for at most `timeout` (`None`: as long as it takes).
/// Returns whether it became readable.
pub fn readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    poll_until(&mut [PollFd::new(fd, PollFlags::POLLIN)], timeout).map(|ready| ready > 0)
}

/// Polls `fds` until one is ready or `timeout` has passed, across signals.
fn poll_until(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<i32> {
    let end = timeout.map(|timeout| Instant::now() + timeout);
    loop {
        let left = end.map(|end| end.saturating_duration_since(Instant::now()));
        match poll(fds, left.map_or(PollTimeout::NONE, millis)) {
            Err(Errno::EINTR) => continue,
            Err(err) => return Err(err.into()),
            // A zero timeout may come back early by rounding; go round until it is over.
            Ok(0) if left.is_some_and(|left| !left.is_zero()) => continue,
            Ok(ready) => return Ok(ready),
        }
    }
}

/// `duration` in whole milliseconds, rounded up (so that a short wait does not become a
/// busy loop) and capped at poll's limit of `i32::MAX`.
fn millis(duration: Duration) -> PollTimeout {
    let ms = duration.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn milliseconds_round_up_and_saturate() {
        assert_eq!(millis(Duration::ZERO), PollTimeout::ZERO);
        assert_eq!(millis(Duration::from_nanos(1)), PollTimeout::from(1u8));
        assert_eq!(millis(Duration::from_micros(1500)), PollTimeout::from(2u8));
        assert_eq!(millis(Duration::from_secs(u64::MAX)), PollTimeout::MAX);
    }

    #[test]
    fn sleep_sleeps_at_least_that_long() {
        let start = Instant::now();
        sleep(Duration::from_millis(30)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_readable_file_is_reported_at_once() {
        let file = File::open("/dev/zero").unwrap();
        assert!(readable(file.as_fd(), Some(Duration::from_secs(10))).unwrap());
    }

    #[test]
    fn a_quiet_file_times_out() {
        let (quiet, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let start = Instant::now();
        assert!(!readable(quiet.as_fd(), Some(Duration::from_millis(30))).unwrap());
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
