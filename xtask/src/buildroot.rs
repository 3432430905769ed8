//! `cargo xtask buildroot`: the offline proof of the Buildroot tree, as one command.
//!
//! Given a Buildroot checkout, it builds one of `buildroot-ext/configs/` with
//! Buildroot on a machine that reaches only Debian's archive and the crate
//! registry: every package Buildroot would download is first replaced by a
//! local stand-in (`stand_ins.rs`: Debian's cross GCC for the Bootlin
//! toolchain, rustup's Rust, Debian's kernel source, the host's tools, ...),
//! what Buildroot builds itself (the kernel with Rust, mymap's packages,
//! BusyBox, the root file system, the card image) is built by Buildroot;
//! then it boots the image in QEMU and runs a smoke test on its console
//! (`boot.rs`). It prints what it stood in for, so that nobody takes the
//! result for a networked build; buildroot-ext/README.md ("Building offline
//! with local tools") is the recipe it follows.
//!
//! A run that passed is not repeated for the same inputs (the Buildroot
//! commit, the checkout's files that go into the image, the stand-ins'
//! versions); Buildroot's own stamps make a repeated or interrupted run
//! incremental. It is not part of CI: one kernel takes an hour and more on
//! two cores.

mod boot;
mod stand_ins;

use std::{
    fs,
    io::{
        BufRead,
        BufReader,
        Write, //
    },
    path::{
        Path,
        PathBuf, //
    },
    process::{
        Command,
        Stdio, //
    },
    time::{
        Duration,
        Instant, //
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
    flags, kernel, setup,
    util::{
        cache_dir,
        fmt_duration,
        hash_parts,
        jobs,
        lock_entry,
        print_tail,
        project_root,
        step, //
    },
};

/// How each defconfig's stand-ins are chosen and its image is booted.
pub struct Defconfig {
    pub name: &'static str,
    /// Debian's architecture of the target packages and of the cross compiler.
    pub debian_arch: &'static str,
    /// Debian's cross compiler prefix (without the trailing `-`).
    pub debian_cross: &'static str,
    pub boot: boot::Machine,
    /// Whether the image has the template packages mymap-sample-producer and
    /// mymap-ring-consumer, which the smoke test then runs.
    pub templates: bool,
}

pub const DEFCONFIGS: &[Defconfig] = &[
    Defconfig {
        name: "qemu_aarch64_virt_mymap_defconfig",
        debian_arch: "arm64",
        debian_cross: "aarch64-linux-gnu",
        boot: boot::Machine::StartQemu,
        templates: true,
    },
    Defconfig {
        name: "raspberrypi4_defconfig",
        debian_arch: "armhf",
        debian_cross: "arm-linux-gnueabihf",
        boot: boot::Machine::VirtCortexA15,
        templates: false,
    },
    Defconfig {
        name: "raspberrypi4_64_defconfig",
        debian_arch: "arm64",
        debian_cross: "aarch64-linux-gnu",
        boot: boot::Machine::Raspi4b,
        templates: false,
    },
];

/// The checkout's files that go into an image or decide how it is built.
const INPUTS: &[&str] = &[
    "buildroot-ext",
    "boards",
    "rootfs-overlay",
    "driver",
    "userspace",
    "Cargo.toml",
    "Cargo.lock",
    "xtask/src/buildroot.rs",
    "xtask/src/buildroot",
];

/// One Buildroot output directory and what every `make` in it needs.
pub struct Output {
    pub buildroot: PathBuf,
    pub dir: PathBuf,
    /// Where Buildroot keeps downloads (`BR2_DL_DIR`): shared by the runs,
    /// outside the Buildroot checkout.
    pub dl: PathBuf,
    /// The xtask's own files for this output: stand-ins, logs, the pid file.
    pub work: PathBuf,
    pub pid_file: Option<PathBuf>,
}

impl Output {
    /// `make -C <buildroot> O=<out> <args>`, with the download directory and
    /// no network for cargo.
    fn make(&self, args: &[&str]) -> Command {
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(&self.buildroot)
            .arg(format!("O={}", self.dir.display()))
            .args(args)
            .env("BR2_DL_DIR", &self.dl)
            .env("CARGO_NET_OFFLINE", "true");
        make
    }

    /// A variable of Buildroot's, from `make -s printvars`.
    pub fn var(&self, name: &str) -> Result<String> {
        let out = self
            .make(&["-s", "printvars", &format!("VARS={name}")])
            .stderr(Stdio::inherit())
            .output()
            .context("make printvars")?;
        if !out.status.success() {
            bail!("make printvars failed ({})", out.status);
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
            .with_context(|| format!("Buildroot has no variable {name}"))
    }

    /// A long `make`, niced by whoever runs the xtask, in a process group of
    /// its own whose id goes to the pid files, so that the build can be paused
    /// (`kill -STOP -<pid>`) while the machine is needed for something else;
    /// output in `<work>/<log>.log`, a progress line every minute.
    fn run_long(&self, args: &[&str], log: &str) -> Result<()> {
        use std::os::unix::process::CommandExt;
        let what = match args {
            [] => "make".to_string(),
            _ => format!("make {}", args.join(" ")),
        };
        let log = self.work.join(format!("{log}.log"));
        let mut file = fs::File::create(&log)?;
        let mut make = self.make(args);
        make.arg(format!("BR2_JLEVEL={}", jobs()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file.try_clone()?)
            .process_group(0);
        let mut child = make.spawn().with_context(|| format!("start {what}"))?;
        let pid_files: Vec<PathBuf> = [Some(self.work.join("make.pid")), self.pid_file.clone()]
            .into_iter()
            .flatten()
            .collect();
        for pid_file in &pid_files {
            fs::write(pid_file, format!("{}\n", child.id()))
                .with_context(|| format!("write {}", pid_file.display()))?;
        }
        eprintln!(
            "    {what}: process group {} (pause with kill -STOP -{0}), log {}",
            child.id(),
            log.display()
        );
        let start = Instant::now();
        let mut next_report = Duration::from_secs(60);
        for line in BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
        {
            writeln!(file, "{line}")?;
            if start.elapsed() >= next_report {
                eprintln!(
                    "    {what}: {} ... {}",
                    fmt_duration(start.elapsed()),
                    line.trim()
                );
                next_report += Duration::from_secs(60);
            }
        }
        let status = child.wait()?;
        for pid_file in &pid_files {
            let _ = fs::remove_file(pid_file);
        }
        if !status.success() {
            print_tail(&log, 40);
            bail!("{what} failed ({status}); full log: {}", log.display());
        }
        Ok(())
    }
}

impl flags::Buildroot {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let Some(def) = DEFCONFIGS.iter().find(|d| d.name == self.defconfig) else {
            bail!(
                "no offline recipe for {}; known: {}",
                self.defconfig,
                DEFCONFIGS
                    .iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let buildroot = fs::canonicalize(&self.buildroot)
            .with_context(|| format!("--buildroot {}", self.buildroot.display()))?;
        if !buildroot.join("package/Makefile.in").exists() {
            bail!("{} is not a Buildroot checkout", buildroot.display());
        }
        setup::ensure(sh)?;
        let cache = cache_dir()?.join("buildroot");
        let dir = match &self.out {
            Some(out) => {
                fs::create_dir_all(out)?;
                fs::canonicalize(out)?
            }
            None => cache.join(def.name.trim_end_matches("_defconfig")),
        };
        if dir.starts_with(project_root()) || dir.starts_with(&buildroot) {
            bail!(
                "--out {} is inside the checkout or Buildroot; choose a directory outside both",
                dir.display()
            );
        }
        let work = dir.join("mymap-offline");
        fs::create_dir_all(&work)?;
        // One run per output directory: two would build into each other.
        let _lock = lock_entry(&dir)?;
        let out = Output {
            buildroot: buildroot.clone(),
            dir: dir.clone(),
            dl: cache.join("dl"),
            work: work.clone(),
            pid_file: self.pid_file.clone(),
        };

        let (ksrc, ksrc_label) = kernel::source(sh, None)?;
        let key = inputs_key(sh, &buildroot, def, &ksrc_label)?;
        let passed = cache.join(format!("{}.passed-{key}", def.name));
        if passed.exists() && !self.force {
            eprintln!(
                "buildroot: {} passed before with these inputs ({key}); `--force` runs it again",
                def.name
            );
            print!("{}", fs::read_to_string(&passed)?);
            return Ok(());
        }

        let ext = project_root().join("buildroot-ext");
        step(&format!("buildroot: configure {}", def.name), || {
            let mut make = out.make(&[&format!("BR2_EXTERNAL={}", ext.display()), def.name]);
            let status = make.stdout(Stdio::null()).status()?;
            if !status.success() {
                bail!("make {} failed ({status})", def.name);
            }
            Ok(())
        })?;
        let stood_in = step(
            &format!("buildroot: offline stand-ins for {}", def.name),
            || stand_ins::prepare(sh, &out, def, &ksrc, &ksrc_label),
        )?;
        // Said now as well as at the end, so that a build that stops on the way
        // is not mistaken for a networked one either.
        eprintln!("buildroot: NOT a networked build; stood in for what it downloads:");
        for line in &stood_in {
            eprintln!("    {line}");
        }

        step(
            &format!("buildroot: {} kernel configuration", def.name),
            || out.run_long(&["linux-configure"], "linux-configure"),
        )?;
        step(
            &format!("buildroot: Debian's {} target files", def.debian_arch),
            || stand_ins::install_target_debs(sh, &out, def),
        )?;
        step(&format!("buildroot: build {} (make)", def.name), || {
            out.run_long(&[], "make")
        })?;

        let images = dir.join("images");
        let report = step(&format!("buildroot: boot {} in QEMU", def.name), || {
            boot::smoke_test(sh, &out, def, &images, Duration::from_secs(self.timeout))
        })?;

        let mut summary = format!(
            "buildroot: {} built offline in {}\n",
            def.name,
            dir.display()
        );
        summary.push_str("Stood in for what a networked build downloads:\n");
        for line in &stood_in {
            summary.push_str(&format!("  {line}\n"));
        }
        summary.push_str(&report);
        fs::write(&passed, &summary)?;
        print!("{summary}");
        Ok(())
    }
}

/// A key over what decides the image: the Buildroot commit and its local
/// changes, the checkout's INPUTS, the kernel source and the stand-ins'
/// versions.
fn inputs_key(sh: &Shell, buildroot: &Path, def: &Defconfig, ksrc: &str) -> Result<String> {
    let files = cmd!(
        sh,
        "git ls-files --cached --others --exclude-standard -- {INPUTS...}"
    )
    .quiet()
    .read()?;
    let gcc = format!("{}-gcc", def.debian_cross);
    let mut parts = vec![
        def.name.to_string(),
        cmd!(sh, "git -C {buildroot} rev-parse HEAD")
            .quiet()
            .read()?,
        cmd!(sh, "git -C {buildroot} status --porcelain")
            .quiet()
            .read()?,
        ksrc.to_string(),
        cmd!(sh, "rustc -vV").quiet().read()?,
        cmd!(sh, "bindgen --version").quiet().read()?,
        cmd!(sh, "{gcc} --version").quiet().read()?,
    ];
    for file in files.lines() {
        parts.push(file.to_string());
        parts.push(
            String::from_utf8_lossy(&fs::read(project_root().join(file)).unwrap_or_default())
                .into_owned(),
        );
    }
    Ok(hash_parts(parts))
}
