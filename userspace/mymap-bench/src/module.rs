// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Loading the module with a buffer size, timed, and waiting for udev's node.

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

/// The device every measurement uses.
pub const NODE: &str = "/dev/mymap";

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

pub fn loaded() -> bool {
    Path::new("/sys/module/mymap").exists()
}

/// Waits until udev has handled every event so far (untimed housekeeping between loads).
pub fn settle() -> io::Result<()> {
    run("udevadm", &["settle", "--timeout=30"])
}

/// Unloads the module if it is loaded, then loads it with `params` and waits for
/// the node; times the load alone (no udev settling inside the timed part).
pub fn reload(params: &[&str]) -> io::Result<LoadTime> {
    if loaded() {
        run("rmmod", &["mymap"])?;
    }
    settle()?;
    let mut args = vec!["mymap"];
    args.extend_from_slice(params);
    let start = Instant::now();
    run("modprobe", &args)?;
    let modprobe = start.elapsed();
    wait_for_node(NODE)?;
    Ok(LoadTime {
        modprobe,
        node: start.elapsed(),
    })
}

/// Polls until `path` is a character device with udev's group `mymap` applied.
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
    use super::group_in;

    #[test]
    fn the_group_id_comes_from_the_third_field() {
        let text = "root:x:0:\nmymapx:x:7:\nmymap:x:500:user\n";
        assert_eq!(group_in(text, "mymap"), Some(500));
        assert_eq!(group_in(text, "nogroup"), None);
    }
}
