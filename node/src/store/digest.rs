//! A digest of the dataset (DEBUG DIGEST), so tests can tell whether a replica
//! holds exactly its primary's data. Like Redis', it does not depend on the
//! order keys are stored in (per-key digests are XORed) nor on a value's
//! encoding (unordered collections are hashed in sorted order); its bytes are
//! Shoal's own.

use super::entry::{Entry, ValueRef};
use sha1_smol::Sha1;

pub type Digest = [u8; 20];

fn part(h: &mut Sha1, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The digest of one value, independent of its encoding.
pub fn value_digest(v: ValueRef<'_>) -> Digest {
    let mut h = Sha1::new();
    part(&mut h, v.kind().name().as_bytes());
    match v {
        ValueRef::Str(s) => part(&mut h, s),
        ValueRef::Hash(hash) => {
            let mut pairs: Vec<(&[u8], &[u8])> = hash.iter().collect();
            pairs.sort_unstable();
            for (f, val) in pairs {
                part(&mut h, f);
                part(&mut h, val);
            }
        }
        ValueRef::List(l) => {
            for e in l.iter() {
                part(&mut h, e);
            }
        }
        ValueRef::Set(s) => {
            let mut members: Vec<&[u8]> = s.iter().collect();
            members.sort_unstable();
            for m in members {
                part(&mut h, m);
            }
        }
        ValueRef::ZSet(z) => {
            for (m, score) in z.iter() {
                part(&mut h, m);
                part(&mut h, &score.to_bits().to_le_bytes());
            }
        }
    }
    h.digest().bytes()
}

/// The digest of one key: its name, deadline and value.
pub fn entry_digest(e: &Entry) -> Digest {
    let mut h = Sha1::new();
    part(&mut h, e.key());
    h.update(&e.expire_at().unwrap_or(0).to_le_bytes());
    h.update(&value_digest(e.value()));
    h.digest().bytes()
}

/// XORs `d` into `acc`: the dataset digest is the XOR of its keys' digests.
pub fn mix(acc: &mut Digest, d: &Digest) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// Lowercase hex, as DEBUG DIGEST prints it.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
