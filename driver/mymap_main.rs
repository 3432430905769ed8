// SPDX-License-Identifier: GPL-2.0

//! mymap: kernel memory shared with userspace: buffers and rings.
//!
//! At load the module allocates one buffer per device, writes a greeting at
//! offset 0 and registers the misc devices `/dev/mymap`, `/dev/mymap1`, ...
//! Userspace maps a buffer with `mmap`, reads, writes and seeks it like a file,
//! and controls it with the ioctls of `include/uapi/linux/mymap.h`. It also
//! registers the ring devices `/dev/mymap-ring0`, ...: kernel producers put
//! records into a ring in shared pages and one consumer reads them there,
//! woken by `poll()`. The ABI is described in `README.md` beside this file.
//!
//! Files, one concept each:
//! - `params.rs`: the module parameters;
//! - `vmem.rs`: zeroed `vmalloc` memory and its pages, for buffers and rings;
//! - `buffer.rs`: a buffer and the lock that serialises kernel access to it;
//! - `mapping.rs`: user mappings: the mmap checks and the fault handler that
//!   inserts the pages;
//! - `file.rs`: a buffer device and the file operations of an open one;
//! - `ring.rs`: a ring: reserve, commit, wakeups, `read()`;
//! - `ring_file.rs`: a ring device and the file operations of an open one;
//! - `producers.rs`: the timer producer and the injector;
//! - `tx.rs`: a tx ring, from userspace to the kernel: the drain, the echo;
//! - `tx_file.rs`: a tx ring device and the file operations of an open one;
//! - `player.rs`: the GPIO player, a kernel consumer of a tx ring;
//! - `gpio.rs` (with `gpio_glue.c` and `gpio_glue.h`): the GPIO-interrupt producer;
//! - `of.rs`: the same, bound to device-tree nodes by a platform driver;
//! - `exports.rs` (with `exports.c`): the producer API for other modules;
//! - `glue.rs`: the declarations of the C glue and of the producer API,
//!   generated from their headers;
//! - `uapi.rs`: the ABI, generated from the C header;
//! - `kernel_gaps.rs`: what the kernel's Rust abstractions lack (`poll` and
//!   `llseek` hooks, `vm_ops`, sysfs parameters, `irq_work`, a detached
//!   `hrtimer`), each in the shape upstream would take.

use kernel::prelude::*;

mod buffer;
mod exports;
mod file;
mod glue;
mod gpio;
mod kernel_gaps;
mod mapping;
mod of;
mod params;
mod player;
mod producers;
mod ratelimit;
mod ring;
mod ring_file;
mod tx;
mod tx_file;
mod uapi;
mod vmem;

use buffer::Buffer;
use file::MymapDevice;
use ring::Ring;
use ring_file::RingDevice;
use tx::TxRing;
use tx_file::TxDevice;

module! {
    type: MymapModule,
    name: "mymap",
    authors: ["mymap developers"],
    description: "Kernel buffers shared with userspace through mmap, read/write and ioctl",
    license: "GPL",
}

#[pin_data]
struct MymapModule {
    /// The platform driver of device-tree GPIO producers: unregistered first (fields drop in
    /// order), which unbinds them and frees their interrupts.
    #[pin]
    _of_driver: kernel::driver::Registration<kernel::platform::Adapter<of::GpioRingDriver>>,
    /// Everything else.
    _devices: Devices,
}

/// The devices, rings and `gpio=` producers, made at load.
struct Devices {
    /// GPIO producers of `gpio=`: their interrupts are freed first (fields drop in order).
    _gpios: KVec<Pin<KBox<gpio::GpioProducer>>>,
    /// Registered tx devices.
    txs: KVec<Pin<KBox<TxDevice>>>,
    /// Registered ring devices. Dropped before the buffers.
    rings: KVec<Pin<KBox<RingDevice>>>,
    /// Registered devices, index 0 first. Dropping one deregisters it.
    _buffers: KVec<Pin<KBox<MymapDevice>>>,
}

impl kernel::InPlaceModule for MymapModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // In this order: the device-tree producers need the rings.
        try_pin_init!(Self {
            _devices: Devices::new()?,
            _of_driver <- kernel::driver::Registration::new(c"mymap", module),
        })
    }
}

impl Devices {
    fn new() -> Result<Self> {
        let params = params::Params::get()?;
        let mut devices = KVec::with_capacity(params.devices as usize, GFP_KERNEL)?;
        for index in 0..params.devices {
            let buffer = Buffer::new(index, params.devices, params.size)?;
            devices.push(
                KBox::pin_init(MymapDevice::new(buffer), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        let mut rings = KVec::with_capacity(params.rings as usize, GFP_KERNEL)?;
        let mut shared = KVec::with_capacity(params.rings as usize, GFP_KERNEL)?;
        for index in 0..params.rings {
            let ring = Ring::new(index, params.rings, params.ring_size)?;
            shared.push(ring.clone(), GFP_KERNEL)?;
            rings.push(
                KBox::pin_init(RingDevice::new(ring), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        let mut txs = KVec::with_capacity(params.tx_rings as usize, GFP_KERNEL)?;
        for index in 0..params.tx_rings {
            let echo = shared.get(index as usize).cloned();
            let tx = TxRing::new(index, params.tx_rings, params.tx_size, echo)?;
            txs.push(KBox::pin_init(TxDevice::new(tx), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut gpios = KVec::with_capacity(params.gpio.len(), GFP_KERNEL)?;
        for spec in &params.gpio {
            let dev = &rings[spec.ring as usize];
            // SAFETY: the registration is alive (it is in `rings`), so its misc device and the
            // `struct device` the misc core created for it are live for the call.
            let producer = unsafe {
                gpio::GpioProducer::new(
                    dev.ring.clone(),
                    (*dev.reg.as_raw()).this_device,
                    gpio::Line::Label(&spec.label, spec.offset),
                    spec.edges,
                )
            }?;
            gpios.push(producer, GFP_KERNEL)?;
        }
        // Last: a player and its tx ring hold each other until `shut_down_players`, which
        // every later failure would need.
        for spec in &params.player {
            let tx = &txs[spec.tx as usize];
            // SAFETY: the registration is alive (it is in `txs`), so its device is live for the
            // call.
            let player = unsafe {
                player::Player::new(
                    tx.ring.clone(),
                    rings[spec.tx as usize].ring.clone(),
                    tx.device(),
                    &spec.label,
                    &spec.offsets,
                )
            };
            // A tx ring gets one player at most (`player=` has one entry per tx ring), so the
            // slot is free.
            if let Err(e) = player.and_then(|player| tx.ring.set_consumer(player)) {
                shut_down_players(&txs);
                return Err(e);
            }
        }
        exports::publish(&shared);
        exports::publish_tx(txs.iter().map(|tx| &tx.ring));
        pr_info!(
            "{} device(s) of {} bytes: /dev/mymap{}; {} ring(s) of {} bytes; {} tx ring(s) of {} bytes\n",
            params.devices,
            params.size,
            if params.devices > 1 { "..." } else { "" },
            params.rings,
            params.ring_size,
            params.tx_rings,
            params.tx_size
        );
        Ok(Self {
            _gpios: gpios,
            txs,
            rings,
            _buffers: devices,
        })
    }
}

/// Stops every GPIO player for good (timer cancelled, work flushed) and drops it, with its
/// lines, here in process context; this ends the cycle between a player and its tx ring.
fn shut_down_players(txs: &[Pin<KBox<TxDevice>>]) {
    for tx in txs {
        if let Some(player) = tx.ring.take_consumer() {
            player.shut_down();
        }
    }
}

impl Drop for Devices {
    fn drop(&mut self) {
        // Nothing outside can reach a ring any more: no file is open (each holds the module)
        // and no other module uses the API (it would hold mymap's symbols). Withdraw the
        // rings, then stop their timers, which may still run (a timer does not pin the
        // module): each stop waits for a running callback and drops the timer's reference to
        // its ring. The fields drop after this, in order: the GPIO producers free their
        // interrupts before the rings go.
        exports::withdraw();
        shut_down_players(&self.txs);
        for dev in &self.rings {
            producers::stop(&dev.ring);
        }
    }
}
