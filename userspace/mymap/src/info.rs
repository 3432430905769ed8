// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What a device says about itself through `MYMAP_IOC_INFO`.

use mymap_uapi::mymap_info;

/// The ABI version this library was built against (`MYMAP_ABI_VERSION`).
pub const ABI_VERSION: u32 = mymap_uapi::MYMAP_ABI_VERSION;

/// The answer of `MYMAP_IOC_INFO`: the device's geometry and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Info {
    /// The ABI version of the driver.
    pub abi_version: u32,
    /// The kernel page size; mapping offsets are multiples of it.
    pub page_size: u32,
    /// The buffer size in bytes, a multiple of `page_size`.
    pub size: u64,
    /// The device index: 0 is /dev/mymap, N is /dev/mymapN.
    pub index: u32,
    /// How many devices the module registered.
    pub devices: u32,
    /// The largest buffer size the driver accepts.
    pub max_size: u64,
    /// `MYMAP_IOC_CLEAR` calls on this device since the module was loaded.
    pub clears: u64,
}

impl From<mymap_info> for Info {
    fn from(raw: mymap_info) -> Self {
        // Spelled out without `..`, so that a field added to the header fails to build here
        // instead of being dropped silently.
        let mymap_info {
            abi_version,
            page_size,
            size,
            index,
            devices,
            max_size,
            clears,
        } = raw;
        Info {
            abi_version,
            page_size,
            size,
            index,
            devices,
            max_size,
            clears,
        }
    }
}
