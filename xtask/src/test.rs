//! `cargo xtask test`: host checks, then the target suite on every board.
//!
//! Target protocol: every test prints one console line,
//! `MYMAP-TEST: ok <suite>/<name>` or `MYMAP-TEST: not ok <suite>/<name>: <why>`.
//! A board fails on any `not ok`, on no test at all, on a kernel splat
//! (`qemu::splats`), on a non-zero job status or on the deadline.

use std::time::Duration;

use anyhow::{
    bail,
    Context,
    Result, //
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
        Job,
        Purpose, //
    },
    qemu, setup,
    util::{
        cargo_home,
        fmt_duration,
        project_root,
        step, //
    },
};

/// The target suite's entry point, installed from tests/target/.
const RUN_ALL: &str = "/usr/libexec/mymap/tests/run-all.sh";

/// What the overlay's `S30mymap` prints at boot once udev has given the node
/// its group, as a Buildroot image's console shows it.
const INIT_OK: &str = "Starting mymap: OK";

/// How long after QEMU starts `INIT_OK` may come, by kernel variant. The
/// script itself gives up after 10 s (printing FAIL); the rest is the boot and
/// udev's coldplug under TCG. Measured over ten suites per board with a kernel
/// build sharing the CPU: at most 31 s on a release kernel, 73 s on the debug
/// (KASAN) kernel; each limit is four times that, as runs on these shared
/// machines spread by 2x.
fn init_deadline(kernel: KernelVariant) -> Duration {
    match kernel {
        KernelVariant::Release => Duration::from_secs(120),
        KernelVariant::Debug | KernelVariant::Kcsan => Duration::from_secs(300),
    }
}

/// How long a board's test boot (boot and the whole target suite) may take,
/// by kernel variant, unless `--timeout` says otherwise. The debug suite, with
/// its 90 s of trinity and 200 load/unload cycles, took 4 min 22 s and 6 min
/// 44 s on `qemu-aarch64-virt` (2026-11-30), and runs on these shared machines
/// spread by 2x: 20 min leaves room for both. The release
/// suite's slowest board (the 32-bit one) takes about 3 min.
fn suite_deadline(kernel: KernelVariant) -> Duration {
    match kernel {
        KernelVariant::Release => Duration::from_secs(900),
        KernelVariant::Debug | KernelVariant::Kcsan => Duration::from_secs(1200),
    }
}

struct Outcome {
    board: String,
    passed: usize,
    failed: usize,
    note: String,
    /// What failed, one line each, repeated in the summary.
    failures: Vec<String>,
}

impl flags::Test {
    pub fn run(self, sh: &Shell) -> Result<()> {
        setup::ensure(sh)?;
        let mut outcomes = Vec::new();
        if !self.no_host {
            outcomes.push(host(sh));
        }
        let boards: Vec<String> = if self.boards.is_empty() {
            board::ALL
                .iter()
                // KASAN with Rust, and KCSAN, exist only for 64-bit kernels.
                .filter(|b| self.kernel == KernelVariant::Release || **b != "raspberrypi4")
                .map(|b| b.to_string())
                .collect()
        } else {
            self.boards.clone()
        };
        for name in &boards {
            let args = BoardArgs {
                board: name.clone(),
                kernel: self.kernel,
                kernel_src: self.kernel_src.clone(),
            };
            let timeout = self
                .timeout
                .map_or(suite_deadline(self.kernel), Duration::from_secs);
            let outcome = target(sh, &args, timeout);
            outcomes.push(outcome.unwrap_or_else(|err| Outcome {
                board: name.clone(),
                passed: 0,
                failed: 1,
                note: "could not test".into(),
                failures: vec![format!("{err:#}")],
            }));
        }

        println!();
        println!("==> summary");
        for o in &outcomes {
            println!(
                "{}: {} passed, {} failed; {}",
                o.board, o.passed, o.failed, o.note
            );
            for failure in &o.failures {
                println!("    {failure}");
            }
        }
        let passed: usize = outcomes.iter().map(|o| o.passed).sum();
        let failed: usize = outcomes.iter().map(|o| o.failed).sum();
        println!("{passed} passed, {failed} failed");
        if failed > 0 {
            bail!("{failed} test(s) failed");
        }
        Ok(())
    }
}

/// Host checks: the workspace's tests, generated code, shell scripts. Each counts
/// as one test in the summary; cargo prints its own per-test lines above.
fn host(sh: &Shell) -> Outcome {
    let checks: [(&str, &dyn Fn() -> Result<()>); 9] = [
        ("cargo test --workspace --all-features", &|| {
            Ok(cmd!(sh, "cargo test --workspace --all-features").run()?)
        }),
        ("cargo xtask codegen --check", &|| crate::codegen::check(sh)),
        // The two library crates stay ready to publish, and documented.
        ("cargo package -p mymap-uapi -p mymap", &|| package(sh)),
        ("cargo doc -p mymap-uapi -p mymap", &|| doc(sh)),
        // The committed charts and bench/README.md's tables are what their JSON records give.
        ("cargo xtask bench --render --check", &|| {
            let boards: Vec<String> = crate::board::ALL.iter().map(|b| b.to_string()).collect();
            crate::bench::check(&boards)
        }),
        ("shellcheck", &|| shellcheck(sh)),
        // The kernel hash script, offline with throwaway keys.
        ("buildroot-ext/test-linux-hash.sh", &|| {
            Ok(cmd!(sh, "sh buildroot-ext/test-linux-hash.sh").run()?)
        }),
        // The kernels Buildroot builds from our defconfigs keep every fragment option.
        ("the Buildroot kernels' configurations", &|| {
            crate::kconfig::check(sh)
        }),
        // Every path the Buildroot tree refers to exists (CI has no Buildroot).
        ("buildroot-ext/check-paths.sh", &|| {
            Ok(cmd!(sh, "sh buildroot-ext/check-paths.sh").run()?)
        }),
    ];
    let total = checks.len();
    let mut failures = Vec::new();
    for (name, check) in checks {
        if let Err(err) = step(&format!("host: {name}"), check) {
            // The error starts with the step, "host: <name>", then its cause.
            failures.push(format!("failed: {err:#}"));
        }
    }
    Outcome {
        board: "host".into(),
        passed: total - failures.len(),
        failed: failures.len(),
        note: if failures.is_empty() {
            "all checks ok".into()
        } else {
            "see the failures below".into()
        },
        failures,
    }
}

/// The crates a product team depends on: `cargo package` packages them together (mymap's
/// dependency on mymap-uapi through a temporary local registry) and builds the packages,
/// and fails on any warning, which cargo itself only prints. Uncommitted files are
/// allowed: this checks the manifests and sources, it is not a release.
fn package(sh: &Shell) -> Result<()> {
    let target = forget_packaged()?;
    let out = cmd!(
        sh,
        "cargo package --allow-dirty --target-dir {target} -p mymap-uapi -p mymap"
    )
    .ignore_status()
    .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    if !out.status.success() {
        bail!("cargo package failed (see above)");
    }
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.trim_start().starts_with("warning"))
        .collect();
    if !warnings.is_empty() {
        bail!(
            "cargo package warned: {}: fix the manifests of userspace/mymap-uapi and userspace/mymap",
            warnings.join("; ")
        );
    }
    Ok(())
}

/// Removes what cargo kept of our own packages from earlier `cargo package` runs, and
/// returns the target directory the packages are to be verified in.
///
/// Cargo treats a crate of a registry as immutable once it has its version, and its
/// temporary local registry is no exception: it reuses the unpacked sources in
/// `$CARGO_HOME/registry/src/-<hash of the registry's path>/NAME-VERSION/`, and the build of
/// them in the target directory, even after the crate changed. mymap was then verified
/// against the mymap-uapi of an earlier run, without its tx module (seen 2026-12-07), in
/// every run after the first in a checkout, CI's included. So the packages are verified in a
/// target directory of their own, emptied first, and of the unpacked sources ours are
/// removed, only in the registries whose name starts with `-` (local ones; the crates' own
/// registry is never touched).
fn forget_packaged() -> Result<std::path::PathBuf> {
    let target = project_root().join("target/package-check");
    if target.exists() {
        std::fs::remove_dir_all(&target).with_context(|| format!("remove {}", target.display()))?;
    }
    let src = cargo_home()?.join("registry/src");
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(target);
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for unpacked in std::fs::read_dir(registry.path())?.flatten() {
            let name = unpacked.file_name().to_string_lossy().into_owned();
            let ours = ["mymap-uapi-", "mymap-"].iter().any(|prefix| {
                name.strip_prefix(prefix)
                    .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
            });
            if ours {
                std::fs::remove_dir_all(unpacked.path())
                    .with_context(|| format!("remove {}", unpacked.path().display()))?;
            }
        }
    }
    Ok(target)
}

/// The crates' documentation, with and without the `simulator` feature (docs.rs builds it
/// with every feature), warnings as errors: broken links, missing docs, bad examples.
fn doc(sh: &Shell) -> Result<()> {
    for features in [None, Some("--all-features")] {
        cmd!(
            sh,
            "cargo doc --no-deps -p mymap-uapi -p mymap {features...}"
        )
        .env("RUSTDOCFLAGS", "-D warnings")
        .run()?;
    }
    Ok(())
}

/// Every shell script of the project: init scripts, board scripts, target tests.
fn shellcheck(sh: &Shell) -> Result<()> {
    let root = project_root();
    let mut scripts = Vec::new();
    for dir in [
        "rootfs-overlay",
        "boards",
        "tests",
        "buildroot-ext",
        "userspace",
        ".ci",
    ] {
        collect_scripts(&root.join(dir), &mut scripts)?;
    }
    if scripts.is_empty() {
        bail!("no shell scripts found");
    }
    let count = scripts.len();
    cmd!(sh, "shellcheck {scripts...}").run()?;
    eprintln!("    shellcheck: {count} scripts clean");
    Ok(())
}

/// Files that start with a `#!/bin/sh` or `#!/usr/bin/env bash`-style line.
fn collect_scripts(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            collect_scripts(&path, out)?;
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            let first = text.lines().next().unwrap_or("");
            if first.starts_with("#!") && (first.ends_with("/sh") || first.ends_with("bash")) {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// When the console showed `INIT_OK`; else why the boot-path check fails.
fn init_check(
    lines: &[(Duration, String)],
    deadline: Duration,
) -> std::result::Result<Duration, String> {
    let lines = qemu::userspace_lines(lines);
    if let Some((at, _)) = lines.iter().find(|(_, l)| l.trim() == INIT_OK) {
        if *at > deadline {
            return Err(format!(
                "'{INIT_OK}' came after {}, later than {}",
                fmt_duration(*at),
                fmt_duration(deadline)
            ));
        }
        return Ok(*at);
    }
    match lines
        .iter()
        .find(|(_, l)| l.trim_start().starts_with("Starting mymap:"))
    {
        Some((_, line)) => Err(format!(
            "the console said '{}', not '{INIT_OK}'",
            line.trim()
        )),
        None => Err(format!("no '{INIT_OK}' on the console")),
    }
}

fn target(sh: &Shell, args: &BoardArgs, timeout: Duration) -> Result<Outcome> {
    let board = Board::load(&args.board)?;
    let image = image::build(
        sh,
        &board,
        args,
        None,
        Job::Command(RUN_ALL.into()),
        Purpose::Test,
    )?;
    let boot = step(
        &format!("test {} ({})", board.name, board.description),
        || qemu::job(&board, &image, timeout, false),
    )?;
    let mut passed = 0;
    let mut failures = Vec::new();
    // The boot itself, checked from the console like the tests below.
    match init_check(&boot.lines, init_deadline(args.kernel)) {
        Ok(at) => {
            passed += 1;
            eprintln!("    {}: '{INIT_OK}' after {}", board.name, fmt_duration(at));
        }
        Err(why) => failures.push(format!("boot/init-console: {why}")),
    }
    for line in boot.console.lines() {
        let Some(result) = line.trim().strip_prefix("MYMAP-TEST: ") else {
            continue;
        };
        if result.starts_with("ok ") {
            passed += 1;
        } else if let Some(what) = result.strip_prefix("not ok ") {
            failures.push(what.to_string());
        }
    }
    let splats = qemu::splats(&boot.console);
    for failure in &failures {
        eprintln!("    {}: not ok {failure}", board.name);
    }
    for splat in &splats {
        eprintln!("    {}: kernel: {splat}", board.name);
    }
    let mut failed = failures.len();
    let mut notes = vec![
        format!("kernel {} ({})", image.kernel.release, image.kernel.source),
        format!("boot+tests {}", fmt_duration(boot.took)),
    ];
    if !splats.is_empty() {
        failed += 1;
        notes.push(format!("{} kernel splat line(s)", splats.len()));
    }
    if passed + failures.len() == 0 {
        failed += 1;
        notes.push("no test ran".into());
    }
    if boot.rc != 0 {
        failed += 1;
        notes.push(format!("suite exited {}", boot.rc));
    }
    notes.push(format!("log {}", boot.log.display()));
    let mut failures: Vec<String> = failures.iter().map(|f| format!("not ok {f}")).collect();
    failures.extend(splats.iter().take(3).map(|s| format!("kernel splat: {s}")));
    Ok(Outcome {
        board: board.name,
        passed,
        failed,
        note: notes.join("; "),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::init_check;

    fn console(lines: &[(u64, &str)]) -> Vec<(Duration, String)> {
        lines
            .iter()
            .map(|(t, l)| (Duration::from_secs(*t), l.to_string()))
            .collect()
    }

    #[test]
    fn the_init_line_passes_in_time_and_fails_late_or_failed() {
        let deadline = Duration::from_secs(120);
        let ok = console(&[(5, "Starting udevd: OK"), (9, "Starting mymap: OK")]);
        assert_eq!(init_check(&ok, deadline), Ok(Duration::from_secs(9)));
        let late = console(&[(500, "Starting mymap: OK")]);
        assert!(init_check(&late, deadline)
            .unwrap_err()
            .contains("later than"));
        let failed = console(&[(
            20,
            "Starting mymap: FAIL (/dev/mymap did not appear with group mymap within 10s)",
        )]);
        assert!(init_check(&failed, deadline).unwrap_err().contains("FAIL"));
        assert!(init_check(&[], deadline)
            .unwrap_err()
            .contains("no 'Starting mymap: OK'"));
    }
}
