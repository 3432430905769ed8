// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Parsing of offsets, lengths, durations and ring names given on the command line.

use std::path::PathBuf;
use std::time::Duration;

/// Parses a decimal or `0x`-prefixed hexadecimal number.
pub fn parse_u64(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not a number (decimal, or hexadecimal with 0x)"))
}

/// Parses a length: a number as [`parse_u64`] that is at least 1 and fits in memory.
pub fn parse_len(text: &str) -> Result<usize, String> {
    let len = parse_u64(text)?;
    if len == 0 {
        return Err("the length must be at least 1".into());
    }
    usize::try_from(len).map_err(|_| format!("{len} bytes do not fit in memory"))
}

/// Parses a number as [`parse_u64`] that fits a `u32`.
pub fn parse_u32(text: &str) -> Result<u32, String> {
    let value = parse_u64(text)?;
    u32::try_from(value).map_err(|_| format!("{value} is too large (at most {})", u32::MAX))
}

/// Parses a duration: a whole number and a unit, `ns`, `us`, `ms` or `s` (`250us`, `1ms`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration: write a whole number and a unit (1ms)")
    })?;
    let nanos_per = match unit.trim() {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" => return Err(format!("`{text}` needs a unit: ns, us, ms or s")),
        other => return Err(format!("`{other}` is not a unit: use ns, us, ms or s")),
    };
    number
        .checked_mul(nanos_per)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Parses a rate in records per second (a whole number from 1) into the period between
/// records, rounded to the nanosecond.
pub fn parse_rate(text: &str) -> Result<Duration, String> {
    let rate = parse_u64(text)?;
    if rate == 0 {
        return Err("the rate must be at least 1 record per second".into());
    }
    Ok(Duration::from_nanos((1_000_000_000 + rate / 2) / rate))
}

/// Parses a ring: its number N (for /dev/mymap-ringN) or the path of its node.
pub fn parse_ring(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("name a ring: its number or its /dev/mymap-ringN path".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let index: u32 = text
            .parse()
            .map_err(|_| format!("ring number `{text}` is too large"))?;
        return Ok(mymap::ring_path(index));
    }
    Ok(PathBuf::from(text))
}

/// Parses a tx ring: its number N (for /dev/mymap-txN) or the path of its node.
pub fn parse_tx(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("name a tx ring: its number or its /dev/mymap-txN path".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let index: u32 = text
            .parse()
            .map_err(|_| format!("tx ring number `{text}` is too large"))?;
        return Ok(mymap::tx_path(index));
    }
    Ok(PathBuf::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex() {
        assert_eq!(parse_u64("0"), Ok(0));
        assert_eq!(parse_u64("4096"), Ok(4096));
        assert_eq!(parse_u64("0x1000"), Ok(4096));
        assert_eq!(parse_u64("0XfF"), Ok(255));
    }

    #[test]
    fn garbage_is_refused() {
        for text in ["", "-1", "0x", "12k", "0x1g", "one"] {
            let err = parse_u64(text).unwrap_err();
            assert!(err.contains("is not a number"), "{text}: {err}");
        }
    }

    #[test]
    fn lengths_are_positive() {
        assert_eq!(parse_len("1"), Ok(1));
        assert_eq!(parse_len("0x10"), Ok(16));
        assert_eq!(parse_len("0").unwrap_err(), "the length must be at least 1");
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_duration("2 s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("10000ns"), Ok(Duration::from_micros(10)));
        assert_eq!(
            parse_duration("5").unwrap_err(),
            "`5` needs a unit: ns, us, ms or s"
        );
        assert!(parse_duration("5min").unwrap_err().contains("not a unit"));
        assert!(parse_duration("ms").unwrap_err().contains("not a duration"));
        assert!(parse_duration("-1ms")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("99999999999999s")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn rates_become_periods() {
        assert_eq!(parse_rate("1000"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_rate("3"), Ok(Duration::from_nanos(333_333_333)));
        assert!(parse_rate("0").is_err());
    }

    #[test]
    fn rings_by_number_or_path() {
        assert_eq!(parse_ring("0"), Ok(PathBuf::from("/dev/mymap-ring0")));
        assert_eq!(parse_ring("3"), Ok(PathBuf::from("/dev/mymap-ring3")));
        assert_eq!(
            parse_ring("/dev/mymap-ring1"),
            Ok(PathBuf::from("/dev/mymap-ring1"))
        );
        assert!(parse_ring("").is_err());
        assert!(parse_ring("99999999999").is_err());
    }

    #[test]
    fn u32_values() {
        assert_eq!(parse_u32("0x10"), Ok(16));
        assert!(parse_u32("4294967296").unwrap_err().contains("too large"));
    }
}
