// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The GPIO producer's measurements (issue 12), driven by a gpio-sim chip made
//! for the run: line 0 feeds mymap's GPIO producer into `/dev/mymap-ring0`
//! (module parameter `gpio=`), line 1 is requested through the GPIO character
//! device with edge detection, as `mymap-read --wait-gpio` does.
//!
//! Latency: one thread (on [`INJECT_CPU`]) makes one edge at a time by writing
//! the line's sysfs `pull` attribute, reading CLOCK_MONOTONIC just before and
//! just after the write (the injection window); edges alternate between the
//! two lines, and the side that goes first alternates round by round. Each
//! side's consumer thread (on [`CONSUMER_CPU`]) sleeps in `epoll_wait` on its
//! file and reads CLOCK_MONOTONIC when it wakes. Per edge: the kernel's
//! timestamp (the record's, or the edge event's) minus the injection time, and
//! the wakeup minus the injection time. The injector waits for each edge's
//! record or event before the next, so gpio-sim never merges two of them.
//!
//! Rates: a thread writes `pull` as fast as it can for [`RATE_ROUND`] while the
//! side's consumer drains; then the kernel's interrupt count for the line
//! (/proc/interrupts), what the consumer received and what was dropped (the
//! ring's counter; gaps in the edge events' line sequence numbers). gpio-sim
//! raises its interrupts from an irq_work, which merges the edges written
//! before it runs: the interrupts, not the writes, are what a producer can see.

use std::{
    fs, io,
    ops::ControlFlow,
    sync::{
        atomic::{
            AtomicBool,
            AtomicU64,
            Ordering::Relaxed, //
        },
        mpsc,
    },
    thread,
    time::{
        Duration,
        Instant, //
    },
};

use gpiocdev::line::{
    EdgeDetection,
    EventClock, //
};
use mymap::Ring;
use mymap_target_support::{
    gpio_sim::{
        Pull,
        SimChip, //
    },
    sys::{
        monotonic_ns,
        pin_to_cpu,
        sleep_until_ns,
        Epoll, //
    },
};
use mymap_uapi::bindings::MYMAP_SOURCE_GPIO;

use crate::{
    module,
    ring_report::Summary,
    stats::{
        Bound,
        Ratio, //
    },
};

/// The gpio-sim chip's label, which `gpio=` names.
const LABEL: &str = "mymap-bench-sim";
/// The line of mymap's GPIO producer, and the line of the character device.
const RING_LINE: u32 = 0;
const CDEV_LINE: u32 = 1;
/// The ring the producer writes into (ring 0 of the reloaded module).
const RING_NODE: &str = "/dev/mymap-ring0";
/// The interrupt's action name in /proc/interrupts: the ring's for mymap, the
/// request's consumer label for the character device.
const RING_ACTION: &str = "mymap-ring0";
const CDEV_CONSUMER: &str = "mymap-bench-cdev";
/// Consumers on CPU 0, the injector on CPU 1, as for the ring's measurements.
const CONSUMER_CPU: usize = 0;
const INJECT_CPU: usize = 1;
/// The pause before each edge of the latency rounds, so the consumer is asleep.
const GAP_NS: u64 = 2_000_000;
/// How long the injector waits for an edge's record or event.
const EDGE_WAIT: Duration = Duration::from_secs(2);
/// How long each side of a rate round writes.
const RATE_ROUND: Duration = Duration::from_secs(1);
/// The consumers' epoll timeout, so they see the stop flag.
const POLL_MS: i32 = 50;
const POLL: Duration = Duration::from_millis(POLL_MS as u64);

/// The ring's consumer p99 no worse than the character device's (issue 12).
const WAKE_TARGET: Bound = Bound::AtMost(1.0);
/// The record's timestamp within the tick of the edge: p99 of (timestamp minus
/// injection) over the tick, at most 1.
const TICK_TARGET: Bound = Bound::AtMost(1.0);

/// What to measure.
#[derive(Debug, PartialEq)]
pub struct GpioConfig {
    /// Timed latency rounds (after one untimed round), and rate rounds. The
    /// wakeup ratio is of the p99s of all rounds together (a round's p99 is
    /// nearly its maximum); each round's ratio is kept beside it.
    pub rounds: usize,
    /// Edges of each side per latency round.
    pub edges: usize,
    /// The kernel's CONFIG_HZ (from `--tick-hz`; the xtask reads the kernel's
    /// configuration); 0 when unknown, and then no tick target.
    pub tick_hz: u32,
}

impl Default for GpioConfig {
    fn default() -> Self {
        GpioConfig {
            rounds: 5,
            edges: 100,
            tick_hz: 0,
        }
    }
}

/// The two sides.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Ring,
    Cdev,
}

impl Side {
    const BOTH: [Side; 2] = [Side::Ring, Side::Cdev];

    fn id(self) -> &'static str {
        match self {
            Side::Ring => "ring",
            Side::Cdev => "cdev",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Side::Ring => "mymap ring (GPIO producer, epoll)",
            Side::Cdev => "GPIO character device (edge events, epoll)",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Side::Ring => RING_ACTION,
            Side::Cdev => CDEV_CONSUMER,
        }
    }
}

/// One edge as a consumer saw it: the kernel's timestamp and the wakeup.
#[derive(Clone, Copy, Debug)]
struct Seen {
    stamp_ns: u64,
    wake_ns: u64,
}

/// One side's latencies in one round.
#[derive(Debug, Default)]
struct LatencyRound {
    /// Kernel timestamp minus the time read just before the write (signed).
    stamp: Vec<i64>,
    /// Wakeup minus the time read just before the write.
    wake: Vec<u64>,
    /// Edges whose kernel timestamp is inside the injection window.
    in_window: usize,
}

/// One side's latencies, every round.
#[derive(Debug)]
pub struct LatencySide {
    id: &'static str,
    label: &'static str,
    rounds: Vec<LatencyRound>,
}

/// One side's rate round.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateRound {
    elapsed_s: f64,
    writes: u64,
    interrupts: u64,
    delivered: u64,
    dropped: u64,
}

/// One side's rate rounds.
#[derive(Debug)]
pub struct RateSide {
    id: &'static str,
    label: &'static str,
    rounds: Vec<RateRound>,
}

/// Everything the GPIO part measured.
#[derive(Debug)]
pub struct GpioReport {
    tick_hz: u32,
    edges: usize,
    /// The sysfs write's duration (the injection window), both sides together.
    write: Vec<u64>,
    latency: Vec<LatencySide>,
    rates: Vec<RateSide>,
    /// The character device's kernel event buffer, in events.
    cdev_buffer: u32,
    ring_data_size: u32,
}

fn progress(what: &str) {
    eprintln!("mymap-bench: gpio: {what}");
}

/// Runs the GPIO measurements; reloads mymap with `gpio=` naming a gpio-sim
/// chip made for the run, and leaves it loaded with its default parameters and
/// the chip removed.
pub fn run(cfg: &GpioConfig) -> io::Result<GpioReport> {
    let chip = SimChip::new(LABEL, 2).map_err(io::Error::other)?;
    let param = format!("gpio={LABEL}:{RING_LINE},both");
    let result = module::reload(&module::MYMAP, &[&param])
        .and_then(|_| module::settle())
        .and_then(|_| measure(cfg, &chip));
    let restored = module::reload(&module::MYMAP, &[]).and_then(|_| module::settle());
    drop(chip);
    let report = result?;
    restored?;
    Ok(report)
}

/// A consumer thread's side of the work, until `stop`: each edge seen goes to `tx`.
fn consume(
    side: Side,
    chip: &SimChip,
    ready: mpsc::Sender<io::Result<u32>>,
    tx: mpsc::Sender<io::Result<Seen>>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) {
    let fail = |e: io::Error, ready: &mpsc::Sender<io::Result<u32>>| {
        let _ = ready.send(Err(io::Error::new(
            e.kind(),
            format!("{} consumer: {e}", side.id()),
        )));
    };
    if let Err(e) = pin_to_cpu(CONSUMER_CPU) {
        return fail(e, &ready);
    }
    match side {
        Side::Ring => {
            let mut ring = match Ring::open(RING_NODE) {
                Ok(ring) => ring,
                Err(e) => return fail(io::Error::other(e), &ready),
            };
            let _ = ready.send(Ok(ring.geometry().data_size));
            let mut last_seq = None;
            while !stop.load(Relaxed) {
                match ring.wait(Some(POLL)).map_err(io::Error::other) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                let wake_ns = monotonic_ns();
                let mut bad = None;
                let drained = ring.consume(|r| {
                    let word = r
                        .payload
                        .get(..8)
                        .map_or(u64::MAX, |w| u64::from_ne_bytes(w.try_into().unwrap()));
                    if r.source != MYMAP_SOURCE_GPIO as u16 || word as u32 != RING_LINE {
                        bad = Some(format!(
                            "record seq {} has source {} and offset {}, want a GPIO record of line {RING_LINE}",
                            r.seq,
                            r.source,
                            word as u32
                        ));
                    }
                    if let Some(prev) = last_seq {
                        let gap = r.seq.wrapping_sub(prev);
                        if gap == 0 || gap > 1 << 32 {
                            bad = Some(format!("record seq {} after {prev}", r.seq));
                        }
                    }
                    last_seq = Some(r.seq);
                    let _ = tx.send(Ok(Seen {
                        stamp_ns: r.timestamp_ns,
                        wake_ns,
                    }));
                    ControlFlow::Continue(())
                });
                if let Err(e) = drained {
                    let _ = tx.send(Err(io::Error::other(e)));
                    return;
                }
                if let Some(bad) = bad {
                    let _ = tx.send(Err(io::Error::other(bad)));
                    return;
                }
                if let Ok(stats) = ring.stats() {
                    dropped.store(stats.dropped, Relaxed);
                }
            }
        }
        Side::Cdev => {
            let setup = || -> io::Result<(gpiocdev::Request, Epoll)> {
                let req = gpiocdev::Request::builder()
                    .on_chip(chip.chardev())
                    .with_consumer(CDEV_CONSUMER)
                    .with_line(CDEV_LINE)
                    .as_input()
                    .with_edge_detection(EdgeDetection::BothEdges)
                    .with_event_clock(EventClock::Monotonic)
                    .request()
                    .map_err(|e| io::Error::other(format!("{}: {e}", chip.chardev().display())))?;
                let epoll = Epoll::watching(&req)?;
                Ok((req, epoll))
            };
            let (req, epoll) = match setup() {
                Ok(s) => s,
                Err(e) => return fail(e, &ready),
            };
            // The kernel's default: 16 events per requested line.
            let _ = ready.send(Ok(16));
            let mut last_seq: Option<u32> = None;
            while !stop.load(Relaxed) {
                match epoll.wait_ready(POLL_MS) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                let wake_ns = monotonic_ns();
                loop {
                    let event = match req.read_edge_event() {
                        Ok(ev) => ev,
                        Err(e) => {
                            let _ = tx.send(Err(io::Error::other(format!("edge event: {e}"))));
                            return;
                        }
                    };
                    if event.offset != CDEV_LINE {
                        let _ = tx.send(Err(io::Error::other(format!(
                            "edge event of line {}, want {CDEV_LINE}",
                            event.offset
                        ))));
                        return;
                    }
                    if let Some(prev) = last_seq {
                        let gap = event.line_seqno.wrapping_sub(prev);
                        dropped.fetch_add(u64::from(gap.saturating_sub(1)), Relaxed);
                    }
                    last_seq = Some(event.line_seqno);
                    let _ = tx.send(Ok(Seen {
                        stamp_ns: event.timestamp_ns,
                        wake_ns,
                    }));
                    match req.has_edge_event() {
                        Ok(true) => {}
                        _ => break,
                    }
                }
            }
        }
    }
}

/// Both consumers running, the latency rounds, then the rate rounds.
fn measure(cfg: &GpioConfig, chip: &SimChip) -> io::Result<GpioReport> {
    pin_to_cpu(INJECT_CPU)?;
    let pull = |line| chip.pull(line).map_err(io::Error::other);
    let mut pulls = [pull(RING_LINE)?, pull(CDEV_LINE)?];
    let stop = AtomicBool::new(false);
    let dropped = [AtomicU64::new(0), AtomicU64::new(0)];
    thread::scope(|s| {
        let mut rxs = Vec::new();
        let mut sizes = Vec::new();
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let (ready_tx, ready_rx) = mpsc::channel();
            let (tx, rx) = mpsc::channel();
            let (stop, dropped) = (&stop, &dropped[i]);
            s.spawn(move || consume(side, chip, ready_tx, tx, stop, dropped));
            let size = ready_rx
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other(format!("{} consumer ended", side.id()))));
            match size {
                Ok(size) => sizes.push(size),
                Err(e) => {
                    stop.store(true, Relaxed);
                    return Err(e);
                }
            }
            rxs.push(rx);
        }
        let result = latency_and_rates(cfg, &mut pulls, &rxs, &dropped);
        stop.store(true, Relaxed);
        let (write, latency, rates) = result?;
        Ok(GpioReport {
            tick_hz: cfg.tick_hz,
            edges: cfg.edges,
            write,
            latency,
            rates,
            cdev_buffer: sizes[1],
            ring_data_size: sizes[0],
        })
    })
}

type Measured = (Vec<u64>, Vec<LatencySide>, Vec<RateSide>);

fn latency_and_rates(
    cfg: &GpioConfig,
    pulls: &mut [Pull; 2],
    rxs: &[mpsc::Receiver<io::Result<Seen>>],
    dropped: &[AtomicU64; 2],
) -> io::Result<Measured> {
    let mut write = Vec::new();
    let mut latency: Vec<LatencySide> = Side::BOTH
        .iter()
        .map(|s| LatencySide {
            id: s.id(),
            label: s.label(),
            rounds: Vec::new(),
        })
        .collect();
    progress(&format!(
        "latency: {} rounds of {} edges per side, sides alternating",
        cfg.rounds, cfg.edges
    ));
    // Round 0 is untimed.
    for round in 0..=cfg.rounds {
        let mut this = [LatencyRound::default(), LatencyRound::default()];
        for k in 0..2 * cfg.edges {
            let i = (k + round) % 2;
            sleep_until_ns(monotonic_ns() + GAP_NS);
            let t0 = monotonic_ns();
            pulls[i].toggle().map_err(io::Error::other)?;
            let t1 = monotonic_ns();
            let seen = rxs[i].recv_timeout(EDGE_WAIT).map_err(|_| {
                io::Error::other(format!(
                    "no {} record or event within {} s of an edge",
                    Side::BOTH[i].id(),
                    EDGE_WAIT.as_secs()
                ))
            })??;
            if rxs[i].try_recv().is_ok() {
                return Err(io::Error::other(format!(
                    "{}: two records or events for one edge",
                    Side::BOTH[i].id()
                )));
            }
            if round == 0 {
                continue;
            }
            write.push(t1 - t0);
            let r = &mut this[i];
            r.stamp.push(seen.stamp_ns as i64 - t0 as i64);
            r.wake.push(seen.wake_ns.saturating_sub(t0));
            if (t0..=t1).contains(&seen.stamp_ns) {
                r.in_window += 1;
            }
        }
        if round > 0 {
            for (side, r) in latency.iter_mut().zip(this) {
                side.rounds.push(r);
            }
        }
    }
    let mut rates: Vec<RateSide> = Side::BOTH
        .iter()
        .map(|s| RateSide {
            id: s.id(),
            label: s.label(),
            rounds: Vec::new(),
        })
        .collect();
    progress(&format!(
        "rates: {} rounds of {} s per side, writing as fast as possible",
        cfg.rounds,
        RATE_ROUND.as_secs_f64()
    ));
    for round in 0..cfg.rounds {
        for i in crate::stats::rotation(round, 2) {
            let r = rate_round(Side::BOTH[i], &mut pulls[i], &rxs[i], &dropped[i])?;
            rates[i].rounds.push(r);
        }
    }
    Ok((write, latency, rates))
}

/// Writes the line's pull as fast as possible for [`RATE_ROUND`]; counts what
/// the kernel and the consumer saw once everything settled.
fn rate_round(
    side: Side,
    pull: &mut Pull,
    rx: &mpsc::Receiver<io::Result<Seen>>,
    dropped: &AtomicU64,
) -> io::Result<RateRound> {
    let irq_before = settled_interrupts(side.action())?;
    let dropped_before = dropped.load(Relaxed);
    let start = Instant::now();
    let mut writes = 0;
    while start.elapsed() < RATE_ROUND {
        pull.toggle().map_err(io::Error::other)?;
        writes += 1;
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    let irq_after = settled_interrupts(side.action())?;
    // Everything raised has been handled; collect until the consumer is quiet.
    let mut delivered = 0;
    loop {
        match rx.recv_timeout(Duration::from_millis(300)) {
            Ok(seen) => {
                seen?;
                delivered += 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other(format!("{} consumer ended", side.id())))
            }
        }
    }
    // An even number of writes leaves the line where it was: pulled down.
    if writes % 2 == 1 {
        pull.toggle().map_err(io::Error::other)?;
        writes += 1;
        rx.recv_timeout(EDGE_WAIT)
            .map_err(|_| io::Error::other(format!("{}: no last edge", side.id())))??;
    }
    Ok(RateRound {
        elapsed_s,
        writes,
        interrupts: irq_after - irq_before,
        delivered,
        dropped: dropped.load(Relaxed) - dropped_before,
    })
}

/// The interrupts the kernel counted (all CPUs) on the irq_sim line whose
/// action is `action`, once the count stopped moving.
fn settled_interrupts(action: &str) -> io::Result<u64> {
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = fs::read_to_string("/proc/interrupts")?;
        let now = interrupts_in(&text, action).ok_or_else(|| {
            io::Error::other(format!(
                "no irq_sim interrupt named {action} in /proc/interrupts"
            ))
        })?;
        if last == Some(now) || Instant::now() >= deadline {
            return Ok(now);
        }
        last = Some(now);
        thread::sleep(Duration::from_millis(100));
    }
}

/// The count of the irq_sim interrupt whose action is `action`, summed over CPUs.
fn interrupts_in(text: &str, action: &str) -> Option<u64> {
    let mut lines = text.lines();
    let cpus = lines.next()?.split_whitespace().count();
    lines.find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < cpus + 3 || fields.last() != Some(&action) {
            return None;
        }
        if fields[cpus + 1] != "irq_sim" {
            return None;
        }
        fields[1..=cpus].iter().map(|n| n.parse::<u64>().ok()).sum()
    })
}

/// Summary of signed differences: negative ones (a timestamp before the write
/// started, which would be a bug) count as 0 in the figures; `before` says how many.
fn signed_summary(values: &[i64]) -> (Summary, usize) {
    let before = values.iter().filter(|&&v| v < 0).count();
    let clamped: Vec<u64> = values.iter().map(|&v| v.max(0) as u64).collect();
    (Summary::of(&clamped), before)
}

impl LatencySide {
    fn stamps(&self) -> Vec<i64> {
        self.rounds.iter().flat_map(|r| r.stamp.clone()).collect()
    }

    fn wakes(&self) -> Vec<u64> {
        self.rounds.iter().flat_map(|r| r.wake.clone()).collect()
    }

    fn in_window(&self) -> f64 {
        let n: usize = self.rounds.iter().map(|r| r.stamp.len()).sum();
        let inside: usize = self.rounds.iter().map(|r| r.in_window).sum();
        inside as f64 / n.max(1) as f64
    }
}

impl RateSide {
    fn median(&self, f: impl Fn(&RateRound) -> f64) -> f64 {
        let values: Vec<f64> = self.rounds.iter().map(f).collect();
        crate::stats::median(&values).unwrap_or(f64::NAN)
    }

    fn dropped(&self) -> u64 {
        self.rounds.iter().map(|r| r.dropped).sum()
    }
}

impl GpioReport {
    fn tick_ns(&self) -> Option<u64> {
        (self.tick_hz > 0).then(|| 1_000_000_000 / u64::from(self.tick_hz))
    }

    fn ratios(&self) -> Vec<Ratio> {
        let mut out = Vec::new();
        let [ring, cdev] = [&self.latency[0], &self.latency[1]];
        let p99 = |v: &[u64]| Summary::of(v).p99_ns as f64;
        out.push(Ratio {
            id: "gpio-wake-p99".into(),
            what: "GPIO edge to consumer wakeup, p99: ring / character device".into(),
            ratio: p99(&ring.wakes()) / p99(&cdev.wakes()),
            rounds: ring
                .rounds
                .iter()
                .zip(&cdev.rounds)
                .map(|(a, b)| p99(&a.wake) / p99(&b.wake))
                .collect(),
            target: WAKE_TARGET,
        });
        if let Some(tick) = self.tick_ns() {
            let stamp_p99 = |v: &[i64]| signed_summary(v).0.p99_ns as f64;
            out.push(Ratio {
                id: "gpio-stamp-tick".into(),
                what: format!(
                    "GPIO record timestamp minus injection, p99 / tick ({} Hz)",
                    self.tick_hz
                ),
                ratio: stamp_p99(&ring.stamps()) / tick as f64,
                rounds: ring
                    .rounds
                    .iter()
                    .map(|r| stamp_p99(&r.stamp) / tick as f64)
                    .collect(),
                target: TICK_TARGET,
            });
        }
        out
    }

    /// The tables, as text.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let w = Summary::of(&self.write);
        let _ = writeln!(
            out,
            "gpio latency (edge injected at t0, sysfs write median {} ns, p99 {} ns):",
            w.median_ns, w.p99_ns
        );
        let _ = writeln!(
            out,
            "  {:<46} {:>30} {:>30} {:>10}",
            "side", "stamp-t0 med/p99/max ns", "wake-t0 med/p99/max ns", "in write"
        );
        for s in &self.latency {
            let (st, _) = signed_summary(&s.stamps());
            let wk = Summary::of(&s.wakes());
            let _ = writeln!(
                out,
                "  {:<46} {:>30} {:>30} {:>9.1}%",
                s.label,
                format!("{}/{}/{}", st.median_ns, st.p99_ns, st.max_ns),
                format!("{}/{}/{}", wk.median_ns, wk.p99_ns, wk.max_ns),
                100.0 * s.in_window()
            );
        }
        let _ = writeln!(
            out,
            "gpio rates (medians of {} s rounds):",
            RATE_ROUND.as_secs_f64()
        );
        for s in &self.rates {
            let _ = writeln!(
                out,
                "  {:<46} writes {:.0}/s, interrupts {:.0}/s, delivered {:.0}/s, dropped {}",
                s.label,
                s.median(|r| r.writes as f64 / r.elapsed_s),
                s.median(|r| r.interrupts as f64 / r.elapsed_s),
                s.median(|r| r.delivered as f64 / r.elapsed_s),
                s.dropped()
            );
        }
        for r in self.ratios() {
            let _ = writeln!(out, "{}", r.line());
        }
        out
    }

    /// The `gpio` part of the record (`mymap_bench_record::gpio`).
    pub fn record(&self) -> mymap_bench_record::gpio::Gpio {
        use mymap_bench_record::{
            gpio as record,
            rounded, //
        };
        let latency = self
            .latency
            .iter()
            .map(|s| {
                let (stamp, before) = signed_summary(&s.stamps());
                let rounds = s
                    .rounds
                    .iter()
                    .map(|r| record::LatencyRound {
                        stamp: signed_summary(&r.stamp).0,
                        wake: Summary::of(&r.wake),
                        in_window: r.in_window as u64,
                    })
                    .collect();
                record::LatencySide {
                    id: s.id.into(),
                    label: s.label.into(),
                    stamp,
                    stamp_before_write: before as u64,
                    stamp_in_window: rounded(s.in_window(), 4),
                    wake: Summary::of(&s.wakes()),
                    rounds,
                }
            })
            .collect();
        let rates = self
            .rates
            .iter()
            .map(|s| {
                let per_s = |count: fn(&RateRound) -> u64| {
                    rounded(s.median(|r| count(r) as f64 / r.elapsed_s), 1)
                };
                let rounds = s
                    .rounds
                    .iter()
                    .map(|r| record::RateRound {
                        elapsed_s: rounded(r.elapsed_s, 4).unwrap_or(r.elapsed_s),
                        writes: r.writes,
                        interrupts: r.interrupts,
                        delivered: r.delivered,
                        dropped: r.dropped,
                    })
                    .collect();
                record::RateSide {
                    id: s.id.into(),
                    label: s.label.into(),
                    writes_per_s: per_s(|r| r.writes),
                    interrupts_per_s: per_s(|r| r.interrupts),
                    delivered_per_s: per_s(|r| r.delivered),
                    dropped: s.dropped(),
                    rounds,
                }
            })
            .collect();
        let ratios = self.ratios().iter().map(Ratio::record).collect();
        record::Gpio {
            chip: LABEL.into(),
            ring_line: RING_LINE,
            cdev_line: CDEV_LINE,
            tick_hz: self.tick_hz,
            edges_per_round: self.edges as u32,
            gap_ns: GAP_NS,
            rate_round_s: rounded(RATE_ROUND.as_secs_f64(), 3).unwrap_or(f64::NAN),
            ring_data_size: self.ring_data_size.into(),
            cdev_event_buffer: self.cdev_buffer,
            write: Summary::of(&self.write),
            latency,
            rates,
            ratios,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interrupt_count_is_the_irq_sim_line_of_the_action() {
        let text = "           CPU0       CPU1\n\
                    11:         10          5     GICv2  27 Level     arch_timer\n\
                    62:          3          4   irq_sim   0 Edge      mymap-ring0\n\
                    63:          7          0   irq_sim   1 Edge      mymap-bench-cdev\n";
        assert_eq!(interrupts_in(text, "mymap-ring0"), Some(7));
        assert_eq!(interrupts_in(text, "mymap-bench-cdev"), Some(7));
        assert_eq!(interrupts_in(text, "arch_timer"), None);
        assert_eq!(interrupts_in(text, "mymap-ring1"), None);
    }

    #[test]
    fn stamps_before_the_write_are_counted_apart() {
        let (s, before) = signed_summary(&[-5, 10, 20]);
        assert_eq!(before, 1);
        assert_eq!((s.n, s.median_ns, s.max_ns), (3, 10, 20));
    }
}
