// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymap-read`: print the buffer of a mymap device.
//!
//! Parses the arguments and dispatches; the work is in the library modules
//! (`source`, `output`, `follow`, `gpio`, `info`, `stream`, `exit`).

use std::io;
use std::process::ExitCode;

use clap::Parser;
use mymap::Device;
use mymap_read::args::Opts;
use mymap_read::deadline::Deadline;
use mymap_read::output::Printer;
use mymap_read::source::Source;
use mymap_read::stream::{self, Limits};
use mymap_read::{exit, follow, gpio, info};

fn main() -> ExitCode {
    let opts = Opts::parse();
    exit::finish("mymap-read", run(&opts))
}

fn run(opts: &Opts) -> anyhow::Result<()> {
    if let Some(ring) = &opts.ring {
        let limits = Limits {
            count: opts.count(),
            idle: opts.timeout(),
        };
        let mut out = io::BufWriter::new(io::stdout().lock());
        return stream::run(&mut out, &mut io::stderr(), ring, opts.format(), limits);
    }
    let device = Device::open_read_only(&opts.device)?;
    let stdout = io::stdout().lock();
    if opts.info {
        return info::print(&mut io::BufWriter::new(stdout), &device, opts.json);
    }
    let source = Source::open(&device, opts.via, opts.offset, opts.length)?;
    let mut printer = Printer::new(io::BufWriter::new(stdout), opts.format(), &source);
    let deadline = Deadline::after(opts.timeout());
    match (&opts.wait_gpio, opts.follow) {
        (Some(line), _) => gpio::run(&mut printer, line, opts.edge, opts.count(), deadline),
        (None, true) => follow::run(&mut printer, opts.interval(), opts.count(), deadline),
        (None, false) => printer.print_now(None),
    }
}
