// SPDX-License-Identifier: GPL-2.0

//! A tx ring: records from one userspace producer to a kernel consumer, in shared pages.
//!
//! The layout, the record header and the ordering contract are those of
//! `include/uapi/linux/mymap.h` ("Tx rings"); this file implements the
//! kernel's half and refers to it rather than restating it. It is the mirror
//! image of `ring.rs`, and follows the idea of the BPF user ring buffer
//! (`__bpf_user_ringbuf_peek` and `bpf_user_ringbuf_drain` in
//! `kernel/bpf/ringbuf.c`): the kernel consumes in a drain loop that hands
//! each record to a callback. Unlike BPF's, it never hands out a pointer into
//! the shared pages: each record is copied once into kernel memory before
//! anything looks at it, and a malformed record does not end the stream.
//!
//! One lock: `TxRing::lock`, a spinlock that disables interrupts, held by a
//! drain from its first read of the producer position to its release of the
//! consumer position, so that drains (from any context: a kick, a timer, another
//! driver) take records in order and once each. The callback runs under it: it
//! must not sleep. Lock order: `TxRing::lock`, then a ring's `Ring::lock` (the
//! echo produces into a ring from its callback); never the other way.
//!
//! Ordering: both handoffs are message passing. The producer's records before
//! its position (its release, [`TxRing::producer_pos`]'s acquire, and the
//! acquire of each `len` word for a producer that publishes BUSY records early),
//! and the kernel's copies of the records before its consumer position (the
//! release in [`TxRing::publish`], the producer's acquire). Writers asleep in
//! `poll()` are woken after a drain that moved the consumer position, if one is
//! registered: store buffering, with a full barrier on each side (the drain
//! stores the position, `smp_mb()`, then looks for a writer on the queue; a
//! writer registers, `smp_mb()`, then looks at the position, in
//! [`TxRing::space_now`]), so either the drain sees the writer or the writer
//! sees the space. A producer that never sleeps costs the drain no wakeup. The
//! protocol is model checked in `driver/model/` (`model/src/tx.rs`, loom): a
//! change to the orderings or to the checks here is made there too.
//!
//! Untrusted values: page 0 and the data area are the producer's, written at
//! any time. The producer position is read in [`TxRing::producer_pos`] only, a
//! `len` word in [`TxRing::len_word`] only, each once per use; the header's
//! other fields and the payload are copied once, by [`TxRing::copy_record`],
//! after the length that bounds them was checked. The kernel's own consumer
//! position lives in [`Drain::cons`], never read back from shared memory, and
//! only moves forward.

use kernel::{
    new_mutex, new_spinlock_irq,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{
            atomic_load, atomic_store,
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
        Mutex,
        SpinLockIrq, //
    },
};

use crate::{
    kernel_gaps::{
        IrqWork,
        IrqWorkItem,
        PollQueue, //
    },
    mapping::PageSource,
    ring::{
        record_size,
        Ring,
        HEADER, //
    },
    uapi::{
        self,
        mymap_tx_consumer,
        mymap_tx_producer,
        mymap_tx_stats, //
    },
    vmem::VmallocPages,
};

/// The largest payload of any tx record, `MYMAP_TX_MAX_PAYLOAD`: the size of the copy.
const MAX_PAYLOAD: usize = uapi::MYMAP_TX_MAX_PAYLOAD as usize;

/// The largest payload of a tx ring of `data_size` bytes (the header's formula).
pub(crate) const fn max_payload(data_size: u32) -> u32 {
    let ring = data_size / 4 - HEADER;
    if ring < uapi::MYMAP_TX_MAX_PAYLOAD {
        ring
    } else {
        uapi::MYMAP_TX_MAX_PAYLOAD
    }
}

/// One record, copied out of the ring: what a kernel consumer sees.
pub(crate) struct TxRecord<'a> {
    /// The producer's `source` field.
    pub(crate) source: u16,
    /// The producer's `flags` field.
    pub(crate) flags: u16,
    /// The producer's `seq` field.
    pub(crate) seq: u64,
    /// The producer's `timestamp_ns` field.
    pub(crate) timestamp_ns: u64,
    /// The payload, `len` bytes: a kernel copy.
    pub(crate) payload: &'a [u8],
}

/// What a kernel consumer does with a record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Taken: the consumer position moves past it.
    Take,
    /// Refused (a payload the consumer cannot use): counted in `rejected`, and skipped.
    Reject,
    /// Not now: the drain stops before it, and the record stays for the next one.
    Stop,
}

/// The drain's state, under [`TxRing::lock`].
struct Drain {
    /// The kernel's consumer position: the only copy that counts, never read back from page 1.
    cons: u32,
    /// The copy of the payload a consumer sees, 8-byte words (the ring's unit).
    payload: [u64; MAX_PAYLOAD / 8],
}

/// A kernel consumer that replaces the echo of a tx ring (the GPIO player, `player.rs`).
///
/// The ring knows it by this trait only, so that this file does not depend on its consumers.
/// The ring holds it (a reference cycle, as the timer producer's) until
/// [`TxRing::take_consumer`] at unload.
pub(crate) trait TxConsumer: Send + Sync {
    /// `MYMAP_TX_IOC_KICK`: look at the ring now; the records taken. Process context.
    fn kick(&self) -> u32;

    /// `MYMAP_TX_IOC_PLAY` with operation `op`. Process context.
    fn control(&self, op: u32) -> Result<u32>;

    /// Stops for good: no timer or work of the consumer runs after this returns. Process
    /// context.
    fn shut_down(&self);
}

/// Counters since load, `struct mymap_tx_stats`.
struct Counters {
    consumed: Atomic<u64>,
    discarded: Atomic<u64>,
    malformed: Atomic<u64>,
    skipped_bytes: Atomic<u64>,
    bad_position: Atomic<u64>,
    rejected: Atomic<u64>,
    kicks: Atomic<u64>,
    echo_dropped: Atomic<u64>,
}

/// One tx ring and its `(2 + D)` pages.
///
/// # Invariants
///
/// - `mem` is `2 * PAGE_SIZE + data_size` bytes: the producer page, the consumer page, then
///   the data area; `data_size` is a power of two, a multiple of `PAGE_SIZE`, at most
///   `MYMAP_RING_MAX_SIZE`, and `max_payload == max_payload(data_size)`, so at most
///   `MAX_PAYLOAD`.
/// - `Drain::cons` is 8-byte aligned.
/// - Every `TxRing` is made by [`TxRing::new`], in an `Arc`: pinned from its creation.
/// - `work` is synced in `drop` before anything else goes.
#[pin_data(PinnedDrop)]
pub(crate) struct TxRing {
    mem: VmallocPages,
    data_size: u32,
    max_payload: u32,
    index: u32,
    rings: u32,
    /// Serialises drains.
    #[pin]
    lock: SpinLockIrq<Drain>,
    /// Woken (from `work`) for writers waiting in `poll()`.
    #[pin]
    wait: PollQueue,
    /// Wakes the writers: a drain may run where `wake_up` may not.
    #[pin]
    work: IrqWork<TxRing>,
    /// The consumer position as last published, for `poll()` without the lock.
    cons_hint: Atomic<u32>,
    counters: Counters,
    /// 1 while a file holds the producer claim.
    claimed: Atomic<u32>,
    /// The ring the built-in consumer echoes into, if the module has one of this index.
    echo: Option<Arc<Ring>>,
    /// The consumer that replaces the echo, if any.
    #[pin]
    consumer: Mutex<Option<Arc<dyn TxConsumer>>>,
}

/// What waits in a tx ring for its producer: the verdict of `poll()`.
pub(crate) enum Space {
    /// At least `free` bytes are free.
    Free(u32),
    /// The producer position is refused (see the header): `EPOLLERR`.
    BadPosition,
}

impl TxRing {
    /// Allocates tx ring `index` of `rings` with `data_size` bytes of data, echoing into `echo`.
    pub(crate) fn new(
        index: u32,
        rings: u32,
        data_size: u32,
        echo: Option<Arc<Ring>>,
    ) -> Result<Arc<Self>> {
        if !data_size.is_power_of_two()
            || (data_size as usize) < PAGE_SIZE
            || data_size > uapi::MYMAP_RING_MAX_SIZE
        {
            return Err(EINVAL);
        }
        let mem = VmallocPages::new(2 * PAGE_SIZE + data_size as usize)?;
        let max_payload = max_payload(data_size);
        let ring = Arc::pin_init(
            // INVARIANT: the sizes are checked above, the position starts at 0; the ring is
            // made in an `Arc`.
            try_pin_init!(Self {
                mem,
                data_size,
                max_payload,
                index,
                rings,
                lock <- new_spinlock_irq!(
                    Drain {
                        cons: 0,
                        payload: [0; MAX_PAYLOAD / 8],
                    },
                    "mymap::TxRing::lock"
                ),
                wait <- PollQueue::new(c"mymap::TxRing::wait", kernel::static_lock_class!()),
                work <- IrqWork::new(),
                cons_hint: Atomic::new(0),
                counters: Counters {
                    consumed: Atomic::new(0),
                    discarded: Atomic::new(0),
                    malformed: Atomic::new(0),
                    skipped_bytes: Atomic::new(0),
                    bad_position: Atomic::new(0),
                    rejected: Atomic::new(0),
                    kicks: Atomic::new(0),
                    echo_dropped: Atomic::new(0),
                },
                claimed: Atomic::new(0),
                echo,
                consumer <- new_mutex!(None, "mymap::TxRing::consumer"),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: page 1 is the consumer page, inside `mem` and aligned; only the kernel writes
        // it, and userspace can only read it.
        unsafe {
            let page = ring.consumer_page();
            (*page).data_size = data_size;
            (*page).max_payload = max_payload;
        }
        Ok(ring)
    }

    /// The N of `/dev/mymap-txN`.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The number of tx rings the module registered.
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

    /// The index of the echo's ring, `!0` if none (or a consumer replaces the echo).
    pub(crate) fn echo_index(&self) -> u32 {
        if self.consumer.lock().is_some() {
            return !0;
        }
        self.echo.as_ref().map_or(!0, |r| r.index())
    }

    fn producer_page(&self) -> *mut mymap_tx_producer {
        self.mem.as_ptr().cast()
    }

    fn consumer_page(&self) -> *mut mymap_tx_consumer {
        // SAFETY: the allocation is at least three pages (type invariant).
        unsafe { self.mem.as_ptr().add(PAGE_SIZE).cast() }
    }

    /// The byte at `offset` of the data area.
    ///
    /// # Safety
    ///
    /// `offset < data_size`.
    unsafe fn data(&self, offset: u32) -> *mut u8 {
        // SAFETY: the data area starts two pages in and is `data_size` bytes long (type
        // invariant); the caller keeps `offset` inside it.
        unsafe { self.mem.as_ptr().add(2 * PAGE_SIZE + offset as usize) }
    }

    /// The producer position, as userspace last stored it: untrusted (see the module docs).
    fn producer_pos(&self) -> u32 {
        // SAFETY: the producer page is inside `mem` and `pos` is aligned. Message passing:
        // acquire pairs with the producer's release, so the records before the position are
        // seen complete (for a producer that keeps the contract).
        unsafe { atomic_load(&raw mut (*self.producer_page()).pos, Acquire) }
    }

    /// The `len` word at `offset` of the data area, read once: untrusted.
    ///
    /// `offset` must be 8-byte aligned and inside the data area.
    fn len_word(&self, offset: u32) -> u32 {
        let offset = offset & (self.data_size - 1) & !7;
        // SAFETY: masked above into the data area, 8-byte aligned, and the area is a multiple
        // of 8 bytes, so the word is inside it. Acquire pairs with the release of a producer
        // that clears BUSY when its record is complete (message passing).
        unsafe { atomic_load(self.data(offset).cast::<u32>(), Acquire) }
    }

    /// Copies the record at `offset` with `len` payload bytes (already checked) into `drain`:
    /// every byte once, the `len` word not again.
    fn copy_record(&self, offset: u32, len: u32, drain: &mut Drain) -> (u16, u16, u64, u64) {
        // The caller checked `offset + record_size(len) <= data_size` and `len <= max_payload
        // <= MAX_PAYLOAD`; `offset` is 8-byte aligned (type invariant of `Drain::cons`).
        // SAFETY: each read is inside the record, so inside the data area, and aligned for its
        // type. Volatile: the producer may write the bytes while they are read (a lying or
        // torn producer); each is read exactly once, and only the copies are used.
        unsafe {
            let h = self.data(offset);
            let source = core::ptr::read_volatile(h.add(4).cast::<u16>());
            let flags = core::ptr::read_volatile(h.add(6).cast::<u16>());
            let seq = core::ptr::read_volatile(h.add(8).cast::<u64>());
            let timestamp_ns = core::ptr::read_volatile(h.add(16).cast::<u64>());
            let words = (len as usize).div_ceil(8);
            let payload = h.add(HEADER as usize).cast::<u64>();
            for (i, slot) in drain.payload.iter_mut().take(words).enumerate() {
                *slot = core::ptr::read_volatile(payload.add(i));
            }
            (source, flags, seq, timestamp_ns)
        }
    }

    /// Stores the consumer position in page 1, after the records before it were copied.
    fn publish(&self, cons: u32) {
        // SAFETY: the consumer page is inside `mem`, `pos` aligned. Message passing: release
        // orders the copies of the records before `cons` before the producer may see their
        // bytes as free (its acquire of this position).
        unsafe { atomic_store(&raw mut (*self.consumer_page()).pos, cons, Release) };
        self.cons_hint.store(cons, Relaxed);
    }

    /// A malformed header at `cons`: counted, and everything up to `prod` skipped.
    fn malformed(&self, drain: &mut Drain, prod: u32) {
        self.counters.malformed.add(1, Relaxed);
        self.counters
            .skipped_bytes
            .add(u64::from(prod.wrapping_sub(drain.cons)), Relaxed);
        drain.cons = prod;
    }

    /// Takes up to `max` records, handing each (copied) to `f`; returns how many were taken.
    /// See the header's contract. Callable from any context: takes [`TxRing::lock`], never
    /// sleeps or allocates; `f` runs under the lock and must not sleep either.
    pub(crate) fn drain(&self, max: u32, mut f: impl FnMut(&TxRecord<'_>) -> Verdict) -> u32 {
        let mask = self.data_size - 1;
        let mut drain = self.lock.lock();
        let start = drain.cons;
        let prod = self.producer_pos();
        let ahead = prod.wrapping_sub(start);
        if ahead > self.data_size || prod & 7 != 0 {
            // Behind the kernel's position (which never goes back), too far ahead, or
            // unaligned: nothing is taken until the producer stores a valid position.
            self.counters.bad_position.add(1, Relaxed);
            return 0;
        }
        let mut taken = 0;
        while taken < max && drain.cons != prod {
            let cons = drain.cons;
            let waiting = prod.wrapping_sub(cons);
            let offset = cons & mask;
            let word = self.len_word(offset);
            if word & uapi::MYMAP_RING_BUSY != 0 {
                break;
            }
            if word == uapi::MYMAP_RING_WRAP {
                let gap = self.data_size - offset;
                if gap > waiting {
                    self.malformed(&mut *drain, prod);
                } else {
                    // INVARIANT: `gap` takes an aligned position to offset 0.
                    drain.cons = cons.wrapping_add(gap);
                }
                continue;
            }
            let len = word & uapi::MYMAP_RING_LEN_MASK;
            let size = record_size(len);
            if word & !(uapi::MYMAP_RING_LEN_MASK | uapi::MYMAP_RING_DISCARD) != 0
                || len > self.max_payload
                || offset + size > self.data_size
                || size > waiting
            {
                // The header cannot say where the next record is: trust nothing before `prod`.
                self.malformed(&mut *drain, prod);
                continue;
            }
            if word & uapi::MYMAP_RING_DISCARD != 0 {
                self.counters.discarded.add(1, Relaxed);
                // INVARIANT: record sizes are multiples of 8.
                drain.cons = cons.wrapping_add(size);
                continue;
            }
            let (source, flags, seq, timestamp_ns) = self.copy_record(offset, len, &mut *drain);
            let verdict = {
                let bytes = kernel::transmute::AsBytes::as_bytes(&drain.payload);
                f(&TxRecord {
                    source,
                    flags,
                    seq,
                    timestamp_ns,
                    payload: &bytes[..len as usize],
                })
            };
            match verdict {
                Verdict::Take => {
                    self.counters.consumed.add(1, Relaxed);
                    taken += 1;
                }
                Verdict::Reject => self.counters.rejected.add(1, Relaxed),
                Verdict::Stop => break,
            }
            // INVARIANT: record sizes are multiples of 8.
            drain.cons = cons.wrapping_add(size);
        }
        let end = drain.cons;
        drop(drain);
        if end != start {
            self.publish(end);
            // Store buffering against `space_now`: the position before the look for a writer.
            smp_mb(Full);
            if self.wait.active() {
                self.work.queue();
            }
        }
        taken
    }

    /// Installs the consumer that replaces the echo; `EBUSY` if there is one.
    pub(crate) fn set_consumer(&self, consumer: Arc<dyn TxConsumer>) -> Result {
        let mut slot = self.consumer.lock();
        if slot.is_some() {
            return Err(EBUSY);
        }
        *slot = Some(consumer);
        Ok(())
    }

    /// Takes the consumer out (at unload), which ends the reference cycle.
    pub(crate) fn take_consumer(&self) -> Option<Arc<dyn TxConsumer>> {
        self.consumer.lock().take()
    }

    /// Takes the consumer out if it is the one at `consumer` (a C consumer's detach). Waits
    /// for a running kick: kicks run under the slot's lock.
    pub(crate) fn take_consumer_if(&self, consumer: *const u8) -> Option<Arc<dyn TxConsumer>> {
        let mut slot = self.consumer.lock();
        let ours = slot
            .as_ref()
            .is_some_and(|c| core::ptr::eq(Arc::as_ptr(c).cast::<u8>(), consumer));
        if ours {
            slot.take()
        } else {
            None
        }
    }

    /// The consumer that replaces the echo, if any.
    pub(crate) fn consumer(&self) -> Option<Arc<dyn TxConsumer>> {
        self.consumer.lock().clone()
    }

    /// `MYMAP_TX_IOC_KICK`: the consumer takes what waits; returns the records taken.
    pub(crate) fn kick(&self) -> u32 {
        self.counters.kicks.add(1, Relaxed);
        // Under the slot's lock, so that a consumer that detaches waits for its kick.
        let slot = self.consumer.lock();
        match &*slot {
            Some(consumer) => consumer.kick(),
            None => self.echo_all(),
        }
    }

    /// The built-in consumer, the echo: takes what waits, in batches so that interrupts are
    /// not kept off for a whole ring.
    fn echo_all(&self) -> u32 {
        const BATCH: u32 = 64;
        let mut total = 0;
        loop {
            let n = self.drain(BATCH, |r| self.echo_one(r));
            total += n;
            if n < BATCH {
                return total;
            }
        }
    }

    /// The echo of one record into the ring of the same index, if there is one.
    fn echo_one(&self, r: &TxRecord<'_>) -> Verdict {
        let Some(ring) = &self.echo else {
            return Verdict::Take;
        };
        // `max_payload` of a tx ring is at most that of a ring of the same size, and the
        // payload is at most `MYMAP_TX_MAX_PAYLOAD`; a smaller ring may still refuse it.
        match ring.reserve(
            r.payload.len() as u32,
            uapi::MYMAP_SOURCE_TX as u16,
            r.flags,
            None,
        ) {
            Ok(mut res) => {
                res.write(0, r.payload);
                res.commit(0);
            }
            Err(_) => {
                self.counters.echo_dropped.add(1, Relaxed);
            }
        }
        Verdict::Take
    }

    /// Free bytes for the producer, by the producer position it stored and the consumer
    /// position last published; for `poll()`, without the lock.
    ///
    /// The consumer position is that of the last drain: a drain that moves it wakes the
    /// writers after storing it (see the module docs).
    pub(crate) fn space(&self) -> Space {
        let prod = self.producer_pos();
        let cons = self.cons_hint.load(Relaxed);
        let used = prod.wrapping_sub(cons);
        if used > self.data_size || prod & 7 != 0 {
            return Space::BadPosition;
        }
        Space::Free(self.data_size - used)
    }

    /// [`TxRing::space`] for a writer that has just registered on the wait queue (`poll()`):
    /// the full barrier orders the registration before the look, against the drain's
    /// barrier between its store of the position and its look for a writer.
    pub(crate) fn space_now(&self) -> Space {
        smp_mb(Full);
        self.space()
    }

    /// The bytes `poll()` wants free for `EPOLLOUT`: any record, with its WRAP gap.
    pub(crate) fn writable_at(&self) -> u32 {
        2 * record_size(self.max_payload)
    }

    /// The wait queue of `poll()`.
    pub(crate) fn poll_queue(&self) -> &PollQueue {
        &self.wait
    }

    /// Takes the producer claim; `EBUSY` if another file holds it.
    pub(crate) fn claim(&self) -> Result {
        if self.claimed.cmpxchg(0, 1, Acquire).is_err() {
            return Err(EBUSY);
        }
        Ok(())
    }

    /// Gives the producer claim back.
    pub(crate) fn unclaim(&self) {
        self.claimed.store(0, Release);
    }

    /// Whether a file holds the producer claim.
    pub(crate) fn claimed(&self) -> bool {
        self.claimed.load(Relaxed) != 0
    }

    /// `MYMAP_TX_IOC_STATS`.
    pub(crate) fn stats(&self) -> mymap_tx_stats {
        let c = &self.counters;
        mymap_tx_stats {
            consumed: c.consumed.load(Relaxed),
            discarded: c.discarded.load(Relaxed),
            malformed: c.malformed.load(Relaxed),
            skipped_bytes: c.skipped_bytes.load(Relaxed),
            bad_position: c.bad_position.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            kicks: c.kicks.load(Relaxed),
            echo_dropped: c.echo_dropped.load(Relaxed),
            consumer_pos: self.cons_hint.load(Relaxed),
            reserved: 0,
        }
    }
}

impl PageSource for TxRing {
    fn pages(
        &self,
        first: usize,
        count: usize,
    ) -> Option<&[core::ptr::NonNull<kernel::bindings::page>]> {
        self.mem.pages(first, count)
    }
}

// SAFETY: `OFFSET` is that of `work`, an `IrqWork<TxRing>`; every `TxRing` is pinned in its
// `Arc` (type invariant), and `drop` syncs `work` before any field goes.
unsafe impl IrqWorkItem for TxRing {
    const OFFSET: usize = core::mem::offset_of!(TxRing, work);

    /// Wakes the writers waiting in `poll()`.
    fn run(&self) {
        self.wait.wake_all();
    }
}

#[pinned_drop]
impl PinnedDrop for TxRing {
    fn drop(self: Pin<&mut Self>) {
        // No file and no drain is left (the ring is being dropped): only the work may still be
        // pending.
        self.work.sync();
    }
}
