// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Loading and unloading modules (mymap, the bench's reference drivers, the
//! test modules), waiting for udev's device nodes, and what the kernel says
//! about memory.

use std::{
    fs,
    os::unix::fs::{
        FileTypeExt,
        MetadataExt, //
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

use crate::sys;

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

/// The driver's module.
pub const MYMAP: &str = "mymap";

/// Whether module `name` is loaded.
pub fn is_loaded(name: &str) -> bool {
    Path::new("/sys/module").join(name).exists()
}

/// Whether mymap is loaded.
pub fn loaded() -> bool {
    is_loaded(MYMAP)
}

/// `modprobe name params...`.
pub fn modprobe(name: &str, params: &[&str]) -> Result<(), String> {
    let mut args = vec![name];
    args.extend_from_slice(params);
    run("modprobe", &args)
}

/// Loads mymap with `params`.
pub fn load(params: &[&str]) -> Result<(), String> {
    modprobe(MYMAP, params)
}

/// Unloads mymap.
pub fn unload() -> Result<(), String> {
    run("rmmod", &[MYMAP])
}

/// Waits until udev has handled every event so far.
pub fn settle() -> Result<(), String> {
    run("udevadm", &["settle", "--timeout=30"])
}

/// Whether `modprobe` can find module `name`: a line of `modules.dep` names its
/// file (the bench's reference drivers are only in the bench image).
pub fn available(name: &str) -> bool {
    let Ok(release) = fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let dep = Path::new("/lib/modules")
        .join(release.trim())
        .join("modules.dep");
    fs::read_to_string(dep).is_ok_and(|text| lists(&text, name))
}

/// Whether a `modules.dep` text has an entry for `module`, `extra/<module>.ko:`.
fn lists(dep: &str, module: &str) -> bool {
    let file = format!("{module}.ko");
    dep.lines().any(|line| {
        let path = line.split(':').next().unwrap_or("");
        path.rsplit('/').next() == Some(file.as_str())
    })
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

/// How long udev may take to give a node its group and mode. A guard against a
/// node that never comes, not a measure: 15 s ran out once on the debug kernel
/// with the host at load 7 (the node there, udev's group or mode not yet on it).
pub const NODE_DEADLINE: Duration = Duration::from_secs(60);

/// Waits until `path` is (or, with `present == false`, is no longer) a character
/// device with udev's group and mode applied, for up to [`NODE_DEADLINE`].
pub fn wait_for_node(path: &str, present: bool) -> Result<(), String> {
    let gid = group_id("mymap");
    let deadline = Instant::now() + NODE_DEADLINE;
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
                "{path} {} within {}s (state {state:?})",
                if present {
                    "did not appear with group mymap and mode 0660"
                } else {
                    "did not go away"
                },
                NODE_DEADLINE.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A group's id from /etc/group.
pub fn group_id(name: &str) -> Option<u32> {
    group_in(&fs::read_to_string("/etc/group").ok()?, name)
}

fn group_in(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then(|| fields.nth(1)?.parse().ok())?
    })
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
    let page_kib = sys::page_size() as u64 / 1024;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_id_comes_from_the_third_field() {
        let text = "root:x:0:\nmymapx:x:7:\nmymap:x:500:user\n";
        assert_eq!(group_in(text, "mymap"), Some(500));
        assert_eq!(group_in(text, "nogroup"), None);
    }

    #[test]
    fn a_module_is_available_when_modules_dep_lists_its_file() {
        let dep = "updates/mymap.ko:\nextra/mymap_pfn.ko:\nkernel/x/mymap_vfault2.ko: a.ko\n";
        assert!(lists(dep, "mymap"));
        assert!(lists(dep, "mymap_pfn"));
        assert!(!lists(dep, "mymap_vfault"));
        assert!(!lists("", "mymap"));
    }
}
