//! `cargo xtask driver`: build mymap.ko against a board's kernel, exactly as
//! Buildroot's kernel-module infrastructure does (`make -C $KDIR M=...`); and
//! the same for the sample producer module (driver/samples/), built against
//! mymap's exported symbols, the test-only modules of tests/modules/ (the same
//! way), and the bench's reference C drivers (bench/peers/).

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
use xshell::Shell;

use crate::{
    board::Board,
    flags,
    kernel::{
        self,
        Kernel, //
    },
    setup,
    util::{
        checkout_dir,
        project_root,
        run_logged,
        step, //
    },
};

impl flags::BoardArgs {
    pub fn run_driver(&self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board)?;
        let kernel = kernel::build(sh, &board, self, false)?;
        let module = build(&board, &kernel)?;
        println!("{}", module.display());
        println!("{}", build_sample(&board, &kernel, &module)?.display());
        for test_module in build_test_modules(&board, &kernel, &module)? {
            println!("{}", test_module.display());
        }
        Ok(())
    }
}

/// Builds the module in a copy of driver/ kept per kernel build, so boards and
/// the checkout never share object files. Returns the path of mymap.ko.
pub fn build(board: &Board, kernel: &Kernel) -> Result<PathBuf> {
    let name = kernel.dir.file_name().unwrap();
    let dir = checkout_dir()?.join("driver").join(name);
    step(
        &format!(
            "driver: build mymap.ko for {} (kernel {})",
            board.name, kernel.release
        ),
        || {
            make_modules(
                kernel,
                &project_root().join("driver"),
                &dir,
                &[],
                "mymap.ko",
            )?;
            Ok(dir.join("mymap.ko"))
        },
    )
}

/// The sample producer module, `driver/samples/<name>.c`.
pub const SAMPLE: &str = "mymap_sample_producer";

/// The sample tx consumer module, `driver/samples/<name>.c`, built beside [`SAMPLE`] by the
/// same Kbuild.
pub const TX_SAMPLE: &str = "mymap_sample_tx";

/// Installs what other people's builds need from mymap (the UAPI header, its
/// pkg-config file, the producer API header and mymap's `Module.symvers`) with
/// `make install-dev` from the module's build directory (`module`'s), the target
/// Buildroot's `mymap-driver` runs into its staging directory, into a staging
/// directory of this kernel build's own (`staging/<kernel>` in the checkout's cache).
/// The sample and the test modules build against it, through the paths a Buildroot
/// image's packages use. Returns the `make` variables that point a module's build at it.
fn stage(kernel: &Kernel, module: &Path) -> Result<Vec<String>> {
    let name = kernel.dir.file_name().unwrap();
    let destdir = checkout_dir()?.join("staging").join(name);
    let build = module.parent().context("mymap.ko has no directory")?;
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(build)
        .arg("install-dev")
        .arg(format!("DESTDIR={}", destdir.display()));
    fs::create_dir_all(&destdir)?;
    run_logged(
        make,
        &destdir.join("install.log"),
        "make install-dev (mymap's staged headers and Module.symvers)",
    )?;
    let kbuild = destdir.join("usr/src/mymap");
    Ok(vec![
        format!("MYMAP_DIR={}", kbuild.display()),
        format!(
            "KBUILD_EXTRA_SYMBOLS={}",
            kbuild.join("Module.symvers").display()
        ),
    ])
}

/// Builds the sample producer against `kernel` and mymap as `stage` installs it (the
/// producer API header and the `Module.symvers` of `module`), as Buildroot's
/// `mymap-sample-producer` template builds it against the staging directory, in a
/// copy per kernel build (`samples/<kernel>` in the checkout's cache), with the sample tx
/// consumer beside it. Returns the sample producer's .ko path.
pub fn build_sample(board: &Board, kernel: &Kernel, module: &Path) -> Result<PathBuf> {
    let name = kernel.dir.file_name().unwrap();
    let dir = checkout_dir()?.join("samples").join(name).join("samples");
    step(
        &format!(
            "samples: build {SAMPLE}.ko and {TX_SAMPLE}.ko for {} (kernel {})",
            board.name, kernel.release
        ),
        || {
            let staged = stage(kernel, module)?;
            make_modules(
                kernel,
                &project_root().join("driver/samples"),
                &dir,
                &staged,
                &format!("{SAMPLE}.ko, {TX_SAMPLE}.ko"),
            )?;
            Ok(dir.join(format!("{SAMPLE}.ko")))
        },
    )
}

/// Where the test-only modules are: one module per `<name>.c`, each with an
/// `obj-m` line in the directory's Kbuild.
const TEST_MODULES: &str = "tests/modules";

/// Builds the test-only modules of tests/modules/ against `kernel` and mymap as
/// `stage` installs it, as `build_sample` builds the sample, in a copy per kernel
/// build (`test-modules/<kernel>` in the checkout's cache). Returns the .ko paths.
pub fn build_test_modules(board: &Board, kernel: &Kernel, module: &Path) -> Result<Vec<PathBuf>> {
    let src = project_root().join(TEST_MODULES);
    let mut names = Vec::new();
    for entry in fs::read_dir(&src).with_context(|| format!("read {}", src.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "c") {
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let name = kernel.dir.file_name().unwrap();
    let dir = checkout_dir()?.join("test-modules").join(name);
    step(
        &format!(
            "test modules: build {}.ko for {} (kernel {})",
            names.join(".ko, "),
            board.name,
            kernel.release
        ),
        || {
            let staged = stage(kernel, module)?;
            make_modules(kernel, &src, &dir, &staged, "the test modules")?;
            names
                .iter()
                .map(|n| {
                    let ko = dir.join(format!("{n}.ko"));
                    if !ko.exists() {
                        bail!("{TEST_MODULES}/{n}.c built no {n}.ko: add `obj-m += {n}.o` to {TEST_MODULES}/Kbuild");
                    }
                    Ok(ko)
                })
                .collect()
        },
    )
}

/// The bench's reference C drivers, `bench/peers/<name>.c`.
pub const PEERS: [&str; 2] = ["mymap_pfn", "mymap_vfault"];

/// Builds the reference C drivers of bench/peers/ like mymap.ko, in their own
/// copy per kernel build (`peers/<kernel>` in the cache). Returns the .ko paths.
pub fn build_peers(board: &Board, kernel: &Kernel) -> Result<Vec<PathBuf>> {
    let name = kernel.dir.file_name().unwrap();
    let dir = checkout_dir()?.join("peers").join(name);
    step(
        &format!(
            "peers: build {} for {} (kernel {})",
            PEERS.join(".ko, ") + ".ko",
            board.name,
            kernel.release
        ),
        || {
            make_modules(
                kernel,
                &project_root().join("bench/peers"),
                &dir,
                &[],
                "the reference drivers",
            )?;
            Ok(PEERS.iter().map(|p| dir.join(format!("{p}.ko"))).collect())
        },
    )
}

/// `make -C KDIR M=dir modules` over a copy of `src` in `dir`, with the kernel's
/// make variables and `vars`, logged to `dir/build.log`.
fn make_modules(
    kernel: &Kernel,
    src: &Path,
    dir: &Path,
    vars: &[String],
    what: &str,
) -> Result<()> {
    sync_sources(src, dir)?;
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(&kernel.dir)
        .arg(format!("M={}", dir.display()))
        .args(&kernel.make_vars)
        .args(vars)
        .arg("modules")
        .env("LIBCLANG_PATH", setup::LIBCLANG_PATH);
    run_logged(
        make,
        &dir.join("build.log"),
        &format!("make modules ({what})"),
    )
}

/// Copies a module's sources into `to`, touching only files whose content changed,
/// so that make rebuilds only when the driver really changed.
fn sync_sources(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            sync_sources(&src, &dst)?;
            continue;
        }
        let data = fs::read(&src)?;
        if fs::read(&dst).ok().as_deref() != Some(&data[..]) {
            fs::write(&dst, &data)?;
        }
    }
    Ok(())
}
