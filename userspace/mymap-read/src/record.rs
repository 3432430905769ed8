// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Writing one ring record in the chosen format (`mymap-read --ring`).
//!
//! Text, one line per record, `key=value` fields so that `sed` and `awk` can
//! pick them; the payload's first 16 bytes in hex, then `...` if there are
//! more:
//!
//! ```text
//! seq=12 time=4567.000123456 source=timer flags=0x0000 len=64 data=0c000000000000000c0c0c0c0c0c0c0c...
//! ```
//!
//! `--hex`: the same line without `data=`, then the payload as `hexdump -C`
//! prints it (offsets from the start of the payload; nothing for an empty one).
//!
//! `--json`, one object per line (JSON Lines):
//!
//! ```json
//! {"seq":12,"timestamp_ns":4567000123456,"source":2,"source_name":"timer","flags":0,
//!  "len":64,"dropped_before":0,"data_base64":"DAAAAAAAAAAMDAwM..."}
//! ```
//!
//! `timestamp_ns` is `CLOCK_MONOTONIC`; `dropped_before` counts the records the
//! ring dropped just before this one (a gap in the sequence numbers).

use std::io::{self, Write};

use mymap::{source, Record};
use serde::Serialize;

use crate::output::Format;
use crate::{base64, hexdump};

/// How many payload bytes the text format shows.
const PREVIEW: usize = 16;

/// Writes `record` to `out` in `format` (`Format::Raw` is not a record format and writes
/// the text form).
pub fn write(out: &mut impl Write, format: Format, record: &Record<'_>) -> io::Result<()> {
    match format {
        Format::Json => write_json(out, record),
        Format::Hex => {
            writeln!(out, "{}", summary(record))?;
            hexdump::write(out, 0, record.payload)
        }
        Format::Text | Format::Raw => {
            writeln!(out, "{} data={}", summary(record), preview(record.payload))
        }
    }
}

/// The fields of a record but its payload, as `key=value` text.
pub fn summary(record: &Record<'_>) -> String {
    format!(
        "seq={} time={}.{:09} source={} flags={:#06x} len={}",
        record.seq,
        record.timestamp_ns / 1_000_000_000,
        record.timestamp_ns % 1_000_000_000,
        source_label(record.source),
        record.flags,
        record.payload.len()
    )
}

/// The name of a built-in producer, or the number of another.
fn source_label(id: u16) -> String {
    match source::name(id) {
        "driver" | "unknown" => id.to_string(),
        name => name.to_string(),
    }
}

/// Up to [`PREVIEW`] bytes in hex, then `...` if there are more.
fn preview(payload: &[u8]) -> String {
    let mut text: String = payload
        .iter()
        .take(PREVIEW)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if payload.len() > PREVIEW {
        text.push_str("...");
    }
    text
}

/// The JSON object of one record.
#[derive(Serialize)]
struct Json<'a> {
    seq: u64,
    timestamp_ns: u64,
    source: u16,
    source_name: &'static str,
    flags: u16,
    len: usize,
    dropped_before: u64,
    data_base64: &'a str,
}

fn write_json(out: &mut impl Write, record: &Record<'_>) -> io::Result<()> {
    let data = base64::encode(record.payload);
    let json = Json {
        seq: record.seq,
        timestamp_ns: record.timestamp_ns,
        source: record.source,
        source_name: source::name(record.source),
        flags: record.flags,
        len: record.payload.len(),
        dropped_before: record.dropped_before,
        data_base64: &data,
    };
    serde_json::to_writer(&mut *out, &json)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8]) -> Record<'_> {
        Record {
            seq: 12,
            timestamp_ns: 4_567_000_123_456,
            source: source::TIMER,
            flags: 0,
            payload,
            dropped_before: 0,
        }
    }

    fn written(format: Format, record: &Record<'_>) -> String {
        let mut out = Vec::new();
        write(&mut out, format, record).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_is_one_line_with_a_preview() {
        let payload: Vec<u8> = (0..20).collect();
        assert_eq!(
            written(Format::Text, &record(&payload)),
            "seq=12 time=4567.000123456 source=timer flags=0x0000 len=20 \
             data=000102030405060708090a0b0c0d0e0f...\n"
        );
        let mut other = record(b"\xff");
        other.source = 300;
        other.flags = 0x81;
        assert_eq!(
            written(Format::Text, &other),
            "seq=12 time=4567.000123456 source=300 flags=0x0081 len=1 data=ff\n"
        );
        assert_eq!(
            written(Format::Text, &record(b"")),
            "seq=12 time=4567.000123456 source=timer flags=0x0000 len=0 data=\n"
        );
    }

    #[test]
    fn hex_is_the_summary_and_a_dump() {
        assert_eq!(
            written(Format::Hex, &record(b"hi")),
            "seq=12 time=4567.000123456 source=timer flags=0x0000 len=2\n\
             00000000  68 69                                             |hi|\n\
             00000002\n"
        );
        assert_eq!(
            written(Format::Hex, &record(b"")).lines().count(),
            1,
            "no dump for an empty payload"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut rec = record(b"hi\0");
        rec.dropped_before = 3;
        assert_eq!(
            written(Format::Json, &rec),
            "{\"seq\":12,\"timestamp_ns\":4567000123456,\"source\":2,\"source_name\":\"timer\",\
             \"flags\":0,\"len\":3,\"dropped_before\":3,\"data_base64\":\"aGkA\"}\n"
        );
    }
}
