//! Memory estimates and allocator readings.
//!
//! Eviction must decide on every write whether memory is over `maxmemory`, which is
//! too often to ask the allocator (its statistics need a global epoch refresh). So
//! each entry carries an estimate of the bytes it holds, rounded the way jemalloc
//! rounds allocations, and a background refresh measures how much the allocator
//! holds beyond the dataset (connections, buffers, tables). `used = overhead +
//! dataset` then follows writes exactly and reality within one refresh.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The size jemalloc really hands out for a request of `n` bytes: 16-byte steps up
/// to 128, then four classes per power of two.
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else if n <= 8 {
        8
    } else if n <= 128 {
        (n + 15) & !15
    } else {
        let lg = usize::BITS - 1 - (n - 1).leading_zeros();
        let step = 1usize << (lg - 2);
        (n + step - 1) & !(step - 1)
    }
}

/// Memory figures shared by the store, eviction and INFO.
#[derive(Default)]
pub struct MemoryCounters {
    /// Sum of every entry's estimate.
    dataset: AtomicI64,
    /// Allocator-held bytes beyond the dataset, as of the last refresh.
    overhead: AtomicI64,
    /// Allocator's allocated bytes at the last refresh (`used_memory`).
    allocated: AtomicU64,
    /// Resident bytes the allocator maps (`used_memory_rss` approximation).
    resident: AtomicU64,
    peak: AtomicU64,
}

impl MemoryCounters {
    pub fn add_dataset(&self, delta: i64) {
        if delta != 0 {
            self.dataset.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub fn dataset(&self) -> u64 {
        self.dataset.load(Ordering::Relaxed).max(0) as u64
    }

    /// The figure eviction compares with `maxmemory`.
    pub fn used(&self) -> u64 {
        (self.overhead.load(Ordering::Relaxed) + self.dataset.load(Ordering::Relaxed)).max(0) as u64
    }

    pub fn allocated(&self) -> u64 {
        self.allocated.load(Ordering::Relaxed)
    }

    pub fn resident(&self) -> u64 {
        self.resident.load(Ordering::Relaxed)
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Reads the allocator's statistics and recalibrates the overhead.
    pub fn refresh(&self) {
        let Some((allocated, resident)) = allocator_stats() else {
            return;
        };
        let dataset = self.dataset.load(Ordering::Relaxed);
        // Never negative: when jemalloc is not the global allocator (the library
        // embedded in a test) its figures are near zero and the estimate stands alone.
        self.overhead
            .store((allocated as i64 - dataset).max(0), Ordering::Relaxed);
        self.allocated.store(allocated, Ordering::Relaxed);
        self.resident.store(resident, Ordering::Relaxed);
        self.peak.fetch_max(allocated, Ordering::Relaxed);
    }
}

/// jemalloc's allocated and resident bytes, after advancing its stats epoch.
pub fn allocator_stats() -> Option<(u64, u64)> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    let allocated = stats::allocated::read().ok()? as u64;
    let resident = stats::resident::read().ok()? as u64;
    Some((allocated, resident))
}

/// The process's resident set size from /proc (what `ps` and the kernel see).
pub fn process_rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::alloc_size;

    #[test]
    fn jemalloc_size_classes() {
        let cases = [
            (1, 8),
            (9, 16),
            (17, 32),
            (100, 112),
            (116, 128),
            (128, 128),
            (129, 160),
            (200, 224),
            (257, 320),
            (1000, 1024),
            (1025, 1280),
        ];
        for (n, want) in cases {
            assert_eq!(alloc_size(n), want, "{n}");
        }
    }
}
