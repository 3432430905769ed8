// SPDX-License-Identifier: GPL-2.0

//! The mymap ABI: constants and `struct mymap_info`, generated from
//! `include/uapi/linux/mymap.h` so that the driver and userspace share one
//! definition (`cargo xtask codegen --check` proves the copy is current).

// Generated code: names follow C, and not every constant is used by the driver.
#![allow(non_camel_case_types, dead_code, unreachable_pub)]

include!("uapi_generated.rs");

// SAFETY: `mymap_info` is `repr(C)` with only integer fields, and the layout assertions
// generated with it prove there is no padding (40 bytes for 4+4+8+4+4+8+8), so every
// byte of a value is initialised.
unsafe impl kernel::transmute::AsBytes for mymap_info {}
