// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Shared mappings of a device's buffer, read and written by copying.
//!
//! The mapped bytes change whenever the kernel or another process writes the
//! buffer, so these types never lend out a `&[u8]` of them: they copy out
//! ([`Mapping::snapshot`], [`Mapping::copy_to`]) and in
//! ([`MappingMut::write_at`]). A copy taken during someone else's write may
//! mix old and new bytes.

use mymap_uapi::{SharedMap, SharedMapMut};

/// A read-only shared mapping of part of a buffer, made by [`Device::map`].
///
/// [`Device::map`]: crate::Device::map
#[derive(Debug)]
pub struct Mapping {
    map: SharedMap,
    offset: u64,
}

/// A writable shared mapping of part of a buffer, made by [`Device::map_mut`].
///
/// [`Device::map_mut`]: crate::Device::map_mut
#[derive(Debug)]
pub struct MappingMut {
    map: SharedMapMut,
    offset: u64,
}

/// The read side both mapping types share: geometry and copy-out.
macro_rules! read_accessors {
    ($ty:ident, $raw:ident) => {
        impl $ty {
            pub(crate) fn new(map: $raw, offset: u64) -> Self {
                $ty { map, offset }
            }

            /// The device offset of the first mapped byte.
            pub fn offset(&self) -> u64 {
                self.offset
            }

            /// The length of the mapping in bytes.
            pub fn len(&self) -> usize {
                self.map.len()
            }

            /// Always false: a mapping has at least one byte.
            pub fn is_empty(&self) -> bool {
                self.map.is_empty()
            }

            /// Copies the mapping from its start into `buf`; returns `min(len, buf.len())`.
            pub fn copy_to(&self, buf: &mut [u8]) -> usize {
                self.map.read(0, buf)
            }

            /// Copies the mapping from `pos` (relative to the mapping) into `buf`; returns the
            /// number of bytes copied, 0 at or past the end.
            pub fn copy_at(&self, pos: usize, buf: &mut [u8]) -> usize {
                self.map.read(pos, buf)
            }

            /// Copies the whole mapping into a new vector.
            pub fn snapshot(&self) -> Vec<u8> {
                snapshot(self.len(), |buf| self.copy_to(buf))
            }
        }
    };
}

read_accessors!(Mapping, SharedMap);
read_accessors!(MappingMut, SharedMapMut);

impl MappingMut {
    /// Copies `data` into the mapping at `pos` (relative to the mapping), as much as fits;
    /// returns the number of bytes written. Every reader of the buffer sees them at once.
    pub fn write_at(&self, pos: usize, data: &[u8]) -> usize {
        self.map.write(pos, data)
    }
}

fn snapshot(len: usize, copy: impl FnOnce(&mut [u8]) -> usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    let copied = copy(&mut buf);
    debug_assert_eq!(copied, len);
    buf
}
