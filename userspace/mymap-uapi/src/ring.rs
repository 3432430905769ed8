// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The consumer's view of a ring's shared pages: the only code that touches them.
//!
//! `mymap.h` ("Rings: records streamed from kernel producers to one consumer")
//! is the contract this module follows; it is not restated here. What this
//! module adds is the proof that lending `&[u8]` of a record's payload is
//! sound, which rests on four facts:
//!
//! 1. The producer page and the data area are mapped read-only, and the driver
//!    lets no process map them writable (`EPERM`, `mprotect` gives `EACCES`):
//!    only the kernel writes them.
//! 2. The kernel writes a record's header and payload before it stores its
//!    `len` without `MYMAP_RING_BUSY` with release ordering, and never writes
//!    them again until the consumer position has moved past them.
//! 3. The consumer position moves only when the file holding the consumer
//!    claim stores to page 0 or calls `read()`. That file is opened by
//!    [`RingMap::open`] and never leaves this module (no `AsFd`, no
//!    `into_inner`): the rest of the process reaches it only as
//!    [`RingIoctls`], the ring ioctls, none of which moves the consumer
//!    position. Its page 0 mapping is private to [`RingMap`], and
//!    [`RingMap::release`] takes `&mut self`: while a payload borrowed from
//!    `&self` lives, nothing in this process can move the position. Another
//!    process cannot either: a second claim fails with `EBUSY`, and a file
//!    without the claim can neither map page 0 writable nor `read()`.
//! 4. Every position read from shared memory is checked against the window
//!    `[consumer, producer)` and the data area before any byte behind it is
//!    read; a record that does not fit is a [`Fault`], never an access.
//!
//! The header's record arithmetic is here too, once for every Rust crate:
//! [`record_size`] (`MYMAP_RING_RECORD_SIZE`) and [`max_payload`].
//!
//! With the `simulator` feature, `RingMap::simulated` builds the same view
//! over anonymous memory written by a `SimProducer` that obeys the kernel's
//! side of the contract, so that the consumer loop can be tested on any host.

use std::cell::Cell;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use crate::bindings::{
    mymap_ring_info, mymap_ring_inject, mymap_ring_producer, mymap_ring_record, mymap_ring_stats,
    mymap_ring_timer, mymap_ring_wakeup, MYMAP_ABI_VERSION, MYMAP_RING_BUSY, MYMAP_RING_DISCARD,
    MYMAP_RING_HEADER_SIZE, MYMAP_RING_LEN_MASK, MYMAP_RING_WRAP,
};
use crate::ioctl;

/// `MYMAP_RING_RECORD_SIZE(len)`: the bytes a record with payload length `len` occupies,
/// header included, rounded up to 8. Only the `MYMAP_RING_LEN_MASK` bits of `len` count.
///
/// This is the one Rust form of the header's macro (which bindgen cannot translate): the
/// library, the tools, the bench and the target tests all call it.
pub const fn record_size(len: u32) -> u32 {
    (MYMAP_RING_HEADER_SIZE + (len & MYMAP_RING_LEN_MASK) + 7) & !7
}

/// The largest payload a record may carry in a data area of `data_size` bytes:
/// `data_size / 4 - MYMAP_RING_HEADER_SIZE`, the rule `struct mymap_ring_info` states
/// for `max_payload` (so that a record never takes more than a quarter of the ring).
///
/// 0 for a data area too small to hold a header in each quarter, which no ring has (the
/// smallest is one page).
pub const fn max_payload(data_size: u32) -> u32 {
    (data_size / 4).saturating_sub(MYMAP_RING_HEADER_SIZE)
}

/// The header size as a `usize`, for offsets.
const HEADER: usize = MYMAP_RING_HEADER_SIZE as usize;

/// Byte offset of `mymap_ring_producer.pos`.
const PRODUCER_POS: usize = core::mem::offset_of!(mymap_ring_producer, pos);
/// Byte offset of `mymap_ring_producer.dropped`.
const PRODUCER_DROPPED: usize = core::mem::offset_of!(mymap_ring_producer, dropped);
/// Byte offset of `mymap_ring_producer.data_size`.
const PRODUCER_DATA_SIZE: usize = core::mem::offset_of!(mymap_ring_producer, data_size);
/// Byte offset of `mymap_ring_producer.max_payload`.
const PRODUCER_MAX_PAYLOAD: usize = core::mem::offset_of!(mymap_ring_producer, max_payload);

/// Which step of [`RingMap::open`] (or [`TxMap::open`](crate::TxMap::open)) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenStep {
    /// `open(2)` with `O_RDWR`, which claims the ring for its one consumer (or, on a tx
    /// ring, its one producer): `EBUSY` if another file holds the claim.
    Open,
    /// `MYMAP_RING_IOC_INFO` (`MYMAP_TX_IOC_INFO` on a tx ring).
    Info,
    /// The driver speaks another ABI version than this crate (`MYMAP_ABI_VERSION`); the
    /// ring was not mapped.
    Abi {
        /// The driver's version, from the INFO ioctl.
        driver: u32,
    },
    /// `mmap(2)` of one of the ring's regions.
    Mmap,
    /// The geometry: the INFO ioctl and the page the kernel writes (the producer page of
    /// a ring, the consumer page of a tx ring) disagree or make no sense (the error's
    /// kind is `InvalidData`).
    Geometry,
}

/// A failure of [`RingMap::open`] or [`TxMap::open`](crate::TxMap::open): the step and
/// the system error.
#[derive(Debug)]
pub struct OpenError {
    /// What was being done.
    pub step: OpenStep,
    /// Why it failed.
    pub error: io::Error,
}

impl OpenError {
    pub(crate) fn new(step: OpenStep, error: io::Error) -> Self {
        OpenError { step, error }
    }

    pub(crate) fn geometry(message: String) -> Self {
        Self::new(
            OpenStep::Geometry,
            io::Error::new(io::ErrorKind::InvalidData, message),
        )
    }
}

/// Shared memory that breaks the ring's contract: what was found, where.
///
/// The kernel never writes such a thing; a consumer that wrote garbage into its own
/// position (this one before a restart, say) can make the window nonsense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The producer is more than `data_size` bytes ahead of the consumer.
    Window {
        /// The consumer position.
        consumer: u32,
        /// The producer position.
        producer: u32,
    },
    /// A position outside `[consumer, producer]` was asked for or released.
    Outside {
        /// The position.
        pos: u32,
    },
    /// A record position that is not a multiple of 8.
    Unaligned {
        /// The position.
        pos: u32,
    },
    /// A `len` word with bits the ABI does not define.
    BadLen {
        /// The record's position.
        pos: u32,
        /// The word found.
        word: u32,
    },
    /// A payload longer than the ring's `max_payload`.
    TooLong {
        /// The record's position.
        pos: u32,
        /// The payload length.
        len: u32,
        /// The ring's `max_payload`.
        max: u32,
    },
    /// A record (or a wrap) that reaches past the producer position or the end of the
    /// data area.
    Overrun {
        /// The record's position.
        pos: u32,
        /// Its size in bytes, header and padding included.
        size: u32,
    },
    /// The driver rejects the consumer position in page 0 (`poll` reported `EPOLLERR`, as
    /// `read()` fails with `EIO`): something other than this consumer wrote it.
    Rejected {
        /// The position this consumer last released.
        released: u32,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::Window { consumer, producer } => write!(
                f,
                "producer position {producer} is more than the data size ahead of consumer \
                 position {consumer}"
            ),
            Fault::Outside { pos } => {
                write!(f, "position {pos} is outside the consumer-producer window")
            }
            Fault::Unaligned { pos } => write!(f, "record position {pos} is not a multiple of 8"),
            Fault::BadLen { pos, word } => {
                write!(f, "record at {pos} has the undefined len word {word:#010x}")
            }
            Fault::TooLong { pos, len, max } => write!(
                f,
                "record at {pos} has a {len}-byte payload, above max_payload {max}"
            ),
            Fault::Rejected { released } => write!(
                f,
                "the driver rejects the consumer position in page 0 (this consumer last \
                 released {released})"
            ),
            Fault::Overrun { pos, size } => write!(
                f,
                "record at {pos} ({size} bytes) reaches past the producer position or the \
                 end of the data area"
            ),
        }
    }
}

impl std::error::Error for Fault {}

/// What the consumer finds at a position inside its window.
#[derive(Debug)]
pub enum Entry<'a> {
    /// A record still being written (`MYMAP_RING_BUSY`): stop here, come back later.
    Busy,
    /// A `MYMAP_RING_WRAP` word: the next record is at the start of the data area.
    Wrap {
        /// The position of the next record.
        next: u32,
    },
    /// A committed record.
    Record(RecordRef<'a>),
}

/// A committed record, borrowed from the data area until the position is released.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// The header, `len` without its flag bits.
    pub header: mymap_ring_record,
    /// Whether its producer discarded it (`MYMAP_RING_DISCARD`): skip it, but count its
    /// sequence number.
    pub discarded: bool,
    /// The payload, `header.len` bytes, in the shared mapping itself.
    pub payload: &'a [u8],
    /// The position of the next record.
    pub next: u32,
}

/// The two mappings of a ring: page 0 and pages 1 and up.
///
/// # Invariants
///
/// `consumer` maps at least 4 bytes, readable and writable, page-aligned. `shared` maps
/// the producer page (`page` bytes, page-aligned, at least 16) followed by the data area
/// of `data_size` bytes, readable. Both stay mapped while this value lives; nothing maps
/// them with `MAP_FIXED` over, nor shrinks them (no code here calls `mremap`).
#[derive(Debug)]
struct Regions {
    consumer: MmapRaw,
    shared: MmapRaw,
    page: usize,
    data_size: u32,
}

impl Regions {
    /// The `u32` of page 0 at byte 0: the consumer position.
    fn consumer_pos(&self) -> &AtomicU32 {
        // SAFETY: by the invariant, page 0 is mapped for at least 4 bytes and is
        // page-aligned, so 4-aligned, and stays mapped while `self` (and the returned
        // borrow) lives. The memory is shared with the kernel, which reads it
        // concurrently; it is only ever accessed through this atomic, in this process
        // and in the kernel (`smp_load_acquire`), so an `AtomicU32` is the right view.
        unsafe { AtomicU32::from_ptr(self.consumer.as_mut_ptr().cast()) }
    }

    /// The `u32` at byte `at` of the producer page.
    fn producer_word(&self, at: usize) -> &AtomicU32 {
        debug_assert!(at % 4 == 0 && at + 4 <= core::mem::size_of::<mymap_ring_producer>());
        // SAFETY: `at` is the offset of a `u32` field of `struct mymap_ring_producer`
        // (the callers pass only the `PRODUCER_*` constants), inside the producer page,
        // which is mapped, page-aligned and stays mapped while `self` lives (invariant).
        // The kernel writes these fields concurrently (`smp_store_release` or
        // `WRITE_ONCE`); in this process only atomics touch them (loads through the
        // read-only mapping, and a simulated producer's stores), so no access races.
        // `AtomicU32::load` on read-only memory is a plain load instruction on every
        // architecture we build for.
        unsafe { AtomicU32::from_ptr(self.shared.as_mut_ptr().add(at).cast()) }
    }

    /// The `len` word of the record at data offset `off`.
    fn len_word(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off % 8 == 0 && off + 4 <= self.data_size as usize);
        // SAFETY: callers pass `off` a multiple of 8 below `data_size` (`mask` and the
        // alignment check of `RingMap::entry`), so the word is inside the data area, which
        // starts `page` bytes into the mapping, page-aligned; the word is 4-aligned. The
        // kernel stores it with release ordering while we may load it; both sides use
        // atomics, so this is not a data race.
        unsafe { AtomicU32::from_ptr(self.shared.as_mut_ptr().add(self.page + off).cast()) }
    }

    /// The data area, as a raw pointer to its first byte.
    fn data(&self) -> *const u8 {
        // SAFETY: `page` bytes into the mapping is the start of the data area (invariant).
        unsafe { self.shared.as_ptr().add(self.page) }
    }
}

/// The ioctls of a ring device's file, without the file itself.
///
/// [`RingMap::open`] lends its claimed file only as this (see the module documentation):
/// none of these calls moves the consumer position. [`RingIoctls::open`] opens a file of
/// its own, read-only, which any number of processes may hold while one consumes. Clones
/// share the file.
#[derive(Debug, Clone)]
pub struct RingIoctls {
    file: Arc<File>,
}

impl RingIoctls {
    /// Opens the ring device at `path` read-only: no claim, no mapping.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).open(path)?;
        Ok(RingIoctls {
            file: Arc::new(file),
        })
    }

    /// `MYMAP_RING_IOC_INFO`.
    pub fn info(&self) -> io::Result<mymap_ring_info> {
        ioctl::ring_info(self.file.as_fd())
    }

    /// `MYMAP_RING_IOC_STATS`.
    pub fn stats(&self) -> io::Result<mymap_ring_stats> {
        ioctl::ring_stats(self.file.as_fd())
    }

    /// `MYMAP_RING_IOC_GET_WAKEUP`.
    pub fn get_wakeup(&self) -> io::Result<mymap_ring_wakeup> {
        ioctl::ring_get_wakeup(self.file.as_fd())
    }

    /// `MYMAP_RING_IOC_SET_WAKEUP`.
    pub fn set_wakeup(&self, wakeup: &mymap_ring_wakeup) -> io::Result<()> {
        ioctl::ring_set_wakeup(self.file.as_fd(), wakeup)
    }

    /// `MYMAP_RING_IOC_TIMER`.
    pub fn timer(&self, timer: &mymap_ring_timer) -> io::Result<()> {
        ioctl::ring_timer(self.file.as_fd(), timer)
    }

    /// `MYMAP_RING_IOC_INJECT`.
    pub fn inject(&self, inject: mymap_ring_inject) -> io::Result<mymap_ring_inject> {
        ioctl::ring_inject(self.file.as_fd(), inject)
    }
}

/// What [`RingMap::open`] gives: one open of the node, one reading of its geometry.
#[derive(Debug)]
pub struct OpenedRing {
    /// The consumer's mapping.
    pub map: RingMap,
    /// The ioctls of the claimed file, the ring's only file in this process.
    pub ioctls: RingIoctls,
    /// `MYMAP_RING_IOC_INFO` as read at open: the geometry the mapping was made with,
    /// and that the producer page was checked against.
    pub info: mymap_ring_info,
}

/// The consumer's mapping of a ring, and the file that holds its consumer claim.
///
/// Follows the consumer side of the contract in `mymap.h`: [`RingMap::load_producer`]
/// opens a window `[consumer, producer)`, [`RingMap::entry`] reads what is at a position
/// inside it, [`RingMap::release`] moves the consumer position forward.
///
/// # Invariants
///
/// - `regions` is a ring's mapping as described on `Regions`, with `data_size` a power
///   of two at least 32 and equal to the `data_size` the producer page states.
/// - `released` is the value most recently stored to the consumer position (or found
///   there at open), and only this value stores it: see the module documentation.
/// - `producer` holds a producer position loaded with acquire ordering (or `released`),
///   and `producer - released` (wrapping) is at most `data_size` unless `window_ok` is
///   false.
#[derive(Debug)]
pub struct RingMap {
    regions: Arc<Regions>,
    /// The claimed file; `None` for a simulated ring.
    file: Option<RingIoctls>,
    max_payload: u32,
    released: u32,
    producer: Cell<u32>,
}

impl RingMap {
    /// Opens the ring device at `path` for reading and writing, which claims it, and maps
    /// page 0 read-write (alone) and pages 1 and up read-only.
    ///
    /// The node is opened once, and `MYMAP_RING_IOC_INFO` read once: it is the geometry.
    /// Checks that the driver speaks this crate's ABI version, that the geometry makes
    /// sense (page size and data size powers of two, a payload that fits), and that the
    /// producer page states the same data size and largest payload.
    pub fn open(path: &Path) -> Result<OpenedRing, OpenError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|err| OpenError::new(OpenStep::Open, err))?;
        let info =
            ioctl::ring_info(file.as_fd()).map_err(|err| OpenError::new(OpenStep::Info, err))?;
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
        let consumer = MmapOptions::new()
            .len(page)
            .map_raw(&file)
            .map_err(|err| OpenError::new(OpenStep::Mmap, err))?;
        let shared = MmapOptions::new()
            .offset(page as u64)
            .len(page + data_size as usize)
            .map_raw_read_only(&file)
            .map_err(|err| OpenError::new(OpenStep::Mmap, err))?;
        // INVARIANT: both mappings have the lengths asked for (mmap maps all or fails),
        // at page-aligned addresses; `checked_geometry` proved the sizes sensible.
        let regions = Regions {
            consumer,
            shared,
            page,
            data_size,
        };
        // The producer page is a second statement of the geometry: checked against the
        // first, never used instead of it.
        let stated = regions
            .producer_word(PRODUCER_DATA_SIZE)
            .load(Ordering::Relaxed);
        let stated_max_payload = regions
            .producer_word(PRODUCER_MAX_PAYLOAD)
            .load(Ordering::Relaxed);
        if stated != data_size || stated_max_payload != info.max_payload {
            return Err(OpenError::geometry(format!(
                "the producer page says data_size {stated} and max_payload \
                 {stated_max_payload}, MYMAP_RING_IOC_INFO says {data_size} and {}",
                info.max_payload
            )));
        }
        let ioctls = RingIoctls {
            file: Arc::new(file),
        };
        Ok(OpenedRing {
            map: Self::new(regions, Some(ioctls.clone()), info.max_payload),
            ioctls,
            info,
        })
    }

    fn new(regions: Regions, file: Option<RingIoctls>, max_payload: u32) -> Self {
        // Our own earlier value, or a previous consumer's: whatever it is, `entry` and
        // `release` check it against the producer position before trusting it.
        let released = regions.consumer_pos().load(Ordering::Relaxed);
        RingMap {
            regions: Arc::new(regions),
            file,
            max_payload,
            released,
            producer: Cell::new(released),
        }
    }

    /// The size of the data area in bytes.
    pub fn data_size(&self) -> u32 {
        self.regions.data_size
    }

    /// The largest payload a record may carry.
    pub fn max_payload(&self) -> u32 {
        self.max_payload
    }

    /// The consumer position: where the next record starts.
    pub fn consumer_pos(&self) -> u32 {
        self.released
    }

    /// The producer position as last loaded by [`RingMap::load_producer`].
    pub fn producer_pos(&self) -> u32 {
        self.producer.get()
    }

    /// Loads the producer position with acquire ordering (step 1 of the contract) and
    /// makes it the end of the window [`RingMap::entry`] may read. Returns it.
    pub fn load_producer(&self) -> u32 {
        let pos = self
            .regions
            .producer_word(PRODUCER_POS)
            .load(Ordering::Acquire);
        self.producer.set(pos);
        pos
    }

    /// The producer page's count of dropped records (wrapping), loaded with acquire
    /// ordering.
    pub fn dropped(&self) -> u32 {
        self.regions
            .producer_word(PRODUCER_DROPPED)
            .load(Ordering::Acquire)
    }

    /// Bytes between the consumer and the producer position last loaded, or a fault if
    /// that is more than the data area.
    pub fn pending(&self) -> Result<u32, Fault> {
        let (consumer, producer) = (self.released, self.producer.get());
        let ahead = producer.wrapping_sub(consumer);
        if ahead > self.regions.data_size {
            return Err(Fault::Window { consumer, producer });
        }
        Ok(ahead)
    }

    /// Reads what is at position `pos`, which must lie in the window `[consumer
    /// position, producer position last loaded)`: a busy record, a wrap, or a committed
    /// record whose payload is lent until the next [`RingMap::release`].
    ///
    /// Checks, before reading any byte behind it, that the position is inside the window
    /// and 8-aligned; then that the `len` word is defined, the payload at most
    /// `max_payload`, and the record (or the wrap) inside the window and the data area.
    pub fn entry(&self, pos: u32) -> Result<Entry<'_>, Fault> {
        let ahead = self.pending()?;
        let at = pos.wrapping_sub(self.released);
        if at >= ahead {
            return Err(Fault::Outside { pos });
        }
        if pos % 8 != 0 {
            return Err(Fault::Unaligned { pos });
        }
        let data_size = self.regions.data_size;
        // Positions are untrusted: the mask keeps the offset inside the data area.
        let off = pos & (data_size - 1);
        let word = self.regions.len_word(off as usize).load(Ordering::Acquire);
        if word & MYMAP_RING_BUSY != 0 {
            return Ok(Entry::Busy);
        }
        if word == MYMAP_RING_WRAP {
            let size = data_size - off;
            if size > ahead - at {
                return Err(Fault::Overrun { pos, size });
            }
            return Ok(Entry::Wrap {
                next: pos.wrapping_add(size),
            });
        }
        if word & !(MYMAP_RING_LEN_MASK | MYMAP_RING_DISCARD) != 0 {
            return Err(Fault::BadLen { pos, word });
        }
        let len = word & MYMAP_RING_LEN_MASK;
        if len > self.max_payload {
            return Err(Fault::TooLong {
                pos,
                len,
                max: self.max_payload,
            });
        }
        let size = record_size(len);
        if size > ahead - at || size > data_size - off {
            return Err(Fault::Overrun { pos, size });
        }
        let off = off as usize;
        // SAFETY: `[off, off + size)` is inside the data area (checked just above), and
        // `off` is 8-aligned in a page-aligned area, as `mymap_ring_record` needs. The
        // record lies inside the window `[released, producer)`, where `producer` was
        // loaded with acquire ordering, and its `len` was just loaded with acquire ordering
        // without BUSY: the kernel wrote the header and payload before its release store
        // of `len`, so they are visible, and it writes them no more until the consumer
        // position moves past them (facts 2 and 3 of the module documentation). So this
        // plain read races with no write; any bytes are a valid all-integer struct.
        let mut header =
            unsafe { ptr::read(self.regions.data().add(off).cast::<mymap_ring_record>()) };
        header.len = len;
        // SAFETY: `[off + HEADER, off + HEADER + len)` is inside the record, so inside the
        // data area (above). As for the header, the bytes are visible and the kernel does
        // not write them until the consumer position moves past them. The position moves
        // only through `release(&mut self)` (or a simulated producer that obeys the same
        // contract), and the returned slice borrows `self`: while it lives, the bytes do
        // not change, which is what `&[u8]` promises.
        let payload = unsafe {
            std::slice::from_raw_parts(self.regions.data().add(off + HEADER), len as usize)
        };
        Ok(Entry::Record(RecordRef {
            header,
            discarded: word & MYMAP_RING_DISCARD != 0,
            payload,
            next: pos.wrapping_add(size),
        }))
    }

    /// Stores `pos` as the consumer position with release ordering (step 3 of the
    /// contract): the kernel may overwrite every byte before it from now on.
    ///
    /// `pos` must lie in `[consumer position, producer position last loaded]`. Taking
    /// `&mut self` ends every payload borrowed from [`RingMap::entry`] first.
    pub fn release(&mut self, pos: u32) -> Result<(), Fault> {
        let ahead = self.pending()?;
        if pos.wrapping_sub(self.released) > ahead {
            return Err(Fault::Outside { pos });
        }
        self.regions.consumer_pos().store(pos, Ordering::Release);
        // INVARIANT: `released` is the value just stored.
        self.released = pos;
        Ok(())
    }

    /// Gives up every waiting byte: loads the producer position and releases up to it,
    /// even if the window made no sense (a previous consumer's garbage). Returns how many
    /// bytes were skipped (wrapping).
    pub fn skip_to_producer(&mut self) -> u32 {
        let producer = self.load_producer();
        let skipped = producer.wrapping_sub(self.released);
        self.regions
            .consumer_pos()
            .store(producer, Ordering::Release);
        // INVARIANT: `released` is the value just stored, and equals `producer`.
        self.released = producer;
        skipped
    }

    /// Adds the claimed file to `epoll`'s interest list with `event`, so that waiting for
    /// records needs no access to the file itself (see the module documentation).
    ///
    /// Fails with `Unsupported` on a simulated ring.
    pub fn register(
        &self,
        epoll: &nix::sys::epoll::Epoll,
        event: nix::sys::epoll::EpollEvent,
    ) -> io::Result<()> {
        let Some(ioctls) = &self.file else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a simulated ring has no file to wait on",
            ));
        };
        Ok(epoll.add(&*ioctls.file, event)?)
    }

    /// Waits with `poll(2)` until the claimed file is readable (a record waits) or reports
    /// an error, for at most `timeout`, and returns its events (none: the time ran out).
    ///
    /// poll(2) is on the ring's wait queue for the call only, so between waits the driver
    /// sees nobody waiting and its producers queue no wakeup (`mymap.h`, "Wakeups"); a file
    /// in an epoll set ([`RingMap::register`]) stays on the queue, and is woken whenever a
    /// wakeup is due. Nothing wakes a simulated ring: the call sleeps out `timeout`.
    pub fn poll(&self, timeout: nix::poll::PollTimeout) -> io::Result<nix::poll::PollFlags> {
        let file = self.file.as_ref().map(|ioctls| &*ioctls.file);
        poll_file(file, nix::poll::PollFlags::POLLIN, timeout)
    }
}

/// `poll(2)` for `events` on a claimed file (a ring's or a tx ring's), for at most
/// `timeout`: the events it reports, none when the time ran out. Without a file (a
/// simulated ring, which nothing wakes) it sleeps out `timeout`.
pub(crate) fn poll_file(
    file: Option<&File>,
    events: nix::poll::PollFlags,
    timeout: nix::poll::PollTimeout,
) -> io::Result<nix::poll::PollFlags> {
    use nix::poll::{poll, PollFd, PollFlags};
    let Some(file) = file else {
        poll(&mut [], timeout)?;
        return Ok(PollFlags::empty());
    };
    let mut fds = [PollFd::new(file.as_fd(), events)];
    poll(&mut fds, timeout)?;
    Ok(fds[0].revents().unwrap_or(PollFlags::empty()))
}

/// Checks a ring's geometry as `MYMAP_RING_IOC_INFO` gives it, and returns the page size
/// and data size as the mapping code needs them.
pub(crate) fn checked_geometry(
    page_size: u32,
    data_size: u32,
    max_payload: u32,
) -> Result<(usize, u32), OpenError> {
    let usable = page_size.is_power_of_two()
        && page_size >= 64
        && data_size.is_power_of_two()
        && data_size >= page_size
        && u64::from(max_payload) + u64::from(MYMAP_RING_HEADER_SIZE) <= u64::from(data_size)
        && max_payload <= MYMAP_RING_LEN_MASK
        && usize::try_from(u64::from(page_size) * 2 + u64::from(data_size)).is_ok();
    if !usable {
        return Err(OpenError::geometry(format!(
            "unusable ring geometry: page_size {page_size}, data_size {data_size}, \
             max_payload {max_payload}"
        )));
    }
    Ok((page_size as usize, data_size))
}

#[cfg(feature = "simulator")]
pub use sim::{SimProducer, SimReservation, SIM_PAGE_SIZE};

#[cfg(any(test, feature = "simulator"))]
pub(crate) mod sim {
    //! A userspace stand-in for the kernel's side of the contract, for tests.

    use super::*;

    /// The page size of a simulated ring.
    pub const SIM_PAGE_SIZE: u32 = 4096;

    /// [`SIM_PAGE_SIZE`] for offsets.
    const SIM_PAGE: usize = SIM_PAGE_SIZE as usize;

    impl RingMap {
        /// A ring of `data_size` bytes (a power of two, at least 4096) in anonymous memory,
        /// with both positions at `start` (a multiple of 8: start near `u32::MAX` to see
        /// positions wrap), and the producer that fills it, with the driver's
        /// [`max_payload`].
        pub fn simulated(data_size: u32, start: u32) -> io::Result<(RingMap, SimProducer)> {
            let max_payload = max_payload(data_size);
            checked_geometry(SIM_PAGE as u32, data_size, max_payload).map_err(|err| err.error)?;
            if start % 8 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the start position must be a multiple of 8",
                ));
            }
            let consumer = MmapRaw::from(MmapOptions::new().len(SIM_PAGE).map_anon()?);
            let shared = MmapRaw::from(
                MmapOptions::new()
                    .len(SIM_PAGE + data_size as usize)
                    .map_anon()?,
            );
            // INVARIANT: as in `RingMap::open`; the producer page states the size below,
            // before any `RingMap` method can read it.
            let regions = Regions {
                consumer,
                shared,
                page: SIM_PAGE,
                data_size,
            };
            regions.consumer_pos().store(start, Ordering::Relaxed);
            regions
                .producer_word(PRODUCER_POS)
                .store(start, Ordering::Relaxed);
            regions
                .producer_word(PRODUCER_DATA_SIZE)
                .store(data_size, Ordering::Relaxed);
            regions
                .producer_word(PRODUCER_MAX_PAYLOAD)
                .store(max_payload, Ordering::Relaxed);
            let ring = RingMap::new(regions, None, max_payload);
            let producer = SimProducer {
                regions: Arc::clone(&ring.regions),
                pos: start,
                seq: 0,
                dropped: 0,
                pending: Vec::new(),
            };
            Ok((ring, producer))
        }
    }

    /// A record reserved by [`SimProducer::reserve`], still `MYMAP_RING_BUSY`.
    #[derive(Debug)]
    #[must_use = "a reservation blocks the consumer until it is committed or discarded"]
    pub struct SimReservation {
        pos: u32,
        len: u32,
    }

    /// The kernel's side of a simulated ring.
    ///
    /// It reserves, writes and commits records in the order `mymap.h` prescribes, drops
    /// them when full, and never writes a byte between the consumer and producer positions
    /// but the `len` of its own reservations; its producer position only moves forward.
    /// That is what makes the payloads [`RingMap::entry`] lends sound on a simulated ring
    /// too.
    #[derive(Debug)]
    pub struct SimProducer {
        regions: Arc<Regions>,
        /// The producer position; only this value stores it.
        pos: u32,
        seq: u64,
        dropped: u32,
        /// Reserved and not yet committed: (position, payload length).
        pending: Vec<(u32, u32)>,
    }

    impl SimProducer {
        /// Produces one record: reserve, write, commit. Returns false if it was dropped,
        /// the ring being full (the drop is counted and the sequence number consumed).
        pub fn push(&mut self, source: u16, flags: u16, timestamp_ns: u64, payload: &[u8]) -> bool {
            match self.reserve(source, flags, timestamp_ns, payload) {
                Some(reservation) => {
                    self.commit(reservation);
                    true
                }
                None => false,
            }
        }

        /// Reserves a record and writes its header (with BUSY) and payload, but does not
        /// commit it. `None` if it was dropped, or if the payload is above max_payload.
        pub fn reserve(
            &mut self,
            source: u16,
            flags: u16,
            timestamp_ns: u64,
            payload: &[u8],
        ) -> Option<SimReservation> {
            let data_size = self.regions.data_size;
            let max = self
                .regions
                .producer_word(PRODUCER_MAX_PAYLOAD)
                .load(Ordering::Relaxed);
            let len = u32::try_from(payload.len())
                .ok()
                .filter(|&len| len <= max)?;
            let size = record_size(len);
            let off = self.pos & (data_size - 1);
            let tail = data_size - off;
            let wrap = size > tail;
            let needed = if wrap { tail + size } else { size };
            if needed > self.free() {
                self.dropped = self.dropped.wrapping_add(1);
                self.seq += 1;
                self.regions
                    .producer_word(PRODUCER_DROPPED)
                    .store(self.dropped, Ordering::Release);
                return None;
            }
            if wrap {
                self.regions
                    .len_word(off as usize)
                    .store(MYMAP_RING_WRAP, Ordering::Relaxed);
                self.pos = self.pos.wrapping_add(tail);
            }
            let pos = self.pos;
            let off = (pos & (data_size - 1)) as usize;
            self.regions
                .len_word(off)
                .store(MYMAP_RING_BUSY | len, Ordering::Relaxed);
            let rest = mymap_ring_record {
                len: 0,
                source,
                flags,
                seq: self.seq,
                timestamp_ns,
            };
            // SAFETY: `[off, off + size)` is inside the data area (no wrap needed, or the
            // record starts at 0 and `size <= max_payload + 24 <= data_size`) and inside
            // the free space `[producer, consumer + data_size)`, which no consumer reads
            // (it reads only `[consumer, producer)`) nor borrows. Only this value writes
            // the shared memory, and `&mut self` serialises it. The mapping is writable
            // (anonymous). The header fields after `len` are written as bytes; `len` was
            // stored through its atomic above.
            unsafe {
                let data = self.regions.shared.as_mut_ptr().add(self.regions.page);
                let header = ptr::from_ref(&rest).cast::<u8>();
                ptr::copy_nonoverlapping(header.add(4), data.add(off + 4), HEADER - 4);
                ptr::copy_nonoverlapping(payload.as_ptr(), data.add(off + HEADER), payload.len());
            }
            self.seq += 1;
            self.publish(pos.wrapping_add(size));
            self.pending.push((pos, len));
            Some(SimReservation { pos, len })
        }

        /// Commits a reserved record: stores its `len` without BUSY, with release ordering.
        pub fn commit(&mut self, reservation: SimReservation) {
            self.finish(reservation, 0);
        }

        /// Commits a reserved record as discarded.
        pub fn discard(&mut self, reservation: SimReservation) {
            self.finish(reservation, MYMAP_RING_DISCARD);
        }

        /// Writes a header whose `len` word is `word` (anything, garbage included) at the
        /// producer position and moves the producer position `advance` bytes forward.
        /// Returns false, writing nothing, unless the header and `advance` both fit in the
        /// free space before the end of the data area.
        pub fn publish_raw(&mut self, word: u32, advance: u32) -> bool {
            let data_size = self.regions.data_size;
            let off = self.pos & (data_size - 1);
            let room = self.free().min(data_size - off);
            if room < MYMAP_RING_HEADER_SIZE || advance > room {
                return false;
            }
            // The word is in the free space: see `reserve`.
            self.regions
                .len_word(off as usize)
                .store(word, Ordering::Relaxed);
            self.publish(self.pos.wrapping_add(advance));
            true
        }

        /// Moves the producer position `by` bytes forward without writing anything: past
        /// the free space, that is a position no kernel would publish.
        pub fn advance(&mut self, by: u32) {
            self.publish(self.pos.wrapping_add(by));
        }

        /// The producer position.
        pub fn pos(&self) -> u32 {
            self.pos
        }

        /// The next sequence number.
        pub fn seq(&self) -> u64 {
            self.seq
        }

        /// Bytes free for new records: `data_size - (producer - consumer)`, 0 if the
        /// positions make no sense.
        ///
        /// Also forgets the reservations the consumer skipped past (it can, by giving up
        /// its window): their bytes are free space now, which this producer may reuse, so
        /// committing them later would write into someone else's record.
        fn free(&mut self) -> u32 {
            let consumer = self.regions.consumer_pos().load(Ordering::Acquire);
            let ahead = self.pos.wrapping_sub(consumer);
            self.pending
                .retain(|&(pos, _)| pos.wrapping_sub(consumer) < ahead);
            self.regions.data_size.saturating_sub(ahead)
        }

        fn publish(&mut self, pos: u32) {
            self.pos = pos;
            self.regions
                .producer_word(PRODUCER_POS)
                .store(pos, Ordering::Release);
        }

        fn finish(&mut self, reservation: SimReservation, flag: u32) {
            let SimReservation { pos, len } = reservation;
            let Some(at) = self.pending.iter().position(|&entry| entry == (pos, len)) else {
                // Another producer's reservation: it is not ours to commit.
                return;
            };
            self.pending.swap_remove(at);
            let consumer = self.regions.consumer_pos().load(Ordering::Acquire);
            if pos.wrapping_sub(consumer) >= self.pos.wrapping_sub(consumer) {
                // The consumer skipped past it: its bytes are free space now.
                return;
            }
            let off = (pos & (self.regions.data_size - 1)) as usize;
            self.regions
                .len_word(off)
                .store(len | flag, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_round_up_to_8_and_ignore_the_flags() {
        assert_eq!(record_size(0), 24);
        assert_eq!(record_size(1), 32);
        assert_eq!(record_size(8), 32);
        assert_eq!(record_size(9), 40);
        assert_eq!(record_size(64), 88);
        assert_eq!(record_size(MYMAP_RING_BUSY | MYMAP_RING_DISCARD | 8), 32);
        assert_eq!(record_size(MYMAP_RING_LEN_MASK), 0x1000_0018);
    }

    #[test]
    fn max_payload_is_a_quarter_of_the_data_area_less_a_header() {
        assert_eq!(max_payload(4096), 1000);
        assert_eq!(max_payload(65536), 16360);
        assert_eq!(max_payload(262144), 65512);
        assert_eq!(max_payload(MYMAP_RING_HEADER_SIZE * 4), 0);
        assert_eq!(
            max_payload(64),
            0,
            "too small a ring saturates instead of wrapping"
        );
    }

    #[test]
    fn geometry_must_make_sense() {
        assert!(checked_geometry(4096, 262144, 65512).is_ok());
        assert!(checked_geometry(4096, 4096, 1000).is_ok());
        for (page, data, max) in [
            (4096, 262143, 100),
            (4096, 2048, 100),
            (3000, 262144, 100),
            (0, 262144, 100),
            (4096, 4096, 4096 - 23),
        ] {
            let err = checked_geometry(page, data, max).unwrap_err();
            assert_eq!(err.step, OpenStep::Geometry);
            assert_eq!(err.error.kind(), io::ErrorKind::InvalidData);
        }
    }

    fn record<'a>(ring: &'a RingMap, pos: u32) -> RecordRef<'a> {
        match ring.entry(pos) {
            Ok(Entry::Record(record)) => record,
            other => panic!("no record at {pos}: {other:?}"),
        }
    }

    #[test]
    fn a_committed_record_is_read_back() {
        let (mut ring, mut sim) = RingMap::simulated(4096, 0).unwrap();
        assert!(sim.push(7, 3, 1234, b"hello"));
        assert_eq!(ring.load_producer(), 32);
        let rec = record(&ring, 0);
        assert_eq!(rec.payload, b"hello");
        assert_eq!(
            (rec.header.len, rec.header.source, rec.header.flags),
            (5, 7, 3)
        );
        assert_eq!((rec.header.seq, rec.header.timestamp_ns), (0, 1234));
        assert!(!rec.discarded);
        assert_eq!(rec.next, 32);
        ring.release(32).unwrap();
        assert_eq!(ring.consumer_pos(), 32);
        assert_eq!(ring.entry(32).unwrap_err(), Fault::Outside { pos: 32 });
    }

    #[test]
    fn busy_discard_and_wrap() {
        let (mut ring, mut sim) = RingMap::simulated(4096, 0).unwrap();
        let first = sim.reserve(1, 0, 0, &[1; 8]).unwrap();
        ring.load_producer();
        assert!(matches!(ring.entry(0), Ok(Entry::Busy)));
        sim.discard(first);
        assert!(record(&ring, 0).discarded);
        ring.release(32).unwrap();
        // Fill up to 8 bytes before the end, then a record that must wrap.
        for len in [1000, 1000, 1000, 960] {
            assert!(sim.push(1, 0, 0, &vec![0; len]));
        }
        assert_eq!(ring.load_producer(), 4096 - 8);
        ring.release(4096 - 8).unwrap();
        assert!(sim.push(1, 0, 0, b"wrapped"));
        assert_eq!(ring.load_producer(), 4096 + 32);
        assert!(matches!(
            ring.entry(4096 - 8),
            Ok(Entry::Wrap { next: 4096 })
        ));
        assert_eq!(record(&ring, 4096).payload, b"wrapped");
    }

    #[test]
    fn a_full_ring_drops_and_counts() {
        let (mut ring, mut sim) = RingMap::simulated(4096, 0).unwrap();
        let mut pushed = 0;
        while sim.push(1, 0, 0, &[0; 1000]) {
            pushed += 1;
        }
        assert_eq!(pushed, 4);
        assert_eq!(ring.dropped(), 1);
        assert_eq!(sim.seq(), 5);
        ring.skip_to_producer();
        assert!(sim.push(1, 0, 0, &[0; 1000]));
    }

    #[test]
    fn positions_wrap_around_u32() {
        let start = 0u32.wrapping_sub(64);
        let (mut ring, mut sim) = RingMap::simulated(4096, start).unwrap();
        for i in 0..4u8 {
            assert!(sim.push(1, 0, 0, &[i; 16]));
        }
        // 4 records of 40 bytes from data offset 4032: the second wraps (24 bytes lost).
        assert_eq!(ring.load_producer(), 120);
        let mut pos = start;
        let mut seen = Vec::new();
        while pos != 120 {
            pos = match ring.entry(pos).unwrap() {
                Entry::Wrap { next } => next,
                Entry::Record(rec) => {
                    seen.push(rec.payload[0]);
                    rec.next
                }
                Entry::Busy => panic!("busy at {pos}"),
            };
        }
        assert_eq!(seen, [0, 1, 2, 3]);
        ring.release(pos).unwrap();
    }

    #[test]
    fn garbage_is_a_fault_not_an_access() {
        let (mut ring, mut sim) = RingMap::simulated(4096, 0).unwrap();
        assert!(sim.publish_raw(0x1000_0000, 32));
        ring.load_producer();
        assert_eq!(
            ring.entry(0).unwrap_err(),
            Fault::BadLen {
                pos: 0,
                word: 0x1000_0000
            }
        );
        ring.skip_to_producer();
        assert_eq!(ring.max_payload(), 1000);
        assert!(sim.publish_raw(1001, 32));
        ring.load_producer();
        assert_eq!(
            ring.entry(32).unwrap_err(),
            Fault::TooLong {
                pos: 32,
                len: 1001,
                max: 1000
            }
        );
        ring.skip_to_producer();
        // A length that fits max_payload but reaches past the producer position.
        assert!(sim.publish_raw(100, 32));
        ring.load_producer();
        assert_eq!(
            ring.entry(64).unwrap_err(),
            Fault::Overrun { pos: 64, size: 128 }
        );
        ring.skip_to_producer();
        // A producer position that no kernel would publish.
        sim.advance(8192);
        ring.load_producer();
        assert_eq!(
            ring.entry(96).unwrap_err(),
            Fault::Window {
                consumer: 96,
                producer: 96 + 8192
            }
        );
        assert_eq!(
            ring.release(100).unwrap_err(),
            Fault::Window {
                consumer: 96,
                producer: 96 + 8192
            }
        );
        ring.skip_to_producer();
        // An unaligned position inside the window.
        sim.advance(16);
        ring.load_producer();
        assert_eq!(
            ring.entry(96 + 8192 + 4).unwrap_err(),
            Fault::Unaligned { pos: 96 + 8192 + 4 }
        );
        assert_eq!(
            ring.release(96 + 8192 + 24).unwrap_err(),
            Fault::Outside {
                pos: 96 + 8192 + 24
            }
        );
    }
}
