// SPDX-License-Identifier: GPL-2.0

//! Zeroed `vmalloc` memory and the `struct page` behind each of its pages.
//!
//! Both a buffer (`buffer.rs`) and a ring (`ring.rs`) are one such
//! allocation: order-0 pages, each with its own `struct page` (so that user
//! mappings take page references, and `O_DIRECT` and `vmsplice` pin them
//! like any user page), mapped contiguously in the kernel so that the driver
//! reaches every byte through one address. The page pointers are looked up
//! once, at allocation: the fault handler (`mapping.rs`) inserts them by
//! index and never needs a lock.

use core::{
    alloc::Layout,
    ptr::NonNull, //
};
use kernel::{
    alloc::{
        allocator::Vmalloc,
        Allocator,
        NumaNode, //
    },
    bindings,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
};

/// Whole zeroed pages at one kernel address.
///
/// # Invariants
///
/// - `base` is a `Vmalloc` allocation of `layout`, `layout.size()` is a non-zero multiple of
///   `PAGE_SIZE`, and the allocation lives until `drop`.
/// - `pages[i]` is the `struct page` behind `base + i * PAGE_SIZE`, for every page of the
///   allocation; neither `base` nor `pages` changes after `new`.
pub(crate) struct VmallocPages {
    base: NonNull<u8>,
    layout: Layout,
    pages: KVec<NonNull<bindings::page>>,
}

// SAFETY: `base` and `pages` point to memory this value owns and never frees before `drop`;
// the bytes behind them are only accessed through raw pointers by the owners' methods, each
// with its own synchronisation, so moving the owner to another thread is as safe as for a
// `VVec<u8>`.
unsafe impl Send for VmallocPages {}
// SAFETY: see `Send`; no method takes `&mut self` or writes through `&self`.
unsafe impl Sync for VmallocPages {}

impl VmallocPages {
    /// Allocates `size` zeroed bytes, a non-zero multiple of `PAGE_SIZE`.
    pub(crate) fn new(size: usize) -> Result<Self> {
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let layout = Layout::from_size_align(size, PAGE_SIZE).map_err(|_| EINVAL)?;
        // `__GFP_ZERO`: no stale kernel memory ever reaches userspace.
        let base = Vmalloc::alloc(layout, GFP_KERNEL | __GFP_ZERO, NumaNode::NO_NODE)?.cast::<u8>();
        match Self::page_array(base, size) {
            // INVARIANT: `base` is the allocation of `layout`, `pages` its pages in order.
            Ok(pages) => Ok(Self {
                base,
                layout,
                pages,
            }),
            Err(e) => {
                // SAFETY: `base` was allocated above with `layout` and never shared.
                unsafe { Vmalloc::free(base, layout) };
                Err(e)
            }
        }
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

    /// The size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.layout.size()
    }

    /// The first byte. Valid for `size()` bytes until `self` is dropped.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The pages `first .. first + count`, or `None` if that range is not inside.
    pub(crate) fn pages(&self, first: usize, count: usize) -> Option<&[NonNull<bindings::page>]> {
        let end = first.checked_add(count)?;
        self.pages.get(first..end)
    }
}

impl Drop for VmallocPages {
    fn drop(&mut self) {
        // SAFETY: `base` is the `Vmalloc` allocation of `layout` (type invariant), freed only
        // here. The owner is dropped after every file and so every mapping of it is gone.
        // Pages still referenced elsewhere (a page pinned by an unfinished `O_DIRECT`) keep
        // their own reference: `vfree` drops only the allocation's.
        unsafe { Vmalloc::free(self.base, self.layout) };
    }
}
