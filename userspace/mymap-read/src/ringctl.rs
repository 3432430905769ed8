// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymapctl ring`: a ring's info, statistics and wakeup policy, and its built-in
//! producers (the timer and the injector).
//!
//! Every subcommand opens the ring read-only, so they all work while another
//! process consumes it. Text output is `key: value` lines, the ring's path
//! first, as `mymapctl info`; `--json` prints one object.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use mymap::{Injected, RingControl, RingInfo, RingStats, Wakeup};
use serde::Serialize;

use crate::exit::Usage;
use crate::number::{parse_duration, parse_rate, parse_ring, parse_u32};
use crate::output::display;

/// The arguments of `mymapctl ring`.
#[derive(Debug, Args)]
pub struct RingOpts {
    /// The ring: its number N (/dev/mymap-ringN) or the path of its node.
    #[arg(
        short,
        long,
        global = true,
        value_name = "N|PATH",
        env = "MYMAP_RING",
        default_value = "0",
        value_parser = parse_ring
    )]
    pub ring: PathBuf,

    #[command(subcommand)]
    pub command: RingCommand,
}

/// The subcommands of `mymapctl ring`.
#[derive(Debug, Subcommand)]
pub enum RingCommand {
    /// Print the ring's geometry (MYMAP_RING_IOC_INFO).
    Info {
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the ring's counters since the module was loaded (MYMAP_RING_IOC_STATS).
    Stats {
        /// Print one JSON object instead of `key: value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Start the timer producer, or change its settings: one record every --period, or
    /// --rate records a second, of --len payload bytes.
    Start(StartArgs),
    /// Stop the timer producer.
    Stop,
    /// Print the wakeup policy, or set it to POLICY.
    Wakeup(WakeupArgs),
    /// Produce COUNT records of --len bytes now, from this process, as fast as the
    /// driver can (MYMAP_RING_IOC_INJECT); print how many were produced and dropped.
    Inject(InjectArgs),
}

/// The arguments of `mymapctl ring start`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("when").args(["period", "rate"]).required(true)))]
pub struct StartArgs {
    /// The time between records: a number and a unit, ns, us, ms or s (10us to 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub period: Option<Duration>,

    /// Records per second, instead of --period.
    #[arg(long, value_name = "HZ", value_parser = parse_rate)]
    pub rate: Option<Duration>,

    /// Payload bytes of each record (0 to the ring's max_payload).
    #[arg(long, value_name = "N", default_value = "64", value_parser = parse_u32)]
    pub len: u32,
}

impl StartArgs {
    /// The period asked for, by --period or --rate.
    pub fn period(&self) -> Duration {
        self.period.or(self.rate).unwrap_or_default()
    }
}

/// A wakeup policy's name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// After every record.
    Every,
    /// When a record arrives and the consumer had read everything (the default).
    CaughtUp,
    /// When --bytes wait, or --max-latency after the first waiting record.
    Watermark,
}

/// The arguments of `mymapctl ring wakeup`.
#[derive(Debug, Args)]
pub struct WakeupArgs {
    /// The policy to set; without it, print the current one.
    #[arg(value_enum)]
    pub policy: Option<Policy>,

    /// With `watermark`: wake when this many bytes (records and their headers) wait.
    #[arg(long, value_name = "N", value_parser = parse_u32, required_if_eq("policy", "watermark"))]
    pub bytes: Option<u32>,

    /// With `watermark`: wake at the latest this long after the first waiting record
    /// (1us to 1s; none by default).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "bytes")]
    pub max_latency: Option<Duration>,
}

impl WakeupArgs {
    /// The policy to set, `None` to print, or a usage error for options that do not go
    /// with the policy.
    pub fn wakeup(&self) -> Result<Option<Wakeup>, Usage> {
        match (self.policy, self.bytes) {
            (None, None) => Ok(None),
            (Some(Policy::Every), None) => Ok(Some(Wakeup::Every)),
            (Some(Policy::CaughtUp), None) => Ok(Some(Wakeup::CaughtUp)),
            (Some(Policy::Watermark), Some(bytes)) => Ok(Some(Wakeup::Watermark {
                bytes,
                max_latency: self.max_latency,
            })),
            _ => Err(Usage(
                "--bytes and --max-latency go with the watermark policy only".into(),
            )),
        }
    }
}

/// The arguments of `mymapctl ring inject`.
#[derive(Debug, Args)]
pub struct InjectArgs {
    /// How many records to attempt (at most 16777216).
    #[arg(value_parser = parse_u32)]
    pub count: u32,

    /// Payload bytes of each record (0 to the ring's max_payload).
    #[arg(long, value_name = "N", default_value = "64", value_parser = parse_u32)]
    pub len: u32,

    /// Print one JSON object instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mymapctl ring ...`, writing what it prints to `out`.
pub fn run(out: &mut impl Write, opts: &RingOpts) -> anyhow::Result<()> {
    // Arguments first: a usage error should not depend on the ring being there.
    let wakeup = match &opts.command {
        RingCommand::Wakeup(args) => args.wakeup()?,
        _ => None,
    };
    let ring = RingControl::open(&opts.ring)?;
    let path = display(ring.path());
    let text = match &opts.command {
        RingCommand::Info { json } => {
            // The INFO that opening the ring read, a moment ago: no second call.
            let info = *ring.geometry();
            if *json {
                json_line(&InfoAnswer {
                    ring: &path,
                    info: &info,
                })?
            } else {
                info_text(&path, &info)
            }
        }
        RingCommand::Stats { json } => {
            let stats = ring.stats()?;
            if *json {
                json_line(&StatsAnswer {
                    ring: &path,
                    stats: &stats,
                })?
            } else {
                stats_text(&path, &stats)
            }
        }
        RingCommand::Start(args) => {
            ring.start_timer(args.period(), args.len)?;
            String::new()
        }
        RingCommand::Stop => {
            ring.stop_timer()?;
            String::new()
        }
        RingCommand::Wakeup(_) => match wakeup {
            Some(wakeup) => {
                ring.set_wakeup(wakeup)?;
                String::new()
            }
            None => wakeup_text(&path, ring.wakeup()?),
        },
        RingCommand::Inject(args) => {
            let done = ring.inject(args.count, args.len)?;
            if args.json {
                json_line(&InjectAnswer {
                    ring: &path,
                    done: &done,
                })?
            } else {
                injected_text(&path, &done)
            }
        }
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// `ring info --json`: `{"ring":"/dev/mymap-ring0","info":{...}}`.
#[derive(Serialize)]
struct InfoAnswer<'a> {
    ring: &'a str,
    info: &'a RingInfo,
}

/// `ring stats --json`: `{"ring":"/dev/mymap-ring0","stats":{...}}`.
#[derive(Serialize)]
struct StatsAnswer<'a> {
    ring: &'a str,
    stats: &'a RingStats,
}

/// `ring inject --json`: `{"ring":"/dev/mymap-ring0","produced":N,"dropped":N}`.
#[derive(Serialize)]
struct InjectAnswer<'a> {
    ring: &'a str,
    #[serde(flatten)]
    done: &'a Injected,
}

fn json_line(value: &impl Serialize) -> anyhow::Result<String> {
    let mut text = serde_json::to_string(value)?;
    text.push('\n');
    Ok(text)
}

/// The text form of a ring's info.
pub fn info_text(path: &str, info: &RingInfo) -> String {
    let RingInfo {
        abi_version,
        page_size,
        index,
        rings,
        data_size,
        max_payload,
        header_size,
        consumer_claimed,
    } = info;
    format!(
        "ring: {path}\n\
         abi_version: {abi_version}\n\
         page_size: {page_size}\n\
         index: {index}\n\
         rings: {rings}\n\
         data_size: {data_size}\n\
         max_payload: {max_payload}\n\
         header_size: {header_size}\n\
         consumer_claimed: {}\n",
        u8::from(*consumer_claimed)
    )
}

/// The text form of a ring's counters.
pub fn stats_text(path: &str, stats: &RingStats) -> String {
    let RingStats {
        produced,
        discarded,
        dropped,
        wakeups,
        bytes,
        timer_period_ns,
        timer_len,
        producer_pos,
    } = stats;
    format!(
        "ring: {path}\n\
         produced: {produced}\n\
         discarded: {discarded}\n\
         dropped: {dropped}\n\
         wakeups: {wakeups}\n\
         bytes: {bytes}\n\
         timer_period_ns: {timer_period_ns}\n\
         timer_len: {timer_len}\n\
         producer_pos: {producer_pos}\n"
    )
}

/// The text form of a wakeup policy.
pub fn wakeup_text(path: &str, wakeup: Wakeup) -> String {
    let policy = match wakeup {
        Wakeup::Every => "every".to_string(),
        Wakeup::CaughtUp => "caught-up".to_string(),
        Wakeup::Watermark { bytes, max_latency } => format!(
            "watermark\nwatermark: {bytes}\nmax_latency_ns: {}",
            max_latency.map_or(0, |latency| latency.as_nanos())
        ),
    };
    format!("ring: {path}\npolicy: {policy}\n")
}

/// The text form of what an injection did.
pub fn injected_text(path: &str, done: &Injected) -> String {
    format!(
        "ring: {path}\nproduced: {}\ndropped: {}\n",
        done.produced, done.dropped
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::ctl::{Command, Opts};

    fn parse(args: &[&str]) -> Result<RingOpts, clap::Error> {
        let opts = Opts::try_parse_from([&["mymapctl", "ring"], args].concat())?;
        match opts.command {
            Command::Ring(ring) => Ok(ring),
            other => panic!("not ring: {other:?}"),
        }
    }

    #[test]
    fn the_ring_defaults_to_0_and_goes_anywhere() {
        let opts = parse(&["stats"]).unwrap();
        assert_eq!(opts.ring, PathBuf::from("/dev/mymap-ring0"));
        let opts = parse(&["stats", "--ring", "2"]).unwrap();
        assert_eq!(opts.ring, PathBuf::from("/dev/mymap-ring2"));
        let opts = parse(&["-r", "/dev/mymap-ring1", "info", "--json"]).unwrap();
        assert_eq!(opts.ring, PathBuf::from("/dev/mymap-ring1"));
        assert!(matches!(opts.command, RingCommand::Info { json: true }));
    }

    #[test]
    fn start_takes_a_period_or_a_rate() {
        let opts = parse(&["start", "--period", "1ms", "--len", "32"]).unwrap();
        let RingCommand::Start(args) = opts.command else {
            panic!("not start");
        };
        assert_eq!((args.period(), args.len), (Duration::from_millis(1), 32));
        let opts = parse(&["start", "--rate", "10000"]).unwrap();
        let RingCommand::Start(args) = opts.command else {
            panic!("not start");
        };
        assert_eq!((args.period(), args.len), (Duration::from_micros(100), 64));
        assert!(parse(&["start"]).is_err(), "a period or a rate is needed");
        assert!(parse(&["start", "--period", "1ms", "--rate", "5"]).is_err());
        assert!(parse(&["start", "--period", "1"]).is_err(), "no unit");
    }

    #[test]
    fn wakeup_policies() {
        let wakeup = |args: &[&str]| {
            let opts = parse(&[&["wakeup"], args].concat()).unwrap();
            let RingCommand::Wakeup(args) = opts.command else {
                panic!("not wakeup");
            };
            args.wakeup()
        };
        assert_eq!(wakeup(&[]).unwrap(), None);
        assert_eq!(wakeup(&["every"]).unwrap(), Some(Wakeup::Every));
        assert_eq!(wakeup(&["caught-up"]).unwrap(), Some(Wakeup::CaughtUp));
        assert_eq!(
            wakeup(&["watermark", "--bytes", "4096", "--max-latency", "5ms"]).unwrap(),
            Some(Wakeup::Watermark {
                bytes: 4096,
                max_latency: Some(Duration::from_millis(5)),
            })
        );
        assert!(wakeup(&["every", "--bytes", "4"]).is_err());
        assert!(
            parse(&["wakeup", "watermark"]).is_err(),
            "--bytes is needed"
        );
        assert!(parse(&["wakeup", "--max-latency", "1ms"]).is_err());
        assert!(parse(&["wakeup", "sometimes"]).is_err());
    }

    #[test]
    fn inject_arguments() {
        let opts = parse(&["inject", "1000", "--len", "0x10"]).unwrap();
        let RingCommand::Inject(args) = opts.command else {
            panic!("not inject");
        };
        assert_eq!((args.count, args.len), (1000, 16));
        assert!(parse(&["inject"]).is_err());
    }

    #[test]
    fn texts_are_key_value_lines() {
        let stats = RingStats {
            produced: 10,
            discarded: 1,
            dropped: 2,
            wakeups: 3,
            bytes: 640,
            timer_period_ns: 1_000_000,
            timer_len: 64,
            producer_pos: 880,
        };
        assert_eq!(
            stats_text("/dev/mymap-ring0", &stats),
            "ring: /dev/mymap-ring0\nproduced: 10\ndiscarded: 1\ndropped: 2\nwakeups: 3\n\
             bytes: 640\ntimer_period_ns: 1000000\ntimer_len: 64\nproducer_pos: 880\n"
        );
        let watermark = Wakeup::Watermark {
            bytes: 64,
            max_latency: Some(Duration::from_micros(5)),
        };
        assert_eq!(
            wakeup_text("r", watermark),
            "ring: r\npolicy: watermark\nwatermark: 64\nmax_latency_ns: 5000\n"
        );
        assert_eq!(
            wakeup_text("r", Wakeup::CaughtUp),
            "ring: r\npolicy: caught-up\n"
        );
    }
}
