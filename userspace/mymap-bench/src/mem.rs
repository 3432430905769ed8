// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Mappings of the device and of anonymous memory, made with the raw system
//! call, and the loops the measurements time over them.
//!
//! This is the crate's only `unsafe`. The comparisons need mappings made
//! exactly as they say (`MAP_SHARED` of the device, `MAP_POPULATE` of
//! anonymous memory) and loops over raw pages with no copy in between, which
//! the library's safe, copying accessors would hide. Nothing here forms a
//! reference to memory that another process or the kernel writes meanwhile:
//! the bench loads the module itself and is the device's only user while it
//! runs, and the anonymous mappings are private to it.

use std::{
    fs::File,
    hint::black_box,
    io,
    os::fd::AsRawFd,
    ptr::{
        self,
        NonNull, //
    },
};

/// A mapping, unmapped on drop. Not `Send`: one thread makes and uses it.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// `len` bytes of the device open as `file`, from offset 0, shared and writable.
    pub fn device(file: &File, len: usize) -> io::Result<Self> {
        Self::map(len, libc::MAP_SHARED, file.as_raw_fd())
    }

    /// `len` bytes of private anonymous memory; with `populate`, every page is
    /// allocated (and zeroed) before `mmap` returns, as `MAP_POPULATE` does.
    pub fn anonymous(len: usize, populate: bool) -> io::Result<Self> {
        let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        if populate {
            flags |= libc::MAP_POPULATE;
        }
        Self::map(len, flags, -1)
    }

    fn map(len: usize, flags: i32, fd: i32) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: no address hint and no `MAP_FIXED`, so the kernel picks a free range
        // and no existing mapping is replaced; a bad `fd` or length only fails the call.
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(addr.cast()).ok_or_else(|| io::Error::other("mmap gave NULL"))?;
        Ok(Mapping { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores one byte at the start of every page: the first write each page sees
    /// through this mapping.
    pub fn touch_write(&self, page: usize) {
        for offset in (0..self.len).step_by(page) {
            // SAFETY: `offset < len`, inside the mapping, which is writable. A volatile
            // store is one real store per page, never merged or dropped.
            unsafe { self.ptr.as_ptr().add(offset).write_volatile(1) };
        }
    }

    /// Loads one byte from the start of every page; returns their XOR so the loads
    /// have a use.
    pub fn touch_read(&self, page: usize) -> u8 {
        let mut acc = 0;
        for offset in (0..self.len).step_by(page) {
            // SAFETY: `offset < len`, inside the mapping, which is readable.
            acc ^= unsafe { self.ptr.as_ptr().add(offset).read_volatile() };
        }
        acc
    }

    /// Sets every byte to `byte`.
    pub fn fill(&self, byte: u8) {
        // SAFETY: the whole mapping is writable, and nobody else accesses it meanwhile
        // (see the module's documentation).
        unsafe { ptr::write_bytes(self.ptr.as_ptr(), byte, self.len) };
    }

    /// The wrapping sum of the mapping as `u64` words: a plain read of every byte,
    /// in the shape an optimising compiler gives any scan (wide, unrolled loads).
    pub fn sum(&self) -> u64 {
        // SAFETY: the mapping is page aligned, so aligned for `u64`, and readable for
        // `len` bytes until `self` is dropped, which the borrow prevents. Nobody writes
        // it while the slice lives (see the module's documentation), and every bit
        // pattern is a valid `u64`.
        let words =
            unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u64>(), self.len / 8) };
        words.iter().fold(0u64, |acc, &w| acc.wrapping_add(w))
    }

    /// `memcpy`s `len` bytes from `offset` of this mapping to `dst_offset` of `dst`.
    pub fn copy_to(&self, offset: usize, dst: &Mapping, dst_offset: usize, len: usize) {
        assert!(offset <= self.len && len <= self.len - offset);
        assert!(dst_offset <= dst.len && len <= dst.len - dst_offset);
        // SAFETY: the source range is inside this mapping, the destination range inside
        // `dst`, a different mapping, so they do not overlap; `dst` is writable.
        unsafe {
            ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                dst.ptr.as_ptr().add(dst_offset),
                len,
            )
        };
        // The destination is overwritten by the next copy before anything reads it;
        // this keeps the compiler from dropping the copy as a dead store.
        black_box(dst.ptr);
    }

    /// One `read(2)` from `file` at its position into the start of this mapping.
    pub fn read_from(&self, file: &File, len: usize) -> io::Result<usize> {
        assert!(len <= self.len);
        // SAFETY: the kernel writes at most `len` bytes at `ptr`, inside this writable
        // mapping; no Rust reference to those bytes exists during the call.
        let n = unsafe { libc::read(file.as_raw_fd(), self.ptr.as_ptr().cast(), len) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// One `write(2)` to `file` at its position from the start of this mapping.
    pub fn write_into(&self, file: &File, len: usize) -> io::Result<usize> {
        assert!(len <= self.len);
        // SAFETY: the kernel reads at most `len` bytes at `ptr`, inside this readable
        // mapping, which nothing writes during the call.
        let n = unsafe { libc::write(file.as_raw_fd(), self.ptr.as_ptr().cast(), len) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what `mmap` returned and was given, and
        // nothing borrowed from the mapping outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The system's page size.
pub fn page_size() -> usize {
    // SAFETY: `sysconf` has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_memory_is_filled_summed_touched_and_copied() {
        let page = page_size();
        let a = Mapping::anonymous(4 * page, true).unwrap();
        assert_eq!(a.sum(), 0);
        a.fill(1);
        let ones = |bytes: usize| (bytes as u64 / 8).wrapping_mul(0x0101_0101_0101_0101);
        assert_eq!(a.sum(), ones(4 * page));
        assert_eq!(a.touch_read(page), 0, "four pages of 1s XOR to 0");
        a.touch_write(page);
        let b = Mapping::anonymous(2 * page, false).unwrap();
        a.copy_to(page, &b, page, page);
        assert_eq!(b.sum(), ones(page));
        assert!(Mapping::anonymous(0, false).is_err());
    }

    #[test]
    fn read_from_a_file_lands_in_the_mapping() {
        let file = File::open("/proc/self/cmdline").unwrap();
        let m = Mapping::anonymous(page_size(), false).unwrap();
        let n = m.read_from(&file, 16).unwrap();
        assert!(n > 0 && n <= 16);
        assert_ne!(m.sum(), 0);
    }

    #[test]
    fn write_into_a_file_sends_the_mapping() {
        let m = Mapping::anonymous(page_size(), false).unwrap();
        m.fill(b'x');
        let file = File::options().write(true).open("/dev/null").unwrap();
        assert_eq!(m.write_into(&file, 16).unwrap(), 16);
    }
}
