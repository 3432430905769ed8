// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymapctl play FILE`: plays a text waveform on a tx ring's GPIO player and
//! prints each completion as it arrives.
//!
//! The waveform is one set per line, `OFFSET LINE VALUE`: a time from the start
//! (a decimal number and a unit, `0ms`, `1.5ms`, `250us`), a line of the
//! player's set (0 to 31) and a value (0 or 1); `#` starts a comment, blank
//! lines are skipped, and offsets never go backwards. The grammar is in
//! [`GRAMMAR`], which `--help` prints.

use std::fs;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mymap::{Play, Played, Ring, TxRing};

use crate::deadline::Deadline;
use crate::exit::{TimedOut, Usage};
use crate::number::{parse_duration, parse_ring, parse_tx, parse_u32};

/// The waveform grammar, as `--help` and the README give it.
pub const GRAMMAR: &str = "\
Waveform file (FILE, or - for standard input), one set per line:
  OFFSET LINE VALUE      e.g.  1.5ms 0 1
  OFFSET  time from the start: a decimal number and a unit, ns, us, ms or s
          (0ms, 250us, 1.5ms, 2s); offsets never go backwards
  LINE    line of the player's set (player=LABEL:OFFSET+..., line i is the
          i-th offset named there), 0 to 31
  VALUE   0 or 1
  # starts a comment; blank lines are skipped.
Each set is one record: at start + OFFSET the player sets LINE to VALUE.";

/// The arguments of `mymapctl play`.
#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The waveform: a file, or - for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The tx ring whose player plays it: its number N (/dev/mymap-txN) or its path.
    #[arg(short, long, value_name = "N|PATH", default_value = "0", value_parser = parse_tx)]
    pub tx: PathBuf,

    /// The ring the player's completions come through; by default /dev/mymap-ringN for
    /// tx ring N, the one the driver pairs with it.
    #[arg(short, long, value_name = "N|PATH", value_parser = parse_ring)]
    pub ring: Option<PathBuf>,

    /// The start: this long after the records begin to be written, so that the first
    /// ones are not late.
    #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = parse_duration)]
    pub lead: Duration,

    /// Play the waveform this many times, each copy --period after the one before.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_u32)]
    pub repeat: u32,

    /// With --repeat: the time from one copy's start to the next's, at least the last
    /// offset of the file.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub period: Option<Duration>,

    /// How long after the last record's time to wait for its completion before giving
    /// up (exit status 3).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Print only the summary line, not one line per completion.
    #[arg(short, long)]
    pub quiet: bool,
}

/// One set of the waveform, as parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The line of the file it came from, from 1.
    pub line_no: usize,
    /// Nanoseconds from the start.
    pub offset_ns: u64,
    /// The line of the player's set.
    pub line: u32,
    /// 0 or 1.
    pub value: u32,
}

/// A waveform line that does not parse: its number and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line_no}: {message}")]
pub struct ParseError {
    /// The file's name, or `stdin`.
    pub source_name: String,
    /// The line, from 1.
    pub line_no: usize,
    /// What is wrong, and the fix.
    pub message: String,
}

/// Parses a waveform's text; `source_name` names it in errors.
pub fn parse(source_name: &str, text: &str) -> Result<Vec<Step>, ParseError> {
    let mut steps: Vec<Step> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let fail = |message: String| ParseError {
            source_name: source_name.to_string(),
            line_no,
            message,
        };
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let [offset, line, value] = fields[..] else {
            return Err(fail(format!(
                "`{content}` has {} fields: write OFFSET LINE VALUE, e.g. `1.5ms 0 1`",
                fields.len()
            )));
        };
        let offset_ns = parse_offset(offset).map_err(fail)?;
        let line = line
            .parse::<u32>()
            .ok()
            .filter(|&line| line < mymap::PLAY_MAX_LINES)
            .ok_or_else(|| {
                fail(format!(
                    "`{line}` is not a line: write the line's index in the player's set, 0 to {}",
                    mymap::PLAY_MAX_LINES - 1
                ))
            })?;
        let value = match value {
            "0" => 0,
            "1" => 1,
            other => return Err(fail(format!("`{other}` is not a value: write 0 or 1"))),
        };
        if let Some(last) = steps.last() {
            if offset_ns < last.offset_ns {
                return Err(fail(format!(
                    "offset {offset} goes back before line {}'s: sort the lines by time",
                    last.line_no
                )));
            }
        }
        steps.push(Step {
            line_no,
            offset_ns,
            line,
            value,
        });
    }
    Ok(steps)
}

/// Parses an offset: a decimal number, maybe with a fraction, and a unit `ns`, `us`,
/// `ms` or `s`, into whole nanoseconds.
pub fn parse_offset(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let per: u64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" => {
            return Err(format!(
                "`{text}` needs a unit: write e.g. `{text}ms` (ns, us, ms or s)"
            ))
        }
        other => return Err(format!("`{other}` is not a unit: use ns, us, ms or s")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let bad = || format!("`{text}` is not a time: write a decimal number and a unit, e.g. `1.5ms`");
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if number.contains('.')
        && (fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let too_long = || format!("`{text}` is too long: at most 2^64 ns (584 years)");
    let whole: u64 = whole.parse().map_err(|_| too_long())?;
    let mut ns = whole.checked_mul(per).ok_or_else(too_long)?;
    // The fraction, digit by digit: exact, no floating point.
    let mut scale = per;
    for digit in fraction.bytes() {
        if scale % 10 != 0 {
            if digit != b'0' {
                return Err(format!("`{text}` is finer than a nanosecond: round it"));
            }
            continue;
        }
        scale /= 10;
        ns = ns
            .checked_add(u64::from(digit - b'0') * scale)
            .ok_or_else(too_long)?;
    }
    Ok(ns)
}

/// Reads the waveform `path` names (`-`: standard input) and parses it.
pub fn read(path: &Path) -> anyhow::Result<Vec<Step>> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("reading the waveform from stdin")?;
        ("stdin".to_string(), text)
    } else {
        let text = fs::read_to_string(path)
            .with_context(|| format!("reading the waveform {}", path.display()))?;
        (path.display().to_string(), text)
    };
    let steps = parse(&name, &text).map_err(|err| Usage(err.to_string()))?;
    if steps.is_empty() {
        return Err(Usage(format!(
            "{name} has no sets: write lines of OFFSET LINE VALUE"
        ))
        .into());
    }
    Ok(steps)
}

/// The records to send: the waveform `repeat` times, copy k shifted by k × `period`,
/// as (offset from the start, step).
pub fn schedule(
    steps: &[Step],
    repeat: u32,
    period: Option<Duration>,
) -> Result<Vec<(u64, Step)>, Usage> {
    let last = steps.last().map_or(0, |step| step.offset_ns);
    let period_ns = match (repeat, period) {
        (0, _) => return Err(Usage("--repeat must be at least 1".into())),
        (1, _) => 0,
        (_, None) => {
            return Err(Usage(
                "--repeat needs --period: the time from one copy's start to the next".into(),
            ))
        }
        (_, Some(period)) => {
            let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
            if period_ns == 0 || period_ns < last {
                return Err(Usage(format!(
                    "--period must be at least the last offset, {last} ns, and above 0"
                )));
            }
            period_ns
        }
    };
    let mut out = Vec::with_capacity(steps.len() * repeat as usize);
    for copy in 0..u64::from(repeat) {
        for step in steps {
            let at = copy
                .checked_mul(period_ns)
                .and_then(|shift| shift.checked_add(step.offset_ns))
                .ok_or_else(|| Usage("--repeat × --period is too long".into()))?;
            out.push((at, *step));
        }
    }
    Ok(out)
}

/// Formats nanoseconds as milliseconds with microsecond digits.
fn ms(ns: i128) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    format!("{sign}{}.{:06}ms", ns / 1_000_000, ns % 1_000_000)
}

/// What `run` saw, for its summary line.
#[derive(Debug, Default)]
struct Seen {
    delays: Vec<i128>,
    late: usize,
}

/// Plays the waveform: starts the player, writes the records (waiting for space when
/// the ring is full), kicks, and prints each completion as it arrives.
pub fn run(out: &mut impl Write, args: &PlayArgs) -> anyhow::Result<()> {
    let steps = read(&args.file)?;
    let records = schedule(&steps, args.repeat, args.period)?;
    let mut tx = TxRing::open(&args.tx)?;
    let ring_path = args
        .ring
        .clone()
        .unwrap_or_else(|| mymap::ring_path(tx.geometry().index));
    let mut done = Ring::open(&ring_path)?;
    // A clean start: records an earlier run left are thrown away, and so are the
    // completions waiting in the ring.
    tx.flush()?;
    done.consume(|_| ControlFlow::Continue(()))?;
    let rejected_before = tx.stats()?.rejected;
    tx.start()?;
    let first_seq = tx.next_seq();
    let start_ns = mymap::monotonic_ns() + u64::try_from(args.lead.as_nanos()).unwrap_or(0);
    if !args.quiet {
        writeln!(
            out,
            "{:>8} {:>5} {:>3} {:>16} {:>14}  late",
            "seq", "line", "set", "requested", "delay"
        )?;
    }
    let mut seen = Seen::default();
    let mut next = 0;
    let mut completed = 0;
    let print = |out: &mut dyn Write, played: &Played, seen: &mut Seen| -> io::Result<()> {
        let index = usize::try_from(played.seq.wrapping_sub(first_seq)).unwrap_or(usize::MAX);
        let line = records.get(index).map_or(0, |(_, step)| step.line);
        seen.delays.push(played.delay_ns());
        seen.late += usize::from(played.late);
        if args.quiet {
            return Ok(());
        }
        writeln!(
            out,
            "{:>8} {:>5} {:>3} {:>16} {:>14}  {}",
            played.seq,
            line,
            (played.values >> line) & 1,
            ms(i128::from(played.requested_ns) - i128::from(start_ns)),
            ms(played.delay_ns()),
            if played.late { "late" } else { "-" }
        )
    };
    let take = |done: &mut Ring, out: &mut dyn Write, seen: &mut Seen| -> anyhow::Result<usize> {
        let mut result = Ok(());
        let count = done.consume(|record| {
            if let Some(played) = Played::from_record(record) {
                if let Err(err) = print(out, &played, seen) {
                    result = Err(err);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        result?;
        Ok(count)
    };
    while next < records.len() {
        // Write what fits, then kick once for the batch.
        while let Some((offset, step)) = records.get(next) {
            let play = Play {
                time_ns: start_ns + offset,
                mask: 1 << step.line,
                values: step.value << step.line,
            };
            if tx.try_play(&play)?.is_none() {
                break;
            }
            next += 1;
        }
        tx.kick()?;
        completed += take(&mut done, out, &mut seen)?;
        if next < records.len() {
            // Full: the player frees a record's space as it plays it. Short waits, so
            // that completions are printed (and their ring emptied) meanwhile.
            tx.wait_writable(Play::PAYLOAD_LEN, Some(Duration::from_millis(10)))?;
        }
    }
    let last_ns = start_ns + records.last().map_or(0, |(offset, _)| *offset);
    let until_last = Duration::from_nanos(last_ns.saturating_sub(mymap::monotonic_ns()));
    let deadline = Deadline::after(Some(until_last + args.timeout));
    while completed < records.len() && !deadline.expired() {
        if done.wait(deadline.remaining())? {
            completed += take(&mut done, out, &mut seen)?;
        }
    }
    if completed < records.len() {
        let rejected = tx.stats()?.rejected - rejected_before;
        let hint = if rejected > 0 {
            format!(
                "; the player rejected {rejected} records: a LINE beyond its set (player= names \
                 the set's lines)"
            )
        } else {
            String::new()
        };
        return Err(anyhow::Error::new(TimedOut {
            what: format!(
                "{} of {} completions ({} arrived){hint}",
                records.len() - completed,
                records.len(),
                completed
            ),
            after: until_last + args.timeout,
        }));
    }
    seen.delays.sort_unstable();
    let pick = |q: f64| seen.delays[((seen.delays.len() - 1) as f64 * q) as usize];
    writeln!(
        out,
        "{} records played on {}: delay median {}, max {}; {} late",
        records.len(),
        tx.path().display(),
        ms(pick(0.5)),
        ms(pick(1.0)),
        seen.late
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Vec<(u64, u32, u32)> {
        parse("test", text)
            .unwrap()
            .iter()
            .map(|s| (s.offset_ns, s.line, s.value))
            .collect()
    }

    fn error(text: &str) -> String {
        parse("wave.txt", text).unwrap_err().to_string()
    }

    #[test]
    fn offsets_take_units_and_fractions_exactly() {
        assert_eq!(parse_offset("0ms"), Ok(0));
        assert_eq!(parse_offset("250us"), Ok(250_000));
        assert_eq!(parse_offset("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_offset("0.000001s"), Ok(1_000));
        assert_eq!(parse_offset("2s"), Ok(2_000_000_000));
        assert_eq!(parse_offset("7ns"), Ok(7));
        assert_eq!(parse_offset("1.250us"), Ok(1_250));
        assert_eq!(parse_offset("1.0ns"), Ok(1));
        assert!(parse_offset("1.5ns")
            .unwrap_err()
            .contains("finer than a nanosecond"));
        assert!(parse_offset("15").unwrap_err().contains("needs a unit"));
        assert!(parse_offset("1.5min").unwrap_err().contains("not a unit"));
        assert!(parse_offset(".5ms").unwrap_err().contains("not a time"));
        assert!(parse_offset("1.ms").unwrap_err().contains("not a time"));
        assert!(parse_offset("1.2.3ms").unwrap_err().contains("not a time"));
        assert!(parse_offset("99999999999s")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# a 1 kHz square wave on line 0\n\n0ms 0 1\n  0.5ms 0 0   # falling\n1ms 3 1\n";
        assert_eq!(steps(text), [(0, 0, 1), (500_000, 0, 0), (1_000_000, 3, 1)]);
        assert_eq!(parse("t", "0ms 0 1\n").unwrap()[0].line_no, 1);
        assert_eq!(parse("t", "#\n\n0ms 0 1\n").unwrap()[0].line_no, 3);
        assert!(steps("# nothing\n").is_empty());
    }

    #[test]
    fn bad_lines_name_their_number_and_the_fix() {
        assert_eq!(
            error("0ms 0 1\n1ms 0\n"),
            "wave.txt line 2: `1ms 0` has 2 fields: write OFFSET LINE VALUE, e.g. `1.5ms 0 1`"
        );
        assert_eq!(
            error("0ms 0 2"),
            "wave.txt line 1: `2` is not a value: write 0 or 1"
        );
        assert!(error("0ms 32 1").starts_with("wave.txt line 1: `32` is not a line"));
        assert!(error("0ms -1 1").contains("0 to 31"));
        assert!(error("\n\n5 0 1").starts_with("wave.txt line 3: `5` needs a unit"));
        assert_eq!(
            error("1ms 0 1\n0.5ms 0 0"),
            "wave.txt line 2: offset 0.5ms goes back before line 1's: sort the lines by time"
        );
        assert_eq!(error("0ms 0 1 extra").lines().count(), 1);
    }

    #[test]
    fn equal_offsets_are_allowed() {
        assert_eq!(
            steps("1ms 0 1\n1ms 1 1"),
            [(1_000_000, 0, 1), (1_000_000, 1, 1)]
        );
    }

    #[test]
    fn repeats_shift_each_copy_by_the_period() {
        let wave = parse("t", "0ms 0 1\n0.5ms 0 0").unwrap();
        let at: Vec<u64> = schedule(&wave, 3, Some(Duration::from_millis(1)))
            .unwrap()
            .iter()
            .map(|(at, _)| *at)
            .collect();
        assert_eq!(at, [0, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000]);
        assert_eq!(schedule(&wave, 1, None).unwrap().len(), 2);
        assert!(schedule(&wave, 2, None).unwrap_err().0.contains("--period"));
        assert!(schedule(&wave, 2, Some(Duration::from_micros(100)))
            .unwrap_err()
            .0
            .contains("at least the last offset"));
        assert!(schedule(&wave, 0, None).is_err());
    }

    #[test]
    fn milliseconds_keep_microsecond_digits_and_the_sign() {
        assert_eq!(ms(1_500_000), "1.500000ms");
        assert_eq!(ms(51_234), "0.051234ms");
        assert_eq!(ms(-2_000), "-0.002000ms");
    }
}
