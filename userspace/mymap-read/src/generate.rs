// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Man pages and shell completions for `mymap-read` and `mymapctl`, generated
//! from the same clap definitions that parse their arguments, so they cannot
//! drift from `--help`. Only built with the `generate` feature, on the host.
//!
//! The layout under the output directory is the one a root filesystem wants:
//!
//! ```text
//! share/man/man1/mymap-read.1, mymapctl.1, mymapctl-info.1, mymapctl-ring-start.1, ...
//! share/bash-completion/completions/mymap-read, mymapctl
//! share/zsh/site-functions/_mymap-read, _mymapctl
//! share/fish/vendor_completions.d/mymap-read.fish, mymapctl.fish
//! ```

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use clap_complete::Shell;

/// The commands documented, with their clap definitions.
fn commands() -> [Command; 2] {
    [crate::args::Opts::command(), crate::ctl::Opts::command()]
}

/// Where each shell looks for completions, and the file name it expects.
fn completion_path(shell: Shell, name: &str) -> PathBuf {
    match shell {
        Shell::Bash => PathBuf::from("share/bash-completion/completions").join(name),
        Shell::Zsh => PathBuf::from("share/zsh/site-functions").join(format!("_{name}")),
        Shell::Fish => {
            PathBuf::from("share/fish/vendor_completions.d").join(format!("{name}.fish"))
        }
        other => unreachable!("no completion path for {other}"),
    }
}

/// Writes every man page and completion file under `out`; returns their paths.
pub fn write_all(out: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let man_dir = out.join("share/man/man1");
    fs::create_dir_all(&man_dir)?;
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        // One page for the command and one per subcommand (mymapctl-write.1, ...).
        clap_mangen::generate_to(cmd.clone(), &man_dir)?;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = out.join(completion_path(shell, &name));
            fs::create_dir_all(path.parent().expect("completion paths have a parent"))?;
            let mut file = BufWriter::new(File::create(&path)?);
            clap_complete::generate(shell, &mut cmd.clone(), &name, &mut file);
            file.flush()?;
            written.push(path);
        }
    }
    for entry in fs::read_dir(&man_dir)? {
        written.push(entry?.path());
    }
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, path: &str) -> String {
        fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn pages_and_completions_cover_every_option() {
        let dir = std::env::temp_dir().join(format!("mymap-generate-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let written = write_all(&dir).unwrap();
        // 2 commands x 3 shells, 2 main pages, one page per mymapctl subcommand at any
        // depth (mymapctl-ring.1, mymapctl-ring-start.1, ...).
        fn count(cmd: &Command) -> usize {
            cmd.get_subcommands().map(|sub| 1 + count(sub)).sum()
        }
        let subcommands = count(&crate::ctl::Opts::command());
        assert_eq!(written.len(), 6 + 2 + subcommands, "{written:?}");

        let page = read(&dir, "share/man/man1/mymap-read.1");
        assert!(
            page.starts_with(".ie \\n(.g .ds Aq"),
            "not roff: {page:.80}"
        );
        assert!(page.contains(".TH mymap-read 1"), "{page:.200}");
        // The --help epilogue is in the page too.
        assert!(page.contains("Examples:") && page.contains("Exit status:"));
        let ctl = read(&dir, "share/man/man1/mymapctl.1");
        assert!(ctl.contains("mymapctl\\-write(1)"), "no subcommand list");
        read(&dir, "share/man/man1/mymapctl-write.1");
        let start = read(&dir, "share/man/man1/mymapctl-ring-start.1");
        assert!(start.contains("\\-\\-rate"), "{start:.400}");

        let bash = read(&dir, "share/bash-completion/completions/mymap-read");
        let zsh = read(&dir, "share/zsh/site-functions/_mymapctl");
        let fish = read(&dir, "share/fish/vendor_completions.d/mymap-read.fish");
        // Every long option of mymap-read is completed, in every shell.
        for arg in crate::args::Opts::command().get_arguments() {
            if let Some(long) = arg.get_long() {
                assert!(bash.contains(&format!("--{long}")), "bash lacks --{long}");
                assert!(fish.contains(&format!("-l {long}")), "fish lacks --{long}");
                assert!(
                    page.contains(&long.replace('-', "\\-")),
                    "page lacks --{long}"
                );
            }
        }
        assert!(zsh.contains("#compdef mymapctl"), "{zsh:.80}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
