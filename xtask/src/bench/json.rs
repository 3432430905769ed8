//! The committed records' layout: serde_json's pretty printing (fields in
//! declaration order), with each array of plain values (the samples) joined
//! onto one line, so that a record reads as a list of measurements rather
//! than a column of numbers.

use anyhow::Result;
use serde::Serialize;

/// `value` as pretty JSON with scalar arrays on one line, and a final newline.
pub fn readable(value: &impl Serialize) -> Result<String> {
    let pretty = serde_json::to_string_pretty(value)?;
    let mut out = String::new();
    let mut lines = pretty.lines().peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        // A non-empty array opens at the end of a line (a string's `[` is followed
        // by `"`); if every line up to its `]` is a plain value, join them.
        if line.ends_with('[') {
            let items: Vec<&str> = lines
                .clone()
                .take_while(|l| !l.trim_start().starts_with(']'))
                .collect();
            if items.iter().all(|l| !l.ends_with(['[', '{'])) {
                out.push_str(
                    &items
                        .iter()
                        .map(|l| l.trim().trim_end_matches(','))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                // Past the items, then the closing line (`]` or `],`).
                lines.nth(items.len() - 1);
                out.push_str(lines.next().map(str::trim_start).unwrap_or("]"));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn samples_stay_on_one_line_in_field_order_and_the_text_parses_back() {
        #[derive(Serialize)]
        struct Inner {
            x: Vec<u32>,
        }
        #[derive(Serialize)]
        struct Outer {
            z: u32,
            s: Vec<Option<f64>>,
            list: Vec<Inner>,
            e: Vec<u32>,
            name: &'static str,
        }
        let value = Outer {
            z: 1,
            s: vec![Some(0.5), Some(1e-7), None],
            list: vec![Inner { x: vec![1, 2] }],
            e: vec![],
            name: "a [",
        };
        let text = readable(&value).unwrap();
        assert_eq!(
            text,
            "{\n  \"z\": 1,\n  \"s\": [0.5, 1e-7, null],\n  \"list\": [\n    {\n      \"x\": [1, 2]\n    }\n  ],\n  \"e\": [],\n  \"name\": \"a [\"\n}\n"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, serde_json::to_value(&value).unwrap());
    }
}
