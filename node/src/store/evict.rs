//! Eviction policies and the access stamps they read.
//!
//! As in Redis, eviction is approximate: it samples a few keys and evicts the best
//! candidate among them (and among good candidates kept from earlier samples), so
//! there is no global LRU list to maintain on every read.

pub use shoal_core::eviction::Policy;

/// Redis' initial LFU counter, so a new key is not evicted before it is used.
pub const LFU_INIT_VAL: u32 = 5;

/// How access stamps are written: LRU seconds, or LFU counter and decay minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessMode {
    pub lfu: bool,
    pub lfu_log_factor: u32,
    /// Minutes for the LFU counter to decay by one (0: never).
    pub lfu_decay_time: u32,
}

impl Default for AccessMode {
    fn default() -> Self {
        AccessMode {
            lfu: false,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

/// LRU stamps count 10 ms steps: fine enough to order keys written in the same
/// second (Redis uses whole seconds), coarse enough that a u32 wraps only after
/// 497 days.
const LRU_RESOLUTION_MS: u64 = 10;

fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / LRU_RESOLUTION_MS) as u32
}

fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// Minutes since an LFU stamp's decay minute, on the 16-bit minute clock that
/// wraps every 45 days. Only the low 16 bits of `stamp_minutes` count, so any
/// stamp gives an answer.
fn lfu_elapsed(stamp_minutes: u32, now_ms: u64) -> u32 {
    minutes(now_ms).wrapping_sub(stamp_minutes) & 0xFFFF
}

impl AccessMode {
    /// Whether a stamp written under `self` means the same under `other`: LRU
    /// clocks and LFU counters share the field, so switching between them must
    /// restamp every key, or LFU reads an LRU clock as a counter.
    pub fn same_stamps(&self, other: &AccessMode) -> bool {
        self.lfu == other.lfu
    }

    /// The stamp of a key that was just created.
    pub fn initial(&self, now_ms: u64) -> u32 {
        if self.lfu {
            (minutes(now_ms) << 8) | LFU_INIT_VAL
        } else {
            lru_clock(now_ms)
        }
    }

    /// Whether stamps are LFU counters (else LRU clocks).
    pub fn is_lfu(&self) -> bool {
        self.lfu
    }

    /// An LFU stamp holding `counter` as of now.
    pub fn stamp_with_counter(&self, counter: u32, now_ms: u64) -> u32 {
        (minutes(now_ms) << 8) | counter.min(255)
    }

    /// The LFU counter after decay, without touching the key.
    pub fn lfu_counter(&self, stamp: u32, now_ms: u64) -> u32 {
        let counter = stamp & 0xFF;
        if self.lfu_decay_time == 0 {
            return counter;
        }
        let periods = lfu_elapsed(stamp >> 8, now_ms) / self.lfu_decay_time;
        counter.saturating_sub(periods)
    }

    /// The stamp after an access. `r` is a uniform random number in [0, 1) that
    /// makes LFU's logarithmic counter grow with probability 1/((c-5)·factor+1).
    pub fn touch(&self, stamp: u32, now_ms: u64, r: f64) -> u32 {
        if !self.lfu {
            return lru_clock(now_ms);
        }
        let mut counter = self.lfu_counter(stamp, now_ms);
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
            let p = 1.0 / (base * self.lfu_log_factor as f64 + 1.0);
            if r < p {
                counter += 1;
            }
        }
        (minutes(now_ms) << 8) | counter
    }

    /// Milliseconds since the key was last accessed (LRU stamps), to the
    /// clock's 10 ms resolution.
    pub fn idle_ms(&self, stamp: u32, now_ms: u64) -> u64 {
        u64::from(lru_clock(now_ms).wrapping_sub(stamp)) * LRU_RESOLUTION_MS
    }
}

/// How strongly a key should be evicted under `policy`: higher goes first.
pub fn eviction_score(
    policy: Policy,
    mode: &AccessMode,
    stamp: u32,
    expire_at: u64,
    now_ms: u64,
) -> u64 {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => mode.idle_ms(stamp, now_ms),
        Policy::AllKeysLfu | Policy::VolatileLfu => {
            255 - u64::from(mode.lfu_counter(stamp, now_ms))
        }
        Policy::VolatileTtl => u64::MAX - expire_at,
        Policy::AllKeysRandom | Policy::VolatileRandom | Policy::NoEviction => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::from_name(p.name()), Some(p));
        }
        assert_eq!(Policy::from_name("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::from_name("lru"), None);
    }

    #[test]
    fn lfu_reads_any_stamp_without_overflow() {
        let m = AccessMode {
            lfu: true,
            ..AccessMode::default()
        };
        let now = 10 * 60_000;
        // LRU clocks and stamps from a later minute (the 16-bit clock wrapped).
        for stamp in [
            u32::MAX,
            AccessMode::default().initial(now),
            m.initial(now + 60_000),
        ] {
            assert!(m.lfu_counter(stamp, now) <= 255);
            m.touch(stamp, now, 0.5);
        }
        // A stamp from the minute before the clock wrapped is one minute old.
        let wrapped = (0xFFFF << 8) | 7;
        assert_eq!(m.lfu_counter(wrapped, 0), 6);
    }

    #[test]
    fn lru_prefers_idle_keys() {
        let m = AccessMode::default();
        let old = m.initial(1_000);
        let new = m.initial(100_000);
        let now = 200_000;
        assert!(
            eviction_score(Policy::AllKeysLru, &m, old, 0, now)
                > eviction_score(Policy::AllKeysLru, &m, new, 0, now)
        );
    }

    #[test]
    fn lfu_counts_logarithmically_and_decays() {
        let m = AccessMode {
            lfu: true,
            ..AccessMode::default()
        };
        let now = 10 * 60_000;
        let mut s = m.initial(now);
        assert_eq!(s & 0xFF, LFU_INIT_VAL);
        // With r = 0 every access increments; with r close to 1 only the first ones.
        for _ in 0..10 {
            s = m.touch(s, now, 0.0);
        }
        assert_eq!(m.lfu_counter(s, now), LFU_INIT_VAL + 10);
        let busy = m.touch(s, now, 0.99);
        assert_eq!(m.lfu_counter(busy, now), LFU_INIT_VAL + 10);
        // Three minutes later the counter has decayed by three.
        assert_eq!(m.lfu_counter(s, now + 3 * 60_000), LFU_INIT_VAL + 7);
        let hot = eviction_score(Policy::AllKeysLfu, &m, s, 0, now);
        let cold = eviction_score(Policy::AllKeysLfu, &m, m.initial(now), 0, now);
        assert!(cold > hot);
    }

    #[test]
    fn volatile_ttl_prefers_nearest_deadline() {
        let m = AccessMode::default();
        assert!(
            eviction_score(Policy::VolatileTtl, &m, 0, 1_000, 0)
                > eviction_score(Policy::VolatileTtl, &m, 0, 5_000, 0)
        );
    }
}
