//! `cargo xtask setup`: install everything the other commands need.
//!
//! Idempotent, and quick when nothing is missing, so every command runs it
//! first (`ensure`). As root it installs; otherwise it prints the exact
//! commands and fails.

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

mod prove;

use crate::{
    flags,
    util::{
        is_root,
        step, //
    },
};

/// Debian packages from the machine's own suite. Installed without their
/// `Recommends:`, so everything the xtask needs is named here, each for what
/// uses it; `prove` then uses each one (see setup/prove.rs).
pub const PACKAGES: &[&str] = &[
    // The host C compiler and C library: build scripts, the kernel's host
    // programs (HOSTCC), and setup's own proofs.
    "gcc",
    "libc6-dev",
    "make",
    // The kernel build.
    "bc",
    "bison",
    "flex",
    "kmod",
    "libssl-dev",
    "libelf-dev",
    // The test image (gen_init_cpio's archive, xz-packed Debian sources) and the
    // QEMU-only device tree (fdtput, and dtc with fdtoverlay for the board's overlays).
    "cpio",
    "xz-utils",
    "device-tree-compiler",
    "shellcheck",
    // `cargo xtask bench` records the commit it measured.
    "git",
    // buildroot-ext/linux-hash.sh checks kernel.org's signed checksums (gpgv), and its
    // test signs throwaway ones (gpg, which needs gpg-agent to sign).
    "gpg",
    "gpg-agent",
    "gpgv",
    // Cross compilers, and the C libraries their Debian packages only
    // *recommend*: without them a gnu target links no program (crt1.o, -lc).
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "gcc-arm-linux-gnueabihf",
    "libc6-dev-armhf-cross",
    // The test image's BusyBox is built from a .tar.bz2 source (busybox.rs).
    "bzip2",
    // The kernel's Rust support needs libclang >= 17 for bindgen; clang/lld for
    // the debug kernel (KASAN with Rust needs a clang-built kernel).
    "clang-19",
    "lld-19",
    "llvm-19",
    "libclang-19-dev",
    // `cargo xtask buildroot`: the host tools its stand-ins link to (the
    // image's file systems and partitions, Buildroot's rsync of local packages;
    // e2fsprogs is Priority: required, in every Debian root).
    "genimage",
    "mtools",
    "dosfstools",
    "fakeroot",
    "pkgconf",
    "rsync",
    // `cargo xtask fresh-root`: a bootstrapped Debian root, run in a sandbox.
    "debootstrap",
    "bubblewrap",
];

/// QEMU 10 from bookworm-backports: Debian 12's QEMU 7.2 has no `raspi4b`.
const BACKPORT_PACKAGES: &[&str] = &["qemu-system-arm"];

pub const RUST_TARGETS: &[&str] = &[
    "aarch64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf",
];

/// The programs setup installs with `cargo install`, by their binary's name.
pub const CARGO_INSTALLED: &[&str] = &["bindgen"];

/// The bindgen the kernel build uses (kernel 7.3 needs >= 0.71.1).
pub const BINDGEN_VERSION: &str = "0.73.2";

pub const LIBCLANG_PATH: &str = "/usr/lib/llvm-19/lib";

pub const SOURCES_FILE: &str = "/etc/apt/sources.list.d/mymap-backports.sources";

impl flags::Setup {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let missing = missing(sh)?;
        if !missing.is_empty() {
            if self.check {
                bail!(
                    "missing: {}; run `cargo xtask setup` (as root), or: {}",
                    describe(&missing),
                    commands(&missing).join("; ")
                );
            }
            install(sh, &missing)?;
        }
        // Installed is not working: prove it, whatever the stamp says.
        prove::run(sh, prove::Cache::Ignore)?;
        eprintln!("setup: everything is installed and works");
        Ok(())
    }
}

/// Installs what is missing, or fails naming the commands to run; then proves
/// the toolchain, unless it was proved before on this machine as it is now.
pub fn ensure(sh: &Shell) -> Result<()> {
    let missing = missing(sh)?;
    if !missing.is_empty() {
        step(&format!("setup: installing {}", describe(&missing)), || {
            install(sh, &missing)
        })?;
    }
    prove::run(sh, prove::Cache::Use)
}

#[derive(Debug, PartialEq)]
enum Missing {
    AptSources,
    Packages(Vec<&'static str>),
    Backports(Vec<&'static str>),
    RustSrc,
    Targets(Vec<&'static str>),
    Bindgen,
}

fn describe(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| match m {
            Missing::AptSources => "apt backports sources".to_string(),
            Missing::Packages(p) | Missing::Backports(p) => p.join(" "),
            Missing::RustSrc => "rust-src".to_string(),
            Missing::Targets(t) => t.join(" "),
            Missing::Bindgen => format!("bindgen-cli {BINDGEN_VERSION}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn missing(sh: &Shell) -> Result<Vec<Missing>> {
    let mut out = Vec::new();
    if !Path::new(SOURCES_FILE).exists() {
        out.push(Missing::AptSources);
    }
    let packages: Vec<_> = PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(sh, p))
        .collect();
    if !packages.is_empty() {
        out.push(Missing::Packages(packages));
    }
    let machines = cmd!(sh, "qemu-system-aarch64 -M help")
        .quiet()
        .ignore_stderr()
        .read();
    if !machines.map(|m| m.contains("raspi4b")).unwrap_or(false) {
        out.push(Missing::Backports(BACKPORT_PACKAGES.to_vec()));
    }
    let components = cmd!(sh, "rustup component list --installed")
        .quiet()
        .read()?;
    if !components.lines().any(|l| l.starts_with("rust-src")) {
        out.push(Missing::RustSrc);
    }
    let targets = cmd!(sh, "rustup target list --installed").quiet().read()?;
    let targets: Vec<_> = RUST_TARGETS
        .iter()
        .copied()
        .filter(|t| !targets.lines().any(|l| l == *t))
        .collect();
    if !targets.is_empty() {
        out.push(Missing::Targets(targets));
    }
    let bindgen = cmd!(sh, "bindgen --version").quiet().ignore_stderr().read();
    if !bindgen
        .map(|v| v.trim() == format!("bindgen {BINDGEN_VERSION}"))
        .unwrap_or(false)
    {
        out.push(Missing::Bindgen);
    }
    Ok(out)
}

fn dpkg_installed(sh: &Shell, package: &str) -> bool {
    let format = "-f=${Status}";
    cmd!(sh, "dpkg-query -W {format} {package}")
        .quiet()
        .ignore_stderr()
        .read()
        .map(|s| s == "install ok installed")
        .unwrap_or(false)
}

/// The commands that install `missing`, for printing when not root.
fn commands(missing: &[Missing]) -> Vec<String> {
    let mut out = Vec::new();
    for m in missing {
        match m {
            Missing::AptSources => out.push(format!(
                "write {SOURCES_FILE} (bookworm-backports and trixie-backports from this \
                 machine's Debian mirror) and run apt-get update"
            )),
            Missing::Packages(p) => out.push(format!("apt-get install -y {}", p.join(" "))),
            Missing::Backports(p) => out.push(format!(
                "apt-get install -y -t bookworm-backports {}",
                p.join(" ")
            )),
            Missing::RustSrc => out.push("rustup component add rust-src".into()),
            Missing::Targets(t) => out.push(format!("rustup target add {}", t.join(" "))),
            Missing::Bindgen => out.push(format!(
                "cargo install --locked bindgen-cli --version {BINDGEN_VERSION}"
            )),
        }
    }
    out
}

fn install(sh: &Shell, missing: &[Missing]) -> Result<()> {
    let needs_root = missing.iter().any(|m| {
        matches!(
            m,
            Missing::AptSources | Missing::Packages(_) | Missing::Backports(_)
        )
    });
    if needs_root && !is_root() {
        bail!(
            "setup needs root to install system packages; as root, run `cargo xtask setup`, \
             or these:\n  {}",
            commands(missing).join("\n  ")
        );
    }
    if missing.contains(&Missing::AptSources) {
        write_sources()?;
    }
    if needs_root {
        apt_update(sh)?;
    }
    for m in missing {
        match m {
            Missing::AptSources => {}
            Missing::Packages(p) => {
                cmd!(sh, "apt-get install -y --no-install-recommends {p...}")
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .run()?;
            }
            Missing::Backports(p) => {
                cmd!(sh, "apt-get install -y -t bookworm-backports {p...}")
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .run()?;
            }
            Missing::RustSrc => cmd!(sh, "rustup component add rust-src").run()?,
            Missing::Targets(t) => cmd!(sh, "rustup target add {t...}").run()?,
            Missing::Bindgen => cmd!(
                sh,
                "cargo install --locked bindgen-cli --version {BINDGEN_VERSION}"
            )
            .run()?,
        }
    }
    Ok(())
}

/// `apt-get update`, retried: a mirror mid-sync answers with index files of the
/// wrong size for a while. A partial failure is tolerated when the install that
/// follows finds its packages; if not, that install fails with apt's own message.
fn apt_update(sh: &Shell) -> Result<()> {
    for attempt in 1..=3 {
        if cmd!(sh, "apt-get update").quiet().run().is_ok() {
            return Ok(());
        }
        eprintln!("setup: apt-get update failed (attempt {attempt} of 3)");
        std::thread::sleep(std::time::Duration::from_secs(5 * attempt));
    }
    eprintln!("setup: continuing with the package lists apt has");
    Ok(())
}

/// The machine's Debian mirror, read from its apt sources, so that no host name
/// is written into this repository.
pub fn debian_mirror() -> Result<String> {
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(dir.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let is_deb822 = file.extension().is_some_and(|e| e == "sources");
        for line in text.lines().map(str::trim) {
            let uri = if is_deb822 {
                line.strip_prefix("URIs:").map(str::trim)
            } else {
                line.strip_prefix("deb ")
                    .and_then(|rest| rest.split_whitespace().find(|w| w.contains("://")))
            };
            if let Some(uri) = uri.and_then(|u| u.split_whitespace().next()) {
                if uri.ends_with("/debian") {
                    return Ok(uri.to_string());
                }
            }
        }
    }
    bail!("no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list{{,.d/*}}")
}

fn write_sources() -> Result<()> {
    let mirror = debian_mirror()?;
    // Backports suites have priority 100: nothing else is upgraded from them by
    // accident. Plain trixie must not be added (it would upgrade the system).
    // amd64 only: the host never installs foreign packages from these suites.
    let text = format!(
        "# Written by `cargo xtask setup` for mymap: linux-source-7.3 and QEMU with raspi4b.\n\
         Types: deb\nURIs: {mirror}\nSuites: bookworm-backports trixie-backports\n\
         Components: main\nArchitectures: amd64\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    fs::write(SOURCES_FILE, text).with_context(|| format!("write {SOURCES_FILE}"))
}
