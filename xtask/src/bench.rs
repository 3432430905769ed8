//! `cargo xtask bench`: boot each board with `mymap-bench` as the job, add the
//! host's facts to the JSON document it prints, show a table, and keep the
//! result in `bench/<board>.json`, committed, for later runs to compare with.
//!
//! Every board here is emulated by QEMU's TCG (`qemu.rs` never asks for KVM):
//! the ratios, whose two sides run in turn in one process, say more than the
//! absolute figures, which follow the host.

use std::{
    fmt::Write as _,
    fs,
    path::PathBuf,
    time::Duration, //
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use serde::{
    Deserialize,
    Serialize, //
};
use xshell::{
    cmd,
    Shell, //
};

use crate::{
    board::{
        self,
        Board, //
    },
    driver,
    flags::{
        self,
        BoardArgs,
        KernelVariant, //
    },
    image::{
        self,
        Job,
        Purpose, //
    },
    kernel, qemu,
    util::{
        checkout_dir,
        project_root,
        step, //
    },
};

mod chart;
mod gpio;
mod json;
mod ring;

pub use gpio::Gpio;
pub use ring::Ring;

/// The lines around the target's JSON document (mymap-bench's report.rs).
const JSON_BEGIN: &str = "MYMAP-BENCH-JSON: BEGIN";
const JSON_END: &str = "MYMAP-BENCH-JSON: END";
/// The document layout mymap-bench prints (2: a side per device, the peers;
/// 3: the ring measurements; 4: the GPIO producer's). Committed records of
/// schema 2 and 3 still read, without a ring or without GPIO figures.
const SCHEMA: u32 = 4;
/// What mymap-bench writes to the kernel log when it starts.
const BENCH_STARTED: &str = "mymap-bench: started";

/// What `mymap-bench` measured (its README describes the fields).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TargetReport {
    pub schema: u32,
    pub kernel: String,
    pub page_size: u64,
    pub reps: u32,
    pub uptime_at_start_s: f64,
    /// mymap first, then the reference C drivers measured.
    pub devices: Vec<DeviceInfo>,
    pub comparisons: Vec<Comparison>,
    pub module_load: Vec<Load>,
    /// The ring measurements (schema 3); absent from older records.
    #[serde(default)]
    pub ring: Option<Ring>,
    /// The GPIO producer's measurements (schema 4); absent from older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpio: Option<Gpio>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// `mymap`, `pfn`, `vfault`: the name sides carry.
    pub id: String,
    pub module: String,
    pub node: String,
    /// How tables name it: `mymap`, `remap_pfn_range`, `vmalloc + fault`.
    pub label: String,
    /// `driver` (mymap) or `peer` (a reference C driver).
    pub role: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Comparison {
    pub id: String,
    pub what: String,
    /// What each device's side does, and the baseline.
    pub side: String,
    pub base: String,
    pub size: u64,
    pub bytes: u64,
    pub ratio_is: String,
    pub target: Option<Target>,
    pub met: Option<bool>,
    /// The peer with the best ratio against the baseline.
    pub best_peer: Option<String>,
    /// mymap against that peer, pair by pair, in the kind of `ratio_is`.
    pub vs_best_peer: Option<f64>,
    pub baseline: Samples,
    pub devices: Vec<DeviceSide>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Target {
    /// `baseline` (a bound on mymap's ratio) or `best peer` (on `vs_best_peer`).
    pub against: String,
    /// `<= 1`, `>= 0.97`.
    pub bound: String,
    pub text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Samples {
    pub median_s: Option<f64>,
    pub mib_s: Option<f64>,
    /// Median minor page faults per repetition.
    pub minflt: Option<f64>,
    pub s: Vec<f64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeviceSide {
    pub device: String,
    /// Against the baseline, in the kind of `ratio_is`.
    pub ratio: Option<f64>,
    pub median_s: Option<f64>,
    pub mib_s: Option<f64>,
    pub minflt: Option<f64>,
    pub s: Vec<f64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Load {
    pub size: u64,
    pub devices: Vec<LoadSide>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LoadSide {
    pub device: String,
    pub modprobe_s: Option<f64>,
    pub node_s: Option<f64>,
    pub modprobe_samples_s: Vec<f64>,
    pub node_samples_s: Vec<f64>,
}

impl Comparison {
    /// Whether the ratios are of throughput (higher is better) rather than of time.
    pub fn is_throughput(&self) -> bool {
        self.ratio_is.starts_with("throughput")
    }

    pub fn side(&self, device: &str) -> Option<&DeviceSide> {
        self.devices.iter().find(|d| d.device == device)
    }
}

/// A reference driver's module file in the bench image.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PeerModule {
    pub module: String,
    pub bytes: u64,
}

/// `bench/<board>.json`: the target's document and the host's facts.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Record {
    pub board: String,
    pub description: String,
    /// Always true here: QEMU without hardware virtualisation.
    pub emulated: bool,
    /// QEMU's accelerator: `tcg`, as the xtask never passes `-accel`.
    pub accelerator: String,
    pub host_cpu: String,
    /// The host's load average over the last minute as the board booted: other
    /// work on the host slows the emulated board, unevenly.
    #[serde(default)]
    pub host_load: Option<f64>,
    pub kernel_release: String,
    pub kernel_source: String,
    /// `git describe`-like: the commit measured, `+dirty` with local changes.
    pub commit: String,
    /// The printk time of the driver's load line at boot: `/dev/mymap` is registered.
    pub boot_to_device_s: Option<f64>,
    /// The printk time of mymap-bench's start (after init, udev and the module).
    pub boot_to_bench_s: Option<f64>,
    pub mymap_ko_bytes: u64,
    pub mymap_read_bytes: u64,
    /// The reference C drivers added to the bench image (bench/peers/).
    #[serde(default)]
    pub peer_modules: Vec<PeerModule>,
    pub target: TargetReport,
}

impl flags::Bench {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let boards: Vec<String> = if self.boards.is_empty() {
            board::ALL.iter().map(|b| b.to_string()).collect()
        } else {
            self.boards.clone()
        };
        if self.render {
            return render(&boards, self.check);
        }
        let mut reports = Vec::new();
        let mut records = Vec::new();
        let mut failed = Vec::new();
        for name in &boards {
            match self.measure(sh, name) {
                Ok((report, record)) => {
                    reports.push(report);
                    records.push(record);
                }
                Err(err) => {
                    eprintln!("==> bench {name}: {err:#}");
                    failed.push(name.as_str());
                }
            }
        }
        for report in reports {
            println!("\n{report}");
        }
        if !records.is_empty() {
            println!("\n{}", targets_markdown(&records));
        }
        if !failed.is_empty() {
            bail!("bench failed on {}", failed.join(", "));
        }
        Ok(())
    }

    /// Boots one board with the bench; returns its tables and its record.
    fn measure(&self, sh: &Shell, name: &str) -> Result<(String, Record)> {
        let board = Board::load(name)?;
        let args = BoardArgs {
            board: name.to_string(),
            kernel: KernelVariant::Release,
            kernel_src: self.kernel_src.clone(),
        };
        // The bench image is the test image without its test-only modules, plus
        // the reference drivers, as an overlay; depmod runs after overlays, so
        // modprobe finds them.
        let kernel = kernel::build(sh, &board, &args, false)?;
        let peers = driver::build_peers(&board, &kernel)?;
        let overlay = peers_overlay(&board, &kernel, &peers)?;
        // The kernel's tick, for the GPIO record-timestamp target.
        let config = fs::read_to_string(kernel.dir.join(".config"))
            .with_context(|| format!("read {}/.config", kernel.dir.display()))?;
        let tick = gpio::config_hz(&config)
            .map(|hz| format!(" --tick-hz {hz}"))
            .unwrap_or_default();
        let job = format!("mymap-bench --reps {}{tick}", self.reps);
        let image = image::build(
            sh,
            &board,
            &args,
            Some(&overlay),
            Job::Command(job),
            Purpose::Bench,
        )?;
        let host_load = host_load();
        let boot = step(
            &format!("bench {} ({})", board.name, board.description),
            || {
                qemu::job(
                    &board,
                    &image,
                    Duration::from_secs(self.timeout),
                    self.verbose,
                )
            },
        )?;
        let log = boot.log.display();
        let splats = qemu::splats(&boot.console);
        if !splats.is_empty() {
            bail!(
                "kernel reported problems (console log {log}):\n  {}",
                splats.join("\n  ")
            );
        }
        if boot.rc != 0 {
            bail!(
                "mymap-bench exited with status {}; console log {log}",
                boot.rc
            );
        }
        let target = extract(&boot.console).with_context(|| format!("console log {log}"))?;
        let size = |path: &std::path::Path| {
            let meta = fs::metadata(path).with_context(|| format!("size of {}", path.display()));
            meta.map(|m| m.len())
        };
        let mymap_read = image
            .binaries
            .iter()
            .find(|b| b.dest.ends_with("/mymap-read"))
            .context("mymap-read is not among the image's binaries")?;
        let peer_modules = driver::PEERS
            .iter()
            .zip(&peers)
            .map(|(module, path)| {
                Ok(PeerModule {
                    module: module.to_string(),
                    bytes: size(path)?,
                })
            })
            .collect::<Result<_>>()?;
        let record = Record {
            board: board.name.clone(),
            description: board.description.clone(),
            emulated: true,
            accelerator: "tcg".into(),
            host_cpu: host_cpu(),
            host_load,
            kernel_release: image.kernel.release.clone(),
            kernel_source: image.kernel.source.clone(),
            commit: commit(sh),
            boot_to_device_s: device_registered_at(&boot.console),
            boot_to_bench_s: bench_started_at(&boot.console),
            mymap_ko_bytes: size(&image.module)?,
            mymap_read_bytes: size(&mymap_read.path)?,
            peer_modules,
            target,
        };
        let mut out = markdown(&record);
        let path = format!("bench/{name}.json");
        if self.compare {
            match cmd!(sh, "git show HEAD:{path}")
                .quiet()
                .ignore_stderr()
                .read()
            {
                Ok(text) => {
                    let old: serde_json::Value = serde_json::from_str(&text)
                        .with_context(|| format!("parse the committed {path}"))?;
                    out.push('\n');
                    out.push_str(&compare(&old, &record));
                }
                Err(_) => out.push_str(&format!("\nNo committed {path} to compare with.\n")),
            }
        }
        if !self.no_write {
            let file = project_root().join(&path);
            fs::create_dir_all(file.parent().unwrap())?;
            fs::write(&file, json::readable(&record)?).with_context(|| format!("write {path}"))?;
            eprintln!("    wrote {path}");
            let svg = chart::path(name);
            fs::write(&svg, chart::svg(&record)?)
                .with_context(|| format!("write {}", svg.display()))?;
            eprintln!("    wrote bench/{name}.svg");
        }
        Ok((out, record))
    }
}

/// `lib/modules/<release>/extra/` with the reference drivers, in a directory of
/// the cache that `image::build` copies over the test image.
fn peers_overlay(board: &Board, kernel: &kernel::Kernel, peers: &[PathBuf]) -> Result<PathBuf> {
    let overlay = checkout_dir()?
        .join("bench")
        .join(&board.name)
        .join("overlay");
    if overlay.exists() {
        fs::remove_dir_all(&overlay)?;
    }
    let extra = overlay
        .join("lib/modules")
        .join(&kernel.release)
        .join("extra");
    fs::create_dir_all(&extra)?;
    for ko in peers {
        fs::copy(ko, extra.join(ko.file_name().unwrap()))
            .with_context(|| format!("copy {} into the bench overlay", ko.display()))?;
    }
    Ok(overlay)
}

/// Fails if a board's committed chart is not what its committed record draws.
pub fn check_charts(boards: &[String]) -> Result<()> {
    render(boards, true)
}

/// Re-renders each board's chart from its committed record and prints its
/// tables; with `check`, fails if a chart differs from what the record gives.
fn render(boards: &[String], check: bool) -> Result<()> {
    let mut stale = Vec::new();
    let mut records = Vec::new();
    for name in boards {
        let path = project_root().join(format!("bench/{name}.json"));
        let text = fs::read_to_string(&path).with_context(|| format!("read bench/{name}.json"))?;
        let record: Record = serde_json::from_str(&text).with_context(|| {
            format!(
                "bench/{name}.json is not a schema 2 to {SCHEMA} record: run `cargo xtask bench --board {name}`"
            )
        })?;
        let svg = chart::svg(&record)?;
        let file = chart::path(name);
        if check {
            if fs::read_to_string(&file).ok().as_deref() != Some(svg.as_str()) {
                stale.push(format!("bench/{name}.svg"));
            }
        } else {
            fs::write(&file, svg).with_context(|| format!("write {}", file.display()))?;
            eprintln!("    wrote bench/{name}.svg");
            println!("\n{}", markdown(&record));
        }
        records.push(record);
    }
    if !check {
        println!("\n{}", targets_markdown(&records));
    }
    if !stale.is_empty() {
        bail!(
            "{} not up to date with the JSON beside it: run `cargo xtask bench --render`",
            stale.join(", ")
        );
    }
    Ok(())
}

/// The JSON document between the marker lines of the console, without the
/// kernel's lines that the console may have put among them.
pub fn extract(console: &str) -> Result<TargetReport> {
    let mut lines = console.lines().map(str::trim_end);
    if !lines.any(|l| l.trim() == JSON_BEGIN) {
        bail!("no {JSON_BEGIN} line: mymap-bench printed no results");
    }
    let mut text = String::new();
    let mut ended = false;
    for line in lines {
        if line.trim() == JSON_END {
            ended = true;
            break;
        }
        if printk_time(line).is_none() {
            text.push_str(line);
            text.push('\n');
        }
    }
    if !ended {
        bail!("no {JSON_END} line after {JSON_BEGIN}");
    }
    let report: TargetReport =
        serde_json::from_str(&text).context("parse mymap-bench's JSON document")?;
    if report.schema != SCHEMA {
        bail!(
            "mymap-bench's JSON has schema {}, this xtask reads {SCHEMA}",
            report.schema
        );
    }
    Ok(report)
}

/// The time of a kernel console line, `[   16.668064] ...`.
fn printk_time(line: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (time, _) = rest.split_once(']')?;
    time.trim().parse().ok()
}

/// The printk time of the driver's first load line: `[ t] mymap: N device(s) ...`.
pub fn device_registered_at(console: &str) -> Option<f64> {
    first_printk(console, "mymap: ", " device(s) ")
}

/// The printk time of the line mymap-bench writes to the kernel log at start.
pub fn bench_started_at(console: &str) -> Option<f64> {
    first_printk(console, BENCH_STARTED, "")
}

/// The time of the first kernel line whose message starts with `message` and
/// contains `also`. Init may print on the same line before the kernel's
/// (`Starting mymap: [ t] mymap: ...`).
fn first_printk(console: &str, message: &str, also: &str) -> Option<f64> {
    let needle = format!("] {message}");
    console.lines().find_map(|line| {
        let at = line.find(&needle)?;
        if !line[at..].contains(also) {
            return None;
        }
        let open = line[..at].rfind('[')?;
        printk_time(&line[open..])
    })
}

/// The host's CPU, which sets the pace of an emulated board.
fn host_cpu() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let text = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = text
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim())
        .unwrap_or("unknown");
    format!("{model} ({cpus} CPUs)")
}

/// The first figure of /proc/loadavg.
fn host_load() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The checkout's commit, `+dirty` when tracked files differ from it, apart
/// from the bench's own output: a run over several boards writes
/// `bench/<board>.json` and `.svg` after each, and the later boards measured
/// the same tree.
fn commit(sh: &Shell) -> String {
    let Ok(hash) = cmd!(sh, "git rev-parse --short HEAD")
        .quiet()
        .ignore_stderr()
        .read()
    else {
        return "unknown".into();
    };
    let outputs = [":(exclude)bench/*.json", ":(exclude)bench/*.svg"];
    let dirty = cmd!(
        sh,
        "git status --porcelain --untracked-files=no -- . {outputs...}"
    )
    .quiet()
    .read()
    .map(|s| !s.trim().is_empty())
    .unwrap_or(false);
    if dirty {
        format!("{hash}+dirty")
    } else {
        hash
    }
}

/// `64 KiB`, `16 MiB`.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// `0.81 ms`, `12.3 ms`, `1.25 s`; empty for no value.
fn time_text(seconds: Option<f64>) -> String {
    match seconds {
        None => String::new(),
        Some(s) if s < 0.01 => format!("{:.3} ms", s * 1e3),
        Some(s) if s < 1.0 => format!("{:.1} ms", s * 1e3),
        Some(s) => format!("{s:.2} s"),
    }
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{r:.3}"))
        .unwrap_or_else(|| "n/a".into())
}

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
    let _ = writeln!(
        out,
        "| measurement | buffer | baseline | {} | mymap / best peer | target | met | page faults ({} / baseline) |",
        labels.join(" | "),
        ids.join(" / ")
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(7 + labels.len()));
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
                side.map(|s| format!("{} ({})", value(s.median_s, s.mib_s), ratio_text(s.ratio)))
                    .unwrap_or_default(),
            );
            faults.push(count_text(side.and_then(|s| s.minflt)));
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
        cells.push(
            match c.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
            .into(),
        );
        cells.push(faults.join(" / "));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(
        out,
        "\n| module load: `modprobe` / until the node has group `mymap` | {} |",
        labels.join(" | ")
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(1 + labels.len()));
    for l in &t.module_load {
        let mut cells = vec![format!("`size={}`", size_text(l.size))];
        for d in &t.devices {
            let side = l.devices.iter().find(|s| s.device == d.id);
            cells.push(
                side.map(|s| format!("{} / {}", time_text(s.modprobe_s), time_text(s.node_s)))
                    .unwrap_or_default(),
            );
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
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
    out
}

/// One row per target, one column per board: met or missed, with the figure
/// the target bounds (mymap's ratio, or mymap against the best peer).
pub fn targets_markdown(records: &[Record]) -> String {
    let mut rows: Vec<(&str, &Comparison)> = Vec::new();
    for r in records {
        for c in r.target.comparisons.iter().filter(|c| c.target.is_some()) {
            if !rows.iter().any(|(id, _)| *id == c.id) {
                rows.push((&c.id, c));
            }
        }
    }
    let boards: Vec<&str> = records.iter().map(|r| r.board.as_str()).collect();
    let mut out = format!(
        "| target | {} |\n|{}\n",
        boards.join(" | "),
        " --- |".repeat(1 + boards.len())
    );
    for (id, first) in rows {
        let target = first.target.as_ref().map(|t| t.text.as_str()).unwrap_or("");
        let mut cells = vec![format!(
            "{}, {}: {target}",
            first.what,
            size_text(first.size)
        )];
        for r in records {
            let c = r.target.comparisons.iter().find(|c| c.id == id);
            let figure = c.and_then(|c| match c.target.as_ref()?.against.as_str() {
                "best peer" => c.vs_best_peer,
                _ => c.side("mymap")?.ratio,
            });
            cells.push(match (c.and_then(|c| c.met), figure) {
                (Some(true), Some(f)) => format!("met ({f:.3})"),
                (Some(false), Some(f)) => format!("missed ({f:.3})"),
                _ => "n/a".into(),
            });
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push_str(&ring::targets_rows(records));
    out.push_str(&gpio::targets_rows(records));
    out
}

/// A median count of page faults: `4096`, `4096.5`, or `-` when unknown.
fn count_text(n: Option<f64>) -> String {
    n.map(|n| format!("{n}")).unwrap_or_else(|| "-".into())
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
        let change = match (before, now) {
            (Some(b), Some(n)) if b != 0.0 => format!("{:+.1}%", (n / b - 1.0) * 100.0),
            _ => "new".into(),
        };
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
        out.push_str(&ring::compare_rows(old, ring));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A console as the bench prints it, with a kernel line in the middle of the document.
    const CONSOLE: &str = "\
[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd083]
Starting mymap: [   16.628501] mymap: loading out-of-tree module taints kernel.
[   16.668064] mymap: 1 device(s) of 65536 bytes: /dev/mymap
OK
MYMAP-JOB: BEGIN
[   17.000100] mymap-bench: started
id           size    mymap  baseline  ratio  target  met
MYMAP-BENCH-JSON: BEGIN
{
  \"schema\": 4,
  \"kernel\": \"7.3.4\",
  \"page_size\": 4096,
  \"reps\": 3,
  \"uptime_at_start_s\": 20.5,
  \"devices\": [
    {\"id\": \"mymap\", \"module\": \"mymap\", \"node\": \"/dev/mymap\", \"label\": \"mymap\", \"role\": \"driver\"},
    {\"id\": \"pfn\", \"module\": \"mymap_pfn\", \"node\": \"/dev/mymap-pfn\", \"label\": \"remap_pfn_range\", \"role\": \"peer\"}
  ],
  \"comparisons\": [
    {\"id\": \"mapped-read\", \"what\": \"read through a mapping vs anonymous memory\", \"side\": \"m\", \"base\": \"a\", \"size\": 16777216, \"bytes\": 16777216, \"ratio_is\": \"throughput ratio: ...\", \"target\": {\"against\": \"baseline\", \"bound\": \">= 0.97\", \"text\": \">= 0.97\"}, \"met\": true, \"best_peer\": \"pfn\", \"vs_best_peer\": 0.9,
      \"baseline\": {\"median_s\": 0.0396, \"mib_s\": 404, \"minflt\": 0, \"s\": [0.0396]},
      \"devices\": [
        {\"device\": \"mymap\", \"ratio\": 0.99, \"median_s\": 0.04, \"mib_s\": 400, \"minflt\": 0, \"s\": [0.04]},
[   40.100000] mymap: 1 device(s) of 65536 bytes: /dev/mymap
        {\"device\": \"pfn\", \"ratio\": 1.1, \"median_s\": 0.036, \"mib_s\": 444.4, \"minflt\": 0, \"s\": [0.036]}
      ]},
    {\"id\": \"touch-read-16m\", \"what\": \"mmap + first read vs MAP_POPULATE\", \"side\": \"m\", \"base\": \"p\", \"size\": 16777216, \"bytes\": 16777216, \"ratio_is\": \"time ratio: ...\", \"target\": {\"against\": \"best peer\", \"bound\": \"<= 1\", \"text\": \"<= 1 x best peer\"}, \"met\": false, \"best_peer\": \"pfn\", \"vs_best_peer\": 5,
      \"baseline\": {\"median_s\": 0.01, \"mib_s\": 1600, \"minflt\": 4096, \"s\": [0.01]},
      \"devices\": [
        {\"device\": \"mymap\", \"ratio\": 0.2, \"median_s\": 0.002, \"mib_s\": 8000, \"minflt\": 0, \"s\": [0.002]},
        {\"device\": \"pfn\", \"ratio\": 0.04, \"median_s\": 0.0004, \"mib_s\": 40000, \"minflt\": 0, \"s\": [0.0004]}
      ]},
    {\"id\": \"read-4k\", \"what\": \"read() in 4 KiB chunks vs memcpy\", \"side\": \"r\", \"base\": \"c\", \"size\": 16777216, \"bytes\": 16777216, \"ratio_is\": \"time ratio: ...\", \"target\": null, \"met\": null, \"best_peer\": null, \"vs_best_peer\": null,
      \"baseline\": {\"median_s\": null, \"mib_s\": null, \"minflt\": null, \"s\": []},
      \"devices\": [
        {\"device\": \"mymap\", \"ratio\": null, \"median_s\": null, \"mib_s\": null, \"minflt\": null, \"s\": []}
      ]}
  ],
  \"module_load\": [
    {\"size\": 65536, \"devices\": [
      {\"device\": \"mymap\", \"modprobe_s\": 0.021, \"node_s\": 0.05, \"modprobe_samples_s\": [0.021], \"node_samples_s\": [0.05]},
      {\"device\": \"pfn\", \"modprobe_s\": 0.011, \"node_s\": 0.02, \"modprobe_samples_s\": [0.011], \"node_samples_s\": [0.02]}
    ]}
  ],
  \"ring\": null
}
MYMAP-BENCH-JSON: END
MYMAP-JOB: END rc=0
";

    pub(crate) fn record() -> Record {
        Record {
            board: "qemu-aarch64-virt".into(),
            description: "QEMU virt".into(),
            emulated: true,
            accelerator: "tcg".into(),
            host_cpu: "Some CPU (2 CPUs)".into(),
            host_load: Some(1.25),
            kernel_release: "7.3.4".into(),
            kernel_source: "linux-source-7.3".into(),
            commit: "abc1234".into(),
            boot_to_device_s: device_registered_at(CONSOLE),
            boot_to_bench_s: bench_started_at(CONSOLE),
            mymap_ko_bytes: 100,
            mymap_read_bytes: 200,
            peer_modules: vec![PeerModule {
                module: "mymap_pfn".into(),
                bytes: 300,
            }],
            target: extract(CONSOLE).unwrap(),
        }
    }

    #[test]
    fn the_document_is_found_between_the_markers_without_kernel_lines() {
        let report = extract(CONSOLE).unwrap();
        assert_eq!(report.kernel, "7.3.4");
        assert_eq!(report.devices[1].label, "remap_pfn_range");
        assert_eq!(report.comparisons.len(), 3);
        assert_eq!(report.comparisons[0].devices.len(), 2);
        assert_eq!(report.comparisons[1].met, Some(false));
        assert_eq!(report.comparisons[1].vs_best_peer, Some(5.0));
        assert_eq!(report.comparisons[2].side("mymap").unwrap().ratio, None);
        assert_eq!(report.module_load[0].devices[1].node_s, Some(0.02));
    }

    #[test]
    fn missing_markers_and_other_schemas_are_errors() {
        assert!(extract("MYMAP-JOB: END rc=1\n").is_err());
        let cut = CONSOLE.replace("MYMAP-BENCH-JSON: END", "");
        assert!(extract(&cut)
            .unwrap_err()
            .to_string()
            .contains("no MYMAP-BENCH-JSON: END"));
        let older = CONSOLE.replace("\"schema\": 4", "\"schema\": 2");
        assert!(extract(&older)
            .unwrap_err()
            .to_string()
            .contains("schema 2"));
        let with_ring = CONSOLE.replace(
            "\"ring\": null",
            &format!("\"ring\": {}", ring::tests::RING_JSON),
        );
        let report = extract(&with_ring).unwrap();
        assert_eq!(report.ring.unwrap().ratios.len(), 3);
    }

    #[test]
    fn the_gpio_part_reads_and_joins_the_tables() {
        let with_gpio = CONSOLE.replace(
            "\"ring\": null",
            &format!("\"ring\": null,\n  \"gpio\": {}", gpio::tests::GPIO_JSON),
        );
        let mut r = record();
        r.target = extract(&with_gpio).unwrap();
        assert_eq!(r.target.gpio, Some(gpio::tests::gpio()));
        assert!(markdown(&r).contains("GPIO edge latency: gpio-sim chip `mymap-bench-sim`"));
        let targets = targets_markdown(&[r.clone(), record()]);
        assert!(
            targets.contains("| GPIO edge to consumer wakeup, p99: ring / character device: <= 1 | met (0.600) | n/a |"),
            "{targets}"
        );
        // A record without GPIO figures writes no `gpio` field, and reads back.
        let text = json::readable(&record()).unwrap();
        assert!(!text.contains("\"gpio\""));
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back.target.gpio, None);
    }

    #[test]
    fn committed_records_of_schema_2_read_without_a_ring() {
        let mut old = serde_json::to_value(record()).unwrap();
        old["target"]["schema"] = 2.into();
        old["target"].as_object_mut().unwrap().remove("ring");
        let r: Record = serde_json::from_value(old).unwrap();
        assert_eq!(r.target.ring, None);
        assert!(!markdown(&r).contains("**Ring**"));
    }

    #[test]
    fn boot_to_device_is_the_first_load_line_even_after_init_text() {
        assert_eq!(device_registered_at(CONSOLE), Some(16.668064));
        let same_line = "Starting mymap: [    9.5] mymap: 2 device(s) of 4096 bytes: /dev/mymap\n";
        assert_eq!(device_registered_at(same_line), Some(9.5));
        assert_eq!(device_registered_at("[ 1.0] mymap: size=0 refused\n"), None);
        assert_eq!(bench_started_at(CONSOLE), Some(17.0001));
        assert_eq!(bench_started_at("mymap-bench: started\n"), None);
    }

    #[test]
    fn the_record_survives_a_round_trip_through_its_readable_file() {
        let r = record();
        let text = json::readable(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
        // Host facts first, the target's document last; samples on one line.
        assert!(text.find("\"board\"").unwrap() < text.find("\"target\"").unwrap());
        assert!(text.contains("\"s\": [0.04]"), "{text}");
    }

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
        with_ring.target.ring = Some(ring::tests::ring());
        let md = markdown(&with_ring);
        assert!(
            md.contains("mymap_pfn.ko: 300 bytes.\n\n**Ring** (`/dev/mymap-ring0`"),
            "{md}"
        );
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
        new.target.ring = Some(ring::tests::ring());
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

    #[test]
    fn sizes_and_times_for_tables() {
        assert_eq!(size_text(65536), "64 KiB");
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(time_text(Some(0.00081)), "0.810 ms");
        assert_eq!(time_text(Some(0.0123)), "12.3 ms");
        assert_eq!(time_text(Some(1.254)), "1.25 s");
        assert_eq!(time_text(None), "");
    }
}
