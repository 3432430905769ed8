// SPDX-License-Identifier: GPL-2.0

//! User mappings of a buffer or a ring: the mmap checks and the fault handler.
//!
//! `mmap` inserts nothing. It checks the range, makes the mapping
//! non-executable and non-growable, marks it `VM_MIXEDMAP` (pages inserted by
//! the driver, each with its own reference) and installs [`VM_OPS`]. Every
//! first access to a page, and every access after the kernel dropped the
//! page-table entries (`madvise(MADV_DONTNEED)`, a partial `munmap` or
//! `mprotect` split, `mremap`, a fork without copied entries, `MADV_PAGEOUT`),
//! lands in [`fault`], which inserts the device's pages again. So a mapping
//! always finds the device's bytes, and a private mapping finds the device's
//! page again after its copy-on-write copy was dropped, as for a file mapping.
//!
//! One fault inserts the whole aligned block of [`FAULT_BLOCK`] pages around
//! the address (clipped to the mapping) with `vm_insert_pages`, which takes
//! the page-table lock once per batch: a first pass over a mapping costs one
//! fault per block, not one per page, and `mmap()` itself stays cheap.
//!
//! The 7.3 `VmaNew` abstraction has no setter for `vm_ops`; [`map`] installs
//! the table with `kernel_gaps::VmOps`. The handler finds the pages through
//! the mapping's file, which the mapping holds, and whose private data (an
//! `Arc` of the [`PageSource`]) holds them until release. The handler is
//! generic over the owner of the pages, so a buffer and a ring share it.

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    mm::virt::{
        VmaNew,
        VmaRef, //
    },
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::Arc,
    types::ForeignOwnable,
};

use crate::kernel_gaps::VmOps;

/// The owner of the pages a mapping shows: a buffer or a ring.
///
/// The file's private data must be an `Arc<Self>` made with `into_foreign`.
pub(crate) trait PageSource: Send + Sync + Sized + 'static {
    /// The operations of this owner's mappings.
    // SAFETY: `fault::<Self>` needs a mapping that `map` set up for a `Self`; `map::<Self>` is
    // the only place that installs this table.
    const VM_OPS: &'static VmOps = &unsafe { VmOps::fault_only(fault::<Self>) };

    /// The pages `first .. first + count`, or `None` if that range is not inside.
    fn pages(&self, first: usize, count: usize) -> Option<&[NonNull<bindings::page>]>;
}

/// Pages one fault inserts: the aligned block around the faulting address.
/// 512 pages is 2 MiB, one page table's worth on 4 KiB pages: a 16 MiB
/// mapping is populated by 8 faults.
const FAULT_BLOCK: usize = 512;

/// Pages per `vm_insert_pages` call: few enough for the pointer array to live
/// on the stack.
const INSERT_BATCH: usize = 64;

/// Sets up a new mapping of pages `pgoff .. pgoff + len / PAGE_SIZE` of `source`.
///
/// The range must fit inside the source; the mapping can never become executable
/// nor grow with `mremap`. Pages are inserted on first access, by [`fault`].
pub(crate) fn map<T: PageSource>(source: &T, vma: &VmaNew, pgoff: usize) -> Result {
    let count = (vma.end() - vma.start()) >> PAGE_SHIFT;
    if source.pages(pgoff, count).is_none() {
        pr_debug!(
            "mmap refused: pages {}+{} beyond the device\n",
            pgoff,
            count
        );
        return Err(EINVAL);
    }
    if vma.try_clear_mayexec().is_err() {
        pr_debug!("mmap refused: executable mappings are not allowed\n");
        return Err(EINVAL);
    }
    vma.set_dontexpand();
    vma.set_mixedmap();
    T::VM_OPS.install(vma);
    Ok(())
}

/// `vm_ops->fault`: inserts the block of the device's pages around the faulting address.
///
/// # Safety
///
/// `vmf` must be a fault on a mapping that [`map`] set up for a `T`, passed by the core
/// kernel with `mmap_lock` or the VMA's lock held.
unsafe extern "C" fn fault<T: PageSource>(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: `vmf` is valid for the duration of the call (caller's guarantee); these fields
    // are set by the core before calling the handler and not written concurrently.
    let (vma, address) = unsafe { ((*vmf).__bindgen_anon_1.vma, (*vmf).__bindgen_anon_1.address) };
    // SAFETY: the VMA is valid, and its lock or `mmap_lock` is held, for the duration of the
    // call (caller's guarantee).
    let area = unsafe { VmaRef::from_raw(vma) };
    let (start, end) = (area.start(), area.end());
    // SAFETY: as above, the VMA's fields are stable while it is locked. Its file is the mymap
    // file `map` was called for: a mapping holds its file for its whole life, and the file's
    // private data is the `Arc<T>` that `open` made with `into_foreign` (`PageSource`'s
    // contract), released only when the file is, so after every mapping of it is gone.
    let (vm_pgoff, source) = unsafe {
        (
            (*vma).vm_pgoff,
            <Arc<T> as ForeignOwnable>::borrow((*(*vma).vm_file).private_data),
        )
    };
    // The block of `FAULT_BLOCK` pages around `address`, clipped to the mapping.
    let block = FAULT_BLOCK * PAGE_SIZE;
    let from = (address & !(block - 1)).max(start);
    let to = (address & !(block - 1)).saturating_add(block).min(end);
    // The device page behind `from`. `map` checked the mapping against the device and the
    // mapping cannot grow; check again rather than trust the VMA's fields.
    let first = vm_pgoff.wrapping_add((from - start) >> PAGE_SHIFT);
    let Some(pages) = source.pages(first, (to - from) >> PAGE_SHIFT) else {
        pr_debug!("fault refused: pages beyond the device\n");
        return bindings::vm_fault_reason_VM_FAULT_SIGBUS;
    };
    // SAFETY: the caller holds `mmap_lock` or the VMA lock; the VMA has `VM_MIXEDMAP` (set by
    // `map`); `from .. to` lies inside the VMA and `pages` are pages of the device, alive for
    // the whole call (the file holds them).
    match unsafe { insert(vma, from, pages) } {
        Ok(()) => bindings::vm_fault_reason_VM_FAULT_NOPAGE,
        Err(e) if e == ENOMEM => bindings::vm_fault_reason_VM_FAULT_OOM,
        Err(_) => bindings::vm_fault_reason_VM_FAULT_SIGBUS,
    }
}

/// Inserts `pages` into `vma` from address `addr` on, skipping the addresses that already
/// have an entry (another thread's fault, or a private copy-on-write page).
///
/// # Safety
///
/// The caller holds `mmap_lock` (or the VMA lock) of `vma`, which has `VM_MIXEDMAP`;
/// `addr .. addr + pages.len() * PAGE_SIZE` lies inside `vma`; the pages stay allocated for
/// the duration of the call.
unsafe fn insert(
    vma: *mut bindings::vm_area_struct,
    mut addr: usize,
    pages: &[NonNull<bindings::page>],
) -> Result {
    for chunk in pages.chunks(INSERT_BATCH) {
        let mut batch = [core::ptr::null_mut::<bindings::page>(); INSERT_BATCH];
        for (slot, page) in batch.iter_mut().zip(chunk) {
            *slot = page.as_ptr();
        }
        let mut done = 0;
        while done < chunk.len() {
            let mut left = chunk.len() - done;
            // SAFETY: the caller's guarantees cover `addr .. addr + left * PAGE_SIZE`, the rest
            // of this chunk; `batch[done..]` are the chunk's pages. Each inserted page takes its
            // own reference, so it outlives the buffer for as long as the mapping holds it.
            let ret = unsafe {
                bindings::vm_insert_pages(vma, addr, batch.as_mut_ptr().add(done), &mut left)
            };
            let inserted = chunk.len() - done - left;
            done += inserted;
            addr += inserted << PAGE_SHIFT;
            match to_result(ret) {
                Ok(()) => {}
                // An entry is already there: keep it and go on with the next page.
                Err(e) if e == EBUSY => {
                    done += 1;
                    addr += PAGE_SIZE;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
