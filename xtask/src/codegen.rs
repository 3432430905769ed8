//! `cargo xtask codegen`: the Rust copies of the project's C headers.
//!
//! The kernel build of an out-of-tree module has no step that runs bindgen on
//! the module's own headers, and a bindgen step in a userspace build would
//! need libclang on every machine that builds the tools (cross containers,
//! Buildroot). So the generated files are committed, and `--check` (run by
//! `cargo xtask test`) proves they match the headers:
//!
//! - `driver/uapi_generated.rs` and `userspace/mymap-uapi/src/uapi_generated.rs`,
//!   the ABI, from the UAPI header, both from the one bindgen call in `uapi`;
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

/// The UAPI header, from the project root.
const UAPI_HEADER: &str = "driver/include/uapi/linux/mymap.h";

const GENERATED: [Generated; 3] = [
    Generated {
        output: "driver/uapi_generated.rs",
        from: UAPI_HEADER,
        generate: uapi,
    },
    Generated {
        output: "userspace/mymap-uapi/src/uapi_generated.rs",
        from: UAPI_HEADER,
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

/// Stand-ins for the kernel headers that the UAPI header includes, from the
/// project root (see the comments in them).
const UAPI_SHIM: &str = "xtask/codegen/include";

/// The ABI: every `mymap_` type and `MYMAP_` constant of the UAPI header, for
/// the driver and for userspace alike.
///
/// The header is parsed with `-nostdinc` against the stand-ins, and with
/// bindgen's include-path detection off, so that no header of the machine
/// that runs this leaks into the bindings. The layout assertions bindgen emits
/// (size, alignment, each field's offset) are computed for the host and
/// compiled for every target the crates are built for, where a different
/// layout fails the build.
fn uapi(sh: &Shell) -> Result<String> {
    let raw = cmd!(
        sh,
        "bindgen {UAPI_HEADER} --use-core --allowlist-type mymap_.* --allowlist-var MYMAP_.*
            --with-derive-default --with-derive-eq --with-derive-hash
            --no-include-path-detection -- -nostdinc -isystem {UAPI_SHIM}"
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
            --no-layout-tests --allowlist-function mymap_.* --allowlist-var MYMAP_RING_F_.* --allowlist-var MYMAP_TX_DRAIN_.*
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
