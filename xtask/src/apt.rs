//! A private apt configuration under the cache, for fetching Debian packages
//! and sources without installing them.
//!
//! It lists only the machine's own Debian mirror, with the suites and the
//! architecture asked for, and keeps its package lists and downloads in its
//! own directory: the host's apt sources and dpkg database are never changed.

use std::{
    fs,
    path::{
        Path,
        PathBuf, //
    },
};

use anyhow::Result;
use xshell::{
    cmd,
    Shell, //
};

use crate::setup;

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

pub struct PrivateApt {
    dir: PathBuf,
    opts: Vec<String>,
}

impl PrivateApt {
    /// Writes the configuration into `dir`: one `kind` line (`deb` or `deb-src`)
    /// per suite, `main` only, for `arch`.
    pub fn new(dir: &Path, kind: &str, arch: &str, suites: &[&str]) -> Result<PrivateApt> {
        PrivateApt::with_components(dir, kind, arch, suites, &["main"])
    }

    /// The same with other archive components (`non-free-firmware`, ...).
    pub fn with_components(
        dir: &Path,
        kind: &str,
        arch: &str,
        suites: &[&str],
        components: &[&str],
    ) -> Result<PrivateApt> {
        let _ = fs::remove_dir_all(dir);
        for sub in [
            "etc/apt/sources.list.d",
            "etc/apt/preferences.d",
            "etc/apt/apt.conf.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
        ] {
            fs::create_dir_all(dir.join(sub))?;
        }
        fs::write(dir.join("var/lib/dpkg/status"), "")?;
        let mirror = setup::debian_mirror()?;
        // Source lines have no architecture.
        let options = match kind {
            "deb-src" => format!("signed-by={KEYRING}"),
            _ => format!("arch={arch} signed-by={KEYRING}"),
        };
        let sources: String = suites
            .iter()
            .map(|suite| {
                format!(
                    "{kind} [{options}] {mirror} {suite} {}\n",
                    components.join(" ")
                )
            })
            .collect();
        fs::write(dir.join("etc/apt/sources.list"), sources)?;
        let opts = vec![
            format!("-oDir={}", dir.display()),
            format!("-oAPT::Architecture={arch}"),
            format!("-oAPT::Architectures={arch}"),
            "-oDir::Etc::TrustedParts=/etc/apt/trusted.gpg.d".to_string(),
            "-oAcquire::Languages=none".to_string(),
        ];
        Ok(PrivateApt {
            dir: dir.to_path_buf(),
            opts,
        })
    }

    pub fn update(&self, sh: &Shell) -> Result<()> {
        let opts = &self.opts;
        cmd!(sh, "apt-get {opts...} update").quiet().run()?;
        Ok(())
    }

    /// `apt-get <args>` in the directory `dest` (where downloads land).
    pub fn get(&self, sh: &Shell, dest: &Path, args: &[&str]) -> Result<()> {
        let opts = &self.opts;
        let _cd = sh.push_dir(dest);
        cmd!(sh, "apt-get {opts...} {args...}").quiet().run()?;
        Ok(())
    }

    /// `apt-cache <args>`, its output.
    pub fn cache(&self, sh: &Shell, args: &[&str]) -> Result<String> {
        let opts = &self.opts;
        Ok(cmd!(sh, "apt-cache {opts...} {args...}").quiet().read()?)
    }

    /// Deletes the configuration, its package lists and downloads.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.dir)?;
        Ok(())
    }
}
