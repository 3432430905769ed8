// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The measurements: each pits every device (mymap and the reference C
//! drivers present) against plain memory in the same process, the sides
//! timed in turn, in rotating order.

use std::{
    fs::{
        self,
        File,
        OpenOptions, //
    },
    hint::black_box,
    io::{
        self,
        Seek,
        SeekFrom, //
    },
    time::{
        Duration,
        Instant, //
    },
};

use crate::{
    gpio::GpioConfig,
    mem::{
        page_size,
        Mapping, //
    },
    module::{
        self,
        Device, //
    },
    report::{
        size_text,
        Comparison,
        DeviceSide,
        Load,
        LoadSide,
        Report,
        Samples, //
    },
    ring::RingConfig,
    stats::{
        rotation,
        Against,
        Bound,
        Kind,
        Target, //
    },
    tx::TxConfig,
};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// What to measure.
#[derive(Debug, PartialEq)]
pub struct Config {
    /// Timed repetitions of each side of each comparison, and loads per size.
    pub reps: usize,
    /// Buffer sizes for the load and mmap + first touch measurements.
    pub sizes: Vec<usize>,
    /// Buffer size for the mapping, read throughput, `read()` and `write()` measurements.
    pub stream_size: usize,
    /// `read()` and `write()` chunk sizes (a chunk larger than the buffer is skipped).
    pub chunks: Vec<usize>,
    /// Measure the reference C drivers whose modules are present.
    pub peers: bool,
    /// Measure the buffer (everything but the ring).
    pub buffer: bool,
    /// The ring measurements, unless left out.
    pub ring: Option<RingConfig>,
    /// The GPIO producer's measurements, unless left out.
    pub gpio: Option<GpioConfig>,
    /// The tx ring's measurements (the player's jitter), unless left out.
    pub tx: Option<TxConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            reps: 11,
            sizes: vec![64 * KIB, MIB, 16 * MIB, 64 * MIB],
            stream_size: 16 * MIB,
            chunks: vec![4 * KIB, 64 * KIB, MIB, 16 * MIB],
            peers: true,
            buffer: true,
            ring: Some(RingConfig::default()),
            gpio: Some(GpioConfig::default()),
            tx: Some(TxConfig::default()),
        }
    }
}

/// The targets the project set (issue 13); reported, never enforced.
const MAPPED_READ_TARGET: Target = Target {
    against: Against::Baseline,
    bound: Bound::AtLeast(0.97),
};
/// Time at most the best peer's: for `read()`/`write()`, throughput at least the best peer's.
const PEER_TARGET: Target = Target {
    against: Against::BestPeer,
    bound: Bound::AtMost(1.0),
};
const PEER_TARGET_CHUNKS: [usize; 3] = [64 * KIB, MIB, 16 * MIB];
const TOUCH_TARGET_SIZE: usize = 16 * MIB;

/// `64k`, `1m`: sizes in ids.
pub fn short(bytes: usize) -> String {
    size_text(bytes as u64)
        .replace(" KiB", "k")
        .replace(" MiB", "m")
        .replace(" B", "b")
}

/// mymap, then the peers whose modules are present (unless `cfg.peers` is off
/// or the buffer is not measured).
pub fn devices(cfg: &Config) -> Vec<&'static Device> {
    let mut devices = vec![&module::MYMAP];
    if cfg.peers && cfg.buffer {
        devices.extend(module::PEERS.iter().filter(|p| module::available(p)));
    }
    devices
}

/// Runs every measurement; leaves the modules loaded with the last size used.
pub fn run(cfg: &Config, devices: &[&'static Device]) -> io::Result<Report> {
    let uptime_at_start_s = uptime()?;
    let page = page_size();
    let mut report = Report {
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")?
            .trim()
            .to_string(),
        page_size: page as u64,
        reps: cfg.reps,
        uptime_at_start_s,
        devices: devices.to_vec(),
        comparisons: Vec::new(),
        loads: Vec::new(),
        ring: None,
        gpio: None,
        tx: None,
    };
    if !cfg.buffer {
        return Ok(report);
    }
    for &size in &cfg.sizes {
        progress(&format!(
            "module load and mmap + first touch, size={}",
            size_text(size as u64)
        ));
        report.loads.push(loads(cfg.reps, size, devices)?);
        let files = open_all(devices, size)?;
        for write in [true, false] {
            report
                .comparisons
                .push(touch(&files, cfg.reps, size, page, write)?);
        }
    }
    let size = cfg.stream_size;
    progress(&format!(
        "mmap and munmap, reads through a mapping, read() and write(), size={}",
        size_text(size as u64)
    ));
    for dev in devices {
        module::reload(dev, &[&format!("size={size}")])?;
    }
    let files = open_all(devices, size)?;
    report.comparisons.push(mmap_call(&files, cfg.reps, size)?);
    report
        .comparisons
        .push(munmap(&files, cfg.reps, size, page)?);
    let maps = files
        .iter()
        .map(|(dev, file)| Ok((*dev, Mapping::device(file, size)?)))
        .collect::<io::Result<Vec<_>>>()?;
    let anon = Mapping::anonymous(size, true)?;
    for (_, map) in &maps {
        map.fill(0x5a);
    }
    anon.fill(0x5a);
    report
        .comparisons
        .push(mapped_read(cfg.reps, &maps, &anon)?);
    for case in [&READ, &WRITE] {
        for &chunk in cfg.chunks.iter().filter(|&&c| c <= size) {
            report
                .comparisons
                .push(chunks(case, &files, cfg.reps, &anon, chunk)?);
        }
    }
    Ok(report)
}

fn progress(what: &str) {
    eprintln!("mymap-bench: {what}");
}

/// Loads every device's module `reps` times with `size`, the modules in rotating
/// order; all are loaded with `size` at the end.
fn loads(reps: usize, size: usize, devices: &[&'static Device]) -> io::Result<Load> {
    let param = format!("size={size}");
    let mut sides: Vec<LoadSide> = devices
        .iter()
        .map(|&device| LoadSide {
            device,
            modprobe_s: Vec::new(),
            node_s: Vec::new(),
        })
        .collect();
    for rep in 0..reps {
        for i in rotation(rep, sides.len()) {
            let t = module::reload(sides[i].device, &[&param])?;
            sides[i].modprobe_s.push(t.modprobe.as_secs_f64());
            sides[i].node_s.push(t.node.as_secs_f64());
        }
    }
    Ok(Load {
        size: size as u64,
        devices: sides,
    })
}

/// Opens each device for reading and writing and checks its buffer is `size` bytes.
fn open_all(devices: &[&'static Device], size: usize) -> io::Result<Vec<(&'static Device, File)>> {
    devices.iter().map(|&d| Ok((d, open(d, size)?))).collect()
}

/// Opens one device; its size is where `lseek(SEEK_END)` lands, for every driver alike.
fn open(dev: &Device, size: usize) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev.node)
        .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", dev.node)))?;
    let end = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    if end != size as u64 {
        return Err(io::Error::other(format!(
            "{} has {end} bytes, {size} were asked for",
            dev.node
        )));
    }
    Ok(file)
}

/// One side of a comparison: runs once, returns the time of its timed part.
type Side<'a> = Box<dyn FnMut() -> io::Result<Duration> + 'a>;

/// Times each side `reps` times, in rotating order, after one untimed round of
/// each. Each side times itself; the minor page faults it took are counted
/// around it, outside its timed part. Side 0 is the baseline by convention.
fn rounds(reps: usize, sides: &mut [Side]) -> io::Result<Vec<Samples>> {
    for side in sides.iter_mut() {
        side()?;
    }
    let mut samples = vec![Samples::default(); sides.len()];
    for rep in 0..reps {
        for i in rotation(rep, sides.len()) {
            let before = minor_faults()?;
            let took = sides[i]()?;
            samples[i].s.push(took.as_secs_f64());
            samples[i]
                .faults
                .push(minor_faults()?.saturating_sub(before));
        }
    }
    Ok(samples)
}

/// Times the baseline and one side per device (`side` makes a device's side
/// from its index in `devices`); returns the baseline's samples and the devices'.
fn measure<'a>(
    reps: usize,
    devices: &[&'static Device],
    base: Side<'a>,
    side: impl Fn(usize) -> Side<'a>,
) -> io::Result<(Samples, Vec<DeviceSide>)> {
    let mut sides = vec![base];
    sides.extend((0..devices.len()).map(side));
    let mut samples = rounds(reps, &mut sides)?.into_iter();
    let baseline = samples.next().unwrap_or_default();
    let devices = devices
        .iter()
        .zip(samples)
        .map(|(&device, samples)| DeviceSide { device, samples })
        .collect();
    Ok((baseline, devices))
}

fn device_list(files: &[(&'static Device, File)]) -> Vec<&'static Device> {
    files.iter().map(|(d, _)| *d).collect()
}

/// This thread's minor page faults so far (`/proc/thread-self/stat`: the bench has
/// one thread, and the unit tests' other threads do not count).
fn minor_faults() -> io::Result<u64> {
    let stat = fs::read_to_string("/proc/thread-self/stat")?;
    minflt_in(&stat)
        .ok_or_else(|| io::Error::other(format!("unreadable /proc/thread-self/stat: {stat}")))
}

/// Field 10, `minflt`, of a `/proc/<pid>/stat` line; the command name in
/// field 2 is in parentheses and may hold spaces and parentheses itself.
fn minflt_in(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(7)?.parse().ok()
}

/// Times `timed` on a new mapping of each whole device against a new anonymous
/// `MAP_POPULATE` mapping of the same size (the baseline): `timed` makes the
/// mapping with the function it is given, and times what it chooses to.
fn against_populate<'a>(
    files: &'a [(&'static Device, File)],
    reps: usize,
    size: usize,
    timed: impl Fn(&dyn Fn() -> io::Result<Mapping>) -> io::Result<Duration> + Copy + 'a,
) -> io::Result<(Samples, Vec<DeviceSide>)> {
    measure(
        reps,
        &device_list(files),
        Box::new(move || timed(&|| Mapping::anonymous(size, true))),
        |i| {
            let file = &files[i].1;
            Box::new(move || timed(&|| Mapping::device(file, size)))
        },
    )
}

/// `mmap` of the whole device plus the first store (or load) to every page,
/// against the same on an anonymous `MAP_POPULATE` mapping. `munmap` is not timed.
fn touch(
    files: &[(&'static Device, File)],
    reps: usize,
    size: usize,
    page: usize,
    write: bool,
) -> io::Result<Comparison> {
    let first = move |m: &Mapping| {
        if write {
            m.touch_write(page);
        } else {
            black_box(m.touch_read(page));
        }
    };
    let timed = move |map: &dyn Fn() -> io::Result<Mapping>| -> io::Result<Duration> {
        let start = Instant::now();
        let m = map()?;
        first(&m);
        let took = start.elapsed();
        drop(m);
        Ok(took)
    };
    let (baseline, devices) = against_populate(files, reps, size, timed)?;
    let verb = if write { "write" } else { "read" };
    Ok(Comparison {
        id: format!("touch-{verb}-{}", short(size)),
        what: format!("mmap + first {verb} of every page vs MAP_POPULATE"),
        side: "MAP_SHARED mapping of the whole device, one access per page",
        base: "anonymous MAP_POPULATE mapping, the same accesses",
        kind: Kind::Time,
        size: size as u64,
        bytes: size as u64,
        baseline,
        devices,
        target: (size == TOUCH_TARGET_SIZE).then_some(PEER_TARGET),
    })
}

/// The `mmap()` call alone for the whole device, against an anonymous
/// `MAP_POPULATE` `mmap()` of the same size; `munmap` is not timed.
fn mmap_call(
    files: &[(&'static Device, File)],
    reps: usize,
    size: usize,
) -> io::Result<Comparison> {
    let timed = |map: &dyn Fn() -> io::Result<Mapping>| -> io::Result<Duration> {
        let start = Instant::now();
        let m = map()?;
        let took = start.elapsed();
        drop(m);
        Ok(took)
    };
    let (baseline, devices) = against_populate(files, reps, size, timed)?;
    Ok(Comparison {
        id: format!("mmap-{}", short(size)),
        what: "the mmap() call alone vs MAP_POPULATE".into(),
        side: "mmap() of the whole device, MAP_SHARED",
        base: "mmap() of anonymous memory of the same size, MAP_POPULATE",
        kind: Kind::Time,
        size: size as u64,
        bytes: size as u64,
        baseline,
        devices,
        target: None,
    })
}

/// `munmap()` of a mapping of the whole device whose every page was read once,
/// against `munmap()` of an anonymous `MAP_POPULATE` mapping of the same size.
fn munmap(
    files: &[(&'static Device, File)],
    reps: usize,
    size: usize,
    page: usize,
) -> io::Result<Comparison> {
    let timed = move |map: &dyn Fn() -> io::Result<Mapping>| -> io::Result<Duration> {
        let m = map()?;
        black_box(m.touch_read(page));
        let start = Instant::now();
        drop(m);
        Ok(start.elapsed())
    };
    let (baseline, devices) = against_populate(files, reps, size, timed)?;
    Ok(Comparison {
        id: format!("munmap-{}", short(size)),
        what: "munmap() after reading every page vs MAP_POPULATE".into(),
        side: "munmap() of a MAP_SHARED mapping of the whole device, every page read once",
        base: "munmap() of an anonymous MAP_POPULATE mapping of the same size",
        kind: Kind::Time,
        size: size as u64,
        bytes: size as u64,
        baseline,
        devices,
        target: None,
    })
}

/// Reading every byte through a mapping of each whole device, against the same
/// reads of anonymous memory of the same size.
fn mapped_read(
    reps: usize,
    maps: &[(&'static Device, Mapping)],
    anon: &Mapping,
) -> io::Result<Comparison> {
    let scan = |m: &Mapping| {
        let start = Instant::now();
        black_box(m.sum());
        Ok(start.elapsed())
    };
    let devices: Vec<&'static Device> = maps.iter().map(|(d, _)| *d).collect();
    let (baseline, devices) = measure(reps, &devices, Box::new(move || scan(anon)), |i| {
        let map = &maps[i].1;
        Box::new(move || scan(map))
    })?;
    Ok(Comparison {
        id: "mapped-read".into(),
        what: "read through a mapping vs anonymous memory".into(),
        side: "sum of every u64 through a MAP_SHARED mapping of the whole device",
        base: "the same sum over anonymous memory of the same size",
        kind: Kind::Throughput,
        size: anon.len() as u64,
        bytes: anon.len() as u64,
        baseline,
        devices,
        target: Some(MAPPED_READ_TARGET),
    })
}

/// A chunked comparison: `read()` or `write()` of each whole device in
/// `chunk`-byte calls with one chunk-sized buffer, against `memcpy` of the
/// same chunks between that buffer and anonymous memory of the device's size.
struct Chunked {
    /// `read` or `write`, the call and the start of the id.
    call: &'static str,
    /// Whether the device (or the anonymous memory) is the source.
    from_device: bool,
    /// What the chunk buffer holds before the first round.
    fill: u8,
    side: &'static str,
    base: &'static str,
}

const READ: Chunked = Chunked {
    call: "read",
    from_device: true,
    fill: 0,
    side: "read() of the whole device into one chunk-sized buffer",
    base: "memcpy from anonymous memory into the same buffer, in the same chunks",
};

const WRITE: Chunked = Chunked {
    call: "write",
    from_device: false,
    fill: 0xa5,
    side: "write() of the whole device from one chunk-sized buffer",
    base: "memcpy from the same buffer into anonymous memory, in the same chunks",
};

/// One [`Chunked`] comparison. `read()` copies from `anon` (the devices hold
/// what it holds); `write()` copies into anonymous memory of its own, zeroed,
/// so that `anon` stays as it is.
fn chunks(
    case: &Chunked,
    files: &[(&'static Device, File)],
    reps: usize,
    anon: &Mapping,
    chunk: usize,
) -> io::Result<Comparison> {
    let size = anon.len();
    let buf = Mapping::anonymous(chunk, true)?;
    buf.fill(case.fill);
    let own;
    let mem = if case.from_device {
        anon
    } else {
        own = Mapping::anonymous(size, true)?;
        own.fill(0);
        &own
    };
    let (buf, from_device) = (&buf, case.from_device);
    let (baseline, devices) = measure(
        reps,
        &device_list(files),
        Box::new(move || {
            let start = Instant::now();
            for offset in (0..size).step_by(chunk) {
                let len = chunk.min(size - offset);
                if from_device {
                    mem.copy_to(offset, buf, 0, len);
                } else {
                    buf.copy_to(0, mem, offset, len);
                }
            }
            Ok(start.elapsed())
        }),
        |i| {
            let mut file = &files[i].1;
            Box::new(move || {
                let start = Instant::now();
                file.seek(SeekFrom::Start(0))?;
                if from_device {
                    whole(size, "read()", || buf.read_from(file, chunk))?;
                } else {
                    whole(size, "write()", || buf.write_into(file, chunk))?;
                }
                Ok(start.elapsed())
            })
        },
    )?;
    Ok(Comparison {
        id: format!("{}-{}", case.call, short(chunk)),
        what: format!(
            "{}() in {} chunks vs memcpy",
            case.call,
            size_text(chunk as u64)
        ),
        side: case.side,
        base: case.base,
        kind: Kind::Time,
        size: size as u64,
        bytes: size as u64,
        baseline,
        devices,
        target: PEER_TARGET_CHUNKS.contains(&chunk).then_some(PEER_TARGET),
    })
}

/// Repeats `call` (one `read()` or `write()`) until `size` bytes have moved.
fn whole(size: usize, what: &str, mut call: impl FnMut() -> io::Result<usize>) -> io::Result<()> {
    let mut done = 0;
    while done < size {
        match call()? {
            0 => {
                return Err(io::Error::other(format!(
                    "{what} ended at {done} of {size}"
                )))
            }
            n => done += n,
        }
    }
    Ok(())
}

/// Seconds since boot.
fn uptime() -> io::Result<f64> {
    let text = fs::read_to_string("/proc/uptime")?;
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unreadable /proc/uptime: {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_sizes_shortly() {
        assert_eq!(short(64 * KIB), "64k");
        assert_eq!(short(16 * MIB), "16m");
        assert_eq!(short(4096 + 1), "4097b");
    }

    #[test]
    fn sides_rotate_and_pair_up() {
        let order = std::cell::RefCell::new(String::new());
        let side = |c: char, ms: u64| -> Side {
            let order = &order;
            Box::new(move || {
                order.borrow_mut().push(c);
                Ok(Duration::from_millis(ms))
            })
        };
        let mut sides = vec![side('b', 1), side('m', 2), side('p', 3)];
        let samples = rounds(4, &mut sides).unwrap();
        drop(sides);
        // The warm-up round, then each repetition starting one side later.
        assert_eq!(order.into_inner(), "bmp bmp mpb pbm bmp".replace(' ', ""));
        assert_eq!(samples[0].s, vec![0.001; 4]);
        assert_eq!(samples[2].s, vec![0.003; 4]);
        assert_eq!(samples[1].faults.len(), 4);
    }

    #[test]
    fn faults_are_counted_per_side() {
        let page = page_size();
        let mut sides: Vec<Side> = vec![
            Box::new(|| {
                let m = Mapping::anonymous(64 * page, false)?;
                m.touch_write(page);
                Ok(Duration::ZERO)
            }),
            Box::new(|| Ok(Duration::ZERO)),
        ];
        let samples = rounds(1, &mut sides).unwrap();
        assert!(samples[0].faults[0] >= 64, "{samples:?}");
        assert!(samples[1].faults[0] < 64, "{samples:?}");
    }

    #[test]
    fn whole_repeats_until_done_and_fails_on_a_short_end() {
        let mut calls = 0;
        whole(10, "read()", || {
            calls += 1;
            Ok(4)
        })
        .unwrap();
        assert_eq!(calls, 3);
        let err = whole(10, "read()", || Ok(0)).unwrap_err();
        assert!(err.to_string().contains("read() ended at 0 of 10"), "{err}");
    }

    #[test]
    fn minflt_is_the_tenth_field_whatever_the_command_name() {
        let stat = "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 777 0 0 0 5 3 0 0 20 0 1 0";
        assert_eq!(minflt_in(stat), Some(777));
        assert_eq!(minflt_in("garbage"), None);
        assert!(minor_faults().is_ok());
    }
}
