// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The tx ring protocol (userspace producer, kernel consumer) under loom: every
//! interleaving within each test's preemption bound, and every value each atomic load
//! may return under the C11 model.

use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

use loom::{model::Builder, sync::Arc, thread};
use mymap_ring_model::{
    record_size,
    tx::{Producer, Tx, TxOrdering},
    BUSY, DATA, WRAP,
};

/// Runs `f` in every interleaving, with at most `bound` preemptions (`LOOM_MAX_PREEMPTIONS`
/// overrides), and prints how many executions that was.
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

/// Records of 8 bytes (32 with the header): two fill the 64-byte ring.
const LEN: u32 = 8;

/// The producer writes three records, the third into the space of the first once the
/// kernel has released it; the kernel drains until it has all three. Each is taken once,
/// in order, intact (a torn copy or a copy racing with the rewrite fails).
fn three_records_over_a_lap(ord: TxOrdering, busy: bool) {
    let tx = Arc::new(Tx::new(ord));
    let producer = {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut p = Producer::default();
            for seq in 0..3 {
                while tx.write(&mut p, seq, LEN, busy).is_none() {
                    thread::yield_now();
                }
                tx.publish(&p);
            }
        })
    };
    let kernel = {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut n = 0;
            while n < 3 {
                n += tx.drain();
                if n < 3 {
                    thread::yield_now();
                }
            }
        })
    };
    producer.join().unwrap();
    kernel.join().unwrap();
    let (taken, malformed, bad) = tx.drained();
    let seqs: Vec<u64> = taken.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, [0, 1, 2], "records taken");
    assert!(taken.iter().all(|t| t.intact), "a torn record: {taken:?}");
    assert_eq!((malformed, bad), (0, 0));
}

/// The header's orderings: records pass intact, once each, in order, over a lap.
#[test]
fn records_pass_intact_over_a_lap() {
    check(Some(3), || {
        three_records_over_a_lap(TxOrdering::DRIVER, false)
    });
}

/// The same with BUSY records published before they are complete (a producer whose
/// other threads publish the position early).
#[test]
fn busy_records_pass_intact_over_a_lap() {
    check(Some(3), || {
        three_records_over_a_lap(TxOrdering::DRIVER, true)
    });
}

/// Without the producer's release (and the kernel's acquire) the kernel may copy a
/// record before its bytes are written: loom reports the race.
#[test]
#[should_panic(expected = "Causality violation")]
fn without_producer_release_the_kernel_reads_a_torn_record() {
    let ord = TxOrdering {
        producer_release: false,
        ..TxOrdering::DRIVER
    };
    check(Some(3), move || three_records_over_a_lap(ord, false));
}

/// Without the kernel's release of its position (and the producer's acquire) the
/// producer may rewrite a record the kernel is still copying: loom reports the race.
#[test]
#[should_panic(expected = "Causality violation")]
fn without_consumer_release_the_producer_overwrites_a_record_being_copied() {
    let ord = TxOrdering {
        consumer_release: false,
        ..TxOrdering::DRIVER
    };
    check(Some(3), move || three_records_over_a_lap(ord, false));
}

/// The ring is full (two records published); a writer polls for room for one record
/// while the kernel drains. The writer either sees the room or is woken: it never
/// sleeps through freed space.
fn writer_and_drain(ord: TxOrdering) {
    check(None, move || {
        let tx = Arc::new(Tx::new(ord));
        let mut p = Producer::default();
        for seq in 0..2 {
            tx.write(&mut p, seq, LEN, false).unwrap();
        }
        tx.publish(&p);
        let writer = {
            let tx = tx.clone();
            thread::spawn(move || tx.poll_writable(&p, record_size(LEN)))
        };
        let kernel = {
            let tx = tx.clone();
            thread::spawn(move || tx.drain())
        };
        let verdict = writer.join().unwrap();
        assert_eq!(kernel.join().unwrap(), 2);
        if let Err(g) = verdict {
            assert!(tx.woken_since(g), "the writer sleeps with the ring empty");
        }
    });
}

#[test]
fn a_writer_never_sleeps_through_freed_space() {
    writer_and_drain(TxOrdering::DRIVER);
}

/// Waking only a registered writer needs the two full barriers: without them the drain
/// may miss the registration while the writer misses the new position (store buffering).
#[test]
#[should_panic(expected = "the writer sleeps with the ring empty")]
fn a_writer_sleeps_through_freed_space_without_the_barriers() {
    writer_and_drain(TxOrdering {
        wake_barriers: false,
        ..TxOrdering::DRIVER
    });
}

/// A lying producer: while the kernel drains twice, a second producer thread stores a
/// position behind the kernel's, one too far ahead, an unaligned one, and garbage `len`
/// words over published records (an unknown bit, a length crossing the end, a WRAP word
/// where none fits). The kernel never takes a position twice or goes backwards, never
/// takes a record past a published position, and counts the lies it saw.
#[test]
fn a_lying_producer_hurts_only_its_stream() {
    for lie in 0..6u32 {
        check(Some(2), move || {
            let tx = Arc::new(Tx::new(TxOrdering::DRIVER));
            let mut p = Producer::default();
            tx.write(&mut p, 0, LEN, false).unwrap();
            tx.write(&mut p, 1, LEN, false).unwrap();
            let honest_end = p.pos;
            let liar = {
                let tx = tx.clone();
                thread::spawn(move || match lie {
                    0 => tx.publish_raw(0u32.wrapping_sub(8)),
                    1 => tx.publish_raw(DATA + 8),
                    2 => tx.publish_raw(12),
                    3 => {
                        tx.publish_raw(honest_end);
                        tx.scribble_word(32, 0x1000_0000 | LEN);
                    }
                    4 => {
                        tx.publish_raw(honest_end);
                        tx.scribble_word(32, 40);
                    }
                    _ => {
                        tx.publish_raw(honest_end);
                        tx.scribble_word(0, WRAP);
                        tx.scribble_word(32, BUSY);
                    }
                })
            };
            let kernel = {
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.drain();
                    tx.drain();
                })
            };
            liar.join().unwrap();
            kernel.join().unwrap();
            let (taken, _, _) = tx.drained();
            if lie <= 2 {
                assert!(taken.is_empty(), "took {taken:?} at a refused position");
            }
            let mut last: Option<u32> = None;
            for t in &taken {
                assert!(t.pos < honest_end, "took a record at {} past 64", t.pos);
                assert!(
                    last.is_none_or(|l| t.pos > l),
                    "took position {} after {last:?}",
                    t.pos
                );
                last = Some(t.pos);
            }
        });
    }
}
