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

// SAFETY: each of these is `repr(C)` with only integer fields, and the layout assertions
// generated with it prove there is no padding, so every byte of a value is initialised
// (`AsBytes`) and any bytes make a valid value (`FromBytes`).
unsafe impl kernel::transmute::AsBytes for mymap_ring_info {}
// SAFETY: as above.
unsafe impl kernel::transmute::AsBytes for mymap_ring_stats {}
// SAFETY: as above.
unsafe impl kernel::transmute::AsBytes for mymap_ring_wakeup {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for mymap_ring_wakeup {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for mymap_ring_timer {}
// SAFETY: as above.
unsafe impl kernel::transmute::AsBytes for mymap_ring_inject {}
// SAFETY: as above.
unsafe impl kernel::transmute::FromBytes for mymap_ring_inject {}
// SAFETY: as above.
unsafe impl kernel::transmute::AsBytes for mymap_tx_info {}
// SAFETY: as above.
unsafe impl kernel::transmute::AsBytes for mymap_tx_stats {}
// SAFETY: as above.
unsafe impl kernel::transmute::AsBytes for mymap_played {}
