//! The kernels users build, checked: each Buildroot defconfig of `buildroot-ext/configs/`
//! configures the kernel the way Buildroot would, and every option our fragments (and our
//! packages' `_LINUX_CONFIG_FIXUPS`) set must survive, as `kernel::check_config` demands of
//! the xtask's own `tinyconfig` kernels. Kconfig drops an option silently when a dependency
//! is missing; under another base config (`defconfig`, `multi_v7_defconfig`) a fragment
//! that works over `tinyconfig` may lose a line.
//!
//! Buildroot itself is not needed: its configure step is replayed (seconds of Kconfig, no
//! build), from Buildroot's `package/pkg-kconfig.mk` and `linux/linux.mk`:
//! 1. `make <defconfig>` (`BR2_LINUX_KERNEL_USE_ARCH_DEFAULT_CONFIG`: `defconfig`;
//!    `BR2_LINUX_KERNEL_DEFCONFIG`: `<name>_defconfig`);
//! 2. `merge_config.sh -m` with `BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES`;
//! 3. the fixups: `LINUX_KCONFIG_FIXUP_CMDS` (those of its lines our defconfigs trigger; see
//!    [`buildroot_fixups`]), then every enabled package's `<PKG>_LINUX_CONFIG_FIXUPS`;
//! 4. `make olddefconfig`.
//!
//! What still differs from a real Buildroot build is the compiler: Buildroot's toolchain
//! instead of Debian's cross gcc, which can move only the compiler-dependent `CC_HAS_*`
//! options.

use std::{
    collections::BTreeMap,
    fs,
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
    board::{
        self,
        Board, //
    },
    kernel,
    util::{
        cache_dir,
        hash_parts,
        lock_entry,
        project_root,
        run_logged, //
    },
};

/// Options the target tests or the bench depend on: `check` prints their values in the
/// xtask's kernel and in Buildroot's, so that a reader sees where the two differ.
const TEST_DEPENDS_ON: &[&str] = &[
    "CONFIG_GPIO_SIM",
    "CONFIG_HIGH_RES_TIMERS",
    "CONFIG_TRANSPARENT_HUGEPAGE",
    "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE",
    "CONFIG_BLK_DEV_RAM",
    "CONFIG_CONFIGFS_FS",
    "CONFIG_COMPAT",
    "CONFIG_PREEMPT_NONE",
    "CONFIG_PREEMPT_VOLUNTARY",
    "CONFIG_PREEMPT",
    "CONFIG_PREEMPT_RT",
    "CONFIG_PREEMPT_LAZY",
    "CONFIG_PREEMPT_DYNAMIC",
    "CONFIG_HZ",
    "CONFIG_BPF_SYSCALL",
    "CONFIG_BPF_JIT",
    "CONFIG_PERF_EVENTS",
];

/// One fixup, as Buildroot's `KCONFIG_ENABLE_OPT` / `KCONFIG_DISABLE_OPT` / `KCONFIG_SET_OPT`
/// apply it: the option's line (set or "is not set") is removed and the new one appended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fixup {
    Enable(String),
    Disable(String),
    Set(String, String),
}

impl Fixup {
    fn name(&self) -> &str {
        match self {
            Fixup::Enable(n) | Fixup::Disable(n) | Fixup::Set(n, _) => n,
        }
    }

    /// The `.config` line it leaves, in the form `check_config` compares.
    fn line(&self) -> String {
        match self {
            Fixup::Enable(n) => format!("{n}=y"),
            Fixup::Disable(n) => format!("# {n} is not set"),
            Fixup::Set(n, v) => format!("{n}={v}"),
        }
    }
}

/// A Buildroot defconfig of ours, as far as the kernel's configuration goes.
struct Defconfig {
    name: String,
    /// `BR2_*` options set in it (`=y` ones and strings, quotes removed).
    options: BTreeMap<String, String>,
    /// The kernel's base configuration target, e.g. `defconfig`.
    base: String,
    fragments: Vec<PathBuf>,
}

impl Defconfig {
    fn load(path: &Path) -> Result<Defconfig> {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let options: BTreeMap<String, String> = text
            .lines()
            .filter(|l| l.starts_with("BR2_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        let on = |k: &str| options.get(k).is_some_and(|v| v == "y");
        if !on("BR2_LINUX_KERNEL") {
            bail!("{name} builds no kernel (BR2_LINUX_KERNEL is not set)");
        }
        let base = if on("BR2_LINUX_KERNEL_USE_ARCH_DEFAULT_CONFIG") {
            "defconfig".to_string()
        } else if let Some(d) = options.get("BR2_LINUX_KERNEL_DEFCONFIG") {
            format!("{d}_defconfig")
        } else {
            bail!(
                "{name}: only BR2_LINUX_KERNEL_USE_ARCH_DEFAULT_CONFIG and \
                 BR2_LINUX_KERNEL_DEFCONFIG are replayed; add the other kind to xtask/src/kconfig.rs"
            );
        };
        let external = project_root().join("buildroot-ext");
        let fragments = options
            .get("BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES")
            .map(String::as_str)
            .unwrap_or_default()
            .split_whitespace()
            .map(|f| {
                let f = f.replace("$(BR2_EXTERNAL_MYMAP_PATH)", &external.to_string_lossy());
                // Fragments name the boards directory through buildroot-ext/..: compare
                // them with the board files' paths as such.
                fs::canonicalize(&f).with_context(|| format!("{name}: fragment {f} not found"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Defconfig {
            name,
            options,
            base,
            fragments,
        })
    }

    fn on(&self, key: &str) -> bool {
        self.options.get(key).is_some_and(|v| v == "y")
    }

    fn arch(&self) -> Result<&'static str> {
        if self.on("BR2_aarch64") {
            Ok("arm64")
        } else if self.on("BR2_arm") {
            Ok("arm")
        } else {
            bail!("{}: neither BR2_aarch64 nor BR2_arm", self.name)
        }
    }
}

/// The lines of Buildroot's `LINUX_KCONFIG_FIXUP_CMDS` (linux/linux.mk) that a defconfig
/// of ours triggers: modules (a kernel-module package), gzip compression (the default),
/// little endian, AEABI on 32-bit ARM, 4 KiB pages on arm64 (the default), devtmpfs
/// (dynamic device creation), inotify (eudev), an initrd for a cpio root file system, and
/// no GCC plugins. The rest concern other architectures or options we do not set; one that
/// we set and that is not replayed fails [`check`].
fn buildroot_fixups(d: &Defconfig) -> Result<Vec<Fixup>> {
    const HANDLED: &[&str] = &[
        "BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_EUDEV",
        "BR2_TARGET_ROOTFS_CPIO",
    ];
    const NOT_REPLAYED: &[&str] = &[
        "BR2_LINUX_KERNEL_LZ4",
        "BR2_LINUX_KERNEL_LZMA",
        "BR2_LINUX_KERNEL_LZO",
        "BR2_LINUX_KERNEL_XZ",
        "BR2_LINUX_KERNEL_ZSTD",
        "BR2_LINUX_KERNEL_UNCOMPRESSED",
        "BR2_ARM64_PAGE_SIZE_16K",
        "BR2_ARM64_PAGE_SIZE_64K",
        "BR2_ROOTFS_DEVICE_CREATION_STATIC",
        "BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_MDEV",
        "BR2_TARGET_ROOTFS_INITRAMFS",
        "BR2_LINUX_KERNEL_APPENDED_DTB",
        "BR2_LINUX_KERNEL_CUSTOM_LOGO_PATH",
    ];
    if let Some(k) = NOT_REPLAYED.iter().find(|k| d.on(k)) {
        bail!(
            "{}: {k} changes Buildroot's kernel fixups in a way xtask/src/kconfig.rs does \
             not replay; add it to `buildroot_fixups`",
            d.name
        );
    }
    debug_assert!(HANDLED.iter().all(|k| !NOT_REPLAYED.contains(k)));
    let mut fixups = vec![Fixup::Enable("CONFIG_MODULES".into())];
    fixups.push(Fixup::Enable("CONFIG_KERNEL_GZIP".into()));
    for other in ["LZ4", "LZMA", "LZO", "XZ", "ZSTD", "UNCOMPRESSED"] {
        fixups.push(Fixup::Disable(format!("CONFIG_KERNEL_{other}")));
    }
    fixups.push(Fixup::Enable("CONFIG_CPU_LITTLE_ENDIAN".into()));
    match d.arch()? {
        "arm" => fixups.push(Fixup::Enable("CONFIG_AEABI".into())),
        _ => {
            fixups.push(Fixup::Enable("CONFIG_ARM64_4K_PAGES".into()));
            fixups.push(Fixup::Disable("CONFIG_ARM64_16K_PAGES".into()));
            fixups.push(Fixup::Disable("CONFIG_ARM64_64K_PAGES".into()));
        }
    }
    if d.on("BR2_TARGET_ROOTFS_CPIO") {
        fixups.push(Fixup::Enable("CONFIG_BLK_DEV_INITRD".into()));
    }
    fixups.push(Fixup::Enable("CONFIG_DEVTMPFS".into()));
    fixups.push(Fixup::Enable("CONFIG_DEVTMPFS_MOUNT".into()));
    if d.on("BR2_ROOTFS_DEVICE_CREATION_DYNAMIC_EUDEV") {
        fixups.push(Fixup::Enable("CONFIG_INOTIFY_USER".into()));
    }
    fixups.push(Fixup::Disable("CONFIG_GCC_PLUGINS".into()));
    Ok(fixups)
}

/// Every `<PKG>_LINUX_CONFIG_FIXUPS` of the external tree's packages that `d` enables,
/// in the packages' order. Only `$(call KCONFIG_{ENABLE,DISABLE,SET}_OPT,...)` lines are
/// understood; any other line in such a block fails, naming it.
fn package_fixups(d: &Defconfig) -> Result<Vec<Fixup>> {
    let packages = project_root().join("buildroot-ext/package");
    let mut mks: Vec<PathBuf> = fs::read_dir(&packages)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|dir| {
            let name = dir.file_name()?.to_string_lossy().into_owned();
            Some(dir.join(format!("{name}.mk")))
        })
        .filter(|mk| mk.exists())
        .collect();
    mks.sort();
    let mut fixups = Vec::new();
    for mk in mks {
        let pkg = mk
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_uppercase()
            .replace('-', "_");
        if !d.on(&format!("BR2_PACKAGE_{pkg}")) {
            continue;
        }
        let text = fs::read_to_string(&mk)?;
        fixups.extend(parse_fixups(&text, &pkg).with_context(|| mk.display().to_string())?);
        // package/pkg-kernel-module.mk adds this to every kernel-module package's fixups.
        if text.lines().any(|l| l.trim() == "$(eval $(kernel-module))") {
            fixups.push(Fixup::Disable("CONFIG_TRIM_UNUSED_KSYMS".into()));
        }
    }
    Ok(fixups)
}

fn parse_fixups(mk: &str, pkg: &str) -> Result<Vec<Fixup>> {
    let start = format!("define {pkg}_LINUX_CONFIG_FIXUPS");
    let mut lines = mk.lines().skip_while(|l| l.trim() != start);
    if lines.next().is_none() {
        return Ok(Vec::new());
    }
    let mut fixups = Vec::new();
    for line in lines.map(str::trim).take_while(|l| *l != "endef") {
        let call = line
            .strip_prefix("$(call KCONFIG_")
            .and_then(|l| l.strip_suffix(')'))
            .with_context(|| format!("{pkg}_LINUX_CONFIG_FIXUPS: cannot replay `{line}`"))?;
        let (kind, args) = call.split_once("_OPT,").context("no _OPT,")?;
        let mut args = args.splitn(2, ',').map(str::trim);
        let name = args.next().unwrap_or_default().to_string();
        fixups.push(match (kind, args.next()) {
            ("ENABLE", None) => Fixup::Enable(name),
            ("DISABLE", None) => Fixup::Disable(name),
            ("SET", Some(value)) => Fixup::Set(name, value.to_string()),
            _ => bail!("{pkg}_LINUX_CONFIG_FIXUPS: cannot replay `{line}`"),
        });
    }
    Ok(fixups)
}

/// Applies fixups to a `.config` text as Buildroot's `KCONFIG_*_OPT` macros do
/// (package/pkg-utils.mk): `ENABLE` keeps an option that is already `y` or `m`.
fn apply(config: &str, fixups: &[Fixup]) -> String {
    let mut lines: Vec<String> = config.lines().map(String::from).collect();
    for fixup in fixups {
        let name = fixup.name();
        if matches!(fixup, Fixup::Enable(_))
            && lines
                .iter()
                .any(|l| *l == format!("{name}=y") || *l == format!("{name}=m"))
        {
            continue;
        }
        lines.retain(|l| {
            !(l.starts_with(&format!("{name}=")) || *l == format!("# {name} is not set"))
        });
        lines.push(fixup.line());
    }
    lines.join("\n") + "\n"
}

/// The board whose kernel the xtask builds from the same fragments (and, after them,
/// only test-only ones): its `ARCH`, cross compiler and `tinyconfig` kernel are the
/// comparison.
fn board_for(d: &Defconfig) -> Result<(Board, Vec<PathBuf>)> {
    for name in board::ALL {
        let board = Board::load(name)?;
        let paths: Vec<PathBuf> = board
            .fragment_paths()
            .iter()
            .map(|p| fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        if board.arch == d.arch()? && paths.starts_with(&d.fragments) {
            let test_only = paths[d.fragments.len()..].to_vec();
            return Ok((board, test_only));
        }
    }
    bail!(
        "{}: no board in boards/*/board.toml builds its kernel from the same fragments ({}); \
         the xtask tests no kernel like it",
        d.name,
        d.fragments
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Checks every Buildroot defconfig's kernel configuration (see the module docs) and
/// prints where it differs from the xtask's kernel in what the tests depend on.
/// Cached by its inputs: a second run with nothing changed costs nothing.
pub fn check(sh: &Shell) -> Result<()> {
    let (src, source) = kernel::source(sh, None)?;
    let configs = project_root().join("buildroot-ext/configs");
    let mut paths: Vec<PathBuf> = fs::read_dir(&configs)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_defconfig"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no defconfig in {}", configs.display());
    }
    let mut failures = Vec::new();
    for path in paths {
        let d = Defconfig::load(&path)?;
        if let Err(err) = check_one(sh, &src, &source, &d) {
            failures.push(format!("{}: {err:#}", d.name));
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

fn check_one(sh: &Shell, src: &Path, source: &str, d: &Defconfig) -> Result<()> {
    let (board, test_only) = board_for(d)?;
    let make_vars = vec![
        format!("ARCH={}", board.arch),
        format!("CROSS_COMPILE={}", board.cross_compile),
    ];
    let ours = package_fixups(d)?;
    let mut fixups = buildroot_fixups(d)?;
    fixups.extend(ours.iter().cloned());

    let mut parts = vec![
        source.to_string(),
        d.name.clone(),
        d.base.clone(),
        format!("{make_vars:?}"),
        format!("{fixups:?}"),
    ];
    for f in d.fragments.iter().chain(&test_only) {
        parts.push(fs::read_to_string(f)?);
    }
    parts.push(cmd!(sh, "rustc -V").quiet().read()?);
    parts.push(cmd!(sh, "bindgen --version").quiet().read()?);
    let gcc = format!("{}gcc", board.cross_compile);
    parts.push(cmd!(sh, "{gcc} --version").quiet().read()?);
    let dir = cache_dir()?
        .join("kconfig")
        .join(format!("{}-{}", d.name, hash_parts(&parts)));
    let _lock = lock_entry(&dir)?;
    let report = dir.join("report.txt");
    if let Ok(text) = fs::read_to_string(&report) {
        eprint!("{text}");
        return Ok(());
    }
    let _ = fs::remove_dir_all(&dir);
    let br = dir.join("buildroot");
    let xt = dir.join("xtask");
    fs::create_dir_all(&br)?;
    fs::create_dir_all(&xt)?;

    // Buildroot's kernel: base, fragments, fixups, olddefconfig.
    let log = br.join("config.log");
    let mut base = kernel::make(src, &br, &make_vars);
    base.arg(&d.base);
    run_logged(base, &log, &format!("make {}", d.base))?;
    let merge = src.join("scripts/kconfig/merge_config.sh");
    let config = br.join(".config");
    let fragments = &d.fragments;
    cmd!(sh, "{merge} -m -O {br} {config} {fragments...}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()?;
    let fixed = apply(&fs::read_to_string(&config)?, &fixups);
    // linux.mk's LINUX_FIXUP_CONFIG_PAHOLE_CHECK: BTF needs host-pahole.
    if fixed.lines().any(|l| l == "CONFIG_DEBUG_INFO_BTF=y")
        && !d.on("BR2_LINUX_KERNEL_NEEDS_HOST_PAHOLE")
    {
        bail!(
            "the merged configuration has CONFIG_DEBUG_INFO_BTF=y, and Buildroot stops there \
             without BR2_LINUX_KERNEL_NEEDS_HOST_PAHOLE=y in the defconfig"
        );
    }
    fs::write(&config, fixed)?;
    let mut olddefconfig = kernel::make(src, &br, &make_vars);
    olddefconfig.arg("olddefconfig");
    run_logged(olddefconfig, &log, "make olddefconfig")?;

    // What our packages' fixups set counts like a fragment line: write them as one.
    // Buildroot's own fixups are applied but not demanded: some name options an
    // architecture lacks (arm64 has no CONFIG_KERNEL_GZIP), which Kconfig then drops, as
    // it does in a real Buildroot build.
    let fixup_fragment = dir.join("fixups.fragment");
    let fixup_text: String = ours.iter().map(|f| f.line() + "\n").collect();
    fs::write(&fixup_fragment, fixup_text)?;
    let mut wanted = d.fragments.clone();
    wanted.push(fixup_fragment);
    kernel::check_config(&config, &wanted).with_context(|| {
        format!(
            "the kernel Buildroot configures from {} ({}), in {}",
            d.base,
            board.arch,
            br.display()
        )
    })?;

    // The xtask's kernel for the same board: tinyconfig and every fragment, test-only ones
    // included; `kernel::configure` checks it as every kernel build does.
    kernel::configure(sh, src, &xt, &make_vars, &board.fragment_paths())?;

    let mut text = format!(
        "    {}: every option of its fragments and fixups survives {} + olddefconfig ({})\n",
        d.name, d.base, board.arch
    );
    for f in &test_only {
        text += &format!(
            "    {}: not in the Buildroot kernel (test-only): {}\n",
            d.name,
            f.display()
        );
    }
    text += &format!(
        "    {:<40} {:<26} {}\n",
        "option the tests depend on",
        format!("xtask ({})", board.name),
        "Buildroot"
    );
    let xtask = read_options(&xt.join(".config"))?;
    let theirs = read_options(&config)?;
    for opt in TEST_DEPENDS_ON {
        let a = xtask.get(*opt).map_or("-", String::as_str);
        let b = theirs.get(*opt).map_or("-", String::as_str);
        let mark = if a == b { "" } else { "  (differs)" };
        text += &format!("    {opt:<40} {a:<26} {b}{mark}\n");
    }
    eprint!("{text}");
    fs::write(&report, text)?;
    Ok(())
}

/// `CONFIG_X=value` lines of a `.config`.
fn read_options(config: &Path) -> Result<BTreeMap<String, String>> {
    Ok(fs::read_to_string(config)?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixups_replace_the_line_as_buildroot_does() {
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_D=m\n";
        let out = apply(
            config,
            &[
                Fixup::Disable("CONFIG_A".into()),
                Fixup::Enable("CONFIG_B".into()),
                Fixup::Set("CONFIG_C".into(), "\"x\"".into()),
                // Already a module: ENABLE leaves it so.
                Fixup::Enable("CONFIG_D".into()),
            ],
        );
        assert_eq!(
            out, "CONFIG_D=m\n# CONFIG_A is not set\nCONFIG_B=y\nCONFIG_C=\"x\"\n",
            "{out}"
        );
    }

    #[test]
    fn package_fixups_are_read_and_others_refused() {
        let mk = "define FOO_LINUX_CONFIG_FIXUPS\n\t$(call KCONFIG_ENABLE_OPT,CONFIG_RUST)\n\
                  \t$(call KCONFIG_DISABLE_OPT,CONFIG_MODVERSIONS)\n\
                  \t$(call KCONFIG_SET_OPT,CONFIG_HZ,250)\nendef\n";
        assert_eq!(
            parse_fixups(mk, "FOO").unwrap(),
            vec![
                Fixup::Enable("CONFIG_RUST".into()),
                Fixup::Disable("CONFIG_MODVERSIONS".into()),
                Fixup::Set("CONFIG_HZ".into(), "250".into()),
            ]
        );
        assert!(parse_fixups("", "FOO").unwrap().is_empty());
        let odd = "define FOO_LINUX_CONFIG_FIXUPS\n\tsed -i s/a/b/ $(LINUX_DIR)/.config\nendef\n";
        let err = parse_fixups(odd, "FOO").unwrap_err().to_string();
        assert!(err.contains("cannot replay"), "{err}");
    }

    #[test]
    fn the_drivers_fixups_parse() {
        let mk = fs::read_to_string(
            project_root().join("buildroot-ext/package/mymap-driver/mymap-driver.mk"),
        )
        .unwrap();
        let fixups = parse_fixups(&mk, "MYMAP_DRIVER").unwrap();
        assert!(
            fixups.contains(&Fixup::Enable("CONFIG_RUST".into())),
            "{fixups:?}"
        );
    }
}
