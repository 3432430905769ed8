// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The producer's view of a tx ring's shared pages: the only code that touches them.
//!
//! `mymap.h` ("Tx rings") is the contract this module follows, and
//! `driver/model/src/tx.rs` (`Tx::load_consumer`, `Tx::write`, `Tx::publish`) the
//! loom model of the same producer: a change to one is made in both. The
//! records, their sizes and the WRAP word are those of the kernel-to-user rings
//! ([`record_size`], [`Fault`] and [`OpenError`] come from [`crate::ring`]).
//!
//! Nothing here lends a reference to shared memory. A record is copied in:
//! [`TxMap::write`] takes the header fields and the payload and writes them into
//! the free space `[P, C + data_size)`, which the kernel does not read until the
//! producer position is published past them, and the rest of the process never
//! sees a pointer into the mapping. That is why the producer is a copy-in
//! `write`, not a reservation lending `&mut [u8]`: a record is at most
//! `MYMAP_TX_MAX_PAYLOAD` bytes, the copy costs nothing next to the record's
//! purpose, and there is no aliasing argument to make about memory that a forked
//! child may also have mapped writable.
//!
//! With the `simulator` feature, `TxMap::simulated` builds the same view over
//! anonymous memory, drained by a `SimTxConsumer` that follows the kernel's side
//! of the contract, so that producers can be tested on any host.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use crate::bindings::{
    mymap_play, mymap_played, mymap_ring_record, mymap_tx_consumer, mymap_tx_info, mymap_tx_stats,
    MYMAP_ABI_VERSION, MYMAP_PLAY_LATE, MYMAP_RING_HEADER_SIZE, MYMAP_RING_PGOFF_DATA,
    MYMAP_RING_PGOFF_PRODUCER, MYMAP_RING_WRAP,
};
use crate::ioctl;
use crate::ring::{checked_geometry, poll_file, record_size, Fault, OpenError, OpenStep};

/// The header size as a `usize`, for offsets.
const HEADER: usize = MYMAP_RING_HEADER_SIZE as usize;

/// Byte offset of `mymap_tx_consumer.pos`.
const CONSUMER_POS: usize = core::mem::offset_of!(mymap_tx_consumer, pos);
/// Byte offset of `mymap_tx_consumer.data_size`.
const CONSUMER_DATA_SIZE: usize = core::mem::offset_of!(mymap_tx_consumer, data_size);
/// Byte offset of `mymap_tx_consumer.max_payload`.
const CONSUMER_MAX_PAYLOAD: usize = core::mem::offset_of!(mymap_tx_consumer, max_payload);

/// The three mappings of a tx ring: page 0, page 1 and the data area.
///
/// # Invariants
///
/// `producer` maps at least 4 bytes, readable and writable, page-aligned. `consumer`
/// maps at least 16 bytes (`struct mymap_tx_consumer`), readable, page-aligned. `data`
/// maps `data_size` bytes, readable and writable, page-aligned, `data_size` a power of
/// two at least 32. All three stay mapped while this value lives; nothing maps over
/// them nor shrinks them (no code here calls `mremap`).
#[derive(Debug)]
struct TxRegions {
    producer: MmapRaw,
    consumer: MmapRaw,
    data: MmapRaw,
    data_size: u32,
}

impl TxRegions {
    /// The `u32` of page 0 at byte 0: the producer position.
    fn producer_pos(&self) -> &AtomicU32 {
        // SAFETY: by the invariant, page 0 is mapped for at least 4 bytes, page-aligned
        // (so 4-aligned), and stays mapped while `self` and the borrow live. The kernel
        // reads it concurrently (`smp_load_acquire`); in this process only this atomic
        // touches it, so an `AtomicU32` is the right view.
        unsafe { AtomicU32::from_ptr(self.producer.as_mut_ptr().cast()) }
    }

    /// The `u32` at byte `at` of page 1.
    fn consumer_word(&self, at: usize) -> &AtomicU32 {
        debug_assert!(at % 4 == 0 && at + 4 <= core::mem::size_of::<mymap_tx_consumer>());
        // SAFETY: `at` is the offset of a `u32` field of `struct mymap_tx_consumer` (the
        // callers pass only the `CONSUMER_*` constants), inside page 1, which is mapped,
        // page-aligned and stays mapped while `self` lives (invariant). The kernel writes
        // these fields concurrently (`smp_store_release`); in this process only atomics
        // touch them (loads through the read-only mapping, and a simulated consumer's
        // stores), so no access races. `AtomicU32::load` on read-only memory is a plain
        // load instruction on every architecture we build for.
        unsafe { AtomicU32::from_ptr(self.consumer.as_mut_ptr().add(at).cast()) }
    }

    /// The `len` word of the record at data offset `off`.
    fn len_word(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off % 8 == 0 && off + 4 <= self.data_size as usize);
        // SAFETY: callers pass `off` a multiple of 8 below `data_size` (a position masked
        // into the data area and kept 8-aligned), so the word is inside the mapping,
        // 4-aligned in a page-aligned area. The kernel loads it with acquire ordering
        // while we may store it; both sides use atomics, so this is not a data race.
        unsafe { AtomicU32::from_ptr(self.data.as_mut_ptr().add(off).cast()) }
    }
}

/// The ioctls of a tx device's file, without the file itself.
///
/// [`TxMap::open`] lends its claimed file only as this, so that the rest of the process
/// cannot map its data area a second time; [`TxIoctls::open`] opens a file of its own,
/// read-only, for `INFO` and `STATS` (its `KICK` and `PLAY` fail with `EBADF`: they are
/// the producer's). Clones share the file.
#[derive(Debug, Clone)]
pub struct TxIoctls {
    file: Arc<File>,
}

impl TxIoctls {
    /// Opens the tx device at `path` read-only: no claim, no mapping.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).open(path)?;
        Ok(TxIoctls {
            file: Arc::new(file),
        })
    }

    /// `MYMAP_TX_IOC_INFO`.
    pub fn info(&self) -> io::Result<mymap_tx_info> {
        ioctl::tx_info(self.file.as_fd())
    }

    /// `MYMAP_TX_IOC_STATS`.
    pub fn stats(&self) -> io::Result<mymap_tx_stats> {
        ioctl::tx_stats(self.file.as_fd())
    }

    /// `MYMAP_TX_IOC_KICK`: the number of records the kernel consumer took.
    pub fn kick(&self) -> io::Result<u32> {
        ioctl::tx_kick(self.file.as_fd())
    }

    /// `MYMAP_TX_IOC_PLAY` with operation `op` (`MYMAP_PLAY_*`): the driver's answer.
    pub fn play(&self, op: u32) -> io::Result<u32> {
        ioctl::tx_play(self.file.as_fd(), op)
    }
}

/// What [`TxMap::open`] gives: one open of the node, one reading of its geometry.
#[derive(Debug)]
pub struct OpenedTx {
    /// The producer's mapping.
    pub map: TxMap,
    /// The ioctls of the claimed file, the tx ring's only file in this process.
    pub ioctls: TxIoctls,
    /// `MYMAP_TX_IOC_INFO` as read at open: the geometry the mapping was made with, and
    /// that page 1 was checked against.
    pub info: mymap_tx_info,
}

/// The producer's mapping of a tx ring, and the file that holds its producer claim.
///
/// Follows the producer side of the contract in `mymap.h` ("Tx rings"):
/// [`TxMap::consumer_pos`] is step 1, [`TxMap::write`] step 2 (a plain `len` store: one
/// thread writes each record whole before publishing), [`TxMap::publish`] step 3, and
/// the `KICK` of [`TxIoctls::kick`] step 4.
///
/// # Invariants
///
/// - `regions` is a tx ring's mapping as described on `TxRegions`.
/// - `pos` is this producer's copy P of the producer position: it is 8-aligned and only
///   moves forward, by the records and WRAP gaps [`TxMap::write`] wrote.
/// - `published` is the value most recently stored to the producer position by this
///   value; only this value stores it.
#[derive(Debug)]
pub struct TxMap {
    regions: Arc<TxRegions>,
    /// The claimed file; `None` for a simulated tx ring.
    file: Option<TxIoctls>,
    max_payload: u32,
    pos: u32,
    published: u32,
}

impl TxMap {
    /// Opens the tx device at `path` for reading and writing, which claims it for this
    /// producer (`EBUSY` while another file holds the claim), and maps page 0 and the
    /// data area read-write, page 1 read-only.
    ///
    /// The node is opened once and `MYMAP_TX_IOC_INFO` read once: it is the geometry.
    /// Checks that the driver speaks this crate's ABI version, that the geometry makes
    /// sense, and that page 1 states the same data size and largest payload. The
    /// producer position starts at the kernel's consumer position, and is published
    /// (see [`TxMap::resync`]).
    pub fn open(path: &Path) -> Result<OpenedTx, OpenError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|err| OpenError::new(OpenStep::Open, err))?;
        let info =
            ioctl::tx_info(file.as_fd()).map_err(|err| OpenError::new(OpenStep::Info, err))?;
        if info.abi_version != MYMAP_ABI_VERSION {
            return Err(OpenError::new(
                OpenStep::Abi {
                    driver: info.abi_version,
                },
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "the driver speaks ABI version {}, this program {MYMAP_ABI_VERSION}",
                        info.abi_version
                    ),
                ),
            ));
        }
        let (page, data_size) = checked_geometry(info.page_size, info.data_size, info.max_payload)?;
        let map = |offset: u32, len: usize, writable: bool| {
            let mut options = MmapOptions::new();
            options.offset(u64::from(offset) * page as u64).len(len);
            let raw = if writable {
                options.map_raw(&file)
            } else {
                options.map_raw_read_only(&file)
            };
            raw.map_err(|err| OpenError::new(OpenStep::Mmap, err))
        };
        // Page 1 may never be in a writable mapping (the driver refuses with EPERM), so
        // the producer's two writable regions are mapped apart from it.
        let producer = map(0, page, true)?;
        let consumer = map(MYMAP_RING_PGOFF_PRODUCER, page, false)?;
        let data = map(MYMAP_RING_PGOFF_DATA, data_size as usize, true)?;
        // INVARIANT: each mapping has the length asked for (mmap maps all or fails), at a
        // page-aligned address; `checked_geometry` proved the sizes sensible.
        let regions = Arc::new(TxRegions {
            producer,
            consumer,
            data,
            data_size,
        });
        // Page 1 is a second statement of the geometry: checked against the first, never
        // used instead of it.
        let stated = regions
            .consumer_word(CONSUMER_DATA_SIZE)
            .load(Ordering::Relaxed);
        let stated_max_payload = regions
            .consumer_word(CONSUMER_MAX_PAYLOAD)
            .load(Ordering::Relaxed);
        if stated != data_size || stated_max_payload != info.max_payload {
            return Err(OpenError::geometry(format!(
                "page 1 says data_size {stated} and max_payload {stated_max_payload}, \
                 MYMAP_TX_IOC_INFO says {data_size} and {}",
                info.max_payload
            )));
        }
        let ioctls = TxIoctls {
            file: Arc::new(file),
        };
        let mut map = TxMap {
            regions,
            file: Some(ioctls.clone()),
            max_payload: info.max_payload,
            pos: 0,
            published: 0,
        };
        map.resync();
        Ok(OpenedTx { map, ioctls, info })
    }

    /// The size of the data area in bytes.
    pub fn data_size(&self) -> u32 {
        self.regions.data_size
    }

    /// The largest payload a record may carry.
    pub fn max_payload(&self) -> u32 {
        self.max_payload
    }

    /// This producer's position P: where its next record goes (written, maybe not yet
    /// published).
    pub fn producer_pos(&self) -> u32 {
        self.pos
    }

    /// The producer position as last published by [`TxMap::publish`].
    pub fn published_pos(&self) -> u32 {
        self.published
    }

    /// Step 1: the kernel's consumer position C, with acquire ordering. Message passing:
    /// this load-acquire pairs with the kernel's store-release of `consumer->pos` (its
    /// step 3), so the kernel has finished copying every byte before C, and the
    /// producer's later stores there cannot race with its copy.
    pub fn consumer_pos(&self) -> u32 {
        self.regions
            .consumer_word(CONSUMER_POS)
            .load(Ordering::Acquire)
    }

    /// Bytes free for new records now: `data_size - (P - C)`, C loaded as in step 1.
    ///
    /// A consumer position behind P by more than the data area, or ahead of P, is a
    /// [`Fault::Window`]: the kernel never publishes one for a producer that keeps the
    /// contract ([`TxMap::resync`] starts over from it).
    pub fn free(&self) -> Result<u32, Fault> {
        let consumer = self.consumer_pos();
        let used = self.pos.wrapping_sub(consumer);
        if used > self.regions.data_size {
            return Err(Fault::Window {
                consumer,
                producer: self.pos,
            });
        }
        Ok(self.regions.data_size - used)
    }

    /// The bytes a record with a `len`-byte payload takes if written now: its
    /// [`record_size`], plus the WRAP gap before it if it would cross the end of the
    /// data area.
    pub fn needed(&self, len: u32) -> u32 {
        let data_size = self.regions.data_size;
        let off = self.pos & (data_size - 1);
        let size = record_size(len);
        if size > data_size - off {
            data_size - off + size
        } else {
            size
        }
    }

    /// Step 2: writes a record at P, and moves P past it, without publishing it (call
    /// [`TxMap::publish`] after one record or a batch). Returns false, writing nothing,
    /// when it does not fit in the free space now: wait for the kernel to take records
    /// (`poll()` for `EPOLLOUT`, [`TxMap::register`]) and try again.
    ///
    /// `header` gives the record's `source`, `flags`, `seq` and `timestamp_ns`; its `len`
    /// is ignored (the payload's length is written). A payload above `max_payload` is
    /// [`Fault::TooLong`] at P, and a consumer position that makes no sense the
    /// [`Fault::Window`] of [`TxMap::free`].
    pub fn write(&mut self, header: &mymap_ring_record, payload: &[u8]) -> Result<bool, Fault> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&len| len <= self.max_payload)
            .ok_or(Fault::TooLong {
                pos: self.pos,
                len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
                max: self.max_payload,
            })?;
        let data_size = self.regions.data_size;
        if self.needed(len) > self.free()? {
            return Ok(false);
        }
        let size = record_size(len);
        let off = self.pos & (data_size - 1);
        if size > data_size - off {
            // The record would cross the end: a WRAP word where it would have started,
            // store-release as the model's producer (`Tx::write`) does; the position's
            // store-release of step 3 publishes it with the record after it.
            self.regions
                .len_word(off as usize)
                .store(MYMAP_RING_WRAP, Ordering::Release);
            // INVARIANT: the gap is a multiple of 8 (P and data_size are), and forward.
            self.pos = self.pos.wrapping_add(data_size - off);
        }
        let off = (self.pos & (data_size - 1)) as usize;
        let rest = mymap_ring_record { len: 0, ..*header };
        // SAFETY: `[off, off + size)` is inside the data area: `off` is P masked into it,
        // and either the record fits before the end, or P just moved to the start and
        // `size <= max_payload + 24 <= data_size` (`checked_geometry`). It is inside the
        // free space `[P, C + data_size)` (checked just above against C loaded with
        // acquire ordering), which the kernel neither reads (it reads only up to the
        // published position, which is at most P) nor writes (only page 1 is the
        // kernel's). In this process only this value writes the mapping, and `&mut self`
        // serialises it; no reference to the mapped bytes exists. The mapping is writable
        // (invariant). The header fields after `len` are written as bytes of a plain
        // store; `len` is stored through its atomic below.
        unsafe {
            let data = self.regions.data.as_mut_ptr();
            let fields = ptr::from_ref(&rest).cast::<u8>();
            ptr::copy_nonoverlapping(fields.add(4), data.add(off + 4), HEADER - 4);
            ptr::copy_nonoverlapping(payload.as_ptr(), data.add(off + HEADER), payload.len());
        }
        // `len` last, a plain (relaxed) store: one thread writes the whole record before
        // publishing, so the position's store-release of step 3 is what publishes the
        // header and payload with it (the header's "plain store"; the model's `Tx::write`
        // without `busy`).
        self.regions.len_word(off).store(len, Ordering::Relaxed);
        // INVARIANT: forward by a record size, a multiple of 8.
        self.pos = self.pos.wrapping_add(size);
        Ok(true)
    }

    /// Step 3: store-release of P as the producer position. Message passing: pairs with
    /// the kernel's load-acquire of `producer->pos` (its step 1), so every record and
    /// WRAP word written before it is visible to the kernel once it sees the position.
    pub fn publish(&mut self) {
        self.regions
            .producer_pos()
            .store(self.pos, Ordering::Release);
        // INVARIANT: `published` is the value just stored.
        self.published = self.pos;
    }

    /// Starts again from the kernel's consumer position: P becomes C (loaded as in the
    /// first step) and is published, so the kernel sees nothing waiting. Returns the bytes
    /// that were written or published and are given up (wrapping).
    ///
    /// [`TxMap::open`] does this, as the contract says a producer starts; so does a
    /// producer that lost its place (the kernel reports `EPOLLERR` while it refuses the
    /// published position). The kernel may be taking an earlier producer's records as
    /// this runs and move C past the position just published: C is loaded again after
    /// the store, and the whole done again until C stood still across it.
    pub fn resync(&mut self) -> u32 {
        let old = self.pos;
        loop {
            let consumer = self.consumer_pos();
            // INVARIANT: C is 8-aligned for a kernel that keeps the contract; masking
            // keeps P aligned whatever page 1 says.
            self.pos = consumer & !7;
            self.publish();
            if self.consumer_pos() == consumer {
                return old.wrapping_sub(self.pos);
            }
        }
    }

    /// Adds the claimed file to `epoll`'s interest list with `event` (`EPOLLOUT` to wait
    /// for space), so that waiting needs no access to the file itself.
    ///
    /// Fails with `Unsupported` on a simulated tx ring.
    pub fn register(
        &self,
        epoll: &nix::sys::epoll::Epoll,
        event: nix::sys::epoll::EpollEvent,
    ) -> io::Result<()> {
        let Some(ioctls) = &self.file else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a simulated tx ring has no file to wait on",
            ));
        };
        Ok(epoll.add(&*ioctls.file, event)?)
    }

    /// Waits with `poll(2)` until the claimed file is writable (room for a record) or
    /// reports an error, for at most `timeout`, and returns its events (none: the time ran
    /// out). Nothing wakes a simulated tx ring: the call sleeps out `timeout`.
    pub fn poll(&self, timeout: nix::poll::PollTimeout) -> io::Result<nix::poll::PollFlags> {
        let file = self.file.as_ref().map(|ioctls| &*ioctls.file);
        poll_file(file, nix::poll::PollFlags::POLLOUT, timeout)
    }
}

/// The payload of a player record (`struct mymap_play`), as the tx ring carries it.
pub fn play_payload(play: &mymap_play) -> [u8; core::mem::size_of::<mymap_play>()] {
    let mut bytes = [0; core::mem::size_of::<mymap_play>()];
    bytes[..8].copy_from_slice(&play.time_ns.to_ne_bytes());
    bytes[8..12].copy_from_slice(&play.mask.to_ne_bytes());
    bytes[12..].copy_from_slice(&play.values.to_ne_bytes());
    bytes
}

/// A completion of the player (`struct mymap_played`) from a record's payload; `None`
/// unless the payload is exactly its 32 bytes.
pub fn played_from_payload(payload: &[u8]) -> Option<mymap_played> {
    let bytes: &[u8; core::mem::size_of::<mymap_played>()] = payload.try_into().ok()?;
    let u64_at = |at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_ne_bytes(word)
    };
    let u32_at = |at: usize| {
        let mut word = [0; 4];
        word.copy_from_slice(&bytes[at..at + 4]);
        u32::from_ne_bytes(word)
    };
    Some(mymap_played {
        seq: u64_at(0),
        requested_ns: u64_at(8),
        actual_ns: u64_at(16),
        values: u32_at(24),
        flags: u32_at(28),
    })
}

/// Whether a completion says its record's time had passed when the player took it.
pub fn played_late(played: &mymap_played) -> bool {
    played.flags & MYMAP_PLAY_LATE != 0
}

#[cfg(feature = "simulator")]
pub use sim::SimTxConsumer;

#[cfg(any(test, feature = "simulator"))]
mod sim {
    //! A userspace stand-in for the kernel's side of a tx ring, for tests.

    use super::*;
    use crate::bindings::{MYMAP_RING_BUSY, MYMAP_RING_DISCARD, MYMAP_RING_LEN_MASK};
    use crate::ring::max_payload;
    use crate::ring::sim::SIM_PAGE_SIZE;

    /// [`SIM_PAGE_SIZE`] for lengths.
    const SIM_PAGE: usize = SIM_PAGE_SIZE as usize;

    impl TxMap {
        /// A tx ring of `data_size` bytes (a power of two, at least 4096) in anonymous
        /// memory, with both positions at `start` (a multiple of 8: start near
        /// `u32::MAX` to see positions wrap), and the consumer that drains it, with the
        /// driver's `max_payload` (`min(data_size / 4 - header, MYMAP_TX_MAX_PAYLOAD)`).
        pub fn simulated(data_size: u32, start: u32) -> io::Result<(TxMap, SimTxConsumer)> {
            let max_payload = max_payload(data_size).min(crate::bindings::MYMAP_TX_MAX_PAYLOAD);
            checked_geometry(SIM_PAGE_SIZE, data_size, max_payload).map_err(|err| err.error)?;
            if start % 8 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the start position must be a multiple of 8",
                ));
            }
            let anon = |len: usize| -> io::Result<MmapRaw> {
                Ok(MmapRaw::from(MmapOptions::new().len(len).map_anon()?))
            };
            // INVARIANT: as in `TxMap::open`, the mappings anonymous and all writable.
            let regions = Arc::new(TxRegions {
                producer: anon(SIM_PAGE)?,
                consumer: anon(SIM_PAGE)?,
                data: anon(data_size as usize)?,
                data_size,
            });
            regions
                .consumer_word(CONSUMER_POS)
                .store(start, Ordering::Relaxed);
            regions
                .consumer_word(CONSUMER_DATA_SIZE)
                .store(data_size, Ordering::Relaxed);
            regions
                .consumer_word(CONSUMER_MAX_PAYLOAD)
                .store(max_payload, Ordering::Relaxed);
            let consumer = SimTxConsumer {
                regions: Arc::clone(&regions),
                pos: start,
                max_payload,
            };
            let mut map = TxMap {
                regions,
                file: None,
                max_payload,
                pos: 0,
                published: 0,
            };
            map.resync();
            Ok((map, consumer))
        }
    }

    /// The kernel's side of a simulated tx ring: `TxRing::drain` of `driver/tx.rs` with
    /// the echo's callback, which takes every complete record.
    #[derive(Debug)]
    pub struct SimTxConsumer {
        regions: Arc<TxRegions>,
        /// The consumer position C; only this value stores it.
        pos: u32,
        max_payload: u32,
    }

    /// A record [`SimTxConsumer::drain`] took: its header (`len` without flags) and a copy
    /// of its payload.
    pub type Taken = (mymap_ring_record, Vec<u8>);

    impl SimTxConsumer {
        /// Takes every complete record from C to the published producer position, in
        /// order (discarded ones skipped), stops at a BUSY one, and publishes C. A
        /// malformed header or a refused producer position is an error naming it, as the
        /// driver's counters would: a producer under test must never cause one.
        pub fn drain(&mut self) -> Result<Vec<Taken>, String> {
            let data_size = self.regions.data_size;
            let producer = self.regions.producer_pos().load(Ordering::Acquire);
            let ahead = producer.wrapping_sub(self.pos);
            if producer % 8 != 0 || ahead > data_size {
                return Err(format!(
                    "bad_position: producer {producer}, consumer {}",
                    self.pos
                ));
            }
            let mut taken = Vec::new();
            while self.pos != producer {
                let off = self.pos & (data_size - 1);
                let left = producer.wrapping_sub(self.pos);
                let word = self.regions.len_word(off as usize).load(Ordering::Acquire);
                if word & MYMAP_RING_BUSY != 0 {
                    break;
                }
                if word == MYMAP_RING_WRAP {
                    if data_size - off > left {
                        return Err(format!("malformed: a WRAP at {} past P", self.pos));
                    }
                    self.pos = self.pos.wrapping_add(data_size - off);
                    continue;
                }
                let len = word & MYMAP_RING_LEN_MASK;
                let size = record_size(len);
                if word & !(MYMAP_RING_LEN_MASK | MYMAP_RING_DISCARD) != 0
                    || len > self.max_payload
                    || size > left
                    || size > data_size - off
                {
                    return Err(format!("malformed: len word {word:#x} at {}", self.pos));
                }
                let mut record = [0u8; HEADER];
                let mut payload = vec![0u8; len as usize];
                // SAFETY: `[off, off + size)` is inside the data area and below the
                // producer position loaded with acquire ordering (checked above); its
                // `len` was loaded with acquire ordering. The producer writes no byte of
                // `[C, P)` until C moves past it, so these plain reads race with nothing.
                unsafe {
                    let at = self.regions.data.as_ptr().add(off as usize);
                    ptr::copy_nonoverlapping(at, record.as_mut_ptr(), HEADER);
                    ptr::copy_nonoverlapping(at.add(HEADER), payload.as_mut_ptr(), len as usize);
                }
                self.pos = self.pos.wrapping_add(size);
                if word & MYMAP_RING_DISCARD != 0 {
                    continue;
                }
                let u64_at = |at: usize| {
                    let mut word = [0; 8];
                    word.copy_from_slice(&record[at..at + 8]);
                    u64::from_ne_bytes(word)
                };
                let header = mymap_ring_record {
                    len,
                    source: u16::from_ne_bytes([record[4], record[5]]),
                    flags: u16::from_ne_bytes([record[6], record[7]]),
                    seq: u64_at(8),
                    timestamp_ns: u64_at(16),
                };
                taken.push((header, payload));
            }
            // The consumer's step 3: store-release of C (message passing to the
            // producer's load-acquire in its step 1).
            self.regions
                .consumer_word(CONSUMER_POS)
                .store(self.pos, Ordering::Release);
            Ok(taken)
        }

        /// The consumer position C.
        pub fn pos(&self) -> u32 {
            self.pos
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::{MYMAP_SOURCE_TX, MYMAP_TX_MAX_PAYLOAD};

    fn header(seq: u64) -> mymap_ring_record {
        mymap_ring_record {
            len: 0xdead,
            source: MYMAP_SOURCE_TX as u16,
            flags: 3,
            seq,
            timestamp_ns: 1000 + seq,
        }
    }

    #[test]
    fn a_record_written_and_published_is_taken_once_with_its_fields() {
        let (mut tx, mut kernel) = TxMap::simulated(4096, 0).unwrap();
        assert_eq!(tx.max_payload(), 1000);
        assert!(tx.write(&header(7), b"hello").unwrap());
        assert_eq!(tx.producer_pos(), 32);
        assert!(
            kernel.drain().unwrap().is_empty(),
            "nothing is taken before the position is published"
        );
        tx.publish();
        let taken = kernel.drain().unwrap();
        assert_eq!(taken.len(), 1);
        let (head, payload) = &taken[0];
        assert_eq!(
            (head.len, head.source, head.flags),
            (5, MYMAP_SOURCE_TX as u16, 3)
        );
        assert_eq!((head.seq, head.timestamp_ns), (7, 1007));
        assert_eq!(payload, b"hello");
        assert_eq!(tx.consumer_pos(), 32);
        assert!(kernel.drain().unwrap().is_empty());
    }

    #[test]
    fn a_full_ring_refuses_until_the_kernel_takes_records() {
        let (mut tx, mut kernel) = TxMap::simulated(4096, 0).unwrap();
        let payload = [0x5a; 1000];
        let mut written = 0;
        while tx.write(&header(written), &payload).unwrap() {
            written += 1;
        }
        // 1024 bytes a record: four fill the 4096-byte data area.
        assert_eq!(written, 4);
        assert_eq!(tx.free().unwrap(), 0);
        assert_eq!(tx.producer_pos(), 4096);
        tx.publish();
        assert_eq!(kernel.drain().unwrap().len(), 4);
        assert_eq!(tx.free().unwrap(), 4096);
        assert!(tx.write(&header(4), &payload).unwrap());
    }

    #[test]
    fn a_record_that_would_cross_the_end_wraps_and_positions_wrap_around_u32() {
        let start = 0u32.wrapping_sub(64);
        let (mut tx, mut kernel) = TxMap::simulated(4096, start).unwrap();
        // From data offset 4032, 64 bytes before the end: a 40-byte record fits, the
        // next one (40 bytes, 24 left) needs a WRAP word and goes to offset 0.
        assert_eq!(tx.needed(16), 40);
        assert!(tx.write(&header(0), &[0; 16]).unwrap());
        assert_eq!(tx.needed(16), 24 + 40);
        assert!(tx.write(&header(1), &[1; 16]).unwrap());
        assert_eq!(tx.producer_pos(), 40);
        tx.publish();
        let taken = kernel.drain().unwrap();
        let seqs: Vec<u64> = taken.iter().map(|(h, _)| h.seq).collect();
        assert_eq!(seqs, [0, 1]);
        assert_eq!(taken[1].1, [1; 16]);
        assert_eq!(kernel.pos(), 40);
    }

    #[test]
    fn the_wrap_gap_counts_against_the_free_space() {
        let (mut tx, mut kernel) = TxMap::simulated(4096, 0).unwrap();
        for seq in 0..3 {
            assert!(tx.write(&header(seq), &[0; 1000]).unwrap());
        }
        assert!(tx.write(&header(3), &[0; 976]).unwrap());
        tx.publish();
        assert_eq!(kernel.drain().unwrap().len(), 4);
        // 24 bytes before the end, the whole ring free: a 1000-byte record needs the
        // 24-byte WRAP gap and its 1024 bytes, so three leave 4096 - 24 - 3 * 1024.
        assert_eq!(tx.needed(1000), 24 + 1024);
        assert!(tx.write(&header(4), &[0; 1000]).unwrap());
        assert!(tx.write(&header(5), &[0; 1000]).unwrap());
        assert!(tx.write(&header(6), &[0; 1000]).unwrap());
        assert_eq!(tx.free().unwrap(), 4096 - 24 - 3 * 1024);
        assert!(!tx.write(&header(7), &[0; 1000]).unwrap());
    }

    #[test]
    fn a_payload_above_max_payload_is_a_fault_and_writes_nothing() {
        let (mut tx, _kernel) = TxMap::simulated(65536, 0).unwrap();
        assert_eq!(tx.max_payload(), MYMAP_TX_MAX_PAYLOAD);
        assert_eq!(
            tx.write(&header(0), &[0; 1001]).unwrap_err(),
            Fault::TooLong {
                pos: 0,
                len: 1001,
                max: 1000
            }
        );
        assert_eq!(tx.producer_pos(), 0);
    }

    #[test]
    fn resync_starts_over_from_the_consumer_position() {
        let (mut tx, mut kernel) = TxMap::simulated(4096, 4000).unwrap();
        assert_eq!((tx.producer_pos(), tx.published_pos()), (4000, 4000));
        assert!(tx.write(&header(0), b"given up").unwrap());
        assert_eq!(tx.resync(), 32);
        assert_eq!((tx.producer_pos(), tx.published_pos()), (4000, 4000));
        assert!(kernel.drain().unwrap().is_empty());
    }

    #[test]
    fn player_payloads_have_the_header_layout() {
        let play = mymap_play {
            time_ns: 0x0102_0304_0506_0708,
            mask: 0x11,
            values: 0x10,
        };
        let bytes = play_payload(&play);
        assert_eq!(bytes.len(), 16);
        assert_eq!(bytes[..8], play.time_ns.to_ne_bytes());
        assert_eq!(bytes[8..12], 0x11u32.to_ne_bytes());
        assert_eq!(bytes[12..], 0x10u32.to_ne_bytes());
        let mut done = Vec::new();
        for word in [5u64, 100, 107] {
            done.extend_from_slice(&word.to_ne_bytes());
        }
        done.extend_from_slice(&0x10u32.to_ne_bytes());
        done.extend_from_slice(&MYMAP_PLAY_LATE.to_ne_bytes());
        let played = played_from_payload(&done).unwrap();
        assert_eq!(
            (played.seq, played.requested_ns, played.actual_ns),
            (5, 100, 107)
        );
        assert_eq!(played.values, 0x10);
        assert!(played_late(&played));
        assert!(played_from_payload(&done[..31]).is_none());
    }
}
