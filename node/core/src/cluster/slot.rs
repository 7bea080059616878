//! Slot arithmetic for clustering: ranges of slots, and the one slot a
//! multi-key command hashes to. The key → slot function itself lives with the
//! keyspace, which shards by it ([`crate::store::slot`]).

pub use crate::keyslot::{hash_tag, key_slot, SLOTS};

/// Keys of one request that hash to different slots (Redis' CROSSSLOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("CROSSSLOT Keys in request don't hash to the same slot")]
pub struct CrossSlot;

/// The one slot all `keys` hash to: None without keys.
pub fn common_slot<'k>(mut keys: impl Iterator<Item = &'k [u8]>) -> Result<Option<u16>, CrossSlot> {
    let Some(first) = keys.next() else {
        return Ok(None);
    };
    let slot = key_slot(first);
    if keys.all(|k| key_slot(k) == slot) {
        Ok(Some(slot))
    } else {
        Err(CrossSlot)
    }
}

/// An inclusive range of slots, written `start-end` (or `n` for one slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
}

impl SlotRange {
    pub fn new(start: u16, end: u16) -> SlotRange {
        SlotRange { start, end }
    }

    pub fn len(&self) -> usize {
        usize::from(self.end) - usize::from(self.start) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, slot: u16) -> bool {
        self.start <= slot && slot <= self.end
    }

    /// The range of shard `index` out of `shards` when slots are split evenly,
    /// the first shards taking one extra slot when the split is uneven — the
    /// layout `redis-cli --cluster create` uses.
    pub fn even_split(index: u32, shards: u32) -> SlotRange {
        let slots = u32::from(SLOTS);
        let shards = shards.clamp(1, slots);
        let index = index.min(shards - 1);
        let base = slots / shards;
        let extra = slots % shards;
        let start = index * base + index.min(extra);
        let len = base + u32::from(index < extra);
        SlotRange::new(start as u16, (start + len - 1) as u16)
    }
}

impl std::fmt::Display for SlotRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl std::str::FromStr for SlotRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let slot = |t: &str| -> Result<u16, String> {
            match t.trim().parse::<u16>() {
                Ok(n) if n < SLOTS => Ok(n),
                _ => Err(format!("'{t}' is not a slot (0-{})", SLOTS - 1)),
            }
        };
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (slot(a)?, slot(b)?),
            None => {
                let n = slot(s)?;
                (n, n)
            }
        };
        if a > b {
            return Err(format!("slot range '{s}' ends before it starts"));
        }
        Ok(SlotRange::new(a, b))
    }
}

impl serde::Serialize for SlotRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SlotRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u16),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => n.to_string().parse(),
            Raw::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_key_commands_need_one_slot() {
        assert_eq!(common_slot([].into_iter()), Ok(None));
        let tagged: [&[u8]; 2] = [b"{u1}.a", b"{u1}.b"];
        assert_eq!(common_slot(tagged.into_iter()), Ok(Some(key_slot(b"u1"))));
        let mixed: [&[u8]; 2] = [b"foo", b"bar"];
        assert_eq!(common_slot(mixed.into_iter()), Err(CrossSlot));
    }

    #[test]
    fn ranges_parse_print_and_split() {
        let r: SlotRange = "0-5460".parse().unwrap();
        assert_eq!((r.start, r.end, r.len()), (0, 5460, 5461));
        assert_eq!("7".parse::<SlotRange>().unwrap().to_string(), "7");
        assert!("5-4".parse::<SlotRange>().is_err());
        assert!("0-16384".parse::<SlotRange>().is_err());
        assert_eq!(SlotRange::even_split(0, 3).to_string(), "0-5461");
        assert_eq!(SlotRange::even_split(1, 3).to_string(), "5462-10922");
        assert_eq!(SlotRange::even_split(2, 3).to_string(), "10923-16383");
        for shards in [1u32, 2, 3, 5, 7, 64, 512, 16384] {
            let mut next = 0u32;
            for i in 0..shards {
                let r = SlotRange::even_split(i, shards);
                assert_eq!(u32::from(r.start), next, "gap or overlap at {i}/{shards}");
                next = u32::from(r.end) + 1;
            }
            assert_eq!(next, u32::from(SLOTS));
        }
    }
}
