// SPDX-License-Identifier: GPL-2.0

//! The GPIO producer: each edge of a configured line puts a record into a ring.
//!
//! A line is configured by chip label and offset (module parameter `gpio=`,
//! see `params.rs`) or by a device-tree node (`of.rs`). It is requested as an
//! input through the kernel's GPIO consumer API (the C glue of `gpio_glue.h`),
//! so nothing else can drive or take it, and its interrupt is requested for
//! the chosen edges.
//!
//! The whole record is made in the interrupt's handler, the timestamp first,
//! so it is the time the interrupt was taken rather than the time a later
//! thread ran; the sequence number and the drop count are settled there too,
//! so a storm faster than the consumer is counted edge by edge. Which handler
//! that is depends on the interrupt:
//!
//! - Most interrupts (the Pi's GPIO block, `gpio-sim`) get a hard interrupt
//!   handler. The line value is read there when the chip can be read in
//!   interrupt context (the Pi's can). A chip that sleeps (`gpio-sim`) cannot
//!   be read there: then edge and value are inferred from the edge filter,
//!   alternating from the value read at start for both edges, and the record
//!   says so (`MYMAP_GPIO_INFERRED`).
//! - A nested-threaded interrupt (`IRQ_NESTED_THREAD`: the lines of an I2C or
//!   SPI expander, whose own interrupt thread reads the chip and calls the
//!   line's handler with `handle_nested_irq()`) has no hard handler: the
//!   kernel refuses one (`EINVAL`). It gets a threaded handler, which runs in
//!   that thread, where the chip may sleep, so the value is read, not
//!   inferred. As gpiolib-cdev's `edge_irq_thread` does for such interrupts,
//!   it takes the timestamp itself, as it starts.
//!
//! With one edge filtered (rising or falling) the record's edge is the one the
//! interrupt was requested for; with both, the edge follows the value.
//!
//! Teardown frees the interrupt (which waits for a running handler, hard or
//! nested) before the line and before the ring reference go.

use core::ffi::c_void;
use kernel::{
    bindings,
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            ordering::Relaxed,
            Atomic, //
        },
        Arc,
    },
};

use crate::{
    glue::{
        gpio_desc,
        mymap_gpio_cansleep,
        mymap_gpio_get,
        mymap_gpio_get_dt,
        mymap_gpio_put,
        mymap_gpio_to_irq,
        mymap_gpio_value,
        mymap_gpio_value_cansleep, //
    },
    ring::Ring,
    uapi::{
        self,
        mymap_ring_gpio_event, //
    },
};

/// Which edges make a record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edges {
    Rising,
    Falling,
    Both,
}

impl Edges {
    /// Parses `rising`, `falling` or `both`.
    pub(crate) fn parse(s: &[u8]) -> Option<Self> {
        match s {
            b"rising" => Some(Self::Rising),
            b"falling" => Some(Self::Falling),
            b"both" => Some(Self::Both),
            _ => None,
        }
    }

    fn irq_flags(self) -> c_ulong {
        let flags = match self {
            Self::Rising => bindings::IRQF_TRIGGER_RISING,
            Self::Falling => bindings::IRQF_TRIGGER_FALLING,
            Self::Both => bindings::IRQF_TRIGGER_RISING | bindings::IRQF_TRIGGER_FALLING,
        };
        flags as c_ulong
    }
}

/// Where the line comes from.
pub(crate) enum Line<'a> {
    /// A chip label and a line offset.
    Label(&'a CStr, u32),
    /// The device tree node of a platform device (property `mymap-gpios`).
    DeviceTree,
}

/// A GPIO line whose edges produce into a ring.
///
/// # Invariants
///
/// `desc` is a line requested with `mymap_gpio_get*`, and `irq` its interrupt, requested with
/// this producer (pinned, at its address) as `dev_id` when `requested` holds: with
/// [`Self::nested_handler`] as its thread function when `nested` holds, else with
/// [`Self::handler`] as its hard handler. Both are released in `drop`, the interrupt first.
#[pin_data(PinnedDrop)]
pub(crate) struct GpioProducer {
    ring: Arc<Ring>,
    desc: *mut gpio_desc,
    irq: u32,
    edges: Edges,
    offset: u32,
    /// The chip can be read in hard interrupt context.
    atomic_read: bool,
    /// The interrupt is nested-threaded: its handler runs in the chip's interrupt thread.
    nested: bool,
    /// The last value, for inference (see the module docs).
    last: Atomic<u32>,
    /// The interrupt's name, alive as long as the interrupt.
    name: CString,
    /// Whether `irq` is requested.
    requested: Atomic<bool>,
}

// SAFETY: `desc` is only passed to the GPIO consumer functions, which may be called from any
// thread (the context rules are kept: `mymap_gpio_value` only for chips that do not sleep,
// `mymap_gpio_value_cansleep` only in process context: at start, and in a nested handler).
unsafe impl Send for GpioProducer {}
// SAFETY: see `Send`; the handlers, which run concurrently with nothing but `drop` (which
// frees the interrupt first) and each other, mutate only `last`, an atomic.
unsafe impl Sync for GpioProducer {}

impl GpioProducer {
    /// Requests `line` for `dev` as an input, and its interrupt for `edges`, producing into
    /// `ring`. `ENODEV` (with a message naming the label) when there is no such chip,
    /// `EINVAL` for an offset beyond it, `EBUSY` when the line is taken.
    ///
    /// # Safety
    ///
    /// `dev` is a live `struct device` for the duration of the call.
    pub(crate) unsafe fn new(
        ring: Arc<Ring>,
        dev: *mut bindings::device,
        line: Line<'_>,
        edges: Edges,
    ) -> Result<Pin<KBox<Self>>> {
        // The glue's `struct device` is the kernel's, opaque in its header.
        let (desc, offset) = match line {
            Line::Label(label, offset) => {
                // SAFETY: `dev` is a live device (caller's guarantee) and `label` a
                // NUL-terminated string, both for the duration of the call; the function
                // returns a line or an error pointer.
                let desc = unsafe { mymap_gpio_get(dev.cast(), label.as_char_ptr(), offset) };
                (desc, offset)
            }
            // SAFETY: as above.
            Line::DeviceTree => (unsafe { mymap_gpio_get_dt(dev.cast()) }, u32::MAX),
        };
        let desc = match kernel::error::from_err_ptr(desc) {
            Ok(desc) => desc,
            Err(e) => {
                if let Line::Label(label, offset) = line {
                    if e == ENODEV {
                        pr_err!(
                            "gpio: no GPIO chip labelled {}\n",
                            label.to_str().unwrap_or("?")
                        );
                    } else if e == EBUSY {
                        pr_err!(
                            "gpio: line {} of {} is taken\n",
                            offset,
                            label.to_str().unwrap_or("?")
                        );
                    } else if e == EINVAL {
                        pr_err!(
                            "gpio: {} has no line {}\n",
                            label.to_str().unwrap_or("?"),
                            offset
                        );
                    } else {
                        pr_err!(
                            "gpio: line {} of {}: error {}\n",
                            offset,
                            label.to_str().unwrap_or("?"),
                            e.to_errno()
                        );
                    }
                } else {
                    pr_err!(
                        "gpio: the device tree's mymap-gpios line: error {}\n",
                        e.to_errno()
                    );
                }
                return Err(e);
            }
        };
        // From here `desc` is ours: `Guard` puts it back on every error path.
        let guard = DescGuard(desc);
        // SAFETY: `desc` is a requested line.
        let irq = unsafe { mymap_gpio_to_irq(desc) };
        if irq < 0 {
            pr_err!("gpio: line {} has no interrupt (error {})\n", offset, irq);
            return Err(Error::from_errno(irq));
        }
        // SAFETY: `desc` is a requested line; process context, so sleeping chips may be read.
        let atomic_read = unsafe { mymap_gpio_cansleep(desc) } == 0;
        // SAFETY: as above.
        let value = unsafe { mymap_gpio_value_cansleep(desc) };
        let irq = irq as u32;
        // SAFETY: the function takes any interrupt number and only reads its descriptor's
        // status under RCU. The flag is set by the chip's driver when it maps the interrupt
        // (gpiolib does for `girq->threaded` chips) and stays while the line is ours.
        let nested =
            unsafe { bindings::irq_check_status_bit(irq, bindings::IRQ_NESTED_THREAD as c_uint) };
        let name = CString::try_from_fmt(fmt!("mymap-ring{}", ring.index()))?;
        let this = KBox::pin_init(
            // INVARIANT: `desc` and `irq` are the line and its interrupt; the interrupt is
            // requested below, once the producer is at its final address, with the handler
            // `nested` chooses.
            try_pin_init!(Self {
                ring,
                desc,
                irq,
                edges,
                offset,
                atomic_read,
                nested,
                last: Atomic::new(u32::from(value > 0)),
                name,
                requested: Atomic::new(false),
            }),
            GFP_KERNEL,
        )?;
        core::mem::forget(guard);
        let dev_id: *const Self = &*this;
        // A nested-threaded interrupt takes a thread function only: without one it is refused
        // with `EINVAL`, and a hard handler would never run. `IRQF_ONESHOT`, which a nested
        // interrupt ignores, is what the kernel requires of a request without a hard handler
        // on any other interrupt, as gpiolib-cdev sets it.
        let (handler, thread_fn, flags): (bindings::irq_handler_t, bindings::irq_handler_t, _) =
            if nested {
                (
                    None,
                    Some(Self::nested_handler),
                    edges.irq_flags() | bindings::IRQF_ONESHOT as c_ulong,
                )
            } else {
                (Some(Self::handler), None, edges.irq_flags())
            };
        // SAFETY: both handlers match `irq_handler_t` and treat `dev_id` as a `GpioProducer`,
        // which it is, pinned in its box until `drop` frees the interrupt; the one of them
        // requested runs in the context its safety section asks for (a thread function of a
        // nested-threaded interrupt runs in the thread that calls `handle_nested_irq()`).
        // `name` lives as long as the producer.
        let ret = unsafe {
            bindings::request_threaded_irq(
                this.irq,
                handler,
                thread_fn,
                flags,
                this.name.as_char_ptr(),
                dev_id.cast_mut().cast(),
            )
        };
        if ret < 0 {
            pr_err!(
                "gpio: cannot request interrupt {} (error {})\n",
                this.irq,
                ret
            );
            // `drop` puts the line back, and frees no interrupt.
            return Err(Error::from_errno(ret));
        }
        this.requested.store(true, Relaxed);
        let edges = match edges {
            Edges::Rising => "rising",
            Edges::Falling => "falling",
            Edges::Both => "both",
        };
        let how = if nested {
            ", nested-threaded interrupt, values read in its thread"
        } else if atomic_read {
            ""
        } else {
            ", values inferred (the chip sleeps)"
        };
        match line {
            Line::Label(label, offset) => pr_info!(
                "gpio: {} line {} (interrupt {}) into ring {}, {} edges{}\n",
                label.to_str().unwrap_or("?"),
                offset,
                irq,
                this.ring.index(),
                edges,
                how
            ),
            Line::DeviceTree => pr_info!(
                "gpio: the device tree's line (interrupt {}) into ring {}, {} edges{}\n",
                irq,
                this.ring.index(),
                edges,
                how
            ),
        }
        Ok(this)
    }

    /// The hard interrupt handler: one record per edge.
    ///
    /// # Safety
    ///
    /// `dev_id` is the `GpioProducer` the interrupt was requested with, alive until it frees
    /// the interrupt.
    unsafe extern "C" fn handler(_irq: c_int, dev_id: *mut c_void) -> bindings::irqreturn_t {
        // SAFETY: `ktime_get` has no preconditions and may be called in any context.
        let ts = (unsafe { bindings::ktime_get() }) as u64;
        // SAFETY: the caller's guarantee.
        let this = unsafe { &*dev_id.cast::<Self>() };
        let value = if this.atomic_read {
            // SAFETY: `desc` is the requested line, and its chip does not sleep.
            Self::value(unsafe { mymap_gpio_value(this.desc) })
        } else {
            None
        };
        this.produce(ts, value);
        bindings::irqreturn::IRQ_HANDLED
    }

    /// The handler of a nested-threaded interrupt, run as its thread function in the chip's
    /// interrupt thread (process context): one record per edge, with the value read.
    ///
    /// # Safety
    ///
    /// `dev_id` is the `GpioProducer` the interrupt was requested with, alive until it frees
    /// the interrupt; the caller runs in process context.
    unsafe extern "C" fn nested_handler(_irq: c_int, dev_id: *mut c_void) -> bindings::irqreturn_t {
        // SAFETY: `ktime_get` has no preconditions and may be called in any context.
        let ts = (unsafe { bindings::ktime_get() }) as u64;
        // SAFETY: the caller's guarantee.
        let this = unsafe { &*dev_id.cast::<Self>() };
        // SAFETY: `desc` is the requested line, and this is process context (caller's
        // guarantee), where any chip may be read.
        let value = Self::value(unsafe { mymap_gpio_value_cansleep(this.desc) });
        this.produce(ts, value);
        bindings::irqreturn::IRQ_HANDLED
    }

    /// The value a `mymap_gpio_value*` call returned, `None` for an error.
    fn value(ret: c_int) -> Option<u32> {
        (ret >= 0).then(|| u32::from(ret > 0))
    }

    /// Puts the record of an edge taken at `ts` into the ring: `value` is the line's value
    /// read after the edge, or `None` if it could not be read (then it is inferred, see the
    /// module docs, and the record says so). A full ring counts the drop. Any context.
    fn produce(&self, ts: u64, value: Option<u32>) {
        let (value, flags) = match value {
            Some(value) => (value, 0),
            None => {
                let inferred = match self.edges {
                    Edges::Rising => 1,
                    Edges::Falling => 0,
                    Edges::Both => self.last.load(Relaxed) ^ 1,
                };
                (inferred, uapi::MYMAP_GPIO_INFERRED as u8)
            }
        };
        self.last.store(value, Relaxed);
        let edge = match self.edges {
            Edges::Rising => uapi::MYMAP_GPIO_EDGE_RISING,
            Edges::Falling => uapi::MYMAP_GPIO_EDGE_FALLING,
            Edges::Both if value == 1 => uapi::MYMAP_GPIO_EDGE_RISING,
            Edges::Both => uapi::MYMAP_GPIO_EDGE_FALLING,
        } as u8;
        if let Ok(mut r) = self.ring.reserve(
            size_of::<mymap_ring_gpio_event>() as u32,
            uapi::MYMAP_SOURCE_GPIO as u16,
            u16::from(edge),
            Some(ts),
        ) {
            r.write(0, &self.offset.to_ne_bytes());
            r.write(4, &[edge, value as u8, flags, 0]);
            r.commit(0);
        }
    }
}

/// Puts a line back unless forgotten.
struct DescGuard(*mut gpio_desc);

impl Drop for DescGuard {
    fn drop(&mut self) {
        // SAFETY: the guard holds a requested line that nothing else will put.
        unsafe { mymap_gpio_put(self.0) };
    }
}

#[pinned_drop]
impl PinnedDrop for GpioProducer {
    fn drop(self: Pin<&mut Self>) {
        if self.requested.load(Relaxed) {
            let dev_id: *const Self = &*self;
            // SAFETY: the interrupt was requested with this `dev_id` (type invariant);
            // `free_irq` waits for a running handler, after which none runs again.
            unsafe { bindings::free_irq(self.irq, dev_id.cast_mut().cast()) };
        }
        // SAFETY: `desc` is the requested line; the interrupt that used it is gone.
        unsafe { mymap_gpio_put(self.desc) };
    }
}
