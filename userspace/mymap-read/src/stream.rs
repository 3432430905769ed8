// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `--ring`: print a ring's records as they arrive.
//!
//! Claims the ring as its consumer, prints what waits, then sleeps in
//! `epoll_wait` until the driver wakes it (the ring's wakeup policy says
//! when): no polling interval, no copy of a record before it is formatted.
//! Drops are never silent: a gap in the sequence numbers is reported on
//! stderr as it is seen, and the ring's drop counter at the end if it moved.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use mymap::Ring;

use crate::exit::TimedOut;
use crate::output::{display, Format};
use crate::record;

/// When to stop printing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Stop after this many records.
    pub count: Option<u64>,
    /// Give up (exit status 3) when no record arrives for this long.
    pub idle: Option<Duration>,
}

/// Prints the records of the ring at `path` to `out` in `format` until `limits` say
/// stop; drops go to `warn` (stderr), one line each.
pub fn run(
    out: &mut impl Write,
    warn: &mut impl Write,
    path: &Path,
    format: Format,
    limits: Limits,
) -> anyhow::Result<()> {
    let mut ring = Ring::open(path)?;
    let before = ring.stats()?.dropped;
    if ring.skipped_at_open() > 0 {
        note(
            warn,
            &format!(
                "{}: skipped {} bytes: the consumer position an earlier consumer left made \
                 no sense",
                display(path),
                ring.skipped_at_open()
            ),
        );
    }
    let mut printed = 0;
    let result = print_records(out, warn, &mut ring, format, limits, &mut printed);
    // The summary is worth printing whatever ended the run, the reader of stdout going
    // away included; if asking fails, the run's own outcome matters more.
    if let Ok(stats) = ring.stats() {
        let dropped = stats.dropped.wrapping_sub(before);
        if dropped > 0 {
            note(
                warn,
                &format!(
                    "{}: the ring dropped {dropped} record(s) while this reader ran, being \
                     full ({} seen as sequence gaps); read faster, or give it a larger \
                     ring_size=",
                    display(path),
                    ring.missed()
                ),
            );
        }
    }
    result
}

/// The loop: consume what waits, print it, wait for more.
fn print_records(
    out: &mut impl Write,
    warn: &mut impl Write,
    ring: &mut Ring,
    format: Format,
    limits: Limits,
    printed: &mut u64,
) -> anyhow::Result<()> {
    let path = display(ring.path());
    loop {
        if limits.count.is_some_and(|count| *printed >= count) {
            return Ok(());
        }
        let mut failed = None;
        ring.consume(|rec| {
            if rec.dropped_before > 0 {
                note(
                    warn,
                    &format!(
                        "{path}: {} record(s) dropped before seq {} (the ring was full)",
                        rec.dropped_before, rec.seq
                    ),
                );
            }
            if let Err(err) = record::write(out, format, rec) {
                failed = Some(err);
                return ControlFlow::Break(());
            }
            *printed += 1;
            if limits.count.is_some_and(|count| *printed >= count) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        failed
            .map_or_else(|| out.flush(), Err)
            .context("writing to stdout")?;
        if limits.count.is_some_and(|count| *printed >= count) {
            return Ok(());
        }
        if !ring.wait(limits.idle)? {
            return Err(TimedOut {
                what: format!("a record on {path} ({printed} record(s) printed)"),
                after: limits.idle.unwrap_or_default(),
            }
            .into());
        }
    }
}

/// Writes `mymap-read: warning: MESSAGE` to `warn`; nothing more can be done if that
/// fails.
fn note(warn: &mut impl Write, message: &str) {
    let _ = writeln!(warn, "mymap-read: warning: {message}");
}
