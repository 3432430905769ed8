//! The test image's BusyBox: the version and options of a default Buildroot
//! image (`boards/common/busybox.toml` and `busybox.config`), built from source
//! for a board's architecture and installed with its applet links.
//!
//! Debian's busybox-static has every applet, and its shell runs them whatever
//! `PATH` says, so a script that works on it may fail on a Buildroot image (as
//! `stat` did in `S30mymap`). This one has exactly the applets Buildroot's has.

use std::{
    collections::BTreeMap,
    fs,
    path::{
        Path,
        PathBuf, //
    },
    process::{
        Command,
        Stdio, //
    },
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use serde::Deserialize;
use sha2::{
    Digest,
    Sha256, //
};
use xshell::{
    cmd,
    Shell, //
};

use crate::{
    apt::PrivateApt,
    board::Board,
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

/// Debian suites searched for the source at the recorded version. Debian 12
/// (bookworm, and its backports) has 1.35.0 and trixie 1.37.0; Buildroot
/// 2026.08's 1.38.0 is in forky and sid. Only the upstream tarball is used,
/// and it is checked against the recorded SHA-256, so the suite does not
/// matter beyond having it; these lines are in the private apt configuration
/// only, never in the machine's.
const SOURCE_SUITES: &[&str] = &["forky", "sid"];

/// `boards/common/busybox.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    buildroot: String,
    buildroot_commit: String,
    version: String,
    sha256: String,
    config: String,
}

/// Builds (or finds in the cache) BusyBox for `board`; returns a tree with
/// `bin/busybox` and the applet links under `bin`, `sbin`, `usr/bin`, `usr/sbin`.
pub fn build(sh: &Shell, board: &Board) -> Result<PathBuf> {
    let common = project_root().join("boards/common");
    let spec_path = common.join("busybox.toml");
    let spec: Spec = toml::from_str(&fs::read_to_string(&spec_path)?)
        .with_context(|| format!("parse {}", spec_path.display()))?;
    let config_path = common.join(&spec.config);
    let config = fs::read_to_string(&config_path)
        .with_context(|| format!("read {}", config_path.display()))?;
    let wanted = options(&config);
    let gcc = format!("{}gcc", board.cross_compile);
    let compiler = cmd!(sh, "{gcc} --version").quiet().read()?;
    let key = hash_parts([
        spec.version.as_str(),
        &spec.sha256,
        &config,
        &board.cross_compile,
        &board.arch,
        &compiler,
        "dynamic",
    ]);
    let dir = cache_dir()?
        .join("busybox")
        .join(format!("{}-{key}", board.arch));
    let install = dir.join("install");
    if dir.join(".done").exists() {
        return Ok(install);
    }
    let _lock = lock_entry(&dir)?;
    if dir.join(".done").exists() {
        return Ok(install);
    }
    let tarball = source(sh, &spec)?;
    let label = format!(
        "busybox {} with Buildroot {}'s options for {}",
        spec.version, spec.buildroot, board.arch
    );
    step(&label, || {
        let _ = fs::remove_dir_all(&dir);
        let src = dir.join("build");
        fs::create_dir_all(&src)?;
        cmd!(sh, "tar -xjf {tarball} -C {src} --strip-components=1").run()?;
        configure(&src, &wanted, &dir).with_context(|| {
            format!(
                "configure busybox {} with the options of Buildroot {} ({})",
                spec.version, spec.buildroot, spec.buildroot_commit
            )
        })?;
        // Linked dynamically, as Buildroot does, against Debian's cross glibc;
        // the image has the same glibc for udev. (A static glibc BusyBox
        // crashes looking up an unknown group, which `S30mymap` does.)
        let make_vars = [
            format!("CROSS_COMPILE={}", board.cross_compile),
            format!("ARCH={}", board.arch),
        ];
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(&src)
            .args(&make_vars)
            .arg(format!("-j{}", jobs()))
            .arg("busybox");
        run_logged(make, &dir.join("build.log"), "make busybox")?;
        // Buildroot installs the links at build time (`make install-noclobber`).
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(&src)
            .args(&make_vars)
            .arg(format!("CONFIG_PREFIX={}", install.display()))
            .arg("install");
        run_logged(make, &dir.join("install.log"), "make install")?;
        for applet in ["bin/busybox", "bin/sh", "sbin/init"] {
            if fs::symlink_metadata(install.join(applet)).is_err() {
                bail!("the BusyBox install has no /{applet}");
            }
        }
        fs::remove_dir_all(&src)?;
        fs::write(dir.join(".done"), "")?;
        Ok(())
    })?;
    Ok(install)
}

/// The `CONFIG_...=value` lines of a configuration, by option name.
fn options(config: &str) -> BTreeMap<String, String> {
    config
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, _)| (k.to_string(), l.to_string()))
        })
        .collect()
}

/// Writes `.config` with exactly the `wanted` options set: every option that
/// `allnoconfig` lists, set as wanted or left off, then `oldconfig` (which
/// asks nothing, every option being given) and a check that the result sets
/// exactly the wanted options.
fn configure(src: &Path, wanted: &BTreeMap<String, String>, logs: &Path) -> Result<()> {
    let mut make = Command::new("make");
    make.arg("-C").arg(src).arg("allnoconfig");
    run_logged(make, &logs.join("allnoconfig.log"), "make allnoconfig")?;
    let dot_config = src.join(".config");
    let skeleton = fs::read_to_string(&dot_config)?;
    let mut seen = Vec::new();
    let mut text = String::new();
    for line in skeleton.lines() {
        let name = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
            .or_else(|| line.split_once('=').map(|(k, _)| k))
            .filter(|n| n.starts_with("CONFIG_"));
        match name.and_then(|n| wanted.get(n).map(|w| (n, w))) {
            Some((name, wanted)) => {
                seen.push(name.to_string());
                text.push_str(wanted);
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    let unknown: Vec<&String> = wanted.keys().filter(|k| !seen.contains(k)).collect();
    if !unknown.is_empty() {
        bail!(
            "options this BusyBox does not have: {unknown:?}; is boards/common/busybox.config \
             for another version?"
        );
    }
    fs::write(&dot_config, text)?;
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(src)
        .arg("oldconfig")
        .stdin(Stdio::null());
    run_logged(make, &logs.join("oldconfig.log"), "make oldconfig")?;
    let got = options(&fs::read_to_string(&dot_config)?);
    let mut diff = Vec::new();
    for (name, line) in wanted {
        if got.get(name) != Some(line) {
            diff.push(format!(
                "want {line}, got {}",
                got.get(name).map_or("unset", |s| s)
            ));
        }
    }
    for (name, line) in &got {
        if !wanted.contains_key(name) {
            diff.push(format!("want {name} unset, got {line}"));
        }
    }
    if !diff.is_empty() {
        bail!(
            "BusyBox's oldconfig changed boards/common/busybox.config (an option's dependency \
             is missing):\n  {}",
            diff.join("\n  ")
        );
    }
    Ok(())
}

/// The upstream tarball, checked against the recorded SHA-256: from the cache,
/// else from Debian's archive (its `.orig.tar.bz2`).
fn source(sh: &Shell, spec: &Spec) -> Result<PathBuf> {
    let srcs = cache_dir()?.join("src");
    fs::create_dir_all(&srcs)?;
    let name = format!("busybox-{}.tar.bz2", spec.version);
    let tarball = srcs.join(&name);
    let _lock = lock_entry(&tarball)?;
    if tarball.exists() {
        check_sha256(&tarball, &spec.sha256)?;
        return Ok(tarball);
    }
    step(
        &format!("download busybox {} source from Debian", spec.version),
        || {
            let dir = srcs.join(format!("busybox-{}-download", spec.version));
            let _ = fs::remove_dir_all(&dir);
            let apt = PrivateApt::new(&dir.join("apt"), "deb-src", "amd64", SOURCE_SUITES)?;
            apt.update(sh)?;
            let records = apt.cache(sh, &["showsrc", "busybox"])?;
            let Some(version) = debian_version(&records, &spec.version) else {
                bail!(
                    "Debian's {} have no busybox {}: put busybox.net's {name} (sha256 {}), \
                     for instance from a Buildroot dl/busybox/ directory, at {}",
                    SOURCE_SUITES.join(" and "),
                    spec.version,
                    spec.sha256,
                    tarball.display()
                );
            };
            let package = format!("busybox={version}");
            apt.get(sh, &dir, &["source", "--download-only", &package])?;
            let orig = dir.join(format!("busybox_{}.orig.tar.bz2", spec.version));
            check_sha256(&orig, &spec.sha256)?;
            fs::rename(&orig, &tarball)?;
            fs::remove_dir_all(&dir)?;
            Ok(())
        },
    )?;
    Ok(tarball)
}

/// The Debian version of a `busybox` source record whose upstream version is
/// `upstream` (any revision: they share the `.orig` tarball).
fn debian_version(records: &str, upstream: &str) -> Option<String> {
    records
        .lines()
        .filter_map(|l| l.strip_prefix("Version:"))
        .map(str::trim)
        .find(|v| {
            let no_epoch = v.split_once(':').map_or(*v, |(_, rest)| rest);
            no_epoch.rsplit_once('-').map_or(no_epoch, |(up, _)| up) == upstream
        })
        .map(String::from)
}

fn check_sha256(path: &Path, want: &str) -> Result<()> {
    let data = fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let got: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != want {
        bail!(
            "{} has sha256 {got}, boards/common/busybox.toml wants {want}; delete it to download again",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        debian_version,
        options, //
    };

    #[test]
    fn the_record_with_the_upstream_version_is_chosen() {
        let records = "Package: busybox\nVersion: 1:1.37.0-6\n\nPackage: busybox\n\
                       Version: 1:1.38.0-3\n";
        assert_eq!(
            debian_version(records, "1.38.0").as_deref(),
            Some("1:1.38.0-3")
        );
        assert_eq!(debian_version(records, "1.36.1"), None);
    }

    #[test]
    fn options_are_the_set_lines() {
        let config = "# comment\nCONFIG_ASH=y\n# CONFIG_STAT is not set\nCONFIG_X=\"a=b\"\n";
        let got = options(config);
        assert_eq!(got.len(), 2);
        assert_eq!(got["CONFIG_X"], "CONFIG_X=\"a=b\"");
    }
}
