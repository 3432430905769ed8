//! A tidy check of the repository, run by `cargo test --workspace`: within each crate
//! (and the driver), no module imports a module that imports it back, directly or
//! around a loop. A cycle means two concepts that cannot be read one at a time; the
//! fix is to move what both need into a module of its own, or to one of the two.
//!
//! How the graph is drawn, from the text (no compiler): a node is a module, a file of
//! the crate's sources (`a/b.rs` and `a/b/mod.rs` are `a::b`; the crate root is
//! `crate`); `#[cfg(test)]` and everything after it in a file is left out, and so are
//! `//` comments. A file imports
//! - `a` (or `a::b`, if that is a module) for each path `crate::a::b`, and for each
//!   item at the top level of a `use crate::{a, b::c, ...}` list;
//! - `crate` for `crate::X` where `X` is no module (an item of the crate root);
//! - its parent's module `m::x` for `super::x`, in a file `m/y.rs`;
//! - from the crate root only: `a` for each path `a::...` naming a module of the crate.

use std::collections::{
    BTreeMap,
    BTreeSet, //
};
use std::fs;
use std::path::Path;

/// The crates' source directories, from the repository root; `userspace/*/src` is
/// every crate there. driver/model is a crate of its own.
const CRATE_DIRS: &[&str] = &["driver", "driver/model/src", "xtask/src", "userspace/*/src"];

/// The files that are a crate's root, by name.
const ROOTS: &[&str] = &["main.rs", "lib.rs", "mymap_main.rs"];

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is one level below the root");
    let mut dirs = Vec::new();
    for dir in CRATE_DIRS {
        if let Some(parent) = dir.strip_suffix("/*/src") {
            for entry in fs::read_dir(root.join(parent)).expect("read userspace/") {
                let path = entry.expect("read userspace/").path();
                if path.join("src").is_dir() {
                    dirs.push(path.join("src"));
                }
            }
        } else {
            dirs.push(root.join(dir));
        }
    }
    assert!(
        dirs.len() >= 8,
        "found only {} crates: the walk is broken",
        dirs.len()
    );
    let mut problems = Vec::new();
    for dir in dirs {
        let files = rust_files(&dir);
        let graph = graph(&files);
        for cycle in cycles(&graph) {
            let name = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
            problems.push(format!("{name}: {{{}}}", cycle.join(", ")));
        }
    }
    assert!(
        problems.is_empty(),
        "modules that import each other around a loop, per crate (xtask/tests/imports.rs says \
         how the graph is drawn); move what they share into a module of its own:\n{}",
        problems.join("\n")
    );
}

/// The `.rs` files below `dir` (not below a `model`, `target` or `bin` directory, which
/// are other crates' or other roots'), by module path.
fn rust_files(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("read_dir").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["model", "target", "bin"].contains(&name.as_str()) {
                    todo.push(path);
                }
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let rel = path.strip_prefix(dir).unwrap().parent().unwrap();
                let module = if rel.as_os_str().is_empty() && ROOTS.contains(&name.as_str()) {
                    "crate".to_string()
                } else {
                    let mut parts: Vec<String> = rel
                        .iter()
                        .map(|p| p.to_string_lossy().into_owned())
                        .collect();
                    if stem != "mod" {
                        parts.push(stem.to_string());
                    }
                    parts.join("::")
                };
                let text = fs::read_to_string(&path).expect("read a source file");
                files.insert(module, text);
            }
        }
    }
    files
}

/// Module -> the modules it imports (see the module docs).
fn graph(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    // The module a path `a::b::c` names: its longest prefix that is a module.
    let module_of = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| modules.contains(m.as_str()))
    };
    let mut graph = BTreeMap::new();
    for (module, text) in files {
        let text = code(text);
        let mut to = BTreeSet::new();
        for path in paths_after(&text, "crate::") {
            to.insert(module_of(&path).unwrap_or_else(|| "crate".to_string()));
        }
        for list in use_crate_lists(&text) {
            for item in top_level_items(list) {
                let path: Vec<&str> = item.split("::").map(str::trim).collect();
                to.insert(module_of(&path).unwrap_or_else(|| "crate".to_string()));
            }
        }
        if let Some((parent, _)) = module.rsplit_once("::") {
            for path in paths_after(&text, "super::") {
                let mut full = vec![parent];
                full.extend(path);
                if let Some(m) = module_of(&full) {
                    to.insert(m);
                }
            }
        }
        if module == "crate" {
            for word in words_before_path_sep(&text) {
                if modules.contains(word.as_str()) {
                    to.insert(word);
                }
            }
        }
        to.remove(module);
        graph.insert(module.clone(), to);
    }
    graph
}

/// `text` without `#[cfg(test)]` and what follows, and without `//` comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier paths that follow each `prefix` (`crate::a::b` gives `[a, b]`).
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let mut path = Vec::new();
        let mut tail = rest;
        loop {
            let len = tail.find(|c: char| !is_ident(c)).unwrap_or(tail.len());
            if len == 0 {
                break;
            }
            path.push(&tail[..len]);
            tail = &tail[len..];
            match tail.strip_prefix("::") {
                Some(t) if t.starts_with(is_ident) => tail = t,
                _ => break,
            }
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

/// The inside of each `use crate::{ ... };`.
fn use_crate_lists(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use crate::{") {
        rest = &rest[at + "use crate::{".len()..];
        let mut depth = 1;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                out.push(&rest[..i]);
                break;
            }
        }
    }
    out
}

/// The items of a `use` list at its top level, their own `{...}` left out:
/// `a::{b, c}, d` gives `a`, `d`.
fn top_level_items(list: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut depth, mut item) = (0, String::new());
    for c in list.chars().chain([',']) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let path = item.trim().trim_end_matches("::").trim().to_string();
                if !path.is_empty() && path != "self" {
                    items.push(path);
                }
                item.clear();
            }
            _ if depth == 0 && !c.is_whitespace() => item.push(c),
            _ => {}
        }
    }
    items
}

/// Each identifier directly followed by `::` that does not itself follow `::`.
fn words_before_path_sep(text: &str) -> BTreeSet<String> {
    paths_after(&format!(" {text}"), " ")
        .into_iter()
        .chain(paths_after(text, "("))
        .chain(paths_after(text, "<"))
        .filter(|p| p.len() > 1)
        .map(|p| p[0].to_string())
        .collect()
}

/// The cycles of `graph`: its strongly connected components of more than one module
/// (Tarjan's algorithm), each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in s.graph[v].iter().filter(|w| s.graph.contains_key(*w)) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let at = s.stack.iter().position(|m| *m == v).unwrap();
            let mut component: Vec<String> = s.stack.drain(at..).map(String::from).collect();
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

/// The rules themselves, on small crates.
mod rules {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        graph(
            &files
                .iter()
                .map(|(m, t)| (m.to_string(), t.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_use_list_and_a_path_make_a_cycle() {
        let g = crate_of(&[
            ("crate", "mod a;\nmod b;\nfn main() { a::go() }"),
            ("a", "use crate::{\n    b::{\n        X, //\n    },\n};"),
            ("b", "pub struct X;\nfn f() { crate::a::go() }"),
        ]);
        assert_eq!(g["a"], BTreeSet::from(["b".to_string()]));
        assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    }

    #[test]
    fn tests_comments_and_root_items_are_read_as_said() {
        let g = crate_of(&[
            ("crate", "mod a;\npub struct Root;\nfn main() { a::go() }"),
            (
                "a",
                "// crate::b::x\nuse crate::Root;\n#[cfg(test)]\nmod t { use crate::b; }",
            ),
            ("b", "fn f() {}"),
        ]);
        assert_eq!(g["a"], BTreeSet::from(["crate".to_string()]));
        assert_eq!(cycles(&g), vec![vec!["a".to_string(), "crate".to_string()]]);
    }

    #[test]
    fn super_names_a_sibling() {
        let g = crate_of(&[
            ("crate", "mod m;"),
            ("m", "mod x;\nmod y;"),
            ("m::x", "use super::y::Y;"),
            ("m::y", "pub struct Y;"),
        ]);
        assert_eq!(g["m::x"], BTreeSet::from(["m::y".to_string()]));
        assert!(cycles(&g).is_empty());
    }
}
