//! Booting a Buildroot image in QEMU and a smoke test on its console: the
//! boot line of mymap's init script, a root login at the getty's prompt, and
//! the tools at work on the device and on a ring.

use std::{
    fs,
    io::{
        Read,
        Write, //
    },
    path::{
        Path,
        PathBuf, //
    },
    process::{
        Child,
        ChildStdin,
        Command,
        Stdio, //
    },
    sync::mpsc,
    time::{
        Duration,
        Instant, //
    },
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use xshell::{
    cmd,
    Shell, //
};

use super::{
    Defconfig,
    Output, //
};
use crate::{
    qemu,
    util::{
        fmt_duration,
        print_tail, //
    },
};

/// The QEMU machine an image boots on.
pub enum Machine {
    /// The image's own `start-qemu.sh --use-system-qemu` (QEMU `virt`, Cortex-A72,
    /// `Image` and `rootfs.ext4`).
    StartQemu,
    /// The 32-bit Pi 4 image: QEMU has no 32-bit Pi 4, so the card's `zImage`,
    /// its `cmdline.txt` and the card itself (as a virtio disk: the root is
    /// found by its PARTUUID) on `virt` with a Cortex-A15 and QEMU's own device
    /// tree, which the multi-v7 kernel supports. See buildroot-ext/README.md.
    VirtCortexA15,
    /// The 64-bit Pi 4 image on `raspi4b`, with the README's QEMU-only copy of
    /// the device tree and the card grown to a power of two.
    Raspi4b,
}

impl Machine {
    pub fn qemu_system(&self) -> &'static str {
        match self {
            Machine::StartQemu | Machine::Raspi4b => "qemu-system-aarch64",
            Machine::VirtCortexA15 => "qemu-system-arm",
        }
    }

    /// A GPIO block of the machine that nothing on the image uses, for the smoke test's
    /// GPIO producer: `virt`'s PL061, whose line 3 is the power button's (gpio-keys) and
    /// line 0 free. Nothing in the guest can make an edge on its inputs, so the step shows
    /// the producer binding to the block, not records. `raspi4b` has none to spare here:
    /// QEMU runs no firmware, so the overlay's line is not there either.
    pub fn spare_gpio(&self) -> Option<&'static str> {
        match self {
            Machine::StartQemu | Machine::VirtCortexA15 => Some("9030000.pl061"),
            Machine::Raspi4b => None,
        }
    }
}

/// Device tree nodes that abort the Pi 4 kernel on hardware QEMU does not
/// model, or that take the card or the console away (README, "Booting the
/// image on QEMU").
const RASPI4B_DISABLE: &[&str] = &[
    "/soc/interrupt-controller@7ef00100",
    "/soc/i2c@7ef04500",
    "/soc/i2c@7ef09500",
    "/emmc2-bus@fe000000/mmc@7e340000",
    "/soc/serial@7e201000/bluetooth",
];

/// The QEMU command line for `def`'s image; files it needs are made in `work`.
fn command(sh: &Shell, def: &Defconfig, images: &Path, work: &Path) -> Result<Command> {
    let cmdline = || -> Result<String> {
        let path = images.join("rpi-firmware/cmdline.txt");
        Ok(fs::read_to_string(&path)
            .with_context(|| format!("read {}", path.display()))?
            .trim()
            .to_string())
    };
    let card = |size: Option<&str>| -> Result<PathBuf> {
        // A copy: the boot writes to it, and the image stays as built.
        let copy = work.join("qemu-sdcard.img");
        fs::copy(images.join("sdcard.img"), &copy).context("copy sdcard.img")?;
        if let Some(size) = size {
            cmd!(sh, "truncate -s {size} {copy}").run()?;
        }
        Ok(copy)
    };
    let mut qemu = match def.boot {
        Machine::StartQemu => {
            let mut c = Command::new(images.join("start-qemu.sh"));
            c.args(["--use-system-qemu", "--", "-no-reboot"]);
            return Ok(c);
        }
        Machine::VirtCortexA15 => {
            let card = card(None)?;
            let mut c = Command::new(self_qemu(def));
            c.args([
                "-M",
                "virt",
                "-cpu",
                "cortex-a15",
                "-smp",
                "2",
                "-m",
                "1024",
            ]);
            c.arg("-kernel").arg(images.join("zImage"));
            // The card's command line; the console moves to virt's PL011 (the
            // last console= is /dev/console, where the getty runs).
            c.args(["-append", &format!("{} console=ttyAMA0", cmdline()?)]);
            c.arg("-drive")
                .arg(format!("file={},if=none,format=raw,id=hd0", card.display()));
            c.args(["-device", "virtio-blk-device,drive=hd0"]);
            c
        }
        Machine::Raspi4b => {
            let card = card(Some("1G"))?;
            let dtb = work.join("qemu.dtb");
            fs::copy(images.join("bcm2711-rpi-4-b.dtb"), &dtb)?;
            for node in RASPI4B_DISABLE {
                cmd!(sh, "fdtput -t s {dtb} {node} status disabled").run()?;
            }
            cmd!(sh, "fdtput -d {dtb} /soc/mmc@7e300000 mmc-pwrseq").run()?;
            let mut c = Command::new(self_qemu(def));
            c.args(["-M", "raspi4b", "-m", "2G"]);
            c.arg("-kernel").arg(images.join("Image"));
            c.arg("-dtb").arg(&dtb);
            c.args([
                "-append",
                &format!("{} clk_ignore_unused console=ttyAMA0", cmdline()?),
            ]);
            c.arg("-drive")
                .arg(format!("if=sd,format=raw,file={}", card.display()));
            c
        }
    };
    qemu.args(["-display", "none", "-monitor", "none", "-serial", "stdio"]);
    if let Machine::Raspi4b = def.boot {
        qemu.args(["-serial", "null"]);
    }
    qemu.arg("-no-reboot");
    Ok(qemu)
}

fn self_qemu(def: &Defconfig) -> &'static str {
    def.boot.qemu_system()
}

/// A QEMU whose serial console is this process's to read and type on.
struct Console {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Vec<u8>>,
    /// Everything the console printed, `\r` removed.
    text: String,
    log: fs::File,
    start: Instant,
    deadline: Instant,
}

impl Console {
    fn start(mut qemu: Command, log: &Path, timeout: Duration) -> Result<Console> {
        let mut child = qemu
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start QEMU")?;
        let stdin = child.stdin.take().unwrap();
        let (tx, rx) = mpsc::channel();
        for mut stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
        }
        let start = Instant::now();
        Ok(Console {
            child,
            stdin,
            rx,
            text: String::new(),
            log: fs::File::create(log)?,
            start,
            deadline: start + timeout,
        })
    }

    /// Waits until the console shows `what` after byte `from`; returns where it ends.
    fn expect(&mut self, what: &str, from: usize) -> Result<usize> {
        loop {
            if let Some(at) = self.text.get(from..).and_then(|t| t.find(what)) {
                return Ok(from + at + what.len());
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "no '{what}' on the console within {}",
                    fmt_duration(self.deadline - self.start)
                );
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok(bytes) => {
                    let chunk = String::from_utf8_lossy(&bytes).replace('\r', "");
                    self.log.write_all(chunk.as_bytes())?;
                    self.text.push_str(&chunk);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    bail!("QEMU exited before '{what}' came")
                }
            }
        }
    }

    fn send(&mut self, text: &str) -> Result<()> {
        self.stdin.write_all(text.as_bytes())?;
        self.stdin.flush()?;
        Ok(())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The smoke test, one command line on the console. Markers are split by
/// quotes so that the line's own echo never matches them.
fn script(def: &Defconfig) -> String {
    let mut steps: Vec<String> = [
        "mymapctl info",
        "mymapctl write --nul 'hello from buildroot'",
        "mymap-read",
        "ls -l /dev/mymap /dev/mymap-ring0",
    ]
    .map(String::from)
    .to_vec();
    if def.templates {
        // The template packages: the sample producer module makes 100 records
        // from process context and 8 from an hrtimer as it loads; the C
        // consumer reads and checks all of them.
        steps.extend(
            [
                "modprobe mymap_sample_producer count=100",
                "ring-consumer --sample --count 108",
                "rmmod mymap_sample_producer",
            ]
            .map(String::from),
        );
    }
    steps.extend(
        [
            "mymapctl ring start --rate 1000 --len 16",
            "mymap-read --ring --count 5",
            "mymapctl ring stop",
            "mymapctl ring stats",
        ]
        .map(String::from),
    );
    if let Some(chip) = def.boot.spare_gpio() {
        // The GPIO producer on the machine's own GPIO block: the module reloaded with the
        // line, and the line it took from the kernel log.
        steps.extend([
            "modprobe -r mymap".into(),
            format!("modprobe mymap gpio={chip}:0"),
            "dmesg | grep 'mymap: gpio'".into(),
        ]);
    }
    // `set -x` shows each command before its output. Kernel messages would
    // cut through the output; they are printed with dmesg at the end instead,
    // where the splat check sees them. One line, shorter than BusyBox's line
    // editing takes (FEATURE_EDITING_MAX_LEN, 1024 in Buildroot's default).
    format!(
        "dmesg -n 1; echo MYMAP-SMOKE''-BEGIN; (set -ex; {}); echo MYMAP-SMOKE''-END rc=$?; \
         dmesg; echo MYMAP-DMESG''-END\n",
        steps.join("; ")
    )
}

/// Boots the image, logs in, runs the smoke test; returns the report's lines.
pub fn smoke_test(
    sh: &Shell,
    out: &Output,
    def: &Defconfig,
    images: &Path,
    timeout: Duration,
) -> Result<String> {
    let qemu = command(sh, def, images, &out.work)?;
    let log = out.work.join("console.log");
    let result = run(qemu, &log, def, timeout);
    if result.is_err() {
        print_tail(&log, 60);
    }
    result.with_context(|| format!("boot of {}; console log: {}", def.name, log.display()))
}

fn run(qemu: Command, log: &Path, def: &Defconfig, timeout: Duration) -> Result<String> {
    let mut console = Console::start(qemu, log, timeout)?;
    let login = console.expect(" login:", 0)?;
    let login_after = console.start.elapsed();
    // Userspace's lines, with kernel messages that cut through them taken out.
    let console_lines: Vec<(Duration, String)> = console.text[..login]
        .lines()
        .map(|l| (Duration::ZERO, l.to_string()))
        .collect();
    let boot_line: Vec<String> = qemu::userspace_lines(&console_lines)
        .into_iter()
        .map(|(_, l)| l.trim().to_string())
        .filter(|l| l.contains("Starting mymap:"))
        .collect();
    if !boot_line.iter().any(|l| l.contains("Starting mymap: OK")) {
        bail!("no 'Starting mymap: OK' before the login prompt (saw: {boot_line:?})");
    }
    let prompt_line = console.text[..login]
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    console.send("root\n")?;
    let shell = console.expect("# ", login)?;
    console.send(&script(def))?;
    let begin = console.expect("MYMAP-SMOKE-BEGIN\n", shell)?;
    let end = console.expect("MYMAP-SMOKE-END rc=", begin)?;
    let dmesg_end = console.expect("MYMAP-DMESG-END\n", end)?;
    let rc_line = console.text[end..]
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let output = console.text[begin..end - "MYMAP-SMOKE-END rc=".len()].to_string();
    let splats = qemu::splats(&console.text[..dmesg_end]);
    let took = console.start.elapsed();
    drop(console);

    let mut report = format!(
        "Booted on {} ({}): login prompt after {}\n",
        def.boot.qemu_system(),
        match def.boot {
            Machine::StartQemu => "images/start-qemu.sh --use-system-qemu: virt, Cortex-A72",
            Machine::VirtCortexA15 =>
                "virt, Cortex-A15, QEMU's device tree; zImage, cmdline.txt and sdcard.img",
            Machine::Raspi4b => "raspi4b; Image, a QEMU-only bcm2711-rpi-4-b.dtb, sdcard.img",
        },
        fmt_duration(login_after)
    );
    for line in boot_line.iter().chain([&prompt_line]) {
        report.push_str(&format!("  {line}\n"));
    }
    for line in strip_ansi(&output).lines() {
        report.push_str(&format!("  {line}\n"));
    }
    if rc_line != "0" {
        bail!("the smoke test failed (rc={rc_line}):\n{report}");
    }
    if !splats.is_empty() {
        bail!(
            "the kernel logged warnings or errors:\n  {}",
            splats.join("\n  ")
        );
    }
    report.push_str(&format!(
        "Smoke test passed in {}: no WARN, BUG or Oops in the kernel log\n",
        fmt_duration(took)
    ));
    Ok(report)
}

/// `text` without terminal escape sequences (BusyBox's `ls` colours names
/// on a terminal).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters, then one final byte from '@' to '~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{
        script,
        strip_ansi,
        Machine, //
    };
    use crate::buildroot::Defconfig;

    #[test]
    fn colours_are_stripped() {
        assert_eq!(
            strip_ansi("crw-rw---- 1 root mymap \u{1b}[1;35m/dev/mymap\u{1b}[m\n"),
            "crw-rw---- 1 root mymap /dev/mymap\n"
        );
    }

    #[test]
    fn the_typed_line_never_matches_a_marker() {
        for templates in [false, true] {
            let def = Defconfig {
                name: "test_defconfig",
                debian_arch: "arm64",
                debian_cross: "aarch64-linux-gnu",
                boot: Machine::StartQemu,
                templates,
            };
            let line = script(&def);
            // The console echoes the line as typed; only the output may match.
            for marker in [
                "MYMAP-SMOKE-BEGIN",
                "MYMAP-SMOKE-END rc=",
                "MYMAP-DMESG-END",
            ] {
                assert!(!line.contains(marker), "{marker} in {line}");
            }
            assert_eq!(line.contains("ring-consumer --sample"), templates);
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
            assert!(line.len() < 1024, "{} bytes", line.len());
        }
    }
}
