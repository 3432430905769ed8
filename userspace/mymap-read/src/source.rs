// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Taking snapshots of a byte range of the device, through a mapping or `pread`.

use mymap::{Device, Mapping};

/// How the bytes are fetched from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Through a shared read-only mapping of the buffer (mmap).
    Mmap,
    /// With pread(2) on the device file.
    Read,
}

/// A byte range of the device that can be copied out again and again.
#[derive(Debug)]
pub struct Source<'a> {
    device: &'a Device,
    via: Via,
    offset: u64,
    len: usize,
    /// The pages covering the range, and where the range starts in them; `None` to use
    /// `pread`.
    mapping: Option<(Mapping, usize)>,
}

impl<'a> Source<'a> {
    /// Prepares `len` bytes from `offset` (to the end of the buffer when `len` is `None`).
    ///
    /// A mapping must start on a page boundary, so `Via::Mmap` maps the whole pages
    /// around the range and copies only the range out of them.
    pub fn open(
        device: &'a Device,
        via: Via,
        offset: u64,
        len: Option<usize>,
    ) -> mymap::Result<Self> {
        // An offset at or past the end, with no length, asks for 1 byte so that the
        // range check reports it.
        let len = len.unwrap_or_else(|| {
            let rest = device.size().saturating_sub(offset).max(1);
            usize::try_from(rest).unwrap_or(usize::MAX)
        });
        device.check_range(offset, len)?;
        let mapping = match via {
            Via::Read => None,
            Via::Mmap => {
                let span = PageSpan::new(offset, len, device.page_size());
                Some((device.map(span.start, span.len)?, span.skip))
            }
        };
        Ok(Source {
            device,
            via,
            offset,
            len,
            mapping,
        })
    }

    /// The device the bytes come from.
    pub fn device(&self) -> &'a Device {
        self.device
    }

    /// How the bytes are fetched.
    pub fn via(&self) -> Via {
        self.via
    }

    /// The device offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of bytes in each snapshot.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a source has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the range out of the device as it is now.
    pub fn snapshot(&self) -> mymap::Result<Vec<u8>> {
        match &self.mapping {
            Some((mapping, skip)) => {
                let mut buf = vec![0; self.len];
                let copied = mapping.copy_at(*skip, &mut buf);
                debug_assert_eq!(copied, self.len, "the mapping covers the range");
                Ok(buf)
            }
            None => self.device.read_vec(self.offset, self.len),
        }
    }
}

/// The whole pages that cover a byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSpan {
    /// The first byte of the first page.
    pub start: u64,
    /// The length of the whole pages.
    pub len: usize,
    /// Where the range starts, relative to `start`.
    pub skip: usize,
}

impl PageSpan {
    /// The pages of `page_size` bytes (a power of two) around `[offset, offset + len)`,
    /// a range already checked to lie inside a buffer of whole pages.
    pub fn new(offset: u64, len: usize, page_size: u32) -> Self {
        let page = u64::from(page_size);
        let start = offset - offset % page;
        let end = (offset + len as u64).div_ceil(page) * page;
        PageSpan {
            start,
            len: (end - start) as usize,
            skip: (offset - start) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_ranges_map_themselves() {
        assert_eq!(
            PageSpan::new(4096, 8192, 4096),
            PageSpan {
                start: 4096,
                len: 8192,
                skip: 0
            }
        );
    }

    #[test]
    fn unaligned_ranges_map_the_pages_around_them() {
        assert_eq!(
            PageSpan::new(10, 20, 4096),
            PageSpan {
                start: 0,
                len: 4096,
                skip: 10
            }
        );
        assert_eq!(
            PageSpan::new(4000, 200, 4096),
            PageSpan {
                start: 0,
                len: 8192,
                skip: 4000
            }
        );
        assert_eq!(
            PageSpan::new(65535, 1, 16384),
            PageSpan {
                start: 49152,
                len: 16384,
                skip: 16383
            }
        );
    }
}
