//! `bench/<board>.svg`: one row per measurement, mymap against the best
//! reference C driver and the target, on one logarithmic scale; the ring's
//! and the tx ring's ratios with a target as rows of their own.
//!
//! The scale is time relative to the comparison's baseline (left is faster):
//! a time ratio as it is, a throughput ratio inverted, so every row reads the
//! same way. A target against the baseline is drawn at its bound; a target
//! against the best peer at the best peer's place times the bound.

use std::path::PathBuf;

use anyhow::{
    anyhow,
    Result, //
};
use plotters::{
    coord::ranged1d::SegmentValue,
    prelude::*, //
};

use mymap_bench_record::{
    gpio,
    ring::Ratio,
    Comparison,
    Record, //
};

use crate::util::project_root;

const MYMAP: RGBColor = RGBColor(31, 119, 180);
const PEER: RGBColor = RGBColor(255, 127, 14);
const TARGET: RGBColor = RGBColor(214, 39, 40);
const GRID: RGBColor = RGBColor(200, 200, 200);
/// Pixels per measurement, and around the rows (title, axis).
const ROW: u32 = 26;
const FRAME: u32 = 100;
/// Empty rows under the measurements, where the legend goes.
const LEGEND_ROWS: u32 = 3;
const WIDTH: u32 = 960;

/// Where a board's chart is committed, beside its JSON.
pub fn path(board: &str) -> PathBuf {
    project_root().join(format!("bench/{board}.svg"))
}

/// One row: positions on the time-ratio scale.
#[derive(Debug, PartialEq)]
struct Row {
    label: String,
    mymap: f64,
    /// The best peer's position and name.
    peer: Option<(f64, String)>,
    target: Option<f64>,
}

/// A ratio as time relative to the baseline.
fn as_time(c: &Comparison, ratio: f64) -> f64 {
    if c.is_throughput() {
        1.0 / ratio
    } else {
        ratio
    }
}

/// The number in a bound's text, `<= 1` or `>= 0.97`.
fn bound_value(bound: &str) -> Option<f64> {
    bound.trim_start_matches(['<', '>', '=', ' ']).parse().ok()
}

/// The row of a comparison that has a ratio for mymap.
fn row(c: &Comparison) -> Option<Row> {
    let mymap = as_time(c, c.side("mymap")?.ratio?);
    let peer = c.best_peer.as_ref().and_then(|p| {
        let ratio = c.side(p)?.ratio?;
        Some((as_time(c, ratio), p.clone()))
    });
    let target = c.target.as_ref().and_then(|t| {
        let v = bound_value(&t.bound)?;
        if t.against == "best peer" {
            // mymap's time at most v times the peer's, or its throughput at least v times.
            let (p, _) = peer.as_ref()?;
            Some(if c.is_throughput() { p / v } else { p * v })
        } else {
            Some(as_time(c, v))
        }
    });
    let label = match &c.best_peer {
        Some(p) => format!("{} (best: {p})", c.id),
        None => c.id.clone(),
    };
    (mymap.is_finite() && mymap > 0.0).then_some(Row {
        label,
        mymap,
        peer,
        target,
    })
}

/// The row of a ring ratio with a target: a rate ratio inverted (time per record
/// against the other side's), a latency ratio as it is.
fn ring_row(r: &Ratio) -> Option<Row> {
    let time = |x: f64| {
        if r.higher_is_better() {
            1.0 / x
        } else {
            x
        }
    };
    let target = time(bound_value(r.verdict.target.as_deref()?)?);
    let mymap = time(r.verdict.ratio?);
    (mymap.is_finite() && mymap > 0.0).then(|| Row {
        label: format!("ring {}", r.id),
        mymap,
        peer: None,
        target: Some(target),
    })
}

/// The row of a tx ratio with a target: a bound from below (commands/s) is
/// a rate, inverted as the ring's; a bound from above (p99 jitter) as it is.
fn tx_row(r: &gpio::Ratio) -> Option<Row> {
    let bound = r.verdict.target.as_deref()?;
    let time = |x: f64| if bound.starts_with(">=") { 1.0 / x } else { x };
    let target = time(bound_value(bound)?);
    let mymap = time(r.verdict.ratio?);
    (mymap.is_finite() && mymap > 0.0).then(|| Row {
        label: format!("tx {}", r.id),
        mymap,
        peer: None,
        target: Some(target),
    })
}

/// The scale's ends: every position and 1 (the baseline), with some room.
fn range(rows: &[Row]) -> (f64, f64) {
    let values = rows.iter().flat_map(|r| {
        [Some(r.mymap), r.peer.as_ref().map(|p| p.0), r.target]
            .into_iter()
            .flatten()
    });
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((1.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    (lo / 1.5, hi * 1.5)
}

/// The board's chart as SVG text.
pub fn svg(record: &Record) -> Result<String> {
    let mut rows: Vec<Row> = record.target.comparisons.iter().filter_map(row).collect();
    if let Some(ring) = &record.target.ring {
        rows.extend(ring.ratios.iter().filter_map(ring_row));
    }
    if let Some(tx) = &record.target.tx {
        rows.extend(tx.ratios.iter().filter_map(tx_row));
    }
    if rows.is_empty() {
        return Err(anyhow!(
            "bench/{}.json has no ratio for mymap",
            record.board
        ));
    }
    let mut text = String::new();
    let height = FRAME + ROW * (rows.len() as u32 + LEGEND_ROWS);
    draw(record, &rows, &mut text, height).map_err(|e| anyhow!("draw the chart: {e}"))?;
    text.push('\n');
    Ok(text)
}

fn draw(
    record: &Record,
    rows: &[Row],
    text: &mut String,
    height: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(text, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    // Segments 0..=n, counted from the bottom: the legend's, then the rows.
    let n = (rows.len() + LEGEND_ROWS as usize) as i32 - 1;
    let (lo, hi) = range(rows);
    let caption = format!(
        "{}: time relative to the baseline (log scale; left is faster), commit {}",
        record.board, record.commit
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(GRID.mix(0.3))
        .x_desc(if record.target.tx.is_some() {
            "device time / baseline time; ring and tx rows: time per record or command, or p99, / the other side's"
        } else {
            "device time / baseline time; ring rows: time per record, or p99 latency, / the other side's"
        })
        .y_labels(n as usize + 1)
        .y_label_formatter(&|v| match v {
            // Row 0 at the top: the rows read in the record's order.
            SegmentValue::CenterOf(i) => rows
                .get((n - i) as usize)
                .map(|r| r.label.clone())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|x| format!("{x}"))
        .label_style(("sans-serif", 12))
        .draw()?;
    let at = |i: usize| SegmentValue::CenterOf(n - i as i32);
    let top = |i: usize| SegmentValue::Exact(n + 1 - i as i32);
    let bottom = |i: usize| SegmentValue::Exact(n - i as i32);
    // The baseline itself, beside the rows.
    let rows_end = SegmentValue::Exact(n + 1 - rows.len() as i32);
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, rows_end), (1.0, SegmentValue::Exact(n + 1))],
        GRID.stroke_width(2),
    )))?;
    // A thin line from mymap to the best peer: the gap to close.
    chart.draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
        let (p, _) = r.peer.as_ref()?;
        Some(PathElement::new(vec![(r.mymap, at(i)), (*p, at(i))], GRID))
    }))?;
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            let t = r.target?;
            Some(PathElement::new(
                vec![(t, top(i)), (t, bottom(i))],
                TARGET.stroke_width(2),
            ))
        }))?
        .label("target")
        .legend(|(x, y)| {
            PathElement::new(vec![(x + 5, y - 7), (x + 5, y + 7)], TARGET.stroke_width(2))
        });
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            let (p, _) = r.peer.as_ref()?;
            Some(TriangleMarker::new((*p, at(i)), 6, PEER.filled()))
        }))?
        .label("best reference C driver (named in the row)")
        .legend(|(x, y)| TriangleMarker::new((x + 5, y), 6, PEER.filled()));
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .map(|(i, r)| Circle::new((r.mymap, at(i)), 5, MYMAP.filled())),
        )?
        .label("mymap")
        .legend(|(x, y)| Circle::new((x + 5, y), 5, MYMAP.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mymap_bench_record::{
        DeviceSide,
        Samples,
        Target, //
    };

    use crate::bench::testdata;

    fn comparison(
        id: &str,
        throughput: bool,
        mymap: f64,
        pfn: f64,
        target: Option<(&str, &str)>,
    ) -> Comparison {
        let side = |device: &str, ratio: f64| DeviceSide {
            device: device.into(),
            ratio: Some(ratio),
            samples: Samples {
                median_s: None,
                mib_s: None,
                minflt: None,
                s: vec![],
            },
        };
        Comparison {
            id: id.into(),
            what: id.into(),
            side: String::new(),
            base: String::new(),
            size: 1 << 24,
            bytes: 1 << 24,
            ratio_is: if throughput {
                "throughput ratio"
            } else {
                "time ratio"
            }
            .into(),
            target: target.map(|(against, bound)| Target {
                against: against.into(),
                bound: bound.into(),
                text: String::new(),
            }),
            met: None,
            best_peer: Some("pfn".into()),
            vs_best_peer: None,
            baseline: Samples {
                median_s: None,
                mib_s: None,
                minflt: None,
                s: vec![],
            },
            devices: vec![side("mymap", mymap), side("pfn", pfn)],
        }
    }

    #[test]
    fn rows_put_every_ratio_on_the_time_scale() {
        let c = comparison("read-1m", false, 1.2, 0.9, Some(("best peer", "<= 1")));
        assert_eq!(
            row(&c),
            Some(Row {
                label: "read-1m (best: pfn)".into(),
                mymap: 1.2,
                peer: Some((0.9, "pfn".into())),
                target: Some(0.9),
            })
        );
        // A throughput ratio of 0.8 is 1.25 times the baseline's time; >= 0.97 is <= 1/0.97.
        let c = comparison("mapped-read", true, 0.8, 1.0, Some(("baseline", ">= 0.97")));
        let r = row(&c).unwrap();
        assert_eq!((r.mymap, r.peer.unwrap().0), (1.25, 1.0));
        assert!((r.target.unwrap() - 1.0 / 0.97).abs() < 1e-12);
        assert_eq!(
            range(&[row(&comparison("x", false, 0.1, 3.0, None)).unwrap()]),
            (0.1 / 1.5, 4.5)
        );
    }

    #[test]
    fn ring_rows_read_as_time_and_need_a_target() {
        let ring = testdata::ring();
        // records/s: 4.439 times the pipe's is 1/4.439 of its time per record; >= 10 is <= 0.1.
        let r = ring_row(&ring.ratios[0]).unwrap();
        assert!((r.mymap - 1.0 / 4.439).abs() < 1e-12);
        assert!((r.target.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(ring_row(&ring.ratios[1]), None);
        let r = ring_row(&ring.ratios[2]).unwrap();
        assert_eq!((r.mymap, r.target), (0.927, Some(1.0)));
    }

    #[test]
    fn tx_rows_read_as_time() {
        let tx = testdata::tx();
        // p99 jitter 0.4 of the loop's, target <= 0.5: as they are.
        let r = tx_row(&tx.ratios[0]).unwrap();
        assert_eq!((r.mymap, r.target), (0.4, Some(0.5)));
        assert_eq!(r.label, "tx jitter-1k-player-vs-cdev-loop");
        // commands/s 20 times the other's is 1/20 of its time per command; >= 10 is <= 0.1.
        let r = tx_row(&tx.ratios[1]).unwrap();
        assert_eq!((r.mymap, r.target), (0.05, Some(0.1)));
    }

    #[test]
    fn the_chart_is_an_svg_with_a_row_per_measurement() {
        let mut record = crate::bench::console::tests::record();
        record.target.comparisons = vec![
            comparison(
                "touch-read-16m",
                false,
                0.17,
                0.04,
                Some(("best peer", "<= 1")),
            ),
            comparison(
                "mapped-read",
                true,
                1.07,
                1.0,
                Some(("baseline", ">= 0.97")),
            ),
            comparison("mmap-16m", false, 0.5, 0.1, None),
        ];
        let svg = svg(&record).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        for id in [
            "touch-read-16m (best: pfn)",
            "mapped-read (best: pfn)",
            "mmap-16m",
        ] {
            assert!(svg.contains(id), "{id} missing");
        }
        assert!(svg.contains("best reference C driver"));
        assert!(!svg.contains("ring records-64"), "no ring in this record");
        record.target.ring = Some(testdata::ring());
        let svg = super::svg(&record).unwrap();
        assert!(svg.contains("ring records-64-ring-spin-vs-pipe"));
        assert!(svg.contains("ring latency-1k-ring-caught-up-vs-pipe"));
        assert!(
            !svg.contains("ring drain-64"),
            "a ratio without a target has no row"
        );
        assert_eq!(
            svg,
            super::svg(&record).unwrap(),
            "the same record draws the same chart"
        );
        assert!(!svg.contains("ring and tx rows"));
        record.target.tx = Some(testdata::tx());
        let svg = super::svg(&record).unwrap();
        assert!(svg.contains("tx jitter-1k-player-vs-cdev-loop"));
        assert!(svg.contains("ring and tx rows"));
    }
}
