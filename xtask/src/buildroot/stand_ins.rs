//! The offline stand-ins: for each package Buildroot would download, either a
//! local replacement in `host/` (or Debian's files in `target/`) and stamps
//! that tell Buildroot it is built, or a source it can build from without a
//! download. buildroot-ext/README.md, "Building offline with local tools",
//! says why each one is needed; this file does what it says.

use std::{
    fs,
    path::{
        Path,
        PathBuf, //
    },
    time::{
        Duration,
        SystemTime, //
    },
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use serde_json::Value;
use xshell::{
    cmd,
    Shell, //
};

use super::{
    Defconfig,
    Output, //
};
use crate::{
    apt::PrivateApt,
    image, setup,
    util::{
        cache_dir,
        cargo_home,
        lock_entry,
        step, //
    },
};

/// Packages with a download that Buildroot still builds here, from a source
/// given to it: the kernel and the firmware from a local directory
/// (`local.mk`), BusyBox from Debian's copy of its tarball, mymap's own
/// packages from the checkout.
const BUILT_BY_BUILDROOT: &[&str] = &[
    "linux",
    "rpi-firmware",
    "busybox",
    "mymap-driver",
    "mymap-read",
    "mymap-sample-producer",
    "mymap-ring-consumer",
];

/// Packages only needed to build other packages that are stood in for, or
/// to unpack their sources: marked built, with nothing in their place.
const ONLY_BUILD_DEPENDENCIES: &[&str] = &[
    "host-acl",
    "host-attr",
    "host-autoconf",
    "host-autoconf-archive",
    "host-automake",
    "host-bison",
    "host-cmake",
    "host-expat",
    "host-flex",
    "host-gettext-tiny",
    "host-gperf",
    "host-libconfuse",
    "host-libffi",
    "host-libglib2",
    "host-libopenssl",
    "host-libtool",
    "host-libxcrypt",
    "host-libxml2",
    "host-libzlib",
    "host-llvm",
    "host-llvm-cmake",
    "host-lzip",
    "host-m4",
    "host-meson",
    "host-ninja",
    "host-pcre2",
    "host-pixman",
    "host-python-distlib",
    "host-python-flit-core",
    "host-python-installer",
    "host-python-packaging",
    "host-python-pypa-build",
    "host-python-pyproject-hooks",
    "host-python-setuptools",
    "host-python-wheel",
    "host-python3",
    "host-slirp",
    "host-util-linux",
];

/// Debian packages unpacked into the target: the target side of the
/// toolchain (glibc, libgcc), udev for eudev, kmod, libblkid for
/// util-linux, and their libraries.
const TARGET_DEBS: &[&str] = &[
    "libc6",
    "libgcc-s1",
    "udev",
    "libudev1",
    "kmod",
    "libkmod2",
    "libblkid1",
    "libacl1",
    "libcap2",
    "libselinux1",
    "libpcre2-8-0",
    "liblzma5",
    "libzstd1",
    "libssl3",
];

/// Host programs the stand-ins link to, with the Debian package that has each.
fn host_tools(def: &Defconfig) -> Vec<(String, String)> {
    let qemu = def.boot.qemu_system();
    let arch = def.debian_arch;
    let cross = def.debian_cross;
    [
        (format!("/usr/bin/{cross}-gcc"), format!("gcc-{cross}")),
        (
            format!("/usr/{cross}/lib/crt1.o"),
            format!("libc6-dev-{arch}-cross"),
        ),
        ("/usr/bin/genimage".into(), "genimage".into()),
        ("/usr/bin/mcopy".into(), "mtools".into()),
        ("/usr/sbin/mkfs.vfat".into(), "dosfstools".into()),
        ("/usr/sbin/mkfs.ext4".into(), "e2fsprogs".into()),
        ("/usr/bin/dtc".into(), "device-tree-compiler".into()),
        ("/usr/bin/fdtput".into(), "device-tree-compiler".into()),
        ("/usr/bin/fakeroot".into(), "fakeroot".into()),
        ("/usr/bin/pkgconf".into(), "pkgconf".into()),
        ("/usr/bin/rsync".into(), "rsync".into()),
        ("/usr/bin/bc".into(), "bc".into()),
        (format!("/usr/bin/{qemu}"), "qemu-system-arm".into()),
    ]
    .into_iter()
    .collect()
}

/// A package of the configuration, from `make show-info`.
struct Package {
    name: String,
    version: String,
    /// Where its stamps go, relative to the output directory.
    stamp_dir: String,
    host: bool,
    downloads: bool,
    staging: bool,
    target: bool,
    images: bool,
}

/// Prepares every stand-in; returns one line per package stood in for.
pub fn prepare(
    sh: &Shell,
    out: &Output,
    def: &Defconfig,
    ksrc: &Path,
    ksrc_label: &str,
) -> Result<Vec<String>> {
    let missing: Vec<String> = host_tools(def)
        .into_iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(path, package)| format!("{package} (for {path})"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the stand-ins need Debian packages this machine lacks: {}; run `cargo xtask setup` \
             (as root), which installs them",
            missing.join(", ")
        );
    }
    // The kernel and the firmware come from local directories: nothing is
    // downloaded for them, so the kernel tarball's hash is not asked for.
    let firmware = out.work.join("rpi-firmware");
    fs::write(
        out.dir.join("local.mk"),
        format!(
            "# Written by `cargo xtask buildroot`: sources from local directories.\n\
             LINUX_OVERRIDE_SRCDIR = {}\nRPI_FIRMWARE_OVERRIDE_SRCDIR = {}\n",
            ksrc.display(),
            firmware.display()
        ),
    )?;
    let packages = show_info(out)?;
    let mut lines = vec![format!(
        "linux: {ksrc_label} ({}) as LINUX_OVERRIDE_SRCDIR, instead of kernel.org's tarball",
        ksrc.display()
    )];
    let mut only_build = Vec::new();
    let mut stamped = Vec::new();
    let host = Host::new(sh, out, def)?;
    for package in packages.iter().filter(|p| p.downloads) {
        let name = package.name.as_str();
        if BUILT_BY_BUILDROOT.contains(&name) {
            match name {
                "busybox" => lines.push(busybox_tarball(out, &package.version)?),
                "rpi-firmware" => lines.push(rpi_firmware(sh, def, &firmware)?),
                _ => {}
            }
            continue;
        }
        if ONLY_BUILD_DEPENDENCIES.contains(&name) {
            only_build.push(name);
        } else {
            let what = host.stand_in(name).with_context(|| {
                format!(
                    "{name} would be downloaded and has no stand-in: add one to \
                     xtask/src/buildroot/stand_ins.rs, or to ONLY_BUILD_DEPENDENCIES if \
                     only stood-in packages need it"
                )
            })?;
            lines.push(format!("{name}: {what}"));
        }
        stamped.push(package);
    }
    if !only_build.is_empty() {
        lines.push(format!(
            "not built (only stood-in packages need them): {}",
            only_build.join(" ")
        ));
    }
    mark_built(out, &stamped)?;
    lines.push(crates(sh, out)?);
    Ok(lines)
}

/// The configuration's packages.
fn show_info(out: &Output) -> Result<Vec<Package>> {
    let text = out
        .make(&["-s", "show-info"])
        .output()
        .context("make show-info")?;
    if !text.status.success() {
        bail!(
            "make show-info failed: {}",
            String::from_utf8_lossy(&text.stderr)
        );
    }
    let info: Value = serde_json::from_slice(&text.stdout).context("parse make show-info")?;
    let flag = |v: &Value, key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
    Ok(info
        .as_object()
        .context("make show-info is not an object")?
        .iter()
        .filter(|(_, v)| {
            matches!(
                v.get("type").and_then(Value::as_str),
                Some("host" | "target")
            )
        })
        .map(|(name, v)| Package {
            name: name.clone(),
            version: v
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            stamp_dir: v
                .get("stamp_dir")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            host: v.get("type").and_then(Value::as_str) == Some("host"),
            downloads: v
                .get("downloads")
                .and_then(Value::as_array)
                .is_some_and(|d| !d.is_empty()),
            staging: flag(v, "install_staging"),
            target: flag(v, "install_target"),
            images: flag(v, "install_images"),
        })
        .collect())
}

/// Writes each package's stamps, in the order Buildroot makes them, into its
/// build directory (created first: most do not exist yet), unless it has
/// them all.
fn mark_built(out: &Output, packages: &[&Package]) -> Result<()> {
    for package in packages {
        if package.stamp_dir.is_empty() {
            bail!("make show-info gives {} no stamp_dir", package.name);
        }
        let dir = out.dir.join(&package.stamp_dir);
        let mut stamps = vec![
            ".stamp_downloaded",
            ".stamp_extracted",
            ".stamp_patched",
            ".stamp_configured",
            ".stamp_built",
        ];
        if package.host {
            stamps.push(".stamp_host_installed");
        } else {
            for (yes, stamp) in [
                (package.staging, ".stamp_staging_installed"),
                (package.target, ".stamp_target_installed"),
                (package.images, ".stamp_images_installed"),
            ] {
                if yes {
                    stamps.push(stamp);
                }
            }
        }
        stamps.push(".stamp_installed");
        if stamps.iter().all(|s| dir.join(s).exists()) {
            continue;
        }
        fs::create_dir_all(&dir)?;
        // One second apart: make compares the stamps' times.
        let start = SystemTime::now() - Duration::from_secs(stamps.len() as u64 + 1);
        for (i, stamp) in stamps.iter().enumerate() {
            let file = fs::File::create(dir.join(stamp))?;
            file.set_modified(start + Duration::from_secs(i as u64))?;
        }
    }
    Ok(())
}

/// The stand-ins in `host/`.
struct Host<'a> {
    sh: &'a Shell,
    dir: PathBuf,
    def: &'a Defconfig,
    /// rustup's toolchain directory (`rustc --print sysroot`).
    rust: PathBuf,
    /// Buildroot's staging directory, relative to `host/`.
    staging_subdir: String,
}

impl<'a> Host<'a> {
    fn new(sh: &'a Shell, out: &Output, def: &'a Defconfig) -> Result<Host<'a>> {
        let dir = out.dir.join("host");
        for sub in ["bin", "sbin", "lib"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let rust = PathBuf::from(cmd!(sh, "rustc --print sysroot").quiet().read()?);
        let staging_subdir = out.var("STAGING_SUBDIR")?;
        Ok(Host {
            sh,
            dir,
            def,
            rust,
            staging_subdir,
        })
    }

    /// `host/<at>` becomes a link to `to`.
    fn link(&self, to: impl AsRef<Path>, at: &str) -> Result<()> {
        let to = to.as_ref();
        if !to.exists() {
            bail!("{} does not exist", to.display());
        }
        let at = self.dir.join(at);
        if let Some(parent) = at.parent() {
            fs::create_dir_all(parent)?;
        }
        let _ = fs::remove_file(&at);
        std::os::unix::fs::symlink(to, &at)
            .with_context(|| format!("link {} to {}", at.display(), to.display()))
    }

    /// `host/<at>` becomes this script.
    fn script(&self, at: &str, text: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let at = self.dir.join(at);
        let _ = fs::remove_file(&at);
        fs::write(&at, text)?;
        fs::set_permissions(&at, fs::Permissions::from_mode(0o755))?;
        Ok(())
    }

    fn version(&self, program: &str) -> String {
        let sh = self.sh;
        cmd!(sh, "{program} --version")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
            .and_then(|v| v.lines().next().map(str::to_string))
            .unwrap_or_default()
    }

    /// Puts the stand-in of `package` in place; says what it is.
    fn stand_in(&self, package: &str) -> Result<String> {
        let cross = self.def.debian_cross;
        Ok(match package {
            "toolchain-external-bootlin" => {
                // Debian's tools under the Bootlin toolchain's prefix.
                let prefix = format!("{cross}-");
                let mut n = 0;
                for entry in fs::read_dir("/usr/bin")? {
                    let path = entry?.path();
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    if let Some(tool) = name.strip_prefix(&prefix) {
                        let bootlin = bootlin_prefix(cross);
                        self.link(&path, &format!("bin/{bootlin}-{tool}"))?;
                        n += 1;
                    }
                }
                format!(
                    "Debian's {} ({n} tools linked as {}-*), and on the target its {} glibc \
                     (libc6, libgcc-s1)",
                    self.version(&format!("{cross}-gcc")),
                    bootlin_prefix(cross),
                    self.def.debian_arch
                )
            }
            "host-rust-bin" => {
                for tool in ["rustc", "cargo", "rustdoc"] {
                    self.link(self.rust.join("bin").join(tool), &format!("bin/{tool}"))?;
                }
                format!(
                    "rustup's {} ({})",
                    self.version(&self.rust.join("bin/rustc").display().to_string()),
                    self.rust.display()
                )
            }
            "host-rust-src" => {
                self.link(
                    self.rust.join("lib/rustlib/src/rust/library"),
                    "lib/rustlib/src/rust/library",
                )?;
                "rustup's rust-src component of that toolchain".to_string()
            }
            "host-rust-bindgen" => {
                let sh = self.sh;
                let bindgen = cmd!(sh, "which bindgen").quiet().read()?;
                self.link(&bindgen, "bin/bindgen")?;
                format!("{} ({bindgen}, cargo install)", self.version("bindgen"))
            }
            "host-clang" => {
                let lib = Path::new(setup::LIBCLANG_PATH);
                // libclang.so (libclang-19-dev's link), resolved: the real
                // library, not libclang-cpp.
                let libclang = fs::canonicalize(lib.join("libclang.so"))
                    .with_context(|| format!("no libclang.so in {}", lib.display()))?;
                self.link(&libclang, "lib/libclang.so")?;
                self.link(lib.join("clang"), "lib/clang")?;
                format!("Debian's {} (for bindgen)", libclang.display())
            }
            "host-kmod" => {
                self.link("/sbin/depmod", "sbin/depmod")?;
                "the host's depmod".to_string()
            }
            "host-tar" => {
                self.link("/bin/tar", "bin/tar")?;
                "the host's tar".to_string()
            }
            "host-fakeroot" => {
                self.link("/usr/bin/fakeroot", "bin/fakeroot")?;
                format!("the host's {}", self.version("fakeroot"))
            }
            "host-genimage" => {
                self.link("/usr/bin/genimage", "bin/genimage")?;
                format!("the host's {}", self.version("genimage"))
            }
            "host-mtools" => {
                for tool in ["mcopy", "mmd", "mdir", "mtools"] {
                    self.link(format!("/usr/bin/{tool}"), &format!("bin/{tool}"))?;
                }
                "the host's mtools".to_string()
            }
            "host-dosfstools" => {
                for tool in ["mkdosfs", "mkfs.fat", "mkfs.vfat", "fsck.fat"] {
                    self.link(format!("/usr/sbin/{tool}"), &format!("sbin/{tool}"))?;
                }
                "the host's dosfstools".to_string()
            }
            "host-e2fsprogs" => {
                for tool in [
                    "mke2fs",
                    "mkfs.ext2",
                    "mkfs.ext3",
                    "mkfs.ext4",
                    "e2fsck",
                    "tune2fs",
                    "resize2fs",
                    "debugfs",
                ] {
                    self.link(format!("/usr/sbin/{tool}"), &format!("sbin/{tool}"))?;
                }
                "the host's e2fsprogs".to_string()
            }
            "host-dtc" => {
                self.link("/usr/bin/dtc", "bin/dtc")?;
                format!("the host's dtc ({})", self.version("dtc"))
            }
            "host-qemu" => {
                let qemu = self.def.boot.qemu_system();
                self.link(format!("/usr/bin/{qemu}"), &format!("bin/{qemu}"))?;
                format!("the host's {}", self.version(qemu))
            }
            "host-eudev" => {
                // Its udevadm builds the hardware database at the end of the build.
                let tree = image::fetch_debs(self.sh, "amd64", "udevadm", &["udev"])?;
                let udevadm = tree.join("bin/udevadm");
                self.link(&udevadm, "bin/udevadm")?;
                format!(
                    "udevadm from Debian's amd64 {}",
                    deb_versions(&tree, &["udev"])
                )
            }
            "host-patchelf" => {
                self.script("bin/patchelf", PATCHELF)?;
                "a patchelf that does nothing (only fix-rpath runs it, for a relocatable SDK)"
                    .to_string()
            }
            "host-pkgconf" => {
                self.script(
                    "bin/pkg-config",
                    &PKG_CONFIG
                        .replace("@STAGING_SUBDIR@", &self.staging_subdir)
                        .replace("@TUPLE@", cross),
                )?;
                format!(
                    "the host's pkgconf {} behind Buildroot's pkg-config wrapper",
                    self.version("pkgconf")
                )
            }
            "eudev" => "Debian's udev (systemd-udevd), unpacked into target/ with eudev's \
                        S10udevd"
                .to_string(),
            "kmod" => "Debian's kmod, unpacked into target/".to_string(),
            "util-linux" | "util-linux-libs" => {
                "Debian's libblkid1, unpacked into target/".to_string()
            }
            _ => bail!("no stand-in"),
        })
    }
}

/// Does nothing: see "host-patchelf".
const PATCHELF: &str = "#!/bin/sh\n\
# Written by `cargo xtask buildroot`: stands in for host-patchelf, which\n\
# only support/scripts/fix-rpath runs (for a relocatable SDK).\n\
exit 0\n";

/// Buildroot's package/pkgconf/pkg-config.in with the host's pkgconf, and
/// the system directories of the stand-in compiler: Debian's cross GCC has
/// its own sysroot (`/usr/<tuple>`), not Buildroot's staging directory as
/// the Bootlin toolchain's wrapper has, so a `-I` into staging must not be
/// dropped as a system directory.
const PKG_CONFIG: &str = "#!/bin/sh\n\
# Written by `cargo xtask buildroot`: Buildroot's pkg-config wrapper\n\
# (package/pkgconf/pkg-config.in) around the host's pkgconf; the system\n\
# directories are those of Debian's cross compiler, the stand-in toolchain.\n\
PKGCONFDIR=$(dirname $0)\n\
DEFAULT_PKG_CONFIG_LIBDIR=${PKGCONFDIR}/../@STAGING_SUBDIR@/usr/lib/pkgconfig:${PKGCONFDIR}/../@STAGING_SUBDIR@/usr/share/pkgconfig\n\
DEFAULT_PKG_CONFIG_SYSROOT_DIR=${PKGCONFDIR}/../@STAGING_SUBDIR@\n\
DEFAULT_PKG_CONFIG_SYSTEM_INCLUDE_PATH=/usr/@TUPLE@/include\n\
DEFAULT_PKG_CONFIG_SYSTEM_LIBRARY_PATH=/usr/@TUPLE@/lib\n\
PKG_CONFIG_LIBDIR=${PKG_CONFIG_LIBDIR:-${DEFAULT_PKG_CONFIG_LIBDIR}} \\\n\
\tPKG_CONFIG_SYSROOT_DIR=${PKG_CONFIG_SYSROOT_DIR:-${DEFAULT_PKG_CONFIG_SYSROOT_DIR}} \\\n\
\tPKG_CONFIG_SYSTEM_INCLUDE_PATH=${PKG_CONFIG_SYSTEM_INCLUDE_PATH:-${DEFAULT_PKG_CONFIG_SYSTEM_INCLUDE_PATH}} \\\n\
\tPKG_CONFIG_SYSTEM_LIBRARY_PATH=${PKG_CONFIG_SYSTEM_LIBRARY_PATH:-${DEFAULT_PKG_CONFIG_SYSTEM_LIBRARY_PATH}} \\\n\
\texec /usr/bin/pkgconf --keep-system-libs \"$@\"\n";

/// The Bootlin toolchain's prefix for Debian's cross prefix.
fn bootlin_prefix(debian_cross: &str) -> String {
    let arch = debian_cross.split('-').next().unwrap_or(debian_cross);
    format!("{arch}-linux")
}

/// "udev 252.39-1~deb12u1": the versions of `packages` that `fetch_debs`
/// unpacked into `tree`.
fn deb_versions(tree: &Path, packages: &[&str]) -> String {
    let versions = tree
        .parent()
        .map(|d| fs::read_to_string(d.join("versions")).unwrap_or_default())
        .unwrap_or_default();
    packages
        .iter()
        .map(|p| {
            versions
                .lines()
                .find_map(|l| {
                    let (name, rest) = l.split_once('_')?;
                    (name == *p).then(|| {
                        format!(
                            "{p} {}",
                            rest.split('_').next().unwrap_or("?").replace("%3a", ":")
                        )
                    })
                })
                .unwrap_or_else(|| p.to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// BusyBox's tarball into Buildroot's download directory: Debian's
/// `.orig.tar.bz2` is busybox.net's byte for byte, and the xtask keeps it
/// in its cache. Buildroot checks its hash.
fn busybox_tarball(out: &Output, version: &str) -> Result<String> {
    let name = format!("busybox-{version}.tar.bz2");
    let cached = cache_dir()?.join("src").join(&name);
    if !cached.exists() {
        bail!(
            "{} is missing: `cargo xtask image` downloads it from Debian",
            cached.display()
        );
    }
    let dl = out.dl.join("busybox");
    fs::create_dir_all(&dl)?;
    fs::copy(&cached, dl.join(&name))?;
    Ok(format!(
        "busybox: Debian's busybox_{version}.orig.tar.bz2 (busybox.net's tarball; Buildroot checks its hash)"
    ))
}

/// The Raspberry Pi firmware from Debian's `raspi-firmware`
/// (non-free-firmware), as the source directory of `rpi-firmware`.
fn rpi_firmware(sh: &Shell, def: &Defconfig, firmware: &Path) -> Result<String> {
    let dir = cache_dir()?
        .join("buildroot")
        .join(format!("raspi-firmware-{}", def.debian_arch));
    let tree = dir.join("tree");
    {
        let _lock = lock_entry(&dir)?;
        if !dir.join(".done").exists() {
            step("buildroot: fetch raspi-firmware from Debian", || {
                let _ = fs::remove_dir_all(&dir);
                let apt = PrivateApt::with_components(
                    &dir.join("apt"),
                    "deb",
                    def.debian_arch,
                    &["bookworm"],
                    &["non-free-firmware"],
                )?;
                apt.update(sh)?;
                let debs = dir.join("debs");
                fs::create_dir_all(&debs)?;
                apt.get(sh, &debs, &["download", "raspi-firmware"])?;
                let mut versions = String::new();
                for deb in fs::read_dir(&debs)? {
                    let deb = deb?.path();
                    cmd!(sh, "dpkg-deb -x {deb} {tree}").quiet().run()?;
                    versions.push_str(&deb.file_name().unwrap().to_string_lossy());
                    versions.push('\n');
                }
                fs::write(dir.join("versions"), versions)?;
                apt.remove()?;
                fs::write(dir.join(".done"), "")?;
                Ok(())
            })?;
        }
    }
    let boot = firmware.join("boot");
    fs::create_dir_all(&boot)?;
    for file in ["start4.elf", "fixup4.dat"] {
        let from = tree.join("usr/lib/raspi-firmware").join(file);
        fs::copy(&from, boot.join(file)).with_context(|| format!("copy {}", from.display()))?;
    }
    Ok(format!(
        "rpi-firmware: start4.elf and fixup4.dat from Debian's {} (RPI_FIRMWARE_OVERRIDE_SRCDIR)",
        deb_versions(&tree, &["raspi-firmware"])
    ))
}

/// The crates mymap-read vendors: a copy of this machine's cargo registry as
/// Buildroot's cargo home, completed by one `cargo fetch` (the only network
/// access of the run: crates for other platforms, which this machine never
/// built, are not in its registry). Buildroot's build then runs with
/// CARGO_NET_OFFLINE.
fn crates(sh: &Shell, out: &Output) -> Result<String> {
    let home = out.dl.join("br-cargo-home");
    let registry = home.join("registry");
    fs::create_dir_all(&home)?;
    let _lock = lock_entry(&home)?;
    if !registry.exists() {
        let from = cargo_home()?.join("registry");
        cmd!(sh, "cp -a {from} {registry}").run()?;
    }
    let count = || -> usize {
        fs::read_dir(registry.join("cache"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| fs::read_dir(e.path()).map(|d| d.count()).unwrap_or(0))
            .sum()
    };
    let before = count();
    let offline = cmd!(sh, "cargo fetch --locked")
        .env("CARGO_HOME", &home)
        .env("CARGO_NET_OFFLINE", "true")
        .quiet()
        .ignore_stderr()
        .run();
    if offline.is_err() {
        cmd!(sh, "cargo fetch --locked")
            .env("CARGO_HOME", &home)
            .quiet()
            .run()
            .context("cargo fetch mymap-read's crates into Buildroot's cargo home")?;
    }
    let fetched = count() - before;
    Ok(format!(
        "crates: a copy of this machine's cargo registry in {}{}",
        home.display(),
        if fetched > 0 {
            format!(", plus {fetched} crates `cargo fetch` downloaded from the crate registry")
        } else {
            String::new()
        }
    ))
}

/// Unpacks Debian's target packages into `target/` once Buildroot has made
/// it (after `linux-configure`) and before BusyBox is installed, so that
/// BusyBox keeps kmod's `modprobe` as in a Buildroot build; then gives udev
/// eudev's place in the boot.
pub fn install_target_debs(sh: &Shell, out: &Output, def: &Defconfig) -> Result<()> {
    let target = out.dir.join("target");
    // A link to /bin/udevadm: look at the link, not at what it names on the host.
    if target
        .join("lib/systemd/systemd-udevd")
        .symlink_metadata()
        .is_ok()
    {
        return Ok(());
    }
    if !target.is_dir() {
        bail!("{} does not exist after linux-configure", target.display());
    }
    let tree = image::fetch_debs(sh, def.debian_arch, "target packages", TARGET_DEBS)?;
    let debs = tree.parent().unwrap().join("debs");
    for deb in fs::read_dir(&debs)? {
        let deb = deb?.path();
        cmd!(sh, "dpkg-deb -x {deb} {target}").quiet().run()?;
    }
    let s10 = out.buildroot.join("package/eudev/S10udevd");
    let s10_at = target.join("etc/init.d/S10udevd");
    cmd!(sh, "install -D -m 0755 {s10} {s10_at}")
        .quiet()
        .run()?;
    let udevd = target.join("sbin/udevd");
    let _ = fs::remove_file(&udevd);
    std::os::unix::fs::symlink("/lib/systemd/systemd-udevd", &udevd)?;
    // Debian's own init scripts, which BusyBox init would not run anyway, and
    // libc6's ld.so.conf.d, which target-finalize refuses.
    for script in ["udev", "kmod"] {
        let _ = fs::remove_file(target.join("etc/init.d").join(script));
    }
    let _ = fs::remove_dir_all(target.join("etc/ld.so.conf.d"));
    eprintln!(
        "    unpacked {}",
        deb_versions(&tree, &["libc6", "udev", "kmod", "libblkid1"])
    );
    Ok(())
}
