//! `cargo xtask`: build, boot and test mymap on emulated boards.
//!
//! Each command lives in a file of its own; this file only parses flags and
//! dispatches. See ARCHITECTURE.md for how the pieces fit.

mod apt;
mod bench;
mod board;
mod buildroot;
mod busybox;
mod codegen;
mod driver;
mod flags;
mod fresh_root;
mod image;
mod kconfig;
mod kernel;
mod qemu;
mod run;
mod setup;
mod test;
mod userspace;
mod util;

use std::process::ExitCode;

use clap::Parser;

/// Errors end the run with one line and its causes, never a backtrace: they
/// are about boards, caches and tools, not about xtask's own code.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let flags = flags::Xtask::parse();
    let sh = util::shell()?;
    match flags.cmd {
        flags::Cmd::Setup(cmd) => cmd.run(&sh),
        flags::Cmd::FreshRoot(cmd) => cmd.run(&sh),
        flags::Cmd::Codegen(cmd) => cmd.run(&sh),
        flags::Cmd::Kernel(cmd) => cmd.run(&sh),
        flags::Cmd::Kconfig => kconfig::check(&sh),
        flags::Cmd::Driver(args) => args.run_driver(&sh),
        flags::Cmd::Userspace(args) => args.run_userspace(&sh),
        flags::Cmd::Image(args) => args.run_image(&sh),
        flags::Cmd::Run(cmd) => cmd.run(&sh),
        flags::Cmd::Test(cmd) => cmd.run(&sh),
        flags::Cmd::Bench(cmd) => cmd.run(&sh),
        flags::Cmd::Buildroot(cmd) => cmd.run(&sh),
    }
}
