// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Stress and fuzz tests: random operations from several threads and
//! processes over several devices, with content checks; unloads attempted
//! while busy; system call arguments fuzzed with random and boundary values;
//! a kmemleak scan after load/unload cycles where the kernel has kmemleak.
//! Every test is bounded in time, and its seed is in its failure message.

use std::{
    fs::{
        self,
        File,
        OpenOptions, //
    },
    os::fd::AsFd,
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

use mymap_uapi::{
    MYMAP_IOC_CLEAR,
    MYMAP_IOC_INFO,
    MYMAP_IOC_MAGIC, //
};

use mymap_target_support::{
    module,
    sys::{
        self,
        errname,
        Map, //
    },
};

use crate::harness::{
    check,
    TestResult, //
};

const DEVICES: u32 = 3;
const SIZE: usize = 256 * 1024;
const THREADS: usize = 4;
/// Bytes of each owned device a thread owns.
const REGION: usize = SIZE / THREADS;

fn open(index: u32) -> Result<File, String> {
    let path = module::node(index);
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{path}: {e}"))
}

/// Runs `f` with the module loaded as 3 devices of 256 KiB, then restores the default.
fn with_devices(f: impl FnOnce() -> TestResult) -> TestResult {
    let setup = (|| {
        if module::loaded() {
            module::unload_when_unused()?;
        }
        module::load_and_wait(
            &[&format!("size={SIZE}"), &format!("devices={DEVICES}")],
            DEVICES,
        )
    })();
    let result = setup.and_then(|()| f());
    module::restore_default()?;
    result
}

/// One thread's random walk. Devices 0 and 1: the thread owns bytes
/// `[t * REGION, (t + 1) * REGION)` of each, writes sequence-stamped patterns
/// there with write(), pwrite() or a mapping, and checks every read of its own
/// region, through read() and through mappings. Device 2 is shared: any thread
/// writes the whole buffer with one byte or clears it, and every read() of it
/// must be uniform.
///
/// The thread gets its files already open, so the devices are busy from the moment
/// the thread exists.
fn walker(t: usize, seed: u64, mut files: [File; 3], stop: Arc<AtomicBool>) -> TestResult {
    let mut rng = fastrand::Rng::with_seed(seed);
    let page = sys::page_size();
    let base = t * REGION;
    let mut expect: [Vec<u8>; 2] = [vec![0; REGION], vec![0; REGION]];
    // How each expected byte was last written, for failure messages.
    let mut how: [Vec<&str>; 2] = [vec!["CLEAR"; REGION], vec!["CLEAR"; REGION]];
    let mut ops = 0u64;
    while !stop.load(Ordering::Relaxed) {
        ops += 1;
        let dev = rng.usize(0..2);
        let f = &files[dev];
        let at = rng.usize(0..REGION);
        let len = rng.usize(1..=(REGION - at).min(3 * page));
        let fill: Vec<u8> = (0..len)
            .map(|i| (ops as u8) ^ (i as u8) ^ (t as u8))
            .collect();
        match rng.u8(0..10) {
            0 | 1 => {
                let n = sys::pwrite(f, &fill, (base + at) as i64).map_err(errname)?;
                check!(n == len, "seed {seed}: pwrite {n} of {len}");
                expect[dev][at..at + len].copy_from_slice(&fill);
                how[dev][at..at + len].fill("pwrite");
            }
            2 => {
                sys::lseek(f, (base + at) as i64, libc::SEEK_SET).map_err(errname)?;
                let n = sys::write(f, &fill).map_err(errname)?;
                check!(n == len, "seed {seed}: write {n} of {len}");
                expect[dev][at..at + len].copy_from_slice(&fill);
                how[dev][at..at + len].fill("write");
            }
            3 => {
                // Map the pages around the range, store through the mapping.
                let first = (base + at) / page * page;
                let last = (base + at + len).next_multiple_of(page);
                let map = Map::new(
                    f,
                    last - first,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    first as i64,
                )
                .map_err(|e| format!("seed {seed}: mmap: {}", errname(e)))?;
                map.copy_in(base + at - first, &fill);
                expect[dev][at..at + len].copy_from_slice(&fill);
                how[dev][at..at + len].fill("mapping");
            }
            4 | 5 => {
                let mut got = vec![0u8; len];
                let n = sys::pread(f, &mut got, (base + at) as i64).map_err(errname)?;
                check!(n == len, "seed {seed}: pread {n} of {len}");
                if let Some(i) = first_difference(&got, &expect[dev][at..at + len]) {
                    return Err(format!(
                        "seed {seed}: thread {t} op {ops}: pread of device {dev} differs at \
                         offset {}: expected {:#04x} (written by {}), got {:#04x}",
                        base + at + i,
                        expect[dev][at + i],
                        how[dev][at + i],
                        got[i],
                    ));
                }
            }
            6 => {
                let map =
                    Map::new(f, SIZE, libc::PROT_READ, libc::MAP_SHARED, 0).map_err(errname)?;
                let got = map.copy_out(base + at, len);
                if let Some(i) = first_difference(&got, &expect[dev][at..at + len]) {
                    // Which side is wrong: read the byte again both ways.
                    let mut byte = [0u8];
                    sys::pread(f, &mut byte, (base + at + i) as i64).map_err(errname)?;
                    return Err(format!(
                        "seed {seed}: thread {t} op {ops}: mapping of device {dev} differs at \
                         offset {}: expected {:#04x} (written by {}), mapping had {:#04x}, \
                         now has {:#04x}, read() gives {:#04x}",
                        base + at + i,
                        expect[dev][at + i],
                        how[dev][at + i],
                        got[i],
                        map.get(base + at + i),
                        byte[0],
                    ));
                }
            }
            7 => {
                // The shared device: write all or clear, then read must be uniform.
                let shared = &files[2];
                if rng.bool() {
                    let fill = vec![rng.u8(1..=255); SIZE];
                    sys::pwrite(shared, &fill, 0).map_err(errname)?;
                } else {
                    mymap_uapi::clear(shared.as_fd())
                        .map_err(|e| format!("seed {seed}: CLEAR: {e}"))?;
                }
                let mut got = vec![0u8; SIZE];
                sys::pread(shared, &mut got, 0).map_err(errname)?;
                check!(
                    got.iter().all(|&b| b == got[0]),
                    "seed {seed}: read of device 2 saw a mix"
                );
            }
            8 => {
                // A child process checks the thread's region through its own mapping.
                let want = expect[dev][at..at + len].to_vec();
                let index = dev as u32;
                // SAFETY: the child only opens, maps, compares and exits.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    let ok = open(index)
                        .ok()
                        .and_then(|g| Map::new(&g, SIZE, libc::PROT_READ, libc::MAP_SHARED, 0).ok())
                        .is_some_and(|m| m.copy_out(base + at, len) == want);
                    // SAFETY: ends the child at once.
                    unsafe { libc::_exit(if ok { 0 } else { 1 }) };
                }
                let status = sys::wait(pid);
                check!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "seed {seed}: child saw other data"
                );
            }
            _ => {
                // Reopen a device: close and open races with the others.
                files[dev] = open(dev as u32)?;
                let info = mymap_uapi::info(files[dev].as_fd()).map_err(|e| e.to_string())?;
                check!(
                    info.size == SIZE as u64 && info.index == dev as u32,
                    "seed {seed}: INFO {info:?}"
                );
            }
        }
    }
    check!(ops > 0, "no operation ran");
    Ok(())
}

/// The index of the first byte where `a` and `b` differ, if any.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

pub fn random_operations() -> TestResult {
    with_devices(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let seed = fastrand::u64(..);
        let mut handles = Vec::new();
        // Devices 0 and 1 start with the load greeting; cleared, every byte of every
        // thread's region is known to be zero before the walk.
        for index in 0..2 {
            mymap_uapi::clear(open(index)?.as_fd()).map_err(|e| format!("CLEAR: {e}"))?;
        }
        // Every thread's files, opened before any thread starts (so a failed open
        // leaves no thread behind) and before the first rmmod attempt below.
        let files = (0..THREADS)
            .map(|_| Ok([open(0)?, open(1)?, open(2)?]))
            .collect::<Result<Vec<_>, String>>()?;
        for (t, files) in files.into_iter().enumerate() {
            let stop = stop.clone();
            let seed = seed.wrapping_add(t as u64);
            handles.push(std::thread::spawn(move || walker(t, seed, files, stop)));
        }
        // rmmod attempts while busy must fail and change nothing.
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut refused = 0;
        let mut unloaded = false;
        while Instant::now() < deadline && !unloaded {
            unloaded = module::unload().is_ok();
            refused += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        // Every thread is stopped and joined before the verdict, so none outlives the test.
        stop.store(true, Ordering::Relaxed);
        let walks: Vec<TestResult> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect();
        check!(!unloaded, "rmmod succeeded while the devices were busy");
        walks.into_iter().collect::<TestResult>()?;
        check!(
            refused > 0 && module::loaded(),
            "module state after the run"
        );
        Ok(())
    })
}

/// Random and boundary arguments for ioctl, read, write, lseek and mmap. Each call
/// must succeed with file semantics or fail with one of the errnos the driver
/// documents; afterwards the device must still answer INFO.
pub fn fuzz_arguments() -> TestResult {
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/mymap")
        .map_err(|e| e.to_string())?;
    let size = mymap_uapi::info(f.as_fd()).map_err(|e| e.to_string())?.size as i64;
    let page = sys::page_size() as i64;
    let offsets = [
        0,
        1,
        -1,
        size - 1,
        size,
        size + 1,
        i64::MAX,
        i64::MIN,
        page,
        -page,
    ];
    let scratch =
        Map::anon(2 * page as usize, libc::PROT_READ | libc::PROT_WRITE).map_err(errname)?;
    let pointers: [usize; 6] = [
        0,
        1,
        usize::MAX,
        usize::MAX - 4095,
        scratch.ptr() as usize,
        scratch.ptr() as usize + page as usize - 1,
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut calls = 0u64;
    while Instant::now() < deadline {
        calls += 1;
        let offset = if rng.bool() {
            offsets[rng.usize(..offsets.len())]
        } else {
            rng.i64(..)
        };
        let ptr = pointers[rng.usize(..pointers.len())];
        let len = [0usize, 1, page as usize, 2 * page as usize, usize::MAX / 2][rng.usize(..5)];
        match rng.u8(0..5) {
            0 => {
                let cmd = match rng.u8(0..3) {
                    0 => rng.u32(..),
                    1 => {
                        (MYMAP_IOC_MAGIC << 8)
                            | rng.u32(0..256)
                            | (rng.u32(0..4) << 30)
                            | (rng.u32(0..0x4000) << 16)
                    }
                    _ => [MYMAP_IOC_INFO as u32, MYMAP_IOC_CLEAR as u32][rng.usize(..2)],
                };
                // SAFETY: the pointers are 0, 1, the top of the address space, or inside
                // `scratch`, a mapping that holds no Rust object: the kernel answers EFAULT,
                // or the driver writes a `mymap_info` there, or it answers ENOTTY.
                let r = unsafe { sys::ioctl_ptr(&f, cmd as u64, ptr as *mut libc::c_void) };
                check!(
                    matches!(r, Ok(0) | Err(libc::ENOTTY | libc::EFAULT)),
                    "seed {seed}: ioctl({cmd:#x}, {ptr:#x}) = {r:?}"
                );
            }
            1 | 2 => {
                let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
                // Only our scratch pages are ever valid targets; other pointers are bad
                // on purpose and the kernel must refuse them. Lengths past the scratch
                // mapping are bounded by the buffer or fault at its end.
                let len = if ptr >= scratch.ptr() as usize {
                    len.min(page as usize)
                } else {
                    len
                };
                // SAFETY: see above: the kernel checks user pointers; valid ones point into
                // `scratch`, which has at least `len` bytes from `ptr`.
                let r = unsafe {
                    if rng.bool() {
                        libc::pread(fd, ptr as *mut libc::c_void, len, offset as libc::off_t)
                    } else {
                        libc::pwrite(fd, ptr as *const libc::c_void, len, offset as libc::off_t)
                    }
                };
                let e = sys::errno();
                check!(
                    r >= 0 || matches!(e, libc::EINVAL | libc::EFAULT | libc::ENOSPC),
                    "seed {seed}: pread/pwrite({ptr:#x}, {len}, {offset}) = {r}, {}",
                    errname(e)
                );
                check!(r <= len as isize, "seed {seed}: returned {r} > {len}");
            }
            3 => {
                let whence =
                    [libc::SEEK_SET, libc::SEEK_CUR, libc::SEEK_END, 3, 4, 5, -1][rng.usize(..7)];
                let r = sys::lseek(&f, offset, whence);
                check!(
                    matches!(r, Ok(p) if (0..=size).contains(&p))
                        || matches!(r, Err(libc::EINVAL | libc::ENXIO)),
                    "seed {seed}: lseek({offset}, {whence}) = {r:?}"
                );
            }
            _ => {
                // What the kernel sees: on 32-bit, off_t truncates the offset.
                let off = ((offset & !(page - 1)) as libc::off_t) as i64;
                let len = (len.min(4 * size as usize)).max(1);
                let r = Map::new(&f, len, libc::PROT_READ, libc::MAP_SHARED, off);
                let fits = off >= 0 && off.checked_add(len as i64).is_some_and(|end| end <= size);
                match r {
                    Ok(map) => check!(
                        fits,
                        "seed {seed}: mmap({len}, {off}) past the end succeeded (len {})",
                        map.len()
                    ),
                    Err(e) => check!(
                        !fits && matches!(e, libc::EINVAL | libc::ENOMEM | libc::EOVERFLOW),
                        "seed {seed}: mmap({len}, {off}): {}",
                        errname(e)
                    ),
                }
            }
        }
    }
    let info =
        mymap_uapi::info(f.as_fd()).map_err(|e| format!("seed {seed}: INFO after fuzzing: {e}"))?;
    check!(info.size as i64 == size, "seed {seed}: size changed");
    check!(calls > 100, "only {calls} calls");
    Ok(())
}

const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";

/// Whether the kernel has kmemleak (the debug kernel).
pub fn has_kmemleak() -> bool {
    if !std::path::Path::new("/sys/kernel/debug")
        .join("kmemleak")
        .exists()
    {
        let _ = module::run("mount", &["-t", "debugfs", "debugfs", "/sys/kernel/debug"]);
    }
    std::path::Path::new(KMEMLEAK).exists()
}

/// 100 load/unload cycles, then two kmemleak scans: no new leak may be reported.
pub fn kmemleak_after_cycles() -> TestResult {
    fs::write(KMEMLEAK, "clear").map_err(|e| format!("kmemleak clear: {e}"))?;
    let result = (|| {
        module::unload_when_unused()?;
        for i in 0..100 {
            module::load(&["size=1048576", "devices=2"]).map_err(|e| format!("cycle {i}: {e}"))?;
            module::unload().map_err(|e| format!("cycle {i}: {e}"))?;
        }
        // kmemleak reports an object only once it has stayed unreferenced over two scans.
        for _ in 0..2 {
            fs::write(KMEMLEAK, "scan").map_err(|e| format!("kmemleak scan: {e}"))?;
        }
        let report = fs::read_to_string(KMEMLEAK).map_err(|e| e.to_string())?;
        check!(
            report.trim().is_empty(),
            "kmemleak reports: {}",
            report.lines().take(20).collect::<Vec<_>>().join(" | ")
        );
        Ok(())
    })();
    module::restore_default()?;
    result
}
