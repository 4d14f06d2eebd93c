//! Longest-prefix match for one VRF: a hash table per prefix length, probed from the longest
//! length present down to the shortest.
//!
//! Lookup cost is one hash probe per distinct prefix length in the VRF (typically a handful:
//! /128 host routes, a subnet or two and a default). It is the IPv6 FIB, and holds the short
//! (/1–/23) prefixes of the IPv4 FIB ([`super::fib4`]).

use hashbrown::HashMap;

/// Index of a nexthop in [`super::Tables::nexthops`].
pub type NhIdx = u32;

/// A generic LPM over `W`-bit keys held in `K` (u32 for IPv4, u128 for IPv6).
#[derive(Clone, Debug)]
pub struct Lpm<K: Key> {
    /// One map per prefix length present, longest first: the prefixes of that length keyed by
    /// the masked address. Only lengths in use take memory (an IPv6 VRF with a handful of
    /// lengths would otherwise carry 129 empty maps).
    by_len: Vec<(u8, HashMap<K, NhIdx>)>,
}

/// An address type usable as an LPM key.
pub trait Key: Copy + Eq + std::hash::Hash + std::fmt::Debug {
    /// Width in bits (32 or 128).
    const BITS: u8;
    /// The key with all bits after `len` cleared.
    fn mask(self, len: u8) -> Self;
}

impl Key for u32 {
    const BITS: u8 = 32;
    #[inline(always)]
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(len)))
        }
    }
}

impl Key for u128 {
    const BITS: u8 = 128;
    #[inline(always)]
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(len)))
        }
    }
}

impl<K: Key> Default for Lpm<K> {
    fn default() -> Self {
        Lpm { by_len: Vec::new() }
    }
}

impl<K: Key> Lpm<K> {
    /// Adds or replaces `addr/len → nh`; returns the nexthop it replaced. `len` > width is
    /// the caller's error and is rejected with `None` and no change.
    pub fn insert(&mut self, addr: K, len: u8, nh: NhIdx) -> Option<NhIdx> {
        if len > K::BITS {
            return None;
        }
        let i = match self.by_len.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(i) => i,
            Err(i) => {
                self.by_len.insert(i, (len, HashMap::new()));
                i
            }
        };
        self.by_len[i].1.insert(addr.mask(len), nh)
    }

    /// Removes `addr/len`; returns its nexthop.
    pub fn remove(&mut self, addr: K, len: u8) -> Option<NhIdx> {
        let i = self.by_len.binary_search_by(|(l, _)| len.cmp(l)).ok()?;
        let map = &mut self.by_len[i].1;
        let old = map.remove(&addr.mask(len));
        if map.is_empty() {
            self.by_len.remove(i);
        }
        old
    }

    /// The nexthop of the longest prefix that covers `addr`.
    #[inline]
    pub fn lookup(&self, addr: K) -> Option<NhIdx> {
        for (len, map) in &self.by_len {
            if let Some(&nh) = map.get(&addr.mask(*len)) {
                return Some(nh);
            }
        }
        None
    }

    /// The exact entry `addr/len`, if present.
    pub fn get(&self, addr: K, len: u8) -> Option<NhIdx> {
        let i = self.by_len.binary_search_by(|(l, _)| len.cmp(l)).ok()?;
        self.by_len[i].1.get(&addr.mask(len)).copied()
    }

    /// Number of prefixes of length `len`.
    pub fn get_len_count(&self, len: u8) -> usize {
        self.by_len
            .binary_search_by(|(l, _)| len.cmp(l))
            .map_or(0, |i| self.by_len[i].1.len())
    }

    /// Heap bytes held, approximately (hash buckets and control bytes, the per-length maps).
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(K, NhIdx)>() + 1;
        self.by_len.capacity() * std::mem::size_of::<(u8, HashMap<K, NhIdx>)>()
            + self
                .by_len
                .iter()
                .map(|(_, m)| (m.capacity() * 8 / 7).next_power_of_two() * entry + 16)
                .sum::<usize>()
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.by_len.iter().map(|(_, m)| m.len()).sum()
    }

    /// `true` when there is no prefix.
    pub fn is_empty(&self) -> bool {
        self.by_len.is_empty()
    }

    /// Every `(prefix, len, nh)`, longest prefixes first.
    pub fn iter(&self) -> impl Iterator<Item = (K, u8, NhIdx)> + '_ {
        self.by_len
            .iter()
            .flat_map(|(len, m)| m.iter().map(move |(&k, &nh)| (k, *len, nh)))
    }
}

/// IPv4 LPM.
pub type Lpm4 = Lpm<u32>;
/// IPv6 LPM.
pub type Lpm6 = Lpm<u128>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn longest_wins_and_remove() {
        let mut l = Lpm4::default();
        l.insert(0, 0, 1);
        l.insert(0xC633_6400, 24, 2); // 198.51.100.0/24
        l.insert(0xC633_6402, 32, 3);
        assert_eq!(l.lookup(0xC633_6402), Some(3));
        assert_eq!(l.lookup(0xC633_6403), Some(2));
        assert_eq!(l.lookup(0x0A00_0001), Some(1));
        assert_eq!(l.remove(0xC633_6402, 32), Some(3));
        assert_eq!(l.lookup(0xC633_6402), Some(2));
        assert_eq!(
            l.insert(0xC633_64FF, 24, 9),
            Some(2),
            "host bits are masked"
        );
        assert_eq!(l.insert(1, 33, 1), None);
        assert_eq!(l.len(), 2);
    }

    proptest! {
        /// Against a linear-scan reference model.
        #[test]
        fn matches_reference(routes in proptest::collection::vec((any::<u32>(), 0u8..=32, 0u32..100), 0..60),
                             probes in proptest::collection::vec(any::<u32>(), 1..50)) {
            let mut l = Lpm4::default();
            let mut model: Vec<(u32, u8, u32)> = Vec::new();
            for &(a, len, nh) in &routes {
                l.insert(a, len, nh);
                let a = a.mask(len);
                model.retain(|&(ma, ml, _)| !(ma == a && ml == len));
                model.push((a, len, nh));
            }
            for &p in probes.iter().chain(routes.iter().map(|r| &r.0)) {
                let want = model.iter().filter(|&&(a, len, _)| p.mask(len) == a)
                    .max_by_key(|&&(_, len, _)| len).map(|&(_, _, nh)| nh);
                prop_assert_eq!(l.lookup(p), want);
            }
        }
    }
}
