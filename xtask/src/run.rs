//! `cargo xtask run`: the main job. Boot a board, show the driver's kernel log
//! lines, the device nodes, `mymap-read`'s output of the buffer and of a ring
//! fed by the timer producer, power off.

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
        Job,
        Purpose, //
    },
    qemu,
    util::step,
};

/// What the main job runs on the target.
const SHOWCASE: &str = "set -e; echo '$ dmesg | grep mymap'; dmesg | grep mymap; \
    echo '$ ls -l /dev/mymap /dev/mymap-ring0'; ls -l /dev/mymap /dev/mymap-ring0; \
    echo '$ mymap-read'; mymap-read; \
    echo '$ mymapctl ring start --rate 1000 --len 16'; mymapctl ring start --rate 1000 --len 16; \
    echo '$ mymap-read --ring --count 5'; mymap-read --ring --count 5; \
    echo '$ mymapctl ring stop'; mymapctl ring stop; \
    echo '$ mymapctl ring stats'; mymapctl ring stats";

impl flags::Run {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board.board)?;
        let job = if self.shell {
            Job::Shell
        } else {
            Job::Command(self.cmd.clone().unwrap_or_else(|| SHOWCASE.to_string()))
        };
        let image = image::build(
            sh,
            &board,
            &self.board,
            self.overlay.as_deref(),
            job,
            Purpose::Test,
        )?;
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
