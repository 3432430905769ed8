// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What the driver's target tests (`mymap-target-tests`) and the bench
//! (`mymap-bench`) share on the target: loading and unloading modules, raw
//! system calls, the gpio-sim fixture, and the kernel log with the one list of
//! splat patterns, which `cargo xtask test` matches on the console too.
//!
//! The ring ioctls are not here: both crates call `mymap-uapi` (or the `mymap`
//! library) for them. This crate depends on libc alone, so that the xtask can
//! use it on the host without building anything of the target's.

// Request codes and offsets change type between targets (musl, glibc, 32-bit);
// casts that are no-ops on one target are needed on another.
#![allow(clippy::unnecessary_cast)]

pub mod gpio_sim;
pub mod log;
pub mod module;
pub mod sys;
