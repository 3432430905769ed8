// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The commands as a user runs them, on the host: everything that needs no
//! mymap device (errors, exit statuses, help). The device itself is tested on
//! the target by tests/target/mymap-read.sh.

use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("MYMAP_DEVICE")
        .output()
        .expect("run the command")
}

fn mymap_read(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_mymap-read"), args)
}

fn mymapctl(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_mymapctl"), args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_device_exits_1_with_the_fix() {
    let out = mymap_read(&["--device", "/nonexistent/mymap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with("mymap-read: error: /nonexistent/mymap: no such device: load the module"),
        "{err}"
    );
    assert!(err.contains("modprobe mymap"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn the_device_comes_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_mymap-read"))
        .env("MYMAP_DEVICE", "/nonexistent/from-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/from-env: no such device"));
}

#[test]
fn another_device_is_not_mymap() {
    let out = mymap_read(&["--device", "/dev/null", "--info"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("mymap-read: error: /dev/null: not a mymap device"),
        "{err}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["--hex", "--raw"][..],
        &["--offset", "x"],
        &["--length", "0"],
        &["--via", "dma"],
        &["--count", "2"],
        &["--wait-gpio", "nochip"],
        &["--no-such-flag"],
    ] {
        let out = mymap_read(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn help_exits_0_with_examples_and_statuses() {
    let out = mymap_read(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("  3  --timeout ran out first"), "{help}");
}

#[test]
fn mymapctl_errors() {
    let out = mymapctl(&["--device", "/nonexistent/mymap", "clear"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("mymapctl: error: /nonexistent/mymap: no such device"));

    let out = mymapctl(&["--device", "/dev/null", "write", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("mymapctl: error: /dev/null: not a mymap device"));

    let out = mymapctl(&[]);
    assert_eq!(out.status.code(), Some(2));
    let out = mymapctl(&["write", "--offset", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ring_errors() {
    let out = mymap_read(&["--ring", "/dev/null", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("mymap-read: error: /dev/null: not a mymap ring"),
        "{err}"
    );
    assert!(err.contains("pass a /dev/mymap-ringN node"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let out = mymap_read(&["--ring", "/nonexistent/mymap-ring0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/mymap-ring0: no such device"));

    let out = mymapctl(&["ring", "--ring", "/dev/null", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("mymapctl: error: /dev/null: not a mymap ring"));
}

#[test]
fn ring_bad_arguments_exit_2() {
    for args in [
        &["--ring", "--raw"][..],
        &["--ring", "--follow"],
        &["--ring", "--offset", "8"],
        &["--ring", ""],
    ] {
        let out = mymap_read(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    for args in [
        &["ring", "start"][..],
        &["ring", "start", "--period", "10"],
        &["ring", "wakeup", "watermark"],
        &["ring", "inject"],
        // Checked before the ring is opened.
        &[
            "ring",
            "--ring",
            "/dev/null",
            "wakeup",
            "every",
            "--bytes",
            "4",
        ],
    ] {
        let out = mymapctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}
