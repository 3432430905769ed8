//! `cargo xtask userspace`: cross-build the tools, the target tests and the
//! examples (C, and the Rust `ring-csv`) for a board.

use std::{
    path::PathBuf,
    process::Command, //
};

use anyhow::Result;
use xshell::{
    cmd,
    Shell, //
};

use crate::{
    board::Board,
    flags, setup,
    util::{
        project_root,
        run_logged,
        step, //
    },
};

/// The binaries the test image carries, and where they go on the target.
pub const BINARIES: &[(&str, &str)] = &[
    ("mymap-read", "usr/bin"),
    ("mymapctl", "usr/bin"),
    ("mymap-bench", "usr/bin"),
    ("mymap-target-tests", "usr/libexec/mymap"),
    // The Rust example application (userspace/examples/ring-csv), which the target
    // suite runs.
    ("ring-csv", "usr/libexec/mymap"),
];

/// The C examples, `userspace/examples/<name>.c`, each built into one static
/// program that goes to `usr/libexec/mymap/<name>` on the target.
pub const C_EXAMPLES: &[&str] = &["ring-consumer", "tx-producer"];

/// Under cargo's target directory: the generated man pages and completions.
const DOCS: &str = "mymap-read-docs";

/// A built binary and its path on the target.
pub struct Binary {
    pub path: PathBuf,
    pub dest: String,
}

impl flags::BoardArgs {
    pub fn run_userspace(&self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board)?;
        for binary in build(sh, &board)? {
            println!("{} -> /{}", binary.path.display(), binary.dest);
        }
        let docs = target_dir().join(DOCS);
        println!("{}: man pages and shell completions", docs.display());
        Ok(())
    }
}

/// Builds every binary of `BINARIES` and `C_EXAMPLES` for the board, statically
/// linked; on a 64-bit board with a 32-bit compat target, also the target tests
/// and the C examples for that (`<name>-compat`).
pub fn build(sh: &Shell, board: &Board) -> Result<Vec<Binary>> {
    setup::ensure(sh)?;
    docs(sh)?;
    let bins: Vec<&str> = BINARIES.iter().map(|(bin, _)| *bin).collect();
    let dir = cargo_build(sh, &board.rust_target, board.rust_static_gnu, &bins)?;
    let mut out: Vec<Binary> = BINARIES
        .iter()
        .map(|(bin, dest)| Binary {
            path: dir.join(bin),
            dest: format!("{dest}/{bin}"),
        })
        .collect();
    if let Some(compat) = &board.compat_rust_target {
        let dir = cargo_build(sh, compat, true, &["mymap-target-tests"])?;
        out.push(Binary {
            path: dir.join("mymap-target-tests"),
            dest: "usr/libexec/mymap/mymap-target-tests-compat".into(),
        });
    }
    out.extend(c_examples(&board.cross_compile, "")?);
    if let Some(compat) = &board.compat_cross_compile {
        out.extend(c_examples(compat, "-compat")?);
    }
    Ok(out)
}

/// Compiles each of `C_EXAMPLES` with `<cross>gcc`, statically, warnings as
/// errors, against the UAPI header as `make install-headers` stages it (driver/Makefile,
/// the target Buildroot's `mymap-driver` installs into its staging directory, where
/// Buildroot's `mymap-ring-consumer` template finds it), first on the include path (so
/// that `<linux/mymap.h>` is mymap's; `<linux/ioctl.h>` and `<linux/types.h>` are the C
/// library's). The program is named `<name><suffix>`.
fn c_examples(cross: &str, suffix: &str) -> Result<Vec<Binary>> {
    let gcc = format!("{cross}gcc");
    let dir = target_dir()
        .join("c-examples")
        .join(cross.trim_end_matches('-'));
    std::fs::create_dir_all(&dir)?;
    let root = project_root();
    step(
        &format!("userspace: {gcc} {}", C_EXAMPLES.join(", ")),
        || {
            let staging = dir.join("staging");
            let mut install = Command::new("make");
            install
                .arg("-C")
                .arg(root.join("driver"))
                .arg("install-headers")
                .arg(format!("DESTDIR={}", staging.display()));
            run_logged(
                install,
                &dir.join("install-headers.log"),
                "make install-headers (mymap's staged UAPI header)",
            )?;
            C_EXAMPLES
                .iter()
                .map(|name| {
                    let path = dir.join(name);
                    let mut cc = Command::new(&gcc);
                    cc.args(["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-I"])
                        .arg(staging.join("usr/include"))
                        .arg("-o")
                        .arg(&path)
                        .arg(root.join(format!("userspace/examples/{name}.c")));
                    run_logged(
                        cc,
                        &dir.join(format!("{name}.log")),
                        &format!("{gcc} {name}.c"),
                    )?;
                    Ok(Binary {
                        path,
                        dest: format!("usr/libexec/mymap/{name}{suffix}"),
                    })
                })
                .collect()
        },
    )
}

/// `cargo build --release --target T --bin ...`; with `static_gnu`, glibc linked
/// statically (for targets without musl here). Returns the output directory.
fn cargo_build(sh: &Shell, target: &str, static_gnu: bool, bins: &[&str]) -> Result<PathBuf> {
    step(
        &format!("userspace: cargo build --release --target {target}"),
        || {
            let mut args = Vec::new();
            for bin in bins {
                args.push("--bin".to_string());
                args.push(bin.to_string());
            }
            let mut build = cmd!(sh, "cargo build --release --target {target} {args...}");
            if static_gnu {
                let var = format!(
                    "CARGO_TARGET_{}_RUSTFLAGS",
                    target.to_uppercase().replace('-', "_")
                );
                build = build.env(var, "-C target-feature=+crt-static");
            }
            build.run()?;
            Ok(())
        },
    )?;
    Ok(target_dir().join(target).join("release"))
}

/// Cargo's output directory: CARGO_TARGET_DIR (relative to the root) if set.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| project_root().join(dir))
        .unwrap_or_else(|| project_root().join("target"))
}

/// Generates the man pages and shell completions of `mymap-read` and `mymapctl`
/// on the host, from their clap definitions, into `<target>/mymap-read-docs/share/...`
/// (the layout of a root filesystem's /usr/share).
fn docs(sh: &Shell) -> Result<()> {
    let out = target_dir().join(DOCS);
    step("userspace: man pages and shell completions", || {
        let _ = std::fs::remove_dir_all(&out);
        cmd!(
            sh,
            "cargo run --quiet -p mymap-read --features generate --bin mymap-read-generate -- {out}"
        )
        .ignore_stdout()
        .run()?;
        Ok(())
    })
}
