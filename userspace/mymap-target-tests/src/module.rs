// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Loading and unloading the module, and waiting for udev's device nodes.

use std::{
    fs,
    os::unix::fs::{
        FileTypeExt,
        MetadataExt,
        OpenOptionsExt, //
    },
    path::{
        Path,
        PathBuf, //
    },
    process::Command,
    time::{
        Duration,
        Instant, //
    },
};

/// Runs a command; `Ok(())` if it exits 0, else its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

pub fn loaded() -> bool {
    Path::new("/sys/module/mymap").exists()
}

pub fn load(params: &[&str]) -> Result<(), String> {
    let mut args = vec!["mymap"];
    args.extend_from_slice(params);
    run("modprobe", &args)
}

pub fn unload() -> Result<(), String> {
    run("rmmod", &["mymap"])
}

/// Loads with `params` and waits for the `count` nodes udev creates.
pub fn load_and_wait(params: &[&str], count: u32) -> Result<(), String> {
    load(params)?;
    for index in 0..count {
        wait_for_node(&node(index), true)?;
    }
    Ok(())
}

/// Leaves the module loaded with default parameters, whatever state it is in.
pub fn restore_default() -> Result<(), String> {
    if loaded() {
        unload_when_unused()?;
    }
    load_and_wait(&[], 1)
}

/// Unloads once the last file reference is gone. A thread that closed its files
/// and was joined may still hold them for a moment: its exit wakes the joiner
/// (clearing the thread id) before it releases its files. So wait, up to 10
/// seconds, for the module's reference count to reach 0 before `rmmod`.
pub fn unload_when_unused() -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let refcnt = fs::read_to_string("/sys/module/mymap/refcnt").unwrap_or_default();
        if refcnt.trim() == "0" || Instant::now() >= deadline {
            return unload();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The file of module `name` (`<name>.ko`) under /lib/modules/<release>/, wherever
/// the image put it (`updates/`, `extra/`, ...).
pub fn module_file(name: &str) -> Option<PathBuf> {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let file = format!("{name}.ko");
    let mut dirs = vec![Path::new("/lib/modules").join(release.trim())];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| *n == *file) {
                return Some(path);
            }
        }
    }
    None
}

/// The node of device `index`: /dev/mymap, /dev/mymap1, ...
pub fn node(index: u32) -> String {
    if index == 0 {
        "/dev/mymap".into()
    } else {
        format!("/dev/mymap{index}")
    }
}

/// Waits until `path` is (or, with `present == false`, is no longer) a character
/// device with udev's group and mode applied, for up to 15 seconds.
pub fn wait_for_node(path: &str, present: bool) -> Result<(), String> {
    let gid = group_id("mymap");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = fs::metadata(path)
            .ok()
            .filter(|m| m.file_type().is_char_device())
            // What the udev rule sets: the group and the mode, which udev applies one after
            // the other (devtmpfs creates the node 0600), so waiting for the group alone let
            // a test see mode 600 now and then.
            .map(|m| Some(m.gid()) == gid && m.mode() & 0o777 == 0o660);
        match (present, state) {
            (true, Some(true)) | (false, None) => return Ok(()),
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{path} {} within 15s (state {state:?})",
                if present {
                    "did not appear with group mymap and mode 0660"
                } else {
                    "did not go away"
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A group's id from /etc/group.
pub fn group_id(name: &str) -> Option<u32> {
    let text = fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

/// The kernel log as text.
pub fn dmesg() -> String {
    Command::new("dmesg")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Free memory in KiB, measured so that only memory someone holds moves it:
/// after udev has handled every event and its workers have exited (each
/// worker holds a forked copy of udevd for a few seconds after its last
/// event), after the page and slab caches are dropped, counting the pages in
/// the per-CPU free lists as free. `MemAvailable` does neither: it counts
/// neither the per-CPU lists (which grow by megabytes after a burst of frees)
/// nor the memory of workers still alive, and those made a leak check on it
/// fail at random. Returns the value and a line on what it is made of.
pub fn quiet_free_kib() -> Result<(u64, String), String> {
    let _ = run("udevadm", &["settle", "--timeout=30"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut workers = udev_processes();
    while workers > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        workers = udev_processes();
    }
    if workers > 1 {
        return Err(format!("{workers} udev processes still alive after 30 s"));
    }
    fs::write("/proc/sys/vm/drop_caches", "3").map_err(|e| format!("drop_caches: {e}"))?;
    let vmstat = fs::read_to_string("/proc/vmstat").map_err(|e| format!("/proc/vmstat: {e}"))?;
    let free = field(&vmstat, "nr_free_pages").ok_or("no nr_free_pages in /proc/vmstat")?;
    let zoneinfo =
        fs::read_to_string("/proc/zoneinfo").map_err(|e| format!("/proc/zoneinfo: {e}"))?;
    // Each per-CPU page set has a line `count: N` (pages on its free lists).
    let per_cpu: u64 = zoneinfo
        .lines()
        .filter_map(|l| l.trim().strip_prefix("count:"))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum();
    let page_kib = crate::sys::page_size() as u64 / 1024;
    let kib = (free + per_cpu) * page_kib;
    Ok((
        kib,
        format!("{kib} KiB free ({free} pages in the buddy lists, {per_cpu} on per-CPU lists)"),
    ))
}

/// A `name value` line's value, as in /proc/vmstat.
fn field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (key, value) = l.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// `MemAvailable` in KiB.
pub fn mem_available_kib() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Processes whose name has `udev` in it: the daemon and its workers.
fn udev_processes() -> usize {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.contains("udev")))
        .count()
}

/// The kernel log from a point on, read through /dev/kmsg: exactly the records
/// logged since, however full the log buffer was.
pub struct Kmsg(fs::File);

impl Kmsg {
    /// Starts after the last record logged so far.
    pub fn from_now() -> Result<Kmsg, String> {
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("open /dev/kmsg: {e}"))?;
        crate::sys::lseek(&file, 0, libc::SEEK_END)
            .map_err(|e| format!("lseek /dev/kmsg: {}", crate::sys::errname(e)))?;
        Ok(Kmsg(file))
    }

    /// The messages logged since the last call (or `from_now`), one per record;
    /// the text only, continuation lines dropped.
    pub fn new_messages(&mut self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match crate::sys::read(&self.0, &mut buf) {
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let text = record.split_once(';').map_or(&*record, |(_, t)| t);
                    out.push(text.lines().next().unwrap_or("").to_string());
                }
                Err(libc::EAGAIN) => return Ok(out),
                // Records were overwritten before this read: say so, carry on after them.
                Err(libc::EPIPE) => out.push("(kmsg: records lost to the log buffer)".into()),
                Err(e) => return Err(format!("read /dev/kmsg: {}", crate::sys::errname(e))),
            }
        }
    }
}
