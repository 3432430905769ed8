// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The kernel log: all of it (`dmesg`), the records since a point (`/dev/kmsg`),
//! and the one list of lines that mean the kernel found a bug in itself.

use std::{fs, os::unix::fs::OpenOptionsExt, process::Command};

use crate::sys;

/// Kernel log lines that fail a run: warnings, bugs, oopses, sanitizer and
/// lockdep reports, memory leaks, hung tasks. `cargo xtask test` fails a boot
/// whose console has one (xtask/src/qemu.rs); the target tests count them
/// before and after a test to name the test that caused one.
pub const SPLATS: &[&str] = &[
    "------------[ cut here ]------------",
    "WARNING: CPU:",
    "WARNING: possible",
    "WARNING: suspicious RCU",
    "BUG:",
    "Oops",
    "Unable to handle kernel",
    "Kernel panic",
    "KASAN:",
    "UBSAN:",
    "INFO: possible",
    "possible circular locking dependency",
    "inconsistent lock state",
    // kmemleak's report (CONFIG_DEBUG_KMEMLEAK, debug kernel).
    "suspected memory leaks",
    "general protection fault",
    "Internal error:",
    // The hung-task detector (CONFIG_DETECT_HUNG_TASK, debug kernel).
    "blocked for more than",
    "blocked in I/O wait for more than",
];

/// Whether a kernel log line is a splat (see [`SPLATS`]).
pub fn is_splat(line: &str) -> bool {
    SPLATS.iter().any(|p| line.contains(p))
}

/// The splat lines of a kernel log or console text.
pub fn splats_in(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| is_splat(l))
        .map(str::to_string)
        .collect()
}

/// The kernel log as text.
pub fn dmesg() -> String {
    Command::new("dmesg")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
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
        sys::lseek(&file, 0, libc::SEEK_END)
            .map_err(|e| format!("lseek /dev/kmsg: {}", sys::errname(e)))?;
        Ok(Kmsg(file))
    }

    /// The messages logged since the last call (or `from_now`), one per record;
    /// the text only, continuation lines dropped.
    pub fn new_messages(&mut self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match sys::read(&self.0, &mut buf) {
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let text = record.split_once(';').map_or(&*record, |(_, t)| t);
                    out.push(text.lines().next().unwrap_or("").to_string());
                }
                Err(libc::EAGAIN) => return Ok(out),
                // Records were overwritten before this read: say so, carry on after them.
                Err(libc::EPIPE) => out.push("(kmsg: records lost to the log buffer)".into()),
                Err(e) => return Err(format!("read /dev/kmsg: {}", sys::errname(e))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_leaks_and_hung_tasks_are_splats() {
        let log = "[ 1.0] mymap: 1 device(s)\n\
                   [ 2.0] WARNING: CPU: 0 PID: 1 at mymap.rs:10 init+0x10\n\
                   [ 3.0] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n\
                   [ 4.0] INFO: task sh:80 blocked for more than 30 seconds.\n";
        assert_eq!(splats_in(log).len(), 3);
        assert!(splats_in("Starting udevd: OK\n").is_empty());
    }
}
