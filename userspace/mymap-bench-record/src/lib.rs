// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The bench record's schema, defined once for both of its sides:
//! `mymap-bench` builds a [`TargetReport`] on the target and prints it between
//! [`JSON_BEGIN`] and [`JSON_END`]; `cargo xtask bench` reads it back from the
//! console ([`console`] is both ends of that), adds the host's facts to make a [`Record`], and commits that as
//! `bench/<board>.json`, which later runs compare with. `mymap-bench`'s README
//! describes the fields; [`layout`] is the one text layout both sides write.

use serde::{
    Deserialize,
    Serialize, //
};

pub mod console;
pub mod gpio;
pub mod layout;
pub mod ring;
pub mod tx;

pub use console::{
    JSON_BEGIN,
    JSON_END, //
};
/// What mymap-bench writes to the kernel log when it starts: the console
/// shows it with its printk time.
pub const STARTED: &str = "mymap-bench: started";
/// The version of the target's document (2: a side per device, the peers; 3:
/// the `ring` measurements; 4: the `gpio` measurements, when run; 5: the `tx`
/// measurements, when run). Committed records of schema 2 to 4 still read,
/// without a ring, GPIO or tx figures.
pub const SCHEMA: u32 = 5;

/// `x` to at most `decimals` decimals, the precision the record keeps of a
/// figure; `None` for what JSON cannot hold (a ratio over no samples).
pub fn rounded(x: f64, decimals: usize) -> Option<f64> {
    if !x.is_finite() {
        return None;
    }
    // Through the decimal text, so that the record's number is the decimal one;
    // `+ 0.0` turns a rounded `-0` into `0`.
    format!("{x:.decimals$}")
        .parse::<f64>()
        .ok()
        .map(|x| x + 0.0)
}

/// What `mymap-bench` measured in one boot.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TargetReport {
    pub schema: u32,
    pub kernel: String,
    pub page_size: u64,
    pub reps: u32,
    /// `/proc/uptime` when the bench started.
    pub uptime_at_start_s: f64,
    /// mymap first, then the reference C drivers measured.
    pub devices: Vec<DeviceInfo>,
    pub comparisons: Vec<Comparison>,
    pub module_load: Vec<Load>,
    /// The ring measurements (schema 3); absent from older records, `null`
    /// when left out.
    #[serde(default)]
    pub ring: Option<ring::Ring>,
    /// The GPIO producer's measurements (schema 4); absent from older records
    /// and when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpio: Option<gpio::Gpio>,
    /// The tx ring's measurements (schema 5): the GPIO player's jitter and the
    /// commands accepted per second; absent from older records and when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<tx::Tx>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// `mymap`, `pfn`, `vfault`: the name sides carry.
    pub id: String,
    pub module: String,
    pub node: String,
    /// How tables name it: `mymap`, `remap_pfn_range`, `vmalloc + fault`.
    pub label: String,
    /// `driver` (mymap) or `peer` (a reference C driver).
    pub role: String,
}

/// One measurement: each device and the baseline, timed in turn.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Comparison {
    /// A stable name, e.g. `touch-write-16m`, for comparing runs.
    pub id: String,
    pub what: String,
    /// What each device's side does, and the baseline.
    pub side: String,
    pub base: String,
    /// The device buffer's size during the measurement.
    pub size: u64,
    /// Bytes each side moves per repetition.
    pub bytes: u64,
    /// `time ratio: ...` or `throughput ratio: ...`.
    pub ratio_is: String,
    pub target: Option<Target>,
    /// `None` without a target, or without a peer to meet it against.
    pub met: Option<bool>,
    /// The peer with the best ratio against the baseline.
    pub best_peer: Option<String>,
    /// mymap against that peer, pair by pair, in the kind of `ratio_is`.
    pub vs_best_peer: Option<f64>,
    pub baseline: Samples,
    pub devices: Vec<DeviceSide>,
}

impl Comparison {
    /// Whether the ratios are of throughput (higher is better) rather than of time.
    pub fn is_throughput(&self) -> bool {
        self.ratio_is.starts_with("throughput")
    }

    pub fn side(&self, device: &str) -> Option<&DeviceSide> {
        self.devices.iter().find(|d| d.device == device)
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Target {
    /// `baseline` (a bound on mymap's ratio) or `best peer` (on `vs_best_peer`).
    pub against: String,
    /// `<= 1`, `>= 0.97`.
    pub bound: String,
    pub text: String,
}

/// The baseline's side of a comparison. The medians are `None` over no samples.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Samples {
    pub median_s: Option<f64>,
    pub mib_s: Option<f64>,
    /// Median minor page faults per repetition.
    pub minflt: Option<f64>,
    /// Seconds, repetition by repetition.
    pub s: Vec<f64>,
}

/// A device's side of a comparison.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeviceSide {
    pub device: String,
    /// Against the baseline, in the kind of `ratio_is`.
    pub ratio: Option<f64>,
    #[serde(flatten)]
    pub samples: Samples,
}

/// The loads of every device's module with one `size`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Load {
    pub size: u64,
    pub devices: Vec<LoadSide>,
}

/// Loading one device's module with one `size`, repeated: medians, then samples.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LoadSide {
    pub device: String,
    /// Wall time of `modprobe <module> size=N`.
    pub modprobe_s: Option<f64>,
    /// From the start of `modprobe` until the node is there with group `mymap`.
    pub node_s: Option<f64>,
    pub modprobe_samples_s: Vec<f64>,
    pub node_samples_s: Vec<f64>,
}

/// Median, 99th percentile and maximum of a set of nanosecond figures.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub n: u64,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Summary {
    /// The summary of `values` (nearest-rank percentiles); all zero when empty.
    pub fn of(values: &[u64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let Some(&max_ns) = sorted.last() else {
            return Summary::default();
        };
        let rank = |p: f64| {
            let k = (p * sorted.len() as f64).ceil() as usize;
            sorted[k.clamp(1, sorted.len()) - 1]
        };
        Summary {
            n: sorted.len() as u64,
            median_ns: rank(0.5),
            p99_ns: rank(0.99),
            max_ns,
        }
    }
}

/// A ratio's figures after what it divides (the ring's and the GPIO
/// producer's ratios): reported, never enforced.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The median of the rounds' ratios; `None` when no round has one.
    pub ratio: Option<f64>,
    /// `>= 10`, `<= 1`.
    pub target: Option<String>,
    /// `None` without a target or a ratio.
    pub met: Option<bool>,
    /// Round by round; `None` where a round's ratio is undefined.
    pub rounds: Vec<Option<f64>>,
}

/// A reference driver's module file in the bench image.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PeerModule {
    pub module: String,
    pub bytes: u64,
}

/// `bench/<board>.json`: the host's facts, then the target's document.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Record {
    pub board: String,
    pub description: String,
    /// Always true here: QEMU without hardware virtualisation.
    pub emulated: bool,
    /// QEMU's accelerator: `tcg`, as the xtask never passes `-accel`.
    pub accelerator: String,
    pub host_cpu: String,
    /// The host's load average over the last minute as the board booted: other
    /// work on the host slows the emulated board, unevenly.
    #[serde(default)]
    pub host_load: Option<f64>,
    pub kernel_release: String,
    pub kernel_source: String,
    /// `git describe`-like: the commit measured, `+dirty` with local changes.
    pub commit: String,
    /// The printk time of the driver's load line at boot: `/dev/mymap` is registered.
    pub boot_to_device_s: Option<f64>,
    /// The printk time of mymap-bench's start (after init, udev and the module).
    pub boot_to_bench_s: Option<f64>,
    pub mymap_ko_bytes: u64,
    pub mymap_read_bytes: u64,
    /// The reference C drivers added to the bench image (bench/peers/).
    #[serde(default)]
    pub peer_modules: Vec<PeerModule>,
    pub target: TargetReport,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_their_decimals_and_no_nan() {
        assert_eq!(rounded(0.123456, 4), Some(0.1235));
        assert_eq!(rounded(2.0, 4), Some(2.0));
        assert_eq!(rounded(1e-7, 9), Some(1e-7));
        assert_eq!(rounded(-0.00001, 3).map(f64::to_bits), Some(0f64.to_bits()));
        assert_eq!(rounded(f64::NAN, 3), None);
        assert_eq!(rounded(f64::INFINITY, 3), None);
    }

    #[test]
    fn summaries_use_nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=200).collect();
        let s = Summary::of(&v);
        assert_eq!((s.n, s.median_ns, s.p99_ns, s.max_ns), (200, 100, 198, 200));
        assert_eq!(Summary::of(&[7]).p99_ns, 7);
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    /// The committed records read into these types and write back to the
    /// same text: the schema holds every field they carry, and the layout is
    /// theirs.
    #[test]
    fn committed_records_read_and_write_back_unchanged() {
        for text in [
            include_str!("../../../bench/raspberrypi4-64.json"),
            include_str!("../../../bench/qemu-aarch64-virt.json"),
            include_str!("../../../bench/raspberrypi4.json"),
        ] {
            let record: Record = serde_json::from_str(text).unwrap();
            assert_eq!(layout::to_string(&record).unwrap(), text);
        }
    }

    #[test]
    fn a_device_side_is_flat_in_the_document() {
        let side = DeviceSide {
            device: "mymap".into(),
            ratio: Some(0.99),
            samples: Samples {
                median_s: Some(0.04),
                mib_s: None,
                minflt: Some(0.0),
                s: vec![0.04],
            },
        };
        let text = serde_json::to_string(&side).unwrap();
        assert_eq!(
            text,
            r#"{"device":"mymap","ratio":0.99,"median_s":0.04,"mib_s":null,"minflt":0.0,"s":[0.04]}"#
        );
        assert_eq!(serde_json::from_str::<DeviceSide>(&text).unwrap(), side);
    }
}
