// SPDX-License-Identifier: GPL-2.0

//! A buffer device (`/dev/mymap`, `/dev/mymap1`, ...) and the file operations of an open one.
//!
//! Each open file holds a reference to its device's [`Buffer`]; the file's
//! `f_op->owner` reference keeps the module loaded while any file, or any
//! mapping (which holds its file), is alive.
//!
//! The Rust `MiscDevice` trait of kernel 7.3 has no `llseek` hook, and a file
//! without `f_op->llseek` cannot seek (`lseek` fails with `ESPIPE`). The hook
//! is `kernel_gaps::MiscDeviceExt::llseek`, and `open` switches the new file to
//! the vtable that has it. See README.md ("Seeking") for why this extension
//! lives in the driver rather than in a kernel patch.

use kernel::{
    bindings,
    fs::{
        File,
        Kiocb, //
    },
    ioctl::{
        _IO,
        _IOR, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
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
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    buffer::Buffer,
    kernel_gaps::{
        MiscDeviceExt,
        Seek, //
    },
    mapping,
    uapi::{
        self,
        mymap_info, //
    },
};

const MYMAP_IOC_CLEAR: u32 = _IO(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_CLEAR);
const MYMAP_IOC_INFO: u32 = _IOR::<mymap_info>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_INFO);

/// Node names, by device index. The first device keeps the classic name so
/// that `/dev/mymap` always exists; the others are numbered like `/dev/loopN`.
const NAMES: [&CStr; uapi::MYMAP_MAX_DEVICES as usize] = [
    c"mymap", c"mymap1", c"mymap2", c"mymap3", c"mymap4", c"mymap5", c"mymap6", c"mymap7",
];

/// One registered device and the buffer its files share.
///
/// # Invariants
///
/// Every `MiscDeviceRegistration<MymapFile>` that exists is the `reg` field of
/// a `MymapDevice`: `MymapFile` is private to this crate and `MymapDevice::new`
/// is the only place that registers one.
#[pin_data]
pub(crate) struct MymapDevice {
    #[pin]
    reg: MiscDeviceRegistration<MymapFile>,
    buffer: Arc<Buffer>,
}

impl MymapDevice {
    pub(crate) fn new(buffer: Arc<Buffer>) -> impl PinInit<Self, Error> {
        let name = NAMES[buffer.index() as usize];
        // INVARIANT: the registration is created as the `reg` field of a `MymapDevice`.
        try_pin_init!(Self {
            reg <- MiscDeviceRegistration::register(MiscDeviceOptions { name }),
            buffer,
        })
    }

    /// Returns the device that owns `reg`.
    fn from_registration(reg: &MiscDeviceRegistration<MymapFile>) -> &Self {
        let reg: *const MiscDeviceRegistration<MymapFile> = reg;
        // SAFETY: by the type invariant `reg` is the `reg` field of a `MymapDevice`, so
        // stepping back by the field offset gives that device. The device is pinned in a
        // `KBox` that is only dropped after `misc_deregister()`, and the returned reference
        // has the lifetime of `reg`, which the misc core keeps alive during the file
        // operation that passed it in.
        unsafe { &*kernel::container_of!(reg, MymapDevice, reg) }
    }
}

/// The private data type of an open mymap file: its device's buffer.
pub(crate) struct MymapFile;

#[vtable]
impl MiscDevice for MymapFile {
    type Ptr = Arc<Buffer>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Buffer>> {
        let buffer = MymapDevice::from_registration(misc).buffer.clone();
        // SAFETY: this is `open`, and `file` the file it opens.
        unsafe { Self::use_extended_fops(file) };
        Ok(buffer)
    }

    fn mmap(buffer: ArcBorrow<'_, Buffer>, _file: &File, vma: &VmaNew) -> Result {
        // SAFETY: `vma` is being set up by the mmap hook, so it is valid and the caller
        // holds `mmap_lock` for writing; `vm_pgoff` is a plain field nothing else writes now.
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        mapping::map(&*buffer, vma, pgoff)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let buffer = kiocb.file();
        buffer.read(kiocb.ki_pos_mut(), iov)
    }

    fn write_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let buffer = kiocb.file();
        buffer.write(kiocb.ki_pos_mut(), iov)
    }

    fn ioctl(buffer: ArcBorrow<'_, Buffer>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            MYMAP_IOC_CLEAR => clear(&buffer, file)?,
            MYMAP_IOC_INFO => info(&buffer, arg)?,
            _ => {
                pr_debug!("ioctl {:#x} refused: unknown command\n", cmd);
                return Err(ENOTTY);
            }
        }
        Ok(0)
    }

    fn show_fdinfo(buffer: ArcBorrow<'_, Buffer>, m: &SeqFile, _file: &File) {
        // The core prints `pos:` itself, just above these lines.
        seq_print!(
            m,
            "mymap-size:\t{}\nmymap-index:\t{}\n",
            buffer.size(),
            buffer.index()
        );
    }
}

/// `MYMAP_IOC_CLEAR`: zeroes the buffer; the file must be open for writing.
fn clear(buffer: &Buffer, file: &File) -> Result {
    if file.flags() & bindings::O_ACCMODE == bindings::O_RDONLY {
        pr_debug!("clear refused: file not open for writing\n");
        return Err(EBADF);
    }
    buffer.clear()
}

/// `MYMAP_IOC_INFO`: copies a `struct mymap_info` to the user pointer `arg`.
fn info(buffer: &Buffer, arg: usize) -> Result {
    let info = mymap_info {
        abi_version: uapi::MYMAP_ABI_VERSION,
        page_size: PAGE_SIZE as u32,
        size: buffer.size() as u64,
        index: buffer.index(),
        devices: buffer.devices(),
        max_size: uapi::MYMAP_MAX_SIZE.into(),
        clears: buffer.clears(),
    };
    let mut writer = UserSlice::new(UserPtr::from_addr(arg), size_of::<mymap_info>()).writer();
    writer.write(&info)
}

#[vtable]
impl MiscDeviceExt for MymapFile {
    /// `SEEK_SET`, `SEEK_CUR` and `SEEK_END` within `[0, size]`, else `EINVAL`.
    fn llseek(buffer: ArcBorrow<'_, Buffer>, seek: Seek<'_>) -> Result<i64> {
        // The cast cannot overflow: the size is at most `MYMAP_MAX_SIZE`.
        seek.within(buffer.size() as i64)
    }
}
