//! Slot ownership: which shard serves which of the 16384 hash slots.
//!
//! Slots are split into contiguous, even ranges, the first shards taking one extra
//! slot when the split is uneven — the layout `redis-cli --cluster create` uses.

/// Hash slots in a cluster, as in Redis Cluster.
pub const SLOTS: u32 = 16384;

/// The inclusive slot range of shard `index` out of `shards`.
pub fn slot_range(index: u32, shards: u32) -> (u32, u32) {
    let shards = shards.max(1);
    let base = SLOTS / shards;
    let extra = SLOTS % shards;
    let start = index * base + index.min(extra);
    let len = base + u32::from(index < extra);
    (start, start + len - 1)
}

/// A range as Redis writes it: `0-5461`.
pub fn format_range((a, b): (u32, u32)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shards_like_redis_cli() {
        assert_eq!(slot_range(0, 3), (0, 5461));
        assert_eq!(slot_range(1, 3), (5462, 10922));
        assert_eq!(slot_range(2, 3), (10923, 16383));
        assert_eq!(format_range(slot_range(0, 1)), "0-16383");
    }

    #[test]
    fn every_slot_is_owned_exactly_once() {
        for shards in [1u32, 2, 3, 5, 7, 64, 512] {
            let mut next = 0;
            for i in 0..shards {
                let (a, b) = slot_range(i, shards);
                assert_eq!(a, next, "gap or overlap at shard {i} of {shards}");
                assert!(b >= a);
                next = b + 1;
            }
            assert_eq!(next, SLOTS);
        }
    }
}
