// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymapctl`: show the device's info, clear its buffer, write into it; and,
//! through `mymapctl ring` (`ringctl`), control a ring.
//!
//! The companion of `mymap-read` for scripts and tests that need another
//! process to change the buffer or drive a ring's producers. The doc comments
//! are its `--help`.

use std::io::{self, Read};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use mymap::Device;

use crate::number::parse_u64;
use crate::play::PlayArgs;
use crate::ringctl::RingOpts;
use crate::source::PageSpan;

const AFTER_HELP: &str = "\
Examples:
  mymapctl info
  mymapctl clear
  mymapctl write --offset 0 --nul 'hello from userspace'
  printf 'abc' | mymapctl write --offset 0x1000 --via mmap
  mymapctl ring start --rate 1000 --len 64    the timer producer of ring 0
  mymapctl ring --ring 1 stats
  mymapctl ring wakeup watermark --bytes 4096 --max-latency 5ms
  mymapctl ring inject 100000 --len 64
  mymapctl ring stop
  mymapctl play wave.txt                     play a waveform on tx ring 0's player
  mymapctl play --tx 1 --repeat 100 --period 1ms - < square.txt

Exit status:
  0  success
  1  the device or an I/O call failed; the message names the fix
  2  bad arguments, including a range outside the buffer or ring settings the
     driver refuses";

/// Inspect and change a mymap device, or control a mymap ring.
#[derive(Debug, Parser)]
#[command(name = "mymapctl", version, after_help = AFTER_HELP)]
pub struct Opts {
    /// The mymap device.
    #[arg(
        short,
        long,
        global = true,
        value_name = "PATH",
        env = "MYMAP_DEVICE",
        default_value = mymap::DEFAULT_PATH
    )]
    pub device: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the device's geometry and counters (MYMAP_IOC_INFO).
    Info {
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Zero the whole buffer (MYMAP_IOC_CLEAR).
    Clear,
    /// Write DATA, or standard input if DATA is not given, into the buffer.
    Write(WriteArgs),
    /// Control a ring (/dev/mymap-ringN): info, statistics, wakeup policy, the timer
    /// producer and the injector. Works while another process consumes the ring.
    Ring(RingOpts),
    /// Play a waveform FILE on a tx ring's GPIO player (/dev/mymap-txN, loaded with
    /// player=) and print each completion as it arrives: seq, line, value set, requested
    /// offset from the start, actual minus requested, late flag. Exits 0 when every
    /// record completed, 3 if a completion is missing after --timeout.
    #[command(after_help = crate::play::GRAMMAR)]
    Play(PlayArgs),
}

/// The arguments of `mymapctl write`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Where to write, decimal or 0x-hex.
    #[arg(short, long, value_name = "N", value_parser = parse_u64, default_value = "0")]
    pub offset: u64,

    /// Append a NUL byte, so that the text ends there for `mymap-read`.
    #[arg(long)]
    pub nul: bool,

    /// Write with pwrite(2) or through a shared writable mapping.
    #[arg(long, value_enum, default_value_t = WriteVia::Write)]
    pub via: WriteVia,

    /// The bytes to write, as text.
    pub data: Option<String>,
}

/// How `mymapctl write` puts the bytes into the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriteVia {
    /// pwrite(2) on the device file.
    Write,
    /// Stores into a shared writable mapping (mmap).
    Mmap,
}

/// Writes the bytes `args` ask for into `device`.
pub fn write(device: &Device, args: &WriteArgs) -> anyhow::Result<()> {
    let mut data = match &args.data {
        Some(text) => text.clone().into_bytes(),
        None => {
            let mut data = Vec::new();
            io::stdin()
                .read_to_end(&mut data)
                .context("reading the data from stdin")?;
            data
        }
    };
    if args.nul {
        data.push(0);
    }
    if data.is_empty() {
        return Ok(());
    }
    match args.via {
        WriteVia::Write => device.write_at(args.offset, &data)?,
        WriteVia::Mmap => {
            device.check_range(args.offset, data.len())?;
            let span = PageSpan::new(args.offset, data.len(), device.page_size());
            let mapping = device.map_mut(span.start, span.len)?;
            let written = mapping.write_at(span.skip, &data);
            debug_assert_eq!(written, data.len(), "the mapping covers the range");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Opts, clap::Error> {
        Opts::try_parse_from([&["mymapctl"], args].concat())
    }

    #[test]
    fn the_command_is_consistent() {
        Opts::command().debug_assert();
    }

    #[test]
    fn write_arguments() {
        let opts = parse(&["write", "--offset", "0x10", "--nul", "hi"]).unwrap();
        let Command::Write(args) = opts.command else {
            panic!("not write: {opts:?}");
        };
        assert_eq!(args.offset, 16);
        assert!(args.nul);
        assert_eq!(args.via, WriteVia::Write);
        assert_eq!(args.data.as_deref(), Some("hi"));
    }

    #[test]
    fn the_device_option_goes_anywhere() {
        let opts = parse(&["clear", "--device", "/dev/mymap1"]).unwrap();
        assert_eq!(opts.device, PathBuf::from("/dev/mymap1"));
    }

    #[test]
    fn play_arguments() {
        let opts = parse(&["play", "--tx", "1", "--repeat", "4", "--period", "2ms", "-"]).unwrap();
        let Command::Play(args) = opts.command else {
            panic!("not play: {opts:?}");
        };
        assert_eq!(args.tx, PathBuf::from("/dev/mymap-tx1"));
        assert_eq!(args.ring, None);
        assert_eq!(args.file, PathBuf::from("-"));
        assert_eq!(
            (args.repeat, args.period),
            (4, Some(std::time::Duration::from_millis(2)))
        );
        assert_eq!(args.lead, std::time::Duration::from_millis(20));
        assert!(parse(&["play"]).is_err(), "FILE is required");
    }

    #[test]
    fn a_subcommand_is_required() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }
}
