//! The IPv4 FIB of one VRF, built so that a lookup costs about the same whether the VRF holds
//! ten routes or its share of a million: one probe in a flat open-addressing table for nearly
//! every destination, two for a host route.
//!
//! Layout, by prefix length:
//! - `/0`: one field (`default`), read without touching any table.
//! - `/1`–`/23` ("short"): a hash per length ([`Lpm4`]), consulted only when a lookup found
//!   nothing longer and the VRF has such prefixes (`short_lens`); a VRF typically has none or a
//!   few aggregates.
//! - `/24` "blocks": a flat table keyed by the top 24 bits. A block entry exists when the VRF
//!   has the `/24` itself or any longer prefix inside it; it carries the `/24`'s nexthop and the
//!   number of longer prefixes inside. A destination whose block is absent — the common case
//!   for random destinations — is answered by the short prefixes or the default after one
//!   probe.
//! - `/25`–`/32` ("long"): a flat table keyed by (length, prefix), probed only when the block
//!   says it holds longer prefixes, for the lengths the block has, longest first.
//!
//! Both flat tables are arrays of `u64` (key and value packed, 8 per cache line) with linear
//! probing and backward-shift deletion (no tombstones), at most 3/4 full. The control plane
//! clones a VRF's `Fib4` on write; workers only read it.
//!
//! A FIB has its own Bloom filter over its blocks, for [`Fib4::lookup`]. Lookups through the
//! tables ([`super::Tables::lookup4`], [`super::Tables::lookup4_burst`]) do not read it, nor
//! this struct, unless a filter shared by all VRFs says the block may be present or the VRF
//! has short prefixes ([`super::vrfs`]): with thousands of VRFs, this struct is one more cold
//! line per lookup.

use super::lpm::{Lpm4, NhIdx};

/// Nexthop indices a FIB can hold: `0..MAX_NH`. The control plane refuses more nexthops.
pub const MAX_NH: u32 = (1 << 23) - 1;

/// The IPv4 FIB of one VRF.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Fib4 {
    /// `/0`, or [`NONE`].
    default: u32,
    /// Bit `l` set when a prefix of length `l` (1..=23) exists.
    short_lens: u32,
    /// A one-hash Bloom filter over the blocks present: 8 bits per block slot, so a random
    /// destination is usually answered from this small array (about 1 bit in 10 set) without
    /// touching the blocks table. Bits are set on insert and only cleared when the filter is
    /// rebuilt (on every resize of the blocks table): a stale bit costs a probe, never a
    /// wrong answer.
    filter: Box<[u64]>,
    blocks: Table,
    long: Table,
    /// Prefixes of length 1..=23; `None` while there are none (it is the bulky part).
    short: Option<Box<Lpm4>>,
    /// Number of prefixes.
    count: usize,
}

/// "No nexthop" in the packed fields.
const NONE: u32 = u32::MAX;

// Block entry: bits 0..24 block (addr >> 8), 24..33 number of longer prefixes inside (≤ 510),
// 33..41 the lengths 25..32 they have (bit l - 25; set on insert, cleared when the count drops
// to 0: a stale bit costs a probe, never a wrong answer), 41..64 the /24's nexthop (23 bits,
// all ones = none).
const B_NH_SHIFT: u32 = 41;
const B_NH_NONE: u64 = (1 << 23) - 1;
const B_CNT_SHIFT: u32 = 24;
const B_CNT_MASK: u64 = 0x1FF;
const B_LENS_SHIFT: u32 = 33;
const B_KEY_MASK: u64 = 0xFF_FFFF;
// Long entry: bits 0..32 the masked prefix, 32..35 length − 25, 35..64 nexthop (29 bits).
const L_NH_SHIFT: u32 = 35;
const L_KEY_MASK: u64 = (1 << 35) - 1;

/// An open-addressing table of packed `u64` entries; [`Table::EMPTY`] marks a free slot.
#[derive(Clone, Debug)]
struct Table {
    slots: Box<[u64]>,
    /// `slots.len() - 1` (the length is a power of two), 0 when unallocated.
    mask: usize,
    used: usize,
}

impl Table {
    /// Never a valid entry of either kind: a block entry always has a count or a nexthop, and a
    /// long entry's nexthop is below [`MAX_NH`].
    const EMPTY: u64 = u64::MAX;

    fn new() -> Self {
        Table {
            slots: Box::new([]),
            mask: 0,
            used: 0,
        }
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        // Fibonacci hashing: the top bits of the product are well mixed.
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    /// The address of the slot a lookup of `key` starts at (for prefetching).
    #[inline(always)]
    fn home_ptr(&self, key: u64) -> *const u64 {
        if self.slots.is_empty() {
            return std::ptr::null();
        }
        self.slots[self.home(key)..].as_ptr()
    }

    /// The entry whose key bits (`entry & key_mask`) equal `key`.
    #[inline(always)]
    fn find(&self, key: u64, key_mask: u64) -> Option<u64> {
        if self.used == 0 {
            return None;
        }
        let mut i = self.home(key);
        loop {
            // The table is never full (load ≤ 3/4), so an empty slot ends every probe.
            debug_assert!(i < self.slots.len());
            // SAFETY: `used > 0`, so `slots` is allocated with a power-of-two length and
            // `mask = len - 1`; `home` and the step below both reduce `i` with `& mask`.
            let e = unsafe { *self.slots.get_unchecked(i) };
            if e == Self::EMPTY {
                return None;
            }
            if e & key_mask == key {
                return Some(e);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Index of the slot holding `key`, or of the empty slot where it would go.
    fn slot(&self, key: u64, key_mask: u64) -> usize {
        let mut i = self.home(key);
        loop {
            let e = self.slots[i];
            if e == Self::EMPTY || e & key_mask == key {
                return i;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts or replaces the entry with `key`; returns the previous entry.
    fn upsert(&mut self, key: u64, key_mask: u64, entry: u64) -> Option<u64> {
        if (self.used + 1) * 4 > self.slots.len() * 3 {
            self.grow(key_mask);
        }
        let i = self.slot(key, key_mask);
        let old = self.slots[i];
        self.slots[i] = entry;
        if old == Self::EMPTY {
            self.used += 1;
            None
        } else {
            Some(old)
        }
    }

    /// Removes the entry with `key`; returns it.
    fn remove(&mut self, key: u64, key_mask: u64) -> Option<u64> {
        if self.used == 0 {
            return None;
        }
        let mut i = self.slot(key, key_mask);
        let old = self.slots[i];
        if old == Self::EMPTY {
            return None;
        }
        // Backward-shift deletion: pull later entries of the run into the hole when their home
        // slot allows it, so that no probe sequence is broken.
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.slots[j];
            if e == Self::EMPTY {
                break;
            }
            let h = self.home(e & key_mask);
            // `e` may move to `i` unless its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < h && h <= j
            } else {
                i < h || h <= j
            };
            if !stays {
                self.slots[i] = e;
                i = j;
            }
        }
        self.slots[i] = Self::EMPTY;
        self.used -= 1;
        if self.used == 0 {
            *self = Table::new();
        } else if self.slots.len() > 16 && self.used * 8 < self.slots.len() {
            self.resize(self.slots.len() / 2, key_mask);
        }
        Some(old)
    }

    fn grow(&mut self, key_mask: u64) {
        let n = (self.slots.len() * 2).max(8);
        self.resize(n, key_mask);
    }

    fn resize(&mut self, n: usize, key_mask: u64) {
        let old = std::mem::replace(&mut self.slots, vec![Self::EMPTY; n].into_boxed_slice());
        self.mask = n - 1;
        for e in old.iter().copied().filter(|&e| e != Self::EMPTY) {
            let i = self.slot(e & key_mask, key_mask);
            self.slots[i] = e;
        }
    }

    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|&e| e != Self::EMPTY)
    }

    fn heap_bytes(&self) -> usize {
        self.slots.len() * 8
    }
}

impl Default for Fib4 {
    fn default() -> Self {
        Fib4 {
            default: NONE,
            short_lens: 0,
            filter: Box::new([]),
            blocks: Table::new(),
            long: Table::new(),
            short: None,
            count: 0,
        }
    }
}

#[inline(always)]
fn block_nh(e: u64) -> Option<NhIdx> {
    let nh = e >> B_NH_SHIFT;
    (nh != B_NH_NONE).then_some(nh as NhIdx)
}

#[inline(always)]
fn block_cnt(e: u64) -> u64 {
    (e >> B_CNT_SHIFT) & B_CNT_MASK
}

/// The lengths (bit l - 25) of the longer prefixes a block holds, maybe with stale bits.
#[inline(always)]
fn block_lens(e: u64) -> u8 {
    (e >> B_LENS_SHIFT) as u8
}

#[inline(always)]
fn block_entry(block: u64, cnt: u64, lens: u8, nh: Option<NhIdx>) -> u64 {
    let nh = nh.map_or(B_NH_NONE, u64::from);
    // No longer prefix left: no length either.
    let lens = if cnt == 0 { 0 } else { u64::from(lens) };
    nh << B_NH_SHIFT | lens << B_LENS_SHIFT | cnt << B_CNT_SHIFT | block
}

#[inline(always)]
fn long_key(addr: u32, len: u8) -> u64 {
    // len is 25..=32: the shift is 0..=7, never 32.
    let l = len.saturating_sub(25);
    u64::from(l) << 32 | u64::from(addr & (u32::MAX << (7 - l.min(7))))
}

/// The filter word index and bit of a block, for a filter of `words` words (a power of two).
#[inline(always)]
fn filter_bit(block: u64, words: usize) -> (usize, u64) {
    // A different multiplier from the table's, so filter and slot collisions are independent.
    let h = (block.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 40) as usize;
    ((h >> 6) & (words.wrapping_sub(1)), 1 << (h & 63))
}

impl Fib4 {
    /// Upserts a block entry, keeping the filter in step with the table.
    fn put_block(&mut self, b: u64, entry: u64) {
        let cap = self.blocks.slots.len();
        let new = self.blocks.upsert(b, B_KEY_MASK, entry).is_none();
        if self.blocks.slots.len() != cap {
            self.rebuild_filter();
        } else if new {
            let (w, bit) = filter_bit(b, self.filter.len());
            self.filter[w] |= bit;
        }
    }

    /// Removes a block entry; the filter is rebuilt when the table shrinks.
    fn drop_block(&mut self, b: u64) {
        let cap = self.blocks.slots.len();
        self.blocks.remove(b, B_KEY_MASK);
        if self.blocks.slots.len() != cap {
            self.rebuild_filter();
        }
    }

    fn rebuild_filter(&mut self) {
        // 8 bits per slot: slots.len() / 8 words.
        let words = self.blocks.slots.len() / 8;
        let mut f = vec![0u64; words].into_boxed_slice();
        for e in self.blocks.iter() {
            let (w, bit) = filter_bit(e & B_KEY_MASK, words);
            f[w] |= bit;
        }
        self.filter = f;
    }

    /// Adds or replaces `addr/len → nh`; returns the nexthop it replaced. A length over 32 or
    /// a nexthop of [`MAX_NH`] or more is the caller's error: `None`, and nothing changes.
    pub fn insert(&mut self, addr: u32, len: u8, nh: NhIdx) -> Option<NhIdx> {
        if len > 32 || nh >= MAX_NH {
            return None;
        }
        let old = match len {
            0 => {
                let old = std::mem::replace(&mut self.default, nh);
                (old != NONE).then_some(old)
            }
            1..=23 => {
                let old = self
                    .short
                    .get_or_insert_with(Default::default)
                    .insert(addr, len, nh);
                self.short_lens |= 1 << len;
                old
            }
            24 => {
                let b = u64::from(addr >> 8);
                let (cnt, lens, old) = match self.blocks.find(b, B_KEY_MASK) {
                    Some(e) => (block_cnt(e), block_lens(e), block_nh(e)),
                    None => (0, 0, None),
                };
                self.put_block(b, block_entry(b, cnt, lens, Some(nh)));
                old
            }
            _ => {
                let k = long_key(addr, len);
                let old = self
                    .long
                    .upsert(k, L_KEY_MASK, u64::from(nh) << L_NH_SHIFT | k)
                    .map(|e| (e >> L_NH_SHIFT) as NhIdx);
                if old.is_none() {
                    let b = u64::from(addr >> 8);
                    let (cnt, lens, nh24) = match self.blocks.find(b, B_KEY_MASK) {
                        Some(e) => (block_cnt(e), block_lens(e), block_nh(e)),
                        None => (0, 0, None),
                    };
                    let i = usize::from(len - 25);
                    self.put_block(b, block_entry(b, cnt + 1, lens | 1 << i, nh24));
                }
                old
            }
        };
        if old.is_none() {
            self.count += 1;
        }
        old
    }

    /// Removes `addr/len`; returns its nexthop.
    pub fn remove(&mut self, addr: u32, len: u8) -> Option<NhIdx> {
        let old = match len {
            0 => {
                let old = std::mem::replace(&mut self.default, NONE);
                (old != NONE).then_some(old)
            }
            1..=23 => {
                let short = self.short.as_mut()?;
                let old = short.remove(addr, len);
                if old.is_some() && short.get_len_count(len) == 0 {
                    self.short_lens &= !(1 << len);
                    if short.is_empty() {
                        self.short = None;
                    }
                }
                old
            }
            24 => {
                let b = u64::from(addr >> 8);
                let e = self.blocks.find(b, B_KEY_MASK)?;
                let old = block_nh(e)?;
                if block_cnt(e) == 0 {
                    self.drop_block(b);
                } else {
                    self.put_block(b, block_entry(b, block_cnt(e), block_lens(e), None));
                }
                Some(old)
            }
            25..=32 => {
                let old = self.long.remove(long_key(addr, len), L_KEY_MASK)?;
                let b = u64::from(addr >> 8);
                if let Some(e) = self.blocks.find(b, B_KEY_MASK) {
                    let cnt = block_cnt(e).saturating_sub(1);
                    if cnt == 0 && block_nh(e).is_none() {
                        self.drop_block(b);
                    } else {
                        self.put_block(b, block_entry(b, cnt, block_lens(e), block_nh(e)));
                    }
                }
                Some((old >> L_NH_SHIFT) as NhIdx)
            }
            _ => None,
        };
        if old.is_some() {
            self.count -= 1;
        }
        old
    }

    /// The nexthop of the longest prefix that covers `addr`.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<NhIdx> {
        self.finish(addr, self.block(addr))
    }

    /// First step of a lookup: the block entry of `addr`, or [`Fib4::NO_BLOCK`].
    #[inline(always)]
    pub fn block(&self, addr: u32) -> u64 {
        if !self.may_have_block(addr) {
            return Self::NO_BLOCK;
        }
        self.block_unfiltered(addr)
    }

    /// The block entry of `addr`, found without asking the filter.
    #[inline(always)]
    pub fn block_unfiltered(&self, addr: u32) -> u64 {
        self.blocks
            .find(u64::from(addr >> 8), B_KEY_MASK)
            .unwrap_or(Self::NO_BLOCK)
    }

    /// `false` when the filter proves that `addr`'s /24 holds no route.
    #[inline(always)]
    pub fn may_have_block(&self, addr: u32) -> bool {
        let (w, bit) = filter_bit(u64::from(addr >> 8), self.filter.len());
        self.filter.get(w).is_some_and(|&x| x & bit != 0)
    }

    /// Hints the CPU to fetch the filter word of `addr`.
    #[inline(always)]
    pub fn prefetch_filter(&self, addr: u32) {
        let (w, _) = filter_bit(u64::from(addr >> 8), self.filter.len());
        if let Some(x) = self.filter.get(w) {
            crate::tables::prefetch(x);
        }
    }

    /// What [`Fib4::block`] returns when `addr`'s /24 holds no route.
    pub const NO_BLOCK: u64 = Table::EMPTY;

    /// Second step of a lookup, given `block = self.block(addr)`.
    #[inline(always)]
    pub fn finish(&self, addr: u32, block: u64) -> Option<NhIdx> {
        if block != Self::NO_BLOCK {
            if block_lens(block) != 0 {
                if let Some(nh) = self.lookup_long(addr, block_lens(block)) {
                    return Some(nh);
                }
            }
            if let Some(nh) = block_nh(block) {
                return Some(nh);
            }
        }
        self.lookup_short(addr)
    }

    /// Hints the CPU to fetch the line the first step of a lookup of `addr` reads.
    #[inline(always)]
    pub fn prefetch(&self, addr: u32) {
        crate::tables::prefetch(self.blocks.home_ptr(u64::from(addr >> 8)));
    }

    /// Hints the CPU to fetch the line the second step reads, when the block holds longer
    /// prefixes (the longest length the VRF has: host routes, typically).
    #[inline(always)]
    pub fn prefetch_long(&self, addr: u32, block: u64) {
        let lens = block_lens(block);
        if block != Self::NO_BLOCK && lens != 0 {
            let len = 32 - lens.leading_zeros() as u8;
            crate::tables::prefetch(self.long.home_ptr(long_key(addr, 24 + len)));
        }
    }

    /// Lengths 32 down to 25 that the block has (`lens`, bit l - 25).
    #[inline]
    fn lookup_long(&self, addr: u32, mut lens: u8) -> Option<NhIdx> {
        while lens != 0 {
            let i = 7 - lens.leading_zeros() as u8;
            lens &= !(1 << i);
            let k = long_key(addr, 25 + i);
            if let Some(e) = self.long.find(k, L_KEY_MASK) {
                return Some((e >> L_NH_SHIFT) as NhIdx);
            }
        }
        None
    }

    /// Lengths 23 down to 0.
    #[inline]
    fn lookup_short(&self, addr: u32) -> Option<NhIdx> {
        if self.short_lens != 0 {
            if let Some(nh) = self.short.as_ref().and_then(|s| s.lookup(addr)) {
                return Some(nh);
            }
        }
        (self.default != NONE).then_some(self.default)
    }

    /// The exact entry `addr/len`, if present.
    pub fn get(&self, addr: u32, len: u8) -> Option<NhIdx> {
        match len {
            0 => (self.default != NONE).then_some(self.default),
            1..=23 => self.short.as_ref()?.get(addr, len),
            24 => block_nh(self.blocks.find(u64::from(addr >> 8), B_KEY_MASK)?),
            25..=32 => self
                .long
                .find(long_key(addr, len), L_KEY_MASK)
                .map(|e| (e >> L_NH_SHIFT) as NhIdx),
            _ => None,
        }
    }

    /// The whole lookup without the filter (for a caller whose own filter said the block may
    /// be present).
    #[inline(always)]
    pub fn lookup_unfiltered(&self, addr: u32) -> Option<NhIdx> {
        self.finish(addr, self.block_unfiltered(addr))
    }

    /// `true` when the FIB has prefixes of length 1..=23.
    #[inline]
    pub fn has_short(&self) -> bool {
        self.short_lens != 0
    }

    /// The `/0` route's nexthop.
    #[inline]
    pub fn default_nh(&self) -> Option<NhIdx> {
        (self.default != NONE).then_some(self.default)
    }

    /// Number of /24 blocks (a block holds the `/24` route or longer ones inside it).
    pub fn block_count(&self) -> usize {
        self.blocks.used
    }

    /// The blocks (`addr >> 8`), in no particular order.
    pub fn blocks(&self) -> impl Iterator<Item = u32> + '_ {
        self.blocks.iter().map(|e| (e & B_KEY_MASK) as u32)
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.count
    }

    /// `true` when there is no prefix.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every `(prefix, len, nh)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u8, NhIdx)> + '_ {
        let default = (self.default != NONE).then_some((0, 0, self.default));
        let short = self.short.iter().flat_map(|s| s.iter());
        let blocks = self
            .blocks
            .iter()
            .filter_map(|e| Some(((e & B_KEY_MASK) as u32) << 8).zip(block_nh(e)))
            .map(|(a, nh)| (a, 24, nh));
        let long = self.long.iter().map(|e| {
            (
                e as u32,
                25 + ((e >> 32) & 7) as u8,
                (e >> L_NH_SHIFT) as NhIdx,
            )
        });
        default.into_iter().chain(short).chain(blocks).chain(long)
    }

    /// Heap bytes held (the tables' arrays and the short prefixes' maps, approximately).
    pub fn heap_bytes(&self) -> usize {
        self.blocks.heap_bytes()
            + self.filter.len() * 8
            + self.long.heap_bytes()
            + self.short.as_ref().map_or(0, |s| s.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::lpm::Key;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_and_remove() {
        let mut f = Fib4::default();
        assert_eq!(f.lookup(1), None);
        f.insert(0, 0, 1);
        f.insert(0xC633_6400, 24, 2); // 198.51.100.0/24
        f.insert(0xC633_6402, 32, 3);
        f.insert(0xC633_6480, 25, 4);
        f.insert(0xC633_0000, 16, 5);
        assert_eq!(f.lookup(0xC633_6402), Some(3));
        assert_eq!(f.lookup(0xC633_6403), Some(2));
        assert_eq!(f.lookup(0xC633_6481), Some(4));
        assert_eq!(f.lookup(0xC633_6501), Some(5));
        assert_eq!(f.lookup(0x0A00_0001), Some(1));
        assert_eq!(f.len(), 5);
        assert_eq!(f.remove(0xC633_6400, 24), Some(2));
        assert_eq!(
            f.lookup(0xC633_6403),
            Some(5),
            "block stays for its /32 and /25"
        );
        assert_eq!(f.lookup(0xC633_6402), Some(3));
        assert_eq!(f.remove(0xC633_6402, 32), Some(3));
        assert_eq!(f.remove(0xC633_6402, 32), None);
        assert_eq!(f.remove(0xC633_6480, 25), Some(4));
        assert_eq!(f.blocks.used, 0, "an empty block is removed");
        assert_eq!(f.long.used, 0);
        assert_eq!(f.lookup(0xC633_6402), Some(5));
        assert_eq!(
            f.insert(0xC633_FFFF, 16, 9),
            Some(5),
            "host bits are masked"
        );
        assert_eq!(f.remove(0xC633_0000, 16), Some(9));
        assert!(f.short.is_none());
        assert_eq!(f.insert(1, 33, 1), None);
        assert_eq!(f.insert(1, 32, MAX_NH), None);
        assert_eq!(f.get(1, 32), None);
        assert_eq!(f.len(), 1);
        assert_eq!(f.remove(0, 0), Some(1));
        assert!(f.is_empty());
    }

    #[test]
    fn grows_and_shrinks() {
        let mut f = Fib4::default();
        for i in 0..10_000u32 {
            f.insert(0x0A00_0000 + i * 7, 32, i);
        }
        for i in 0..10_000u32 {
            assert_eq!(f.lookup(0x0A00_0000 + i * 7), Some(i));
        }
        for i in 0..9_990u32 {
            assert_eq!(f.remove(0x0A00_0000 + i * 7, 32), Some(i));
        }
        for i in 9_990..10_000u32 {
            assert_eq!(f.lookup(0x0A00_0000 + i * 7), Some(i));
        }
        assert!(f.long.slots.len() <= 64, "shrunk to {}", f.long.slots.len());
        assert_eq!(f.len(), 10);
        for i in 9_990..10_000u32 {
            assert!(f.may_have_block(0x0A00_0000 + i * 7));
        }
        let absent = (0..1000u32)
            .filter(|i| !f.may_have_block(0x0B00_0000 + i * 256))
            .count();
        assert!(
            absent > 900,
            "the filter rules out most absent blocks: {absent}"
        );
    }

    proptest! {
        /// Against a linear-scan reference model, through inserts and removes.
        #[test]
        fn matches_reference(ops in proptest::collection::vec((any::<bool>(), 0u32..64, 0u8..=32, 0u32..100), 0..300),
                             probes in proptest::collection::vec(any::<u32>(), 1..50)) {
            let mut f = Fib4::default();
            let mut model: Vec<(u32, u8, u32)> = Vec::new();
            // Few distinct base addresses, so that blocks collide and removes hit.
            let addr = |i: u32| 0xC633_6400u32.wrapping_add(i.wrapping_mul(0x0101_0F37) & 0x0003_03FF);
            for &(del, i, len, nh) in &ops {
                let a = addr(i).mask(len);
                let want = model.iter().position(|&(ma, ml, _)| ma == a && ml == len);
                if del {
                    let got = f.remove(a, len);
                    prop_assert_eq!(got, want.map(|p| model[p].2));
                    if let Some(p) = want { model.remove(p); }
                } else {
                    let got = f.insert(a, len, nh);
                    prop_assert_eq!(got, want.map(|p| model[p].2));
                    if let Some(p) = want { model.remove(p); }
                    model.push((a, len, nh));
                }
                prop_assert_eq!(f.len(), model.len());
            }
            let all: Vec<u32> = probes.iter().copied().chain((0..64).map(addr)).collect();
            for p in all {
                let want = model.iter().filter(|&&(a, len, _)| p.mask(len) == a)
                    .max_by_key(|&&(_, len, _)| len).map(|&(_, _, nh)| nh);
                prop_assert_eq!(f.lookup(p), want);
            }
            let mut got: Vec<_> = f.iter().collect();
            got.sort_unstable();
            let mut want = model.clone();
            want.sort_unstable();
            prop_assert_eq!(got, want);
        }
    }
}
