// SPDX-License-Identifier: GPL-2.0

//! A tx ring device, `/dev/mymap-txN`, and the file operations of an open one.
//!
//! Opening for writing claims the ring for one producer (`EBUSY` for a
//! second); read-only opens are unlimited. The mmap rules are the header's
//! ("Tx rings"): page 0 and the data area writable and shared, by the
//! producer; page 1 read-only for good. `poll` is added as in `ring_file.rs`.

use kernel::{
    bindings,
    fs::File,
    ioctl::{
        _IO,
        _IOR, //
    },
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
    transmute::AsBytes,
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
    mapping,
    tx::{
        Space,
        TxRing, //
    },
    uapi::{
        self,
        mymap_tx_info,
        mymap_tx_stats, //
    },
};

const INFO: u32 = _IOR::<mymap_tx_info>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_TX_INFO);
const STATS: u32 = _IOR::<mymap_tx_stats>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_TX_STATS);
const KICK: u32 = _IO(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_TX_KICK);
const PLAY: u32 = _IO(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_TX_PLAY);

/// Tx node names, by index.
const TX_NAMES: [&CStr; uapi::MYMAP_MAX_RINGS as usize] = [
    c"mymap-tx0",
    c"mymap-tx1",
    c"mymap-tx2",
    c"mymap-tx3",
    c"mymap-tx4",
    c"mymap-tx5",
    c"mymap-tx6",
    c"mymap-tx7",
];

/// One registered tx device and its ring.
///
/// # Invariants
///
/// Every `MiscDeviceRegistration<TxFile>` that exists is the `reg` field of a `TxDevice`:
/// `TxFile` is private to this crate and `TxDevice::new` is the only place that registers one.
#[pin_data]
pub(crate) struct TxDevice {
    #[pin]
    reg: MiscDeviceRegistration<TxFile>,
    pub(crate) ring: Arc<TxRing>,
}

impl TxDevice {
    pub(crate) fn new(ring: Arc<TxRing>) -> impl PinInit<Self, Error> {
        let name = TX_NAMES[ring.index() as usize];
        // INVARIANT: the registration is created as the `reg` field of a `TxDevice`.
        try_pin_init!(Self {
            reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name }),
            ring,
        })
    }

    /// The `struct device` the misc core made for this node: the GPIO player's lines are
    /// requested for it.
    pub(crate) fn device(&self) -> *mut bindings::device {
        // SAFETY: the registration is alive as long as `self`, and with it its misc device and
        // the device the misc core created.
        unsafe { (*self.reg.as_raw()).this_device }
    }

    /// Returns the device that owns `reg`.
    fn from_registration(reg: &MiscDeviceRegistration<TxFile>) -> &Self {
        let reg: *const MiscDeviceRegistration<TxFile> = reg;
        // SAFETY: by the type invariant, `reg` is the `reg` field of a `TxDevice`, alive as
        // long as the registration is.
        unsafe { &*kernel::container_of!(reg, TxDevice, reg) }
    }
}

/// The private data type of an open tx file: its ring.
pub(crate) struct TxFile;

/// Whether `file` was opened for writing, which is what holds the producer claim.
fn is_producer(file: &File) -> bool {
    file.flags() & bindings::O_ACCMODE != bindings::O_RDONLY
}

#[vtable]
impl MiscDevice for TxFile {
    type Ptr = Arc<TxRing>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<TxRing>> {
        let ring = TxDevice::from_registration(misc).ring.clone();
        if is_producer(file) {
            ring.claim().inspect_err(|_| {
                pr_debug!(
                    "tx {}: open refused: another file produces into it\n",
                    ring.index()
                );
            })?;
        }
        // SAFETY: this is `open`, and `file` the file it opens.
        unsafe { Self::use_extended_fops(file) };
        Ok(ring)
    }

    fn release(ring: Arc<TxRing>, file: &File) {
        // The core releases a file once, after its last mapping is gone.
        if is_producer(file) {
            ring.unclaim();
        }
    }

    fn mmap(ring: ArcBorrow<'_, TxRing>, _file: &File, vma: &VmaNew) -> Result {
        // SAFETY: `vma` is being set up by the mmap hook, so it is valid and the caller
        // holds `mmap_lock` for writing; `vm_pgoff` is a plain field nothing else writes now.
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        let pages = (vma.end() - vma.start()) / PAGE_SIZE;
        let consumer = uapi::MYMAP_RING_PGOFF_PRODUCER as usize;
        let covers_consumer_page = pgoff <= consumer && pgoff.saturating_add(pages) > consumer;
        let shared = vma.flags() & bindings::VM_SHARED != 0;
        if covers_consumer_page || !shared {
            // Page 1 is the kernel's, and a private copy of the producer's pages would never
            // reach the kernel: neither is writable, now or later (`mprotect`: `EACCES`).
            if vma.writable() {
                pr_debug!(
                    "tx {}: mmap refused: writable over page 1, or private\n",
                    ring.index()
                );
                return Err(EPERM);
            }
            vma.try_clear_maywrite()?;
        }
        // Else shared: writable if the file may write (the core has already refused
        // `PROT_WRITE` on a read-only file and cleared `VM_MAYWRITE`).
        mapping::map(&*ring, vma, pgoff)
    }

    fn ioctl(ring: ArcBorrow<'_, TxRing>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            INFO => put(arg, &info(&ring))?,
            STATS => put(arg, &ring.stats())?,
            KICK => {
                if !is_producer(file) {
                    pr_debug!("tx {}: kick refused: not the producer\n", ring.index());
                    return Err(EBADF);
                }
                return Ok(ring.kick() as isize);
            }
            PLAY => {
                if !is_producer(file) {
                    pr_debug!("tx {}: play refused: not the producer\n", ring.index());
                    return Err(EBADF);
                }
                let Some(consumer) = ring.consumer() else {
                    pr_debug!("tx {}: play refused: no player\n", ring.index());
                    return Err(ENODEV);
                };
                let op = u32::try_from(arg).map_err(|_| EINVAL)?;
                return Ok(consumer.control(op)? as isize);
            }
            _ => {
                pr_debug!("tx ioctl {:#x} refused: unknown command\n", cmd);
                return Err(ENOTTY);
            }
        }
        Ok(0)
    }

    fn show_fdinfo(ring: ArcBorrow<'_, TxRing>, m: &SeqFile, _file: &File) {
        let stats = ring.stats();
        seq_print!(
            m,
            "mymap-tx:\t{}\nmymap-data-size:\t{}\nmymap-consumed:\t{}\nmymap-malformed:\t{}\n",
            ring.index(),
            ring.data_size(),
            stats.consumed,
            stats.malformed
        );
    }
}

/// The answer of `MYMAP_TX_IOC_INFO`.
fn info(ring: &TxRing) -> mymap_tx_info {
    mymap_tx_info {
        abi_version: uapi::MYMAP_ABI_VERSION,
        page_size: PAGE_SIZE as u32,
        index: ring.index(),
        rings: ring.rings(),
        data_size: ring.data_size(),
        max_payload: ring.max_payload(),
        producer_claimed: ring.claimed().into(),
        echo_ring: ring.echo_index(),
    }
}

/// Copies `value` to the user pointer `arg`.
fn put<T: AsBytes>(arg: usize, value: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .writer()
        .write(value)
}

#[vtable]
impl MiscDeviceExt for TxFile {
    /// Writable while any record fits, `EPOLLERR` while the producer position is refused.
    fn poll(ring: ArcBorrow<'_, TxRing>, file: &File, table: PollTable<'_>) -> u32 {
        // Registered first, then the look after a full barrier (`space_now`): a drain that
        // did not see this file on the queue stored its position before, and it is seen.
        table.register(file, ring.poll_queue());
        match ring.space_now() {
            Space::Free(free) if free >= ring.writable_at() => {
                bindings::POLLOUT | bindings::POLLWRNORM
            }
            Space::Free(_) => 0,
            Space::BadPosition => bindings::POLLERR,
        }
    }
}
