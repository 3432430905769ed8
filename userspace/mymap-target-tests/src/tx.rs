// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The tx ring tests: a producer written from the contract in `mymap.h` ("Tx
//! rings") alone, deliberately not `mymap_uapi::TxMap`, so that the driver is
//! checked against a second, independent reading of the header (and so that the
//! hostile tests can write what no correct producer would); the ioctls are
//! `mymap-uapi`'s, as the ring tests' are. They check the driver's promises
//! about what its kernel consumer, the echo, takes: every valid record once, in
//! order, whatever a lying producer writes around them.
//!
//! The echo of `/dev/mymap-tx0` produces into `/dev/mymap-ring0`, read by the
//! independent consumer of `ring.rs`. Each test record carries an id in its
//! first 8 payload bytes and the built-in producers' pattern of that id after
//! them (`ring::pattern_byte`), which `ring.rs` checks for `MYMAP_SOURCE_TX`.

use std::{
    fs::{
        self,
        File,
        OpenOptions, //
    },
    os::{
        fd::AsFd,
        unix::fs::MetadataExt, //
    },
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

use mymap_uapi::bindings::{
    mymap_tx_info,
    mymap_tx_stats,
    MYMAP_ABI_VERSION,
    MYMAP_PLAY_START,
    MYMAP_RING_BUSY,
    MYMAP_RING_DEFAULT_SIZE,
    MYMAP_RING_DISCARD,
    MYMAP_RING_PGOFF_CONSUMER,
    MYMAP_RING_PGOFF_DATA,
    MYMAP_RING_PGOFF_PRODUCER,
    MYMAP_RING_WRAP,
    MYMAP_SOURCE_TX,
    MYMAP_TX_MAX_PAYLOAD, //
};

use mymap_target_support::{
    module,
    sys::{
        self,
        errname,
        Map, //
    },
};
use mymap_uapi::ring::record_size;

use crate::{
    common::{
        expect_errno,
        expect_mmap_errno,
        expect_null_ioctl, //
    },
    harness::{
        check,
        TestResult, //
    },
    ring::{
        self,
        pattern_byte,
        Record,
        HEADER, //
    },
};

/// The tx ring every test here uses, and the ring its echo produces into.
const TX: u32 = 0;

/// The node of tx ring `index`.
pub(crate) fn node(index: u32) -> String {
    format!("/dev/mymap-tx{index}")
}

pub(crate) fn open_with(index: u32, write: bool) -> Result<File, i32> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .open(node(index))
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// The errno of a failed `mymap-uapi` call.
fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// `MYMAP_TX_IOC_INFO`.
fn info(file: &File) -> Result<mymap_tx_info, String> {
    mymap_uapi::tx_info(file.as_fd()).map_err(|e| format!("TX_IOC_INFO: {}", errname(errno(e))))
}

/// `MYMAP_TX_IOC_STATS`.
pub(crate) fn stats(file: &File) -> Result<mymap_tx_stats, String> {
    mymap_uapi::tx_stats(file.as_fd()).map_err(|e| format!("TX_IOC_STATS: {}", errname(errno(e))))
}

/// `MYMAP_TX_IOC_KICK`: the records the kernel took, or the errno.
fn kick_raw(file: &File) -> Result<u32, i32> {
    mymap_uapi::tx_kick(file.as_fd()).map_err(errno)
}

/// `MYMAP_TX_IOC_PLAY` with operation `op`: its answer, or the errno.
pub(crate) fn play(file: &File, op: u32) -> Result<u32, i32> {
    mymap_uapi::tx_play(file.as_fd(), op).map_err(errno)
}

/// The test record with id `id` and `len` payload bytes: the id, then its pattern.
fn payload(id: u64, len: u32) -> Vec<u8> {
    (0..len as usize).map(|i| pattern_byte(id, i)).collect()
}

/// A producer: the file holding the claim, the pages mapped as the header allows, and
/// its own copy P of the producer position.
pub(crate) struct Producer {
    pub(crate) file: File,
    pub(crate) info: mymap_tx_info,
    prod_page: Map,
    cons_page: Map,
    data: Map,
    pos: u32,
}

impl Producer {
    /// Opens tx ring `index` for writing (the claim) and maps it; P starts at the
    /// kernel's consumer position, as the contract says.
    pub(crate) fn open(index: u32) -> Result<Producer, String> {
        let file = open_with(index, true)
            .map_err(|e| format!("open {} read-write: {}", node(index), errname(e)))?;
        let info = info(&file)?;
        let page = info.page_size as usize;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let at = |pg: u32| (pg as usize * page) as i64;
        let prod_page = Map::new(
            &file,
            page,
            rw,
            libc::MAP_SHARED,
            at(MYMAP_RING_PGOFF_CONSUMER),
        )
        .map_err(|e| format!("mmap of page 0 writable: {}", errname(e)))?;
        let cons_page = Map::new(
            &file,
            page,
            libc::PROT_READ,
            libc::MAP_SHARED,
            at(MYMAP_RING_PGOFF_PRODUCER),
        )
        .map_err(|e| format!("mmap of page 1: {}", errname(e)))?;
        let data = Map::new(
            &file,
            info.data_size as usize,
            rw,
            libc::MAP_SHARED,
            at(MYMAP_RING_PGOFF_DATA),
        )
        .map_err(|e| format!("mmap of the data area writable: {}", errname(e)))?;
        let mut p = Producer {
            file,
            info,
            prod_page,
            cons_page,
            data,
            pos: 0,
        };
        p.resync();
        Ok(p)
    }

    /// The kernel's consumer position, load-acquired (step 1).
    fn consumer_pos(&self) -> u32 {
        self.cons_page.load_acquire_u32(0)
    }

    /// Starts again from the kernel's consumer position, and publishes it.
    fn resync(&mut self) {
        self.pos = self.consumer_pos();
        self.publish();
    }

    /// Step 3: store-release of P.
    pub(crate) fn publish(&self) {
        self.prod_page.store_release_u32(0, self.pos);
    }

    /// Stores any value as the producer position (the hostile tests).
    fn publish_raw(&self, pos: u32) {
        self.prod_page.store_release_u32(0, pos);
    }

    /// Step 2 for a record of `len` bytes with id `id`, the `len` word being `word`
    /// (normally `len`): false if it does not fit. Not published.
    fn write(&mut self, id: u64, len: u32, word: u32) -> bool {
        self.write_bytes(id, &payload(id, len), word)
    }

    /// Step 2 for a record with sequence number `id` and payload `bytes`, the `len`
    /// word being `word`: false if it does not fit. Not published.
    pub(crate) fn write_bytes(&mut self, id: u64, bytes: &[u8], word: u32) -> bool {
        let len = bytes.len() as u32;
        let size = self.info.data_size;
        let off = self.pos & (size - 1);
        let rsize = record_size(len);
        let gap = if off + rsize > size { size - off } else { 0 };
        let used = self.pos.wrapping_sub(self.consumer_pos());
        if gap + rsize > size - used {
            return false;
        }
        if gap != 0 {
            self.data.store_release_u32(off as usize, MYMAP_RING_WRAP);
            self.pos = self.pos.wrapping_add(gap);
        }
        let at = (self.pos & (size - 1)) as usize;
        self.data.write_u32(at + 4, MYMAP_SOURCE_TX);
        self.data.write_u64(at + 8, id);
        self.data.write_u64(at + 16, 0);
        self.data.copy_in(at + HEADER, bytes);
        self.data.store_release_u32(at, word);
        self.pos = self.pos.wrapping_add(rsize);
        true
    }

    /// A valid record: `write` with its own length.
    fn push(&mut self, id: u64, len: u32) -> bool {
        self.write(id, len, len)
    }

    /// `MYMAP_TX_IOC_KICK`: the records the kernel took.
    pub(crate) fn kick(&self) -> Result<u32, String> {
        kick_raw(&self.file).map_err(|e| format!("TX_IOC_KICK: {}", errname(e)))
    }
}

/// The echo's consumer, at the end of what ring 0 holds, with its wakeups quiet.
fn echo_consumer() -> Result<ring::Ring, String> {
    ring::quiet(TX)
}

/// Consumes every echo now in `ring` into `out`.
fn take_echoes(ring: &mut ring::Ring, out: &mut Vec<Record>) -> Result<(), String> {
    ring.drain(out)?;
    Ok(())
}

/// Checks that `echoes` are exactly the records `ids` (with their lengths), in order.
fn expect_echoes(echoes: &[Record], want: &[(u64, u32)]) -> TestResult {
    check!(
        echoes.len() == want.len(),
        "{} records echoed, want {}",
        echoes.len(),
        want.len()
    );
    for (i, (r, &(id, len))) in echoes.iter().zip(want).enumerate() {
        check!(
            r.source as u32 == MYMAP_SOURCE_TX && !r.discarded,
            "echo {i}: source {}",
            r.source
        );
        check!(
            r.len == len && (len < 8 || r.head == id),
            "echo {i}: id {} len {}, want id {id} len {len}",
            r.head,
            r.len
        );
        if let Some(e) = &r.payload_error {
            return Err(format!("echo {i}: {e}"));
        }
    }
    Ok(())
}

/// `/dev/mymap-tx0` as udev made it, `MYMAP_TX_IOC_INFO` and page 1 as the header
/// defines them, the producer claim, and the mmap rules.
pub fn info_and_rules() -> TestResult {
    let path = node(TX);
    let meta = fs::metadata(&path).map_err(|e| format!("stat {path}: {e}"))?;
    check!(
        meta.mode() & 0o777 == 0o660,
        "{path} mode {:o}, want 660",
        meta.mode() & 0o777
    );
    let ro = open_with(TX, false).map_err(|e| format!("open {path}: {}", errname(e)))?;
    let i = info(&ro)?;
    let page = sys::page_size();
    let max = (MYMAP_RING_DEFAULT_SIZE / 4 - HEADER as u32).min(MYMAP_TX_MAX_PAYLOAD);
    check!(
        i.abi_version == MYMAP_ABI_VERSION
            && i.page_size as usize == page
            && i.index == TX
            && i.rings == 1
            && i.data_size == MYMAP_RING_DEFAULT_SIZE
            && i.max_payload == max
            && i.producer_claimed == 0
            && i.echo_ring == TX,
        "TX_IOC_INFO {i:?}"
    );
    let p = Producer::open(TX)?;
    check!(
        info(&ro)?.producer_claimed == 1,
        "producer_claimed is 0 while a file holds the claim"
    );
    check!(
        p.cons_page.read_u32(4) == i.data_size && p.cons_page.read_u32(8) == i.max_payload,
        "page 1 says data_size {} max_payload {}",
        p.cons_page.read_u32(4),
        p.cons_page.read_u32(8)
    );
    expect_errno(open_with(TX, true), libc::EBUSY, "a second producer open")?;
    expect_errno(
        kick_raw(&ro),
        libc::EBADF,
        "TX_IOC_KICK on a read-only file",
    )?;
    expect_errno(
        play(&p.file, MYMAP_PLAY_START),
        libc::ENODEV,
        "TX_IOC_PLAY without a player",
    )?;
    // `_IO(MYMAP_IOC_MAGIC, 0x2f)`: a number the tx ioctls leave free.
    expect_null_ioctl(&ro, 0xb72f, libc::ENOTTY, "an unknown tx ioctl")?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let shared = libc::MAP_SHARED;
    let pg = |n: usize| (n * page) as i64;
    expect_mmap_errno(
        &p.file,
        page,
        rw,
        shared,
        pg(1),
        libc::EPERM,
        "page 1 writable",
    )?;
    expect_mmap_errno(
        &p.file,
        3 * page,
        rw,
        shared,
        pg(0),
        libc::EPERM,
        "pages 0 to 2 writable",
    )?;
    expect_mmap_errno(
        &p.file,
        page,
        rw,
        libc::MAP_PRIVATE,
        pg(2),
        libc::EPERM,
        "a private writable mapping of the data area",
    )?;
    let one = Map::new(&p.file, page, libc::PROT_READ, shared, pg(1))
        .map_err(|e| format!("page 1 read-only: {}", errname(e)))?;
    expect_errno(
        one.mprotect(rw),
        libc::EACCES,
        "mprotect of page 1 writable",
    )?;
    expect_mmap_errno(
        &ro,
        page,
        rw,
        shared,
        pg(2),
        libc::EACCES,
        "the data area writable through a read-only file",
    )?;
    expect_mmap_errno(
        &p.file,
        page,
        libc::PROT_READ,
        shared,
        pg(2) + i.data_size as i64,
        libc::EINVAL,
        "a page beyond the data area",
    )?;
    drop(one);
    drop(p);
    check!(
        info(&ro)?.producer_claimed == 0,
        "producer_claimed still 1 after the producer closed"
    );
    Ok(())
}

/// 20,000 records of every length from 0 to max_payload, over many laps of the ring,
/// kicked in batches: each echoed once, in order, intact; `consumed` counts them all
/// and nothing is counted malformed.
pub fn echo_order_many_laps() -> TestResult {
    const N: u64 = 20_000;
    let mut echo = echo_consumer()?;
    let mut p = Producer::open(TX)?;
    let before = stats(&p.file)?;
    let max = p.info.max_payload;
    let mut want = Vec::new();
    let mut got = Vec::new();
    let mut id = 0u64;
    let mut bytes = 0u64;
    while id < N {
        let mut batch = Vec::new();
        // About 64 KiB a batch: the echo's ring (256 KiB) takes it whole.
        while id < N && bytes < 64 * 1024 {
            let len = ((id * 37) % (max as u64 + 1)) as u32;
            if !p.push(id, len) {
                break;
            }
            batch.push((id, len));
            bytes += record_size(len) as u64;
            id += 1;
        }
        bytes = 0;
        p.publish();
        let took = p.kick()?;
        check!(
            took as usize == batch.len(),
            "a kick took {took} records of {} published",
            batch.len()
        );
        check!(
            p.consumer_pos() == p.pos,
            "the kernel's consumer position {} is not at the producer's {} after a kick",
            p.consumer_pos(),
            p.pos
        );
        want.extend(batch);
        take_echoes(&mut echo, &mut got)?;
    }
    expect_echoes(&got, &want)?;
    let after = stats(&p.file)?;
    check!(
        after.consumed - before.consumed == N
            && after.malformed == before.malformed
            && after.echo_dropped == before.echo_dropped
            && after.bad_position == before.bad_position,
        "stats before {before:?} after {after:?}, want {N} more consumed and nothing else"
    );
    let laps = (p.pos.wrapping_sub(0) as u64) / p.info.data_size as u64;
    check!(laps >= 2, "only {laps} laps of the ring");
    Ok(())
}

/// `poll()` for writing: writable on an empty ring, not on a full one, woken by the
/// kick that frees it; `EPOLLERR` at a refused producer position.
pub fn poll_writable() -> TestResult {
    let mut echo = echo_consumer()?;
    let mut p = Producer::open(TX)?;
    let out = (libc::POLLOUT | libc::POLLWRNORM) as i16;
    let ev = sys::poll_events(&p.file, out, 0).map_err(|e| format!("poll: {}", errname(e)))?;
    check!(
        ev & out == out,
        "an empty tx ring polls {ev:#x}, want POLLOUT"
    );
    // Fill it with small records, unkicked.
    let before = stats(&p.file)?;
    let mut id = 0;
    while p.push(id, 16) {
        id += 1;
    }
    p.publish();
    let ev = sys::poll_events(&p.file, out, 0).map_err(|e| format!("poll: {}", errname(e)))?;
    check!(ev == 0, "a full tx ring polls {ev:#x}, want nothing");
    let file = p.file.try_clone().map_err(|e| format!("dup: {e}"))?;
    let waiter = std::thread::spawn(move || {
        let start = Instant::now();
        let ev = sys::poll_events(&file, out, 10_000);
        (ev, start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    // The echo's ring is smaller than what waits: kick in pieces, consuming the echoes.
    let mut got = Vec::new();
    let mut taken = 0;
    while (taken as u64) < id {
        taken += p.kick()?;
        take_echoes(&mut echo, &mut got)?;
    }
    let (ev, waited) = waiter.join().map_err(|_| "the poller panicked")?;
    let ev = ev.map_err(|e| format!("poll: {}", errname(e)))?;
    check!(
        ev & out == out && waited >= Duration::from_millis(150),
        "the blocked poll returned {ev:#x} after {waited:?}, want POLLOUT after the kick"
    );
    // The echo's ring is as large as the tx ring, so one kick may fill it: every record
    // is echoed, in order, or counted as dropped there.
    let after = stats(&p.file)?;
    let dropped = after.echo_dropped - before.echo_dropped;
    check!(
        got.len() as u64 + dropped == id,
        "{} records echoed and {dropped} dropped by the echo's ring, of {id}",
        got.len()
    );
    let mut last = None;
    for r in &got {
        check!(
            r.len == 16 && r.payload_error.is_none() && last.is_none_or(|l| r.head > l),
            "echo of id {} (len {}) after {last:?}",
            r.head,
            r.len
        );
        last = Some(r.head);
    }
    // A producer position behind the kernel's.
    p.publish_raw(p.pos.wrapping_sub(64));
    let ev = sys::poll_events(&p.file, out, 0).map_err(|e| format!("poll: {}", errname(e)))?;
    check!(
        ev & libc::POLLERR != 0,
        "a producer position behind the consumer's polls {ev:#x}, want POLLERR"
    );
    p.resync();
    Ok(())
}

/// A deterministic random number generator (xorshift64*), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A lying producer, with the kernel consuming after each lie: positions behind, too
/// far ahead, unaligned; malformed headers (unknown bits, lengths above max_payload,
/// records and WRAP gaps crossing the end or the producer position); BUSY records
/// held and then completed; DISCARD; random garbage in the data area. Valid records
/// written between the lies are all echoed, once each and in order; each lie is
/// counted where the header says; the kernel's position never goes back.
pub fn hostile_producer() -> TestResult {
    let mut echo = echo_consumer()?;
    let mut p = Producer::open(TX)?;
    let size = p.info.data_size;
    let max = p.info.max_payload;
    let mut rng = Rng(0x6d79_6d61_7074_7831);
    let mut want = Vec::new();
    let mut got = Vec::new();
    let mut id = 0u64;
    let mut last_cons = p.consumer_pos();
    for round in 0..3000 {
        let before = stats(&p.file)?;
        let lie = rng.below(8);
        match lie {
            // A valid batch.
            0 | 1 => {
                for _ in 0..rng.below(20) + 1 {
                    let len = rng.below(max as u64 + 1) as u32;
                    if !p.push(id, len) {
                        break;
                    }
                    want.push((id, len));
                    id += 1;
                }
                p.publish();
                p.kick()?;
            }
            // A refused producer position: nothing is taken, it is counted.
            2 => {
                let cons = p.consumer_pos();
                let bad = match rng.below(3) {
                    0 => cons.wrapping_sub(8 * (rng.below(1000) as u32 + 1)),
                    1 => cons.wrapping_add(size + 8 * (rng.below(1000) as u32 + 1)),
                    _ => cons.wrapping_add(8 * rng.below(100) as u32 + 1 + rng.below(7) as u32),
                };
                p.publish_raw(bad);
                check!(
                    p.kick()? == 0,
                    "round {round}: a kick took records at position {bad}"
                );
                let after = stats(&p.file)?;
                check!(
                    after.bad_position == before.bad_position + 1 && p.consumer_pos() == cons,
                    "round {round}: producer position {bad} (consumer {cons}): bad_position \
                     {} -> {}, consumer now {}",
                    before.bad_position,
                    after.bad_position,
                    p.consumer_pos()
                );
                p.resync();
            }
            // A malformed header after some valid records: those are taken, the rest of
            // what was published is skipped and counted.
            3 | 4 => {
                let good = rng.below(4);
                for _ in 0..good {
                    if !p.push(id, 8) {
                        break;
                    }
                    want.push((id, 8));
                    id += 1;
                }
                let word = match rng.below(4) {
                    0 => (rng.below(max as u64) as u32 + 1) | (0x1000_0000 << rng.below(2)),
                    1 => max + 1 + rng.below(1 << 20) as u32,
                    2 => rng.next() as u32 & !MYMAP_RING_BUSY | 0x0800_0000,
                    _ => max,
                };
                // A `len` word that claims more than was published (word `max` with only 8
                // bytes of payload published for it is also past the producer position).
                if !p.write(u64::MAX, 8, word) {
                    p.publish();
                    p.kick()?;
                    continue;
                }
                // And a valid-looking record after it, which must not be trusted either.
                p.push(u64::MAX - 1, 8);
                p.publish();
                p.kick()?;
                let after = stats(&p.file)?;
                check!(
                    after.malformed == before.malformed + 1 && p.consumer_pos() == p.pos,
                    "round {round}: len word {word:#x}: malformed {} -> {}, consumer {} \
                     producer {}",
                    before.malformed,
                    after.malformed,
                    p.consumer_pos(),
                    p.pos
                );
            }
            // A BUSY record holds the stream until completed.
            5 => {
                let len = rng.below(64) as u32;
                let at = (p.pos & (size - 1)) as usize;
                let start = p.pos;
                if !p.write(id, len, len | MYMAP_RING_BUSY) {
                    p.publish();
                    p.kick()?;
                    continue;
                }
                // The record may have needed a WRAP word first.
                let at = if p.pos.wrapping_sub(start) > record_size(len) {
                    0
                } else {
                    at
                };
                p.publish();
                p.kick()?;
                check!(
                    p.consumer_pos() == p.pos.wrapping_sub(record_size(len)),
                    "round {round}: the kernel passed a BUSY record (consumer {}, record at {})",
                    p.consumer_pos(),
                    p.pos.wrapping_sub(record_size(len))
                );
                p.data.store_release_u32(at, len);
                want.push((id, len));
                id += 1;
                p.kick()?;
            }
            // A discarded record is skipped and counted.
            6 => {
                if p.write(u64::MAX - 2, 8, 8 | MYMAP_RING_DISCARD) {
                    p.publish();
                    p.kick()?;
                    let after = stats(&p.file)?;
                    check!(
                        after.discarded == before.discarded + 1,
                        "round {round}: discarded {} -> {}",
                        before.discarded,
                        after.discarded
                    );
                }
            }
            // Garbage everywhere the producer may write but has not published.
            _ => {
                for _ in 0..32 {
                    let at = rng.below(size as u64 / 8) as usize * 8;
                    p.data.write_u64(at, rng.next());
                }
                p.kick()?;
            }
        }
        let cons = p.consumer_pos();
        check!(
            cons % 8 == 0 && cons.wrapping_sub(last_cons) <= size,
            "round {round}: the kernel's consumer position went from {last_cons} to {cons}"
        );
        last_cons = cons;
        take_echoes(&mut echo, &mut got)?;
    }
    expect_echoes(&got, &want)?;
    check!(
        want.len() > 1000,
        "only {} valid records in the run",
        want.len()
    );
    Ok(())
}

/// Records torn mid-write by a second thread that scribbles over the data area while
/// the producer writes and the kernel consumes: the kernel never takes a record twice
/// or out of order (the intact ids it echoes only grow), and once the scribbler stops,
/// every record is echoed again.
pub fn torn_records() -> TestResult {
    let mut echo = echo_consumer()?;
    let mut p = Producer::open(TX)?;
    let size = p.info.data_size as usize;
    // A second mapping of the data area for the scribbler.
    let stop = Arc::new(AtomicBool::new(false));
    let scribbler = {
        let data = Map::new(
            &p.file,
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            (MYMAP_RING_PGOFF_DATA as usize * sys::page_size()) as i64,
        )
        .map_err(|e| format!("second mapping of the data area: {}", errname(e)))?;
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(0x746f_726e);
            while !stop.load(Ordering::Relaxed) {
                let at = rng.below(size as u64 / 8) as usize * 8;
                data.write_u64(at, rng.next());
            }
        })
    };
    let before = stats(&p.file)?;
    let mut got = Vec::new();
    let mut id = 0u64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        for _ in 0..16 {
            if !p.push(id, 64) {
                break;
            }
            id += 1;
        }
        p.publish();
        p.kick()?;
        // A scribbled header may have skipped to the producer position, or moved it
        // nowhere (a garbage WRAP); resynchronise on what the kernel says.
        p.resync();
        take_echoes(&mut echo, &mut got)?;
    }
    stop.store(true, Ordering::Relaxed);
    scribbler.join().map_err(|_| "the scribbler panicked")?;
    let mut last = None;
    let mut intact = 0;
    for r in &got {
        if r.payload_error.is_some() || r.len != 64 || r.head >= id {
            continue;
        }
        intact += 1;
        check!(
            last.is_none_or(|l| r.head > l),
            "record id {} echoed after id {:?}: taken twice or out of order",
            r.head,
            last
        );
        last = Some(r.head);
    }
    check!(intact > 0, "no intact record among {} echoes", got.len());
    // The scribbler did tear records: some were malformed, or echoed torn, or lost.
    let after = stats(&p.file)?;
    let torn = got.iter().filter(|r| r.payload_error.is_some()).count() as u64;
    check!(
        after.malformed > before.malformed || torn > 0 || (intact as u64) < id,
        "the scribbler tore nothing in {id} records"
    );
    // Clean again: every record from now on arrives.
    got.clear();
    let mut want = Vec::new();
    for _ in 0..100 {
        if p.push(id, 64) {
            want.push((id, 64));
            id += 1;
        }
    }
    p.publish();
    p.kick()?;
    take_echoes(&mut echo, &mut got)?;
    expect_echoes(&got, &want)
}

/// `tx_rings=` and `tx_size=` out of range fail the load with `EINVAL`; `tx_rings=0`
/// loads without a tx node, `tx_rings=2 tx_size=1 page` with two.
pub fn params() -> TestResult {
    let result = (|| {
        module::unload_when_unused()?;
        let path = module::module_file("mymap").ok_or("no mymap.ko")?;
        let path = path.to_str().ok_or("module path")?.to_string();
        let page = sys::page_size() as u64;
        for params in [
            "tx_rings=9".to_string(),
            "tx_size=0".to_string(),
            format!("tx_size={}", 3 * page),
            format!("tx_size={}", 2 * MYMAP_RING_DEFAULT_SIZE as u64 * 512),
        ] {
            expect_errno(
                sys::finit_module(&path, &params),
                libc::EINVAL,
                &format!("loading mymap with {params}"),
            )?;
            check!(!module::loaded(), "module loaded with {params}");
        }
        module::load_and_wait(&["tx_rings=2", &format!("tx_size={page}")], 1)?;
        module::wait_for_node(&node(1), true)?;
        let f = open_with(1, false).map_err(|e| format!("open {}: {}", node(1), errname(e)))?;
        let i = info(&f)?;
        check!(
            i.rings == 2 && i.data_size as u64 == page && i.max_payload == page as u32 / 4 - 24,
            "tx_rings=2 tx_size={page}: TX_IOC_INFO {i:?}"
        );
        // Ring 1 exists only as a tx ring: no echo.
        check!(i.echo_ring == !0, "tx1 echoes into ring {}", i.echo_ring);
        drop(f);
        module::unload_when_unused()?;
        module::load_and_wait(&["tx_rings=0"], 1)?;
        check!(
            !std::path::Path::new(&node(0)).exists(),
            "{} exists with tx_rings=0",
            node(0)
        );
        Ok(())
    })();
    module::restore_default()?;
    result
}

/// The sample tx consumer module, as modprobe knows it (`driver/samples/mymap_sample_tx.c`).
const TX_SAMPLE: &str = "mymap_sample_tx";

/// The sample consumer takes tx ring 0 through the C API: good batches come back in ring 0
/// with its source, in order, once each; bad ones are counted as rejected; a tx ring the
/// module lacks is refused with ENODEV; after `rmmod` the echo is back.
pub fn sample_consumer() -> TestResult {
    let result = sample_consumer_inner();
    let _ = module::run("rmmod", &[TX_SAMPLE]);
    result
}

fn sample_consumer_inner() -> TestResult {
    let mut echo = echo_consumer()?;
    module::run("modprobe", &[TX_SAMPLE])?;
    let mut p = Producer::open(TX)?;
    let before = stats(&p.file)?;
    let mut want = Vec::new();
    let mut bad = 0;
    for id in 0..300u64 {
        // Every fifth batch is odd-sized, and refused.
        let len = if id % 5 == 4 {
            9
        } else {
            2 * (id % 32 + 1) as u32
        };
        if len % 2 == 1 {
            bad += 1;
        } else {
            want.push((id, len));
        }
        check!(p.push(id, len), "the tx ring is full after {id} records");
    }
    p.publish();
    check!(
        p.kick()? == 0,
        "a kick with the sample attached answered non-zero"
    );
    let mut got = Vec::new();
    take_echoes(&mut echo, &mut got)?;
    check!(
        got.len() == want.len(),
        "{} reports, want {}",
        got.len(),
        want.len()
    );
    for (r, &(id, len)) in got.iter().zip(&want) {
        check!(
            r.source == 257 && r.len == len && (len < 8 || r.head == id),
            "a report of source {} len {} id {}, want 257 {len} {id}",
            r.source,
            r.len,
            r.head
        );
    }
    let after = stats(&p.file)?;
    check!(
        after.rejected - before.rejected == bad && after.consumed - before.consumed == 240,
        "stats before {before:?} after {after:?}, want {bad} rejected and 240 taken"
    );
    drop(p);
    module::run("rmmod", &[TX_SAMPLE])?;
    let path = module::module_file(TX_SAMPLE).ok_or("no mymap_sample_tx.ko")?;
    let path = path.to_string_lossy().into_owned();
    expect_errno(
        sys::finit_module(&path, "tx=5"),
        libc::ENODEV,
        "loading the sample for tx ring 5",
    )?;
    // The echo is back.
    let mut p = Producer::open(TX)?;
    check!(p.push(1000, 8), "the tx ring is full");
    p.publish();
    check!(
        p.kick()? == 1,
        "the echo did not take the record after rmmod"
    );
    got.clear();
    take_echoes(&mut echo, &mut got)?;
    expect_echoes(&got, &[(1000, 8)])
}

/// The C example producer, `userspace/examples/tx-producer.c`, and its 32-bit build on a
/// 64-bit board.
const C_PRODUCER: &str = "/usr/libexec/mymap/tx-producer";
const C_PRODUCER_COMPAT: &str = "/usr/libexec/mymap/tx-producer-compat";

/// The C example producer (and its 32-bit build, where there is one) writes 5,000 records
/// of 24 bytes through the header alone: each echoed once, in order, intact.
pub fn c_producer() -> TestResult {
    for program in [C_PRODUCER, C_PRODUCER_COMPAT] {
        if program == C_PRODUCER_COMPAT && !std::path::Path::new(program).exists() {
            continue;
        }
        let mut echo = echo_consumer()?;
        let out = std::process::Command::new(program)
            .args(["--count", "5000", "--len", "24", "--batch", "100"])
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        check!(
            out.status.success(),
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got = Vec::new();
        take_echoes(&mut echo, &mut got)?;
        let want: Vec<(u64, u32)> = (0..5000).map(|i| (i, 24)).collect();
        expect_echoes(&got, &want).map_err(|e| format!("{program}: {e}"))?;
    }
    Ok(())
}
