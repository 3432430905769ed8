// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! An open mymap device.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use mymap_uapi::{SharedMap, SharedMapMut};

use crate::error::{Call, Error};
use crate::info::{Info, ABI_VERSION};
use crate::mapping::{Mapping, MappingMut};
use crate::range::{self, Refusal};

/// A specialised `Result` for mymap operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An open mymap device: /dev/mymap or /dev/mymapN.
///
/// The buffer size never changes after the module is loaded, so the geometry read at
/// open ([`Device::size`], [`Device::page_size`]) stays true; [`Device::info`] asks again
/// for the counters.
///
/// ```no_run
/// let dev = mymap::Device::open("/dev/mymap")?;
/// let mut greeting = [0u8; 29];
/// dev.read_at(0, &mut greeting)?;
/// assert_eq!(&greeting, b"hello world from kernel space");
/// # Ok::<(), mymap::Error>(())
/// ```
#[derive(Debug)]
pub struct Device {
    backend: Backend,
    path: PathBuf,
    writable: bool,
    page_size: u32,
    size: u64,
}

/// What is behind a [`Device`].
#[derive(Debug)]
enum Backend {
    /// A device node, open.
    Node(File),
    /// A buffer in memory that plays the driver's part ([`Device::simulated`]).
    #[cfg(feature = "simulator")]
    Sim(mymap_uapi::SimBuffer),
}

impl Backend {
    /// The file `pread` and `pwrite` go to.
    fn file(&self) -> &File {
        match self {
            Backend::Node(file) => file,
            #[cfg(feature = "simulator")]
            Backend::Sim(buffer) => buffer.file(),
        }
    }
}

impl Device {
    /// Opens the device at `path` for reading and writing, and checks that it is a mymap
    /// device of the ABI version this library speaks.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), true)
    }

    /// Opens the device at `path` for reading only: enough for [`Device::info`],
    /// [`Device::read_at`] and [`Device::map`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), false)
    }

    fn open_with(path: &Path, writable: bool) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|err| Error::from_io(path, Call::Open, err))?;
        let info = query(&file, path)?;
        if info.abi_version != ABI_VERSION {
            return Err(Error::AbiMismatch {
                path: path.into(),
                driver: info.abi_version,
                expected: ABI_VERSION,
            });
        }
        if !range::geometry_is_usable(info.page_size, info.size) {
            return Err(Error::BadInfo {
                path: path.into(),
                page_size: info.page_size,
                size: info.size,
            });
        }
        Ok(Device {
            backend: Backend::Node(file),
            path: path.into(),
            writable,
            page_size: info.page_size,
            size: info.size,
        })
    }

    /// A device without the driver, opened read-write: a buffer of the driver's default
    /// size, `MYMAP_DEFAULT_SIZE` (64 KiB), in memory of this process, that starts with the
    /// greeting the driver writes when it loads. Needs the `simulator` feature.
    ///
    /// Everything works on it as on `/dev/mymap`, with the same checks: [`Device::info`]
    /// (device 0 of 1, the host's page size), [`Device::clear`], reads and writes
    /// (`pread`/`pwrite` on a memfd), and [`Device::map`] and [`Device::map_mut`], which
    /// share its pages as mappings of the device share the driver's. Its
    /// [`Device::path`] is `simulated`. Other processes do not see it.
    ///
    /// ```
    /// # #[cfg(feature = "simulator")]
    /// # {
    /// let dev = mymap::Device::simulated()?;
    /// let mut greeting = [0u8; 29];
    /// dev.read_at(0, &mut greeting)?;
    /// assert_eq!(&greeting, b"hello world from kernel space");
    /// assert_eq!(dev.info()?.size, 65536);
    /// # }
    /// # Ok::<(), mymap::Error>(())
    /// ```
    #[cfg(feature = "simulator")]
    pub fn simulated() -> Result<Self> {
        let path = Path::new("simulated");
        let size = u64::from(mymap_uapi::MYMAP_DEFAULT_SIZE);
        let buffer = mymap_uapi::SimBuffer::new(size)
            .map_err(|err| Error::from_io(path, Call::Open, err))?;
        let info = buffer.info();
        Ok(Device {
            backend: Backend::Sim(buffer),
            path: path.into(),
            writable: true,
            page_size: info.page_size,
            size: info.size,
        })
    }

    /// The path the device was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The buffer size in bytes (from `MYMAP_IOC_INFO`: a character device's file size
    /// is 0).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The kernel page size: mappings start at a multiple of it.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Whether the device was opened for writing ([`Device::open`]).
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Asks the driver for its current [`Info`] (`MYMAP_IOC_INFO`).
    pub fn info(&self) -> Result<Info> {
        match &self.backend {
            Backend::Node(file) => query(file, &self.path),
            #[cfg(feature = "simulator")]
            Backend::Sim(buffer) => Ok(buffer.info().into()),
        }
    }

    /// Zeroes the whole buffer (`MYMAP_IOC_CLEAR`). Needs [`Device::open`].
    pub fn clear(&self) -> Result<()> {
        self.need_writable(Call::Clear)?;
        let cleared = match &self.backend {
            Backend::Node(file) => mymap_uapi::clear(file.as_fd()),
            #[cfg(feature = "simulator")]
            Backend::Sim(buffer) => buffer.clear(),
        };
        cleared.map_err(|err| self.fail(Call::Clear, err))
    }

    /// Fails unless `[offset, offset + len)` lies inside the buffer.
    pub fn check_range(&self, offset: u64, len: usize) -> Result<()> {
        range::check_range(offset, len as u64, self.size)
            .map_err(|refusal| self.refuse(refusal, offset, len))
    }

    /// Fills `buf` from the buffer at `offset` with `pread(2)`.
    ///
    /// Fails without reading if the range is not inside the buffer.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        self.backend
            .file()
            .read_exact_at(buf, offset)
            .map_err(|err| self.fail(Call::Read, err))
    }

    /// Reads `len` bytes at `offset` with `pread(2)` into a new vector.
    pub fn read_vec(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        self.check_range(offset, len)?;
        let mut buf = vec![0; len];
        self.read_at(offset, &mut buf)?;
        Ok(buf)
    }

    /// Writes all of `data` into the buffer at `offset` with `pwrite(2)`. Needs
    /// [`Device::open`].
    ///
    /// Fails without writing if the range is not inside the buffer.
    pub fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.need_writable(Call::Write)?;
        self.check_range(offset, data.len())?;
        self.backend
            .file()
            .write_all_at(data, offset)
            .map_err(|err| self.fail(Call::Write, err))
    }

    /// Maps `len` bytes from `offset` read-only and shared: the mapping sees every change
    /// the kernel and other processes make.
    ///
    /// `offset` must be a multiple of [`Device::page_size`] and the range must be
    /// non-empty and inside the buffer.
    ///
    /// On the device, `Device::open_read_only("/dev/mymap")` instead of the simulated one:
    ///
    /// ```
    /// # #[cfg(feature = "simulator")]
    /// # {
    /// let dev = mymap::Device::simulated()?;
    /// let map = dev.map(0, dev.size() as usize)?;
    /// let bytes = map.snapshot();
    /// let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    /// assert_eq!(text, b"hello world from kernel space");
    ///
    /// // The mapping shares the buffer: a write through the file shows in it at once.
    /// dev.write_at(0, b"HELLO")?;
    /// let mut now = [0u8; 11];
    /// map.copy_to(&mut now);
    /// assert_eq!(&now, b"HELLO world");
    ///
    /// // Mappings start on a page boundary.
    /// assert!(matches!(dev.map(1, 4096), Err(mymap::Error::Unaligned { .. })));
    /// # }
    /// # Ok::<(), mymap::Error>(())
    /// ```
    pub fn map(&self, offset: u64, len: usize) -> Result<Mapping> {
        self.check_mapping(offset, len)?;
        let map = match &self.backend {
            Backend::Node(file) => SharedMap::map(file, offset, len),
            #[cfg(feature = "simulator")]
            Backend::Sim(buffer) => SharedMap::map_simulated(buffer, offset, len),
        };
        let map = map.map_err(|err| self.fail(Call::Mmap, err))?;
        Ok(Mapping::new(map, offset))
    }

    /// Maps `len` bytes from `offset` readable, writable and shared. Needs
    /// [`Device::open`]; the range rules of [`Device::map`] apply.
    ///
    /// On the device, `Device::open("/dev/mymap")` instead of the simulated one:
    ///
    /// ```
    /// # #[cfg(feature = "simulator")]
    /// # {
    /// let dev = mymap::Device::simulated()?;
    /// let page = u64::from(dev.page_size());
    /// let map = dev.map_mut(page, page as usize)?;
    /// map.write_at(0, b"from userspace\0");
    /// assert_eq!(dev.read_vec(page, 15)?, b"from userspace\0");
    /// # }
    /// # Ok::<(), mymap::Error>(())
    /// ```
    pub fn map_mut(&self, offset: u64, len: usize) -> Result<MappingMut> {
        self.need_writable(Call::Mmap)?;
        self.check_mapping(offset, len)?;
        let map = match &self.backend {
            Backend::Node(file) => SharedMapMut::map(file, offset, len),
            #[cfg(feature = "simulator")]
            Backend::Sim(buffer) => SharedMapMut::map_simulated(buffer, offset, len),
        };
        let map = map.map_err(|err| self.fail(Call::Mmap, err))?;
        Ok(MappingMut::new(map, offset))
    }

    fn check_mapping(&self, offset: u64, len: usize) -> Result<()> {
        range::check_mapping(offset, len as u64, self.size, self.page_size)
            .map_err(|refusal| self.refuse(refusal, offset, len))
    }

    fn need_writable(&self, call: Call) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::ReadOnly {
                path: self.path.clone(),
                call,
            })
        }
    }

    fn fail(&self, call: Call, err: std::io::Error) -> Error {
        Error::from_io(&self.path, call, err)
    }

    fn refuse(&self, refusal: Refusal, offset: u64, len: usize) -> Error {
        let path = self.path.clone();
        match refusal {
            Refusal::OutOfRange => Error::OutOfRange {
                path,
                offset,
                len: len as u64,
                size: self.size,
            },
            Refusal::Unaligned => Error::Unaligned {
                path,
                offset,
                page_size: self.page_size,
            },
        }
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.backend.file().as_fd()
    }
}

/// Asks the device open as `file` for its info.
fn query(file: &File, path: &Path) -> Result<Info> {
    mymap_uapi::info(file.as_fd())
        .map(Info::from)
        .map_err(|err| Error::from_io(path, Call::Info, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_missing_node_is_not_found() {
        let err = Device::open("/nonexistent/mymap").unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    call: Call::Open,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.path(), Path::new("/nonexistent/mymap"));
    }

    #[test]
    fn opening_another_device_is_not_mymap() {
        let err = Device::open_read_only("/dev/null").unwrap_err();
        assert!(matches!(err, Error::NotMymap { .. }), "{err}");
    }

    #[cfg(feature = "simulator")]
    #[test]
    fn a_simulated_device_clears_counts_and_shares_its_pages() {
        let dev = Device::simulated().expect("simulated device");
        let page = u64::from(dev.page_size());
        let map = dev.map(0, dev.size() as usize).expect("map");
        let writer = dev.map_mut(page, page as usize).expect("map_mut");
        assert_eq!(writer.write_at(0, b"shared"), 6);
        assert_eq!(dev.read_vec(page, 6).expect("pread"), b"shared");
        let mut seen = [0; 6];
        assert_eq!(map.copy_at(page as usize, &mut seen), 6);
        assert_eq!(&seen, b"shared");

        dev.clear().expect("clear");
        assert_eq!(dev.info().expect("info").clears, 1);
        assert!(map.snapshot().iter().all(|&b| b == 0), "clear left bytes");
        let err = dev.read_vec(dev.size() - 1, 2).unwrap_err();
        assert!(matches!(err, Error::OutOfRange { .. }), "{err}");
    }

    #[test]
    fn opening_a_regular_file_is_not_mymap() {
        let file = std::env::current_exe().expect("test binary path");
        let err = Device::open_read_only(&file).unwrap_err();
        assert!(matches!(err, Error::NotMymap { .. }), "{err}");
    }
}
