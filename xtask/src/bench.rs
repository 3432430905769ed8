//! `cargo xtask bench`: boot each board with `mymap-bench` as the job, add the
//! host's facts to the JSON document it prints, show a table, and keep the
//! result in `bench/<board>.json`, committed, for later runs to compare with.
//!
//! Every board here is emulated by QEMU's TCG (`qemu.rs` never asks for KVM):
//! the ratios, whose two sides run in turn in one process, say more than the
//! absolute figures, which follow the host.

use std::{fmt::Write as _, fs, time::Duration};

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
    flags::{
        self,
        BoardArgs,
        KernelVariant, //
    },
    image::{
        self,
        Job, //
    },
    qemu,
    util::{
        project_root,
        step, //
    },
};

/// The lines around the target's JSON document (mymap-bench's report.rs).
const JSON_BEGIN: &str = "MYMAP-BENCH-JSON: BEGIN";
const JSON_END: &str = "MYMAP-BENCH-JSON: END";
/// The document layout this file reads.
const SCHEMA: u32 = 1;
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
    pub comparisons: Vec<Comparison>,
    pub module_load: Vec<Load>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Comparison {
    pub id: String,
    pub what: String,
    pub ours: String,
    pub base: String,
    pub size: u64,
    pub bytes: u64,
    pub ratio: Option<f64>,
    pub ratio_is: String,
    pub target: Option<String>,
    pub met: Option<bool>,
    pub ours_median_s: Option<f64>,
    pub base_median_s: Option<f64>,
    pub ours_mib_s: Option<f64>,
    pub base_mib_s: Option<f64>,
    /// Median minor page faults per repetition.
    #[serde(default)]
    pub ours_minflt: Option<f64>,
    #[serde(default)]
    pub base_minflt: Option<f64>,
    pub ours_s: Vec<f64>,
    pub base_s: Vec<f64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Load {
    pub size: u64,
    pub modprobe_s: Option<f64>,
    pub node_s: Option<f64>,
    pub modprobe_samples_s: Vec<f64>,
    pub node_samples_s: Vec<f64>,
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
    pub target: TargetReport,
}

impl flags::Bench {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let boards: Vec<String> = if self.boards.is_empty() {
            board::ALL.iter().map(|b| b.to_string()).collect()
        } else {
            self.boards.clone()
        };
        let mut reports = Vec::new();
        let mut failed = Vec::new();
        for name in &boards {
            match self.measure(sh, name) {
                Ok(report) => reports.push(report),
                Err(err) => {
                    eprintln!("==> bench {name}: {err:#}");
                    failed.push(name.as_str());
                }
            }
        }
        for report in reports {
            println!("\n{report}");
        }
        if !failed.is_empty() {
            bail!("bench failed on {}", failed.join(", "));
        }
        Ok(())
    }

    /// Boots one board with the bench; returns its tables.
    fn measure(&self, sh: &Shell, name: &str) -> Result<String> {
        let board = Board::load(name)?;
        let args = BoardArgs {
            board: name.to_string(),
            kernel: KernelVariant::Release,
            kernel_src: self.kernel_src.clone(),
        };
        let job = format!("mymap-bench --reps {}", self.reps);
        let image = image::build(sh, &board, &args, None, Job::Command(job))?;
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
                    let old: Record = serde_json::from_str(&text)
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
            fs::write(&file, serde_json::to_string_pretty(&record)? + "\n")
                .with_context(|| format!("write {path}"))?;
            eprintln!("    wrote {path}");
        }
        Ok(out)
    }
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

/// The checkout's commit, `+dirty` when tracked files differ from it.
fn commit(sh: &Shell) -> String {
    let Ok(hash) = cmd!(sh, "git rev-parse --short HEAD")
        .quiet()
        .ignore_stderr()
        .read()
    else {
        return "unknown".into();
    };
    let dirty = cmd!(sh, "git status --porcelain --untracked-files=no")
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
    out.push_str(
        "| measurement | buffer | mymap | baseline | ratio | target | met | page faults |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for c in &t.comparisons {
        let (ours, base) = if c.ratio_is.starts_with("throughput") {
            let mib = |m: Option<f64>| m.map(|m| format!("{m:.1} MiB/s")).unwrap_or_default();
            (mib(c.ours_mib_s), mib(c.base_mib_s))
        } else {
            (time_text(c.ours_median_s), time_text(c.base_median_s))
        };
        let met = match c.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let faults = match (c.ours_minflt, c.base_minflt) {
            (Some(o), Some(b)) => format!("{o} / {b}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {ours} | {base} | {} | {} | {met} | {faults} |",
            c.what,
            size_text(c.size),
            ratio_text(c.ratio),
            c.target.as_deref().unwrap_or("")
        );
    }
    out.push_str("\n| module load | `modprobe` | until `/dev/mymap` has group `mymap` |\n");
    out.push_str("| --- | --- | --- |\n");
    for l in &t.module_load {
        let _ = writeln!(
            out,
            "| `size={}` | {} | {} |",
            size_text(l.size),
            time_text(l.modprobe_s),
            time_text(l.node_s)
        );
    }
    let at = |s: Option<f64>| {
        s.map(|s| format!("{s:.2} s"))
            .unwrap_or_else(|| "not found".into())
    };
    let _ = writeln!(
        out,
        "\nBoot to `/dev/mymap` registered (printk time of the driver's load line): {}; \
         `mymap-bench` started at {}.\nmymap.ko: {} bytes; mymap-read: {} bytes.",
        at(r.boot_to_device_s),
        at(r.boot_to_bench_s),
        r.mymap_ko_bytes,
        r.mymap_read_bytes
    );
    out
}

/// Each ratio against an earlier record of the same board.
pub fn compare(old: &Record, new: &Record) -> String {
    let mut out = format!(
        "Against the committed record (commit {}, kernel {}):\n\n\
         | id | committed ratio | this run | change |\n| --- | --- | --- | --- |\n",
        old.commit, old.kernel_release
    );
    for c in &new.target.comparisons {
        let before = old
            .target
            .comparisons
            .iter()
            .find(|o| o.id == c.id)
            .and_then(|o| o.ratio);
        let change = match (before, c.ratio) {
            (Some(b), Some(n)) if b != 0.0 => format!("{:+.1}%", (n / b - 1.0) * 100.0),
            _ => "new".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change} |",
            c.id,
            before.map(|b| format!("{b:.3}")).unwrap_or_default(),
            ratio_text(c.ratio)
        );
    }
    out
}

#[cfg(test)]
mod tests {
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
  \"schema\": 1,
  \"kernel\": \"7.3.4\",
  \"page_size\": 4096,
  \"reps\": 3,
  \"uptime_at_start_s\": 20.5,
  \"comparisons\": [
    {\"id\": \"mapped-read\", \"what\": \"read through a mapping vs anonymous memory\", \"ours\": \"m\", \"base\": \"a\", \"size\": 16777216, \"bytes\": 16777216, \"ratio\": 0.99, \"ratio_is\": \"throughput ratio\", \"target\": \">= 0.97\", \"met\": true, \"ours_median_s\": 0.04, \"base_median_s\": 0.0396, \"ours_mib_s\": 400, \"base_mib_s\": 404.0, \"ours_minflt\": 0, \"base_minflt\": 0, \"ours_s\": [0.04], \"base_s\": [0.0396]},
[   40.100000] mymap: 1 device(s) of 65536 bytes: /dev/mymap
    {\"id\": \"touch-read-16m\", \"what\": \"mmap + first read vs MAP_POPULATE\", \"ours\": \"m\", \"base\": \"p\", \"size\": 16777216, \"bytes\": 16777216, \"ratio\": 0.2, \"ratio_is\": \"time ratio\", \"target\": \"<= 0.06\", \"met\": false, \"ours_median_s\": 0.002, \"base_median_s\": 0.01, \"ours_mib_s\": 8000, \"base_mib_s\": 1600, \"ours_minflt\": 0, \"base_minflt\": 4096, \"ours_s\": [0.002], \"base_s\": [0.01]},
    {\"id\": \"read-4k\", \"what\": \"read() in 4 KiB chunks vs memcpy\", \"ours\": \"r\", \"base\": \"c\", \"size\": 16777216, \"bytes\": 16777216, \"ratio\": null, \"ratio_is\": \"time ratio\", \"target\": null, \"met\": null, \"ours_median_s\": null, \"base_median_s\": null, \"ours_mib_s\": null, \"base_mib_s\": null, \"ours_s\": [], \"base_s\": []}
  ],
  \"module_load\": [
    {\"size\": 65536, \"modprobe_s\": 0.021, \"node_s\": 0.05, \"modprobe_samples_s\": [0.021], \"node_samples_s\": [0.05]}
  ]
}
MYMAP-BENCH-JSON: END
MYMAP-JOB: END rc=0
";

    fn record() -> Record {
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
            target: extract(CONSOLE).unwrap(),
        }
    }

    #[test]
    fn the_document_is_found_between_the_markers_without_kernel_lines() {
        let report = extract(CONSOLE).unwrap();
        assert_eq!(report.kernel, "7.3.4");
        assert_eq!(report.comparisons.len(), 3);
        assert_eq!(report.comparisons[1].met, Some(false));
        assert_eq!(report.comparisons[2].ratio, None);
        assert_eq!(report.module_load[0].node_s, Some(0.05));
    }

    #[test]
    fn missing_markers_and_other_schemas_are_errors() {
        assert!(extract("MYMAP-JOB: END rc=1\n").is_err());
        let cut = CONSOLE.replace("MYMAP-BENCH-JSON: END", "");
        assert!(extract(&cut)
            .unwrap_err()
            .to_string()
            .contains("no MYMAP-BENCH-JSON: END"));
        let newer = CONSOLE.replace("\"schema\": 1", "\"schema\": 2");
        assert!(extract(&newer)
            .unwrap_err()
            .to_string()
            .contains("schema 2"));
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
    fn the_record_survives_a_round_trip_through_its_file() {
        let r = record();
        let text = serde_json::to_string_pretty(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
        // Host facts first, the target's document last.
        assert!(text.find("\"board\"").unwrap() < text.find("\"target\"").unwrap());
    }

    #[test]
    fn the_markdown_table_has_a_row_per_comparison_and_load() {
        let md = markdown(&record());
        assert!(
            md.starts_with("### qemu-aarch64-virt (QEMU virt)\n\nEmulated (TCG) on Some CPU"),
            "{md}"
        );
        assert!(md.contains("(2 CPUs), load average 1.2; kernel"), "{md}");
        assert!(
            md.contains("| read through a mapping vs anonymous memory | 16 MiB | 400.0 MiB/s | 404.0 MiB/s | 0.990 | >= 0.97 | yes | 0 / 0 |"),
            "{md}"
        );
        assert!(
            md.contains("| mmap + first read vs MAP_POPULATE | 16 MiB | 2.000 ms | 10.0 ms | 0.200 | <= 0.06 | **no** | 0 / 4096 |"),
            "{md}"
        );
        assert!(
            md.contains("| read() in 4 KiB chunks vs memcpy | 16 MiB |  |  | n/a |  |  |  |"),
            "{md}"
        );
        assert!(md.contains("| `size=64 KiB` | 21.0 ms | 50.0 ms |"), "{md}");
        assert!(
            md.contains("load line): 16.67 s; `mymap-bench` started at 17.00 s."),
            "{md}"
        );
        assert!(
            md.contains("mymap.ko: 100 bytes; mymap-read: 200 bytes."),
            "{md}"
        );
    }

    #[test]
    fn compare_gives_the_relative_change_of_each_ratio() {
        let old = record();
        let mut new = record();
        new.target.comparisons[0].ratio = Some(0.891);
        new.target.comparisons[1].id = "touch-read-64m".into();
        let text = compare(&old, &new);
        assert!(
            text.contains("| mapped-read | 0.990 | 0.891 | -10.0% |"),
            "{text}"
        );
        assert!(
            text.contains("| touch-read-64m |  | 0.200 | new |"),
            "{text}"
        );
        assert!(text.contains("| read-4k |  | n/a | new |"), "{text}");
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
