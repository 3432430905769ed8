// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What the ring measurements found (issue 11), round by round: the types,
//! their medians and ratios, the text table and the `ring` part of the record
//! (`mymap_bench_record::ring`). The rounds whose every field goes into the
//! record as it is are the record's own types.

use std::fmt::Write as _;

use mymap_bench_record::{
    ring as record,
    rounded,
    Verdict, //
};
pub use mymap_bench_record::{
    ring::{
        RateRound,
        TimerRound,
        WakeupRound, //
    },
    Summary,
};

use crate::stats::{
    median,
    Bound, //
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

/// Records (or payload bytes of `len`-byte records) per second in a round.
pub fn per_s(round: &RateRound, unit: Unit, len: u32) -> f64 {
    let count = match unit {
        Unit::Records => round.delivered as f64,
        Unit::Bytes => round.delivered as f64 * f64::from(len),
    };
    count / round.elapsed_s
}

/// The share of the records attempted in a round that were dropped.
pub fn drop_fraction(round: &RateRound) -> f64 {
    round.dropped as f64 / (round.delivered + round.dropped) as f64
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

impl RateSide {
    /// The median over the rounds of a figure that some rounds have.
    pub fn median(&self, f: impl Fn(&RateRound) -> Option<f64>) -> f64 {
        median_of(self.rounds.iter().filter_map(f))
    }

    /// The median share of the records attempted that were dropped.
    pub fn drop_fraction(&self) -> f64 {
        self.median(|r| Some(drop_fraction(r)))
    }

    /// The median of the ring's wakeups per record delivered, for ring sides.
    pub fn wakeups_per_record(&self) -> f64 {
        self.median(|r| Some(r.wakeups? as f64 / r.delivered as f64))
    }
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
            .map(|r| per_s(r, self.unit, self.len))
            .collect()
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
    /// The latencies, in the order received (not in the record).
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
    /// The median over the rounds of a count per record committed.
    pub fn per_record(&self, count: fn(&WakeupRound) -> u64) -> f64 {
        median_of(
            self.rounds
                .iter()
                .map(|r| count(r) as f64 / r.records as f64),
        )
    }
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
    /// The median over the rounds of a count per second.
    pub fn hz(&self, count: fn(&TimerRound) -> u64) -> f64 {
        median_of(self.rounds.iter().map(|r| count(r) as f64 / r.elapsed_s))
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

/// A number for people with at most `decimals` decimals and no trailing zeros,
/// as the record keeps it; `null` for what has none (a ratio over no samples).
pub fn number(x: f64, decimals: usize) -> String {
    rounded(x, decimals).map_or_else(|| "null".into(), |x| x.to_string())
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
                let _ = writeln!(
                    out,
                    "  {:<44} {:>10} {}  dropped {:>7}  wakeups/record {}",
                    s.label,
                    rate_text(median_of(t.rates(s).into_iter())),
                    t.unit.text(),
                    percent(s.drop_fraction()),
                    number(s.wakeups_per_record(), 3)
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
                number(w.per_record(|r| r.wakeups), 4)
            );
        }
        out.push_str("\ntimer producer rates\n");
        for r in &self.timer_rates {
            let _ = writeln!(
                out,
                "  requested {:>8}/s  {:<6} consumer  fired {:>8}/s  delivered {:>8}/s",
                r.requested_hz,
                r.consumer,
                rate_text(r.hz(|r| r.fired)),
                rate_text(r.hz(|r| r.delivered))
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

    /// The `ring` part of the record.
    pub fn record(&self) -> record::Ring {
        record::Ring {
            node: self.node.into(),
            data_size: self.data_size.into(),
            max_payload: self.max_payload.into(),
            rounds: self.rounds as u32,
            throughput: self.throughput.iter().map(Throughput::record).collect(),
            latency: self.latency.iter().map(Latency::record).collect(),
            wakeups: self.wakeups.iter().map(Wakeups::record).collect(),
            timer_rates: self.timer_rates.iter().map(TimerRate::record).collect(),
            ratios: self.ratios.iter().map(RingRatio::record).collect(),
        }
    }
}

impl Throughput {
    fn record(&self) -> record::Throughput {
        let side = |s: &RateSide| record::RateSide {
            id: s.id.into(),
            label: s.label.into(),
            policy: s.policy.map(Into::into),
            per_s: rounded(median_of(self.rates(s).into_iter()), 1),
            drop_fraction: rounded(s.drop_fraction(), 4),
            wakeups_per_record: rounded(s.wakeups_per_record(), 4),
            producer_share: rounded(s.median(|r| Some(r.producer_s? / r.elapsed_s)), 3),
            rounds: s
                .rounds
                .iter()
                .map(|r| RateRound {
                    elapsed_s: rounded(r.elapsed_s, 6).unwrap_or(r.elapsed_s),
                    producer_s: r.producer_s.and_then(|p| rounded(p, 6)),
                    ..r.clone()
                })
                .collect(),
        };
        record::Throughput {
            id: self.id.into(),
            what: self.what.into(),
            unit: self.unit.text().into(),
            len: self.len,
            attempted: self.attempted,
            sides: self.sides.iter().map(side).collect(),
        }
    }
}

impl Latency {
    fn record(&self) -> record::Latency {
        let side = |s: &LatencySide| record::LatencySide {
            id: s.id.into(),
            label: s.label.into(),
            policy: s.policy.map(Into::into),
            pooled: s.pooled,
            rounds: s
                .rounds
                .iter()
                .map(|r| record::LatencyRound {
                    summary: r.summary,
                    dropped: r.dropped,
                    wakeups: r.wakeups,
                })
                .collect(),
        };
        record::Latency {
            id: self.id.clone(),
            rate_hz: self.rate_hz,
            len: self.len,
            records: self.records,
            sides: self.sides.iter().map(side).collect(),
        }
    }
}

impl Wakeups {
    fn record(&self) -> record::Wakeups {
        record::Wakeups {
            load: self.load.into(),
            load_text: self.load_text.clone(),
            policy: self.policy.into(),
            policy_text: self.policy_text.into(),
            wakeups_per_record: rounded(self.per_record(|r| r.wakeups), 4),
            waits_per_record: rounded(self.per_record(|r| r.waits), 4),
            rounds: self.rounds.clone(),
        }
    }
}

impl TimerRate {
    fn record(&self) -> record::TimerRate {
        record::TimerRate {
            requested_hz: self.requested_hz,
            consumer: self.consumer.into(),
            fired_hz: rounded(self.hz(|r| r.fired), 1),
            delivered_hz: rounded(self.hz(|r| r.delivered), 1),
            rounds: self
                .rounds
                .iter()
                .map(|r| TimerRound {
                    elapsed_s: rounded(r.elapsed_s, 6).unwrap_or(r.elapsed_s),
                    ..r.clone()
                })
                .collect(),
        }
    }
}

impl RingRatio {
    fn record(&self) -> record::Ratio {
        record::Ratio {
            id: self.id.clone(),
            what: self.what.clone(),
            measurement: self.measurement.clone(),
            side: self.side.into(),
            against: self.against.into(),
            quantity: self.quantity.into(),
            verdict: Verdict {
                ratio: rounded(self.ratio(), 4),
                target: self.target.map(Bound::text),
                met: self.met(),
                rounds: self.rounds.iter().map(|&r| rounded(r, 4)).collect(),
            },
        }
    }
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
    fn rates_drops_and_targets() {
        let r = sample();
        let t = &r.throughput[0];
        assert_eq!(t.rates(&t.sides[0]), vec![1e6, 450000.0]);
        assert_eq!(drop_fraction(&t.sides[0].rounds[1]), 0.1);
        assert_eq!(
            per_s(&t.sides[0].rounds[0], Unit::Bytes, 64),
            64e6,
            "bytes count the payload"
        );
        let target = &r.ratios[0];
        assert_eq!(target.ratio(), 7.25);
        assert_eq!(target.met(), Some(false));
        assert_eq!(r.ratios[1].met(), None, "no target");
        assert_eq!(r.wakeups[0].per_record(|r| r.wakeups), 0.25);
        assert_eq!(r.timer_rates[0].hz(|r| r.fired), 1000.0);
        assert_eq!(r.timer_rates[0].hz(|r| r.delivered), 998.0);
    }

    #[test]
    fn the_ring_record_holds_medians_rounds_and_verdicts() {
        let ring = sample().record();
        assert_eq!(
            (
                ring.node.as_str(),
                ring.data_size,
                ring.max_payload,
                ring.rounds
            ),
            ("/dev/mymap-ring0", 262144, 65512, 2)
        );
        let spin = &ring.throughput[0].sides[0];
        assert_eq!(
            (
                spin.id.as_str(),
                spin.label.as_str(),
                spin.policy.as_deref()
            ),
            ("ring-spin", "ring, spinning consumer", Some("caught-up"))
        );
        assert_eq!(
            (
                spin.per_s,
                spin.drop_fraction,
                spin.wakeups_per_record,
                spin.producer_share
            ),
            (Some(725000.0), Some(0.05), Some(0.5), Some(0.5))
        );
        assert_eq!(
            spin.rounds[1],
            RateRound {
                delivered: 900,
                dropped: 100,
                elapsed_s: 0.002,
                producer_s: Some(0.001),
                wakeups: Some(450),
                waits: None,
            }
        );
        let v = &ring.ratios[0].verdict;
        assert_eq!(
            (v.ratio, v.target.as_deref(), v.met, v.rounds.clone()),
            (
                Some(7.25),
                Some(">= 10"),
                Some(false),
                vec![Some(10.0), Some(4.5)]
            )
        );
        let pipe = &ring.latency[0].sides[1];
        assert_eq!(
            (
                pipe.id.as_str(),
                pipe.label.as_str(),
                pipe.policy.as_deref()
            ),
            ("pipe", "side", Some("caught-up"))
        );
        assert_eq!(
            (
                pipe.pooled.n,
                pipe.pooled.median_ns,
                pipe.pooled.p99_ns,
                pipe.pooled.max_ns
            ),
            (100, 1000, 10000, 9000)
        );
        let w = &ring.wakeups[0];
        assert_eq!(
            (w.wakeups_per_record, w.waits_per_record),
            (Some(0.25), Some(0.125))
        );
        assert_eq!(w.rounds[0].records, 400);
        let t = &ring.timer_rates[0];
        assert_eq!(
            (
                t.requested_hz,
                t.consumer.as_str(),
                t.fired_hz,
                t.delivered_hz
            ),
            (1000, "epoll", Some(1000.0), Some(998.0))
        );
        assert_eq!(t.rounds[0].elapsed_s, 0.5);
        let v = &ring.ratios[1].verdict;
        assert_eq!(
            (v.target.as_deref(), v.met, v.rounds.clone()),
            (None, None, vec![Some(30.0)])
        );
    }

    #[test]
    fn numbers_have_no_trailing_zeros_and_no_nan() {
        assert_eq!(number(0.5, 4), "0.5");
        assert_eq!(number(2.0, 4), "2");
        assert_eq!(number(0.123456, 4), "0.1235");
        assert_eq!(number(-0.00001, 3), "0");
        assert_eq!(number(f64::NAN, 3), "null");
        assert_eq!(number(f64::INFINITY, 3), "null");
        assert_eq!(number(1e-7, 9), "0.0000001");
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
