// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymapctl`: show a mymap device's info, clear its buffer, write into it,
//! control a ring, play a waveform on a tx ring's GPIO player.
//!
//! Parses the arguments and dispatches to `mymap_read::ctl`, `info`, `ringctl` and
//! `play`.

use std::io;
use std::process::ExitCode;

use clap::Parser;
use mymap::Device;
use mymap_read::ctl::{self, Command, Opts};
use mymap_read::{exit, info, play, ringctl};

fn main() -> ExitCode {
    let opts = Opts::parse();
    exit::finish("mymapctl", run(&opts))
}

fn run(opts: &Opts) -> anyhow::Result<()> {
    match &opts.command {
        Command::Info { json } => {
            let device = Device::open_read_only(&opts.device)?;
            info::print(&mut io::stdout().lock(), &device, *json)
        }
        Command::Clear => Ok(Device::open(&opts.device)?.clear()?),
        Command::Write(args) => ctl::write(&Device::open(&opts.device)?, args),
        Command::Ring(ring) => ringctl::run(&mut io::stdout().lock(), ring),
        Command::Play(args) => play::run(&mut io::stdout().lock(), args),
    }
}
