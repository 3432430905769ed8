//! Tidy checks of the repository, run by `cargo test --workspace` (the way
//! rust-analyzer's `xtask/src/tidy.rs` enforces its rules, as ordinary tests).
//!
//! `every_source_file_is_named_in_architecture_md`: ARCHITECTURE.md is the
//! code map, so every source file (`.rs`, `.c`, `.h`, shell scripts) under the
//! directories in [`SOURCE_DIRS`] must be named in it. How a name is read:
//!
//! - Names are inline code spans (`like/this.rs`) outside code blocks.
//! - A heading's code spans that end in `/` make them the section's
//!   directories (`### `driver/``), for every line below it up to the next
//!   heading of the same or a higher level.
//! - A line whose first code span ends in `/` (`- `mymap/src/`: ...`) adds
//!   that directory, taken inside the section's, for the rest of the line
//!   and, if the line is a list item, for the item's indented continuation
//!   lines.
//! - A name is a path relative to one of those directories, or to the
//!   repository root, tried innermost first: it names the file at that path,
//!   or else the one file below that directory whose path ends with it at a
//!   `/` boundary. A name that could be two files names neither, and fails
//!   the check.
//! - `{a,b}` in a name stands for each of `a` and `b`; `DIR/*.EXT` (a star as
//!   the whole file stem, nothing else) names every `.EXT` file directly in
//!   `DIR`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Where the source files are, from the repository root.
const SOURCE_DIRS: &[&str] = &["driver", "userspace", "xtask", "tests", "bench/peers"];

/// The document that must name them.
const DOC: &str = "ARCHITECTURE.md";

#[test]
fn every_source_file_is_named_in_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is one level below the root");
    let files = source_files(root);
    assert!(
        files.iter().any(|f| f == "driver/mymap_main.rs"),
        "the walk found no driver/mymap_main.rs: it is broken"
    );
    let doc = fs::read_to_string(root.join(DOC)).expect("read ARCHITECTURE.md");
    let problems = check(&doc, &files);
    assert!(
        problems.is_empty(),
        "{DOC} is the code map, and every source file under {} must be named in it \
         (the rules are at the top of xtask/tests/tidy.rs); {} problem(s):\n{}",
        SOURCE_DIRS.join(", "),
        problems.len(),
        problems.join("\n")
    );
}

/// Every source file under [`SOURCE_DIRS`], as a `/`-separated path from `root`.
/// Hidden entries, `target` directories and Kbuild's `*.mod.c` are skipped.
fn source_files(root: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut dirs: Vec<String> = SOURCE_DIRS.iter().map(|d| d.to_string()).collect();
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(root.join(&dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("{dir}: {e}"));
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{dir}/{name}");
            let kind = entry.file_type().unwrap_or_else(|e| panic!("{path}: {e}"));
            if name.starts_with('.') || name.ends_with(".mod.c") {
                continue;
            }
            if kind.is_dir() {
                if name != "target" {
                    dirs.push(path);
                }
            } else if is_source(&root.join(&path)) {
                files.insert(path);
            }
        }
    }
    files
}

/// A Rust, C or header file, or a shell script (`.sh`, or a `#!` line naming a shell).
fn is_source(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("rs" | "c" | "h" | "sh") => true,
        Some(_) => false,
        None => fs::read(path).is_ok_and(|bytes| {
            let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            let first = String::from_utf8_lossy(first);
            first.starts_with("#!") && first.split(['/', ' ']).any(|w| w.ends_with("sh"))
        }),
    }
}

/// What is wrong with `doc` as a map of `files`: one line per problem, the fix in it.
fn check(doc: &str, files: &BTreeSet<String>) -> Vec<String> {
    let mut named = BTreeSet::new();
    let mut problems = Vec::new();
    let mut section_dirs = Vec::new();
    // The directory a list item's first code span named, for its continuation lines.
    let mut item_dir: Option<String> = None;
    for (number, line) in lines_outside_code_blocks(doc) {
        let spans = code_spans(line);
        let item = line.starts_with("- ") || line.starts_with("* ");
        let continuation = line.starts_with("  ") && !line.trim().is_empty();
        if !item && !continuation {
            item_dir = None;
        }
        if let Some(level) = heading_level(line) {
            section_dirs.retain(|(l, _)| *l < level);
            for span in spans.iter().filter(|s| s.ends_with('/')) {
                section_dirs.push((level, span.to_string()));
            }
            continue;
        }
        // Innermost first, the root last.
        let mut bases: Vec<String> = section_dirs.iter().rev().map(|(_, d)| d.clone()).collect();
        bases.push(String::new());
        if let Some(first) = spans.first().filter(|s| s.ends_with('/')) {
            let sub = bases
                .iter()
                .map(|b| format!("{b}{first}"))
                .find(|d| files.iter().any(|f| f.starts_with(d.as_str())));
            if item {
                item_dir = sub.clone();
            }
            if let Some(sub) = sub {
                bases.insert(0, sub);
            }
        } else if item {
            item_dir = None;
        } else if let Some(dir) = &item_dir {
            bases.insert(0, dir.clone());
        }
        for span in &spans {
            for name in expand_braces(span) {
                match resolve(&name, &bases, files) {
                    Resolved::Files(found) => named.extend(found),
                    Resolved::Nothing => {}
                    Resolved::Ambiguous(dir, found) => problems.push(format!(
                        "{DOC}:{number}: `{name}` could be any of {} (under `{dir}`): write more \
                         of its path, so that it names one file",
                        found.join(", ")
                    )),
                }
            }
        }
    }
    let section_bases: Vec<String> = code_map_bases(doc);
    for file in files.difference(&named) {
        problems.push(format!(
            "{file} is not named in {DOC}: {}",
            suggestion(file, &section_bases, files)
        ));
    }
    problems
}

/// What a name resolves to.
#[derive(Debug, PartialEq)]
enum Resolved {
    Files(Vec<String>),
    Nothing,
    /// The directory it was looked up in, and the files it could be.
    Ambiguous(String, Vec<String>),
}

/// Resolves `name` against `bases` (innermost first; `""` is the root).
fn resolve(name: &str, bases: &[String], files: &BTreeSet<String>) -> Resolved {
    if let Some((dir, ext)) = name.rsplit_once('/').and_then(|(d, f)| {
        let ext = f.strip_prefix("*.")?;
        (!ext.contains(['*', '/'])).then_some((d, ext))
    }) {
        for base in bases {
            let dir = format!("{base}{dir}/");
            let found: Vec<String> = files
                .iter()
                .filter(|f| {
                    f.strip_prefix(dir.as_str()).is_some_and(|rest| {
                        !rest.contains('/') && rest.ends_with(&format!(".{ext}"))
                    })
                })
                .cloned()
                .collect();
            if !found.is_empty() {
                return Resolved::Files(found);
            }
        }
        return Resolved::Nothing;
    }
    if name.contains('*') || name.ends_with('/') || name.is_empty() {
        return Resolved::Nothing;
    }
    for base in bases {
        let exact = format!("{base}{name}");
        if files.contains(&exact) {
            return Resolved::Files(vec![exact]);
        }
        let found: Vec<String> = files
            .iter()
            .filter(|f| {
                f.strip_prefix(base.as_str())
                    .is_some_and(|rel| rel == name || rel.ends_with(&format!("/{name}")))
            })
            .cloned()
            .collect();
        match found.len() {
            0 => continue,
            1 => return Resolved::Files(found),
            _ => {
                let dir = if base.is_empty() { "the root" } else { base };
                return Resolved::Ambiguous(dir.to_string(), found);
            }
        }
    }
    Resolved::Nothing
}

/// The fix for an unnamed `file`: where to name it, and the shortest name that works there.
fn suggestion(file: &str, section_bases: &[String], files: &BTreeSet<String>) -> String {
    let section = section_bases
        .iter()
        .filter(|b| file.starts_with(b.as_str()))
        .max_by_key(|b| b.len());
    let base = section.map(String::as_str).unwrap_or("");
    let rel = &file[base.len()..];
    let parts: Vec<&str> = rel.split('/').collect();
    let name = (1..=parts.len())
        .map(|n| parts[parts.len() - n..].join("/"))
        .find(|name| {
            resolve(name, &[base.to_string()], files) == Resolved::Files(vec![file.to_string()])
        })
        .unwrap_or_else(|| rel.to_string());
    match section {
        Some(dir) => format!(
            "name it in the section headed `{dir}` as `{name}`, with a few words on what it \
             does (or by its path from the root anywhere)"
        ),
        None => format!(
            "name it as `{name}` in the Code map, with a few words on what it does (no \
             section is headed with a directory that holds it)"
        ),
    }
}

/// The directories the document's headings name.
fn code_map_bases(doc: &str) -> Vec<String> {
    lines_outside_code_blocks(doc)
        .filter(|(_, line)| heading_level(line).is_some())
        .flat_map(|(_, line)| code_spans(line))
        .filter(|s| s.ends_with('/'))
        .map(str::to_string)
        .collect()
}

/// The lines of `doc`, numbered from 1, without fenced or indented code blocks.
fn lines_outside_code_blocks(doc: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fenced = false;
    doc.lines().enumerate().filter_map(move |(i, line)| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return None;
        }
        let indented = line.starts_with("    ") && !line.trim_start().starts_with(['-', '*']);
        (!fenced && !indented).then_some((i + 1, line))
    })
}

/// The level of a Markdown heading line (`## x` is 2).
fn heading_level(line: &str) -> Option<usize> {
    let level = line.chars().take_while(|&c| c == '#').count();
    (level > 0 && line[level..].starts_with(' ')).then_some(level)
}

/// The inline code spans of a line (single backticks).
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// `a/{b,c}.rs` as `a/b.rs` and `a/c.rs`; a name without braces as itself.
fn expand_braces(name: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (name.find('{'), name.find('}')) else {
        return vec![name.to_string()];
    };
    if close < open {
        return vec![name.to_string()];
    }
    let (head, tail) = (&name[..open], &name[close + 1..]);
    name[open + 1..close]
        .split(',')
        .flat_map(|alt| expand_braces(&format!("{head}{alt}{tail}")))
        .collect()
}

mod rules {
    use super::*;

    fn files(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn names_are_read_inside_their_section_and_line() {
        let files = files(&[
            "driver/ring.rs",
            "driver/model/tests/ring.rs",
            "userspace/a/src/ring.rs",
            "userspace/b/src/ring.rs",
            "userspace/b/src/lib.rs",
            "xtask/src/bench/ring.rs",
            "bench/peers/p.c",
            "bench/peers/q.c",
        ]);
        let doc = "\
# Map
### `driver/`
`ring.rs` is the ring, `model/tests/ring.rs` its model.
### `userspace/`
- `a/src/ring.rs`, and
- `b/src/`: `lib.rs`, and on the item's next line
  `ring.rs`.
### `xtask/`
`src/bench/{ring,chart}.rs`
    `bench/peers/p.c` in a code block does not count
### Elsewhere
`bench/peers/*.c`
";
        assert_eq!(check(doc, &files), Vec::<String>::new());
    }

    #[test]
    fn an_unnamed_file_and_an_ambiguous_name_are_reported_with_the_fix() {
        let files = files(&["userspace/a/src/ring.rs", "userspace/b/src/ring.rs"]);
        let doc = "### `userspace/`\n`ring.rs`\n";
        let problems = check(doc, &files);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("ARCHITECTURE.md:2: `ring.rs` could be any of"));
        assert!(problems[1].starts_with(
            "userspace/a/src/ring.rs is not named in ARCHITECTURE.md: name it in the section \
             headed `userspace/` as `a/src/ring.rs`"
        ));
    }

    #[test]
    fn a_list_item_s_directory_ends_with_the_item() {
        let files = files(&["userspace/a/src/x.rs", "userspace/b/src/x.rs"]);
        let doc = "### `userspace/`\n- `a/src/`: one\n  `x.rs`\n- two\n  `x.rs`\n";
        let problems = check(doc, &files);
        assert!(problems[0].starts_with("ARCHITECTURE.md:5: `x.rs` could be any of"));
        assert_eq!(problems.len(), 2, "{problems:#?}");
    }

    #[test]
    fn a_section_ends_at_the_next_heading_of_its_level() {
        let files = files(&["driver/x.rs", "tests/x.rs"]);
        let doc = "## Map\n### `driver/`\n#### More\n`x.rs`\n### `tests/`\n`x.rs`\n";
        assert_eq!(check(doc, &files), Vec::<String>::new());
        let doc = "### `driver/`\n## Other\n`x.rs`\n";
        assert_eq!(
            check(doc, &files).len(),
            3,
            "`x.rs` at the root is ambiguous"
        );
    }

    #[test]
    fn only_a_whole_stem_star_is_a_glob() {
        let files = files(&["bench/peers/p.c", "bench/peers/sub/q.c"]);
        assert_eq!(
            resolve("bench/peers/*.c", &[String::new()], &files),
            Resolved::Files(vec!["bench/peers/p.c".to_string()])
        );
        assert_eq!(
            resolve("bench/peers/p*.c", &[String::new()], &files),
            Resolved::Nothing
        );
        assert_eq!(
            resolve("bench/*/q.c", &[String::new()], &files),
            Resolved::Nothing
        );
    }

    #[test]
    fn shell_scripts_are_found_by_their_first_line() {
        let dir = std::env::temp_dir().join(format!("mymap-tidy-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let script = dir.join("run");
        fs::write(&script, "#!/usr/bin/env bash\necho\n").unwrap();
        let text = dir.join("notes");
        fs::write(&text, "hello\n").unwrap();
        assert!(is_source(&script));
        assert!(!is_source(&text));
        fs::remove_dir_all(&dir).unwrap();
    }
}
