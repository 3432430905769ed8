// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The BPF ring buffer's sides of the ring measurements (issue 20): its XDP
//! producer run by `BPF_PROG_TEST_RUN` on the producers' thread, as mymap's
//! injector is, and `aya`'s consumer here, spinning or in `epoll_wait`, each
//! round checked as mymap's are (sequence, length, payload, the end marker).

use std::{
    io,
    sync::{
        atomic::Ordering::Relaxed,
        Arc, //
    },
    thread,
    time::{
        Duration,
        Instant, //
    },
};

use mymap::Wakeup;
use mymap_target_support::sys::{
    monotonic_ns,
    sleep_until_ns, //
};
use mymap_uapi::{
    bindings::MYMAP_SOURCE_INJECT,
    ring::record_size, //
};

use super::{
    first_word,
    rotate,
    Check,
    Consume,
    Flags,
    Policy,
    Produced,
    Ring,
    Worker,
    CAUGHT_UP,
    SMALL,
    STALL, //
};
use crate::{
    bpf::{
        Len,
        Producer,
        Sample,
        Wakeups, //
    },
    ring_report::{
        LatencyRound,
        RateRound,
        RateSide,
        RingRatio,
        Throughput,
        Unit, //
    },
    stats::Bound,
    RingConfig,
};

/// mymap's rate against the BPF ring buffer's: at least as fast (issue 20).
const BPF_TARGET: Bound = Bound::AtLeast(1.0);
/// The payload bytes of the smallest records.
pub(super) const TINY: u32 = 8;

/// The policy id a BPF side's record carries.
fn policy(mode: Wakeups) -> &'static str {
    match mode {
        Wakeups::Adaptive => "bpf-default",
        Wakeups::Sampled => "bpf-sampled",
    }
}

impl Check {
    /// Checks one BPF sample, as [`Check::ring`] checks one of mymap's records.
    fn sample(&mut self, s: &Sample<'_>) {
        self.record(
            s.payload.len() as u32,
            self.source,
            s.seq,
            first_word(s.payload),
        );
    }
}

/// Makes `n` records of `len` bytes with the BPF programs once the consumer is
/// ready, then the marker (retrying while the ring is full).
fn produce(p: &Producer, len: Len, n: u32, mode: Wakeups, flags: &Flags) -> io::Result<Produced> {
    let run = || {
        flags.wait_ready()?;
        let start = Instant::now();
        let made = p.produce(len, n.into(), mode)?;
        let took = start.elapsed();
        mark(p, mode)?;
        Ok(Produced {
            start,
            took,
            produced: made.produced,
            dropped: made.dropped,
        })
    };
    let result = run();
    if result.is_err() {
        flags.failed.store(true, Relaxed);
    }
    result
}

/// Puts the BPF end marker in, retrying while the ring is full.
fn mark(p: &Producer, mode: Wakeups) -> io::Result<()> {
    let deadline = Instant::now() + STALL;
    while !p.mark(mode)? {
        if Instant::now() > deadline {
            return Err(io::Error::other(
                "the BPF end marker found the ring full for 20 s: the consumer stopped",
            ));
        }
        thread::sleep(Duration::from_micros(50));
    }
    Ok(())
}

/// One round of the BPF ring buffer: its producer in the producers' thread,
/// `how` consuming here (`Consume::Spin` or `Consume::Epoll`).
pub(super) fn bpf_rate(
    ring: &mut Ring,
    len: u32,
    n: u32,
    how: Consume,
    mode: Wakeups,
) -> io::Result<RateRound> {
    let Some((producer, consumer)) = ring.bpf.as_mut() else {
        return Err(io::Error::other("no BPF peer"));
    };
    let producer = *producer;
    let size =
        Len::of(len).ok_or_else(|| io::Error::other(format!("no BPF program for {len} B")))?;
    if consumer.drain(|_| {})? != 0 {
        return Err(io::Error::other(
            "the BPF ring is not empty at the start of a round",
        ));
    }
    let flags = Arc::new(Flags::default());
    let mut check = Check::new(len, MYMAP_SOURCE_INJECT);
    let mut waits = 0u64;
    let mut copy = vec![0u8; len as usize];
    let pending = ring.worker.start({
        let flags = flags.clone();
        move || produce(producer, size, n, mode, &flags)
    });
    let consumed = (|| -> io::Result<Instant> {
        let stalled = Instant::now() + STALL;
        flags.ready.store(true, Relaxed);
        while !check.done {
            if flags.failed.load(Relaxed) {
                return Err(io::Error::other("the BPF producer failed"));
            }
            let got = if how == Consume::SpinCopy {
                consumer.drain(|s| check.copied(s.payload, check.source, s.seq, &mut copy))?
            } else {
                consumer.drain(|s| check.sample(s))?
            };
            if got == 0 && how == Consume::Epoll && !check.done {
                waits += 1;
                consumer.wait(Duration::from_millis(100))?;
            }
            if got == 0 && Instant::now() > stalled {
                return Err(io::Error::other("no BPF end marker within 20 s"));
            }
        }
        Ok(Instant::now())
    })();
    let (produced, end) = (pending.wait()?, consumed);
    let (produced, end) = (produced?, end?);
    check.result()?;
    if check.delivered != produced.produced {
        return Err(io::Error::other(format!(
            "the BPF producer committed {} records, the consumer received {}",
            produced.produced, check.delivered
        )));
    }
    Ok(RateRound {
        delivered: check.delivered,
        dropped: produced.dropped,
        elapsed_s: (end - produced.start).as_secs_f64(),
        producer_s: Some(produced.took.as_secs_f64()),
        wakeups: None,
        waits: (how == Consume::Epoll).then_some(waits),
    })
}

/// The BPF sides of a records-per-second measurement of `len`-byte records:
/// a spinning and an epoll consumer under BPF's default wakeups.
pub(super) fn rate_sides() -> [RateSide; 2] {
    [
        RateSide {
            id: "bpf-spin",
            label: "BPF ring buffer, spinning consumer (aya)",
            policy: Some(policy(Wakeups::Adaptive)),
            rounds: Vec::new(),
        },
        RateSide {
            id: "bpf-epoll",
            label: "BPF ring buffer, epoll consumer (aya)",
            policy: Some(policy(Wakeups::Adaptive)),
            rounds: Vec::new(),
        },
    ]
}

/// Runs BPF side `i` of [`rate_sides`] for one round.
pub(super) fn rate_round(ring: &mut Ring, i: usize, len: u32, n: u32) -> io::Result<RateRound> {
    let how = if i == 0 {
        Consume::Spin
    } else {
        Consume::Epoll
    };
    bpf_rate(ring, len, n, how, Wakeups::Adaptive)
}

/// mymap's sides against the BPF ring buffer's of the same kind, where both
/// were measured: the spinning consumers under each one's wakeups when the
/// consumer caught up, and the epoll consumers.
pub(super) fn ratios(t: &Throughput) -> io::Result<Vec<RingRatio>> {
    [
        ("ring-spin-caught-up", "bpf-spin"),
        ("ring-epoll", "bpf-epoll"),
        ("ring-copy", "bpf-copy"),
        ("ring-fill", "bpf-fill"),
        ("ring-epoll-sampled", "bpf-epoll-sampled"),
    ]
    .into_iter()
    .filter(|(side, against)| t.side(side).is_some() && t.side(against).is_some())
    .map(|(side, against)| super::rate_ratio(t, side, against, Some(BPF_TARGET)))
    .collect()
}

/// The BPF side of the payload bytes per second of 4 KiB records: a spinning
/// consumer copying each payload out, as mymap's `ring-copy`, under
/// `BPF_RB_NO_WAKEUP` (a forced wakeup every 500 records) as mymap's is under
/// a policy that never wakes it.
pub(super) fn copy_side() -> RateSide {
    RateSide {
        id: "bpf-copy",
        label: "BPF ring buffer, spinning consumer copying each payload out (aya)",
        policy: Some(policy(Wakeups::Sampled)),
        rounds: Vec::new(),
    }
}

/// One round of [`copy_side`], `n` records.
pub(super) fn copy_round(ring: &mut Ring, n: u32) -> io::Result<RateRound> {
    bpf_rate(ring, super::LARGE, n, Consume::SpinCopy, Wakeups::Sampled)
}

/// 8-byte records per second: mymap's spinning consumer under CAUGHT_UP and
/// its epoll consumer, against the BPF ring buffer's (where it runs).
pub(super) fn records_8(ring: &mut Ring, cfg: &RingConfig) -> io::Result<Throughput> {
    let n = cfg.records;
    let bpf = if ring.bpf.is_some() { 2 } else { 0 };
    let mut results = rotate(cfg.rounds, 2 + bpf, |i| match i {
        0 => super::ring_rate(ring, &CAUGHT_UP, n, TINY, Consume::Spin),
        1 => super::ring_rate(ring, &CAUGHT_UP, n, TINY, Consume::Epoll),
        _ => rate_round(ring, i - 2, TINY, n),
    })?
    .into_iter();
    let mut sides = vec![
        RateSide {
            id: "ring-spin-caught-up",
            label: "ring, spinning consumer, CAUGHT_UP",
            policy: Some(CAUGHT_UP.id),
            rounds: Vec::new(),
        },
        RateSide {
            id: "ring-epoll",
            label: "ring, epoll consumer",
            policy: Some(CAUGHT_UP.id),
            rounds: Vec::new(),
        },
    ];
    if bpf > 0 {
        sides.extend(rate_sides());
    }
    for side in &mut sides {
        side.rounds = results.next().unwrap_or_default();
    }
    Ok(Throughput {
        id: "records-8",
        what: "8-byte records per second",
        unit: Unit::Records,
        len: TINY,
        attempted: n.into(),
        sides,
    })
}

/// One round of a producer alone, nobody consuming nor waiting: `cycles` times,
/// the producers' thread fills the empty ring with `per_fill` records of `len`
/// bytes (timed), then the consumer here drains and checks them (untimed).
/// mymap's injector under CAUGHT_UP, or the BPF programs under BPF's default
/// wakeups: each wakes for the first record, which finds the consumer caught up.
fn fill_round(
    ring: &mut Ring,
    len: u32,
    per_fill: u32,
    cycles: u32,
    bpf: bool,
) -> io::Result<RateRound> {
    let mut check = Check::new(len, MYMAP_SOURCE_INJECT);
    let (mut took, mut produced, mut dropped) = (Duration::ZERO, 0, 0);
    let before = if bpf {
        None
    } else {
        ring.start(&CAUGHT_UP, Consume::Spin)?;
        Some(ring.stats()?)
    };
    for _ in 0..cycles {
        let (t, made) = if bpf {
            let Some((producer, consumer)) = ring.bpf.as_mut() else {
                return Err(io::Error::other("no BPF peer"));
            };
            let producer = *producer;
            let size = Len::of(len)
                .ok_or_else(|| io::Error::other(format!("no BPF program for {len} B")))?;
            let (t, made) = ring
                .worker
                .start(move || {
                    let start = Instant::now();
                    let made = producer.produce(size, per_fill.into(), Wakeups::Adaptive);
                    (start.elapsed(), made)
                })
                .wait()?;
            let made = made?;
            consumer.drain(|s| check.sample(s))?;
            (t, (made.produced, made.dropped))
        } else {
            let ctl = ring.ctl;
            let (t, made) = ring
                .worker
                .start(move || {
                    let start = Instant::now();
                    let made = ctl.inject(per_fill, len);
                    (start.elapsed(), made)
                })
                .wait()?;
            let made = made.map_err(super::lib)?;
            ring.drain(|r| check.ring(r))?;
            (t, (made.produced.into(), made.dropped.into()))
        };
        took += t;
        produced += made.0;
        dropped += made.1;
    }
    check.result()?;
    if check.delivered != produced {
        return Err(io::Error::other(format!(
            "the producer committed {produced} records, the consumer found {}",
            check.delivered
        )));
    }
    let wakeups = match before {
        Some(before) => Some(ring.stats()?.wakeups - before.wakeups),
        None => None,
    };
    Ok(RateRound {
        delivered: produced,
        dropped,
        elapsed_s: took.as_secs_f64(),
        producer_s: Some(took.as_secs_f64()),
        wakeups,
        waits: None,
    })
}

/// The producer alone, `len`-byte records: mymap's injector and the BPF
/// programs filling an empty ring, nobody consuming; records per second of the
/// producer's time (its cost per record is the inverse).
pub(super) fn fill(ring: &mut Ring, cfg: &RingConfig, len: u32) -> io::Result<Throughput> {
    let (per_fill, cycles) = super::fills(ring.data_size(), len, cfg.records);
    let n = 1 + usize::from(ring.bpf.is_some());
    let mut results = rotate(cfg.rounds, n, |i| {
        fill_round(ring, len, per_fill, cycles, i == 1)
    })?
    .into_iter();
    let mut sides = vec![RateSide {
        id: "ring-fill",
        label: "ring, the injector filling an empty ring, nobody consuming",
        policy: Some(CAUGHT_UP.id),
        rounds: Vec::new(),
    }];
    if n > 1 {
        sides.push(RateSide {
            id: "bpf-fill",
            label: "BPF ring buffer, its programs filling an empty ring, nobody consuming",
            policy: Some(policy(Wakeups::Adaptive)),
            rounds: Vec::new(),
        });
    }
    for side in &mut sides {
        side.rounds = results.next().unwrap_or_default();
    }
    Ok(Throughput {
        id: if len == TINY { "fill-8" } else { "fill-64" },
        what: if len == TINY {
            "8-byte records per second, the producer alone"
        } else {
            "64-byte records per second, the producer alone"
        },
        unit: Unit::Records,
        len,
        attempted: u64::from(per_fill) * u64::from(cycles),
        sides,
    })
}

/// The sampled mode's wakeup: every [`SAMPLE`] records.
const SAMPLE: u32 = 500;

/// mymap's sampled mode for `len`-byte records: WATERMARK at [`SAMPLE`]
/// records' bytes, and 1 ms after the first record so that the end of a
/// stream (the marker, under the same policy) is not left waiting.
fn sampled(len: u32) -> Policy {
    Policy {
        id: "watermark-500",
        text: "WATERMARK 500 records, 1 ms",
        wakeup: Wakeup::Watermark {
            bytes: SAMPLE * record_size(len),
            max_latency: Some(Duration::from_millis(1)),
        },
    }
}

/// Records per second with an epoll consumer woken every [`SAMPLE`] records:
/// mymap under WATERMARK, the BPF ring buffer with `BPF_RB_NO_WAKEUP` and
/// `BPF_RB_FORCE_WAKEUP` every 500 (its marker forced).
pub(super) fn sampled_rate(ring: &mut Ring, cfg: &RingConfig, len: u32) -> io::Result<Throughput> {
    let n = cfg.records;
    let watermark = sampled(len);
    let sides_n = 1 + usize::from(ring.bpf.is_some());
    let mut results = rotate(cfg.rounds, sides_n, |i| match i {
        0 => super::ring_rate(ring, &watermark, n, len, Consume::Epoll),
        _ => bpf_rate(ring, len, n, Consume::Epoll, Wakeups::Sampled),
    })?
    .into_iter();
    let mut sides = vec![RateSide {
        id: "ring-epoll-sampled",
        label: "ring, epoll consumer, WATERMARK every 500 records",
        policy: Some(watermark.id),
        rounds: Vec::new(),
    }];
    if sides_n > 1 {
        sides.push(RateSide {
            id: "bpf-epoll-sampled",
            label: "BPF ring buffer, epoll consumer (aya), woken every 500 records",
            policy: Some(policy(Wakeups::Sampled)),
            rounds: Vec::new(),
        });
    }
    for side in &mut sides {
        side.rounds = results.next().unwrap_or_default();
    }
    Ok(Throughput {
        id: if len == TINY {
            "sampled-8"
        } else {
            "sampled-64"
        },
        what: if len == TINY {
            "8-byte records per second, woken every 500"
        } else {
            "64-byte records per second, woken every 500"
        },
        unit: Unit::Records,
        len,
        attempted: n.into(),
        sides,
    })
}

/// Runs `produce` on the producers' thread every `1 / rate_hz` s (absolute
/// `clock_nanosleep`, missed periods skipped as the kernel's timer does),
/// `count` times, or until `stop` is set.
fn paced<'env>(
    worker: &Worker<'env>,
    rate_hz: u32,
    count: usize,
    stop: Arc<Flags>,
    mut produce: impl FnMut() -> io::Result<()> + Send + 'env,
) -> super::Pending<io::Result<()>> {
    let period = 1_000_000_000 / u64::from(rate_hz);
    worker.start(move || {
        let mut run = || {
            let mut next = monotonic_ns() + period;
            for _ in 0..count {
                if stop.failed.load(Relaxed) {
                    break;
                }
                sleep_until_ns(next);
                produce()?;
                next += period;
                let now = monotonic_ns();
                if next <= now {
                    next += ((now - next) / period + 1) * period;
                }
            }
            Ok(())
        };
        let result = run();
        if result.is_err() {
            stop.failed.store(true, Relaxed);
        }
        result
    })
}

/// One round of a paced producer's latency: `count` records of [`SMALL`]
/// bytes at `rate_hz`, one per system call from the producers' thread (mymap's
/// injector, or one BPF test run), an epoll consumer here under CAUGHT_UP or
/// BPF's default wakeups; each sample is the consumer's CLOCK_MONOTONIC when
/// it has the record minus the record's timestamp (both CLOCK_MONOTONIC).
pub(super) fn paced_latency(
    ring: &mut Ring,
    rate_hz: u32,
    count: usize,
    bpf: bool,
) -> io::Result<LatencyRound> {
    let mut check = Check::new(SMALL, MYMAP_SOURCE_INJECT);
    let mut lat = Vec::with_capacity(count);
    let flags = Arc::new(Flags::default());
    let before = if bpf {
        None
    } else {
        ring.start(&CAUGHT_UP, Consume::Epoll)?;
        Some(ring.stats()?)
    };
    let result = if bpf {
        let Some((producer, consumer)) = ring.bpf.as_mut() else {
            return Err(io::Error::other("no BPF peer"));
        };
        let producer = *producer;
        if consumer.drain(|_| {})? != 0 {
            return Err(io::Error::other(
                "the BPF ring is not empty at the start of a round",
            ));
        }
        let pending = paced(
            ring.worker,
            rate_hz,
            count,
            flags.clone(),
            move || match producer.produce(Len::B64, 1, Wakeups::Adaptive)?.produced {
                1 => Ok(()),
                _ => Err(io::Error::other("the BPF ring was full")),
            },
        );
        let consumed = consume(count, &flags, || {
            consumer.wait(Duration::from_millis(100))?;
            consumer.drain(|s| {
                lat.push(monotonic_ns().saturating_sub(s.timestamp_ns));
                check.sample(s);
            })
        });
        pending.wait()?.and(consumed)
    } else {
        let ctl = ring.ctl;
        let pending = paced(
            ring.worker,
            rate_hz,
            count,
            flags.clone(),
            move || match ctl.inject(1, SMALL).map_err(super::lib)?.produced {
                1 => Ok(()),
                _ => Err(io::Error::other("the ring was full")),
            },
        );
        let consumed = consume(count, &flags, || {
            ring.wait(Duration::from_millis(100))?;
            ring.drain(|r| {
                lat.push(monotonic_ns().saturating_sub(r.timestamp_ns));
                check.ring(r);
            })
        });
        pending.wait()?.and(consumed)
    };
    result?;
    check.result()?;
    let (dropped, wakeups) = match before {
        Some(before) => {
            let after = ring.stats()?;
            (
                Some(after.dropped - before.dropped),
                Some(after.wakeups - before.wakeups),
            )
        }
        None => (None, None),
    };
    Ok(LatencyRound {
        summary: super::Summary::of(&lat),
        dropped,
        wakeups,
        samples: lat,
    })
}

/// The consumer's loop of [`paced_latency`]: `take` (a wait, then a drain;
/// how many records it took) until `count` came, the producer failed, or
/// nothing came for [`STALL`]; stops the producer on an error.
fn consume(
    count: usize,
    flags: &Flags,
    mut take: impl FnMut() -> io::Result<usize>,
) -> io::Result<()> {
    let result = (|| {
        let (mut got, mut stalled) = (0, Instant::now() + STALL);
        while got < count {
            if flags.failed.load(Relaxed) {
                return Err(io::Error::other("the paced producer failed"));
            }
            let n = take()?;
            if n > 0 {
                stalled = Instant::now() + STALL;
            } else if Instant::now() > stalled {
                return Err(io::Error::other("the paced producer stalled"));
            }
            got += n;
        }
        Ok(())
    })();
    if result.is_err() {
        flags.failed.store(true, Relaxed);
    }
    result
}

/// The paced sides of a latency measurement: mymap's injector and the BPF
/// programs, one record per call at the measurement's rate.
pub(super) const LATENCY_SIDES: [(&str, &str, &str); 2] = [
    (
        "ring-inject",
        "ring, epoll consumer, one inject ioctl per record",
        "caught-up",
    ),
    (
        "bpf-epoll",
        "BPF ring buffer, epoll consumer (aya), one test run per record",
        "bpf-default",
    ),
];
