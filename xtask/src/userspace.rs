//! `cargo xtask userspace`: cross-build the tools and the target tests for a board.

use std::path::PathBuf;

use anyhow::Result;
use xshell::{
    cmd,
    Shell, //
};

use crate::{
    board::Board,
    flags,
    setup,
    util::{
        project_root,
        step, //
    },
};

/// The binaries the test image carries, and where they go on the target.
pub const BINARIES: &[(&str, &str)] = &[
    ("mymap-read", "usr/bin"),
    ("mymapctl", "usr/bin"),
    ("mymap-target-tests", "usr/libexec/mymap"),
];

impl flags::BoardArgs {
    pub fn run_userspace(&self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board)?;
        for path in build(sh, &board)? {
            println!("{}", path.display());
        }
        Ok(())
    }
}

/// Builds every binary of `BINARIES` for the board, statically linked.
pub fn build(sh: &Shell, board: &Board) -> Result<Vec<PathBuf>> {
    setup::ensure(sh)?;
    let target = &board.rust_target;
    step(&format!("userspace: cargo build --release --target {target}"), || {
        let mut args = Vec::new();
        for (bin, _) in BINARIES {
            args.push("--bin".to_string());
            args.push(bin.to_string());
        }
        let mut build = cmd!(sh, "cargo build --release --target {target} {args...}")
            .env("LIBCLANG_PATH", setup::LIBCLANG_PATH);
        if board.rust_static_gnu {
            let var = format!(
                "CARGO_TARGET_{}_RUSTFLAGS",
                target.to_uppercase().replace('-', "_")
            );
            build = build.env(var, "-C target-feature=+crt-static");
        }
        build.run()?;
        Ok(())
    })?;
    let dir = project_root().join("target").join(target).join("release");
    Ok(BINARIES.iter().map(|(bin, _)| dir.join(bin)).collect())
}
