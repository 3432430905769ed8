// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Writing one snapshot of the buffer in the chosen format.
//!
//! `--json` writes one object per line (JSON Lines, so `--follow` output can
//! be read line by line):
//!
//! ```json
//! {"device":"/dev/mymap","via":"mmap","info":{"abi_version":1,"page_size":4096,
//!  "size":65536,"index":0,"devices":1,"max_size":67108864,"clears":0},
//!  "offset":0,"length":65536,"text":"hello world from kernel space",
//!  "data_base64":"aGVsbG8g..."}
//! ```
//!
//! `text` is the data up to its first NUL byte, invalid UTF-8 replaced by
//! U+FFFD; `data_base64` is every byte. After a GPIO edge (`--wait-gpio`) an
//! `"edge"` object says which: `{"chip":"/dev/gpiochip0","line":3,
//! "kind":"rising","timestamp_ns":...}`.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use mymap::Info;
use serde::Serialize;

use crate::source::{Source, Via};
use crate::{base64, hexdump};

/// The output formats of `mymap-read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The data up to its first NUL, as text, then a newline.
    Text,
    /// A canonical hexdump (`hexdump -C`).
    Hex,
    /// The bytes unchanged.
    Raw,
    /// One JSON object per snapshot.
    Json,
}

/// A GPIO edge that triggered a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// The GPIO chip device.
    pub chip: String,
    /// The line offset on the chip.
    pub line: u32,
    /// `rising` or `falling`.
    pub kind: &'static str,
    /// The kernel's timestamp of the edge (CLOCK_MONOTONIC), in nanoseconds.
    pub timestamp_ns: u64,
}

/// Writes snapshots of one source to `out`, flushing after each.
pub struct Printer<'a, W: Write> {
    out: W,
    format: Format,
    source: &'a Source<'a>,
}

impl<'a, W: Write> Printer<'a, W> {
    /// A printer of snapshots of `source` in `format`.
    pub fn new(out: W, format: Format, source: &'a Source<'a>) -> Self {
        Printer {
            out,
            format,
            source,
        }
    }

    /// The source this printer prints.
    pub fn source(&self) -> &'a Source<'a> {
        self.source
    }

    /// Takes a snapshot of the source and writes it.
    pub fn print_now(&mut self, edge: Option<&Edge>) -> anyhow::Result<()> {
        let data = self.source.snapshot()?;
        self.print(&data, edge)
    }

    /// Writes `data`, a snapshot of the source, and flushes it.
    pub fn print(&mut self, data: &[u8], edge: Option<&Edge>) -> anyhow::Result<()> {
        let written = match self.format {
            Format::Text => self.write_text(data),
            Format::Hex => hexdump::write(&mut self.out, self.source.offset(), data),
            Format::Raw => self.out.write_all(data),
            Format::Json => {
                // Fresh counters with every snapshot.
                let info = self.source.device().info()?;
                self.write_json(data, edge, &info)
            }
        };
        written
            .and_then(|()| self.out.flush())
            .context("writing to stdout")
    }

    fn write_text(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(text(data).as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn write_json(&mut self, data: &[u8], edge: Option<&Edge>, info: &Info) -> io::Result<()> {
        let source = self.source;
        let snapshot = Snapshot {
            device: display(source.device().path()),
            via: source.via(),
            info,
            offset: source.offset(),
            length: data.len(),
            text: text(data),
            data_base64: base64::encode(data),
            edge,
        };
        serde_json::to_writer(&mut self.out, &snapshot)?;
        self.out.write_all(b"\n")
    }
}

/// The JSON object of one snapshot.
#[derive(Serialize)]
struct Snapshot<'a> {
    device: String,
    via: Via,
    info: &'a Info,
    offset: u64,
    length: usize,
    text: String,
    data_base64: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    edge: Option<&'a Edge>,
}

/// The data up to its first NUL byte, invalid UTF-8 replaced.
pub fn text(data: &[u8]) -> String {
    let end = data
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// A path as text for messages and JSON.
pub fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stops_at_the_first_nul() {
        assert_eq!(
            text(b"hello world from kernel space\0\0junk"),
            "hello world from kernel space"
        );
        assert_eq!(text(b"\0hello"), "");
        assert_eq!(text(b"no nul"), "no nul");
        assert_eq!(text(b"bad \xff utf-8\0"), "bad \u{fffd} utf-8");
    }

    #[test]
    fn snapshot_json_has_the_documented_fields() {
        let info = Info {
            abi_version: 1,
            page_size: 4096,
            size: 65536,
            index: 0,
            devices: 1,
            max_size: 67108864,
            clears: 2,
        };
        let edge = Edge {
            chip: "/dev/gpiochip1".into(),
            line: 0,
            kind: "rising",
            timestamp_ns: 42,
        };
        let snapshot = Snapshot {
            device: "/dev/mymap".into(),
            via: Via::Read,
            info: &info,
            offset: 4096,
            length: 3,
            text: text(b"hi\0"),
            data_base64: base64::encode(b"hi\0"),
            edge: Some(&edge),
        };
        assert_eq!(
            serde_json::to_string(&snapshot).unwrap(),
            r#"{"device":"/dev/mymap","via":"read","info":{"abi_version":1,"page_size":4096,"size":65536,"index":0,"devices":1,"max_size":67108864,"clears":2},"offset":4096,"length":3,"text":"hi","data_base64":"aGkA","edge":{"chip":"/dev/gpiochip1","line":0,"kind":"rising","timestamp_ns":42}}"#
        );
    }
}
