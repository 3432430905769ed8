// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `--wait-gpio CHIP:LINE`: print a snapshot after each edge on a GPIO line.
//!
//! The line is requested as an input with edge detection through the GPIO
//! character device (uAPI v2, `gpiocdev`); the kernel queues the edges, so
//! none is lost while a snapshot is being printed.

use std::fmt;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use gpiocdev::line::{EdgeDetection, EdgeKind};
use gpiocdev::Request;

use crate::deadline::Deadline;
use crate::exit::TimedOut;
use crate::output::{display, Edge, Printer};
use crate::wait;

/// A GPIO line: a chip and a line offset on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioLine {
    /// The chip's character device, e.g. /dev/gpiochip0.
    pub chip: PathBuf,
    /// The line offset on the chip.
    pub line: u32,
}

impl FromStr for GpioLine {
    type Err = String;

    /// Parses `CHIP:LINE`, where CHIP is a path (/dev/gpiochip0), a name in /dev
    /// (gpiochip0) or a number (0), and LINE is a line offset.
    fn from_str(text: &str) -> Result<Self, String> {
        let (chip, line) = text
            .rsplit_once(':')
            .filter(|(chip, _)| !chip.is_empty())
            .ok_or_else(|| format!("`{text}` is not CHIP:LINE (e.g. gpiochip0:17)"))?;
        let line = line
            .parse()
            .map_err(|_| format!("`{line}` is not a line offset (a number, e.g. 17)"))?;
        let chip = if chip.contains('/') {
            PathBuf::from(chip)
        } else if chip.bytes().all(|byte| byte.is_ascii_digit()) {
            PathBuf::from(format!("/dev/gpiochip{chip}"))
        } else {
            PathBuf::from("/dev").join(chip)
        };
        Ok(GpioLine { chip, line })
    }
}

impl fmt::Display for GpioLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.chip.display(), self.line)
    }
}

/// Which edges trigger a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Edges {
    /// Low to high.
    Rising,
    /// High to low.
    Falling,
    /// Either.
    Both,
}

impl From<Edges> for EdgeDetection {
    fn from(edges: Edges) -> Self {
        match edges {
            Edges::Rising => EdgeDetection::RisingEdge,
            Edges::Falling => EdgeDetection::FallingEdge,
            Edges::Both => EdgeDetection::BothEdges,
        }
    }
}

/// Waits for edges on `line` and prints a snapshot after each, until `count` snapshots
/// are printed (if given) or the deadline passes.
pub fn run<W: Write>(
    printer: &mut Printer<'_, W>,
    line: &GpioLine,
    edges: Edges,
    count: Option<u64>,
    deadline: Deadline,
) -> anyhow::Result<()> {
    let request = Request::builder()
        .on_chip(&line.chip)
        .with_consumer("mymap-read")
        .with_line(line.line)
        .as_input()
        .with_edge_detection(EdgeDetection::from(edges))
        .request()
        .with_context(|| {
            format!(
                "{line}: cannot watch the GPIO line for edges (is the chip in `ls /dev/gpiochip*`, \
                 the line free in `gpioinfo`, and /dev/gpiochip* readable by you?)"
            )
        })?;
    let mut printed = 0;
    while count.is_none_or(|count| printed < count) {
        // A bounded wait; without a deadline, read_edge_event blocks until an edge.
        if let Some(left) = deadline.remaining() {
            let arrived = wait::readable(request.as_fd(), Some(left))
                .with_context(|| format!("{line}: waiting for an edge"))?;
            if !arrived {
                return Err(TimedOut {
                    what: format!("an edge on {line} ({printed} snapshot(s) printed)"),
                    after: deadline.timeout().unwrap_or_default(),
                }
                .into());
            }
        }
        let event = request
            .read_edge_event()
            .with_context(|| format!("{line}: reading an edge"))?;
        let edge = Edge {
            chip: display(&line.chip),
            line: event.offset,
            kind: match event.kind {
                EdgeKind::Rising => "rising",
                EdgeKind::Falling => "falling",
            },
            timestamp_ns: event.timestamp_ns,
        };
        printer.print_now(Some(&edge))?;
        printed += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<GpioLine, String> {
        text.parse()
    }

    #[test]
    fn chip_by_name_number_or_path() {
        let expect = GpioLine {
            chip: "/dev/gpiochip0".into(),
            line: 17,
        };
        assert_eq!(parse("gpiochip0:17"), Ok(expect.clone()));
        assert_eq!(parse("0:17"), Ok(expect.clone()));
        assert_eq!(parse("/dev/gpiochip0:17"), Ok(expect));
        assert_eq!(parse("./chip:1").unwrap().chip, PathBuf::from("./chip"));
    }

    #[test]
    fn malformed_lines_are_refused() {
        assert!(parse("gpiochip0").unwrap_err().contains("is not CHIP:LINE"));
        assert!(parse(":3").unwrap_err().contains("is not CHIP:LINE"));
        assert!(parse("gpiochip0:")
            .unwrap_err()
            .contains("is not a line offset"));
        assert!(parse("gpiochip0:x")
            .unwrap_err()
            .contains("is not a line offset"));
        assert!(parse("gpiochip0:-1")
            .unwrap_err()
            .contains("is not a line offset"));
    }

    #[test]
    fn displays_as_it_parses() {
        assert_eq!(parse("1:2").unwrap().to_string(), "/dev/gpiochip1:2");
    }
}
