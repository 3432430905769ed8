// SPDX-License-Identifier: GPL-2.0

//! One device's buffer: zeroed pages with one contiguous kernel address, and
//! the lock over the driver's own access to them.
//!
//! The buffer is one `vmalloc` allocation: order-0 pages, each with its own
//! `struct page` (so that user mappings of them take page references, and
//! `O_DIRECT` I/O and `vmsplice` from a mapping pin them like any user page),
//! mapped contiguously in the kernel so that `read()` and `write()` are one
//! copy each, like the classic `vmalloc` drivers. The page pointers are looked
//! up once at load: the fault handler (`mapping.rs`) inserts them by index.
//!
//! Locks are taken in the order: `Buffer::lock`, then `mmap_lock` (or a VMA
//! lock), the latter only inside the core kernel when a user copy faults. The
//! fault handler runs with `mmap_lock` or the VMA lock held, so it never takes
//! `Buffer::lock`; it needs none, as the page array is fixed at load. A user
//! copy whose buffer is itself a mapping of this device therefore faults into
//! the driver while `Buffer::lock` is held, which is the order above.
//!
//! Userspace stores through a shared mapping race with everything, by the
//! nature of shared memory; they are plain byte stores into pages the kernel
//! only accesses through the C copy and fill routines, never through Rust
//! references. `Buffer::lock` makes the driver's own accesses (read, write,
//! clear) exclusive with each other, so a `read()` never sees half of a
//! `CLEAR`.

use core::{
    alloc::Layout,
    cmp::min,
    ptr::NonNull, //
};
use kernel::{
    alloc::{
        allocator::Vmalloc,
        Allocator,
        NumaNode, //
    },
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    new_mutex,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

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
/// - `base` is a `Vmalloc` allocation of `layout`, `layout.size() == size`, `size` is a
///   non-zero multiple of `PAGE_SIZE`, and the allocation lives until `drop`.
/// - `pages[i]` is the `struct page` behind `base + i * PAGE_SIZE`, for every page of the
///   allocation; neither `base` nor `pages` changes after `new`.
#[pin_data(PinnedDrop)]
pub(crate) struct Buffer {
    base: NonNull<u8>,
    layout: Layout,
    pages: KVec<NonNull<bindings::page>>,
    size: usize,
    index: u32,
    devices: u32,
    /// Serialises the driver's reads and writes of the pages.
    #[pin]
    lock: Mutex<Inner>,
}

// SAFETY: `base` and `pages` point to memory this buffer owns and never frees before `drop`;
// the bytes behind them are only accessed through the C copy and fill routines, from any
// thread, under `lock` for the driver's own accesses (see the module documentation). Sending
// or sharing the owner between threads is therefore as safe as for a `VVec<u8>`.
unsafe impl Send for Buffer {}
// SAFETY: see `Send`; every method takes `&self` and mutates nothing but through `lock`.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Allocates `size` zeroed bytes (a non-zero multiple of `PAGE_SIZE`) for device `index`
    /// and writes the greeting at offset 0.
    pub(crate) fn new(index: u32, devices: u32, size: usize) -> Result<Arc<Self>> {
        let layout = Layout::from_size_align(size, PAGE_SIZE).map_err(|_| EINVAL)?;
        // `__GFP_ZERO`: no stale kernel memory ever reaches userspace.
        let base = Vmalloc::alloc(layout, GFP_KERNEL | __GFP_ZERO, NumaNode::NO_NODE)?.cast::<u8>();
        let pages = match Self::page_array(base, size) {
            Ok(pages) => pages,
            Err(e) => {
                // SAFETY: `base` was allocated above with `layout` and never shared.
                unsafe { Vmalloc::free(base, layout) };
                return Err(e);
            }
        };
        let len = min(GREETING.len(), size);
        // SAFETY: `GREETING` is valid for reading `len` bytes and `base` for writing `size`
        // bytes; nothing else can see the new allocation yet.
        unsafe { core::ptr::copy_nonoverlapping(GREETING.as_ptr(), base.as_ptr(), len) };
        // INVARIANT: `base` is the allocation of `layout` (`size` bytes), `pages` its pages
        // in order; both are moved in and no method replaces them.
        let buffer = Arc::pin_init(
            try_pin_init!(Self {
                base,
                layout,
                pages,
                size,
                index,
                devices,
                lock <- new_mutex!(Inner { clears: 0 }, "mymap::Buffer::lock"),
            }),
            GFP_KERNEL,
        );
        if buffer.is_err() {
            // Only the allocation of the `Arc` can fail, before anything takes ownership.
            // SAFETY: `base` was allocated above with `layout`; nothing else refers to it.
            unsafe { Vmalloc::free(base, layout) };
        }
        buffer
    }

    /// Looks up the `struct page` behind each page of the allocation at `base`.
    fn page_array(base: NonNull<u8>, size: usize) -> Result<KVec<NonNull<bindings::page>>> {
        let mut pages = KVec::with_capacity(size >> PAGE_SHIFT, GFP_KERNEL)?;
        for offset in (0..size).step_by(PAGE_SIZE) {
            // SAFETY: `base + offset` lies inside the `Vmalloc` allocation of `size` bytes
            // at `base` (caller's argument), which outlives the borrowed page used here.
            let page = unsafe { Vmalloc::to_page(base.add(offset)) };
            let page = NonNull::new(page.as_ptr()).ok_or(EINVAL)?;
            pages.push(page, GFP_KERNEL)?;
        }
        Ok(pages)
    }

    /// The buffer size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The pages `first .. first + count`, or `None` if that range is not inside the buffer.
    pub(crate) fn pages(&self, first: usize, count: usize) -> Option<&[NonNull<bindings::page>]> {
        let end = first.checked_add(count)?;
        self.pages.get(first..end)
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
        // SAFETY: `start + want <= size`, so the source lies inside the allocation, which
        // lives as long as `self`. `iov.as_raw()` is a valid destination iterator for the
        // duration of this call. `guard` is held, so no other driver write to the buffer
        // runs concurrently.
        let done = unsafe {
            bindings::_copy_to_iter(self.base.as_ptr().add(start).cast(), want, iov.as_raw())
        };
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
        // SAFETY: `start + want <= size`, so the destination lies inside the allocation,
        // which lives as long as `self`. `iov.as_raw()` is a valid source iterator for the
        // duration of this call. `guard` is held, so no other driver access to the buffer
        // runs concurrently.
        let done = unsafe {
            bindings::_copy_from_iter(self.base.as_ptr().add(start).cast(), want, iov.as_raw())
        };
        drop(guard);
        self.finish(pos, want, done)
    }

    /// Zeroes the whole buffer.
    pub(crate) fn clear(&self) -> Result {
        let mut guard = self.lock.lock();
        // SAFETY: `base` is valid for writing `size` bytes (type invariant). `guard` is held,
        // so no other driver access to the buffer runs concurrently; user stores through a
        // mapping may race, which the C `memset` tolerates as any shared-memory write does.
        unsafe { bindings::memset(self.base.as_ptr().cast(), 0, self.size) };
        guard.clears += 1;
        Ok(())
    }

    /// Checks a file position: `Some(offset)` inside the buffer, `None` at or past its end.
    fn start(&self, pos: i64) -> Result<Option<usize>> {
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        Ok((pos < self.size).then_some(pos))
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

#[pinned_drop]
impl PinnedDrop for Buffer {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `base` is the `Vmalloc` allocation of `layout` (type invariant), freed only
        // here. The buffer is dropped when its last `Arc` goes: the device is deregistered and
        // every file is released, and every mapping holds its file, so no mapping is left.
        // Pages still referenced elsewhere (a page pinned by an unfinished `O_DIRECT`) keep
        // their own reference: `vfree` drops only the allocation's.
        unsafe { Vmalloc::free(self.base, self.layout) };
    }
}
