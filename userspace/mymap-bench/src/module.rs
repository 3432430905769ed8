// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The devices measured (mymap and the reference C drivers of bench/peers),
//! loading their modules with a buffer size, timed, and waiting for udev's node.

use std::{
    fs, io,
    os::unix::fs::{
        FileTypeExt,
        MetadataExt, //
    },
    path::Path,
    process::Command,
    thread,
    time::{
        Duration,
        Instant, //
    },
};

/// A device the bench measures: its module, its node and how tables name it.
#[derive(Debug, PartialEq, Eq)]
pub struct Device {
    /// Short, stable name in ids and JSON: `mymap`, `pfn`, `vfault`.
    pub id: &'static str,
    pub module: &'static str,
    pub node: &'static str,
    /// How a table's column names it.
    pub label: &'static str,
}

/// The driver under test.
pub const MYMAP: Device = Device {
    id: "mymap",
    module: "mymap",
    node: "/dev/mymap",
    label: "mymap",
};

/// The reference C drivers (bench/peers/), in the bench image only.
pub const PEERS: [Device; 2] = [
    Device {
        id: "pfn",
        module: "mymap_pfn",
        node: "/dev/mymap-pfn",
        label: "remap_pfn_range",
    },
    Device {
        id: "vfault",
        module: "mymap_vfault",
        node: "/dev/mymap-vfault",
        label: "vmalloc + fault",
    },
];

/// How long udev may take to create the node and apply its group.
const NODE_DEADLINE: Duration = Duration::from_secs(15);

/// What one load took.
pub struct LoadTime {
    /// Wall time of `modprobe`.
    pub modprobe: Duration,
    /// From the start of `modprobe` until the node is there with group `mymap`.
    pub node: Duration,
}

/// Runs a program; an error carrying its stderr unless it exits 0.
fn run(program: &str, args: &[&str]) -> io::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{program}: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub fn loaded(dev: &Device) -> bool {
    Path::new("/sys/module").join(dev.module).exists()
}

/// Whether `modprobe` can find the device's module: a line of `modules.dep` names
/// its file. The peers are only in the bench image.
pub fn available(dev: &Device) -> bool {
    let Ok(release) = fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let dep = Path::new("/lib/modules")
        .join(release.trim())
        .join("modules.dep");
    fs::read_to_string(dep).is_ok_and(|text| lists(&text, dev.module))
}

/// Whether a `modules.dep` text has an entry for `module`, `extra/<module>.ko:`.
fn lists(dep: &str, module: &str) -> bool {
    let file = format!("{module}.ko");
    dep.lines().any(|line| {
        let path = line.split(':').next().unwrap_or("");
        path.rsplit('/').next() == Some(file.as_str())
    })
}

/// Unloads the device's module if it is loaded.
pub fn unload(dev: &Device) -> io::Result<()> {
    if loaded(dev) {
        run("rmmod", &[dev.module])?;
    }
    Ok(())
}

/// Waits until udev has handled every event so far (untimed housekeeping between loads).
pub fn settle() -> io::Result<()> {
    run("udevadm", &["settle", "--timeout=30"])
}

/// Unloads the device's module if it is loaded, then loads it with `params` and
/// waits for the node; times the load alone (no udev settling inside the timed part).
pub fn reload(dev: &Device, params: &[&str]) -> io::Result<LoadTime> {
    unload(dev)?;
    settle()?;
    let mut args = vec![dev.module];
    args.extend_from_slice(params);
    let start = Instant::now();
    run("modprobe", &args)?;
    let modprobe = start.elapsed();
    wait_for_node(dev.node)?;
    Ok(LoadTime {
        modprobe,
        node: start.elapsed(),
    })
}

/// Polls until `path` is a character device with udev's group `mymap` applied
/// (the udev rule matches every misc device named `mymap*`, the peers' too).
fn wait_for_node(path: &str) -> io::Result<()> {
    let gid = group_id("mymap").ok_or_else(|| io::Error::other("no group mymap in /etc/group"))?;
    let deadline = Instant::now() + NODE_DEADLINE;
    loop {
        let ready = fs::metadata(path)
            .map(|m| m.file_type().is_char_device() && m.gid() == gid)
            .unwrap_or(false);
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "{path} did not appear with group mymap within {}s; is udev running?",
                NODE_DEADLINE.as_secs()
            )));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// A group's id from /etc/group.
fn group_id(name: &str) -> Option<u32> {
    group_in(&fs::read_to_string("/etc/group").ok()?, name)
}

fn group_in(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then(|| fields.nth(1)?.parse().ok())?
    })
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
