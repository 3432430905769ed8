//! The tables of a record's `ring` part (schema 3): what mymap-bench measured
//! on `/dev/mymap-ring0` (its README describes the fields).

use mymap_bench_record::ring::{
    LatencyRound,
    RateSide,
    Ring,
    TimerRate, //
};

use super::text::{
    head,
    number_text,
    row,
    verdict_rows, //
};

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
    head(
        &mut out,
        &[
            "throughput",
            "side",
            "policy",
            "delivered",
            "dropped",
            "wakeups / record",
            "producer's share of the time",
            "producer per record",
        ],
    );
    for t in &ring.throughput {
        for s in &t.sides {
            row(
                &mut out,
                [
                    format!("{}, {} per round", t.what, t.attempted),
                    s.label.clone(),
                    s.policy.clone().unwrap_or_default(),
                    per_s_text(&t.unit, s.per_s),
                    fraction_text(s.drop_fraction),
                    number_text(s.wakeups_per_record, 3),
                    fraction_text(s.producer_share),
                    producer_per_record(s)
                        .map(|s| format!("{:.2} us", s * 1e6))
                        .unwrap_or_else(|| "-".into()),
                ],
            );
        }
    }
    out.push('\n');
    head(
        &mut out,
        &[
            "ratio, same rounds",
            "median of the rounds",
            "target",
            "met",
        ],
    );
    verdict_rows(&mut out, ring.ratios.iter().map(|r| (&*r.what, &r.verdict)));
    out.push('\n');
    head(
        &mut out,
        &[
            "latency, producer to consumer",
            "side",
            "policy",
            "median",
            "p99",
            "max",
            "dropped",
            "wakeups / record",
        ],
    );
    for l in &ring.latency {
        for s in &l.sides {
            let sum =
                |f: fn(&LatencyRound) -> Option<u64>| s.rounds.iter().map(f).sum::<Option<u64>>();
            let per_record = sum(|r| r.wakeups).map(|w| w as f64 / s.pooled.n as f64);
            row(
                &mut out,
                [
                    format!("{} records/s, {} per round", l.rate_hz, l.records),
                    s.label.clone(),
                    s.policy.clone().unwrap_or_default(),
                    ns_text(s.pooled.median_ns),
                    ns_text(s.pooled.p99_ns),
                    ns_text(s.pooled.max_ns),
                    sum(|r| r.dropped)
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "-".into()),
                    number_text(per_record, 3),
                ],
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
    out.push('\n');
    let mut columns = vec!["wakeups per record (`MYMAP_RING_IOC_STATS`), epoll consumer"];
    columns.extend(&policies);
    head(&mut out, &columns);
    for load in &loads {
        let cells = policies.iter().map(|p| {
            ring.wakeups
                .iter()
                .find(|w| w.load_text == *load && w.policy_text == *p)
                .map(|w| number_text(w.wakeups_per_record, 3))
                .unwrap_or_default()
        });
        row(&mut out, std::iter::once(load.to_string()).chain(cells));
    }
    out.push('\n');
    head(
        &mut out,
        &[
            "timer producer, requested",
            "fired, epoll consumer",
            "delivered, epoll consumer",
            "fired, spinning consumer",
            "delivered, spinning consumer",
        ],
    );
    let mut rates: Vec<u32> = Vec::new();
    for t in &ring.timer_rates {
        if !rates.contains(&t.requested_hz) {
            rates.push(t.requested_hz);
        }
    }
    for hz in rates {
        let cell = |consumer: &str, f: fn(&TimerRate) -> Option<f64>| {
            ring.timer_rates
                .iter()
                .find(|t| t.requested_hz == hz && t.consumer == consumer)
                .map(|t| format!("{}/s", rate_text(f(t))))
                .unwrap_or_else(|| "-".into())
        };
        row(
            &mut out,
            [
                format!("{hz}/s"),
                cell("epoll", |t| t.fired_hz),
                cell("epoll", |t| t.delivered_hz),
                cell("spin", |t| t.fired_hz),
                cell("spin", |t| t.delivered_hz),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::testdata::ring;

    #[test]
    fn the_ring_part_reads_with_its_nulls() {
        let r = ring();
        assert_eq!(r.throughput[0].sides[1].policy, None);
        assert_eq!(r.throughput[0].sides[0].rounds[1].dropped, 100);
        assert_eq!(r.ratios[1].verdict.rounds, vec![Some(43.4), None]);
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
}
