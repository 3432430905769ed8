// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The document on the board's console: `mymap-bench` prints it between its
//! marker lines, and `cargo xtask bench` finds it there, among whatever
//! kernel lines the console put in the middle of it.

use std::fmt;

use crate::{
    layout,
    TargetReport,
    SCHEMA, //
};

/// The console line before the target's JSON document.
pub const JSON_BEGIN: &str = "MYMAP-BENCH-JSON: BEGIN";
/// The console line after it.
pub const JSON_END: &str = "MYMAP-BENCH-JSON: END";

/// The document between its marker lines, as `mymap-bench` prints it.
pub fn document(report: &TargetReport) -> serde_json::Result<String> {
    Ok(format!(
        "{JSON_BEGIN}\n{}{JSON_END}\n",
        layout::to_string(report)?
    ))
}

/// Why a console holds no document this crate reads.
#[derive(Debug)]
pub enum ExtractError {
    NoBegin,
    NoEnd,
    Parse(serde_json::Error),
    /// The document's schema, not [`SCHEMA`].
    Schema(u32),
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::NoBegin => {
                write!(f, "no {JSON_BEGIN} line: mymap-bench printed no results")
            }
            ExtractError::NoEnd => write!(f, "no {JSON_END} line after {JSON_BEGIN}"),
            ExtractError::Parse(_) => write!(f, "parse mymap-bench's JSON document"),
            ExtractError::Schema(schema) => write!(
                f,
                "mymap-bench's JSON has schema {schema}, this xtask reads {SCHEMA}"
            ),
        }
    }
}

impl std::error::Error for ExtractError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExtractError::Parse(e) => Some(e),
            _ => None,
        }
    }
}

/// The JSON document between the marker lines of the console, without the
/// kernel's lines that the console may have put among them.
pub fn extract(console: &str) -> Result<TargetReport, ExtractError> {
    let mut lines = console.lines().map(str::trim_end);
    if !lines.any(|l| l.trim() == JSON_BEGIN) {
        return Err(ExtractError::NoBegin);
    }
    let mut text = String::new();
    let mut ended = false;
    for line in lines {
        if line.trim() == JSON_END {
            ended = true;
            break;
        }
        if printk_time(line).is_none() {
            text.push_str(line);
            text.push('\n');
        }
    }
    if !ended {
        return Err(ExtractError::NoEnd);
    }
    let report: TargetReport = serde_json::from_str(&text).map_err(ExtractError::Parse)?;
    if report.schema != SCHEMA {
        return Err(ExtractError::Schema(report.schema));
    }
    Ok(report)
}

/// The time of a kernel console line, `[   16.668064] ...`.
pub fn printk_time(line: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (time, _) = rest.split_once(']')?;
    time.trim().parse().ok()
}
