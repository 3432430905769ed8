// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Printing what `MYMAP_IOC_INFO` says (`mymap-read --info`, `mymapctl info`).
//!
//! As text, one `key: value` line per field, the device path first, so that
//! scripts can pick a line with `grep '^size: '`. As JSON, one line:
//! `{"device":"/dev/mymap","info":{"abi_version":1,...}}`.

use std::io::{self, Write};

use anyhow::Context;
use mymap::{Device, Info};
use serde::Serialize;

use crate::output::display;

/// Asks `device` for its info and writes it to `out`, as JSON or as text.
pub fn print(out: &mut impl Write, device: &Device, json: bool) -> anyhow::Result<()> {
    let info = device.info()?;
    let path = display(device.path());
    let written = if json {
        write_json(out, &path, &info)
    } else {
        out.write_all(text(&path, &info).as_bytes())
    };
    written
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

fn write_json(out: &mut impl Write, path: &str, info: &Info) -> io::Result<()> {
    #[derive(Serialize)]
    struct Answer<'a> {
        device: &'a str,
        info: &'a Info,
    }
    serde_json::to_writer(&mut *out, &Answer { device: path, info })?;
    out.write_all(b"\n")
}

/// The text form of `info` for the device at `path`.
pub fn text(path: &str, info: &Info) -> String {
    let Info {
        abi_version,
        page_size,
        size,
        index,
        devices,
        max_size,
        clears,
    } = info;
    format!(
        "device: {path}\n\
         abi_version: {abi_version}\n\
         page_size: {page_size}\n\
         size: {size}\n\
         index: {index}\n\
         devices: {devices}\n\
         max_size: {max_size}\n\
         clears: {clears}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_field() {
        let info = Info {
            abi_version: 1,
            page_size: 4096,
            size: 65536,
            index: 0,
            devices: 2,
            max_size: 67108864,
            clears: 7,
        };
        assert_eq!(
            text("/dev/mymap", &info),
            "device: /dev/mymap\nabi_version: 1\npage_size: 4096\nsize: 65536\nindex: 0\n\
             devices: 2\nmax_size: 67108864\nclears: 7\n"
        );
    }
}
