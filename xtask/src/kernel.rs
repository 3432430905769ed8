//! `cargo xtask kernel`: a board's kernel, from Debian's linux-source-7.3 (or a
//! given tree or tarball), tinyconfig plus the board's fragments, built out of
//! tree in the cache and keyed by source, merged config and toolchain.

use std::{
    fs,
    path::{
        Path,
        PathBuf, //
    },
    process::Command,
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
    board::Board,
    flags::{
        self,
        BoardArgs,
        KernelVariant, //
    },
    setup,
    util::{
        cache_dir,
        hash_parts,
        jobs,
        lock_entry,
        project_root,
        run_logged,
        step, //
    },
};

/// The Debian package whose tarball is the default kernel source.
const SOURCE_PACKAGE: &str = "linux-source-7.3";

/// A configured and built kernel.
pub struct Kernel {
    /// The out-of-tree build directory (`O=`), also `KDIR` for modules.
    pub dir: PathBuf,
    /// `make` variables every build against this kernel passes.
    pub make_vars: Vec<String>,
    /// `uname -r` of the kernel.
    pub release: String,
    /// What source was built, e.g. "linux-source-7.3 7.3.4-1~bpo13+1".
    pub source: String,
    /// A checking variant (debug: KASAN, lockdep, kmemleak; kcsan: KCSAN); boots with
    /// panic_on_warn.
    pub debug: bool,
    pub variant: KernelVariant,
}

impl Kernel {
    pub fn image(&self, board: &Board) -> PathBuf {
        self.dir.join(&board.kernel_image)
    }

    pub fn dtb(&self, name: &str, board: &Board) -> PathBuf {
        self.dir
            .join("arch")
            .join(&board.arch)
            .join("boot/dts")
            .join(name)
    }
}

impl flags::Kernel {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board.board)?;
        let kernel = build(sh, &board, &self.board, self.clean)?;
        println!("{}", kernel.image(&board).display());
        Ok(())
    }
}

/// Builds (or finds in the cache) the kernel for `board`.
pub fn build(sh: &Shell, board: &Board, args: &BoardArgs, clean: bool) -> Result<Kernel> {
    setup::ensure(sh)?;
    let (src, source) = source(sh, args.kernel_src.as_deref())?;
    let mut fragments = board.fragment_paths();
    let mut make_vars = vec![
        format!("ARCH={}", board.arch),
        format!("CROSS_COMPILE={}", board.cross_compile),
    ];
    // The checking variants: 64-bit only (KASAN with Rust, and KCSAN, exist only there), a
    // fragment merged after the board's, and for KASAN with Rust a clang build.
    let checking = match args.kernel {
        KernelVariant::Release => None,
        KernelVariant::Debug => Some(("debug kernel (KASAN with Rust)", "linux-debug", true)),
        KernelVariant::Kcsan => Some(("KCSAN kernel", "linux-kcsan", false)),
    };
    if let Some((what, fragment, clang)) = checking {
        if board.arch != "arm64" {
            bail!(
                "the {what} needs a 64-bit board; {} is {}",
                board.name,
                board.arch
            );
        }
        fragments.push(project_root().join(format!("boards/common/{fragment}.fragment")));
        if clang {
            make_vars.push("LLVM=-19".into());
        }
    }

    // The cache key: source, every fragment's text, and the toolchain versions.
    let mut parts = vec![source.clone(), format!("{make_vars:?}")];
    for fragment in &fragments {
        parts.push(
            fs::read_to_string(fragment)
                .with_context(|| format!("read fragment {}", fragment.display()))?,
        );
    }
    parts.push(cmd!(sh, "rustc -V").quiet().read()?);
    parts.push(cmd!(sh, "bindgen --version").quiet().read()?);
    let gcc = format!("{}gcc", board.cross_compile);
    parts.push(cmd!(sh, "{gcc} --version").quiet().read()?);
    if args.kernel == KernelVariant::Debug {
        parts.push(cmd!(sh, "clang-19 --version").quiet().read()?);
    }
    let key = hash_parts(&parts);
    // Everything but the fragments: builds that share it can share object files.
    let toolchain_key = hash_parts(
        parts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 2 || *i >= 2 + fragments.len())
            .map(|(_, p)| p),
    );
    let variant = format!("{:?}", args.kernel).to_lowercase();
    // Set where another kernel build may be running: fail instead of starting one.
    let cached_only = std::env::var_os("MYMAP_KERNEL_CACHED_ONLY").is_some();
    let kernels = cache_dir()?.join("kernel");
    let dir = kernels.join(format!("{}-{variant}-{key}", board.arch));
    // Held until the build is done (or found done): see `lock_entry`.
    let _lock = lock_entry(&dir)?;
    if clean && dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    if !dir.exists() && !clean && !cached_only {
        seed(sh, &kernels, &dir, &toolchain_key)?;
    }
    if cached_only && !dir.exists() {
        bail!(
            "kernel {} ({variant}) for {} is not built and MYMAP_KERNEL_CACHED_ONLY is set",
            board.arch,
            board.name
        );
    }
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("mymap-toolchain-key"), &toolchain_key)?;
    let label = format!("kernel {} ({variant}) for {}", board.arch, board.name);

    if cached_only && !dir.join(".mymap-config-ok").exists() {
        bail!("{label} is not built and MYMAP_KERNEL_CACHED_ONLY is set");
    }
    if !dir.join(".mymap-config-ok").exists() {
        step(&format!("{label}: configure from {source}"), || {
            configure(sh, &src, &dir, &make_vars, &fragments)
        })?;
    }

    let mut targets = vec![Path::new(&board.kernel_image)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()];
    targets.push("modules".into());
    if board.qemu.dtb.is_some() {
        targets.push("dtbs".into());
    }
    let stamp = dir.join(format!(".mymap-built-{}", targets.join("-")));
    // A build for another board of the same kernel may have made more targets.
    let built = built_targets(&dir);
    let done = targets.iter().all(|t| built.contains(t));
    if cached_only && !done {
        bail!("{label} is not built and MYMAP_KERNEL_CACHED_ONLY is set");
    }
    if !done {
        step(&format!("{label}: build {}", targets.join(" ")), || {
            let mut make = make(&src, &dir, &make_vars);
            make.arg(format!("-j{}", jobs())).args(&targets);
            run_logged(
                make,
                &dir.join("build.log"),
                &format!("make {}", targets.join(" ")),
            )?;
            fs::write(&stamp, "")?;
            Ok(())
        })?;
    }
    let release = fs::read_to_string(dir.join("include/config/kernel.release"))
        .context("read kernel.release")?
        .trim()
        .to_string();
    fs::write(dir.join("mymap-source"), format!("{source}\n"))?;
    Ok(Kernel {
        dir,
        make_vars,
        release,
        source,
        debug: args.kernel != KernelVariant::Release,
        variant: args.kernel,
    })
}

/// Starts a new build directory as a copy of a finished build with the same source
/// and toolchain, when there is one: after a fragment changes, Kbuild then rebuilds
/// only what the changed options touch instead of the whole kernel.
fn seed(sh: &Shell, kernels: &Path, dir: &Path, toolchain_key: &str) -> Result<()> {
    let Ok(entries) = fs::read_dir(kernels) else {
        return Ok(());
    };
    let donor = entries.filter_map(|e| e.ok().map(|e| e.path())).find(|d| {
        fs::read_to_string(d.join("mymap-toolchain-key")).is_ok_and(|k| k == toolchain_key)
            && fs::read_dir(d).is_ok_and(|mut es| {
                es.any(|e| {
                    e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".mymap-built-"))
                })
            })
    });
    let Some(donor) = donor else { return Ok(()) };
    step(
        &format!(
            "kernel: start from {} (same source and toolchain)",
            donor.display()
        ),
        || {
            cmd!(sh, "cp -a {donor} {dir}").run()?;
            for entry in fs::read_dir(dir)? {
                let path = entry?.path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with(".mymap-built-") || name == ".mymap-config-ok" {
                    fs::remove_file(path)?;
                }
            }
            Ok(())
        },
    )
}

/// Every target some finished build in `dir` made, from the stamps' names.
fn built_targets(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(".mymap-built-")
                .map(|t| t.split('-').map(String::from).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

/// A `make` in the kernel source with the build directory and variables set.
pub fn make(src: &Path, dir: &Path, make_vars: &[String]) -> Command {
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(src)
        .arg(format!("O={}", dir.display()))
        .args(make_vars);
    make.env("LIBCLANG_PATH", setup::LIBCLANG_PATH);
    make
}

pub(crate) fn configure(
    sh: &Shell,
    src: &Path,
    dir: &Path,
    make_vars: &[String],
    fragments: &[PathBuf],
) -> Result<()> {
    let log = dir.join("config.log");
    let mut rustavailable = make(src, dir, make_vars);
    rustavailable.arg("rustavailable");
    run_logged(
        rustavailable,
        &log,
        "make rustavailable (Rust toolchain check)",
    )
    .context("the kernel cannot find a usable Rust toolchain; run `cargo xtask setup`")?;
    let mut tiny = make(src, dir, make_vars);
    tiny.arg("tinyconfig");
    run_logged(tiny, &log, "make tinyconfig")?;
    let merge = src.join("scripts/kconfig/merge_config.sh");
    let config = dir.join(".config");
    cmd!(sh, "{merge} -m -O {dir} {config} {fragments...}")
        .quiet()
        .ignore_stdout()
        .run()?;
    let mut olddefconfig = make(src, dir, make_vars);
    olddefconfig.arg("olddefconfig");
    run_logged(olddefconfig, &log, "make olddefconfig")?;
    check_config(&config, fragments)?;
    fs::write(dir.join(".mymap-config-ok"), "")?;
    Ok(())
}

/// Fails naming every fragment line that did not survive `olddefconfig`.
pub(crate) fn check_config(config: &Path, fragments: &[PathBuf]) -> Result<()> {
    let merged = fs::read_to_string(config)?;
    let merged: Vec<&str> = merged.lines().collect();
    let mut lost = Vec::new();
    for fragment in fragments {
        for line in fs::read_to_string(fragment)?.lines().map(str::trim) {
            let wanted = line.starts_with("CONFIG_")
                || (line.starts_with("# CONFIG_") && line.ends_with(" is not set"));
            if !wanted {
                continue;
            }
            let unset = line
                .strip_prefix("# ")
                .and_then(|l| l.strip_suffix(" is not set"));
            let ok = match unset {
                // An unset option may also be absent when its dependencies are off.
                Some(name) => !merged.iter().any(|l| l.starts_with(&format!("{name}="))),
                None => merged.contains(&line),
            };
            if !ok {
                lost.push(format!("{} ({})", line, fragment.display()));
            }
        }
    }
    if !lost.is_empty() {
        bail!(
            "these fragment lines did not survive olddefconfig (a dependency is missing or \
             the option was renamed; see `make menuconfig` in the build dir):\n  {}",
            lost.join("\n  ")
        );
    }
    Ok(())
}

/// The kernel source tree and a label saying what it is.
pub(crate) fn source(sh: &Shell, given: Option<&Path>) -> Result<(PathBuf, String)> {
    let srcs = cache_dir()?.join("src");
    fs::create_dir_all(&srcs)?;
    if let Some(given) = given {
        let given = fs::canonicalize(given)
            .with_context(|| format!("kernel source {} not found", given.display()))?;
        if given.is_dir() {
            let makefile = fs::read_to_string(given.join("Makefile"))
                .with_context(|| format!("{} is not a kernel tree", given.display()))?;
            let version = makefile_version(&makefile);
            return Ok((
                given.clone(),
                format!("tree {} ({version})", given.display()),
            ));
        }
        let meta = fs::metadata(&given)?;
        let key = hash_parts([
            given.to_string_lossy().as_bytes(),
            &meta.len().to_le_bytes(),
        ]);
        let dir = srcs.join(format!("tarball-{key}"));
        extract_tarball(sh, &given, &dir)?;
        return Ok((tree_in(&dir)?, format!("tarball {}", given.display())));
    }

    let version = debian_candidate(sh)?;
    let dir = srcs.join(format!("{SOURCE_PACKAGE}_{version}"));
    let _lock = lock_entry(&dir)?;
    if !dir.join(".extracted").exists() {
        step(
            &format!("download and unpack {SOURCE_PACKAGE} {version}"),
            || {
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir)?;
                let _cd = sh.push_dir(&dir);
                cmd!(sh, "apt-get download {SOURCE_PACKAGE}={version}")
                    .quiet()
                    .run()?;
                let deb = fs::read_dir(&dir)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .find(|p| p.extension().is_some_and(|e| e == "deb"))
                    .context("apt-get download left no .deb")?;
                let unpacked = dir.join("deb");
                cmd!(sh, "dpkg-deb -x {deb} {unpacked}").run()?;
                let tarball = unpacked.join(format!("usr/src/{SOURCE_PACKAGE}.tar.xz"));
                extract_tarball(sh, &tarball, &dir.join("tree"))?;
                fs::remove_dir_all(&unpacked)?;
                fs::remove_file(&deb)?;
                fs::write(dir.join(".extracted"), "")?;
                Ok(())
            },
        )?;
    }
    Ok((
        tree_in(&dir.join("tree"))?,
        format!("{SOURCE_PACKAGE} {version}"),
    ))
}

/// The version apt would install, or the newest already unpacked when apt knows none
/// (backports keep only recent revisions; any 7.3 revision will do).
fn debian_candidate(sh: &Shell) -> Result<String> {
    let policy = cmd!(sh, "apt-cache policy {SOURCE_PACKAGE}")
        .quiet()
        .read()
        .unwrap_or_default();
    let candidate = policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_string())
        .filter(|v| v != "(none)");
    if let Some(version) = candidate {
        return Ok(version);
    }
    let srcs = cache_dir()?.join("src");
    let mut unpacked: Vec<String> = fs::read_dir(&srcs)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(".extracted").exists())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix(&format!("{SOURCE_PACKAGE}_"))
                .map(String::from)
        })
        .collect();
    unpacked.sort();
    unpacked.pop().with_context(|| {
        format!(
            "apt knows no {SOURCE_PACKAGE}: run `cargo xtask setup` (adds trixie-backports), \
             or pass --kernel-src with a 7.3 tree or tarball"
        )
    })
}

fn extract_tarball(sh: &Shell, tarball: &Path, dir: &Path) -> Result<()> {
    if dir.join(".extracted").exists() {
        return Ok(());
    }
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    cmd!(sh, "tar -xf {tarball} -C {dir}").run()?;
    fs::write(dir.join(".extracted"), "")?;
    Ok(())
}

/// The kernel tree in an unpacked tarball: the directory itself or its one subdirectory.
fn tree_in(dir: &Path) -> Result<PathBuf> {
    if dir.join("Makefile").exists() {
        return Ok(dir.to_path_buf());
    }
    fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("Makefile").exists() && p.join("Kconfig").exists())
        .with_context(|| format!("no kernel tree in {}", dir.display()))
}

fn makefile_version(makefile: &str) -> String {
    let get = |key: &str| {
        makefile
            .lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim_start_matches([' ', '=']).trim())
            })
            .unwrap_or("?")
            .to_string()
    };
    format!(
        "{}.{}.{}",
        get("VERSION"),
        get("PATCHLEVEL"),
        get("SUBLEVEL")
    )
}

#[cfg(test)]
mod tests {
    use super::check_config;
    use std::fs;

    #[test]
    fn a_lost_fragment_line_is_named() {
        let dir = std::env::temp_dir().join(format!("mymap-xtask-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        let fragment = dir.join("fragment");
        fs::write(&config, "CONFIG_RUST=y\n# CONFIG_MODVERSIONS is not set\n").unwrap();
        fs::write(
            &fragment,
            "# comment\nCONFIG_RUST=y\n# CONFIG_MODVERSIONS is not set\n",
        )
        .unwrap();
        assert!(check_config(&config, std::slice::from_ref(&fragment)).is_ok());
        fs::write(&fragment, "CONFIG_RUST=y\nCONFIG_GPIO_SIM=y\n").unwrap();
        let err = check_config(&config, &[fragment]).unwrap_err().to_string();
        assert!(err.contains("CONFIG_GPIO_SIM=y"), "{err}");
        assert!(!err.contains("CONFIG_RUST=y ("), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
