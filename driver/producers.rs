// SPDX-License-Identifier: GPL-2.0

//! The built-in producers of a ring: the timer and the injector.
//!
//! The timer producer is an `hrtimer` that puts one record into its ring every
//! period, in hard-interrupt context: the demo, and the steady load of the
//! benchmarks. It keeps running after the file that started it is closed,
//! until it is stopped (`MYMAP_RING_IOC_TIMER` with period 0) or the module
//! is unloaded: `Devices::drop` (`mymap_main.rs`) stops every ring's timer,
//! waiting for a running callback, before the rings go. That is also what
//! ends the one reference cycle of a ring (ring -> its running timer ->
//! ring), so nothing pins the module or outlives it.
//!
//! The injector produces N records from the calling process as fast as the
//! ring takes them, for saturation measurements.
//!
//! Both write the payload pattern of the header (`MYMAP_SOURCE_INJECT`,
//! `MYMAP_SOURCE_TIMER`), so a consumer can check every byte.

use kernel::{
    current, impl_has_hr_timer,
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
    time::{
        hrtimer::{
            ArcHrTimerHandle,
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerPointer,
            HrTimerRestart,
            RelativeMode, //
        },
        Delta,
        Monotonic, //
    },
};

use crate::{
    ring::{
        Ring,
        RunningProducer, //
    },
    uapi::{
        self,
        mymap_ring_inject,
        mymap_ring_stats,
        mymap_ring_timer, //
    },
};

/// Shortest and longest timer periods: 100 kHz, and 10 s.
const PERIOD_NS: core::ops::RangeInclusive<u64> = 10_000..=10_000_000_000;

/// Most records one `MYMAP_RING_IOC_INJECT` attempts.
const INJECT_MAX: u32 = 1 << 24;

/// The timer producer of one ring.
#[pin_data]
pub(crate) struct TimerProducer {
    #[pin]
    timer: HrTimer<Self>,
    ring: Arc<Ring>,
    period: Delta,
    len: u32,
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for TimerProducer {
        mode: RelativeMode<Monotonic>, field: self.timer
    }
}

impl HrTimerCallback for TimerProducer {
    type Pointer<'a> = Arc<Self>;

    fn run(this: ArcBorrow<'_, Self>, mut ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        // A full ring counts the drop; nothing else can fail with a checked length.
        let _ = this
            .ring
            .produce_pattern(uapi::MYMAP_SOURCE_TIMER as u16, this.len);
        // Missed periods (a late interrupt) are skipped, not made up in a burst.
        ctx.forward_now(this.period);
        HrTimerRestart::Restart
    }
}

/// A running timer producer, kept by its ring: stopping it is dropping this.
struct Running {
    /// Cancels the timer (waiting for a running callback) when dropped.
    _handle: ArcHrTimerHandle<TimerProducer>,
    period_ns: u64,
    len: u32,
}

/// `MYMAP_RING_IOC_TIMER`: starts, restarts or (period 0) stops the timer producer.
pub(crate) fn timer(ring: &Arc<Ring>, req: &mymap_ring_timer) -> Result {
    if req.period_ns == 0 {
        drop(ring.timer_slot().lock().take());
        return Ok(());
    }
    if !PERIOD_NS.contains(&req.period_ns) || req.len > ring.max_payload() || req.reserved != 0 {
        pr_debug!(
            "timer refused: period {} ns, len {}\n",
            req.period_ns,
            req.len
        );
        return Err(EINVAL);
    }
    let period = Delta::from_nanos(req.period_ns as i64);
    let producer = Arc::pin_init(
        pin_init!(TimerProducer {
            timer <- HrTimer::new(),
            ring: ring.clone(),
            period,
            len: req.len,
        }),
        GFP_KERNEL,
    )?;
    // Allocated before the lock, so that a failure leaves the old timer running.
    let running = KBox::<Running>::new_uninit(GFP_KERNEL)?;
    let mut slot = ring.timer_slot().lock();
    // The old timer, if any, is cancelled before the new one starts.
    drop(slot.take());
    let running: KBox<Running> = KBox::write(
        running,
        Running {
            _handle: producer.start(period),
            period_ns: req.period_ns,
            len: req.len,
        },
    );
    *slot = Some(running);
    Ok(())
}

/// Stops the timer producer of `ring`, if it runs (at unload: see the module docs).
pub(crate) fn stop(ring: &Ring) {
    drop(ring.timer_slot().lock().take());
}

impl RunningProducer for Running {
    fn fill_stats(&self, stats: &mut mymap_ring_stats) {
        stats.timer_period_ns = self.period_ns;
        stats.timer_len = self.len;
    }
}

/// `MYMAP_RING_IOC_INJECT`: produces `count` records of `len` bytes now; fills the counts.
///
/// Stops early, with the counts so far, when a signal is pending.
pub(crate) fn inject(ring: &Ring, req: &mut mymap_ring_inject) -> Result {
    if req.count > INJECT_MAX || req.len > ring.max_payload() {
        pr_debug!("inject refused: count {}, len {}\n", req.count, req.len);
        return Err(EINVAL);
    }
    let (mut produced, mut dropped) = (0u32, 0u32);
    for i in 0..req.count {
        match ring.produce_pattern(uapi::MYMAP_SOURCE_INJECT as u16, req.len) {
            Ok(()) => produced += 1,
            Err(e) if e == ENOSPC => dropped += 1,
            Err(e) => return Err(e),
        }
        if i % 4096 == 4095 && current!().signal_pending() {
            break;
        }
    }
    req.produced = produced;
    req.dropped = dropped;
    Ok(())
}
