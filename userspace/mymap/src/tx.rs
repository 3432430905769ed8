// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Tx rings: records streamed from one userspace producer to a kernel consumer
//! (/dev/mymap-txN), and the GPIO player that consumes them.
//!
//! [`TxRing`] is the one producer: it claims the tx ring, maps it, copies records
//! in, waits for space with poll(2), and kicks the kernel consumer. [`Play`] and
//! [`Played`] are the GPIO player's record and completion; the completions are
//! read from the paired /dev/mymap-ringN with an ordinary [`Ring`](crate::Ring).
//! The contract is the one in `mymap.h` ("Tx rings", "The GPIO player"); the
//! shared-memory accesses are `mymap_uapi::TxMap`'s.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mymap_uapi::{
    mymap_play, mymap_ring_record, mymap_tx_info, mymap_tx_stats, Fault, OpenError, OpenStep,
    OpenedTx, TxIoctls, TxMap, MYMAP_PLAY_FLUSH, MYMAP_PLAY_START, MYMAP_PLAY_STOP,
    MYMAP_SOURCE_PLAYED,
};
use nix::poll::PollFlags;

use crate::device::Result;
use crate::error::{Call, Error};
use crate::ring::{poll_timeout, Record};

/// Most lines a GPIO player's set has (`MYMAP_PLAY_MAX_LINES`): line i is bit i of
/// [`Play::mask`].
pub const PLAY_MAX_LINES: u32 = mymap_uapi::MYMAP_PLAY_MAX_LINES;

/// The device node of tx ring 0; tx ring N is `/dev/mymap-txN` ([`tx_path`]).
pub const DEFAULT_TX_PATH: &str = "/dev/mymap-tx0";

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock of [`Play::time_ns`] and of every
/// record timestamp.
pub fn monotonic_ns() -> u64 {
    // CLOCK_MONOTONIC always exists, and starts at boot: never negative.
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|now| {
            u64::try_from(now.tv_sec()).unwrap_or(0) * 1_000_000_000
                + u64::try_from(now.tv_nsec()).unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The device node of tx ring `index`: `/dev/mymap-tx<index>`.
pub fn tx_path(index: u32) -> PathBuf {
    PathBuf::from(format!("/dev/mymap-tx{index}"))
}

/// What a tx ring says about itself (`MYMAP_TX_IOC_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TxInfo {
    /// The ABI version of the driver.
    pub abi_version: u32,
    /// The kernel page size.
    pub page_size: u32,
    /// N of /dev/mymap-txN.
    pub index: u32,
    /// How many tx rings the module registered.
    pub rings: u32,
    /// Bytes in the data area, a power of two.
    pub data_size: u32,
    /// The largest payload a record may carry.
    pub max_payload: u32,
    /// Whether a file holds the producer claim.
    pub producer_claimed: bool,
    /// N of the /dev/mymap-ringN the built-in echo produces into, `None` if none.
    pub echo_ring: Option<u32>,
}

impl From<mymap_tx_info> for TxInfo {
    fn from(raw: mymap_tx_info) -> Self {
        let mymap_tx_info {
            abi_version,
            page_size,
            index,
            rings,
            data_size,
            max_payload,
            producer_claimed,
            echo_ring,
        } = raw;
        TxInfo {
            abi_version,
            page_size,
            index,
            rings,
            data_size,
            max_payload,
            producer_claimed: producer_claimed != 0,
            echo_ring: (echo_ring != u32::MAX).then_some(echo_ring),
        }
    }
}

/// A tx ring's counters since the module was loaded (`MYMAP_TX_IOC_STATS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TxStats {
    /// Records the kernel consumer took.
    pub consumed: u64,
    /// Records skipped because of `MYMAP_RING_DISCARD`.
    pub discarded: u64,
    /// Malformed headers, each skipping to the producer position.
    pub malformed: u64,
    /// Bytes skipped after malformed headers.
    pub skipped_bytes: u64,
    /// Looks that found a refused producer position.
    pub bad_position: u64,
    /// Records the kernel consumer refused (for the player: a wrong length or mask).
    pub rejected: u64,
    /// `MYMAP_TX_IOC_KICK` calls.
    pub kicks: u64,
    /// Records the echo's ring dropped, being full.
    pub echo_dropped: u64,
    /// The kernel's consumer position.
    pub consumer_pos: u32,
}

impl From<mymap_tx_stats> for TxStats {
    fn from(raw: mymap_tx_stats) -> Self {
        let mymap_tx_stats {
            consumed,
            discarded,
            malformed,
            skipped_bytes,
            bad_position,
            rejected,
            kicks,
            echo_dropped,
            consumer_pos,
            reserved: _,
        } = raw;
        TxStats {
            consumed,
            discarded,
            malformed,
            skipped_bytes,
            bad_position,
            rejected,
            kicks,
            echo_dropped,
            consumer_pos,
        }
    }
}

/// A record for the GPIO player (`struct mymap_play`): at `time_ns` on
/// `CLOCK_MONOTONIC`, set the lines of `mask` to `values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Play {
    /// When, `CLOCK_MONOTONIC` in nanoseconds, absolute.
    pub time_ns: u64,
    /// The lines to set: bit i is line i of the player's set.
    pub mask: u32,
    /// Their values: bit i for line i (bits outside `mask` are ignored).
    pub values: u32,
}

impl Play {
    /// The payload bytes of a player record: `sizeof(struct mymap_play)`.
    pub const PAYLOAD_LEN: u32 = core::mem::size_of::<mymap_play>() as u32;

    /// The record's payload, as the tx ring carries it.
    pub fn to_payload(&self) -> [u8; 16] {
        mymap_uapi::tx::play_payload(&mymap_play {
            time_ns: self.time_ns,
            mask: self.mask,
            values: self.values,
        })
    }
}

/// A completion of the GPIO player (`struct mymap_played`, source
/// `MYMAP_SOURCE_PLAYED`), read from the paired ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Played {
    /// The tx record's sequence number ([`TxRing::try_play`] returns it).
    pub seq: u64,
    /// The time the record asked for, `CLOCK_MONOTONIC` in nanoseconds.
    pub requested_ns: u64,
    /// `CLOCK_MONOTONIC` right after the lines were set.
    pub actual_ns: u64,
    /// The values set (bits of the record's mask only).
    pub values: u32,
    /// The record's time had passed when the player took it: it was played at once.
    pub late: bool,
}

impl Played {
    /// The completion a ring record carries; `None` unless its source is
    /// `MYMAP_SOURCE_PLAYED` and its payload a `struct mymap_played`.
    pub fn from_record(record: &Record<'_>) -> Option<Played> {
        if u32::from(record.source) != MYMAP_SOURCE_PLAYED {
            return None;
        }
        let raw = mymap_uapi::tx::played_from_payload(record.payload)?;
        Some(Played {
            seq: raw.seq,
            requested_ns: raw.requested_ns,
            actual_ns: raw.actual_ns,
            values: raw.values,
            late: mymap_uapi::tx::played_late(&raw),
        })
    }

    /// Actual minus requested time in nanoseconds: never negative from a player that
    /// keeps its promise ("never played before its time").
    pub fn delay_ns(&self) -> i128 {
        i128::from(self.actual_ns) - i128::from(self.requested_ns)
    }
}

/// The producer of a tx ring: claims it, maps it, and copies records in.
///
/// Only one file at a time may hold a tx ring's producer claim: [`TxRing::open`] fails
/// with [`Error::TxBusy`] while another holds it, and the claim ends when the `TxRing`
/// is dropped.
///
/// Records go in with a copy ([`TxRing::try_send`], [`TxRing::send`]), not through a
/// reservation that lends the ring's memory: a record is at most `MYMAP_TX_MAX_PAYLOAD`
/// bytes, so the copy is cheap, and a lent `&mut [u8]` of shared memory would need a
/// proof that nothing else writes it, which a forked child's mapping breaks. Each send
/// publishes its record (one store); the kernel looks at the ring on [`TxRing::kick`],
/// one system call per batch.
///
/// ```no_run
/// use std::time::Duration;
///
/// let mut tx = mymap::TxRing::open(mymap::tx_path(0))?;
/// for i in 0..100u32 {
///     // Waits up to a second for space when the ring is full.
///     tx.send(mymap::source::DRIVER_FIRST, 0, 0, &i.to_le_bytes(), Some(Duration::from_secs(1)))?;
/// }
/// let taken = tx.kick()?;
/// println!("the kernel took {taken} records");
/// # Ok::<(), mymap::Error>(())
/// ```
#[derive(Debug)]
pub struct TxRing {
    map: TxMap,
    /// The claimed file's ioctls; `None` for a simulated tx ring.
    ioctls: Option<TxIoctls>,
    path: PathBuf,
    info: TxInfo,
    next_seq: u64,
}

impl TxRing {
    /// Opens the tx ring at `path` for reading and writing, which claims it for this
    /// producer, and maps it: page 0 and the data area read-write, page 1 read-only.
    ///
    /// The producer position starts at the kernel's consumer position: records an
    /// earlier producer left and the kernel has not taken are given up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let OpenedTx { map, ioctls, info } =
            TxMap::open(path).map_err(|err| open_error(path, err))?;
        Ok(TxRing {
            map,
            ioctls: Some(ioctls),
            path: path.into(),
            info: info.into(),
            next_seq: 0,
        })
    }

    /// A tx ring without the driver, and the consumer that drains it: `data_size` bytes
    /// of data area (a power of two, at least 4096) in memory of this process, with the
    /// driver's `max_payload`. Needs the `simulator` feature.
    ///
    /// Sending works as on a device; the calls that ask the driver ([`TxRing::stats`],
    /// [`TxRing::kick`], the player's) fail, and nothing wakes [`TxRing::wait_writable`]:
    /// it returns at once when the record fits, else after its timeout. Its
    /// [`TxRing::path`] is `simulated`.
    ///
    /// ```
    /// # #[cfg(feature = "simulator")]
    /// # {
    /// let (mut tx, mut kernel) = mymap::TxRing::simulated(4096)?;
    /// assert_eq!(tx.try_send(mymap::source::DRIVER_FIRST, 0, 0, b"hello")?, Some(0));
    /// let taken = kernel.drain().expect("a well-formed record");
    /// assert_eq!(taken[0].1, b"hello");
    /// # }
    /// # Ok::<(), mymap::Error>(())
    /// ```
    #[cfg(feature = "simulator")]
    pub fn simulated(data_size: u32) -> Result<(Self, mymap_uapi::SimTxConsumer)> {
        let path = Path::new("simulated");
        let (map, consumer) =
            TxMap::simulated(data_size, 0).map_err(|err| Error::from_io(path, Call::Open, err))?;
        let info = TxInfo {
            abi_version: crate::info::ABI_VERSION,
            page_size: mymap_uapi::ring::SIM_PAGE_SIZE,
            index: 0,
            rings: 1,
            data_size: map.data_size(),
            max_payload: map.max_payload(),
            producer_claimed: true,
            echo_ring: None,
        };
        let tx = TxRing {
            map,
            ioctls: None,
            path: path.into(),
            info,
            next_seq: 0,
        };
        Ok((tx, consumer))
    }

    /// The path the tx ring was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tx ring's geometry as it was at open.
    pub fn geometry(&self) -> &TxInfo {
        &self.info
    }

    /// Asks the driver for the tx ring's [`TxInfo`] now.
    pub fn info(&self) -> Result<TxInfo> {
        let ioctls = self.ioctls(Call::TxInfo)?;
        ioctls
            .info()
            .map(TxInfo::from)
            .map_err(|err| self.fail(Call::TxInfo, err))
    }

    /// The tx ring's counters (`MYMAP_TX_IOC_STATS`).
    pub fn stats(&self) -> Result<TxStats> {
        let ioctls = self.ioctls(Call::TxStats)?;
        ioctls
            .stats()
            .map(TxStats::from)
            .map_err(|err| self.fail(Call::TxStats, err))
    }

    /// The sequence number the next record gets: records are numbered from 0 by this
    /// producer, and the number travels in the record's header (the player copies it
    /// into its completion).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes free for records now (the kernel's consumer position loaded without a
    /// system call).
    pub fn free(&self) -> Result<u32> {
        self.map.free().map_err(|fault| self.corrupt(fault))
    }

    /// Writes and publishes one record if it fits now, and returns its sequence number;
    /// `None` if the ring is full (nothing written). The kernel sees it at the next
    /// [`TxRing::kick`] (or its own timer).
    ///
    /// `source`, `flags` and `timestamp_ns` go into the header and mean what the ring's
    /// kernel consumer says (the echo keeps `flags` and the payload; the player ignores
    /// all three). A payload above `max_payload` fails with [`Error::TooLong`].
    pub fn try_send(
        &mut self,
        source: u16,
        flags: u16,
        timestamp_ns: u64,
        payload: &[u8],
    ) -> Result<Option<u64>> {
        let seq = self.next_seq;
        let header = mymap_ring_record {
            len: 0,
            source,
            flags,
            seq,
            timestamp_ns,
        };
        match self.map.write(&header, payload) {
            Ok(false) => Ok(None),
            Ok(true) => {
                self.map.publish();
                self.next_seq += 1;
                Ok(Some(seq))
            }
            Err(Fault::TooLong { len, max, .. }) => Err(Error::TooLong {
                path: self.path.clone(),
                len,
                max,
            }),
            Err(fault) => Err(self.corrupt(fault)),
        }
    }

    /// [`TxRing::try_send`], waiting for space for at most `timeout` (`None`: as long as
    /// it takes) when the ring is full. `None` if the time ran out.
    ///
    /// Kicks before it waits: records sent but not yet kicked would otherwise never
    /// free their space for a consumer that only looks on a kick.
    pub fn send(
        &mut self,
        source: u16,
        flags: u16,
        timestamp_ns: u64,
        payload: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Option<u64>> {
        let end = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            if let Some(seq) = self.try_send(source, flags, timestamp_ns, payload)? {
                return Ok(Some(seq));
            }
            if self.ioctls.is_some() {
                self.kick()?;
            }
            let left = end.map(|end| end.saturating_duration_since(Instant::now()));
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            if !self.wait_writable(len, left)? {
                return Ok(None);
            }
        }
    }

    /// Waits until a record of `len` payload bytes fits, for at most `timeout` (`None`:
    /// as long as it takes), with `poll(2)` for `POLLOUT` on the tx ring. Returns
    /// whether it fits.
    ///
    /// The driver reports `EPOLLOUT` while room for any record is free, so a small
    /// record may fit before the wait ends: the space is checked first, without a system
    /// call. Signals do not end the wait early. `POLLERR` (the driver refuses the
    /// published producer position, which a producer keeping the contract never
    /// publishes) is [`Error::Corrupt`].
    pub fn wait_writable(&self, len: u32, timeout: Option<Duration>) -> Result<bool> {
        let end = timeout.map(|timeout| Instant::now() + timeout);
        loop {
            if self.map.needed(len) <= self.free()? {
                return Ok(true);
            }
            let left = end.map(|end| end.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Ok(false);
            }
            match self.map.poll(poll_timeout(left)) {
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(self.fail(Call::Poll, err)),
                Ok(events) if events.contains(PollFlags::POLLERR) => {
                    return Err(self.corrupt(Fault::Outside {
                        pos: self.map.published_pos(),
                    }));
                }
                Ok(_) => continue,
            }
        }
    }

    /// Has the kernel consumer look at the ring now (`MYMAP_TX_IOC_KICK`): one system call
    /// per batch of records. Returns how many records it took (for the player: played or
    /// held).
    pub fn kick(&self) -> Result<u32> {
        let ioctls = self.ioctls(Call::Kick)?;
        ioctls.kick().map_err(|err| self.fail(Call::Kick, err))
    }

    /// Starts the GPIO player: it plays records as they come (`MYMAP_PLAY_START`).
    /// [`Error::NoPlayer`] on a tx ring without one.
    pub fn start(&self) -> Result<()> {
        self.play_op(MYMAP_PLAY_START).map(drop)
    }

    /// Stops the player after the record being set; the next one stays for a later
    /// [`TxRing::start`] (`MYMAP_PLAY_STOP`).
    pub fn stop(&self) -> Result<()> {
        self.play_op(MYMAP_PLAY_STOP).map(drop)
    }

    /// Stops the player and throws away every record not yet played
    /// (`MYMAP_PLAY_FLUSH`). Returns how many.
    pub fn flush(&self) -> Result<u32> {
        self.play_op(MYMAP_PLAY_FLUSH)
    }

    /// Sends a player record if it fits now ([`TxRing::try_send`] of [`Play::to_payload`]):
    /// its sequence number, which its [`Played`] completion carries, or `None` if the ring
    /// is full.
    pub fn try_play(&mut self, play: &Play) -> Result<Option<u64>> {
        self.try_send(0, 0, 0, &play.to_payload())
    }

    /// Sends a player record, waiting for space as [`TxRing::send`] does.
    pub fn play(&mut self, play: &Play, timeout: Option<Duration>) -> Result<Option<u64>> {
        self.send(0, 0, 0, &play.to_payload(), timeout)
    }

    fn play_op(&self, op: u32) -> Result<u32> {
        let ioctls = self.ioctls(Call::Play)?;
        ioctls.play(op).map_err(|err| self.fail(Call::Play, err))
    }

    /// The claimed file's ioctls; an error naming what works on a simulated tx ring.
    fn ioctls(&self, call: Call) -> Result<&TxIoctls> {
        self.ioctls.as_ref().ok_or_else(|| {
            let err = std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a simulated tx ring has no driver to ask: only geometry, free, send and \
                 wait_writable work on it",
            );
            self.fail(call, err)
        })
    }

    fn fail(&self, call: Call, err: std::io::Error) -> Error {
        Error::from_io(&self.path, call, err)
    }

    fn corrupt(&self, fault: Fault) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            fault,
        }
    }
}

/// The library error for a failed step of `TxMap::open`: [`Error::TxBusy`] where another
/// producer holds the claim, else as for a ring.
fn open_error(path: &Path, err: OpenError) -> Error {
    if matches!(err.step, OpenStep::Open) && err.error.raw_os_error() == Some(libc::EBUSY) {
        return Error::TxBusy {
            path: path.into(),
            err: err.error,
        };
    }
    crate::error::open_error(path, err, Call::TxInfo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_moves_forward() {
        let before = monotonic_ns();
        assert!(before > 0);
        assert!(monotonic_ns() >= before);
    }

    #[test]
    fn tx_paths_are_numbered() {
        assert_eq!(tx_path(0), Path::new(DEFAULT_TX_PATH));
        assert_eq!(tx_path(3), Path::new("/dev/mymap-tx3"));
    }

    #[test]
    fn info_says_no_echo_ring_for_all_ones() {
        let raw = mymap_tx_info {
            abi_version: crate::info::ABI_VERSION,
            page_size: 4096,
            index: 1,
            rings: 2,
            data_size: 65536,
            max_payload: 1000,
            producer_claimed: 1,
            echo_ring: u32::MAX,
        };
        let info = TxInfo::from(raw);
        assert_eq!(info.echo_ring, None);
        assert!(info.producer_claimed);
        let info = TxInfo::from(mymap_tx_info {
            echo_ring: 1,
            ..raw
        });
        assert_eq!(info.echo_ring, Some(1));
    }

    #[test]
    fn a_busy_open_names_the_producer_claim() {
        let err = open_error(
            Path::new("/dev/mymap-tx0"),
            OpenError {
                step: OpenStep::Open,
                error: std::io::Error::from_raw_os_error(libc::EBUSY),
            },
        );
        assert!(matches!(err, Error::TxBusy { .. }), "{err:?}");
        assert!(err.to_string().contains("one producer"), "{err}");
    }

    #[test]
    fn a_completion_is_read_from_a_played_record_only() {
        let mut payload = Vec::new();
        for word in [9u64, 1_000, 1_250] {
            payload.extend_from_slice(&word.to_ne_bytes());
        }
        payload.extend_from_slice(&3u32.to_ne_bytes());
        payload.extend_from_slice(&0u32.to_ne_bytes());
        let record = |source: u32, payload| Record {
            seq: 0,
            timestamp_ns: 0,
            source: source as u16,
            flags: 0,
            payload,
            dropped_before: 0,
        };
        let played = Played::from_record(&record(MYMAP_SOURCE_PLAYED, &payload)).unwrap();
        assert_eq!(
            played,
            Played {
                seq: 9,
                requested_ns: 1_000,
                actual_ns: 1_250,
                values: 3,
                late: false
            }
        );
        assert_eq!(played.delay_ns(), 250);
        assert!(Played::from_record(&record(mymap_uapi::MYMAP_SOURCE_TX, &payload)).is_none());
        assert!(Played::from_record(&record(MYMAP_SOURCE_PLAYED, &payload[..16])).is_none());
    }

    #[cfg(feature = "simulator")]
    #[test]
    fn a_simulated_tx_ring_sends_in_order_and_refuses_when_full() {
        let (mut tx, mut kernel) = TxRing::simulated(4096).unwrap();
        let play = Play {
            time_ns: 5,
            mask: 1,
            values: 1,
        };
        let mut sent = 0;
        while let Some(seq) = tx.try_play(&play).unwrap() {
            assert_eq!(seq, sent);
            sent += 1;
        }
        // 40 bytes a record (24 + 16): 102 fill 4080 bytes, and 16 are left.
        assert_eq!(sent, 102);
        assert_eq!(tx.free().unwrap(), 16);
        assert!(!tx
            .wait_writable(16, Some(Duration::from_millis(1)))
            .unwrap());
        let taken = kernel.drain().unwrap();
        assert_eq!(taken.len(), 102);
        assert!(taken
            .iter()
            .enumerate()
            .all(|(i, (head, payload))| head.seq == i as u64 && payload == &play.to_payload()));
        assert!(tx.wait_writable(16, Some(Duration::ZERO)).unwrap());
        assert_eq!(tx.try_play(&play).unwrap(), Some(102));
        let err = tx.kick().unwrap_err();
        assert!(err.to_string().contains("no driver"), "{err}");
        let err = tx
            .try_send(0, 0, 0, &vec![0; tx.geometry().max_payload as usize + 1])
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooLong {
                    len: 1001,
                    max: 1000,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
