//! Asking Linux for 2 MB pages under a large buffer about to be filled.
//!
//! A fresh allocation of many megabytes (placement's impression list, 40 bytes an impression; stamping's
//! prepared list, 64) is mapped lazily, and each 4 kB page's first write is a page fault: about 2 µs on these
//! machines, a quarter of placement's time for a million impressions. With 2 MB pages one fault covers 512 of
//! them. Linux's default for transparent huge pages is often `madvise` (only where asked), hence this request.
//! Elsewhere it does nothing.

use std::mem::MaybeUninit;

/// Size of a transparent huge page on x86-64 and most aarch64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Advises the kernel to back the whole 2 MB pages inside `buffer` with huge pages when they are first
/// touched. Only advice: the buffer's contents and validity are unchanged, and failure is ignored (the
/// memory then gets ordinary pages).
pub(crate) fn prefer_huge_pages<T>(buffer: &mut [MaybeUninit<T>]) {
    if let Some((start, len)) = whole_huge_pages(buffer.as_mut_ptr() as usize, std::mem::size_of_val(buffer)) {
        advise(start, len);
    }
}

/// The whole huge pages inside `len` bytes at address `start`, as (start, length), if there are any.
fn whole_huge_pages(start: usize, len: usize) -> Option<(usize, usize)> {
    let (first, last) = (start.next_multiple_of(HUGE_PAGE), (start + len) / HUGE_PAGE * HUGE_PAGE);
    (first < last).then(|| (first, last - first))
}

#[cfg(target_os = "linux")]
fn advise(start: usize, len: usize) {
    // SAFETY: the range lies inside a live allocation this caller holds exclusively, and MADV_HUGEPAGE
    // changes only how the kernel backs it, never what it reads.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_start: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_huge_pages_inside_the_buffer_are_advised() {
        let mb = 1 << 20;
        // A 5 MB buffer starting 1 MB into a huge page holds the next two whole ones.
        assert_eq!(
            whole_huge_pages(7 * HUGE_PAGE + mb, 5 * mb),
            Some((8 * HUGE_PAGE, 2 * HUGE_PAGE))
        );
        // Aligned at both ends: all of it.
        assert_eq!(
            whole_huge_pages(4 * HUGE_PAGE, 2 * HUGE_PAGE),
            Some((4 * HUGE_PAGE, 2 * HUGE_PAGE))
        );
        // Smaller than a huge page, or straddling one boundary without holding a whole page: nothing.
        assert_eq!(whole_huge_pages(3 * HUGE_PAGE + 16, HUGE_PAGE - 16), None);
        assert_eq!(whole_huge_pages(3 * HUGE_PAGE + mb, 2 * mb), None);
        assert_eq!(whole_huge_pages(0, 0), None);
    }

    #[test]
    fn advised_memory_reads_back_what_was_written() {
        let mut buffer: Vec<u64> = Vec::with_capacity(3 << 20);
        prefer_huge_pages(buffer.spare_capacity_mut());
        buffer.extend((0..3u64 << 20).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        assert!(buffer
            .iter()
            .enumerate()
            .all(|(i, &v)| v == (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    }
}
