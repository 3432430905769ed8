//! `cargo xtask codegen`: the driver's Rust copies of its C headers.
//!
//! The kernel build of an out-of-tree module has no step that runs bindgen on
//! the module's own headers, so the driver commits the generated files, and
//! `--check` (run by `cargo xtask test`) proves they match the headers:
//!
//! - `driver/uapi_generated.rs`, the ABI, from the UAPI header;
//! - `driver/glue_generated.rs`, the declarations of the C glue gpio.rs calls
//!   (`driver/gpio_glue.h`) and of the producer API exports.rs defines
//!   (`driver/include/linux/mymap_ring.h`, checked against those definitions
//!   when the module is built).

use std::fs;

use anyhow::{
    bail,
    Context,
    Result, //
};
use xshell::{
    cmd,
    Shell, //
};

use crate::{
    flags,
    setup,
    util::{
        checkout_dir,
        project_root, //
    }, //
};

/// One committed file of bindgen's output.
struct Generated {
    /// The file, from the project root.
    output: &'static str,
    /// The headers it is generated from, for messages.
    from: &'static str,
    generate: fn(&Shell) -> Result<String>,
}

const GENERATED: [Generated; 2] = [
    Generated {
        output: "driver/uapi_generated.rs",
        from: "driver/include/uapi/linux/mymap.h",
        generate: uapi,
    },
    Generated {
        output: "driver/glue_generated.rs",
        from: "driver/gpio_glue.h and driver/include/linux/mymap_ring.h",
        generate: glue,
    },
];

impl flags::Codegen {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.check {
            return check(sh);
        }
        setup::ensure(sh)?;
        for file in &GENERATED {
            let text = (file.generate)(sh).with_context(|| format!("generate {}", file.output))?;
            fs::write(project_root().join(file.output), text)?;
            eprintln!("codegen: wrote {}", file.output);
        }
        Ok(())
    }
}

/// Fails if a committed file differs from what its headers generate now,
/// naming every such file.
pub fn check(sh: &Shell) -> Result<()> {
    let mut stale = Vec::new();
    for file in &GENERATED {
        let current = fs::read_to_string(project_root().join(file.output)).unwrap_or_default();
        let text = (file.generate)(sh).with_context(|| format!("generate {}", file.output))?;
        if current != text {
            stale.push(format!(
                "{} was not up-to-date with {}",
                file.output, file.from
            ));
        }
    }
    if !stale.is_empty() {
        bail!("{}; run `cargo xtask codegen` and commit", stale.join("; "));
    }
    Ok(())
}

/// The ABI: every `MYMAP_`/`mymap_` item of the UAPI header.
fn uapi(sh: &Shell) -> Result<String> {
    const HEADER: &str = "driver/include/uapi/linux/mymap.h";
    let raw = cmd!(
        sh,
        "bindgen {HEADER} --use-core --allowlist-item MYMAP_.*|mymap_.* -- -I/usr/include"
    )
    .env("LIBCLANG_PATH", setup::LIBCLANG_PATH)
    .quiet()
    .read()?;
    Ok(with_header(
        "GPL-2.0 WITH Linux-syscall-note",
        "include/uapi/linux/mymap.h",
        &raw,
    ))
}

/// What bindgen reads for `glue`: the kernel's fixed-width types (which
/// `<linux/types.h>` defines in the kernel, but not in the host's UAPI copy
/// that this build finds), then the two headers.
const GLUE_WRAPPER: &str = "\
/* Written by `cargo xtask codegen`, for bindgen; not part of the driver. */
#include <linux/types.h>
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
#include \"gpio_glue.h\"
#include <linux/mymap_ring.h>
";

/// The C glue's and the producer API's functions (and the API's flags), with
/// the kernel's C types (`kernel::ffi`) and its fixed-width types named as the
/// kernel's own bindings name them (`u32_`). The structs they take are opaque.
fn glue(sh: &Shell) -> Result<String> {
    let dir = checkout_dir()?.join("codegen");
    fs::create_dir_all(&dir)?;
    let wrapper = dir.join("glue.h");
    fs::write(&wrapper, GLUE_WRAPPER)?;
    let driver = project_root().join("driver");
    let include = driver.join("include");
    // The kernel's own bindgen call: its minimum Rust, `core`, its C types, no layout tests.
    let raw = cmd!(
        sh,
        "bindgen {wrapper} --rust-target 1.85 --use-core --ctypes-prefix kernel::ffi
            --no-layout-tests --allowlist-function mymap_.* --allowlist-var MYMAP_RING_F_.*
            -- -I{driver} -I{include} -I/usr/include"
    )
    .env("LIBCLANG_PATH", setup::LIBCLANG_PATH)
    .quiet()
    .read()?;
    Ok(with_header(
        "GPL-2.0",
        "gpio_glue.h and include/linux/mymap_ring.h",
        &raw,
    ))
}

/// bindgen's output with our licence and provenance lines instead of its banner.
fn with_header(spdx: &str, from: &str, raw: &str) -> String {
    let body: Vec<&str> = raw
        .lines()
        .filter(|l| !l.starts_with("/* automatically generated"))
        .collect();
    format!(
        "// SPDX-License-Identifier: {spdx}\n\n\
         // Generated by `cargo xtask codegen` from {from}: do not edit.\n\n\
         {}\n",
        body.join("\n").trim()
    )
}
