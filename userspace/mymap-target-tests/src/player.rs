// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The GPIO player (issue #21), driven through a tx ring and watched on gpio-sim.
//!
//! Each test makes its own gpio-sim chip, reloads mymap with `player=` naming four of its
//! lines for tx ring 0, writes `struct mymap_play` records with the producer of `tx.rs` and
//! reads the completions from ring 0 with the consumer of `ring.rs`. gpio-sim's chip sleeps,
//! so the player sets its lines from the high-priority workqueue (the header's threaded
//! path); the final line values are read back through gpio-sim's sysfs `value` attributes.

use std::time::{
    Duration,
    Instant, //
};

use mymap_uapi::bindings::{
    MYMAP_PLAY_FLUSH,
    MYMAP_PLAY_LATE,
    MYMAP_PLAY_START,
    MYMAP_PLAY_STOP,
    MYMAP_SOURCE_PLAYED, //
};

use mymap_target_support::{
    module,
    sys::{
        self,
        errname,
        monotonic_ns, //
    },
};

use crate::{
    common::expect_errno,
    gpio::{
        reload,
        with_chip, //
    },
    harness::{
        check,
        TestResult, //
    },
    ring::{
        self,
        Record, //
    },
    tx::{
        self,
        Producer, //
    },
};

/// The label of the tests' gpio-sim chip, and the lines the player gets.
const LABEL: &str = "mymap-play";
const LINES: u32 = 4;

/// A completion, parsed.
#[derive(Debug)]
struct Played {
    seq: u64,
    requested_ns: u64,
    actual_ns: u64,
    values: u32,
    flags: u32,
}

impl Played {
    fn parse(r: &Record) -> Result<Played, String> {
        check!(
            r.source as u32 == MYMAP_SOURCE_PLAYED && r.payload.len() == 32,
            "a record of source {} len {} in the completion ring",
            r.source,
            r.len
        );
        let u64_at = |at: usize| u64::from_ne_bytes(r.payload[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_ne_bytes(r.payload[at..at + 4].try_into().unwrap());
        Ok(Played {
            seq: u64_at(0),
            requested_ns: u64_at(8),
            actual_ns: u64_at(16),
            values: u32_at(24),
            flags: u32_at(28),
        })
    }
}

/// The payload of a record: at `time_ns` set the lines of `mask` to `values`.
fn play_record(time_ns: u64, mask: u32, values: u32) -> Vec<u8> {
    let mut b = time_ns.to_ne_bytes().to_vec();
    b.extend_from_slice(&mask.to_ne_bytes());
    b.extend_from_slice(&values.to_ne_bytes());
    b
}

/// Writes, publishes and kicks one record; false if the tx ring is full.
fn send(p: &mut Producer, seq: u64, time_ns: u64, mask: u32, values: u32) -> Result<bool, String> {
    let bytes = play_record(time_ns, mask, values);
    if !p.write_bytes(seq, &bytes, bytes.len() as u32) {
        return Ok(false);
    }
    p.publish();
    p.kick()?;
    Ok(true)
}

/// `MYMAP_TX_IOC_PLAY` that must succeed.
fn control(p: &Producer, op: u32) -> Result<u32, String> {
    tx::play(&p.file, op).map_err(|e| format!("TX_IOC_PLAY {op}: {}", errname(e)))
}

/// Consumes completions until `n` more have come or `timeout` passed.
fn completions(
    ring: &mut ring::Ring,
    n: usize,
    timeout: Duration,
    out: &mut Vec<Played>,
) -> TestResult {
    let mut records = Vec::new();
    ring.consume_exactly(n, timeout, &mut records)?;
    for r in &records {
        out.push(Played::parse(r)?);
    }
    Ok(())
}

/// Loads mymap with a player on `LINES` lines of the chip, tx ring 0 of `tx_size` bytes.
fn load_player(tx_size: u32) -> TestResult {
    let lines: Vec<String> = (0..LINES).map(|l| l.to_string()).collect();
    reload(&[
        &format!("tx_size={tx_size}"),
        &format!("player={LABEL}:{}", lines.join("+")),
    ])?;
    module::wait_for_node(&tx::node(0), true)
}

/// 12,000 records over several laps of a 64 KiB tx ring, each setting one of four lines at
/// its time, 250 µs apart: exactly 12,000 completions, in order, each with its record's seq,
/// time and values, none early; every line ends as the last record for it says. Prints the
/// median and p99 of actual - requested.
pub fn plays_in_order() -> TestResult {
    const N: u64 = 12_000;
    const STEP_NS: u64 = 250_000;
    with_chip(LABEL, LINES, |chip| {
        load_player(65536)?;
        let mut done_ring = ring::quiet(0)?;
        let mut p = Producer::open(0)?;
        let dropped_before = ring::stats(&done_ring.file)?.dropped;
        control(&p, MYMAP_PLAY_START)?;
        let t0 = monotonic_ns() + 20_000_000;
        let want = |i: u64| {
            let line = (i % LINES as u64) as u32;
            let value = ((i / LINES as u64) % 2) as u32;
            (t0 + i * STEP_NS, 1u32 << line, value << line)
        };
        let mut done = Vec::new();
        let mut seq = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while seq < N {
            let mut sent = false;
            // At most 512 records between looks at the completions: a kick plays what is due
            // at once, so a player behind its schedule completes records as fast as they come.
            let batch_end = (seq + 512).min(N);
            while seq < batch_end {
                let (t, mask, values) = want(seq);
                if !send(&mut p, seq, t, mask, values)? {
                    break;
                }
                seq += 1;
                sent = true;
            }
            // The completions so far, so that their ring never fills.
            let mut records = Vec::new();
            done_ring.consume(usize::MAX, &mut records)?;
            for r in &records {
                done.push(Played::parse(r)?);
            }
            check!(Instant::now() < deadline, "only {seq} records sent in 60 s");
            if !sent {
                let _ = sys::poll_events(&p.file, libc::POLLOUT, 2);
            }
        }
        let left = N as usize - done.len();
        let got = completions(&mut done_ring, left, Duration::from_secs(30), &mut done);
        let dropped = ring::stats(&done_ring.file)?.dropped - dropped_before;
        check!(
            dropped == 0,
            "{dropped} completions dropped by their ring (not consumed in time)"
        );
        got?;
        check!(
            done.len() as u64 == N,
            "{} completions, want {N}",
            done.len()
        );
        let mut late = 0;
        let mut delays = Vec::new();
        for (i, c) in done.iter().enumerate() {
            let (t, mask, values) = want(i as u64);
            check!(
                c.seq == i as u64 && c.requested_ns == t && c.values == values & mask,
                "completion {i}: {c:?}, want seq {i} requested {t} values {:#x}",
                values & mask
            );
            check!(
                c.actual_ns >= c.requested_ns,
                "completion {i} played {} ns early",
                c.requested_ns - c.actual_ns
            );
            if c.flags & MYMAP_PLAY_LATE != 0 {
                late += 1;
            } else {
                delays.push(c.actual_ns - c.requested_ns);
            }
        }
        for line in 0..LINES {
            let last = (0..N)
                .rev()
                .find(|&i| i % LINES as u64 == line as u64)
                .unwrap();
            let want_value = ((last / LINES as u64) % 2) as u32;
            let v = chip.value(line)?;
            check!(
                v == want_value,
                "line {line} is {v}, the last record (seq {last}) set {want_value}"
            );
        }
        let stats = tx::stats(&p.file)?;
        check!(stats.rejected == 0, "{} records rejected", stats.rejected);
        delays.sort_unstable();
        let pick = |q: f64| {
            delays
                .get(((delays.len() as f64 * q) as usize).min(delays.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        println!(
            "player: {N} sets 250 us apart on gpio-sim (workqueue path): actual - requested \
             median {} ns, p99 {} ns; {late} late",
            pick(0.5),
            pick(0.99)
        );
        Ok(())
    })
}

/// A record whose time has passed is played at once and flagged late; STOP holds records
/// due, START plays them; a record with a line beyond the set is refused and counted;
/// FLUSH throws away the held record and the ring's, and answers how many; the control
/// is the producer's only.
pub fn late_stop_start_flush() -> TestResult {
    with_chip(LABEL, LINES, |_chip| {
        load_player(65536)?;
        let mut done_ring = ring::quiet(0)?;
        let mut p = Producer::open(0)?;
        let ro = tx::open_with(0, false).map_err(|e| format!("open read-only: {}", errname(e)))?;
        expect_errno(
            tx::play(&ro, MYMAP_PLAY_START),
            libc::EBADF,
            "PLAY on a read-only file",
        )?;
        expect_errno(
            tx::play(&p.file, 99),
            libc::EINVAL,
            "PLAY with an unknown operation",
        )?;
        control(&p, MYMAP_PLAY_START)?;
        let mut done = Vec::new();
        let past = monotonic_ns() - 1_000_000;
        send(&mut p, 0, past, 1, 1)?;
        completions(&mut done_ring, 1, Duration::from_secs(2), &mut done)?;
        check!(
            done[0].seq == 0 && done[0].flags & MYMAP_PLAY_LATE != 0 && done[0].actual_ns >= past,
            "a record 1 ms in the past completed as {:?}, want LATE",
            done[0]
        );
        control(&p, MYMAP_PLAY_STOP)?;
        send(&mut p, 1, monotonic_ns(), 1, 0)?;
        std::thread::sleep(Duration::from_millis(200));
        let mut records = Vec::new();
        done_ring.consume(usize::MAX, &mut records)?;
        check!(
            records.is_empty(),
            "{} completions while stopped",
            records.len()
        );
        control(&p, MYMAP_PLAY_START)?;
        completions(&mut done_ring, 1, Duration::from_secs(2), &mut done)?;
        check!(done[1].seq == 1, "after START: {:?}, want seq 1", done[1]);
        let before = tx::stats(&p.file)?;
        send(&mut p, 2, monotonic_ns(), 1 << LINES, 0)?;
        let after = tx::stats(&p.file)?;
        check!(
            after.rejected == before.rejected + 1,
            "a record for line {LINES} of {LINES}: rejected {} -> {}",
            before.rejected,
            after.rejected
        );
        let later = monotonic_ns() + 10_000_000_000;
        for seq in 3..8 {
            send(&mut p, seq, later, 2, 2)?;
        }
        let thrown = control(&p, MYMAP_PLAY_FLUSH)?;
        check!(
            thrown == 5,
            "FLUSH answered {thrown}, want 5 records thrown away"
        );
        control(&p, MYMAP_PLAY_START)?;
        send(&mut p, 8, monotonic_ns(), 2, 2)?;
        completions(&mut done_ring, 1, Duration::from_secs(2), &mut done)?;
        check!(
            done[2].seq == 8,
            "after FLUSH and START: {:?}, want seq 8",
            done[2]
        );
        Ok(())
    })
}

/// Unloading while records are being played at 1 kHz: the module goes (timer cancelled,
/// work flushed, lines released: the chip's lines can be requested again at once), with
/// no splat (the run fails on any).
pub fn unload_while_playing() -> TestResult {
    with_chip(LABEL, LINES, |chip| {
        load_player(65536)?;
        {
            let _done_ring = ring::quiet(0)?;
            let mut p = Producer::open(0)?;
            control(&p, MYMAP_PLAY_START)?;
            let t0 = monotonic_ns() + 1_000_000;
            for seq in 0..1000 {
                send(&mut p, seq, t0 + seq * 1_000_000, 1 << (seq % 4), 0xf)?;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        module::unload_when_unused()?;
        let request = gpiocdev::Request::builder()
            .on_chip(chip.chardev())
            .with_consumer("mymap-test")
            .with_lines(&[0, 1, 2, 3])
            .as_output(gpiocdev::line::Value::Inactive)
            .request();
        check!(
            request.is_ok(),
            "the player's lines are still taken after unload: {:?}",
            request.err()
        );
        Ok(())
    })
}

/// `player=` naming no chip fails the load with ENODEV, a line beyond the chip with
/// EINVAL, a malformed entry or a tx ring without its ring with EINVAL, a taken line with
/// EBUSY.
pub fn load_errors() -> TestResult {
    with_chip(LABEL, LINES, |chip| {
        module::unload_when_unused()?;
        let path = module::module_file("mymap").ok_or("no mymap.ko")?;
        let path = path.to_string_lossy().into_owned();
        let held = gpiocdev::Request::builder()
            .on_chip(chip.chardev())
            .with_consumer("mymap-test")
            .with_line(3)
            .as_output(gpiocdev::line::Value::Inactive)
            .request()
            .map_err(|e| format!("request line 3: {e}"))?;
        for (params, errno) in [
            ("player=no-such-chip:0".to_string(), libc::ENODEV),
            (format!("player={LABEL}:{LINES}"), libc::EINVAL),
            (format!("player={LABEL}:"), libc::EINVAL),
            (format!("player={LABEL}:0+0"), libc::EINVAL),
            (format!("player={LABEL}:0 rings=0"), libc::EINVAL),
            (format!("player={LABEL}:0+3"), libc::EBUSY),
        ] {
            expect_errno(
                sys::finit_module(&path, &params),
                errno,
                &format!("loading mymap with {params}"),
            )?;
            check!(!module::loaded(), "module loaded with {params}");
        }
        drop(held);
        Ok(())
    })
}
