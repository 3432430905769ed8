// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Loading and unloading the module, and waiting for udev's device nodes.

use std::{
    fs,
    os::unix::fs::{
        FileTypeExt,
        MetadataExt, //
    },
    path::Path,
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

/// The node of device `index`: /dev/mymap, /dev/mymap1, ...
pub fn node(index: u32) -> String {
    if index == 0 {
        "/dev/mymap".into()
    } else {
        format!("/dev/mymap{index}")
    }
}

/// Waits until `path` is (or, with `present == false`, is no longer) a character
/// device with udev's group applied, for up to 15 seconds.
pub fn wait_for_node(path: &str, present: bool) -> Result<(), String> {
    let gid = group_id("mymap");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = fs::metadata(path)
            .ok()
            .filter(|m| m.file_type().is_char_device())
            .map(|m| Some(m.gid()) == gid);
        match (present, state) {
            (true, Some(true)) | (false, None) => return Ok(()),
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{path} {} within 15s (state {state:?})",
                if present {
                    "did not appear with group mymap"
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
