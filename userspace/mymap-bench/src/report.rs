// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What a run measured, as a text table for people and one JSON document for
//! `cargo xtask bench`, between marker lines: the record of the crate
//! `mymap-bench-record`, which the xtask reads with the same types.

use std::fmt::Write as _;

use mymap_bench_record::{
    self as record,
    console,
    rounded,
    TargetReport,
    SCHEMA, //
};

use crate::{
    gpio::GpioReport,
    module::Device,
    ring_report::{
        number,
        RingReport, //
    },
    stats::{
        median,
        mib_per_s,
        paired_ratio,
        Kind,
        Target, //
    },
    tx::TxReport,
};

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
    /// The tx ring's measurements (schema 5), unless left out.
    pub tx: Option<TxReport>,
}

/// `64 KiB`, `16 MiB`, `1000 B`.
pub fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
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
        if let Some(tx) = &self.tx {
            out.push('\n');
            out.push_str(&tx.table());
        }
        out
    }

    /// The JSON document between its marker lines, in the record's layout,
    /// for `cargo xtask bench` to find on the console.
    pub fn document(&self) -> String {
        console::document(&self.record()).expect("a record serialises")
    }

    /// The target's part of the record: medians, ratios and verdicts with the
    /// samples they come from.
    pub fn record(&self) -> TargetReport {
        TargetReport {
            schema: SCHEMA,
            kernel: self.kernel.clone(),
            page_size: self.page_size,
            reps: self.reps as u32,
            uptime_at_start_s: rounded(self.uptime_at_start_s, 3).unwrap_or(f64::NAN),
            devices: self
                .devices
                .iter()
                .map(|d| record::DeviceInfo {
                    id: d.id.into(),
                    module: d.module.into(),
                    node: d.node.into(),
                    label: d.label.into(),
                    role: if d.id == "mymap" { "driver" } else { "peer" }.into(),
                })
                .collect(),
            comparisons: self.comparisons.iter().map(Comparison::record).collect(),
            module_load: self.loads.iter().map(Load::record).collect(),
            ring: self.ring.as_ref().map(RingReport::record),
            gpio: self.gpio.as_ref().map(GpioReport::record),
            tx: self.tx.as_ref().map(TxReport::record),
        }
    }
}

impl Comparison {
    fn samples_record(&self, s: &Samples) -> record::Samples {
        let median = s.median();
        record::Samples {
            median_s: rounded(median, 9),
            mib_s: rounded(mib_per_s(self.bytes, median), 1),
            minflt: rounded(s.minflt(), 1),
            s: s.s.iter().map(|&x| rounded(x, 9).unwrap_or(x)).collect(),
        }
    }

    fn record(&self) -> record::Comparison {
        record::Comparison {
            id: self.id.clone(),
            what: self.what.clone(),
            side: self.side.into(),
            base: self.base.into(),
            size: self.size,
            bytes: self.bytes,
            ratio_is: self.kind.meaning().into(),
            target: self.target.map(|t| record::Target {
                against: t.against_text().into(),
                bound: t.bound.text(),
                text: t.text(),
            }),
            met: self.met(),
            best_peer: self.best_peer().map(|p| p.device.id.into()),
            vs_best_peer: self.vs_best_peer().and_then(|r| rounded(r, 4)),
            baseline: self.samples_record(&self.baseline),
            devices: self
                .devices
                .iter()
                .map(|d| record::DeviceSide {
                    device: d.device.id.into(),
                    ratio: rounded(self.ratio(d), 4),
                    samples: self.samples_record(&d.samples),
                })
                .collect(),
        }
    }
}

impl Load {
    fn record(&self) -> record::Load {
        let median = |v: &[f64]| median(v).and_then(|m| rounded(m, 6));
        let samples = |v: &[f64]| v.iter().map(|&x| rounded(x, 6).unwrap_or(x)).collect();
        record::Load {
            size: self.size,
            devices: self
                .devices
                .iter()
                .map(|d| record::LoadSide {
                    device: d.device.id.into(),
                    modprobe_s: median(&d.modprobe_s),
                    node_s: median(&d.node_s),
                    modprobe_samples_s: samples(&d.modprobe_s),
                    node_samples_s: samples(&d.node_s),
                })
                .collect(),
        }
    }
}

/// The median of counts (`NaN`, so `null`, when empty).
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
            tx: None,
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
    fn the_document_carries_devices_ratios_targets_and_verdicts() {
        let json = sample().document();
        assert!(
            json.starts_with("MYMAP-BENCH-JSON: BEGIN\n{\n  \"schema\": 5,\n"),
            "{json}"
        );
        // Samples stay on one line; the document ends with the ring.
        assert!(json.contains("\"s\": [0.5, 0.5, 0.5]"), "{json}");
        assert!(
            json.ends_with("    ]\n  }\n}\nMYMAP-BENCH-JSON: END\n"),
            "{json}"
        );
        // The document is the record the xtask reads, escapes and all, on a
        // console as main() prints it, with a kernel line in its middle.
        let at = json.find("  \"comparisons\"").unwrap();
        let console = format!(
            "{}\n{}[   40.100000] mymap: 1 device(s) of 65536 bytes: /dev/mymap\n{}",
            sample().table(),
            &json[..at],
            &json[at..]
        );
        let r = console::extract(&console).unwrap();
        assert_eq!(r, sample().record());
        assert_eq!(r.schema, SCHEMA);
        assert_eq!(r.comparisons[0].what, "sum \"u64\" words");
        assert_eq!(
            r.devices[1],
            record::DeviceInfo {
                id: "pfn".into(),
                module: "mymap_pfn".into(),
                node: "/dev/mymap-pfn".into(),
                label: "remap_pfn_range".into(),
                role: "peer".into(),
            }
        );
        assert_eq!(r.devices[0].role, "driver");
        // Throughput: base/ours pair by pair = 0.98, 1.0, 1.02.
        let c = &r.comparisons[0];
        assert_eq!(c.id, "mapped-read");
        assert_eq!(
            c.target,
            Some(record::Target {
                against: "baseline".into(),
                bound: ">= 0.97".into(),
                text: ">= 0.97".into(),
            })
        );
        assert_eq!(
            (c.met, c.best_peer.as_deref(), c.vs_best_peer),
            (Some(true), Some("pfn"), Some(0.5))
        );
        let mymap = c.side("mymap").unwrap();
        assert_eq!(mymap.ratio, Some(1.0));
        assert_eq!(
            mymap.samples,
            record::Samples {
                median_s: Some(0.5),
                mib_s: Some(32.0),
                minflt: Some(0.0),
                s: vec![0.5, 0.5, 0.5],
            }
        );
        let c = &r.comparisons[1];
        assert_eq!(c.target.as_ref().unwrap().text, "<= 1 x best peer");
        assert_eq!(
            (c.met, c.best_peer.as_deref(), c.vs_best_peer),
            (Some(false), Some("vfault"), Some(2.0))
        );
        assert_eq!(
            c.baseline,
            record::Samples {
                median_s: Some(0.02),
                mib_s: Some(800.0),
                minflt: None,
                s: vec![0.02, 0.02, 0.02],
            }
        );
        let mymap = &c.side("mymap").unwrap().samples;
        assert_eq!(
            (mymap.minflt, mymap.s.clone()),
            (Some(4096.5), vec![0.002, 0.001, 0.003])
        );
        let load = &r.module_load[0].devices[0];
        assert_eq!(
            (load.device.as_str(), load.modprobe_s, load.node_s),
            ("mymap", Some(0.02), Some(0.05))
        );
        assert!(r.ring.is_some());
        assert_eq!(r.gpio, None);
        let mut alone = sample();
        alone.ring = None;
        assert!(alone
            .document()
            .ends_with("  ],\n  \"ring\": null\n}\nMYMAP-BENCH-JSON: END\n"));
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
