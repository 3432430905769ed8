// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The GPIO-interrupt producer (issue #12), driven by gpio-sim.
//!
//! Each test makes its own gpio-sim chip through configfs, reloads mymap with
//! `gpio=` naming it, and removes the chip after the module is back to its
//! default parameters (which release the line first).
//!
//! Two facts of gpio-sim shape the tests. Its chip sleeps, so the driver
//! cannot read the line in the interrupt handler and infers edge and value
//! (`MYMAP_GPIO_INFERRED`). Its interrupts are raised from an irq_work
//! (irq_sim), which merges the edges that arrive before it runs into one
//! interrupt: tests that want one record per sysfs write wait for each record
//! before the next write, and the storm test compares with the interrupts the
//! kernel counted, not with the writes.

use std::{
    fs::{
        self,
        File,
        OpenOptions, //
    },
    io::Write,
    os::{
        fd::AsFd,
        unix::fs::OpenOptionsExt, //
    },
    path::{
        Path,
        PathBuf, //
    },
    time::{
        Duration,
        Instant, //
    },
};

use gpiocdev::line::Direction;
use mymap_target_support::{
    gpio_sim::{
        read_trimmed,
        write_file,
        Pull,
        SimChip, //
    },
    log, module,
    sys::{
        self,
        errname,
        monotonic_ns, //
    },
};
use mymap_uapi::bindings::{
    mymap_ring_gpio_event,
    mymap_ring_stats,
    MYMAP_GPIO_EDGE_FALLING,
    MYMAP_GPIO_EDGE_RISING,
    MYMAP_GPIO_INFERRED,
    MYMAP_RING_HEADER_SIZE,
    MYMAP_SOURCE_GPIO, //
};

use crate::harness::{
    check,
    TestResult, //
};

/// The ring every test produces into.
const RING0: &str = "/dev/mymap-ring0";

/// Bytes read() returns for one GPIO record: the header and the payload.
const RECORD_BYTES: usize =
    MYMAP_RING_HEADER_SIZE as usize + std::mem::size_of::<mymap_ring_gpio_event>();

/// Pulses (a rise and a fall each) of the edge-filter tests.
const PULSES: usize = 50;

/// How long a test waits for the record of an edge it made.
const RECORD_WAIT: Duration = Duration::from_secs(2);

/// The device-tree producer's node (the raspberrypi4-64 board applies the overlay).
const DT_NODE: &str = "/proc/device-tree/mymap-gpio";

/// The platform driver's directory, where a bound device-tree node appears.
const DT_DRIVER: &str = "/sys/bus/platform/drivers/mymap";

/// The platform device the overlay's node becomes.
const DT_DEVICE: &str = "mymap-gpio";

/// One record of a GPIO producer, as read() returns it.
#[derive(Debug)]
struct Record {
    len: u32,
    source: u16,
    flags: u16,
    seq: u64,
    timestamp_ns: u64,
    offset: u32,
    edge: u8,
    value: u8,
    gpio_flags: u8,
}

impl Record {
    /// Decodes a record: `struct mymap_ring_record` then `struct mymap_ring_gpio_event`.
    fn parse(bytes: &[u8]) -> Result<Record, String> {
        check!(
            bytes.len() == RECORD_BYTES,
            "read() returned {} bytes, want {RECORD_BYTES} (a GPIO record)",
            bytes.len()
        );
        let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap());
        Ok(Record {
            len: u32_at(0),
            source: u16::from_ne_bytes([bytes[4], bytes[5]]),
            flags: u16::from_ne_bytes([bytes[6], bytes[7]]),
            seq: u64_at(8),
            timestamp_ns: u64_at(16),
            offset: u32_at(24),
            edge: bytes[28],
            value: bytes[29],
            gpio_flags: bytes[30],
        })
    }

    /// Checks what every record of a gpio-sim line holds: a GPIO record of `line`
    /// with `edge`, its value, and the inferred flag (the chip sleeps).
    fn check(&self, line: u32, edge: u32) -> TestResult {
        self.check_flags(line, edge, MYMAP_GPIO_INFERRED, "gpio-sim sleeps")
    }

    /// Checks a GPIO record of `line` with `edge`, its value, and payload flags
    /// `gpio_flags` (`why` says why those).
    fn check_flags(&self, line: u32, edge: u32, gpio_flags: u32, why: &str) -> TestResult {
        let payload = std::mem::size_of::<mymap_ring_gpio_event>() as u32;
        check!(
            self.len == payload,
            "record {}: len {:#x}, want {payload}",
            self.seq,
            self.len
        );
        check!(
            self.source == MYMAP_SOURCE_GPIO as u16,
            "record {}: source {}, want MYMAP_SOURCE_GPIO",
            self.seq,
            self.source
        );
        check!(
            self.offset == line,
            "record {}: offset {}, want line {line}",
            self.seq,
            self.offset
        );
        let value = u8::from(edge == MYMAP_GPIO_EDGE_RISING);
        check!(
            self.edge as u32 == edge && self.flags as u32 == edge && self.value == value,
            "record {}: edge {} (header flags {}) value {}, want edge {edge} value {value}",
            self.seq,
            self.edge,
            self.flags,
            self.value
        );
        check!(
            self.gpio_flags as u32 == gpio_flags,
            "record {}: flags {:#x}, want {gpio_flags:#x} ({why})",
            self.seq,
            self.gpio_flags
        );
        Ok(())
    }
}

/// The consumer of ring 0, through read(): one record per call.
struct Consumer {
    file: File,
}

impl Consumer {
    /// Claims ring 0 (opening it for writing), non-blocking.
    fn open() -> Result<Consumer, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(RING0)
            .map_err(|e| format!("open {RING0}: {e}"))?;
        Ok(Consumer { file })
    }

    /// The next record, waiting up to `wait` for one; `None` if none came.
    fn next(&self, wait: Duration) -> Result<Option<Record>, String> {
        let r = sys::poll_in(&self.file, wait.as_millis() as libc::c_int)
            .map_err(|e| format!("poll {RING0}: {}", errname(e)))?;
        if r == 0 {
            return Ok(None);
        }
        self.try_next()
    }

    /// The next record if one waits.
    fn try_next(&self) -> Result<Option<Record>, String> {
        let mut buf = [0u8; 64];
        match sys::read(&self.file, &mut buf) {
            Ok(n) => Record::parse(&buf[..n]).map(Some),
            Err(libc::EAGAIN) => Ok(None),
            Err(e) => Err(format!("read {RING0}: {}", errname(e))),
        }
    }

    /// Every record that waits.
    fn drain(&self) -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        while let Some(record) = self.try_next()? {
            records.push(record);
        }
        Ok(records)
    }
}

/// `MYMAP_RING_IOC_STATS` of an open ring.
fn stats(ring: &File) -> Result<mymap_ring_stats, String> {
    mymap_uapi::ring_stats(ring.as_fd()).map_err(|e| format!("MYMAP_RING_IOC_STATS: {e}"))
}

/// The chip, through its character device.
fn cdev(chip: &SimChip) -> Result<gpiocdev::Chip, String> {
    gpiocdev::Chip::from_path(chip.chardev())
        .map_err(|e| format!("{}: {e}", chip.chardev().display()))
}

/// The /proc/interrupts lines whose action is a mymap ring's (`mymap-ringN`).
fn mymap_interrupts() -> Result<Vec<String>, String> {
    let text =
        fs::read_to_string("/proc/interrupts").map_err(|e| format!("/proc/interrupts: {e}"))?;
    Ok(text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .last()
                .is_some_and(|a| a.starts_with("mymap-ring"))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect())
}

/// The interrupts the kernel counted (all CPUs) for the gpio-sim line producing
/// into ring `ring`: the /proc/interrupts line of chip `irq_sim` and action
/// `mymap-ringN`. `None` if there is no such line.
fn sim_interrupts(ring: u32) -> Result<Option<u64>, String> {
    chip_interrupts("irq_sim", ring)
}

/// The interrupts the kernel counted (all CPUs) on the /proc/interrupts line of
/// irq chip `chip` and action `mymap-ringN`. `None` if there is no such line.
fn chip_interrupts(chip: &str, ring: u32) -> Result<Option<u64>, String> {
    let text =
        fs::read_to_string("/proc/interrupts").map_err(|e| format!("/proc/interrupts: {e}"))?;
    let mut lines = text.lines();
    let cpus = lines.next().map_or(0, |h| h.split_whitespace().count());
    let action = format!("mymap-ring{ring}");
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < cpus + 2 || fields.last() != Some(&action.as_str()) {
            continue;
        }
        if fields[cpus + 1] != chip {
            continue;
        }
        let mut total = 0;
        for count in &fields[1..=cpus] {
            total += count
                .parse::<u64>()
                .map_err(|_| format!("/proc/interrupts: bad count in {line:?}"))?;
        }
        return Ok(Some(total));
    }
    Ok(None)
}

/// `sim_interrupts`, once the count stopped moving (no irq_work still pending).
fn settled_sim_interrupts(ring: u32) -> Result<u64, String> {
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = sim_interrupts(ring)?.ok_or_else(|| {
            format!("no irq_sim interrupt named mymap-ring{ring} in /proc/interrupts")
        })?;
        if last == Some(now) || Instant::now() >= deadline {
            return Ok(now);
        }
        last = Some(now);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reloads mymap with `params` and waits for /dev/mymap and /dev/mymap-ring0.
pub(crate) fn reload(params: &[&str]) -> TestResult {
    if module::loaded() {
        module::unload_when_unused()?;
    }
    module::load_and_wait(params, 1)?;
    module::wait_for_node(RING0, true)
}

/// Runs `body` with a fresh gpio-sim chip; then loads mymap with default
/// parameters (releasing the line) and removes the chip.
pub(crate) fn with_chip(
    label: &str,
    lines: u32,
    body: impl FnOnce(&SimChip) -> TestResult,
) -> TestResult {
    let chip = SimChip::new(label, lines)?;
    let result = body(&chip);
    let restored = module::restore_default();
    drop(chip);
    result.and(restored)
}

/// The errno of a failed gpiocdev call, if the kernel gave one.
fn gpiocdev_errno(e: &gpiocdev::Error) -> Option<i32> {
    match e {
        gpiocdev::Error::Uapi(_, gpiocdev_uapi::Error::Os(gpiocdev_uapi::Errno(n))) => Some(*n),
        _ => None,
    }
}

/// Requests `line` of `chip` as an input for `consumer` through the GPIO character device.
fn request_input(
    chip: &Path,
    line: u32,
    consumer: &str,
) -> Result<gpiocdev::Request, gpiocdev::Error> {
    gpiocdev::Request::builder()
        .on_chip(chip)
        .with_consumer(consumer)
        .with_line(line)
        .as_input()
        .request()
}

/// Checks that a request of `line` of `chip` fails with EBUSY.
fn expect_request_busy(chip: &Path, line: u32, what: &str) -> TestResult {
    match request_input(chip, line, "mymap-test") {
        Ok(_) => Err(format!(
            "{what}: a gpiocdev request of line {line} succeeded, want EBUSY"
        )),
        Err(e) if gpiocdev_errno(&e) == Some(libc::EBUSY) => Ok(()),
        Err(e) => Err(format!(
            "{what}: a gpiocdev request of line {line} failed with {e}, want EBUSY"
        )),
    }
}

/// Checks who holds `line` of `chip`: mymap, as an input, or (`held` false) nobody.
fn check_owner(chip: &gpiocdev::Chip, line: u32, held: bool, what: &str) -> TestResult {
    let info = chip
        .line_info(line)
        .map_err(|e| format!("{what}: line info of line {line}: {e}"))?;
    if held {
        check!(
            info.used && info.consumer == "mymap" && info.direction == Direction::Input,
            "{what}: line {line} is used {} by {:?} as {:?}, want used by \"mymap\" as an input",
            info.used,
            info.consumer,
            info.direction
        );
    } else {
        check!(
            !info.used,
            "{what}: line {line} is still used by {:?}",
            info.consumer
        );
    }
    Ok(())
}

/// Edges of one kind or both: what `gpio=` asks for, and the records it should give.
#[derive(Clone, Copy)]
enum Edges {
    Rising,
    Falling,
    Both,
}

impl Edges {
    fn word(self) -> &'static str {
        match self {
            Edges::Rising => "rising",
            Edges::Falling => "falling",
            Edges::Both => "both",
        }
    }

    /// Whether pulling the line up (`high`) or down makes a record.
    fn fires(self, high: bool) -> bool {
        match self {
            Edges::Rising => high,
            Edges::Falling => !high,
            Edges::Both => true,
        }
    }
}

pub fn pulses_both() -> TestResult {
    pulses(Edges::Both)
}

pub fn pulses_rising() -> TestResult {
    pulses(Edges::Rising)
}

pub fn pulses_falling() -> TestResult {
    pulses(Edges::Falling)
}

/// `PULSES` pulses on line 2 give one record per edge the filter passes, in order,
/// with sequence numbers 0, 1, 2..., non-decreasing timestamps and the right edges,
/// and as many interrupts in /proc/interrupts.
fn pulses(edges: Edges) -> TestResult {
    let label = format!("mymap-pulses-{}", edges.word());
    with_chip(&label, 4, |chip| {
        let line = 2;
        reload(&[&format!("gpio={}:{line},{}", chip.label(), edges.word())])?;
        let interrupts_before = settled_sim_interrupts(0)?;
        let ring = Consumer::open()?;
        let pull = chip.pull(line)?;
        let mut records = Vec::new();
        for pulse in 0..PULSES {
            for high in [true, false] {
                pull.set(high)?;
                if !edges.fires(high) {
                    continue;
                }
                // Waiting for each record keeps irq_sim from merging two edges.
                let record = ring.next(RECORD_WAIT)?.ok_or_else(|| {
                    format!(
                        "no record within {RECORD_WAIT:?} of pulse {pulse}'s {} edge \
                         ({} records so far)",
                        if high { "rising" } else { "falling" },
                        records.len()
                    )
                })?;
                records.push(record);
            }
        }
        if let Some(extra) = ring.next(Duration::from_millis(200))? {
            return Err(format!("a record beyond the edges made: {extra:?}"));
        }
        let want = match edges {
            Edges::Both => 2 * PULSES,
            _ => PULSES,
        };
        check!(
            records.len() == want,
            "{} records for {PULSES} pulses, want {want}",
            records.len()
        );
        let mut last_ts = 0;
        for (i, record) in records.iter().enumerate() {
            check!(
                record.seq == i as u64,
                "record {i} has sequence number {}, want {i}",
                record.seq
            );
            check!(
                record.timestamp_ns >= last_ts,
                "record {i}: timestamp {} before the previous one's {last_ts}",
                record.timestamp_ns
            );
            last_ts = record.timestamp_ns;
            let edge = match edges {
                Edges::Rising => MYMAP_GPIO_EDGE_RISING,
                Edges::Falling => MYMAP_GPIO_EDGE_FALLING,
                // The line starts low: rising, falling, rising...
                Edges::Both if i % 2 == 0 => MYMAP_GPIO_EDGE_RISING,
                Edges::Both => MYMAP_GPIO_EDGE_FALLING,
            };
            record.check(line, edge)?;
        }
        let interrupts = settled_sim_interrupts(0)? - interrupts_before;
        check!(
            interrupts == want as u64,
            "/proc/interrupts counted {interrupts} interrupts for the line, want {want}"
        );
        let stats = stats(&ring.file)?;
        check!(
            stats.produced == want as u64 && stats.dropped == 0,
            "stats: produced {} dropped {}, want {want} and 0",
            stats.produced,
            stats.dropped
        );
        Ok(())
    })
}

/// Edges whose timestamps `timestamp_within_write` checks.
const TIMED_EDGES: usize = 100;

/// Each record's timestamp lies between a CLOCK_MONOTONIC reading just before
/// the sysfs write that made the edge and one just after the write returned.
pub fn timestamp_within_write() -> TestResult {
    with_chip("mymap-timestamps", 1, |chip| {
        reload(&[&format!("gpio={}:0,both", chip.label())])?;
        let ring = Consumer::open()?;
        let pull = chip.pull(0)?;
        // (before the write, the record's timestamp, after the write)
        let mut times = Vec::with_capacity(TIMED_EDGES);
        for i in 0..TIMED_EDGES {
            let before = monotonic_ns();
            pull.set(i % 2 == 0)?;
            let after = monotonic_ns();
            let record = ring
                .next(RECORD_WAIT)?
                .ok_or_else(|| format!("no record within {RECORD_WAIT:?} of edge {i}"))?;
            check!(record.seq == i as u64, "edge {i}: record {}", record.seq);
            times.push((before, record.timestamp_ns, after));
        }
        let gaps = |f: &dyn Fn(&(u64, u64, u64)) -> i64| {
            let mut v: Vec<i64> = times.iter().map(f).collect();
            v.sort_unstable();
            format!(
                "min {:.1} median {:.1} max {:.1} us",
                v[0] as f64 / 1e3,
                v[v.len() / 2] as f64 / 1e3,
                v[v.len() - 1] as f64 / 1e3
            )
        };
        println!(
            "MYMAP-NOTE: gpio-timestamp-within-write: over {TIMED_EDGES} edges, record after \
             the write began: {}; write returned after the record: {}; write took: {}",
            gaps(&|&(b, t, _)| t as i64 - b as i64),
            gaps(&|&(_, t, a)| a as i64 - t as i64),
            gaps(&|&(b, _, a)| a as i64 - b as i64),
        );
        for (i, &(before, ts, after)) in times.iter().enumerate() {
            check!(
                before <= ts && ts <= after,
                "edge {i}: timestamp {ts} ns outside its write, {before} to {after} ns \
                 ({} ns after the start, {} ns before the end)",
                ts as i64 - before as i64,
                after as i64 - ts as i64
            );
        }
        Ok(())
    })
}

/// The configured line is requested by "mymap" as an input (gpiocdev's line
/// info), no other line is, another request of it fails with EBUSY, and
/// `rmmod` releases it.
pub fn line_requested_by_mymap() -> TestResult {
    with_chip("mymap-owner", 4, |chip| {
        reload(&[&format!("gpio={}:3,rising", chip.label())])?;
        let cdev = cdev(chip)?;
        check_owner(&cdev, 3, true, "loaded")?;
        for other in 0..3 {
            check_owner(&cdev, other, false, "loaded")?;
        }
        expect_request_busy(chip.chardev(), 3, "loaded")?;
        module::unload_when_unused()?;
        check_owner(&cdev, 3, false, "after rmmod")?;
        let request = request_input(chip.chardev(), 3, "mymap-test")
            .map_err(|e| format!("after rmmod, a gpiocdev request of line 3: {e}"))?;
        drop(request);
        Ok(())
    })
}

/// The kernel log after the last `marker` line.
fn log_after(marker: &str) -> String {
    let log = log::dmesg();
    match log.rfind(marker) {
        Some(at) => log[at + marker.len()..].to_string(),
        None => String::new(),
    }
}

/// Writes `text` into the kernel log.
fn mark_log(text: &str) -> TestResult {
    let mut kmsg = OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .map_err(|e| format!("/dev/kmsg: {e}"))?;
    kmsg.write_all(text.as_bytes())
        .map_err(|e| format!("write /dev/kmsg: {e}"))
}

/// Loads mymap.ko with `params` through finit_module(2): `Ok(Err(errno))` when the
/// kernel refuses it.
fn finit_module(params: &str) -> Result<Result<(), i32>, String> {
    let path = module::module_file(module::MYMAP).ok_or("mymap.ko is not under /lib/modules")?;
    let path = path.to_str().ok_or("the path of mymap.ko is not UTF-8")?;
    Ok(sys::finit_module(path, params))
}

/// Loads refused with the right errno, each with a kernel message naming the cause:
/// no such chip, no such line, a line a gpiocdev consumer holds, a malformed `gpio=`.
pub fn load_errors() -> TestResult {
    with_chip("mymap-errors", 4, |chip| {
        module::unload_when_unused()?;
        let _holder = request_input(chip.chardev(), 1, "mymap-test-holder")
            .map_err(|e| format!("gpiocdev request of line 1: {e}"))?;
        let cases = [
            (
                "gpio=mymap-no-such-chip:0",
                libc::ENODEV,
                "no GPIO chip labelled mymap-no-such-chip",
            ),
            (
                "gpio=mymap-errors:4",
                libc::EINVAL,
                "mymap-errors has no line 4",
            ),
            (
                "gpio=mymap-errors:1",
                libc::EBUSY,
                "line 1 of mymap-errors is taken",
            ),
            ("gpio=mymap-errors0", libc::EINVAL, "gpio= entry 0 refused"),
            (
                "gpio=mymap-errors:0,sideways",
                libc::EINVAL,
                "gpio= entry 0 refused",
            ),
            ("gpio=mymap-errors:x", libc::EINVAL, "gpio= entry 0 refused"),
            (
                "gpio=;mymap-errors:0",
                libc::EINVAL,
                "gpio= entry 1 refused: there are only 1 ring(s)",
            ),
        ];
        for (params, want, message) in cases {
            let marker = format!("mymap-target-tests: gpio-load-errors: {params}");
            // Level 6 (info): a line for the log, not the console.
            mark_log(&format!("<6>{marker}\n"))?;
            match finit_module(params)? {
                Err(e) if e == want => {}
                Err(e) => {
                    return Err(format!(
                        "loading with {params}: {}, want {}",
                        errname(e),
                        errname(want)
                    ))
                }
                Ok(()) => {
                    return Err(format!(
                        "loading with {params} succeeded, want {}",
                        errname(want)
                    ))
                }
            }
            check!(!module::loaded(), "the module is loaded after {params}");
            let log = log_after(&marker);
            check!(
                log.contains(message),
                "loading with {params}: no {message:?} in the kernel log after it: {:?}",
                log.trim()
            );
        }
        // The refused loads left the line alone.
        check_owner(&cdev(chip)?, 0, false, "after the refused loads")?;
        Ok(())
    })
}

/// Edges the storm test makes; with `ring_size=4096` a ring holds 128 GPIO records.
const STORM_EDGES: usize = 4000;

/// A storm with no consumer into a 4 KiB ring: produced + dropped is the number of
/// interrupts the kernel counted for the line, some were dropped, and the
/// consumer then sees a sequence gap of exactly the drops.
pub fn storm_drops_counted() -> TestResult {
    with_chip("mymap-storm", 1, |chip| {
        reload(&["ring_size=4096", &format!("gpio={}:0,both", chip.label())])?;
        let before = settled_sim_interrupts(0)?;
        let pull = chip.pull(0)?;
        let start = Instant::now();
        for i in 0..STORM_EDGES {
            pull.set(i % 2 == 0)?;
        }
        let took = start.elapsed();
        let interrupts = settled_sim_interrupts(0)? - before;
        let ring = Consumer::open()?;
        let stats = stats(&ring.file)?;
        // irq_sim merges edges that come before its irq_work runs, so the kernel's
        // count, not the number of writes, is what the producer saw.
        println!(
            "MYMAP-NOTE: gpio-storm-drops-counted: {STORM_EDGES} writes in {:.0} ms gave \
             {interrupts} interrupts: {} produced, {} dropped",
            took.as_secs_f64() * 1e3,
            stats.produced,
            stats.dropped
        );
        check!(
            stats.produced + stats.dropped == interrupts,
            "produced {} + dropped {} != {interrupts} interrupts counted in /proc/interrupts",
            stats.produced,
            stats.dropped
        );
        check!(
            stats.dropped > 0,
            "nothing dropped: {} produced into a 4 KiB ring",
            stats.produced
        );
        let records = ring.drain()?;
        check!(
            records.len() as u64 == stats.produced,
            "{} records waiting, but {} produced",
            records.len(),
            stats.produced
        );
        for (i, record) in records.iter().enumerate() {
            check!(
                record.seq == i as u64,
                "waiting record {i} has sequence number {}",
                record.seq
            );
        }
        // One more edge, into the drained ring: its number comes after every drop.
        pull.set(STORM_EDGES % 2 == 0)?;
        let next = ring
            .next(RECORD_WAIT)?
            .ok_or_else(|| format!("no record within {RECORD_WAIT:?} of the edge after"))?;
        let last = records.last().map_or(0, |r| r.seq);
        let gap = next.seq - last - 1;
        check!(
            gap == stats.dropped,
            "the record after the storm has sequence number {} after {last}: a gap of {gap}, \
             but {} were dropped",
            next.seq,
            stats.dropped
        );
        Ok(())
    })
}

/// A child process that toggles a line as fast as it can until dropped.
struct Toggler {
    pid: libc::pid_t,
}

impl Toggler {
    fn start(pull: &Pull) -> Result<Toggler, String> {
        // SAFETY: the test process is single-threaded here; the child only writes to a
        // file and exits with `_exit`.
        let pid = unsafe { libc::fork() };
        check!(pid >= 0, "fork: {}", errname(sys::errno()));
        if pid == 0 {
            let mut high = true;
            while pull.set(high).is_ok() {
                high = !high;
            }
            // SAFETY: ends the child without running the parent's handlers.
            unsafe { libc::_exit(1) };
        }
        Ok(Toggler { pid })
    }

    /// Whether the child still runs (it exits if a write fails).
    fn running(&self) -> bool {
        sys::try_wait(self.pid).is_none()
    }
}

impl Drop for Toggler {
    fn drop(&mut self) {
        if self.running() {
            // SAFETY: `pid` is our child, not reaped yet (`running` just said so).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            sys::wait(self.pid);
        }
    }
}

/// Unload and reload cycles while a child process toggles the line.
const UNLOAD_CYCLES: usize = 20;

/// rmmod while edges arrive: it succeeds, the interrupt leaves /proc/interrupts,
/// the line is free; reloaded, the producer counts interrupts again. The xtask
/// scans the kernel log for splats.
pub fn unload_while_pulsing() -> TestResult {
    with_chip("mymap-unload", 1, |chip| {
        let params = format!("gpio={}:0,both", chip.label());
        reload(&[&params])?;
        let cdev = cdev(chip)?;
        let toggler = Toggler::start(&chip.pull(0)?)?;
        for cycle in 0..UNLOAD_CYCLES {
            let first = current_sim_interrupts(0)?;
            let deadline = Instant::now() + RECORD_WAIT;
            while sim_interrupts(0)?.unwrap_or(0) <= first {
                check!(
                    Instant::now() < deadline,
                    "cycle {cycle}: no interrupt within {RECORD_WAIT:?} while toggling"
                );
                check!(toggler.running(), "the toggling child stopped");
                std::thread::sleep(Duration::from_millis(10));
            }
            module::unload().map_err(|e| format!("cycle {cycle}: {e}"))?;
            let left = mymap_interrupts()?;
            check!(
                left.is_empty(),
                "cycle {cycle}: after rmmod /proc/interrupts still lists {left:?}"
            );
            check_owner(&cdev, 0, false, &format!("cycle {cycle}, after rmmod"))?;
            module::load_and_wait(&[&params], 1).map_err(|e| format!("cycle {cycle}: {e}"))?;
        }
        check!(toggler.running(), "the toggling child stopped");
        drop(toggler);
        Ok(())
    })
}

/// The gpio-sim line's interrupt count as it is now.
fn current_sim_interrupts(ring: u32) -> Result<u64, String> {
    sim_interrupts(ring)?
        .ok_or_else(|| format!("no irq_sim interrupt named mymap-ring{ring} in /proc/interrupts"))
}

/// Whether the board's device tree has the mymap-gpio node (raspberrypi4-64).
pub fn has_device_tree_node() -> bool {
    Path::new(DT_NODE).exists()
}

/// A big-endian cell of a device-tree property.
fn dt_cell(property: &str, index: usize) -> Result<Option<u32>, String> {
    let path = Path::new(DT_NODE).join(property);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let cell = bytes
        .get(index * 4..index * 4 + 4)
        .ok_or_else(|| format!("{} has no cell {index}", path.display()))?;
    Ok(Some(u32::from_be_bytes(cell.try_into().unwrap())))
}

/// The GPIO chips with line `line` used by "mymap", by path.
fn chips_holding(line: u32) -> Result<Vec<PathBuf>, String> {
    let mut holding = Vec::new();
    for path in gpiocdev::chip::chips().map_err(|e| format!("GPIO chips: {e}"))? {
        let chip = gpiocdev::Chip::from_path(&path).map_err(|e| format!("{e}"))?;
        if let Ok(info) = chip.line_info(line) {
            if info.used && info.consumer == "mymap" {
                holding.push(path);
            }
        }
    }
    Ok(holding)
}

/// Checks the device-tree producer's state: bound (its device in the driver's
/// directory, its interrupt listed, its line held by "mymap") or not at all.
fn check_dt_bound(bound: bool, ring: u32, line: u32, what: &str) -> TestResult {
    let device = Path::new(DT_DRIVER).join(DT_DEVICE);
    check!(
        device.exists() == bound,
        "{what}: {} {}",
        device.display(),
        if bound {
            "is missing"
        } else {
            "is still there"
        }
    );
    let action = format!("mymap-ring{ring}");
    let listed: Vec<String> = mymap_interrupts()?
        .into_iter()
        .filter(|l| l.ends_with(&action) && !l.contains(" irq_sim "))
        .collect();
    check!(
        listed.len() == usize::from(bound),
        "{what}: /proc/interrupts lists {listed:?} for the device tree's line, want {}",
        if bound { "one line" } else { "none" }
    );
    let holding = chips_holding(line)?;
    check!(
        holding.len() == usize::from(bound),
        "{what}: line {line} held by \"mymap\" on {holding:?}, want {}",
        if bound { "one chip" } else { "none" }
    );
    Ok(())
}

/// On a board whose device tree has a mymap-gpio node: the platform driver is
/// bound to it, its interrupt is listed and its line held by "mymap"; unbinding
/// through sysfs releases both, binding takes them again.
pub fn device_tree_producer() -> TestResult {
    let result = (|| {
        let ring = dt_cell("mymap,ring", 0)?.unwrap_or(0);
        let line = dt_cell("mymap-gpios", 1)?.ok_or("the node has no mymap-gpios")?;
        check_dt_bound(true, ring, line, "at load")?;
        let driver = Path::new(DT_DRIVER);
        write_file(&driver.join("unbind"), DT_DEVICE)?;
        check_dt_bound(false, ring, line, "unbound")?;
        write_file(&driver.join("bind"), DT_DEVICE)?;
        check_dt_bound(true, ring, line, "bound again")?;
        Ok(())
    })();
    // Binds the node again whatever happened above.
    module::restore_default()?;
    result
}

/// The test-only chip with nested-threaded interrupts, as an I2C or SPI
/// expander has (`tests/modules/mymap_test_nested_gpio.c`, in the test image only).
const NESTED_MODULE: &str = "mymap_test_nested_gpio";

/// Its label, which `gpio=` names.
const NESTED_LABEL: &str = "mymap-nested";

/// Edges each part of `nested_threaded_irq` makes.
const NESTED_EDGES: usize = 100;

/// The test chip's control: writing "OFFSET VALUE" sets a line and, on an edge
/// its interrupt is configured for, runs the handlers before the write returns.
fn nested_line() -> PathBuf {
    Path::new("/sys/module")
        .join(NESTED_MODULE)
        .join("parameters/line")
}

/// The interrupts the test chip fired through `handle_nested_irq()`.
fn nested_fired() -> Result<u64, String> {
    let path = Path::new("/sys/module")
        .join(NESTED_MODULE)
        .join("parameters/fired");
    read_trimmed(&path)?
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Unloads mymap if loaded and loads it with `params` through finit_module(2), so
/// that a refusal gives the errno and the kernel's reason; then waits for its nodes.
fn load_reporting(params: &str) -> TestResult {
    if module::loaded() {
        module::unload_when_unused()?;
    }
    let marker = format!("mymap-target-tests: load {params}");
    mark_log(&format!("<6>{marker}\n"))?;
    if let Err(e) = finit_module(params)? {
        let reasons: Vec<String> = log_after(&marker)
            .lines()
            .filter(|l| l.contains("gpio:"))
            .map(|l| l.trim().to_string())
            .collect();
        return Err(format!(
            "loading mymap with {params}: {} (kernel log: {reasons:?})",
            errname(e)
        ));
    }
    module::wait_for_node(&module::node(0), true)?;
    module::wait_for_node(RING0, true)
}

/// Loads the test chip, runs `body`, then loads mymap with default parameters
/// (releasing the line and its interrupt) and unloads the chip.
fn with_nested_chip(body: impl FnOnce() -> TestResult) -> TestResult {
    if Path::new("/sys/module").join(NESTED_MODULE).exists() {
        module::restore_default()?;
        module::run("rmmod", &[NESTED_MODULE])?;
    }
    module::run(
        "modprobe",
        &[NESTED_MODULE, &format!("label={NESTED_LABEL}")],
    )?;
    let result = body();
    let restored = module::restore_default();
    let removed = module::run("rmmod", &[NESTED_MODULE]);
    result.and(restored).and(removed)
}

/// `edges` edges on `line` of the test chip, each from one write of its control:
/// each record is there when the write returns (the handler ran in the writer's
/// thread), with a timestamp inside the write, in order, with the right edge,
/// the value read from the chip (`MYMAP_GPIO_INFERRED` clear); the interrupts
/// the chip fired and /proc/interrupts both count the edges that make records.
fn nested_edges(line: u32, edges: Edges) -> TestResult {
    let params = format!("gpio={NESTED_LABEL}:{line},{}", edges.word());
    load_reporting(&params)?;
    let fired_before = nested_fired()?;
    let interrupts_before = current_chip_interrupts("mymap-test-nested", 0)?;
    let ring = Consumer::open()?;
    let control = OpenOptions::new()
        .write(true)
        .open(nested_line())
        .map_err(|e| format!("open {}: {e}", nested_line().display()))?;
    let mut records = Vec::new();
    for i in 0..NESTED_EDGES {
        let high = i % 2 == 0;
        let before = monotonic_ns();
        sys::pwrite(&control, format!("{line} {}", u8::from(high)).as_bytes(), 0).map_err(|e| {
            format!(
                "edge {i}: write {}: {}",
                nested_line().display(),
                errname(e)
            )
        })?;
        let after = monotonic_ns();
        // No waiting: a nested handler has run by the time the write returns.
        let record = ring.try_next()?;
        if !edges.fires(high) {
            check!(
                record.is_none(),
                "edge {i} ({}) is filtered out by {}, but made {record:?}",
                if high { "rising" } else { "falling" },
                edges.word()
            );
            continue;
        }
        let record = record.ok_or_else(|| {
            format!(
                "no record when the write of edge {i} returned ({} records so far)",
                records.len()
            )
        })?;
        check!(
            before <= record.timestamp_ns && record.timestamp_ns <= after,
            "edge {i}: timestamp {} ns outside its write, {before} to {after} ns",
            record.timestamp_ns
        );
        let edge = if high {
            MYMAP_GPIO_EDGE_RISING
        } else {
            MYMAP_GPIO_EDGE_FALLING
        };
        check!(
            record.seq == records.len() as u64,
            "edge {i}: record {}, want {}",
            record.seq,
            records.len()
        );
        record.check_flags(line, edge, 0, "the value was read in the nested handler")?;
        records.push(record);
    }
    if let Some(extra) = ring.next(Duration::from_millis(200))? {
        return Err(format!("a record beyond the edges made: {extra:?}"));
    }
    let want = match edges {
        Edges::Both => NESTED_EDGES,
        _ => NESTED_EDGES / 2,
    } as u64;
    check!(
        records.len() as u64 == want,
        "{} records for {NESTED_EDGES} edges ({}), want {want}",
        records.len(),
        edges.word()
    );
    let fired = nested_fired()? - fired_before;
    check!(
        fired == want,
        "the chip fired {fired} nested interrupts, want {want}"
    );
    let interrupts = current_chip_interrupts("mymap-test-nested", 0)? - interrupts_before;
    check!(
        interrupts == want,
        "/proc/interrupts counted {interrupts} interrupts for the line, want {want}"
    );
    let stats = stats(&ring.file)?;
    check!(
        stats.produced == want && stats.dropped == 0,
        "stats: produced {} dropped {}, want {want} and 0",
        stats.produced,
        stats.dropped
    );
    Ok(())
}

/// A chip's interrupt count for ring `ring`, which must be listed.
fn current_chip_interrupts(chip: &str, ring: u32) -> Result<u64, String> {
    chip_interrupts(chip, ring)?
        .ok_or_else(|| format!("no {chip} interrupt named mymap-ring{ring} in /proc/interrupts"))
}

/// A line of a chip whose interrupts are nested-threaded (I2C and SPI expanders;
/// here the test-only chip): mymap loads with `gpio=` naming it (a hard-interrupt
/// handler alone cannot be requested there: EINVAL), its records carry the real
/// value, for both edges and for one; the chip cannot be unloaded while mymap
/// holds its line, and after mymap lets go, the line is free and the chip unloads.
pub fn nested_threaded_irq() -> TestResult {
    // What default parameters give (the emulated Pi's device-tree producer holds GPIO17).
    let before = mymap_interrupts()?;
    with_nested_chip(|| {
        nested_edges(2, Edges::Both)?;
        nested_edges(1, Edges::Rising)?;
        nested_edges(3, Edges::Falling)?;
        check!(
            module::run("rmmod", &[NESTED_MODULE]).is_err(),
            "rmmod {NESTED_MODULE} succeeded while mymap held its line"
        );
        module::restore_default()?;
        let left = mymap_interrupts()?;
        // The interrupt and its action, not the counts, which an edge may move.
        let named = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .map(|l| {
                    let fields: Vec<&str> = l.split(' ').collect();
                    format!("{} {}", fields[0], fields[fields.len() - 1])
                })
                .collect()
        };
        check!(
            named(&left) == named(&before),
            "with default parameters /proc/interrupts lists {left:?}, before the test \
             {before:?}"
        );
        Ok(())
    })
}
