// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The ring tests that need one consumer and one producer at a time: geometry,
//! mapping rules, the consumer claim, ordering and drop accounting, `read()`,
//! `poll()`, the wakeup policies and the timer producer. Each checks one promise
//! of `mymap.h` ("Rings"), with the consumer of `ring.rs`.

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::Path,
    sync::{
        atomic::{
            AtomicBool,
            Ordering, //
        },
        mpsc,
        Arc, //
    },
    thread::JoinHandle,
    time::{
        Duration,
        Instant, //
    },
};

use mymap_uapi::bindings::{
    MYMAP_ABI_VERSION,
    MYMAP_RING_DEFAULT_SIZE,
    MYMAP_RING_HEADER_SIZE,
    MYMAP_SOURCE_INJECT,
    MYMAP_SOURCE_TIMER,
    MYMAP_WAKEUP_CAUGHT_UP,
    MYMAP_WAKEUP_EVERY,
    MYMAP_WAKEUP_WATERMARK, //
};
use mymap_uapi::{
    ring::{
        max_payload,
        record_size, //
    },
    MYMAP_RING_IOC_INFO,
    MYMAP_RING_IOC_INJECT,
    MYMAP_RING_IOC_SET_WAKEUP,
    MYMAP_RING_IOC_STATS,
    MYMAP_RING_IOC_TIMER, //
};

use mymap_target_support::{
    module,
    sys::{
        self,
        errname,
        monotonic_ns,
        Epoll,
        Map, //
    },
};

use crate::{
    common::{
        expect_errno,
        expect_mmap_errno,
        expect_null_ioctl, //
    },
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
};

/// The ring every test here uses.
const RING: u32 = 0;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

/// `/dev/mymap-ring0` as udev made it, `MYMAP_RING_IOC_INFO` as the header defines
/// it for the default parameters, the producer page agreeing, and the claim flag.
pub fn info_and_geometry() -> TestResult {
    drop(ring::quiet(RING)?);
    let path = ring::node(RING);
    let meta = fs::metadata(&path).map_err(|e| format!("stat {path}: {e}"))?;
    check!(
        meta.mode() & 0o777 == 0o660,
        "{path} mode {:o}, want 660",
        meta.mode() & 0o777
    );
    let gid = module::group_id("mymap").ok_or("no group mymap in /etc/group")?;
    check!(meta.gid() == gid, "{path} group {}, want mymap", meta.gid());
    check!(
        !Path::new(&ring::node(1)).exists(),
        "{} exists, but the default is one ring",
        ring::node(1)
    );
    for (name, want) in [
        ("rings", "1".to_string()),
        ("ring_size", MYMAP_RING_DEFAULT_SIZE.to_string()),
    ] {
        let got = fs::read_to_string(format!("/sys/module/mymap/parameters/{name}"))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("sysfs parameter {name}: {e}"))?;
        check!(
            got == want,
            "sysfs parameter {name} is {got:?}, want {want:?}"
        );
    }
    let ro = ring::open_ro(RING)?;
    let info = ring::info(&ro)?;
    let page = sys::page_size() as u32;
    let size = MYMAP_RING_DEFAULT_SIZE;
    let want = (
        MYMAP_ABI_VERSION,
        page,
        0,
        1,
        size,
        max_payload(size),
        MYMAP_RING_HEADER_SIZE,
        0,
    );
    let got = (
        info.abi_version,
        info.page_size,
        info.index,
        info.rings,
        info.data_size,
        info.max_payload,
        info.header_size,
        info.consumer_claimed,
    );
    check!(
        got == want,
        "INFO (abi_version, page_size, index, rings, data_size, max_payload, header_size, \
         consumer_claimed) = {got:?}, want {want:?}"
    );
    let ring = Ring::open(RING)?;
    let claimed = ring::info(&ro)?.consumer_claimed;
    check!(
        claimed == 1,
        "consumer_claimed is {claimed} while a file holds the claim"
    );
    let geometry = ring.producer_geometry();
    check!(
        geometry == (info.data_size, info.max_payload),
        "producer page (data_size, max_payload) = {geometry:?}, INFO says {:?}",
        (info.data_size, info.max_payload)
    );
    let stats = ring::stats(&ro)?;
    check!(
        stats.producer_pos == ring.producer_pos(),
        "STATS producer_pos {} != producer page pos {}",
        stats.producer_pos,
        ring.producer_pos()
    );
    check!(
        stats.timer_period_ns == 0,
        "timer_period_ns {} with the timer stopped",
        stats.timer_period_ns
    );
    drop(ring);
    let claimed = ring::info(&ro)?.consumer_claimed;
    check!(claimed == 0, "consumer_claimed is {claimed} after close");
    for (request, want, what) in [
        (
            MYMAP_RING_IOC_INFO as u64,
            libc::EFAULT,
            "RING_IOC_INFO to NULL",
        ),
        (
            MYMAP_RING_IOC_STATS as u64,
            libc::EFAULT,
            "RING_IOC_STATS to NULL",
        ),
        (0xb77f, libc::ENOTTY, "an unknown ioctl on a ring"),
    ] {
        expect_null_ioctl(&ro, request, want, what)?;
    }
    Ok(())
}

/// The mmap rules: page 0 writable alone by the claim holder, everything else
/// read-only for good, no exec, no growth, bounds; mappings survive `MADV_DONTNEED`;
/// an `O_RDONLY` file maps pages 1.. read-only and nothing writable.
pub fn mmap_rules() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let f = &ring.file;
    let page = sys::page_size();
    let data = ring.info.data_size as usize;
    let total = 2 * page + data;
    let shared = libc::MAP_SHARED;
    // Page 0 alone, shared and writable, is the consumer's: a store there is what
    // the kernel reads as the consumer position (seen through its other mapping).
    let consumer = Map::new(f, page, RW, shared, 0)
        .map_err(|e| format!("page 0 shared writable: {}", errname(e)))?;
    let pos = ring.pos();
    consumer.store_release_u32(0, pos);
    check!(
        ring.shared_pos() == pos,
        "page 0 mapped twice shows two values"
    );
    expect_mmap_errno(
        f,
        2 * page,
        RW,
        shared,
        0,
        libc::EPERM,
        "pages 0-1 writable",
    )?;
    expect_mmap_errno(
        f,
        page,
        RW,
        shared,
        page as i64,
        libc::EPERM,
        "page 1 writable",
    )?;
    expect_mmap_errno(
        f,
        data,
        RW,
        shared,
        2 * page as i64,
        libc::EPERM,
        "data area writable",
    )?;
    expect_mmap_errno(
        f,
        page,
        RW,
        libc::MAP_PRIVATE,
        2 * page as i64,
        libc::EPERM,
        "data page writable, private",
    )?;
    expect_mmap_errno(f, total, RW, shared, 0, libc::EPERM, "whole ring writable")?;
    // Read-only mappings work, whole or in part, and never become writable.
    let whole = Map::new(f, total, libc::PROT_READ, shared, 0)
        .map_err(|e| format!("whole ring read-only: {}", errname(e)))?;
    let upper = Map::new(f, total - page, libc::PROT_READ, shared, page as i64)
        .map_err(|e| format!("pages 1.. read-only: {}", errname(e)))?;
    expect_errno(
        upper.mprotect(RW),
        libc::EACCES,
        "mprotect(PROT_WRITE) of pages 1..",
    )?;
    let tail = Map::new(f, page, libc::PROT_READ, shared, (total - page) as i64)
        .map_err(|e| format!("last data page read-only: {}", errname(e)))?;
    expect_errno(
        tail.mprotect(RW),
        libc::EACCES,
        "mprotect(PROT_WRITE) of the last data page",
    )?;
    // Nothing executable.
    let exec = Map::new(
        f,
        page,
        libc::PROT_READ | libc::PROT_EXEC,
        shared,
        page as i64,
    );
    check!(exec.is_err(), "a PROT_EXEC mapping of page 1 succeeded");
    let exec = Map::new(f, page, libc::PROT_READ | libc::PROT_EXEC, shared, 0);
    check!(exec.is_err(), "a PROT_EXEC mapping of page 0 succeeded");
    check!(
        upper.mprotect(libc::PROT_READ | libc::PROT_EXEC).is_err(),
        "mprotect(PROT_EXEC) of pages 1.. succeeded"
    );
    // Bounds.
    expect_mmap_errno(
        f,
        page,
        libc::PROT_READ,
        shared,
        total as i64,
        libc::EINVAL,
        "a page beyond the end",
    )?;
    expect_mmap_errno(
        f,
        data + page,
        libc::PROT_READ,
        shared,
        2 * page as i64,
        libc::EINVAL,
        "data area plus a page",
    )?;
    expect_mmap_errno(
        f,
        total + page,
        libc::PROT_READ,
        shared,
        0,
        libc::EINVAL,
        "whole ring plus a page",
    )?;
    // No growth.
    let mut one = Map::new(f, page, libc::PROT_READ, shared, page as i64).map_err(errname)?;
    check!(
        one.mremap_grow(2 * page).is_err(),
        "mremap grew a mapping of page 1"
    );
    check!(one.len() == page, "the refused mremap changed the mapping");
    let mut consumer = consumer;
    check!(
        consumer.mremap_grow(2 * page).is_err(),
        "mremap grew the writable page 0 over page 1"
    );
    // MADV_DONTNEED: records written, entries dropped, the same bytes come back.
    ring::inject(f, 50, 100)?;
    let before = whole.copy_out(0, total);
    madvise_ok(&whole, 0, total, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
    let after = whole.copy_out(0, total);
    check!(
        before == after,
        "the ring's bytes changed across MADV_DONTNEED"
    );
    madvise_ok(&consumer, 0, page, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
    check!(
        consumer.load_acquire_u32(0) == pos,
        "the consumer position changed across MADV_DONTNEED of page 0"
    );
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    check!(
        out.len() == 50,
        "{} records after DONTNEED, want 50",
        out.len()
    );
    drop((whole, upper, tail, one, consumer));
    // A read-only file: nothing writable (the VFS says EACCES), pages 1.. readable.
    let ro = ring::open_ro(RING)?;
    expect_mmap_errno(
        &ro,
        page,
        RW,
        shared,
        0,
        libc::EACCES,
        "page 0 writable through an O_RDONLY file",
    )?;
    let upper = Map::new(&ro, total - page, libc::PROT_READ, shared, page as i64).map_err(|e| {
        format!(
            "pages 1.. read-only through an O_RDONLY file: {}",
            errname(e)
        )
    })?;
    check!(
        upper.load_acquire_u32(0) == ring.producer_pos(),
        "the O_RDONLY mapping of page 1 shows another producer position"
    );
    Ok(())
}

/// One consumer at a time: a second open for writing fails with EBUSY until the
/// first file is closed and unmapped; read-only opens always work; a new consumer
/// resumes at the position the last one released.
pub fn consumer_claim() -> TestResult {
    let mut first = ring::quiet(RING)?;
    let ro = ring::open_ro(RING)?;
    let busy = |what: &str| {
        expect_errno(
            ring::open_with(RING, true, true, 0).map(|_| ()),
            libc::EBUSY,
            &format!("O_RDWR open {what}"),
        )?;
        expect_errno(
            ring::open_with(RING, false, true, 0).map(|_| ()),
            libc::EBUSY,
            &format!("O_WRONLY open {what}"),
        )
    };
    busy("while another file holds the claim")?;
    let more: Vec<_> = (0..3)
        .map(|_| ring::open_ro(RING))
        .collect::<Result<_, _>>()?;
    check!(
        ring::info(&ro)?.consumer_claimed == 1,
        "consumer_claimed is not 1"
    );
    // Four records; this consumer takes two and leaves.
    let s0 = ring::next_seq(&mut first)?;
    ring::inject(&ro, 4, 16)?;
    let mut out = Vec::new();
    first.consume_exactly(2, Duration::from_secs(2), &mut out)?;
    // Closed but still mapped: the claim holds.
    let Ring { file, .. } = &first;
    let page = sys::page_size();
    let mapping = Map::new(file, page, RW, libc::MAP_SHARED, 0).map_err(errname)?;
    drop(first);
    busy("while the closed consumer's page 0 is still mapped")?;
    drop(mapping);
    let mut second = Ring::open(RING).map_err(|e| format!("after close and munmap: {e}"))?;
    check!(
        ring::info(&ro)?.consumer_claimed == 1,
        "consumer_claimed is not 1 for the new consumer"
    );
    second.consume_exactly(2, Duration::from_secs(2), &mut out)?;
    let seqs: Vec<u64> = out.iter().map(|r| r.seq).collect();
    check!(
        seqs == [s0, s0 + 1, s0 + 2, s0 + 3],
        "two consumers in turn read seqs {seqs:?}, want {:?}",
        [s0, s0 + 1, s0 + 2, s0 + 3]
    );
    drop(second);
    check!(
        ring::info(&ro)?.consumer_claimed == 0,
        "consumer_claimed is not 0 after the last consumer closed"
    );
    // An O_WRONLY open claims too.
    let writer = ring::open_with(RING, false, true, 0)
        .map_err(|e| format!("O_WRONLY open: {}", errname(e)))?;
    busy("while an O_WRONLY file holds the claim")?;
    drop(writer);
    drop(more);
    Ring::open(RING).map(drop)
}

/// Below capacity nothing is lost: N records from one ioctl come back once each, in
/// order, with the pattern, timestamps taken during the ioctl, and statistics that
/// count exactly them; sequence numbers count every attempt since load.
pub fn order_no_loss() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let s0 = ring::next_seq(&mut ring)?;
    let before = ring::stats(&ring.file)?;
    let page_dropped = ring.dropped();
    if before.discarded == 0 {
        check!(
            before.produced + before.dropped == s0,
            "STATS produced {} + dropped {} != the next sequence number {s0}",
            before.produced,
            before.dropped
        );
    }
    let len = 40;
    let n = ring.info.data_size / record_size(len) - 1;
    let t0 = monotonic_ns();
    let done = ring::inject(&ring.file, n, len)?;
    let t1 = monotonic_ns();
    check!(
        done.produced == n && done.dropped == 0,
        "INJECT of {n} below capacity: produced {}, dropped {}",
        done.produced,
        done.dropped
    );
    let after = ring::stats(&ring.file)?;
    let deltas = (
        after.produced - before.produced,
        after.dropped - before.dropped,
        after.discarded - before.discarded,
        after.bytes - before.bytes,
    );
    let want = (n as u64, 0, 0, n as u64 * len as u64);
    check!(
        deltas == want,
        "STATS deltas (produced, dropped, discarded, bytes) = {deltas:?}, want {want:?}"
    );
    check!(
        after.producer_pos == ring.producer_pos(),
        "STATS producer_pos {} != page {}",
        after.producer_pos,
        ring.producer_pos()
    );
    check!(
        ring.dropped() == page_dropped,
        "the producer page's dropped moved"
    );
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    check!(out.len() == n as usize, "{} records, want {n}", out.len());
    let mut checker = Checker::starting_at(s0, Checker::per_source);
    checker.feed_all(&out)?;
    check!(
        checker.gaps == 0,
        "{} sequence numbers missing",
        checker.gaps
    );
    check!(
        checker.next == Some(s0 + n as u64),
        "last seq {:?}, want {}",
        checker.next.map(|s| s - 1),
        s0 + n as u64 - 1
    );
    for r in &out {
        check!(
            r.source as u32 == MYMAP_SOURCE_INJECT && r.len == len && !r.discarded,
            "record seq {}: source {} len {} discarded {}",
            r.seq,
            r.source,
            r.len,
            r.discarded
        );
        check!(
            (t0..=t1).contains(&r.timestamp_ns),
            "record seq {} has timestamp {}, outside the INJECT call [{t0}, {t1}]",
            r.seq,
            r.timestamp_ns
        );
    }
    check!(
        ring.shared_pos() == ring.producer_pos(),
        "page 0 holds {} after draining to {}",
        ring.shared_pos(),
        ring.producer_pos()
    );
    Ok(())
}

/// Records of random lengths over more than 20 laps of the data area, injected by
/// a thread that never lets the ring fill while the consumer reads: none lost,
/// none repeated, the WRAP words skipped.
pub fn order_many_wraps() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let s0 = ring::next_seq(&mut ring)?;
    let size = ring.info.data_size;
    let seed = fastrand::u64(..);
    let released = Arc::new(std::sync::atomic::AtomicU32::new(ring.pos()));
    let injector = {
        let released = released.clone();
        let f = ring::open_ro(RING)?;
        std::thread::spawn(move || -> Result<(u64, u64), String> {
            let mut rng = fastrand::Rng::with_seed(seed);
            let (mut records, mut bytes) = (0u64, 0u64);
            let deadline = Instant::now() + Duration::from_secs(60);
            while bytes < 20 * size as u64 + size as u64 {
                check!(Instant::now() < deadline, "seed {seed}: injector ran 60 s");
                let used = ring::stats(&f)?
                    .producer_pos
                    .wrapping_sub(released.load(Ordering::Acquire));
                // 64 records of at most 328 bytes fit in the half left free.
                if used > size / 2 {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let len = rng.u32(0..=300);
                let count = rng.u32(1..=64);
                let done = ring::inject(&f, count, len)?;
                check!(
                    done.dropped == 0,
                    "seed {seed}: {} of {count} records dropped with the ring at most half full",
                    done.dropped
                );
                records += count as u64;
                bytes += count as u64 * record_size(len) as u64;
            }
            Ok((records, bytes))
        })
    };
    let mut checker = Checker::starting_at(s0, Checker::per_source);
    let mut out = Vec::new();
    let mut offsets_fell = 0u64;
    let mut last_offset = ring.pos() & (size - 1);
    let deadline = Instant::now() + Duration::from_secs(90);
    let consumed = loop {
        out.clear();
        let n = ring.consume(usize::MAX, &mut out)?;
        released.store(ring.pos(), Ordering::Release);
        checker.feed_all(&out)?;
        for r in &out {
            let offset = r.pos & (size - 1);
            if offset < last_offset {
                offsets_fell += 1;
            }
            last_offset = offset;
        }
        if n == 0 {
            if injector.is_finished() && ring.pos() == ring.producer_pos() {
                break injector.join().map_err(|_| "injector panicked")??;
            }
            check!(Instant::now() < deadline, "seed {seed}: consumer ran 90 s");
            ring.wait(Duration::from_millis(50))?;
        }
    };
    let (records, _) = consumed;
    check!(
        checker.records == records,
        "seed {seed}: consumed {} records, injected {records}",
        checker.records
    );
    check!(
        checker.gaps == 0,
        "seed {seed}: {} sequence numbers missing",
        checker.gaps
    );
    check!(
        offsets_fell >= 20,
        "seed {seed}: the records wrapped {offsets_fell} times, want at least 20"
    );
    Ok(())
}

/// Above capacity the newest records are dropped, each counted: INJECT's answer,
/// the producer page, STATS and the sequence gap agree, and the numbers are those
/// the contract's space rule gives (WRAP bytes included).
pub fn drop_counting() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let s0 = ring::next_seq(&mut ring)?;
    let size = ring.info.data_size;
    let before = ring::stats(&ring.file)?;
    let page_dropped = ring.dropped();
    let (p0, c) = (ring.producer_pos(), ring.pos());
    let len = 100;
    let count = 2 * size / record_size(len) + 5;
    let (want_produced, want_dropped, want_pos) = ring::simulate(
        p0,
        c,
        size,
        std::iter::repeat_n(record_size(len), count as usize),
    );
    let done = ring::inject(&ring.file, count, len)?;
    check!(
        (done.produced, done.dropped) == (want_produced, want_dropped),
        "INJECT of {count} x {len} into an empty ring at {p0}: produced {}, dropped {}; \
         want {want_produced}, {want_dropped}",
        done.produced,
        done.dropped
    );
    check!(
        ring.producer_pos() == want_pos,
        "producer position {}, want {want_pos}",
        ring.producer_pos()
    );
    // The full ring still takes small records where they fit.
    let small = 20;
    let (want_small, want_small_dropped, want_pos) = ring::simulate(
        want_pos,
        c,
        size,
        std::iter::repeat_n(record_size(0), small as usize),
    );
    let done_small = ring::inject(&ring.file, small, 0)?;
    check!(
        (done_small.produced, done_small.dropped) == (want_small, want_small_dropped),
        "INJECT of {small} empty records into the full ring: produced {}, dropped {}; \
         want {want_small}, {want_small_dropped}",
        done_small.produced,
        done_small.dropped
    );
    check!(
        ring.producer_pos() == want_pos,
        "producer position {}, want {want_pos}",
        ring.producer_pos()
    );
    let dropped = (want_dropped + want_small_dropped) as u64;
    let page = ring.dropped().wrapping_sub(page_dropped);
    check!(
        page as u64 == dropped,
        "the producer page's dropped moved by {page}, want {dropped}"
    );
    let after = ring::stats(&ring.file)?;
    let deltas = (
        after.produced - before.produced,
        after.dropped - before.dropped,
    );
    let want = ((want_produced + want_small) as u64, dropped);
    check!(
        deltas == want,
        "STATS (produced, dropped) moved by {deltas:?}, want {want:?}"
    );
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    let mut checker = Checker::starting_at(s0, Checker::per_source);
    checker.feed_all(&out)?;
    check!(
        checker.records == (want_produced + want_small) as u64,
        "consumed {} records, want {}",
        checker.records,
        want_produced + want_small
    );
    // The gap inside what was consumed, then the one before the next record.
    let next = ring::next_seq(&mut ring)?;
    let trailing = next - 1 - checker.next.unwrap_or(s0);
    check!(
        checker.gaps + trailing == dropped,
        "sequence gaps {} + {trailing} after the last record != {dropped} dropped",
        checker.gaps
    );
    check!(
        next - 1 == s0 + (count + small) as u64,
        "the next record after {} attempts has seq {}, want {}",
        count + small,
        next - 1,
        s0 + (count + small) as u64
    );
    // Room again: a full-size batch goes in as the rule says.
    let (p0, c) = (ring.producer_pos(), ring.pos());
    let (want_produced, want_dropped, _) =
        ring::simulate(p0, c, size, std::iter::repeat_n(record_size(len), 10));
    let done = ring::inject(&ring.file, 10, len)?;
    check!(
        (done.produced, done.dropped) == (want_produced, want_dropped),
        "after draining: produced {}, dropped {}; want {want_produced}, {want_dropped}",
        done.produced,
        done.dropped
    );
    Ok(())
}

/// `read()`: one record per call, EMSGSIZE for a short buffer with nothing consumed,
/// EAGAIN when empty with O_NONBLOCK, blocking until a record comes otherwise,
/// WRAP skipped; EBADF without the claim.
pub fn read_records() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let s0 = ring::next_seq(&mut ring)?;
    // From here on the consumer is read(): page 0 is only looked at.
    let f = ring.file.try_clone().map_err(|e| e.to_string())?;
    sys::set_nonblocking(&f, true).map_err(errname)?;
    let len = 40;
    let want = HEADER + len as usize;
    ring::inject(&f, 3, len)?;
    let start = ring.shared_pos();
    let mut buf = vec![0u8; 4096];
    expect_errno(
        sys::read(&f, &mut buf[..want - 1]),
        libc::EMSGSIZE,
        "read() with a buffer one byte short",
    )?;
    check!(
        ring.shared_pos() == start,
        "the refused read() moved the consumer position"
    );
    let mut got = Vec::new();
    for (i, size) in [want, 4096, want].into_iter().enumerate() {
        let n = sys::read(&f, &mut buf[..size])
            .map_err(|e| format!("read() {i} into {size} bytes: {}", errname(e)))?;
        let record = Record::parse(&buf[..n])?;
        check!(
            record.seq == s0 + i as u64
                && record.len == len
                && record.source as u32 == MYMAP_SOURCE_INJECT,
            "read() {i} gave seq {} len {} source {}, want seq {} len {len} source INJECT",
            record.seq,
            record.len,
            record.source,
            s0 + i as u64
        );
        got.push(record);
    }
    Checker::starting_at(s0, Checker::per_source).feed_all(&got)?;
    expect_errno(
        sys::read(&f, &mut buf),
        libc::EAGAIN,
        "read() on an empty ring with O_NONBLOCK",
    )?;
    check!(
        ring.shared_pos() == ring.producer_pos(),
        "after reading everything page 0 holds {}, the producer {}",
        ring.shared_pos(),
        ring.producer_pos()
    );
    // A blocking read() sleeps until a record comes.
    sys::set_nonblocking(&f, false).map_err(errname)?;
    let g = f.try_clone().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let _ = tx.send(sys::gettid());
        let mut buf = vec![0u8; 4096];
        sys::read(&g, &mut buf).map(|n| buf[..n].to_vec())
    });
    let tid = rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "the reader thread did not start")?;
    ring::wait_sleeping(tid)?;
    ring::inject(&f, 1, 0)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reader.is_finished() {
        check!(
            Instant::now() < deadline,
            "a blocking read() was not woken by a record within 5 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let bytes = reader
        .join()
        .map_err(|_| "reader panicked")?
        .map_err(|e| format!("blocking read(): {}", errname(e)))?;
    let record = Record::parse(&bytes)?;
    check!(
        record.seq == s0 + 3 && record.len == 0,
        "blocking read() gave seq {} len {}, want seq {} len 0",
        record.seq,
        record.len,
        s0 + 3
    );
    // Across several laps: large records, one read() each.
    sys::set_nonblocking(&f, true).map_err(errname)?;
    let big = ring.info.max_payload / 3 + 5;
    let laps = 3 * ring.info.data_size / record_size(big) + 2;
    let mut checker = Checker::starting_at(s0 + 4, Checker::per_source);
    let mut buf = vec![0u8; HEADER + big as usize];
    for i in 0..laps {
        ring::inject(&f, 1, big)?;
        let n = sys::read(&f, &mut buf).map_err(|e| format!("read() {i}: {}", errname(e)))?;
        let record = Record::parse(&buf[..n])?;
        check!(record.len == big, "read() {i}: len {}", record.len);
        checker.feed(&record)?;
    }
    check!(
        checker.gaps == 0,
        "{} records missing across the laps",
        checker.gaps
    );
    // Without the claim.
    let ro = ring::open_with(RING, true, false, libc::O_NONBLOCK).map_err(errname)?;
    ring::inject(&f, 1, 8)?;
    expect_errno(
        sys::read(&ro, &mut buf),
        libc::EBADF,
        "read() on an O_RDONLY file",
    )?;
    let n = sys::read(&f, &mut buf).map_err(errname)?;
    check!(
        Record::parse(&buf[..n])?.len == 8,
        "the record left by the refused read() is not the next one"
    );
    Ok(())
}

/// `poll()` and level-triggered epoll report EPOLLIN | EPOLLRDNORM exactly while a
/// record waits.
pub fn poll_readiness() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let ep = Epoll::new().map_err(errname)?;
    ep.add(&ring.file, libc::EPOLLIN as u32).map_err(errname)?;
    let empty = |what: &str, ring: &Ring| -> TestResult {
        let ev = sys::poll_in(&ring.file, 0).map_err(errname)?;
        check!(ev == 0, "poll() {what}: revents {ev:#x}, want none");
        let n = ep.wait(0).map_err(errname)?;
        check!(n == 0, "epoll {what}: {n} ready");
        Ok(())
    };
    empty("on an empty ring", &ring)?;
    ring::inject(&ring.file, 1, 8)?;
    let ev = sys::poll_in(&ring.file, 0).map_err(errname)?;
    check!(
        ev & (libc::POLLIN | libc::POLLRDNORM) == libc::POLLIN | libc::POLLRDNORM,
        "poll() with a record waiting: revents {ev:#x}"
    );
    check!(
        ep.wait(0).map_err(errname)? == 1,
        "level-triggered epoll with a record waiting: not ready"
    );
    check!(
        ep.wait(0).map_err(errname)? == 1,
        "level-triggered epoll asked twice: not ready the second time"
    );
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    empty("after consuming", &ring)?;
    Ok(())
}

/// A thread blocked in `poll()` on a ring.
struct Poller {
    handle: JoinHandle<Result<(i16, u64), i32>>,
    done: Arc<AtomicBool>,
}

impl Poller {
    /// Starts a thread polling `ring` for up to `timeout_ms`; returns once it sleeps.
    fn start(ring: &Ring, timeout_ms: i32) -> Result<Poller, String> {
        let f = ring.file.try_clone().map_err(|e| e.to_string())?;
        let done = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let handle = {
            let done = done.clone();
            std::thread::spawn(move || {
                let _ = tx.send(sys::gettid());
                let r = sys::poll_in(&f, timeout_ms);
                let at = monotonic_ns();
                done.store(true, Ordering::Release);
                r.map(|ev| (ev, at))
            })
        };
        let tid = rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| "the polling thread did not start")?;
        ring::wait_sleeping(tid)?;
        Ok(Poller { handle, done })
    }

    /// Whether `poll()` has returned.
    fn returned(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Waits for `poll()` to return: its revents and when it returned.
    fn join(self) -> Result<(i16, u64), String> {
        self.handle
            .join()
            .map_err(|_| "polling thread panicked")?
            .map_err(|e| format!("poll: {}", errname(e)))
    }
}

/// Expects `poller` to return readable within `within` of now (it was woken).
fn expect_woken(poller: Poller, within: Duration, what: &str) -> TestResult {
    let start = monotonic_ns();
    let (ev, at) = poller.join()?;
    check!(ev & libc::POLLIN != 0, "{what}: poll() timed out unwoken");
    let took = Duration::from_nanos(at.saturating_sub(start));
    check!(
        took <= within,
        "{what}: poll() returned {took:?} later, want within {within:?}"
    );
    Ok(())
}

/// SET_WAKEUP and GET_WAKEUP: what is set is read back, values out of the
/// header's ranges fail with EINVAL and change nothing.
pub fn wakeup_set_get() -> TestResult {
    let ring = ring::quiet(RING)?;
    let f = &ring.file;
    let size = ring.info.data_size;
    let get = || ring::get_wakeup(f).map(|w| (w.policy, w.watermark, w.max_latency_ns));
    check!(
        get()?.0 == MYMAP_WAKEUP_CAUGHT_UP,
        "policy {} after SET CAUGHT_UP",
        get()?.0
    );
    let good: &[(u32, u32, u64)] = &[
        (MYMAP_WAKEUP_WATERMARK, 1, 0),
        (MYMAP_WAKEUP_WATERMARK, size, 1_000),
        (MYMAP_WAKEUP_WATERMARK, 4096, 1_000_000_000),
        (MYMAP_WAKEUP_WATERMARK, 100, 5_000_000),
    ];
    for &(policy, watermark, latency) in good {
        ring::set_wakeup(f, policy, watermark, latency).map_err(|e| {
            format!(
                "SET_WAKEUP ({policy}, {watermark}, {latency}): {}",
                errname(e)
            )
        })?;
        check!(
            get()? == (policy, watermark, latency),
            "GET_WAKEUP gives {:?} after SET_WAKEUP {:?}",
            get()?,
            (policy, watermark, latency)
        );
    }
    let kept = get()?;
    let bad: &[(u32, u32, u64)] = &[
        (3, 0, 0),
        (u32::MAX, 0, 0),
        (MYMAP_WAKEUP_WATERMARK, 0, 0),
        (MYMAP_WAKEUP_WATERMARK, size + 1, 0),
        (MYMAP_WAKEUP_WATERMARK, u32::MAX, 0),
        (MYMAP_WAKEUP_WATERMARK, 100, 999),
        (MYMAP_WAKEUP_WATERMARK, 100, 1_000_000_001),
        (MYMAP_WAKEUP_WATERMARK, 100, u64::MAX),
    ];
    for &(policy, watermark, latency) in bad {
        expect_errno(
            ring::set_wakeup(f, policy, watermark, latency),
            libc::EINVAL,
            &format!("SET_WAKEUP ({policy}, {watermark}, {latency})"),
        )?;
        check!(
            get()? == kept,
            "the refused SET_WAKEUP changed the policy to {:?}",
            get()?
        );
    }
    expect_null_ioctl(
        f,
        MYMAP_RING_IOC_SET_WAKEUP as u64,
        libc::EFAULT,
        "SET_WAKEUP from NULL",
    )?;
    for policy in [MYMAP_WAKEUP_EVERY, MYMAP_WAKEUP_CAUGHT_UP] {
        ring::set_wakeup(f, policy, 0, 0)
            .map_err(|e| format!("SET_WAKEUP {policy}: {}", errname(e)))?;
        check!(
            get()?.0 == policy,
            "GET_WAKEUP policy {} after SET {policy}",
            get()?.0
        );
    }
    Ok(())
}

/// An edge-triggered epoll registration of the ring, with a record waiting:
/// checks that it gives its first event.
fn edge_triggered(ring: &Ring) -> Result<Epoll, String> {
    let ep = Epoll::new().map_err(errname)?;
    ep.add(&ring.file, (libc::EPOLLIN | libc::EPOLLET) as u32)
        .map_err(errname)?;
    check!(
        ep.wait(0).map_err(errname)? == 1,
        "edge-triggered epoll: no first event with a record waiting"
    );
    Ok(ep)
}

/// EVERY: each record wakes the waiters, even while the consumer is behind. An
/// edge-triggered epoll registration (a waiter that stays registered) sees one
/// event per record, and the wakeups counter grows by at least one per record.
pub fn wakeup_every() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_EVERY, 0, 0)
        .map_err(|e| format!("SET_WAKEUP EVERY: {}", errname(e)))?;
    let result = (|| {
        // A caught-up consumer blocked in poll() is woken.
        let poller = Poller::start(&ring, 10_000)?;
        ring::inject(&ring.file, 1, 8)?;
        expect_woken(poller, Duration::from_secs(3), "EVERY, caught up")?;
        // The record stays unread: the consumer is behind from here on.
        let ep = edge_triggered(&ring)?;
        check!(
            ep.wait(0).map_err(errname)? == 0,
            "edge-triggered epoll: a second event without a wakeup"
        );
        let before = ring::settled_stats(&ring.file)?;
        let records = 10;
        for i in 0..records {
            ring::inject(&ring.file, 1, 8)?;
            check!(
                ep.wait(3000).map_err(errname)? == 1,
                "EVERY: record {i} (consumer behind) woke no epoll waiter within 3 s"
            );
        }
        let after = ring::settled_stats(&ring.file)?;
        check!(
            after.wakeups - before.wakeups >= records,
            "EVERY: {records} records one at a time made {} wakeups",
            after.wakeups - before.wakeups
        );
        // A burst: at least one wakeup, at most one per record (irq_work may merge them).
        let burst = 1000;
        ring::inject(&ring.file, burst, 0)?;
        let end = ring::settled_stats(&ring.file)?;
        let woke = end.wakeups - after.wakeups;
        check!(
            (1..=burst as u64).contains(&woke),
            "EVERY: a burst of {burst} records made {woke} wakeups"
        );
        println!("MYMAP-NOTE: ring-wakeup-every: a burst of {burst} records made {woke} wakeups");
        let mut out = Vec::new();
        ring.drain(&mut out).map(drop)
    })();
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_CAUGHT_UP, 0, 0).map_err(errname)?;
    result
}

/// A wakeup is queued only when someone may wait: under EVERY, records taken by a mapped
/// consumer that neither polls nor reads (a spinning one) leave the wakeups counter where
/// it was; the same records with an epoll registration (a waiter that stays registered)
/// move it.
pub fn wakeup_nobody_waiting() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_EVERY, 0, 0)
        .map_err(|e| format!("SET_WAKEUP EVERY: {}", errname(e)))?;
    let result = (|| {
        let records = 20;
        let mut out = Vec::new();
        let mut one_by_one = |ring: &mut Ring| -> Result<u64, String> {
            let before = ring::settled_stats(&ring.file)?;
            for _ in 0..records {
                ring::inject(&ring.file, 1, 8)?;
                ring.drain(&mut out)?;
            }
            Ok(ring::settled_stats(&ring.file)?.wakeups - before.wakeups)
        };
        let spinning = one_by_one(&mut ring)?;
        check!(
            spinning == 0,
            "EVERY: {records} records with nobody registered made {spinning} wakeups, want 0"
        );
        let ep = Epoll::new().map_err(errname)?;
        ep.add(&ring.file, libc::EPOLLIN as u32).map_err(errname)?;
        let registered = one_by_one(&mut ring)?;
        check!(
            registered >= 1,
            "EVERY: {records} records with an epoll registration made no wakeup"
        );
        println!(
            "MYMAP-NOTE: ring-wakeup-nobody-waiting: {records} records made {spinning} wakeups \
             with nobody registered, {registered} with an epoll registration"
        );
        Ok(())
    })();
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_CAUGHT_UP, 0, 0).map_err(errname)?;
    result
}

/// CAUGHT_UP: the first record after the consumer read everything wakes it; while
/// it is behind, records wake nobody; a burst from caught up is exactly one wakeup.
///
/// The records stay clear of data offset 0: the driver also wakes for every record
/// there (one that may follow a WRAP word the consumer stopped at), caught up or not.
pub fn wakeup_caught_up() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    ring::rewind(&mut ring)?;
    ring::inject(&ring.file, 1, 8)?;
    ring.drain(&mut Vec::new())?;
    let poller = Poller::start(&ring, 10_000)?;
    ring::inject(&ring.file, 1, 8)?;
    expect_woken(poller, Duration::from_secs(3), "CAUGHT_UP, first record")?;
    // Behind by one record: an edge-triggered waiter sees nothing more.
    let ep = edge_triggered(&ring)?;
    let before = ring::settled_stats(&ring.file)?;
    for i in 0..5 {
        ring::inject(&ring.file, 1, 8)?;
        check!(
            ep.wait(300).map_err(errname)? == 0,
            "CAUGHT_UP: record {i}, with the consumer behind, woke a waiter"
        );
    }
    let after = ring::settled_stats(&ring.file)?;
    check!(
        after.wakeups == before.wakeups,
        "CAUGHT_UP: 5 records with the consumer behind made {} wakeups",
        after.wakeups - before.wakeups
    );
    // Caught up again, then bursts: one wakeup each.
    let mut out = Vec::new();
    for round in 0..2 {
        ring.drain(&mut out)?;
        let before = ring::settled_stats(&ring.file)?;
        ring::inject(&ring.file, 500, 0)?;
        check!(
            ep.wait(3000).map_err(errname)? == 1,
            "CAUGHT_UP: burst {round} woke no epoll waiter within 3 s"
        );
        let after = ring::settled_stats(&ring.file)?;
        check!(
            after.wakeups - before.wakeups == 1,
            "CAUGHT_UP: burst {round} of 500 records from caught up made {} wakeups, want 1",
            after.wakeups - before.wakeups
        );
    }
    ring.drain(&mut out).map(drop)
}

/// WATERMARK: a waiting consumer sleeps until the watermark's bytes wait; with a
/// maximum latency it is woken that long after the first record; without one and
/// below the watermark it is not woken at all.
pub fn wakeup_watermark() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let result = watermark_steps(&mut ring);
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_CAUGHT_UP, 0, 0).map_err(errname)?;
    result
}

fn watermark_steps(ring: &mut Ring) -> TestResult {
    // At data offset 0 the byte counts below hold no WRAP padding.
    ring::rewind(ring)?;
    let size = ring.info.data_size;
    let len = 40;
    let s = record_size(len);
    let watermark = 3 * s + 8;
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_WATERMARK, watermark, 0)
        .map_err(|e| format!("SET_WAKEUP WATERMARK {watermark}: {}", errname(e)))?;
    let poller = Poller::start(ring, 20_000)?;
    for (count, waiting) in [(1, s), (2, 3 * s)] {
        ring::inject(&ring.file, count, len)?;
        std::thread::sleep(Duration::from_millis(300));
        check!(
            !poller.returned(),
            "WATERMARK {watermark}: poll() returned with {waiting} bytes waiting"
        );
    }
    ring::inject(&ring.file, 1, len)?;
    expect_woken(
        poller,
        Duration::from_secs(3),
        &format!("WATERMARK {watermark}, {} bytes waiting", 4 * s),
    )?;
    let mut out = Vec::new();
    ring.drain(&mut out)?;
    // Below the watermark without a latency: the poll times out.
    ring::set_wakeup(&ring.file, MYMAP_WAKEUP_WATERMARK, size, 0).map_err(errname)?;
    let timeout = 600;
    let start = monotonic_ns();
    let poller = Poller::start(ring, timeout)?;
    ring::inject(&ring.file, 1, len)?;
    let (_, at) = poller.join()?;
    let took = Duration::from_nanos(at - start);
    check!(
        took >= Duration::from_millis(timeout as u64 - 20),
        "WATERMARK {size} without latency: poll() returned after {took:?}, before its \
         {timeout} ms timeout, with one record waiting"
    );
    ring.drain(&mut out)?;
    // With a maximum latency: woken that long after the first waiting record.
    let latency = Duration::from_millis(200);
    ring::set_wakeup(
        &ring.file,
        MYMAP_WAKEUP_WATERMARK,
        size,
        latency.as_nanos() as u64,
    )
    .map_err(errname)?;
    for round in 0..2 {
        let poller = Poller::start(ring, 20_000)?;
        ring::inject(&ring.file, 1, len)?;
        let (ev, at) = poller.join()?;
        out.clear();
        ring.consume_exactly(1, Duration::from_secs(1), &mut out)?;
        let after = Duration::from_nanos(at.saturating_sub(out[0].timestamp_ns));
        check!(
            ev & libc::POLLIN != 0,
            "max latency {latency:?}, round {round}: poll() timed out"
        );
        // A jiffy (10 ms at HZ 100) of tolerance below, the emulator's delays above.
        check!(
            after + Duration::from_millis(10) >= latency && after <= latency * 16,
            "max latency {latency:?}, round {round}: woken {after:?} after the record"
        );
    }
    Ok(())
}

/// The timer producer: records of its length from source TIMER, sequence numbers
/// contiguous, timestamps increasing and never faster than the period; STATS shows
/// the period while it runs; stopping it stops the records; a restart with new
/// settings takes effect at once.
pub fn timer_producer() -> TestResult {
    let mut ring = ring::quiet(RING)?;
    let ro = ring::open_ro(RING)?;
    let result = timer_steps(&mut ring, &ro);
    ring::timer(&ro, 0, 0)?;
    result
}

fn timer_steps(ring: &mut Ring, ro: &fs::File) -> TestResult {
    let s0 = ring::next_seq(ring)?;
    let before = ring::stats(ro)?;
    let period = 1_000_000u64;
    let len = 24;
    let t0 = monotonic_ns();
    ring::timer(ro, period, len)?;
    let running = ring::stats(ro)?;
    check!(
        (running.timer_period_ns, running.timer_len) == (period, len),
        "STATS (timer_period_ns, timer_len) = {:?} while running, want {:?}",
        (running.timer_period_ns, running.timer_len),
        (period, len)
    );
    let mut out = Vec::new();
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        ring.consume(usize::MAX, &mut out)?;
        ring.wait(Duration::from_millis(50))?;
    }
    ring::timer(ro, 0, 0)?;
    let t1 = monotonic_ns();
    let stopped = ring::stats(ro)?;
    check!(
        stopped.timer_period_ns == 0,
        "STATS timer_period_ns {} after stop",
        stopped.timer_period_ns
    );
    ring.drain(&mut out)?;
    let p = ring.producer_pos();
    std::thread::sleep(Duration::from_millis(100));
    check!(
        ring.producer_pos() == p,
        "records still arrive after the timer was stopped"
    );
    let mut checker = Checker::starting_at(s0, Checker::per_source);
    checker.feed_all(&out)?;
    let n = out.len() as u64;
    check!(checker.gaps == 0, "{} timer records missing", checker.gaps);
    check!(
        stopped.produced - before.produced == n,
        "STATS produced moved by {}, {n} records came",
        stopped.produced - before.produced
    );
    for (i, r) in out.iter().enumerate() {
        check!(
            r.source as u32 == MYMAP_SOURCE_TIMER && r.len == len,
            "timer record {i}: source {} len {}",
            r.source,
            r.len
        );
        check!(
            (t0..=t1).contains(&r.timestamp_ns),
            "timer record {i}: timestamp {} outside [{t0}, {t1}]",
            r.timestamp_ns
        );
        check!(
            i == 0 || r.timestamp_ns > out[i - 1].timestamp_ns,
            "timer record {i}: timestamp not after the previous one's"
        );
    }
    let span = t1 - t0;
    check!(
        n >= 20 && n <= span / period + 2,
        "{n} timer records in {span} ns at a period of {period} ns"
    );
    let mean = (out[n as usize - 1].timestamp_ns - out[0].timestamp_ns) / (n - 1);
    check!(
        mean * 10 >= period * 9,
        "timer records {mean} ns apart on average, period {period} ns"
    );
    println!(
        "MYMAP-NOTE: ring-timer: 1 kHz asked, {n} records in {:.3} s, {mean} ns apart on average",
        span as f64 / 1e9
    );
    // A restart with new settings replaces the old ones.
    out.clear();
    ring::timer(ro, 2_000_000, 8)?;
    std::thread::sleep(Duration::from_millis(50));
    ring::timer(ro, 5_000_000, 16)?;
    let restarted = ring::stats(ro)?;
    check!(
        (restarted.timer_period_ns, restarted.timer_len) == (5_000_000, 16),
        "STATS after a restart: {:?}",
        (restarted.timer_period_ns, restarted.timer_len)
    );
    std::thread::sleep(Duration::from_millis(300));
    ring::timer(ro, 0, 0)?;
    ring.drain(&mut out)?;
    let lens: Vec<u32> = out.iter().map(|r| r.len).collect();
    let switch = lens.iter().position(|&l| l == 16).unwrap_or(lens.len());
    check!(
        switch < lens.len()
            && lens[..switch].iter().all(|&l| l == 8)
            && lens[switch..].iter().all(|&l| l == 16),
        "payload lengths across the restart: {lens:?}, want 8s then 16s"
    );
    Ok(())
}

/// Producer control arguments out of the header's ranges fail with EINVAL and
/// start nothing; the extremes inside them work.
pub fn producer_arguments() -> TestResult {
    let ring = ring::quiet(RING)?;
    let ro = ring::open_ro(RING)?;
    let max = ring.info.max_payload;
    let result = (|| {
        let p = ring.producer_pos();
        for (period, len, reserved) in [
            (9_999, 0, 0),
            (1, 0, 0),
            (10_000_000_001, 0, 0),
            (u64::MAX, 0, 0),
            (1_000_000, max + 1, 0),
            (1_000_000, u32::MAX, 0),
            (1_000_000, 8, 1),
        ] {
            expect_errno(
                ring::timer_raw(&ro, period, len, reserved),
                libc::EINVAL,
                &format!("TIMER period {period} len {len} reserved {reserved}"),
            )?;
            let stats = ring::stats(&ro)?;
            check!(
                stats.timer_period_ns == 0,
                "a refused TIMER started the timer"
            );
        }
        expect_null_ioctl(
            &ro,
            MYMAP_RING_IOC_TIMER as u64,
            libc::EFAULT,
            "TIMER from NULL",
        )?;
        for (count, len) in [(16_777_217, 0), (u32::MAX, 0), (1, max + 1), (1, u32::MAX)] {
            expect_errno(
                ring::inject_raw(&ro, count, len),
                libc::EINVAL,
                &format!("INJECT count {count} len {len}"),
            )?;
        }
        expect_null_ioctl(
            &ro,
            MYMAP_RING_IOC_INJECT as u64,
            libc::EFAULT,
            "INJECT from NULL",
        )?;
        check!(
            ring.producer_pos() == p,
            "refused producer calls moved the producer position"
        );
        // The limits themselves are accepted.
        for (period, len) in [(10_000_000_000, max), (10_000, 0)] {
            ring::timer(&ro, period, len)?;
            let stats = ring::stats(&ro)?;
            check!(
                (stats.timer_period_ns, stats.timer_len) == (period, len),
                "STATS shows {:?} after TIMER {:?}",
                (stats.timer_period_ns, stats.timer_len),
                (period, len)
            );
            ring::timer(&ro, 0, 0)?;
        }
        ring::inject(&ro, 1, max)?;
        Ok(())
    })();
    ring::timer(&ro, 0, 0)?;
    result
}

/// A process blocked in `read()` on a ring, forked from the test.
struct BlockedReader {
    pid: libc::pid_t,
    reaped: bool,
}

impl BlockedReader {
    /// Forks a child that blocks in `read()` on `file` (the consumer's, blocking) and
    /// returns once the child sleeps there (state S, or D behind a lock).
    fn start(file: &fs::File) -> Result<BlockedReader, String> {
        let (read_end, write_end) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
        // SAFETY: the test process has no other thread when it forks; the child only
        // writes to a pipe, calls read() and exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", errname(sys::errno())));
        }
        if pid == 0 {
            drop(read_end);
            let mut buf = vec![0u8; 4096];
            // SAFETY: `write_end` is this process's open descriptor; one byte says
            // "about to block".
            unsafe { libc::write(write_end.into_raw(), [1u8].as_ptr().cast(), 1) };
            let code = match sys::read(file, &mut buf) {
                Ok(_) => 0,
                Err(_) => 1,
            };
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(code) };
        }
        drop(write_end);
        let mut reader = BlockedReader { pid, reaped: false };
        let mut byte = [0u8; 1];
        // SAFETY: `read_end` is an open descriptor this process owns; the File closes it.
        let mut started =
            unsafe { <fs::File as std::os::fd::FromRawFd>::from_raw_fd(read_end.into_raw()) };
        if std::io::Read::read_exact(&mut started, &mut byte).is_err() {
            reader.kill_within(Duration::from_secs(10));
            return Err(format!("reader {pid} did not start"));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match sys::process_state(pid) {
                Some('S') | Some('D') => return Ok(reader),
                Some('Z') | None => {
                    reader.reap_within(Duration::from_secs(1));
                    return Err(format!(
                        "reader {pid} returned from read() on an idle ring (no record)"
                    ));
                }
                _ => {}
            }
            check!(
                Instant::now() < deadline,
                "reader {pid} did not block in read() within 5 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The reader's scheduler state letter.
    fn state(&self) -> char {
        sys::process_state(self.pid).unwrap_or('?')
    }

    /// Reaps the child if it exits within `timeout`.
    fn reap_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.reaped {
            if sys::try_wait(self.pid).is_some() {
                self.reaped = true;
            } else if Instant::now() >= deadline {
                break;
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.reaped
    }

    /// SIGKILL, then whether it was reaped within `timeout`.
    fn kill_within(&mut self, timeout: Duration) -> bool {
        let _ = sys::kill(self.pid, libc::SIGKILL);
        self.reap_within(timeout)
    }
}

/// How long a reader blocked in `read()` may take to die of SIGKILL: it takes
/// milliseconds, but the emulator's host has stalled a board for 2.6 s (a wakeup
/// measured by `ring-lost-wakeup-hunt`); a reader that cannot be killed never dies.
const KILL_WITHIN: Duration = Duration::from_secs(10);

/// Blocking readers are killable: two processes that share the consumer's file
/// block in `read()` on an idle ring, the second behind the first; each dies of
/// SIGKILL within [`KILL_WITHIN`], the second (which waits for the first) killed
/// first.
///
/// Issue 18: `read()` held a plain mutex while it slept for a record, so the
/// second reader waited in `mutex_lock`, uninterruptible: it ignored SIGKILL and
/// the hung-task detector reported it.
pub fn read_killable() -> TestResult {
    let ring = ring::quiet(RING)?;
    // Blocking: the claim holder's file as opened, shared by both children.
    let file = &ring.file;
    sys::set_nonblocking(file, false).map_err(errname)?;
    let mut first = BlockedReader::start(file)?;
    let mut second = match BlockedReader::start(file) {
        Ok(second) => second,
        Err(why) => {
            first.kill_within(Duration::from_secs(10));
            return Err(why);
        }
    };
    let states = (first.state(), second.state());
    let second_died = second.kill_within(KILL_WITHIN);
    let first_died = first.kill_within(KILL_WITHIN);
    // The second reader, its SIGKILL pending, ends once the first is gone: the
    // ring's claim (their shared file) must not outlive the test.
    let second_gone = second_died || second.reap_within(Duration::from_secs(10));
    check!(
        second_died,
        "the second reader of the consumer's file (state {}, behind the first, state {}) \
         did not die within {KILL_WITHIN:?} of SIGKILL{}",
        states.1,
        states.0,
        if second_gone {
            "; it died once the first reader was killed (it waited for the reader lock)"
        } else {
            "; it is still alive after the first reader was killed"
        }
    );
    check!(
        first_died,
        "the first reader of the consumer's file (state {}), blocked in read() on an idle \
         ring, did not die within {KILL_WITHIN:?} of SIGKILL",
        states.0
    );
    // The ring still works for the consumer that is left.
    let mut ring = ring;
    ring::inject(&ring.file, 1, 8)?;
    let mut out = Vec::new();
    ring.consume_exactly(1, Duration::from_secs(5), &mut out)
}
