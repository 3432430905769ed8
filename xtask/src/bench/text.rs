//! The pieces every table of the bench is made of: numbers for people,
//! Markdown rows, and the rows of the targets table.

use std::fmt::{Display, Write as _};

use mymap_bench_record::{
    Record,
    Summary,
    Verdict, //
};

/// `12.3 µs`, `1.20 ms`.
pub fn ns_text(ns: u64) -> String {
    match ns {
        n if n >= 1_000_000 => format!("{:.2} ms", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} µs", n as f64 / 1e3),
        n => format!("{n} ns"),
    }
}

/// `median / p99 / max`.
pub fn summary_text(s: &Summary) -> String {
    format!(
        "{} / {} / {}",
        ns_text(s.median_ns),
        ns_text(s.p99_ns),
        ns_text(s.max_ns)
    )
}

/// `12.3 k/s`, `850/s`, `-`.
pub fn rate_text(per_s: Option<f64>) -> String {
    match per_s {
        Some(r) if r >= 1e3 => format!("{:.1} k/s", r / 1e3),
        Some(r) => format!("{r:.0}/s"),
        None => "-".into(),
    }
}

/// `64 KiB`, `16 MiB`.
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// `0.81 ms`, `12.3 ms`, `1.25 s`; empty for no value.
pub fn time_text(seconds: Option<f64>) -> String {
    match seconds {
        None => String::new(),
        Some(s) if s < 0.01 => format!("{:.3} ms", s * 1e3),
        Some(s) if s < 1.0 => format!("{:.1} ms", s * 1e3),
        Some(s) => format!("{s:.2} s"),
    }
}

/// A ratio to three decimals, `n/a` when there is none.
pub fn ratio_text(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{r:.3}"))
        .unwrap_or_else(|| "n/a".into())
}

/// A figure to `decimals` decimals, `-` when there is none.
pub fn number_text(x: Option<f64>, decimals: usize) -> String {
    x.map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

/// A median count of page faults: `4096`, `4096.5`, or `-` when unknown.
pub fn count_text(n: Option<f64>) -> String {
    n.map(|n| format!("{n}")).unwrap_or_else(|| "-".into())
}

/// A target's verdict in a table of one board: `yes`, `**no**`, or nothing
/// without a target.
pub fn met_text(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "",
    }
}

/// A Markdown table's head: the cells, then the rule under them.
pub fn head(out: &mut String, cells: &[&str]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(cells.len()));
}

/// A Markdown table's row.
pub fn row<T: Display>(out: &mut String, cells: impl IntoIterator<Item = T>) {
    let cells: Vec<String> = cells.into_iter().map(|c| c.to_string()).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// The rows of a table of ratios with their targets (the ring's, the GPIO
/// producer's): what, the median, the target, whether it is met.
pub fn verdict_rows<'a>(
    out: &mut String,
    ratios: impl IntoIterator<Item = (&'a str, &'a Verdict)>,
) {
    for (what, v) in ratios {
        row(
            out,
            [
                what,
                &number_text(v.ratio, 3),
                v.target.as_deref().unwrap_or(""),
                met_text(v.met),
            ],
        );
    }
}

/// A measurement that may have a target: a row of the targets table.
pub trait Targeted {
    /// Names the same measurement in every board's record.
    fn id(&self) -> &str;
    /// The row's label, with the target; `None` without a target.
    fn label(&self) -> Option<String>;
    /// Whether the target is met, and the figure it bounds.
    fn verdict(&self) -> (Option<bool>, Option<f64>);
}

/// The rows of the targets table for one kind of measurement: a row per
/// target met in any record (in the order first met), a column per record:
/// `met (x)`, `missed (x)`, or `n/a` where the record has no verdict.
pub fn target_rows<'a, T: Targeted + 'a>(
    records: &'a [Record],
    items: impl Fn(&'a Record) -> &'a [T],
) -> String {
    let mut rows: Vec<(&T, String)> = Vec::new();
    for item in records.iter().flat_map(&items) {
        if let Some(label) = item.label() {
            if !rows.iter().any(|(t, _)| t.id() == item.id()) {
                rows.push((item, label));
            }
        }
    }
    let mut out = String::new();
    for (first, label) in rows {
        let cells = records.iter().map(|r| {
            let verdict = items(r).iter().find(|t| t.id() == first.id());
            match verdict.map(T::verdict) {
                Some((Some(true), Some(x))) => format!("met ({x:.3})"),
                Some((Some(false), Some(x))) => format!("missed ({x:.3})"),
                _ => "n/a".into(),
            }
        });
        row(&mut out, std::iter::once(label).chain(cells));
    }
    out
}

/// The ring's and the GPIO producer's ratios: a verdict after what they divide.
macro_rules! targeted_ratio {
    ($($ty:ty),*) => {
        $(
            impl Targeted for $ty {
                fn id(&self) -> &str {
                    &self.id
                }

                fn label(&self) -> Option<String> {
                    Some(format!("{}: {}", self.what, self.verdict.target.as_ref()?))
                }

                fn verdict(&self) -> (Option<bool>, Option<f64>) {
                    (self.verdict.met, self.verdict.ratio)
                }
            }
        )*
    };
}

targeted_ratio!(
    mymap_bench_record::ring::Ratio,
    mymap_bench_record::gpio::Ratio
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_for_tables() {
        assert_eq!(size_text(65536), "64 KiB");
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(time_text(Some(0.00081)), "0.810 ms");
        assert_eq!(time_text(Some(0.0123)), "12.3 ms");
        assert_eq!(time_text(Some(1.254)), "1.25 s");
        assert_eq!(time_text(None), "");
    }

    #[test]
    fn a_table_is_its_head_its_rule_and_its_rows() {
        let mut out = String::new();
        head(&mut out, &["a", "b"]);
        row(&mut out, ["1", "2"]);
        assert_eq!(out, "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
    }
}
