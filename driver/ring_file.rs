// SPDX-License-Identifier: GPL-2.0

//! A ring device, `/dev/mymap-ringN`, and the file operations of an open one.
//!
//! Opening for writing claims the ring for one consumer (`EBUSY` for a
//! second); read-only opens are unlimited. The mmap rules are the header's:
//! page 0 writable alone, by the consumer; everything else read-only for good.
//!
//! The `MiscDevice` trait of kernel 7.3 has no `poll` hook; it is
//! `kernel_gaps::MiscDeviceExt::poll`, and `open` switches the file to the
//! vtable that has it, as `file.rs` does for `llseek` (see README.md,
//! "Seeking", for why the extension lives in the driver).

use kernel::{
    bindings,
    fs::{
        File,
        Kiocb, //
    },
    ioctl::{
        _IOR,
        _IOW,
        _IOWR, //
    },
    iov::IovIterDest,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    mm::virt::VmaNew,
    page::PAGE_SIZE,
    prelude::*,
    seq_file::{
        seq_print,
        SeqFile, //
    },
    sync::{
        Arc,
        ArcBorrow, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    kernel_gaps::{
        MiscDeviceExt,
        PollTable, //
    },
    mapping, producers,
    ring::{
        AtConsumer,
        Ring, //
    },
    uapi::{
        self,
        mymap_ring_info,
        mymap_ring_inject,
        mymap_ring_stats,
        mymap_ring_timer,
        mymap_ring_wakeup, //
    },
};

const INFO: u32 = _IOR::<mymap_ring_info>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_RING_INFO);
const STATS: u32 = _IOR::<mymap_ring_stats>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_RING_STATS);
const SET_WAKEUP: u32 =
    _IOW::<mymap_ring_wakeup>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_RING_SET_WAKEUP);
const GET_WAKEUP: u32 =
    _IOR::<mymap_ring_wakeup>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_RING_GET_WAKEUP);
const TIMER: u32 = _IOW::<mymap_ring_timer>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_RING_TIMER);
const INJECT: u32 =
    _IOWR::<mymap_ring_inject>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_RING_INJECT);

/// Ring node names, by ring index.
const RING_NAMES: [&CStr; uapi::MYMAP_MAX_RINGS as usize] = [
    c"mymap-ring0",
    c"mymap-ring1",
    c"mymap-ring2",
    c"mymap-ring3",
    c"mymap-ring4",
    c"mymap-ring5",
    c"mymap-ring6",
    c"mymap-ring7",
];

/// One registered ring device and its ring.
///
/// # Invariants
///
/// Every `MiscDeviceRegistration<RingFile>` that exists is the `reg` field of a
/// `RingDevice`: `RingFile` is private to this crate and `RingDevice::new` is the only
/// place that registers one.
#[pin_data]
pub(crate) struct RingDevice {
    #[pin]
    pub(crate) reg: MiscDeviceRegistration<RingFile>,
    pub(crate) ring: Arc<Ring>,
}

impl RingDevice {
    pub(crate) fn new(ring: Arc<Ring>) -> impl PinInit<Self, Error> {
        let name = RING_NAMES[ring.index() as usize];
        // INVARIANT: the registration is created as the `reg` field of a `RingDevice`.
        try_pin_init!(Self {
            reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name }),
            ring,
        })
    }

    /// Returns the device that owns `reg`.
    fn from_registration(reg: &MiscDeviceRegistration<RingFile>) -> &Self {
        let reg: *const MiscDeviceRegistration<RingFile> = reg;
        // SAFETY: as for `MymapDevice::from_registration`, by the type invariant.
        unsafe { &*kernel::container_of!(reg, RingDevice, reg) }
    }
}

/// The private data type of an open ring file: its ring.
pub(crate) struct RingFile;

/// Whether `file` was opened for writing, which is what holds the consumer claim.
fn is_consumer(file: &File) -> bool {
    file.flags() & bindings::O_ACCMODE != bindings::O_RDONLY
}

#[vtable]
impl MiscDevice for RingFile {
    type Ptr = Arc<Ring>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Ring>> {
        let ring = RingDevice::from_registration(misc).ring.clone();
        if is_consumer(file) {
            ring.claim().inspect_err(|_| {
                pr_debug!(
                    "ring {}: open refused: another file consumes it\n",
                    ring.index()
                );
            })?;
        }
        // SAFETY: this is `open`, and `file` the file it opens.
        unsafe { Self::use_extended_fops(file) };
        Ok(ring)
    }

    fn release(ring: Arc<Ring>, file: &File) {
        // The core releases a file once, after its last mapping is gone.
        if is_consumer(file) {
            ring.unclaim();
        }
    }

    fn mmap(ring: ArcBorrow<'_, Ring>, _file: &File, vma: &VmaNew) -> Result {
        // SAFETY: `vma` is being set up by the mmap hook, so it is valid and the caller
        // holds `mmap_lock` for writing; `vm_pgoff` is a plain field nothing else writes now.
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        let pages = (vma.end() - vma.start()) / PAGE_SIZE;
        let consumer_page_only = pgoff == uapi::MYMAP_RING_PGOFF_CONSUMER as usize && pages == 1;
        if consumer_page_only && vma.flags() & bindings::VM_SHARED != 0 {
            // The consumer page, shared: writable if the file may write (the core has
            // already refused `PROT_WRITE` on a read-only file and cleared `VM_MAYWRITE`).
        } else if vma.writable() {
            pr_debug!(
                "ring {}: mmap refused: only page 0 may be writable\n",
                ring.index()
            );
            return Err(EPERM);
        } else {
            // Can never become writable: `mprotect` fails with `EACCES`.
            vma.try_clear_maywrite()?;
        }
        mapping::map(&*ring, vma, pgoff)
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        // SAFETY: `kiocb` wraps a valid `struct kiocb` for this call; `ki_filp` is its file,
        // alive for the call.
        let file = unsafe { File::from_raw_file((*kiocb.as_raw()).ki_filp) };
        let nonblock = file.flags() & bindings::O_NONBLOCK != 0;
        if !is_consumer(file) {
            return Err(EBADF);
        }
        kiocb.file().read(iov, nonblock)
    }

    fn ioctl(ring: ArcBorrow<'_, Ring>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            INFO => put(arg, &info(&ring))?,
            STATS => put(arg, &ring.stats())?,
            GET_WAKEUP => put(arg, &ring.wakeup())?,
            SET_WAKEUP => ring.set_wakeup(&get::<mymap_ring_wakeup>(arg)?)?,
            TIMER => producers::timer(&ring.into(), &get::<mymap_ring_timer>(arg)?)?,
            INJECT => {
                let mut inject = get::<mymap_ring_inject>(arg)?;
                producers::inject(&ring, &mut inject)?;
                put(arg, &inject)?;
            }
            _ => {
                pr_debug!("ring ioctl {:#x} refused: unknown command\n", cmd);
                return Err(ENOTTY);
            }
        }
        Ok(0)
    }

    fn show_fdinfo(ring: ArcBorrow<'_, Ring>, m: &SeqFile, _file: &File) {
        let stats = ring.stats();
        seq_print!(
            m,
            "mymap-ring:\t{}\nmymap-data-size:\t{}\nmymap-produced:\t{}\nmymap-dropped:\t{}\n",
            ring.index(),
            ring.data_size(),
            stats.produced,
            stats.dropped
        );
    }
}

/// The answer of `MYMAP_RING_IOC_INFO`.
fn info(ring: &Ring) -> mymap_ring_info {
    mymap_ring_info {
        abi_version: uapi::MYMAP_ABI_VERSION,
        page_size: PAGE_SIZE as u32,
        index: ring.index(),
        rings: ring.rings(),
        data_size: ring.data_size(),
        max_payload: ring.max_payload(),
        header_size: uapi::MYMAP_RING_HEADER_SIZE,
        consumer_claimed: ring.claimed().into(),
    }
}

/// Copies `value` to the user pointer `arg`.
fn put<T: AsBytes>(arg: usize, value: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .writer()
        .write(value)
}

/// Copies a `T` from the user pointer `arg`.
fn get<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .reader()
        .read()
}

#[vtable]
impl MiscDeviceExt for RingFile {
    /// Readable while a committed record (or a WRAP word, or a discarded record) waits at the
    /// consumer position, `EPOLLERR` where `read()` would fail with `EIO` (a corrupted
    /// consumer position).
    fn poll(ring: ArcBorrow<'_, Ring>, file: &File, table: PollTable<'_>) -> u32 {
        // Registered first: `at_consumer_now` orders this (and the consumer's position) before
        // its loads with a full barrier, against the commit's (store buffering).
        table.register(file, ring.poll_queue());
        match ring.at_consumer_now() {
            AtConsumer::Empty | AtConsumer::Busy => 0,
            AtConsumer::Skip { .. } | AtConsumer::Record { .. } => {
                bindings::POLLIN | bindings::POLLRDNORM
            }
            AtConsumer::Corrupt => bindings::POLLERR,
        }
    }
}
