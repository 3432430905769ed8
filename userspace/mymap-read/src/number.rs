// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Parsing of offsets and lengths given on the command line.

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
}
