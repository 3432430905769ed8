// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Exit statuses, and the one-line error report both commands end with.
//!
//! | status | meaning |
//! | --- | --- |
//! | 0 | success, also when the reader of stdout went away (`mymap-read \| head -c 1`) |
//! | 1 | the device or an I/O call failed; the message names the fix |
//! | 2 | bad arguments, an offset or length outside the buffer included |
//! | 3 | `--timeout` ran out before the wait was over |

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

/// The device or an I/O call failed.
pub const FAILURE: u8 = 1;
/// Bad arguments (clap uses the same status for the errors it finds).
pub const USAGE: u8 = 2;
/// A wait bounded by `--timeout` ran out.
pub const TIMEOUT: u8 = 3;

/// A bounded wait ended before what it waited for happened.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {} ms waiting for {what}", after.as_millis())]
pub struct TimedOut {
    /// What did not happen, as a noun phrase.
    pub what: String,
    /// The timeout that ran out.
    pub after: Duration,
}

/// Arguments that parse but make no sense together, or with this device.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Ends a command: reports `result` as `PROGRAM: error: MESSAGE` on stderr and picks
/// the exit status.
pub fn finish(program: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Nothing more can be done if stderr is gone too.
            let _ = writeln!(io::stderr(), "{program}: error: {err:#}");
            ExitCode::from(status(&err))
        }
    }
}

/// The exit status for `err`.
pub fn status(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<TimedOut>() {
            return TIMEOUT;
        }
        if cause.is::<Usage>() {
            return USAGE;
        }
        if let Some(err) = cause.downcast_ref::<mymap::Error>() {
            return if err.is_invalid_argument() {
                USAGE
            } else {
                FAILURE
            };
        }
    }
    FAILURE
}

/// Whether `err` comes from writing to a pipe whose reader has gone: the reader
/// (`head`, a closed pager) has all it wants, which is success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|err| err.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use anyhow::Context;

    use super::*;

    fn out_of_range() -> mymap::Error {
        mymap::Error::OutOfRange {
            path: PathBuf::from("/dev/mymap"),
            offset: 65536,
            len: 1,
            size: 65536,
        }
    }

    #[test]
    fn statuses() {
        let timed_out = TimedOut {
            what: "a change".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            timed_out.to_string(),
            "timed out after 1500 ms waiting for a change"
        );
        assert_eq!(status(&timed_out.into()), TIMEOUT);
        assert_eq!(status(&Usage("no".into()).into()), USAGE);
        assert_eq!(status(&out_of_range().into()), USAGE);
        let denied = mymap::Device::open("/nonexistent/mymap").unwrap_err();
        assert_eq!(status(&denied.into()), FAILURE);
        assert_eq!(status(&anyhow::anyhow!("anything else")), FAILURE);
    }

    #[test]
    fn status_looks_through_context() {
        let err = Err::<(), _>(out_of_range()).context("reading").unwrap_err();
        assert_eq!(status(&err), USAGE);
    }

    #[test]
    fn broken_pipe_is_found_through_context() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        let err = Err::<(), _>(pipe).context("writing to stdout").unwrap_err();
        assert!(is_broken_pipe(&err));
        let other = Err::<(), _>(io::Error::from(io::ErrorKind::Other)).context("x");
        assert!(!is_broken_pipe(&other.unwrap_err()));
    }
}
