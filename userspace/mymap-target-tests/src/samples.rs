// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The ring's interfaces as a product team uses them: the C consumer
//! `userspace/examples/ring-consumer.c` (installed as
//! `/usr/libexec/mymap/ring-consumer`, and `-compat`, its 32-bit build, on
//! 64-bit boards), the Rust example application `userspace/examples/ring-csv`
//! (`/usr/libexec/mymap/ring-csv`, on the `mymap` crate), and the sample
//! producer module `driver/samples/mymap_sample_producer.c` (in
//! `/lib/modules/<release>/extra/`).

use std::{
    collections::HashMap,
    fs::{
        File,
        OpenOptions, //
    },
    os::unix::fs::OpenOptionsExt,
    path::Path,
    process::{
        Child,
        Command,
        Stdio, //
    },
    time::{
        Duration,
        Instant, //
    },
};

use mymap_uapi::bindings::{
    mymap_ring_info,
    mymap_ring_inject,
    mymap_ring_stats,
    mymap_ring_timer,
    MYMAP_IOC_MAGIC,
    MYMAP_IOC_NR_RING_INFO,
    MYMAP_IOC_NR_RING_INJECT,
    MYMAP_IOC_NR_RING_STATS,
    MYMAP_IOC_NR_RING_TIMER,
    MYMAP_RING_HEADER_SIZE,
    MYMAP_SOURCE_DRIVER_FIRST,
    MYMAP_SOURCE_INJECT,
    MYMAP_SOURCE_TIMER, //
};

use mymap_target_support::{
    log, module,
    sys::{
        self,
        errname, //
    },
};

use crate::harness::{
    check,
    TestResult, //
};

/// The ring the tests use; the module's default `rings=1` registers it.
const RING: &str = "/dev/mymap-ring0";
/// The C consumer and its 32-bit build.
const CONSUMER: &str = "/usr/libexec/mymap/ring-consumer";
const CONSUMER_COMPAT: &str = "/usr/libexec/mymap/ring-consumer-compat";
/// The Rust example application.
const RING_CSV: &str = "/usr/libexec/mymap/ring-csv";
/// The sample producer module, as modprobe knows it.
const SAMPLE: &str = "mymap_sample_producer";
/// The sample's record flags, by context (see the top of its source).
const SAMPLE_PROCESS: u16 = 0;
const SAMPLE_HARDIRQ: u16 = 1;

/// An ioctl request code in the encoding of ARM and arm64 (asm-generic):
/// direction 1 write, 2 read, 3 both.
fn ioc<T>(dir: u64, nr: u32) -> u64 {
    (dir << 30)
        | ((std::mem::size_of::<T>() as u64) << 16)
        | ((MYMAP_IOC_MAGIC as u64) << 8)
        | nr as u64
}

/// Issues a ring ioctl whose argument is `arg`.
fn ring_ioctl<T>(file: &File, dir: u64, nr: u32, arg: &mut T, what: &str) -> TestResult {
    // SAFETY: `arg` is a live `T`, and `ioc::<T>` encodes its size: the kernel reads and
    // writes at most that much of it.
    unsafe { sys::ioctl_ptr(file, ioc::<T>(dir, nr), (arg as *mut T).cast()) }
        .map(|_| ())
        .map_err(|e| format!("{what}: {}", errname(e)))
}

fn ring_info(file: &File) -> Result<mymap_ring_info, String> {
    let mut info = mymap_ring_info::default();
    ring_ioctl(
        file,
        2,
        MYMAP_IOC_NR_RING_INFO,
        &mut info,
        "MYMAP_RING_IOC_INFO",
    )?;
    Ok(info)
}

fn ring_stats(file: &File) -> Result<mymap_ring_stats, String> {
    let mut stats = mymap_ring_stats::default();
    ring_ioctl(
        file,
        2,
        MYMAP_IOC_NR_RING_STATS,
        &mut stats,
        "MYMAP_RING_IOC_STATS",
    )?;
    Ok(stats)
}

/// Starts (or, with period 0, stops) the ring's timer producer.
fn timer(file: &File, period_ns: u64, len: u32) -> TestResult {
    let mut arg = mymap_ring_timer {
        period_ns,
        len,
        reserved: 0,
    };
    ring_ioctl(
        file,
        1,
        MYMAP_IOC_NR_RING_TIMER,
        &mut arg,
        "MYMAP_RING_IOC_TIMER",
    )
}

/// Injects `count` records of `len` bytes; returns (produced, dropped).
fn inject(file: &File, count: u32, len: u32) -> Result<(u32, u32), String> {
    let mut arg = mymap_ring_inject {
        count,
        len,
        ..Default::default()
    };
    ring_ioctl(
        file,
        3,
        MYMAP_IOC_NR_RING_INJECT,
        &mut arg,
        "MYMAP_RING_IOC_INJECT",
    )?;
    Ok((arg.produced, arg.dropped))
}

fn open_ring_ro() -> Result<File, String> {
    File::open(RING).map_err(|e| format!("open {RING} read-only: {e}"))
}

/// The consumer's file, non-blocking, for `read()`.
fn open_ring_consumer() -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(RING)
        .map_err(|e| format!("open {RING} for reading and writing: {e}"))
}

/// mymap loaded with its defaults, the ring's timer stopped and every waiting
/// record consumed: a ring where only what the test makes will arrive.
fn quiet_ring() -> TestResult {
    if !module::loaded() || !Path::new(RING).exists() {
        module::restore_default()?;
        module::wait_for_node(RING, true)?;
    }
    timer(&open_ring_ro()?, 0, 0)?;
    let ring = open_ring_consumer()?;
    drain(&ring)?;
    Ok(())
}

/// One record as `read()` returns it.
struct Record {
    len: u32,
    source: u16,
    flags: u16,
    seq: u64,
    payload: Vec<u8>,
}

/// Reads every waiting record (the file is non-blocking), one `read()` each.
fn drain(file: &File) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let mut buf = vec![0u8; 1 << 17];
    loop {
        let n = match sys::read(file, &mut buf) {
            Ok(n) => n,
            Err(libc::EAGAIN) => return Ok(records),
            Err(e) => return Err(format!("read {RING}: {}", errname(e))),
        };
        let header = MYMAP_RING_HEADER_SIZE as usize;
        check!(n >= header, "read returned {n} bytes, less than a header");
        let word = |at: usize, len: usize| {
            buf[at..at + len]
                .iter()
                .rev()
                .fold(0u64, |v, &b| (v << 8) | b as u64)
        };
        let len = word(0, 4) as u32;
        check!(
            n == header + len as usize,
            "read returned {n} bytes for a record of {len}"
        );
        records.push(Record {
            len,
            source: word(4, 2) as u16,
            flags: word(6, 2) as u16,
            seq: word(8, 8),
            payload: buf[header..n].to_vec(),
        });
    }
}

/// The C consumer, started with `args`, its output captured.
fn spawn_consumer(program: &str, args: &[&str]) -> Result<Child, String> {
    Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))
}

/// Waits until a consumer holds the ring's claim (it has opened it), up to 10 s.
fn wait_for_claim(child: &mut Child) -> TestResult {
    let ring = open_ring_ro()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if ring_info(&ring)?.consumer_claimed == 1 {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the consumer exited ({status}) before claiming the ring"
            ));
        }
        check!(
            Instant::now() < deadline,
            "the consumer did not claim the ring within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The consumer's exit status and its summary line's `key=value` fields.
struct Summary {
    status: i32,
    fields: HashMap<String, String>,
    line: String,
    stderr: String,
}

impl Summary {
    fn get(&self, key: &str) -> Result<u64, String> {
        self.fields
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no {key}= in the consumer's summary '{}'", self.line))
    }

    /// Fails unless the consumer exited `status` with these `(key, value)` fields.
    fn expect(&self, status: i32, fields: &[(&str, u64)]) -> TestResult {
        check!(
            self.status == status,
            "the consumer exited {}, want {status}: '{}' {}",
            self.status,
            self.line,
            self.stderr.trim()
        );
        for &(key, want) in fields {
            let got = self.get(key)?;
            check!(
                got == want,
                "{key}={got}, want {want}: '{}' {}",
                self.line,
                self.stderr.trim()
            );
        }
        Ok(())
    }
}

/// Waits for the consumer to exit and reads its summary.
fn finish(child: Child) -> Result<Summary, String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wait for the consumer: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("").to_string();
    let fields = line
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Summary {
        status: out.status.code().unwrap_or(-1),
        fields,
        line,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs the C consumer `program` against records from the injector, then the
/// timer, each checked by it (sequence without gaps, the header's payload
/// pattern, the source); then makes sure it fails on a wrong source and on a
/// timeout.
fn consume_builtin(program: &str) -> TestResult {
    quiet_ring()?;
    let control = open_ring_ro()?;

    let inject_source = MYMAP_SOURCE_INJECT.to_string();
    let timer_source = MYMAP_SOURCE_TIMER.to_string();
    let args = ["-n", "500", "-t", "30000", "-s", &inject_source, "-G"];
    let mut child = spawn_consumer(program, &args)?;
    wait_for_claim(&mut child)?;
    let (produced, dropped) = inject(&control, 500, 64)?;
    check!(
        produced == 500 && dropped == 0,
        "inject: {produced} produced, {dropped} dropped, want 500 and 0"
    );
    let summary = finish(child)?;
    summary
        .expect(
            0,
            &[("records", 500), ("gaps", 0), ("bad", 0), ("discarded", 0)],
        )
        .map_err(|e| format!("{program}, injector: {e}"))?;
    println!("MYMAP-NOTE: ring-c-consumer: injector: {}", summary.line);

    // A 1 kHz timer in hard interrupt context, the consumer woken by poll().
    let args = ["-n", "200", "-t", "30000", "-s", &timer_source, "-G"];
    let mut child = spawn_consumer(program, &args)?;
    wait_for_claim(&mut child)?;
    timer(&control, 1_000_000, 40)?;
    let summary = finish(child);
    timer(&control, 0, 0)?;
    let summary = summary?;
    summary
        .expect(0, &[("records", 200), ("gaps", 0), ("bad", 0)])
        .map_err(|e| format!("{program}, timer: {e}"))?;
    println!("MYMAP-NOTE: ring-c-consumer: timer: {}", summary.line);
    check!(
        summary.get("polls")? > 0,
        "{program} never slept in poll() for 200 timer records: '{}'",
        summary.line
    );
    // What the timer made after the consumer left, so the next part starts clean.
    drain(&open_ring_consumer()?)?;

    // It can fail: records from another source than --source are bad (exit 1) ...
    let mut child = spawn_consumer(program, &["-n", "10", "-t", "30000", "-s", &timer_source])?;
    wait_for_claim(&mut child)?;
    inject(&control, 10, 16)?;
    finish(child)?
        .expect(1, &[("records", 10), ("bad", 10)])
        .map_err(|e| format!("{program}, wrong source: {e}"))?;
    // ... and fewer records than --count within --timeout is a timeout (exit 3).
    let child = spawn_consumer(program, &["-n", "5", "-t", "300"])?;
    finish(child)?
        .expect(3, &[("records", 0)])
        .map_err(|e| format!("{program}, nothing produced: {e}"))?;
    Ok(())
}

/// `ring-c-consumer`: the C example consumes the built-in producers' records
/// correctly, and so does its 32-bit build where there is one.
pub fn c_consumer() -> TestResult {
    consume_builtin(CONSUMER)?;
    if Path::new(CONSUMER_COMPAT).exists() {
        consume_builtin(CONSUMER_COMPAT)?;
    }
    Ok(())
}

/// The Rust example application, `ring-csv`, against the timer: 200 records at
/// 1 kHz, each row checked (the header's columns, the timer's source and length,
/// its payload pattern for the row's sequence number, sequence numbers that
/// step by one plus the drops the row reports, timestamps that never go back);
/// then, the timer stopped, `--timeout` running out is status 3 with the header
/// alone.
pub fn rust_example() -> TestResult {
    const COUNT: usize = 200;
    const LEN: usize = 16;
    quiet_ring()?;
    let control = open_ring_ro()?;
    let mut child = spawn_consumer(
        RING_CSV,
        &["--count", &COUNT.to_string(), "--timeout", "30000"],
    )?;
    let claimed = wait_for_claim(&mut child);
    let started = claimed.and_then(|()| timer(&control, 1_000_000, LEN as u32));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wait for {RING_CSV}: {e}"));
    timer(&control, 0, 0)?;
    started?;
    let out = out?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    check!(
        out.status.code() == Some(0),
        "{RING_CSV} exited {}, want 0: {}",
        out.status,
        stderr.trim()
    );
    let mut lines = stdout.lines();
    let header = lines.next().unwrap_or("");
    check!(
        header == "seq,timestamp_ns,source,flags,len,dropped_before,payload",
        "the first line is '{header}', not the column names"
    );
    let rows: Vec<&str> = lines.collect();
    check!(rows.len() == COUNT, "{} rows, want {COUNT}", rows.len());
    let mut previous: Option<(u64, u64)> = None;
    for row in &rows {
        let fields: Vec<&str> = row.split(',').collect();
        check!(
            fields.len() == 7,
            "row '{row}' has {} fields, want 7",
            fields.len()
        );
        let number = |i: usize| {
            fields[i]
                .parse::<u64>()
                .map_err(|_| format!("row '{row}': field {i} is not a number"))
        };
        let (seq, timestamp, source, len, dropped) =
            (number(0)?, number(1)?, number(2)?, number(4)?, number(5)?);
        check!(
            source == u64::from(MYMAP_SOURCE_TIMER) && len == LEN as u64,
            "row '{row}': source {source} and len {len}, want the timer's {MYMAP_SOURCE_TIMER} and {LEN}"
        );
        // The header's pattern of the built-in producers: the sequence number's
        // little-endian bytes, then its low byte.
        let want: String = (0..LEN)
            .map(|i| {
                format!(
                    "{:02x}",
                    if i < 8 {
                        (seq >> (8 * i)) as u8
                    } else {
                        seq as u8
                    }
                )
            })
            .collect();
        check!(
            fields[6] == want,
            "row '{row}': payload {}, want {want}",
            fields[6]
        );
        if let Some((prev_seq, prev_timestamp)) = previous {
            check!(
                seq == prev_seq + 1 + dropped,
                "row '{row}': seq {seq} after {prev_seq} with {dropped} dropped before it"
            );
            check!(
                timestamp >= prev_timestamp,
                "row '{row}': timestamp {timestamp} before the previous {prev_timestamp}"
            );
        } else {
            check!(dropped == 0, "row '{row}': the first row reports drops");
        }
        previous = Some((seq, timestamp));
    }
    println!(
        "MYMAP-NOTE: ring-rust-example: {COUNT} rows, seq {} to {}",
        rows[0].split(',').next().unwrap_or(""),
        previous.map_or(0, |(seq, _)| seq)
    );

    // Nothing produces now (the records the timer made after the 200th are drained):
    // the deadline ends the run.
    quiet_ring()?;
    let out = Command::new(RING_CSV)
        .args(["--timeout", "300"])
        .output()
        .map_err(|e| format!("{RING_CSV}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    check!(
        out.status.code() == Some(3) && stdout.lines().count() == 1,
        "{RING_CSV} --timeout 300 on a quiet ring: {}, {} lines, want status 3 and the header alone",
        out.status,
        stdout.lines().count()
    );
    Ok(())
}

/// The sample's load line fields (`key=value`), the last one logged.
fn sample_log() -> Result<HashMap<String, u64>, String> {
    let log = log::dmesg();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(&format!("{SAMPLE}: ring=")) && l.contains("process_produced="))
        .ok_or_else(|| {
            format!("no '{SAMPLE}: ring=... process_produced=' line in the kernel log")
        })?;
    Ok(line
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect())
}

/// Fails unless the sample's last load line has these values.
fn expect_log(fields: &[(&str, u64)]) -> TestResult {
    let log = sample_log()?;
    for &(key, want) in fields {
        check!(
            log.get(key) == Some(&want),
            "{SAMPLE} logged {key}={:?}, want {want}",
            log.get(key)
        );
    }
    Ok(())
}

/// The sample's payload of record `n` (its number in its context), `len` bytes.
fn sample_payload(n: u32, len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i < 4 {
                (n >> (8 * i)) as u8
            } else {
                n.wrapping_add(i) as u8
            }
        })
        .collect()
}

/// The number a sample record carries in its first four bytes.
fn sample_number(record: &Record) -> u32 {
    u32::from_le_bytes(record.payload[..4].try_into().unwrap())
}

/// Checks the sample's records: every one from `source` with `len` bytes and
/// the sample's pattern, sequence numbers consecutive but for `seq_gaps`,
/// and, per context, the numbers `process` and `hardirq` in order.
fn check_sample_records(
    records: &[Record],
    source: u16,
    len: u32,
    process: &[u32],
    hardirq: &[u32],
    seq_gaps: u64,
) -> TestResult {
    let mut numbers: HashMap<u16, Vec<u32>> = HashMap::new();
    for r in records {
        check!(
            r.source == source && r.len == len,
            "record seq {}: source {} len {}, want {source} and {len}",
            r.seq,
            r.source,
            r.len
        );
        let n = sample_number(r);
        check!(
            r.payload == sample_payload(n, len),
            "record seq {} (context {}, number {n}): payload is not the sample's pattern",
            r.seq,
            r.flags
        );
        numbers.entry(r.flags).or_default().push(n);
    }
    let mut contexts: Vec<u16> = numbers.keys().copied().collect();
    contexts.sort();
    for context in contexts {
        check!(
            context == SAMPLE_PROCESS || context == SAMPLE_HARDIRQ,
            "records with flags {context}, not 0 (process) or 1 (hard interrupt)"
        );
    }
    let got = |c| numbers.get(&c).map(Vec::as_slice).unwrap_or(&[]);
    check!(
        got(SAMPLE_PROCESS) == process,
        "process-context numbers {:?}..., want {} numbers from {:?}...",
        &got(SAMPLE_PROCESS)[..got(SAMPLE_PROCESS).len().min(8)],
        process.len(),
        &process[..process.len().min(8)]
    );
    check!(
        got(SAMPLE_HARDIRQ) == hardirq,
        "hard-interrupt numbers {:?}, want {hardirq:?}",
        got(SAMPLE_HARDIRQ)
    );
    if let (Some(first), Some(last)) = (records.first(), records.last()) {
        let span = last.seq - first.seq + 1;
        check!(
            span == records.len() as u64 + seq_gaps,
            "sequence numbers {}..={} for {} records, want {seq_gaps} unused",
            first.seq,
            last.seq,
            records.len()
        );
        check!(
            records.windows(2).all(|w| w[0].seq < w[1].seq),
            "sequence numbers out of order"
        );
    }
    Ok(())
}

/// Unloads the sample if it is loaded.
fn unload_sample() -> TestResult {
    if Path::new(&format!("/sys/module/{SAMPLE}")).exists() {
        module::run("rmmod", &[SAMPLE])?;
    }
    Ok(())
}

/// `ring-sample-producer`: the sample module, loaded with count=1000, makes
/// exactly 1000 records from process context and 8 from an hrtimer in hard
/// interrupt context, each with source 256 and its pattern, every sequence
/// number once; `rmmod mymap` is refused while it is loaded and works after.
pub fn sample_producer() -> TestResult {
    let result = sample_producer_inner();
    let cleanup = unload_sample();
    result?;
    cleanup
}

fn sample_producer_inner() -> TestResult {
    quiet_ring()?;
    let ring = open_ring_consumer()?;
    let stats_before = ring_stats(&ring)?;
    module::run("modprobe", &[SAMPLE, "count=1000"])?;
    // The load returns once the hrtimer's last record is made.
    let records = drain(&ring)?;
    expect_log(&[
        ("process_produced", 1000),
        ("process_dropped", 0),
        ("timer_produced", 8),
        ("timer_dropped", 0),
        ("timer_in_hardirq", 8),
    ])?;
    check!(
        records.len() == 1008,
        "{} records arrived, want 1000 from process context and 8 from the hrtimer",
        records.len()
    );
    let process: Vec<u32> = (0..1000).collect();
    let hardirq: Vec<u32> = (0..8).collect();
    check_sample_records(
        &records,
        MYMAP_SOURCE_DRIVER_FIRST as u16,
        64,
        &process,
        &hardirq,
        0,
    )?;
    let stats = ring_stats(&ring)?;
    check!(
        stats.produced - stats_before.produced == 1008,
        "the ring counted {} records produced, want 1008",
        stats.produced - stats_before.produced
    );

    // The sample uses mymap's symbols: mymap cannot go first.
    drop(ring);
    check!(
        module::unload().is_err(),
        "rmmod mymap succeeded while {SAMPLE} was loaded"
    );
    check!(module::loaded(), "mymap gone while {SAMPLE} was loaded");
    module::run("rmmod", &[SAMPLE])?;
    module::unload_when_unused().map_err(|e| format!("rmmod mymap after the sample: {e}"))?;
    module::wait_for_node(RING, false)?;
    module::restore_default()?;
    module::wait_for_node(RING, true)
}

/// `ring-sample-discard-and-refused`: the sample's discarded records never
/// reach the consumer but keep their sequence numbers; a custom source id
/// is carried; and a bad parameter fails the load with the errno and a log
/// line naming it.
pub fn sample_discard_and_refused() -> TestResult {
    let result = sample_discard_and_refused_inner();
    let cleanup = unload_sample();
    result?;
    cleanup
}

fn sample_discard_and_refused_inner() -> TestResult {
    quiet_ring()?;
    let ring = open_ring_consumer()?;
    let stats_before = ring_stats(&ring)?;
    module::run(
        "modprobe",
        &[
            SAMPLE,
            "count=100",
            "discard_every=10",
            "timer_count=0",
            "source=300",
            "len=13",
        ],
    )?;
    let records = drain(&ring)?;
    // Records 10, 20, ... 90 are discarded: 9 of 100.
    expect_log(&[
        ("process_produced", 91),
        ("process_discarded", 9),
        ("process_dropped", 0),
        ("timer_produced", 0),
    ])?;
    let process: Vec<u32> = (0..100).filter(|n| *n == 0 || n % 10 != 0).collect();
    check!(
        records.len() == process.len(),
        "{} records arrived, want {}",
        records.len(),
        process.len()
    );
    check_sample_records(&records, 300, 13, &process, &[], 9)?;
    let stats = ring_stats(&ring)?;
    check!(
        stats.discarded - stats_before.discarded == 9,
        "the ring counted {} discarded, want 9",
        stats.discarded - stats_before.discarded
    );
    drop(ring);
    module::run("rmmod", &[SAMPLE])?;

    // Each refused load names its parameter; nothing is left loaded.
    let info = ring_info(&open_ring_ro()?)?;
    let too_long = format!("len={}", info.max_payload + 1);
    let refused: [(&str, &str); 3] = [
        ("ring=7", "ring=7: no such ring"),
        ("source=2", "source=2: below 256"),
        (
            &too_long,
            &format!("{too_long}: above ring 0's max_payload"),
        ),
    ];
    for (param, logged) in refused {
        check!(
            module::run("modprobe", &[SAMPLE, param]).is_err(),
            "modprobe {SAMPLE} {param} succeeded"
        );
        check!(
            !Path::new(&format!("/sys/module/{SAMPLE}")).exists(),
            "{SAMPLE} loaded with {param}"
        );
        check!(
            log::dmesg().contains(&format!("{SAMPLE}: {logged}")),
            "no '{SAMPLE}: {logged}' in the kernel log after {param}"
        );
    }
    Ok(())
}

/// `ring-sample-with-c-consumer`: the C consumer, sleeping in poll(), takes
/// the sample's records as they are made, from both contexts at once, and
/// finds every one good (its --sample check).
pub fn sample_with_c_consumer() -> TestResult {
    let result = sample_with_c_consumer_inner();
    let cleanup = unload_sample();
    result?;
    cleanup
}

fn sample_with_c_consumer_inner() -> TestResult {
    quiet_ring()?;
    // 2016 records of 64 bytes (177 KB) fit in the 256 KiB ring, so none can
    // be dropped however the consumer is scheduled: every one must arrive.
    let mut child = spawn_consumer(
        CONSUMER,
        &["-n", "2016", "-t", "60000", "-s", "256", "--sample", "-G"],
    )?;
    wait_for_claim(&mut child)?;
    if let Err(e) = module::run("modprobe", &[SAMPLE, "count=2000", "timer_count=16"]) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    expect_log(&[
        ("process_produced", 2000),
        ("timer_produced", 16),
        ("timer_in_hardirq", 16),
    ])?;
    finish(child)?.expect(0, &[("records", 2016), ("gaps", 0), ("bad", 0)])
}
