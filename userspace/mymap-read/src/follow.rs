// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `--follow`: print the range now, then again each time it changes.
//!
//! The driver has no poll hook, so changes are found by comparing snapshots
//! taken every `--interval`. A change that is undone within one interval is
//! missed; one that is still being written may be seen half done, and then
//! seen again when complete.

use std::io::Write;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::exit::TimedOut;
use crate::output::Printer;
use crate::wait;

/// Prints the printer's source now and after each change, until `count` snapshots are printed (if
/// given) or the deadline passes.
pub fn run<W: Write>(
    printer: &mut Printer<'_, W>,
    interval: Duration,
    count: Option<u64>,
    deadline: Deadline,
) -> anyhow::Result<()> {
    let source = printer.source();
    let mut last = source.snapshot()?;
    printer.print(&last, None)?;
    let mut printed = 1;
    while count.is_none_or(|count| printed < count) {
        if deadline.expired() {
            return Err(TimedOut {
                what: format!("a change of the buffer ({printed} snapshot(s) printed)"),
                after: deadline.timeout().unwrap_or_default(),
            }
            .into());
        }
        wait::sleep(deadline.cap(interval))?;
        let now = source.snapshot()?;
        if now != last {
            printer.print(&now, None)?;
            printed += 1;
            last = now;
        }
    }
    Ok(())
}
