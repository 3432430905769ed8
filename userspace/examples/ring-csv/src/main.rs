// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `ring-csv`: consumes a mymap ring and prints each record as a CSV row.
//!
//! An example application of the `mymap` crate, using nothing but its public
//! interface: `Ring::open` claims the ring, `Ring::wait` sleeps until records
//! come, `Ring::consume` lends them in place.
//!
//! ```text
//! ring-csv [--ring PATH] [--count N] [--timeout MS]
//! ```
//!
//! Exit statuses: 0 done (`--count` records, or a closed stdout), 1 a device
//! error, 2 bad arguments, 3 `--timeout` ran out first.

mod csv;

use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mymap::Ring;

const USAGE: &str = "usage: ring-csv [--ring PATH] [--count N] [--timeout MS]";

/// The command line.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    /// The ring's node.
    ring: PathBuf,
    /// Stop after this many records.
    count: Option<u64>,
    /// Give up after this long.
    timeout: Option<Duration>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            ring: PathBuf::from(mymap::DEFAULT_RING_PATH),
            count: None,
            timeout: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--ring" => parsed.ring = PathBuf::from(value()?),
                "--count" => parsed.count = Some(number(&arg, &value()?)?),
                "--timeout" => {
                    parsed.timeout = Some(Duration::from_millis(number(&arg, &value()?)?));
                }
                _ => return Err(format!("unknown argument '{arg}'")),
            }
        }
        Ok(parsed)
    }
}

fn number(arg: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{arg} wants a whole number, not '{value}'"))
}

/// How a run ended.
enum End {
    Done,
    TimedOut,
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("ring-csv: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match run(&args, &mut out) {
        Ok(End::Done) => ExitCode::SUCCESS,
        Ok(End::TimedOut) => {
            eprintln!("ring-csv: --timeout ran out");
            ExitCode::from(3)
        }
        // `ring-csv | head`: the reader has all it wanted.
        Err(Failure::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(err)) => {
            eprintln!("ring-csv: writing to stdout: {err}");
            ExitCode::from(1)
        }
        Err(Failure::Ring(err)) => {
            eprintln!("ring-csv: {err}");
            ExitCode::from(1)
        }
    }
}

/// A failure of the ring or of the output.
enum Failure {
    Ring(mymap::Error),
    Output(io::Error),
}

impl From<mymap::Error> for Failure {
    fn from(err: mymap::Error) -> Self {
        Failure::Ring(err)
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::Output(err)
    }
}

fn run(args: &Args, out: &mut impl Write) -> Result<End, Failure> {
    let mut ring = Ring::open(&args.ring)?;
    let deadline = args.timeout.map(|timeout| Instant::now() + timeout);
    writeln!(out, "{}", csv::HEADER)?;
    out.flush()?;
    let mut printed = 0u64;
    loop {
        if args.count.is_some_and(|count| printed >= count) {
            return Ok(End::Done);
        }
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Ok(End::TimedOut);
        }
        if !ring.wait(left)? {
            continue;
        }
        let mut failed = None;
        ring.consume(|record| {
            if let Err(err) = writeln!(out, "{}", csv::row(record)) {
                failed = Some(err);
                return ControlFlow::Break(());
            }
            printed += 1;
            if args.count.is_some_and(|count| printed >= count) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if let Some(err) = failed {
            return Err(err.into());
        }
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn defaults_to_ring_0_forever() {
        assert_eq!(
            parse(&[]).unwrap(),
            Args {
                ring: PathBuf::from("/dev/mymap-ring0"),
                count: None,
                timeout: None
            }
        );
    }

    #[test]
    fn takes_ring_count_and_timeout() {
        let args = parse(&[
            "--ring",
            "/dev/mymap-ring1",
            "--count",
            "5",
            "--timeout",
            "250",
        ]);
        assert_eq!(
            args.unwrap(),
            Args {
                ring: PathBuf::from("/dev/mymap-ring1"),
                count: Some(5),
                timeout: Some(Duration::from_millis(250))
            }
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert_eq!(parse(&["--count"]).unwrap_err(), "--count needs a value");
        assert_eq!(
            parse(&["--count", "x"]).unwrap_err(),
            "--count wants a whole number, not 'x'"
        );
        assert_eq!(parse(&["-n"]).unwrap_err(), "unknown argument '-n'");
    }
}
