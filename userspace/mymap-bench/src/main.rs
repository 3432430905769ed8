// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymap-bench`: measures the mymap driver, and the reference C drivers of
//! bench/peers when their modules are present, against plain memory, then the
//! driver's ring against a pipe, `read()` per record and `memcpy`, on the
//! target, as root (see README.md). `cargo xtask bench` runs it on each board.

mod bpf;
mod gpio;
mod measure;
mod mem;
mod module;
mod report;
mod ring;
mod ring_report;
mod stats;
mod tx;

use std::{fs, os::unix::fs::MetadataExt, process::ExitCode};

use gpio::GpioConfig;
use measure::Config;
// Written to the kernel log at start; `cargo xtask bench` looks for it.
use mymap_bench_record::STARTED;
use ring::RingConfig;
use tx::TxConfig;

const USAGE: &str = "\
usage: mymap-bench [--reps N] [--sizes SIZE,...] [--stream-size SIZE] [--no-peers]
                   [--no-ring | --ring-only] [--ring-rounds N] [--ring-records N]
                   [--no-gpio] [--gpio-rounds N] [--gpio-edges N] [--tick-hz HZ]
                   [--no-tx | --tx-only] [--tx-rounds N] [--tx-sets N]

Reloads the mymap module, and the reference drivers mymap_pfn and mymap_vfault
when modprobe can find them, with each buffer size, measures every device with
the same code against plain memory, then measures /dev/mymap-ring0 (the module
with its default parameters) against a pipe, read() per record, memcpy and,
where the kernel has BPF, the BPF ring buffer, then the GPIO producer and the
tx ring's GPIO player, prints tables and a JSON document, and leaves mymap
loaded with its default parameters and the reference drivers unloaded. Run as root. SIZE is bytes, or
a number with K or M (KiB, MiB).

  --reps N            timed repetitions of each side (default 11)
  --sizes SIZE,...    sizes for module load and mmap + first touch
                      (default 64K,1M,16M,64M)
  --stream-size SIZE  size for the mmap(), munmap(), mapped read, read() and
                      write() comparisons (default 16M)
  --no-peers          measure mymap alone
  --no-ring           leave the ring out
  --ring-only         measure the ring (and the GPIO producer) alone
  --ring-rounds N     timed rounds of each side of the ring measurements
                      (default 7)
  --ring-records N    records per round of the ring's throughput
                      comparisons (default 65536)
  --no-gpio           leave the GPIO producer's measurements out (they
                      make a gpio-sim chip and reload mymap with gpio=)
  --gpio-rounds N     latency and rate rounds of each GPIO side (default 5)
  --gpio-edges N      edges of each side per GPIO latency round (default 100)
  --tick-hz HZ        the kernel's CONFIG_HZ, for the record-timestamp-within-
                      a-tick target (the xtask passes it; without, no target)
  --no-tx             leave the tx ring's measurements out (they make a
                      gpio-sim chip and reload mymap with player= and
                      tx_rings=2)
  --tx-only           measure the tx ring alone
  --tx-rounds N       timed rounds of each tx side: toggle jitter, commands/s
                      (default 5)
  --tx-sets N         sets of each side per toggle-jitter round (default
                      1000)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cfg = match parse(&args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("mymap-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        eprintln!("mymap-bench: run as root: it loads and unloads the mymap module");
        return ExitCode::from(2);
    }
    // A line in the kernel log, so the console shows when the bench started on the
    // printk clock, the one the driver's load line is stamped with (`/proc/uptime`
    // counts from a slightly different origin).
    let _ = fs::write("/dev/kmsg", format!("{STARTED}\n"));
    let devices = measure::devices(&cfg);
    let names: Vec<&str> = devices.iter().map(|d| d.node).collect();
    eprintln!("mymap-bench: measuring {}", names.join(", "));
    let measured = measure::run(&cfg, &devices);
    // Whatever happened, leave the modules as the board boots them: mymap with
    // its default parameters, the reference drivers not loaded.
    let restored = module::PEERS
        .iter()
        .try_for_each(module::unload)
        .and_then(|_| module::reload(&module::MYMAP, &[]))
        .and_then(|_| module::settle());
    let mut report = match (measured, restored) {
        (Ok(report), Ok(())) => report,
        (Err(e), _) => {
            eprintln!("mymap-bench: {e}");
            return ExitCode::FAILURE;
        }
        (Ok(_), Err(e)) => {
            eprintln!("mymap-bench: reloading mymap with default parameters: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(ring_cfg) = &cfg.ring {
        eprintln!("mymap-bench: measuring {}", ring::NODE);
        match ring::run(ring_cfg) {
            Ok(ring) => report.ring = Some(ring),
            Err(e) => {
                eprintln!("mymap-bench: ring: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(gpio_cfg) = &cfg.gpio {
        eprintln!("mymap-bench: measuring the GPIO producer against the GPIO character device");
        match gpio::run(gpio_cfg) {
            Ok(gpio) => report.gpio = Some(gpio),
            Err(e) => {
                eprintln!("mymap-bench: gpio: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(tx_cfg) = &cfg.tx {
        eprintln!("mymap-bench: measuring the tx ring's GPIO player against a userspace loop");
        match tx::run(tx_cfg) {
            Ok(tx) => report.tx = Some(tx),
            Err(e) => {
                eprintln!("mymap-bench: tx: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", report.table());
    print!("{}", report.document());
    ExitCode::SUCCESS
}

fn parse(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--reps" => {
                cfg.reps = value()?
                    .parse()
                    .map_err(|_| "--reps needs a number".to_string())?;
                if cfg.reps == 0 {
                    return Err("--reps must be at least 1".into());
                }
            }
            "--sizes" => {
                cfg.sizes = value()?.split(',').map(size).collect::<Result<_, _>>()?;
            }
            "--stream-size" => cfg.stream_size = size(value()?)?,
            "--no-peers" => cfg.peers = false,
            "--no-ring" => cfg.ring = None,
            "--ring-only" => cfg.buffer = false,
            "--ring-rounds" => {
                ring_cfg(&mut cfg)?.rounds = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--ring-rounds needs a number of at least 1")?;
            }
            "--ring-records" => {
                ring_cfg(&mut cfg)?.records = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--ring-records needs a number of at least 1")?;
            }
            "--no-gpio" => cfg.gpio = None,
            "--gpio-rounds" => {
                gpio_cfg(&mut cfg)?.rounds = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--gpio-rounds needs a number of at least 1")?;
            }
            "--gpio-edges" => {
                gpio_cfg(&mut cfg)?.edges = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--gpio-edges needs a number of at least 1")?;
            }
            "--no-tx" => cfg.tx = None,
            "--tx-only" => {
                cfg.buffer = false;
                cfg.ring = None;
                cfg.gpio = None;
            }
            "--tx-rounds" => {
                tx_cfg(&mut cfg)?.rounds = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--tx-rounds needs a number of at least 1")?;
            }
            "--tx-sets" => {
                tx_cfg(&mut cfg)?.sets = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--tx-sets needs a number of at least 1")?;
            }
            "--tick-hz" => {
                let hz = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--tick-hz needs a number of at least 1")?;
                if let Some(g) = cfg.gpio.as_mut() {
                    g.tick_hz = hz;
                }
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if !cfg.buffer && cfg.ring.is_none() && cfg.gpio.is_none() && cfg.tx.is_none() {
        return Err(
            "--ring-only, --no-ring, --no-gpio and --no-tx leave nothing to measure".into(),
        );
    }
    Ok(cfg)
}

/// The ring's settings, which `--no-ring` removed.
fn ring_cfg(cfg: &mut Config) -> Result<&mut RingConfig, String> {
    cfg.ring
        .as_mut()
        .ok_or_else(|| "--no-ring leaves no ring to set".to_string())
}

/// The GPIO settings, which `--no-gpio` removed.
fn gpio_cfg(cfg: &mut Config) -> Result<&mut GpioConfig, String> {
    cfg.gpio
        .as_mut()
        .ok_or_else(|| "--no-gpio leaves no GPIO measurement to set".to_string())
}

/// The tx ring's settings, which `--no-tx` removed.
fn tx_cfg(cfg: &mut Config) -> Result<&mut TxConfig, String> {
    cfg.tx
        .as_mut()
        .ok_or_else(|| "--no-tx leaves no tx measurement to set".to_string())
}

/// `65536`, `64K`, `16M`; the driver's range is checked by the driver.
fn size(text: &str) -> Result<usize, String> {
    let (digits, unit) = match text.to_ascii_uppercase().chars().last() {
        Some('K') => (&text[..text.len() - 1], 1 << 10),
        Some('M') => (&text[..text.len() - 1], 1 << 20),
        _ => (text, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|&n| n > 0)
        .ok_or(format!("bad size {text:?}: bytes, or a number with K or M"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sizes_take_k_and_m() {
        assert_eq!(size("65536"), Ok(65536));
        assert_eq!(size("64K"), Ok(65536));
        assert_eq!(size("16m"), Ok(16 << 20));
        assert!(size("0").is_err());
        assert!(size("M").is_err());
        assert!(size("1G").is_err());
    }

    #[test]
    fn flags_override_the_defaults() {
        assert_eq!(parse(&[]), Ok(Config::default()));
        let cfg = parse(&args(&[
            "--reps",
            "3",
            "--sizes",
            "64K,1M",
            "--stream-size",
            "4M",
            "--no-peers",
        ]));
        let cfg = cfg.unwrap();
        assert_eq!(
            (cfg.reps, cfg.sizes, cfg.stream_size, cfg.peers),
            (3, vec![65536, 1 << 20], 4 << 20, false)
        );
        assert!(parse(&args(&["--reps", "0"])).is_err());
        assert!(parse(&args(&["--reps"])).is_err());
        assert!(parse(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn ring_flags() {
        let cfg = parse(&args(&[
            "--ring-only",
            "--ring-rounds",
            "3",
            "--ring-records",
            "100",
        ]));
        let cfg = cfg.unwrap();
        assert!(!cfg.buffer);
        let ring = cfg.ring.unwrap();
        assert_eq!((ring.rounds, ring.records), (3, 100));
        assert_eq!(parse(&args(&["--no-ring"])).unwrap().ring, None);
        assert!(parse(&args(&["--no-ring", "--ring-only", "--no-gpio", "--no-tx"])).is_err());
        assert!(parse(&args(&["--no-ring", "--ring-only", "--no-gpio"])).is_ok());
        assert!(parse(&args(&["--no-ring", "--ring-only"])).is_ok());
        assert!(parse(&args(&["--no-ring", "--ring-rounds", "2"])).is_err());
        assert!(parse(&args(&["--ring-rounds", "0"])).is_err());
    }

    #[test]
    fn tx_flags() {
        let cfg = parse(&args(&[
            "--tx-only",
            "--tx-rounds",
            "2",
            "--tx-sets",
            "300",
        ]))
        .unwrap();
        assert!(!cfg.buffer && cfg.ring.is_none() && cfg.gpio.is_none());
        assert_eq!(
            cfg.tx,
            Some(TxConfig {
                rounds: 2,
                sets: 300
            })
        );
        assert_eq!(parse(&args(&["--no-tx"])).unwrap().tx, None);
        assert!(parse(&args(&["--no-tx", "--tx-sets", "10"])).is_err());
        assert!(parse(&args(&["--tx-rounds", "0"])).is_err());
        assert!(parse(&args(&["--tx-only", "--no-tx"])).is_err());
    }
}
