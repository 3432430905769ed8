// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The mapping path after the kernel drops or moves page-table entries.
//!
//! The driver inserts pages from its fault handler, so every way the kernel
//! can take entries away must leave a mapping that finds the device's bytes
//! again on the next access (driver/README.md, "Mapping"): `MADV_DONTNEED`
//! (shared and private), `mremap` moves and shrinks, `mprotect` and `munmap`
//! splits, fork, `MADV_COLD`/`MADV_PAGEOUT`, `mlock`, population through
//! `MADV_POPULATE_*` and through `/proc/self/mem` (the paths that fault pages
//! in for the kernel rather than for the process), and faults racing with
//! `MADV_DONTNEED` in other threads. A SIGBUS anywhere fails the test (it
//! runs in a child of its own).

use std::{
    fs::{
        File,
        OpenOptions, //
    },
    os::{fd::AsFd, unix::fs::FileExt},
    sync::{
        atomic::{
            AtomicBool,
            Ordering, //
        },
        Arc,
    },
    time::{
        Duration,
        Instant, //
    },
};

use mymap_target_support::sys::{
    self,
    errname,
    Map, //
};

use crate::{
    common::{
        open_rw,
        SIZE, //
    },
    harness::{
        check,
        TestResult, //
    },
};

const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

/// The marker written into page `p` of the device at offset `MARK_AT`: distinct per
/// page and per test run, so that a page shown at the wrong place is caught.
fn marker(p: usize, salt: u8) -> [u8; 8] {
    let mut m = *b"pg-00000";
    for (i, d) in format!("{:05}", p % 100_000).bytes().enumerate() {
        m[3 + i] = d;
    }
    m[2] = b'a' + salt % 26;
    m
}

const MARK_AT: usize = 40;

/// Writes each page's marker through `write()`, with a fresh salt.
fn mark_pages(f: &File) -> Result<u8, String> {
    let page = sys::page_size();
    let salt = fastrand::u8(..);
    for p in 0..SIZE / page {
        f.write_all_at(&marker(p, salt), (p * page + MARK_AT) as u64)
            .map_err(|e| format!("pwrite marker of page {p}: {e}"))?;
    }
    Ok(salt)
}

/// Checks that bytes `at..` of `map` show device page `p`'s marker.
fn expect_marker(map: &Map, at: usize, p: usize, salt: u8, what: &str) -> TestResult {
    let got = map.copy_out(at + MARK_AT, 8);
    check!(
        got == marker(p, salt),
        "{what}: page at mapping offset {at} shows {:?}, want device page {p} ({:?})",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&marker(p, salt))
    );
    Ok(())
}

fn madvise(ptr: *mut u8, len: usize, advice: i32) -> Result<(), i32> {
    // SAFETY: the callers pass ranges inside their own live mappings; madvise never
    // touches memory the process does not own.
    if unsafe { libc::madvise(ptr.cast(), len, advice) } < 0 {
        return Err(sys::errno());
    }
    Ok(())
}

/// `madvise(advice)` on bytes `at .. at + len` of `map`, the errno named on failure.
pub(crate) fn madvise_ok(map: &Map, at: usize, len: usize, advice: i32, name: &str) -> TestResult {
    // `at + len` is inside the mapping: every caller passes page multiples below its length.
    check!(at + len <= map.len(), "{name}: range outside the mapping");
    // SAFETY: in bounds of `map` (checked above).
    let ptr = unsafe { map.ptr().add(at) };
    madvise(ptr, len, advice).map_err(|e| format!("madvise({name}): {}", errname(e)))
}

/// `MADV_DONTNEED` on a shared mapping, whole and in part: the next reads find the
/// device's bytes, stores reach the device, `CLEAR` is seen.
pub fn dontneed_shared() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    let map = Map::new(&f, SIZE, RW, libc::MAP_SHARED, 0).map_err(errname)?;
    for p in 0..SIZE / page {
        expect_marker(&map, p * page, p, salt, "before MADV_DONTNEED")?;
    }
    madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
    for p in (0..SIZE / page).rev() {
        expect_marker(&map, p * page, p, salt, "after MADV_DONTNEED")?;
    }
    // A store after the drop lands in the device page.
    map.set(3 * page + 7, 0x5a);
    let mut b = [0u8];
    f.read_exact_at(&mut b, (3 * page + 7) as u64)
        .map_err(|e| e.to_string())?;
    check!(b[0] == 0x5a, "store after MADV_DONTNEED not seen by read()");
    // Part of the mapping only, twice in a row, then a write() seen through it.
    madvise_ok(
        &map,
        page,
        2 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED, 2 pages",
    )?;
    madvise_ok(
        &map,
        page,
        2 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED again",
    )?;
    f.write_all_at(b"after", (2 * page + 100) as u64)
        .map_err(|e| e.to_string())?;
    check!(
        map.copy_out(2 * page + 100, 5) == b"after",
        "write() not seen after a partial drop"
    );
    expect_marker(&map, page, 1, salt, "after a partial MADV_DONTNEED")?;
    madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
    mymap_uapi::clear(f.as_fd()).map_err(|e| e.to_string())?;
    check!(
        map.get(MARK_AT) == 0 && map.get(SIZE - page + MARK_AT) == 0,
        "CLEAR not seen through a dropped mapping"
    );
    Ok(())
}

/// `MADV_DONTNEED` on a private mapping drops its copy-on-write copies: the next
/// read shows the device's page again, and a new store copies again without
/// reaching the device.
pub fn dontneed_private() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    f.write_all_at(b"device", page as u64)
        .map_err(|e| e.to_string())?;
    let map = Map::new(&f, SIZE, RW, libc::MAP_PRIVATE, 0).map_err(errname)?;
    map.copy_in(page, b"privat");
    check!(
        map.copy_out(page, 6) == b"privat",
        "private store not visible"
    );
    madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
    check!(
        map.copy_out(page, 6) == b"device",
        "after MADV_DONTNEED a private mapping shows {:?}, want the device's bytes",
        String::from_utf8_lossy(&map.copy_out(page, 6))
    );
    // The device changed meanwhile: a private page not yet copied follows it.
    f.write_all_at(b"newer!", page as u64)
        .map_err(|e| e.to_string())?;
    check!(
        map.copy_out(page, 6) == b"newer!",
        "private mapping does not show the device page"
    );
    map.set(page, b'X');
    let mut back = [0u8; 6];
    f.read_exact_at(&mut back, page as u64)
        .map_err(|e| e.to_string())?;
    check!(
        &back == b"newer!",
        "a private store reached the device: {back:?}"
    );
    check!(
        map.get(page) == b'X',
        "private store after MADV_DONTNEED lost"
    );
    Ok(())
}

/// `mremap` moves a mapping (its entries move with it) and shrinks it; after a
/// move, dropped entries come back from the right device pages (the offset of
/// the mapping is kept).
pub fn mremap_move_and_shrink() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    // Pages 2..10 of the device, touched once so that entries exist to be moved.
    let mut map = Map::new(&f, 8 * page, RW, libc::MAP_SHARED, 2 * page as i64).map_err(errname)?;
    for p in 0..8 {
        expect_marker(&map, p * page, p + 2, salt, "before mremap")?;
    }
    // Move to an address of our choosing: reserve it with an anonymous mapping first.
    let target = Map::anon(8 * page, libc::PROT_NONE).map_err(errname)?;
    // SAFETY: moves exactly `map`'s range onto exactly `target`'s range, both live.
    let moved = unsafe {
        libc::mremap(
            map.ptr().cast(),
            8 * page,
            8 * page,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            target.ptr(),
        )
    };
    check!(
        moved != libc::MAP_FAILED,
        "mremap move: {}",
        errname(sys::errno())
    );
    check!(moved.cast::<u8>() == target.ptr(), "mremap moved elsewhere");
    // `target`'s range is now the moved mapping: let `map` own it, forget `target`.
    std::mem::forget(target);
    map.replace(moved.cast(), 8 * page);
    for p in 0..8 {
        expect_marker(&map, p * page, p + 2, salt, "after mremap move")?;
    }
    madvise_ok(
        &map,
        0,
        8 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED after move",
    )?;
    for p in (0..8).rev() {
        expect_marker(&map, p * page, p + 2, salt, "after move and MADV_DONTNEED")?;
    }
    // Shrink in place: the first 3 pages stay and still work.
    // SAFETY: shrinks exactly `map`'s live range.
    let shrunk = unsafe { libc::mremap(map.ptr().cast(), 8 * page, 3 * page, 0) };
    check!(
        shrunk != libc::MAP_FAILED,
        "mremap shrink: {}",
        errname(sys::errno())
    );
    map.replace(shrunk.cast(), 3 * page);
    madvise_ok(
        &map,
        0,
        3 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED after shrink",
    )?;
    for p in 0..3 {
        expect_marker(&map, p * page, p + 2, salt, "after shrink")?;
    }
    Ok(())
}

/// `mprotect` of a part splits the mapping in three and `munmap` of a part in
/// two; each piece keeps its own offset into the device through later drops.
pub fn split_by_mprotect_and_munmap() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    let map = Map::new(&f, 12 * page, RW, libc::MAP_SHARED, page as i64).map_err(errname)?;
    // SAFETY: pages 3..5 of `map`, a live mapping.
    let middle = unsafe { map.ptr().add(3 * page) };
    // SAFETY: as above.
    check!(
        unsafe { libc::mprotect(middle.cast(), 2 * page, libc::PROT_READ) } == 0,
        "mprotect read-only: {}",
        errname(sys::errno())
    );
    madvise_ok(
        &map,
        0,
        12 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED over 3 pieces",
    )?;
    for p in 0..12 {
        expect_marker(&map, p * page, p + 1, salt, "after an mprotect split")?;
    }
    // SAFETY: as above.
    check!(
        unsafe { libc::mprotect(middle.cast(), 2 * page, RW) } == 0,
        "mprotect back: {}",
        errname(sys::errno())
    );
    map.set(3 * page + 1, 0x3c);
    let mut b = [0u8];
    f.read_exact_at(&mut b, (4 * page + 1) as u64)
        .map_err(|e| e.to_string())?;
    check!(b[0] == 0x3c, "store after mprotect back not seen by read()");
    // A hole at pages 6..8: the two pieces around it still map pages 1..7 and 9..13.
    // SAFETY: pages 6..8 of `map`; `map`'s drop unmaps the whole range again, which is
    // harmless for the hole.
    check!(
        unsafe { libc::munmap(map.ptr().add(6 * page).cast(), 2 * page) } == 0,
        "munmap of a hole: {}",
        errname(sys::errno())
    );
    madvise_ok(
        &map,
        0,
        6 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED before the hole",
    )?;
    madvise_ok(
        &map,
        8 * page,
        4 * page,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED after the hole",
    )?;
    for p in (0..6).chain(8..12) {
        expect_marker(&map, p * page, p + 1, salt, "around a munmap hole")?;
    }
    Ok(())
}

/// A child of fork drops its entries and finds the device again; its stores
/// reach the parent through the shared pages.
pub fn fork_then_dontneed() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    let map = Map::new(&f, SIZE, RW, libc::MAP_SHARED, 0).map_err(errname)?;
    expect_marker(&map, 0, 0, salt, "parent before fork")?;
    map.set(5 * page + 9, 0);
    // SAFETY: the test process is single-threaded here.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = madvise(map.ptr(), SIZE, libc::MADV_DONTNEED).is_ok()
            && (0..SIZE / page).all(|p| map.copy_out(p * page + MARK_AT, 8) == marker(p, salt));
        if ok {
            map.set(5 * page + 9, 0x99);
        }
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let status = sys::wait(pid);
    check!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child did not find the device's pages after MADV_DONTNEED (status {status:#x})"
    );
    check!(
        map.get(5 * page + 9) == 0x99,
        "the child's store not seen by the parent"
    );
    madvise_ok(
        &map,
        0,
        SIZE,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED in the parent",
    )?;
    check!(
        map.get(5 * page + 9) == 0x99,
        "the child's store lost after a drop"
    );
    Ok(())
}

/// `MADV_COLD` and `MADV_PAGEOUT` may drop or age entries (the pages are not on an
/// LRU list, so they stay); `mlock` populates the mapping and `munlock` lets it be
/// dropped again. The bytes survive each.
pub fn cold_pageout_mlock() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    let map = Map::new(&f, SIZE, RW, libc::MAP_SHARED, 0).map_err(errname)?;
    for (advice, name) in [
        (libc::MADV_COLD, "MADV_COLD"),
        (libc::MADV_PAGEOUT, "MADV_PAGEOUT"),
    ] {
        madvise_ok(&map, 0, SIZE, advice, name)?;
        for p in 0..SIZE / page {
            expect_marker(&map, p * page, p, salt, name)?;
        }
    }
    madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
    // SAFETY: locks exactly `map`'s live range.
    check!(
        unsafe { libc::mlock(map.ptr().cast(), SIZE) } == 0,
        "mlock: {}",
        errname(sys::errno())
    );
    for p in 0..SIZE / page {
        expect_marker(&map, p * page, p, salt, "after mlock")?;
    }
    // SAFETY: as above.
    check!(
        unsafe { libc::munlock(map.ptr().cast(), SIZE) } == 0,
        "munlock: {}",
        errname(sys::errno())
    );
    madvise_ok(
        &map,
        0,
        SIZE,
        libc::MADV_DONTNEED,
        "MADV_DONTNEED after munlock",
    )?;
    expect_marker(&map, SIZE - page, SIZE / page - 1, salt, "after munlock")?;
    Ok(())
}

/// Pages faulted in by the kernel on the process's behalf, after a drop:
/// `MADV_POPULATE_READ`/`WRITE`, and reads and writes through `/proc/self/mem`
/// (get_user_pages), on shared and private mappings.
pub fn populate_and_proc_mem() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    let mem = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")
        .map_err(|e| format!("open /proc/self/mem: {e}"))?;
    for (flags, kind, text) in [
        (libc::MAP_SHARED, "shared", *b"gup-shared"),
        (libc::MAP_PRIVATE, "private", *b"gup-privat"),
    ] {
        let map = Map::new(&f, SIZE, RW, flags, 0).map_err(errname)?;
        for (advice, name) in [
            (libc::MADV_POPULATE_READ, "MADV_POPULATE_READ"),
            (libc::MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE"),
        ] {
            madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
            madvise_ok(&map, 0, SIZE, advice, name)?;
            for p in 0..SIZE / page {
                expect_marker(&map, p * page, p, salt, &format!("{kind}, after {name}"))?;
            }
        }
        madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
        let p = SIZE / page - 2;
        let at = map.ptr() as u64 + (p * page + MARK_AT) as u64;
        let mut got = [0u8; 8];
        mem.read_exact_at(&mut got, at)
            .map_err(|e| format!("{kind}: read of a dropped page through /proc/self/mem: {e}"))?;
        check!(
            got == marker(p, salt),
            "{kind}: /proc/self/mem read {got:?}"
        );
        madvise_ok(&map, 0, SIZE, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
        let at = map.ptr() as u64 + (p * page + 1) as u64;
        mem.write_all_at(&text, at).map_err(|e| {
            format!("{kind}: write into a dropped page through /proc/self/mem: {e}")
        })?;
        check!(
            map.copy_out(p * page + 1, text.len()) == text,
            "{kind}: /proc/self/mem write not seen"
        );
        let mut dev = [0u8; 10];
        f.read_exact_at(&mut dev, (p * page + 1) as u64)
            .map_err(|e| e.to_string())?;
        let shared = flags == libc::MAP_SHARED;
        check!(
            (dev == text) == shared,
            "{kind}: /proc/self/mem write {} the device",
            if shared { "did not reach" } else { "reached" }
        );
    }
    Ok(())
}

/// Threads fault the same pages while another drops them in a loop: every read
/// finds the right bytes (the fault handler tolerates entries another thread
/// inserted meanwhile), and no access raises SIGBUS.
pub fn faults_race_dontneed() -> TestResult {
    let f = open_rw()?;
    let page = sys::page_size();
    let salt = mark_pages(&f)?;
    let map = Arc::new(Map::new(&f, SIZE, RW, libc::MAP_SHARED, 0).map_err(errname)?);
    let stop = Arc::new(AtomicBool::new(false));
    let dropper = {
        let (map, stop) = (map.clone(), stop.clone());
        std::thread::spawn(move || -> Result<u64, String> {
            let mut drops = 0;
            while !stop.load(Ordering::Relaxed) {
                let at = fastrand::usize(..SIZE / page) * page;
                let len = (fastrand::usize(1..=4) * page).min(SIZE - at);
                madvise_ok(&map, at, len, libc::MADV_DONTNEED, "MADV_DONTNEED")?;
                drops += 1;
            }
            Ok(drops)
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let map = map.clone();
            std::thread::spawn(move || -> Result<u64, String> {
                let end = Instant::now() + Duration::from_secs(2);
                let mut reads = 0;
                while Instant::now() < end {
                    let p = fastrand::usize(..SIZE / page);
                    expect_marker(&map, p * page, p, salt, "racing MADV_DONTNEED")?;
                    reads += 1;
                }
                Ok(reads)
            })
        })
        .collect();
    let mut reads = 0;
    let mut failure = None;
    for r in readers {
        match r.join().map_err(|_| "reader panicked".to_string())? {
            Ok(n) => reads += n,
            Err(e) => failure = Some(e),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let drops = dropper
        .join()
        .map_err(|_| "dropper panicked".to_string())??;
    if let Some(e) = failure {
        return Err(e);
    }
    check!(
        drops > 0 && reads > 0,
        "no race happened: {drops} drops, {reads} reads"
    );
    println!("MYMAP-NOTE: faults-race-dontneed: {reads} reads checked against {drops} drops");
    Ok(())
}
