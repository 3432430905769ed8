// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The `ring` part of the document (schema 3): what mymap-bench measured on
//! `/dev/mymap-ring0` against a pipe, `read()` per record and `memcpy`.

use serde::{
    Deserialize,
    Serialize, //
};

use crate::Summary;

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
    /// Payload bytes per record.
    pub len: u32,
    /// Records each side's producer attempts per round.
    pub attempted: u64,
    pub sides: Vec<RateSide>,
}

/// One side of a throughput measurement: medians of the rounds, then the rounds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RateSide {
    pub id: String,
    pub label: String,
    /// The wakeup policy, for the ring's sides.
    pub policy: Option<String>,
    pub per_s: Option<f64>,
    pub drop_fraction: Option<f64>,
    pub wakeups_per_record: Option<f64>,
    /// The producer's time over the whole round's: near 1, the producer is the bound.
    pub producer_share: Option<f64>,
    pub rounds: Vec<RateRound>,
}

/// One round of one side of a throughput measurement.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RateRound {
    /// Records the consumer received.
    pub delivered: u64,
    /// Records the producer could not put in (the ring was full).
    pub dropped: u64,
    /// From the producer's start to the consumer's receipt of the last
    /// record: every round has one.
    pub elapsed_s: f64,
    /// The producer's own time (the injector's `ioctl`, the writer's loop), if any.
    pub producer_s: Option<f64>,
    /// Wakeups the ring counted (`MYMAP_RING_IOC_STATS`), for ring sides.
    pub wakeups: Option<u64>,
    /// Times the consumer blocked or polled: `epoll_wait` calls, `read()` calls.
    pub waits: Option<u64>,
}

/// Producer-to-consumer latency at one rate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Latency {
    pub id: String,
    pub rate_hz: u32,
    pub len: u32,
    /// Records each side receives per round.
    pub records: u64,
    pub sides: Vec<LatencySide>,
}

/// A side's latencies over every round together, and round by round.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencySide {
    pub id: String,
    pub label: String,
    pub policy: Option<String>,
    #[serde(flatten)]
    pub pooled: Summary,
    pub rounds: Vec<LatencyRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencyRound {
    #[serde(flatten)]
    pub summary: Summary,
    /// Records the ring dropped (full), for ring sides.
    pub dropped: Option<u64>,
    /// Wakeups the ring counted, for ring sides.
    pub wakeups: Option<u64>,
}

/// Wakeups per record under one policy and one load.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Wakeups {
    /// `timer-10k`, `bursts`.
    pub load: String,
    pub load_text: String,
    /// `every`, `caught-up`, `watermark`.
    pub policy: String,
    pub policy_text: String,
    pub wakeups_per_record: Option<f64>,
    pub waits_per_record: Option<f64>,
    pub rounds: Vec<WakeupRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WakeupRound {
    /// Records committed (the ring's counter).
    pub records: u64,
    pub dropped: u64,
    /// Wakeups the ring counted.
    pub wakeups: u64,
    /// The consumer's `epoll_wait` calls.
    pub waits: u64,
}

/// The timer producer at one requested rate, with one kind of consumer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimerRate {
    pub requested_hz: u32,
    /// `epoll` (CAUGHT_UP, woken) or `spin` (never woken).
    pub consumer: String,
    pub fired_hz: Option<f64>,
    pub delivered_hz: Option<f64>,
    pub rounds: Vec<TimerRound>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TimerRound {
    /// From the start of the timer to its stop: every round has one.
    pub elapsed_s: f64,
    /// Records the timer attempted: committed and dropped.
    pub fired: u64,
    /// Records the consumer received.
    pub delivered: u64,
    pub dropped: u64,
}

/// A ratio of two sides of the same rounds, with its target if it has one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Ratio {
    pub id: String,
    pub what: String,
    /// The measurement (`Throughput::id`, `Latency::id`) and its two sides.
    pub measurement: String,
    pub side: String,
    pub against: String,
    /// `records/s`, `bytes/s` (higher is better) or `p99 latency` (lower is better).
    pub quantity: String,
    #[serde(flatten)]
    pub verdict: crate::Verdict,
}

impl Ratio {
    /// Whether a higher ratio is better (a rate) rather than lower (a latency).
    pub fn higher_is_better(&self) -> bool {
        self.quantity.ends_with("/s")
    }
}
