//! The set of VRFs, and the front end of IPv4 lookups across them.
//!
//! With thousands of VRFs, a random lookup in a VRF's own [`Fib4`] starts with two dependent
//! cache misses before any route is read: the VRF's header (a scattered heap allocation), then
//! its Bloom filter. Here a lookup starts from two places that need no pointer chase and are
//! fetched together:
//! - [`BlockFilter`]: one Bloom filter over every `(VRF, /24 block)` that holds a route, in one
//!   flat array (4–8 B per block);
//! - `miss4`: per VRF id, the answer for a destination whose /24 holds no route (the default
//!   nexthop, or "ask the VRF" when it has /1–/23 prefixes): 4 B per VRF, 16 KB in all.
//!
//! A destination whose block the filter rules out — nearly every random one — is answered from
//! these two lines. Otherwise the lookup goes on in the VRF's [`Fib4`] (header, block slot,
//! host-route slot).
//!
//! The filter is shared, through an `Arc`, by every table generation derived from the one that
//! built it: the control thread sets a new block's bits (atomic OR) before the generation that
//! holds the block is published, and never clears a bit. A bit of a removed block, or one set
//! by a sibling generation that was dropped, costs a probe, never a wrong answer. When too many
//! bits are set (for the filter's size, or for the blocks this generation has) the filter is
//! rebuilt from this generation's blocks into a new `Arc`, which older generations do not see.
//! A change copies the VRF it touches, the VRF pointer list and `miss4`, never the filter.
//!
//! Every change to a VRF's routes goes through [`Vrfs`], so the filter cannot miss a block.

use super::fib4::Fib4;
use super::lpm::NhIdx;
use super::{prefetch, Vrf, MAX_VRFS};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// `miss4`: no nexthop (no VRF, or no default).
const MISS_NONE: u32 = u32::MAX;
/// `miss4`: the VRF has /1–/23 prefixes; ask its FIB.
const MISS_ASK: u32 = u32::MAX - 1;

/// A Bloom filter over `(VRF, /24 block)` pairs: three bits in one 64-bit word per pair, so a
/// test reads one word. Sized for 32–64 bits per block when built, and rebuilt once an eighth
/// of its bits are set (about 22 bits per block): false positives stay under about 0.1 %.
#[derive(Debug)]
pub struct BlockFilter {
    words: Box<[AtomicU64]>,
    /// `64 - log2(words.len())`: the word index is the hash's top bits.
    shift: u32,
    /// Bits set so far (by every generation sharing the filter).
    set: AtomicUsize,
}

impl BlockFilter {
    /// The smallest filter: one cache line.
    const MIN_WORDS: usize = 8;

    /// An empty filter sized for `blocks` blocks.
    fn for_blocks(blocks: usize) -> Self {
        // 32 bits per block, at least: half a word.
        let words = blocks.div_ceil(2).next_power_of_two().max(Self::MIN_WORDS);
        BlockFilter {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            shift: 64 - words.trailing_zeros(),
            set: AtomicUsize::new(0),
        }
    }

    /// The word index and the bits of `(vrf, block)`.
    #[inline(always)]
    fn probe(&self, vrf: u16, block: u32) -> (usize, u64) {
        let h = (u64::from(vrf) << 24 | u64::from(block & 0xFF_FFFF))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Word from the top bits; bit positions from bits 20..38, which depend on every key
        // bit and (for any filter under 2^26 words) overlap none of the word index's.
        let bits = 1 << ((h >> 20) & 63) | 1 << ((h >> 26) & 63) | 1 << ((h >> 32) & 63);
        ((h >> self.shift) as usize, bits)
    }

    /// Hints the CPU to fetch the word of a probe.
    #[inline(always)]
    fn prefetch(&self, (w, _): (usize, u64)) {
        if let Some(x) = self.words.get(w) {
            prefetch(x);
        }
    }

    /// `false` when the probe's block is certainly absent.
    #[inline(always)]
    fn test(&self, (w, bits): (usize, u64)) -> bool {
        self.words
            .get(w)
            .is_some_and(|x| x.load(Ordering::Relaxed) & bits == bits)
    }

    /// Sets the bits of `(vrf, block)`. Readers of already published generations may see the
    /// new bits at any time: they only cost them a probe.
    fn add(&self, vrf: u16, block: u32) {
        let (w, bits) = self.probe(vrf, block);
        let old = self.words[w].fetch_or(bits, Ordering::Relaxed);
        let new = (bits & !old).count_ones() as usize;
        if new != 0 {
            self.set.fetch_add(new, Ordering::Relaxed);
        }
    }

    /// Sets the bits of `(vrf, block)` in a filter not shared yet (no atomic operation).
    fn add_mut(&mut self, vrf: u16, block: u32) {
        let (w, bits) = self.probe(vrf, block);
        let x = self.words[w].get_mut();
        *self.set.get_mut() += (bits & !*x).count_ones() as usize;
        *x |= bits;
    }

    /// Too many bits set for a low false-positive rate.
    fn too_dense(&self) -> bool {
        self.set.load(Ordering::Relaxed) * 8 > self.words.len() * 64
    }

    /// Many more bits set than `blocks` blocks account for (3 each, or fewer where they
    /// share bits): left by removed blocks, or by sibling generations that were dropped.
    fn stale(&self, blocks: usize) -> bool {
        self.set.load(Ordering::Relaxed) * 4 > blocks * 3 * 5
    }

    /// One cache line: never worth rebuilding for stale bits.
    fn small(&self) -> bool {
        self.words.len() <= Self::MIN_WORDS
    }

    fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// Every VRF, by id, with the shared front end of IPv4 lookups (see the module docs).
#[derive(Clone, Debug)]
pub struct Vrfs {
    by_id: Vec<Option<Arc<Vrf>>>,
    /// Per VRF id (`MAX_VRFS` entries): the answer when the destination's /24 holds no route.
    miss4: Box<[u32]>,
    filter: Arc<BlockFilter>,
    /// Blocks in every VRF's FIB together.
    blocks: usize,
}

impl Default for Vrfs {
    fn default() -> Self {
        Vrfs {
            by_id: Vec::new(),
            miss4: vec![MISS_NONE; MAX_VRFS].into_boxed_slice(),
            filter: Arc::new(BlockFilter::for_blocks(0)),
            blocks: 0,
        }
    }
}

/// What `miss4` holds for this FIB.
fn miss_entry(f: &Fib4) -> u32 {
    if f.has_short() {
        MISS_ASK
    } else {
        f.default_nh().unwrap_or(MISS_NONE)
    }
}

impl Vrfs {
    /// The VRF with this id.
    #[inline(always)]
    pub fn get(&self, id: u16) -> Option<&Vrf> {
        self.by_id.get(usize::from(id))?.as_deref()
    }

    /// The shared VRF with this id (to tell whether two generations share it).
    pub fn get_arc(&self, id: u16) -> Option<&Arc<Vrf>> {
        self.by_id.get(usize::from(id))?.as_ref()
    }

    /// `true` when VRF `id` is defined.
    pub fn contains(&self, id: u32) -> bool {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.by_id.get(i))
            .is_some_and(Option::is_some)
    }

    /// Every VRF, by increasing id.
    pub fn iter(&self) -> impl Iterator<Item = &Vrf> + '_ {
        self.by_id.iter().flatten().map(|v| &**v)
    }

    /// Adds (or replaces) the VRF `vrf.id`, routes included. Panics when the id is not below
    /// [`MAX_VRFS`] (the control plane checks it first).
    pub fn insert(&mut self, vrf: Vrf) {
        let id = vrf.id;
        let i = usize::from(id);
        assert!(i < MAX_VRFS, "VRF id {id} out of range");
        self.remove(id);
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, None);
        }
        self.miss4[i] = miss_entry(&vrf.fib4);
        self.blocks += vrf.fib4.block_count();
        for b in vrf.fib4.blocks() {
            self.filter.add(id, b);
        }
        self.by_id[i] = Some(Arc::new(vrf));
        self.check_filter();
    }

    /// Removes VRF `id`; returns it. Its filter bits stay until the next rebuild.
    pub fn remove(&mut self, id: u16) -> Option<Arc<Vrf>> {
        let v = self.by_id.get_mut(usize::from(id))?.take()?;
        self.miss4[usize::from(id)] = MISS_NONE;
        self.blocks -= v.fib4.block_count();
        self.check_filter();
        Some(v)
    }

    /// Adds or replaces `addr/len → nh` in VRF `id`'s IPv6 FIB. `None` when the VRF is not
    /// defined, else the nexthop replaced.
    pub fn insert6(&mut self, id: u16, addr: u128, len: u8, nh: NhIdx) -> Option<Option<NhIdx>> {
        let v = Arc::make_mut(self.by_id.get_mut(usize::from(id))?.as_mut()?);
        Some(v.fib6.insert(addr, len, nh))
    }

    /// Removes `addr/len` from VRF `id`'s IPv6 FIB. `None` when the VRF is not defined, else
    /// the nexthop removed.
    pub fn remove6(&mut self, id: u16, addr: u128, len: u8) -> Option<Option<NhIdx>> {
        let v = Arc::make_mut(self.by_id.get_mut(usize::from(id))?.as_mut()?);
        Some(v.fib6.remove(addr, len))
    }

    /// Adds or replaces `addr/len → nh` in VRF `id`'s IPv4 FIB (see [`Fib4::insert`]). `None`
    /// when the VRF is not defined, else the nexthop replaced.
    pub fn insert4(&mut self, id: u16, addr: u32, len: u8, nh: NhIdx) -> Option<Option<NhIdx>> {
        let v = Arc::make_mut(self.by_id.get_mut(usize::from(id))?.as_mut()?);
        let before = v.fib4.block_count();
        let old = v.fib4.insert(addr, len, nh);
        let after = v.fib4.block_count();
        self.miss4[usize::from(id)] = miss_entry(&v.fib4);
        if after > before {
            // The only way a block appears: this one.
            self.blocks += after - before;
            self.filter.add(id, addr >> 8);
            self.check_filter();
        }
        Some(old)
    }

    /// Removes `addr/len` from VRF `id`'s IPv4 FIB. `None` when the VRF is not defined, else
    /// the nexthop removed.
    pub fn remove4(&mut self, id: u16, addr: u32, len: u8) -> Option<Option<NhIdx>> {
        let v = Arc::make_mut(self.by_id.get_mut(usize::from(id))?.as_mut()?);
        let before = v.fib4.block_count();
        let old = v.fib4.remove(addr, len);
        let after = v.fib4.block_count();
        self.miss4[usize::from(id)] = miss_entry(&v.fib4);
        if after < before {
            self.blocks -= before - after;
            self.check_filter();
        }
        Some(old)
    }

    /// Rebuilds the filter when it is too dense, holds many stale bits, or is far too big for
    /// the blocks left. A rebuild reads every block (about 20 ms per million); it happens after
    /// the blocks double, or after a quarter of their number in stale bits, so its cost per
    /// change stays constant.
    fn check_filter(&mut self) {
        let f = &self.filter;
        let oversized = f.words.len() > BlockFilter::MIN_WORDS && self.blocks * 16 < f.words.len();
        if f.too_dense() || oversized || f.stale(self.blocks) && !f.small() {
            self.rebuild_filter();
        }
    }

    /// A new filter for this generation's blocks.
    fn rebuild_filter(&mut self) {
        let mut f = BlockFilter::for_blocks(self.blocks);
        for (id, v) in self.by_id.iter().enumerate() {
            if let Some(v) = v {
                // Ids are below MAX_VRFS (4096).
                let id = id as u16;
                for b in v.fib4.blocks() {
                    f.add_mut(id, b);
                }
            }
        }
        self.filter = Arc::new(f);
    }

    /// Heap bytes of the shared front end (filter and `miss4`), not counting the VRFs.
    pub fn shared_bytes4(&self) -> usize {
        self.filter.bytes() + self.miss4.len() * 4
    }

    /// The nexthop of the longest IPv4 prefix that covers `dst` in VRF `vrf`.
    #[inline]
    pub fn lookup4(&self, vrf: u16, dst: u32) -> Option<NhIdx> {
        let miss = *self.miss4.get(usize::from(vrf))?;
        if self.filter.test(self.filter.probe(vrf, dst >> 8)) {
            return self.get(vrf)?.fib4.lookup_unfiltered(dst);
        }
        match miss {
            MISS_NONE => None,
            MISS_ASK => self.get(vrf)?.fib4.finish(dst, Fib4::NO_BLOCK),
            nh => Some(nh),
        }
    }

    /// Lookups for up to 32 keys (see [`super::Tables::lookup4_burst`]).
    #[inline(always)]
    pub(super) fn lookup4_chunk(&self, keys: &[(u16, u32)], out: &mut [Option<NhIdx>]) {
        if let (Ok(k), true) = (<&[_; 32]>::try_from(keys), out.len() >= 32) {
            if let Ok(o) = <&mut [_; 32]>::try_from(&mut out[..32]) {
                return self.lookup4_32(k, o);
            }
        }
        // A short tail: one at a time.
        for (o, &(vrf, dst)) in out.iter_mut().zip(keys) {
            *o = self.lookup4(vrf, dst);
        }
    }

    #[inline(always)]
    fn lookup4_32(&self, keys: &[(u16, u32); 32], out: &mut [Option<NhIdx>; 32]) {
        let filter = &*self.filter;
        // Pass 1: the filter words (the `miss4` entries are small enough to stay cached).
        let probes: [(usize, u64); 32] = std::array::from_fn(|i| {
            let (vrf, dst) = keys[i];
            let p = filter.probe(vrf, dst >> 8);
            filter.prefetch(p);
            p
        });
        // Pass 2: most lanes end here. The others (filter hit, or a VRF with short prefixes)
        // go on in their VRF's FIB, whose header is fetched meanwhile.
        let mut slow = [0u8; 32];
        let mut ns = 0;
        for i in 0..32 {
            let vrf = keys[i].0;
            let miss = self
                .miss4
                .get(usize::from(vrf))
                .copied()
                .unwrap_or(MISS_NONE);
            let hit = filter.test(probes[i]);
            if hit || miss == MISS_ASK {
                // Lane index, and bit 7 when the block may be present.
                slow[ns] = i as u8 | u8::from(hit) << 7;
                ns += 1;
                if let Some(v) = self.get(vrf) {
                    prefetch(std::ptr::from_ref(&v.fib4));
                }
            } else {
                out[i] = (miss != MISS_NONE).then_some(miss);
            }
        }
        if ns != 0 {
            self.lookup4_slow(keys, &slow[..ns], out);
        }
    }

    /// The lanes `slow` (index, bit 7 when the block may be present) of a burst, in their
    /// VRFs' FIBs: as `Fib4::lookup`, with each line prefetched for every lane first.
    #[inline(never)]
    fn lookup4_slow(&self, keys: &[(u16, u32); 32], slow: &[u8], out: &mut [Option<NhIdx>; 32]) {
        // Lanes without a VRF look up in an empty FIB, so no pass needs a branch for them.
        static EMPTY: std::sync::LazyLock<Fib4> = std::sync::LazyLock::new(Fib4::default);
        let empty: &Fib4 = &EMPTY;
        let n = slow.len().min(32);
        let mut fibs = [empty; 32];
        let mut dsts = [0u32; 32];
        // NO_BLOCK when the filter ruled the block out, else 0 until the block entry (which
        // may itself be 0) replaces it.
        let mut blocks = [Fib4::NO_BLOCK; 32];
        for j in 0..n {
            let (vrf, dst) = keys[usize::from(slow[j] & 31)];
            fibs[j] = self.get(vrf).map_or(empty, |v| &v.fib4);
            dsts[j] = dst;
            if slow[j] & 0x80 != 0 {
                fibs[j].prefetch(dst);
                blocks[j] = 0;
            }
        }
        for j in 0..n {
            if blocks[j] == 0 {
                blocks[j] = fibs[j].block_unfiltered(dsts[j]);
                fibs[j].prefetch_long(dsts[j], blocks[j]);
            }
        }
        for j in 0..n {
            out[usize::from(slow[j] & 31)] = fibs[j].finish(dsts[j], blocks[j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lpm::Key;
    use super::*;
    use proptest::prelude::*;

    fn vrf(id: u16) -> Vrf {
        Vrf {
            fib4: Fib4::default(),
            id,
            fib6: Default::default(),
            router_ip: std::net::Ipv4Addr::UNSPECIFIED,
            router_ip6: std::net::Ipv6Addr::UNSPECIFIED,
        }
    }

    /// Routes per VRF id; `None` where the VRF is not defined.
    type Model = Vec<Option<Vec<(u32, u8, NhIdx)>>>;

    fn model_lookup(m: &Model, vrf: u16, dst: u32) -> Option<NhIdx> {
        m.get(usize::from(vrf))?
            .as_ref()?
            .iter()
            .filter(|&&(a, len, _)| dst.mask(len) == a)
            .max_by_key(|&&(_, len, _)| len)
            .map(|&(_, _, nh)| nh)
    }

    /// Every way to look up agrees with the model, for these probes.
    fn check(v: &Vrfs, m: &Model, probes: &[(u16, u32)]) -> Result<(), TestCaseError> {
        for &(vrf, dst) in probes {
            let want = model_lookup(m, vrf, dst);
            prop_assert_eq!(v.lookup4(vrf, dst), want, "lookup4 {} {:#x}", vrf, dst);
            prop_assert_eq!(v.get(vrf).and_then(|x| x.fib4.lookup(dst)), want);
        }
        // Full bursts and a short tail.
        for keys in probes.chunks(37) {
            let mut out = vec![Some(12345); keys.len()];
            for (k, o) in keys.chunks(32).zip(out.chunks_mut(32)) {
                v.lookup4_chunk(k, o);
            }
            for (&(vrf, dst), got) in keys.iter().zip(out) {
                prop_assert_eq!(got, model_lookup(m, vrf, dst), "burst {} {:#x}", vrf, dst);
            }
        }
        // No block of this generation is ruled out by its filter.
        for x in v.iter() {
            for b in x.fib4.blocks() {
                prop_assert!(v.filter.test(v.filter.probe(x.id, b)));
            }
        }
        prop_assert_eq!(
            v.blocks,
            v.iter().map(|x| x.fib4.block_count()).sum::<usize>()
        );
        Ok(())
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, u32, u8, NhIdx),
        Remove(u16, u32, u8),
        VrfAdd(u16),
        VrfDel(u16),
        /// Keep a copy (an older generation) to check later.
        Snapshot,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few VRFs; addresses either crowded into a few blocks (so that routes nest and
        // removes hit) or spread over many (so that the filter fills and is rebuilt).
        let addr = prop_oneof![
            (0u32..64).prop_map(
                |i| 0xC633_6400u32.wrapping_add(i.wrapping_mul(0x0101_0F37) & 0x0003_03FF)
            ),
            (0u32..3000).prop_map(|i| 0x0A00_0000 | (i.wrapping_mul(0x0001_0301) & 0x00FF_FFFF)),
        ];
        let len = prop_oneof![Just(32u8), Just(24), 25u8..=31, 0u8..=23];
        prop_oneof![
            12 => (0u16..4, addr.clone(), len.clone(), 0u32..100)
                .prop_map(|(v, a, l, nh)| Op::Insert(v, a, l, nh)),
            4 => (0u16..4, addr, len).prop_map(|(v, a, l)| Op::Remove(v, a, l)),
            1 => (0u16..4).prop_map(Op::VrfAdd),
            1 => (0u16..4).prop_map(Op::VrfDel),
            1 => Just(Op::Snapshot),
        ]
    }

    fn apply(v: &mut Vrfs, m: &mut Model, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Insert(id, a, len, nh) => {
                let a = a.mask(len);
                let routes = m[usize::from(id)].as_mut();
                let want = routes.map(|r| {
                    let old = r.iter().position(|&(ma, ml, _)| ma == a && ml == len);
                    let old = old.map(|p| r.remove(p).2);
                    r.push((a, len, nh));
                    old
                });
                prop_assert_eq!(v.insert4(id, a, len, nh), want);
            }
            Op::Remove(id, a, len) => {
                let a = a.mask(len);
                let want = m[usize::from(id)].as_mut().map(|r| {
                    let old = r.iter().position(|&(ma, ml, _)| ma == a && ml == len);
                    old.map(|p| r.remove(p).2)
                });
                prop_assert_eq!(v.remove4(id, a, len), want);
            }
            Op::VrfAdd(id) => {
                if m[usize::from(id)].is_none() {
                    v.insert(vrf(id));
                    m[usize::from(id)] = Some(Vec::new());
                }
            }
            Op::VrfDel(id) => {
                prop_assert_eq!(v.remove(id).is_some(), m[usize::from(id)].is_some());
                m[usize::from(id)] = None;
            }
            Op::Snapshot => {}
        }
        Ok(())
    }

    fn probes(m: &Model, extra: &[(u16, u32)]) -> Vec<(u16, u32)> {
        let mut p: Vec<(u16, u32)> = extra.to_vec();
        for (id, routes) in m.iter().enumerate() {
            for &(a, len, _) in routes.iter().flatten() {
                // Every VRF id around, the route's first and last address, and outside it.
                for vrf in 0..5u16 {
                    p.push((vrf, a));
                    p.push((vrf, a | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0))));
                }
                p.push((id as u16, a ^ 0x100));
            }
        }
        p.extend([(4096, 0xC633_6401), (u16::MAX, 0x0A00_0001)]);
        p
    }

    proptest! {
        /// Against a reference model, through inserts, removes, VRF deletion and re-creation,
        /// filter rebuilds, and older generations kept while newer ones change: a stale
        /// filter bit never gives a wrong answer, and a rebuilt filter never loses a block.
        #[test]
        fn matches_reference(ops in proptest::collection::vec(op(), 0..400),
                             extra in proptest::collection::vec((0u16..5, any::<u32>()), 1..40)) {
            let mut v = Vrfs::default();
            let mut m: Model = vec![None; 4];
            v.insert(vrf(0));
            m[0] = Some(Vec::new());
            let mut snaps: Vec<(Vrfs, Model)> = Vec::new();
            for op in &ops {
                apply(&mut v, &mut m, op)?;
                if let Op::Snapshot = op {
                    snaps.push((v.clone(), m.clone()));
                }
            }
            check(&v, &m, &probes(&m, &extra))?;
            for (sv, sm) in &snaps {
                check(sv, sm, &probes(sm, &extra))?;
            }
        }
    }

    #[test]
    fn filter_is_rebuilt_as_it_fills_and_empties() {
        let mut v = Vrfs::default();
        v.insert(vrf(1));
        let old = v.clone();
        let addr = |i: u32| 0x0A00_0000 | i << 8 | 7;
        for i in 0..20_000 {
            assert_eq!(v.insert4(1, addr(i), 32, i), Some(None));
        }
        assert!(
            v.filter.words.len() * 64 >= 20_000 * 16,
            "grown with the blocks"
        );
        assert!(!v.filter.too_dense());
        for i in 0..20_000 {
            assert_eq!(v.lookup4(1, addr(i)), Some(i));
        }
        // The old generation shares none of the new blocks, and its answers did not change.
        assert_eq!(old.lookup4(1, addr(5)), None);
        let spurious = (20_000..40_000)
            .filter(|&i| v.filter.test(v.filter.probe(1, addr(i) >> 8)))
            .count();
        eprintln!(
            "false positives: {spurious} in 20000, {} bits per block",
            v.filter.words.len() * 64 / 20_000
        );
        assert!(spurious < 200, "false positives: {spurious} in 20000");
        for i in 0..19_990 {
            assert_eq!(v.remove4(1, addr(i), 32), Some(Some(i)));
        }
        assert!(
            v.filter.words.len() <= 64,
            "shrunk: {}",
            v.filter.words.len()
        );
        for i in 0..20_000 {
            let want = (i >= 19_990).then_some(i);
            assert_eq!(v.lookup4(1, addr(i)), want);
        }
        assert!(v.remove(1).is_some());
        assert_eq!(v.lookup4(1, addr(19_995)), None);
        assert_eq!(v.blocks, 0);
    }

    #[test]
    fn miss_answers_follow_default_and_short_prefixes() {
        let mut v = Vrfs::default();
        assert_eq!(v.lookup4(0, 1), None);
        v.insert(vrf(0));
        assert_eq!(v.lookup4(0, 1), None);
        v.insert4(0, 0, 0, 7);
        assert_eq!(v.lookup4(0, 1), Some(7));
        v.insert4(0, 0x0A00_0000, 8, 8);
        assert_eq!(v.lookup4(0, 0x0A01_0203), Some(8));
        assert_eq!(v.lookup4(0, 0x0B01_0203), Some(7));
        v.remove4(0, 0x0A00_0000, 8);
        assert_eq!(v.lookup4(0, 0x0A01_0203), Some(7));
        assert_eq!(v.miss4[0], 7);
        v.remove4(0, 0, 0);
        assert_eq!(v.miss4[0], MISS_NONE);
        // A VRF added with routes already in it.
        let mut x = vrf(3);
        x.fib4.insert(0xC633_6400, 24, 4);
        x.fib4.insert(0x0A00_0000, 8, 5);
        v.insert(x);
        assert_eq!(v.lookup4(3, 0xC633_6401), Some(4));
        assert_eq!(v.lookup4(3, 0x0A00_0001), Some(5));
        assert_eq!(v.insert4(2, 0, 0, 1), None, "no such VRF");
    }
}
