// SPDX-License-Identifier: GPL-2.0

//! The GPIO player: a kernel consumer of a tx ring that sets output lines at the times its
//! records name, and reports each set as a completion record in a ring.
//!
//! The record format, the completion and the control operations are the header's ("The GPIO
//! player"). One record is held at a time: taken from the tx ring (copied and checked there,
//! `tx.rs`), then played when its time comes by [`Player::advance`], which an `hrtimer` (hard
//! interrupt context; softirq on PREEMPT_RT, the timer not being HARD since its callback takes
//! `spinlock_t`s), a kick or the player's work item runs. Lines of a chip that cannot
//! sleep are set from the timer itself. Lines of a chip that sleeps (an I2C or SPI expander,
//! gpio-sim) cannot be set there: the timer queues the work item on the high-priority
//! workqueue, which sets them in process context, later by the workqueue's latency.
//!
//! Order: one runner at a time ([`PlayState::running`], under [`Player::state`]) takes a
//! record, sets its lines and reports it, outside the lock; anyone else who finds a runner
//! leaves the work to it, and the runner looks at the state again before it stops. So
//! records are played in ring order, one at a time, none skipped, none twice.
//!
//! Locks: `Player::state` (a spinlock with interrupts disabled), then `TxRing::lock` (the
//! drain of one record, under the state lock). Completions go into the ring outside both.
//!
//! Teardown ([`TxConsumer::shut_down`], at unload): `dying` stops every path from starting the
//! timer or the work, the timer is cancelled and the work flushed, and only then does the last
//! reference go and the lines with it (`drop`).

use kernel::{
    bindings, impl_has_hr_timer, impl_has_work, new_spinlock_irq, new_work,
    prelude::*,
    sync::{
        atomic::{
            ordering::{
                Acquire,
                Release, //
            },
            Atomic,
        },
        Arc,
        ArcBorrow,
        SpinLockIrq, //
    },
    time::{
        hrtimer::{
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerRestart,
            RelativeMode, //
        },
        Delta,
        Monotonic, //
    },
    workqueue::{
        self,
        Work,
        WorkItem, //
    },
};

use crate::{
    glue::{
        gpio_desc,
        mymap_gpio_cansleep,
        mymap_gpio_get_output,
        mymap_gpio_put,
        mymap_gpio_set,
        mymap_gpio_set_cansleep, //
    },
    kernel_gaps::DetachedHrTimer,
    ring::Ring,
    tx::{
        TxConsumer,
        TxRecord,
        TxRing,
        Verdict, //
    },
    uapi::{
        self,
        mymap_play,
        mymap_played, //
    },
};

/// A record taken from the tx ring, checked, waiting for its time.
#[derive(Clone, Copy)]
struct Play {
    seq: u64,
    time_ns: u64,
    mask: u32,
    values: u32,
    /// Its time had passed when it was taken.
    late: bool,
}

/// The player's state, under [`Player::state`].
struct PlayState {
    /// The next record, taken from the ring and not yet played.
    held: Option<Play>,
    /// Started (`MYMAP_PLAY_START`) and not stopped.
    playing: bool,
    /// A runner is playing a record outside the lock; others leave the work to it.
    running: bool,
}

/// The lines of a player, and their chip's kind.
///
/// # Invariants
///
/// Every pointer is a line requested as an output with `mymap_gpio_get_output`, put back in
/// `drop` only.
struct Lines {
    descs: KVec<*mut gpio_desc>,
    /// Some line's chip sleeps: the lines are set in process context only.
    sleeps: bool,
}

// SAFETY: the lines are only passed to the GPIO consumer functions, which may be called from
// any thread, in the context each allows (`Player::set_lines`).
unsafe impl Send for Lines {}
// SAFETY: see `Send`; the pointers are never written after load.
unsafe impl Sync for Lines {}

impl Drop for Lines {
    fn drop(&mut self) {
        for &desc in self.descs.iter() {
            // SAFETY: a requested line (type invariant), put back once, here.
            unsafe { mymap_gpio_put(desc) };
        }
    }
}

/// The GPIO player of one tx ring.
///
/// # Invariants
///
/// - Every `Player` is made by [`Player::new`], in an `Arc`: pinned from its creation.
/// - `timer` is cancelled and `work` flushed ([`TxConsumer::shut_down`]) before the last
///   reference goes: the module's teardown calls it, and nothing else drops the player
///   (files reach it through the tx ring's slot, which the teardown empties after).
#[pin_data(PinnedDrop)]
pub(crate) struct Player {
    tx: Arc<TxRing>,
    ring: Arc<Ring>,
    lines: Lines,
    #[pin]
    state: SpinLockIrq<PlayState>,
    /// Fires at the held record's time: in hard interrupt context, but not marked HARD,
    /// because its callback takes `spinlock_t`s (its state, the tx ring's, the ring's), so
    /// that on PREEMPT_RT it runs in softirq context where those may sleep.
    #[pin]
    timer: HrTimer<Player>,
    /// Plays the held record in process context, for lines whose chip sleeps.
    #[pin]
    work: Work<Player>,
    /// Set by `shut_down`: nothing starts the timer or the work any more.
    dying: Atomic<bool>,
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Player {
        mode: RelativeMode<Monotonic>, field: self.timer
    }
}

impl_has_work! {
    impl HasWork<Self> for Player { self.work }
}

/// The current CLOCK_MONOTONIC time in nanoseconds.
fn now_ns() -> u64 {
    // SAFETY: `ktime_get` has no preconditions and may be called in any context.
    (unsafe { bindings::ktime_get() }) as u64
}

impl Player {
    /// Requests lines `offsets` of the chip labelled `label` as outputs, driven low, for
    /// `dev`, to play the records of `tx` and report into `ring`. `ENODEV` when there is no
    /// such chip, `EINVAL` for an offset beyond it, `EBUSY` for a line taken, each with a
    /// message naming the line.
    ///
    /// # Safety
    ///
    /// `dev` is a live `struct device` for the duration of the call.
    pub(crate) unsafe fn new(
        tx: Arc<TxRing>,
        ring: Arc<Ring>,
        dev: *mut bindings::device,
        label: &CStr,
        offsets: &[u32],
    ) -> Result<Arc<Self>> {
        let name = label.to_str().unwrap_or("?");
        let mut lines = Lines {
            descs: KVec::with_capacity(offsets.len(), GFP_KERNEL)?,
            sleeps: false,
        };
        for &offset in offsets {
            // SAFETY: `dev` is live (caller's guarantee) and `label` NUL-terminated, for the
            // call; the function returns a line or an error pointer.
            let desc = unsafe { mymap_gpio_get_output(dev.cast(), label.as_char_ptr(), offset) };
            let desc = kernel::error::from_err_ptr(desc).inspect_err(|e| {
                let why = if *e == ENODEV {
                    "no GPIO chip has that label"
                } else if *e == EBUSY {
                    "taken"
                } else if *e == EINVAL {
                    "no such line"
                } else {
                    "cannot be requested"
                };
                pr_err!("player: line {} of {}: {}\n", offset, name, why);
            })?;
            // INVARIANT: a requested output line, in `lines` at once so that `drop` puts it.
            lines.descs.push(desc, GFP_KERNEL).inspect_err(|_| {
                // SAFETY: requested just above, not in `lines`.
                unsafe { mymap_gpio_put(desc) };
            })?;
            // SAFETY: a requested line.
            lines.sleeps |= unsafe { mymap_gpio_cansleep(desc) } != 0;
        }
        pr_info!(
            "player: {} lines {:?} play tx ring {} into ring {}{}\n",
            name,
            offsets,
            tx.index(),
            ring.index(),
            if lines.sleeps {
                ", set from the high-priority workqueue (the chip sleeps)"
            } else {
                ", set in hard interrupt context"
            }
        );
        Arc::pin_init(
            // INVARIANT: made in an `Arc`.
            try_pin_init!(Self {
                tx,
                ring,
                lines,
                state <- new_spinlock_irq!(
                    PlayState {
                        held: None,
                        playing: false,
                        running: false,
                    },
                    "mymap::Player::state"
                ),
                timer <- HrTimer::new(),
                work <- new_work!("mymap::Player::work"),
                dying: Atomic::new(false),
            }),
            GFP_KERNEL,
        )
    }

    /// The record of `r`, checked: `None` for a payload the player cannot use.
    fn parse(&self, r: &TxRecord<'_>, now: u64) -> Option<Play> {
        if r.payload.len() != size_of::<mymap_play>() {
            return None;
        }
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&r.payload[at..at + 8]);
            u64::from_ne_bytes(b)
        };
        let time_ns = word(0);
        let masks = word(8).to_ne_bytes();
        let mask = u32::from_ne_bytes([masks[0], masks[1], masks[2], masks[3]]);
        let values = u32::from_ne_bytes([masks[4], masks[5], masks[6], masks[7]]);
        let lines = self.lines.descs.len() as u32;
        let all = if lines == 32 { !0 } else { (1u32 << lines) - 1 };
        if mask == 0 || mask & !all != 0 {
            return None;
        }
        Some(Play {
            seq: r.seq,
            time_ns,
            mask,
            values: values & mask,
            late: time_ns < now,
        })
    }

    /// Plays what is due; see the module docs. `process` says whether the caller may sleep.
    /// Returns the records taken from the tx ring.
    fn advance(&self, process: bool) -> u32 {
        /// Records one call plays in hard interrupt context before it yields to a new expiry
        /// of the timer, so that a backlog of late records does not keep interrupts off.
        const IRQ_BUDGET: u32 = 16;
        let mut taken = 0;
        let mut played = 0;
        {
            let mut st = self.state.lock();
            if st.running {
                return 0;
            }
            st.running = true;
        }
        loop {
            let mut st = self.state.lock();
            if !st.playing || self.dying.load(Acquire) {
                st.running = false;
                return taken;
            }
            if st.held.is_none() {
                let now = now_ns();
                let mut held = None;
                taken += self.tx.drain(1, |r| match self.parse(r, now) {
                    Some(play) => {
                        held = Some(play);
                        Verdict::Take
                    }
                    None => Verdict::Reject,
                });
                st.held = held;
            }
            let Some(play) = st.held else {
                // Nothing waits: the next kick starts again.
                st.running = false;
                return taken;
            };
            let now = now_ns();
            if play.time_ns > now {
                // Never early: a relative timer expires no sooner than `now` (read before it
                // starts) plus the delta. The delta fits an `i64`: times are below 2^63.
                let delta = (play.time_ns - now).min(i64::MAX as u64) as i64;
                self.start_detached(Delta::from_nanos(delta));
                st.running = false;
                return taken;
            }
            if !process && played >= IRQ_BUDGET {
                self.start_detached(Delta::from_nanos(0));
                st.running = false;
                return taken;
            }
            if self.lines.sleeps && !process {
                st.running = false;
                drop(st);
                self.queue_work();
                return taken;
            }
            st.held = None;
            drop(st);
            self.set_lines(play.mask, play.values, process);
            self.complete(&play, now_ns());
            played += 1;
        }
    }

    /// Sets the lines of `mask` to `values`.
    fn set_lines(&self, mask: u32, values: u32, process: bool) {
        for (i, &desc) in self.lines.descs.iter().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            let value = i32::from(values & (1 << i) != 0);
            if process {
                // SAFETY: a requested output line (type invariant of `Lines`); process context.
                unsafe { mymap_gpio_set_cansleep(desc, value) };
            } else {
                // SAFETY: a requested output line of a chip that does not sleep: `advance`
                // comes here outside process context only when no line's chip sleeps.
                unsafe { mymap_gpio_set(desc, value) };
            }
        }
    }

    /// Puts the completion of `play`, set at `actual`, into the ring (dropped and counted
    /// there if it is full).
    fn complete(&self, play: &Play, actual: u64) {
        let flags = if play.late { uapi::MYMAP_PLAY_LATE } else { 0 };
        let done = mymap_played {
            seq: play.seq,
            requested_ns: play.time_ns,
            actual_ns: actual,
            values: play.values,
            flags,
        };
        if let Ok(mut r) = self.ring.reserve(
            size_of::<mymap_played>() as u32,
            uapi::MYMAP_SOURCE_PLAYED as u16,
            flags as u16,
            Some(actual),
        ) {
            r.write(0, kernel::transmute::AsBytes::as_bytes(&done));
            r.commit(0);
        }
    }

    /// Queues the work item, unless dying or already queued. Any context.
    fn queue_work(&self) {
        if self.dying.load(Acquire) {
            return;
        }
        // SAFETY: every `Player` lives in an `Arc` (type invariant), so `self` is the pointer
        // `Arc::as_ptr` gives, and the reference count is not zero while `self` is borrowed.
        let this: Arc<Self> = unsafe { ArcBorrow::from_raw(self) }.into();
        if let Err(this) = workqueue::system_highpri().enqueue(this) {
            // Already queued: it will play. This is not the last reference (the tx ring's slot
            // holds one until `shut_down` has flushed the work), so dropping it frees nothing.
            drop(this);
        }
    }

    /// Stops: the timer is cancelled; the held record stays.
    fn stop(&self) {
        self.state.lock().playing = false;
        self.cancel_timer();
    }
}

impl TxConsumer for Player {
    fn kick(&self) -> u32 {
        self.advance(true)
    }

    fn control(&self, op: u32) -> Result<u32> {
        match op {
            uapi::MYMAP_PLAY_START => {
                self.state.lock().playing = true;
                self.advance(true);
                Ok(0)
            }
            uapi::MYMAP_PLAY_STOP => {
                self.stop();
                Ok(0)
            }
            uapi::MYMAP_PLAY_FLUSH => {
                self.stop();
                let mut thrown = u32::from(self.state.lock().held.take().is_some());
                loop {
                    let n = self.tx.drain(64, |_| Verdict::Take);
                    thrown += n;
                    if n < 64 {
                        return Ok(thrown);
                    }
                }
            }
            _ => {
                pr_debug!("play refused: unknown operation {}\n", op);
                Err(EINVAL)
            }
        }
    }

    fn shut_down(&self) {
        self.dying.store(true, Release);
        self.stop();
        // SAFETY: `work` is initialised (it is a field of a pinned `Player`); `flush_work`
        // waits for a queued or running instance, process context. After it no instance is
        // left: `dying` keeps `queue_work` from queueing another.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
        // The work may have started the timer before it saw `dying`.
        self.cancel_timer();
    }
}

impl WorkItem for Player {
    type Pointer = Arc<Player>;

    /// Plays in process context, where a sleeping chip's lines can be set.
    fn run(this: Arc<Player>) {
        this.advance(true);
    }
}

impl HrTimerCallback for Player {
    type Pointer<'a> = Pin<&'a Player>;

    /// The held record's time has come. Hard interrupt context: plays it, or for lines whose
    /// chip sleeps queues the work.
    fn run(this: Pin<&Player>, _ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        if !this.dying.load(Acquire) {
            this.advance(false);
        }
        HrTimerRestart::NoRestart
    }
}

// SAFETY: every `Player` is pinned in its `Arc` (type invariant), and the timer is cancelled
// (`shut_down`) before the last reference goes; `drop` cancels it again.
unsafe impl DetachedHrTimer for Player {}

#[pinned_drop]
impl PinnedDrop for Player {
    fn drop(self: Pin<&mut Self>) {
        // `shut_down` ran (type invariant); cancelling again costs nothing and keeps the
        // timer's contract local. The lines go after this, with `lines`.
        self.cancel_timer();
    }
}
