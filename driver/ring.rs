// SPDX-License-Identifier: GPL-2.0

//! A ring: records from kernel producers to one consumer, in shared pages.
//!
//! The layout, the record header and the ordering contract are those of
//! `include/uapi/linux/mymap.h` ("Rings"); this file implements the kernel's
//! half of that contract and refers to it rather than restating it. The
//! design follows the BPF ring buffer (`kernel/bpf/ringbuf.c`): a lock held
//! only to move the producer position, a header whose BUSY bit tells the
//! consumer where to stop, release/acquire ordering on the positions and on
//! the header word, and wakeups deferred to an `irq_work`. Unlike the BPF
//! ring, the data area is not mapped twice: a record that would cross the end
//! is preceded by a WRAP word and starts at the beginning, so neither the
//! kernel nor the consumer ever sees a record in two pieces.
//!
//! One lock: `Ring::lock`, a spinlock that disables interrupts, held only
//! around the position update (producers in every context take it) and by
//! `read()` around its readiness check. Nothing under it sleeps, allocates or
//! copies to or from user memory; `read()` sleeps on the wait queue with it
//! released (`CondVar::wait_interruptible`), never under a mutex.
//!
//! Ordering: the handoffs of the header's contract are message passing
//! (release/acquire: header and payload before `len`, records before the
//! producer position, the consumer's reads before its position). The wakeup
//! decision is store buffering: a producer stores `len` then loads the
//! consumer position, a consumer stores its position then loads `len`, and
//! only a full barrier on both sides keeps them from both reading the old
//! value and losing the wakeup (`finish`'s value-returning `cmpxchg`, as BPF's
//! `xchg`; `smp_mb()` in [`Ring::at_consumer_now`]). Whether anyone waits is
//! the same pattern once more: a waiter registers (a `poll()` entry, or a
//! blocking `read()` counted in `read_waiters`) before that barrier, and the
//! producer looks for one after its `cmpxchg`, so a wakeup is queued only when
//! someone may sleep ([`Ring::wake`]; BPF queues its `irq_work` whether or not
//! anyone waits). The protocol is model
//! checked in `driver/model/` (`mymap-ring-model`, loom): a change to the
//! orderings or to the space rule here is made there too.
//!
//! Untrusted values: the consumer position (page 0) is written by userspace
//! at any time. It is read in [`Ring::consumer_pos`] only, and every use of
//! it is either an equality test (wakeups), a wrapping distance checked
//! against the data size (space, readiness) or masked into the data area
//! before any access ([`Ring::at_consumer`], the one verdict of `poll()` and
//! `read()`). Space is checked against the consumer position and against the
//! oldest record not yet committed ([`Produce::pending`], BPF's
//! `pending_pos`), so no consumer position lets producers overwrite a record
//! still being written. The data pages are written only by the kernel; every
//! word read back from them (by the pending walk, `read()`, `poll()` and the C
//! API's commit) is still read once and bounds-checked.

use core::ptr::NonNull;
use kernel::{
    bindings, impl_has_hr_timer,
    iov::IovIterDest,
    new_condvar, new_mutex, new_spinlock_irq,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            atomic_load, atomic_store, cmpxchg,
            ordering::{
                Acquire,
                Full,
                Relaxed,
                Release, //
            },
            Atomic,
        },
        barrier::smp_mb,
        Arc,
        CondVar,
        Mutex,
        SpinLockIrq, //
    },
    time::{
        hrtimer::{
            HrTimer,
            HrTimerCallback,
            HrTimerCallbackContext,
            HrTimerRestart,
            RelativeHardMode, //
        },
        ClockSource,
        Delta,
        Monotonic, //
    },
};

use crate::{
    kernel_gaps::{
        DetachedHrTimer,
        IrqWork,
        IrqWorkItem,
        PollQueue, //
    },
    mapping::PageSource,
    ratelimit::pr_err_ratelimited,
    uapi::{
        self,
        mymap_ring_consumer,
        mymap_ring_producer,
        mymap_ring_record,
        mymap_ring_stats,
        mymap_ring_wakeup, //
    },
    vmem::VmallocPages,
};

/// Bytes of the record header, `MYMAP_RING_HEADER_SIZE`.
pub(crate) const HEADER: u32 = uapi::MYMAP_RING_HEADER_SIZE;

/// Flags of [`Reservation::commit`] and the C API, as `MYMAP_RING_F_*` in `mymap_ring.h`.
pub(crate) const F_NO_WAKEUP: u32 = 0x1;
/// See [`F_NO_WAKEUP`].
pub(crate) const F_FORCE_WAKEUP: u32 = 0x2;

/// Bytes a record with `len` payload bytes occupies: the header's `MYMAP_RING_RECORD_SIZE(len)`
/// (a function-like macro, which bindgen does not translate). The driver's one definition.
pub(crate) const fn record_size(len: u32) -> u32 {
    (HEADER + (len & uapi::MYMAP_RING_LEN_MASK) + 7) & !7
}

/// The largest payload of a ring with `data_size` bytes of data: the header's formula at
/// `mymap_ring_info.max_payload` ("data_size / 4 - header"). The driver's one definition.
pub(crate) const fn max_payload(data_size: u32) -> u32 {
    data_size / 4 - HEADER
}

/// A producer that runs on its own and that its ring keeps until it is replaced or stopped:
/// the timer producer (`producers.rs`). Dropping it stops it.
///
/// The ring knows it by this trait only, so that this file does not depend on its producers.
pub(crate) trait RunningProducer: Send {
    /// Fills the producer's fields of `MYMAP_RING_IOC_STATS` (`timer_period_ns`, `timer_len`).
    fn fill_stats(&self, stats: &mut mymap_ring_stats);
}

/// The state every producer changes, under [`Ring::lock`].
struct Produce {
    /// The producer position: bytes reserved since load, wrapping.
    pos: u32,
    /// The position of the oldest record not yet committed or discarded (`pos` when there is
    /// none; BPF's `pending_pos`). No reservation ends more than `data_size` after it.
    pending: u32,
    /// The next sequence number.
    seq: u64,
    /// Records dropped since load.
    dropped: u64,
    /// A `read()` is copying a record out; other readers wait (interruptibly) until it is done.
    reading: bool,
}

/// What waits at the consumer position: the one verdict of `poll()` and `read()`.
pub(crate) enum AtConsumer {
    /// Nothing: the consumer has read everything.
    Empty,
    /// A record still being written; its commit wakes the consumer as the policy says.
    Busy,
    /// A WRAP word or a discarded record: the consumer moves on to `next`.
    Skip { next: u32 },
    /// A committed record: header at `offset` of the data area, `len` payload bytes.
    Record { offset: u32, len: u32 },
    /// The consumer position is garbage: unaligned, ahead of the producer, more than a ring
    /// behind, or not at a record. `read()` fails with `EIO`, `poll()` reports `EPOLLERR`.
    Corrupt,
}

/// The wakeup policy, `struct mymap_ring_wakeup`, checked.
#[derive(Clone, Copy)]
pub(crate) struct Wakeup {
    policy: u32,
    watermark: u32,
    max_latency_ns: u64,
}

/// Counters since load, `struct mymap_ring_stats` without the timer fields.
struct Counters {
    produced: Atomic<u64>,
    discarded: Atomic<u64>,
    wakeups: Atomic<u64>,
    bytes: Atomic<u64>,
}

/// One ring and its `(2 + D)` pages.
///
/// # Invariants
///
/// - `mem` is `2 * PAGE_SIZE + data_size` bytes: the consumer page, the producer page, then
///   the data area; `data_size` is a power of two and a multiple of `PAGE_SIZE`, at most
///   `MYMAP_RING_MAX_SIZE`, and `max_payload == max_payload(data_size)`.
/// - `Produce::pos` only moves forward by whole records (and WRAP gaps); every record starts
///   8-byte aligned inside the data area and ends at or before its end.
/// - Every `Ring` is made by [`Ring::new`], in an `Arc`: pinned from its creation.
/// - `work` and `latency` are stopped in `drop` before anything else goes.
#[pin_data(PinnedDrop)]
pub(crate) struct Ring {
    mem: VmallocPages,
    data_size: u32,
    max_payload: u32,
    index: u32,
    rings: u32,
    /// Serialises producers (reservation of space, sequence numbers, drops) and `read()`
    /// callers' checks.
    #[pin]
    lock: SpinLockIrq<Produce>,
    /// Woken (from `work`) for blocked `read()`s, and by a `read()` for the others.
    #[pin]
    readers: CondVar,
    /// `read()` calls that may block, from before their first look until they return.
    read_waiters: Atomic<u32>,
    /// Woken (from `work`) for `poll()` and `epoll`.
    #[pin]
    poll: PollQueue,
    /// Wakes the waiters ([`IrqWorkItem::run`]): a producer may run where `wake_up` may not.
    #[pin]
    work: IrqWork<Ring>,
    /// The max latency of the WATERMARK policy ([`HrTimerCallback::run`]), in hard-interrupt
    /// context.
    #[pin]
    latency: HrTimer<Ring>,
    /// 1 while `latency` is started and has not fired.
    latency_armed: Atomic<u32>,
    /// The producer position, as last published: for readiness without the lock.
    pos_hint: Atomic<u32>,
    policy: Atomic<u32>,
    watermark: Atomic<u32>,
    max_latency_ns: Atomic<u64>,
    counters: Counters,
    /// 1 while a file holds the consumer claim.
    claimed: Atomic<u32>,
    /// The timer producer, while it runs.
    #[pin]
    timer: Mutex<Option<KBox<dyn RunningProducer>>>,
}

impl_has_hr_timer! {
    impl HasHrTimer<Self> for Ring {
        mode: RelativeHardMode<Monotonic>, field: self.latency
    }
}

/// A record reserved by a producer, not yet committed.
///
/// Dropping it without [`commit`](Self::commit) discards the record, so the consumer is never
/// left waiting at a BUSY header.
pub(crate) struct Reservation<'a> {
    ring: &'a Ring,
    /// Offset of the header in the data area.
    offset: u32,
    len: u32,
    seq: u64,
    done: bool,
}

/// A `read()` that may block, counted in `Ring::read_waiters` while it lives.
struct ReadWaiter<'a>(&'a Atomic<u32>);

impl<'a> ReadWaiter<'a> {
    fn new(count: &'a Atomic<u32>) -> Self {
        count.add(1, Relaxed);
        Self(count)
    }
}

impl Drop for ReadWaiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

impl Ring {
    /// Allocates ring `index` of `rings` with `data_size` bytes of data.
    pub(crate) fn new(index: u32, rings: u32, data_size: u32) -> Result<Arc<Self>> {
        if !data_size.is_power_of_two()
            || (data_size as usize) < PAGE_SIZE
            || data_size > uapi::MYMAP_RING_MAX_SIZE
        {
            return Err(EINVAL);
        }
        let mem = VmallocPages::new(2 * PAGE_SIZE + data_size as usize)?;
        let max_payload = max_payload(data_size);
        let ring = Arc::pin_init(
            // INVARIANT: the sizes are checked above; the ring is made in an `Arc`.
            try_pin_init!(Self {
                mem,
                data_size,
                max_payload,
                index,
                rings,
                lock <- new_spinlock_irq!(
                    Produce {
                        pos: 0,
                        pending: 0,
                        seq: 0,
                        dropped: 0,
                        reading: false
                    },
                    "mymap::Ring::lock"
                ),
                readers <- new_condvar!("mymap::Ring::readers"),
                read_waiters: Atomic::new(0),
                poll <- PollQueue::new(c"mymap::Ring::poll", kernel::static_lock_class!()),
                work <- IrqWork::new(),
                latency <- HrTimer::new(),
                latency_armed: Atomic::new(0),
                pos_hint: Atomic::new(0),
                policy: Atomic::new(uapi::MYMAP_WAKEUP_CAUGHT_UP),
                watermark: Atomic::new(0),
                max_latency_ns: Atomic::new(0),
                counters: Counters {
                    produced: Atomic::new(0),
                    discarded: Atomic::new(0),
                    wakeups: Atomic::new(0),
                    bytes: Atomic::new(0),
                },
                claimed: Atomic::new(0),
                timer <- new_mutex!(None, "mymap::Ring::timer"),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: page 1 is the producer page, inside `mem` and suitably aligned; nothing else
        // writes it, and userspace can only read it.
        unsafe {
            let page = ring.producer_page();
            (*page).data_size = data_size;
            (*page).max_payload = max_payload;
        }
        Ok(ring)
    }

    /// The N of `/dev/mymap-ringN`.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The number of rings the module registered.
    pub(crate) fn rings(&self) -> u32 {
        self.rings
    }

    /// Bytes in the data area.
    pub(crate) fn data_size(&self) -> u32 {
        self.data_size
    }

    /// The largest payload a record may carry.
    pub(crate) fn max_payload(&self) -> u32 {
        self.max_payload
    }

    fn consumer_page(&self) -> *mut mymap_ring_consumer {
        self.mem.as_ptr().cast()
    }

    fn producer_page(&self) -> *mut mymap_ring_producer {
        // SAFETY: the allocation is at least three pages (type invariant).
        unsafe { self.mem.as_ptr().add(PAGE_SIZE).cast() }
    }

    /// The header at `offset` of the data area.
    ///
    /// # Safety
    ///
    /// `offset` is 8-byte aligned and `offset + HEADER <= data_size`, or `offset + 8 <=
    /// data_size` if only the `len` field is accessed (a WRAP word).
    unsafe fn header(&self, offset: u32) -> *mut mymap_ring_record {
        // SAFETY: the data area starts two pages in and is `data_size` bytes long (type
        // invariant); the caller keeps the header inside it, aligned.
        unsafe {
            self.mem
                .as_ptr()
                .add(2 * PAGE_SIZE + offset as usize)
                .cast()
        }
    }

    /// The consumer position, as userspace last stored it: untrusted (see the module docs).
    fn consumer_pos(&self) -> u32 {
        // SAFETY: the consumer page is inside `mem` and `pos` is aligned. Acquire pairs with
        // the consumer's release: its reads of the records before `pos` are done before the
        // producer reuses their bytes.
        unsafe { atomic_load(&raw mut (*self.consumer_page()).pos, Acquire) }
    }

    /// Reserves a record of `len` payload bytes. `ENOSPC` when the ring is full (the drop is
    /// counted and the sequence number consumed), `EMSGSIZE` above `max_payload`.
    ///
    /// Callable from any context: takes only [`Ring::lock`], never sleeps or allocates.
    pub(crate) fn reserve(
        &self,
        len: u32,
        source: u16,
        flags: u16,
        timestamp_ns: Option<u64>,
    ) -> Result<Reservation<'_>> {
        if len > self.max_payload {
            return Err(EMSGSIZE);
        }
        let size = record_size(len);
        let mask = self.data_size - 1;
        let mut produce = self.lock.lock();
        let seq = produce.seq;
        produce.seq += 1;
        self.advance_pending(&mut produce);
        let pos = produce.pos;
        let offset = pos & mask;
        // A record never wraps: skip to the start of the data area first. The skipped bytes
        // count as used until the consumer passes the WRAP word.
        let gap = if offset + size > self.data_size {
            self.data_size - offset
        } else {
            0
        };
        let next = pos.wrapping_add(gap + size);
        let used = pos.wrapping_sub(self.consumer_pos());
        // A consumer position ahead of ours or more than a ring behind is garbage: the ring
        // counts as full, which only hurts that consumer. Whatever the consumer position, the
        // new record must not reach the oldest one still being written (BPF's fix for
        // CVE-2024-41009): a consumer that claims BUSY records cannot make producers lap them.
        if used > self.data_size
            || gap + size > self.data_size - used
            || next.wrapping_sub(produce.pending) > self.data_size
        {
            produce.dropped += 1;
            // SAFETY: the producer page is inside `mem`, `dropped` aligned; only producers
            // write it, under `lock`.
            unsafe {
                atomic_store(
                    &raw mut (*self.producer_page()).dropped,
                    produce.dropped as u32,
                    Relaxed,
                )
            };
            return Err(ENOSPC);
        }
        let ts = match timestamp_ns {
            Some(ts) => ts,
            // `CLOCK_MONOTONIC` (`ktime_get()`), never negative. Any context.
            None => Monotonic::ktime_get() as u64,
        };
        let start = if gap != 0 {
            // SAFETY: `offset` is 8-byte aligned (records are) and at least 8 bytes remain
            // before the end, so the WRAP word is inside the data area.
            unsafe {
                atomic_store(
                    &raw mut (*self.header(offset)).len,
                    uapi::MYMAP_RING_WRAP,
                    Relaxed,
                )
            };
            0
        } else {
            offset
        };
        // SAFETY: `start + size <= data_size` and `start` is 8-byte aligned (checked above),
        // and `size >= HEADER`. The space is free: the consumer has released it. Userspace can
        // read but never write the data area; the plain field stores are published by the
        // release store of the producer position below.
        unsafe {
            let header = self.header(start);
            atomic_store(&raw mut (*header).len, len | uapi::MYMAP_RING_BUSY, Relaxed);
            core::ptr::write_volatile(&raw mut (*header).source, source);
            core::ptr::write_volatile(&raw mut (*header).flags, flags);
            core::ptr::write_volatile(&raw mut (*header).seq, seq);
            core::ptr::write_volatile(&raw mut (*header).timestamp_ns, ts);
        }
        produce.pos = next;
        // Release: `at_consumer_now()` sees the BUSY header when it sees the new position.
        self.pos_hint.store(next, Release);
        // SAFETY: the producer page is inside `mem`, `pos` aligned; written only here, under
        // `lock`. Release: the header stores above are visible before the new position.
        unsafe { atomic_store(&raw mut (*self.producer_page()).pos, next, Release) };
        drop(produce);
        Ok(Reservation {
            ring: self,
            offset: start,
            len,
            seq,
            done: false,
        })
    }

    /// Moves `produce.pending` past the records committed or discarded since the last call.
    ///
    /// The words it reads were written by producers, under the lock (BUSY, WRAP) or by
    /// `finish`; each is still read once and checked: a step that would pass the producer
    /// position stops the walk, which can only make the ring look fuller.
    fn advance_pending(&self, produce: &mut Produce) {
        let mask = self.data_size - 1;
        while produce.pending != produce.pos {
            let left = produce.pos.wrapping_sub(produce.pending);
            let at = produce.pending & mask;
            let word = self.len_word(at);
            if word & uapi::MYMAP_RING_BUSY != 0 {
                break;
            }
            let step = if word == uapi::MYMAP_RING_WRAP {
                self.data_size - at
            } else {
                record_size(word)
            };
            if step > left {
                break;
            }
            produce.pending = produce.pending.wrapping_add(step);
        }
    }

    /// Publishes the record whose header is at `offset` (of `len` payload bytes), as
    /// discarded if `discard`, then wakes the consumer as the policy and `flags` say.
    fn finish(&self, offset: u32, len: u32, discard: bool, flags: u32) {
        let word = if discard {
            len | uapi::MYMAP_RING_DISCARD
        } else {
            len
        };
        // SAFETY: `offset` is the header of a reserved record (inside the data area, aligned).
        // The header stays this producer's until this exchange: no reservation passes the
        // oldest pending record (`reserve`). Ordering: the exchange releases the payload to a
        // consumer that acquire-loads `len` (message passing), and a successful value-returning
        // `cmpxchg` is fully ordered, so the load of the consumer position in `wake_due` comes
        // after it (store buffering against `at_consumer_now`'s `smp_mb()`; BPF's `xchg`).
        let swapped = unsafe {
            cmpxchg(
                &raw mut (*self.header(offset)).len,
                len | uapi::MYMAP_RING_BUSY,
                word,
                Full,
            )
        };
        if swapped.is_err() {
            pr_err_ratelimited!(
                "ring {}: commit or discard of a record that is not reserved\n",
                self.index
            );
            return;
        }
        if discard {
            self.counters.discarded.add(1, Relaxed);
        } else {
            self.counters.produced.add(1, Relaxed);
            self.counters.bytes.add(u64::from(len), Relaxed);
        }
        if flags & F_NO_WAKEUP == 0 && (flags & F_FORCE_WAKEUP != 0 || self.wake_due(offset)) {
            self.wake();
        }
    }

    /// Whether the policy wants the consumer woken now that the record at `offset` is in.
    fn wake_due(&self, offset: u32) -> bool {
        let cons = self.consumer_pos();
        match self.policy.load(Relaxed) {
            uapi::MYMAP_WAKEUP_EVERY => true,
            uapi::MYMAP_WAKEUP_WATERMARK => {
                let waiting = self.pos_hint.load(Relaxed).wrapping_sub(cons);
                // A garbage consumer position (more than a ring waiting) wakes too.
                if waiting >= self.watermark.load(Relaxed) || waiting > self.data_size {
                    return true;
                }
                self.arm_latency();
                false
            }
            // CAUGHT_UP: the consumer had read everything before this record: it is at the
            // record, or at the WRAP word just before it (a record at offset 0 is the only
            // one a WRAP word can precede, and there is one offset 0 per lap).
            _ => {
                let at = cons & (self.data_size - 1);
                at == offset
                    || (offset == 0 && at & 7 == 0 && self.len_word(at) == uapi::MYMAP_RING_WRAP)
            }
        }
    }

    /// Starts the max-latency timer unless it is running or the policy has none.
    fn arm_latency(&self) {
        let ns = self.max_latency_ns.load(Relaxed);
        if ns == 0 || self.latency_armed.xchg(1, Relaxed) == 1 {
            return;
        }
        // Any context: starting an hrtimer never sleeps. The value fits: at most 10^9 ns.
        self.start_detached(Delta::from_nanos(ns as i64));
    }

    /// Queues the wakeup, if anyone may be waiting: a `poll()`/`epoll` entry or a blocking
    /// `read()`. Safe in any context: the `irq_work` does the `wake_up`.
    ///
    /// Store buffering: every caller has a full barrier between what a waiter looks at and
    /// these loads (`finish`'s `cmpxchg`; the `smp_mb()` of `at_consumer_now` in the others),
    /// and a waiter registers before its own full barrier and look (`poll()`: the entry, then
    /// `at_consumer_now`; `read()`: `read_waiters`, then the `smp_mb()` of its loop). So a
    /// waiter that missed the record is seen here. A spinning consumer, with no entry and no
    /// `read()`, costs the producer nothing.
    fn wake(&self) {
        if self.read_waiters.load(Relaxed) != 0 || self.poll.active() {
            self.work.queue();
        }
    }

    /// The `len` word of the record (or WRAP word) at `offset` of the data area.
    fn len_word(&self, offset: u32) -> u32 {
        let offset = offset & (self.data_size - 1) & !7;
        // SAFETY: `offset` is masked and aligned into the data area, so its first 4 bytes
        // are inside. Acquire pairs with the producer's release of a committed length.
        unsafe { atomic_load(&raw mut (*self.header(offset)).len, Acquire) }
    }

    /// What waits at consumer position `cons`, with the producer position at `prod`.
    ///
    /// `cons` is untrusted: it is checked against `prod` and the data size, aligned, and
    /// masked before the one read of the word there, which is itself checked (known bits
    /// only, a length within `max_payload`, a record or WRAP gap that ends inside the data
    /// area and at or before `prod`).
    pub(crate) fn at_consumer(&self, cons: u32, prod: u32) -> AtConsumer {
        let waiting = prod.wrapping_sub(cons);
        if waiting > self.data_size || cons & 7 != 0 {
            return AtConsumer::Corrupt;
        }
        if waiting == 0 {
            return AtConsumer::Empty;
        }
        let offset = cons & (self.data_size - 1);
        let word = self.len_word(offset);
        if word & uapi::MYMAP_RING_BUSY != 0 {
            return AtConsumer::Busy;
        }
        if word == uapi::MYMAP_RING_WRAP {
            let gap = self.data_size - offset;
            return if gap <= waiting {
                AtConsumer::Skip {
                    next: cons.wrapping_add(gap),
                }
            } else {
                AtConsumer::Corrupt
            };
        }
        let len = word & uapi::MYMAP_RING_LEN_MASK;
        let size = record_size(len);
        if word & !(uapi::MYMAP_RING_LEN_MASK | uapi::MYMAP_RING_DISCARD) != 0
            || len > self.max_payload
            || offset + size > self.data_size
            || size > waiting
        {
            return AtConsumer::Corrupt;
        }
        if word & uapi::MYMAP_RING_DISCARD != 0 {
            AtConsumer::Skip {
                next: cons.wrapping_add(size),
            }
        } else {
            AtConsumer::Record { offset, len }
        }
    }

    /// [`Ring::at_consumer`] for a consumer about to sleep (`poll()`, the wakeup timer and
    /// policy changes), without the lock.
    ///
    /// Store buffering: the consumer stored its position (and `poll()` registered on the wait
    /// queue) before this; a producer stores `len` before it loads the consumer position
    /// (`finish`). The full barrier here and the fully ordered `cmpxchg` there make at least
    /// one side see the other's store: either this sees the record committed, or the
    /// producer sees the consumer at it and wakes it. The producer position is the published
    /// hint: acquire pairs with its release in `reserve`, so the BUSY header is seen with it.
    pub(crate) fn at_consumer_now(&self) -> AtConsumer {
        smp_mb(Full);
        self.at_consumer(self.consumer_pos(), self.pos_hint.load(Acquire))
    }

    /// Whether a consumer asleep now should be woken: something waits that is not BUSY (a
    /// corrupt position too, so that the consumer finds out).
    fn worth_waking(&self) -> bool {
        !matches!(self.at_consumer_now(), AtConsumer::Empty | AtConsumer::Busy)
    }

    /// The timer producer's slot (`producers.rs`).
    pub(crate) fn timer_slot(&self) -> &Mutex<Option<KBox<dyn RunningProducer>>> {
        &self.timer
    }

    /// The wait queue of `poll()`.
    pub(crate) fn poll_queue(&self) -> &PollQueue {
        &self.poll
    }

    /// Takes the consumer claim; `EBUSY` if another file holds it.
    pub(crate) fn claim(&self) -> Result {
        if self.claimed.cmpxchg(0, 1, Acquire).is_err() {
            return Err(EBUSY);
        }
        Ok(())
    }

    /// Gives the consumer claim back.
    pub(crate) fn unclaim(&self) {
        self.claimed.store(0, Release);
    }

    /// Whether a file holds the consumer claim.
    pub(crate) fn claimed(&self) -> bool {
        self.claimed.load(Relaxed) != 0
    }

    /// The wakeup policy.
    pub(crate) fn wakeup(&self) -> mymap_ring_wakeup {
        mymap_ring_wakeup {
            policy: self.policy.load(Relaxed),
            watermark: self.watermark.load(Relaxed),
            max_latency_ns: self.max_latency_ns.load(Relaxed),
        }
    }

    /// Checks and sets the wakeup policy; `EINVAL` for anything out of range.
    pub(crate) fn set_wakeup(&self, w: &mymap_ring_wakeup) -> Result {
        let w = Wakeup::check(w, self.data_size)?;
        // Readers see the three fields change one at a time; any mix is a valid policy.
        self.watermark.store(w.watermark, Relaxed);
        self.max_latency_ns.store(w.max_latency_ns, Relaxed);
        self.policy.store(w.policy, Relaxed);
        // A consumer asleep under the old policy re-evaluates under the new one.
        if self.worth_waking() {
            self.wake();
        }
        Ok(())
    }

    /// `MYMAP_RING_IOC_STATS`: the counters and the timer producer's settings.
    pub(crate) fn stats(&self) -> mymap_ring_stats {
        let dropped = self.lock.lock().dropped;
        let mut stats = mymap_ring_stats {
            produced: self.counters.produced.load(Relaxed),
            discarded: self.counters.discarded.load(Relaxed),
            dropped,
            wakeups: self.counters.wakeups.load(Relaxed),
            bytes: self.counters.bytes.load(Relaxed),
            timer_period_ns: 0,
            timer_len: 0,
            producer_pos: self.pos_hint.load(Relaxed),
        };
        if let Some(running) = &*self.timer.lock() {
            running.fill_stats(&mut stats);
        }
        stats
    }

    /// Produces one record with the built-in producers' payload (see the header).
    pub(crate) fn produce_pattern(&self, source: u16, len: u32) -> Result {
        let mut r = self.reserve(len, source, 0, None)?;
        let seq = r.seq.to_le_bytes();
        let head = (len as usize).min(seq.len());
        r.write(0, &seq[..head]);
        if len as usize > head {
            r.fill(head as u32, r.seq as u8, len - head as u32);
        }
        r.commit(0);
        Ok(())
    }

    /// `read()`: moves the next record (header and payload) to `iov`; see the header's
    /// contract. Blocks unless `nonblock`, interruptibly, holding no lock while asleep.
    pub(crate) fn read(&self, iov: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        // Counted before the first look (see `wake`), uncounted when this returns.
        let _waiter = (!nonblock).then(|| ReadWaiter::new(&self.read_waiters));
        let mut produce = self.lock.lock();
        let (cons, offset, len) = loop {
            if !produce.reading {
                // Store buffering, as in `at_consumer_now`: this file's last release of the
                // consumer position, and its count in `read_waiters`, come before the load of
                // `len` in `at_consumer`.
                smp_mb(Full);
                let cons = self.consumer_pos();
                match self.at_consumer(cons, produce.pos) {
                    AtConsumer::Record { offset, len } => break (cons, offset, len),
                    AtConsumer::Skip { next } => {
                        self.release(next);
                        continue;
                    }
                    AtConsumer::Corrupt => {
                        pr_debug!("read refused: the consumer position was corrupted\n");
                        return Err(EIO);
                    }
                    AtConsumer::Empty | AtConsumer::Busy => {}
                }
            }
            // Nothing to read yet, or another reader is copying one out.
            if nonblock {
                return Err(EAGAIN);
            }
            if self.readers.wait_interruptible(&mut produce) {
                return Err(ERESTARTSYS);
            }
        };
        let want = (HEADER + len) as usize;
        if iov.len() < want {
            return Err(EMSGSIZE);
        }
        produce.reading = true;
        drop(produce);
        // SAFETY: the record lies inside the data area (checked by `at_consumer`) and stays as
        // it is until the consumer position moves past it, which only this reader does while
        // `reading` is set. `iov.as_raw()` is a valid destination iterator for this call.
        let done =
            unsafe { bindings::_copy_to_iter(self.header(offset).cast(), want, iov.as_raw()) };
        if done == want {
            self.release(cons.wrapping_add(record_size(len)));
        }
        self.lock.lock().reading = false;
        // The other readers wait for `reading` to clear.
        self.readers.notify_all();
        if done != want {
            return Err(EFAULT);
        }
        Ok(want)
    }

    /// Stores the consumer position on the consumer's behalf (`read()`).
    fn release(&self, pos: u32) {
        // SAFETY: the consumer page is inside `mem`, `pos` aligned. Release: the record was
        // copied out before the producer may reuse its bytes.
        unsafe { atomic_store(&raw mut (*self.consumer_page()).pos, pos, Release) };
    }

    /// The reservation whose payload is at `data`, from the C API; `None` (with a
    /// rate-limited message) if `data` is not the payload of a record still reserved.
    ///
    /// The pointer comes from another driver, and the header it points at is read back from
    /// the ring: neither is trusted. The record must lie between the oldest pending record and
    /// the producer position, and its `len` word, read once, must be BUSY with a length that
    /// keeps it there; `finish` then commits only if the word is still that value.
    pub(crate) fn reservation_at(&self, data: *mut u8) -> Option<Reservation<'_>> {
        let area = self.mem.as_ptr() as usize + 2 * PAGE_SIZE;
        let offset = (data as usize)
            .checked_sub(area + HEADER as usize)
            .and_then(|o| u32::try_from(o).ok())
            .filter(|o| o % 8 == 0 && o + HEADER < self.data_size);
        let Some(offset) = offset else {
            pr_err_ratelimited!(
                "ring {}: commit or discard of a pointer that is not a record\n",
                self.index
            );
            return None;
        };
        // Under the lock, so that the window and the word are of one moment.
        let (rel, window, word) = {
            let produce = self.lock.lock();
            (
                offset.wrapping_sub(produce.pending) & (self.data_size - 1),
                produce.pos.wrapping_sub(produce.pending),
                self.len_word(offset),
            )
        };
        let len = word & uapi::MYMAP_RING_LEN_MASK;
        if rel >= window
            || word != len | uapi::MYMAP_RING_BUSY
            || len > self.max_payload
            || offset + record_size(len) > self.data_size
            || record_size(len) > window - rel
        {
            pr_err_ratelimited!(
                "ring {}: commit or discard of a record not reserved\n",
                self.index
            );
            return None;
        }
        Some(Reservation {
            ring: self,
            offset,
            len,
            seq: 0,
            done: false,
        })
    }
}

impl Reservation<'_> {
    /// The payload's first byte. Valid for `len` bytes until commit or discard.
    pub(crate) fn payload(&self) -> *mut u8 {
        // SAFETY: the record is inside the data area (type invariant of `Ring`).
        unsafe {
            self.ring
                .header(self.offset)
                .cast::<u8>()
                .add(HEADER as usize)
        }
    }

    /// Copies `bytes` into the payload at `at`; what does not fit is left out.
    pub(crate) fn write(&mut self, at: u32, bytes: &[u8]) {
        let n = bytes.len().min(self.len.saturating_sub(at) as usize);
        // SAFETY: `at + n <= len`, inside this record's payload, which only this producer
        // writes until commit; `bytes` is a distinct kernel buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.payload().add(at as usize), n)
        };
    }

    /// Sets `count` payload bytes from `at` to `byte`; what does not fit is left out.
    pub(crate) fn fill(&mut self, at: u32, byte: u8, count: u32) {
        let n = count.min(self.len.saturating_sub(at));
        // SAFETY: as for `write`.
        unsafe { core::ptr::write_bytes(self.payload().add(at as usize), byte, n as usize) };
    }

    /// Publishes the record; `flags` are `F_*`.
    pub(crate) fn commit(mut self, flags: u32) {
        self.done = true;
        self.ring.finish(self.offset, self.len, false, flags);
    }

    /// Publishes the record as discarded; `flags` are `F_*`.
    pub(crate) fn discard(mut self, flags: u32) {
        self.done = true;
        self.ring.finish(self.offset, self.len, true, flags);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.ring.finish(self.offset, self.len, true, 0);
        }
    }
}

impl Wakeup {
    fn check(w: &mymap_ring_wakeup, data_size: u32) -> Result<Self> {
        let ok = match w.policy {
            uapi::MYMAP_WAKEUP_EVERY | uapi::MYMAP_WAKEUP_CAUGHT_UP => {
                w.watermark == 0 && w.max_latency_ns == 0
            }
            uapi::MYMAP_WAKEUP_WATERMARK => {
                (1..=data_size).contains(&w.watermark)
                    && (w.max_latency_ns == 0 || (1000..=1_000_000_000).contains(&w.max_latency_ns))
            }
            _ => false,
        };
        if !ok {
            pr_debug!(
                "wakeup policy refused: {} {} {}\n",
                w.policy,
                w.watermark,
                w.max_latency_ns
            );
            return Err(EINVAL);
        }
        Ok(Self {
            policy: w.policy,
            watermark: w.watermark,
            max_latency_ns: w.max_latency_ns,
        })
    }
}

impl PageSource for Ring {
    fn pages(&self, first: usize, count: usize) -> Option<&[NonNull<bindings::page>]> {
        self.mem.pages(first, count)
    }
}

// SAFETY: `OFFSET` is that of `work`, an `IrqWork<Ring>`; every `Ring` is pinned in its `Arc`
// (type invariant), and `drop` syncs `work` before any field goes.
unsafe impl IrqWorkItem for Ring {
    const OFFSET: usize = core::mem::offset_of!(Ring, work);

    /// Wakes `poll()` and `read()` waiters.
    fn run(&self) {
        // Take and release the lock: a `read()` that found no record under it is then already
        // on the wait queue, so this wakeup cannot be lost.
        drop(self.lock.lock());
        self.counters.wakeups.add(1, Relaxed);
        self.readers.notify_all();
        self.poll.wake_all();
    }
}

impl HrTimerCallback for Ring {
    type Pointer<'a> = Pin<&'a Ring>;

    /// The max latency of the WATERMARK policy has passed. Hard-interrupt context: takes no
    /// lock, only reads the ring and queues the `irq_work`.
    fn run(this: Pin<&Ring>, _ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        this.latency_armed.store(0, Relaxed);
        if this.worth_waking() {
            this.wake();
        }
        HrTimerRestart::NoRestart
    }
}

// SAFETY: every `Ring` is pinned in its `Arc` (type invariant), and `drop` cancels `latency`
// before any field goes.
unsafe impl DetachedHrTimer for Ring {}

#[pinned_drop]
impl PinnedDrop for Ring {
    fn drop(self: Pin<&mut Self>) {
        // In this order: the timer may queue the work. After the cancel the timer is not
        // running, and nothing starts it again: no producer or file is left (the ring is being
        // dropped). After the sync the work is neither pending nor running.
        self.cancel_timer();
        self.work.sync();
    }
}
