// SPDX-License-Identifier: GPL-2.0

//! mymap: zeroed kernel buffers shared with userspace through `/dev/mymap`.
//!
//! At load the module allocates one buffer per device, writes a greeting at
//! offset 0 and registers the misc devices `/dev/mymap`, `/dev/mymap1`, ...
//! Userspace maps a buffer with `mmap`, reads, writes and seeks it like a file,
//! and controls it with the ioctls of `include/uapi/linux/mymap.h`. The ABI is
//! described in `README.md` beside this file.
//!
//! Files, one concept each:
//! - `params.rs`: the `size` and `devices` module parameters;
//! - `buffer.rs`: the pages, their contiguous kernel address, and the lock that
//!   serialises kernel access to them;
//! - `mapping.rs`: user mappings: the mmap checks and the fault handler that
//!   inserts the pages;
//! - `file.rs`: the file operations of an open device;
//! - `uapi.rs`: the ABI, generated from the C header.

use kernel::{
    miscdevice::{
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    sync::Arc, //
};

mod buffer;
mod file;
mod mapping;
mod params;
mod uapi;

use buffer::Buffer;
use file::MymapFile;

module! {
    type: MymapModule,
    name: "mymap",
    authors: ["mymap developers"],
    description: "Kernel buffers shared with userspace through mmap, read/write and ioctl",
    license: "GPL",
}

/// Node names, by device index. The first device keeps the classic name so
/// that `/dev/mymap` always exists; the others are numbered like `/dev/loopN`.
const NAMES: [&CStr; uapi::MYMAP_MAX_DEVICES as usize] = [
    c"mymap", c"mymap1", c"mymap2", c"mymap3", c"mymap4", c"mymap5", c"mymap6", c"mymap7",
];

/// One registered device and the buffer its files share.
///
/// # Invariants
///
/// Every `MiscDeviceRegistration<MymapFile>` that exists is the `reg` field of
/// a `MymapDevice`: `MymapFile` is private to this module and `MymapDevice::new`
/// is the only place that registers one.
#[pin_data]
struct MymapDevice {
    #[pin]
    reg: MiscDeviceRegistration<MymapFile>,
    buffer: Arc<Buffer>,
}

impl MymapDevice {
    fn new(buffer: Arc<Buffer>) -> impl PinInit<Self, Error> {
        let name = NAMES[buffer.index() as usize];
        // INVARIANT: the registration is created as the `reg` field of a `MymapDevice`.
        try_pin_init!(Self {
            reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name }),
            buffer,
        })
    }

    /// Returns the device that owns `reg`.
    fn from_registration(reg: &MiscDeviceRegistration<MymapFile>) -> &Self {
        let reg: *const MiscDeviceRegistration<MymapFile> = reg;
        // SAFETY: by the type invariant `reg` is the `reg` field of a `MymapDevice`, so
        // stepping back by the field offset gives that device. The device is pinned in a
        // `KBox` that is only dropped after `misc_deregister()`, and the returned reference
        // has the lifetime of `reg`, which the misc core keeps alive during the file
        // operation that passed it in.
        unsafe { &*kernel::container_of!(reg, MymapDevice, reg) }
    }
}

struct MymapModule {
    /// Registered devices, index 0 first. Dropping one deregisters it.
    _devices: KVec<Pin<KBox<MymapDevice>>>,
}

impl kernel::Module for MymapModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let params = params::Params::get()?;
        let mut devices = KVec::with_capacity(params.devices as usize, GFP_KERNEL)?;
        for index in 0..params.devices {
            let buffer = Buffer::new(index, params.devices, params.size)?;
            devices.push(
                KBox::pin_init(MymapDevice::new(buffer), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        pr_info!(
            "{} device(s) of {} bytes: /dev/mymap{}\n",
            params.devices,
            params.size,
            if params.devices > 1 { "..." } else { "" }
        );
        Ok(Self { _devices: devices })
    }
}
