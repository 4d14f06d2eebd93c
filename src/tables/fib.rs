//! Longest-prefix match for one VRF, sized for thousands of VRFs and a million routes: a
//! multibit *tree bitmap* trie (Eatherton, Varghese, Dittia 2004) with 6-bit strides,
//! popcount-indexed children and results, kept in two flat per-FIB arenas.
//!
//! # Layout
//!
//! A node covers 6 address bits starting at its depth `d`:
//! - `internal` (63 bits) marks the prefixes of length `d..d+6` stored in the node: a prefix of
//!   relative length `r` (0..=5) whose `r` bits are `b` sits at bit `2^r - 1 + b`;
//! - `external` (64 bits) marks which of the 64 sub-ranges have a child node;
//! - the node's children are contiguous in `nodes` from `children`, in bit order, and its
//!   nexthops contiguous in `results` from `results`: the child (result) for a bit is found
//!   with a popcount of the bits below it.
//!
//! The level depths are chosen so that the last level starts 5 bits above the end of the
//! address (IPv4: 0, 6, 9, 15, 21, 27; IPv6: 0, 6, 9, 15, .., 123): a /32 (/128) is then an
//! internal prefix of a last-level node that holds up to 32 neighbouring hosts, instead of
//! costing a node of its own. The one 3-bit stride (depth 6 → 9) pays for that alignment;
//! /24 lands inside the depth-21 node, /64 inside the depth-63 one.
//!
//! A lookup walks at most one node per level (IPv4: 6, IPv6: 22), remembering the longest
//! internal match seen, and reads one nexthop at the end. It never allocates. The root node,
//! the default route and the arena pointers share the struct's first cache line, so a
//! lookup that ends at the root with the default route (or no route) touches that line only.
//!
//! Cost (benches/fib.rs): a lookup is one dependent load per level walked, so once the table
//! is larger than the caches a lookup that goes deep (a /32 host route) pays one cache miss
//! per level; the popcounts want `popcnt` (`-C target-cpu=x86-64-v2` or later, as DPDK's
//! own `-march=corei7`), without it each costs a dozen instructions.
//!
//! # Updates and memory
//!
//! No leaf pushing: an insert or remove changes one node's bitmap and one block of results,
//! plus a child block per level created or pruned. Blocks have power-of-two capacities
//! (1..=64); a block that fills up is moved to the next size class and the old one goes on a
//! per-class free list, reused by the next block of that class. Everything is indices into
//! two `Vec`s, so `Clone` is two `memcpy`s: cheap for the small VRFs a copy-on-write batch
//! duplicates. Space freed by removals stays in the arenas (on the free lists) until the
//! table is dropped.
//!
//! No path compression: a chain of single-child nodes costs one node per 6 bits. That is
//! free for IPv4 and for IPv6 prefixes that cluster (IPAM-style hosts in a /64), but a /128
//! with random interface-id bits alone in its /64 costs ~10 nodes (~240 bytes).

use super::NhIdx;
use std::marker::PhantomData;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u32 {}
    impl Sealed for u128 {}
}

/// An address type usable as a [`Fib`] key: `u32` (IPv4) or `u128` (IPv6).
pub trait FibKey: Copy + Eq + std::fmt::Debug + sealed::Sealed {
    /// Width in bits (32 or 128).
    const BITS: u8;
    /// `(depth, chunk mask)` of each trie level, root first. The mask keeps the top `stride`
    /// bits of the 6-bit chunk (0x3f for a 6-bit stride, 0x38 for the 3-bit one).
    const LEVELS: &'static [(u8, u8)];
    /// The key with all bits after `len` cleared.
    fn mask(self, len: u8) -> Self;
    /// The 6 bits starting `depth` bits from the top, zero-padded past the end.
    fn chunk(self, depth: u8) -> u32;
    /// The key as a number.
    fn to_u128(self) -> u128;
    /// The key from a number that fits.
    fn from_u128(v: u128) -> Self;
}

/// Levels for `bits`-wide keys: root at 0 (stride 6), then 6, then a short stride so that
/// the remaining levels are 6 apart and the last one is at `bits - 5`.
const fn levels<const N: usize>(bits: u8) -> [(u8, u8); N] {
    let mut l = [(0u8, 0x3fu8); N];
    let last = bits - 5;
    let first_short = (last - 6) % 6;
    l[1] = (6, 0x3f);
    let mut i = 2;
    let mut d = 6 + if first_short == 0 { 6 } else { first_short };
    if first_short != 0 {
        l[1].1 = ((1u8 << first_short) - 1) << (6 - first_short);
    }
    while i < N {
        l[i] = (d, 0x3f);
        d += 6;
        i += 1;
    }
    l
}

const LEVELS4: [(u8, u8); 6] = levels::<6>(32);
const LEVELS6: [(u8, u8); 22] = levels::<22>(128);
/// Most levels of any key type.
const MAX_LEVELS: usize = 22;

impl FibKey for u32 {
    const BITS: u8 = 32;
    const LEVELS: &'static [(u8, u8)] = &LEVELS4;
    #[inline(always)]
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(len)))
        }
    }
    #[inline(always)]
    fn chunk(self, depth: u8) -> u32 {
        (self << depth) >> 26
    }
    fn to_u128(self) -> u128 {
        u128::from(self)
    }
    fn from_u128(v: u128) -> Self {
        v as u32
    }
}

impl FibKey for u128 {
    const BITS: u8 = 128;
    const LEVELS: &'static [(u8, u8)] = &LEVELS6;
    #[inline(always)]
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(len)))
        }
    }
    #[inline(always)]
    fn chunk(self, depth: u8) -> u32 {
        ((self << depth) >> 122) as u32
    }
    fn to_u128(self) -> u128 {
        self
    }
    fn from_u128(v: u128) -> Self {
        v
    }
}

/// `MATCH[c]`: the internal-bitmap positions of every prefix (relative length 0..=5) that
/// covers chunk `c`. The highest set bit of `internal & MATCH[c]` is the longest match.
static MATCH: [u64; 64] = {
    let mut t = [0u64; 64];
    let mut c = 0;
    while c < 64 {
        let mut m = 0u64;
        let mut r = 0;
        while r < 6 {
            m |= 1u64 << ((1usize << r) - 1 + (c >> (6 - r)));
            r += 1;
        }
        t[c] = m;
        c += 1;
    }
    t
};

/// The internal-bitmap position of the prefix of relative length `rel` (0..=5) in `chunk`.
#[inline]
fn internal_pos(chunk: u32, rel: u8) -> u32 {
    (1u32 << rel) - 1 + (chunk >> (6 - rel))
}

/// Number of set bits of `bm` below bit `bit`.
#[inline(always)]
fn rank(bm: u64, bit: u32) -> u32 {
    (bm & ((1u64 << bit) - 1)).count_ones()
}

/// "No block" / "the root" (the root is not in the arena).
const NONE: u32 = u32::MAX;
/// Block size classes: 1, 2, 4, .., 64 slots.
const CLASSES: usize = 7;

/// One trie node (24 bytes).
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    internal: u64,
    external: u64,
    /// First child, when `external != 0`.
    children: u32,
    /// First nexthop, when `internal != 0`.
    results: u32,
}

/// An arena slot type: a free block links to the next free block of its class through its
/// first slot.
trait Slot: Copy + Default {
    fn link(&self) -> u32;
    fn set_link(&mut self, next: u32);
}

impl Slot for Node {
    fn link(&self) -> u32 {
        self.children
    }
    fn set_link(&mut self, next: u32) {
        self.children = next;
    }
}

impl Slot for NhIdx {
    fn link(&self) -> u32 {
        *self
    }
    fn set_link(&mut self, next: u32) {
        *self = next;
    }
}

/// Bookkeeping of one arena: slots in use (a prefix of the slice) and the free lists.
#[derive(Clone, Copy, Debug)]
struct Meta {
    used: u32,
    free: [u32; CLASSES],
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            used: 0,
            free: [NONE; CLASSES],
        }
    }
}

/// Blocks of `T` with power-of-two capacities in one slice; a block of `n` elements has
/// capacity `n.next_power_of_two()`, so the capacity is never stored. A view over the
/// fields of a [`Fib`], which keeps the slices in its first cache line and the rest apart.
struct Arena<'a, T> {
    slots: &'a mut Box<[T]>,
    meta: &'a mut Meta,
}

/// Size class of a block of `n` (1..=64) elements.
#[inline]
fn class(n: u32) -> usize {
    n.next_power_of_two().trailing_zeros() as usize
}

impl<T: Slot> Arena<'_, T> {
    /// A block for `n` elements.
    fn alloc(&mut self, n: u32) -> u32 {
        let c = class(n);
        let head = self.meta.free[c];
        if head != NONE {
            self.meta.free[c] = self.slots[head as usize].link();
            return head;
        }
        let base = self.meta.used as usize;
        let size = 1usize << c;
        if self.slots.len() < base + size {
            // Grow by a quarter rather than doubling: at most ~25% slack in the arena.
            let cap = (base + size).max(base + base / 4).max(8);
            let mut v = Vec::with_capacity(cap);
            v.extend_from_slice(&self.slots[..self.meta.used as usize]);
            v.resize(cap, T::default());
            *self.slots = v.into_boxed_slice();
        }
        self.meta.used = u32::try_from(base + size).expect("FIB arena exceeds 2^32 slots");
        base as u32
    }

    /// Frees the block at `base` holding `n` elements.
    fn free(&mut self, base: u32, n: u32) {
        let c = class(n);
        self.slots[base as usize].set_link(self.meta.free[c]);
        self.meta.free[c] = base;
    }

    /// Inserts `v` at index `at` of the `n`-element block at `base`; returns the block's
    /// (possibly new) base.
    fn insert_at(&mut self, base: u32, n: u32, at: u32, v: T) -> u32 {
        let (b, n_, at_) = (base as usize, n as usize, at as usize);
        if n == 0 {
            let nb = self.alloc(1);
            self.slots[nb as usize] = v;
            return nb;
        }
        if n < n.next_power_of_two() {
            self.slots.copy_within(b + at_..b + n_, b + at_ + 1);
            self.slots[b + at_] = v;
            return base;
        }
        let nb = self.alloc(n + 1);
        let nb_ = nb as usize;
        self.slots.copy_within(b..b + at_, nb_);
        self.slots[nb_ + at_] = v;
        self.slots.copy_within(b + at_..b + n_, nb_ + at_ + 1);
        self.free(base, n);
        nb
    }

    /// Removes index `at` of the `n`-element block at `base`; returns the block's (possibly
    /// new, [`NONE`] when empty) base and the removed element.
    fn remove_at(&mut self, base: u32, n: u32, at: u32) -> (u32, T) {
        let (b, n_, at_) = (base as usize, n as usize, at as usize);
        let v = self.slots[b + at_];
        if n == 1 {
            self.free(base, 1);
            return (NONE, v);
        }
        if class(n - 1) == class(n) {
            self.slots.copy_within(b + at_ + 1..b + n_, b + at_);
            return (base, v);
        }
        let nb = self.alloc(n - 1);
        let nb_ = nb as usize;
        self.slots.copy_within(b..b + at_, nb_);
        self.slots.copy_within(b + at_ + 1..b + n_, nb_ + at_);
        self.free(base, n);
        (nb, v)
    }
}

/// Longest-prefix match over `K` keys (see the module documentation).
///
/// The first cache line holds what a lookup reads before it leaves the root: the root node,
/// the default route and the two arena slices. A lookup that ends at the root (a default
/// route, a miss) touches only that line.
#[repr(C, align(64))]
pub struct Fib<K: FibKey> {
    /// The root, except the /0 (in `default`): its internal bit 0 is never set.
    root: Node,
    default: Option<NhIdx>,
    nodes: Box<[Node]>,
    results: Box<[NhIdx]>,
    nodes_meta: Meta,
    results_meta: Meta,
    len: u32,
    _key: PhantomData<K>,
}

/// IPv4 FIB.
pub type Fib4 = Fib<u32>;
/// IPv6 FIB.
pub type Fib6 = Fib<u128>;

impl<K: FibKey> Default for Fib<K> {
    fn default() -> Self {
        Fib {
            root: Node::default(),
            default: None,
            nodes: Box::default(),
            results: Box::default(),
            nodes_meta: Meta::default(),
            results_meta: Meta::default(),
            len: 0,
            _key: PhantomData,
        }
    }
}

/// Copies only the arena slots in use: a clone has no growth slack.
impl<K: FibKey> Clone for Fib<K> {
    fn clone(&self) -> Self {
        Fib {
            root: self.root,
            default: self.default,
            nodes: self.nodes[..self.nodes_meta.used as usize].into(),
            results: self.results[..self.results_meta.used as usize].into(),
            nodes_meta: self.nodes_meta,
            results_meta: self.results_meta,
            len: self.len,
            _key: PhantomData,
        }
    }
}

impl<K: FibKey> std::fmt::Debug for Fib<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib")
            .field("len", &self.len)
            .field("nodes", &self.nodes_meta.used)
            .field("results", &self.results_meta.used)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

/// The level holding prefixes of length `len`.
fn level_of<K: FibKey>(len: u8) -> usize {
    let mut i = K::LEVELS.len() - 1;
    while K::LEVELS[i].0 > len {
        i -= 1;
    }
    i
}

impl<K: FibKey> Fib<K> {
    fn node_arena(&mut self) -> Arena<'_, Node> {
        Arena {
            slots: &mut self.nodes,
            meta: &mut self.nodes_meta,
        }
    }

    fn result_arena(&mut self) -> Arena<'_, NhIdx> {
        Arena {
            slots: &mut self.results,
            meta: &mut self.results_meta,
        }
    }

    #[inline(always)]
    fn node(&self, r: u32) -> &Node {
        if r == NONE {
            &self.root
        } else {
            &self.nodes[r as usize]
        }
    }

    fn node_mut(&mut self, r: u32) -> &mut Node {
        if r == NONE {
            &mut self.root
        } else {
            &mut self.nodes[r as usize]
        }
    }

    /// The child of node `r` for chunk `c`, created if missing.
    fn child_or_insert(&mut self, r: u32, c: u32) -> u32 {
        let n = *self.node(r);
        let at = rank(n.external, c);
        if n.external & (1 << c) != 0 {
            return n.children + at;
        }
        let base =
            self.node_arena()
                .insert_at(n.children, n.external.count_ones(), at, Node::default());
        let m = self.node_mut(r);
        m.children = base;
        m.external |= 1 << c;
        base + at
    }

    /// The node holding `addr/len` (masked, `len` > 0) and its internal position, if the path
    /// exists; fills `path` with the `(node, chunk)` pairs walked through.
    fn find(&self, addr: K, len: u8, path: &mut [(u32, u32); MAX_LEVELS]) -> Option<(u32, u32)> {
        let lvl = level_of::<K>(len);
        let mut cur = NONE;
        for (i, &(depth, cmask)) in K::LEVELS[..lvl].iter().enumerate() {
            let c = addr.chunk(depth) & u32::from(cmask);
            let n = self.node(cur);
            if n.external & (1 << c) == 0 {
                return None;
            }
            path[i] = (cur, c);
            cur = n.children + rank(n.external, c);
        }
        let depth = K::LEVELS[lvl].0;
        Some((cur, internal_pos(addr.chunk(depth), len - depth)))
    }

    /// Adds or replaces `addr/len → nh`; returns the nexthop it replaced. Host bits of `addr`
    /// are ignored. `len` > width is the caller's error and is rejected with `None` and no
    /// change.
    pub fn insert(&mut self, addr: K, len: u8, nh: NhIdx) -> Option<NhIdx> {
        if len > K::BITS {
            return None;
        }
        if len == 0 {
            let old = self.default.replace(nh);
            self.len += u32::from(old.is_none());
            return old;
        }
        let addr = addr.mask(len);
        let lvl = level_of::<K>(len);
        let mut cur = NONE;
        for &(depth, cmask) in &K::LEVELS[..lvl] {
            cur = self.child_or_insert(cur, addr.chunk(depth) & u32::from(cmask));
        }
        let depth = K::LEVELS[lvl].0;
        let pos = internal_pos(addr.chunk(depth), len - depth);
        let n = *self.node(cur);
        let at = rank(n.internal, pos);
        if n.internal & (1 << pos) != 0 {
            let slot = &mut self.results[(n.results + at) as usize];
            return Some(std::mem::replace(slot, nh));
        }
        let base = self
            .result_arena()
            .insert_at(n.results, n.internal.count_ones(), at, nh);
        let m = self.node_mut(cur);
        m.results = base;
        m.internal |= 1 << pos;
        self.len += 1;
        None
    }

    /// Removes `addr/len` (host bits ignored); returns its nexthop.
    pub fn remove(&mut self, addr: K, len: u8) -> Option<NhIdx> {
        if len > K::BITS {
            return None;
        }
        if len == 0 {
            let old = self.default.take();
            self.len -= u32::from(old.is_some());
            return old;
        }
        let mut path = [(NONE, 0); MAX_LEVELS];
        let (mut cur, pos) = self.find(addr.mask(len), len, &mut path)?;
        let n = *self.node(cur);
        if n.internal & (1 << pos) == 0 {
            return None;
        }
        let (base, old) = self.result_arena().remove_at(
            n.results,
            n.internal.count_ones(),
            rank(n.internal, pos),
        );
        let m = self.node_mut(cur);
        m.results = base;
        m.internal &= !(1 << pos);
        self.len -= 1;
        // Prune nodes left with neither prefixes nor children, bottom up.
        let mut i = level_of::<K>(len);
        while i > 0 {
            let n = self.node(cur);
            if n.internal != 0 || n.external != 0 {
                break;
            }
            i -= 1;
            let (parent, c) = path[i];
            let p = *self.node(parent);
            let (base, _) = self.node_arena().remove_at(
                p.children,
                p.external.count_ones(),
                rank(p.external, c),
            );
            let m = self.node_mut(parent);
            m.children = base;
            m.external &= !(1 << c);
            cur = parent;
        }
        Some(old)
    }

    /// The nexthop of the longest prefix that covers `addr`.
    #[inline]
    pub fn lookup(&self, addr: K) -> Option<NhIdx> {
        let mut n = &self.root;
        let mut best = NONE;
        for &(depth, cmask) in K::LEVELS {
            let c = addr.chunk(depth) & u32::from(cmask);
            let m = n.internal & MATCH[c as usize];
            if m != 0 {
                best = n.results + rank(n.internal, 63 - m.leading_zeros());
            }
            if n.external & (1 << c) == 0 {
                break;
            }
            n = &self.nodes[(n.children + rank(n.external, c)) as usize];
        }
        if best == NONE {
            self.default
        } else {
            Some(self.results[best as usize])
        }
    }

    /// The exact entry `addr/len` (host bits ignored), if present.
    pub fn get(&self, addr: K, len: u8) -> Option<NhIdx> {
        if len > K::BITS {
            return None;
        }
        if len == 0 {
            return self.default;
        }
        let mut path = [(NONE, 0); MAX_LEVELS];
        let (cur, pos) = self.find(addr.mask(len), len, &mut path)?;
        let n = self.node(cur);
        (n.internal & (1 << pos) != 0)
            .then(|| self.results[(n.results + rank(n.internal, pos)) as usize])
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// `true` when there is no prefix.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every `(prefix, len, nh)`, longest prefixes first. Control plane only: it collects
    /// and sorts the entries.
    pub fn iter(&self) -> impl Iterator<Item = (K, u8, NhIdx)> + '_ {
        let mut out = Vec::with_capacity(self.len());
        self.collect(NONE, 0, 0, &mut out);
        out.extend(self.default.map(|nh| (K::from_u128(0), 0, nh)));
        out.sort_by_key(|e| std::cmp::Reverse(e.1));
        out.into_iter()
    }

    fn collect(&self, r: u32, lvl: usize, prefix: u128, out: &mut Vec<(K, u8, NhIdx)>) {
        let n = *self.node(r);
        let depth = K::LEVELS[lvl].0;
        let mut bm = n.internal;
        let mut i = 0;
        while bm != 0 {
            let pos = bm.trailing_zeros();
            bm &= bm - 1;
            let rel = 31 - (pos + 1).leading_zeros();
            let bits = u128::from(pos + 1 - (1 << rel));
            let p = if rel == 0 {
                prefix
            } else {
                prefix | bits << (u32::from(K::BITS - depth) - rel)
            };
            let nh = self.results[(n.results + i) as usize];
            out.push((K::from_u128(p), depth + rel as u8, nh));
            i += 1;
        }
        let mut bm = n.external;
        let mut i = 0;
        while bm != 0 {
            let c = bm.trailing_zeros();
            bm &= bm - 1;
            let p = prefix | u128::from(c) << (K::BITS - depth - 6);
            self.collect(n.children + i, lvl + 1, p, out);
            i += 1;
        }
    }

    /// Heap memory held (arena slices, free blocks and growth slack included), for
    /// accounting. The struct itself (`size_of::<Self>()`, 192 bytes) comes on top.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.nodes) + std::mem::size_of_val(&*self.results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn levels() {
        assert_eq!(std::mem::size_of::<Fib4>(), 192);
        assert_eq!(std::mem::offset_of!(Fib4, nodes_meta), 64);
        assert_eq!(
            LEVELS4,
            [
                (0, 0x3f),
                (6, 0x38),
                (9, 0x3f),
                (15, 0x3f),
                (21, 0x3f),
                (27, 0x3f)
            ]
        );
        assert_eq!(LEVELS6[..3], [(0, 0x3f), (6, 0x38), (9, 0x3f)]);
        assert_eq!(LEVELS6[21], (123, 0x3f));
        assert!(LEVELS6.windows(2).skip(2).all(|w| w[1].0 - w[0].0 == 6));
        assert_eq!(std::mem::size_of::<Node>(), 24);
    }

    #[test]
    fn longest_wins_and_remove() {
        let mut l = Fib4::default();
        assert_eq!(l.lookup(0), None);
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

    #[test]
    fn edges_v4() {
        let mut l = Fib4::default();
        // /0 with host bits set is the default route.
        assert_eq!(l.insert(0xFFFF_FFFF, 0, 7), None);
        assert_eq!(l.get(0x1234_5678, 0), Some(7));
        assert_eq!(l.lookup(0xDEAD_BEEF), Some(7));
        // /32 at both ends of the space.
        assert_eq!(l.insert(0xFFFF_FFFF, 32, 8), None);
        assert_eq!(l.insert(0, 32, 9), None);
        assert_eq!(l.lookup(0xFFFF_FFFF), Some(8));
        assert_eq!(l.lookup(0xFFFF_FFFE), Some(7));
        assert_eq!(l.lookup(0), Some(9));
        assert_eq!(l.lookup(1), Some(7));
        // Every length on one path, then removed shortest first.
        let a = 0xA5C3_0F96;
        for len in 1..=31 {
            assert_eq!(l.insert(a | 0x7, len, 100 + u32::from(len)), None);
        }
        assert_eq!(l.len(), 34);
        for len in 2..=31 {
            assert_eq!(
                l.lookup(a.mask(len) ^ (1 << (32 - len))),
                Some(99 + u32::from(len))
            );
        }
        for len in 1..=31 {
            assert_eq!(l.remove(a, len), Some(100 + u32::from(len)));
            assert_eq!(l.get(a, len), None);
            assert_eq!(l.remove(a, len), None, "removed twice");
        }
        assert_eq!(l.lookup(a), Some(7));
        // Replace returns the old nexthop; a /33 is rejected everywhere.
        assert_eq!(l.insert(0, 0, 70), Some(7));
        assert_eq!(l.insert(0, 33, 1), None);
        assert_eq!(l.get(0, 33), None);
        assert_eq!(l.remove(0, 33), None);
        assert_eq!(l.remove(0x0A00_0000, 8), None, "absent");
        // Removing the last prefix of a length: the shorter one shows through.
        l.insert(0x0A00_0000, 8, 10);
        l.insert(0x0A01_0000, 16, 11);
        assert_eq!(l.lookup(0x0A01_0203), Some(11));
        assert_eq!(
            l.remove(0x0A01_FFFF, 16),
            Some(11),
            "host bits masked on remove"
        );
        assert_eq!(l.lookup(0x0A01_0203), Some(10));
        assert_eq!(l.remove(0x0A00_0000, 8), Some(10));
        assert_eq!(l.lookup(0x0A01_0203), Some(70));
        for (a, len) in [(0, 0), (0xFFFF_FFFF, 32), (0, 32)] {
            assert!(l.remove(a, len).is_some());
        }
        assert!(l.is_empty());
        assert_eq!(l.lookup(0), None);
        assert_eq!((l.root.internal, l.root.external), (0, 0), "pruned");
    }

    #[test]
    fn edges_v6() {
        let mut l = Fib6::default();
        let a: u128 = 0x2001_0db8_0001_0002_0000_0000_0000_0001;
        assert_eq!(l.insert(a, 0, 1), None);
        assert_eq!(l.insert(a, 128, 2), None);
        assert_eq!(l.insert(a | 0xFFFF, 64, 3), None);
        assert_eq!(l.insert(u128::MAX, 128, 4), None);
        assert_eq!(l.lookup(a), Some(2));
        assert_eq!(l.lookup(a + 1), Some(3));
        assert_eq!(l.lookup(u128::MAX), Some(4));
        assert_eq!(l.lookup(u128::MAX - 1), Some(1));
        assert_eq!(l.get(a ^ 0xFF, 64), Some(3));
        assert_eq!(l.insert(a, 129, 9), None);
        assert_eq!(l.remove(a, 64), Some(3));
        assert_eq!(l.lookup(a + 1), Some(1));
        assert_eq!(l.remove(a, 128), Some(2));
        assert_eq!(l.remove(u128::MAX, 128), Some(4));
        assert_eq!(l.len(), 1);
        assert_eq!((l.root.external, l.nodes.is_empty()), (0, false));
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![(0, 0, 1)]);
    }

    #[test]
    fn clone_is_independent() {
        let mut a = Fib4::default();
        for i in 0..300u32 {
            a.insert(0x0A00_0000 | (i << 3), 29 + (i % 4) as u8, i);
        }
        let mut b = a.clone();
        b.insert(0x0A00_0000, 8, 1000);
        b.remove(0x0A00_0008, 30);
        assert_eq!(a.len(), b.len());
        assert_eq!(a.lookup(0x0A00_0008), Some(1));
        assert_eq!(b.lookup(0x0A00_0008), Some(1000));
        assert_eq!(a.get(0x0A00_0000, 8), None);
    }

    /// A linear-scan reference LPM.
    fn model_lookup<K: FibKey>(model: &[(K, u8, u32)], p: K) -> Option<u32> {
        model
            .iter()
            .filter(|&&(a, len, _)| p.mask(len) == a)
            .max_by_key(|&&(_, len, _)| len)
            .map(|&(_, _, nh)| nh)
    }

    /// Runs `ops` (insert when `nh` is `Some`, else remove) on a FIB and the model and checks
    /// every answer, then lookups of the probes, `get`, `len` and `iter`.
    fn check<K: FibKey + Ord>(
        ops: &[(K, u8, Option<u32>)],
        probes: &[K],
    ) -> Result<(), TestCaseError> {
        let mut l = Fib::<K>::default();
        let mut model: Vec<(K, u8, u32)> = Vec::new();
        for &(a, len, nh) in ops {
            let m = a.mask(len);
            let idx = model.iter().position(|&(ma, ml, _)| ma == m && ml == len);
            match nh {
                Some(nh) => {
                    let want = idx.map(|i| std::mem::replace(&mut model[i].2, nh));
                    if idx.is_none() {
                        model.push((m, len, nh));
                    }
                    prop_assert_eq!(l.insert(a, len, nh), want);
                }
                None => {
                    let want = idx.map(|i| model.swap_remove(i).2);
                    prop_assert_eq!(l.remove(a, len), want);
                }
            }
            prop_assert_eq!(l.len(), model.len());
        }
        let near = ops.iter().flat_map(|&(a, len, _)| {
            // The prefix itself, and the addresses just outside it on both sides.
            let m = a.mask(len).to_u128();
            let span = if len == 0 {
                u128::MAX
            } else {
                (1u128 << (u32::from(K::BITS - len))) - 1
            };
            [
                a,
                K::from_u128(m),
                K::from_u128(m.wrapping_sub(1) & (u128::MAX >> (128 - u32::from(K::BITS)))),
                K::from_u128(
                    (m + span).wrapping_add(1) & (u128::MAX >> (128 - u32::from(K::BITS))),
                ),
            ]
        });
        for p in probes.iter().copied().chain(near) {
            prop_assert_eq!(l.lookup(p), model_lookup(&model, p), "probe {:?}", p);
        }
        for &(a, len, _) in ops {
            let want = model
                .iter()
                .find(|&&(ma, ml, _)| ma == a.mask(len) && ml == len)
                .map(|e| e.2);
            prop_assert_eq!(l.get(a, len), want);
        }
        let got: Vec<_> = l.iter().collect();
        prop_assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "longest first");
        let mut got = got;
        got.sort();
        model.sort();
        prop_assert_eq!(got, model);
        Ok(())
    }

    /// Addresses from a few bases with random low bits, so that prefixes nest and collide.
    fn addr4() -> impl Strategy<Value = u32> {
        prop_oneof![
            any::<u32>(),
            (0u32..4, any::<u32>()).prop_map(|(b, x)| (b << 28) | (x >> (x % 32)))
        ]
    }

    fn addr6() -> impl Strategy<Value = u128> {
        prop_oneof![
            any::<u128>(),
            (0u128..4, any::<u128>(), 0u32..128).prop_map(|(b, x, s)| (b << 124) | (x >> s))
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Against a linear-scan reference model (as for `Lpm`).
        #[test]
        fn matches_reference(routes in proptest::collection::vec((any::<u32>(), 0u8..=32, 0u32..100), 0..60),
                             probes in proptest::collection::vec(any::<u32>(), 1..50)) {
            let ops: Vec<_> = routes.iter().map(|&(a, l, nh)| (a, l, Some(nh))).collect();
            check(&ops, &probes)?;
        }

        #[test]
        fn matches_reference_v4(ops in proptest::collection::vec((addr4(), 0u8..=32, proptest::option::weighted(0.7, 0u32..1000)), 0..200),
                                probes in proptest::collection::vec(addr4(), 1..100)) {
            check(&ops, &probes)?;
        }

        #[test]
        fn matches_reference_v6(ops in proptest::collection::vec((addr6(), 0u8..=128, proptest::option::weighted(0.7, 0u32..1000)), 0..200),
                                probes in proptest::collection::vec(addr6(), 1..100)) {
            check(&ops, &probes)?;
        }
    }
}
