// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The ring tests with concurrency, hostility or module reloads: several producers
//! at once, a consumer that writes garbage where the kernel reads, a stress run of
//! producers and consumers coming and going, `rmmod` against users, and the module
//! parameters.
//!
//! How loss is counted: the ring numbers every attempt, a drop included (mymap.h,
//! "Sequence numbers"). Between two probe records taken with every producer
//! stopped, the attempts are exactly `probe_end - probe_start - 1`; each of them
//! must have been consumed once or counted by the `dropped` statistic. So a test
//! proves "no record lost or repeated" whether or not the ring ever filled: the
//! drops, if any, are the records refused above capacity, and every other one
//! arrived exactly once.

use std::{
    fs::{
        self,
        File, //
    },
    os::unix::fs::FileExt,
    path::Path,
    sync::{
        atomic::{
            AtomicBool,
            AtomicU32,
            Ordering, //
        },
        Arc,
    },
    time::{
        Duration,
        Instant, //
    },
};

use mymap_uapi::bindings::{
    MYMAP_RING_HEADER_SIZE,
    MYMAP_RING_MAX_SIZE,
    MYMAP_SOURCE_INJECT,
    MYMAP_SOURCE_TIMER,
    MYMAP_WAKEUP_CAUGHT_UP,
    MYMAP_WAKEUP_EVERY,
    MYMAP_WAKEUP_WATERMARK, //
};

use mymap_target_support::{
    log, module,
    sys::{
        self,
        errname,
        Map, //
    },
};

use crate::{
    common::expect_errno,
    faults::madvise_ok,
    harness::{
        check,
        TestResult, //
    },
    ring::{
        self,
        Checker,
        Record,
        Ring, //
        HEADER,
    },
    trinity, //
};

/// The ring every test here uses (of the default module).
const RING: u32 = 0;

/// The kernel log's splat lines (the patterns `cargo xtask test` fails a boot on).
pub(crate) fn splats() -> Vec<String> {
    log::splats_in(&log::dmesg())
}

/// Fails if the kernel logged a splat since `before` was taken.
pub(crate) fn no_new_splats(before: &[String]) -> TestResult {
    let now = splats();
    let new: Vec<&String> = now.iter().filter(|l| !before.contains(l)).collect();
    check!(
        new.is_empty(),
        "the kernel logged {} splat line(s), first: {}",
        new.len(),
        new[0]
    );
    Ok(())
}

/// Injects from a read-only file of its own, throttled so the ring stays at most a
/// quarter full by the consumer position in `released`: records of `count` in
/// `1..=64` and a length `len(rng)`, until `stop` or `total` records. Returns the
/// records produced and dropped.
fn injector(
    seed: u64,
    released: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    total: u64,
    len: fn(&mut fastrand::Rng) -> u32,
) -> std::thread::JoinHandle<Result<(u64, u64), String>> {
    std::thread::spawn(move || {
        let f = ring::open_ro(RING)?;
        let size = ring::info(&f)?.data_size;
        let mut rng = fastrand::Rng::with_seed(seed);
        let (mut produced, mut dropped) = (0u64, 0u64);
        while produced + dropped < total && !stop.load(Ordering::Relaxed) {
            let used = ring::stats(&f)?
                .producer_pos
                .wrapping_sub(released.load(Ordering::Acquire));
            if used > size / 4 {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let count = rng.u32(1..=64).min((total - produced - dropped) as u32);
            let done = ring::inject(&f, count, len(&mut rng))?;
            produced += done.produced as u64;
            dropped += done.dropped as u64;
        }
        Ok((produced, dropped))
    })
}

/// The INJECT lengths of thread `t` of three: `len % 3 == t`, so each record tells
/// which thread made it.
fn thread_len<const T: u32>(rng: &mut fastrand::Rng) -> u32 {
    T + 3 * rng.u32(0..=40)
}

/// The ordered streams of `several_producers`: each injector thread (by its lengths)
/// and the timer.
fn thread_stream(record: &Record) -> Option<u32> {
    Some(if record.source as u32 == MYMAP_SOURCE_INJECT {
        100 + record.len % 3
    } else {
        record.source as u32
    })
}

/// Three injector threads and the timer producer at once, a consumer keeping up:
/// every sequence number exactly once, strictly increasing in the ring, each
/// thread's records counted and in its own order, the timer's records all there.
pub fn several_producers() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let ro = ring::open_ro(RING)?;
    let result = several_steps(&mut ring, &ro);
    ring::timer(&ro, 0, 0)?;
    result
}

fn several_steps(ring: &mut Ring, ro: &File) -> TestResult {
    const PER_THREAD: u64 = 3000;
    let seed = fastrand::u64(..);
    let s0 = ring::next_seq(ring)?;
    let before = ring::stats(ro)?;
    let released = Arc::new(AtomicU32::new(ring.pos()));
    let stop = Arc::new(AtomicBool::new(false));
    ring::timer(ro, 1_000_000, 8)?;
    let lens: [fn(&mut fastrand::Rng) -> u32; 3] =
        [thread_len::<0>, thread_len::<1>, thread_len::<2>];
    let threads: Vec<_> = lens
        .into_iter()
        .enumerate()
        .map(|(t, len)| {
            injector(
                seed + t as u64,
                released.clone(),
                stop.clone(),
                PER_THREAD,
                len,
            )
        })
        .collect();
    let mut checker = Checker::starting_at(s0, thread_stream);
    let mut per_thread = [0u64; 3];
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut timer_running = true;
    loop {
        out.clear();
        let n = ring.consume(usize::MAX, &mut out)?;
        released.store(ring.pos(), Ordering::Release);
        checker.feed_all(&out)?;
        for r in out
            .iter()
            .filter(|r| r.source as u32 == MYMAP_SOURCE_INJECT)
        {
            per_thread[(r.len % 3) as usize] += 1;
        }
        if n > 0 {
            continue;
        }
        if timer_running && threads.iter().all(|t| t.is_finished()) {
            ring::timer(ro, 0, 0)?;
            timer_running = false;
        } else if !timer_running && ring.pos() == ring.producer_pos() {
            break;
        }
        if Instant::now() >= deadline {
            stop.store(true, Ordering::Relaxed);
            return Err(format!("seed {seed}: not done after 90 s"));
        }
        ring.wait(Duration::from_millis(20))?;
    }
    let mut injected = 0;
    for (t, thread) in threads.into_iter().enumerate() {
        let (produced, dropped) = thread.join().map_err(|_| "injector panicked")??;
        check!(
            dropped == 0,
            "seed {seed}: thread {t}: {dropped} records dropped with the ring at most a \
             quarter full"
        );
        check!(
            per_thread[t] == produced,
            "seed {seed}: thread {t} produced {produced} records, {} came",
            per_thread[t]
        );
        injected += produced;
    }
    let after = ring::stats(ro)?;
    let produced = after.produced - before.produced;
    check!(
        after.dropped == before.dropped && checker.gaps == 0,
        "seed {seed}: {} dropped, {} sequence numbers missing",
        after.dropped - before.dropped,
        checker.gaps
    );
    check!(
        checker.records == produced,
        "seed {seed}: STATS produced {produced}, {} records came",
        checker.records
    );
    check!(
        checker.count(MYMAP_SOURCE_INJECT) == injected,
        "seed {seed}: {} INJECT records came, {injected} injected",
        checker.count(MYMAP_SOURCE_INJECT)
    );
    let timer = checker.count(MYMAP_SOURCE_TIMER);
    check!(
        timer > 0 && timer == produced - injected,
        "seed {seed}: {timer} TIMER records came, STATS says {}",
        produced - injected
    );
    check!(
        checker.next == Some(s0 + produced),
        "seed {seed}: the last record is seq {:?}, want {}",
        checker.next.map(|s| s - 1),
        s0 + produced - 1
    );
    Ok(())
}

/// Positions a hostile consumer stores in page 0: random, far ahead, far behind,
/// unaligned, just past full, at the edges of the u32 range.
pub(crate) fn garbage(rng: &mut fastrand::Rng, p: u32, size: u32) -> u32 {
    match rng.u8(0..10) {
        0 => rng.u32(..),
        1 => p.wrapping_add(rng.u32(1..=size)),
        2 => p.wrapping_sub(size).wrapping_sub(rng.u32(1..=4096)),
        3 => p.wrapping_sub(rng.u32(0..=size)) | rng.u32(1..8),
        4 => p.wrapping_add(0x8000_0000),
        5 => p.wrapping_sub(size),
        6 => 0,
        7 => u32::MAX,
        8 => p.wrapping_sub(rng.u32(0..=size) & !7),
        _ => rng.u32(..) & !7,
    }
}

/// A consumer that attacks: garbage positions in page 0 while the timer and an
/// injector produce and `read()` consumes, partial mappings, `MADV_DONTNEED` of
/// page 0, stores through read-only mappings (SIGSEGV) and through /proc/self/mem
/// (refused). Afterwards, with a sane position restored, the ring works as before
/// and the kernel logged nothing.
pub fn hostile_consumer() -> TestResult {
    let before = splats();
    let mut ring = ring::quiet(RING)?;
    let ro = ring::open_ro(RING)?;
    let result = hostile_steps(&mut ring, &ro);
    ring::timer(&ro, 0, 0)?;
    result?;
    drop(ring);
    // A new consumer starts at whatever the last one left in page 0: restore a sane
    // position, then the ring must work exactly.
    let mut ring = Ring::open(RING)?;
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_CAUGHT_UP, 0, 0).map_err(errname)?;
    ring.skip_all();
    let s0 = ring::next_seq(&mut ring)?;
    let done = ring::inject(&ring.file, 100, 64)?;
    check!(
        done.produced == 100,
        "after the attack 100 records into an empty ring: {} produced",
        done.produced
    );
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    let mut checker = Checker::starting_at(s0, Checker::per_source);
    checker.feed_all(&out)?;
    check!(
        checker.records == 100 && checker.gaps == 0,
        "after the attack: {} records, {} missing",
        checker.records,
        checker.gaps
    );
    no_new_splats(&before)
}

/// Forks a child that stores a byte at offset `at` of a read-only `len`-byte
/// mapping of `file` at `offset`; expects it to die of SIGSEGV.
fn store_must_fault(file: &File, len: usize, offset: i64, at: usize, what: &str) -> TestResult {
    // SAFETY: called before the test starts threads; the child maps, stores and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        if let Ok(map) = Map::new(file, len, libc::PROT_READ, libc::MAP_SHARED, offset) {
            // SAFETY: deliberately stores through a read-only mapping: the kernel must
            // answer with SIGSEGV, which ends this child.
            unsafe { map.ptr().add(at).write_volatile(0x5a) };
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(2) };
    }
    let status = sys::wait(pid);
    check!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
        "{what}: the child's store ended with status {status:#x}, want SIGSEGV \
         (exit 0: the store succeeded; exit 2: the mapping failed)"
    );
    Ok(())
}

fn hostile_steps(ring: &mut Ring, ro: &File) -> TestResult {
    let page = sys::page_size();
    let size = ring.info.data_size;
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    ring::inject(&ring.file, 20, 32)?;
    // Stores through read-only mappings, before any thread starts (fork).
    store_must_fault(&ring.file, page, page as i64, 0, "page 1")?;
    store_must_fault(&ring.file, page, 2 * page as i64, 8, "data page 0")?;
    store_must_fault(
        ro,
        size as usize,
        2 * page as i64,
        size as usize - 1,
        "the last data byte, through an O_RDONLY file",
    )?;
    // /proc/self/mem writes with FOLL_FORCE, which may write read-only private
    // mappings, must not reach a ring page.
    let data =
        Map::new(ro, page, libc::PROT_READ, libc::MAP_SHARED, 2 * page as i64).map_err(errname)?;
    let mem = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")
        .map_err(|e| format!("/proc/self/mem: {e}"))?;
    let old = data.get(8);
    // std's write_at is pwrite64: a 32-bit process's addresses above 2 GiB stay positive.
    let res = mem
        .write_at(&[!old], data.ptr() as usize as u64 + 8)
        .map_err(|e| errname(e.raw_os_error().unwrap_or(0)));
    check!(
        res.is_err() && data.get(8) == old,
        "a write through /proc/self/mem to a read-only ring mapping gave {res:?}, byte now \
         {:#04x} (was {old:#04x})",
        data.get(8)
    );
    drop(data);
    // Producers and a read() consumer run while page 0 takes garbage.
    let stop = Arc::new(AtomicBool::new(false));
    ring::timer(ro, 100_000, 32)?;
    let producer = {
        let stop = stop.clone();
        let f = ring::open_ro(RING)?;
        let max = ring.info.max_payload;
        std::thread::spawn(move || -> TestResult {
            let mut rng = fastrand::Rng::with_seed(seed ^ 1);
            while !stop.load(Ordering::Relaxed) {
                ring::inject(&f, rng.u32(1..=200), rng.u32(0..=max / 8))?;
                std::thread::sleep(Duration::from_micros(rng.u64(0..2000)));
            }
            Ok(())
        })
    };
    let reader = {
        let stop = stop.clone();
        let f = ring.file.try_clone().map_err(|e| e.to_string())?;
        std::thread::spawn(move || -> Result<u64, String> {
            sys::set_nonblocking(&f, true).map_err(errname)?;
            let mut buf = vec![0u8; 4096];
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                // Whatever read() makes of a garbage position, it stays in the buffer.
                if let Ok(n) = sys::read(&f, &mut buf) {
                    check!(
                        n <= buf.len(),
                        "read() returned {n} into {} bytes",
                        buf.len()
                    );
                    reads += 1;
                }
                let _ = sys::poll_in(&f, 1);
            }
            Ok(reads)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut rounds = 0u64;
    let result = (|| -> TestResult {
        while Instant::now() < deadline {
            rounds += 1;
            let p = ring.producer_pos();
            ring.set_pos(garbage(&mut rng, p, size));
            match rng.u8(0..6) {
                0 => {
                    // A partial mapping: one random data page, or pages 1 and 2.
                    let first = rng.usize(1..2 + size as usize / page);
                    let map = Map::new(
                        &ring.file,
                        page,
                        libc::PROT_READ,
                        libc::MAP_SHARED,
                        (first * page) as i64,
                    )
                    .map_err(|e| format!("seed {seed}: mmap of page {first}: {}", errname(e)))?;
                    let _ = map.get(rng.usize(0..page));
                }
                1 => madvise_ok(
                    ring.consumer_page(),
                    0,
                    page,
                    libc::MADV_DONTNEED,
                    "MADV_DONTNEED of page 0",
                )?,
                2 => {
                    ring::stats(&ring.file)?;
                    ring::info(&ring.file)?;
                }
                3 => {
                    let policy = [MYMAP_WAKEUP_EVERY, MYMAP_WAKEUP_CAUGHT_UP][rng.usize(0..2)];
                    ring::set_wakeup(&ring.file, policy, 0, 0).map_err(errname)?;
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_micros(rng.u64(0..3000)));
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    producer.join().map_err(|_| "producer panicked")??;
    let reads = reader.join().map_err(|_| "reader panicked")??;
    result?;
    ring::timer(ro, 0, 0)?;
    println!(
        "MYMAP-NOTE: ring-hostile-consumer: {rounds} garbage positions, {reads} read() calls \
         returned a record (seed {seed})"
    );
    corrupt_verdicts(ring)?;
    // Garbage left in page 0, then the claim given up: the next consumer finds it.
    let p = ring.producer_pos();
    ring.set_pos(garbage(&mut rng, p, size));
    Ok(())
}

/// With the producers stopped and records waiting, `poll()` and `read()` give one verdict on
/// a corrupted consumer position: `EPOLLERR` (not `EPOLLIN`, on which a level-triggered
/// consumer would spin) and `EIO`. At a sane position again, `EPOLLIN` and a record.
fn corrupt_verdicts(ring: &mut Ring) -> TestResult {
    let size = ring.info.data_size;
    let sane = ring.producer_pos();
    ring.set_pos(sane);
    ring::inject(&ring.file, 4, 16)?;
    let p = ring.producer_pos();
    sys::set_nonblocking(&ring.file, true).map_err(errname)?;
    let mut buf = vec![0u8; 4096];
    for (what, pos) in [
        ("unaligned", sane | 4),
        ("ahead of the producer", p.wrapping_add(8)),
        (
            "more than a ring behind",
            p.wrapping_sub(size).wrapping_sub(8),
        ),
    ] {
        ring.set_pos(pos);
        let revents = sys::poll_in(&ring.file, 0).map_err(errname)?;
        check!(
            revents & libc::POLLERR != 0 && revents & libc::POLLIN == 0,
            "poll() at a consumer position {what} ({pos:#x}, producer {p:#x}): revents \
             {revents:#x}, want POLLERR alone"
        );
        let read = sys::read(&ring.file, &mut buf);
        check!(
            read == Err(libc::EIO),
            "read() at a consumer position {what}: {read:?}, want EIO"
        );
    }
    ring.set_pos(sane);
    let revents = sys::poll_in(&ring.file, 0).map_err(errname)?;
    check!(
        revents & libc::POLLIN != 0 && revents & libc::POLLERR == 0,
        "poll() at the sane position again: revents {revents:#x}, want POLLIN"
    );
    let read = sys::read(&ring.file, &mut buf);
    check!(
        read == Ok(ring::HEADER + 16),
        "read() at the sane position again: {read:?}, want one record"
    );
    sys::set_nonblocking(&ring.file, false).map_err(errname)?;
    Ok(())
}

/// The ordered streams of `stress`: each injector thread (by the parity of its
/// lengths) and the timer.
fn parity_stream(record: &Record) -> Option<u32> {
    Some(if record.source as u32 == MYMAP_SOURCE_INJECT {
        100 + record.len % 2
    } else {
        record.source as u32
    })
}

/// How long the stress test runs: longer on the debug kernel, where it matters most.
fn stress_seconds() -> u64 {
    if trinity::on_debug_kernel() {
        25
    } else {
        6
    }
}

/// Producers in timer and process context, a reader of statistics and mappings,
/// and consumers opening, mapping or `read()`ing, consuming and closing in turn,
/// with the wakeup policy changing: every attempt between the probes is consumed
/// once or counted dropped, each new consumer starts where the last one released,
/// and the kernel logs no splat.
pub fn stress() -> TestResult {
    let before = splats();
    let ring = ring::quiet(RING)?;
    let ro = ring::open_ro(RING)?;
    let result = stress_steps(ring, &ro);
    ring::timer(&ro, 0, 0)?;
    result?;
    no_new_splats(&before)
}

fn stress_steps(mut ring: Ring, ro: &File) -> TestResult {
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let s0 = ring::next_seq(&mut ring)?;
    let before = ring::stats(ro)?;
    let size = ring.info.data_size;
    let released = Arc::new(AtomicU32::new(ring.pos()));
    drop(ring);
    let stop = Arc::new(AtomicBool::new(false));
    ring::timer(ro, 100_000, 8)?;
    // Even lengths from one thread, odd ones from the other: each record names its thread.
    let lens: [fn(&mut fastrand::Rng) -> u32; 2] =
        [|r| 2 * r.u32(0..=128), |r| 2 * r.u32(0..=8) + 1];
    let injectors: Vec<_> = lens
        .into_iter()
        .enumerate()
        .map(|(t, len)| {
            injector(
                seed + 1 + t as u64,
                released.clone(),
                stop.clone(),
                u64::MAX,
                len,
            )
        })
        .collect();
    let observer = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<u64, String> {
            let mut rng = fastrand::Rng::with_seed(seed ^ 7);
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                let f = ring::open_ro(RING)?;
                let info = ring::info(&f)?;
                ring::stats(&f)?;
                let page = info.page_size as usize;
                let len = page + info.data_size as usize;
                let map = Map::new(&f, len, libc::PROT_READ, libc::MAP_SHARED, page as i64)
                    .map_err(|e| format!("observer mmap: {}", errname(e)))?;
                let _ = map.get(rng.usize(0..len));
                let _ = sys::poll_in(&f, 0);
                rounds += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(rounds)
        })
    };
    let mut checker = Checker::starting_at(s0, parity_stream);
    let deadline = Instant::now() + Duration::from_secs(stress_seconds());
    let mut sessions = 0u64;
    let result = (|| -> TestResult {
        while Instant::now() < deadline {
            sessions += 1;
            if rng.u8(0..3) == 0 {
                read_session(&mut rng, &released, &mut checker)?;
            } else {
                mapped_session(&mut rng, &released, &mut checker, size)?;
            }
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let mut injected = (0, 0);
    for thread in injectors {
        let (produced, dropped) = thread.join().map_err(|_| "injector panicked")??;
        injected = (injected.0 + produced, injected.1 + dropped);
    }
    let observed = observer.join().map_err(|_| "observer panicked")??;
    ring::timer(ro, 0, 0)?;
    result.map_err(|e| format!("seed {seed}, session {sessions}: {e}"))?;
    // The end probe, after everything left was consumed.
    let mut ring = Ring::open(RING)?;
    check!(
        ring.pos() == released.load(Ordering::Acquire),
        "seed {seed}: the last consumer starts at {}, the one before released {}",
        ring.pos(),
        released.load(Ordering::Acquire)
    );
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    checker.feed_all(&out)?;
    let end = ring::next_seq(&mut ring)? - 1;
    let after = ring::stats(ro)?;
    let dropped = after.dropped - before.dropped;
    let attempts = end - s0;
    check!(
        checker.records + dropped == attempts,
        "seed {seed}: {attempts} attempts between the probes, {} consumed + {dropped} dropped \
         (lost: {})",
        checker.records,
        attempts as i64 - (checker.records + dropped) as i64
    );
    let trailing = end - checker.next.unwrap_or(s0);
    check!(
        checker.gaps + trailing == dropped,
        "seed {seed}: sequence gaps {} + {trailing} at the end != {dropped} dropped",
        checker.gaps
    );
    check!(
        checker.count(MYMAP_SOURCE_INJECT) == injected.0,
        "seed {seed}: {} INJECT records came, {} injected",
        checker.count(MYMAP_SOURCE_INJECT),
        injected.0
    );
    println!(
        "MYMAP-NOTE: ring-stress: {}s, {sessions} consumer sessions, {} records ({} timer), \
         {dropped} dropped ({} of them injected), {observed} observer rounds (seed {seed})",
        stress_seconds(),
        checker.records,
        checker.count(MYMAP_SOURCE_TIMER),
        injected.1
    );
    Ok(())
}

/// One mapped consumer session: open (the last session's claim must be gone),
/// check the start position, maybe change the wakeup policy, consume for a while,
/// close.
fn mapped_session(
    rng: &mut fastrand::Rng,
    released: &AtomicU32,
    checker: &mut Checker,
    size: u32,
) -> TestResult {
    let mut ring = Ring::open(RING)?;
    check!(
        ring.pos() == released.load(Ordering::Acquire),
        "a consumer starts at {}, the last one released {}",
        ring.pos(),
        released.load(Ordering::Acquire)
    );
    let (policy, watermark, latency) = match rng.u8(0..4) {
        0 => (MYMAP_WAKEUP_EVERY, 0, 0),
        1 => (MYMAP_WAKEUP_WATERMARK, rng.u32(1..=size / 2), 1_000_000),
        _ => (MYMAP_WAKEUP_CAUGHT_UP, 0, 0),
    };
    ring::set_wakeup(&ring.file, policy, watermark, latency)
        .map_err(|e| format!("SET_WAKEUP {policy}: {}", errname(e)))?;
    let mut out = Vec::new();
    for _ in 0..rng.u32(1..=30) {
        out.clear();
        ring.consume(rng.usize(1..=2000), &mut out)?;
        released.store(ring.pos(), Ordering::Release);
        checker.feed_all(&out)?;
        if out.is_empty() {
            ring.wait(Duration::from_millis(20))?;
        }
    }
    Ok(())
}

/// One `read()` consumer session: records one `read()` each until the ring is empty
/// a few times or enough came; page 0 is mapped only to publish the position.
fn read_session(
    rng: &mut fastrand::Rng,
    released: &AtomicU32,
    checker: &mut Checker,
) -> TestResult {
    let f = ring::open_with(RING, true, true, libc::O_NONBLOCK)
        .map_err(|e| format!("open for a read() session: {}", errname(e)))?;
    let page = sys::page_size();
    let consumer = Map::new(
        &f,
        page,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        0,
    )
    .map_err(errname)?;
    check!(
        consumer.load_acquire_u32(0) == released.load(Ordering::Acquire),
        "a read() consumer starts at {}, the last one released {}",
        consumer.load_acquire_u32(0),
        released.load(Ordering::Acquire)
    );
    let mut buf = vec![0u8; HEADER + 256];
    let (mut empty, want) = (0, rng.u32(1..=2000));
    let mut got = 0;
    while got < want && empty < 3 {
        match sys::read(&f, &mut buf) {
            Ok(n) => {
                checker.feed(&Record::parse(&buf[..n])?)?;
                got += 1;
            }
            Err(libc::EAGAIN) => {
                empty += 1;
                let _ = sys::poll_in(&f, 20);
            }
            Err(e) => return Err(format!("read(): {}", errname(e))),
        }
        released.store(consumer.load_acquire_u32(0), Ordering::Release);
    }
    Ok(())
}

/// Stops the timer of ring 0 if the module is loaded (cleanup after a failure).
fn stop_timer() {
    if module::loaded() {
        let _ = ring::open_ro(RING).and_then(|f| ring::timer(&f, 0, 0));
    }
}

/// Leaves the module loaded with default parameters, ring 0's node in place.
fn restore() -> TestResult {
    stop_timer();
    module::restore_default()?;
    module::wait_for_node(&ring::node(RING), true)
}

/// `rmmod` is refused while a consumer holds the ring open, while a mapping of it
/// lives, while any file of it is open; it works once all are gone.
pub fn rmmod_consumer() -> TestResult {
    let result = (|| {
        drop(ring::quiet(RING)?);
        let page = sys::page_size();
        let f = ring::open_rw(RING)?;
        check!(
            module::unload().is_err(),
            "rmmod succeeded while a consumer held the ring open"
        );
        check!(
            module::loaded(),
            "module gone while a consumer held the ring"
        );
        let map =
            Map::new(&f, page, libc::PROT_READ, libc::MAP_SHARED, page as i64).map_err(errname)?;
        drop(f);
        check!(
            module::unload().is_err(),
            "rmmod succeeded while a mapping of the ring was alive"
        );
        let _ = map.load_acquire_u32(0);
        drop(map);
        let ro = ring::open_ro(RING)?;
        check!(
            module::unload().is_err(),
            "rmmod succeeded while an O_RDONLY file of the ring was open"
        );
        drop(ro);
        module::unload_when_unused().map_err(|e| format!("rmmod after close: {e}"))?;
        module::wait_for_node(&ring::node(RING), false)
    })();
    restore()?;
    result
}

/// `rmmod` stops a running timer producer (no file open): a timer does not pin the module,
/// the unload waits for its callback and frees its ring, and the reloaded ring starts with
/// no timer and no record. At a slow period and at the fastest (a callback nearly always
/// due while the module goes); a splat fails the run.
pub fn rmmod_timer() -> TestResult {
    let result = (|| {
        for period_ns in [10_000_000u64, 10_000] {
            drop(ring::quiet(RING)?);
            let ro = ring::open_ro(RING)?;
            ring::timer(&ro, period_ns, 8)?;
            let p = ring::stats(&ro)?.producer_pos;
            std::thread::sleep(Duration::from_millis(100));
            check!(
                ring::stats(&ro)?.producer_pos != p,
                "the timer (every {period_ns} ns) produced nothing in 100 ms"
            );
            drop(ro);
            module::unload()
                .map_err(|e| format!("rmmod while the timer ran every {period_ns} ns: {e}"))?;
            module::wait_for_node(&ring::node(RING), false)?;
            module::restore_default()?;
            module::wait_for_node(&ring::node(RING), true)?;
            let ro = ring::open_ro(RING)?;
            std::thread::sleep(Duration::from_millis(50));
            let stats = ring::stats(&ro)?;
            check!(
                stats.timer_period_ns == 0 && stats.producer_pos == 0,
                "after rmmod with a running timer, the reloaded ring has timer period {} ns \
                 and producer position {}",
                stats.timer_period_ns,
                stats.producer_pos
            );
        }
        Ok(())
    })();
    restore()?;
    result
}

/// The module file `modprobe` loads: `mymap.ko` under /lib/modules/<release>/.
fn module_file() -> Result<String, String> {
    module::module_file("mymap")
        .map(|path| path.to_string_lossy().into_owned())
        .ok_or_else(|| "no mymap.ko under /lib/modules".into())
}

/// Ring parameters the header rules out fail the load with EINVAL: a size of 0, not
/// a multiple of the page, not a power of two of pages, above MYMAP_RING_MAX_SIZE;
/// more than MYMAP_MAX_RINGS rings.
pub fn params_refused() -> TestResult {
    let result = (|| {
        module::unload_when_unused()?;
        let path = module_file()?;
        let page = sys::page_size() as u64;
        let max = MYMAP_RING_MAX_SIZE as u64;
        for params in [
            "ring_size=0".to_string(),
            format!("ring_size={}", page + page / 2),
            format!("ring_size={}", 3 * page),
            format!("ring_size={}", max - page),
            format!("ring_size={}", 2 * max),
            "rings=9".to_string(),
            "rings=1000".to_string(),
        ] {
            expect_errno(
                sys::finit_module(&path, &params),
                libc::EINVAL,
                &format!("loading mymap with {params}"),
            )?;
            check!(!module::loaded(), "module loaded with {params}");
        }
        Ok(())
    })();
    restore()?;
    result
}

/// `rings=3 ring_size=4 pages`: three independent rings, each as fresh as the header
/// says after load (zeroed, counters 0, sequence numbers from 0, policy CAUGHT_UP);
/// the limits (8 rings of one page, one ring of MYMAP_RING_MAX_SIZE) load and work.
pub fn params_rings_and_size() -> TestResult {
    let result = (|| {
        module::unload_when_unused()?;
        let page = sys::page_size() as u32;
        let size = 4 * page;
        load_rings(&["rings=3", &format!("ring_size={size}")], 3)?;
        check!(
            !Path::new(&ring::node(3)).exists(),
            "{} exists with rings=3",
            ring::node(3)
        );
        for index in 0..3 {
            fresh_ring(index, 3, size)?;
        }
        // Records go to one ring only, numbered from 0 there.
        let mut one = Ring::open(1)?;
        ring::inject(&one.file, 2, 8)?;
        let mut out = Vec::new();
        one.consume_exactly(2, Duration::from_secs(2), &mut out)?;
        let seqs: Vec<u64> = out.iter().map(|r| r.seq).collect();
        check!(
            seqs == [0, 1],
            "the first records of ring 1 have seqs {seqs:?}"
        );
        for other in [0, 2] {
            let stats = ring::stats(&ring::open_ro(other)?)?;
            check!(
                stats.producer_pos == 0 && stats.produced == 0,
                "injecting into ring 1 moved ring {other}: {stats:?}"
            );
        }
        drop(one);
        module::unload_when_unused()?;
        load_rings(&["rings=8", &format!("ring_size={page}")], 8)?;
        fresh_ring(7, 8, page)?;
        max_record(7)?;
        module::unload_when_unused()?;
        load_rings(&[&format!("ring_size={MYMAP_RING_MAX_SIZE}")], 1)?;
        fresh_ring(0, 1, MYMAP_RING_MAX_SIZE)?;
        max_record(0)
    })();
    restore()?;
    result
}

/// Loads the module with `params` and waits for /dev/mymap and `rings` ring nodes.
fn load_rings(params: &[&str], rings: u32) -> TestResult {
    module::load(params)?;
    module::wait_for_node(&module::node(0), true)?;
    for index in 0..rings {
        module::wait_for_node(&ring::node(index), true)?;
    }
    Ok(())
}

/// Checks that ring `index` of a module just loaded with `rings` rings of `size`
/// bytes is as the header describes it: geometry, zero counters and positions,
/// the default policy, a zeroed data area.
fn fresh_ring(index: u32, rings: u32, size: u32) -> TestResult {
    let ring = Ring::open(index)?;
    let info = ring.info;
    let got = (
        info.index,
        info.rings,
        info.data_size,
        info.max_payload,
        info.header_size,
    );
    let want = (
        index,
        rings,
        size,
        size / 4 - MYMAP_RING_HEADER_SIZE,
        MYMAP_RING_HEADER_SIZE,
    );
    check!(
        got == want,
        "ring {index}: INFO (index, rings, data_size, max_payload, header_size) = {got:?}, \
         want {want:?}"
    );
    let stats = ring::stats(&ring.file)?;
    let counters = (
        stats.produced,
        stats.discarded,
        stats.dropped,
        stats.wakeups,
        stats.bytes,
        stats.timer_period_ns,
        stats.producer_pos,
    );
    check!(
        counters == (0, 0, 0, 0, 0, 0, 0),
        "ring {index} after load: STATS {stats:?}"
    );
    check!(
        (ring.producer_pos(), ring.dropped(), ring.pos()) == (0, 0, 0),
        "ring {index} after load: producer pos {}, dropped {}, consumer pos {}",
        ring.producer_pos(),
        ring.dropped(),
        ring.pos()
    );
    check!(
        ring.producer_geometry() == (size, size / 4 - MYMAP_RING_HEADER_SIZE),
        "ring {index}: producer page geometry {:?}",
        ring.producer_geometry()
    );
    let policy = ring::get_wakeup(&ring.file)?.policy;
    check!(
        policy == MYMAP_WAKEUP_CAUGHT_UP,
        "ring {index}: default wakeup policy {policy}, want CAUGHT_UP"
    );
    let data = ring.data();
    let stray = (0..data.len() / 8).find(|&w| data.read_u64(8 * w) != 0);
    check!(
        stray.is_none(),
        "ring {index}: data byte {} is not zero after load",
        8 * stray.unwrap_or(0)
    );
    Ok(())
}

/// A record of max_payload bytes goes into ring `index` (empty) and comes back intact.
fn max_record(index: u32) -> TestResult {
    let mut ring = Ring::open(index)?;
    let max = ring.info.max_payload;
    let done = ring::inject(&ring.file, 1, max)?;
    check!(
        done.produced == 1,
        "ring {index}: a record of max_payload {max} bytes was dropped from an empty ring"
    );
    let mut out = Vec::new();
    ring.consume_exactly(1, Duration::from_secs(5), &mut out)?;
    Checker::new(Checker::per_source).feed_all(&out)?;
    check!(out[0].len == max, "ring {index}: len {}", out[0].len);
    expect_errno(
        ring::inject_raw(&ring.file, 1, max + 1),
        libc::EINVAL,
        "INJECT of max_payload + 1",
    )
}
