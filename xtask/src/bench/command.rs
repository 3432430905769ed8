//! The command: build each board's bench image, boot it, gather the target's
//! document and the host's facts into a record, print its tables and keep it
//! in `bench/<board>.json` with its chart; or, with `--render`, boot nothing.

use std::{
    fs,
    path::PathBuf,
    time::Duration, //
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use mymap_bench_record::{
    layout,
    PeerModule,
    Record, //
};
use xshell::{
    cmd,
    Shell, //
};

use super::{
    chart, compare, console, gpio, host,
    markdown::{
        markdown,
        targets_markdown, //
    },
    render,
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

impl flags::Bench {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let boards: Vec<String> = if self.boards.is_empty() {
            board::ALL.iter().map(|b| b.to_string()).collect()
        } else {
            self.boards.clone()
        };
        if self.render {
            return render::render(&boards, self.check);
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
        let host_load = host::load();
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
        let target =
            console::extract(&boot.console).with_context(|| format!("console log {log}"))?;
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
            host_cpu: host::cpu(),
            host_load,
            kernel_release: image.kernel.release.clone(),
            kernel_source: image.kernel.source.clone(),
            commit: host::commit(sh),
            boot_to_device_s: console::device_registered_at(&boot.console),
            boot_to_bench_s: console::bench_started_at(&boot.console),
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
                    out.push_str(&compare::compare(&old, &record));
                }
                Err(_) => out.push_str(&format!("\nNo committed {path} to compare with.\n")),
            }
        }
        if !self.no_write {
            let file = project_root().join(&path);
            fs::create_dir_all(file.parent().unwrap())?;
            fs::write(&file, layout::to_string(&record)?)
                .with_context(|| format!("write {path}"))?;
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
