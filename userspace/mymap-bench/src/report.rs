// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What a run measured, as a text table for people and one JSON document for
//! `cargo xtask bench`, between marker lines.

use std::fmt::Write as _;

use crate::{
    gpio::GpioReport,
    module::Device,
    ring_report::RingReport,
    stats::{
        median,
        mib_per_s,
        paired_ratio,
        Kind,
        Target, //
    },
};

/// The line before the JSON document.
pub const JSON_BEGIN: &str = "MYMAP-BENCH-JSON: BEGIN";
/// The line after it.
pub const JSON_END: &str = "MYMAP-BENCH-JSON: END";
/// The version of the JSON document's layout (2: a side per device, the peers;
/// 3: the `ring` measurements; 4: the `gpio` measurements, when run).
pub const SCHEMA: u32 = 4;

/// One side of a comparison: seconds and minor page faults per repetition.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Samples {
    pub s: Vec<f64>,
    pub faults: Vec<u64>,
}

impl Samples {
    pub fn median(&self) -> f64 {
        median(&self.s).unwrap_or(f64::NAN)
    }

    /// The median count of faults of one repetition.
    pub fn minflt(&self) -> f64 {
        median_count(&self.faults)
    }
}

/// A device's side of a comparison.
#[derive(Debug)]
pub struct DeviceSide {
    pub device: &'static Device,
    pub samples: Samples,
}

/// One measurement: each device and the baseline, timed in turn.
#[derive(Debug)]
pub struct Comparison {
    /// A stable name, e.g. `touch-write-16m`, for comparing runs.
    pub id: String,
    /// What is measured, in a few words (a table's row label).
    pub what: String,
    /// What each device's side does, and the baseline, in words.
    pub side: &'static str,
    pub base: &'static str,
    pub kind: Kind,
    /// The device buffer's size during the measurement.
    pub size: u64,
    /// Bytes each side moves per repetition.
    pub bytes: u64,
    pub baseline: Samples,
    /// mymap first, then the peers present.
    pub devices: Vec<DeviceSide>,
    pub target: Option<Target>,
}

impl Comparison {
    /// A device's ratio against the baseline, pair by pair.
    pub fn ratio(&self, side: &DeviceSide) -> f64 {
        paired_ratio(self.kind, &side.samples.s, &self.baseline.s).unwrap_or(f64::NAN)
    }

    /// mymap's side.
    pub fn mymap(&self) -> Option<&DeviceSide> {
        self.devices.iter().find(|d| d.device.id == "mymap")
    }

    /// The peer with the best ratio against the baseline (the lowest time ratio,
    /// the highest throughput ratio).
    pub fn best_peer(&self) -> Option<&DeviceSide> {
        let better = |a: f64, b: f64| match self.kind {
            Kind::Time => a < b,
            Kind::Throughput => a > b,
        };
        self.devices
            .iter()
            .filter(|d| d.device.id != "mymap" && self.ratio(d).is_finite())
            .fold(None, |best: Option<&DeviceSide>, d| match best {
                Some(b) if !better(self.ratio(d), self.ratio(b)) => Some(b),
                _ => Some(d),
            })
    }

    /// mymap against the best peer, pair by pair, in the comparison's kind.
    pub fn vs_best_peer(&self) -> Option<f64> {
        let (ours, peer) = (self.mymap()?, self.best_peer()?);
        paired_ratio(self.kind, &ours.samples.s, &peer.samples.s)
    }

    /// Whether mymap meets the target; `None` without a target or a peer to meet it against.
    pub fn met(&self) -> Option<bool> {
        let target = self.target?;
        let ratio = match target.against {
            crate::stats::Against::Baseline => self.ratio(self.mymap()?),
            crate::stats::Against::BestPeer => self.vs_best_peer()?,
        };
        Some(target.bound.met(ratio))
    }
}

/// Loading one device's module with one `size`, repeated.
#[derive(Debug)]
pub struct LoadSide {
    pub device: &'static Device,
    /// Wall time of `modprobe <module> size=N`.
    pub modprobe_s: Vec<f64>,
    /// From the start of `modprobe` until the node is there with group `mymap`.
    pub node_s: Vec<f64>,
}

/// The loads of every device's module with one `size`.
#[derive(Debug)]
pub struct Load {
    pub size: u64,
    pub devices: Vec<LoadSide>,
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    pub kernel: String,
    pub page_size: u64,
    pub reps: usize,
    /// `/proc/uptime` when the bench started.
    pub uptime_at_start_s: f64,
    /// mymap, then the peers measured.
    pub devices: Vec<&'static Device>,
    pub comparisons: Vec<Comparison>,
    pub loads: Vec<Load>,
    /// The ring measurements, unless they were left out.
    pub ring: Option<RingReport>,
    /// The GPIO producer's measurements (schema 4), unless left out.
    pub gpio: Option<GpioReport>,
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
    /// The table printed on the target: each device's median and, in
    /// parentheses, its ratio against the baseline.
    pub fn table(&self) -> String {
        let mut head = vec!["id".to_string(), "size".into(), "baseline".into()];
        head.extend(self.devices.iter().map(|d| d.id.to_string()));
        head.extend([
            "mymap/best".into(),
            "target".into(),
            "met".into(),
            "faults".into(),
        ]);
        let mut rows = vec![head];
        for c in &self.comparisons {
            let side = |s: f64| match c.kind {
                Kind::Throughput => format!("{:.1} MiB/s", mib_per_s(c.bytes, s)),
                Kind::Time => seconds_text(s),
            };
            let mut row = vec![c.id.clone(), size_text(c.size), side(c.baseline.median())];
            let mut faults = Vec::new();
            for d in &c.devices {
                row.push(format!("{} ({:.3})", side(d.samples.median()), c.ratio(d)));
                faults.push(number(d.samples.minflt(), 1));
            }
            faults.push(number(c.baseline.minflt(), 1));
            row.push(match (c.vs_best_peer(), c.best_peer()) {
                (Some(r), Some(p)) => format!("{r:.3} ({})", p.device.id),
                _ => String::new(),
            });
            row.push(c.target.map(Target::text).unwrap_or_default());
            row.push(match c.met() {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => String::new(),
            });
            row.push(faults.join("/"));
            rows.push(row);
        }
        let mut out = aligned(&rows);
        out.push('\n');
        let mut head = vec!["module load".to_string()];
        for d in &self.devices {
            head.push(format!("{} modprobe", d.id));
            head.push(format!("to {}", d.node));
        }
        let mut loads = vec![head];
        for l in &self.loads {
            let med = |v: &[f64]| median(v).map(seconds_text).unwrap_or_default();
            let mut row = vec![format!("size={}", size_text(l.size))];
            for d in &l.devices {
                row.push(med(&d.modprobe_s));
                row.push(med(&d.node_s));
            }
            loads.push(row);
        }
        out.push_str(&aligned(&loads));
        if let Some(ring) = &self.ring {
            out.push('\n');
            out.push_str(&ring.table());
        }
        if let Some(gpio) = &self.gpio {
            out.push('\n');
            out.push_str(&gpio.table());
        }
        out
    }

    /// The JSON document, an object per line, between the marker lines.
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
        out.push_str("  \"devices\": [\n");
        let devices: Vec<String> = self
            .devices
            .iter()
            .map(|d| {
                let role = if d.id == "mymap" { "driver" } else { "peer" };
                object(&[
                    ("id", string(d.id)),
                    ("module", string(d.module)),
                    ("node", string(d.node)),
                    ("label", string(d.label)),
                    ("role", string(role)),
                ])
            })
            .collect();
        list(&mut out, "    ", &devices);
        out.push_str("  ],\n  \"comparisons\": [\n");
        let comparisons: Vec<String> = self.comparisons.iter().map(comparison_json).collect();
        list(&mut out, "    ", &comparisons);
        out.push_str("  ],\n  \"module_load\": [\n");
        let loads: Vec<String> = self.loads.iter().map(load_json).collect();
        list(&mut out, "    ", &loads);
        out.push_str("  ],\n  \"ring\": ");
        match &self.ring {
            Some(ring) => out.push_str(&ring.json()),
            None => out.push_str("null"),
        }
        if let Some(gpio) = &self.gpio {
            out.push_str(",\n  \"gpio\": ");
            out.push_str(&gpio.json());
        }
        out.push_str("\n}\n");
        out
    }
}

/// One comparison: its fields on a line, then the baseline, then a line per device.
fn comparison_json(c: &Comparison) -> String {
    let samples = |s: &Samples| {
        [
            ("median_s", number(s.median(), 9)),
            ("mib_s", number(mib_per_s(c.bytes, s.median()), 1)),
            ("minflt", number(s.minflt(), 1)),
            ("s", numbers(&s.s, 9)),
        ]
    };
    let target = c.target.map(|t| {
        object(&[
            ("against", string(t.against_text())),
            ("bound", string(&t.bound.text())),
            ("text", string(&t.text())),
        ])
    });
    let head = object(&[
        ("id", string(&c.id)),
        ("what", string(&c.what)),
        ("side", string(c.side)),
        ("base", string(c.base)),
        ("size", c.size.to_string()),
        ("bytes", c.bytes.to_string()),
        ("ratio_is", string(c.kind.meaning())),
        ("target", target.unwrap_or("null".into())),
        (
            "met",
            c.met().map(|m| m.to_string()).unwrap_or("null".into()),
        ),
        (
            "best_peer",
            c.best_peer()
                .map(|p| string(p.device.id))
                .unwrap_or("null".into()),
        ),
        (
            "vs_best_peer",
            number(c.vs_best_peer().unwrap_or(f64::NAN), 4),
        ),
    ]);
    let baseline = object(&samples(&c.baseline));
    let devices: Vec<String> = c
        .devices
        .iter()
        .map(|d| {
            let mut fields = vec![
                ("device", string(d.device.id)),
                ("ratio", number(c.ratio(d), 4)),
            ];
            fields.extend(samples(&d.samples));
            object(&fields)
        })
        .collect();
    // `{...}` without its closing brace, then the nested parts on their own lines.
    let mut out = head[..head.len() - 1].to_string();
    let _ = write!(
        out,
        ",\n      \"baseline\": {baseline},\n      \"devices\": [\n"
    );
    let mut inner = String::new();
    list(&mut inner, "        ", &devices);
    out.push_str(&inner);
    out.push_str("      ]}");
    out
}

/// One size's loads: a line per device.
fn load_json(l: &Load) -> String {
    let devices: Vec<String> = l
        .devices
        .iter()
        .map(|d| {
            let med = |v: &[f64]| number(median(v).unwrap_or(f64::NAN), 6);
            object(&[
                ("device", string(d.device.id)),
                ("modprobe_s", med(&d.modprobe_s)),
                ("node_s", med(&d.node_s)),
                ("modprobe_samples_s", numbers(&d.modprobe_s, 6)),
                ("node_samples_s", numbers(&d.node_s, 6)),
            ])
        })
        .collect();
    let mut out = format!("{{\"size\": {}, \"devices\": [\n", l.size);
    list(&mut out, "      ", &devices);
    out.push_str("    ]}");
    out
}

/// Items of an array, one per line after `indent`, commas between.
fn list(out: &mut String, indent: &str, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        let comma = if i + 1 < items.len() { "," } else { "" };
        let _ = writeln!(out, "{indent}{item}{comma}");
    }
}

/// The median of counts, as a number for JSON (`NaN`, so `null`, when empty).
fn median_count(counts: &[u64]) -> f64 {
    let counts: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    median(&counts).unwrap_or(f64::NAN)
}

/// Rows padded to their columns' widths, two spaces apart.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An object on one line.
pub(crate) fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", string(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
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

pub(crate) fn numbers(xs: &[f64], decimals: usize) -> String {
    let items: Vec<String> = xs.iter().map(|&x| number(x, decimals)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{
        module::{
            MYMAP,
            PEERS, //
        },
        stats::{
            Against,
            Bound, //
        },
    };

    fn samples(s: &[f64], faults: &[u64]) -> Samples {
        Samples {
            s: s.to_vec(),
            faults: faults.to_vec(),
        }
    }

    fn sample() -> Report {
        Report {
            kernel: "7.3.4".into(),
            page_size: 4096,
            reps: 3,
            uptime_at_start_s: 12.5,
            devices: vec![&MYMAP, &PEERS[0], &PEERS[1]],
            comparisons: vec![
                Comparison {
                    id: "mapped-read".into(),
                    what: "sum \"u64\" words".into(),
                    side: "mapping",
                    base: "anonymous",
                    kind: Kind::Throughput,
                    size: 16 << 20,
                    bytes: 16 << 20,
                    baseline: samples(&[0.49, 0.5, 0.51], &[0, 1, 0]),
                    devices: vec![
                        DeviceSide {
                            device: &MYMAP,
                            samples: samples(&[0.5, 0.5, 0.5], &[0, 0, 0]),
                        },
                        DeviceSide {
                            device: &PEERS[0],
                            samples: samples(&[0.25, 0.25, 0.25], &[0, 0, 0]),
                        },
                        DeviceSide {
                            device: &PEERS[1],
                            samples: samples(&[1.0, 1.0, 1.0], &[0, 0, 0]),
                        },
                    ],
                    target: Some(Target {
                        against: Against::Baseline,
                        bound: Bound::AtLeast(0.97),
                    }),
                },
                Comparison {
                    id: "touch-read-16m".into(),
                    what: "mmap + first read".into(),
                    side: "mymap",
                    base: "MAP_POPULATE",
                    kind: Kind::Time,
                    size: 16 << 20,
                    bytes: 16 << 20,
                    baseline: samples(&[0.02, 0.02, 0.02], &[]),
                    devices: vec![
                        DeviceSide {
                            device: &MYMAP,
                            samples: samples(&[0.002, 0.001, 0.003], &[4096, 4097]),
                        },
                        DeviceSide {
                            device: &PEERS[0],
                            samples: samples(&[0.004, 0.004, 0.004], &[0, 0, 0]),
                        },
                        DeviceSide {
                            device: &PEERS[1],
                            samples: samples(&[0.001, 0.001, 0.001], &[4096, 4096, 4096]),
                        },
                    ],
                    target: Some(Target {
                        against: Against::BestPeer,
                        bound: Bound::AtMost(1.0),
                    }),
                },
            ],
            loads: vec![Load {
                size: 65536,
                devices: vec![
                    LoadSide {
                        device: &MYMAP,
                        modprobe_s: vec![0.01, 0.03],
                        node_s: vec![0.05],
                    },
                    LoadSide {
                        device: &PEERS[0],
                        modprobe_s: vec![0.02],
                        node_s: vec![0.04],
                    },
                ],
            }],
            ring: Some(crate::ring_report::tests::sample()),
            gpio: None,
        }
    }

    #[test]
    fn the_best_peer_and_mymap_against_it() {
        let r = sample();
        // Throughput: pfn is twice as fast as mymap, vfault half as fast.
        let c = &r.comparisons[0];
        assert_eq!(c.best_peer().unwrap().device.id, "pfn");
        assert_eq!(c.vs_best_peer(), Some(0.5));
        assert_eq!(c.met(), Some(true), "0.98, 1, 1.02 against the baseline");
        // Time: vfault takes 0.001 s, mymap 0.001 to 0.003 s: 2 times as long.
        let c = &r.comparisons[1];
        assert_eq!(c.best_peer().unwrap().device.id, "vfault");
        assert_eq!(c.vs_best_peer(), Some(2.0));
        assert_eq!(c.met(), Some(false));
        // Without peers there is no best peer and no verdict on a peer target.
        let mut alone = sample();
        alone.comparisons[1].devices.truncate(1);
        assert!(alone.comparisons[1].best_peer().is_none());
        assert_eq!(alone.comparisons[1].met(), None);
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
    fn the_document_carries_devices_ratios_targets_and_verdicts() {
        let json = sample().json();
        assert!(json.starts_with("{\n  \"schema\": 4,\n"), "{json}");
        assert!(
            json.contains("  ],\n  \"ring\": {\n    \"node\": \"/dev/mymap-ring0\""),
            "{json}"
        );
        assert!(json.ends_with("    ]\n  }\n}\n"), "{json}");
        let mut alone = sample();
        alone.ring = None;
        assert!(alone.json().ends_with("  ],\n  \"ring\": null\n}\n"));
        assert!(
            json.contains("    {\"id\": \"pfn\", \"module\": \"mymap_pfn\", \"node\": \"/dev/mymap-pfn\", \"label\": \"remap_pfn_range\", \"role\": \"peer\"},\n"),
            "{json}"
        );
        // Throughput: base/ours pair by pair = 0.98, 1.0, 1.02.
        assert!(json.contains("{\"id\": \"mapped-read\""), "{json}");
        assert!(
            json.contains("\"target\": {\"against\": \"baseline\", \"bound\": \">= 0.97\", \"text\": \">= 0.97\"}, \"met\": true, \"best_peer\": \"pfn\", \"vs_best_peer\": 0.5,\n"),
            "{json}"
        );
        assert!(
            json.contains("        {\"device\": \"mymap\", \"ratio\": 1, \"median_s\": 0.5, \"mib_s\": 32, \"minflt\": 0, \"s\": [0.5, 0.5, 0.5]},\n"),
            "{json}"
        );
        assert!(
            json.contains("\"text\": \"<= 1 x best peer\"}, \"met\": false, \"best_peer\": \"vfault\", \"vs_best_peer\": 2,"),
            "{json}"
        );
        assert!(
            json.contains("      \"baseline\": {\"median_s\": 0.02, \"mib_s\": 800, \"minflt\": null, \"s\": [0.02, 0.02, 0.02]},\n"),
            "{json}"
        );
        assert!(
            json.contains("\"minflt\": 4096.5, \"s\": [0.002, 0.001, 0.003]}"),
            "{json}"
        );
        assert!(
            json.contains("{\"device\": \"mymap\", \"modprobe_s\": 0.02, \"node_s\": 0.05,"),
            "{json}"
        );
        assert!(
            json.contains("\"what\": \"sum \\\"u64\\\" words\""),
            "{json}"
        );
        assert_balanced(&json);
    }

    /// The document is JSON: braces and brackets balance outside strings, and
    /// no comma comes before a closing one.
    fn assert_balanced(json: &str) {
        let mut depth = 0i32;
        let mut in_string = false;
        let mut escaped = false;
        let mut last = ' ';
        for c in json.chars() {
            if in_string {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => escaped = false,
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' | '[' => depth += 1,
                '}' | ']' => {
                    assert_ne!(last, ',', "a comma before {c}: {json}");
                    depth -= 1;
                }
                _ => {}
            }
            if !c.is_whitespace() {
                last = c;
            }
        }
        assert_eq!(depth, 0, "{json}");
    }

    #[test]
    fn the_table_has_a_column_per_device_and_the_best_peer() {
        let table = sample().table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("id              size    baseline    mymap "),
            "{table}"
        );
        assert!(lines[0].contains("pfn"), "{table}");
        assert!(
            lines[1].contains("32.0 MiB/s (1.000)  64.0 MiB/s (2.000)"),
            "{table}"
        );
        assert!(
            lines[1].ends_with("0.500 (pfn)     >= 0.97           yes  0/0/0/0"),
            "{table}"
        );
        assert!(
            lines[2].ends_with("2.000 (vfault)  <= 1 x best peer  no   4096.5/0/4096/null"),
            "{table}"
        );
        assert!(
            table.contains("size=64 KiB  20.000 ms       50.000 ms      20.000 ms     40.000 ms"),
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
