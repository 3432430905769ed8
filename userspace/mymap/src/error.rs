// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The error type of the library: what failed, on which device, and the fix.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use libc::{EBUSY, EINVAL, ENODEV, ENOTTY, ENXIO};
use mymap_uapi::{Fault, OpenError, OpenStep};

use crate::info::ABI_VERSION;

/// The operation on the device that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// `open(2)` of the device node.
    Open,
    /// The `MYMAP_IOC_INFO` ioctl.
    Info,
    /// The `MYMAP_IOC_CLEAR` ioctl.
    Clear,
    /// `pread(2)`.
    Read,
    /// `pwrite(2)`.
    Write,
    /// `mmap(2)`.
    Mmap,
    /// The `MYMAP_RING_IOC_INFO` ioctl.
    RingInfo,
    /// The `MYMAP_RING_IOC_STATS` ioctl.
    RingStats,
    /// The `MYMAP_RING_IOC_SET_WAKEUP` ioctl.
    SetWakeup,
    /// The `MYMAP_RING_IOC_GET_WAKEUP` ioctl.
    GetWakeup,
    /// The `MYMAP_RING_IOC_TIMER` ioctl.
    Timer,
    /// The `MYMAP_RING_IOC_INJECT` ioctl.
    Inject,
    /// `poll(2)` on a ring or a tx ring.
    Poll,
    /// The `MYMAP_TX_IOC_INFO` ioctl.
    TxInfo,
    /// The `MYMAP_TX_IOC_STATS` ioctl.
    TxStats,
    /// The `MYMAP_TX_IOC_KICK` ioctl.
    Kick,
    /// The `MYMAP_TX_IOC_PLAY` ioctl.
    Play,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::Open => "open",
            Call::Info => "ioctl MYMAP_IOC_INFO",
            Call::Clear => "ioctl MYMAP_IOC_CLEAR",
            Call::Read => "pread",
            Call::Write => "pwrite",
            Call::Mmap => "mmap",
            Call::RingInfo => "ioctl MYMAP_RING_IOC_INFO",
            Call::RingStats => "ioctl MYMAP_RING_IOC_STATS",
            Call::SetWakeup => "ioctl MYMAP_RING_IOC_SET_WAKEUP",
            Call::GetWakeup => "ioctl MYMAP_RING_IOC_GET_WAKEUP",
            Call::Timer => "ioctl MYMAP_RING_IOC_TIMER",
            Call::Inject => "ioctl MYMAP_RING_IOC_INJECT",
            Call::Poll => "poll",
            Call::TxInfo => "ioctl MYMAP_TX_IOC_INFO",
            Call::TxStats => "ioctl MYMAP_TX_IOC_STATS",
            Call::Kick => "ioctl MYMAP_TX_IOC_KICK",
            Call::Play => "ioctl MYMAP_TX_IOC_PLAY",
        })
    }
}

/// An error from a mymap device, with its path, the failing call and, where there is
/// one, the fix.
///
/// The message is complete on its own, the system error included, so it is not repeated
/// as [`std::error::Error::source`]; [`Error::io_error`] gives it back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The device node, or the driver behind it, does not exist.
    #[error(
        "{}: no such device: load the module (`modprobe mymap`) and check that \
         /etc/init.d/S30mymap started ({call}: {err})",
        path.display()
    )]
    NotFound {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The call that failed.
        call: Call,
        /// The system error.
        err: io::Error,
    },

    /// The caller may not open the device node.
    #[error(
        "{}: permission denied: add your user to group 'mymap' and log in again ({call}: {err})",
        path.display()
    )]
    PermissionDenied {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The call that failed.
        call: Call,
        /// The system error.
        err: io::Error,
    },

    /// The file does not answer `MYMAP_IOC_INFO`, so it is not a mymap device.
    #[error(
        "{}: not a mymap device: it does not answer MYMAP_IOC_INFO ({err}); \
         pass a /dev/mymap node",
        path.display()
    )]
    NotMymap {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The system error.
        err: io::Error,
    },

    /// The driver speaks another version of the ABI than this library.
    #[error(
        "{}: ABI version mismatch: the driver has version {driver}, this program version \
         {expected}: install the mymap module and tools from the same build",
        path.display()
    )]
    AbiMismatch {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The driver's ABI version.
        driver: u32,
        /// This library's ABI version (`ABI_VERSION`).
        expected: u32,
    },

    /// `MYMAP_IOC_INFO` answered a geometry this library cannot use.
    #[error(
        "{}: the driver reported an unusable geometry (page size {page_size}, size {size})",
        path.display()
    )]
    BadInfo {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The page size the driver reported.
        page_size: u32,
        /// The buffer size the driver reported.
        size: u64,
    },

    /// The call needs the device open for writing, and it was opened read-only.
    #[error(
        "{}: {call} needs the device open for writing: use Device::open, not open_read_only",
        path.display()
    )]
    ReadOnly {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The call that failed.
        call: Call,
    },

    /// A mapping must start on a page boundary.
    #[error(
        "{}: offset {offset} is not a multiple of the page size {page_size}: \
         a mapping must start on a page boundary",
        path.display()
    )]
    Unaligned {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The offset asked for.
        offset: u64,
        /// The device's page size.
        page_size: u32,
    },

    /// A range reaches past the end of the buffer, or a mapping is empty.
    #[error(
        "{}: offset {offset} + length {len} is not inside the {size}-byte buffer{}",
        path.display(),
        if *len == 0 { " (a mapping needs at least one byte)" } else { "" }
    )]
    OutOfRange {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The offset asked for.
        offset: u64,
        /// The length asked for.
        len: u64,
        /// The buffer's size.
        size: u64,
    },

    /// The file does not answer `MYMAP_RING_IOC_INFO`, so it is not a mymap ring.
    #[error(
        "{}: not a mymap ring: it does not answer MYMAP_RING_IOC_INFO ({err}); \
         pass a /dev/mymap-ringN node",
        path.display()
    )]
    NotRing {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The system error.
        err: io::Error,
    },

    /// The file does not answer `MYMAP_TX_IOC_INFO`, so it is not a mymap tx ring.
    #[error(
        "{}: not a mymap tx ring: it does not answer MYMAP_TX_IOC_INFO ({err}); \
         pass a /dev/mymap-txN node",
        path.display()
    )]
    NotTx {
        /// The tx ring node, as the caller named it.
        path: PathBuf,
        /// The system error.
        err: io::Error,
    },

    /// Another file holds the tx ring's producer claim.
    #[error(
        "{}: another process is producing into this tx ring (one producer at a time): stop \
         it first ({err})",
        path.display()
    )]
    TxBusy {
        /// The tx ring node, as the caller named it.
        path: PathBuf,
        /// The system error.
        err: io::Error,
    },

    /// A tx record's payload is longer than the tx ring's `max_payload`.
    #[error(
        "{}: a {len}-byte payload does not fit a record of this tx ring: at most {max} bytes",
        path.display()
    )]
    TooLong {
        /// The tx ring node, as the caller named it.
        path: PathBuf,
        /// The payload's length.
        len: u32,
        /// The tx ring's `max_payload`.
        max: u32,
    },

    /// The tx ring has no GPIO player (`MYMAP_TX_IOC_PLAY` failed with `ENODEV`).
    #[error(
        "{}: this tx ring has no GPIO player: load mymap with player=LABEL:OFFSET[+OFFSET...] \
         for it ({err})",
        path.display()
    )]
    NoPlayer {
        /// The tx ring node, as the caller named it.
        path: PathBuf,
        /// The system error.
        err: io::Error,
    },

    /// Another file holds the ring's consumer claim.
    #[error(
        "{}: another process is consuming this ring (one consumer at a time): stop it first; \
         statistics and producers need no claim (`mymapctl ring stats`) ({call}: {err})",
        path.display()
    )]
    Busy {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The call that failed.
        call: Call,
        /// The system error.
        err: io::Error,
    },

    /// The driver refused the settings of a ring ioctl (`EINVAL`).
    #[error("{}: {call} refused the settings ({err}): {hint}", path.display())]
    Refused {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The call that failed.
        call: Call,
        /// What the driver accepts.
        hint: &'static str,
        /// The system error.
        err: io::Error,
    },

    /// The ring's geometry, from `MYMAP_RING_IOC_INFO` and its producer page, is unusable.
    #[error("{}: the driver reported an unusable ring geometry: {detail}", path.display())]
    BadRing {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// The ring's shared memory breaks the contract of `mymap.h`.
    #[error(
        "{}: the ring's shared memory breaks the ABI contract: {fault}; reopen the ring \
         (a consumer position left by an earlier consumer is skipped at open)",
        path.display()
    )]
    Corrupt {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// What was found where.
        fault: Fault,
    },

    /// Any other failure of a call.
    #[error("{}: {call} failed: {err}", path.display())]
    Io {
        /// The device or ring node, as the caller named it.
        path: PathBuf,
        /// The call that failed.
        call: Call,
        /// The system error.
        err: io::Error,
    },
}

impl Error {
    /// Classifies the failure of `call` on `path`, choosing the variant whose hint fits.
    pub(crate) fn from_io(path: &Path, call: Call, err: io::Error) -> Self {
        let path = path.to_path_buf();
        // ENODEV and ENXIO: the node exists, but no driver answers behind it.
        let missing = matches!(err.kind(), io::ErrorKind::NotFound)
            || matches!(err.raw_os_error(), Some(code) if code == ENODEV || code == ENXIO);
        match (call, err.kind()) {
            (Call::Open, _) if missing => Error::NotFound { path, call, err },
            (Call::Open, io::ErrorKind::PermissionDenied) => {
                Error::PermissionDenied { path, call, err }
            }
            (Call::Open, _) if err.raw_os_error() == Some(EBUSY) => Error::Busy { path, call, err },
            (Call::Info, _) if err.raw_os_error() == Some(ENOTTY) => Error::NotMymap { path, err },
            (Call::RingInfo, _) if err.raw_os_error() == Some(ENOTTY) => {
                Error::NotRing { path, err }
            }
            (Call::TxInfo, _) if err.raw_os_error() == Some(ENOTTY) => Error::NotTx { path, err },
            (Call::Play, _) if err.raw_os_error() == Some(ENODEV) => Error::NoPlayer { path, err },
            (Call::Timer | Call::SetWakeup | Call::Inject, _)
                if err.raw_os_error() == Some(EINVAL) =>
            {
                Error::Refused {
                    path,
                    call,
                    hint: refusal_hint(call),
                    err,
                }
            }
            _ => Error::Io { path, call, err },
        }
    }

    /// The device path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Error::NotFound { path, .. }
            | Error::PermissionDenied { path, .. }
            | Error::NotMymap { path, .. }
            | Error::AbiMismatch { path, .. }
            | Error::BadInfo { path, .. }
            | Error::ReadOnly { path, .. }
            | Error::Unaligned { path, .. }
            | Error::OutOfRange { path, .. }
            | Error::NotRing { path, .. }
            | Error::NotTx { path, .. }
            | Error::TxBusy { path, .. }
            | Error::TooLong { path, .. }
            | Error::NoPlayer { path, .. }
            | Error::Busy { path, .. }
            | Error::Refused { path, .. }
            | Error::BadRing { path, .. }
            | Error::Corrupt { path, .. }
            | Error::Io { path, .. } => path,
        }
    }

    /// The system error behind this one, if a call failed.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::NotFound { err, .. }
            | Error::PermissionDenied { err, .. }
            | Error::NotMymap { err, .. }
            | Error::NotRing { err, .. }
            | Error::NotTx { err, .. }
            | Error::TxBusy { err, .. }
            | Error::NoPlayer { err, .. }
            | Error::Busy { err, .. }
            | Error::Refused { err, .. }
            | Error::Io { err, .. } => Some(err),
            _ => None,
        }
    }

    /// True when the caller asked for something impossible (a range, an alignment, ring
    /// settings the driver refuses), as opposed to a device or system failure.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            Error::Unaligned { .. }
                | Error::OutOfRange { .. }
                | Error::Refused { .. }
                | Error::TooLong { .. }
        )
    }
}

/// What the driver accepts, for the ring ioctls that refuse settings with `EINVAL`
/// (the ranges `mymap.h` gives beside each field).
fn refusal_hint(call: Call) -> &'static str {
    match call {
        Call::Timer => {
            "the period must be 10 us to 10 s and the length at most the ring's max_payload"
        }
        Call::SetWakeup => "a watermark must be 1 to data_size bytes and a max latency 1 us to 1 s",
        Call::Inject => {
            "the count must be at most 16777216 and the length at most the ring's max_payload"
        }
        _ => "see mymap.h for the accepted values",
    }
}

/// The library error for a failed step of opening a ring or a tx ring (`RingMap::open`,
/// `TxMap::open`); `info` is the INFO ioctl of that kind.
pub(crate) fn open_error(path: &Path, err: OpenError, info: Call) -> Error {
    let call = match err.step {
        OpenStep::Open => Call::Open,
        OpenStep::Info => info,
        OpenStep::Abi { driver } => {
            return Error::AbiMismatch {
                path: path.into(),
                driver,
                expected: ABI_VERSION,
            }
        }
        OpenStep::Mmap => Call::Mmap,
        OpenStep::Geometry => {
            return Error::BadRing {
                path: path.into(),
                detail: err.error.to_string(),
            }
        }
    };
    Error::from_io(path, call, err.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    fn dev() -> &'static Path {
        Path::new("/dev/mymap")
    }

    #[test]
    fn a_missing_node_says_to_load_the_module() {
        let err = Error::from_io(dev(), Call::Open, os(libc::ENOENT));
        assert!(matches!(err, Error::NotFound { .. }));
        let msg = err.to_string();
        assert!(msg.starts_with("/dev/mymap: no such device: "), "{msg}");
        assert!(msg.contains("modprobe mymap"), "{msg}");
        assert!(msg.contains("/etc/init.d/S30mymap"), "{msg}");
        assert!(
            msg.ends_with("(open: No such file or directory (os error 2))"),
            "{msg}"
        );
    }

    #[test]
    fn a_node_without_driver_is_also_not_found() {
        for code in [ENODEV, ENXIO] {
            let err = Error::from_io(dev(), Call::Open, os(code));
            assert!(matches!(err, Error::NotFound { .. }), "{code}: {err}");
        }
    }

    #[test]
    fn permission_denied_names_the_group() {
        let err = Error::from_io(dev(), Call::Open, os(libc::EACCES));
        assert_eq!(
            err.to_string(),
            "/dev/mymap: permission denied: add your user to group 'mymap' and log in again \
             (open: Permission denied (os error 13))"
        );
    }

    #[test]
    fn permission_denied_outside_open_has_no_group_hint() {
        // mmap of a read-only file for writing fails with EACCES: no group would help.
        let err = Error::from_io(dev(), Call::Mmap, os(libc::EACCES));
        assert!(
            matches!(
                err,
                Error::Io {
                    call: Call::Mmap,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "/dev/mymap: mmap failed: Permission denied (os error 13)"
        );
    }

    #[test]
    fn enotty_from_info_is_not_a_mymap_device() {
        let err = Error::from_io(Path::new("/dev/null"), Call::Info, os(ENOTTY));
        assert!(matches!(err, Error::NotMymap { .. }));
        assert!(err
            .to_string()
            .starts_with("/dev/null: not a mymap device: it does not answer MYMAP_IOC_INFO"));
        // The same errno from another call is not reinterpreted.
        let err = Error::from_io(dev(), Call::Clear, os(ENOTTY));
        assert!(matches!(err, Error::Io { .. }));
    }

    #[test]
    fn abi_mismatch_shows_both_versions() {
        let err = Error::AbiMismatch {
            path: dev().into(),
            driver: 2,
            expected: 1,
        };
        let msg = err.to_string();
        assert!(
            msg.contains("the driver has version 2, this program version 1"),
            "{msg}"
        );
    }

    #[test]
    fn out_of_range_explains_empty_mappings() {
        let err = Error::OutOfRange {
            path: dev().into(),
            offset: 4096,
            len: 0,
            size: 65536,
        };
        assert!(err
            .to_string()
            .ends_with("(a mapping needs at least one byte)"));
        let err = Error::OutOfRange {
            path: dev().into(),
            offset: 65536,
            len: 1,
            size: 65536,
        };
        assert_eq!(
            err.to_string(),
            "/dev/mymap: offset 65536 + length 1 is not inside the 65536-byte buffer"
        );
        assert!(err.is_invalid_argument());
    }

    #[test]
    fn ebusy_at_open_names_the_other_consumer() {
        let ring = Path::new("/dev/mymap-ring0");
        let err = Error::from_io(ring, Call::Open, os(EBUSY));
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("/dev/mymap-ring0: another process is consuming this ring"),
            "{msg}"
        );
        assert!(
            msg.ends_with("(open: Device or resource busy (os error 16))"),
            "{msg}"
        );
        // EBUSY from an ioctl is not a consumer claim.
        let err = Error::from_io(ring, Call::Timer, os(EBUSY));
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn enotty_from_ring_info_is_not_a_ring() {
        let err = Error::from_io(dev(), Call::RingInfo, os(ENOTTY));
        assert!(matches!(err, Error::NotRing { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("/dev/mymap: not a mymap ring: it does not answer MYMAP_RING_IOC_INFO"));
        assert!(err.to_string().ends_with("pass a /dev/mymap-ringN node"));
    }

    #[test]
    fn einval_from_ring_settings_says_what_is_accepted() {
        let ring = Path::new("/dev/mymap-ring0");
        for (call, words) in [
            (Call::Timer, "the period must be 10 us to 10 s"),
            (Call::SetWakeup, "a watermark must be 1 to data_size bytes"),
            (Call::Inject, "the count must be at most 16777216"),
        ] {
            let err = Error::from_io(ring, call, os(EINVAL));
            assert!(err.is_invalid_argument(), "{err}");
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("/dev/mymap-ring0: {call} refused")),
                "{msg}"
            );
            assert!(msg.contains(words), "{msg}");
        }
        let err = Error::from_io(ring, Call::RingStats, os(EINVAL));
        assert!(!err.is_invalid_argument(), "{err}");
    }

    #[test]
    fn accessors_return_the_context() {
        let err = Error::from_io(dev(), Call::Read, os(libc::EIO));
        assert_eq!(err.path(), dev());
        assert_eq!(err.io_error().and_then(io::Error::raw_os_error), Some(5));
        assert!(!err.is_invalid_argument());
        assert!(std::error::Error::source(&err).is_none());
    }
}
