//! The `ring` part of a bench record (schema 3): what mymap-bench measured on
//! `/dev/mymap-ring0` (its README describes the fields), and its tables.

use std::fmt::Write as _;

use serde::{
    Deserialize,
    Serialize, //
};

use super::Record;

/// The ring measurements of one boot.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Ring {
    pub node: String,
    pub data_size: u64,
    pub max_payload: u64,
    /// Timed rounds of each side, after an untimed one.
    pub rounds: u32,
    pub throughput: Vec<Throughput>,
    pub latency: Vec<Latency>,
    pub wakeups: Vec<Wakeups>,
    pub timer_rates: Vec<TimerRate>,
    pub ratios: Vec<Ratio>,
}

/// Sides moving the same records in turn.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Throughput {
    pub id: String,
    pub what: String,
    /// `records/s` or `bytes/s` (payload bytes).
    pub unit: String,
    pub len: u32,
    pub attempted: u64,
    pub sides: Vec<RateSide>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RateSide {
    pub id: String,
    pub label: String,
    /// The wakeup policy, for the ring's sides.
    pub policy: Option<String>,
    /// Medians of the rounds.
    pub per_s: Option<f64>,
    pub drop_fraction: Option<f64>,
    pub wakeups_per_record: Option<f64>,
    /// The producer's time over the whole round's: near 1, the producer is the bound.
    pub producer_share: Option<f64>,
    pub rounds: Vec<RateRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RateRound {
    pub delivered: u64,
    pub dropped: u64,
    pub elapsed_s: Option<f64>,
    pub producer_s: Option<f64>,
    pub wakeups: Option<u64>,
    pub waits: Option<u64>,
}

/// Producer-to-consumer latency at one rate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Latency {
    pub id: String,
    pub rate_hz: u32,
    pub len: u32,
    pub records: u64,
    pub sides: Vec<LatencySide>,
}

/// A side's latencies over every round together, and round by round.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencySide {
    pub id: String,
    pub label: String,
    pub policy: Option<String>,
    pub n: u64,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub rounds: Vec<LatencyRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencyRound {
    pub n: u64,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub dropped: Option<u64>,
    pub wakeups: Option<u64>,
}

/// Wakeups per record under one policy and one load.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Wakeups {
    pub load: String,
    pub load_text: String,
    pub policy: String,
    pub policy_text: String,
    pub wakeups_per_record: Option<f64>,
    pub waits_per_record: Option<f64>,
    pub rounds: Vec<WakeupRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WakeupRound {
    pub records: u64,
    pub dropped: u64,
    pub wakeups: u64,
    pub waits: u64,
}

/// The timer producer at one requested rate, with one kind of consumer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimerRate {
    pub requested_hz: u32,
    /// `epoll` or `spin`.
    pub consumer: String,
    pub fired_hz: Option<f64>,
    pub delivered_hz: Option<f64>,
    pub rounds: Vec<TimerRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimerRound {
    pub elapsed_s: Option<f64>,
    pub fired: u64,
    pub delivered: u64,
    pub dropped: u64,
}

/// A ratio of two sides of the same rounds, with its target if it has one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Ratio {
    pub id: String,
    pub what: String,
    pub measurement: String,
    pub side: String,
    pub against: String,
    /// `records/s`, `bytes/s` (higher is better) or `p99 latency` (lower is better).
    pub quantity: String,
    /// The median of the rounds' ratios.
    pub ratio: Option<f64>,
    /// `>= 10`, `<= 1`.
    pub target: Option<String>,
    pub met: Option<bool>,
    pub rounds: Vec<Option<f64>>,
}

impl Ratio {
    /// Whether a higher ratio is better (a rate) rather than lower (a latency).
    pub fn higher_is_better(&self) -> bool {
        self.quantity.ends_with("/s")
    }
}

/// `585.6 k`, `1.29 G`.
fn rate_text(per_s: Option<f64>) -> String {
    match per_s {
        Some(r) if r >= 1e9 => format!("{:.2} G", r / 1e9),
        Some(r) if r >= 1e6 => format!("{:.2} M", r / 1e6),
        Some(r) if r >= 1e3 => format!("{:.1} k", r / 1e3),
        Some(r) => format!("{r:.0}"),
        None => "-".into(),
    }
}

/// A rate in its unit: `585.6 k records/s`, `1230.5 MiB/s`.
fn per_s_text(unit: &str, per_s: Option<f64>) -> String {
    match (unit, per_s) {
        ("bytes/s", Some(b)) => format!("{:.1} MiB/s", b / (1 << 20) as f64),
        _ => format!("{} records/s", rate_text(per_s)),
    }
}

/// `51.2 us`, `3.49 ms`.
fn ns_text(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} us", ns as f64 / 1e3)
    }
}

fn fraction_text(x: Option<f64>) -> String {
    x.map(|x| format!("{:.1} %", x * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn number_text(x: Option<f64>, decimals: usize) -> String {
    x.map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

fn met_text(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "",
    }
}

/// The median time a round's producer spent per record it attempted.
fn producer_per_record(side: &RateSide) -> Option<f64> {
    let mut v: Vec<f64> = side
        .rounds
        .iter()
        .filter_map(|r| Some(r.producer_s? / (r.delivered + r.dropped) as f64))
        .collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The ring's tables, under the board's.
pub fn markdown(ring: &Ring) -> String {
    let mut out = format!(
        "**Ring** (`{}`, {} KiB of data, the module's defaults; {} rounds per side after an untimed one, medians):\n\n",
        ring.node,
        ring.data_size >> 10,
        ring.rounds
    );
    out.push_str(
        "| throughput | side | policy | delivered | dropped | wakeups / record | producer's share of the time | producer per record |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for t in &ring.throughput {
        for s in &t.sides {
            let _ = writeln!(
                out,
                "| {}, {} per round | {} | {} | {} | {} | {} | {} | {} |",
                t.what,
                t.attempted,
                s.label,
                s.policy.as_deref().unwrap_or(""),
                per_s_text(&t.unit, s.per_s),
                fraction_text(s.drop_fraction),
                number_text(s.wakeups_per_record, 3),
                fraction_text(s.producer_share),
                producer_per_record(s)
                    .map(|s| format!("{:.2} us", s * 1e6))
                    .unwrap_or_else(|| "-".into()),
            );
        }
    }
    out.push_str(
        "\n| ratio, same rounds | median of the rounds | target | met |\n| --- | --- | --- | --- |\n",
    );
    for r in &ring.ratios {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            r.what,
            number_text(r.ratio, 3),
            r.target.as_deref().unwrap_or(""),
            met_text(r.met)
        );
    }
    out.push_str(
        "\n| latency, producer to consumer | side | policy | median | p99 | max | dropped | wakeups / record |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for l in &ring.latency {
        for s in &l.sides {
            let sum =
                |f: fn(&LatencyRound) -> Option<u64>| s.rounds.iter().map(f).sum::<Option<u64>>();
            let per_record = sum(|r| r.wakeups).map(|w| w as f64 / s.n as f64);
            let _ = writeln!(
                out,
                "| {} records/s, {} per round | {} | {} | {} | {} | {} | {} | {} |",
                l.rate_hz,
                l.records,
                s.label,
                s.policy.as_deref().unwrap_or(""),
                ns_text(s.median_ns),
                ns_text(s.p99_ns),
                ns_text(s.max_ns),
                sum(|r| r.dropped)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                number_text(per_record, 3)
            );
        }
    }
    let mut policies: Vec<&str> = Vec::new();
    let mut loads: Vec<&str> = Vec::new();
    for w in &ring.wakeups {
        if !policies.contains(&w.policy_text.as_str()) {
            policies.push(&w.policy_text);
        }
        if !loads.contains(&w.load_text.as_str()) {
            loads.push(&w.load_text);
        }
    }
    let _ = writeln!(
        out,
        "\n| wakeups per record (`MYMAP_RING_IOC_STATS`), epoll consumer | {} |\n|{}",
        policies.join(" | "),
        " --- |".repeat(1 + policies.len())
    );
    for load in &loads {
        let cells: Vec<String> = policies
            .iter()
            .map(|p| {
                ring.wakeups
                    .iter()
                    .find(|w| w.load_text == *load && w.policy_text == *p)
                    .map(|w| number_text(w.wakeups_per_record, 3))
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(out, "| {load} | {} |", cells.join(" | "));
    }
    out.push_str(
        "\n| timer producer, requested | fired, epoll consumer | delivered, epoll consumer | fired, spinning consumer | delivered, spinning consumer |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    let mut rates: Vec<u32> = Vec::new();
    for t in &ring.timer_rates {
        if !rates.contains(&t.requested_hz) {
            rates.push(t.requested_hz);
        }
    }
    for hz in rates {
        let find = |consumer: &str| {
            ring.timer_rates
                .iter()
                .find(|t| t.requested_hz == hz && t.consumer == consumer)
        };
        let cell = |consumer: &str, f: fn(&TimerRate) -> Option<f64>| {
            find(consumer)
                .map(|t| format!("{}/s", rate_text(f(t))))
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            out,
            "| {hz}/s | {} | {} | {} | {} |",
            cell("epoll", |t| t.fired_hz),
            cell("epoll", |t| t.delivered_hz),
            cell("spin", |t| t.fired_hz),
            cell("spin", |t| t.delivered_hz),
        );
    }
    out
}

/// The ring's targets as rows of the targets table: met or missed per board.
pub fn targets_rows(records: &[Record]) -> String {
    let mut rows: Vec<&Ratio> = Vec::new();
    for r in records {
        let Some(ring) = &r.target.ring else {
            continue;
        };
        for ratio in ring.ratios.iter().filter(|t| t.target.is_some()) {
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
                .ring
                .as_ref()
                .and_then(|ring| ring.ratios.iter().find(|t| t.id == row.id));
            cells.push(match ratio.map(|t| (t.met, t.ratio)) {
                Some((Some(true), Some(x))) => format!("met ({x:.3})"),
                Some((Some(false), Some(x))) => format!("missed ({x:.3})"),
                _ => "n/a".into(),
            });
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// Each ratio of `new` against the same ratio in an earlier record of the same
/// board, as rows of the `--compare` table (`new` where the record had none).
pub fn compare_rows(old: &serde_json::Value, new: &Ring) -> String {
    let mut out = String::new();
    for r in &new.ratios {
        let before = old["target"]["ring"]["ratios"]
            .as_array()
            .and_then(|rs| rs.iter().find(|o| o["id"] == r.id.as_str()))
            .and_then(|o| o["ratio"].as_f64());
        let change = match (before, r.ratio) {
            (Some(b), Some(n)) if b != 0.0 => format!("{:+.1}%", (n / b - 1.0) * 100.0),
            _ => "new".into(),
        };
        let _ = writeln!(
            out,
            "| ring {} | {} | {} | {change} |  |  |",
            r.id,
            before.map(|b| format!("{b:.3}")).unwrap_or_default(),
            number_text(r.ratio, 3)
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The ring part of a document as mymap-bench prints it (cut to one side or
    /// round where the layout repeats).
    pub(crate) const RING_JSON: &str = r#"{
    "node": "/dev/mymap-ring0", "data_size": 262144, "max_payload": 65512, "rounds": 2,
    "throughput": [
      {"id": "records-64", "what": "64-byte records per second", "unit": "records/s", "len": 64, "attempted": 1000, "sides": [
        {"id": "ring-spin", "label": "ring, spinning consumer", "policy": "quiet", "per_s": 585588.6, "drop_fraction": 0, "wakeups_per_record": 0, "producer_share": 1, "rounds": [
          {"delivered": 1000, "dropped": 0, "elapsed_s": 0.002, "producer_s": 0.002, "wakeups": 0, "waits": null},
          {"delivered": 900, "dropped": 100, "elapsed_s": 0.002, "producer_s": 0.001, "wakeups": 0, "waits": null}]},
        {"id": "pipe", "label": "pipe, one write() per record", "policy": null, "per_s": 135841.9, "drop_fraction": 0, "wakeups_per_record": null, "producer_share": null, "rounds": [
          {"delivered": 1000, "dropped": 0, "elapsed_s": 0.007, "producer_s": null, "wakeups": null, "waits": 400}]}]},
      {"id": "bytes-4k", "what": "payload bytes per second, 4 KiB records", "unit": "bytes/s", "len": 4096, "attempted": 64, "sides": [
        {"id": "memcpy", "label": "memcpy of the same bytes", "policy": null, "per_s": 3970000000, "drop_fraction": 0, "wakeups_per_record": null, "producer_share": null, "rounds": [
          {"delivered": 64, "dropped": 0, "elapsed_s": 0.00007, "producer_s": null, "wakeups": null, "waits": null}]}]}
    ],
    "latency": [
      {"id": "latency-1k", "rate_hz": 1000, "len": 64, "records": 500, "sides": [
        {"id": "ring-caught-up", "label": "ring, epoll consumer", "policy": "caught-up", "n": 1000, "median_ns": 73776, "p99_ns": 251824, "max_ns": 8397104, "rounds": [
          {"n": 500, "median_ns": 96608, "p99_ns": 129248, "max_ns": 157744, "dropped": 0, "wakeups": 500},
          {"n": 500, "median_ns": 66240, "p99_ns": 455264, "max_ns": 8397104, "dropped": 1, "wakeups": 497}]},
        {"id": "pipe", "label": "pipe, blocking read()", "policy": null, "n": 500, "median_ns": 44784, "p99_ns": 145360, "max_ns": 3486112, "rounds": [
          {"n": 500, "median_ns": 40160, "p99_ns": 118608, "max_ns": 238560, "dropped": null, "wakeups": null}]}]}
    ],
    "wakeups": [
      {"load": "bursts", "load_text": "injector bursts", "policy": "every", "policy_text": "EVERY", "wakeups_per_record": 1, "waits_per_record": 0.3, "rounds": [{"records": 4097, "dropped": 0, "wakeups": 4097, "waits": 1235}]},
      {"load": "bursts", "load_text": "injector bursts", "policy": "caught-up", "policy_text": "CAUGHT_UP", "wakeups_per_record": 0.0842, "waits_per_record": 0.1, "rounds": [{"records": 4097, "dropped": 0, "wakeups": 345, "waits": 430}]}
    ],
    "timer_rates": [
      {"requested_hz": 1000, "consumer": "epoll", "fired_hz": 991.7, "delivered_hz": 991.7, "rounds": [{"elapsed_s": 1.0003, "fired": 992, "delivered": 992, "dropped": 0}]},
      {"requested_hz": 1000, "consumer": "spin", "fired_hz": 995, "delivered_hz": 995, "rounds": [{"elapsed_s": 1.0003, "fired": 995, "delivered": 995, "dropped": 0}]},
      {"requested_hz": 100000, "consumer": "epoll", "fired_hz": 18500, "delivered_hz": 18500, "rounds": [{"elapsed_s": 1.0003, "fired": 18500, "delivered": 18500, "dropped": 0}]},
      {"requested_hz": 100000, "consumer": "spin", "fired_hz": 17000, "delivered_hz": 17000, "rounds": [{"elapsed_s": 1.0003, "fired": 17000, "delivered": 17000, "dropped": 0}]}
    ],
    "ratios": [
      {"id": "records-64-ring-spin-vs-pipe", "what": "ring, spinning consumer / pipe, records/s", "measurement": "records-64", "side": "ring-spin", "against": "pipe", "quantity": "records/s", "ratio": 4.439, "target": ">= 10", "met": false, "rounds": [4.2, 4.6]},
      {"id": "drain-64-ring-drain-vs-read-drain", "what": "drain / read() drain, records/s", "measurement": "drain-64", "side": "ring-drain", "against": "read-drain", "quantity": "records/s", "ratio": 43.4, "target": null, "met": null, "rounds": [43.4, null]},
      {"id": "latency-1k-ring-caught-up-vs-pipe", "what": "p99 latency at 1000 records/s, ring (caught-up) / pipe", "measurement": "latency-1k", "side": "ring-caught-up", "against": "pipe", "quantity": "p99 latency", "ratio": 0.927, "target": "<= 1", "met": true, "rounds": [0.9]}
    ]
  }"#;

    pub(crate) fn ring() -> Ring {
        serde_json::from_str(RING_JSON).unwrap()
    }

    #[test]
    fn the_ring_part_reads_with_its_nulls() {
        let r = ring();
        assert_eq!(r.throughput[0].sides[1].policy, None);
        assert_eq!(r.throughput[0].sides[0].rounds[1].dropped, 100);
        assert_eq!(r.ratios[1].rounds, vec![Some(43.4), None]);
        assert!(r.ratios[0].higher_is_better());
        assert!(!r.ratios[2].higher_is_better());
        assert_eq!(r.timer_rates[1].consumer, "spin");
        assert_eq!(r.timer_rates.len(), 4);
    }

    #[test]
    fn the_ring_tables() {
        let md = markdown(&ring());
        assert!(
            md.starts_with("**Ring** (`/dev/mymap-ring0`, 256 KiB of data, the module's defaults; 2 rounds per side after an untimed one, medians):\n\n"),
            "{md}"
        );
        assert!(
            md.contains("| 64-byte records per second, 1000 per round | ring, spinning consumer | quiet | 585.6 k records/s | 0.0 % | 0.000 | 100.0 % | 1.50 us |\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "| pipe, one write() per record |  | 135.8 k records/s | 0.0 % | - | - | - |\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("| memcpy of the same bytes |  | 3786.1 MiB/s |"),
            "{md}"
        );
        assert!(
            md.contains("| ring, spinning consumer / pipe, records/s | 4.439 | >= 10 | **no** |\n"),
            "{md}"
        );
        assert!(
            md.contains("| drain / read() drain, records/s | 43.400 |  |  |\n"),
            "{md}"
        );
        assert!(
            md.contains("| 1000 records/s, 500 per round | ring, epoll consumer | caught-up | 73.8 us | 251.8 us | 8.40 ms | 1 | 0.997 |\n"),
            "{md}"
        );
        assert!(
            md.contains("| 1000 records/s, 500 per round | pipe, blocking read() |  | 44.8 us | 145.4 us | 3.49 ms | - | - |\n"),
            "{md}"
        );
        assert!(
            md.contains("| wakeups per record (`MYMAP_RING_IOC_STATS`), epoll consumer | EVERY | CAUGHT_UP |\n| --- | --- | --- |\n| injector bursts | 1.000 | 0.084 |\n"),
            "{md}"
        );
        assert!(
            md.ends_with("| --- | --- | --- | --- | --- |\n| 1000/s | 992/s | 992/s | 995/s | 995/s |\n| 100000/s | 18.5 k/s | 18.5 k/s | 17.0 k/s | 17.0 k/s |\n"),
            "{md}"
        );
    }

    #[test]
    fn ring_targets_join_the_targets_table() {
        let mut with = crate::bench::tests::record();
        with.target.ring = Some(ring());
        let without = crate::bench::tests::record();
        let rows = targets_rows(&[with, without]);
        assert_eq!(
            rows,
            "| ring, spinning consumer / pipe, records/s: >= 10 | missed (4.439) | n/a |\n\
             | p99 latency at 1000 records/s, ring (caught-up) / pipe: <= 1 | met (0.927) | n/a |\n"
        );
    }
}
