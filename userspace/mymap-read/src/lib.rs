// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The pieces of the `mymap-read` and `mymapctl` commands, one module per concern.
//!
//! Both binaries only parse their arguments and dispatch to these modules; all
//! device access goes through the `mymap` library, so neither issues an ioctl
//! nor holds `unsafe` code.

#![forbid(unsafe_code)]

pub mod args;
pub mod base64;
pub mod ctl;
pub mod deadline;
pub mod exit;
pub mod follow;
#[cfg(feature = "generate")]
pub mod generate;
pub mod gpio;
pub mod hexdump;
pub mod info;
pub mod number;
pub mod output;
pub mod play;
pub mod record;
pub mod ringctl;
pub mod source;
pub mod stream;
pub mod wait;
