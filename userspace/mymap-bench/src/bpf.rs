// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The BPF ring buffer peer (issue 20): a `BPF_MAP_TYPE_RINGBUF` of the ring's
//! size, filled by the XDP programs of bpf/ringbuf-peer.bpf.c run with
//! `BPF_PROG_TEST_RUN`, and consumed with `aya`'s `RingBuf`, the Rust port of
//! libbpf's consumer loop, as a BPF user ships it.
//!
//! `aya` 0.14: pure Rust (no libbpf or headers to cross-build for the boards),
//! loads an object without kernel BTF, and has `BPF_PROG_TEST_RUN`
//! (`TestRun`) and the ring buffer's consumer, so the bench needs no system
//! call of its own. It is the newest release that builds with the
//! workspace's toolchain: 0.15 and 0.16 need Rust 1.98.
//!
//! A record's sample is its sequence number and its `bpf_ktime_get_ns()`
//! timestamp (two native-endian `u64`s), then the payload of mymap's built-in
//! producers; a sample without payload is the end marker. So a BPF record of
//! `len` payload bytes takes the ring space of a mymap record of `len` bytes:
//! an 8-byte header and 16 bytes of sample against mymap's 24-byte header.

use std::{
    error::Error,
    io,
    os::fd::AsFd,
    time::Duration, //
};

use aya::{
    maps::{
        Array,
        MapData,
        RingBuf, //
    },
    programs::{
        TestRun,
        TestRunOptions,
        Xdp, //
    },
    Ebpf,
    EbpfLoader, //
};
use nix::{
    errno::Errno,
    sys::epoll::{
        Epoll,
        EpollCreateFlags,
        EpollEvent,
        EpollFlags,
        EpollTimeout, //
    },
};

/// The programs' object, built by build.rs.
const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ringbuf-peer.bpf.o"));
/// The sample's bytes before its payload: sequence number and timestamp.
pub const SAMPLE_HEAD: usize = 16;
/// At most this many records per program run (the program's `BATCH_MAX`).
const BATCH_MAX: u64 = 512;
/// The words of the `STATE` map's one entry (the program's `STATE_*`).
#[cfg(test)]
const STATE_SEQ: usize = 0;
const STATE_DROPPED: usize = 1;
/// The program's `XDP_PASS`: the marker went in.
const XDP_PASS: u32 = 2;

/// When the producer wakes the consumer (the program's `MODE_*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wakeups {
    /// BPF's default: `bpf_ringbuf_submit` with flags 0, which wakes when the
    /// consumer had caught up with the record.
    Adaptive = 0,
    /// `BPF_RB_NO_WAKEUP`, and `BPF_RB_FORCE_WAKEUP` every 500 records.
    Sampled = 1,
}

/// The payload sizes the programs make, each its own program (the size a
/// `bpf_ringbuf_reserve` asks for must be a constant).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Len {
    B8,
    B64,
    B4k,
}

impl Len {
    /// The program making records of `bytes` payload bytes.
    pub fn of(bytes: u32) -> Option<Len> {
        match bytes {
            8 => Some(Len::B8),
            64 => Some(Len::B64),
            4096 => Some(Len::B4k),
            _ => None,
        }
    }

    fn program(self) -> &'static str {
        match self {
            Len::B8 => "records_8",
            Len::B64 => "records_64",
            Len::B4k => "records_4k",
        }
    }
}

const PROGRAMS: [&str; 4] = ["records_8", "records_64", "records_4k", "marker"];

/// What one call of the producer did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Made {
    pub produced: u64,
    pub dropped: u64,
}

/// The producer: the loaded programs and their state, for the producers'
/// thread.
pub struct Producer {
    ebpf: Ebpf,
    state: Array<MapData, [u64; 2]>,
}

/// The consumer: `aya`'s `RingBuf` on the ring, and an epoll set holding it,
/// as libbpf's `ring_buffer__poll` waits.
pub struct Consumer {
    ring: RingBuf<MapData>,
    epoll: Epoll,
}

/// One record as the consumer sees it.
pub struct Sample<'a> {
    pub seq: u64,
    pub timestamp_ns: u64,
    pub payload: &'a [u8],
}

impl Sample<'_> {
    /// Reads a record's sample; `None` if it is shorter than its head.
    fn parse(bytes: &[u8]) -> Option<Sample<'_>> {
        let word = |i: usize| u64::from_ne_bytes(bytes[i..i + 8].try_into().unwrap());
        (bytes.len() >= SAMPLE_HEAD).then(|| Sample {
            seq: word(0),
            timestamp_ns: word(8),
            payload: &bytes[SAMPLE_HEAD..],
        })
    }
}

/// An error of `aya`'s with its causes, which its `Display` leaves out.
fn aya(what: &str, e: impl Error) -> io::Error {
    let mut text = format!("BPF peer: {what}: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    io::Error::other(text)
}

/// Whether `e` or one of its causes is `ENOSYS`: a kernel without BPF.
fn no_bpf(e: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
            == Some(libc::ENOSYS)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Loads the programs with a ring of `ring_size` bytes (a power of two, pages);
/// `Ok(None)` where the kernel has no `bpf()` (`ENOSYS`).
pub fn open(ring_size: u32) -> io::Result<Option<(Producer, Consumer)>> {
    let loaded = EbpfLoader::new()
        // Nothing to relocate against the kernel's types: the boards' kernels have none.
        .btf(None)
        .map_max_entries("RING", ring_size)
        .load(OBJECT);
    let mut ebpf = match loaded {
        Ok(ebpf) => ebpf,
        Err(e) if no_bpf(&e) => return Ok(None),
        Err(e) => return Err(aya("load the object", e)),
    };
    for name in PROGRAMS {
        let xdp: &mut Xdp = ebpf
            .program_mut(name)
            .ok_or_else(|| io::Error::other(format!("BPF peer: no program {name}")))?
            .try_into()
            .map_err(|e| aya(name, e))?;
        xdp.load().map_err(|e| aya(&format!("load {name}"), e))?;
    }
    let map = |ebpf: &mut Ebpf, name: &str| {
        ebpf.take_map(name)
            .ok_or_else(|| io::Error::other(format!("BPF peer: no map {name}")))
    };
    let ring = RingBuf::try_from(map(&mut ebpf, "RING")?).map_err(|e| aya("RING", e))?;
    let state = Array::try_from(map(&mut ebpf, "STATE")?).map_err(|e| aya("STATE", e))?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(io::Error::from)?;
    epoll
        .add(ring.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0))
        .map_err(io::Error::from)?;
    Ok(Some((Producer { ebpf, state }, Consumer { ring, epoll })))
}

impl Producer {
    fn program(&self, name: &str) -> io::Result<&Xdp> {
        self.ebpf
            .program(name)
            .ok_or_else(|| io::Error::other(format!("BPF peer: no program {name}")))?
            .try_into()
            .map_err(|e| aya(name, e))
    }

    /// One test run of `name`: `count` records per run, `repeat` runs.
    fn run(&self, name: &str, count: u64, mode: Wakeups, repeat: u32) -> io::Result<u32> {
        let mut packet = [0u8; 16];
        packet[..4].copy_from_slice(&(count as u32).to_ne_bytes());
        packet[4..8].copy_from_slice(&(mode as u32).to_ne_bytes());
        let opts = TestRunOptions {
            data_in: Some(&packet),
            repeat,
            ..TestRunOptions::new()
        };
        let result = self
            .program(name)?
            .test_run(opts)
            .map_err(|e| aya(&format!("test run of {name}"), e))?;
        Ok(result.return_value)
    }

    fn state(&self) -> io::Result<[u64; 2]> {
        self.state.get(&0, 0).map_err(|e| aya("read STATE", e))
    }

    /// Makes `n` records of `len` bytes: as many full batches as fit in one
    /// test run with `repeat`, then one run for the rest.
    pub fn produce(&self, len: Len, n: u64, mode: Wakeups) -> io::Result<Made> {
        let before = self.state()?[STATE_DROPPED];
        let (full, rest) = (n / BATCH_MAX, n % BATCH_MAX);
        let mut left = full;
        while left > 0 {
            let repeat = left.min(u64::from(u32::MAX)) as u32;
            self.run(len.program(), BATCH_MAX, mode, repeat)?;
            left -= u64::from(repeat);
        }
        if rest > 0 {
            self.run(len.program(), rest, mode, 1)?;
        }
        let dropped = self.state()?[STATE_DROPPED] - before;
        Ok(Made {
            produced: n - dropped,
            dropped,
        })
    }

    /// Puts the end marker in; whether it fitted.
    pub fn mark(&self, mode: Wakeups) -> io::Result<bool> {
        Ok(self.run("marker", 1, mode, 1)? == XDP_PASS)
    }

    /// The sequence number the next record gets.
    #[cfg(test)]
    pub fn next_seq(&self) -> io::Result<u64> {
        Ok(self.state()?[STATE_SEQ])
    }
}

impl Consumer {
    /// Consumes every record waiting, `each` on each; how many.
    pub fn drain(&mut self, mut each: impl FnMut(&Sample<'_>)) -> io::Result<usize> {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            let sample = Sample::parse(&item).ok_or_else(|| {
                io::Error::other(format!("BPF peer: a record of {} bytes", item.len()))
            })?;
            each(&sample);
            n += 1;
        }
        Ok(n)
    }

    /// Waits up to `timeout` (rounded up to whole milliseconds) in `epoll_wait`;
    /// whether the ring became readable.
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let timeout = EpollTimeout::try_from(ms).map_err(io::Error::other)?;
        let mut events = [EpollEvent::empty()];
        loop {
            match self.epoll.wait(&mut events, timeout) {
                Ok(n) => return Ok(n > 0),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_reads_its_head_and_payload() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&7u64.to_ne_bytes());
        bytes.extend_from_slice(&99u64.to_ne_bytes());
        bytes.extend_from_slice(&[1, 2, 3]);
        let s = Sample::parse(&bytes).unwrap();
        assert_eq!(
            (s.seq, s.timestamp_ns, s.payload),
            (7, 99, &[1u8, 2, 3][..])
        );
        assert!(Sample::parse(&bytes[..15]).is_none());
    }

    #[test]
    fn enosys_anywhere_in_the_chain_means_no_bpf() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("outer")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        assert!(no_bpf(&Outer(io::Error::from_raw_os_error(libc::ENOSYS))));
        assert!(!no_bpf(&Outer(io::Error::from_raw_os_error(libc::EPERM))));
    }

    /// Where this host lets the test call `bpf()` (as root, with BPF), the
    /// programs load, make records the consumer reads back in order with the
    /// built-in payload, count the ones a full ring drops, and the marker
    /// goes in after. Elsewhere it says why it did nothing.
    #[test]
    fn the_programs_run_where_the_host_has_bpf() {
        let (producer, mut consumer) = match open(1 << 16) {
            Ok(Some(peer)) => peer,
            Ok(None) => return eprintln!("no bpf() on this host: not run"),
            Err(e) if e.to_string().contains("EPERM") || e.to_string().contains("ermission") => {
                return eprintln!("bpf() not permitted here: not run ({e})")
            }
            Err(e) => panic!("{e}"),
        };
        let first = producer.next_seq().unwrap();
        let made = producer.produce(Len::B64, 600, Wakeups::Adaptive).unwrap();
        // 65536 bytes hold 744 records of 88 bytes.
        assert_eq!(
            made,
            Made {
                produced: 600,
                dropped: 0
            }
        );
        assert!(producer.mark(Wakeups::Adaptive).unwrap());
        assert!(consumer.wait(Duration::from_millis(10)).unwrap());
        let mut seen = Vec::new();
        consumer
            .drain(|s| {
                let pattern_ok = s.payload.is_empty()
                    || (s.payload[..8] == s.seq.to_le_bytes()
                        && s.payload[8..].iter().all(|&b| b == s.seq as u8));
                seen.push((s.seq, s.payload.len(), pattern_ok, s.timestamp_ns > 0));
            })
            .unwrap();
        assert_eq!(seen.len(), 601);
        for (i, &(seq, len, ok, stamped)) in seen.iter().enumerate() {
            assert_eq!(seq, first + i as u64);
            assert_eq!(len, if i == 600 { 0 } else { 64 });
            assert!(ok && stamped, "record {i}");
        }
        let made = producer.produce(Len::B4k, 20, Wakeups::Sampled).unwrap();
        // 65536 bytes hold 15 records of 4120 bytes.
        assert_eq!(
            made,
            Made {
                produced: 15,
                dropped: 5
            }
        );
        assert_eq!(consumer.drain(|_| {}).unwrap(), 15);
        assert_eq!(
            producer
                .produce(Len::B8, 3, Wakeups::Sampled)
                .unwrap()
                .produced,
            3
        );
        assert_eq!(
            consumer.drain(|s| assert_eq!(s.payload.len(), 8)).unwrap(),
            3
        );
    }
}
