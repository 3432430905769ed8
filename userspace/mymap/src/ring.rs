// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Rings: records streamed from kernel producers to one consumer (/dev/mymap-ringN).
//!
//! [`RingControl`] is any open file of a ring: information, statistics, the
//! wakeup policy and the built-in producers. [`Ring`] is the one consumer: it
//! claims the ring, maps it, and hands out records without copying them. The
//! contract both follow is the one in `mymap.h`; the shared-memory accesses
//! are `mymap_uapi::RingMap`'s.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mymap_uapi::{
    mymap_ring_info, mymap_ring_inject, mymap_ring_stats, mymap_ring_timer, mymap_ring_wakeup,
    Entry, Fault, OpenError, OpenedRing, RingIoctls, RingMap, MYMAP_WAKEUP_CAUGHT_UP,
    MYMAP_WAKEUP_EVERY, MYMAP_WAKEUP_WATERMARK,
};
use nix::poll::{PollFlags, PollTimeout};

use crate::device::Result;
use crate::error::{Call, Error};
use crate::info::ABI_VERSION;

/// The device node of ring 0; ring N is `/dev/mymap-ringN` ([`ring_path`]).
pub const DEFAULT_RING_PATH: &str = "/dev/mymap-ring0";

/// Most rings one module instance registers (`MYMAP_MAX_RINGS`).
pub const MAX_RINGS: u32 = mymap_uapi::MYMAP_MAX_RINGS;

/// The device node of ring `index`: `/dev/mymap-ring<index>`.
pub fn ring_path(index: u32) -> PathBuf {
    PathBuf::from(format!("/dev/mymap-ring{index}"))
}

/// `MYMAP_RING_RECORD_SIZE(len)`: the bytes a record with a `len`-byte payload takes in
/// the data area, header and padding included (mymap-uapi's, the one definition).
pub use mymap_uapi::ring::record_size;

/// The producer ids of the built-in producers (`Record::source`).
pub mod source {
    /// `MYMAP_RING_IOC_INJECT`.
    pub const INJECT: u16 = mymap_uapi::MYMAP_SOURCE_INJECT as u16;
    /// The ring's timer producer.
    pub const TIMER: u16 = mymap_uapi::MYMAP_SOURCE_TIMER as u16;
    /// A GPIO interrupt.
    pub const GPIO: u16 = mymap_uapi::MYMAP_SOURCE_GPIO as u16;
    /// The first id other drivers may use.
    pub const DRIVER_FIRST: u16 = mymap_uapi::MYMAP_SOURCE_DRIVER_FIRST as u16;

    /// A short name for a producer id: `inject`, `timer`, `gpio`, or `driver` for ids
    /// from [`DRIVER_FIRST`] up, `unknown` below it.
    pub fn name(source: u16) -> &'static str {
        match source {
            INJECT => "inject",
            TIMER => "timer",
            GPIO => "gpio",
            id if id >= DRIVER_FIRST => "driver",
            _ => "unknown",
        }
    }
}

/// What a ring says about itself (`MYMAP_RING_IOC_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RingInfo {
    /// The ABI version of the driver.
    pub abi_version: u32,
    /// The kernel page size.
    pub page_size: u32,
    /// N of /dev/mymap-ringN.
    pub index: u32,
    /// How many rings the module registered.
    pub rings: u32,
    /// Bytes in the data area, a power of two.
    pub data_size: u32,
    /// The largest payload a record may carry.
    pub max_payload: u32,
    /// The record header size (`MYMAP_RING_HEADER_SIZE`).
    pub header_size: u32,
    /// Whether a file holds the consumer claim.
    pub consumer_claimed: bool,
}

impl From<mymap_ring_info> for RingInfo {
    fn from(raw: mymap_ring_info) -> Self {
        // Spelled out without `..`: a field added to the header fails to build here.
        let mymap_ring_info {
            abi_version,
            page_size,
            index,
            rings,
            data_size,
            max_payload,
            header_size,
            consumer_claimed,
        } = raw;
        RingInfo {
            abi_version,
            page_size,
            index,
            rings,
            data_size,
            max_payload,
            header_size,
            consumer_claimed: consumer_claimed != 0,
        }
    }
}

/// A ring's counters since the module was loaded (`MYMAP_RING_IOC_STATS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RingStats {
    /// Records committed.
    pub produced: u64,
    /// Records discarded by their producer.
    pub discarded: u64,
    /// Records refused because the ring was full.
    pub dropped: u64,
    /// Times waiting consumers were woken.
    pub wakeups: u64,
    /// Payload bytes committed.
    pub bytes: u64,
    /// The timer producer's period in nanoseconds, 0 if it is stopped.
    pub timer_period_ns: u64,
    /// The timer producer's payload bytes.
    pub timer_len: u32,
    /// The producer position.
    pub producer_pos: u32,
}

impl From<mymap_ring_stats> for RingStats {
    fn from(raw: mymap_ring_stats) -> Self {
        let mymap_ring_stats {
            produced,
            discarded,
            dropped,
            wakeups,
            bytes,
            timer_period_ns,
            timer_len,
            producer_pos,
        } = raw;
        RingStats {
            produced,
            discarded,
            dropped,
            wakeups,
            bytes,
            timer_period_ns,
            timer_len,
            producer_pos,
        }
    }
}

impl RingStats {
    /// The timer producer's period, `None` while it is stopped.
    pub fn timer_period(&self) -> Option<Duration> {
        (self.timer_period_ns != 0).then(|| Duration::from_nanos(self.timer_period_ns))
    }
}

/// When the driver wakes a consumer waiting in [`Ring::wait`] (the ring's wakeup policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wakeup {
    /// After every record.
    Every,
    /// When a record arrives and the consumer had read everything before it (the
    /// default): one wakeup per burst.
    CaughtUp,
    /// When `bytes` bytes wait, or `max_latency` after the first waiting record.
    Watermark {
        /// Bytes waiting (records with their headers), 1 to the data size.
        bytes: u32,
        /// The longest a record may wait unnoticed: `None` for no limit, else 1 µs to 1 s.
        max_latency: Option<Duration>,
    },
}

impl Wakeup {
    /// The ABI form. A latency above `u64::MAX` nanoseconds saturates (and the driver
    /// refuses it).
    pub fn to_raw(self) -> mymap_ring_wakeup {
        match self {
            Wakeup::Every => mymap_ring_wakeup {
                policy: MYMAP_WAKEUP_EVERY,
                ..Default::default()
            },
            Wakeup::CaughtUp => mymap_ring_wakeup {
                policy: MYMAP_WAKEUP_CAUGHT_UP,
                ..Default::default()
            },
            Wakeup::Watermark { bytes, max_latency } => mymap_ring_wakeup {
                policy: MYMAP_WAKEUP_WATERMARK,
                watermark: bytes,
                max_latency_ns: max_latency.map_or(0, |latency| {
                    u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX)
                }),
            },
        }
    }

    /// The policy an ABI value describes, `None` for an unknown policy.
    pub fn from_raw(raw: mymap_ring_wakeup) -> Option<Self> {
        match raw.policy {
            MYMAP_WAKEUP_EVERY => Some(Wakeup::Every),
            MYMAP_WAKEUP_CAUGHT_UP => Some(Wakeup::CaughtUp),
            MYMAP_WAKEUP_WATERMARK => Some(Wakeup::Watermark {
                bytes: raw.watermark,
                max_latency: (raw.max_latency_ns != 0)
                    .then(|| Duration::from_nanos(raw.max_latency_ns)),
            }),
            _ => None,
        }
    }
}

/// What [`RingControl::inject`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Injected {
    /// Records committed.
    pub produced: u32,
    /// Records dropped, the ring being full.
    pub dropped: u32,
}

/// An open ring device, for everything but consuming: info, statistics, wakeup policy,
/// the timer producer and the injector.
///
/// [`RingControl::open`] opens the node read-only, which any number of processes may do
/// while one [`Ring`] consumes; a [`Ring`] lends its own through [`Ring::control`], whose
/// calls go to the one file the ring was opened with.
///
/// ```no_run
/// use std::time::Duration;
///
/// let ring = mymap::RingControl::open(mymap::ring_path(0))?;
/// ring.start_timer(Duration::from_millis(1), 64)?;
/// let stats = ring.stats()?;
/// println!("{} produced, {} dropped", stats.produced, stats.dropped);
/// ring.stop_timer()?;
/// # Ok::<(), mymap::Error>(())
/// ```
#[derive(Debug)]
pub struct RingControl {
    /// The ring's file; `None` for a simulated ring, which has no driver to ask.
    file: Option<RingIoctls>,
    path: PathBuf,
    info: RingInfo,
}

impl RingControl {
    /// Opens the ring at `path` read-only and checks that it is a mymap ring of the ABI
    /// version this library speaks.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = RingIoctls::open(path).map_err(|err| Error::from_io(path, Call::Open, err))?;
        let info = query_info(&file, path)?;
        if info.abi_version != ABI_VERSION {
            return Err(Error::AbiMismatch {
                path: path.into(),
                driver: info.abi_version,
                expected: ABI_VERSION,
            });
        }
        Ok(RingControl {
            file: Some(file),
            path: path.into(),
            info,
        })
    }

    /// The path the ring was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks the driver for the ring's [`RingInfo`] now (`consumer_claimed` changes).
    pub fn info(&self) -> Result<RingInfo> {
        query_info(self.ioctls(Call::RingInfo)?, &self.path)
    }

    /// The ring's geometry as it was at open: it does not change while the module is
    /// loaded.
    pub fn geometry(&self) -> &RingInfo {
        &self.info
    }

    /// The ring's counters (`MYMAP_RING_IOC_STATS`).
    pub fn stats(&self) -> Result<RingStats> {
        self.ioctls(Call::RingStats)?
            .stats()
            .map(RingStats::from)
            .map_err(|err| self.fail(Call::RingStats, err))
    }

    /// The ring's wakeup policy (`MYMAP_RING_IOC_GET_WAKEUP`).
    pub fn wakeup(&self) -> Result<Wakeup> {
        let raw = self
            .ioctls(Call::GetWakeup)?
            .get_wakeup()
            .map_err(|err| self.fail(Call::GetWakeup, err))?;
        Wakeup::from_raw(raw).ok_or_else(|| Error::BadRing {
            path: self.path.clone(),
            detail: format!("unknown wakeup policy {}", raw.policy),
        })
    }

    /// Sets the ring's wakeup policy (`MYMAP_RING_IOC_SET_WAKEUP`).
    pub fn set_wakeup(&self, wakeup: Wakeup) -> Result<()> {
        self.ioctls(Call::SetWakeup)?
            .set_wakeup(&wakeup.to_raw())
            .map_err(|err| self.fail(Call::SetWakeup, err))
    }

    /// Starts (or restarts with new settings) the timer producer: one record of `len`
    /// payload bytes every `period` (10 µs to 10 s).
    pub fn start_timer(&self, period: Duration, len: u32) -> Result<()> {
        // A zero period would stop the timer: ask for 1 ns, which the driver refuses.
        let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.timer(period_ns, len)
    }

    /// Stops the timer producer.
    pub fn stop_timer(&self) -> Result<()> {
        self.timer(0, 0)
    }

    fn timer(&self, period_ns: u64, len: u32) -> Result<()> {
        let timer = mymap_ring_timer {
            period_ns,
            len,
            reserved: 0,
        };
        self.ioctls(Call::Timer)?
            .timer(&timer)
            .map_err(|err| self.fail(Call::Timer, err))
    }

    /// Has the driver produce `count` records of `len` payload bytes now, from this
    /// process (`MYMAP_RING_IOC_INJECT`); says how many were committed and dropped.
    pub fn inject(&self, count: u32, len: u32) -> Result<Injected> {
        let request = mymap_ring_inject {
            count,
            len,
            ..Default::default()
        };
        let done = self
            .ioctls(Call::Inject)?
            .inject(request)
            .map_err(|err| self.fail(Call::Inject, err))?;
        Ok(Injected {
            produced: done.produced,
            dropped: done.dropped,
        })
    }

    /// The file `call` goes to; an error naming what does work on a simulated ring.
    fn ioctls(&self, call: Call) -> Result<&RingIoctls> {
        self.file.as_ref().ok_or_else(|| {
            let err = std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a simulated ring has no driver to ask: only geometry, consume, pending, \
                 dropped and wait work on it",
            );
            self.fail(call, err)
        })
    }

    fn fail(&self, call: Call, err: std::io::Error) -> Error {
        Error::from_io(&self.path, call, err)
    }
}

fn query_info(file: &RingIoctls, path: &Path) -> Result<RingInfo> {
    file.info()
        .map(RingInfo::from)
        .map_err(|err| Error::from_io(path, Call::RingInfo, err))
}

/// A record lent by [`Ring::consume`]: its header fields and its payload, in the ring's
/// shared memory itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The sequence number: every record the ring's producers attempted, from 0.
    pub seq: u64,
    /// `CLOCK_MONOTONIC` when the record was made, in nanoseconds.
    pub timestamp_ns: u64,
    /// The producer ([`source`] names the built-in ones).
    pub source: u16,
    /// Producer-defined flags.
    pub flags: u16,
    /// The payload.
    pub payload: &'a [u8],
    /// Sequence numbers missing just before this record: records the ring dropped,
    /// being full. 0 for the first record a [`Ring`] sees.
    pub dropped_before: u64,
}

/// Finds gaps in a stream of sequence numbers: in a ring, a gap of K is exactly K records
/// dropped (`mymap.h`, "Sequence numbers").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqGaps {
    next: Option<u64>,
    missed: u64,
}

impl SeqGaps {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes `seq` and returns how many numbers are missing just before it. The first
    /// number seen has no gap; a number at or below one already seen (the module was
    /// reloaded) starts over without one.
    pub fn observe(&mut self, seq: u64) -> u64 {
        let gap = match self.next {
            Some(next) if seq > next => seq - next,
            _ => 0,
        };
        self.missed += gap;
        self.next = Some(seq.saturating_add(1));
        gap
    }

    /// The numbers missed so far, in all gaps.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// The number expected next, once one has been seen.
    pub fn next(&self) -> Option<u64> {
        self.next
    }
}

/// The consumer loop over a ring's mapping: no file, so that it runs on a simulated ring.
#[derive(Debug)]
struct Consumer {
    map: RingMap,
    path: PathBuf,
    seq: SeqGaps,
    /// A gap seen on a discarded record, reported with the next delivered one.
    gap: u64,
}

impl Consumer {
    fn new(map: RingMap, path: PathBuf) -> Self {
        Consumer {
            map,
            path,
            seq: SeqGaps::new(),
            gap: 0,
        }
    }

    /// libbpf's `ringbuf_process_ring`, per the contract in `mymap.h`: one pass from the
    /// consumer position to the producer position loaded at the start, stopping at a
    /// busy record, skipping wraps and discarded records. Each record's space is released
    /// as soon as `f` returns from it, as libbpf does, so that producers reuse it while
    /// the batch goes on (a batch can be the whole ring: released once at its end, a
    /// full ring stays full, and drops, for all of it); what was skipped after the last
    /// record is released at the end. The record `f` breaks on counts as consumed.
    fn consume<F>(&mut self, mut f: F) -> Result<usize>
    where
        F: FnMut(&Record<'_>) -> ControlFlow<()>,
    {
        let producer = self.map.load_producer();
        let mut pos = self.map.consumer_pos();
        let mut delivered = 0;
        let outcome = loop {
            if pos == producer {
                break Ok(());
            }
            let record = match self.map.entry(pos) {
                Err(fault) => break Err(fault),
                Ok(Entry::Busy) => break Ok(()),
                Ok(Entry::Wrap { next }) => {
                    pos = next;
                    continue;
                }
                Ok(Entry::Record(record)) => record,
            };
            pos = record.next;
            self.gap += self.seq.observe(record.header.seq);
            if record.discarded {
                continue;
            }
            delivered += 1;
            let flow = f(&Record {
                seq: record.header.seq,
                timestamp_ns: record.header.timestamp_ns,
                source: record.header.source,
                flags: record.header.flags,
                payload: record.payload,
                dropped_before: std::mem::take(&mut self.gap),
            });
            // The payload lent to `f` is no longer borrowed: give its space back now.
            if let Err(fault) = self.map.release(pos) {
                break Err(fault);
            }
            if flow.is_break() {
                break Ok(());
            }
        };
        // Release what was read, faults included: the records before one are done with.
        if pos != self.map.consumer_pos() {
            self.map.release(pos).map_err(|fault| self.corrupt(fault))?;
        }
        outcome.map_err(|fault| self.corrupt(fault))?;
        Ok(delivered)
    }

    fn corrupt(&self, fault: Fault) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            fault,
        }
    }
}

/// The consumer of a ring: claims it, maps it, and lends its records without copying.
///
/// Only one file at a time may hold a ring's consumer claim: [`Ring::open`] fails with
/// [`Error::Busy`] while another holds it, and the claim ends when the `Ring` is dropped.
///
/// ```no_run
/// use std::ops::ControlFlow;
/// use std::time::Duration;
///
/// let mut ring = mymap::Ring::open(mymap::ring_path(0))?;
/// while ring.wait(Some(Duration::from_secs(1)))? {
///     ring.consume(|record| {
///         println!("{} {} bytes from {}", record.seq, record.payload.len(), record.source);
///         ControlFlow::Continue(())
///     })?;
/// }
/// # Ok::<(), mymap::Error>(())
/// ```
#[derive(Debug)]
pub struct Ring {
    consumer: Consumer,
    control: RingControl,
    skipped_at_open: u32,
}

impl Ring {
    /// Opens the ring at `path` for reading and writing, which claims it, and maps it:
    /// page 0 read-write, pages 1 and up read-only.
    ///
    /// Records that waited before the open are read first. If the consumer position an
    /// earlier consumer left makes no sense, it is skipped to the producer position
    /// ([`Ring::skipped_at_open`] says how far).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        // One open, which claims the ring, and one reading of its geometry (INFO, which
        // mymap-uapi checks the producer page against). The claimed file never leaves
        // mymap-uapi: the control reaches it through its ioctls alone.
        let OpenedRing {
            mut map,
            ioctls,
            info,
        } = RingMap::open(path).map_err(|err| open_error(path, err))?;
        let control = RingControl {
            file: Some(ioctls),
            path: path.into(),
            info: info.into(),
        };
        map.load_producer();
        let skipped_at_open = if map.pending().is_err() || map.consumer_pos() % 8 != 0 {
            map.skip_to_producer()
        } else {
            0
        };
        Ok(Ring {
            consumer: Consumer::new(map, path.into()),
            control,
            skipped_at_open,
        })
    }

    /// A ring without the driver, and the producer that fills it: `data_size` bytes of
    /// data area (a power of two, 4096 to `MYMAP_RING_MAX_SIZE`) in memory of this process,
    /// with the driver's `max_payload`, claimed by the returned `Ring`. Needs the
    /// `simulator` feature.
    ///
    /// The [`SimProducer`](mymap_uapi::SimProducer) plays the kernel's part of the
    /// contract in `mymap.h`: reserve, commit or discard, drop when full, wrap. Consuming
    /// works as on a device ([`Ring::consume`], [`Ring::pending`], [`Ring::dropped`],
    /// [`Ring::missed`]); the calls that ask the driver ([`Ring::stats`], the
    /// [`RingControl`]'s) fail, and nothing wakes [`Ring::wait`]: it returns at once when
    /// records wait, else after its timeout. Its [`Ring::path`] is `simulated`.
    ///
    /// ```
    /// # #[cfg(feature = "simulator")]
    /// # {
    /// let (mut ring, mut producer) = mymap::Ring::simulated(4096)?;
    /// assert!(producer.push(mymap::source::DRIVER_FIRST, 0, 1_000, b"hello"));
    /// assert!(ring.wait(Some(std::time::Duration::ZERO))?);
    /// # }
    /// # Ok::<(), mymap::Error>(())
    /// ```
    #[cfg(feature = "simulator")]
    pub fn simulated(data_size: u32) -> Result<(Self, mymap_uapi::SimProducer)> {
        let path = Path::new("simulated");
        let (map, producer) = RingMap::simulated(data_size, 0)
            .map_err(|err| Error::from_io(path, Call::Open, err))?;
        let info = RingInfo {
            abi_version: ABI_VERSION,
            page_size: mymap_uapi::ring::SIM_PAGE_SIZE,
            index: 0,
            rings: 1,
            data_size: map.data_size(),
            max_payload: map.max_payload(),
            header_size: mymap_uapi::MYMAP_RING_HEADER_SIZE,
            consumer_claimed: true,
        };
        let control = RingControl {
            file: None,
            path: path.into(),
            info,
        };
        let ring = Ring {
            consumer: Consumer::new(map, path.into()),
            control,
            skipped_at_open: 0,
        };
        Ok((ring, producer))
    }

    /// The path the ring was opened with.
    pub fn path(&self) -> &Path {
        self.control.path()
    }

    /// The ring's read-only control file: info, statistics, wakeup policy, producers.
    pub fn control(&self) -> &RingControl {
        &self.control
    }

    /// The ring's geometry as it was at open.
    pub fn geometry(&self) -> &RingInfo {
        self.control.geometry()
    }

    /// The ring's counters (`MYMAP_RING_IOC_STATS`).
    pub fn stats(&self) -> Result<RingStats> {
        self.control.stats()
    }

    /// The producer page's count of dropped records (wrapping at 2^32): cheaper than
    /// [`Ring::stats`], no system call.
    pub fn dropped(&self) -> u32 {
        self.consumer.map.dropped()
    }

    /// Bytes skipped at open because an earlier consumer left a position that made no
    /// sense (0 normally).
    pub fn skipped_at_open(&self) -> u32 {
        self.skipped_at_open
    }

    /// Records dropped that this consumer noticed, as gaps in the sequence numbers of
    /// the records it read.
    pub fn missed(&self) -> u64 {
        self.consumer.seq.missed()
    }

    /// Bytes of records waiting (headers and wraps included), as of the producer
    /// position loaded now.
    pub fn pending(&self) -> Result<u32> {
        self.consumer.map.load_producer();
        self.consumer
            .map
            .pending()
            .map_err(|fault| self.consumer.corrupt(fault))
    }

    /// Calls `f` on every committed record from the consumer position to the producer
    /// position as it is now, in order, releasing each record's space to the producers
    /// as soon as `f` returns from it. Returns how many records `f` saw.
    ///
    /// Stops early at a record still being written, or after the record on which `f`
    /// returns `ControlFlow::Break` (which counts as consumed). The payloads are the
    /// ring's own memory: copy what must outlive the call. A record that breaks the
    /// ABI's contract is [`Error::Corrupt`]; those before it are consumed.
    ///
    /// On a simulated ring; on the device, `Ring::open(mymap::ring_path(0))` and the
    /// kernel's producers instead:
    ///
    /// ```
    /// # #[cfg(feature = "simulator")]
    /// # {
    /// use std::ops::ControlFlow;
    ///
    /// let (mut ring, mut producer) = mymap::Ring::simulated(4096)?;
    /// for seq in 0..3u64 {
    ///     producer.push(mymap::source::DRIVER_FIRST, 0, 1_000 + seq, &seq.to_le_bytes());
    /// }
    ///
    /// let mut seen = Vec::new();
    /// let count = ring.consume(|record| {
    ///     // The payload is the ring's memory, lent for this call only: copy what you keep.
    ///     seen.push((record.seq, record.payload.to_vec()));
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(count, 3);
    /// assert_eq!(seen[2], (2, 2u64.to_le_bytes().to_vec()));
    /// assert_eq!(ring.pending()?, 0); // each record's space went back to the producer
    ///
    /// // Break stops after the record it returns on, which counts as consumed.
    /// producer.push(mymap::source::DRIVER_FIRST, 0, 2_000, b"a");
    /// producer.push(mymap::source::DRIVER_FIRST, 0, 2_001, b"b");
    /// assert_eq!(ring.consume(|_| ControlFlow::Break(()))?, 1);
    /// assert_eq!(ring.consume(|record| {
    ///     assert_eq!(record.payload, b"b");
    ///     ControlFlow::Continue(())
    /// })?, 1);
    /// # }
    /// # Ok::<(), mymap::Error>(())
    /// ```
    pub fn consume<F>(&mut self, f: F) -> Result<usize>
    where
        F: FnMut(&Record<'_>) -> ControlFlow<()>,
    {
        self.consumer.consume(f)
    }

    /// Waits until a record is waiting, for at most `timeout` (`None`: as long as it
    /// takes), with `poll(2)` on the ring. Returns whether one is.
    ///
    /// The ring's wait queue holds this consumer only while it waits here, so while it
    /// consumes, the driver's producers skip the wakeups nobody needs (`mymap.h`,
    /// "Wakeups"). How soon the driver wakes a waiting consumer is the ring's [`Wakeup`] policy;
    /// signals do not end the wait early. [`Error::Corrupt`] with [`Fault::Rejected`] if the
    /// driver rejects the position in page 0 (`EPOLLERR`): waiting again would not help.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        // No system call while records wait; a record still being written does not count
        // (the driver's poll does not either, and its commit wakes us).
        let map = &self.consumer.map;
        let head = map.consumer_pos();
        if map.load_producer() != head && !matches!(map.entry(head), Ok(Entry::Busy)) {
            return Ok(true);
        }
        let end = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let left = end.map(|end| end.saturating_duration_since(Instant::now()));
            match map.poll(poll_timeout(left)) {
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Error::from_io(self.path(), Call::Poll, err)),
                Ok(events) if events.contains(PollFlags::POLLERR) => {
                    return Err(self.consumer.corrupt(Fault::Rejected {
                        released: map.consumer_pos(),
                    }));
                }
                Ok(events) if events.is_empty() && left.is_some_and(|left| !left.is_zero()) => {
                    continue
                }
                Ok(events) => return Ok(!events.is_empty()),
            }
        }
    }
}

/// `left` as a poll timeout: whole milliseconds rounded up (a short wait must not
/// become a busy loop), capped at the largest the call takes; `None` waits forever.
pub(crate) fn poll_timeout(left: Option<Duration>) -> PollTimeout {
    match left {
        None => PollTimeout::NONE,
        Some(left) => {
            let ms = left.as_nanos().div_ceil(1_000_000);
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    }
}

/// The library error for a failed step of `RingMap::open`.
fn open_error(path: &Path, err: OpenError) -> Error {
    crate::error::open_error(path, err, Call::RingInfo)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use mymap_uapi::{OpenStep, SimProducer};

    use super::*;

    /// A consumer over a simulated ring of `size` bytes whose positions start at `start`.
    fn simulated(size: u32, start: u32) -> (Consumer, SimProducer) {
        let (map, sim) = RingMap::simulated(size, start).expect("simulated ring");
        (Consumer::new(map, PathBuf::from("/sim/ring")), sim)
    }

    /// The payload of the built-in producers for sequence number `seq` (`mymap.h`).
    fn pattern(seq: u64, len: usize) -> Vec<u8> {
        let bytes = seq.to_le_bytes();
        (0..len)
            .map(|i| if i < 8 { bytes[i] } else { bytes[0] })
            .collect()
    }

    /// Consumes everything waiting into (seq, dropped_before, payload) triples.
    fn drain(consumer: &mut Consumer) -> Vec<(u64, u64, Vec<u8>)> {
        let mut seen = Vec::new();
        consumer
            .consume(|rec| {
                seen.push((rec.seq, rec.dropped_before, rec.payload.to_vec()));
                ControlFlow::Continue(())
            })
            .expect("consume");
        seen
    }

    #[cfg(feature = "simulator")]
    #[test]
    fn a_simulated_ring_consumes_and_says_the_driver_calls_do_not_work() {
        let (mut ring, mut producer) = Ring::simulated(4096).expect("simulated ring");
        assert_eq!(ring.geometry().max_payload, 4096 / 4 - 24);
        assert!(!ring.wait(Some(Duration::from_millis(1))).expect("wait"));
        assert!(producer.push(source::TIMER, 0, 5, b"abc"));
        assert!(ring.wait(None).expect("wait with records waiting"));
        let mut payloads = Vec::new();
        ring.consume(|record| {
            payloads.push(record.payload.to_vec());
            ControlFlow::Continue(())
        })
        .expect("consume");
        assert_eq!(payloads, [b"abc".to_vec()]);
        let err = ring.stats().unwrap_err();
        assert!(
            err.to_string().contains("a simulated ring has no driver"),
            "{err}"
        );
        assert!(ring
            .control()
            .start_timer(Duration::from_millis(1), 8)
            .is_err());
    }

    #[test]
    fn open_errors_keep_their_step() {
        let path = Path::new("/dev/mymap-ring0");
        let fail = |step| OpenError {
            step,
            error: std::io::Error::other("test"),
        };
        let err = open_error(path, fail(OpenStep::Abi { driver: 2 }));
        assert!(
            matches!(
                err,
                Error::AbiMismatch {
                    driver: 2,
                    expected: ABI_VERSION,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = open_error(path, fail(OpenStep::Geometry));
        assert!(matches!(err, Error::BadRing { .. }), "{err:?}");
    }

    #[test]
    fn ring_paths() {
        assert_eq!(ring_path(0), Path::new(DEFAULT_RING_PATH));
        assert_eq!(ring_path(7), Path::new("/dev/mymap-ring7"));
    }

    #[test]
    fn records_come_out_in_order_with_their_fields() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        for seq in 0..5 {
            assert!(sim.push(source::TIMER, 0x11, 1000 + seq, &pattern(seq, 16)));
        }
        let seen: Vec<_> = drain(&mut consumer)
            .into_iter()
            .map(|(seq, ..)| seq)
            .collect();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert_eq!(consumer.map.consumer_pos(), 5 * 40);
        let (mut consumer, mut sim) = simulated(4096, 0);
        assert!(sim.push(source::TIMER, 0x11, 1000, &pattern(9, 12)));
        consumer
            .consume(|rec| {
                assert_eq!(rec.timestamp_ns, 1000);
                assert_eq!((rec.source, rec.flags), (source::TIMER, 0x11));
                assert_eq!(rec.payload, pattern(9, 12).as_slice());
                ControlFlow::Continue(())
            })
            .unwrap();
        // Nothing is delivered twice.
        assert_eq!(drain(&mut consumer), []);
    }

    #[test]
    fn a_busy_record_stops_the_batch_and_is_read_once_committed() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        assert!(sim.push(1, 0, 0, b"one"));
        let busy = sim.reserve(1, 0, 0, b"two").unwrap();
        assert!(sim.push(1, 0, 0, b"three"));
        let seen = drain(&mut consumer);
        assert_eq!(seen, [(0, 0, b"one".to_vec())]);
        assert_eq!(
            consumer.map.consumer_pos(),
            32,
            "released up to the busy record"
        );
        sim.commit(busy);
        let seen: Vec<_> = drain(&mut consumer)
            .into_iter()
            .map(|(seq, ..)| seq)
            .collect();
        assert_eq!(seen, [1, 2]);
    }

    #[test]
    fn discarded_records_are_skipped_but_keep_their_number() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        let gone = sim.reserve(1, 0, 0, b"gone").unwrap();
        sim.discard(gone);
        assert!(sim.push(1, 0, 0, b"kept"));
        assert_eq!(drain(&mut consumer), [(1, 0, b"kept".to_vec())]);
        assert_eq!(consumer.seq.missed(), 0, "a discarded record is not a drop");
    }

    #[test]
    fn drops_show_as_gaps_before_the_next_record() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        // 4 records of 1000 bytes fill the ring; 3 more are dropped.
        for _ in 0..7 {
            sim.push(1, 0, 0, &[0; 1000]);
        }
        assert_eq!(consumer.map.dropped(), 3);
        assert_eq!(drain(&mut consumer).len(), 4);
        assert!(sim.push(1, 0, 0, b"after"));
        assert_eq!(drain(&mut consumer), [(7, 3, b"after".to_vec())]);
        assert_eq!(consumer.seq.missed(), 3);
    }

    #[test]
    fn breaking_consumes_the_record_and_releases_at_once() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        for seq in 0..4 {
            assert!(sim.push(1, 0, 0, &pattern(seq, 8)));
        }
        let mut seen = Vec::new();
        let count = consumer
            .consume(|rec| {
                seen.push(rec.seq);
                if rec.seq == 1 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!((count, seen), (2, vec![0, 1]));
        assert_eq!(consumer.map.consumer_pos(), 64);
        let rest: Vec<_> = drain(&mut consumer)
            .into_iter()
            .map(|(seq, ..)| seq)
            .collect();
        assert_eq!(rest, [2, 3]);
    }

    #[test]
    fn wraps_are_skipped_across_the_u32_limit() {
        let (mut consumer, mut sim) = simulated(4096, 0u32.wrapping_sub(4096 * 3 + 200));
        let mut next = 0;
        for round in 0..50 {
            for _ in 0..(round % 7) {
                assert!(sim.push(1, 0, 0, &pattern(next, 100 + round)));
                next += 1;
            }
            for (seq, gap, payload) in drain(&mut consumer) {
                assert_eq!(gap, 0);
                assert_eq!(payload, pattern(seq, payload.len()));
            }
        }
        assert_eq!(consumer.seq.next(), Some(next));
        assert!(consumer.map.consumer_pos() < 4096 * 10, "positions wrapped");
    }

    #[test]
    fn garbage_is_an_error_after_the_good_records() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        assert!(sim.push(1, 0, 0, b"good"));
        assert!(sim.publish_raw(5000, 64));
        let mut seen = 0;
        let err = consumer
            .consume(|_| {
                seen += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert_eq!(seen, 1);
        assert_eq!(
            consumer.map.consumer_pos(),
            32,
            "the good record was released"
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "/sim/ring: the ring's shared memory breaks the ABI contract: record at 32 has \
                 a 5000-byte payload, above max_payload 1000"
            ),
            "{msg}"
        );
    }

    #[test]
    fn a_producer_far_ahead_is_an_error() {
        let (mut consumer, mut sim) = simulated(4096, 0);
        sim.advance(4096 + 8);
        let err = consumer.consume(|_| ControlFlow::Continue(())).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Corrupt {
                    fault: Fault::Window { .. },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn every_number_seen_once_or_counted_dropped_with_a_concurrent_producer() {
        const RECORDS: u64 = 20_000;
        let (mut consumer, mut sim) = simulated(16384, 0);
        let (done, finished) = mpsc::channel();
        let producer = thread::spawn(move || {
            let mut seq = 0;
            while seq < RECORDS {
                // A dropped record consumes its number, as in the driver; yield so that
                // the consumer catches up.
                if !sim.push(1, 0, seq, &pattern(sim.seq(), (seq % 200) as usize)) {
                    thread::yield_now();
                }
                seq = sim.seq();
            }
            done.send(()).unwrap();
        });
        let mut seen = 0u64;
        let mut missed = 0u64;
        let mut last = None;
        loop {
            let over = finished.try_recv().is_ok();
            consumer
                .consume(|rec| {
                    assert_eq!(rec.payload, pattern(rec.seq, rec.payload.len()).as_slice());
                    if let Some(last) = last {
                        assert_eq!(rec.seq, last + 1 + rec.dropped_before);
                    }
                    last = Some(rec.seq);
                    seen += 1;
                    missed += rec.dropped_before;
                    ControlFlow::Continue(())
                })
                .unwrap();
            if over {
                break;
            }
        }
        producer.join().unwrap();
        // Every number up to the last one seen was seen or counted in a gap; every number
        // not seen was dropped by the producer (the last ones may leave no gap behind).
        assert_eq!(seen + missed, last.unwrap() + 1);
        assert_eq!(u64::from(consumer.map.dropped()), RECORDS - seen);
    }

    #[test]
    fn seq_gaps() {
        let mut gaps = SeqGaps::new();
        assert_eq!(gaps.observe(10), 0);
        assert_eq!(gaps.observe(11), 0);
        assert_eq!(gaps.observe(15), 3);
        assert_eq!(gaps.observe(16), 0);
        assert_eq!(gaps.missed(), 3);
        // Backwards: a reloaded module starts over.
        assert_eq!(gaps.observe(0), 0);
        assert_eq!(gaps.next(), Some(1));
    }

    #[test]
    fn wakeups_round_trip_through_the_abi() {
        for wakeup in [
            Wakeup::Every,
            Wakeup::CaughtUp,
            Wakeup::Watermark {
                bytes: 4096,
                max_latency: None,
            },
            Wakeup::Watermark {
                bytes: 1,
                max_latency: Some(Duration::from_micros(500)),
            },
        ] {
            assert_eq!(Wakeup::from_raw(wakeup.to_raw()), Some(wakeup));
        }
        let raw = Wakeup::Watermark {
            bytes: 64,
            max_latency: Some(Duration::from_millis(2)),
        }
        .to_raw();
        assert_eq!(
            (raw.policy, raw.watermark, raw.max_latency_ns),
            (MYMAP_WAKEUP_WATERMARK, 64, 2_000_000)
        );
        let unknown = mymap_ring_wakeup {
            policy: 9,
            ..Default::default()
        };
        assert_eq!(Wakeup::from_raw(unknown), None);
    }

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(poll_timeout(None), PollTimeout::NONE);
        assert_eq!(poll_timeout(Some(Duration::ZERO)), PollTimeout::ZERO);
        assert_eq!(
            poll_timeout(Some(Duration::from_micros(1))),
            PollTimeout::from(1u8)
        );
        assert_eq!(
            poll_timeout(Some(Duration::from_secs(u64::MAX))),
            PollTimeout::MAX
        );
    }

    #[test]
    fn opening_something_else_is_not_a_ring() {
        let err = RingControl::open("/dev/null").unwrap_err();
        assert!(matches!(err, Error::NotRing { .. }), "{err}");
        let err = Ring::open("/dev/null").unwrap_err();
        assert!(matches!(err, Error::NotRing { .. }), "{err}");
        let err = Ring::open("/nonexistent/mymap-ring0").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }
}
