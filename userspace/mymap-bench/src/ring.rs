// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The ring measurements of issue 11, on `/dev/mymap-ring0` with the module's
//! default parameters: throughput against a pipe, `read()` per record and
//! `memcpy`; latency against a pipe; wakeups per record under each policy;
//! the rates the timer producer reaches. Every comparison is a ratio of sides
//! run in turn in this process, in rotating order, after an untimed round.
//!
//! The mapped consumer measured is the `mymap` library's `Ring`, the one users
//! ship; the ioctls go through its `RingControl`, on a read-only file that the
//! producers' thread shares. Beside it, where the kernel has BPF, the BPF ring
//! buffer of the same size with `aya`'s consumer (issue 20, `bpf_sides`).
//!
//! Every stream ends with a marker: a record of [`MARKER_LEN`] bytes that the
//! producer puts in after its last one (retrying while the ring is full), so
//! the consumer knows it has everything without a second channel. Consumers
//! check what they receive: source, length, sequence numbers strictly
//! increasing, and the payload's pattern (`mymap.h`); a failed check is an
//! error, not a figure.

use std::{
    fs::{
        File,
        OpenOptions, //
    },
    hint::black_box,
    io::{
        self,
        Read,
        Write, //
    },
    ops::ControlFlow,
    sync::{
        atomic::{
            AtomicBool,
            Ordering::Relaxed, //
        },
        mpsc, Arc,
    },
    thread,
    time::{
        Duration,
        Instant, //
    },
};

use mymap::{
    Record,
    RingControl,
    Wakeup, //
};
use mymap_target_support::sys::{
    self,
    monotonic_ns,
    pin_to_cpu,
    sleep_until_ns, //
};
use mymap_uapi::{
    bindings::{
        MYMAP_RING_HEADER_SIZE,
        MYMAP_SOURCE_INJECT,
        MYMAP_SOURCE_TIMER, //
    },
    ring::record_size,
};

use crate::{
    bpf,
    ring_report::{
        Latency,
        LatencyRound,
        LatencySide,
        RateRound,
        RateSide,
        RingRatio,
        RingReport,
        Summary,
        Throughput,
        TimerRate,
        TimerRound,
        Unit,
        WakeupRound,
        Wakeups, //
    },
    stats::{rotation, Bound},
};

/// The ring measured: the first one the module registers.
pub const NODE: &str = "/dev/mymap-ring0";
/// Payload bytes of the small records (throughput, latency, wakeups, timer rates).
const SMALL: u32 = 64;
/// Payload bytes of the large records of the bytes-per-second comparison.
const LARGE: u32 = 4096;
/// The length of the end-of-stream marker, a length no measured record has.
const MARKER_LEN: u32 = 0;
const HEADER: usize = MYMAP_RING_HEADER_SIZE as usize;
/// How long a round may wait for the records it expects before it is an error.
const STALL: Duration = Duration::from_secs(20);
/// The pipe consumer's read buffer.
const PIPE_READ: usize = 64 << 10;
/// Where the consumers run, and the producers: two CPUs, so that neither waits
/// for the other to be scheduled. Without, the scheduler sometimes put both
/// threads on one CPU, where the injector's `ioctl` (no preemption point under
/// the 32-bit board's PREEMPT_VOLUNTARY) kept the consumer off until it returned.
const CONSUMER_CPU: usize = 0;
const PRODUCER_CPU: usize = 1;

mod bpf_sides;

/// The throughput targets (issue 11): the ring >= 10 x the pipe and `read()`
/// per record; its payload bytes >= 0.5 x `memcpy`.
const RATE_TARGET: Bound = Bound::AtLeast(10.0);
const BYTES_TARGET: Bound = Bound::AtLeast(0.5);
/// The ring's p99 latency no worse than the pipe's.
const LATENCY_TARGET: Bound = Bound::AtMost(1.0);

/// The latency rates, and how long each side of a round runs at them.
const LATENCY_RATES: [u32; 2] = [1_000, 10_000];
const LATENCY_ROUND: Duration = Duration::from_millis(500);
/// The timer rates tried, each for this long per round, in this many rounds.
const TIMER_RATES: [u32; 4] = [1_000, 10_000, 50_000, 100_000];
const TIMER_ROUND: Duration = Duration::from_secs(1);
const TIMER_ROUNDS: usize = 3;
/// The steady load of the wakeup count: the timer at 10 kHz for this long.
const WAKEUP_TIMER_HZ: u32 = 10_000;
const WAKEUP_TIMER_ROUND: Duration = Duration::from_millis(300);
/// The burst load: bursts of records from the injector, a pause between them.
const BURSTS: u32 = 16;
const BURST_RECORDS: u32 = 256;
const BURST_PAUSE: Duration = Duration::from_millis(2);
/// WATERMARK as the issue suggests: 4 KiB waiting, or 1 ms after the first record.
const WATERMARK_BYTES: u32 = 4096;
const WATERMARK_LATENCY: Duration = Duration::from_millis(1);

/// What to measure.
#[derive(Debug, PartialEq)]
pub struct RingConfig {
    /// Timed rounds of each side (after one untimed round).
    pub rounds: usize,
    /// Records of [`SMALL`] bytes each producer attempts per throughput round.
    pub records: u32,
    /// Records of [`LARGE`] bytes per round of the bytes-per-second comparison.
    pub large_records: u32,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            rounds: 7,
            records: 65536,
            large_records: 4096,
        }
    }
}

/// A wakeup policy as the measurements name it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Policy {
    id: &'static str,
    text: &'static str,
    wakeup: Wakeup,
}

const EVERY: Policy = Policy {
    id: "every",
    text: "EVERY",
    wakeup: Wakeup::Every,
};
const CAUGHT_UP: Policy = Policy {
    id: "caught-up",
    text: "CAUGHT_UP",
    wakeup: Wakeup::CaughtUp,
};
const WATERMARK: Policy = Policy {
    id: "watermark",
    text: "WATERMARK 4 KiB, 1 ms",
    wakeup: Wakeup::Watermark {
        bytes: WATERMARK_BYTES,
        max_latency: Some(WATERMARK_LATENCY),
    },
};

/// For a consumer that never sleeps: wake only when half the ring waits,
/// which a consumer that keeps up never lets happen.
fn quiet(data_size: u32) -> Policy {
    Policy {
        id: "quiet",
        text: "WATERMARK half the ring, no max latency",
        wakeup: Wakeup::Watermark {
            bytes: data_size / 2,
            max_latency: None,
        },
    }
}

/// A library error as the bench's.
fn lib(e: mymap::Error) -> io::Error {
    io::Error::other(e)
}

fn progress(what: &str) {
    eprintln!("mymap-bench: ring: {what}");
}

/// Runs every ring measurement on [`NODE`]; leaves the timer stopped and the
/// policy CAUGHT_UP (the default).
pub fn run(cfg: &RingConfig) -> io::Result<RingReport> {
    pin_to_cpu(CONSUMER_CPU)?;
    let ctl = RingControl::open(NODE).map_err(lib)?;
    let mut claim = Claim::Mapped(mymap::Ring::open(NODE).map_err(lib)?);
    let peer = bpf::open(ctl.geometry().data_size)?;
    if peer.is_none() {
        progress("no bpf() in this kernel (ENOSYS): the BPF ring buffer's sides are left out");
    }
    let (producer, mut consumer) = peer.unzip();
    let result = with_worker(|worker| {
        let mut ring = Ring {
            ctl: &ctl,
            claim: &mut claim,
            worker,
            bpf: producer.as_ref().zip(consumer.as_mut()),
        };
        measure_all(&mut ring, cfg)
    })
    .and_then(|r| r);
    let stopped = ctl.stop_timer().map_err(lib);
    let reset = ctl.set_wakeup(CAUGHT_UP.wakeup).map_err(lib);
    let report = result?;
    stopped?;
    reset?;
    Ok(report)
}

fn measure_all(ring: &mut Ring, cfg: &RingConfig) -> io::Result<RingReport> {
    let info = *ring.ctl.geometry();
    let mut report = RingReport {
        node: NODE,
        data_size: info.data_size,
        max_payload: info.max_payload,
        rounds: cfg.rounds,
        throughput: Vec::new(),
        latency: Vec::new(),
        wakeups: Vec::new(),
        timer_rates: Vec::new(),
        ratios: Vec::new(),
    };
    progress(&format!(
        "{SMALL}-byte records per second: ring (spinning, epoll), pipe, read() per record"
    ));
    let records = records_per_s(ring, cfg)?;
    for (side, against) in [
        ("ring-spin", "pipe"),
        ("ring-epoll", "pipe"),
        ("ring-spin", "read"),
        ("ring-epoll", "read"),
    ] {
        report
            .ratios
            .push(rate_ratio(&records, side, against, Some(RATE_TARGET))?);
    }
    report.ratios.push(rate_ratio(
        &records,
        "ring-spin-caught-up",
        "ring-spin",
        None,
    )?);
    report.ratios.extend(bpf_sides::ratios(&records)?);
    report.throughput.push(records);
    progress("8-byte records per second: ring (spinning, epoll), BPF ring buffer");
    let tiny = bpf_sides::records_8(ring, cfg)?;
    report.ratios.extend(bpf_sides::ratios(&tiny)?);
    report.throughput.push(tiny);
    progress(&format!(
        "consumer alone, {SMALL}-byte records: draining a full ring, mapped and read()"
    ));
    let drain = drain_records(ring, cfg)?;
    report
        .ratios
        .push(rate_ratio(&drain, "ring-drain", "read-drain", None)?);
    report.throughput.push(drain);
    for len in [bpf_sides::TINY, SMALL] {
        progress(&format!(
            "the producer alone, {len}-byte records: ring, BPF ring buffer"
        ));
        let fill = bpf_sides::fill(ring, cfg, len)?;
        report.ratios.extend(bpf_sides::ratios(&fill)?);
        report.throughput.push(fill);
    }
    for len in [bpf_sides::TINY, SMALL] {
        progress(&format!(
            "{len}-byte records per second, woken every 500: ring, BPF ring buffer"
        ));
        let sampled = bpf_sides::sampled_rate(ring, cfg, len)?;
        report.ratios.extend(bpf_sides::ratios(&sampled)?);
        report.throughput.push(sampled);
    }
    progress(&format!(
        "payload bytes per second, {LARGE}-byte records: ring against memcpy"
    ));
    let bytes = bytes_per_s(ring, cfg)?;
    report.ratios.push(rate_ratio(
        &bytes,
        "ring-copy",
        "memcpy",
        Some(BYTES_TARGET),
    )?);
    report
        .ratios
        .push(rate_ratio(&bytes, "ring-drain-copy", "memcpy", None)?);
    report.ratios.extend(bpf_sides::ratios(&bytes)?);
    report.throughput.push(bytes);
    for rate in LATENCY_RATES {
        progress(&format!(
            "latency at {rate} records/s: ring (epoll), pipe, BPF ring buffer"
        ));
        let latency = latency(ring, cfg, rate)?;
        for side in ["ring-caught-up", "ring-every"] {
            report.ratios.push(latency_ratio(&latency, side, "pipe")?);
        }
        if ring.bpf.is_some() {
            report
                .ratios
                .push(latency_ratio(&latency, "ring-inject", "bpf-epoll")?);
        }
        report.latency.push(latency);
    }
    progress("wakeups per record under each policy");
    report.wakeups = wakeups(ring, cfg)?;
    progress("timer producer rates");
    report.timer_rates = timer_rates(ring)?;
    Ok(report)
}

/// A job for the producers' thread.
type Job<'env> = Box<dyn FnOnce() + Send + 'env>;

/// The producers' thread: one thread, pinned to [`PRODUCER_CPU`] once, that
/// runs the producer of every round in turn. A thread made and pinned per round
/// took milliseconds to start producing on the 32-bit board, while the
/// consumer, already spinning, sometimes stopped for as long.
struct Worker<'env> {
    jobs: mpsc::Sender<Job<'env>>,
}

/// A job's result, when it comes.
struct Pending<T>(mpsc::Receiver<T>);

impl<'env> Worker<'env> {
    /// Starts `job` on the producers' thread.
    fn start<T: Send + 'env>(&self, job: impl FnOnce() -> T + Send + 'env) -> Pending<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        // Fails only if the thread is gone, which `wait` reports.
        let _ = self.jobs.send(Box::new(move || {
            let _ = tx.send(job());
        }));
        Pending(rx)
    }
}

impl<T> Pending<T> {
    fn wait(self) -> io::Result<T> {
        self.0
            .recv()
            .map_err(|_| io::Error::other("the producers' thread stopped"))
    }
}

/// Runs `body` with the producers' thread, which ends with it.
fn with_worker<'env, T>(body: impl FnOnce(&Worker<'env>) -> T) -> io::Result<T> {
    thread::scope(|s| {
        let (jobs, queue) = mpsc::channel::<Job<'env>>();
        let (pinned_tx, pinned) = mpsc::sync_channel(1);
        s.spawn(move || {
            let _ = pinned_tx.send(pin_to_cpu(PRODUCER_CPU));
            for job in queue {
                job();
            }
        });
        pinned
            .recv()
            .map_err(|_| io::Error::other("the producers' thread did not start"))??;
        Ok(body(&Worker { jobs }))
    })
}

/// The ring's consumer claim, which one file holds at a time: the library's
/// `Ring` (the mapped consumer measured), or a plain file for the sides that
/// `read()` one record per call, which the library does not offer (`mymap.h`:
/// do not mix `read()` and a mapped consumer).
enum Claim {
    Mapped(mymap::Ring),
    Read(File),
    /// Between the two: the old file closed, the new not yet open.
    Free,
}

/// The ring's control file (ioctls, from any thread), its consumer claim, and
/// the producers' thread; and the BPF ring buffer's producer (for that thread)
/// and consumer, where the kernel has BPF.
struct Ring<'r, 'env> {
    ctl: &'env RingControl,
    claim: &'r mut Claim,
    worker: &'r Worker<'env>,
    bpf: Option<(&'env bpf::Producer, &'r mut bpf::Consumer)>,
}

impl Ring<'_, '_> {
    /// Sets the policy, takes the claim as `how` consumes, and checks that no
    /// record waits: each round starts empty.
    fn start(&mut self, policy: &Policy, how: Consume) -> io::Result<()> {
        self.ctl.set_wakeup(policy.wakeup).map_err(lib)?;
        let empty = if how == Consume::Read {
            sys::poll_in(self.read_file()?, 0).map_err(io::Error::from_raw_os_error)? == 0
        } else {
            self.mapped()?.pending().map_err(lib)? == 0
        };
        if !empty {
            return Err(io::Error::other(
                "the ring is not empty at the start of a round",
            ));
        }
        Ok(())
    }

    /// The library's consumer, opened (untimed) if the claim was a plain file's.
    /// A new mapping's pages are inserted as they are first touched: one fill
    /// and drain of small records touches them all, outside every timed part,
    /// as the first untimed round did when the mapping was made once.
    fn mapped(&mut self) -> io::Result<&mut mymap::Ring> {
        if !matches!(self.claim, Claim::Mapped(_)) {
            // The file goes first: the claim is free once it is closed.
            *self.claim = Claim::Free;
            let mut ring = mymap::Ring::open(NODE).map_err(lib)?;
            let (per_fill, _) = fills(ring.geometry().data_size, SMALL, 1);
            self.ctl.inject(per_fill + 1, SMALL).map_err(lib)?;
            ring.consume(|_| ControlFlow::Continue(())).map_err(lib)?;
            *self.claim = Claim::Mapped(ring);
        }
        match self.claim {
            Claim::Mapped(ring) => Ok(ring),
            _ => unreachable!("the claim was just made a mapped one"),
        }
    }

    /// A file holding the claim, for `read()`; the library's consumer is closed.
    fn read_file(&mut self) -> io::Result<&File> {
        if !matches!(self.claim, Claim::Read(_)) {
            *self.claim = Claim::Free;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(NODE)
                .map_err(|e| io::Error::new(e.kind(), format!("open {NODE}: {e}")))?;
            *self.claim = Claim::Read(file);
        }
        match self.claim {
            Claim::Read(file) => Ok(file),
            _ => unreachable!("the claim was just made a file's"),
        }
    }

    /// Consumes what waits with the library's consumer, `each` on every record.
    fn drain(&mut self, mut each: impl FnMut(&Record<'_>)) -> io::Result<usize> {
        self.mapped()?
            .consume(|r| {
                each(r);
                ControlFlow::Continue(())
            })
            .map_err(lib)
    }

    /// Waits up to `timeout` for a record; whether one waits.
    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        self.mapped()?.wait(Some(timeout)).map_err(lib)
    }

    fn data_size(&self) -> u32 {
        self.ctl.geometry().data_size
    }

    fn stats(&self) -> io::Result<mymap::RingStats> {
        self.ctl.stats().map_err(lib)
    }
}

/// Runs `side(i)` for each of `n` sides once untimed, then `rounds` times in
/// rotating order; returns each side's results in round order.
fn rotate<T>(
    rounds: usize,
    n: usize,
    mut side: impl FnMut(usize) -> io::Result<T>,
) -> io::Result<Vec<Vec<T>>> {
    for i in 0..n {
        side(i)?;
    }
    let mut out: Vec<Vec<T>> = (0..n).map(|_| Vec::with_capacity(rounds)).collect();
    for round in 0..rounds {
        for i in rotation(round, n) {
            out[i].push(side(i)?);
        }
    }
    Ok(out)
}

/// What a consumer checks of each record, and what it counts.
struct Check {
    len: u32,
    source: u16,
    last_seq: Option<u64>,
    delivered: u64,
    /// The marker came.
    done: bool,
    error: Option<String>,
}

impl Check {
    fn new(len: u32, source: u32) -> Self {
        Check {
            len,
            source: source as u16,
            last_seq: None,
            delivered: 0,
            done: false,
            error: None,
        }
    }

    /// Checks one record (`first` is its first payload word, if it has 8 bytes).
    fn record(&mut self, len: u32, source: u16, seq: u64, first: Option<u64>) {
        if len == MARKER_LEN {
            self.done = true;
            return;
        }
        let problem = if len != self.len || source != self.source {
            Some(format!(
                "a record of {len} bytes from source {source}, expected {} bytes from {}",
                self.len, self.source
            ))
        } else if self.last_seq.is_some_and(|last| seq <= last) {
            Some(format!(
                "sequence number {seq} after {}",
                self.last_seq.unwrap_or(0)
            ))
        } else if first.is_some_and(|w| w != seq) {
            Some(format!(
                "record {seq} carries {first:?} instead of its number"
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            self.error.get_or_insert(p);
        }
        self.last_seq = Some(seq);
        self.delivered += 1;
    }

    fn ring(&mut self, r: &Record<'_>) {
        self.record(len(r), r.source, r.seq, first_word(r.payload));
    }

    /// Copies the record's payload into `copy` (as long as the payloads), then
    /// checks the copy: its first word and its last byte.
    fn ring_copy(&mut self, r: &Record<'_>, copy: &mut [u8]) {
        self.copied(r.payload, r.source, r.seq, copy);
    }

    /// [`Check::ring_copy`] of a record's parts.
    fn copied(&mut self, payload: &[u8], source: u16, seq: u64, copy: &mut [u8]) {
        let len = payload.len() as u32;
        if len != self.len {
            self.record(len, source, seq, first_word(payload));
            return;
        }
        let n = copy.len().min(payload.len());
        copy[..n].copy_from_slice(&payload[..n]);
        let first = first_word(copy);
        if n > 8 && copy[n - 1] != seq as u8 {
            self.error
                .get_or_insert(format!("record {seq}: wrong last payload byte"));
        }
        self.record(len, source, seq, first);
        black_box(&copy);
    }

    /// Checks the record at the start of `bytes` (header and payload, as `read()`
    /// gives it); returns its length, or `None` if `bytes` holds only part of one.
    fn bytes(&mut self, bytes: &[u8]) -> Option<u32> {
        let head = bytes.get(..HEADER)?;
        let field = |i: usize| u64::from_ne_bytes(bytes[i..i + 8].try_into().unwrap());
        let len = u32::from_ne_bytes(head[0..4].try_into().unwrap());
        if bytes.len() < HEADER + len as usize {
            return None;
        }
        let source = u16::from_ne_bytes(head[4..6].try_into().unwrap());
        self.record(len, source, field(8), (len >= 8).then(|| field(HEADER)));
        Some(len)
    }

    /// Checks the whole records at the start of a pipe's byte stream (each padded
    /// to its ring size); returns how many bytes they took.
    fn stream(&mut self, bytes: &[u8]) -> usize {
        let mut at = 0;
        while let Some(head) = bytes.get(at..at + HEADER) {
            let size = record_size(u32::from_ne_bytes(head[0..4].try_into().unwrap())) as usize;
            let Some(record) = bytes.get(at..at + size) else {
                break;
            };
            self.bytes(record);
            at += size;
        }
        at
    }

    fn result(&self) -> io::Result<()> {
        match &self.error {
            Some(e) => Err(io::Error::other(format!("consumer check: {e}"))),
            None => Ok(()),
        }
    }
}

/// A record's payload length.
fn len(r: &Record<'_>) -> u32 {
    r.payload.len() as u32
}

/// The first 8 bytes of a payload as a native-endian `u64`, if there are 8.
fn first_word(payload: &[u8]) -> Option<u64> {
    payload
        .get(..8)
        .map(|w| u64::from_ne_bytes(w.try_into().unwrap()))
}

/// A record as the built-in producers make it, header and payload, padded to
/// its ring size: what the pipe carries.
fn pipe_record(buf: &mut Vec<u8>, len: u32, seq: u64, timestamp_ns: u64) {
    buf.clear();
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&(MYMAP_SOURCE_INJECT as u16).to_ne_bytes());
    buf.extend_from_slice(&0u16.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&timestamp_ns.to_ne_bytes());
    let head = seq.to_le_bytes();
    let head = &head[..head.len().min(len as usize)];
    buf.extend_from_slice(head);
    buf.resize(HEADER + len as usize, seq as u8);
    buf.resize(record_size(len) as usize, 0);
}

/// What the producer thread of a round did.
struct Produced {
    start: Instant,
    took: Duration,
    produced: u64,
    dropped: u64,
}

/// Flags a round's consumer and producer share.
#[derive(Default)]
struct Flags {
    /// The consumer is in its loop.
    ready: AtomicBool,
    /// The producer failed: the marker will not come.
    failed: AtomicBool,
}

impl Flags {
    /// Waits (spinning) until the consumer is in its loop.
    fn wait_ready(&self) -> io::Result<()> {
        let deadline = Instant::now() + STALL;
        while !self.ready.load(Relaxed) {
            if Instant::now() > deadline {
                return Err(io::Error::other("the consumer did not start"));
            }
            std::hint::spin_loop();
        }
        Ok(())
    }
}

/// Injects `n` records of `len` bytes once the consumer is ready, then the marker.
fn inject(ctl: &RingControl, n: u32, len: u32, flags: &Flags) -> io::Result<Produced> {
    let run = || {
        flags.wait_ready()?;
        let start = Instant::now();
        let mymap::Injected { produced, dropped } = ctl.inject(n, len).map_err(lib)?;
        let took = start.elapsed();
        mark(ctl)?;
        Ok(Produced {
            start,
            took,
            produced: produced.into(),
            dropped: dropped.into(),
        })
    };
    let result = run();
    if result.is_err() {
        flags.failed.store(true, Relaxed);
    }
    result
}

/// Starts the timer producer at `hz` records of [`SMALL`] bytes per second from
/// the producers' CPU, where its `hrtimer` then fires, as the other producers run.
fn start_timer(ring: &Ring, hz: u32) -> io::Result<()> {
    let ctl = ring.ctl;
    let period = Duration::from_nanos(1_000_000_000 / u64::from(hz));
    ring.worker
        .start(move || ctl.start_timer(period, SMALL).map_err(lib))
        .wait()?
}

/// Puts the end marker in, retrying while the ring is full.
fn mark(ctl: &RingControl) -> io::Result<()> {
    let deadline = Instant::now() + STALL;
    loop {
        if ctl.inject(1, MARKER_LEN).map_err(lib)?.produced == 1 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::other(
                "the end marker found the ring full for 20 s: the consumer stopped",
            ));
        }
        thread::sleep(Duration::from_micros(50));
    }
}

/// How a ring side's consumer waits for and takes records.
#[derive(Clone, Copy, PartialEq)]
enum Consume {
    /// Spins on the mapped ring.
    Spin,
    /// Spins, and copies every payload out.
    SpinCopy,
    /// Blocks in `epoll_wait` when the ring is empty.
    Epoll,
    /// One blocking `read()` per record on the ring's file.
    Read,
}

/// One round of a ring side under `policy`: the injector in another thread,
/// `how` consuming here.
fn ring_rate(
    ring: &mut Ring,
    policy: &Policy,
    n: u32,
    len: u32,
    how: Consume,
) -> io::Result<RateRound> {
    ring.start(policy, how)?;
    let before = ring.stats()?;
    let flags = Arc::new(Flags::default());
    let mut check = Check::new(len, MYMAP_SOURCE_INJECT);
    let mut waits = 0u64;
    let mut copy = vec![0u8; len as usize];
    let mut buf = vec![0u8; HEADER + len as usize];
    let ctl = ring.ctl;
    let producer = ring.worker.start({
        let flags = flags.clone();
        move || inject(ctl, n, len, &flags)
    });
    let (produced, end) = {
        let consumed = (|| -> io::Result<Instant> {
            let stalled = Instant::now() + STALL;
            flags.ready.store(true, Relaxed);
            while !check.done {
                if flags.failed.load(Relaxed) {
                    return Err(io::Error::other("the injector failed"));
                }
                let got = match how {
                    Consume::Spin => ring.drain(|r| check.ring(r))?,
                    Consume::SpinCopy => ring.drain(|r| check.ring_copy(r, &mut copy))?,
                    Consume::Epoll => {
                        let got = ring.drain(|r| check.ring(r))?;
                        if got == 0 && !check.done {
                            waits += 1;
                            ring.wait(Duration::from_millis(100))?;
                        }
                        got
                    }
                    Consume::Read => {
                        waits += 1;
                        let k = ring.read_file()?.read(&mut buf)?;
                        if check.bytes(&buf[..k]).is_none() {
                            return Err(io::Error::other(format!("read() gave {k} bytes")));
                        }
                        1
                    }
                };
                if got == 0 && Instant::now() > stalled {
                    return Err(io::Error::other("no end marker within 20 s"));
                }
            }
            Ok(Instant::now())
        })();
        // Even after a consumer's error: the producer ends by itself (the marker gives up).
        (producer.wait()?, consumed)
    };
    let (produced, end) = (produced?, end?);
    check.result()?;
    let after = ring.stats()?;
    if check.delivered != produced.produced {
        return Err(io::Error::other(format!(
            "the injector committed {} records, the consumer received {}",
            produced.produced, check.delivered
        )));
    }
    let waits = matches!(how, Consume::Epoll | Consume::Read).then_some(waits);
    Ok(RateRound {
        delivered: check.delivered,
        dropped: produced.dropped,
        elapsed_s: (end - produced.start).as_secs_f64(),
        producer_s: Some(produced.took.as_secs_f64()),
        wakeups: Some(after.wakeups - before.wakeups),
        waits,
    })
}

/// One round of the pipe: the producers' thread writes `n` records of `len`
/// bytes, one `write()` each, then the marker; this thread reads them in 64 KiB
/// calls.
fn pipe_rate(worker: &Worker, n: u32, len: u32, capacity: usize) -> io::Result<RateRound> {
    let (mut r, mut w) = pipe(capacity)?;
    let mut check = Check::new(len, MYMAP_SOURCE_INJECT);
    let mut waits = 0u64;
    let mut buf = vec![0u8; PIPE_READ];
    let (produced, end) = {
        let producer = worker.start(move || -> io::Result<(Instant, Duration)> {
            let mut rec = Vec::with_capacity(record_size(len) as usize);
            let start = Instant::now();
            for seq in 0..u64::from(n) {
                pipe_record(&mut rec, len, seq, monotonic_ns());
                w.write_all(&rec)?;
            }
            let took = start.elapsed();
            pipe_record(&mut rec, MARKER_LEN, u64::from(n), monotonic_ns());
            w.write_all(&rec)?;
            Ok((start, took))
        });
        let consumed = (|| -> io::Result<Instant> {
            let mut have = 0;
            while !check.done {
                waits += 1;
                let k = r.read(&mut buf[have..])?;
                if k == 0 {
                    return Err(io::Error::other("the pipe closed before the end marker"));
                }
                have += k;
                let used = check.stream(&buf[..have]);
                buf.copy_within(used..have, 0);
                have -= used;
            }
            Ok(Instant::now())
        })();
        drop(r);
        (producer.wait()?, consumed)
    };
    let ((start, took), end) = (produced?, end?);
    check.result()?;
    if check.delivered != u64::from(n) {
        return Err(io::Error::other(format!(
            "the pipe carried {} of {n} records",
            check.delivered
        )));
    }
    Ok(RateRound {
        delivered: check.delivered,
        dropped: 0,
        elapsed_s: (end - start).as_secs_f64(),
        producer_s: Some(took.as_secs_f64()),
        wakeups: None,
        waits: Some(waits),
    })
}

/// 64-byte records per second: the ring with a spinning consumer (quiet, and
/// under CAUGHT_UP, where it is woken for nothing) and with an epoll consumer,
/// a pipe, and `read()` per record on the ring's file.
fn records_per_s(ring: &mut Ring, cfg: &RingConfig) -> io::Result<Throughput> {
    let n = cfg.records;
    let capacity = ring.data_size() as usize;
    let quiet = quiet(ring.data_size());
    let bpf = if ring.bpf.is_some() { 2 } else { 0 };
    let mut results = rotate(cfg.rounds, 5 + bpf, |i| match i {
        0 => ring_rate(ring, &quiet, n, SMALL, Consume::Spin),
        1 => ring_rate(ring, &CAUGHT_UP, n, SMALL, Consume::Spin),
        2 => ring_rate(ring, &CAUGHT_UP, n, SMALL, Consume::Epoll),
        3 => pipe_rate(ring.worker, n, SMALL, capacity),
        4 => ring_rate(ring, &CAUGHT_UP, n, SMALL, Consume::Read),
        _ => bpf_sides::rate_round(ring, i - 5, SMALL, n),
    })?
    .into_iter();
    let mut next = || results.next().unwrap_or_default();
    let mut t = Throughput {
        id: "records-64",
        what: "64-byte records per second",
        unit: Unit::Records,
        len: SMALL,
        attempted: n.into(),
        sides: vec![
            RateSide {
                id: "ring-spin",
                label: "ring, spinning consumer",
                policy: Some(quiet.id),
                rounds: next(),
            },
            RateSide {
                id: "ring-spin-caught-up",
                label: "ring, spinning consumer, CAUGHT_UP",
                policy: Some(CAUGHT_UP.id),
                rounds: next(),
            },
            RateSide {
                id: "ring-epoll",
                label: "ring, epoll consumer",
                policy: Some(CAUGHT_UP.id),
                rounds: next(),
            },
            RateSide {
                id: "pipe",
                label: "pipe, one write() per record",
                policy: None,
                rounds: next(),
            },
            RateSide {
                id: "read",
                label: "ring, one read() per record (UIO pattern)",
                policy: Some(CAUGHT_UP.id),
                rounds: next(),
            },
        ],
    };
    if bpf > 0 {
        for mut side in bpf_sides::rate_sides() {
            side.rounds = next();
            t.sides.push(side);
        }
    }
    Ok(t)
}

/// A pipe's two ends, holding `capacity` bytes.
fn pipe(capacity: usize) -> io::Result<(File, File)> {
    let (r, w) = sys::pipe()?;
    let (r, w) = (File::from(r), File::from(w));
    sys::set_pipe_size(&w, capacity)?;
    Ok((r, w))
}

/// How many records of `len` bytes fill the ring, and how many fills make a
/// round of at least `records` records.
fn fills(data_size: u32, len: u32, records: u32) -> (u32, u32) {
    let per_fill = data_size / record_size(len);
    (per_fill, records.div_ceil(per_fill))
}

/// One round of the consumer alone: the injector fills the ring (untimed, the
/// record that does not fit dropped), then `how` drains it (timed); `cycles`
/// times.
fn drain_rate(
    ring: &mut Ring,
    len: u32,
    per_fill: u32,
    cycles: u32,
    how: Consume,
) -> io::Result<RateRound> {
    let quiet = quiet(ring.data_size());
    ring.start(&quiet, how)?;
    let mut check = Check::new(len, MYMAP_SOURCE_INJECT);
    let mut copy = vec![0u8; len as usize];
    let mut buf = vec![0u8; HEADER + len as usize];
    let mut took = Duration::ZERO;
    for _ in 0..cycles {
        let produced = ring.ctl.inject(per_fill + 1, len).map_err(lib)?.produced;
        let start = Instant::now();
        let left = match how {
            Consume::Read => {
                let file = ring.read_file()?;
                for _ in 0..produced {
                    let k = sys::read(file, &mut buf).map_err(io::Error::from_raw_os_error)?;
                    check.bytes(&buf[..k]);
                }
                took += start.elapsed();
                sys::poll_in(file, 0).map_err(io::Error::from_raw_os_error)? != 0
            }
            _ => {
                if how == Consume::SpinCopy {
                    ring.drain(|r| check.ring_copy(r, &mut copy))?;
                } else {
                    ring.drain(|r| check.ring(r))?;
                }
                took += start.elapsed();
                ring.mapped()?.pending().map_err(lib)? != 0
            }
        };
        if left {
            return Err(io::Error::other("records left after a drain"));
        }
    }
    check.result()?;
    Ok(RateRound {
        delivered: check.delivered,
        dropped: 0,
        elapsed_s: took.as_secs_f64(),
        producer_s: None,
        wakeups: None,
        waits: (how == Consume::Read).then_some(check.delivered),
    })
}

/// The consumer alone, 64-byte records: draining a full ring through the
/// mapping, and with one `read()` per record.
fn drain_records(ring: &mut Ring, cfg: &RingConfig) -> io::Result<Throughput> {
    let (per_fill, cycles) = fills(ring.data_size(), SMALL, cfg.records);
    let mut results = rotate(cfg.rounds, 2, |i| {
        let how = if i == 0 { Consume::Spin } else { Consume::Read };
        drain_rate(ring, SMALL, per_fill, cycles, how)
    })?
    .into_iter();
    let mut next = || results.next().unwrap_or_default();
    Ok(Throughput {
        id: "drain-64",
        what: "64-byte records per second, the consumer alone",
        unit: Unit::Records,
        len: SMALL,
        attempted: u64::from(per_fill) * u64::from(cycles),
        sides: vec![
            RateSide {
                id: "ring-drain",
                label: "ring, mapped consumer draining a full ring",
                policy: None,
                rounds: next(),
            },
            RateSide {
                id: "read-drain",
                label: "ring, one read() per record draining a full ring",
                policy: None,
                rounds: next(),
            },
        ],
    })
}

/// One round of `memcpy` of `n` payloads of `len` bytes, taken in turn from a
/// source the size of the ring's data area, as the ring's records are.
fn memcpy_rate(n: u32, len: u32, data_size: usize) -> RateRound {
    let src = vec![0x5au8; data_size];
    let mut dst = vec![0u8; len as usize];
    let (len, step) = (len as usize, record_size(len) as usize);
    let start = Instant::now();
    let mut at = 0;
    for _ in 0..n {
        if at + len > data_size {
            at = 0;
        }
        dst.copy_from_slice(&src[at..at + len]);
        black_box(&mut dst);
        at += step;
    }
    RateRound {
        delivered: n.into(),
        dropped: 0,
        elapsed_s: start.elapsed().as_secs_f64(),
        producer_s: None,
        wakeups: None,
        waits: None,
    }
}

/// Payload bytes per second of 4 KiB records, a spinning consumer copying each
/// out, against `memcpy` of the same bytes; and the consumer alone, draining a
/// full ring with the same copies.
fn bytes_per_s(ring: &mut Ring, cfg: &RingConfig) -> io::Result<Throughput> {
    let n = cfg.large_records;
    let data_size = ring.data_size();
    let quiet = quiet(data_size);
    let (per_fill, cycles) = fills(data_size, LARGE, n);
    let bpf = usize::from(ring.bpf.is_some());
    let mut results = rotate(cfg.rounds, 3 + bpf, |i| match i {
        0 => ring_rate(ring, &quiet, n, LARGE, Consume::SpinCopy),
        1 => drain_rate(ring, LARGE, per_fill, cycles, Consume::SpinCopy),
        2 => Ok(memcpy_rate(n, LARGE, data_size as usize)),
        _ => bpf_sides::copy_round(ring, n),
    })?
    .into_iter();
    let mut next = || results.next().unwrap_or_default();
    let mut t = Throughput {
        id: "bytes-4k",
        what: "payload bytes per second, 4 KiB records",
        unit: Unit::Bytes,
        len: LARGE,
        attempted: n.into(),
        sides: vec![
            RateSide {
                id: "ring-copy",
                label: "ring, spinning consumer copying each payload out",
                policy: Some(quiet.id),
                rounds: next(),
            },
            RateSide {
                id: "ring-drain-copy",
                label: "ring, the same consumer draining a full ring",
                policy: None,
                rounds: next(),
            },
            RateSide {
                id: "memcpy",
                label: "memcpy of the same bytes",
                policy: None,
                rounds: next(),
            },
        ],
    };
    if bpf > 0 {
        t.sides.push(RateSide {
            rounds: next(),
            ..bpf_sides::copy_side()
        });
    }
    Ok(t)
}

/// The ratio of two sides' rates, round by round.
fn rate_ratio(
    t: &Throughput,
    side: &'static str,
    against: &'static str,
    target: Option<Bound>,
) -> io::Result<RingRatio> {
    let missing = || io::Error::other(format!("no side {side} or {against} in {}", t.id));
    let (s, a) = (
        t.side(side).ok_or_else(missing)?,
        t.side(against).ok_or_else(missing)?,
    );
    let rounds = t
        .rates(s)
        .iter()
        .zip(t.rates(a))
        .map(|(s, a)| s / a)
        .collect();
    Ok(RingRatio {
        id: format!("{}-{side}-vs-{against}", t.id),
        what: format!("{} / {}, {}", s.label, a.label, t.unit.text()),
        measurement: t.id.into(),
        side,
        against,
        quantity: t.unit.text(),
        rounds,
        target,
    })
}

/// One round of the ring's latency: the timer producer at `rate_hz`, the
/// consumer here blocking in `epoll_wait` (or spinning, `Consume::Spin`),
/// until `count` records came.
fn ring_latency(
    ring: &mut Ring,
    policy: &Policy,
    rate_hz: u32,
    count: usize,
    how: Consume,
) -> io::Result<LatencyRound> {
    ring.start(policy, how)?;
    let before = ring.stats()?;
    let mut check = Check::new(SMALL, MYMAP_SOURCE_TIMER);
    let mut lat = Vec::with_capacity(count);
    start_timer(ring, rate_hz)?;
    let stalled = Instant::now() + STALL;
    let result = (|| {
        while lat.len() < count {
            let ready = how == Consume::Spin || ring.wait(Duration::from_millis(100))?;
            if !ready && Instant::now() > stalled {
                return Err(io::Error::other("the timer producer stalled"));
            }
            ring.drain(|r| {
                let now = monotonic_ns();
                if lat.len() < count {
                    lat.push(now.saturating_sub(r.timestamp_ns));
                    check.ring(r);
                }
            })?;
        }
        Ok(())
    })();
    ring.ctl.stop_timer().map_err(lib)?;
    result?;
    // The timer is cancelled, its last callback finished: nothing is still BUSY.
    ring.drain(|_| {})?;
    check.result()?;
    let after = ring.stats()?;
    Ok(LatencyRound {
        summary: Summary::of(&lat),
        dropped: Some(after.dropped - before.dropped),
        wakeups: Some(after.wakeups - before.wakeups),
        samples: lat,
    })
}

/// One round of the pipe's latency: the producers' thread writes a timestamped
/// record every period (absolute `clock_nanosleep`, missed periods skipped as
/// the kernel's timer does), the consumer here blocks in `read()`.
fn pipe_latency(
    worker: &Worker,
    rate_hz: u32,
    count: usize,
    capacity: usize,
) -> io::Result<LatencyRound> {
    let (mut r, mut w) = pipe(capacity)?;
    let period = 1_000_000_000 / u64::from(rate_hz);
    let mut check = Check::new(SMALL, MYMAP_SOURCE_INJECT);
    let mut lat = Vec::with_capacity(count);
    let mut buf = vec![0u8; PIPE_READ];
    let (written, read) = {
        let writer = worker.start(move || -> io::Result<()> {
            let mut rec = Vec::with_capacity(record_size(SMALL) as usize);
            let mut next = monotonic_ns() + period;
            for seq in 0..count as u64 {
                sleep_until_ns(next);
                pipe_record(&mut rec, SMALL, seq, monotonic_ns());
                w.write_all(&rec)?;
                next += period;
                let now = monotonic_ns();
                if next <= now {
                    next += ((now - next) / period + 1) * period;
                }
            }
            Ok(())
        });
        let read = (|| -> io::Result<()> {
            let mut have = 0;
            while lat.len() < count {
                let k = r.read(&mut buf[have..])?;
                if k == 0 {
                    return Err(io::Error::other("the pipe closed early"));
                }
                have += k;
                let mut at = 0;
                while let Some(head) = buf[..have].get(at..at + HEADER) {
                    let size = record_size(u32::from_ne_bytes(head[..4].try_into().unwrap()));
                    let Some(record) = buf[..have].get(at..at + size as usize) else {
                        break;
                    };
                    let now = monotonic_ns();
                    let ts = u64::from_ne_bytes(record[16..24].try_into().unwrap());
                    lat.push(now.saturating_sub(ts));
                    check.bytes(record);
                    at += size as usize;
                }
                buf.copy_within(at..have, 0);
                have -= at;
            }
            Ok(())
        })();
        // A reader's error closes the pipe, so the writer stops too.
        drop(r);
        (writer.wait()?, read)
    };
    written?;
    read?;
    check.result()?;
    Ok(LatencyRound {
        summary: Summary::of(&lat),
        dropped: None,
        wakeups: None,
        samples: lat,
    })
}

/// Producer-to-consumer latency at `rate_hz`: the ring's timer with an epoll
/// consumer under CAUGHT_UP and under EVERY, against the pipe; and with a
/// spinning consumer, which no wakeup delays: the difference is the wakeup's.
fn latency(ring: &mut Ring, cfg: &RingConfig, rate_hz: u32) -> io::Result<Latency> {
    let count = (u128::from(rate_hz) * LATENCY_ROUND.as_millis() / 1000) as usize;
    let capacity = ring.data_size() as usize;
    let quiet = quiet(ring.data_size());
    let bpf = if ring.bpf.is_some() { 2 } else { 0 };
    let rounds = rotate(cfg.rounds, 4 + bpf, |i| match i {
        0 => ring_latency(ring, &CAUGHT_UP, rate_hz, count, Consume::Epoll),
        1 => ring_latency(ring, &EVERY, rate_hz, count, Consume::Epoll),
        2 => pipe_latency(ring.worker, rate_hz, count, capacity),
        3 => ring_latency(ring, &quiet, rate_hz, count, Consume::Spin),
        _ => bpf_sides::paced_latency(ring, rate_hz, count, i == 5),
    })?;
    let mut labels = vec![
        ("ring-caught-up", "ring, epoll consumer", Some(CAUGHT_UP.id)),
        ("ring-every", "ring, epoll consumer", Some(EVERY.id)),
        ("pipe", "pipe, blocking read()", None),
        ("ring-spin", "ring, spinning consumer", Some(quiet.id)),
    ];
    if bpf > 0 {
        labels
            .extend(bpf_sides::LATENCY_SIDES.map(|(id, label, policy)| (id, label, Some(policy))));
    }
    let sides = rounds
        .into_iter()
        .zip(labels)
        .map(|(rounds, (id, label, policy))| {
            let all: Vec<u64> = rounds.iter().flat_map(|r| r.samples.clone()).collect();
            LatencySide {
                id,
                label,
                policy,
                rounds,
                pooled: Summary::of(&all),
            }
        })
        .collect();
    Ok(Latency {
        id: format!("latency-{}k", rate_hz / 1000),
        rate_hz,
        len: SMALL,
        records: count as u64,
        sides,
    })
}

/// The ratio of two sides' p99 latencies, round by round.
fn latency_ratio(l: &Latency, side: &'static str, against: &'static str) -> io::Result<RingRatio> {
    let find = |id: &str| {
        l.sides
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| io::Error::other(format!("no side {id} in {}", l.id)))
    };
    let (s, a) = (find(side)?, find(against)?);
    let rounds = s
        .rounds
        .iter()
        .zip(&a.rounds)
        .map(|(s, a)| s.summary.p99_ns as f64 / a.summary.p99_ns as f64)
        .collect();
    let policy = s.policy.unwrap_or("");
    let what = if against == "pipe" {
        format!("ring ({policy}) / pipe")
    } else {
        format!("{} / {}", s.label, a.label)
    };
    Ok(RingRatio {
        id: format!("{}-{side}-vs-{against}", l.id),
        what: format!("p99 latency at {} records/s, {what}", l.rate_hz),
        measurement: l.id.clone(),
        side,
        against,
        quantity: "p99 latency",
        rounds,
        target: Some(LATENCY_TARGET),
    })
}

/// What is left of a round, in whole milliseconds and one more, as the epoll
/// timeout of the consumer's wait was.
fn epoll_ms(left: Duration) -> Duration {
    Duration::from_millis(left.as_millis() as u64 + 1)
}

/// The loads of the wakeup count.
#[derive(Clone, Copy)]
enum Load {
    Timer,
    Bursts,
}

/// One round of the wakeup count: `load` into the ring under `policy`, an
/// epoll consumer here.
fn wakeup_round(ring: &mut Ring, policy: &Policy, load: Load) -> io::Result<WakeupRound> {
    ring.start(policy, Consume::Epoll)?;
    let before = ring.stats()?;
    let mut waits = 0u64;
    match load {
        Load::Timer => {
            let end = Instant::now() + WAKEUP_TIMER_ROUND;
            start_timer(ring, WAKEUP_TIMER_HZ)?;
            let result = (|| {
                while let Some(left) = end.checked_duration_since(Instant::now()) {
                    waits += 1;
                    if ring.wait(epoll_ms(left))? {
                        ring.drain(|_| {})?;
                    }
                }
                Ok::<_, io::Error>(())
            })();
            ring.ctl.stop_timer().map_err(lib)?;
            result?;
            ring.drain(|_| {})?;
        }
        Load::Bursts => {
            let flags = Arc::new(Flags::default());
            let ctl = ring.ctl;
            let mut check = Check::new(SMALL, MYMAP_SOURCE_INJECT);
            let producer = ring.worker.start({
                let flags = flags.clone();
                move || {
                    let run = || {
                        flags.wait_ready()?;
                        for _ in 0..BURSTS {
                            ctl.inject(BURST_RECORDS, SMALL).map_err(lib)?;
                            thread::sleep(BURST_PAUSE);
                        }
                        mark(ctl)
                    };
                    let result = run();
                    if result.is_err() {
                        flags.failed.store(true, Relaxed);
                    }
                    result
                }
            });
            let (produced, consumed) = {
                let consumed = (|| {
                    let stalled = Instant::now() + STALL;
                    flags.ready.store(true, Relaxed);
                    while !check.done {
                        if flags.failed.load(Relaxed) || Instant::now() > stalled {
                            return Err(io::Error::other("the burst injector failed or stalled"));
                        }
                        waits += 1;
                        if ring.wait(Duration::from_millis(100))? {
                            ring.drain(|r| check.ring(r))?;
                        }
                    }
                    Ok(())
                })();
                (producer.wait()?, consumed)
            };
            produced?;
            consumed?;
            check.result()?;
        }
    }
    let after = ring.stats()?;
    Ok(WakeupRound {
        records: after.produced - before.produced,
        dropped: after.dropped - before.dropped,
        wakeups: after.wakeups - before.wakeups,
        waits,
    })
}

/// Wakeups per record under each policy, for the steady timer and for bursts.
fn wakeups(ring: &mut Ring, cfg: &RingConfig) -> io::Result<Vec<Wakeups>> {
    let policies = [EVERY, CAUGHT_UP, WATERMARK];
    let mut out = Vec::new();
    for (load, id, text) in [
        (
            Load::Timer,
            "timer-10k",
            format!("timer, {} records/s", WAKEUP_TIMER_HZ),
        ),
        (
            Load::Bursts,
            "bursts",
            format!(
                "injector, {BURSTS} bursts of {BURST_RECORDS}, {} ms apart",
                BURST_PAUSE.as_millis()
            ),
        ),
    ] {
        let rounds = rotate(cfg.rounds, policies.len(), |i| {
            wakeup_round(ring, &policies[i], load)
        })?;
        for (policy, rounds) in policies.iter().zip(rounds) {
            out.push(Wakeups {
                load: id,
                load_text: text.clone(),
                policy: policy.id,
                policy_text: policy.text,
                rounds,
            });
        }
    }
    Ok(out)
}

/// One round of the timer producer at `hz` for [`TIMER_ROUND`], consumed here
/// with epoll (CAUGHT_UP) or spinning (no wakeups).
fn timer_round(ring: &mut Ring, hz: u32, how: Consume) -> io::Result<TimerRound> {
    let policy = match how {
        Consume::Spin => quiet(ring.data_size()),
        _ => CAUGHT_UP,
    };
    ring.start(&policy, how)?;
    let before = ring.stats()?;
    let mut delivered = 0u64;
    let start = Instant::now();
    start_timer(ring, hz)?;
    let end = start + TIMER_ROUND;
    let result = (|| {
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if how == Consume::Spin || ring.wait(epoll_ms(left))? {
                delivered += ring.drain(|_| {})? as u64;
            }
        }
        Ok::<_, io::Error>(())
    })();
    ring.ctl.stop_timer().map_err(lib)?;
    let elapsed_s = start.elapsed().as_secs_f64();
    result?;
    delivered += ring.drain(|_| {})? as u64;
    let after = ring.stats()?;
    let dropped = after.dropped - before.dropped;
    Ok(TimerRound {
        elapsed_s,
        fired: after.produced - before.produced + dropped,
        delivered,
        dropped,
    })
}

/// The rates the timer producer reaches, each requested for [`TIMER_ROUND`],
/// with an epoll consumer and with a spinning one.
fn timer_rates(ring: &mut Ring) -> io::Result<Vec<TimerRate>> {
    let sides: Vec<(u32, Consume, &'static str)> =
        [(Consume::Epoll, "epoll"), (Consume::Spin, "spin")]
            .into_iter()
            .flat_map(|(how, name)| TIMER_RATES.iter().map(move |&hz| (hz, how, name)))
            .collect();
    let rounds = rotate(TIMER_ROUNDS, sides.len(), |i| {
        timer_round(ring, sides[i].0, sides[i].1)
    })?;
    Ok(sides
        .iter()
        .zip(rounds)
        .map(|(&(requested_hz, _, consumer), rounds)| TimerRate {
            requested_hz,
            consumer,
            rounds,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_records_carry_the_built_in_pattern_and_pass_the_check() {
        let mut buf = Vec::new();
        pipe_record(&mut buf, 64, 0x0102, 77);
        assert_eq!(buf.len(), 88);
        assert_eq!(&buf[24..26], &[0x02, 0x01]);
        assert_eq!(buf[24 + 63], 0x02);
        let mut stream = buf.clone();
        pipe_record(&mut buf, 64, 0x0105, 78);
        stream.extend_from_slice(&buf);
        pipe_record(&mut buf, MARKER_LEN, 0x0106, 79);
        stream.extend_from_slice(&buf);
        let mut check = Check::new(64, MYMAP_SOURCE_INJECT);
        // A cut record is left for the next read.
        assert_eq!(check.stream(&stream[..100]), 88);
        assert_eq!(check.stream(&stream[88..]), 88 + 24);
        assert!(check.done);
        assert_eq!(check.delivered, 2);
        check.result().unwrap();
    }

    #[test]
    fn the_check_catches_order_length_and_payload() {
        let mut check = Check::new(64, MYMAP_SOURCE_INJECT);
        check.record(64, 1, 5, Some(5));
        check.record(64, 1, 5, Some(5));
        assert!(check
            .result()
            .unwrap_err()
            .to_string()
            .contains("sequence number 5 after 5"));
        let mut check = Check::new(64, MYMAP_SOURCE_INJECT);
        check.record(64, 1, 6, Some(7));
        assert!(check.result().is_err());
        let mut check = Check::new(64, MYMAP_SOURCE_INJECT);
        check.record(32, 1, 6, Some(6));
        assert!(check.result().is_err());
    }

    #[test]
    fn rotate_runs_a_warm_up_then_rotating_rounds() {
        let mut order = Vec::new();
        let out = rotate(3, 2, |i| {
            order.push(i);
            Ok(i * 10 + order.len())
        })
        .unwrap();
        assert_eq!(order, vec![0, 1, 0, 1, 1, 0, 0, 1]);
        assert_eq!(out[0], vec![3, 6, 7]);
        assert_eq!(out[1], vec![14, 15, 18]);
    }

    #[test]
    fn the_pipe_sides_run_on_the_host() {
        // The writer runs on the producers' CPU, 1.
        if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            eprintln!("one CPU: the pipe sides are not run");
            return;
        }
        with_worker(|worker| {
            let round = pipe_rate(worker, 1000, SMALL, 1 << 16).unwrap();
            assert_eq!((round.delivered, round.dropped), (1000, 0));
            assert!(round.elapsed_s > 0.0);
            let round = pipe_latency(worker, 1000, 20, 1 << 16).unwrap();
            assert_eq!(round.summary.n, 20);
            assert_eq!(round.samples.len(), 20);
        })
        .unwrap();
        let copy = memcpy_rate(64, 4096, 1 << 18);
        assert_eq!(copy.delivered, 64);
    }
}
