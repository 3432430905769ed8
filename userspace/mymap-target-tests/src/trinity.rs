// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Trinity, the Linux system call fuzzer (Debian's `trinity`), against the
//! device, on the debug kernel (KASAN, lockdep, `panic_on_warn`).
//!
//! Trinity runs for a bounded time as user `fuzz` (not root) with primary group
//! `mymap` and no other group, on the memory and file system calls that reach a
//! driver, with descriptors of the devices, of pipes (for `splice` and
//! `vmsplice`) and of one socket (for `ioctl`, below) only, not the many
//! sockets, `/proc`, `/sys` and `/dev` files it pokes by default. Its output
//! goes to this test, which prints a summary line: the console stays
//! readable, and the xtask's scan for kernel splats sees any.
//!
//! Two of trinity's descriptor sources are the devices: its victim files
//! (`-V`, nodes of the devices), and its "test files", which it creates as
//! `trinity-testfileN` in its working directory and maps a page of at start.
//! Here those names are device nodes owned by root in a sticky directory, so
//! trinity cannot replace them and opens (and maps) the devices: the mappings
//! its `mremap`, `madvise`, `msync`, `mprotect` and `munmap` calls work on are
//! then the device's too, which the victim files alone do not give (trinity
//! maps a victim file by its size, and a device node's is 0).
//!
//! Trinity 2023.01 (Debian 12's) fuzzes `ioctl` only with its socket source
//! on: its ioctl argument generator walks the sockets' list, which exists only
//! once a socket was opened, and crashes the child before the call without
//! it. That source, generating its 50 sockets, crashes trinity at start
//! (`do_random_sso` in syscalls/setsockopt.c indexes its 45-entry protocol
//! table with `rnd() % PF_MAX`, 46); given a socket cache file
//! (`trinity.socketcache`, in the working directory, root's and read-only)
//! naming one netlink socket, it opens that one alone, whose protocol has its
//! own option generator, which rarely reaches that code.

use std::{
    fs,
    io::{
        BufRead,
        BufReader, //
    },
    os::unix::{
        fs::{
            FileTypeExt,
            MetadataExt,
            PermissionsExt, //
        },
        process::CommandExt,
    },
    path::{
        Path,
        PathBuf, //
    },
    process::{
        Child,
        Command,
        ExitStatus,
        Stdio, //
    },
    sync::{
        Arc,
        Mutex, //
    },
    time::{
        Duration,
        Instant, //
    },
};

use mymap_target_support::module;

use crate::harness::{
    check,
    TestResult, //
};

const TRINITY: &str = "/usr/bin/trinity";
/// `debug` or `release`, written by `cargo xtask image`.
const KERNEL_VARIANT: &str = "/etc/mymap-kernel";
/// The fuzzer's user (boards/common/test-rootfs/etc/passwd): not root, and its
/// primary group is `mymap`, the group trinity checks a victim file's mode against.
const FUZZ_UID: u32 = 1000;
/// How long trinity fuzzes before it is told to stop (SIGINT).
const RUN: Duration = Duration::from_secs(90);
/// How long it may take to stop after SIGINT before it counts as hung.
const STOP_GRACE: Duration = Duration::from_secs(60);
/// Fewer calls than this in `RUN` means trinity did not really run: it made
/// 24375 and 32450 in 94 s on `qemu-aarch64-virt`'s debug kernel (two runs,
/// 2026-11-30); this is a twelfth of the fewer.
const MIN_CALLS: u64 = 2000;
/// Trinity's child processes, each making calls.
const CHILDREN: u32 = 4;
/// The system calls trinity makes: those that reach the driver's file, VMA or
/// pages. Not `close` (trinity refuses it) or `fsync` (trinity makes one in a
/// thousand of the calls picked).
const SYSCALLS: &[&str] = &[
    "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "read", "write", "pread64",
    "pwrite64", "readv", "writev", "lseek", "splice", "vmsplice", "ioctl",
];
/// Trinity's socket cache (see above): one (family, type, protocol) triplet of
/// native-endian `u32`s, a raw `NETLINK_ROUTE` socket.
const SOCKET_CACHE: [u32; 3] = [libc::AF_NETLINK as u32, libc::SOCK_RAW as u32, 0];
/// The module's parameters while trinity runs: two devices, and buffers large
/// enough for the 1 and 2 MiB mappings trinity asks for.
const PARAMS: &[&str] = &["size=4194304", "devices=2"];
const DEVICES: u32 = 2;
/// Trinity's working directory and its victim files (device nodes).
const WORK: &str = "/tmp/mymap-fuzz";

/// Trinity runs only on the debug kernel; there, a missing trinity fails the test.
pub fn on_debug_kernel() -> bool {
    fs::read_to_string(KERNEL_VARIANT).is_ok_and(|v| v.trim() == "debug")
}

pub fn trinity() -> TestResult {
    check!(
        Path::new(TRINITY).exists(),
        "{TRINITY} is missing: `cargo xtask image` installs Debian's trinity in debug-kernel images"
    );
    let gid = module::group_id("mymap").ok_or("no group mymap in /etc/group")?;
    let result = (|| {
        module::unload_when_unused()?;
        module::load_and_wait(PARAMS, DEVICES)?;
        let (victims, cwd) = prepare(gid)?;
        let taint_before = taint()?;
        let report = run(&victims, &cwd, gid)?;
        let taint_after = taint()?;
        check!(
            taint_after & !taint_before == 0,
            "the kernel became tainted while trinity ran ({taint_before:#x} -> {taint_after:#x}); see the console"
        );
        report.check()
    })();
    let restored = module::restore_default();
    let _ = fs::remove_dir_all(WORK);
    result.and(restored)
}

/// The victim directory, with two nodes per device (trinity opens each path it
/// picks with random flags, so several names give it several descriptors), and
/// trinity's working directory: sticky, writable by group `mymap`, with the
/// four `trinity-testfileN` names as root's nodes of the devices.
fn prepare(gid: u32) -> Result<(PathBuf, PathBuf), String> {
    let work = Path::new(WORK);
    let _ = fs::remove_dir_all(work);
    let victims = work.join("victims");
    let cwd = work.join("cwd");
    for dir in [&victims, &cwd] {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    fs::set_permissions(work, fs::Permissions::from_mode(0o755)).map_err(|e| io(WORK, e))?;
    std::os::unix::fs::chown(&victims, Some(0), Some(gid)).map_err(|e| io("chown victims", e))?;
    fs::set_permissions(&victims, fs::Permissions::from_mode(0o750))
        .map_err(|e| io("chmod victims", e))?;
    std::os::unix::fs::chown(&cwd, Some(0), Some(gid)).map_err(|e| io("chown cwd", e))?;
    fs::set_permissions(&cwd, fs::Permissions::from_mode(0o1770))
        .map_err(|e| io("chmod cwd", e))?;
    for index in 0..DEVICES {
        let node = module::node(index);
        let meta = fs::metadata(&node).map_err(|e| io(&node, e))?;
        check!(
            meta.file_type().is_char_device(),
            "{node} is not a character device"
        );
        for copy in ["a", "b"] {
            mknod(
                &victims.join(format!("mymap{index}-{copy}")),
                meta.rdev(),
                gid,
            )?;
        }
        for n in [2 * index + 1, 2 * index + 2] {
            mknod(&cwd.join(format!("trinity-testfile{n}")), meta.rdev(), gid)?;
        }
    }
    let cache = cwd.join("trinity.socketcache");
    let bytes: Vec<u8> = SOCKET_CACHE.iter().flat_map(|v| v.to_ne_bytes()).collect();
    fs::write(&cache, bytes).map_err(|e| io("socket cache", e))?;
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o444))
        .map_err(|e| io("chmod socket cache", e))?;
    Ok((victims, cwd))
}

/// A node of device `rdev` at `path`: owner root, group `gid`, mode 0660.
fn mknod(path: &Path, rdev: u64, gid: u32) -> TestResult {
    let name = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `name` is a NUL-terminated path; mknod reads nothing else.
    let r = unsafe { libc::mknod(name.as_ptr(), libc::S_IFCHR | 0o660, rdev as libc::dev_t) };
    check!(
        r == 0,
        "mknod {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    std::os::unix::fs::chown(path, Some(0), Some(gid)).map_err(io)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o660)).map_err(io)?;
    Ok(())
}

/// The kernel's taint flags.
fn taint() -> Result<u64, String> {
    let text = fs::read_to_string("/proc/sys/kernel/tainted")
        .map_err(|e| format!("/proc/sys/kernel/tainted: {e}"))?;
    text.trim()
        .parse()
        .map_err(|e| format!("/proc/sys/kernel/tainted: {e}"))
}

/// What trinity printed and how it ended.
struct Report {
    status: ExitStatus,
    output: Vec<String>,
    took: Duration,
    /// Whether it had to be told to stop (it had not reached its call limit).
    interrupted: bool,
    /// The process's ids, read from /proc while it ran: uid, gid and groups lines.
    credentials: String,
}

impl Report {
    /// Trinity's own total: `Ran N syscalls. Successes: S  Failures: F`.
    fn totals(&self) -> Option<(u64, u64, u64)> {
        self.output.iter().rev().find_map(|line| {
            let rest = line.split("Ran ").nth(1)?;
            let mut words = rest.split_whitespace();
            let ran = words.next()?.parse().ok()?;
            let mut number_after = |label: &str| {
                words
                    .by_ref()
                    .skip_while(|w| *w != label)
                    .nth(1)
                    .and_then(|w| w.trim_end_matches('.').parse().ok())
            };
            let successes = number_after("Successes:")?;
            let failures = number_after("Failures:")?;
            Some((ran, successes, failures))
        })
    }

    /// Per system call, `name attempted/succeeded`, from `--stats`.
    fn per_call(&self) -> Vec<String> {
        self.output
            .iter()
            .filter_map(|line| {
                let (name, rest) = line.split_once(": (attempted:")?;
                let attempted = rest.split('.').next()?;
                let success = rest.split("success:").nth(1)?.split('.').next()?;
                Some(format!("{} {attempted}/{success}", name.trim()))
            })
            .collect()
    }

    /// Why trinity's main loop ended, in its words.
    fn reason(&self) -> Option<&str> {
        self.output.iter().rev().find_map(|line| {
            line.split("Bailing main loop because ")
                .nth(1)
                .map(|r| r.trim().trim_end_matches('.'))
        })
    }

    fn tail(&self) -> String {
        let start = self.output.len().saturating_sub(8);
        self.output[start..].join(" | ")
    }

    fn check(&self) -> TestResult {
        check!(
            self.status.success(),
            "trinity exited with {} (reason: {:?}): {}",
            self.status,
            self.reason(),
            self.tail()
        );
        let credentials = &self.credentials;
        check!(
            credentials.contains(&format!("Uid:\t{FUZZ_UID}\t")),
            "trinity did not run as uid {FUZZ_UID}: {credentials:?}"
        );
        let expected = if self.interrupted {
            "ctrl-c"
        } else {
            "Completed maximum number of operations"
        };
        check!(
            self.reason() == Some(expected),
            "trinity stopped because {:?}, want {expected:?}: {}",
            self.reason(),
            self.tail()
        );
        let (ran, successes, failures) = self
            .totals()
            .ok_or_else(|| format!("no 'Ran N syscalls' line from trinity: {}", self.tail()))?;
        println!(
            "MYMAP-NOTE: trinity: {ran} syscalls in {:.0} s ({successes} succeeded, {failures} failed), \
             {CHILDREN} children, as {}, on {DEVICES} devices (victim and test files), pipes and a socket",
            self.took.as_secs_f64(),
            credentials
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let per_call = self.per_call();
        if !per_call.is_empty() {
            println!(
                "MYMAP-NOTE: trinity: per call, attempted/succeeded: {}",
                per_call.join(", ")
            );
        }
        check!(
            ran >= MIN_CALLS,
            "trinity made only {ran} calls in {:.0} s (at least {MIN_CALLS} expected)",
            self.took.as_secs_f64()
        );
        // Without its socket, trinity's children die before nearly every ioctl.
        let ioctls: u64 = per_call
            .iter()
            .filter_map(|c| {
                c.strip_prefix("ioctl ")?
                    .split('/')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        let floor = ran / (4 * SYSCALLS.len() as u64);
        check!(
            ioctls >= floor,
            "trinity made only {ioctls} ioctl calls of {ran} (at least {floor} expected)"
        );
        Ok(())
    }
}

/// Reads `stream` line by line into `lines` until it ends.
fn collect(stream: impl std::io::Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
}

/// The uid, gid and groups lines of a process's status.
fn credentials(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("Uid:") || l.starts_with("Gid:") || l.starts_with("Groups:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts trinity, lets it run for `RUN`, stops it, and kills what is left of
/// its process group.
fn run(victims: &Path, cwd: &Path, gid: u32) -> Result<Report, String> {
    let mut cmd = Command::new(TRINITY);
    cmd.args([
        "-q",
        "-l",
        "off",
        "--stats",
        "--enable-fds=pseudo,testfile,pipes,sockets",
    ])
    .arg("-V")
    .arg(victims)
    .args(["-C", &CHILDREN.to_string()])
    // An upper bound only: the time limit ends the run first.
    .args(["-N", "100000000"]);
    for call in SYSCALLS {
        cmd.args(["-c", call]);
    }
    cmd.current_dir(cwd)
        .env_clear()
        .env("HOME", cwd)
        .env("PATH", "/usr/bin:/bin")
        // Setting the uid from root also drops the supplementary groups.
        .uid(FUZZ_UID)
        .gid(gid)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure only calls prctl, which is async-signal-safe, between
    // fork and exec (after the credentials changed, which would clear the setting).
    unsafe {
        cmd.pre_exec(|| {
            // Trinity dies with this test's process, even if a timeout kills it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {TRINITY}: {e}"))?;
    let output = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().unwrap(), output.clone());
    collect(child.stderr.take().unwrap(), output.clone());
    let pid = child.id();
    let result = supervise(&mut child, pid, start);
    // Whatever is left of trinity's processes (its children) goes too.
    // SAFETY: kill has no memory-safety preconditions; the group is trinity's own.
    unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
    let (status, interrupted, credentials) = result?;
    let took = start.elapsed();
    // The readers end when the last process holding the pipes is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&output) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = output.lock().unwrap().clone();
    Ok(Report {
        status,
        output,
        took,
        interrupted,
        credentials,
    })
}

/// Waits for trinity to finish or for `RUN` to pass, then stops it with SIGINT
/// (trinity prints its totals then). Returns its status, whether it was
/// interrupted, and its credentials as read while it ran.
fn supervise(
    child: &mut Child,
    pid: u32,
    start: Instant,
) -> Result<(ExitStatus, bool, String), String> {
    let wait = |child: &mut Child| child.try_wait().map_err(|e| format!("wait: {e}"));
    let mut credentials = String::new();
    loop {
        if let Some(status) = wait(child)? {
            return Ok((status, false, credentials));
        }
        if credentials.is_empty() && start.elapsed() > Duration::from_secs(2) {
            credentials = self::credentials(pid);
        }
        if start.elapsed() >= RUN {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: kill has no memory-safety preconditions; `pid` is our child, not yet reaped.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    let stop = Instant::now();
    loop {
        if let Some(status) = wait(child)? {
            return Ok((status, true, credentials));
        }
        if stop.elapsed() >= STOP_GRACE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "trinity did not stop within {} s of SIGINT (a call stuck in the kernel?)",
                STOP_GRACE.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
