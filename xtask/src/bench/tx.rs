//! The tables of a record's `tx` part (schema 5): the GPIO player's toggle
//! jitter against a userspace loop on the GPIO character device, and the
//! commands a tx ring accepts per second against one `ioctl` per command (see
//! mymap-bench's tx.rs and README).

use std::fmt::Write as _;

use mymap_bench_record::tx::Tx;

use super::text::{
    head,
    ns_text,
    rate_text,
    row,
    summary_text,
    verdict_rows, //
};

/// The tx tables of one record.
pub fn markdown(t: &Tx) -> String {
    let mut out = String::new();
    let sets = t.jitter.first().map_or(0, |j| j.sets);
    let _ = writeln!(
        out,
        "Toggle jitter: gpio-sim chip `{}`, line {} set by mymap's GPIO player (`player=`, \
         records written into `/dev/mymap-tx0`, one kick per round), line {} by a userspace \
         loop (absolute `clock_nanosleep`, then one set through the GPIO character device); \
         {sets} sets per side per round, the first {} after the round starts, sides in \
         rotating order. The absolute difference of actual and requested time, all rounds together; \"late\": sets whose time \
         had passed when the side came to them (counted in the figures).\n",
        t.chip,
        t.player_line,
        t.cdev_line,
        ns_text(t.lead_ns),
    );
    head(
        &mut out,
        &[
            "rate",
            "side",
            "sets",
            "actual − requested, absolute: median / p99 / max",
            "late",
        ],
    );
    for j in &t.jitter {
        for s in &j.sides {
            row(
                &mut out,
                [
                    format!("{} k/s", j.rate_hz / 1000),
                    s.label.clone(),
                    s.error.n.to_string(),
                    summary_text(&s.error),
                    s.late.to_string(),
                ],
            );
        }
    }
    if let Some(c) = &t.commands {
        let _ = writeln!(
            out,
            "\nCommands accepted from one thread: {} records of {} payload bytes per side per \
             round into a tx ring whose kernel consumer (the built-in echo) takes every record \
             at each kick; medians of the rounds.\n",
            c.per_round, c.payload_len
        );
        head(&mut out, &["side", "commands", "system calls per command"]);
        for s in &c.sides {
            let (syscalls, commands) = s
                .rounds
                .iter()
                .fold((0, 0), |(a, b), r| (a + r.syscalls, b + r.commands));
            row(
                &mut out,
                [
                    s.label.clone(),
                    rate_text(s.per_s),
                    format!("{:.3}", syscalls as f64 / commands.max(1) as f64),
                ],
            );
        }
    }
    out.push('\n');
    head(&mut out, &["tx ratio", "median", "target", "met"]);
    verdict_rows(&mut out, t.ratios.iter().map(|r| (&*r.what, &r.verdict)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::testdata::tx;

    #[test]
    fn the_tx_tables() {
        let md = markdown(&tx());
        assert!(
            md.contains("| 1 k/s | mymap GPIO player (tx ring, hrtimer, workqueue on gpio-sim) | 2 | 20.0 µs / 40.0 µs / 40.0 µs | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("the first 10.00 ms after the round starts"),
            "{md}"
        );
        assert!(
            md.contains("| one MYMAP_TX_IOC_KICK per record | 100.0 k/s | 1.000 |"),
            "{md}"
        );
        assert!(
            md.contains("| toggle error (actual - requested, absolute) at 1000 sets/s, p99: player / userspace loop (moonshot <= 0.1) | 0.400 | <= 0.5 | yes |"),
            "{md}"
        );
    }
}
