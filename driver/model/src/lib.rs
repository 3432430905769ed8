// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A loom model of the ring protocol.
//!
//! This models driver/ring.rs (reserve, finish, wake_due, at_consumer_now, read) and
//! driver/ring_file.rs (poll); a change to one is made in both. `Ring::wake`
//! stands for the driver's `wake` and the `irq_work` it queues (`Ring`'s
//! `IrqWorkItem::run`) together. The consumer
//! side models the mapped consumer of `mymap.h` ("Rings": the libbpf-style
//! loop of userspace/mymap-uapi/src/ring.rs: `load_producer`, `entry`,
//! `release`).
//!
//! Every function here is named after the driver function it mirrors and does
//! the same loads and stores with the same orderings, on a ring of [`DATA`]
//! bytes. What is left out: the payload limit (`max_payload`), the policies
//! other than `MYMAP_WAKEUP_CAUGHT_UP`, the flags of `finish`, the counters,
//! the `irq_work` deferral (a wakeup is the `wake_up` it leads to), and
//! interrupted sleeps.
//!
//! Memory: each 8-byte slot of the data area is an [`AtomicU32`] for the `len`
//! (or WRAP) word of a record starting there, the only atomic in a record, and
//! a [`loom::cell::UnsafeCell`] for its other bytes (`source`/`flags`, `seq`,
//! `timestamp_ns` or payload). A producer writes every cell of its record, the
//! consumer reads every cell of a record it uses, so loom reports a record
//! written by two producers at once, or read while rewritten, as a data race
//! ("Causality violation"); the consumer also checks each cell's contents
//! against the pattern its producer wrote, so a torn record is a panic.
//!
//! [`Protocol`] switches between the driver's protocol ([`Protocol::NEW`]) and
//! the one it had before the barriers and the pending check ([`Protocol::OLD`]),
//! and can leave out one mechanism of NEW at a time, so that one test binary
//! shows each of them is needed.

pub mod tx;

use std::fmt::Write as _;

use loom::{
    cell::UnsafeCell,
    sync::{
        atomic::{fence, AtomicU32, Ordering::*},
        Mutex,
    },
};

/// Bytes of the data area: two 32-byte records fill it.
pub const DATA: u32 = 64;
/// `data_size - 1`.
pub const MASK: u32 = DATA - 1;
/// 8-byte slots in the data area.
pub const SLOTS: usize = (DATA / 8) as usize;
/// `MYMAP_RING_HEADER_SIZE`.
pub const HEADER: u32 = 24;
/// `MYMAP_RING_BUSY`.
pub const BUSY: u32 = 0x8000_0000;
/// `MYMAP_RING_DISCARD`.
pub const DISCARD: u32 = 0x4000_0000;
/// `MYMAP_RING_WRAP`.
pub const WRAP: u32 = 0x2000_0000;
/// `MYMAP_RING_LEN_MASK`.
pub const LEN_MASK: u32 = 0x0fff_ffff;

/// `record_size` of driver/ring.rs: `MYMAP_RING_RECORD_SIZE(len)`.
pub const fn record_size(len: u32) -> u32 {
    (HEADER + (len & LEN_MASK) + 7) & !7
}

/// What a producer writes in slot `i` of the record numbered `seq` (slot 1, the `seq`
/// field, holds `seq` itself); the consumer checks it.
pub const fn pattern(seq: u64, i: u32) -> u64 {
    if i == 1 {
        seq
    } else {
        (seq << 8) | (0x80 + i as u64)
    }
}

/// Which protocol the model follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// `finish` publishes with `xchg` (a full barrier) and checks the old word, and
    /// `poll` has `smp_mb()` between registering and `readable`. Without: `finish`
    /// publishes with a release store, `poll` has no barrier.
    pub full_barriers: bool,
    /// `reserve` checks space against the oldest record still BUSY (`pending_pos`) as well
    /// as against the consumer position. Without: against the consumer position alone.
    pub pending_pos: bool,
    /// `read` has `smp_mb()` before it loads the `len` word at the consumer position, so
    /// that its own earlier release of the position (past a DISCARD or WRAP, or in the
    /// previous call) is ordered before the load, as `poll`'s barrier orders the mapped
    /// consumer's. Not in the NEW protocol as specified: see `read_*` in tests/.
    pub read_barrier: bool,
    /// `wake` queues a wakeup only if a waiter is registered (a `poll` entry, or a `read`
    /// that may block, counted before its barrier), loaded after `finish`'s barrier. Without:
    /// every wakeup that is due is queued.
    pub wake_if_waiting: bool,
}

impl Protocol {
    /// The driver before the change: release store in `finish`, no barrier in `poll`,
    /// space against the consumer position alone.
    pub const OLD: Self = Self {
        full_barriers: false,
        pending_pos: false,
        read_barrier: false,
        wake_if_waiting: false,
    };
    /// The driver's protocol (driver/ring.rs).
    pub const NEW: Self = Self {
        full_barriers: true,
        pending_pos: true,
        read_barrier: true,
        wake_if_waiting: true,
    };
}

/// `struct Produce` of driver/ring.rs, under the producer lock.
#[derive(Debug, Default)]
pub struct Produce {
    /// The producer position.
    pub pos: u32,
    /// The position of the oldest record that may still be BUSY.
    pub pending_pos: u32,
    /// The next sequence number.
    pub seq: u64,
    /// Records dropped.
    pub dropped: u64,
}

/// A reservation `reserve` refused: the ring was full. The sequence number is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The sequence number the record would have had.
    pub seq: u64,
}

/// What a consumer finds after it looked for records: one to use, or the wait queue
/// generation it registered at and then went to sleep with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// `poll` said readable or `read` returned a record: the consumer goes on.
    Ready,
    /// The consumer sleeps; it must be woken by a wakeup after generation `g`.
    Sleeps(u64),
}

/// `struct Ring` of driver/ring.rs, with the shared pages.
pub struct Ring {
    proto: Protocol,
    /// The `len` word of each slot (meaningful where a record or a WRAP word starts).
    words: [AtomicU32; SLOTS],
    /// The other bytes of each slot.
    cells: [UnsafeCell<u64>; SLOTS],
    /// Page 0: written by the consumer.
    consumer_pos: AtomicU32,
    /// Page 1: the producer position.
    producer_pos: AtomicU32,
    /// `Ring::pos_hint`.
    pos_hint: AtomicU32,
    /// `Ring::lock`.
    lock: Mutex<Produce>,
    /// `Ring::wait`: the wait queue, as the number of `wake_up`s so far; its lock is the
    /// wait queue's.
    wait: Mutex<u64>,
    /// `Ring::poll`'s entries (`waitqueue_active()`): added and removed under `wait`'s
    /// lock, loaded without it.
    poll_entries: AtomicU32,
    /// `Ring::read_waiters`.
    read_waiters: AtomicU32,
    /// What happened, when tracing (`Ring::traced`).
    trace: Option<std::sync::Mutex<String>>,
}

// SAFETY: the cells are the shared data area: every access goes through loom's checked
// `with`/`with_mut`, which panics on two accesses not ordered by happens-before (the data
// races this model looks for); loom runs the model's threads one at a time. Everything
// else in `Ring` is `Sync` by itself.
unsafe impl Sync for Ring {}

/// `struct Reservation` of driver/ring.rs.
#[must_use = "a reservation is committed or discarded"]
#[derive(Debug)]
pub struct Reservation {
    /// Offset of the header in the data area.
    pub offset: u32,
    /// Payload bytes.
    pub len: u32,
    /// The sequence number.
    pub seq: u64,
}

/// A record the consumer used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its sequence number.
    pub seq: u64,
    /// Whether its producer discarded it.
    pub discarded: bool,
}

/// What the consumer finds at a position: `Entry` of mymap-uapi.
#[derive(Debug)]
enum Entry {
    Busy,
    Wrap { next: u32 },
    Record { seen: Seen, next: u32 },
}

impl Ring {
    /// An empty ring, both positions 0.
    pub fn new(proto: Protocol) -> Self {
        Self {
            proto,
            words: std::array::from_fn(|_| AtomicU32::new(0)),
            cells: std::array::from_fn(|_| UnsafeCell::new(0)),
            consumer_pos: AtomicU32::new(0),
            producer_pos: AtomicU32::new(0),
            pos_hint: AtomicU32::new(0),
            lock: Mutex::new(Produce::default()),
            wait: Mutex::new(0),
            poll_entries: AtomicU32::new(0),
            read_waiters: AtomicU32::new(0),
            trace: None,
        }
    }

    /// As [`Ring::new`], recording every shared access for [`Ring::trace`].
    pub fn traced(proto: Protocol) -> Self {
        Self {
            trace: Some(std::sync::Mutex::new(String::new())),
            ..Self::new(proto)
        }
    }

    /// The protocol followed.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// Records `what` by the running thread, when tracing.
    pub fn note(&self, what: impl FnOnce() -> String) {
        if let Some(trace) = &self.trace {
            let thread = loom::thread::current();
            let who = thread.name().unwrap_or("main");
            let mut t = trace.lock().unwrap();
            let n = t.lines().count() + 1;
            let _ = writeln!(t, "{n:3} {who:>10}: {}", what());
        }
    }

    /// What happened so far, one access a line, when tracing.
    pub fn trace(&self) -> String {
        match &self.trace {
            Some(t) => t.lock().unwrap().clone(),
            None => String::from("(run a traced model for the interleaving)\n"),
        }
    }

    fn word(&self, offset: u32) -> &AtomicU32 {
        &self.words[((offset & MASK) / 8) as usize]
    }

    fn write_cell(&self, slot: u32, value: u64) {
        // SAFETY: loom checks the access: a write racing with another access of the same
        // slot is reported as a causality violation.
        self.cells[slot as usize].with_mut(|p| unsafe { *p = value });
    }

    fn read_cell(&self, slot: u32) -> u64 {
        // SAFETY: as in `write_cell`.
        self.cells[slot as usize].with(|p| unsafe { *p })
    }

    /// `Ring::consumer_pos`.
    fn consumer_pos(&self) -> u32 {
        let cons = self.consumer_pos.load(Acquire);
        self.note(|| format!("load consumer_pos = {cons}"));
        cons
    }

    /// `Ring::len_word`.
    fn len_word(&self, offset: u32) -> u32 {
        let offset = offset & MASK & !7;
        let w = self.word(offset).load(Acquire);
        self.note(|| format!("load len[{offset}] = {}", show(w)));
        w
    }

    /// `Ring::reserve`: a record of `len` payload bytes, its header written (BUSY), or
    /// [`Dropped`] when the ring is full.
    pub fn reserve(&self, len: u32) -> Result<Reservation, Dropped> {
        let size = record_size(len);
        let mut produce = self.lock.lock().unwrap();
        let seq = produce.seq;
        produce.seq += 1;
        let pos = produce.pos;
        let offset = pos & MASK;
        let gap = if offset + size > DATA {
            DATA - offset
        } else {
            0
        };
        if self.proto.pending_pos {
            // Move past the records committed since: stop at the first still BUSY.
            while produce.pending_pos != pos {
                let pending = produce.pending_pos;
                let w = self.len_word(pending);
                if w & BUSY != 0 {
                    break;
                }
                produce.pending_pos = if w == WRAP {
                    pending.wrapping_add(DATA - (pending & MASK))
                } else {
                    pending.wrapping_add(record_size(w))
                };
            }
        }
        let used = pos.wrapping_sub(self.consumer_pos());
        let next = pos.wrapping_add(gap + size);
        if used > DATA
            || gap + size > DATA - used
            || (self.proto.pending_pos && next.wrapping_sub(produce.pending_pos) > DATA)
        {
            produce.dropped += 1;
            self.note(|| format!("reserve seq {seq}: dropped"));
            return Err(Dropped { seq });
        }
        let start = if gap != 0 {
            self.word(offset).store(WRAP, Relaxed);
            self.note(|| format!("store len[{offset}] = WRAP"));
            0
        } else {
            offset
        };
        self.word(start).store(len | BUSY, Relaxed);
        let slot = start / 8;
        self.write_cell(slot, pattern(seq, 0));
        self.write_cell(slot + 1, pattern(seq, 1));
        self.write_cell(slot + 2, pattern(seq, 2));
        produce.pos = next;
        self.pos_hint.store(next, Release);
        self.producer_pos.store(next, Release);
        self.note(|| {
            format!(
                "reserve seq {seq} at {start}: len[{start}] = BUSY|{len}, producer_pos = {next}"
            )
        });
        drop(produce);
        Ok(Reservation {
            offset: start,
            len,
            seq,
        })
    }

    /// `Reservation::write`: fills the payload (outside the lock).
    pub fn write(&self, r: &Reservation) {
        let slot = r.offset / 8;
        for i in HEADER / 8..record_size(r.len) / 8 {
            self.write_cell(slot + i, pattern(r.seq, i));
        }
        self.note(|| format!("write payload of seq {}", r.seq));
    }

    /// `Reservation::commit`.
    pub fn commit(&self, r: Reservation) {
        self.finish(r.offset, r.len, false);
    }

    /// `Reservation::discard`.
    pub fn discard(&self, r: Reservation) {
        self.finish(r.offset, r.len, true);
    }

    /// `Ring::finish`: publishes the record at `offset`, then wakes the consumer if due.
    pub fn finish(&self, offset: u32, len: u32, discard: bool) {
        let word = if discard { len | DISCARD } else { len };
        if self.proto.full_barriers {
            // The driver's cmpxchg(.., Full) from BUSY|len (BPF's xchg): a successful
            // value-returning RMW is fully ordered, an smp_mb() before and after. Loom, like
            // C11, takes a SeqCst read-modify-write for an AcqRel one, which does not order
            // the load of the consumer position below before the store (the store-buffering
            // pattern, see tests `litmus_*`): the fence after it is the smp_mb(). The driver
            // refuses the commit where the word is not BUSY|len; the model asserts it.
            let old = self.word(offset).swap(word, SeqCst);
            fence(SeqCst);
            self.note(|| format!("xchg len[{offset}] = {} (was {})", show(word), show(old)));
            assert_eq!(
                old,
                len | BUSY,
                "lapped: the len word of the record at offset {offset} was {} at its commit, \
                 not BUSY|{len}",
                show(old)
            );
        } else {
            self.word(offset).store(word, Release);
            self.note(|| format!("store-release len[{offset}] = {}", show(word)));
        }
        if self.wake_due(offset) {
            self.wake();
        }
    }

    /// `Ring::wake_due`, policy `MYMAP_WAKEUP_CAUGHT_UP`: the consumer is at the record,
    /// or at the WRAP word before it.
    fn wake_due(&self, offset: u32) -> bool {
        let cons = self.consumer_pos();
        let at = cons & MASK;
        let due = at == offset || (offset == 0 && at & 7 == 0 && self.len_word(at) == WRAP);
        self.note(|| format!("wake_due({offset}) = {due}"));
        due
    }

    /// `Ring::wake` and its `irq_work` (`<Ring as IrqWorkItem>::run`): take and release the
    /// producer lock, then `wake_up` (the wait queue's lock, every waiter woken: a new
    /// generation).
    fn wake(&self) {
        if self.proto.wake_if_waiting {
            // After the caller's full barrier (store buffering with `poll`'s registration
            // and `read`'s count, each before its own barrier).
            let entries = self.poll_entries.load(Relaxed);
            let readers = self.read_waiters.load(Relaxed);
            self.note(|| format!("wake: {entries} poll entries, {readers} readers"));
            if entries == 0 && readers == 0 {
                return;
            }
        }
        drop(self.lock.lock().unwrap());
        let mut g = self.wait.lock().unwrap();
        *g += 1;
        let g = *g;
        self.note(|| format!("wake_up: generation {g}"));
    }

    /// `Ring::at_consumer_now` without its `smp_mb()` (the caller, `poll`, has it) and
    /// reduced to `poll`'s readiness: nothing waits (`Empty`), or the record there is
    /// `Busy`, else ready. The `Corrupt` verdict is left out: the model's consumer
    /// positions are sane.
    pub fn readable(&self) -> bool {
        let cons = self.consumer_pos();
        let hint = self.pos_hint.load(Acquire);
        self.note(|| format!("load pos_hint = {hint}"));
        if hint == cons {
            return false;
        }
        self.len_word(cons) & BUSY == 0
    }

    /// `poll` of driver/ring_file.rs: register on the wait queue, then `readable`.
    pub fn poll(&self) -> Wait {
        let g = {
            let g = self.wait.lock().unwrap();
            // `poll_wait()`: the entry goes on the list under the queue's lock.
            self.poll_entries.fetch_add(1, Relaxed);
            *g
        };
        self.note(|| format!("poll: registered at generation {g}"));
        if self.proto.full_barriers {
            // smp_mb(): the registration and the consumer's release of its position before
            // the loads of `readable` (store buffering with `finish`).
            fence(SeqCst);
        }
        let readable = self.readable();
        self.note(|| format!("poll: readable = {readable}"));
        if readable {
            // poll(2) returns at once, and its entry goes (`poll_freewait()`).
            let _g = self.wait.lock().unwrap();
            self.poll_entries.fetch_sub(1, Relaxed);
            Wait::Ready
        } else {
            Wait::Sleeps(g)
        }
    }

    /// `Ring::read`, the kernel's consumer: the next record, skipping DISCARD and WRAP, or
    /// sleeps (`wait_interruptible` registers under the producer lock). Looks under the
    /// producer lock, then copies the record and releases its position outside it, as the
    /// driver does. (The driver's `reading` flag, which makes readers take turns, is left
    /// out: the model has one reader.)
    pub fn read(&self) -> Result<Seen, Wait> {
        // `ReadWaiter`: counted before the first look; a sleeping reader stays counted.
        self.read_waiters.fetch_add(1, Relaxed);
        let (cons, offset, word) = {
            let produce = self.lock.lock().unwrap();
            loop {
                if self.proto.read_barrier {
                    // smp_mb(), where the driver's read() has it, at the top of each turn:
                    // this consumer's release of its position (in the turn before, or in the
                    // previous call) before the load of the len word (store buffering with
                    // `finish`).
                    fence(SeqCst);
                }
                let cons = self.consumer_pos();
                let waiting = produce.pos.wrapping_sub(cons);
                assert!(waiting <= DATA && cons & 7 == 0, "read: garbage positions");
                if waiting == 0 {
                    return Err(self.read_sleeps());
                }
                let offset = cons & MASK;
                let word = self.len_word(offset);
                if word & BUSY != 0 {
                    return Err(self.read_sleeps());
                }
                if word == WRAP {
                    self.release(cons.wrapping_add(DATA - offset));
                    continue;
                }
                if word & DISCARD != 0 {
                    self.release(cons.wrapping_add(record_size(word)));
                    continue;
                }
                break (cons, offset, word);
            }
        };
        let seen = self.record_at(offset, word);
        self.release(cons.wrapping_add(record_size(word)));
        self.read_waiters.fetch_sub(1, Relaxed);
        Ok(seen)
    }

    /// `wait_interruptible` in `read`, called with the producer lock held.
    fn read_sleeps(&self) -> Wait {
        let g = *self.wait.lock().unwrap();
        self.note(|| format!("read: sleeps at generation {g}"));
        Wait::Sleeps(g)
    }

    /// `load_producer` of the consumer: the producer position, acquire.
    pub fn load_producer(&self) -> u32 {
        let p = self.producer_pos.load(Acquire);
        self.note(|| format!("load producer_pos = {p}"));
        p
    }

    /// `entry` of the consumer: what is at position `pos`.
    fn entry(&self, pos: u32) -> Entry {
        let offset = pos & MASK;
        let word = self.len_word(offset);
        if word & BUSY != 0 {
            Entry::Busy
        } else if word == WRAP {
            Entry::Wrap {
                next: pos.wrapping_add(DATA - offset),
            }
        } else {
            Entry::Record {
                seen: self.record_at(offset, word),
                next: pos.wrapping_add(record_size(word)),
            }
        }
    }

    /// Reads every cell of the committed record at `offset` with `len` word `word`, and
    /// checks them against what its producer wrote.
    fn record_at(&self, offset: u32, word: u32) -> Seen {
        assert!(
            word & !(LEN_MASK | DISCARD) == 0 && offset + record_size(word) <= DATA,
            "no record at offset {offset}: len word {}",
            show(word)
        );
        let slot = offset / 8;
        let seq = self.read_cell(slot + 1);
        for i in 0..record_size(word) / 8 {
            let got = self.read_cell(slot + i);
            assert_eq!(
                got,
                pattern(seq, i),
                "torn record at offset {offset}: slot {i} is {got:#x}, seq {seq}"
            );
        }
        let seen = Seen {
            seq,
            discarded: word & DISCARD != 0,
        };
        self.note(|| format!("read record seq {seq} at {offset}"));
        seen
    }

    /// `release` of the consumer (and of `read`): stores the consumer position, release.
    pub fn release(&self, pos: u32) {
        self.consumer_pos.store(pos, Release);
        self.note(|| format!("store-release consumer_pos = {pos}"));
    }

    /// The hostile consumer: claims everything up to the producer position, records still
    /// BUSY included.
    pub fn skip_to_producer(&self) {
        let p = self.load_producer();
        self.release(p);
    }

    /// Records dropped so far.
    pub fn dropped(&self) -> u64 {
        self.lock.lock().unwrap().dropped
    }

    /// The `wake_up`s so far.
    pub fn wakeups(&self) -> u64 {
        *self.wait.lock().unwrap()
    }

    /// The producer position, as the producers know it.
    pub fn producer_pos(&self) -> u32 {
        self.lock.lock().unwrap().pos
    }

    /// After every thread has finished: panics if a consumer that went to sleep (`wait`)
    /// was never woken although a committed record waits at its position.
    pub fn check_no_lost_wakeup(&self, wait: Wait) {
        let Wait::Sleeps(g) = wait else { return };
        let now = *self.wait.lock().unwrap();
        let cons = self.consumer_pos.load(Acquire);
        let prod = self.producer_pos.load(Acquire);
        if now != g || cons == prod {
            return;
        }
        let word = self.word(cons).load(Acquire);
        if word & BUSY == 0 {
            panic!(
                "lost wakeup: the consumer sleeps since generation {g} and no wakeup came, \
                 while the committed record at position {cons} (len word {}) waits; \
                 protocol {:?}\n\
                 The interleaving, one shared access a line in the order executed (a load may \
                 return an older value than the last store to its location above it):\n{}",
                show(word),
                self.proto,
                self.trace()
            );
        }
    }
}

/// A `len` word, readable.
pub fn show(w: u32) -> String {
    let mut s = String::new();
    if w == WRAP {
        return "WRAP".into();
    }
    if w & BUSY != 0 {
        s.push_str("BUSY|");
    }
    if w & DISCARD != 0 {
        s.push_str("DISCARD|");
    }
    let _ = write!(s, "{}", w & LEN_MASK);
    s
}

/// The mapped consumer of `mymap.h`, libbpf style: its own copy of the consumer
/// position, and what it has seen.
#[derive(Debug, Default)]
pub struct Consumer {
    /// The consumer position as this consumer knows it.
    pub pos: u32,
    /// The records used, discarded ones included, in the order seen.
    pub seen: Vec<Seen>,
}

impl Consumer {
    /// A consumer at position `pos`.
    pub fn at(pos: u32) -> Self {
        Self {
            pos,
            seen: Vec::new(),
        }
    }

    /// One batch, as `mymap::Ring::consume` does it: every committed record up to the
    /// producer position or the first BUSY one, each one that is not discarded released
    /// as soon as it is used; what was skipped after the last such release (a wrap, a
    /// discarded record) released at the end. Returns the records seen.
    pub fn consume(&mut self, ring: &Ring) -> usize {
        let mut released = self.pos;
        let before = self.seen.len();
        let p = ring.load_producer();
        while self.pos != p {
            match ring.entry(self.pos) {
                Entry::Busy => break,
                Entry::Wrap { next } => self.pos = next,
                Entry::Record { seen, next } => {
                    self.take(seen);
                    self.pos = next;
                    if !seen.discarded {
                        ring.release(self.pos);
                        released = self.pos;
                    }
                }
            }
        }
        if self.pos != released {
            ring.release(self.pos);
        }
        self.seen.len() - before
    }

    /// Notes a record, checking the order.
    pub fn take(&mut self, seen: Seen) {
        if let Some(last) = self.seen.last() {
            assert!(
                seen.seq > last.seq,
                "record seq {} after seq {}: out of order or seen twice",
                seen.seq,
                last.seq
            );
        }
        self.seen.push(seen);
    }
}
