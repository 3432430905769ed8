//! `cargo xtask driver`: build mymap.ko against a board's kernel, exactly as
//! Buildroot's kernel-module infrastructure does (`make -C $KDIR M=...`); and
//! the same for the bench's reference C drivers (bench/peers/).

use std::{
    fs,
    path::{
        Path,
        PathBuf, //
    },
    process::Command,
};

use anyhow::{
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
        println!("{}", build(&board, &kernel)?.display());
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
            make_modules(kernel, &project_root().join("driver"), &dir, "mymap.ko")?;
            Ok(dir.join("mymap.ko"))
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
                "the reference drivers",
            )?;
            Ok(PEERS.iter().map(|p| dir.join(format!("{p}.ko"))).collect())
        },
    )
}

/// `make -C KDIR M=dir modules` over a copy of `src` in `dir`, logged to `dir/build.log`.
fn make_modules(kernel: &Kernel, src: &Path, dir: &Path, what: &str) -> Result<()> {
    sync_sources(src, dir)?;
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(&kernel.dir)
        .arg(format!("M={}", dir.display()))
        .args(&kernel.make_vars)
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
