// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Compiles the BPF ring buffer peer's programs (bpf/ringbuf-peer.bpf.c) into
//! an object that src/bpf.rs includes: clang-19, which `cargo xtask setup`
//! installs and proves able to target BPF. The object is the same for every
//! board (BPF is little-endian on all of them), so it is built once, for the
//! host, whatever cargo's target.

use std::{
    env,
    path::PathBuf,
    process::Command, //
};

const SOURCE: &str = "bpf/ringbuf-peer.bpf.c";
const CLANG: &str = "clang-19";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("ringbuf-peer.bpf.o");
    // No -g: the object carries no BTF, which the boards' kernels (no
    // CONFIG_DEBUG_INFO_BTF) and the legacy maps do not need.
    let status = Command::new(CLANG)
        .args([
            "-target", "bpfel", "-O2", "-Wall", "-Wextra", "-Werror", "-c",
        ])
        .arg(SOURCE)
        .arg("-o")
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{CLANG} -target bpfel failed on {SOURCE} ({s})"),
        Err(e) => panic!("cannot run {CLANG} ({e}): `cargo xtask setup` installs it"),
    }
}
