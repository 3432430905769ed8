// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The canonical hex+ASCII format of `hexdump -C`.
//!
//! Lines hold 16 bytes and start at `base`, `base + 16`, ...: like
//! `hexdump -C -s base`, offsets are those of the device, not of the output.
//! A line equal to the one before it is replaced by a single `*` until the
//! data changes, and the offset just past the data ends the dump.

use std::io::{self, Write};

const WIDTH: usize = 16;

/// Writes `data`, whose first byte is at device offset `base`, as `hexdump -C` does.
///
/// Like `hexdump -C`, writes nothing at all for empty data.
pub fn write(out: &mut impl Write, base: u64, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let mut previous: Option<&[u8]> = None;
    let mut starred = false;
    let mut offset = base;
    for line in data.chunks(WIDTH) {
        if line.len() == WIDTH && previous == Some(line) {
            if !starred {
                out.write_all(b"*\n")?;
                starred = true;
            }
        } else {
            write_line(out, offset, line)?;
            starred = false;
        }
        previous = Some(line);
        offset += line.len() as u64;
    }
    writeln!(out, "{offset:08x}")
}

/// Writes one line of up to 16 bytes.
fn write_line(out: &mut impl Write, offset: u64, line: &[u8]) -> io::Result<()> {
    let mut text = format!("{offset:08x} ");
    for i in 0..WIDTH {
        if i == WIDTH / 2 {
            text.push(' ');
        }
        match line.get(i) {
            Some(byte) => text.push_str(&format!(" {byte:02x}")),
            None => text.push_str("   "),
        }
    }
    text.push_str("  |");
    text.extend(line.iter().map(|&byte| printable(byte)));
    text.push_str("|\n");
    out.write_all(text.as_bytes())
}

fn printable(byte: u8) -> char {
    if byte == b' ' || byte.is_ascii_graphic() {
        char::from(byte)
    } else {
        '.'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(base: u64, data: &[u8]) -> String {
        let mut out = Vec::new();
        write(&mut out, base, data).unwrap();
        String::from_utf8(out).unwrap()
    }

    // The expected texts below are what util-linux `hexdump -C` prints for the same bytes.

    #[test]
    fn a_full_line_and_a_partial_one() {
        let mut data = b"hello world from kernel space".to_vec();
        data.push(0);
        assert_eq!(
            dump(0, &data),
            "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 20 66 72 6f 6d  |hello world from|\n\
             00000010  20 6b 65 72 6e 65 6c 20  73 70 61 63 65 00        | kernel space.|\n\
             0000001e\n"
        );
    }

    #[test]
    fn a_partial_line_shorter_than_half() {
        assert_eq!(
            dump(0, b"abc\n\x7f"),
            "00000000  61 62 63 0a 7f                                    |abc..|\n\
             00000005\n"
        );
    }

    #[test]
    fn repeated_lines_become_one_star() {
        let mut data = vec![0u8; 64];
        data[40] = 0x41;
        assert_eq!(
            dump(0, &data),
            "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000020  00 00 00 00 00 00 00 00  41 00 00 00 00 00 00 00  |........A.......|\n\
             00000030  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             00000040\n"
        );
    }

    #[test]
    fn a_repeated_tail_still_ends_with_the_length() {
        assert_eq!(
            dump(0, &[0xff; 48]),
            "00000000  ff ff ff ff ff ff ff ff  ff ff ff ff ff ff ff ff  |................|\n\
             *\n\
             00000030\n"
        );
    }

    #[test]
    fn a_short_last_line_is_never_starred() {
        assert_eq!(
            dump(0, &[7; 20]),
            "00000000  07 07 07 07 07 07 07 07  07 07 07 07 07 07 07 07  |................|\n\
             00000010  07 07 07 07                                       |....|\n\
             00000014\n"
        );
    }

    #[test]
    fn offsets_start_at_the_base() {
        assert_eq!(
            dump(0x1003, b"xyz"),
            "00001003  78 79 7a                                          |xyz|\n\
             00001006\n"
        );
    }

    #[test]
    fn lines_follow_an_unaligned_base() {
        assert_eq!(
            dump(0x1005, &[1; 40]),
            "00001005  01 01 01 01 01 01 01 01  01 01 01 01 01 01 01 01  |................|\n\
             *\n\
             00001025  01 01 01 01 01 01 01 01                           |........|\n\
             0000102d\n"
        );
    }

    #[test]
    fn offsets_past_32_bits_widen() {
        assert_eq!(
            dump(0x1_0000_0000, b"A"),
            "100000000  41                                                |A|\n\
             100000001\n"
        );
    }

    /// Compares with the real `hexdump -C`, where the host has one (util-linux or busybox).
    #[test]
    fn matches_the_hexdump_tool() {
        use std::process::{Command, Stdio};

        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let random: Vec<u8> = (0..4099)
            .map(|_| {
                // xorshift64: varied bytes, the same on every run.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let mut sparse = vec![0u8; 8192];
        sparse[..6].copy_from_slice(b"hello\0");
        sparse[0x1345..0x134c].copy_from_slice(b"middle\0");
        sparse[8186..].copy_from_slice(b"end\0\0\0");
        for data in [random, sparse] {
            let tool = Command::new("hexdump")
                .arg("-C")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn();
            let Ok(mut tool) = tool else {
                eprintln!("no hexdump on this host: comparison skipped");
                return;
            };
            let mut stdin = tool.stdin.take().unwrap();
            let input = data.clone();
            let feeder = std::thread::spawn(move || stdin.write_all(&input));
            let want = tool.wait_with_output().unwrap().stdout;
            feeder.join().unwrap().unwrap();
            assert_eq!(dump(0, &data), String::from_utf8(want).unwrap());
        }
    }

    #[test]
    fn empty_data_prints_nothing() {
        assert_eq!(dump(16, b""), "");
    }
}
