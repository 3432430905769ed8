// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The tx ring's measurements (issue 21), on a gpio-sim chip made for the run:
//! line 0 is the GPIO player's (module parameter `player=`, tx ring 0, its
//! completions in `/dev/mymap-ring0`), line 1 is requested as an output
//! through the GPIO character device by a userspace loop.
//!
//! Toggle jitter: at 1 k and 10 k sets/s, each side sets its line
//! `sets` times per round on a schedule, and each set's |actual - requested|
//! is kept. The player's side writes the round's records (time, line, value)
//! into the tx ring with `mymap::TxRing`, kicks once and sleeps until the
//! round is over, then reads the completions (requested and actual time). The
//! loop's side sleeps with `clock_nanosleep(TIMER_ABSTIME)` to each time, sets
//! the line with one `GPIO_V2_LINE_SET_VALUES_IOCTL` (gpiocdev) and reads
//! CLOCK_MONOTONIC right after: its actual time, as the player takes its own
//! right after setting its line. Both sides' threads run on [`CPU`]; the
//! sides take turns in rotating order, one untimed round each, then the
//! timed rounds.
//!
//! Commands/s: one thread sends the player's 16-byte records into tx ring 1,
//! whose kernel consumer is the built-in echo (no ring 1 to echo into, so it
//! only takes and counts them), [`COMMANDS`] per round: with
//! `TxRing::try_play` and one `MYMAP_TX_IOC_KICK` per [`BATCH`] records,
//! against one kick per record, and (no target) one GPIO character device
//! set per command on the loop's line. The echo takes every complete record
//! at each kick, in the kick's system call, so a kick's return is what the
//! kernel accepted; the player would take one record per played set and
//! measure gpio-sim's sets instead.
//!
//! The player and the loop set two lines of the same chip, not one line: the
//! player requests its lines when the module loads and holds them until it is
//! unloaded, so the loop could not request the player's line without a
//! reload between turns. Both lines go through the same gpio-sim code (one
//! chip, one lock), whose `set` sleeps: the player sets its line from the
//! high-priority workqueue its hrtimer queues (`mymap.h`, "The GPIO player").

use std::{
    io,
    ops::ControlFlow,
    time::{
        Duration,
        Instant, //
    },
};

use gpiocdev::line::Value;
use mymap::{
    Play,
    Played,
    Ring,
    TxRing, //
};
use mymap_target_support::{
    gpio_sim::SimChip,
    sys::{
        monotonic_ns,
        pin_to_cpu,
        sleep_until_ns, //
    },
};

use crate::{
    module,
    ring_report::Summary,
    stats::{
        median,
        rotation,
        Bound,
        Ratio, //
    },
};

/// The gpio-sim chip's label, which `player=` names.
const LABEL: &str = "mymap-bench-tx";
/// The player's line (bit 0 of its set), and the loop's line.
const PLAYER_LINE: u32 = 0;
const CDEV_LINE: u32 = 1;
/// The player's tx ring and the ring of its completions; the echo's tx ring
/// (no ring 1: it takes and counts).
const TX_NODE: &str = "/dev/mymap-tx0";
const ECHO_NODE: &str = "/dev/mymap-tx1";
const DONE_NODE: &str = "/dev/mymap-ring0";
/// The request's consumer label for the loop's line.
const CDEV_CONSUMER: &str = "mymap-bench-loop";
/// Every side's thread on CPU 1, as the ring's producers.
const CPU: usize = 1;
/// The first set of a round is this long after the round starts, so that the
/// player's records are all written and kicked before it (the round's
/// `prepare_ns` says how long that took; a set whose time had passed is late
/// and counted).
const LEAD_NS: u64 = 5_000_000;
/// How long after a round's last set its completions must all be there.
const COMPLETION_WAIT: Duration = Duration::from_secs(5);
/// The rates measured.
const RATES: [u32; 2] = [1_000, 10_000];

/// The commands measurement's id: the player's 16-byte records.
const COMMANDS_ID: &str = "commands-16";
/// Commands each side sends per round, and records per kick of the batched side.
const COMMANDS: u64 = 32_768;
const BATCH: u64 = 256;

/// The player's p99 at most half the loop's (issue 21); the moonshot is 0.1.
const JITTER_TARGET: Bound = Bound::AtMost(0.5);
const JITTER_MOONSHOT: f64 = 0.1;
/// The ring at least 10 times the commands/s of one `ioctl` per command.
const COMMANDS_TARGET: Bound = Bound::AtLeast(10.0);

/// What to measure.
#[derive(Debug, PartialEq)]
pub struct TxConfig {
    /// Timed rounds of each side (after one untimed round).
    pub rounds: usize,
    /// Sets of each side per jitter round.
    pub sets: usize,
}

impl Default for TxConfig {
    fn default() -> Self {
        TxConfig {
            rounds: 5,
            sets: 1000,
        }
    }
}

/// The two sides of the jitter measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Player,
    Loop,
}

impl Side {
    const BOTH: [Side; 2] = [Side::Player, Side::Loop];

    fn id(self) -> &'static str {
        match self {
            Side::Player => "player",
            Side::Loop => "cdev-loop",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Side::Player => "mymap GPIO player (tx ring, hrtimer, workqueue on gpio-sim)",
            Side::Loop => "userspace loop (clock_nanosleep TIMER_ABSTIME, GPIO chardev set)",
        }
    }
}

/// One side's round: each set's |actual - requested|.
#[derive(Debug, Default)]
struct JitterRound {
    error: Vec<u64>,
    late: u64,
    prepare_ns: u64,
}

#[derive(Debug)]
struct JitterSide {
    side: Side,
    rounds: Vec<JitterRound>,
}

impl JitterSide {
    fn errors(&self) -> Vec<u64> {
        self.rounds.iter().flat_map(|r| r.error.clone()).collect()
    }

    fn late(&self) -> u64 {
        self.rounds.iter().map(|r| r.late).sum()
    }
}

/// Both sides at one rate.
#[derive(Debug)]
struct Jitter {
    rate_hz: u32,
    sides: Vec<JitterSide>,
}

impl Jitter {
    fn id(&self) -> String {
        format!("jitter-{}k", self.rate_hz / 1000)
    }
}

/// The senders of the commands measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sender {
    Batch,
    KickEach,
    CdevSet,
}

impl Sender {
    const ALL: [Sender; 3] = [Sender::Batch, Sender::KickEach, Sender::CdevSet];

    fn id(self) -> &'static str {
        match self {
            Sender::Batch => "tx-batch",
            Sender::KickEach => "tx-kick-each",
            Sender::CdevSet => "cdev-set",
        }
    }

    fn label(self) -> String {
        match self {
            Sender::Batch => {
                format!("TxRing::try_play, one MYMAP_TX_IOC_KICK per {BATCH} records")
            }
            Sender::KickEach => "TxRing::try_play, one MYMAP_TX_IOC_KICK per record".into(),
            Sender::CdevSet => "one GPIO chardev set per command (gpio-sim)".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct CommandRound {
    commands: u64,
    elapsed_s: f64,
    syscalls: u64,
}

impl CommandRound {
    fn per_s(&self) -> f64 {
        self.commands as f64 / self.elapsed_s
    }
}

#[derive(Debug)]
struct CommandSide {
    sender: Sender,
    rounds: Vec<CommandRound>,
}

impl CommandSide {
    fn per_s(&self) -> f64 {
        let v: Vec<f64> = self.rounds.iter().map(CommandRound::per_s).collect();
        median(&v).unwrap_or(f64::NAN)
    }
}

/// Everything the tx part measured.
#[derive(Debug)]
pub struct TxReport {
    sets: usize,
    jitter: Vec<Jitter>,
    commands: Vec<CommandSide>,
}

fn progress(what: &str) {
    eprintln!("mymap-bench: tx: {what}");
}

/// Runs the tx measurements; reloads mymap with `player=` naming a gpio-sim
/// chip made for the run, and leaves it loaded with its default parameters and
/// the chip removed.
pub fn run(cfg: &TxConfig) -> io::Result<TxReport> {
    let chip = SimChip::new(LABEL, 2).map_err(io::Error::other)?;
    // Tx ring 0 plays line 0; tx ring 1 has the echo, with no ring to echo into.
    let param = format!("player={LABEL}:{PLAYER_LINE}");
    let result = module::reload(&module::MYMAP, &[&param, "tx_rings=2"])
        .and_then(|_| module::settle())
        .and_then(|_| measure(cfg, &chip));
    let restored = module::reload(&module::MYMAP, &[]).and_then(|_| module::settle());
    drop(chip);
    let report = result?;
    restored?;
    Ok(report)
}

/// A library error as the bench's.
fn lib(e: mymap::Error) -> io::Error {
    io::Error::other(e)
}

fn measure(cfg: &TxConfig, chip: &SimChip) -> io::Result<TxReport> {
    pin_to_cpu(CPU)?;
    let mut tx = TxRing::open(TX_NODE).map_err(lib)?;
    let mut done = Ring::open(DONE_NODE).map_err(lib)?;
    let record = |len: u32| u64::from(mymap_uapi::ring::record_size(len));
    let fits = |size: u32, len: u32| u64::from(size) / record(len);
    let most =
        fits(tx.geometry().data_size, Play::PAYLOAD_LEN).min(fits(done.geometry().data_size, 32));
    if cfg.sets as u64 > most {
        return Err(io::Error::other(format!(
            "--tx-sets {} do not fit in {TX_NODE} and {DONE_NODE}: at most {most}",
            cfg.sets
        )));
    }
    let req = gpiocdev::Request::builder()
        .on_chip(chip.chardev())
        .with_consumer(CDEV_CONSUMER)
        .with_line(CDEV_LINE)
        .as_output(Value::Inactive)
        .request()
        .map_err(|e| io::Error::other(format!("{}: {e}", chip.chardev().display())))?;
    tx.start().map_err(lib)?;
    let mut jitter = Vec::new();
    for rate_hz in RATES {
        progress(&format!(
            "jitter at {rate_hz} sets/s: {} rounds of {} sets per side, sides in rotating order",
            cfg.rounds, cfg.sets
        ));
        let period = 1_000_000_000 / u64::from(rate_hz);
        let mut sides: Vec<JitterSide> = Side::BOTH
            .iter()
            .map(|&side| JitterSide {
                side,
                rounds: Vec::new(),
            })
            .collect();
        // Round 0 is untimed.
        for round in 0..=cfg.rounds {
            for i in rotation(round, 2) {
                let r = match Side::BOTH[i] {
                    Side::Player => player_round(&mut tx, &mut done, period, cfg.sets)?,
                    Side::Loop => loop_round(&req, period, cfg.sets)?,
                };
                if round > 0 {
                    sides[i].rounds.push(r);
                }
            }
        }
        jitter.push(Jitter { rate_hz, sides });
    }
    drop(tx);
    progress(&format!(
        "commands/s: {} rounds of {COMMANDS} commands per side, sides in rotating order",
        cfg.rounds
    ));
    let mut echo = TxRing::open(ECHO_NODE).map_err(lib)?;
    let mut commands: Vec<CommandSide> = Sender::ALL
        .iter()
        .map(|&sender| CommandSide {
            sender,
            rounds: Vec::new(),
        })
        .collect();
    for round in 0..=cfg.rounds {
        for i in rotation(round, Sender::ALL.len()) {
            let r = command_round(Sender::ALL[i], &mut echo, &req)?;
            if round > 0 {
                commands[i].rounds.push(r);
            }
        }
    }
    Ok(TxReport {
        sets: cfg.sets,
        jitter,
        commands,
    })
}

/// One side's round of [`COMMANDS`] commands as fast as one thread sends
/// them; the echo must have taken every one.
fn command_round(
    sender: Sender,
    tx: &mut TxRing,
    req: &gpiocdev::Request,
) -> io::Result<CommandRound> {
    let play = Play {
        time_ns: 0,
        mask: 1,
        values: 1,
    };
    let per_kick = match sender {
        Sender::Batch => BATCH,
        Sender::KickEach => 1,
        Sender::CdevSet => {
            let start = Instant::now();
            for i in 0..COMMANDS {
                let value = if i % 2 == 0 {
                    Value::Active
                } else {
                    Value::Inactive
                };
                req.set_value(CDEV_LINE, value)
                    .map_err(|e| io::Error::other(format!("set line {CDEV_LINE}: {e}")))?;
            }
            return Ok(CommandRound {
                commands: COMMANDS,
                elapsed_s: start.elapsed().as_secs_f64(),
                syscalls: COMMANDS,
            });
        }
    };
    let before = tx.stats().map_err(lib)?.consumed;
    let start = Instant::now();
    let (mut sent, mut taken, mut kicks) = (0, 0, 0);
    while sent < COMMANDS {
        let end = (sent + per_kick).min(COMMANDS);
        // A full ring ends the batch early; the kick empties it.
        while sent < end && tx.try_play(&play).map_err(lib)?.is_some() {
            sent += 1;
        }
        taken += u64::from(tx.kick().map_err(lib)?);
        kicks += 1;
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    let consumed = tx.stats().map_err(lib)?.consumed - before;
    if taken != COMMANDS || consumed != COMMANDS {
        return Err(io::Error::other(format!(
            "{}: the echo took {taken} records by its kicks' count and {consumed} by its \
             counter, of {COMMANDS} sent",
            sender.id()
        )));
    }
    Ok(CommandRound {
        commands: COMMANDS,
        elapsed_s,
        syscalls: kicks,
    })
}

/// The player's round: `n` records, `period` apart from [`LEAD_NS`] after the
/// round's start, toggling its line, written and kicked at once; then their
/// completions, which must be exactly those records, in order.
fn player_round(
    tx: &mut TxRing,
    done: &mut Ring,
    period: u64,
    n: usize,
) -> io::Result<JitterRound> {
    let start = monotonic_ns();
    let t0 = start + LEAD_NS;
    let first = tx.next_seq();
    let play = |i: u64| Play {
        time_ns: t0 + i * period,
        mask: 1 << PLAYER_LINE,
        values: ((i as u32 + 1) % 2) << PLAYER_LINE,
    };
    for i in 0..n as u64 {
        if tx.try_play(&play(i)).map_err(lib)?.is_none() {
            return Err(io::Error::other(format!(
                "{TX_NODE} full after {i} of {n} records"
            )));
        }
    }
    tx.kick().map_err(lib)?;
    let prepare_ns = monotonic_ns() - start;
    sleep_until_ns(play(n as u64 - 1).time_ns);
    let mut round = JitterRound {
        prepare_ns,
        ..JitterRound::default()
    };
    let deadline = Instant::now() + COMPLETION_WAIT;
    let mut bad = None;
    while round.error.len() < n {
        let got = done
            .consume(|r| {
                let i = first + round.error.len() as u64;
                match Played::from_record(r) {
                    Some(p) if p.seq == i && p.requested_ns == play(i - first).time_ns => {
                        round.error.push(p.delay_ns().unsigned_abs() as u64);
                        round.late += u64::from(p.late);
                        ControlFlow::Continue(())
                    }
                    other => {
                        bad = Some(format!(
                            "completion {other:?} (ring seq {}, {} dropped before it), want \
                             seq {i} requested {}",
                            r.seq,
                            r.dropped_before,
                            play(i - first).time_ns
                        ));
                        ControlFlow::Break(())
                    }
                }
            })
            .map_err(lib)?;
        if let Some(bad) = bad {
            return Err(io::Error::other(bad));
        }
        if got == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::other(format!(
                    "{} of {n} completions within {} s of the last set",
                    round.error.len(),
                    COMPLETION_WAIT.as_secs()
                )));
            }
            done.wait(Some(left)).map_err(lib)?;
        }
    }
    Ok(round)
}

/// The loop's round: `n` sets of its line, `period` apart from [`LEAD_NS`]
/// after the round's start, each after an absolute sleep to its time.
fn loop_round(req: &gpiocdev::Request, period: u64, n: usize) -> io::Result<JitterRound> {
    let t0 = monotonic_ns() + LEAD_NS;
    let mut round = JitterRound {
        error: Vec::with_capacity(n),
        ..JitterRound::default()
    };
    for i in 0..n as u64 {
        let requested = t0 + i * period;
        // Late as the player's: the time had passed when the set came up.
        if monotonic_ns() > requested {
            round.late += 1;
        }
        sleep_until_ns(requested);
        let value = if i % 2 == 0 {
            Value::Active
        } else {
            Value::Inactive
        };
        req.set_value(CDEV_LINE, value)
            .map_err(|e| io::Error::other(format!("set line {CDEV_LINE}: {e}")))?;
        let actual = monotonic_ns();
        round.error.push(actual.abs_diff(requested));
    }
    Ok(round)
}

impl TxReport {
    fn ratios(&self) -> Vec<Ratio> {
        let p99 = |v: &[u64]| Summary::of(v).p99_ns as f64;
        let mut out: Vec<Ratio> = self
            .jitter
            .iter()
            .map(|j| {
                let [player, cdev] = [&j.sides[0], &j.sides[1]];
                Ratio {
                    id: format!("{}-{}-vs-{}", j.id(), player.side.id(), cdev.side.id()),
                    what: format!(
                        "toggle error (actual - requested, absolute) at {} sets/s, p99: player / \
                         userspace loop (moonshot <= {JITTER_MOONSHOT})",
                        j.rate_hz
                    ),
                    ratio: p99(&player.errors()) / p99(&cdev.errors()),
                    rounds: player
                        .rounds
                        .iter()
                        .zip(&cdev.rounds)
                        .map(|(a, b)| p99(&a.error) / p99(&b.error))
                        .collect(),
                    target: JITTER_TARGET,
                }
            })
            .collect();
        let side = |sender| self.commands.iter().find(|s| s.sender == sender);
        if let (Some(batch), Some(each)) = (side(Sender::Batch), side(Sender::KickEach)) {
            let rounds: Vec<f64> = batch
                .rounds
                .iter()
                .zip(&each.rounds)
                .map(|(a, b)| a.per_s() / b.per_s())
                .collect();
            out.push(Ratio {
                id: format!(
                    "{}-{}-vs-{}",
                    COMMANDS_ID,
                    batch.sender.id(),
                    each.sender.id()
                ),
                what: "commands accepted from one thread, per second: tx ring, one kick per \
                       batch / one kick per command"
                    .into(),
                ratio: median(&rounds).unwrap_or(f64::NAN),
                rounds,
                target: COMMANDS_TARGET,
            });
        }
        out
    }

    /// The tables, as text.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tx toggle jitter (|actual - requested|, {} sets per side per round, first set \
             {} ms after the round starts):",
            self.sets,
            LEAD_NS / 1_000_000
        );
        let _ = writeln!(
            out,
            "  {:<10} {:<66} {:>30} {:>6} {:>14}",
            "id", "side", "med/p99/max ns", "late", "prepare med ns"
        );
        for j in &self.jitter {
            for s in &j.sides {
                let e = Summary::of(&s.errors());
                let prepare: Vec<f64> = s.rounds.iter().map(|r| r.prepare_ns as f64).collect();
                let _ = writeln!(
                    out,
                    "  {:<10} {:<66} {:>30} {:>6} {:>14.0}",
                    j.id(),
                    s.side.label(),
                    format!("{}/{}/{}", e.median_ns, e.p99_ns, e.max_ns),
                    s.late(),
                    median(&prepare).unwrap_or(f64::NAN)
                );
            }
        }
        if !self.commands.is_empty() {
            let _ = writeln!(
                out,
                "tx commands/s ({COMMANDS} per side per round, medians of the rounds):"
            );
        }
        for s in &self.commands {
            let syscalls: u64 = s.rounds.iter().map(|r| r.syscalls).sum();
            let commands: u64 = s.rounds.iter().map(|r| r.commands).sum();
            let _ = writeln!(
                out,
                "  {:<66} {:>12.0}/s, {:.3} system calls per command",
                s.sender.label(),
                s.per_s(),
                syscalls as f64 / commands.max(1) as f64
            );
        }
        for r in self.ratios() {
            let _ = writeln!(out, "{}", r.line());
        }
        out
    }

    /// The `tx` part of the record (`mymap_bench_record::tx`).
    pub fn record(&self) -> mymap_bench_record::tx::Tx {
        use mymap_bench_record::{
            rounded,
            tx as record, //
        };
        let jitter = self
            .jitter
            .iter()
            .map(|j| record::Jitter {
                id: j.id(),
                rate_hz: j.rate_hz,
                sets: self.sets as u32,
                sides: j
                    .sides
                    .iter()
                    .map(|s| record::JitterSide {
                        id: s.side.id().into(),
                        label: s.side.label().into(),
                        error: Summary::of(&s.errors()),
                        late: s.late(),
                        rounds: s
                            .rounds
                            .iter()
                            .map(|r| record::JitterRound {
                                error: Summary::of(&r.error),
                                late: r.late,
                                prepare_ns: r.prepare_ns,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let ratios = self.ratios().iter().map(Ratio::record).collect();
        let commands = (!self.commands.is_empty()).then(|| record::Commands {
            id: COMMANDS_ID.into(),
            payload_len: Play::PAYLOAD_LEN,
            batch: BATCH as u32,
            per_round: COMMANDS,
            sides: self
                .commands
                .iter()
                .map(|s| record::CommandSide {
                    id: s.sender.id().into(),
                    label: s.sender.label(),
                    per_s: rounded(s.per_s(), 1),
                    rounds: s
                        .rounds
                        .iter()
                        .map(|r| record::CommandRound {
                            commands: r.commands,
                            elapsed_s: rounded(r.elapsed_s, 6).unwrap_or(r.elapsed_s),
                            syscalls: r.syscalls,
                        })
                        .collect(),
                })
                .collect(),
        });
        record::Tx {
            chip: LABEL.into(),
            player_line: PLAYER_LINE,
            cdev_line: CDEV_LINE,
            lead_ns: LEAD_NS,
            jitter,
            commands,
            ratios,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(side: Side, rounds: &[(&[u64], u64)]) -> JitterSide {
        JitterSide {
            side,
            rounds: rounds
                .iter()
                .map(|&(error, late)| JitterRound {
                    error: error.to_vec(),
                    late,
                    prepare_ns: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn the_jitter_ratio_is_of_the_p99s_of_all_rounds_and_late_sets_stay_in() {
        let report = TxReport {
            sets: 2,
            jitter: vec![Jitter {
                rate_hz: 1000,
                sides: vec![
                    side(Side::Player, &[(&[10, 20], 0), (&[30, 400], 1)]),
                    side(Side::Loop, &[(&[100, 1000], 0), (&[100, 200], 0)]),
                ],
            }],
            commands: [
                (Sender::Batch, 1.0),
                (Sender::KickEach, 20.0),
                (Sender::CdevSet, 40.0),
            ]
            .into_iter()
            .map(|(sender, elapsed_s)| CommandSide {
                sender,
                rounds: vec![CommandRound {
                    commands: 1000,
                    elapsed_s,
                    syscalls: 1000,
                }],
            })
            .collect(),
        };
        let ratios = report.ratios();
        assert_eq!(ratios[0].id, "jitter-1k-player-vs-cdev-loop");
        assert_eq!(ratios[0].ratio, 0.4);
        assert_eq!(ratios[0].rounds, vec![0.02, 2.0]);
        assert!(ratios[0].target.met(ratios[0].ratio));
        let record = report.record();
        let player = &record.jitter[0].sides[0];
        assert_eq!(
            (player.error.n, player.error.max_ns, player.late),
            (4, 400, 1)
        );
        assert_eq!(record.ratios[0].verdict.met, Some(true));
        assert_eq!(ratios.len(), 2, "no ratio for the chardev's sets");
        assert_eq!(ratios[1].id, "commands-16-tx-batch-vs-tx-kick-each");
        assert_eq!((ratios[1].ratio, ratios[1].target.met(20.0)), (20.0, true));
        let commands = record.commands.as_ref().unwrap();
        assert_eq!(commands.sides[2].per_s, Some(25.0));
        assert!(report.table().contains("jitter-1k"));
    }
}
