//! Command-line flags of every xtask command.

use std::path::PathBuf;

use clap::{
    Args,
    Parser,
    Subcommand,
    ValueEnum, //
};

/// Build, boot and test mymap on emulated ARM boards.
#[derive(Parser)]
#[command(name = "cargo xtask")]
pub struct Xtask {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Install what the other commands need (apt sources and packages, rustup parts, bindgen).
    Setup(Setup),
    /// Prove the set-up on a freshly bootstrapped Debian 12 root: setup, every board's
    /// tools, then `run` (cached by the inputs that decide what a machine needs).
    FreshRoot(FreshRoot),
    /// Regenerate the driver's Rust copy of the UAPI header.
    Codegen(Codegen),
    /// Build the kernel of a board (cached by source, config and toolchain).
    Kernel(Kernel),
    /// Configure (no build) the kernel of each Buildroot defconfig as Buildroot would, and
    /// check that every fragment option survives; `cargo xtask test` runs it too.
    Kconfig,
    /// Build the mymap module, and the sample producer module against it, for a board's kernel.
    Driver(BoardArgs),
    /// Cross-build the userspace tools and target tests for a board.
    Userspace(BoardArgs),
    /// Build a board's initramfs test image.
    Image(BoardArgs),
    /// Boot a board and show the driver at work (the main job).
    Run(Run),
    /// Run the host tests, then the target tests on every board.
    Test(Test),
    /// Measure the driver and the reference C drivers (bench/peers) on every board;
    /// results in bench/<board>.json, charts in bench/<board>.svg.
    Bench(Bench),
    /// Build a defconfig of buildroot-ext with a real Buildroot, offline (every download
    /// replaced by a local stand-in, each one printed), boot it in QEMU and smoke-test it;
    /// cached by its inputs; not part of CI (a kernel takes an hour and more).
    Buildroot(Buildroot),
}

#[derive(Args)]
pub struct Setup {
    /// Only check; print what is missing and fail instead of installing.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args)]
pub struct FreshRoot {
    /// The checkout whose set-up is proved (default: this one).
    #[arg(long)]
    pub tree: Option<PathBuf>,
    /// Run even if a run with the same inputs passed before.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct Codegen {
    /// Fail if the generated file is not up to date, instead of writing it.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args, Clone)]
pub struct BoardArgs {
    /// Board directory name under boards/.
    #[arg(long, default_value = "raspberrypi4-64")]
    pub board: String,
    /// Kernel variant.
    #[arg(long, value_enum, default_value_t = KernelVariant::Release)]
    pub kernel: KernelVariant,
    /// Kernel source tree or tarball to use instead of Debian's linux-source-7.3.
    #[arg(long, env = "MYMAP_KERNEL_SRC")]
    pub kernel_src: Option<PathBuf>,
}

#[derive(Args)]
pub struct Kernel {
    #[command(flatten)]
    pub board: BoardArgs,
    /// Rebuild from scratch even if a cached build matches.
    #[arg(long)]
    pub clean: bool,
}

#[derive(Args)]
pub struct Run {
    #[command(flatten)]
    pub board: BoardArgs,
    /// Leave an interactive console instead of powering off (exit QEMU with Ctrl-A X).
    #[arg(long, conflicts_with = "cmd")]
    pub shell: bool,
    /// Add this directory's files to the image (copied over the rootfs).
    #[arg(long)]
    pub overlay: Option<PathBuf>,
    /// Run this shell command on the target after boot; exit with its status.
    #[arg(long)]
    pub cmd: Option<String>,
    /// Seconds before the boot is declared hung.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct Test {
    /// Boards to test (repeatable); all boards when absent.
    #[arg(long = "board")]
    pub boards: Vec<String>,
    /// Kernel variant.
    #[arg(long, value_enum, default_value_t = KernelVariant::Release)]
    pub kernel: KernelVariant,
    /// Kernel source tree or tarball to use instead of Debian's linux-source-7.3.
    #[arg(long, env = "MYMAP_KERNEL_SRC")]
    pub kernel_src: Option<PathBuf>,
    /// Skip the host tests (`cargo test`).
    #[arg(long)]
    pub no_host: bool,
    /// Seconds a board's test boot may take (default: 900 on the release kernel,
    /// 1200 on the debug kernel).
    #[arg(long)]
    pub timeout: Option<u64>,
}

#[derive(Args)]
pub struct Bench {
    /// Boards to measure (repeatable); all boards when absent.
    #[arg(long = "board")]
    pub boards: Vec<String>,
    /// Kernel source tree or tarball to use instead of Debian's linux-source-7.3.
    #[arg(long, env = "MYMAP_KERNEL_SRC")]
    pub kernel_src: Option<PathBuf>,
    /// Timed repetitions of each side of each comparison.
    #[arg(long, default_value_t = 11)]
    pub reps: u32,
    /// Also print each ratio's change against the committed bench/<board>.json.
    #[arg(long)]
    pub compare: bool,
    /// Do not write bench/<board>.json.
    #[arg(long)]
    pub no_write: bool,
    /// Print the board's console while it runs.
    #[arg(long)]
    pub verbose: bool,
    /// Seconds a board's boot and bench may take.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// Boot nothing: redraw bench/<board>.svg from the committed bench/<board>.json,
    /// write the boards' tables into bench/README.md and print them.
    #[arg(long, conflicts_with_all = ["compare", "no_write", "verbose"])]
    pub render: bool,
    /// With --render: write nothing, fail if a chart or bench/README.md's tables
    /// differ from what the JSON gives, or a JSON file from the record's layout.
    #[arg(long, requires = "render")]
    pub check: bool,
}

#[derive(Args)]
pub struct Buildroot {
    /// A defconfig of buildroot-ext/configs/, e.g. raspberrypi4_defconfig.
    #[arg(long)]
    pub defconfig: String,
    /// A Buildroot checkout (buildroot-ext/README.md names the commit checked).
    #[arg(long)]
    pub buildroot: PathBuf,
    /// Buildroot's output directory (default: <cache>/buildroot/<defconfig without _defconfig>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the process group id of each long `make` here while it runs
    /// (`kill -STOP -<id>` pauses the build, `kill -CONT -<id>` resumes it).
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Run even if a run with the same inputs passed before.
    #[arg(long)]
    pub force: bool,
    /// Seconds the boot and smoke test may take.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum KernelVariant {
    /// The configuration the boards ship.
    Release,
    /// Clang-built with KASAN, lockdep, DEBUG_VM, kmemleak and panic_on_warn.
    Debug,
    /// GCC-built with KCSAN, the data race detector (it excludes KASAN, hence a third
    /// variant), and panic_on_warn; 64-bit boards only.
    Kcsan,
}
