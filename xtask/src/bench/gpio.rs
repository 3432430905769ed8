//! The tables of a record's `gpio` part (schema 4): the GPIO producer's
//! latency and edge rates against the GPIO character device, on a gpio-sim
//! chip (see mymap-bench's gpio.rs and README).

use std::fmt::Write as _;

use mymap_bench_record::gpio::Gpio;

use super::text::{
    head,
    ns_text,
    rate_text,
    row,
    summary_text,
    verdict_rows, //
};

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
    head(
        &mut out,
        &[
            "side",
            "edges",
            "kernel timestamp − injection: median / p99 / max",
            "inside the write",
            "consumer wakeup − injection: median / p99 / max",
        ],
    );
    for s in &g.latency {
        row(
            &mut out,
            [
                s.label.clone(),
                s.wake.n.to_string(),
                summary_text(&s.stamp),
                s.stamp_in_window
                    .map(|f| format!("{:.1} %", 100.0 * f))
                    .unwrap_or_else(|| "-".into()),
                summary_text(&s.wake),
            ],
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
    head(
        &mut out,
        &[
            "side",
            "writes",
            "interrupts",
            "delivered",
            "not delivered",
            "dropped (counted)",
        ],
    );
    for s in &g.rates {
        let missing: i64 = s
            .rounds
            .iter()
            .map(|r| r.interrupts as i64 - r.delivered as i64)
            .sum();
        row(
            &mut out,
            [
                s.label.clone(),
                rate_text(s.writes_per_s),
                rate_text(s.interrupts_per_s),
                rate_text(s.delivered_per_s),
                missing.to_string(),
                s.dropped.to_string(),
            ],
        );
    }
    out.push('\n');
    head(&mut out, &["GPIO ratio", "median", "target", "met"]);
    verdict_rows(&mut out, g.ratios.iter().map(|r| (&*r.what, &r.verdict)));
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
mod tests {
    use super::*;
    use crate::bench::testdata::gpio;

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
