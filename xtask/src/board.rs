//! A board: `boards/<name>/board.toml`, the one description the xtask reads.

use std::{
    fs,
    path::PathBuf, //
};

use anyhow::{
    Context,
    Result, //
};
use serde::Deserialize;

use crate::util::project_root;

/// Every board `cargo xtask test` covers by default, in order.
pub const ALL: [&str; 3] = ["raspberrypi4-64", "qemu-aarch64-virt", "raspberrypi4"];

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Board {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// Kernel `ARCH=`.
    pub arch: String,
    /// Kernel `CROSS_COMPILE=` prefix; also the C cross compiler of the tools.
    pub cross_compile: String,
    /// The boot image, relative to the kernel build directory.
    pub kernel_image: String,
    pub rust_target: String,
    /// Link the tools statically against glibc (no musl target for this arch).
    #[serde(default)]
    pub rust_static_gnu: bool,
    /// A 32-bit target whose build of the target tests also runs on this 64-bit board.
    pub compat_rust_target: Option<String>,
    /// The C cross compiler prefix for that 32-bit target: the C examples' compat build.
    pub compat_cross_compile: Option<String>,
    /// Debian architecture of busybox and udev in the test image.
    pub debian_arch: String,
    /// Kernel config fragments, relative to boards/, merged over tinyconfig in order.
    pub fragments: Vec<String>,
    pub qemu: Qemu,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    pub system: String,
    pub machine: String,
    pub cpu: Option<String>,
    pub smp: Option<u32>,
    pub memory: Option<String>,
    /// Device tree from the kernel build, relative to its `arch/*/boot/dts/`.
    pub dtb: Option<String>,
    /// Device tree nodes to disable in the QEMU-only copy of `dtb`.
    #[serde(default)]
    pub dtb_disable: Vec<String>,
    /// Device-tree overlays (sources, relative to `boards/`) to apply to that copy, as the
    /// board's firmware applies them from `config.txt` on real hardware.
    #[serde(default)]
    pub dtb_overlays: Vec<String>,
    /// Extra kernel command line.
    pub append: String,
    /// Whether `poweroff` ends QEMU (PSCI); else the xtask stops it at the end marker.
    pub can_poweroff: bool,
}

impl Board {
    pub fn load(name: &str) -> Result<Board> {
        let dir = project_root().join("boards").join(name);
        let path = dir.join("board.toml");
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "unknown board '{name}': no {} (boards: {})",
                path.display(),
                ALL.join(", ")
            )
        })?;
        let mut board: Board =
            toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        board.name = name.to_string();
        Ok(board)
    }

    /// The board's kernel config fragments, as paths.
    pub fn fragment_paths(&self) -> Vec<PathBuf> {
        let boards = project_root().join("boards");
        self.fragments.iter().map(|f| boards.join(f)).collect()
    }
}
