//! `cargo xtask fresh-root`: prove the set-up where nothing was installed by hand.
//!
//! CI runs on a developer's machine, where whatever anyone once installed is
//! still there: a green CI once hid that a fresh machine could not link the
//! 32-bit tools. This command bootstraps a minimal Debian 12 root
//! (`debootstrap --variant=minbase`, from the mirror of this machine's own apt
//! sources), gives it only what a reader of the README has before the first
//! command (rustup's toolchain and cargo's home, bind-mounted from this
//! machine, with the tools `setup` itself `cargo install`s masked, and the C
//! compiler cargo links with), and runs in it, in a bubblewrap sandbox:
//! `cargo xtask setup`, `setup --check`, every board's `userspace` build, and
//! `run` (kernel, module, image, boot of the default board).
//!
//! Two caches keep a warm run to seconds: the bootstrapped base, by suite,
//! packages and mirror; and a pass, by the inputs that decide what a machine
//! must have installed (xtask itself, cargo's configuration and lock file, the
//! crates' manifests and build scripts, the board files, the Rust toolchain).
//! Driver and tool sources are not among them: they change what is built, not
//! what building needs.

use std::{
    env, fs,
    path::{
        Path,
        PathBuf, //
    },
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

use crate::{
    board, flags, setup,
    util::{
        cache_dir,
        cargo_home,
        hash_parts,
        lock_entry,
        project_root,
        step, //
    },
};

const SUITE: &str = "bookworm";

/// What a machine has before the README's first command, besides rustup: apt
/// reaches the mirror, and cargo can link xtask (rustup needs a C compiler for
/// that, and says so when it installs).
const PREREQUISITES: &[&str] = &["ca-certificates", "gcc", "libc6-dev"];

/// The checkout's files that decide what a machine must have installed.
const INPUTS: &[&str] = &[
    "xtask",
    ".cargo",
    "boards",
    "Cargo.toml",
    "Cargo.lock",
    "Cross.toml",
    ":(glob)userspace/*/Cargo.toml",
    ":(glob)userspace/*/build.rs",
    ":(glob)driver/Makefile",
    ":(glob)driver/Kbuild",
    "driver/model/Cargo.toml",
];

/// Where the sandbox mounts the checkout, and keeps cargo's and the xtask's output.
const SRC: &str = "/src";
const TARGET: &str = "/var/tmp/mymap-target";

/// Debian's bundle of trusted certificate authorities.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

impl flags::FreshRoot {
    pub fn run(self, sh: &Shell) -> Result<()> {
        setup::ensure(sh)?;
        let tree = match &self.tree {
            Some(tree) => {
                fs::canonicalize(tree).with_context(|| format!("--tree {}", tree.display()))?
            }
            None => project_root(),
        };
        let dir = cache_dir()?.join("fresh-root");
        fs::create_dir_all(&dir)?;
        // One run at a time: a second would delete the root under the first.
        let _lock = lock_entry(&dir)?;
        let base = base(sh, &dir)?;
        let key = inputs_key(sh, &tree, &base)?;
        let stamp = dir.join(format!("passed-{key}"));
        if stamp.exists() && !self.force {
            eprintln!(
                "fresh-root: passed before with these inputs ({key}); `--force` runs it again"
            );
            return Ok(());
        }
        let root = dir.join("root");
        fresh_copy(sh, &base, &root)?;
        let sandbox = Sandbox::new(&root, &tree)?;
        let mut steps = vec![
            vec!["setup".to_string()],
            vec!["setup".into(), "--check".into()],
        ];
        for name in board::ALL {
            steps.push(vec!["userspace".into(), "--board".into(), name.into()]);
        }
        steps.push(vec!["run".into()]);
        for args in steps {
            step(
                &format!("fresh-root: cargo xtask {}", args.join(" ")),
                || sandbox.xtask(sh, &args),
            )?;
        }
        fs::write(&stamp, format!("{}\n", tree.display()))?;
        // Gigabytes of packages and builds; a failed run's root stays for a look.
        remove_root(&root)?;
        eprintln!("fresh-root: passed; a fresh Debian {SUITE} root sets up, builds and runs");
        Ok(())
    }
}

/// The bootstrapped root, made once per suite, packages and mirror.
fn base(sh: &Shell, dir: &Path) -> Result<PathBuf> {
    let mirror = setup::debian_mirror()?;
    let sources = host_apt_config(sh)?;
    let mut parts = vec![SUITE.to_string(), "minbase".into(), mirror.clone()];
    parts.extend(PREREQUISITES.iter().map(|p| p.to_string()));
    parts.extend(sources.iter().map(|(name, text)| format!("{name}\n{text}")));
    let base = dir.join(format!("base-{}", hash_parts(parts)));
    if base.exists() {
        return Ok(base);
    }
    let tmp = base.with_extension("tmp");
    step(
        &format!("fresh-root: debootstrap {SUITE} from {mirror}"),
        || {
            remove_root(&tmp)?;
            fs::create_dir_all(dir)?;
            let include = format!("--include={}", PREREQUISITES.join(","));
            cmd!(
                sh,
                "debootstrap --variant=minbase {include} {SUITE} {tmp} {mirror}"
            )
            .quiet()
            .ignore_stdout()
            .run()?;
            // The machine's own apt sources (security updates included), not
            // debootstrap's one-line list: a fresh machine has what this one has.
            let apt = tmp.join("etc/apt");
            let _ = fs::remove_file(apt.join("sources.list"));
            for (name, text) in &sources {
                fs::write(apt.join(name), text)?;
            }
            fs::rename(&tmp, &base)?;
            Ok(())
        },
    )?;
    Ok(base)
}

/// This machine's own apt configuration, as (path under /etc/apt, text): its
/// source lists, without the one `cargo xtask setup` writes, and the files in
/// apt.conf.d that no package installed (how the machine reaches its mirror;
/// here, a mirror whose Release files may be past their Valid-Until date).
fn host_apt_config(sh: &Shell) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Ok(text) = fs::read_to_string("/etc/apt/sources.list") {
        out.push(("sources.list".to_string(), text));
    }
    for (dir, only_unowned) in [("sources.list.d", false), ("apt.conf.d", true)] {
        let mut files: Vec<_> = fs::read_dir(Path::new("/etc/apt").join(dir))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            if file == Path::new(setup::SOURCES_FILE) || !file.is_file() {
                continue;
            }
            if only_unowned
                && cmd!(sh, "dpkg-query -S {file}")
                    .quiet()
                    .ignore_stdout()
                    .ignore_stderr()
                    .run()
                    .is_ok()
            {
                continue;
            }
            let name = file.file_name().unwrap().to_string_lossy();
            out.push((format!("{dir}/{name}"), fs::read_to_string(&file)?));
        }
    }
    if !out.iter().any(|(name, _)| name.starts_with("sources")) {
        bail!("no apt sources on this machine to give the fresh root");
    }
    Ok(out)
}

/// A key over the checkout's INPUTS (their content, as in the working tree),
/// the base root and the Rust toolchain.
fn inputs_key(sh: &Shell, tree: &Path, base: &Path) -> Result<String> {
    let _dir = sh.push_dir(tree);
    let files = cmd!(
        sh,
        "git ls-files --cached --others --exclude-standard -- {INPUTS...}"
    )
    .quiet()
    .read()
    .with_context(|| format!("list the inputs of {}", tree.display()))?;
    let mut parts = vec![
        base.display().to_string(),
        cmd!(sh, "rustc -vV").quiet().read()?,
    ];
    for file in files.lines() {
        let text = fs::read(tree.join(file)).unwrap_or_default();
        parts.push(file.to_string());
        parts.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(hash_parts(parts))
}

/// Replaces `root` with a copy of `base`.
fn fresh_copy(sh: &Shell, base: &Path, root: &Path) -> Result<()> {
    step("fresh-root: a fresh copy of the bootstrapped root", || {
        remove_root(root)?;
        cmd!(sh, "cp -a --reflink=auto {base} {root}").run()?;
        Ok(())
    })
}

/// Removes a root left by an earlier run, refusing while anything is mounted
/// below it (the sandbox's mounts end with it; a bind mount of this machine's
/// toolchain must never be deleted through).
fn remove_root(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = root.display().to_string();
    if let Some(line) = mounts.lines().find(|l| {
        l.split_whitespace()
            .nth(4)
            .is_some_and(|m| m.starts_with(&prefix))
    }) {
        bail!(
            "{} still has a mount below it ({line}); unmount it first",
            root.display()
        );
    }
    fs::remove_dir_all(root).with_context(|| format!("remove {}", root.display()))
}

/// The bubblewrap sandbox: the fresh root as `/`, the checkout read-only at
/// /src, this machine's rustup and cargo homes at root's, nothing else of it.
struct Sandbox {
    args: Vec<String>,
}

impl Sandbox {
    fn new(root: &Path, tree: &Path) -> Result<Sandbox> {
        let home = PathBuf::from(env::var_os("HOME").context("HOME is not set")?);
        let rustup = env::var_os("RUSTUP_HOME").map_or(home.join(".rustup"), PathBuf::from);
        let cargo = cargo_home()?;
        let path = |p: &Path| p.display().to_string();
        let mut args: Vec<String> = vec!["--bind".into(), path(root), "/".into()];
        // /tmp as on any machine (apt drops to user _apt and writes there).
        args.extend(
            [
                "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp",
            ]
            .map(String::from),
        );
        // The machine's network, as any machine of this workplace has it: its
        // resolver and the certificate authorities its HTTPS traffic is
        // signed by (cargo's registry is reached through them).
        for file in ["/etc/resolv.conf", CA_BUNDLE] {
            if Path::new(file).exists() {
                args.extend(["--ro-bind", file, file].map(String::from));
            }
        }
        args.extend(["--bind".into(), path(&rustup), "/root/.rustup".into()]);
        args.extend(["--bind".into(), path(&cargo), "/root/.cargo".into()]);
        // What `setup` itself installs with `cargo install` must be installed
        // here too, not borrowed: this machine's copy is masked, and installs
        // go to a directory of the root's own, first on PATH.
        for tool in setup::CARGO_INSTALLED {
            let installed = cargo.join("bin").join(tool);
            if installed.exists() {
                args.extend([
                    "--ro-bind".into(),
                    "/dev/null".into(),
                    format!("/root/.cargo/bin/{tool}"),
                ]);
            }
        }
        args.extend([
            "--ro-bind".into(),
            path(tree),
            SRC.into(),
            "--chdir".into(),
            SRC.into(),
        ]);
        args.extend(["--cap-add", "ALL", "--die-with-parent", "--clearenv"].map(String::from));
        for (var, value) in [
            ("HOME", "/root"),
            (
                "PATH",
                "/opt/cargo-install/bin:/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("CARGO_INSTALL_ROOT", "/opt/cargo-install"),
            ("LANG", "C.UTF-8"),
            ("CARGO_TARGET_DIR", TARGET),
        ] {
            args.extend(["--setenv".into(), var.into(), value.into()]);
        }
        Ok(Sandbox { args })
    }

    fn xtask(&self, sh: &Shell, xtask_args: &[String]) -> Result<()> {
        let args = &self.args;
        cmd!(sh, "bwrap {args...} -- cargo xtask {xtask_args...}").run()?;
        Ok(())
    }
}
