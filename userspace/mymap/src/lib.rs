// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Open, inspect, clear, read, write and map mymap devices (/dev/mymap), and
//! consume mymap rings (/dev/mymap-ringN).
//!
//! A mymap device is a zeroed kernel buffer of whole pages that the driver
//! shares with every process that opens it. This crate is the idiomatic layer
//! over [`mymap_uapi`]: a [`Device`] to open, an [`Error`] that keeps the path,
//! the failing call and the fix, and [`Mapping`]s that copy bytes in and out of
//! shared memory instead of lending references to it.
//!
//! A ring streams records from kernel producers to one consumer: a [`Ring`]
//! claims and maps it, waits with poll(2) and lends each [`Record`]'s payload
//! in place; a [`RingControl`] reads its statistics and drives its built-in
//! producers.
//!
//! A tx ring streams records the other way, from one producer to a kernel
//! consumer: a [`TxRing`] claims and maps it, copies records in, waits for
//! space and kicks the kernel; with a GPIO player on it, [`Play`] records set
//! output lines at their times and [`Played`] completions come back through
//! the paired ring.
//!
//! With the `simulator` feature, `Device::simulated` and `Ring::simulated` are a
//! device and a ring in this process's memory, with no driver: the examples of
//! [`Device::map`] and [`Ring::consume`] run on them.
//!
//! ```no_run
//! use mymap::Device;
//!
//! let dev = Device::open("/dev/mymap")?;
//! let info = dev.info()?;
//! println!("{} bytes, {} clears", info.size, info.clears);
//!
//! dev.write_at(0, b"hello from userspace\0")?;
//! let map = dev.map(0, dev.size() as usize)?;
//! assert!(map.snapshot().starts_with(b"hello from userspace"));
//! dev.clear()?;
//! # Ok::<(), mymap::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod device;
mod error;
mod info;
mod mapping;
mod range;
mod ring;
mod tx;

pub use device::{Device, Result};
pub use error::{Call, Error};
pub use info::{Info, ABI_VERSION};
pub use mapping::{Mapping, MappingMut};
pub use ring::{
    record_size, ring_path, source, Injected, Record, Ring, RingControl, RingInfo, RingStats,
    SeqGaps, Wakeup, DEFAULT_RING_PATH, MAX_RINGS,
};
pub use tx::{
    monotonic_ns, tx_path, Play, Played, TxInfo, TxRing, TxStats, DEFAULT_TX_PATH, PLAY_MAX_LINES,
};

/// The kernel's side of a simulated ring ([`Ring::simulated`]), with the `simulator`
/// feature.
#[cfg(feature = "simulator")]
pub use mymap_uapi::{SimProducer, SimReservation};

/// The kernel's side of a simulated tx ring ([`TxRing::simulated`]), with the `simulator`
/// feature.
#[cfg(feature = "simulator")]
pub use mymap_uapi::SimTxConsumer;

/// The device node of the first device.
pub const DEFAULT_PATH: &str = "/dev/mymap";
