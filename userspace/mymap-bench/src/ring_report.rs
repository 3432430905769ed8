// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What the ring measurements found (issue 11), round by round: the types,
//! their medians and ratios, the text table and the `ring` part of the JSON
//! document.

use std::fmt::Write as _;

use crate::{
    report::{
        number,
        numbers,
        object,
        string, //
    },
    stats::{
        median,
        Bound, //
    },
};

/// What a throughput measurement counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Records,
    /// Payload bytes.
    Bytes,
}

impl Unit {
    pub fn text(self) -> &'static str {
        match self {
            Unit::Records => "records/s",
            Unit::Bytes => "bytes/s",
        }
    }
}

/// One round of one side of a throughput measurement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateRound {
    /// Records the consumer received.
    pub delivered: u64,
    /// Records the producer could not put in (the ring was full).
    pub dropped: u64,
    /// From the producer's start to the consumer's receipt of the last record.
    pub elapsed_s: f64,
    /// The producer's own time (the injector's `ioctl`, the writer's loop), if any.
    pub producer_s: Option<f64>,
    /// Wakeups the ring counted (`MYMAP_RING_IOC_STATS`), for ring sides.
    pub wakeups: Option<u64>,
    /// Times the consumer blocked or polled: `epoll_wait` calls, `read()` calls.
    pub waits: Option<u64>,
}

impl RateRound {
    /// Records (or payload bytes of `len`-byte records) per second.
    pub fn per_s(&self, unit: Unit, len: u32) -> f64 {
        let count = match unit {
            Unit::Records => self.delivered as f64,
            Unit::Bytes => self.delivered as f64 * f64::from(len),
        };
        count / self.elapsed_s
    }

    /// The share of the records attempted that were dropped.
    pub fn drop_fraction(&self) -> f64 {
        self.dropped as f64 / (self.delivered + self.dropped) as f64
    }
}

/// One side of a throughput measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct RateSide {
    /// A stable name: `ring-spin`, `pipe`.
    pub id: &'static str,
    /// How a table names it.
    pub label: &'static str,
    /// The ring's wakeup policy during the side, for ring sides.
    pub policy: Option<&'static str>,
    pub rounds: Vec<RateRound>,
}

/// A throughput measurement: sides moving the same records in turn.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub id: &'static str,
    pub what: &'static str,
    pub unit: Unit,
    /// Payload bytes per record.
    pub len: u32,
    /// Records each side's producer attempts per round.
    pub attempted: u64,
    pub sides: Vec<RateSide>,
}

impl Throughput {
    pub fn side(&self, id: &str) -> Option<&RateSide> {
        self.sides.iter().find(|s| s.id == id)
    }

    /// A side's rate in each round.
    pub fn rates(&self, side: &RateSide) -> Vec<f64> {
        side.rounds
            .iter()
            .map(|r| r.per_s(self.unit, self.len))
            .collect()
    }
}

/// Median, 99th percentile and maximum of a set of latencies.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Summary {
    /// The summary of `values` (nearest-rank percentiles); all zero when empty.
    pub fn of(values: &[u64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = |p: f64| {
            let k = (p * sorted.len() as f64).ceil() as usize;
            sorted[k.clamp(1, sorted.len()) - 1]
        };
        if sorted.is_empty() {
            return Summary::default();
        }
        Summary {
            n: sorted.len(),
            median_ns: rank(0.5),
            p99_ns: rank(0.99),
            max_ns: sorted[sorted.len() - 1],
        }
    }
}

/// One round of one side of a latency measurement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyRound {
    pub summary: Summary,
    /// Records the ring dropped (full), for ring sides.
    pub dropped: Option<u64>,
    /// Wakeups the ring counted, for ring sides.
    pub wakeups: Option<u64>,
    /// The latencies, in the order received (not in the JSON document).
    pub samples: Vec<u64>,
}

/// One side of a latency measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySide {
    pub id: &'static str,
    pub label: &'static str,
    pub policy: Option<&'static str>,
    pub rounds: Vec<LatencyRound>,
    /// Over the samples of every round together.
    pub pooled: Summary,
}

/// Producer-to-consumer latency at one rate, ring and pipe in turn.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    pub id: String,
    pub rate_hz: u32,
    pub len: u32,
    /// Records each side receives per round.
    pub records: u64,
    pub sides: Vec<LatencySide>,
}

/// One round of the wakeup count under one policy and load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WakeupRound {
    /// Records committed (the ring's counter).
    pub records: u64,
    pub dropped: u64,
    /// Wakeups the ring counted.
    pub wakeups: u64,
    /// The consumer's `epoll_wait` calls.
    pub waits: u64,
}

/// Wakeups per record under one policy and one load.
#[derive(Clone, Debug, PartialEq)]
pub struct Wakeups {
    /// `timer-10k`, `bursts`.
    pub load: &'static str,
    pub load_text: String,
    /// `every`, `caught-up`, `watermark`.
    pub policy: &'static str,
    pub policy_text: &'static str,
    pub rounds: Vec<WakeupRound>,
}

impl Wakeups {
    pub fn per_record(&self) -> f64 {
        let v: Vec<f64> = self
            .rounds
            .iter()
            .map(|r| r.wakeups as f64 / r.records as f64)
            .collect();
        median(&v).unwrap_or(f64::NAN)
    }

    pub fn waits_per_record(&self) -> f64 {
        let v: Vec<f64> = self
            .rounds
            .iter()
            .map(|r| r.waits as f64 / r.records as f64)
            .collect();
        median(&v).unwrap_or(f64::NAN)
    }
}

/// One round of the timer producer at one rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimerRound {
    /// From the start of the timer to its stop.
    pub elapsed_s: f64,
    /// Records the timer attempted: committed and dropped.
    pub fired: u64,
    /// Records the consumer received.
    pub delivered: u64,
    pub dropped: u64,
}

/// The timer producer at one requested rate, with one kind of consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerRate {
    pub requested_hz: u32,
    /// `epoll` (CAUGHT_UP, woken) or `spin` (never woken).
    pub consumer: &'static str,
    pub rounds: Vec<TimerRound>,
}

impl TimerRate {
    pub fn fired_hz(&self) -> f64 {
        let v: Vec<f64> = self
            .rounds
            .iter()
            .map(|r| r.fired as f64 / r.elapsed_s)
            .collect();
        median(&v).unwrap_or(f64::NAN)
    }

    pub fn delivered_hz(&self) -> f64 {
        let v: Vec<f64> = self
            .rounds
            .iter()
            .map(|r| r.delivered as f64 / r.elapsed_s)
            .collect();
        median(&v).unwrap_or(f64::NAN)
    }
}

/// A ratio of two sides measured in the same rounds, with its target if it has
/// one; reported, never enforced.
#[derive(Clone, Debug, PartialEq)]
pub struct RingRatio {
    pub id: String,
    pub what: String,
    /// The measurement (`Throughput::id`, `Latency::id`) and its two sides.
    pub measurement: String,
    pub side: &'static str,
    pub against: &'static str,
    /// What is divided: `records/s`, `bytes/s`, `p99 latency`.
    pub quantity: &'static str,
    /// Round by round.
    pub rounds: Vec<f64>,
    pub target: Option<Bound>,
}

impl RingRatio {
    /// The median of the rounds' ratios.
    pub fn ratio(&self) -> f64 {
        median(&self.rounds).unwrap_or(f64::NAN)
    }

    /// Whether the target is met; `None` without a target or a ratio.
    pub fn met(&self) -> Option<bool> {
        let r = self.ratio();
        r.is_finite().then(|| self.target.map(|t| t.met(r)))?
    }
}

/// Everything the ring measurements found.
#[derive(Clone, Debug, PartialEq)]
pub struct RingReport {
    pub node: &'static str,
    pub data_size: u32,
    pub max_payload: u32,
    pub rounds: usize,
    pub throughput: Vec<Throughput>,
    pub latency: Vec<Latency>,
    pub wakeups: Vec<Wakeups>,
    pub timer_rates: Vec<TimerRate>,
    pub ratios: Vec<RingRatio>,
}

/// `1.23 M`, `45.6 k`, `789`: a rate for people.
pub fn rate_text(per_s: f64) -> String {
    if !per_s.is_finite() {
        return "-".into();
    }
    if per_s >= 1e9 {
        format!("{:.2} G", per_s / 1e9)
    } else if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k", per_s / 1e3)
    } else {
        format!("{per_s:.0}")
    }
}

/// `12.3 us`, `1.20 ms`: a latency for people.
pub fn ns_text(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} us", ns as f64 / 1e3)
    }
}

fn percent(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1} %", x * 100.0)
    } else {
        "-".into()
    }
}

fn median_of(values: impl Iterator<Item = f64>) -> f64 {
    median(&values.collect::<Vec<_>>()).unwrap_or(f64::NAN)
}

impl RingReport {
    /// The tables printed on the target.
    pub fn table(&self) -> String {
        let mut out = format!(
            "ring {}: {} data bytes, {} rounds per side, medians\n",
            self.node, self.data_size, self.rounds
        );
        for t in &self.throughput {
            let _ = writeln!(
                out,
                "\n{} ({} B records, {} per round)",
                t.what, t.len, t.attempted
            );
            for s in &t.sides {
                let drop = median_of(s.rounds.iter().map(RateRound::drop_fraction));
                let wakeups = median_of(
                    s.rounds
                        .iter()
                        .filter_map(|r| Some(r.wakeups? as f64 / r.delivered as f64)),
                );
                let _ = writeln!(
                    out,
                    "  {:<44} {:>10} {}  dropped {:>7}  wakeups/record {}",
                    s.label,
                    rate_text(median_of(t.rates(s).into_iter())),
                    t.unit.text(),
                    percent(drop),
                    number(wakeups, 3)
                );
            }
        }
        for l in &self.latency {
            let _ = writeln!(out, "\nlatency at {} records/s", l.rate_hz);
            for s in &l.sides {
                let _ = writeln!(
                    out,
                    "  {:<44} median {:>9}  p99 {:>9}  max {:>9}",
                    s.label,
                    ns_text(s.pooled.median_ns),
                    ns_text(s.pooled.p99_ns),
                    ns_text(s.pooled.max_ns)
                );
            }
        }
        out.push_str("\nwakeups per record\n");
        for w in &self.wakeups {
            let _ = writeln!(
                out,
                "  {:<28} {:<28} {}",
                w.load_text,
                w.policy_text,
                number(w.per_record(), 4)
            );
        }
        out.push_str("\ntimer producer rates\n");
        for r in &self.timer_rates {
            let _ = writeln!(
                out,
                "  requested {:>8}/s  {:<6} consumer  fired {:>8}/s  delivered {:>8}/s",
                r.requested_hz,
                r.consumer,
                rate_text(r.fired_hz()),
                rate_text(r.delivered_hz())
            );
        }
        out.push_str("\nratios\n");
        for t in &self.ratios {
            let met = match t.met() {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            };
            let _ = writeln!(
                out,
                "  {:<60} {:>8}  {:<6} {met}",
                t.what,
                number(t.ratio(), 3),
                t.target.map(Bound::text).unwrap_or_default()
            );
        }
        out
    }

    /// The `ring` object of the JSON document, indented for its place.
    pub fn json(&self) -> String {
        let mut out = String::from("{\n");
        let _ = writeln!(
            out,
            "    \"node\": {}, \"data_size\": {}, \"max_payload\": {}, \"rounds\": {},",
            string(self.node),
            self.data_size,
            self.max_payload,
            self.rounds
        );
        let block = |out: &mut String, name: &str, items: Vec<String>, last: bool| {
            let _ = writeln!(out, "    {}: [", string(name));
            for (i, item) in items.iter().enumerate() {
                let comma = if i + 1 < items.len() { "," } else { "" };
                let _ = writeln!(out, "      {item}{comma}");
            }
            out.push_str(if last { "    ]\n" } else { "    ],\n" });
        };
        block(
            &mut out,
            "throughput",
            self.throughput.iter().map(throughput_json).collect(),
            false,
        );
        block(
            &mut out,
            "latency",
            self.latency.iter().map(latency_json).collect(),
            false,
        );
        block(
            &mut out,
            "wakeups",
            self.wakeups.iter().map(wakeups_json).collect(),
            false,
        );
        block(
            &mut out,
            "timer_rates",
            self.timer_rates.iter().map(timer_json).collect(),
            false,
        );
        block(
            &mut out,
            "ratios",
            self.ratios.iter().map(ratio_json).collect(),
            true,
        );
        out.push_str("  }");
        out
    }
}

/// An object without its closing brace, for fields to follow on other lines.
fn unclosed(object: &str) -> &str {
    &object[..object.len() - 1]
}

fn opt_u64(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or("null".into())
}

fn opt_str(v: Option<&str>) -> String {
    v.map(string).unwrap_or("null".into())
}

fn throughput_json(t: &Throughput) -> String {
    let sides: Vec<String> = t
        .sides
        .iter()
        .map(|s| {
            let rounds: Vec<String> = s
                .rounds
                .iter()
                .map(|r| {
                    object(&[
                        ("delivered", r.delivered.to_string()),
                        ("dropped", r.dropped.to_string()),
                        ("elapsed_s", number(r.elapsed_s, 6)),
                        ("producer_s", number(r.producer_s.unwrap_or(f64::NAN), 6)),
                        ("wakeups", opt_u64(r.wakeups)),
                        ("waits", opt_u64(r.waits)),
                    ])
                })
                .collect();
            let wakeups = median_of(
                s.rounds
                    .iter()
                    .filter_map(|r| Some(r.wakeups? as f64 / r.delivered as f64)),
            );
            let producer_share = median_of(
                s.rounds
                    .iter()
                    .filter_map(|r| Some(r.producer_s? / r.elapsed_s)),
            );
            format!(
                "{}, \"rounds\": [\n          {}]}}",
                unclosed(&object(&[
                    ("id", string(s.id)),
                    ("label", string(s.label)),
                    ("policy", opt_str(s.policy)),
                    ("per_s", number(median_of(t.rates(s).into_iter()), 1)),
                    (
                        "drop_fraction",
                        number(median_of(s.rounds.iter().map(RateRound::drop_fraction)), 4),
                    ),
                    ("wakeups_per_record", number(wakeups, 4)),
                    ("producer_share", number(producer_share, 3)),
                ])),
                rounds.join(",\n          ")
            )
        })
        .collect();
    format!(
        "{}, \"sides\": [\n        {}]}}",
        unclosed(&object(&[
            ("id", string(t.id)),
            ("what", string(t.what)),
            ("unit", string(t.unit.text())),
            ("len", t.len.to_string()),
            ("attempted", t.attempted.to_string()),
        ])),
        sides.join(",\n        ")
    )
}

fn summary_fields(s: &Summary) -> Vec<(&'static str, String)> {
    vec![
        ("n", s.n.to_string()),
        ("median_ns", s.median_ns.to_string()),
        ("p99_ns", s.p99_ns.to_string()),
        ("max_ns", s.max_ns.to_string()),
    ]
}

fn latency_json(l: &Latency) -> String {
    let sides: Vec<String> = l
        .sides
        .iter()
        .map(|s| {
            let rounds: Vec<String> = s
                .rounds
                .iter()
                .map(|r| {
                    let mut fields = summary_fields(&r.summary);
                    fields.push(("dropped", opt_u64(r.dropped)));
                    fields.push(("wakeups", opt_u64(r.wakeups)));
                    object(&fields)
                })
                .collect();
            let mut fields = vec![
                ("id", string(s.id)),
                ("label", string(s.label)),
                ("policy", opt_str(s.policy)),
            ];
            fields.extend(summary_fields(&s.pooled));
            format!(
                "{}, \"rounds\": [\n          {}]}}",
                unclosed(&object(&fields)),
                rounds.join(",\n          ")
            )
        })
        .collect();
    format!(
        "{}, \"sides\": [\n        {}]}}",
        unclosed(&object(&[
            ("id", string(&l.id)),
            ("rate_hz", l.rate_hz.to_string()),
            ("len", l.len.to_string()),
            ("records", l.records.to_string()),
        ])),
        sides.join(",\n        ")
    )
}

fn wakeups_json(w: &Wakeups) -> String {
    let rounds: Vec<String> = w
        .rounds
        .iter()
        .map(|r| {
            object(&[
                ("records", r.records.to_string()),
                ("dropped", r.dropped.to_string()),
                ("wakeups", r.wakeups.to_string()),
                ("waits", r.waits.to_string()),
            ])
        })
        .collect();
    format!(
        "{}, \"rounds\": [{}]}}",
        unclosed(&object(&[
            ("load", string(w.load)),
            ("load_text", string(&w.load_text)),
            ("policy", string(w.policy)),
            ("policy_text", string(w.policy_text)),
            ("wakeups_per_record", number(w.per_record(), 4)),
            ("waits_per_record", number(w.waits_per_record(), 4)),
        ])),
        rounds.join(", ")
    )
}

fn timer_json(t: &TimerRate) -> String {
    let rounds: Vec<String> = t
        .rounds
        .iter()
        .map(|r| {
            object(&[
                ("elapsed_s", number(r.elapsed_s, 6)),
                ("fired", r.fired.to_string()),
                ("delivered", r.delivered.to_string()),
                ("dropped", r.dropped.to_string()),
            ])
        })
        .collect();
    format!(
        "{}, \"rounds\": [{}]}}",
        unclosed(&object(&[
            ("requested_hz", t.requested_hz.to_string()),
            ("consumer", string(t.consumer)),
            ("fired_hz", number(t.fired_hz(), 1)),
            ("delivered_hz", number(t.delivered_hz(), 1)),
        ])),
        rounds.join(", ")
    )
}

fn ratio_json(t: &RingRatio) -> String {
    object(&[
        ("id", string(&t.id)),
        ("what", string(&t.what)),
        ("measurement", string(&t.measurement)),
        ("side", string(t.side)),
        ("against", string(t.against)),
        ("quantity", string(t.quantity)),
        ("ratio", number(t.ratio(), 4)),
        (
            "target",
            t.target.map(|b| string(&b.text())).unwrap_or("null".into()),
        ),
        (
            "met",
            t.met().map(|m| m.to_string()).unwrap_or("null".into()),
        ),
        ("rounds", numbers(&t.rounds, 4)),
    ])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn rate(delivered: u64, dropped: u64, elapsed_s: f64) -> RateRound {
        RateRound {
            delivered,
            dropped,
            elapsed_s,
            producer_s: Some(elapsed_s / 2.0),
            wakeups: Some(delivered / 2),
            waits: None,
        }
    }

    pub(crate) fn sample() -> RingReport {
        let latency_side = |id, p99_ns| LatencySide {
            id,
            label: "side",
            policy: Some("caught-up"),
            rounds: vec![LatencyRound {
                summary: Summary {
                    n: 100,
                    median_ns: 1000,
                    p99_ns,
                    max_ns: 9000,
                },
                dropped: Some(0),
                wakeups: Some(100),
                samples: Vec::new(),
            }],
            pooled: Summary {
                n: 100,
                median_ns: 1000,
                p99_ns,
                max_ns: 9000,
            },
        };
        RingReport {
            node: "/dev/mymap-ring0",
            data_size: 262144,
            max_payload: 65512,
            rounds: 2,
            throughput: vec![Throughput {
                id: "records-64",
                what: "64-byte records per second",
                unit: Unit::Records,
                len: 64,
                attempted: 1000,
                sides: vec![
                    RateSide {
                        id: "ring-spin",
                        label: "ring, spinning consumer",
                        policy: Some("caught-up"),
                        rounds: vec![rate(1000, 0, 0.001), rate(900, 100, 0.002)],
                    },
                    RateSide {
                        id: "pipe",
                        label: "pipe",
                        policy: None,
                        rounds: vec![rate(1000, 0, 0.01), rate(1000, 0, 0.01)],
                    },
                ],
            }],
            latency: vec![Latency {
                id: "latency-1k".into(),
                rate_hz: 1000,
                len: 64,
                records: 100,
                sides: vec![latency_side("ring", 5000), latency_side("pipe", 10000)],
            }],
            wakeups: vec![Wakeups {
                load: "bursts",
                load_text: "bursts".into(),
                policy: "every",
                policy_text: "EVERY",
                rounds: vec![WakeupRound {
                    records: 400,
                    dropped: 0,
                    wakeups: 100,
                    waits: 50,
                }],
            }],
            timer_rates: vec![TimerRate {
                requested_hz: 1000,
                consumer: "epoll",
                rounds: vec![TimerRound {
                    elapsed_s: 0.5,
                    fired: 500,
                    delivered: 499,
                    dropped: 1,
                }],
            }],
            ratios: vec![
                RingRatio {
                    id: "records-64-ring-spin-vs-pipe".into(),
                    what: "ring / pipe".into(),
                    measurement: "records-64".into(),
                    side: "ring-spin",
                    against: "pipe",
                    quantity: "records/s",
                    rounds: vec![10.0, 4.5],
                    target: Some(Bound::AtLeast(10.0)),
                },
                RingRatio {
                    id: "drain-64-ring-vs-read".into(),
                    what: "drain".into(),
                    measurement: "drain-64".into(),
                    side: "ring",
                    against: "read",
                    quantity: "records/s",
                    rounds: vec![30.0],
                    target: None,
                },
            ],
        }
    }

    #[test]
    fn summaries_use_nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=200).collect();
        let s = Summary::of(&v);
        assert_eq!((s.n, s.median_ns, s.p99_ns, s.max_ns), (200, 100, 198, 200));
        assert_eq!(Summary::of(&[7]).p99_ns, 7);
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn rates_drops_and_targets() {
        let r = sample();
        let t = &r.throughput[0];
        assert_eq!(t.rates(&t.sides[0]), vec![1e6, 450000.0]);
        assert_eq!(t.sides[0].rounds[1].drop_fraction(), 0.1);
        assert_eq!(
            t.sides[0].rounds[0].per_s(Unit::Bytes, 64),
            64e6,
            "bytes count the payload"
        );
        let target = &r.ratios[0];
        assert_eq!(target.ratio(), 7.25);
        assert_eq!(target.met(), Some(false));
        assert_eq!(r.ratios[1].met(), None, "no target");
        assert_eq!(r.wakeups[0].per_record(), 0.25);
        assert_eq!(r.timer_rates[0].fired_hz(), 1000.0);
        assert_eq!(r.timer_rates[0].delivered_hz(), 998.0);
    }

    #[test]
    fn the_ring_json_holds_medians_rounds_and_verdicts() {
        let json = sample().json();
        assert!(json.starts_with("{\n    \"node\": \"/dev/mymap-ring0\", \"data_size\": 262144,"));
        assert!(
            json.contains("{\"id\": \"ring-spin\", \"label\": \"ring, spinning consumer\", \"policy\": \"caught-up\", \"per_s\": 725000, \"drop_fraction\": 0.05, \"wakeups_per_record\": 0.5, \"producer_share\": 0.5, \"rounds\": [\n"),
            "{json}"
        );
        assert!(
            json.contains("{\"delivered\": 900, \"dropped\": 100, \"elapsed_s\": 0.002, \"producer_s\": 0.001, \"wakeups\": 450, \"waits\": null}"),
            "{json}"
        );
        assert!(
            json.contains(
                "\"ratio\": 7.25, \"target\": \">= 10\", \"met\": false, \"rounds\": [10, 4.5]},\n"
            ),
            "{json}"
        );
        assert!(
            json.contains("{\"id\": \"pipe\", \"label\": \"side\", \"policy\": \"caught-up\", \"n\": 100, \"median_ns\": 1000, \"p99_ns\": 10000, \"max_ns\": 9000, \"rounds\": [\n"),
            "{json}"
        );
        assert!(json.contains("\"wakeups_per_record\": 0.25, \"waits_per_record\": 0.125, \"rounds\": [{\"records\": 400,"), "{json}");
        assert!(json.contains("{\"requested_hz\": 1000, \"consumer\": \"epoll\", \"fired_hz\": 1000, \"delivered_hz\": 998, \"rounds\": [{\"elapsed_s\": 0.5,"), "{json}");
        assert!(
            json.contains("\"target\": null, \"met\": null, \"rounds\": [30]}\n    ]\n  }"),
            "{json}"
        );
    }

    #[test]
    fn rates_and_latencies_for_people() {
        assert_eq!(rate_text(1_234_567.0), "1.23 M");
        assert_eq!(rate_text(45_600.0), "45.6 k");
        assert_eq!(rate_text(789.0), "789");
        assert_eq!(ns_text(12_345), "12.3 us");
        assert_eq!(ns_text(1_200_000), "1.20 ms");
        let table = sample().table();
        assert!(table.contains("ring, spinning consumer"), "{table}");
        assert!(table.contains("725.0 k records/s"), "{table}");
    }
}
