// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A loom model of the tx ring protocol: a userspace producer, the kernel as consumer.
//!
//! This models driver/tx.rs (`TxRing::drain`, `producer_pos`, `len_word`,
//! `copy_record`, `publish`, the wakeup of writers by `IrqWorkItem::run`) and
//! driver/tx_file.rs (`poll`), and the producer of `mymap.h` ("Tx rings"); a
//! change to one is made in both. Memory is that of [`crate::Ring`]: each
//! 8-byte slot of the [`crate::DATA`]-byte data area is an [`AtomicU32`] `len`
//! word and a loom [`UnsafeCell`] for its other bytes, so loom reports a record
//! the kernel copies while the producer rewrites it (or the other way round)
//! as a data race, and the kernel checks every cell it copies against the
//! pattern of its record.
//!
//! [`TxOrdering`] can weaken one side's publication at a time, so that the tests
//! show each release/acquire pair is needed.

use loom::{
    cell::UnsafeCell,
    sync::{
        atomic::{fence, AtomicBool, AtomicU32, Ordering, Ordering::*},
        Mutex,
    },
};

use crate::{pattern, record_size, BUSY, DATA, DISCARD, LEN_MASK, MASK, SLOTS, WRAP};

/// The orderings of the two handoffs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxOrdering {
    /// The producer publishes its position (and a completed `len` word) with release,
    /// the kernel loads them with acquire. Without: relaxed on both sides.
    pub producer_release: bool,
    /// The kernel publishes its consumer position with release, the producer loads it
    /// with acquire. Without: relaxed on both sides.
    pub consumer_release: bool,
    /// A drain that moved the consumer position wakes the writers only if one is
    /// registered (`PollQueue::active`). Without: always (through the wait queue's lock).
    pub wake_if_waiting: bool,
    /// With `wake_if_waiting`: a full barrier between the drain's store of the consumer
    /// position and its look for a writer, and between a writer's registration and its
    /// look at the space (store buffering). Without: none.
    pub wake_barriers: bool,
}

impl TxOrdering {
    /// The driver's and the header's orderings.
    pub const DRIVER: Self = Self {
        producer_release: true,
        consumer_release: true,
        wake_if_waiting: true,
        wake_barriers: true,
    };
}

/// `struct Drain` of driver/tx.rs: the kernel's own consumer position, under its lock.
#[derive(Debug, Default)]
pub struct Drain {
    /// The kernel's consumer position.
    pub cons: u32,
    /// Records taken, in order (the echo of the driver, which the tests read).
    pub taken: Vec<Taken>,
    /// `malformed` and `bad_position` of `struct mymap_tx_stats`.
    pub malformed: u64,
    /// See `malformed`.
    pub bad_position: u64,
}

/// A record the kernel took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// Its position (free-running).
    pub pos: u32,
    /// The `seq` cell of its copy.
    pub seq: u64,
    /// Whether every cell of the copy was its record's pattern: always, for a producer
    /// that keeps the contract.
    pub intact: bool,
}

/// `struct TxRing` of driver/tx.rs, with the shared pages.
pub struct Tx {
    ord: TxOrdering,
    words: [AtomicU32; SLOTS],
    cells: [UnsafeCell<u64>; SLOTS],
    /// Page 0: written by the producer.
    producer_pos: AtomicU32,
    /// Page 1: the kernel's consumer position.
    consumer_pos: AtomicU32,
    /// `TxRing::lock`.
    lock: Mutex<Drain>,
    /// The writers' wait queue: wakeups so far; its lock is the wait queue's.
    wait: Mutex<u64>,
    /// `waitqueue_active()`: a writer's entry is on the queue (set under `wait`'s lock,
    /// loaded without it).
    registered: AtomicBool,
}

// SAFETY: as for `Ring`: every access to the cells goes through loom's checked `with` and
// `with_mut`, which panic on a data race; everything else is `Sync` by itself.
unsafe impl Sync for Tx {}

/// The userspace producer's own state: its copy P of the producer position.
#[derive(Debug, Default)]
pub struct Producer {
    /// P.
    pub pos: u32,
}

impl Tx {
    /// An empty tx ring, both positions 0.
    pub fn new(ord: TxOrdering) -> Self {
        Self {
            ord,
            words: std::array::from_fn(|_| AtomicU32::new(0)),
            cells: std::array::from_fn(|_| UnsafeCell::new(0)),
            producer_pos: AtomicU32::new(0),
            consumer_pos: AtomicU32::new(0),
            lock: Mutex::new(Drain::default()),
            wait: Mutex::new(0),
            registered: AtomicBool::new(false),
        }
    }

    fn publish_order(&self, on: bool) -> (Ordering, Ordering) {
        if on {
            (Release, Acquire)
        } else {
            (Relaxed, Relaxed)
        }
    }

    // ------------------------------------------------------------------------------
    // The producer (userspace), steps 1 to 3 of the header.

    /// Step 1: the kernel's consumer position.
    pub fn load_consumer(&self) -> u32 {
        self.consumer_pos
            .load(self.publish_order(self.ord.consumer_release).1)
    }

    /// Step 2 for record `seq` of `len` bytes: `false` if it does not fit now. With
    /// `busy`, the `len` word is stored with BUSY and the position published before the
    /// payload is written; [`Tx::complete`] finishes it.
    pub fn write(&self, p: &mut Producer, seq: u64, len: u32, busy: bool) -> Option<u32> {
        let cons = self.load_consumer();
        let off = p.pos & MASK;
        let size = record_size(len);
        let gap = if off + size > DATA { DATA - off } else { 0 };
        if gap + size > DATA - p.pos.wrapping_sub(cons) {
            return None;
        }
        let (rel, _) = self.publish_order(self.ord.producer_release);
        if gap != 0 {
            self.words[(off / 8) as usize].store(WRAP, rel);
            p.pos = p.pos.wrapping_add(gap);
        }
        let at = p.pos & MASK;
        if busy {
            self.words[(at / 8) as usize].store(len | BUSY, Relaxed);
            p.pos = p.pos.wrapping_add(size);
            self.publish(p);
            self.fill(at, seq, len);
            self.words[(at / 8) as usize].store(len, rel);
        } else {
            self.fill(at, seq, len);
            self.words[(at / 8) as usize].store(len, Relaxed);
            p.pos = p.pos.wrapping_add(size);
        }
        Some(at)
    }

    /// Writes the cells of record `seq` at `at`.
    fn fill(&self, at: u32, seq: u64, len: u32) {
        for i in 0..record_size(len) / 8 {
            let slot = (at / 8 + i) as usize;
            self.cells[slot].with_mut(|c| {
                // SAFETY: loom checks this access against every other (see `Sync`).
                unsafe { *c = pattern(seq, i) }
            });
        }
    }

    /// Step 3: publishes P.
    pub fn publish(&self, p: &Producer) {
        self.producer_pos
            .store(p.pos, self.publish_order(self.ord.producer_release).0);
    }

    /// A lying producer: stores `pos` as its position.
    pub fn publish_raw(&self, pos: u32) {
        self.producer_pos.store(pos, Release);
    }

    /// A lying producer: stores `word` as the `len` word at data offset `at`.
    pub fn scribble_word(&self, at: u32, word: u32) {
        self.words[((at & MASK) / 8) as usize].store(word, Release);
    }

    // ------------------------------------------------------------------------------
    // The kernel: `TxRing::drain` with the echo's callback (every record taken).

    /// `TxRing::producer_pos`.
    fn producer_pos(&self) -> u32 {
        self.producer_pos
            .load(self.publish_order(self.ord.producer_release).1)
    }

    /// `TxRing::len_word`: masked into the data area, whatever the offset.
    fn len_word(&self, offset: u32) -> u32 {
        let offset = offset & MASK & !7;
        self.words[(offset / 8) as usize].load(self.publish_order(self.ord.producer_release).1)
    }

    /// `TxRing::copy_record`: every cell once; the `seq` cell, and whether every cell
    /// is the pattern of that record (a torn record is not, and a producer that keeps
    /// the contract never shows one).
    fn copy_record(&self, offset: u32, len: u32) -> (u64, bool) {
        let first = (offset / 8) as usize;
        let seq = self.cells[first + 1].with(|c| {
            // SAFETY: loom checks this access (see `Sync`).
            unsafe { *c }
        });
        let mut intact = true;
        for i in 0..record_size(len) / 8 {
            let v = self.cells[first + i as usize].with(|c| {
                // SAFETY: as above.
                unsafe { *c }
            });
            intact &= v == pattern(seq, i);
        }
        (seq, intact)
    }

    /// `TxRing::drain`: takes every complete record; returns how many.
    pub fn drain(&self) -> u32 {
        let mut d = self.lock.lock().unwrap();
        let start = d.cons;
        let prod = self.producer_pos();
        let ahead = prod.wrapping_sub(start);
        if ahead > DATA || prod & 7 != 0 {
            d.bad_position += 1;
            return 0;
        }
        let mut taken = 0;
        while d.cons != prod {
            let cons = d.cons;
            let waiting = prod.wrapping_sub(cons);
            let offset = cons & MASK;
            let word = self.len_word(offset);
            if word & BUSY != 0 {
                break;
            }
            if word == WRAP {
                let gap = DATA - offset;
                if gap > waiting {
                    d.malformed += 1;
                    d.cons = prod;
                } else {
                    d.cons = cons.wrapping_add(gap);
                }
                continue;
            }
            let len = word & LEN_MASK;
            let size = record_size(len);
            if word & !(LEN_MASK | DISCARD) != 0
                || len > DATA / 4
                || offset + size > DATA
                || size > waiting
            {
                d.malformed += 1;
                d.cons = prod;
                continue;
            }
            if word & DISCARD == 0 {
                let (seq, intact) = self.copy_record(offset, len);
                d.taken.push(Taken {
                    pos: cons,
                    seq,
                    intact,
                });
                taken += 1;
            }
            d.cons = cons.wrapping_add(size);
        }
        let end = d.cons;
        drop(d);
        if end != start {
            // `publish`, then (if a writer may wait) the irq_work's `run`: wake the writers.
            self.consumer_pos
                .store(end, self.publish_order(self.ord.consumer_release).0);
            if self.ord.wake_if_waiting {
                if self.ord.wake_barriers {
                    fence(SeqCst);
                }
                if !self.registered.load(Relaxed) {
                    return taken;
                }
            }
            *self.wait.lock().unwrap() += 1;
        }
        taken
    }

    /// The records taken so far, and the counters `malformed` and `bad_position`.
    pub fn drained(&self) -> (Vec<Taken>, u64, u64) {
        let d = self.lock.lock().unwrap();
        (d.taken.clone(), d.malformed, d.bad_position)
    }

    // ------------------------------------------------------------------------------
    // `poll()` for writing (driver/tx_file.rs).

    /// Registers on the wait queue, then looks at the space: `Ok(())` if `need` bytes are
    /// free, else the wakeup generation the writer sleeps at.
    pub fn poll_writable(&self, p: &Producer, need: u32) -> Result<(), u64> {
        let generation = {
            let w = self.wait.lock().unwrap();
            self.registered.store(true, Relaxed);
            *w
        };
        if self.ord.wake_barriers {
            // The driver's smp_mb() after `register` (store buffering with the drain).
            fence(SeqCst);
        }
        // `TxRing::space`: the published consumer position.
        let cons = self.consumer_pos.load(Relaxed);
        if DATA - p.pos.wrapping_sub(cons) >= need {
            Ok(())
        } else {
            Err(generation)
        }
    }

    /// Whether a writer asleep at generation `g` was woken since.
    pub fn woken_since(&self, g: u64) -> bool {
        *self.wait.lock().unwrap() > g
    }
}
