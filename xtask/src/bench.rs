//! `cargo xtask bench`: boot each board with `mymap-bench` as the job, add the
//! host's facts to the JSON document it prints, show a table, and keep the
//! result in `bench/<board>.json`, committed, for later runs to compare with.
//! The record's schema and layout are the crate `mymap-bench-record`, which
//! `mymap-bench` writes with.
//!
//! Every board here is emulated by QEMU's TCG (`qemu.rs` never asks for KVM):
//! the ratios, whose two sides run in turn in one process, say more than the
//! absolute figures, which follow the host.
//!
//! The modules, each importing only those below it (no cycle):
//! - `command`: the command: build, boot, gather, write; or `--render`.
//! - `render`: redraw the charts and the tables of `bench/README.md` from the
//!   committed records, or check them.
//! - `console`: the target's document and printk times, from the console.
//! - `host`: the host's facts (CPU, load, commit).
//! - `compare`: `--compare`, the ratios against the committed record.
//! - `markdown`: a record's tables, and the targets table across boards.
//! - `ring`, `gpio`, `tx`: the tables of the record's `ring`, `gpio` and `tx`
//!   parts.
//! - `chart`: `bench/<board>.svg`.
//! - `text`: numbers for people, Markdown rows, the targets' rows.

mod chart;
mod command;
mod compare;
mod console;
mod gpio;
mod host;
mod markdown;
mod render;
mod ring;
mod text;
mod tx;

#[cfg(test)]
mod testdata;

pub use render::check;
