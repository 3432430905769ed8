//! `cargo xtask bench --render`: everything the committed records give,
//! redrawn without booting: each board's chart `bench/<board>.svg`, and the
//! boards' tables in `bench/README.md`, between its marker lines. With
//! `--check` it writes nothing and fails if any of them, or a record's own
//! layout, is not what the records give.

use std::fs;

use anyhow::{
    bail,
    Context,
    Result, //
};
use mymap_bench_record::{
    layout,
    Record,
    SCHEMA, //
};

use super::{
    chart,
    markdown::{
        markdown,
        targets_markdown, //
    },
};
use crate::{board, util::project_root};

/// Where the boards' tables go, between [`BEGIN`] and [`END`].
const README: &str = "bench/README.md";
/// The line before the generated tables in [`README`].
const BEGIN: &str = "<!-- cargo xtask bench --render: the tables of bench/<board>.json, begin -->";
/// The line after them.
const END: &str = "<!-- cargo xtask bench --render: end -->";

/// Fails if a board's committed chart, or the tables of `bench/README.md`, are
/// not what the committed records give (`--render --check`).
pub fn check(boards: &[String]) -> Result<()> {
    render(boards, true)
}

/// A board's committed record.
fn read(name: &str) -> Result<(String, Record)> {
    let path = project_root().join(format!("bench/{name}.json"));
    let text = fs::read_to_string(&path).with_context(|| format!("read bench/{name}.json"))?;
    let record = serde_json::from_str(&text).with_context(|| {
        format!(
            "bench/{name}.json is not a schema 2 to {SCHEMA} record: run `cargo xtask bench --board {name}`"
        )
    })?;
    Ok((text, record))
}

/// Redraws each board's chart from its committed record and the tables of
/// `bench/README.md` from every board's, and prints the tables; with
/// `check`, writes nothing and fails if a file differs from what the records
/// give.
pub fn render(boards: &[String], check: bool) -> Result<()> {
    let mut stale = Vec::new();
    let mut records = Vec::new();
    for name in boards {
        let (text, record) = read(name)?;
        if layout::to_string(&record)? != text {
            // A record written by hand, or by an older layout.
            stale.push(format!("bench/{name}.json (its layout)"));
        }
        let svg = chart::svg(&record)?;
        let file = chart::path(name);
        if check {
            if fs::read_to_string(&file).ok().as_deref() != Some(svg.as_str()) {
                stale.push(format!("bench/{name}.svg"));
            }
        } else {
            fs::write(&file, svg).with_context(|| format!("write {}", file.display()))?;
            eprintln!("    wrote bench/{name}.svg");
            println!("\n{}", markdown(&record));
        }
        records.push(record);
    }
    // The tables are of every board, whichever were named.
    let all = board::ALL
        .iter()
        .map(|name| Ok(read(name)?.1))
        .collect::<Result<Vec<Record>>>()?;
    let readme = project_root().join(README);
    let text = fs::read_to_string(&readme).with_context(|| format!("read {README}"))?;
    let tables = splice(&text, &tables(&all))?;
    if check {
        if tables != text {
            stale.push(README.into());
        }
    } else {
        if tables != text {
            fs::write(&readme, tables).with_context(|| format!("write {README}"))?;
            eprintln!("    wrote {README}");
        }
        println!("\n{}", targets_markdown(&records));
    }
    if !stale.is_empty() {
        bail!(
            "{} not up to date with the committed records: run `cargo xtask bench --render`",
            stale.join(", ")
        );
    }
    Ok(())
}

/// Each board's tables, two blank lines between boards (as the console shows
/// them, and as the README had them).
fn tables(records: &[Record]) -> String {
    let boards: Vec<String> = records.iter().map(markdown).collect();
    boards.join("\n\n")
}

/// `readme` with `tables` between its marker lines in place of what was there.
fn splice(readme: &str, tables: &str) -> Result<String> {
    let marker = |line: &str| {
        readme.find(&format!("{line}\n")).with_context(|| {
            format!("{README} has no line `{line}`: put the two marker lines where the tables go")
        })
    };
    let begin = marker(BEGIN)? + BEGIN.len() + 1;
    let end = marker(END)?;
    if end < begin {
        bail!("{README}: the line `{END}` comes before `{BEGIN}`");
    }
    Ok(format!("{}{tables}{}", &readme[..begin], &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::console::tests::record;

    #[test]
    fn the_record_survives_a_round_trip_through_its_file() {
        let r = record();
        let text = layout::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
        // Host facts first, the target's document last; samples on one line.
        assert!(text.find("\"board\"").unwrap() < text.find("\"target\"").unwrap());
        assert!(text.contains("\"s\": [0.04]"), "{text}");
        // A record without GPIO figures writes no `gpio` field, and reads back.
        assert!(!text.contains("\"gpio\""));
        let mut with_gpio = record();
        with_gpio.target.gpio = Some(crate::bench::testdata::gpio());
        let text = layout::to_string(&with_gpio).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), with_gpio);
    }

    #[test]
    fn the_tables_go_between_the_markers_and_nowhere_else() {
        let readme = format!("# bench\n\nText.\n\n{BEGIN}\nold tables\n{END}\n\nMore text.\n");
        let mut other = record();
        other.board = "raspberrypi4".into();
        let tables = tables(&[record(), other]);
        assert!(tables.contains("mymap_pfn.ko: 300 bytes.\n\n\n### raspberrypi4 (QEMU virt)\n"));
        let spliced = splice(&readme, &tables).unwrap();
        assert_eq!(
            spliced,
            format!("# bench\n\nText.\n\n{BEGIN}\n{tables}{END}\n\nMore text.\n")
        );
        assert_eq!(splice(&spliced, &tables).unwrap(), spliced);
        let err = splice("# bench\n", &tables).unwrap_err().to_string();
        assert!(
            err.contains("has no line `<!-- cargo xtask bench --render"),
            "{err}"
        );
    }
}
