//! The `gpio` part of a bench record (schema 4): the GPIO producer's latency
//! and edge rates against the GPIO character device, on a gpio-sim chip (see
//! mymap-bench's gpio.rs and README), and its tables.

use std::fmt::Write as _;

use serde::{
    Deserialize,
    Serialize, //
};

use super::Record;

/// The GPIO measurements of one boot.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Gpio {
    pub chip: String,
    pub ring_line: u32,
    pub cdev_line: u32,
    /// The kernel's CONFIG_HZ; 0 when unknown (no tick target then).
    pub tick_hz: u32,
    pub edges_per_round: u32,
    /// The pause before each latency edge.
    pub gap_ns: u64,
    pub rate_round_s: f64,
    pub ring_data_size: u64,
    /// The character device's kernel event buffer, in events.
    pub cdev_event_buffer: u32,
    /// The sysfs write's duration: the injection window.
    pub write: Summary,
    pub latency: Vec<LatencySide>,
    pub rates: Vec<RateSide>,
    pub ratios: Vec<Ratio>,
}

/// Median, p99 and maximum of a set of nanosecond figures.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Summary {
    pub n: u64,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

/// One side's latencies from the injection (the time read just before the
/// sysfs write): its kernel timestamp, and its consumer's wakeup.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencySide {
    pub id: String,
    pub label: String,
    pub stamp: Summary,
    /// Timestamps before the write started (counted as 0 in `stamp`).
    pub stamp_before_write: u64,
    /// The fraction of timestamps inside the write (the injection window).
    pub stamp_in_window: Option<f64>,
    pub wake: Summary,
    pub rounds: Vec<LatencyRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencyRound {
    pub stamp: Summary,
    pub wake: Summary,
    pub in_window: u64,
}

/// One side written as fast as possible, round by round.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RateSide {
    pub id: String,
    pub label: String,
    pub writes_per_s: Option<f64>,
    pub interrupts_per_s: Option<f64>,
    pub delivered_per_s: Option<f64>,
    /// Over every round.
    pub dropped: u64,
    pub rounds: Vec<RateRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RateRound {
    pub elapsed_s: f64,
    pub writes: u64,
    pub interrupts: u64,
    pub delivered: u64,
    pub dropped: u64,
}

/// A ratio with its target.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Ratio {
    pub id: String,
    pub what: String,
    pub ratio: Option<f64>,
    pub target: Option<String>,
    pub met: Option<bool>,
    pub rounds: Vec<Option<f64>>,
}

/// `12.3 µs`, `1.20 ms`.
fn ns_text(ns: u64) -> String {
    match ns {
        n if n >= 1_000_000 => format!("{:.2} ms", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} µs", n as f64 / 1e3),
        n => format!("{n} ns"),
    }
}

fn summary_text(s: &Summary) -> String {
    format!(
        "{} / {} / {}",
        ns_text(s.median_ns),
        ns_text(s.p99_ns),
        ns_text(s.max_ns)
    )
}

fn rate_text(per_s: Option<f64>) -> String {
    match per_s {
        Some(r) if r >= 1e3 => format!("{:.1} k/s", r / 1e3),
        Some(r) => format!("{r:.0}/s"),
        None => "-".into(),
    }
}

fn verdict(met: Option<bool>, ratio: Option<f64>) -> String {
    match (met, ratio) {
        (Some(true), Some(x)) => format!("met ({x:.3})"),
        (Some(false), Some(x)) => format!("**missed** ({x:.3})"),
        _ => "n/a".into(),
    }
}

/// The GPIO tables of one record.
pub fn markdown(g: &Gpio) -> String {
    let mut out = String::new();
    let tick = if g.tick_hz > 0 {
        format!(
            "; the tick (CONFIG_HZ={}) is {}",
            g.tick_hz,
            ns_text(1_000_000_000 / u64::from(g.tick_hz))
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "GPIO edge latency: gpio-sim chip `{}`, line {} into `/dev/mymap-ring0` (`gpio=`), \
         line {} through the GPIO character device; edges one at a time, {} per side per \
         round, alternating between the sides, {} apart. Times from the injection (CLOCK_MONOTONIC \
         read just before the sysfs write, which took {} median, {} p99){tick}.\n",
        g.chip,
        g.ring_line,
        g.cdev_line,
        g.edges_per_round,
        ns_text(g.gap_ns),
        ns_text(g.write.median_ns),
        ns_text(g.write.p99_ns),
    );
    let _ = writeln!(
        out,
        "| side | edges | kernel timestamp − injection: median / p99 / max | inside the write | consumer wakeup − injection: median / p99 / max |"
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(5));
    for s in &g.latency {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            s.label,
            s.wake.n,
            summary_text(&s.stamp),
            s.stamp_in_window
                .map(|f| format!("{:.1} %", 100.0 * f))
                .unwrap_or_else(|| "-".into()),
            summary_text(&s.wake)
        );
    }
    let _ = writeln!(
        out,
        "\nGPIO edge rate: one side at a time, the line's `pull` written as fast as possible \
         for {} s per round with the consumer draining, medians of the rounds. gpio-sim \
         raises its interrupts from an irq_work, which merges the writes made before it runs: \
         the kernel's interrupt count (/proc/interrupts) is what a producer sees. \
         \"Not delivered\" is interrupts minus records or events received, over all rounds; \
         \"dropped\" the part the side counted (the ring's counter; gaps in the edge events' \
         line sequence numbers). The character device's threaded handler makes one event of the \
         interrupts that arrive before it runs, without a gap in the sequence numbers.\n",
        g.rate_round_s
    );
    let _ = writeln!(
        out,
        "| side | writes | interrupts | delivered | not delivered | dropped (counted) |"
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(6));
    for s in &g.rates {
        let missing: i64 = s
            .rounds
            .iter()
            .map(|r| r.interrupts as i64 - r.delivered as i64)
            .sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {missing} | {} |",
            s.label,
            rate_text(s.writes_per_s),
            rate_text(s.interrupts_per_s),
            rate_text(s.delivered_per_s),
            s.dropped
        );
    }
    let _ = writeln!(out, "\n| GPIO ratio | median | target | met |");
    let _ = writeln!(out, "|{}", " --- |".repeat(4));
    for r in &g.ratios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            r.what,
            r.ratio.map(|x| format!("{x:.3}")).unwrap_or("-".into()),
            r.target.as_deref().unwrap_or(""),
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
    out
}

/// The GPIO targets as rows of the targets table, one column per board.
pub fn targets_rows(records: &[Record]) -> String {
    let mut rows: Vec<&Ratio> = Vec::new();
    for r in records {
        let Some(gpio) = &r.target.gpio else {
            continue;
        };
        for ratio in gpio.ratios.iter().filter(|t| t.target.is_some()) {
            if !rows.iter().any(|t| t.id == ratio.id) {
                rows.push(ratio);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut cells = vec![format!(
            "{}: {}",
            row.what,
            row.target.as_deref().unwrap_or("")
        )];
        for r in records {
            let ratio = r
                .target
                .gpio
                .as_ref()
                .and_then(|g| g.ratios.iter().find(|t| t.id == row.id));
            cells.push(
                ratio
                    .map(|t| verdict(t.met, t.ratio).replace("**", ""))
                    .unwrap_or_else(|| "n/a".into()),
            );
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// `CONFIG_HZ` of a kernel `.config` text.
pub fn config_hz(config: &str) -> Option<u32> {
    config
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ="))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `gpio` object as mymap-bench prints it.
    pub(crate) const GPIO_JSON: &str = r#"{
    "chip": "mymap-bench-sim",
    "ring_line": 0,
    "cdev_line": 1,
    "tick_hz": 250,
    "edges_per_round": 2,
    "gap_ns": 2000000,
    "rate_round_s": 1,
    "ring_data_size": 262144,
    "cdev_event_buffer": 16,
    "write": {"n": 4, "median_ns": 30000, "p99_ns": 50000, "max_ns": 50000},
    "latency": [
      {"id": "ring", "label": "mymap ring (GPIO producer, epoll)", "stamp": {"n": 2, "median_ns": 20000, "p99_ns": 25000, "max_ns": 25000}, "stamp_before_write": 0, "stamp_in_window": 1, "wake": {"n": 2, "median_ns": 90000, "p99_ns": 120000, "max_ns": 120000}, "rounds": [{"stamp": {"n": 2, "median_ns": 20000, "p99_ns": 25000, "max_ns": 25000}, "wake": {"n": 2, "median_ns": 90000, "p99_ns": 120000, "max_ns": 120000}, "in_window": 2}]},
      {"id": "cdev", "label": "GPIO character device (edge events, epoll)", "stamp": {"n": 2, "median_ns": 21000, "p99_ns": 26000, "max_ns": 26000}, "stamp_before_write": 0, "stamp_in_window": 0.5, "wake": {"n": 2, "median_ns": 150000, "p99_ns": 200000, "max_ns": 200000}, "rounds": [{"stamp": {"n": 2, "median_ns": 21000, "p99_ns": 26000, "max_ns": 26000}, "wake": {"n": 2, "median_ns": 150000, "p99_ns": 200000, "max_ns": 200000}, "in_window": 1}]}
    ],
    "rates": [
      {"id": "ring", "label": "mymap ring (GPIO producer, epoll)", "writes_per_s": 20000, "interrupts_per_s": 8000, "delivered_per_s": 8000, "dropped": 0, "rounds": [{"elapsed_s": 1, "writes": 20000, "interrupts": 8000, "delivered": 8000, "dropped": 0}]},
      {"id": "cdev", "label": "GPIO character device (edge events, epoll)", "writes_per_s": 20000, "interrupts_per_s": 7000, "delivered_per_s": 6500, "dropped": 500, "rounds": [{"elapsed_s": 1, "writes": 20000, "interrupts": 7000, "delivered": 6500, "dropped": 500}]}
    ],
    "ratios": [
      {"id": "gpio-wake-p99", "what": "GPIO edge to consumer wakeup, p99: ring / character device", "ratio": 0.6, "target": "<= 1", "met": true, "rounds": [0.6]},
      {"id": "gpio-stamp-tick", "what": "GPIO record timestamp minus injection, p99 / tick (250 Hz)", "ratio": 0.00625, "target": "<= 1", "met": true, "rounds": [0.00625]}
    ]
  }"#;

    pub(crate) fn gpio() -> Gpio {
        serde_json::from_str(GPIO_JSON).unwrap()
    }

    #[test]
    fn the_gpio_tables() {
        let md = markdown(&gpio());
        assert!(
            md.contains("| mymap ring (GPIO producer, epoll) | 2 | 20.0 µs / 25.0 µs / 25.0 µs | 100.0 % | 90.0 µs / 120.0 µs / 120.0 µs |"),
            "{md}"
        );
        assert!(md.contains("the tick (CONFIG_HZ=250) is 4.00 ms"), "{md}");
        assert!(
            md.contains("| GPIO character device (edge events, epoll) | 20.0 k/s | 7.0 k/s | 6.5 k/s | 500 | 500 |"),
            "{md}"
        );
        assert!(
            md.contains("| GPIO edge to consumer wakeup, p99: ring / character device | 0.600 | <= 1 | yes |"),
            "{md}"
        );
    }

    #[test]
    fn config_hz_reads_the_kernel_configuration() {
        assert_eq!(
            config_hz("CONFIG_A=y\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n"),
            Some(250)
        );
        assert_eq!(config_hz("# CONFIG_HZ is not set\n"), None);
    }
}
