//! Setup's proofs: installed is not working, so use each part of the toolchain
//! once, in seconds, and name the package that fixes what fails.
//!
//! A fresh machine once failed six minutes into `cargo xtask run`, linking the
//! 32-bit tools (`cannot find crt1.o`): a cross compiler was installed, its C
//! library was not. These proofs link a small program for every Rust target
//! the boards use, the way cargo links the tools, so that the same gap fails
//! here with the package's name. They are cached by a key of the machine's
//! installed packages and Rust toolchain, so commands that call `ensure` pay
//! for them once after each change.

use std::{
    fs,
    path::Path, //
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use xshell::{
    cmd,
    Shell, //
};

use super::{
    BINDGEN_VERSION,
    LIBCLANG_PATH,
    PACKAGES,
    RUST_TARGETS, //
};
use crate::{
    board::{
        self,
        Board, //
    },
    util::{
        cache_dir,
        hash_parts,
        project_root, //
    },
};

/// Whether a stamp from an earlier proof on the same machine state may stand in.
pub enum Cache {
    Use,
    Ignore,
}

/// Programs the xtask runs, each with the package that provides it.
const PROGRAMS: &[(&str, &str)] = &[
    ("make", "make"),
    ("bc", "bc"),
    ("bison", "bison"),
    ("flex", "flex"),
    ("depmod", "kmod"),
    ("cpio", "cpio"),
    ("xz", "xz-utils"),
    ("bzip2", "bzip2"),
    ("fdtput", "device-tree-compiler"),
    ("dtc", "device-tree-compiler"),
    ("fdtoverlay", "device-tree-compiler"),
    ("shellcheck", "shellcheck"),
    ("git", "git"),
    ("gpg", "gpg"),
    ("gpg-agent", "gpg-agent"),
    ("gpgv", "gpgv"),
    ("clang-19", "clang-19"),
    ("ld.lld-19", "lld-19"),
    ("llvm-ar-19", "llvm-19"),
    ("llvm-objcopy-19", "llvm-19"),
    ("genimage", "genimage"),
    ("mcopy", "mtools"),
    ("fatlabel", "dosfstools"),
    ("fakeroot", "fakeroot"),
    ("pkgconf", "pkgconf"),
    ("rsync", "rsync"),
    ("debootstrap", "debootstrap"),
    ("bwrap", "bubblewrap"),
];

/// Debian's cross compilers by the prefix .cargo/config.toml names, with the C
/// library a gnu target links against.
const CROSS: &[(&str, &str, &str)] = &[
    (
        "aarch64-linux-gnu-",
        "gcc-aarch64-linux-gnu",
        "libc6-dev-arm64-cross",
    ),
    (
        "arm-linux-gnueabihf-",
        "gcc-arm-linux-gnueabihf",
        "libc6-dev-armhf-cross",
    ),
];

/// One failed proof: what was tried, the packages that provide it, and the
/// tool's own words.
struct Failure {
    what: String,
    packages: Vec<&'static str>,
    said: String,
}

pub fn run(sh: &Shell, cache: Cache) -> Result<()> {
    let key = machine_key(sh)?;
    let dir = cache_dir()?.join("setup");
    let stamp = dir.join("proved");
    if matches!(cache, Cache::Use) && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key) {
        return Ok(());
    }
    let work = dir.join("proofs");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let mut failures = Vec::new();
    programs(sh, &mut failures);
    host_c(sh, &work, &mut failures)?;
    rust_links(sh, &work, &mut failures)?;
    bindgen(sh, &work, &mut failures)?;
    qemu_machines(sh, &mut failures)?;
    if !failures.is_empty() {
        let _ = fs::remove_file(&stamp);
        bail!("{}", report(&failures));
    }
    fs::write(&stamp, key).with_context(|| format!("write {}", stamp.display()))?;
    eprintln!(
        "setup: proved the toolchain (programs, host C, BPF, links for {}, bindgen, QEMU machines)",
        RUST_TARGETS.join(", ")
    );
    Ok(())
}

/// What the proofs depend on: the installed packages (dpkg's status file
/// changes with every install), the Rust toolchain, the lists above and the
/// boards' files (which name the targets, linkers and QEMU machines proved).
fn machine_key(sh: &Shell) -> Result<String> {
    let status = fs::metadata("/var/lib/dpkg/status")
        .map(|m| format!("{:?} {}", m.modified().ok(), m.len()))
        .unwrap_or_default();
    let rustc = cmd!(sh, "rustc -vV").quiet().read()?;
    let config = fs::read_to_string(project_root().join(".cargo/config.toml")).unwrap_or_default();
    let mut parts = vec![status, rustc, config, BINDGEN_VERSION.to_string()];
    parts.extend(PACKAGES.iter().map(|p| p.to_string()));
    parts.extend(RUST_TARGETS.iter().map(|t| t.to_string()));
    parts.extend(PROGRAMS.iter().map(|(p, _)| p.to_string()));
    for name in board::ALL {
        let path = project_root().join("boards").join(name).join("board.toml");
        parts.push(fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?);
    }
    Ok(hash_parts(parts))
}

fn report(failures: &[Failure]) -> String {
    let mut packages: Vec<&str> = failures.iter().flat_map(|f| f.packages.clone()).collect();
    packages.sort_unstable();
    packages.dedup();
    let mut out = format!(
        "the toolchain does not work; install or reinstall {} (as root: `apt-get install --reinstall {}`):",
        packages.join(" "),
        packages.join(" ")
    );
    for f in failures {
        out.push_str(&format!(
            "\n  {} failed (package {}): {}",
            f.what,
            f.packages.join(" "),
            f.said
        ));
    }
    out
}

/// Runs `cmd`; on failure records it with the most telling line of its output.
fn attempt(
    cmd: xshell::Cmd<'_>,
    what: String,
    packages: Vec<&'static str>,
    failures: &mut Vec<Failure>,
) {
    match cmd.quiet().ignore_status().output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => failures.push(Failure {
            what,
            packages,
            said: telling_line(&String::from_utf8_lossy(&out.stderr)),
        }),
        Err(err) => failures.push(Failure {
            what,
            packages,
            said: err.to_string(),
        }),
    }
}

/// The line of a tool's error output that says what is missing.
fn telling_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| {
            l.contains("cannot find") || l.contains("not found") || l.contains("No such file")
        })
        .or_else(|| lines.iter().find(|l| l.contains("error")))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "no output".into())
}

fn programs(sh: &Shell, failures: &mut Vec<Failure>) {
    for (program, package) in PROGRAMS {
        attempt(
            cmd!(sh, "{program} --version"),
            format!("`{program} --version`"),
            vec![package],
            failures,
        );
    }
}

/// The host compiler builds and runs a program, and finds the headers of the
/// libraries the kernel's host programs use; clang compiles a BPF program.
fn host_c(sh: &Shell, work: &Path, failures: &mut Vec<Failure>) -> Result<()> {
    let hello = work.join("hello.c");
    fs::write(&hello, "int main(void) { return 0; }\n")?;
    let exe = work.join("hello");
    attempt(
        cmd!(sh, "gcc {hello} -o {exe}"),
        "linking a host C program".into(),
        vec!["gcc", "libc6-dev"],
        failures,
    );
    for (header, package) in [
        ("openssl/opensslv.h", "libssl-dev"),
        ("gelf.h", "libelf-dev"),
    ] {
        let source = work.join(format!("{package}.c"));
        fs::write(&source, format!("#include <{header}>\n"))?;
        attempt(
            cmd!(sh, "gcc -fsyntax-only {source}"),
            format!("compiling against <{header}>"),
            vec![package],
            failures,
        );
    }
    // mymap-bench's build script compiles its BPF programs so (userspace/mymap-bench/build.rs).
    let bpf = work.join("bpf.c");
    fs::write(
        &bpf,
        "__attribute__((section(\"xdp\"), used)) int pass(void *ctx) { return 2; }\n",
    )?;
    let object = work.join("bpf.o");
    attempt(
        cmd!(sh, "clang-19 -target bpfel -O2 -c {bpf} -o {object}"),
        "compiling a BPF program".into(),
        vec!["clang-19"],
        failures,
    );
    Ok(())
}

/// Links a Rust program for every target, with the linker .cargo/config.toml
/// gives it, statically where the xtask links that target statically.
fn rust_links(sh: &Shell, work: &Path, failures: &mut Vec<Failure>) -> Result<()> {
    let main = work.join("main.rs");
    fs::write(&main, "fn main() {\n    println!(\"mymap\");\n}\n")?;
    let config_path = project_root().join(".cargo/config.toml");
    let config: toml::Table = toml::from_str(&fs::read_to_string(&config_path)?)
        .with_context(|| format!("parse {}", config_path.display()))?;
    let static_targets = static_targets()?;
    for target in RUST_TARGETS {
        let linker = config
            .get("target")
            .and_then(|t| t.get(*target))
            .and_then(|t| t.get("linker"))
            .and_then(|l| l.as_str())
            .with_context(|| format!("{} names no linker for {target}", config_path.display()))?;
        let Some((_, compiler, libc)) =
            CROSS.iter().find(|(prefix, ..)| linker.starts_with(prefix))
        else {
            bail!("{target}: linker {linker} is none of Debian's cross compilers setup knows");
        };
        let mut packages = vec![*compiler];
        // musl targets bring their own C runtime; gnu targets need Debian's.
        if target.ends_with("-gnu") || target.ends_with("-gnueabihf") {
            packages.push(libc);
        }
        let out = work.join(target);
        let mut link = cmd!(
            sh,
            "rustc --edition 2021 --target {target} -C linker={linker} -o {out} {main}"
        );
        let linkage = if static_targets.iter().any(|t| t == target) {
            link = link.args(["-C", "target-feature=+crt-static"]);
            "static"
        } else if target.contains("musl") {
            "static"
        } else {
            "dynamic"
        };
        attempt(
            link,
            format!("linking a Rust program for {target} ({linkage})"),
            packages,
            failures,
        );
    }
    Ok(())
}

/// The targets the xtask links with `+crt-static`: a board's gnu target when
/// the board says so, and every 32-bit compat target (userspace.rs).
fn static_targets() -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in board::ALL {
        let board = Board::load(name)?;
        if board.rust_static_gnu {
            out.push(board.rust_target.clone());
        }
        out.extend(board.compat_rust_target.clone());
    }
    Ok(out)
}

/// bindgen loads libclang at run time; run it once on a small header.
fn bindgen(sh: &Shell, work: &Path, failures: &mut Vec<Failure>) -> Result<()> {
    let header = work.join("probe.h");
    fs::write(&header, "struct mymap_probe { unsigned int a; };\n")?;
    attempt(
        cmd!(sh, "bindgen {header}").env("LIBCLANG_PATH", LIBCLANG_PATH),
        format!("bindgen on a header against {LIBCLANG_PATH}"),
        vec!["libclang-19-dev"],
        failures,
    );
    Ok(())
}

/// Every board's QEMU knows its machine (Debian 12's QEMU 7.2 has no raspi4b).
fn qemu_machines(sh: &Shell, failures: &mut Vec<Failure>) -> Result<()> {
    for name in board::ALL {
        let board = Board::load(name)?;
        let (system, machine) = (&board.qemu.system, &board.qemu.machine);
        let known = cmd!(sh, "{system} -M help")
            .quiet()
            .ignore_stderr()
            .read()
            .map(|list| {
                list.lines()
                    .any(|l| l.split_whitespace().next() == Some(machine))
            });
        match known {
            Ok(true) => {}
            Ok(false) => failures.push(Failure {
                what: format!("`{system} -M help` (board {name})"),
                packages: vec!["qemu-system-arm/bookworm-backports"],
                said: format!("no machine '{machine}'"),
            }),
            Err(err) => failures.push(Failure {
                what: format!("`{system} -M help` (board {name})"),
                packages: vec!["qemu-system-arm/bookworm-backports"],
                said: err.to_string(),
            }),
        }
    }
    Ok(())
}
