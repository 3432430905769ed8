//! `cargo xtask run`: the main job. Boot a board, show the driver's kernel log
//! line, the device node and `mymap-read`'s output, power off.

use std::time::Duration;

use anyhow::{
    bail,
    Result, //
};
use xshell::Shell;

use crate::{
    board::Board,
    flags,
    image::{
        self,
        Job, //
    },
    qemu,
    util::step,
};

/// What the main job runs on the target.
const SHOWCASE: &str = "set -e; echo '$ dmesg | grep mymap'; dmesg | grep mymap; \
    echo '$ ls -l /dev/mymap'; ls -l /dev/mymap; echo '$ mymap-read'; mymap-read";

impl flags::Run {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board.board)?;
        let job = if self.shell {
            Job::Shell
        } else {
            Job::Command(self.cmd.clone().unwrap_or_else(|| SHOWCASE.to_string()))
        };
        let image = image::build(sh, &board, &self.board, self.overlay.as_deref(), job)?;
        if self.shell {
            eprintln!(
                "==> {}: booting with a console here; quit QEMU with Ctrl-A X",
                board.name
            );
            return qemu::interactive(&board, &image);
        }
        let boot = step(
            &format!("boot {} ({})", board.name, board.description),
            || qemu::job(&board, &image, Duration::from_secs(self.timeout), true),
        )?;
        let splats = qemu::splats(&boot.console);
        if !splats.is_empty() {
            bail!("kernel reported problems:\n  {}", splats.join("\n  "));
        }
        if boot.rc != 0 {
            eprintln!("the command exited with status {}", boot.rc);
            std::process::exit(boot.rc.clamp(1, 255));
        }
        Ok(())
    }
}
