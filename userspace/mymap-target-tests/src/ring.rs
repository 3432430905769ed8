// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A ring consumer written from the contract in `mymap.h` alone, for the ring tests.
//!
//! It deliberately does not use the `mymap` library's `Ring`: the tests check the
//! driver against the header, so the consumer that reads the driver's records is a
//! second, independent reading of the same text. Its loop is the header's three
//! steps (the shape of libbpf's `ringbuf_process_ring`), and it checks every
//! promise the header makes about what it finds: records 8-byte aligned and never
//! crossing the end, WRAP words only where a record would, lengths within
//! `max_payload`, no byte consumed past the producer position, and the built-in
//! producers' payload pattern. Any broken promise is a test failure that names the
//! position.

use std::{
    collections::BTreeMap,
    fs::{
        File,
        OpenOptions, //
    },
    io,
    os::{
        fd::AsFd,
        unix::fs::OpenOptionsExt, //
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
    mymap_ring_wakeup,
    MYMAP_RING_BUSY,
    MYMAP_RING_DISCARD,
    MYMAP_RING_HEADER_SIZE,
    MYMAP_RING_LEN_MASK,
    MYMAP_RING_PGOFF_CONSUMER,
    MYMAP_RING_PGOFF_DATA,
    MYMAP_RING_PGOFF_PRODUCER,
    MYMAP_RING_WRAP,
    MYMAP_SOURCE_INJECT,
    MYMAP_SOURCE_PLAYED,
    MYMAP_SOURCE_TIMER,
    MYMAP_SOURCE_TX,
    MYMAP_WAKEUP_CAUGHT_UP, //
};

use mymap_uapi::ring::record_size;

use mymap_target_support::sys::{
    self,
    errname,
    Map, //
};

use crate::harness::check;

/// The header's record header size, as a `usize` for offsets.
pub const HEADER: usize = MYMAP_RING_HEADER_SIZE as usize;

/// The node of ring `index`.
pub fn node(index: u32) -> String {
    format!("/dev/mymap-ring{index}")
}

/// Opens ring `index` with `read`/`write` access and extra `open(2)` flags.
pub fn open_with(index: u32, read: bool, write: bool, flags: i32) -> Result<File, i32> {
    OpenOptions::new()
        .read(read)
        .write(write)
        .custom_flags(flags)
        .open(node(index))
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// Opens ring `index` read-only: statistics, producer control, read-only mappings.
pub fn open_ro(index: u32) -> Result<File, String> {
    open_with(index, true, false, 0)
        .map_err(|e| format!("open {} read-only: {}", node(index), errname(e)))
}

/// Opens ring `index` read-write, which claims its consumer.
pub fn open_rw(index: u32) -> Result<File, String> {
    open_with(index, true, true, 0).map_err(|e| format!("open {}: {}", node(index), errname(e)))
}

/// The errno of a failed `mymap-uapi` call.
fn errno(e: io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// `MYMAP_RING_IOC_INFO`.
pub fn info(file: &File) -> Result<mymap_ring_info, String> {
    mymap_uapi::ring_info(file.as_fd()).map_err(|e| format!("RING_IOC_INFO: {}", errname(errno(e))))
}

/// `MYMAP_RING_IOC_STATS`.
pub fn stats(file: &File) -> Result<mymap_ring_stats, String> {
    mymap_uapi::ring_stats(file.as_fd())
        .map_err(|e| format!("RING_IOC_STATS: {}", errname(errno(e))))
}

/// `MYMAP_RING_IOC_GET_WAKEUP`.
pub fn get_wakeup(file: &File) -> Result<mymap_ring_wakeup, String> {
    mymap_uapi::ring_get_wakeup(file.as_fd())
        .map_err(|e| format!("RING_IOC_GET_WAKEUP: {}", errname(errno(e))))
}

/// `MYMAP_RING_IOC_SET_WAKEUP`: the errno on failure.
pub fn set_wakeup(
    file: &File,
    policy: u32,
    watermark: u32,
    max_latency_ns: u64,
) -> Result<(), i32> {
    let arg = mymap_ring_wakeup {
        policy,
        watermark,
        max_latency_ns,
    };
    mymap_uapi::ring_set_wakeup(file.as_fd(), &arg).map_err(errno)
}

/// `MYMAP_RING_IOC_TIMER` with `reserved` as given: the errno on failure.
pub fn timer_raw(file: &File, period_ns: u64, len: u32, reserved: u32) -> Result<(), i32> {
    let arg = mymap_ring_timer {
        period_ns,
        len,
        reserved,
    };
    mymap_uapi::ring_timer(file.as_fd(), &arg).map_err(errno)
}

/// Starts (or, with `period_ns` 0, stops) the timer producer.
pub fn timer(file: &File, period_ns: u64, len: u32) -> Result<(), String> {
    timer_raw(file, period_ns, len, 0).map_err(|e| {
        format!(
            "RING_IOC_TIMER period {period_ns} len {len}: {}",
            errname(e)
        )
    })
}

/// `MYMAP_RING_IOC_INJECT`: the filled answer, or the errno.
pub fn inject_raw(file: &File, count: u32, len: u32) -> Result<mymap_ring_inject, i32> {
    let arg = mymap_ring_inject {
        count,
        len,
        produced: 0,
        dropped: 0,
    };
    mymap_uapi::ring_inject(file.as_fd(), arg).map_err(errno)
}

/// Injects `count` records of `len` bytes; checks that every attempt is accounted for.
pub fn inject(file: &File, count: u32, len: u32) -> Result<mymap_ring_inject, String> {
    let out = inject_raw(file, count, len)
        .map_err(|e| format!("RING_IOC_INJECT {count} x {len}: {}", errname(e)))?;
    check!(
        out.produced as u64 + out.dropped as u64 == count as u64,
        "RING_IOC_INJECT of {count}: produced {} + dropped {} != count",
        out.produced,
        out.dropped
    );
    Ok(out)
}

/// Byte `i` of the built-in producers' payload for sequence number `seq` (mymap.h).
pub fn pattern_byte(seq: u64, i: usize) -> u8 {
    if i < 8 {
        seq.to_le_bytes()[i]
    } else {
        seq as u8
    }
}

/// Whether records of `source` carry the built-in payload pattern.
fn has_pattern(source: u16) -> bool {
    source as u32 == MYMAP_SOURCE_INJECT || source as u32 == MYMAP_SOURCE_TIMER
}

/// One record as the consumer found it, copied out before its position was released.
#[derive(Clone, Debug)]
pub struct Record {
    /// Its position (free-running).
    pub pos: u32,
    /// Payload bytes.
    pub len: u32,
    /// `MYMAP_RING_DISCARD` was set.
    pub discarded: bool,
    pub source: u16,
    pub seq: u64,
    pub timestamp_ns: u64,
    /// The payload's first 8 bytes, little-endian (0-padded): the id of a tx test record.
    pub head: u64,
    /// The whole payload of a GPIO player's completion (empty for other records).
    pub payload: Vec<u8>,
    /// Where the payload of a built-in producer's record broke the pattern, if it did.
    pub payload_error: Option<String>,
}

impl Record {
    /// Parses what one `read()` returned: header and payload, `HEADER + len` bytes.
    pub fn parse(bytes: &[u8]) -> Result<Record, String> {
        check!(
            bytes.len() >= HEADER,
            "read() returned {} bytes, less than a header",
            bytes.len()
        );
        let u16_at = |at: usize| u16::from_ne_bytes([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap());
        let word = u32_at(0);
        check!(
            word & !MYMAP_RING_LEN_MASK == 0,
            "read() returned a record whose length word {word:#x} has flag bits \
             (BUSY, DISCARD and WRAP are never returned)"
        );
        check!(
            bytes.len() == HEADER + word as usize,
            "read() returned {} bytes for a record of len {word}, want {}",
            bytes.len(),
            HEADER + word as usize
        );
        let mut record = Record {
            pos: 0,
            len: word,
            discarded: false,
            source: u16_at(4),
            seq: u64_at(8),
            timestamp_ns: u64_at(16),
            head: head_of(&bytes[HEADER..]),
            payload: bytes[HEADER..].to_vec(),
            payload_error: None,
        };
        if has_pattern(record.source) {
            record.payload_error = pattern_mismatch(record.seq, &bytes[HEADER..]);
        }
        Ok(record)
    }
}

/// The first 8 bytes of `payload` as a little-endian number, 0-padded.
fn head_of(payload: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = payload.len().min(8);
    b[..n].copy_from_slice(&payload[..n]);
    u64::from_le_bytes(b)
}

/// The first byte of `payload` that breaks the pattern of record `seq`, described.
fn pattern_mismatch(seq: u64, payload: &[u8]) -> Option<String> {
    let i = (0..payload.len()).find(|&i| payload[i] != pattern_byte(seq, i))?;
    Some(format!(
        "payload byte {i} of record seq {seq} (len {}) is {:#04x}, want {:#04x}",
        payload.len(),
        payload[i],
        pattern_byte(seq, i)
    ))
}

/// The consumer: the file holding the claim, the three regions mapped as the header
/// allows, and the consumer's own copy C of its position.
pub struct Ring {
    /// The claiming file (open for reading and writing).
    pub file: File,
    pub info: mymap_ring_info,
    consumer: Map,
    producer: Map,
    data: Map,
    pos: u32,
}

impl Ring {
    /// Opens ring `index` read-write (claiming it) and maps it.
    pub fn open(index: u32) -> Result<Ring, String> {
        Ring::attach(open_rw(index)?)
    }

    /// Maps the ring open as `file`, which must hold the consumer claim. The
    /// consumer starts at the position stored in page 0.
    pub fn attach(file: File) -> Result<Ring, String> {
        let info = info(&file)?;
        let page = info.page_size as usize;
        let consumer = Map::new(
            &file,
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            (MYMAP_RING_PGOFF_CONSUMER as usize * page) as i64,
        )
        .map_err(|e| format!("mmap of the consumer page: {}", errname(e)))?;
        let producer = Map::new(
            &file,
            page,
            libc::PROT_READ,
            libc::MAP_SHARED,
            (MYMAP_RING_PGOFF_PRODUCER as usize * page) as i64,
        )
        .map_err(|e| format!("mmap of the producer page: {}", errname(e)))?;
        let data = Map::new(
            &file,
            info.data_size as usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            (MYMAP_RING_PGOFF_DATA as usize * page) as i64,
        )
        .map_err(|e| format!("mmap of the data area: {}", errname(e)))?;
        let pos = consumer.load_acquire_u32(0);
        Ok(Ring {
            file,
            info,
            consumer,
            producer,
            data,
            pos,
        })
    }

    /// The producer position, load-acquired (step 1 of the contract).
    pub fn producer_pos(&self) -> u32 {
        self.producer.load_acquire_u32(0)
    }

    /// The producer page's `dropped` counter.
    pub fn dropped(&self) -> u32 {
        self.producer.read_u32(4)
    }

    /// The producer page's `data_size` and `max_payload`.
    pub fn producer_geometry(&self) -> (u32, u32) {
        (self.producer.read_u32(8), self.producer.read_u32(12))
    }

    /// The consumer's own position C.
    pub fn pos(&self) -> u32 {
        self.pos
    }

    /// The position stored in page 0, as the kernel sees it.
    pub fn shared_pos(&self) -> u32 {
        self.consumer.load_acquire_u32(0)
    }

    /// Moves C to `pos` and publishes it: to skip records, or, in the hostile
    /// tests, to store any value at all.
    pub fn set_pos(&mut self, pos: u32) {
        self.pos = pos;
        self.consumer.store_release_u32(0, pos);
    }

    /// Skips every record written so far (producers must be stopped or racing
    /// records are lost to the caller, which is then its intent).
    pub fn skip_all(&mut self) {
        let p = self.producer_pos();
        self.set_pos(p);
    }

    /// The data area mapping, for the tests that look at it directly.
    pub fn data(&self) -> &Map {
        &self.data
    }

    /// The consumer page mapping, for the tests that write garbage into it.
    pub fn consumer_page(&self) -> &Map {
        &self.consumer
    }

    /// Consumes up to `limit` records into `out` (the contract's steps 1 to 3) and
    /// releases the new position once; returns how many it appended (discarded
    /// records included, marked). Stops early at a BUSY record. Every violation
    /// of the header's promises is an error naming the position.
    pub fn consume(&mut self, limit: usize, out: &mut Vec<Record>) -> Result<usize, String> {
        let size = self.info.data_size;
        let mask = size - 1;
        let p = self.producer_pos();
        let mut c = self.pos;
        let mut n = 0;
        while c != p && n < limit {
            let ahead = p.wrapping_sub(c);
            check!(
                ahead <= size,
                "producer position {p} is {ahead} bytes ahead of the consumer's {c}, \
                 more than data_size {size}"
            );
            check!(c % 8 == 0, "consumer position {c} is not 8-byte aligned");
            let off = (c & mask) as usize;
            let word = self.data.load_acquire_u32(off);
            if word & MYMAP_RING_BUSY != 0 {
                break;
            }
            if word == MYMAP_RING_WRAP {
                check!(off != 0, "WRAP word at data offset 0 (position {c})");
                let skip = size - off as u32;
                check!(
                    skip <= ahead,
                    "WRAP at position {c} skips {skip} bytes, past the producer position {p}"
                );
                c = c.wrapping_add(skip);
                continue;
            }
            check!(
                word & !(MYMAP_RING_DISCARD | MYMAP_RING_LEN_MASK) == 0,
                "record at position {c}: length word {word:#x} has unknown bits"
            );
            let len = word & MYMAP_RING_LEN_MASK;
            check!(
                len <= self.info.max_payload,
                "record at position {c}: len {len} > max_payload {}",
                self.info.max_payload
            );
            let rsize = record_size(len);
            check!(
                off + rsize as usize <= size as usize,
                "record at position {c} (offset {off}, {rsize} bytes) crosses the end of \
                 the data area"
            );
            check!(
                rsize <= ahead,
                "record at position {c} ({rsize} bytes) ends past the producer position {p}"
            );
            let mut record = Record {
                pos: c,
                len,
                discarded: word & MYMAP_RING_DISCARD != 0,
                source: self.data.read_u16(off + 4),
                seq: self.data.read_u64(off + 8),
                timestamp_ns: self.data.read_u64(off + 16),
                head: 0,
                payload: Vec::new(),
                payload_error: None,
            };
            if !record.discarded && len > 0 {
                record.head = head_of(&self.data.copy_out(off + HEADER, (len as usize).min(8)));
            }
            if !record.discarded && record.source as u32 == MYMAP_SOURCE_PLAYED {
                record.payload = self.data.copy_out(off + HEADER, len as usize);
            }
            if !record.discarded && has_pattern(record.source) {
                record.payload_error = self.payload_mismatch(off + HEADER, len, record.seq);
            }
            if !record.discarded && record.source as u32 == MYMAP_SOURCE_TX {
                // The tx tests' records carry the built-in pattern of their id.
                record.payload_error = self.payload_mismatch(off + HEADER, len, record.head);
            }
            out.push(record);
            n += 1;
            c = c.wrapping_add(rsize);
        }
        if c != self.pos {
            self.set_pos(c);
        }
        Ok(n)
    }

    /// The pattern check of a payload at data offset `at`, a word at a time.
    fn payload_mismatch(&self, at: usize, len: u32, seq: u64) -> Option<String> {
        let len = len as usize;
        let mut i = 0;
        while i < len {
            let word = self.data.read_u64(at + i).to_ne_bytes();
            for (j, &b) in word.iter().enumerate().take(len - i) {
                if b != pattern_byte(seq, i + j) {
                    return Some(format!(
                        "payload byte {} of record seq {seq} (len {len}) is {b:#04x}, \
                         want {:#04x}",
                        i + j,
                        pattern_byte(seq, i + j)
                    ));
                }
            }
            i += 8;
        }
        None
    }

    /// Consumes exactly `n` records into `out`, waiting with `poll()` up to `timeout`.
    pub fn consume_exactly(
        &mut self,
        n: usize,
        timeout: Duration,
        out: &mut Vec<Record>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut got = 0;
        while got < n {
            got += self.consume(n - got, out)?;
            if got < n {
                check!(
                    Instant::now() < deadline,
                    "only {got} of {n} records within {timeout:?} (consumer at {}, producer \
                     at {})",
                    self.pos,
                    self.producer_pos()
                );
                self.wait(Duration::from_millis(20))?;
            }
        }
        Ok(())
    }

    /// Consumes everything up to the producer position into `out`: producers must
    /// be stopped; waits up to 5 s for records still BUSY.
    pub fn drain(&mut self, out: &mut Vec<Record>) -> Result<usize, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = 0;
        loop {
            got += self.consume(usize::MAX, out)?;
            if self.pos == self.producer_pos() {
                return Ok(got);
            }
            check!(
                Instant::now() < deadline,
                "a record at position {} stayed BUSY for 5 s (producer at {})",
                self.pos,
                self.producer_pos()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits up to `timeout` in `poll()` for the ring to be readable; when it was
    /// readable at once (a BUSY record), sleeps a millisecond so callers do not spin.
    pub fn wait(&self, timeout: Duration) -> Result<bool, String> {
        let start = Instant::now();
        let ready = sys::poll_in(&self.file, timeout.as_millis() as i32)
            .map_err(|e| format!("poll: {}", errname(e)))?
            & libc::POLLIN
            != 0;
        if ready && start.elapsed() < Duration::from_millis(1) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(ready)
    }
}

/// Checks a stream of records for the ordering contract: sequence numbers strictly
/// increasing (a gap is a drop, a repeat or step back is a bug), timestamps
/// non-decreasing within each stream that produced in order, payloads intact.
pub struct Checker {
    /// The sequence number the next record should have, once known.
    pub next: Option<u64>,
    /// Records seen (discarded included).
    pub records: u64,
    /// Sum of the sequence gaps: the records dropped between those seen.
    pub gaps: u64,
    /// Records per source.
    pub by_source: BTreeMap<u16, u64>,
    /// Which ordered stream a record belongs to (`None`: its timestamp is not checked).
    stream: fn(&Record) -> Option<u32>,
    last_ts: BTreeMap<u32, u64>,
}

impl Checker {
    /// A checker whose timestamps must be non-decreasing per `stream(record)`.
    pub fn new(stream: fn(&Record) -> Option<u32>) -> Checker {
        Checker {
            next: None,
            records: 0,
            gaps: 0,
            by_source: BTreeMap::new(),
            stream,
            last_ts: BTreeMap::new(),
        }
    }

    /// A checker whose first record must have sequence number `next` (or a later
    /// one, the gap counted).
    pub fn starting_at(next: u64, stream: fn(&Record) -> Option<u32>) -> Checker {
        let mut checker = Checker::new(stream);
        checker.next = Some(next);
        checker
    }

    /// One stream per source: for tests where each source produces in order.
    pub fn per_source(record: &Record) -> Option<u32> {
        Some(record.source as u32)
    }

    pub fn feed(&mut self, record: &Record) -> Result<(), String> {
        if let Some(why) = &record.payload_error {
            return Err(format!("record at position {}: {why}", record.pos));
        }
        if let Some(next) = self.next {
            check!(
                record.seq >= next,
                "record at position {} has seq {} after seq {}: repeated or out of order",
                record.pos,
                record.seq,
                next - 1
            );
            self.gaps += record.seq - next;
        }
        self.next = Some(record.seq + 1);
        self.records += 1;
        *self.by_source.entry(record.source).or_default() += 1;
        if let Some(stream) = (self.stream)(record) {
            let last = self.last_ts.entry(stream).or_default();
            check!(
                record.timestamp_ns >= *last,
                "record seq {} (source {}) has timestamp {} before its predecessor's {}",
                record.seq,
                record.source,
                record.timestamp_ns,
                *last
            );
            *last = record.timestamp_ns;
        }
        Ok(())
    }

    pub fn feed_all(&mut self, records: &[Record]) -> Result<(), String> {
        records.iter().try_for_each(|r| self.feed(r))
    }

    /// Records seen from `source`.
    pub fn count(&self, source: u32) -> u64 {
        self.by_source.get(&(source as u16)).copied().unwrap_or(0)
    }
}

/// Prepares ring `index` for a test: the timer stopped, the wakeup policy back to
/// the default, the consumer claimed and positioned at the producer (earlier tests'
/// records skipped, whatever page 0 held).
pub fn quiet(index: u32) -> Result<Ring, String> {
    timer(&open_ro(index)?, 0, 0)?;
    let mut ring = Ring::open(index)?;
    set_wakeup(&ring.file, MYMAP_WAKEUP_CAUGHT_UP, 0, 0)
        .map_err(|e| format!("SET_WAKEUP CAUGHT_UP: {}", errname(e)))?;
    ring.skip_all();
    Ok(ring)
}

/// The sequence number the ring gives next, found by injecting and consuming one
/// empty record (no other producer may run).
pub fn next_seq(ring: &mut Ring) -> Result<u64, String> {
    inject(&ring.file, 1, 0)?;
    let mut out = Vec::new();
    ring.consume_exactly(1, Duration::from_secs(2), &mut out)?;
    check!(
        out[0].source as u32 == MYMAP_SOURCE_INJECT && out[0].len == 0,
        "the probe record came back as source {} len {}",
        out[0].source,
        out[0].len
    );
    Ok(out[0].seq + 1)
}

/// Moves the producer (and the consumer with it) to data offset 0, by injecting
/// and consuming records that end exactly at the end of the data area: so that a
/// test knows where its records land (no WRAP padding in its byte counts).
pub fn rewind(ring: &mut Ring) -> Result<(), String> {
    let size = ring.info.data_size;
    let max = ring.info.max_payload;
    let mut out = Vec::new();
    for _ in 0..16 {
        ring.drain(&mut out)?;
        let left = size - (ring.producer_pos() & (size - 1));
        if left == size {
            return Ok(());
        }
        // A record of exactly `left` bytes if one can be that long, else the longest.
        let len = if left >= HEADER as u32 && left - HEADER as u32 <= max {
            left - HEADER as u32
        } else {
            max
        };
        let done = inject(&ring.file, 1, len)?;
        check!(
            done.produced == 1,
            "rewind: a record of {len} bytes was dropped from an empty ring"
        );
    }
    Err("rewind: the producer did not reach data offset 0 in 16 records".into())
}

/// Statistics once the ring has settled: read until two reads 50 ms apart agree
/// (deferred wakeups run in an irq_work, after the ioctl that caused them returned).
pub fn settled_stats(file: &File) -> Result<mymap_ring_stats, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = stats(file)?;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = stats(file)?;
        if now == last {
            return Ok(now);
        }
        check!(
            Instant::now() < deadline,
            "statistics still changing after 5 s: {now:?}"
        );
        last = now;
    }
}

/// What the contract makes of `sizes` (record sizes) produced at producer position
/// `p` with the consumer at `c` and nobody consuming: how many are committed, how
/// many dropped, and the producer position after. A record needs its own size
/// plus, when it does not fit before the end of the data area, the bytes it skips
/// there (the WRAP); it is dropped when that is more than the free space.
pub fn simulate(
    mut p: u32,
    c: u32,
    data_size: u32,
    sizes: impl IntoIterator<Item = u32>,
) -> (u32, u32, u32) {
    let (mut produced, mut dropped) = (0, 0);
    for size in sizes {
        let off = p & (data_size - 1);
        let need = if off + size > data_size {
            data_size - off + size
        } else {
            size
        };
        if need <= data_size - p.wrapping_sub(c) {
            p = p.wrapping_add(need);
            produced += 1;
        } else {
            dropped += 1;
        }
    }
    (produced, dropped, p)
}

/// Waits until thread `tid` sleeps (after it announced it is about to block in a
/// system call), for up to 5 s.
pub fn wait_sleeping(tid: i64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sys::thread_state(tid) {
            Some('S') => return Ok(()),
            None => return Err(format!("thread {tid} is gone")),
            _ => {}
        }
        check!(
            Instant::now() < deadline,
            "thread {tid} did not block within 5 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request codes `mymap-uapi` calls with, against the header's macros expanded
    /// by hand.
    #[test]
    fn request_codes() {
        use mymap_uapi::{
            MYMAP_RING_IOC_GET_WAKEUP,
            MYMAP_RING_IOC_INFO,
            MYMAP_RING_IOC_INJECT,
            MYMAP_RING_IOC_SET_WAKEUP,
            MYMAP_RING_IOC_STATS,
            MYMAP_RING_IOC_TIMER, //
        };
        assert_eq!(MYMAP_RING_IOC_INFO as u64, 0x8020_b710);
        assert_eq!(MYMAP_RING_IOC_STATS as u64, 0x8038_b711);
        assert_eq!(MYMAP_RING_IOC_SET_WAKEUP as u64, 0x4010_b712);
        assert_eq!(MYMAP_RING_IOC_GET_WAKEUP as u64, 0x8010_b713);
        assert_eq!(MYMAP_RING_IOC_TIMER as u64, 0x4010_b714);
        assert_eq!(MYMAP_RING_IOC_INJECT as u64, 0xc010_b715);
    }

    #[test]
    fn record_sizes() {
        assert_eq!(record_size(0), 24);
        assert_eq!(record_size(1), 32);
        assert_eq!(record_size(8), 32);
        assert_eq!(record_size(9), 40);
        assert_eq!(record_size(40 | MYMAP_RING_DISCARD), 64);
    }

    #[test]
    fn simulation_wraps_and_drops() {
        // 4 records of 64 bytes in 256: all fit, the 5th does not.
        assert_eq!(simulate(0, 0, 256, [64; 5]), (4, 1, 256));
        // At offset 224, a 64-byte record skips 32 bytes: it needs 96 of the 256 - 64 free.
        assert_eq!(simulate(224, 160, 256, [64]), (1, 0, 320));
        // With only 64 free, the same record is dropped though 64 bytes are free.
        assert_eq!(simulate(224, 32, 256, [64, 32]), (1, 1, 256));
    }

    #[test]
    fn parse_checks_the_pattern() {
        let mut bytes = vec![0u8; HEADER + 10];
        bytes[0..4].copy_from_slice(&10u32.to_ne_bytes());
        bytes[4..6].copy_from_slice(&(MYMAP_SOURCE_INJECT as u16).to_ne_bytes());
        let seq = 0x0102_0304_0506_0708u64;
        bytes[8..16].copy_from_slice(&seq.to_ne_bytes());
        for i in 0..10 {
            bytes[HEADER + i] = pattern_byte(seq, i);
        }
        let record = Record::parse(&bytes).unwrap();
        assert_eq!(record.seq, seq);
        assert!(record.payload_error.is_none());
        bytes[HEADER + 9] ^= 1;
        assert!(Record::parse(&bytes).unwrap().payload_error.is_some());
        assert!(Record::parse(&bytes[..HEADER + 9]).is_err());
    }
}
