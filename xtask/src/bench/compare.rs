//! `cargo xtask bench --compare`: each of mymap's ratios in this run against
//! the same ratio in the committed record of the board, which may be of any
//! schema (1 had one ratio per comparison and no peers), so it is read as
//! plain JSON.

use std::fmt::Write as _;

use mymap_bench_record::{
    ring::Ring,
    Record, //
};

use super::text::{
    number_text,
    ratio_text, //
};

/// A ratio's change from the committed record: `+11.1%`, or `new` without
/// a committed ratio to compare with.
fn change_text(before: Option<f64>, now: Option<f64>) -> String {
    match (before, now) {
        (Some(b), Some(n)) if b != 0.0 => format!("{:+.1}%", (n / b - 1.0) * 100.0),
        _ => "new".into(),
    }
}

/// mymap's ratio against the baseline, and against the best peer, in an earlier
/// record of the same board of either schema (1 had no peers).
fn committed_ratios(old: &serde_json::Value, id: &str) -> (Option<f64>, Option<f64>) {
    let Some(c) = old["target"]["comparisons"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
    else {
        return (None, None);
    };
    let ratio = c["ratio"].as_f64().or_else(|| {
        c["devices"]
            .as_array()?
            .iter()
            .find(|d| d["device"] == "mymap")?["ratio"]
            .as_f64()
    });
    (ratio, c["vs_best_peer"].as_f64())
}

/// Each of mymap's ratios against an earlier record of the same board.
pub fn compare(old: &serde_json::Value, new: &Record) -> String {
    let mut out = format!(
        "Against the committed record (commit {}, kernel {}):\n\n\
         | id | committed ratio | this run | change | committed mymap / best peer | this run |\n\
         | --- | --- | --- | --- | --- | --- |\n",
        old["commit"].as_str().unwrap_or("unknown"),
        old["kernel_release"].as_str().unwrap_or("unknown")
    );
    for c in &new.target.comparisons {
        let (before, before_peer) = committed_ratios(old, &c.id);
        let now = c.side("mymap").and_then(|s| s.ratio);
        let change = change_text(before, now);
        let opt = |r: Option<f64>| r.map(|r| format!("{r:.3}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change} | {} | {} |",
            c.id,
            opt(before),
            ratio_text(now),
            opt(before_peer),
            opt(c.vs_best_peer)
        );
    }
    if let Some(ring) = &new.target.ring {
        out.push_str(&ring_rows(old, ring));
    }
    out
}

/// Each ratio of `new` against the same ratio in an earlier record of the same
/// board, as rows of the `--compare` table (`new` where the record had none).
fn ring_rows(old: &serde_json::Value, new: &Ring) -> String {
    let mut out = String::new();
    for r in &new.ratios {
        let before = old["target"]["ring"]["ratios"]
            .as_array()
            .and_then(|rs| rs.iter().find(|o| o["id"] == r.id.as_str()))
            .and_then(|o| o["ratio"].as_f64());
        let change = change_text(before, r.verdict.ratio);
        let _ = writeln!(
            out,
            "| ring {} | {} | {} | {change} |  |  |",
            r.id,
            before.map(|b| format!("{b:.3}")).unwrap_or_default(),
            number_text(r.verdict.ratio, 3)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{
        console::tests::record,
        testdata, //
    };

    #[test]
    fn compare_reads_committed_records_of_either_schema() {
        let new = record();
        let mut changed = record();
        changed.target.comparisons[0].devices[0].ratio = Some(0.891);
        changed.target.comparisons[0].vs_best_peer = Some(0.8);
        let old = serde_json::to_value(&changed).unwrap();
        let text = compare(&old, &new);
        assert!(
            text.contains("| mapped-read | 0.891 | 0.990 | +11.1% | 0.800 | 0.900 |"),
            "{text}"
        );
        assert!(text.contains("| read-4k |  | n/a | new |  |  |"), "{text}");
        // Schema 1: one ratio per comparison, no peers.
        let old: serde_json::Value = serde_json::from_str(
            r#"{"commit": "196a73c", "kernel_release": "7.3.4", "target": {"comparisons": [{"id": "touch-read-16m", "ratio": 0.4}]}}"#,
        )
        .unwrap();
        let text = compare(&old, &new);
        assert!(text.contains("(commit 196a73c, kernel 7.3.4)"), "{text}");
        assert!(
            text.contains("| touch-read-16m | 0.400 | 0.200 | -50.0% |  | 5.000 |"),
            "{text}"
        );
        assert!(text.contains("| mapped-read |  | 0.990 | new |"), "{text}");
        // The ring's ratios, against a record with and without them.
        let mut new = record();
        new.target.ring = Some(testdata::ring());
        let mut old = serde_json::to_value(&new).unwrap();
        old["target"]["ring"]["ratios"][0]["ratio"] = 2.0.into();
        let text = compare(&old, &new);
        assert!(
            text.contains(
                "| ring records-64-ring-spin-vs-pipe | 2.000 | 4.439 | +122.0% |  |  |\n"
            ),
            "{text}"
        );
        let text = compare(&serde_json::to_value(record()).unwrap(), &new);
        assert!(
            text.contains("| ring records-64-ring-spin-vs-pipe |  | 4.439 | new |  |  |\n"),
            "{text}"
        );
    }
}
