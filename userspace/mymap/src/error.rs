// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The error type of the library: what failed, on which device, and the fix.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use libc::{ENODEV, ENOTTY, ENXIO};

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
        path: PathBuf,
        call: Call,
        err: io::Error,
    },

    /// The caller may not open the device node.
    #[error(
        "{}: permission denied: add your user to group 'mymap' and log in again ({call}: {err})",
        path.display()
    )]
    PermissionDenied {
        path: PathBuf,
        call: Call,
        err: io::Error,
    },

    /// The file does not answer `MYMAP_IOC_INFO`, so it is not a mymap device.
    #[error(
        "{}: not a mymap device: it does not answer MYMAP_IOC_INFO ({err}); \
         pass a /dev/mymap node",
        path.display()
    )]
    NotMymap { path: PathBuf, err: io::Error },

    /// The driver speaks another version of the ABI than this library.
    #[error(
        "{}: ABI version mismatch: the driver has version {driver}, this program version \
         {expected}: install the mymap module and tools from the same build",
        path.display()
    )]
    AbiMismatch {
        path: PathBuf,
        driver: u32,
        expected: u32,
    },

    /// `MYMAP_IOC_INFO` answered a geometry this library cannot use.
    #[error(
        "{}: the driver reported an unusable geometry (page size {page_size}, size {size})",
        path.display()
    )]
    BadInfo {
        path: PathBuf,
        page_size: u32,
        size: u64,
    },

    /// The call needs the device open for writing, and it was opened read-only.
    #[error(
        "{}: {call} needs the device open for writing: use Device::open, not open_read_only",
        path.display()
    )]
    ReadOnly { path: PathBuf, call: Call },

    /// A mapping must start on a page boundary.
    #[error(
        "{}: offset {offset} is not a multiple of the page size {page_size}: \
         a mapping must start on a page boundary",
        path.display()
    )]
    Unaligned {
        path: PathBuf,
        offset: u64,
        page_size: u32,
    },

    /// A range reaches past the end of the buffer, or a mapping is empty.
    #[error(
        "{}: offset {offset} + length {len} is not inside the {size}-byte buffer{}",
        path.display(),
        if *len == 0 { " (a mapping needs at least one byte)" } else { "" }
    )]
    OutOfRange {
        path: PathBuf,
        offset: u64,
        len: u64,
        size: u64,
    },

    /// Any other failure of a call.
    #[error("{}: {call} failed: {err}", path.display())]
    Io {
        path: PathBuf,
        call: Call,
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
            (Call::Info, _) if err.raw_os_error() == Some(ENOTTY) => Error::NotMymap { path, err },
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
            | Error::Io { path, .. } => path,
        }
    }

    /// The system error behind this one, if a call failed.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Error::NotFound { err, .. }
            | Error::PermissionDenied { err, .. }
            | Error::NotMymap { err, .. }
            | Error::Io { err, .. } => Some(err),
            _ => None,
        }
    }

    /// True when the caller asked for something impossible (a range or alignment), as
    /// opposed to a device or system failure.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, Error::Unaligned { .. } | Error::OutOfRange { .. })
    }
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
    fn accessors_return_the_context() {
        let err = Error::from_io(dev(), Call::Read, os(libc::EIO));
        assert_eq!(err.path(), dev());
        assert_eq!(err.io_error().and_then(io::Error::raw_os_error), Some(5));
        assert!(!err.is_invalid_argument());
        assert!(std::error::Error::source(&err).is_none());
    }
}
