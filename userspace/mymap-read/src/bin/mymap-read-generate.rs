// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `mymap-read-generate DIR`: writes the man pages and shell completions of
//! `mymap-read` and `mymapctl` under DIR (see `mymap_read::generate`). A build
//! host tool: `cargo xtask userspace` runs it; the target never carries it.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!(
            "usage: mymap-read-generate DIR (writes DIR/share/man/..., DIR/share/*completion*)"
        );
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    match mymap_read::generate::write_all(&dir) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "mymap-read-generate: cannot write under {}: {err}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}
