// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The mymap driver's target test suite (see README.md).
//!
//! Every test runs in a child process of its own, so that a test which
//! crashes (SIGBUS from a bad mapping) or hangs (a deadlock) is reported as
//! failed and the others still run.

// Request codes and offsets change type between targets (musl, glibc, 32-bit);
// casts that are no-ops on one target are needed on another.
#![allow(clippy::unnecessary_cast)]

mod buffer;
mod common;
mod direct_io;
mod faults;
mod gpio;
mod harness;
mod player;
mod registry;
mod ring;
mod ring_holder;
mod ring_hunt;
mod ring_stress;
mod ring_tests;
mod samples;
mod stress;
mod trinity;
mod tx;

use std::{
    io::{
        Read,
        Write, //
    },
    os::fd::FromRawFd,
    time::{
        Duration,
        Instant, //
    },
};

use mymap_target_support::sys;

use crate::harness::{
    Test,
    TestResult, //
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = registry::all();
    if args.iter().any(|a| a == "--list") {
        for t in &all {
            println!("{}", t.name);
        }
        return;
    }
    // `--compat`: the ABI checks that matter for a 32-bit build on a 64-bit kernel.
    let compat = args.iter().any(|a| a == "--compat");
    let args: Vec<String> = args.into_iter().filter(|a| a != "--compat").collect();
    let chosen: Vec<&Test> = if compat {
        all.iter()
            .filter(|t| registry::COMPAT.contains(&t.name))
            .collect()
    } else if args.is_empty() {
        all.iter().collect()
    } else {
        let chosen: Vec<&Test> = all
            .iter()
            .filter(|t| args.iter().any(|a| a == t.name))
            .collect();
        if chosen.len() != args.len() {
            eprintln!("mymap-target-tests: unknown test name; see --list");
            std::process::exit(2);
        }
        chosen
    };
    let suite = if compat { "driver-compat" } else { "driver" };
    let mut failed = 0;
    for test in chosen {
        if test.when.is_some_and(|when| !when()) {
            println!(
                "MYMAP-TEST: skip {suite}/{}: not available on this kernel",
                test.name
            );
            continue;
        }
        let start = Instant::now();
        let verdict = run_isolated(test);
        let took = start.elapsed().as_secs_f64();
        match verdict {
            Ok(()) => println!("MYMAP-TEST: ok {suite}/{} ({took:.2}s)", test.name),
            Err(why) => {
                failed += 1;
                println!("MYMAP-TEST: not ok {suite}/{}: {why}", test.name);
            }
        }
        let _ = std::io::stdout().flush();
    }
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

/// Runs `test` in a forked child; its verdict comes back through a pipe.
fn run_isolated(test: &Test) -> TestResult {
    let (read_end, write_end) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
    let _ = std::io::stdout().flush();
    // SAFETY: the suite is single-threaded when it forks (tests start their threads in
    // the child), so the child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(read_end);
        let verdict = (test.run)();
        // SAFETY: `write_end` is an open descriptor this process owns.
        let mut out = unsafe { std::fs::File::from_raw_fd(write_end.into_raw()) };
        let message = match verdict {
            Ok(()) => String::from("ok"),
            Err(why) => format!("fail:{why}"),
        };
        let _ = out.write_all(message.as_bytes());
        drop(out);
        // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(0) };
    }
    drop(write_end);
    // MYMAP_TEST_TIMEOUT: seconds for every test run, for long runs such as a hunt.
    let timeout = std::env::var("MYMAP_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(test.timeout);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let status = loop {
        if let Some(status) = sys::try_wait(pid) {
            break status;
        }
        if Instant::now() >= deadline {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = sys::wait(pid);
            return Err(format!("timed out after {timeout}s (hung?)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: `read_end` is an open descriptor this process owns.
    let mut input = unsafe { std::fs::File::from_raw_fd(read_end.into_raw()) };
    let mut message = String::new();
    let _ = input.read_to_string(&mut message);
    if libc::WIFSIGNALED(status) {
        return Err(format!("killed by signal {}", libc::WTERMSIG(status)));
    }
    match message.strip_prefix("fail:") {
        Some(why) => Err(why.to_string()),
        None if message == "ok" => Ok(()),
        None => Err(format!("child exited ({status:#x}) without a verdict")),
    }
}
