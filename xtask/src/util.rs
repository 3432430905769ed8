//! Helpers shared by the commands: paths, the cache, timed steps, hashing.

use std::{
    env,
    fmt::Write as _,
    fs,
    io::{
        BufRead,
        BufReader, //
    },
    path::{
        Path,
        PathBuf, //
    },
    process::{
        Command,
        Stdio, //
    },
    sync::mpsc,
    time::{
        Duration,
        Instant, //
    },
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use sha2::{
    Digest,
    Sha256, //
};
use xshell::Shell;

/// The checkout's root directory.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A shell rooted at the project.
pub fn shell() -> Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// Where downloads and builds are kept: `$MYMAP_CACHE`, else `$XDG_CACHE_HOME/mymap`,
/// else `~/.cache/mymap`. Never inside the checkout.
/// Holds the lock file beside the cache entry `entry` (`<entry>.lock`) exclusively until
/// the returned file is dropped.
///
/// Entries such as a kernel, BusyBox or a downloaded source are shared by every checkout
/// on the machine; two commands building one at once would delete or overwrite each
/// other's half-built files. The caller checks again, holding the lock, whether the entry
/// is complete. Waiting is said on stderr, so that it does not look like a hang.
pub fn lock_entry(entry: &Path) -> Result<fs::File> {
    let name = entry
        .file_name()
        .with_context(|| format!("{} has no file name", entry.display()))?;
    let path = entry.with_file_name(format!("{}.lock", name.to_string_lossy()));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let file = fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!(
            "    waiting for another command that builds {}",
            entry.display()
        );
        file.lock()
            .with_context(|| format!("lock {}", path.display()))?;
    }
    Ok(file)
}

pub fn cache_dir() -> Result<PathBuf> {
    let dir = if let Some(dir) = env::var_os("MYMAP_CACHE") {
        PathBuf::from(dir)
    } else if let Some(dir) = env::var_os("XDG_CACHE_HOME") {
        PathBuf::from(dir).join("mymap")
    } else {
        let home = env::var_os("HOME").context("neither MYMAP_CACHE nor HOME is set")?;
        PathBuf::from(home).join(".cache/mymap")
    };
    fs::create_dir_all(&dir).with_context(|| format!("create cache {}", dir.display()))?;
    Ok(dir)
}

/// Cargo's home: `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Result<PathBuf> {
    if let Some(dir) = env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(dir));
    }
    let home = env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// The cache directory of this checkout's own builds (the module, the images):
/// `<cache>/checkout/<hash of the checkout's path>`. What only depends on its
/// inputs (kernels, BusyBox, packages) is shared by every checkout in the cache
/// itself; what is built from the checkout's files is not, so that two
/// worktrees building at once never overwrite each other's module or image.
pub fn checkout_dir() -> Result<PathBuf> {
    let root = project_root();
    let dir = cache_dir()?
        .join("checkout")
        .join(hash_parts([root.as_os_str().as_encoded_bytes()]));
    fs::create_dir_all(&dir).with_context(|| format!("create cache {}", dir.display()))?;
    Ok(dir)
}

/// Announces a step, runs it, and says how long it took.
pub fn step<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {what}");
    let start = Instant::now();
    let res = f().with_context(|| what.to_string());
    let took = fmt_duration(start.elapsed());
    match &res {
        Ok(_) => eprintln!("<== {what}: done in {took}"),
        Err(_) => eprintln!("<== {what}: FAILED after {took}"),
    }
    res
}

pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Parallel jobs for a `make` (the kernel's, BusyBox's): `$MYMAP_JOBS`, else one
/// more than the machine has cores.
pub fn jobs() -> usize {
    env::var("MYMAP_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .filter(|&j| j > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() + 1)
                .unwrap_or(3)
        })
}

/// A hex SHA-256 over a list of parts, each length-prefixed so parts cannot run together.
pub fn hash_parts<I, P>(parts: I) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut hasher = Sha256::new();
    for part in parts {
        let part = part.as_ref();
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let mut out = String::new();
    for byte in &hasher.finalize()[..8] {
        write!(out, "{byte:02x}").unwrap();
    }
    out
}

/// Runs a long command with its output in `log`, printing a progress line every
/// 30 seconds (elapsed time and the command's latest line). On failure, prints
/// the log's tail and names the log.
pub fn run_logged(cmd: Command, log: &Path, what: &str) -> Result<()> {
    let mut cmd = cmd;
    let file = fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(file.try_clone()?)
        .spawn()
        .with_context(|| format!("start {what}"))?;
    let stdout = child.stdout.take().unwrap();
    let mut out = file;
    let reader = std::thread::spawn(move || {
        use std::io::Write;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = writeln!(out, "{line}");
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    let mut last_line = String::new();
    let mut next_report = Duration::from_secs(30);
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => last_line = line,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if start.elapsed() >= next_report {
            eprintln!(
                "    {what}: {} ... {}",
                fmt_duration(start.elapsed()),
                last_line.trim()
            );
            next_report += Duration::from_secs(30);
        }
    }
    reader.join().ok();
    let status = child.wait()?;
    if !status.success() {
        print_tail(log, 40);
        bail!("{what} failed ({status}); full log: {}", log.display());
    }
    Ok(())
}

/// Prints the last `n` lines of a file to stderr.
pub fn print_tail(path: &Path, n: usize) {
    if let Ok(text) = fs::read_to_string(path) {
        let lines: Vec<&str> = text.lines().collect();
        eprintln!(
            "---- last {} lines of {} ----",
            n.min(lines.len()),
            path.display()
        );
        for line in &lines[lines.len().saturating_sub(n)..] {
            eprintln!("{line}");
        }
        eprintln!("----");
    }
}

/// Whether we run as root (setup installs only then): the owner of our own /proc entry.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Copies a directory tree (files, directories, symlinks), keeping modes.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&src)?;
            let _ = fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst)?;
        } else {
            let _ = fs::remove_file(&dst);
            fs::copy(&src, &dst)
                .with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}
