//! Fast paths: the common cases of the pipeline — VXLAN, MPLSoUDP and MPLSoGRE decapsulation
//! to a vif; vif to tunnel encapsulation; vif to vif — written straight through.
//!
//! How they stay short:
//! - a tunnel packet's whole header stack, from the outer Ethernet header to the inner IPv4
//!   header, is checked against one template and mask built once per table generation
//!   ([`Consts`]): "our MAC, IPv4, no options, not a fragment, UDP, our address, VXLAN I
//!   flag, router MAC, IPv4 inside without options", and every length field equal to what
//!   the frame's length makes it, is a handful of 128-bit xor/and/or (SSE2);
//! - IPv4 header checksums are two 64-bit adds with carry and one multiply;
//! - the last tunnel, label and destination of the burst, and what the last nexthop resolved
//!   to ([`Action`]: out port, MTU and MAC bytes; or a tunnel's whole outer header), are
//!   remembered for the burst ([`Memo`]); a per-worker cache keyed by table generation holds
//!   recent FIB answers across bursts;
//! - encapsulation copies the nexthop's prebuilt outer header ([`OuterHeader`]) and patches
//!   the per-packet fields;
//! - event counters are summed per burst.
//!
//! A fast path either does everything the general pipeline would do with the packet — the
//! same verdict, the same bytes out, the same counters — or returns `None` without having
//! changed the packet, and the general pipeline takes it. Anything unusual (IP options,
//! fragments of the outer packet, ARP and ND, IPv6 inner packets, TTL about to expire, too big
//! for the path, a TCP SYN to clamp, ECMP, an unresolved underlay neighbour, a miss) goes the
//! general way, where every drop reason, ICMP error and notification lives. tests/pipeline.rs
//! checks this equivalence on valid and corrupted bursts.

use super::{
    be16, inner_limit, path_mtu_of, CoreCtx, Event, OuterHeader, Packet, Verdict, ETH, FABRIC,
};
use crate::tables::{Encap, Nexthop, NhIdx, PortIdx, PortKind, Tables, UdpDecap};
use crate::wire::{ipv4, mpls};
use Verdict::Tx;

/// The little-endian 64-bit word at `i` of `h`: one load (the offsets are constants, so the
/// bounds are checked at compile time). Read as one 8-byte array rather than byte by byte,
/// so that bytes also used on their own do not split the load.
#[inline(always)]
fn w64<const N: usize>(h: &[u8; N], i: usize) -> u64 {
    u64::from_le_bytes(*h[i..].first_chunk::<8>().unwrap_or(&[0; 8]))
}

/// The little-endian 32-bit word at `i` of `h`.
#[inline(always)]
fn rd32le<const N: usize>(h: &[u8; N], i: usize) -> u32 {
    u32::from_le_bytes(*h[i..].first_chunk::<4>().unwrap_or(&[0; 4]))
}

/// The little-endian 128-bit word at `i` of `h`.
#[inline(always)]
fn w128<const N: usize>(h: &[u8; N], i: usize) -> u128 {
    u128::from_le_bytes(*h[i..].first_chunk::<16>().unwrap_or(&[0; 16]))
}

/// A byte pattern over the first `16 * V` bytes of a header: a header matches where its
/// bits under `mask` equal `want`'s. (`u128` words are 16-byte aligned, so the vector code
/// reads them straight from memory.)
#[derive(Clone, Copy)]
struct Pattern<const V: usize> {
    want: [u128; V],
    mask: [u128; V],
}

impl<const V: usize> Default for Pattern<V> {
    fn default() -> Self {
        Pattern {
            want: [0; V],
            mask: [0; V],
        }
    }
}

impl<const V: usize> Pattern<V> {
    /// From `(offset, byte, mask)` triples.
    fn new(bytes: impl IntoIterator<Item = (usize, u8, u8)>) -> Self {
        let mut want = [0u128; V];
        let mut mask = [0u128; V];
        for (i, b, m) in bytes {
            if let (Some(w), Some(k)) = (want.get_mut(i / 16), mask.get_mut(i / 16)) {
                *w |= u128::from(b & m) << (8 * (i % 16));
                *k |= u128::from(m) << (8 * (i % 16));
            }
        }
        Pattern { want, mask }
    }

    /// `true` when the first `16 * V` bytes of `h` match.
    #[inline(always)]
    fn matches<const N: usize>(&self, h: &[u8; N]) -> bool {
        self.matches_with(h, [])
    }

    /// [`Pattern::matches`], with the big-endian 16-bit `fields` (`(offset, value)`, under a
    /// mask of `0xFFFF` and a `want` of 0 in the pattern, not straddling a word) taken as
    /// part of the pattern: the length fields a packet's own length fixes.
    #[inline(always)]
    fn matches_with<const N: usize, const F: usize>(
        &self,
        h: &[u8; N],
        fields: [(usize, u16); F],
    ) -> bool {
        // The fields go into a patch XORed after the mask (they lie under it), so `want`
        // and `mask` stay operands read from the pattern.
        let mut patch = [0u128; V];
        for (off, v) in fields {
            debug_assert!(
                off % 16 <= 14 && self.mask[off / 16] >> (8 * (off % 16)) & 0xFFFF == 0xFFFF
            );
            patch[off / 16] |= u128::from(v.swap_bytes()) << (8 * (off % 16));
        }
        diff_is_zero(h, &self.want, &self.mask, &patch)
    }
}

/// `true` when `((word k of h) ^ want[k]) & mask[k] ^ patch[k]` is 0 for every 16-byte
/// word k < V. On x86-64 with SSE2 (which every x86-64 has): one instruction per operation
/// and word; elsewhere the same on `u128`s.
#[inline(always)]
fn diff_is_zero<const N: usize, const V: usize>(
    h: &[u8; N],
    want: &[u128; V],
    mask: &[u128; V],
    patch: &[u128; V],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cvtsi128_si64, _mm_or_si128, _mm_packs_epi16,
            _mm_set_epi64x, _mm_setzero_si128, _mm_xor_si128,
        };
        // SAFETY: these intrinsics only need SSE2, which the x86-64 baseline includes: every
        // CPU this code can run on has it (they take no pointers; the loads are safe reads).
        unsafe {
            let v = |x: u128| -> __m128i { _mm_set_epi64x((x >> 64) as i64, x as i64) };
            let mut acc = _mm_setzero_si128();
            for k in 0..V {
                let d = _mm_and_si128(_mm_xor_si128(v(w128(h, 16 * k)), v(want[k])), v(mask[k]));
                acc = _mm_or_si128(acc, _mm_xor_si128(d, v(patch[k])));
            }
            // Signed saturation keeps a non-zero 16-bit lane non-zero in its byte: the low
            // 8 bytes of the pack are zero exactly when `acc` is.
            _mm_cvtsi128_si64(_mm_packs_epi16(acc, acc)) == 0
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut diff = 0;
        for k in 0..V {
            diff |= ((w128(h, 16 * k) ^ want[k]) & mask[k]) ^ patch[k];
        }
        diff == 0
    }
}

/// `(offset, byte, 0xFF)` for each byte of `b` from `at`.
fn exact<const K: usize>(at: usize, b: [u8; K]) -> impl Iterator<Item = (usize, u8, u8)> {
    b.into_iter()
        .enumerate()
        .map(move |(i, x)| (at + i, x, 0xFF))
}

/// What the fast paths match against, derived from one generation of the tables.
#[derive(Clone, Copy, Default)]
pub(super) struct Consts {
    generation: u64,
    /// A whole VXLAN packet for us up to the end of the inner IPv4 header's first 8 bytes:
    /// our MAC; IPv4 without options, not a fragment (DF may be set), UDP, to our address;
    /// the I flag; the router MAC; an IPv4 inner frame without options. The UDP port is not
    /// in it (the dispatch looked at it); the length fields are given per packet.
    vxlan: Pattern<5>,
    /// The same up to the inner IPv4 header's total length, for MPLS over UDP: a single
    /// label stack entry (bottom of stack) and IPv4 without options after it.
    mpls_udp: Pattern<4>,
    /// The same for MPLS over GRE: GRE without checksum, key or sequence, carrying MPLS.
    mpls_gre: Pattern<3>,
    /// Bytes 0..16 of a VM's frame: the router MAC, IPv4 without options.
    vif: Pattern<1>,
    /// The first UDP port for VXLAN and for MPLS over UDP, as a little-endian read of its
    /// wire bytes (`u32::MAX` when there is none); others are looked up.
    vxlan_port: u32,
    mpls_udp_port: u32,
}

impl Consts {
    fn new(t: &Tables) -> Self {
        // Built in the worker when the tables change: iterators, no allocation.
        let ipv4 = [(12, 0x08, 0xFF), (13, 0x00, 0xFF), (14, 0x45, 0xFF)];
        let fabric_ip = t.fabric.ip.octets();
        let fabric_mac = t.fabric.mac;
        // A 16-bit length the packet's own length fixes (see `Pattern::matches_with`).
        let len = |at: usize| [(at, 0, 0xFF), (at + 1, 0, 0xFF)];
        // Bytes 0..34: our MAC, IPv4 without options and not a fragment, `proto`, our address.
        let outer = move |proto: u8| {
            exact(0, fabric_mac)
                .chain(ipv4)
                .chain(len(16))
                .chain([(20, 0, 0x3F), (21, 0, 0xFF), (23, proto, 0xFF)])
                .chain(exact(30, fabric_ip))
        };
        let udp = |kind: UdpDecap| {
            t.udp_decap
                .iter()
                .find(|(_, d)| *d == kind)
                .map_or(u32::MAX, |(p, _)| {
                    u32::from(u16::from_le_bytes(p.to_be_bytes()))
                })
        };
        // VXLAN: UDP length at 38, I flag at 42, inner Ethernet at 50, inner IPv4 at 64.
        let vxlan = outer(ipv4::PROTO_UDP)
            .chain(len(38))
            .chain([(42, 0x08, 0x08)])
            .chain(exact(50, t.router_mac))
            .chain(exact(62, [0x08, 0x00, 0x45]))
            .chain(len(66));
        // MPLS over UDP: UDP length at 38, the label stack entry at 42 (S bit in byte 44),
        // inner IPv4 at 46.
        let mpls_udp = outer(ipv4::PROTO_UDP)
            .chain(len(38))
            .chain([(44, 0x01, 0x01), (46, 0x45, 0xFF)])
            .chain(len(48));
        // MPLS over GRE: the GRE header at 34, the label stack entry at 38, inner IPv4 at 42.
        let mpls_gre = outer(ipv4::PROTO_GRE)
            .chain(exact(34, [0x00, 0x00, 0x88, 0x47]))
            .chain([(40, 0x01, 0x01), (42, 0x45, 0xFF)])
            .chain(len(44));
        let vif = exact(0, t.router_mac).chain(ipv4);
        Consts {
            generation: t.generation.0,
            vxlan: Pattern::new(vxlan),
            mpls_udp: Pattern::new(mpls_udp),
            mpls_gre: Pattern::new(mpls_gre),
            vif: Pattern::new(vif),
            vxlan_port: udp(UdpDecap::Vxlan),
            mpls_udp_port: udp(UdpDecap::MplsUdp),
        }
    }

    /// Brings `c` up to the tables' generation (rebuilt only when they changed).
    #[inline(always)]
    pub(super) fn refresh(c: &mut Consts, t: &Tables) {
        if c.generation != t.generation.0 {
            *c = Consts::new(t);
        }
    }
}

/// What a nexthop resolved to, for the fast paths.
#[derive(Clone, Copy)]
enum Action {
    /// Not a fast-path case: the general pipeline decides.
    Other,
    /// Out of a port: the frame gets the Ethernet header `eth` (MACs and type IPv4).
    Out {
        port: PortIdx,
        mtu: u16,
        to_vif: bool,
        eth: [u8; ETH],
    },
    /// Into a tunnel: inner IP packets up to `limit` bytes fit the path.
    Tunnel { limit: u16, hdr: OuterHeader },
}

/// Events the fast paths count, summed per burst.
const EVENTS: [Event; 7] = [
    Event::VxlanDecap,
    Event::MplsUdpDecap,
    Event::MplsGreDecap,
    Event::VxlanEncap,
    Event::MplsUdpEncap,
    Event::MplsGreEncap,
    Event::LocalDelivery,
];
const EV_VXLAN_DECAP: usize = 0;
const EV_LOCAL: usize = 6;

/// Index in [`EVENTS`] of an encapsulation's decap (`+ 0`) or encap (`+ 3`) event.
#[inline(always)]
fn ev_of(e: Encap) -> usize {
    match e {
        Encap::Vxlan => 0,
        Encap::MplsUdp => 1,
        Encap::MplsGre => 2,
    }
}

/// The burst's state: the tables' patterns, the last lookups (tables cannot change within a
/// burst, and bursts carry runs of packets of one tunnel and one destination), and counts.
pub(super) struct Memo {
    c: Consts,
    /// The VRF of the burst's input port when it is a vif.
    vif_vrf: Option<u16>,
    vni: u32,
    vni_vrf: u16,
    /// The memo key ([`Memo::vni_dst`]) of the last VXLAN packet, and its nexthop.
    vx_key: u64,
    vx_nh: NhIdx,
    label: u32,
    label_nh: NhIdx,
    /// `(vrf << 32 | dst)` of the last FIB lookup, `u64::MAX` for none.
    dst: u64,
    dst_nh: NhIdx,
    /// The last nexthop resolved (`NhIdx::MAX` for none) and what it resolved to.
    nh: NhIdx,
    act: Action,
    events: [u32; EVENTS.len()],
}

impl Memo {
    #[inline(always)]
    pub(super) fn new(core: &mut CoreCtx, t: &Tables, in_port: PortIdx) -> Self {
        Consts::refresh(&mut core.fast_consts, t);
        let vif_vrf = match t.ports.get(usize::from(in_port)).map(|p| &p.kind) {
            Some(PortKind::Vif { vrf, .. }) if in_port != FABRIC => Some(*vrf),
            _ => None,
        };
        // VNIs are 24 bits and labels 20: u32::MAX matches neither.
        Memo {
            c: core.fast_consts,
            vif_vrf,
            vni: u32::MAX,
            vni_vrf: 0,
            vx_key: u64::MAX,
            vx_nh: 0,
            label: u32::MAX,
            label_nh: 0,
            dst: u64::MAX,
            dst_nh: 0,
            nh: NhIdx::MAX,
            act: Action::Other,
            events: [0; EVENTS.len()],
        }
    }

    /// Adds the burst's events to the worker's counters.
    #[inline(always)]
    pub(super) fn flush(&self, core: &CoreCtx) {
        for (e, &n) in EVENTS.iter().zip(&self.events) {
            if n != 0 {
                core.stats.events_add(*e, u64::from(n));
            }
        }
    }

    #[inline(always)]
    fn lookup(
        &mut self,
        cache: &mut [CacheEntry; FIB_CACHE],
        t: &Tables,
        vrf: u16,
        dst: u32,
    ) -> Option<NhIdx> {
        let key = fib_cache_key(vrf, dst);
        if key == self.dst {
            return Some(self.dst_nh);
        }
        let slot = &mut cache[cache_slot(key)];
        let nh = match slot.get(t, key) {
            Some(nh) => nh,
            None => slot.set(t, key, t.lookup4(vrf, dst)?),
        };
        self.dst = key;
        self.dst_nh = nh;
        Some(nh)
    }

    /// The nexthop of a VXLAN packet: `key` holds its VNI bytes (the low 3 bytes of the
    /// high half) and its inner destination (the low half), both as little-endian reads of
    /// the wire bytes.
    #[inline(always)]
    fn vni_dst(
        &mut self,
        cache: &mut [CacheEntry; FIB_CACHE],
        t: &Tables,
        key: u64,
    ) -> Option<NhIdx> {
        if key == self.vx_key {
            return Some(self.vx_nh);
        }
        // The worker's FIB cache holds VXLAN keys too (apart from the others): a hit costs
        // no VNI lookup and no byte swap.
        let ck = vxlan_cache_key(key);
        let slot = &mut cache[cache_slot(ck)];
        let nh = match slot.get(t, ck) {
            Some(nh) => nh,
            None => {
                let vni = ((key >> 32) as u32).swap_bytes() >> 8;
                let dst = (key as u32).swap_bytes();
                let vrf = if vni == self.vni {
                    self.vni_vrf
                } else {
                    self.vni_miss(t, vni)?
                };
                slot.set(t, ck, t.lookup4(vrf, dst)?)
            }
        };
        (self.vx_key, self.vx_nh) = (key, nh);
        Some(nh)
    }

    /// The VRF of VXLAN network `vni`, remembered. Out of line, which also keeps the
    /// burst's memo in memory, where the hot path reads it with plain loads instead of
    /// carrying (and spilling) it in registers around the loop.
    #[inline(never)]
    fn vni_miss(&mut self, t: &Tables, vni: u32) -> Option<u16> {
        let v = *t.vni_to_vrf.get(&vni)?;
        self.vni = vni;
        self.vni_vrf = v;
        Some(v)
    }

    /// What nexthop `nh` resolves to (remembered for the burst).
    #[inline(always)]
    fn action(&mut self, core: &CoreCtx, t: &Tables, nh: NhIdx) -> &Action {
        if nh != self.nh {
            self.act = resolve(core, t, nh);
            self.nh = nh;
        }
        &self.act
    }
}

/// Resolves a nexthop for the fast paths (once per burst and nexthop).
#[inline(never)]
fn resolve(core: &CoreCtx, t: &Tables, nh: NhIdx) -> Action {
    match t.nexthop(nh) {
        Some(Nexthop::Interface { port, dst_mac }) => match t.ports.get(usize::from(*port)) {
            Some(out) => {
                let mut eth = [0; ETH];
                eth[..6].copy_from_slice(dst_mac);
                eth[6..12].copy_from_slice(&t.router_mac);
                eth[12..].copy_from_slice(&[0x08, 0x00]);
                Action::Out {
                    port: *port,
                    mtu: out.mtu,
                    to_vif: matches!(out.kind, PortKind::Vif { .. }),
                    eth,
                }
            }
            None => Action::Other,
        },
        Some(Nexthop::Tunnel(tun)) => match t.neighbors.mac(tun.neighbor) {
            Some(nmac) => {
                let limit = inner_limit(tun.encap, path_mtu_of(t, core, tun));
                // The general encapsulation's own check (outer packet within the fabric MTU
                // and 64 KiB) holds for every packet within `limit`.
                let push = OuterHeader::push_len(tun.encap);
                let outer_max = t.fabric_mtu().saturating_sub(push as u16);
                Action::Tunnel {
                    limit: limit.min(outer_max),
                    hdr: OuterHeader::new(t, tun, &nmac, true),
                }
            }
            None => Action::Other,
        },
        _ => Action::Other,
    }
}

/// Entries of a worker's FIB cache (a power of two: the index is the top bits of a hash).
pub(super) const FIB_CACHE: usize = 256;

/// The FIB cache key of a lookup of `dst` in `vrf`.
#[inline(always)]
fn fib_cache_key(vrf: u16, dst: u32) -> u64 {
    u64::from(vrf) << 32 | u64::from(dst)
}

/// The FIB cache key of a VXLAN packet's memo key ([`Memo::vni_dst`]): the top bit set,
/// which no [`fib_cache_key`] has (a VRF takes 16 bits), nor any memo key (a VNI takes 24).
#[inline(always)]
fn vxlan_cache_key(key: u64) -> u64 {
    key | 1 << 63
}

/// The FIB cache slot of `key`: the top 8 bits of a multiplicative hash.
#[inline(always)]
fn cache_slot(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
}

/// One FIB cache entry: valid while the tables are of its generation.
#[derive(Clone, Copy)]
pub(super) struct CacheEntry {
    generation: u64,
    key: u64,
    nh: NhIdx,
}

impl CacheEntry {
    /// Generation 0 is never handed out.
    pub(super) const EMPTY: CacheEntry = CacheEntry {
        generation: 0,
        key: 0,
        nh: 0,
    };

    /// The nexthop this entry holds for `key` in tables `t`, if it does.
    #[inline(always)]
    fn get(&self, t: &Tables, key: u64) -> Option<NhIdx> {
        (self.generation == t.generation.0 && self.key == key).then_some(self.nh)
    }

    /// Holds `nh` for `key` in tables `t` from now on; returns `nh`.
    #[inline(always)]
    fn set(&mut self, t: &Tables, key: u64, nh: NhIdx) -> NhIdx {
        *self = CacheEntry {
            generation: t.generation.0,
            key,
            nh,
        };
        nh
    }
}

/// `true` when the 20-byte IPv4 header at `at` of `h` has a correct checksum: its
/// one's-complement sum folds to 0xFFFF. The header is summed as two 64-bit words and a
/// 32-bit one with end-around carry (a sum modulo 2^64 - 1); since 0xFFFF divides 2^64 - 1
/// and 2^16 ≡ 1 (mod 0xFFFF), that sum is congruent to the folded 16-bit sum (in either byte
/// order), and a non-zero sum folds to 0xFFFF exactly when it is a multiple of 0xFFFF: one
/// multiply instead of a chain of folds. (An all-zero header, whose sum is 0, would pass:
/// the callers' patterns have checked its first byte is 0x45.)
#[inline(always)]
fn csum_ok<const N: usize>(h: &[u8; N], at: usize) -> bool {
    sum_ok(w64(h, at), w64(h, at + 8), rd32le(h, at + 16))
}

/// [`csum_ok`] on the header's words: bytes 0..8, 8..16 and 16..20, little-endian.
#[inline(always)]
fn sum_ok(a: u64, b: u64, c: u32) -> bool {
    let (s, o) = a.overflowing_add(b);
    // No overflow: after a carry, `s` is at most 2^64 - 2.
    let s = s + u64::from(o);
    let (s, o) = s.overflowing_add(u64::from(c));
    let s = s + u64::from(o);
    // s % 0xFFFF == 0, written as the multiply by the inverse of 0xFFFF (mod 2^64) that it
    // compiles to at best: multiples of 0xFFFF map to 0..=u64::MAX / 0xFFFF.
    s.wrapping_mul(0xFFFE_FFFE_FFFE_FFFF) <= u64::MAX / 0xFFFF
}

/// Decrements the TTL (> 1) of the IPv4 header at `at` of `d` and updates its checksum
/// incrementally with the bytes [`ipv4::Packet::decrement_ttl`] writes: RFC 1624 eqn. 3,
/// HC' = ~(~HC + ~m + m') with ~m + m' = 0xFEFF, which works out to HC + 0x100 when
/// HC < 0xFEFF and HC + 0x101 (mod 2^16) from there on (0xFEFF gives 0x0000, not 0xFFFF).
///
/// One's-complement sums do not depend on byte order, so the same update reads the field
/// little-endian: +1, and +2 from 0xFFFE on (no byte swaps).
#[inline(always)]
pub(super) fn decrement_ttl<const N: usize>(d: &mut [u8; N], at: usize) {
    d[at + 8] -= 1;
    let c = u16::from_le_bytes([d[at + 10], d[at + 11]]);
    let c = c.wrapping_add(1 + u16::from(c >= 0xFFFE));
    d[at + 10..at + 12].copy_from_slice(&c.to_le_bytes());
}

/// A VM's IPv4 packet that passed the checks [`route4`] makes and was looked up.
struct Routed {
    nh: NhIdx,
    /// IP total length.
    total: usize,
    /// A TCP segment with SYN set (its MSS may need clamping: the general path's job).
    syn: bool,
}

/// Checks the IPv4 header at the start of `ip` (its version and length byte already matched
/// by a pattern; length within `ip`, checksum, TTL > 1) and finds its nexthop in `vrf`.
#[inline(always)]
fn route4(
    cache: &mut [CacheEntry; FIB_CACHE],
    t: &Tables,
    m: &mut Memo,
    vrf: u16,
    ip: &[u8],
) -> Option<Routed> {
    let h = ip.first_chunk::<20>()?;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if total < 20 || total > ip.len() || h[8] <= 1 || !csum_ok(h, 0) {
        return None;
    }
    let nh = m.lookup(
        cache,
        t,
        vrf,
        u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
    )?;
    let syn = h[9] == ipv4::PROTO_TCP && tcp_syn(&ip[..total], 0);
    Some(Routed { nh, total, syn })
}

/// Delivers a routed frame whose IP packet (20-byte header, no trailing bytes) starts at
/// `off + ETH`: writes the Ethernet header `eth` in the 14 bytes before it (only the MACs
/// when `WITH_TYPE` is false: the type there is already IPv4), decrements the TTL, and
/// strips the `off` bytes in front. `false`, and no change, when `p` is shorter than
/// `off + ETH + 20` bytes; longer, stripping `off` bytes cannot fail.
#[inline(always)]
fn deliver<P: Packet, const WITH_TYPE: bool>(p: &mut P, off: usize, eth: &[u8; ETH]) -> bool {
    let Some(d) = p
        .data_mut()
        .get_mut(off..)
        .and_then(|d| d.first_chunk_mut::<{ ETH + 20 }>())
    else {
        return false;
    };
    if WITH_TYPE {
        *d.first_chunk_mut::<ETH>().unwrap_or(&mut [0; ETH]) = *eth;
    } else if let (Some(to), Some(from)) = (d.first_chunk_mut::<12>(), eth.first_chunk::<12>()) {
        *to = *from;
    }
    decrement_ttl(d, ETH);
    p.adj(off)
}

/// A packet from the fabric: `true` when the fast path took it (and wrote its verdict).
#[inline(always)]
pub(super) fn fabric<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    p: &mut P,
    v: &mut Verdict,
) -> bool {
    taken(from_fabric(core, t, m, p), v)
}

/// A packet from vif `port`: `true` when the fast path took it (and wrote its verdict).
#[inline(always)]
pub(super) fn vif<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    port: PortIdx,
    p: &mut P,
    v: &mut Verdict,
) -> bool {
    taken(from_vif(core, t, m, port, p), v)
}

/// Writes `Tx(out)` to `v` when a fast path took the packet (gave its port `out`).
#[inline(always)]
fn taken(out: Option<PortIdx>, v: &mut Verdict) -> bool {
    out.map(|port| *v = Tx(port)).is_some()
}

/// A packet from the fabric: the port it goes out of, or `None` (untouched).
#[inline(always)]
fn from_fabric<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    p: &mut P,
) -> Option<PortIdx> {
    if !p.is_contiguous() {
        return None;
    }
    // Dispatch on the protocol and the UDP port; the encapsulation's pattern then checks
    // the rest of the headers.
    let h = p.data().first_chunk::<38>()?;
    // The destination port as a little-endian read of its wire bytes (no byte swap).
    let dport = u32::from(u16::from_le_bytes([h[36], h[37]]));
    if dport == m.c.vxlan_port && h[23] == ipv4::PROTO_UDP {
        return vxlan(core, t, m, p);
    }
    match h[23] {
        ipv4::PROTO_UDP if dport == m.c.mpls_udp_port => mpls_in::<P, MPLS_UDP>(core, t, m, p),
        ipv4::PROTO_UDP => match t.udp_decap(be16(h, 36))? {
            UdpDecap::Vxlan => vxlan(core, t, m, p),
            UdpDecap::MplsUdp => mpls_in::<P, MPLS_UDP>(core, t, m, p),
        },
        ipv4::PROTO_GRE => mpls_in::<P, MPLS_GRE>(core, t, m, p),
        _ => None,
    }
}

/// For a TCP segment in the IPv4 packet (20-byte header) at `ip` of `d`: `true` when it has
/// SYN set (or is too short to tell). Its MSS may need clamping, which is the general
/// path's job.
#[inline(always)]
fn tcp_syn(d: &[u8], ip: usize) -> bool {
    d.get(ip + 33).is_none_or(|f| f & 0x02 != 0)
}

/// VXLAN: the outer headers end at 50, the inner IPv4 header starts at 64. Taken only when
/// every length field ends where the frame does (no padding, no trailing bytes: the
/// general path handles those).
#[inline(always)]
fn vxlan<P: Packet>(core: &mut CoreCtx, t: &Tables, m: &mut Memo, p: &mut P) -> Option<PortIdx> {
    const INNER: usize = 50;
    const IP: usize = INNER + ETH;
    let d = p.data();
    let h = d.first_chunk::<{ IP + 20 }>()?;
    let len = u16::try_from(d.len()).ok()?;
    let ip_len = len - ETH as u16;
    if !m.c.vxlan.matches_with(
        h,
        [(16, ip_len), (38, ip_len - 20), (IP + 2, len - IP as u16)],
    ) {
        return None;
    }
    // The inner IPv4 header as words: TTL and protocol are the low bytes of the second,
    // the destination is the third.
    let (a, b, dst) = (w64(h, IP), w64(h, IP + 8), rd32le(h, IP + 16));
    if (b as u8) <= 1 || !sum_ok(a, b, dst) || (!p.rx_ip_csum_good() && !csum_ok(h, ETH)) {
        return None;
    }
    // VNI bytes (46..49) and destination, as they are on the wire: the burst's memo key.
    let key = u64::from(rd32le(h, 45) >> 8) << 32 | u64::from(dst);
    // From a tunnel, a SYN toward a clamping vif gets its MSS clamped: the general path.
    if (b >> 8) as u8 == ipv4::PROTO_TCP && tcp_syn(d, IP) {
        return None;
    }
    let nh = m.vni_dst(&mut core.fib_cache, t, key)?;
    let &Action::Out { port, mtu, eth, .. } = m.action(core, t, nh) else {
        return None;
    };
    if len - IP as u16 > mtu {
        return None;
    }
    // Commit: from here the packet changes, and every check has passed.
    if !deliver::<P, false>(p, INNER, &eth) {
        return None;
    }
    m.events[EV_VXLAN_DECAP] += 1;
    Some(port)
}

/// Where the label stack entry starts in MPLS over UDP and over GRE.
const MPLS_UDP: usize = ETH + 20 + 8;
const MPLS_GRE: usize = ETH + 20 + 4;

/// MPLS over UDP or GRE: the label stack entry is at `OFF`, the inner IPv4 header after it.
/// Taken only when every length field ends where the frame does, as for VXLAN.
#[inline(always)]
fn mpls_in<P: Packet, const OFF: usize>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    p: &mut P,
) -> Option<PortIdx> {
    let ip = OFF + mpls::HEADER_LEN;
    let d = p.data();
    // Up to the end of the inner IPv4 header after the longer (UDP) outer headers: a GRE
    // packet 1-4 bytes shorter than that goes the general way.
    let h = d.first_chunk::<{ MPLS_UDP + mpls::HEADER_LEN + 20 }>()?;
    let len = u16::try_from(d.len()).ok()?;
    let ip_len = len - ETH as u16;
    let inner_len = len - ip as u16;
    let matched = if OFF == MPLS_UDP {
        m.c.mpls_udp
            .matches_with(h, [(16, ip_len), (38, ip_len - 20), (ip + 2, inner_len)])
    } else {
        m.c.mpls_gre
            .matches_with(h, [(16, ip_len), (ip + 2, inner_len)])
    };
    // Bottom of stack (in the pattern); both TTLs > 1. The inner IPv4 header as words.
    let (a, b, c) = (w64(h, ip), w64(h, ip + 8), rd32le(h, ip + 16));
    if !matched
        || (!p.rx_ip_csum_good() && !csum_ok(h, ETH))
        || h[OFF + 3] <= 1
        || (b as u8) <= 1
        || !sum_ok(a, b, c)
    {
        return None;
    }
    let label = u32::from_be_bytes([h[OFF], h[OFF + 1], h[OFF + 2], h[OFF + 3]]) >> 12;
    let nh = if label == m.label {
        m.label_nh
    } else {
        let nh = *t.labels.get(&label)?;
        m.label = label;
        m.label_nh = nh;
        nh
    };
    if (b >> 8) as u8 == ipv4::PROTO_TCP && tcp_syn(d, ip) {
        return None;
    }
    // The label's nexthop must be an interface to a vif (the general path drops others).
    let Action::Out {
        port,
        mtu,
        eth,
        to_vif: true,
    } = *m.action(core, t, nh)
    else {
        return None;
    };
    if inner_len > mtu {
        return None;
    }
    // Commit: the 14 bytes before the inner packet become its Ethernet header.
    if !deliver::<P, true>(p, ip - ETH, &eth) {
        return None;
    }
    let encap = if OFF == MPLS_UDP {
        Encap::MplsUdp
    } else {
        Encap::MplsGre
    };
    m.events[ev_of(encap)] += 1;
    Some(port)
}

/// A packet from vif `port`: the port it goes out of, or `None` (untouched).
#[inline(always)]
fn from_vif<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    port: PortIdx,
    p: &mut P,
) -> Option<PortIdx> {
    let vrf = m.vif_vrf?;
    if !p.is_contiguous() || p.gso_size().is_some() || p.l4_csum_partial() {
        return None;
    }
    let d = p.data();
    let h = d.first_chunk::<{ ETH + 20 }>()?;
    if !m.c.vif.matches(h) {
        return None;
    }
    let r = route4(&mut core.fib_cache, t, m, vrf, &d[ETH..])?;
    match m.action(core, t, r.nh) {
        &Action::Out {
            port: out,
            mtu,
            ref eth,
            ..
        } => {
            // A VM's frame may carry padding after the IP packet: trimmed.
            if r.total > usize::from(mtu)
                || !p.set_len(ETH + r.total)
                || !deliver::<P, false>(p, 0, eth)
            {
                return None;
            }
            if out != FABRIC && out != port {
                m.events[EV_LOCAL] += 1;
            }
            Some(out)
        }
        Action::Tunnel { limit, hdr } => {
            if r.total > usize::from(*limit) || r.syn || !hdr.push_front(p, r.total) {
                return None;
            }
            let ev = 3 + ev_of(hdr.encap());
            m.events[ev] += 1;
            Some(FABRIC)
        }
        Action::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut in [`decrement_ttl`] writes the bytes of the general rewrite for every
    /// checksum value and TTL.
    #[test]
    fn decrement_ttl_matches_the_general_rewrite() {
        for hc in 0..=u16::MAX {
            for ttl in [2u8, 3, 64, 128, 255] {
                let mut a = [0u8; 20];
                a[0] = 0x45;
                a[8] = ttl;
                a[9] = 17;
                a[10..12].copy_from_slice(&hc.to_be_bytes());
                let mut b = a;
                decrement_ttl(&mut a, 0);
                ipv4::Packet::new_unchecked(&mut b[..]).decrement_ttl();
                assert_eq!(a, b, "checksum {hc:#06x}, ttl {ttl}");
            }
        }
    }

    proptest::proptest! {
        /// The fast paths' checksum test is the Internet checksum's (RFC 1071): right and
        /// wrong headers, at any offset.
        #[test]
        fn csum_ok_is_the_internet_checksum(
            mut hdr in proptest::prelude::any::<[u8; 20]>(),
            fix in proptest::prelude::any::<bool>(),
            at in 0usize..12,
        ) {
            use crate::wire::checksum;
            hdr[0] = 0x45;
            if fix {
                hdr[10..12].fill(0);
                let c = checksum::fold(checksum::sum(&hdr));
                hdr[10..12].copy_from_slice(&c.to_be_bytes());
            }
            let mut buf = [0u8; 32];
            buf[at..at + 20].copy_from_slice(&hdr);
            let want = checksum::fold(checksum::sum(&hdr)) == 0;
            proptest::prop_assert_eq!(csum_ok(&buf, at), want);
            if fix {
                proptest::prop_assert!(want);
            }
        }

        /// The fast path's flow hash is the general one for headers without options.
        #[test]
        fn flow_hash_v4_at_is_flow_hash_v4(
            mut frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 34..60),
            proto in proptest::sample::select(vec![6u8, 17, 1, 47]),
            frag in proptest::sample::select(vec![0u16, 0x4000, 0x2000, 0x0001, 0x1FFF]),
        ) {
            frame[ETH] = 0x45;
            frame[ETH + 9] = proto;
            frame[ETH + 6..ETH + 8].copy_from_slice(&frag.to_be_bytes());
            let total = frame.len() - ETH;
            proptest::prop_assert_eq!(
                super::super::flow_hash_v4_at::<34>(&frame, ETH, total),
                super::super::flow_hash_v4(&frame[ETH..])
            );
        }
    }

    /// A pattern matches exactly the bytes it was built from, under its masks.
    #[test]
    fn patterns_match_under_their_masks() {
        let p = Pattern::<1>::new([(0, 0xAB, 0xFF), (9, 0x40, 0x40), (15, 0x01, 0x0F)]);
        let mut h = [0u8; 16];
        h[0] = 0xAB;
        h[9] = 0x40;
        h[15] = 0x01;
        assert!(p.matches(&h));
        h[9] = 0xFF; // other bits of byte 9 do not matter
        h[15] = 0xF1; // nor the high nibble of byte 15
        h[3] = 0x77; // nor unmasked bytes
        assert!(p.matches(&h));
        for (i, b) in [(0, 0xAA), (9, 0x00), (15, 0x02)] {
            let mut g = h;
            g[i] = b;
            assert!(!p.matches(&g), "byte {i} = {b:#04x}");
        }
    }

    /// VXLAN entries of the FIB cache never take another lookup's place: a VNI whose wire
    /// bytes read as a small number gives the same 64 bits as a VRF lookup but for the tag.
    #[test]
    fn vxlan_cache_keys_are_apart_from_fib_keys() {
        let dst = 0x0A0B_0C0D_u32;
        // Bytes 45..49 of the frame: a reserved byte, then VNI 0x010000 on the wire.
        let vni_bytes = [0x00u8, 0x01, 0x00, 0x00];
        let memo_key = u64::from(u32::from_le_bytes(vni_bytes) >> 8) << 32 | u64::from(dst);
        let fib = fib_cache_key(1, dst);
        assert_eq!(memo_key, fib, "the untagged keys collide");
        assert_ne!(vxlan_cache_key(memo_key), fib);
        for vrf in [0, 1, 256, u16::MAX] {
            assert_ne!(vxlan_cache_key(memo_key), fib_cache_key(vrf, dst));
        }
    }

    /// A pattern with 16-bit fields given per match: the bytes must hold those values
    /// (big-endian), wherever they sit in their word.
    #[test]
    fn pattern_fields_are_matched_big_endian() {
        let p = Pattern::<2>::new(
            [
                (0, 0x45, 0xFF),
                (2, 0, 0xFF),
                (3, 0, 0xFF),
                (14, 0, 0xFF),
                (15, 0, 0xFF),
            ]
            .into_iter()
            .chain([(20, 0, 0xFF), (21, 0, 0xFF)]),
        );
        let mut h = [0u8; 32];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&0x1234u16.to_be_bytes());
        h[14..16].copy_from_slice(&0xABCDu16.to_be_bytes());
        h[20..22].copy_from_slice(&0x0102u16.to_be_bytes());
        h[7] = 0x99; // not in the pattern
        assert!(p.matches_with(&h, [(2, 0x1234), (14, 0xABCD), (20, 0x0102)]));
        for f in [
            [(2, 0x3412), (14, 0xABCD), (20, 0x0102)],
            [(2, 0x1234), (14, 0xABCC), (20, 0x0102)],
            [(2, 0x1234), (14, 0xABCD), (20, 0x0201)],
        ] {
            assert!(!p.matches_with(&h, f), "{f:x?}");
        }
        h[0] = 0x46;
        assert!(!p.matches_with(&h, [(2, 0x1234), (14, 0xABCD), (20, 0x0102)]));
        h[0] = 0x45;
        // Every bit of every byte under the mask counts, in both 16-byte words (and in
        // whichever lane of the vector code it lands); no other bit does.
        let fields = [(2, 0x1234), (14, 0xABCD), (20, 0x0102)];
        for i in 0..32 {
            for bit in 0..8 {
                let mut g = h;
                g[i] ^= 1 << bit;
                let masked = [0, 2, 3, 14, 15, 20, 21].contains(&i);
                assert_eq!(p.matches_with(&g, fields), !masked, "byte {i} bit {bit}");
            }
        }
    }
}
