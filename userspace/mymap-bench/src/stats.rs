// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Medians and ratios: how two sides measured in turn become one figure.

/// How a comparison's ratio is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Our time over the baseline's time: below 1 is faster.
    Time,
    /// Our throughput over the baseline's (the baseline's time over ours): 1 is the limit.
    Throughput,
}

impl Kind {
    /// The ratio of one pair of times, in seconds.
    pub fn ratio(self, ours: f64, base: f64) -> f64 {
        match self {
            Kind::Time => ours / base,
            Kind::Throughput => base / ours,
        }
    }

    /// What the ratio divides, for the JSON document.
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Time => "time ratio: device time / baseline time (lower is better)",
            Kind::Throughput => {
                "throughput ratio: device throughput / baseline throughput (1.0 is the limit)"
            }
        }
    }
}

/// A target a ratio should meet; reported, never enforced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Bound {
    pub fn met(self, ratio: f64) -> bool {
        match self {
            Bound::AtLeast(limit) => ratio >= limit,
            Bound::AtMost(limit) => ratio <= limit,
        }
    }

    /// `>= 0.97` or `<= 1.1`.
    pub fn text(self) -> String {
        match self {
            Bound::AtLeast(limit) => format!(">= {limit}"),
            Bound::AtMost(limit) => format!("<= {limit}"),
        }
    }
}

/// A ratio of one measurement's sides, over all rounds together and round by round, with
/// its target (the GPIO and tx measurements; the ring's are `ring_report::RingRatio`).
pub struct Ratio {
    pub id: String,
    pub what: String,
    pub ratio: f64,
    pub rounds: Vec<f64>,
    pub target: Bound,
}

impl Ratio {
    /// The console's line: `  WHAT: RATIO (target BOUND: met|missed)`.
    pub fn line(&self) -> String {
        let verdict = if self.target.met(self.ratio) {
            "met"
        } else {
            "missed"
        };
        format!(
            "  {}: {:.3} (target {}: {verdict})",
            self.what,
            self.ratio,
            self.target.text()
        )
    }

    /// The record's form (`mymap_bench_record::gpio::Ratio`, which the tx part uses too).
    pub fn record(&self) -> mymap_bench_record::gpio::Ratio {
        use mymap_bench_record::{rounded, Verdict};
        mymap_bench_record::gpio::Ratio {
            id: self.id.clone(),
            what: self.what.clone(),
            verdict: Verdict {
                ratio: rounded(self.ratio, 4),
                target: Some(self.target.text()),
                met: Some(self.target.met(self.ratio)),
                rounds: self.rounds.iter().map(|&x| rounded(x, 4)).collect(),
            },
        }
    }
}

/// What a target's bound applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Against {
    /// mymap's ratio against the comparison's baseline.
    Baseline,
    /// mymap against the best reference C driver, pair by pair, with the
    /// comparison's kind: time over time, or throughput over throughput.
    BestPeer,
}

/// A target: a bound on one of mymap's ratios; reported, never enforced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub against: Against,
    pub bound: Bound,
}

impl Target {
    /// `>= 0.97` or `<= 1 x best peer`.
    pub fn text(self) -> String {
        match self.against {
            Against::Baseline => self.bound.text(),
            Against::BestPeer => format!("{} x best peer", self.bound.text()),
        }
    }

    /// `baseline` or `best peer`, for the JSON document.
    pub fn against_text(self) -> &'static str {
        match self.against {
            Against::Baseline => "baseline",
            Against::BestPeer => "best peer",
        }
    }
}

/// The median of `values`; the mean of the middle two for an even count. `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The median of the ratios of the pairs measured side by side.
///
/// Pairing, rather than dividing one median by the other, cancels what drifts
/// during a run (other guest activity, the host's load on an emulated board).
pub fn paired_ratio(kind: Kind, ours: &[f64], base: &[f64]) -> Option<f64> {
    let ratios: Vec<f64> = ours
        .iter()
        .zip(base)
        .map(|(&o, &b)| kind.ratio(o, b))
        .collect();
    median(&ratios)
}

/// Bytes per second as MiB/s.
pub fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / seconds
}

/// The order of the sides in repetition `rep`: `n` sides starting at `rep mod n`,
/// so that each goes first as often as the others and drift favours none.
pub fn rotation(rep: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (rep + i) % n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn a_time_ratio_is_ours_over_base_and_a_throughput_ratio_the_inverse() {
        assert_eq!(Kind::Time.ratio(1.0, 2.0), 0.5);
        assert_eq!(Kind::Throughput.ratio(2.0, 1.0), 0.5);
    }

    #[test]
    fn the_paired_ratio_is_the_median_of_pair_ratios() {
        // Pairs: 1/2, 3/3, 10/4 -> 0.5, 1.0, 2.5; the median of the pairs is 1.0,
        // while the ratio of the medians would be 3/3 = 1.0 too, and the ratio of
        // the means 14/9.
        let ours = [1.0, 3.0, 10.0];
        let base = [2.0, 3.0, 4.0];
        assert_eq!(paired_ratio(Kind::Time, &ours, &base), Some(1.0));
        // A slow second half of the run moves both sides and leaves the ratio.
        let ours = [1.0, 1.0, 5.0, 5.0, 5.0];
        let base = [2.0, 2.0, 10.0, 10.0, 10.0];
        assert_eq!(paired_ratio(Kind::Time, &ours, &base), Some(0.5));
        assert_eq!(paired_ratio(Kind::Throughput, &ours, &base), Some(2.0));
    }

    #[test]
    fn bounds_are_inclusive() {
        assert!(Bound::AtLeast(0.97).met(0.97));
        assert!(!Bound::AtLeast(0.97).met(0.969));
        assert!(Bound::AtMost(1.1).met(1.1));
        assert!(!Bound::AtMost(0.06).met(0.061));
        assert_eq!(Bound::AtMost(0.55).text(), "<= 0.55");
        assert_eq!(Bound::AtLeast(0.97).text(), ">= 0.97");
        let peer = Target {
            against: Against::BestPeer,
            bound: Bound::AtMost(1.0),
        };
        assert_eq!(peer.text(), "<= 1 x best peer");
        assert_eq!(peer.against_text(), "best peer");
    }

    #[test]
    fn throughput_in_mib_per_second() {
        assert_eq!(mib_per_s(16 << 20, 0.5), 32.0);
    }
}
