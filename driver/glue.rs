// SPDX-License-Identifier: GPL-2.0

//! The C side's declarations, generated from its headers so that the Rust side
//! cannot drift from them (`cargo xtask codegen --check` proves the copy is current):
//! `gpio_glue.h`, the GPIO glue `gpio.rs` calls, and `include/linux/mymap_ring.h`,
//! the producer API that `exports.rs` defines and checks its definitions against.
//!
//! The structs are opaque here, as the headers only forward-declare them.

// Generated code: names follow C, and the producer API's declarations are only compared
// with their definitions, never called.
#![allow(non_camel_case_types, dead_code, unreachable_pub)]

include!("glue_generated.rs");
