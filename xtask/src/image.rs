//! `cargo xtask image`: a board's initramfs test image.
//!
//! Layers, later ones winning: Debian's udev for the board's architecture;
//! BusyBox with a default Buildroot image's version and options, built from
//! source (`busybox.rs`), with its applet links; `boards/common/test-rootfs/`
//! (a Buildroot-like busybox init and `S10udev`); the project's `rootfs-overlay/` verbatim; the
//! module under `/lib/modules/<release>/updates/` and the sample producer module
//! under `extra/`, with the test-only modules of `tests/modules/` beside it
//! (not in the bench's image), with depmod run; the tools, the C examples and the target
//! tests; on the debug kernel, Debian's `trinity` (the system call fuzzer the
//! target suite runs there); `--overlay DIR`; and last the job `inittab` line. The archive is
//! written by the kernel's own `usr/gen_init_cpio`, so every file is owned by
//! root without running as root.

use std::{
    fmt::Write as _,
    fs,
    os::unix::fs::{
        MetadataExt,
        PermissionsExt, //
    },
    path::{
        Path,
        PathBuf, //
    },
};

use anyhow::{
    bail,
    Context,
    Result, //
};
use xshell::{
    cmd,
    Shell, //
};

use crate::{
    apt::PrivateApt,
    board::Board,
    busybox, driver, flags,
    kernel::{
        self,
        Kernel, //
    },
    setup, userspace,
    util::{
        cache_dir,
        checkout_dir,
        copy_tree,
        hash_parts,
        project_root,
        step, //
    },
};

/// Debian packages unpacked into the image: udev and its libraries. (BusyBox
/// is built from source: Debian's has every applet, Buildroot's does not.)
const DEBS: &[&str] = &[
    "udev",
    "libudev1",
    "libc6",
    "libacl1",
    "libblkid1",
    "libcap2",
    "libkmod2",
    "libselinux1",
    "libpcre2-8-0",
    "liblzma5",
    "libzstd1",
    "libssl3",
];

/// Debian packages added to debug-kernel images only: the system call fuzzer
/// the target suite runs against the device there (`fuzz-trinity`). It needs
/// only libc6, which `DEBS` brings.
const DEBUG_DEBS: &[&str] = &["trinity"];

/// What the image should do once booted.
pub enum Job {
    /// Run this shell command, print its exit status, power off.
    Command(String),
    /// An interactive shell on the console.
    Shell,
}

/// What the image is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Tests and development (`test`, `run`, `image`): with the test-only
    /// modules of `tests/modules/`.
    Test,
    /// The bench: what ships, without the test-only modules (the bench adds
    /// its reference drivers as an overlay).
    Bench,
}

/// Everything one boot needs.
pub struct Image {
    pub kernel: Kernel,
    /// The mymap.ko in the image, and the binaries (host paths).
    pub module: PathBuf,
    pub binaries: Vec<userspace::Binary>,
    pub initramfs: PathBuf,
    pub dtb: Option<PathBuf>,
}

impl flags::BoardArgs {
    pub fn run_image(&self, sh: &Shell) -> Result<()> {
        let board = Board::load(&self.board)?;
        let image = build(sh, &board, self, None, Job::Shell, Purpose::Test)?;
        println!("{}", image.initramfs.display());
        Ok(())
    }
}

/// Builds kernel, module, tools and the initramfs for `board`.
pub fn build(
    sh: &Shell,
    board: &Board,
    args: &flags::BoardArgs,
    overlay: Option<&Path>,
    job: Job,
    purpose: Purpose,
) -> Result<Image> {
    let kernel = kernel::build(sh, board, args, false)?;
    let module = driver::build(board, &kernel)?;
    let sample = driver::build_sample(board, &kernel, &module)?;
    let test_modules = match purpose {
        Purpose::Test => driver::build_test_modules(board, &kernel, &module)?,
        Purpose::Bench => Vec::new(),
    };
    let binaries = userspace::build(sh, board)?;
    let debs = fetch_debs(sh, &board.debian_arch, "udev", DEBS)?;
    let debug_debs = if kernel.debug {
        Some(fetch_debs(sh, &board.debian_arch, "trinity", DEBUG_DEBS)?)
    } else {
        None
    };
    let busybox = busybox::build(sh, board)?;
    let dir = checkout_dir()?.join("image").join(&board.name);
    let initramfs = step(&format!("image: initramfs for {}", board.name), || {
        let root = dir.join("rootfs");
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir_all(&root)?;
        copy_tree(&debs, &root)?;
        if let Some(debug_debs) = &debug_debs {
            copy_tree(debug_debs, &root)?;
        }
        copy_tree(&busybox, &root)?;
        populate(
            &root,
            board,
            &kernel,
            &[&module, &sample],
            &test_modules,
            &binaries,
        )?;
        if let Some(overlay) = overlay {
            copy_tree(overlay, &root)
                .with_context(|| format!("copy --overlay {}", overlay.display()))?;
        }
        write_job(&root, &job)?;
        let release = &kernel.release;
        cmd!(sh, "depmod -b {root} {release}").run()?;
        let initramfs = dir.join("initramfs.cpio");
        write_cpio(sh, &kernel, &root, &initramfs)?;
        Ok(initramfs)
    })?;
    let dtb = match &board.qemu.dtb {
        Some(name) => Some(qemu_dtb(sh, board, &kernel, name, &dir)?),
        None => None,
    };
    Ok(Image {
        kernel,
        module,
        binaries,
        initramfs,
        dtb,
    })
}

/// Our layers over the Debian files and BusyBox. `modules` are mymap.ko, then
/// the sample producer; `test_modules` the test-only modules, if any.
fn populate(
    root: &Path,
    board: &Board,
    kernel: &Kernel,
    [module, sample]: &[&Path; 2],
    test_modules: &[PathBuf],
    binaries: &[userspace::Binary],
) -> Result<()> {
    let project = project_root();
    for dir in [
        "dev", "proc", "sys", "tmp", "run", "root", "sbin", "usr/sbin", "var/run",
    ] {
        fs::create_dir_all(root.join(dir))?;
    }
    copy_tree(&project.join("boards/common/test-rootfs"), root)?;
    fs::remove_file(root.join("README.md"))?;
    copy_tree(&project.join("rootfs-overlay"), root)?;

    // What `make modules_install` would put beside the modules, so depmod and
    // modprobe know the built-in ones; then ours under updates/, and the sample
    // producer where `modules_install` puts an external module, extra/ (so
    // `modprobe mymap_sample_producer` loads mymap first), and the test-only
    // modules beside it.
    let moddir = root.join("lib/modules").join(&kernel.release);
    fs::create_dir_all(moddir.join("updates"))?;
    fs::create_dir_all(moddir.join("extra"))?;
    for file in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        fs::copy(kernel.dir.join(file), moddir.join(file))
            .with_context(|| format!("copy {file} from the kernel build"))?;
    }
    fs::copy(module, moddir.join("updates/mymap.ko"))?;
    fs::copy(sample, moddir.join(format!("extra/{}.ko", driver::SAMPLE)))?;
    let tx_sample = sample.with_file_name(format!("{}.ko", driver::TX_SAMPLE));
    fs::copy(
        &tx_sample,
        moddir.join(format!("extra/{}.ko", driver::TX_SAMPLE)),
    )
    .with_context(|| format!("copy {} into the image", tx_sample.display()))?;
    for ko in test_modules {
        fs::copy(ko, moddir.join("extra").join(ko.file_name().unwrap()))
            .with_context(|| format!("copy {} into the image", ko.display()))?;
    }

    for binary in binaries {
        let dest = root.join(&binary.dest);
        fs::create_dir_all(dest.parent().unwrap())?;
        fs::copy(&binary.path, &dest).with_context(|| format!("install /{}", binary.dest))?;
    }
    let tests = root.join("usr/libexec/mymap/tests");
    fs::create_dir_all(&tests)?;
    copy_tree(&project.join("tests/target"), &tests)?;
    let read_tests = project.join("userspace/mymap-read/tests/target");
    if read_tests.exists() {
        copy_tree(&read_tests, &tests)?;
    }
    fs::write(root.join("etc/mymap-board"), format!("{}\n", board.name))?;
    // Tests that run only on one kernel variant read it here.
    let variant = format!("{:?}", kernel.variant).to_lowercase();
    fs::write(root.join("etc/mymap-kernel"), format!("{variant}\n"))?;
    Ok(())
}

/// Appends the job to inittab: a console shell, or the command between markers.
fn write_job(root: &Path, job: &Job) -> Result<()> {
    let inittab = root.join("etc/inittab");
    let mut text = fs::read_to_string(&inittab)?;
    match job {
        Job::Shell => text.push_str("console::respawn:-/bin/sh\n"),
        Job::Command(command) => {
            let script = root.join("usr/libexec/mymap/job");
            fs::create_dir_all(script.parent().unwrap())?;
            fs::write(
                &script,
                format!(
                    "#!/bin/sh\n# Written by cargo xtask: runs the job, reports, powers off.\n\
                     echo 'MYMAP-JOB: BEGIN'\n/bin/sh -c {}\nrc=$?\n\
                     echo \"MYMAP-JOB: END rc=$rc\"\npoweroff -f\n",
                    shell_quote(command)
                ),
            )?;
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
            text.push_str("console::once:/usr/libexec/mymap/job\n");
        }
    }
    fs::write(inittab, text)?;
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes `root` as a newc cpio through the kernel's `usr/gen_init_cpio`.
fn write_cpio(sh: &Shell, kernel: &Kernel, root: &Path, out: &Path) -> Result<()> {
    let mut spec = String::from("nod /dev/console 600 0 0 c 5 1\n");
    list_tree(root, root, &mut spec)?;
    let spec_path = out.with_extension("list");
    fs::write(&spec_path, spec)?;
    let tool = kernel.dir.join("usr/gen_init_cpio");
    if !tool.exists() {
        bail!(
            "{} is missing: the kernel needs CONFIG_BLK_DEV_INITRD=y",
            tool.display()
        );
    }
    let data = cmd!(sh, "{tool} {spec_path}").quiet().output()?.stdout;
    fs::write(out, data)?;
    Ok(())
}

/// One gen_init_cpio line per entry below `dir`, parents before children.
fn list_tree(root: &Path, dir: &Path, spec: &mut String) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = Path::new("/").join(path.strip_prefix(root)?);
        let meta = fs::symlink_metadata(&path)?;
        let mode = meta.mode() & 0o7777;
        if meta.is_dir() {
            writeln!(spec, "dir {} {:o} 0 0", name.display(), mode)?;
            list_tree(root, &path, spec)?;
        } else if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)?;
            writeln!(
                spec,
                "slink {} {} 777 0 0",
                name.display(),
                target.display()
            )?;
        } else if meta.is_file() {
            writeln!(
                spec,
                "file {} {} {:o} 0 0",
                name.display(),
                path.display(),
                mode
            )?;
        }
    }
    Ok(())
}

/// A QEMU-only copy of the board's device tree with the nodes QEMU does not
/// model disabled (they abort the kernel at probe; see FIELD-NOTES) and the
/// board's overlays applied, as the Raspberry Pi firmware does from config.txt.
fn qemu_dtb(sh: &Shell, board: &Board, kernel: &Kernel, name: &str, dir: &Path) -> Result<PathBuf> {
    let src = kernel.dtb(name, board);
    let out = dir.join("qemu.dtb");
    fs::copy(&src, &out).with_context(|| format!("copy {}", src.display()))?;
    for node in &board.qemu.dtb_disable {
        cmd!(sh, "fdtput -t s {out} {node} status disabled").run()?;
    }
    for overlay in &board.qemu.dtb_overlays {
        let dts = project_root().join("boards").join(overlay);
        let dtbo = dir.join(format!(
            "{}.dtbo",
            dts.file_stem().unwrap().to_string_lossy()
        ));
        cmd!(sh, "dtc -q -@ -I dts -O dtb -o {dtbo} {dts}")
            .run()
            .with_context(|| format!("compile the overlay {overlay}"))?;
        cmd!(sh, "fdtoverlay -i {out} -o {out} {dtbo}")
            .run()
            .with_context(|| format!("apply the overlay {overlay} to {name}"))?;
    }
    Ok(out)
}

/// Downloads and unpacks the Debian `packages` (`what`, for messages) for
/// `arch` once, through a private apt configuration; returns the tree.
pub(crate) fn fetch_debs(sh: &Shell, arch: &str, what: &str, packages: &[&str]) -> Result<PathBuf> {
    let key = hash_parts(packages.iter().chain([&arch]));
    let dir = cache_dir()?.join("debs").join(format!("{arch}-{key}"));
    let tree = dir.join("tree");
    if dir.join(".done").exists() {
        return Ok(tree);
    }
    let title = format!("image: fetch {what} for {arch} from Debian");
    step(&title, || {
        setup::ensure(sh)?;
        let _ = fs::remove_dir_all(&dir);
        let apt = PrivateApt::new(&dir.join("apt"), "deb", arch, &["bookworm"])?;
        apt.update(sh)?;
        let debs = dir.join("debs");
        fs::create_dir_all(&debs)?;
        apt.get(sh, &debs, &[&["download"], packages].concat())?;
        fs::create_dir_all(&tree)?;
        let mut versions = String::new();
        for deb in fs::read_dir(&debs)? {
            let deb = deb?.path();
            cmd!(sh, "dpkg-deb -x {deb} {tree}").run()?;
            writeln!(versions, "{}", deb.file_name().unwrap().to_string_lossy())?;
        }
        fs::write(dir.join("versions"), versions)?;
        apt.remove()?;
        fs::write(dir.join(".done"), "")?;
        Ok(())
    })?;
    Ok(tree)
}
