// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Argument checks done before any call reaches the driver.

/// Why a range was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `offset + len` is past the end of the buffer (or overflows), or a mapping is empty.
    OutOfRange,
    /// A mapping does not start on a page boundary.
    Unaligned,
}

/// Checks that `[offset, offset + len)` lies inside a buffer of `size` bytes.
pub(crate) fn check_range(offset: u64, len: u64, size: u64) -> Result<(), Refusal> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Refusal::OutOfRange),
    }
}

/// Checks a mapping of `len` bytes at `offset`: non-empty, page-aligned, inside the buffer.
pub(crate) fn check_mapping(
    offset: u64,
    len: u64,
    size: u64,
    page_size: u32,
) -> Result<(), Refusal> {
    if len == 0 {
        return Err(Refusal::OutOfRange);
    }
    if page_size == 0 || offset % u64::from(page_size) != 0 {
        return Err(Refusal::Unaligned);
    }
    check_range(offset, len, size)
}

/// Checks the geometry `MYMAP_IOC_INFO` reported: a power-of-two page size and a
/// non-empty buffer of whole pages that this process can address.
pub(crate) fn geometry_is_usable(page_size: u32, size: u64) -> bool {
    page_size.is_power_of_two()
        && size != 0
        && size % u64::from(page_size) == 0
        && usize::try_from(size).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: u64 = 65536;
    const PAGE: u32 = 4096;

    #[test]
    fn ranges_inside_the_buffer_pass() {
        assert_eq!(check_range(0, SIZE, SIZE), Ok(()));
        assert_eq!(check_range(SIZE - 1, 1, SIZE), Ok(()));
        assert_eq!(check_range(SIZE, 0, SIZE), Ok(()));
        assert_eq!(check_range(10, 0, SIZE), Ok(()));
    }

    #[test]
    fn ranges_past_the_end_fail() {
        assert_eq!(check_range(0, SIZE + 1, SIZE), Err(Refusal::OutOfRange));
        assert_eq!(check_range(SIZE, 1, SIZE), Err(Refusal::OutOfRange));
        assert_eq!(check_range(SIZE + 1, 0, SIZE), Err(Refusal::OutOfRange));
        assert_eq!(check_range(u64::MAX, 2, SIZE), Err(Refusal::OutOfRange));
    }

    #[test]
    fn mappings_must_be_page_aligned() {
        assert_eq!(check_mapping(0, 1, SIZE, PAGE), Ok(()));
        assert_eq!(check_mapping(4096, 4096, SIZE, PAGE), Ok(()));
        assert_eq!(check_mapping(SIZE - 4096, 4096, SIZE, PAGE), Ok(()));
        assert_eq!(check_mapping(1, 1, SIZE, PAGE), Err(Refusal::Unaligned));
        assert_eq!(check_mapping(4095, 1, SIZE, PAGE), Err(Refusal::Unaligned));
        assert_eq!(check_mapping(0, 1, SIZE, 0), Err(Refusal::Unaligned));
    }

    #[test]
    fn mappings_must_be_non_empty_and_inside() {
        assert_eq!(check_mapping(0, 0, SIZE, PAGE), Err(Refusal::OutOfRange));
        assert_eq!(
            check_mapping(4096, SIZE, SIZE, PAGE),
            Err(Refusal::OutOfRange)
        );
        assert_eq!(check_mapping(SIZE, 1, SIZE, PAGE), Err(Refusal::OutOfRange));
    }

    #[test]
    fn geometry_checks() {
        assert!(geometry_is_usable(4096, 65536));
        assert!(geometry_is_usable(16384, 16384));
        assert!(!geometry_is_usable(0, 65536));
        assert!(!geometry_is_usable(3000, 6000));
        assert!(!geometry_is_usable(4096, 0));
        assert!(!geometry_is_usable(4096, 4097));
    }
}
