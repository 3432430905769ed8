//! Booting an image in QEMU: an interactive console, or a job whose console
//! output is logged and watched for the end marker under a deadline.

use std::{
    fs,
    io::{
        BufRead,
        BufReader,
        Write, //
    },
    path::PathBuf,
    process::{
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

use crate::{
    board::Board,
    image::Image,
    util::{
        checkout_dir,
        fmt_duration,
        print_tail, //
    },
};

/// The line the job prints last, with the command's exit status.
const END_MARKER: &str = "MYMAP-JOB: END rc=";

/// What a job boot produced.
pub struct Boot {
    /// The whole console output, `\r` removed.
    pub console: String,
    /// Each console line with the time it arrived, counted from QEMU's start.
    pub lines: Vec<(Duration, String)>,
    /// The job's exit status.
    pub rc: i32,
    pub log: PathBuf,
    pub took: Duration,
}

fn command(board: &Board, image: &Image) -> Command {
    let q = &board.qemu;
    let mut cmd = Command::new(&q.system);
    cmd.args(["-M", &q.machine]);
    if let Some(cpu) = &q.cpu {
        cmd.args(["-cpu", cpu]);
    }
    if let Some(smp) = q.smp {
        cmd.args(["-smp", &smp.to_string()]);
    }
    if let Some(memory) = &q.memory {
        cmd.args(["-m", memory]);
    }
    cmd.arg("-kernel").arg(image.kernel.image(board));
    cmd.arg("-initrd").arg(&image.initramfs);
    if let Some(dtb) = &image.dtb {
        cmd.arg("-dtb").arg(dtb);
    }
    // panic=-1: a panic reboots at once, and -no-reboot turns that into an exit.
    let mut append = format!("{} panic=-1", q.append);
    if image.kernel.debug {
        append.push_str(" panic_on_warn=1");
    }
    cmd.args(["-append", &append, "-no-reboot"]);
    cmd
}

/// Boots with the console on this terminal (Ctrl-A X quits QEMU).
pub fn interactive(board: &Board, image: &Image) -> Result<()> {
    let status = command(board, image)
        .arg("-nographic")
        .status()
        .with_context(|| format!("start {}", board.qemu.system))?;
    if !status.success() {
        bail!("{} exited with {status}", board.qemu.system);
    }
    Ok(())
}

/// Boots, logs the console, waits for the job's end marker or the deadline.
/// `echo` prints the console live.
pub fn job(board: &Board, image: &Image, timeout: Duration, echo: bool) -> Result<Boot> {
    let log = checkout_dir()?
        .join("image")
        .join(&board.name)
        .join("console.log");
    let mut log_file = fs::File::create(&log)?;
    let mut child = command(board, image)
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {} (run `cargo xtask setup`)", board.qemu.system))?;
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("qemu: {line}"));
        }
    });

    let start = Instant::now();
    let mut console = String::new();
    let mut lines = Vec::new();
    let mut rc = None;
    let mut ended_at = None;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        // After the end marker, give a board with PSCI a moment to power off.
        if let Some(at) = ended_at {
            if !board.qemu.can_poweroff
                || Instant::now().duration_since(at) > Duration::from_secs(20)
            {
                break;
            }
        }
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                let line = line.replace('\r', "");
                writeln!(log_file, "{line}")?;
                if echo {
                    println!("{line}");
                }
                if let Some(code) = line.trim().strip_prefix(END_MARKER) {
                    rc = code.trim().parse().ok();
                    ended_at = Some(Instant::now());
                }
                console.push_str(&line);
                console.push('\n');
                lines.push((start.elapsed(), line));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let took = start.elapsed();
    match rc {
        Some(rc) => Ok(Boot {
            console,
            lines,
            rc,
            log,
            took,
        }),
        None => {
            print_tail(&log, 60);
            let why = if took >= timeout {
                format!("no end marker within {}", fmt_duration(timeout))
            } else {
                "QEMU exited before the job ended".to_string()
            };
            bail!(
                "{} boot failed: {why}; console log: {}",
                board.name,
                log.display()
            )
        }
    }
}

/// The console lines as userspace wrote them, each with the time its end
/// arrived. The kernel prints its messages to the same console: one that came
/// while a script's line was half written (`printf 'Starting mymap: '`, then
/// `modprobe` logs) sits in the middle of that line, from its `[    1.234567]`
/// stamp to the end of the console line, and the script's line ends on a later
/// console line. Such messages are cut out and the pieces joined.
pub fn userspace_lines(lines: &[(Duration, String)]) -> Vec<(Duration, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for (at, line) in lines {
        match kernel_stamp(line) {
            Some(0) => {}
            Some(at_byte) => pending.push_str(&line[..at_byte]),
            None => {
                pending.push_str(line);
                out.push((*at, std::mem::take(&mut pending)));
            }
        }
    }
    out
}

/// Where a kernel message's `[ seconds.micros]` stamp starts in `line`.
fn kernel_stamp(line: &str) -> Option<usize> {
    line.match_indices('[').map(|(i, _)| i).find(|&i| {
        let Some(end) = line[i..].find(']') else {
            return false;
        };
        let stamp = line[i + 1..i + end].trim_start();
        let Some((secs, micros)) = stamp.split_once('.') else {
            return false;
        };
        !secs.is_empty()
            && !micros.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && micros.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Kernel log lines that fail a test boot: the one list, which the target tests
/// also match (mymap-target-support's `log::SPLATS`).
pub fn splats(console: &str) -> Vec<String> {
    mymap_target_support::log::splats_in(console)
}

#[cfg(test)]
mod tests {
    use super::{
        splats,
        userspace_lines, //
    };

    #[test]
    fn a_warning_and_a_lockdep_report_are_splats() {
        let log = "[ 1.0] mymap: 1 device(s)\n\
                   [ 2.0] ------------[ cut here ]------------\n\
                   [ 2.0] WARNING: CPU: 0 PID: 1 at mymap.rs:10 init+0x10\n\
                   [ 3.0] WARNING: possible circular locking dependency detected\n";
        assert_eq!(splats(log).len(), 3);
    }

    #[test]
    fn a_hung_task_report_is_a_splat() {
        let log = "[ 61.0] INFO: task mymap-target-te:212 blocked for more than 30 seconds.\n\
                   [ 61.0]       Not tainted 7.3.4 #1\n\
                   [ 92.0] INFO: task sh:80 blocked in I/O wait for more than 30 seconds.\n";
        assert_eq!(splats(log).len(), 2);
    }

    #[test]
    fn a_kernel_message_inside_a_script_line_is_cut_out() {
        let t = |s| std::time::Duration::from_secs(s);
        let console = [
            (t(1), "[    0.500000] Booting Linux".to_string()),
            (
                t(2),
                "Starting mymap: [    2.345678] mymap: 1 device(s) of 65536 bytes".to_string(),
            ),
            (t(3), "OK".to_string()),
            (t(4), "Starting udevd: OK".to_string()),
        ];
        assert_eq!(
            userspace_lines(&console),
            vec![
                (t(3), "Starting mymap: OK".to_string()),
                (t(4), "Starting udevd: OK".to_string())
            ]
        );
    }

    #[test]
    fn an_ordinary_boot_has_none() {
        let log = "[ 0.1] Booting Linux\nStarting udevd: OK\nMYMAP-TEST: ok driver/info\n";
        assert!(splats(log).is_empty());
    }
}
