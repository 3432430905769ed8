// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What a run measured, as a text table for people and one JSON document for
//! `cargo xtask bench`, between marker lines.

use std::fmt::Write as _;

use crate::stats::{
    mib_per_s,
    paired_ratio,
    Bound,
    Kind, //
};

/// The line before the JSON document.
pub const JSON_BEGIN: &str = "MYMAP-BENCH-JSON: BEGIN";
/// The line after it.
pub const JSON_END: &str = "MYMAP-BENCH-JSON: END";
/// The version of the JSON document's layout.
pub const SCHEMA: u32 = 1;

/// One measurement: mymap and its baseline, timed in turn.
#[derive(Debug)]
pub struct Comparison {
    /// A stable name, e.g. `touch-write-16m`, for comparing runs.
    pub id: String,
    /// What is measured, in a few words (a table's row label).
    pub what: String,
    /// The mymap side and the baseline, in words.
    pub ours: &'static str,
    pub base: &'static str,
    pub kind: Kind,
    /// The device buffer's size during the measurement.
    pub size: u64,
    /// Bytes each side moves per repetition.
    pub bytes: u64,
    /// Seconds per repetition, pair by pair.
    pub ours_s: Vec<f64>,
    pub base_s: Vec<f64>,
    /// Minor page faults per repetition, pair by pair.
    pub ours_faults: Vec<u64>,
    pub base_faults: Vec<u64>,
    pub target: Option<Bound>,
}

impl Comparison {
    pub fn ratio(&self) -> f64 {
        paired_ratio(self.kind, &self.ours_s, &self.base_s).unwrap_or(f64::NAN)
    }

    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| t.met(self.ratio()))
    }

    pub fn ours_median(&self) -> f64 {
        crate::stats::median(&self.ours_s).unwrap_or(f64::NAN)
    }

    pub fn base_median(&self) -> f64 {
        crate::stats::median(&self.base_s).unwrap_or(f64::NAN)
    }
}

/// Loading the module with one `size`, repeated.
#[derive(Debug)]
pub struct Load {
    pub size: u64,
    /// Wall time of `modprobe mymap size=N`.
    pub modprobe_s: Vec<f64>,
    /// From the start of `modprobe` until `/dev/mymap` is there with group `mymap`.
    pub node_s: Vec<f64>,
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    pub kernel: String,
    pub page_size: u64,
    pub reps: usize,
    /// `/proc/uptime` when the bench started.
    pub uptime_at_start_s: f64,
    pub comparisons: Vec<Comparison>,
    pub loads: Vec<Load>,
}

/// `64 KiB`, `16 MiB`, `1000 B`.
pub fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

/// A duration for people: `812 us`, `12.3 ms`, `1.25 s`.
pub fn seconds_text(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

impl Report {
    /// The table printed on the target.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "id".to_string(),
            "size".into(),
            "mymap".into(),
            "baseline".into(),
            "ratio".into(),
            "target".into(),
            "met".into(),
            "faults".into(),
        ]];
        for c in &self.comparisons {
            let side = |s: f64| match c.kind {
                Kind::Throughput => format!("{:.1} MiB/s", mib_per_s(c.bytes, s)),
                Kind::Time => seconds_text(s),
            };
            rows.push([
                c.id.clone(),
                size_text(c.size),
                side(c.ours_median()),
                side(c.base_median()),
                format!("{:.3}", c.ratio()),
                c.target.map(Bound::text).unwrap_or_default(),
                match c.met() {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => String::new(),
                },
                format!(
                    "{}/{}",
                    number(median_count(&c.ours_faults), 1),
                    number(median_count(&c.base_faults), 1)
                ),
            ]);
        }
        let mut out = aligned(&rows);
        out.push('\n');
        let mut loads = vec![[
            "module load".to_string(),
            "modprobe".into(),
            "to /dev/mymap".into(),
        ]];
        for l in &self.loads {
            let med = |v: &[f64]| {
                crate::stats::median(v)
                    .map(seconds_text)
                    .unwrap_or_default()
            };
            loads.push([
                format!("size={}", size_text(l.size)),
                med(&l.modprobe_s),
                med(&l.node_s),
            ]);
        }
        out.push_str(&aligned(&loads));
        out
    }

    /// The JSON document, one key per line, between the marker lines.
    pub fn json(&self) -> String {
        let mut out = String::new();
        out.push_str("{\n");
        let _ = writeln!(out, "  \"schema\": {SCHEMA},");
        let _ = writeln!(out, "  \"kernel\": {},", string(&self.kernel));
        let _ = writeln!(out, "  \"page_size\": {},", self.page_size);
        let _ = writeln!(out, "  \"reps\": {},", self.reps);
        let _ = writeln!(
            out,
            "  \"uptime_at_start_s\": {},",
            number(self.uptime_at_start_s, 3)
        );
        out.push_str("  \"comparisons\": [\n");
        for (i, c) in self.comparisons.iter().enumerate() {
            let fields = [
                ("id", string(&c.id)),
                ("what", string(&c.what)),
                ("ours", string(c.ours)),
                ("base", string(c.base)),
                ("size", c.size.to_string()),
                ("bytes", c.bytes.to_string()),
                ("ratio", number(c.ratio(), 4)),
                ("ratio_is", string(c.kind.meaning())),
                (
                    "target",
                    c.target.map(|t| string(&t.text())).unwrap_or("null".into()),
                ),
                (
                    "met",
                    c.met().map(|m| m.to_string()).unwrap_or("null".into()),
                ),
                ("ours_median_s", number(c.ours_median(), 9)),
                ("base_median_s", number(c.base_median(), 9)),
                ("ours_mib_s", number(mib_per_s(c.bytes, c.ours_median()), 1)),
                ("base_mib_s", number(mib_per_s(c.bytes, c.base_median()), 1)),
                ("ours_minflt", number(median_count(&c.ours_faults), 1)),
                ("base_minflt", number(median_count(&c.base_faults), 1)),
                ("ours_s", numbers(&c.ours_s, 9)),
                ("base_s", numbers(&c.base_s, 9)),
            ];
            object(&mut out, &fields, i + 1 < self.comparisons.len());
        }
        out.push_str("  ],\n");
        out.push_str("  \"module_load\": [\n");
        for (i, l) in self.loads.iter().enumerate() {
            let med = |v: &[f64]| number(crate::stats::median(v).unwrap_or(f64::NAN), 6);
            let fields = [
                ("size", l.size.to_string()),
                ("modprobe_s", med(&l.modprobe_s)),
                ("node_s", med(&l.node_s)),
                ("modprobe_samples_s", numbers(&l.modprobe_s, 6)),
                ("node_samples_s", numbers(&l.node_s, 6)),
            ];
            object(&mut out, &fields, i + 1 < self.loads.len());
        }
        out.push_str("  ]\n}\n");
        out
    }
}

/// The median of counts, as a number for JSON (`NaN`, so `null`, when empty).
fn median_count(counts: &[u64]) -> f64 {
    let counts: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    crate::stats::median(&counts).unwrap_or(f64::NAN)
}

/// Rows padded to their columns' widths, two spaces apart.
fn aligned<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One object of an array, on one line.
fn object(out: &mut String, fields: &[(&str, String)], more: bool) {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", string(k)))
        .collect();
    let _ = writeln!(
        out,
        "    {{{}}}{}",
        body.join(", "),
        if more { "," } else { "" }
    );
}

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number with at most `decimals` decimals and no trailing zeros; `null`
/// for what JSON cannot hold (a ratio over no samples).
pub fn number(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "null".into();
    }
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

fn numbers(xs: &[f64], decimals: usize) -> String {
    let items: Vec<String> = xs.iter().map(|&x| number(x, decimals)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            kernel: "7.3.4".into(),
            page_size: 4096,
            reps: 3,
            uptime_at_start_s: 12.5,
            comparisons: vec![
                Comparison {
                    id: "mapped-read".into(),
                    what: "sum \"u64\" words".into(),
                    ours: "mapping",
                    base: "anonymous",
                    kind: Kind::Throughput,
                    size: 16 << 20,
                    bytes: 16 << 20,
                    ours_s: vec![0.5, 0.5, 0.5],
                    base_s: vec![0.49, 0.5, 0.51],
                    ours_faults: vec![0, 0, 0],
                    base_faults: vec![0, 1, 0],
                    target: Some(Bound::AtLeast(0.97)),
                },
                Comparison {
                    id: "touch-read-16m".into(),
                    what: "mmap + first read".into(),
                    ours: "mymap",
                    base: "MAP_POPULATE",
                    kind: Kind::Time,
                    size: 16 << 20,
                    bytes: 16 << 20,
                    ours_s: vec![0.002, 0.001, 0.003],
                    base_s: vec![0.02, 0.02, 0.02],
                    ours_faults: vec![4096, 4097],
                    base_faults: vec![],
                    target: Some(Bound::AtMost(0.06)),
                },
            ],
            loads: vec![Load {
                size: 65536,
                modprobe_s: vec![0.01, 0.03],
                node_s: vec![0.05],
            }],
        }
    }

    #[test]
    fn json_numbers_have_no_trailing_zeros_and_no_nan() {
        assert_eq!(number(0.5, 4), "0.5");
        assert_eq!(number(2.0, 4), "2");
        assert_eq!(number(0.123456, 4), "0.1235");
        assert_eq!(number(-0.00001, 3), "0");
        assert_eq!(number(f64::NAN, 3), "null");
        assert_eq!(number(f64::INFINITY, 3), "null");
        assert_eq!(number(1e-7, 9), "0.0000001");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn the_document_carries_ratio_target_and_verdict() {
        let json = sample().json();
        assert!(json.starts_with("{\n  \"schema\": 1,\n"), "{json}");
        assert!(json.ends_with("  ]\n}\n"), "{json}");
        // Throughput: base/ours pair by pair = 0.98, 1.0, 1.02.
        assert!(json.contains("\"id\": \"mapped-read\""), "{json}");
        assert!(
            json.contains("\"ratio\": 1, \"ratio_is\": \"throughput ratio"),
            "{json}"
        );
        assert!(
            json.contains("\"target\": \">= 0.97\", \"met\": true"),
            "{json}"
        );
        // Time: 0.1, 0.05, 0.15 -> 0.1, above 0.06.
        assert!(json.contains("\"ratio\": 0.1, "), "{json}");
        assert!(
            json.contains("\"target\": \"<= 0.06\", \"met\": false"),
            "{json}"
        );
        assert!(
            json.contains("\"what\": \"sum \\\"u64\\\" words\""),
            "{json}"
        );
        assert!(json.contains("\"ours_s\": [0.002, 0.001, 0.003]"), "{json}");
        assert!(
            json.contains("\"ours_minflt\": 4096.5, \"base_minflt\": null,"),
            "{json}"
        );
        assert!(
            json.contains("{\"size\": 65536, \"modprobe_s\": 0.02, \"node_s\": 0.05,"),
            "{json}"
        );
        // Arrays: a comma after every object but the last.
        assert_eq!(json.matches("},\n").count(), 1, "{json}");
    }

    #[test]
    fn the_table_aligns_columns_and_names_the_verdicts() {
        let table = sample().table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("id              size    mymap"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("mapped-read     16 MiB  32.0 MiB/s"),
            "{table}"
        );
        assert!(lines[1].ends_with("1.000  >= 0.97  yes  0/0"), "{table}");
        assert!(
            lines[2].ends_with("0.100  <= 0.06  no   4096.5/null"),
            "{table}"
        );
        assert!(
            table.contains("size=64 KiB  20.000 ms  50.000 ms"),
            "{table}"
        );
    }

    #[test]
    fn sizes_and_durations_for_people() {
        assert_eq!(size_text(65536), "64 KiB");
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text(1000), "1000 B");
        assert_eq!(seconds_text(0.000812), "812 us");
        assert_eq!(seconds_text(0.0123), "12.300 ms");
        assert_eq!(seconds_text(1.25), "1.250 s");
    }
}
