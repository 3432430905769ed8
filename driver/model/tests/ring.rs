// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The ring protocol under loom: every interleaving of a few threads, within the
//! preemption bound each test states, and every value each atomic load may return
//! under the C11 model (which loom implements for acquire, release and SeqCst fences).

use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

use loom::{
    model::Builder,
    sync::{
        atomic::{fence, AtomicBool, AtomicU32, Ordering::*},
        Arc,
    },
    thread,
};
use mymap_ring_model::{record_size, Consumer, Protocol, Ring, Wait, DATA};

/// Runs `f` in every interleaving, with at most `bound` preemptions (`None`: no bound;
/// `LOOM_MAX_PREEMPTIONS` overrides), and prints how many executions that was (shown with
/// `--nocapture`).
fn check(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut b = Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = bound;
    }
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    b.check(move || {
        counted.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    println!(
        "{} executions (preemption bound {:?})",
        runs.load(StdOrdering::Relaxed),
        b.preemption_bound
    );
}

/// Spawns a loom thread named `name` (the name shows in traces).
fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("loom spawns")
}

/// Reserves, fills and commits a record of `len` bytes; `false` if it was dropped.
fn produce(ring: &Ring, len: u32) -> bool {
    match ring.reserve(len) {
        Ok(r) => {
            ring.write(&r);
            ring.commit(r);
            true
        }
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------
// Lost wakeups: the mapped consumer (consume, then poll).

/// One record is committed (or discarded, if `discarded`) at 0 and not yet consumed. The
/// producer commits a second one (at 32) while the consumer consumes what it sees (the
/// first record, or both, or nothing), releases its position and polls.
fn caught_up_consumer(ring: Ring, discarded: bool) {
    let ring = Arc::new(ring);
    let first = ring.reserve(8).unwrap();
    ring.write(&first);
    if discarded {
        ring.discard(first);
    } else {
        ring.commit(first);
    }
    let p = {
        let ring = ring.clone();
        spawn("producer", move || assert!(produce(&ring, 8)))
    };
    let c = {
        let ring = ring.clone();
        spawn("consumer", move || {
            let mut c = Consumer::at(0);
            c.consume(&ring);
            ring.poll()
        })
    };
    p.join().unwrap();
    let wait = c.join().unwrap();
    ring.check_no_lost_wakeup(wait);
}

/// The OLD orderings: `finish` stores the len word with release and then loads the
/// consumer position; the consumer stores its position with release and then (`poll`,
/// no barrier) loads the len word. That is store buffering: both loads may miss the
/// other side's store, the producer sees no caught-up consumer and does not wake it, the
/// consumer sees the record BUSY and sleeps.
#[test]
#[should_panic(expected = "lost wakeup")]
fn old_orderings_lose_a_wakeup() {
    check(None, || caught_up_consumer(Ring::new(Protocol::OLD), false));
}

/// As [`old_orderings_lose_a_wakeup`], failing (not `should_panic`) with the interleaving
/// in its message, one shared access a line. Run with `--ignored --nocapture`.
#[test]
#[ignore = "fails on purpose: prints the lost wakeup's interleaving"]
fn old_orderings_trace() {
    let mut b = Builder::new();
    b.location = true;
    b.check(|| caught_up_consumer(Ring::traced(Protocol::OLD), false));
}

/// The NEW orderings (xchg in `finish`, smp_mb() in `poll`): no interleaving loses the
/// wakeup, after a committed or a discarded record.
#[test]
fn new_orderings_never_lose_a_wakeup() {
    check(None, || caught_up_consumer(Ring::new(Protocol::NEW), false));
    check(None, || caught_up_consumer(Ring::new(Protocol::NEW), true));
}

/// A consumer that never sleeps (it consumes, and neither polls nor reads): the producer
/// commits at the caught-up consumer, which is due a wakeup under CAUGHT_UP, and queues
/// none, because nobody is registered (`wake_if_waiting`). Without the check it queues one.
fn spinning_consumer(proto: Protocol) -> u64 {
    let ring = Arc::new(Ring::new(proto));
    let p = {
        let ring = ring.clone();
        spawn("producer", move || assert!(produce(&ring, 8)))
    };
    let c = {
        let ring = ring.clone();
        spawn("consumer", move || Consumer::at(0).consume(&ring))
    };
    p.join().unwrap();
    c.join().unwrap();
    ring.wakeups()
}

#[test]
fn spinning_consumer_is_not_woken() {
    check(None, || assert_eq!(spinning_consumer(Protocol::NEW), 0));
}

#[test]
#[should_panic(expected = "woken")]
fn spinning_consumer_is_woken_without_the_check() {
    check(None, || {
        let proto = Protocol {
            wake_if_waiting: false,
            ..Protocol::NEW
        };
        assert_eq!(spinning_consumer(proto), 0, "woken");
    });
}

/// A 16-byte record (40 bytes) is committed at 0. The consumer consumes two batches and
/// polls; the producer tries an 8-byte record, which fits only behind a WRAP word at 40,
/// at 0, once the consumer has released 40 (else it is dropped). The consumer may stop
/// at the WRAP word, or skip it and stop at the BUSY record at 0: `wake_due`'s WRAP case
/// must wake it in both.
fn consumer_at_a_wrap(proto: Protocol) {
    let ring = Arc::new(Ring::new(proto));
    assert!(produce(&ring, 16));
    let p = {
        let ring = ring.clone();
        spawn("producer", move || produce(&ring, 8))
    };
    let c = {
        let ring = ring.clone();
        spawn("consumer", move || {
            let mut c = Consumer::at(0);
            c.consume(&ring);
            c.consume(&ring);
            ring.poll()
        })
    };
    p.join().unwrap();
    let wait = c.join().unwrap();
    ring.check_no_lost_wakeup(wait);
}

#[test]
fn new_orderings_never_lose_a_wakeup_at_a_wrap() {
    check(None, || consumer_at_a_wrap(Protocol::NEW));
}

/// Two producers commit one record each (at 0 and 32, in either order) while a consumer,
/// caught up at 0, consumes one batch (it may stop at either BUSY record) and polls.
fn two_producers(proto: Protocol) {
    let ring = Arc::new(Ring::new(proto));
    let producers: Vec<_> = ["producer1", "producer2"]
        .into_iter()
        .map(|name| {
            let ring = ring.clone();
            spawn(name, move || assert!(produce(&ring, 8)))
        })
        .collect();
    let c = {
        let ring = ring.clone();
        spawn("consumer", move || {
            let mut c = Consumer::at(0);
            c.consume(&ring);
            ring.poll()
        })
    };
    for p in producers {
        p.join().unwrap();
    }
    let wait = c.join().unwrap();
    ring.check_no_lost_wakeup(wait);
}

/// Three threads: bounded to 3 preemptions (the lost wakeup of the OLD orderings needs
/// one, see [`two_producers_old_orderings_lose_a_wakeup`]).
#[test]
fn new_orderings_two_producers_never_lose_a_wakeup() {
    check(Some(3), || two_producers(Protocol::NEW));
}

/// The same bound finds the OLD orderings' lost wakeup in this scenario too.
#[test]
#[should_panic(expected = "lost wakeup")]
fn two_producers_old_orderings_lose_a_wakeup() {
    check(Some(3), || two_producers(Protocol::OLD));
}

// ---------------------------------------------------------------------------------------
// Lost wakeups: the kernel's consumer, read().

/// A discarded record at 0, a BUSY one at 32. The consumer calls read(), which skips
/// the discarded record (releasing its position) and finds the next BUSY, while the
/// producer commits it.
fn read_after_a_discard(ring: Ring) {
    let ring = Arc::new(ring);
    let d = ring.reserve(8).unwrap();
    ring.write(&d);
    ring.discard(d);
    let r = ring.reserve(8).unwrap();
    let p = {
        let ring = ring.clone();
        spawn("producer", move || {
            ring.write(&r);
            ring.commit(r);
        })
    };
    let c = {
        let ring = ring.clone();
        spawn("reader", move || match ring.read() {
            Ok(_) => Wait::Ready,
            Err(wait) => wait,
        })
    };
    p.join().unwrap();
    let wait = c.join().unwrap();
    ring.check_no_lost_wakeup(wait);
}

/// A committed record at 0, a BUSY one at 32. The consumer calls read() twice (the
/// second finds the BUSY record, or the committed one) while the producer commits it.
fn read_twice(proto: Protocol) {
    let ring = Arc::new(Ring::new(proto));
    assert!(produce(&ring, 8));
    let r = ring.reserve(8).unwrap();
    let p = {
        let ring = ring.clone();
        spawn("producer", move || {
            ring.write(&r);
            ring.commit(r);
        })
    };
    let c = {
        let ring = ring.clone();
        spawn("reader", move || {
            assert_eq!(ring.read().map(|s| s.seq), Ok(0));
            match ring.read() {
                Ok(_) => Wait::Ready,
                Err(wait) => wait,
            }
        })
    };
    p.join().unwrap();
    let wait = c.join().unwrap();
    ring.check_no_lost_wakeup(wait);
}

/// The NEW protocol as specified loses a wakeup in read(): read() releases its position
/// past the discarded record and then loads the next len word, with no full barrier in
/// between (store buffering with `finish`), so the producer may miss the caught-up
/// consumer while read() sees the record BUSY and sleeps. `poll` has the barrier; read()
/// needs one too.
/// [`Protocol::NEW`] without the barrier of read() (the driver's first version of the fix).
const NO_READ_BARRIER: Protocol = Protocol {
    read_barrier: false,
    ..Protocol::NEW
};

#[test]
#[should_panic(expected = "lost wakeup")]
fn read_after_a_discard_loses_a_wakeup_without_a_barrier() {
    check(None, || read_after_a_discard(Ring::new(NO_READ_BARRIER)));
}

/// As [`read_after_a_discard_loses_a_wakeup_without_a_barrier`], failing with the
/// interleaving in its message. Run with `--ignored --nocapture`.
#[test]
#[ignore = "fails on purpose: prints the lost wakeup's interleaving"]
fn read_after_a_discard_trace() {
    let mut b = Builder::new();
    b.location = true;
    b.check(|| read_after_a_discard(Ring::traced(NO_READ_BARRIER)));
}

/// The same across two read() calls: the first releases the record's position, the
/// second loads the next len word; the locks between them order nothing for the producer,
/// which takes none of them in `finish`.
#[test]
#[should_panic(expected = "lost wakeup")]
fn read_twice_loses_a_wakeup_without_a_barrier() {
    check(None, || read_twice(NO_READ_BARRIER));
}

/// With smp_mb() before read() loads the len word (the driver), neither loses a wakeup.
#[test]
fn read_with_a_barrier_never_loses_a_wakeup() {
    check(None, || read_after_a_discard(Ring::new(Protocol::NEW)));
    check(None, || read_twice(Protocol::NEW));
}

// ---------------------------------------------------------------------------------------
// The checker itself: store buffering.

/// The store-buffering litmus test: each thread stores one location and then loads the
/// other. With `barrier` as the fence between (or `None`), can both loads read 0?
fn store_buffering(first: fn(&AtomicU32), barrier: Option<()>) {
    loom::model(move || {
        let x = Arc::new(AtomicU32::new(0));
        let y = Arc::new(AtomicU32::new(0));
        let t = {
            let (x, y) = (x.clone(), y.clone());
            thread::spawn(move || {
                first(&x);
                if barrier.is_some() {
                    fence(SeqCst);
                }
                y.load(Acquire)
            })
        };
        y.store(1, Release);
        if barrier.is_some() {
            fence(SeqCst);
        }
        let r2 = x.load(Acquire);
        let r1 = t.join().unwrap();
        assert!(r1 == 1 || r2 == 1, "store buffering: both loads read 0");
    });
}

fn store_release(x: &AtomicU32) {
    x.store(1, Release);
}

fn swap_seqcst(x: &AtomicU32) {
    x.swap(1, SeqCst);
}

/// Release stores and acquire loads do not order a store before a later load: loom finds
/// the outcome where both loads read 0.
#[test]
#[should_panic(expected = "store buffering")]
fn litmus_store_buffering() {
    store_buffering(store_release, None);
}

/// A SeqCst fence on both sides forbids it.
#[test]
fn litmus_store_buffering_with_fences() {
    store_buffering(store_release, Some(()));
}

/// A SeqCst swap followed by an acquire load, against store; fence(SeqCst); load: loom
/// (like C11, where the load is not SeqCst) allows both to read 0. The kernel's xchg() is
/// a full barrier, which is why the model's `finish` follows its swap with a SeqCst
/// fence: this test shows the swap alone would not do.
#[test]
#[should_panic(expected = "store buffering")]
fn litmus_seqcst_swap_is_not_a_fence() {
    loom::model(|| {
        let x = Arc::new(AtomicU32::new(0));
        let y = Arc::new(AtomicU32::new(0));
        let t = {
            let (x, y) = (x.clone(), y.clone());
            thread::spawn(move || {
                swap_seqcst(&x);
                y.load(Acquire)
            })
        };
        y.store(1, Release);
        fence(SeqCst);
        let r2 = x.load(Acquire);
        let r1 = t.join().unwrap();
        assert!(r1 == 1 || r2 == 1, "store buffering: both loads read 0");
    });
}

/// A SeqCst swap followed by a SeqCst fence (the kernel's xchg()) against the same: never.
#[test]
fn litmus_store_buffering_xchg_and_fence() {
    store_buffering(swap_seqcst, Some(()));
}

// ---------------------------------------------------------------------------------------
// A hostile consumer.

/// Producer A reserves the record at 0 and holds it until producer B is done; the
/// consumer stores the producer position as its own, claiming A's BUSY record; B tries
/// three records of the same size, enough to lap the ring. Returns B's (produced, dropped).
fn hostile_consumer(proto: Protocol) -> (u32, u32) {
    let ring = Arc::new(Ring::new(proto));
    let a = ring.reserve(8).unwrap();
    let b_done = Arc::new(AtomicBool::new(false));
    let holder = {
        let (ring, b_done) = (ring.clone(), b_done.clone());
        spawn("holder", move || {
            ring.write(&a);
            while !b_done.load(Acquire) {
                thread::yield_now();
            }
            ring.commit(a);
        })
    };
    let b = {
        let (ring, b_done) = (ring.clone(), b_done.clone());
        spawn("producer", move || {
            let mut counts = (0, 0);
            for _ in 0..3 {
                if produce(&ring, 8) {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
            b_done.store(true, Release);
            counts
        })
    };
    let c = {
        let ring = ring.clone();
        spawn("consumer", move || ring.skip_to_producer())
    };
    holder.join().unwrap();
    let counts = b.join().unwrap();
    c.join().unwrap();
    assert_eq!(ring.dropped(), u64::from(counts.1));
    counts
}

/// NEW: `reserve` stops at A's BUSY record (`pending_pos`), so B's second and third
/// records are dropped whatever the consumer claims; every xchg in `finish` finds its own
/// BUSY word (asserted in the model) and no cell is written twice at once. Bounded to 2
/// preemptions: three threads, and the holder's wait loop.
#[test]
fn hostile_consumer_cannot_lap_a_busy_record() {
    check(Some(2), || {
        assert_eq!(hostile_consumer(Protocol::NEW), (1, 2));
    });
}

/// OLD (space against the consumer position alone): B's second record lands on A's,
/// while A still writes its payload, a data race loom reports.
#[test]
#[should_panic(expected = "Causality violation")]
fn hostile_consumer_laps_a_busy_record_without_pending_pos() {
    check(Some(2), || {
        hostile_consumer(Protocol::OLD);
    });
}

/// NEW orderings without `pending_pos`: the lap is caught by `finish`'s check of the old
/// word, or as a data race, whichever loom meets first.
#[test]
#[should_panic]
fn hostile_consumer_laps_a_busy_record_with_full_barriers_only() {
    check(Some(2), || {
        hostile_consumer(Protocol {
            pending_pos: false,
            ..Protocol::NEW
        });
    });
}

// ---------------------------------------------------------------------------------------
// Records: once, in order, whole; drops counted.

/// Producer X tries one record of 16 bytes (40 in the ring), producer Y two of 8 (32):
/// 104 bytes through a 64-byte ring, so some orders wrap (X at 0, then Y behind a WRAP
/// word at 40) and some drop (X behind Y's first record). The consumer consumes batches
/// until both producers are done, then once more. Adds to `wraps` and `drops` when the
/// execution had one.
fn records(proto: Protocol, wraps: &AtomicUsize, drops: &AtomicUsize) {
    let ring = Arc::new(Ring::new(proto));
    let done = Arc::new(AtomicU32::new(0));
    let producer = |name: &str, lens: &'static [u32]| {
        let (ring, done) = (ring.clone(), done.clone());
        spawn(name, move || {
            let mut out = Vec::new();
            for &len in lens {
                match ring.reserve(len) {
                    Ok(r) => {
                        ring.write(&r);
                        out.push((r.seq, Ok(len)));
                        ring.commit(r);
                    }
                    Err(d) => out.push((d.seq, Err(()))),
                }
            }
            done.fetch_add(1, Release);
            out
        })
    };
    let x = producer("producerX", &[16]);
    let y = producer("producerY", &[8, 8]);
    let c = {
        let (ring, done) = (ring.clone(), done.clone());
        spawn("consumer", move || {
            let mut c = Consumer::at(0);
            loop {
                let finished = done.load(Acquire) == 2;
                c.consume(&ring);
                if finished {
                    break c.seen;
                }
                thread::yield_now();
            }
        })
    };
    let mut attempts = x.join().unwrap();
    attempts.extend(y.join().unwrap());
    let seen = c.join().unwrap();
    attempts.sort_by_key(|a| a.0);

    // Every sequence number attempted once: 0, 1, 2.
    let seqs: Vec<u64> = attempts.iter().map(|a| a.0).collect();
    assert_eq!(seqs, [0, 1, 2]);
    // The consumer saw exactly the records produced, in order (the consumer checks the
    // order and each record's bytes as it goes), and every gap in what it saw is a drop.
    let produced: Vec<u64> = attempts
        .iter()
        .filter(|a| a.1.is_ok())
        .map(|a| a.0)
        .collect();
    let seen_seqs: Vec<u64> = seen.iter().map(|s| s.seq).collect();
    assert_eq!(
        seen_seqs, produced,
        "the consumer saw other records than produced"
    );
    assert!(seen.iter().all(|s| !s.discarded));
    let dropped = attempts.len() - produced.len();
    assert_eq!(ring.dropped(), dropped as u64);
    for w in seen_seqs.windows(2) {
        let gap = w[1] - w[0] - 1;
        let drops_between = attempts
            .iter()
            .filter(|a| a.1.is_err() && a.0 > w[0] && a.0 < w[1])
            .count() as u64;
        assert_eq!(
            gap, drops_between,
            "a gap in the sequence that is not drops"
        );
    }
    // Coverage: did this execution wrap, drop?
    let bytes: u32 = attempts
        .iter()
        .filter_map(|a| a.1.ok())
        .map(record_size)
        .sum();
    if ring.producer_pos() != bytes {
        wraps.fetch_add(1, StdOrdering::Relaxed);
    }
    if dropped > 0 {
        drops.fetch_add(1, StdOrdering::Relaxed);
    }
    assert!(bytes <= 2 * DATA);
}

/// Bounded to 2 preemptions: three threads and a consumer loop.
#[test]
fn records_once_in_order_with_wraps_and_drops() {
    let wraps = std::sync::Arc::new(AtomicUsize::new(0));
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    {
        let (wraps, drops) = (wraps.clone(), drops.clone());
        check(Some(2), move || records(Protocol::NEW, &wraps, &drops));
    }
    assert!(wraps.load(StdOrdering::Relaxed) > 0, "no execution wrapped");
    assert!(drops.load(StdOrdering::Relaxed) > 0, "no execution dropped");
}
