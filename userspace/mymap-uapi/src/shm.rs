// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Shared mappings of a mymap buffer, accessed through raw pointers only.
//!
//! The pages of a `MAP_SHARED` mapping of /dev/mymap are the driver's buffer
//! itself: the kernel (`write`, `MYMAP_IOC_CLEAR`) and every other process that
//! maps or writes the device change them at any moment, without telling us.
//! A `&[u8]` over them would promise the compiler that the bytes do not change
//! while it lives, which nobody can keep. So no reference to the mapped bytes
//! is ever made: [`SharedMap::read`] and [`SharedMapMut::write`] copy in and
//! out with volatile accesses, which the compiler may not elide, merge or
//! replay. A copy made while someone else writes may mix old and new bytes;
//! callers that need a consistent view compare two copies.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use memmap2::{MmapOptions, MmapRaw};

use crate::ioctl;

/// A read-only `MAP_SHARED` mapping of part of a mymap buffer.
///
/// # Invariants
///
/// `raw` maps `raw.len() > 0` bytes of a mymap device, all inside its buffer. The driver
/// inserts every page when the mapping is made (it has no fault handler), refuses
/// mappings that reach past the buffer, forbids growing them with `mremap`, and its
/// pages live as long as any mapping holds them; the buffer size is fixed at load. So
/// every byte of `[raw.as_ptr(), raw.as_ptr() + raw.len())` can be read without
/// trapping until `raw` is dropped, which unmaps it. (With the `simulator` feature, `raw`
/// may instead map a `SimBuffer`'s memfd, inside its size, which seals fix.)
#[derive(Debug)]
pub struct SharedMap {
    raw: MmapRaw,
}

/// A read-write `MAP_SHARED` mapping of part of a mymap buffer.
///
/// # Invariants
///
/// As for [`SharedMap`], and the mapping is writable.
#[derive(Debug)]
pub struct SharedMapMut {
    map: SharedMap,
}

impl SharedMap {
    /// Maps `len` bytes of the mymap device open as `file`, starting at byte `offset`,
    /// read-only and shared.
    ///
    /// Asks the device for its size first (`MYMAP_IOC_INFO`, never the file metadata: a
    /// character device reports a size of 0). Fails with `InvalidInput` unless `len > 0`,
    /// `offset` is a multiple of the page size and `offset + len` is inside the buffer,
    /// and with the ioctl's error (normally `ENOTTY`) if `file` is not a mymap device.
    pub fn map(file: &File, offset: u64, len: usize) -> io::Result<Self> {
        let raw = checked_options(file, offset, len)?.map_raw_read_only(file)?;
        // INVARIANT: `checked_options` proved that `file` is a mymap device and that the
        // non-empty range lies inside its buffer.
        Ok(Self { raw })
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Always false: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Copies the mapped bytes from `pos` into `buf`, as many as both have room for.
    ///
    /// Returns the number of bytes copied: 0 when `pos` is at or past the end.
    pub fn read(&self, pos: usize, buf: &mut [u8]) -> usize {
        let count = span(self.len(), pos, buf.len());
        let base = self.raw.as_ptr();
        for (i, byte) in buf[..count].iter_mut().enumerate() {
            // SAFETY: `pos + i < self.len()` (`span`), so the address is inside the
            // mapping, which by the type invariant can be read without trapping while
            // `self` lives. The mapping is memory outside every Rust allocation that the
            // kernel and other processes write at will, so it is read like I/O memory: one
            // volatile byte load, never through a reference. Any byte value is a valid `u8`.
            *byte = unsafe { base.add(pos + i).read_volatile() };
        }
        count
    }
}

impl SharedMapMut {
    /// Maps `len` bytes of the mymap device open as `file`, starting at byte `offset`,
    /// readable, writable and shared. `file` must be open for reading and writing.
    ///
    /// Fails as [`SharedMap::map`] does, and with `EACCES` for a file open read-only.
    pub fn map(file: &File, offset: u64, len: usize) -> io::Result<Self> {
        let raw = checked_options(file, offset, len)?.map_raw(file)?;
        // INVARIANT: as in `SharedMap::map`; `map_raw` maps with `PROT_READ | PROT_WRITE`.
        Ok(Self {
            map: SharedMap { raw },
        })
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Copies the mapped bytes from `pos` into `buf`, as [`SharedMap::read`] does.
    pub fn read(&self, pos: usize, buf: &mut [u8]) -> usize {
        self.map.read(pos, buf)
    }

    /// Copies `data` into the mapping at `pos`, as much as fits.
    ///
    /// Returns the number of bytes copied: 0 when `pos` is at or past the end. The bytes
    /// are visible at once to the kernel and to every other mapping of the buffer.
    pub fn write(&self, pos: usize, data: &[u8]) -> usize {
        let count = span(self.len(), pos, data.len());
        let base = self.map.raw.as_mut_ptr();
        for (i, &byte) in data[..count].iter().enumerate() {
            // SAFETY: `pos + i < self.len()` (`span`), so the address is inside the
            // mapping, which by the type invariant is mapped writable while `self` lives.
            // Nothing in this process holds a reference to the mapped bytes (they are only
            // ever accessed through this module's raw pointers), so the store invalidates
            // no Rust value; it is one volatile byte store, as to I/O memory.
            unsafe { base.add(pos + i).write_volatile(byte) };
        }
        count
    }
}

/// Checks that `file` is a mymap device and that `[offset, offset + len)` is a non-empty,
/// page-aligned range inside its buffer, and returns the options that map it.
fn checked_options(file: &File, offset: u64, len: usize) -> io::Result<MmapOptions> {
    let info = ioctl::info(file.as_fd())?;
    checked_range(offset, len, info.page_size, info.size)
}

/// Checks that `[offset, offset + len)` is a non-empty range that starts at a multiple of
/// `page_size` and ends within `size` bytes, and returns the options that map it.
fn checked_range(offset: u64, len: usize, page_size: u32, size: u64) -> io::Result<MmapOptions> {
    let page_size = u64::from(page_size);
    let end = u64::try_from(len)
        .ok()
        .and_then(|len| offset.checked_add(len));
    let aligned = page_size != 0 && offset % page_size == 0;
    if len == 0 || !aligned || end.is_none_or(|end| end > size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot map {len} bytes at offset {offset}: the range must be non-empty, start \
                 at a multiple of {page_size} and end within {size} bytes"
            ),
        ));
    }
    let mut options = MmapOptions::new();
    options.offset(offset).len(len);
    Ok(options)
}

#[cfg(feature = "simulator")]
pub use sim::{SimBuffer, GREETING};

#[cfg(feature = "simulator")]
mod sim {
    //! A device's buffer without the driver, for trying and testing programs on any host.

    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicU64, Ordering};

    use memmap2::MmapOptions;
    use nix::fcntl::{fcntl, FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MFdFlags};
    use nix::unistd::{sysconf, SysconfVar};

    use super::{SharedMap, SharedMapMut};
    use crate::{mymap_info, MYMAP_ABI_VERSION, MYMAP_MAX_SIZE};

    /// The text the driver leaves at offset 0 of a buffer when it loads, NUL included
    /// (`driver/buffer.rs`), which [`SimBuffer::new`] writes too.
    pub const GREETING: &[u8] = b"hello world from kernel space\0";

    /// A stand-in for a mymap device's buffer: `size` bytes of memory in a memfd, sealed
    /// so that its size never changes, as a device's buffer never does.
    ///
    /// It plays the driver's part for what a device file does without the driver's own
    /// code: `pread`/`pwrite` on [`SimBuffer::file`], [`SharedMap::map_simulated`] and
    /// [`SharedMapMut::map_simulated`] for mappings that share its pages,
    /// [`SimBuffer::info`] for `MYMAP_IOC_INFO` and [`SimBuffer::clear`] for
    /// `MYMAP_IOC_CLEAR`.
    ///
    /// ```
    /// use mymap_uapi::{SharedMap, SimBuffer, GREETING};
    ///
    /// let buffer = SimBuffer::new(65536)?;
    /// let map = SharedMap::map_simulated(&buffer, 0, 65536)?;
    /// let mut start = vec![0; GREETING.len()];
    /// map.read(0, &mut start);
    /// assert_eq!(start, GREETING);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug)]
    pub struct SimBuffer {
        /// A memfd of `size` bytes with `F_SEAL_SHRINK`, `F_SEAL_GROW` and `F_SEAL_SEAL`.
        file: File,
        size: u64,
        page_size: u32,
        clears: AtomicU64,
    }

    impl SimBuffer {
        /// A buffer of `size` bytes, a non-zero multiple of the page size no larger than
        /// `MYMAP_MAX_SIZE`, zeroed but for [`GREETING`] at offset 0.
        pub fn new(size: u64) -> io::Result<Self> {
            let page_size = sysconf(SysconfVar::PAGE_SIZE)?
                .and_then(|page| u32::try_from(page).ok())
                .ok_or_else(|| io::Error::other("sysconf(_SC_PAGE_SIZE) gave no page size"))?;
            if size == 0 || size % u64::from(page_size) != 0 || size > u64::from(MYMAP_MAX_SIZE) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "a simulated buffer of {size} bytes: the size must be a non-zero \
                         multiple of the page size {page_size}, at most {MYMAP_MAX_SIZE}"
                    ),
                ));
            }
            let fd = memfd_create(
                "mymap-simulated",
                MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
            )?;
            let file = File::from(fd);
            file.set_len(size)?;
            file.write_all_at(GREETING, 0)?;
            // From here on nothing can change the size: a mapping inside it never faults.
            fcntl(
                &file,
                FcntlArg::F_ADD_SEALS(
                    SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL,
                ),
            )?;
            Ok(SimBuffer {
                file,
                size,
                page_size,
                clears: AtomicU64::new(0),
            })
        }

        /// The memfd, for `pread` and `pwrite`: its size is sealed, so no one can change it.
        pub fn file(&self) -> &File {
            &self.file
        }

        /// What `MYMAP_IOC_INFO` would say: device 0 of 1, this ABI version, the host's
        /// page size, the size and the clears so far.
        pub fn info(&self) -> mymap_info {
            mymap_info {
                abi_version: MYMAP_ABI_VERSION,
                page_size: self.page_size,
                size: self.size,
                index: 0,
                devices: 1,
                max_size: u64::from(MYMAP_MAX_SIZE),
                clears: self.clears.load(Ordering::Relaxed),
            }
        }

        /// Zeroes the whole buffer and counts the clear, as `MYMAP_IOC_CLEAR` does.
        pub fn clear(&self) -> io::Result<()> {
            let zeros = vec![0; self.size as usize];
            self.file.write_all_at(&zeros, 0)?;
            self.clears.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }

        /// The options that map `[offset, offset + len)`, after the checks of the driver's
        /// `mmap`.
        fn options(&self, offset: u64, len: usize) -> io::Result<MmapOptions> {
            super::checked_range(offset, len, self.page_size, self.size)
        }
    }

    impl SharedMap {
        /// Maps `len` bytes of `buffer` from `offset`, read-only and shared, with the
        /// checks of [`SharedMap::map`].
        pub fn map_simulated(buffer: &SimBuffer, offset: u64, len: usize) -> io::Result<Self> {
            let raw = buffer
                .options(offset, len)?
                .map_raw_read_only(&buffer.file)?;
            // INVARIANT: the non-empty range lies inside the memfd's size, which its seals
            // keep from shrinking while the mapping lives.
            Ok(Self { raw })
        }
    }

    impl SharedMapMut {
        /// Maps `len` bytes of `buffer` from `offset`, readable, writable and shared, with
        /// the checks of [`SharedMap::map`].
        pub fn map_simulated(buffer: &SimBuffer, offset: u64, len: usize) -> io::Result<Self> {
            let raw = buffer.options(offset, len)?.map_raw(&buffer.file)?;
            // INVARIANT: as in `SharedMap::map_simulated`, and mapped writable.
            Ok(Self {
                map: SharedMap { raw },
            })
        }
    }
}

/// How many bytes a copy at `pos` of at most `want` bytes moves in a mapping of `len` bytes.
fn span(len: usize, pos: usize, want: usize) -> usize {
    len.saturating_sub(pos).min(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_stops_at_the_end_of_the_mapping() {
        assert_eq!(span(4096, 0, 10), 10);
        assert_eq!(span(4096, 4090, 10), 6);
        assert_eq!(span(4096, 4096, 10), 0);
        assert_eq!(span(4096, usize::MAX, 10), 0);
        assert_eq!(span(4096, 0, 0), 0);
    }

    #[test]
    fn mapping_a_file_that_is_not_mymap_fails_before_mmap() {
        let file = File::open("/dev/zero").expect("open /dev/zero");
        let err = SharedMap::map(&file, 0, 4096).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOTTY));
    }
}
