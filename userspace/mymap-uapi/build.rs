// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Generates `$OUT_DIR/bindings.rs` from the one C definition of the mymap ABI.
//!
//! The header is parsed with `-nostdinc` against the stand-ins in `include/`,
//! and with bindgen's include-path detection off, so that no header of the
//! build machine can leak into the bindings of a cross target. bindgen passes
//! cargo's `TARGET` to clang, so the layout assertions it emits are checked
//! for the architecture being built.

use std::env;
use std::path::{Path, PathBuf};
use std::process;

/// The ABI header, relative to this crate.
const HEADER: &str = "../../driver/include/uapi/linux/mymap.h";

/// Stand-ins for the kernel headers that `mymap.h` includes.
const SHIM: &str = "include";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let header = manifest_dir.join(HEADER);
    let shim = manifest_dir.join(SHIM);
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-changed={}", shim.display());
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");

    load_libclang();
    let bindings = generate(&header, &shim).unwrap_or_else(|err| {
        fail(&format!("bindgen failed on {}: {err}", header.display()));
    });
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|err| fail(&format!("cannot write {}: {err}", out.display())));
}

/// Runs bindgen on `header`, keeping only the mymap items.
fn generate(header: &Path, shim: &Path) -> Result<bindgen::Bindings, bindgen::BindgenError> {
    let header = header
        .to_str()
        .unwrap_or_else(|| fail("the header path is not UTF-8"));
    let shim = shim
        .to_str()
        .unwrap_or_else(|| fail("the crate path is not UTF-8"));
    bindgen::Builder::default()
        .header(header)
        .clang_args(["-nostdinc", "-isystem", shim])
        .detect_include_paths(false)
        .allowlist_type("mymap_.*")
        .allowlist_var("MYMAP_.*")
        .use_core()
        .derive_default(true)
        .derive_eq(true)
        .derive_hash(true)
        .layout_tests(true)
        .generate()
}

/// Loads libclang the way bindgen would (`LIBCLANG_PATH`, then `llvm-config`, then the
/// usual directories such as `/usr/lib/llvm-*/lib`), but fails with the fix spelled out.
fn load_libclang() {
    if let Err(err) = clang_sys::load() {
        fail(&format!(
            "libclang is needed to generate the mymap bindings and was not found: {err}\n\
             Fix: run `cargo xtask setup` (it installs Debian's libclang-19-dev), \
             or point LIBCLANG_PATH at the directory holding libclang.so \
             (e.g. LIBCLANG_PATH=/usr/lib/llvm-19/lib)."
        ));
    }
}

/// Prints `message` as a build error and stops the build script.
fn fail(message: &str) -> ! {
    for line in message.lines() {
        println!("cargo:warning={line}");
    }
    eprintln!("error: {message}");
    process::exit(1);
}
