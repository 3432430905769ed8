// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The devices measured (mymap and the reference C drivers of bench/peers),
//! loading their modules with a buffer size, timed, and waiting for udev's node
//! (with mymap-target-support's module loading).

use std::{
    io,
    time::{
        Duration,
        Instant, //
    },
};

use mymap_target_support::module;

/// A device the bench measures: its module, its node and how tables name it.
#[derive(Debug, PartialEq, Eq)]
pub struct Device {
    /// Short, stable name in ids and JSON: `mymap`, `pfn`, `vfault`.
    pub id: &'static str,
    pub module: &'static str,
    pub node: &'static str,
    /// How a table's column names it.
    pub label: &'static str,
}

/// The driver under test.
pub const MYMAP: Device = Device {
    id: "mymap",
    module: "mymap",
    node: "/dev/mymap",
    label: "mymap",
};

/// The reference C drivers (bench/peers/), in the bench image only.
pub const PEERS: [Device; 2] = [
    Device {
        id: "pfn",
        module: "mymap_pfn",
        node: "/dev/mymap-pfn",
        label: "remap_pfn_range",
    },
    Device {
        id: "vfault",
        module: "mymap_vfault",
        node: "/dev/mymap-vfault",
        label: "vmalloc + fault",
    },
];

/// What one load took.
pub struct LoadTime {
    /// Wall time of `modprobe`.
    pub modprobe: Duration,
    /// From the start of `modprobe` until the node is there with udev's group
    /// and mode.
    pub node: Duration,
}

/// A support-crate error as the bench's.
fn io(e: String) -> io::Error {
    io::Error::other(e)
}

/// Whether `modprobe` can find the device's module (the peers are only in the
/// bench image).
pub fn available(dev: &Device) -> bool {
    module::available(dev.module)
}

/// Unloads the device's module if it is loaded.
pub fn unload(dev: &Device) -> io::Result<()> {
    if module::is_loaded(dev.module) {
        module::run("rmmod", &[dev.module]).map_err(io)?;
    }
    Ok(())
}

/// Waits until udev has handled every event so far (untimed housekeeping between loads).
pub fn settle() -> io::Result<()> {
    module::settle().map_err(io)
}

/// Unloads the device's module if it is loaded, then loads it with `params` and
/// waits for the node; times the load alone (no udev settling inside the timed part).
pub fn reload(dev: &Device, params: &[&str]) -> io::Result<LoadTime> {
    unload(dev)?;
    settle()?;
    let start = Instant::now();
    module::modprobe(dev.module, params).map_err(io)?;
    let modprobe = start.elapsed();
    module::wait_for_node(dev.node, true).map_err(io)?;
    Ok(LoadTime {
        modprobe,
        node: start.elapsed(),
    })
}
