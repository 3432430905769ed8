//! A record as Markdown: its comparisons, module loads and facts, then the
//! ring's, the GPIO producer's and the tx ring's tables; and the targets table, a column per
//! board.

use std::fmt::Write as _;

use mymap_bench_record::{
    Comparison,
    Record, //
};

use super::{
    gpio, ring,
    text::{
        count_text,
        head,
        met_text,
        ratio_text,
        row,
        size_text,
        target_rows,
        time_text,
        Targeted, //
    },
    tx,
};

/// The record as Markdown: the comparisons, the module loads, the facts.
pub fn markdown(r: &Record) -> String {
    let mut out = String::new();
    let t = &r.target;
    let _ = writeln!(out, "### {} ({})\n", r.board, r.description);
    let _ = writeln!(
        out,
        "Emulated ({}) on {}, load average {}; kernel {}; commit {}; \
         {} repetitions per side, medians.\n",
        r.accelerator.to_uppercase(),
        r.host_cpu,
        r.host_load
            .map(|l| format!("{l:.1}"))
            .unwrap_or_else(|| "unknown".into()),
        r.kernel_release,
        r.commit,
        t.reps
    );
    let labels: Vec<&str> = t.devices.iter().map(|d| d.label.as_str()).collect();
    let ids: Vec<&str> = t.devices.iter().map(|d| d.id.as_str()).collect();
    let faults = format!("page faults ({} / baseline)", ids.join(" / "));
    let mut columns = vec!["measurement", "buffer", "baseline"];
    columns.extend(&labels);
    columns.extend(["mymap / best peer", "target", "met", &faults]);
    head(&mut out, &columns);
    for c in &t.comparisons {
        let value = |median_s: Option<f64>, mib_s: Option<f64>| {
            if c.is_throughput() {
                mib_s.map(|m| format!("{m:.1} MiB/s")).unwrap_or_default()
            } else {
                time_text(median_s)
            }
        };
        let mut cells = vec![
            c.what.clone(),
            size_text(c.size),
            value(c.baseline.median_s, c.baseline.mib_s),
        ];
        let mut faults = Vec::new();
        for d in &t.devices {
            let side = c.side(&d.id);
            cells.push(
                side.map(|s| {
                    let value = value(s.samples.median_s, s.samples.mib_s);
                    format!("{value} ({})", ratio_text(s.ratio))
                })
                .unwrap_or_default(),
            );
            faults.push(count_text(side.and_then(|s| s.samples.minflt)));
        }
        faults.push(count_text(c.baseline.minflt));
        cells.push(match (c.vs_best_peer, &c.best_peer) {
            (Some(r), Some(peer)) => format!("{r:.3} ({peer})"),
            _ => String::new(),
        });
        cells.push(
            c.target
                .as_ref()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
        );
        cells.push(met_text(c.met).into());
        cells.push(faults.join(" / "));
        row(&mut out, cells);
    }
    out.push('\n');
    let mut columns = vec!["module load: `modprobe` / until the node has group `mymap`"];
    columns.extend(&labels);
    head(&mut out, &columns);
    for l in &t.module_load {
        let mut cells = vec![format!("`size={}`", size_text(l.size))];
        for d in &t.devices {
            let side = l.devices.iter().find(|s| s.device == d.id);
            cells.push(
                side.map(|s| format!("{} / {}", time_text(s.modprobe_s), time_text(s.node_s)))
                    .unwrap_or_default(),
            );
        }
        row(&mut out, cells);
    }
    let at = |s: Option<f64>| {
        s.map(|s| format!("{s:.2} s"))
            .unwrap_or_else(|| "not found".into())
    };
    let peers: Vec<String> = r
        .peer_modules
        .iter()
        .map(|p| format!("; {}.ko: {} bytes", p.module, p.bytes))
        .collect();
    let _ = writeln!(
        out,
        "\nBoot to `/dev/mymap` registered (printk time of the driver's load line): {}; \
         `mymap-bench` started at {}.\nmymap.ko: {} bytes; mymap-read: {} bytes{}.",
        at(r.boot_to_device_s),
        at(r.boot_to_bench_s),
        r.mymap_ko_bytes,
        r.mymap_read_bytes,
        peers.concat()
    );
    if let Some(ring) = &t.ring {
        out.push('\n');
        out.push_str(&ring::markdown(ring));
    }
    if let Some(g) = &t.gpio {
        out.push('\n');
        out.push_str(&gpio::markdown(g));
    }
    if let Some(t) = &t.tx {
        out.push('\n');
        out.push_str(&tx::markdown(t));
    }
    out
}

/// A comparison's target bounds mymap's ratio or mymap against the best peer.
impl Targeted for Comparison {
    fn id(&self) -> &str {
        &self.id
    }

    fn label(&self) -> Option<String> {
        let target = &self.target.as_ref()?.text;
        Some(format!("{}, {}: {target}", self.what, size_text(self.size)))
    }

    fn verdict(&self) -> (Option<bool>, Option<f64>) {
        let figure = match self.target.as_ref().map(|t| t.against.as_str()) {
            Some("best peer") => self.vs_best_peer,
            Some(_) => self.side("mymap").and_then(|s| s.ratio),
            None => None,
        };
        (self.met, figure)
    }
}

/// One row per target, one column per board: met or missed, with the figure
/// the target bounds (mymap's ratio, or mymap against the best peer).
pub fn targets_markdown(records: &[Record]) -> String {
    let mut out = String::new();
    let mut columns = vec!["target"];
    columns.extend(records.iter().map(|r| r.board.as_str()));
    head(&mut out, &columns);
    out.push_str(&target_rows(records, |r| &r.target.comparisons));
    out.push_str(&target_rows(records, |r| {
        r.target.ring.as_ref().map_or(&[][..], |g| &g.ratios)
    }));
    out.push_str(&target_rows(records, |r| {
        r.target.gpio.as_ref().map_or(&[][..], |g| &g.ratios)
    }));
    out.push_str(&target_rows(records, |r| {
        r.target.tx.as_ref().map_or(&[][..], |t| &t.ratios)
    }));
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
    fn the_markdown_table_has_a_column_per_device() {
        let md = markdown(&record());
        assert!(
            md.starts_with("### qemu-aarch64-virt (QEMU virt)\n\nEmulated (TCG) on Some CPU"),
            "{md}"
        );
        assert!(md.contains("(2 CPUs), load average 1.2; kernel"), "{md}");
        assert!(
            md.contains("| measurement | buffer | baseline | mymap | remap_pfn_range | mymap / best peer | target | met | page faults (mymap / pfn / baseline) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"),
            "{md}"
        );
        assert!(
            md.contains("| read through a mapping vs anonymous memory | 16 MiB | 404.0 MiB/s | 400.0 MiB/s (0.990) | 444.4 MiB/s (1.100) | 0.900 (pfn) | >= 0.97 | yes | 0 / 0 / 0 |"),
            "{md}"
        );
        assert!(
            md.contains("| mmap + first read vs MAP_POPULATE | 16 MiB | 10.0 ms | 2.000 ms (0.200) | 0.400 ms (0.040) | 5.000 (pfn) | <= 1 x best peer | **no** | 0 / 0 / 4096 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| read() in 4 KiB chunks vs memcpy | 16 MiB |  |  (n/a) |  |  |  |  | - / - / - |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| `size=64 KiB` | 21.0 ms / 50.0 ms | 11.0 ms / 20.0 ms |"),
            "{md}"
        );
        assert!(
            md.contains("load line): 16.67 s; `mymap-bench` started at 17.00 s."),
            "{md}"
        );
        assert!(
            md.contains("mymap.ko: 100 bytes; mymap-read: 200 bytes; mymap_pfn.ko: 300 bytes."),
            "{md}"
        );
        let mut with_ring = record();
        with_ring.target.ring = Some(testdata::ring());
        let md = markdown(&with_ring);
        assert!(
            md.contains("mymap_pfn.ko: 300 bytes.\n\n**Ring** (`/dev/mymap-ring0`"),
            "{md}"
        );
    }

    #[test]
    fn records_of_schema_2_have_no_ring_tables() {
        let mut old = serde_json::to_value(record()).unwrap();
        old["target"]["schema"] = 2.into();
        old["target"].as_object_mut().unwrap().remove("ring");
        let r: Record = serde_json::from_value(old).unwrap();
        assert_eq!(r.target.ring, None);
        assert!(!markdown(&r).contains("**Ring**"));
    }

    #[test]
    fn the_targets_table_has_a_row_per_target_and_a_column_per_board() {
        let mut other = record();
        other.board = "raspberrypi4".into();
        other.target.comparisons[1].met = Some(true);
        other.target.comparisons[1].vs_best_peer = Some(0.95);
        let md = targets_markdown(&[record(), other]);
        assert_eq!(
            md,
            "| target | qemu-aarch64-virt | raspberrypi4 |\n| --- | --- | --- |\n\
             | read through a mapping vs anonymous memory, 16 MiB: >= 0.97 | met (0.990) | met (0.990) |\n\
             | mmap + first read vs MAP_POPULATE, 16 MiB: <= 1 x best peer | missed (5.000) | met (0.950) |\n"
        );
    }

    #[test]
    fn the_ring_gpio_and_tx_targets_join_the_targets_table() {
        let mut with = record();
        with.target.ring = Some(testdata::ring());
        with.target.gpio = Some(testdata::gpio());
        with.target.tx = Some(testdata::tx());
        let md = targets_markdown(&[with.clone(), record()]);
        assert!(
            md.contains(
                "| ring, spinning consumer / pipe, records/s: >= 10 | missed (4.439) | n/a |\n\
                 | p99 latency at 1000 records/s, ring (caught-up) / pipe: <= 1 | met (0.927) | n/a |\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("| GPIO edge to consumer wakeup, p99: ring / character device: <= 1 | met (0.600) | n/a |"),
            "{md}"
        );
        assert!(
            md.contains("| commands accepted from one thread, per second: tx ring, one kick per batch / one kick per command: >= 10 | met (20.000) | n/a |"),
            "{md}"
        );
        assert!(markdown(&with).contains("GPIO edge latency: gpio-sim chip `mymap-bench-sim`"));
        assert!(markdown(&with).contains("Toggle jitter: gpio-sim chip `mymap-bench-tx`"));
    }
}
