//! The host's facts a record keeps: the emulated board's pace follows them.

use std::fs;

use xshell::{
    cmd,
    Shell, //
};

/// The host's CPU, which sets the pace of an emulated board.
pub fn cpu() -> String {
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
pub fn load() -> Option<f64> {
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
pub fn commit(sh: &Shell) -> String {
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
