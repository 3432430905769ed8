// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The `gpio` part of the document (schema 4): the GPIO producer's latency and
//! edge rates against the GPIO character device, on a gpio-sim chip (see
//! mymap-bench's gpio.rs and README).

use serde::{
    Deserialize,
    Serialize, //
};

use crate::{
    Summary,
    Verdict, //
};

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
    #[serde(flatten)]
    pub verdict: Verdict,
}
