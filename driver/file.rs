// SPDX-License-Identifier: GPL-2.0

//! The file operations of an open mymap device.
//!
//! Each open file holds a reference to its device's [`Buffer`]; the file's
//! `f_op->owner` reference keeps the module loaded while any file, or any
//! mapping (which holds its file), is alive.
//!
//! The Rust `MiscDevice` trait of kernel 7.3 has no `llseek` hook, and a file
//! without `f_op->llseek` cannot seek (`lseek` fails with `ESPIPE`). `open`
//! therefore switches the new file to [`FOPS`], a copy of the misc vtable that
//! the `MiscDevice` abstraction built for [`MymapFile`] with `llseek` added.
//! `do_dentry_open()` looks at `f_op->llseek` only after `open` has returned,
//! so the file keeps `FMODE_LSEEK`. See README.md ("Seeking") for why this
//! extension lives in the driver rather than in a kernel patch.

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
    types::ForeignOwnable,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    buffer::Buffer,
    mapping,
    uapi::{
        self,
        mymap_info, //
    },
    MymapDevice,
};

const MYMAP_IOC_CLEAR: u32 = _IO(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_CLEAR);
const MYMAP_IOC_INFO: u32 = _IOR::<mymap_info>(uapi::MYMAP_IOC_MAGIC, uapi::MYMAP_IOC_NR_INFO);

/// The private data type of an open mymap file: its device's buffer.
pub(crate) struct MymapFile;

#[vtable]
impl MiscDevice for MymapFile {
    type Ptr = Arc<Buffer>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Buffer>> {
        let buffer = MymapDevice::from_registration(misc).buffer.clone();
        // SAFETY: `file` is being opened: it is not yet installed in any file table, so no
        // other thread reads `f_op`. `FOPS` is a copy of the vtable the misc core installed
        // (same functions, same `owner`), so the module reference taken for the old `f_op`
        // is the one `fput()` drops for the new one. `FOPS` is a static of this module,
        // which cannot be unloaded while the file holds that reference.
        unsafe { (*file.as_ptr()).f_op = &FOPS.0 };
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

/// `f_op->llseek`: `SEEK_SET`, `SEEK_CUR` and `SEEK_END` within `[0, size]`, else `EINVAL`.
///
/// # Safety
///
/// `file` must be a valid mymap file between its `open` and `release`.
unsafe extern "C" fn llseek(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: between `open` and `release` the private data is the pointer that the misc
    // vtable's `open` made with `Arc::<Buffer>::into_foreign`; the file holds that
    // reference until `release`, which cannot run during this call.
    let buffer = unsafe { <Arc<Buffer> as ForeignOwnable>::borrow((*file).private_data) };
    // The cast cannot overflow: the size is at most `MYMAP_MAX_SIZE`.
    let size = buffer.size() as bindings::loff_t;
    // SAFETY: `file` is valid for the duration of this call (caller's guarantee).
    unsafe { bindings::fixed_size_llseek(file, offset, whence, size) }
}

/// A `file_operations` that may live in a `static`.
#[repr(transparent)]
struct Fops(bindings::file_operations);

// SAFETY: the table is never written after compile time; the C code only reads it, from
// any thread, as it does for every `const struct file_operations`.
unsafe impl Sync for Fops {}

/// The misc vtable that `MiscDevice` builds for `MymapFile`, plus `llseek`.
static FOPS: Fops = {
    let misc = MiscDeviceOptions { name: c"mymap" }.into_raw::<MymapFile>();
    // SAFETY: `into_raw` points `fops` at the abstraction's `'static` vtable for
    // `MymapFile`, a valid, initialised `file_operations`; copying it is a plain read.
    let base = unsafe { *misc.fops };
    Fops(bindings::file_operations {
        llseek: Some(llseek),
        ..base
    })
};
