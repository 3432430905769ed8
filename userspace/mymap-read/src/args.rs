// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The command line of `mymap-read`. The doc comments are its `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};

use crate::gpio::{Edges, GpioLine};
use crate::number::{parse_len, parse_ring, parse_u64};
use crate::output::Format;
use crate::source::Via;

const AFTER_HELP: &str = "\
Examples:
  mymap-read                           the text at the start of /dev/mymap
  mymap-read --hex --length 64         hexdump of the first 64 bytes
  mymap-read --raw > buffer.bin        the whole buffer, byte for byte
  mymap-read --json --offset 0x1000 --length 16 --via read
  mymap-read --info                    size, page size, ABI version, clears
  mymap-read --follow --count 2        print now, then at the next change
  mymap-read --wait-gpio gpiochip0:17 --edge rising --timeout 5000
  mymap-read --ring                    records of /dev/mymap-ring0 as they arrive
  mymap-read --ring 1 --json --count 100 --timeout 2000

Exit status:
  0  success, also when the reader of stdout goes away (mymap-read | head)
  1  the device or an I/O call failed; the message names the fix
  2  bad arguments, including a range outside the buffer
  3  --timeout ran out first";

/// Print the buffer of a mymap device, or the records of a mymap ring.
///
/// By default, prints the text at --offset, up to the first NUL byte. The bytes
/// come from a shared mapping of the device (--via mmap) or from pread (--via
/// read); both see what the kernel and other processes wrote last.
///
/// With --ring, consumes a ring instead: prints each record as it arrives,
/// one line each (or --hex, --json), sleeping in epoll between them. Drops
/// (gaps in the sequence numbers, the ring's drop counter) go to stderr.
#[derive(Debug, Parser)]
#[command(name = "mymap-read", version, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("format").args(["hex", "raw", "json"])))]
#[command(group(ArgGroup::new("wait").args(["follow", "wait_gpio", "ring"]).multiple(true)))]
pub struct Opts {
    /// The mymap device.
    #[arg(
        short,
        long,
        value_name = "PATH",
        env = "MYMAP_DEVICE",
        default_value = mymap::DEFAULT_PATH
    )]
    pub device: PathBuf,

    /// Print a canonical hexdump (as `hexdump -C`), offsets counted from the start of the
    /// device.
    #[arg(long)]
    pub hex: bool,

    /// Write the bytes to stdout unchanged.
    #[arg(long)]
    pub raw: bool,

    /// Print JSON, one object per line: device, via, info, offset, length, text (up to
    /// the first NUL) and data_base64 (every byte); with --ring, one object per record.
    #[arg(long)]
    pub json: bool,

    /// Print the device's geometry and counters instead of its data (with --json, as
    /// JSON).
    #[arg(long, conflicts_with_all = ["hex", "raw", "offset", "length", "via", "wait"])]
    pub info: bool,

    /// The first byte to print, decimal or 0x-hex.
    #[arg(short, long, value_name = "N", value_parser = parse_u64, default_value = "0")]
    pub offset: u64,

    /// How many bytes to print [default: up to the end of the buffer].
    #[arg(short, long, value_name = "N", value_parser = parse_len)]
    pub length: Option<usize>,

    /// Read the buffer through a shared mapping or with pread(2).
    #[arg(long, value_enum, default_value_t = Via::Mmap)]
    pub via: Via,

    /// Keep running: print again each time the bytes change.
    #[arg(short, long)]
    pub follow: bool,

    /// With --follow, how often to look for a change, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 100,
        requires = "follow",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub interval: u64,

    /// With --follow or --wait-gpio, stop after printing N times; with --ring, after N
    /// records.
    #[arg(
        short = 'n',
        long,
        value_name = "N",
        requires = "wait",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub count: Option<u64>,

    /// Wait for an edge on a GPIO line, then print; with --follow, print after every
    /// edge. CHIP is gpiochipN, N or a path; LINE is the line offset.
    #[arg(long, value_name = "CHIP:LINE")]
    pub wait_gpio: Option<GpioLine>,

    /// With --wait-gpio, the edges that count.
    #[arg(long, value_enum, default_value_t = Edges::Both, requires = "wait_gpio")]
    pub edge: Edges,

    /// With --follow or --wait-gpio, give up after MS milliseconds; with --ring, when no
    /// record arrives for MS milliseconds (exit status 3).
    #[arg(long, value_name = "MS", requires = "wait")]
    pub timeout: Option<u64>,

    /// Consume a ring and print its records as they arrive: ring N (/dev/mymap-ringN,
    /// 0 if N is left out) or the ring node at PATH. Takes the ring's consumer claim.
    #[arg(
        long,
        value_name = "N|PATH",
        num_args = 0..=1,
        require_equals = false,
        default_missing_value = "0",
        value_parser = parse_ring,
        conflicts_with_all = ["raw", "info", "offset", "length", "via", "follow", "interval", "wait_gpio"]
    )]
    pub ring: Option<PathBuf>,
}

impl Opts {
    /// The output format the flags ask for.
    pub fn format(&self) -> Format {
        match (self.hex, self.raw, self.json) {
            (true, _, _) => Format::Hex,
            (_, true, _) => Format::Raw,
            (_, _, true) => Format::Json,
            _ => Format::Text,
        }
    }

    /// How many snapshots (or records) to print before stopping: `None` for no limit.
    ///
    /// --follow and --ring run until stopped; --wait-gpio alone prints after one edge.
    pub fn count(&self) -> Option<u64> {
        match self.count {
            Some(count) => Some(count),
            None if self.follow || self.ring.is_some() => None,
            None => Some(1),
        }
    }

    /// The --interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval)
    }

    /// The --timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Opts, clap::Error> {
        Opts::try_parse_from([&["mymap-read"], args].concat())
    }

    fn refused(args: &[&str]) -> ErrorKind {
        parse(args).expect_err("should be refused").kind()
    }

    #[test]
    fn the_command_is_consistent() {
        Opts::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let opts = parse(&[]).unwrap();
        assert_eq!(opts.offset, 0);
        assert_eq!(opts.length, None);
        assert_eq!(opts.via, Via::Mmap);
        assert_eq!(opts.format(), Format::Text);
        assert_eq!(opts.interval(), Duration::from_millis(100));
        assert_eq!(opts.count(), Some(1));
    }

    #[test]
    fn formats() {
        assert_eq!(parse(&["--hex"]).unwrap().format(), Format::Hex);
        assert_eq!(parse(&["--raw"]).unwrap().format(), Format::Raw);
        assert_eq!(parse(&["--json"]).unwrap().format(), Format::Json);
        assert!(parse(&["--info", "--json"]).unwrap().info);
    }

    #[test]
    fn formats_exclude_each_other() {
        assert_eq!(refused(&["--hex", "--raw"]), ErrorKind::ArgumentConflict);
        assert_eq!(refused(&["--json", "--hex"]), ErrorKind::ArgumentConflict);
        assert_eq!(refused(&["--info", "--raw"]), ErrorKind::ArgumentConflict);
        assert_eq!(
            refused(&["--info", "--offset", "4"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            refused(&["--info", "--follow"]),
            ErrorKind::ArgumentConflict
        );
    }

    #[test]
    fn ranges_parse_hex_and_refuse_garbage() {
        let opts = parse(&["--offset", "0x1000", "--length", "16"]).unwrap();
        assert_eq!((opts.offset, opts.length), (4096, Some(16)));
        assert_eq!(refused(&["--offset=-1"]), ErrorKind::ValueValidation);
        assert_eq!(refused(&["--offset", "4k"]), ErrorKind::ValueValidation);
        assert_eq!(refused(&["--length", "0"]), ErrorKind::ValueValidation);
        assert_eq!(refused(&["--via", "dma"]), ErrorKind::InvalidValue);
    }

    #[test]
    fn waiting_options_need_a_wait() {
        assert_eq!(
            refused(&["--count", "2"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused(&["--timeout", "5"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused(&["--interval", "5"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused(&["--edge", "rising"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused(&["--follow", "--count", "0"]),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn follow_counts() {
        let opts = parse(&["--follow"]).unwrap();
        assert_eq!(opts.count(), None);
        let opts = parse(&["-f", "-n", "2", "--interval", "10", "--timeout", "500"]).unwrap();
        assert_eq!(opts.count(), Some(2));
        assert_eq!(opts.interval(), Duration::from_millis(10));
        assert_eq!(opts.timeout(), Some(Duration::from_millis(500)));
    }

    #[test]
    fn gpio_waits() {
        let opts = parse(&["--wait-gpio", "gpiochip1:0", "--edge", "falling"]).unwrap();
        assert_eq!(
            opts.wait_gpio.unwrap().chip,
            PathBuf::from("/dev/gpiochip1")
        );
        assert_eq!(opts.edge, Edges::Falling);
        assert_eq!(
            refused(&["--wait-gpio", "gpiochip1"]),
            ErrorKind::ValueValidation
        );
        let opts = parse(&["--wait-gpio", "1:0", "--follow", "--count", "3"]).unwrap();
        assert_eq!(opts.count(), Some(3));
    }

    #[test]
    fn rings_by_number_path_or_default() {
        let opts = parse(&["--ring"]).unwrap();
        assert_eq!(opts.ring, Some(PathBuf::from("/dev/mymap-ring0")));
        assert_eq!(opts.count(), None);
        let opts = parse(&["--ring", "2", "--json", "--count", "5", "--timeout", "100"]).unwrap();
        assert_eq!(opts.ring, Some(PathBuf::from("/dev/mymap-ring2")));
        assert_eq!(opts.format(), Format::Json);
        assert_eq!(opts.count(), Some(5));
        assert_eq!(opts.timeout(), Some(Duration::from_millis(100)));
        let opts = parse(&["--ring=/dev/mymap-ring1", "--hex"]).unwrap();
        assert_eq!(opts.ring, Some(PathBuf::from("/dev/mymap-ring1")));
        assert_eq!(opts.format(), Format::Hex);
        // --ring left without a value before another option.
        let opts = parse(&["--ring", "--count", "1"]).unwrap();
        assert_eq!(opts.ring, Some(PathBuf::from("/dev/mymap-ring0")));
    }

    #[test]
    fn ring_refuses_the_buffer_options() {
        for args in [
            &["--ring", "--raw"][..],
            &["--ring", "--info"],
            &["--ring", "--offset", "4"],
            &["--ring", "--via", "read"],
            &["--ring", "--follow"],
            &["--ring", "--wait-gpio", "0:1"],
        ] {
            assert_eq!(refused(args), ErrorKind::ArgumentConflict, "{args:?}");
        }
        assert_eq!(refused(&["--ring", ""]), ErrorKind::ValueValidation);
    }

    #[test]
    fn help_has_examples_and_exit_statuses() {
        let help = Opts::command().render_long_help().to_string();
        assert!(help.contains("Examples:"), "{help}");
        assert!(help.contains("Exit status:"), "{help}");
        assert!(help.contains("MYMAP_DEVICE"), "{help}");
    }
}
