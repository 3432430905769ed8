// SPDX-License-Identifier: GPL-2.0

//! One device's buffer: zeroed pages, the lock over kernel access to them,
//! and inserting them into user mappings.
//!
//! Locks are taken in the order: `Buffer::lock`, then `mmap_lock` (or a VMA
//! lock), the latter only inside the core kernel when a user copy faults. The
//! mmap hook runs with `mmap_lock` held, so it never takes `Buffer::lock`; it
//! needs none, as the page array is fixed at load. There is no fault handler:
//! every page of a mapping is inserted when the mapping is made, so a user
//! copy whose buffer is itself a mapping of this device never calls back into
//! the driver.
//!
//! Userspace stores through a shared mapping race with everything, by the
//! nature of shared memory; they are plain byte stores into pages the kernel
//! only accesses through the C copy routines, never through Rust references.
//! `Buffer::lock` makes the driver's own accesses (read, write, clear)
//! exclusive with each other, so a `read()` never sees half of a `CLEAR`.

use core::cmp::min;
use kernel::{
    bindings,
    error::to_result,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    mm::virt::VmaNew,
    new_mutex,
    page::{
        Page,
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

/// Pages per `vm_insert_pages` call: enough to take the page-table lock once per
/// batch instead of once per page (measured: mmap of 16 MiB plus a first read of
/// every page went from 0.25x to 0.13x of an anonymous `MAP_POPULATE` mapping),
/// few enough for the pointer array to live on the stack.
const INSERT_BATCH: usize = 64;

/// The text the kernel leaves at offset 0 after load, NUL included.
const GREETING: &[u8] = b"hello world from kernel space\0";

/// Driver-side state that changes after load.
struct Inner {
    /// `MYMAP_IOC_CLEAR` calls since load.
    clears: u64,
}

/// A buffer of whole pages, shared by every file and mapping of one device.
///
/// # Invariants
///
/// `pages.len() * PAGE_SIZE == size`, and `pages` never changes after `new`.
#[pin_data]
pub(crate) struct Buffer {
    pages: KVec<Page>,
    size: usize,
    index: u32,
    devices: u32,
    /// Serialises the driver's reads and writes of the pages.
    #[pin]
    lock: Mutex<Inner>,
}

impl Buffer {
    /// Allocates `size` zeroed bytes (a multiple of `PAGE_SIZE`) for device `index`
    /// and writes the greeting at offset 0.
    pub(crate) fn new(index: u32, devices: u32, size: usize) -> Result<Arc<Self>> {
        let count = size >> PAGE_SHIFT;
        let mut pages = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            // `__GFP_ZERO`: no stale kernel memory ever reaches userspace.
            pages.push(Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?, GFP_KERNEL)?;
        }
        let len = min(GREETING.len(), PAGE_SIZE);
        // SAFETY: `GREETING` is valid for reading `len` bytes. The pages were allocated
        // just above and are not yet shared with anyone, so nothing races with this write.
        unsafe { pages[0].write_raw(GREETING.as_ptr(), 0, len)? };
        // INVARIANT: `count` pages of `PAGE_SIZE` bytes make `size`; `pages` is moved in
        // and no method replaces or resizes it.
        Arc::pin_init(
            try_pin_init!(Self {
                pages,
                size,
                index,
                devices,
                lock <- new_mutex!(Inner { clears: 0 }, "mymap::Buffer::lock"),
            }),
            GFP_KERNEL,
        )
    }

    /// The buffer size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The device index: 0 for `/dev/mymap`, N for `/dev/mymapN`.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The number of devices the module registered.
    pub(crate) fn devices(&self) -> u32 {
        self.devices
    }

    /// `MYMAP_IOC_CLEAR` calls since load.
    pub(crate) fn clears(&self) -> u64 {
        self.lock.lock().clears
    }

    /// Copies the buffer from `*pos` into `iov` and advances `*pos`.
    ///
    /// Returns 0 at or beyond the end, a short count at the end or when the user
    /// buffer faults part way, and `EFAULT` when not a byte could be copied.
    pub(crate) fn read(&self, pos: &mut i64, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let Some(start) = self.start(*pos)? else {
            return Ok(0);
        };
        let want = min(iov.len(), self.size - start);
        let guard = self.lock.lock();
        let done = self.for_each_chunk(start, want, |page, offset, len| {
            // SAFETY: `page` is a live page of this buffer and `offset + len <= PAGE_SIZE`
            // (`for_each_chunk`). `iov.as_raw()` is a valid destination iterator for the
            // duration of this call. `guard` is held, so no other driver write to the
            // page runs concurrently.
            unsafe { bindings::copy_page_to_iter(page.as_ptr(), offset, len, iov.as_raw()) }
        });
        drop(guard);
        self.finish(pos, want, done)
    }

    /// Copies `iov` into the buffer at `*pos` and advances `*pos`.
    ///
    /// Writes what fits; `ENOSPC` when the write starts at or beyond the end, and
    /// `EFAULT` when not a byte could be copied.
    pub(crate) fn write(&self, pos: &mut i64, iov: &mut IovIterSource<'_>) -> Result<usize> {
        if iov.is_empty() {
            return Ok(0);
        }
        let Some(start) = self.start(*pos)? else {
            return Err(ENOSPC);
        };
        let want = min(iov.len(), self.size - start);
        let guard = self.lock.lock();
        let done = self.for_each_chunk(start, want, |page, offset, len| {
            // SAFETY: `page` is a live page of this buffer and `offset + len <= PAGE_SIZE`
            // (`for_each_chunk`). `iov.as_raw()` is a valid source iterator for the duration
            // of this call. `guard` is held, so no other driver access to the page runs
            // concurrently.
            unsafe { bindings::copy_page_from_iter(page.as_ptr(), offset, len, iov.as_raw()) }
        });
        drop(guard);
        self.finish(pos, want, done)
    }

    /// Zeroes the whole buffer.
    pub(crate) fn clear(&self) -> Result {
        let mut guard = self.lock.lock();
        for page in &self.pages {
            // SAFETY: `guard` is held, so no other driver access to the page runs
            // concurrently.
            unsafe { page.fill_zero_raw(0, PAGE_SIZE)? };
        }
        guard.clears += 1;
        Ok(())
    }

    /// Inserts the pages a new mapping asks for into it.
    ///
    /// The mapping covers pages `pgoff .. pgoff + len / PAGE_SIZE` of the buffer and must
    /// fit inside it. It can never become executable nor grow with `mremap`.
    pub(crate) fn map(&self, vma: &VmaNew, pgoff: usize) -> Result {
        let count = (vma.end() - vma.start()) >> PAGE_SHIFT;
        if pgoff > self.pages.len() || count > self.pages.len() - pgoff {
            pr_debug!(
                "mmap refused: pages {}+{} beyond the buffer\n",
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
        let vma = vma.set_mixedmap();
        let mut addr = vma.start();
        for chunk in self.pages[pgoff..pgoff + count].chunks(INSERT_BATCH) {
            let mut pages = [core::ptr::null_mut::<bindings::page>(); INSERT_BATCH];
            for (slot, page) in pages.iter_mut().zip(chunk) {
                *slot = page.as_ptr();
            }
            let mut left = chunk.len() as c_ulong;
            // SAFETY: `vma` has `VM_MIXEDMAP` set and is being set up by the mmap hook, whose
            // caller holds `mmap_lock` for writing, as `vm_insert_page` requires and
            // `vm_insert_pages` too. The first `chunk.len()` entries of `pages` are order-0
            // pages this buffer owns, alive for the whole call. The range
            // `addr .. addr + chunk.len() * PAGE_SIZE` lies inside the vma: the chunks cover
            // `count` pages, which is the vma's length. Each inserted page takes its own
            // reference, so the page outlives this buffer for as long as the mapping holds it.
            let ret = unsafe {
                bindings::vm_insert_pages(
                    vma.as_ptr(),
                    addr as c_ulong,
                    pages.as_mut_ptr(),
                    &mut left,
                )
            };
            to_result(ret)?;
            if left != 0 {
                pr_debug!("mmap failed: {} pages not inserted\n", left);
                return Err(EFAULT);
            }
            addr += chunk.len() << PAGE_SHIFT;
        }
        Ok(())
    }

    /// Checks a file position: `Some(offset)` inside the buffer, `None` at or past its end.
    fn start(&self, pos: i64) -> Result<Option<usize>> {
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        Ok((pos < self.size).then_some(pos))
    }

    /// Calls `copy(page, offset_in_page, len)` over `[start, start + len)` chunk by
    /// chunk, never crossing a page, and stops at the first short copy. Returns the
    /// bytes copied.
    fn for_each_chunk(
        &self,
        start: usize,
        len: usize,
        mut copy: impl FnMut(&Page, usize, usize) -> usize,
    ) -> usize {
        let mut done = 0;
        while done < len {
            let at = start + done;
            let offset = at % PAGE_SIZE;
            let chunk = min(PAGE_SIZE - offset, len - done);
            let copied = copy(&self.pages[at >> PAGE_SHIFT], offset, chunk);
            done += copied;
            if copied < chunk {
                break;
            }
        }
        done
    }

    /// Advances `*pos` by `done` of `want` bytes, or reports `EFAULT` if nothing moved.
    fn finish(&self, pos: &mut i64, want: usize, done: usize) -> Result<usize> {
        if done == 0 && want > 0 {
            return Err(EFAULT);
        }
        // Cannot overflow: `*pos + done <= size`, which fits an `i64`.
        *pos += done as i64;
        Ok(done)
    }
}
