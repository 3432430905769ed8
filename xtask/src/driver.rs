//! `cargo xtask driver`: build mymap.ko against a board's kernel, exactly as
//! Buildroot's kernel-module infrastructure does (`make -C $KDIR M=...`).

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
        cache_dir,
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
    let dir = cache_dir()?.join("driver").join(name);
    step(
        &format!(
            "driver: build mymap.ko for {} (kernel {})",
            board.name, kernel.release
        ),
        || {
            sync_sources(&project_root().join("driver"), &dir)?;
            let mut make = Command::new("make");
            make.arg("-C")
                .arg(&kernel.dir)
                .arg(format!("M={}", dir.display()))
                .args(&kernel.make_vars)
                .arg("modules")
                .env("LIBCLANG_PATH", setup::LIBCLANG_PATH);
            run_logged(make, &dir.join("build.log"), "make modules (mymap.ko)")?;
            Ok(dir.join("mymap.ko"))
        },
    )
}

/// Copies the driver's sources into `to`, touching only files whose content changed,
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
