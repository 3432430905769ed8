// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! One CSV row per record.

use std::fmt::Write;

use mymap::Record;

/// The first line of the output: the column names.
pub const HEADER: &str = "seq,timestamp_ns,source,flags,len,dropped_before,payload";

/// `record` as a CSV row, without the line end: its header fields in decimal and its
/// payload in lowercase hexadecimal (no field needs quoting).
pub fn row(record: &Record<'_>) -> String {
    let mut line = format!(
        "{},{},{},{},{},{},",
        record.seq,
        record.timestamp_ns,
        record.source,
        record.flags,
        record.payload.len(),
        record.dropped_before
    );
    for byte in record.payload {
        // Writing to a String cannot fail.
        let _ = write!(line, "{byte:02x}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_has_every_column_of_the_header_in_order() {
        let record = Record {
            seq: 7,
            timestamp_ns: 123_456_789,
            source: 2,
            flags: 1,
            payload: &[0x07, 0x00, 0xab],
            dropped_before: 3,
        };
        let line = row(&record);
        assert_eq!(line, "7,123456789,2,1,3,3,0700ab");
        assert_eq!(
            line.split(',').count(),
            HEADER.split(',').count(),
            "one field per column"
        );
    }

    #[test]
    fn an_empty_payload_is_an_empty_last_field() {
        let record = Record {
            seq: 0,
            timestamp_ns: 1,
            source: 256,
            flags: 0,
            payload: &[],
            dropped_before: 0,
        };
        assert_eq!(row(&record), "0,1,256,0,0,0,");
    }
}
