// SPDX-License-Identifier: GPL-2.0

//! One device's buffer: zeroed pages with one contiguous kernel address, and
//! the lock over the driver's own access to them.
//!
//! The buffer is one [`VmallocPages`] allocation, so that `read()` and
//! `write()` are one copy each, like the classic `vmalloc` drivers, and the
//! fault handler (`mapping.rs`) inserts its pages by index.
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
    cmp::min,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

use crate::{
    mapping::PageSource,
    vmem::VmallocPages, //
};

/// The text the kernel leaves at offset 0 after load, NUL included.
const GREETING: &[u8] = b"hello world from kernel space\0";

/// Driver-side state that changes after load.
struct Inner {
    /// `MYMAP_IOC_CLEAR` calls since load.
    clears: u64,
}

/// A buffer of whole pages, shared by every file and mapping of one device.
#[pin_data]
pub(crate) struct Buffer {
    mem: VmallocPages,
    index: u32,
    devices: u32,
    /// Serialises the driver's reads and writes of the pages.
    #[pin]
    lock: Mutex<Inner>,
}

impl Buffer {
    /// Allocates `size` zeroed bytes (a non-zero multiple of `PAGE_SIZE`) for device `index`
    /// and writes the greeting at offset 0.
    pub(crate) fn new(index: u32, devices: u32, size: usize) -> Result<Arc<Self>> {
        let mem = VmallocPages::new(size)?;
        let len = min(GREETING.len(), size);
        // SAFETY: `GREETING` is valid for reading `len` bytes and `mem` for writing `size`
        // bytes; nothing else can see the new allocation yet.
        unsafe { core::ptr::copy_nonoverlapping(GREETING.as_ptr(), mem.as_ptr(), len) };
        Arc::pin_init(
            try_pin_init!(Self {
                mem,
                index,
                devices,
                lock <- new_mutex!(Inner { clears: 0 }, "mymap::Buffer::lock"),
            }),
            GFP_KERNEL,
        )
    }

    /// The buffer size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.mem.size()
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
        let want = min(iov.len(), self.size() - start);
        let guard = self.lock.lock();
        // SAFETY: `start + want <= size`, so the source lies inside the allocation, which
        // lives as long as `self`. `iov.as_raw()` is a valid destination iterator for the
        // duration of this call. `guard` is held, so no other driver write to the buffer
        // runs concurrently.
        let done = unsafe {
            bindings::_copy_to_iter(self.mem.as_ptr().add(start).cast(), want, iov.as_raw())
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
        let want = min(iov.len(), self.size() - start);
        let guard = self.lock.lock();
        // SAFETY: `start + want <= size`, so the destination lies inside the allocation,
        // which lives as long as `self`. `iov.as_raw()` is a valid source iterator for the
        // duration of this call. `guard` is held, so no other driver access to the buffer
        // runs concurrently.
        let done = unsafe {
            bindings::_copy_from_iter(self.mem.as_ptr().add(start).cast(), want, iov.as_raw())
        };
        drop(guard);
        self.finish(pos, want, done)
    }

    /// Zeroes the whole buffer.
    pub(crate) fn clear(&self) -> Result {
        let mut guard = self.lock.lock();
        // SAFETY: `mem` is valid for writing `size()` bytes. `guard` is held,
        // so no other driver access to the buffer runs concurrently; user stores through a
        // mapping may race, which the C `memset` tolerates as any shared-memory write does.
        unsafe { bindings::memset(self.mem.as_ptr().cast(), 0, self.size()) };
        guard.clears += 1;
        Ok(())
    }

    /// Checks a file position: `Some(offset)` inside the buffer, `None` at or past its end.
    fn start(&self, pos: i64) -> Result<Option<usize>> {
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        Ok((pos < self.size()).then_some(pos))
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

impl PageSource for Buffer {
    fn pages(&self, first: usize, count: usize) -> Option<&[NonNull<bindings::page>]> {
        self.mem.pages(first, count)
    }
}
