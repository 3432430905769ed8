// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A gpio-sim chip made through configfs (Documentation/admin-guide/gpio/gpio-sim.rst),
//! the fixture of the GPIO tests and the GPIO measurements.
//!
//! The `gpiosim` crate (gpiocdev's author) drives gpio-sim too, and was the
//! first choice; this file is kept instead, for three needs it does not meet.
//! A test that hangs is killed (SIGKILL) and leaves its chip behind: the next
//! one with the same label must remove it, and gpiosim refuses a name that
//! exists and removes only the chips it made. The bench times edges, and
//! gpiosim opens and closes the `pull` attribute on every write: here it is
//! opened once and written with `pwrite`. And the test image does not mount
//! configfs, which gpiosim expects to find mounted.

use std::{
    fs::{
        self,
        File,
        OpenOptions, //
    },
    path::{
        Path,
        PathBuf, //
    },
};

use crate::{
    module,
    sys::{
        self,
        errname, //
    },
};

/// Where configfs is mounted (gpio-sim chips are made there).
const CONFIGFS: &str = "/sys/kernel/config";

/// A live gpio-sim chip of one bank, removed on drop.
pub struct SimChip {
    /// Its configfs directory.
    dir: PathBuf,
    /// Its label, which mymap's `gpio=` names.
    label: String,
    /// Its character device, /dev/gpiochipN.
    chardev: PathBuf,
    /// The sysfs directory of its `sim_gpioN/pull` attributes.
    sysfs: PathBuf,
}

impl SimChip {
    /// Makes a live chip labelled `label` with `lines` lines, all pulled down,
    /// after removing one of that label that a killed run left.
    pub fn new(label: &str, lines: u32) -> Result<SimChip, String> {
        if !Path::new(CONFIGFS).join("gpio-sim").is_dir() {
            module::run("mount", &["-t", "configfs", "none", CONFIGFS])?;
        }
        let dir = Path::new(CONFIGFS).join("gpio-sim").join(label);
        remove_sim(&dir);
        fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut chip = SimChip {
            dir,
            label: label.to_string(),
            chardev: PathBuf::new(),
            sysfs: PathBuf::new(),
        };
        let bank = chip.dir.join("bank0");
        fs::create_dir(&bank).map_err(|e| format!("mkdir {}: {e}", bank.display()))?;
        write_file(&bank.join("num_lines"), &lines.to_string())?;
        write_file(&bank.join("label"), label)?;
        write_file(&chip.dir.join("live"), "1")?;
        let name = read_trimmed(&bank.join("chip_name"))?;
        let device = read_trimmed(&chip.dir.join("dev_name"))?;
        chip.chardev = Path::new("/dev").join(&name);
        chip.sysfs = Path::new("/sys/devices/platform").join(device).join(name);
        Ok(chip)
    }

    /// Its label, which mymap's `gpio=` names.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its character device, /dev/gpiochipN.
    pub fn chardev(&self) -> &Path {
        &self.chardev
    }

    /// The value of `line` as its sysfs `value` attribute shows it: what the
    /// chip's consumer (or, unrequested, the pull) set, 0 or 1.
    pub fn value(&self, line: u32) -> Result<u32, String> {
        let path = self.sysfs.join(format!("sim_gpio{line}")).join("value");
        let v = read_trimmed(&path)?;
        v.parse()
            .map_err(|e| format!("{} {v:?}: {e}", path.display()))
    }

    /// The `pull` attribute of `line`, open for writing; the line starts pulled down.
    pub fn pull(&self, line: u32) -> Result<Pull, String> {
        let path = self.sysfs.join(format!("sim_gpio{line}")).join("pull");
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        Ok(Pull {
            file,
            path,
            high: false,
        })
    }
}

impl Drop for SimChip {
    fn drop(&mut self) {
        remove_sim(&self.dir);
    }
}

/// Takes a gpio-sim chip down and removes its configfs directories, if there.
fn remove_sim(dir: &Path) {
    if !dir.exists() {
        return;
    }
    let _ = fs::write(dir.join("live"), "0");
    if let Ok(lines) = fs::read_dir(dir.join("bank0")) {
        for line in lines.flatten().filter(|e| e.path().is_dir()) {
            let _ = fs::remove_dir(line.path());
        }
    }
    let _ = fs::remove_dir(dir.join("bank0"));
    let _ = fs::remove_dir(dir);
}

/// A simulated line's pull: pulling it up or down makes the edges.
pub struct Pull {
    file: File,
    path: PathBuf,
    /// What `toggle` last set.
    high: bool,
}

impl Pull {
    /// Pulls the line up (`high`) or down.
    pub fn set(&self, high: bool) -> Result<(), String> {
        let text: &[u8] = if high { b"pull-up" } else { b"pull-down" };
        sys::pwrite(&self.file, text, 0)
            .map(|_| ())
            .map_err(|e| format!("write {}: {}", self.path.display(), errname(e)))
    }

    /// Flips the pull `toggle` last set (down at first): one edge.
    pub fn toggle(&mut self) -> Result<(), String> {
        self.high = !self.high;
        self.set(self.high)
    }
}

/// Writes `text` to a sysfs or configfs attribute.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("write {text:?} to {}: {e}", path.display()))
}

/// A file's text without the trailing newline.
pub fn read_trimmed(path: &Path) -> Result<String, String> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}
