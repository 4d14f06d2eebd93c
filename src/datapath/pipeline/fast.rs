//! Fast paths: the common cases of the pipeline — VXLAN, MPLSoUDP and MPLSoGRE decapsulation
//! to a vif; vif to tunnel encapsulation; vif to vif — written straight through.
//!
//! How they stay short:
//! - the fixed header bytes are checked as 64-bit words against a template and a mask built
//!   once per table generation ([`Consts`]), so "our MAC, IPv4, no options, not a fragment,
//!   our address, VXLAN I flag, router MAC, IPv4 inside" is a handful of xor/and/or;
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

/// The little-endian 64-bit word at `i` of `h` (one load: the compiler sees the bounds).
#[inline(always)]
fn w64<const N: usize>(h: &[u8; N], i: usize) -> u64 {
    u64::from_le_bytes([
        h[i],
        h[i + 1],
        h[i + 2],
        h[i + 3],
        h[i + 4],
        h[i + 5],
        h[i + 6],
        h[i + 7],
    ])
}

/// The native-endian 32-bit word at `i` of `h`.
#[inline(always)]
fn rd32<const N: usize>(h: &[u8; N], i: usize) -> u32 {
    u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]])
}

/// A byte pattern over whole 64-bit words: a header matches where its bits under `mask`
/// equal `want`'s.
#[derive(Clone, Copy)]
struct Pattern<const W: usize> {
    want: [u64; W],
    mask: [u64; W],
}

impl<const W: usize> Default for Pattern<W> {
    fn default() -> Self {
        Pattern {
            want: [0; W],
            mask: [0; W],
        }
    }
}

impl<const W: usize> Pattern<W> {
    /// From `(offset, byte, mask)` triples, offsets relative to the pattern's start.
    fn new(bytes: impl IntoIterator<Item = (usize, u8, u8)>) -> Self {
        let mut want = [0u64; W];
        let mut mask = [0u64; W];
        for (i, b, m) in bytes {
            if let (Some(w), Some(k)) = (want.get_mut(i / 8), mask.get_mut(i / 8)) {
                *w |= u64::from(b & m) << (8 * (i % 8));
                *k |= u64::from(m) << (8 * (i % 8));
            }
        }
        Pattern { want, mask }
    }

    /// `true` when the `8 * W` bytes of `h` at `at` match.
    #[inline(always)]
    fn matches<const N: usize>(&self, h: &[u8; N], at: usize) -> bool {
        let mut diff = 0;
        for k in 0..W {
            diff |= (w64(h, at + 8 * k) ^ self.want[k]) & self.mask[k];
        }
        diff == 0
    }
}

/// `(offset, byte, 0xFF)` for each byte of `b` from `at`.
fn exact(at: usize, b: &[u8]) -> impl Iterator<Item = (usize, u8, u8)> + '_ {
    b.iter().enumerate().map(move |(i, &x)| (at + i, x, 0xFF))
}

/// What the fast paths match against, derived from one generation of the tables.
#[derive(Clone, Copy, Default)]
pub(super) struct Consts {
    generation: u64,
    /// Bytes 0..40 of a tunnel packet for us: our MAC, IPv4 without options, not a fragment
    /// (DF may be set), our address. Protocol and ports are looked at next.
    outer: Pattern<5>,
    /// Bytes 40..72 of a VXLAN packet: the I flag, the router MAC, an IPv4 inner frame
    /// without options.
    vxlan: Pattern<4>,
    /// Bytes 0..16 of a VM's frame: the router MAC, IPv4 without options.
    vif: Pattern<2>,
    /// A UDP port for VXLAN (`u32::MAX` when there is none).
    vxlan_port: u32,
}

impl Consts {
    fn new(t: &Tables) -> Self {
        // Built in the worker when the tables change: iterators, no allocation.
        let ipv4 = [(12, 0x08, 0xFF), (13, 0x00, 0xFF), (14, 0x45, 0xFF)];
        let fabric_ip = t.fabric.ip.octets();
        let outer = exact(0, &t.fabric.mac)
            .chain(ipv4)
            .chain([(20, 0, 0x3F), (21, 0, 0xFF)])
            .chain(exact(30, &fabric_ip));
        let vxlan = [
            (2, 0x08, 0x08),
            (22, 0x08, 0xFF),
            (23, 0x00, 0xFF),
            (24, 0x45, 0xFF),
        ]
        .into_iter()
        .chain(exact(10, &t.router_mac));
        let vif = exact(0, &t.router_mac).chain(ipv4);
        Consts {
            generation: t.generation.0,
            outer: Pattern::new(outer),
            vxlan: Pattern::new(vxlan),
            vif: Pattern::new(vif),
            vxlan_port: t
                .udp_decap
                .iter()
                .find(|(_, d)| *d == UdpDecap::Vxlan)
                .map_or(u32::MAX, |(p, _)| u32::from(*p)),
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
        let key = u64::from(vrf) << 32 | u64::from(dst);
        if key == self.dst {
            return Some(self.dst_nh);
        }
        let slot = &mut cache[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize];
        let nh = if slot.generation == t.generation.0 && slot.key == key {
            slot.nh
        } else {
            let nh = t.lookup4(vrf, dst)?;
            *slot = CacheEntry {
                generation: t.generation.0,
                key,
                nh,
            };
            nh
        };
        self.dst = key;
        self.dst_nh = nh;
        Some(nh)
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
}

/// `true` when the 20-byte IPv4 header `h` has a correct checksum: its one's-complement sum
/// folds to 0xFFFF. Since 2^16 ≡ 1 (mod 0xFFFF), a plain sum of 32-bit words (in either byte
/// order) is congruent to the folded sum, and a non-zero sum folds to 0xFFFF exactly when it
/// is a multiple of 0xFFFF — one multiply instead of a chain of folds.
#[inline(always)]
fn csum_ok<const N: usize>(h: &[u8; N], at: usize) -> bool {
    let w = |i: usize| u64::from(rd32(h, at + i));
    let s = w(0) + w(4) + w(8) + w(12) + w(16);
    s != 0 && s % 0xFFFF == 0
}

/// Decrements the TTL (> 1) of the IPv4 header at `at` of `d` and updates its checksum
/// incrementally with the bytes [`ipv4::Packet::decrement_ttl`] writes: RFC 1624 eqn. 3,
/// HC' = ~(~HC + ~m + m') with ~m + m' = 0xFEFF, which works out to HC + 0x100 when
/// HC < 0xFEFF and HC + 0x101 (mod 2^16) from there on (0xFEFF gives 0x0000, not 0xFFFF).
#[inline(always)]
fn decrement_ttl<const N: usize>(d: &mut [u8; N], at: usize) {
    d[at + 8] -= 1;
    let hc = u16::from_be_bytes([d[at + 10], d[at + 11]]);
    let c = hc.wrapping_add(0x100 + u16::from(hc >= 0xFEFF));
    d[at + 10..at + 12].copy_from_slice(&c.to_be_bytes());
}

/// An inner IPv4 packet that passed the checks route_v4 makes and was looked up.
struct Routed {
    nh: NhIdx,
    /// IP total length.
    total: usize,
    /// A TCP segment with SYN set (its MSS may need clamping: the general path's job).
    syn: bool,
}

/// Checks the IPv4 header at the start of `ip` (no options, length within `ip`, checksum,
/// TTL > 1) and finds its nexthop: `label` when given, else the FIB of `vrf`.
/// `VER_CHECKED`: a pattern has already matched the version and header length byte.
#[inline(always)]
fn route4<const VER_CHECKED: bool>(
    cache: &mut [CacheEntry; FIB_CACHE],
    t: &Tables,
    m: &mut Memo,
    vrf: u16,
    ip: &[u8],
    label: Option<NhIdx>,
) -> Option<Routed> {
    let h = ip.first_chunk::<20>()?;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if (!VER_CHECKED && h[0] != 0x45)
        || total < 20
        || total > ip.len()
        || h[8] <= 1
        || !csum_ok(h, 0)
    {
        return None;
    }
    let nh = match label {
        Some(nh) => nh,
        None => m.lookup(
            cache,
            t,
            vrf,
            u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
        )?,
    };
    let syn = h[9] == ipv4::PROTO_TCP && (ip[..total].get(33).is_none_or(|f| f & 0x02 != 0));
    Some(Routed { nh, total, syn })
}

/// Delivers a routed frame whose IP packet of `total` bytes starts at `off + ETH`: strips
/// the `off` bytes before it and what follows the IP packet, writes the Ethernet header
/// (`eth`: MACs and type) and decrements the TTL. `false`, and no change, when `p` is shorter.
#[inline(always)]
fn deliver<P: Packet>(p: &mut P, off: usize, total: usize, eth: &[u8; ETH]) -> bool {
    if !p.narrow(off, ETH + total) {
        return false;
    }
    if let Some(d) = p.data_mut().first_chunk_mut::<{ ETH + 20 }>() {
        *d.first_chunk_mut::<ETH>().unwrap_or(&mut [0; ETH]) = *eth;
        decrement_ttl(d, ETH);
    }
    true
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
    match from_fabric(core, t, m, p) {
        Some(port) => {
            *v = Tx(port);
            true
        }
        None => false,
    }
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
    match from_vif(core, t, m, port, p) {
        Some(port) => {
            *v = Tx(port);
            true
        }
        None => false,
    }
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
    let d = p.data();
    let h = d.first_chunk::<42>()?;
    if !m.c.outer.matches(h, 0) {
        return None;
    }
    if !p.rx_ip_csum_good() && !csum_ok(h, ETH) {
        return None;
    }
    let end = ETH + usize::from(be16(h, 16));
    if end < ETH + 28 || end > d.len() {
        return None;
    }
    match h[23] {
        ipv4::PROTO_UDP => {
            // The UDP datagram fills the IP packet (the general path handles shorter ones).
            if usize::from(be16(h, 38)) != end - ETH - 20 {
                return None;
            }
            let dport = be16(h, 36);
            if u32::from(dport) == m.c.vxlan_port {
                return vxlan(core, t, m, p, end);
            }
            match t.udp_decap(dport)? {
                UdpDecap::Vxlan => vxlan(core, t, m, p, end),
                UdpDecap::MplsUdp => mpls_in(core, t, m, p, 42, end, Encap::MplsUdp),
            }
        }
        ipv4::PROTO_GRE => {
            if rd32(h, 34) != u32::from_ne_bytes([0, 0, 0x88, 0x47]) {
                return None;
            }
            mpls_in(core, t, m, p, 38, end, Encap::MplsGre)
        }
        _ => None,
    }
}

/// VXLAN: the outer headers end at 50; the inner Ethernet frame runs to `end`.
#[inline(always)]
fn vxlan<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    p: &mut P,
    end: usize,
) -> Option<PortIdx> {
    const INNER: usize = 50;
    let d = p.data();
    // Up to the end of the inner IPv4 header (the pattern covers its first word).
    let h = d.get(..end)?.first_chunk::<{ INNER + ETH + 20 }>()?;
    if !m.c.vxlan.matches(h, 40) {
        return None;
    }
    let vni = u32::from_be_bytes([h[45], h[46], h[47], h[48]]) & 0xFF_FFFF;
    let vrf = if vni == m.vni {
        m.vni_vrf
    } else {
        let v = *t.vni_to_vrf.get(&vni)?;
        m.vni = vni;
        m.vni_vrf = v;
        v
    };
    let r = route4::<true>(&mut core.fib_cache, t, m, vrf, &d[INNER + ETH..end], None)?;
    let &Action::Out { port, mtu, eth, .. } = m.action(core, t, r.nh) else {
        return None;
    };
    // From a tunnel, a SYN toward a clamping vif gets its MSS clamped: the general path.
    if r.total > usize::from(mtu) || r.syn {
        return None;
    }
    // Commit: from here the packet changes, and every check has passed.
    if !deliver(p, INNER, r.total, &eth) {
        return None;
    }
    m.events[EV_VXLAN_DECAP] += 1;
    Some(port)
}

/// MPLS over UDP or GRE: the label stack entry is at `off`, the inner IP packet after it.
#[inline(always)]
fn mpls_in<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    p: &mut P,
    off: usize,
    end: usize,
    encap: Encap,
) -> Option<PortIdx> {
    let d = p.data();
    // The label stack entry and the inner IPv4 header.
    let e = d
        .get(off..end)?
        .first_chunk::<{ mpls::HEADER_LEN + 20 }>()?;
    let entry = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
    // Bottom of stack, TTL > 1.
    if entry & 0x100 == 0 || entry & 0xFF <= 1 {
        return None;
    }
    let label = entry >> 12;
    let nh = if label == m.label {
        m.label_nh
    } else {
        let nh = *t.labels.get(&label)?;
        m.label = label;
        m.label_nh = nh;
        nh
    };
    let inner = off + mpls::HEADER_LEN;
    let r = route4::<false>(&mut core.fib_cache, t, m, 0, &d[inner..end], Some(nh))?;
    // The label's nexthop must be an interface to a vif (the general path drops others).
    let Action::Out {
        port,
        mtu,
        eth,
        to_vif: true,
    } = *m.action(core, t, r.nh)
    else {
        return None;
    };
    if r.total > usize::from(mtu) || r.syn {
        return None;
    }
    // Commit: the 14 bytes before the inner packet become its Ethernet header.
    if !deliver(p, inner - ETH, r.total, &eth) {
        return None;
    }
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
    if !m.c.vif.matches(h, 0) {
        return None;
    }
    let r = route4::<true>(&mut core.fib_cache, t, m, vrf, &d[ETH..], None)?;
    match m.action(core, t, r.nh) {
        &Action::Out {
            port: out,
            mtu,
            ref eth,
            ..
        } => {
            if r.total > usize::from(mtu) || !deliver(p, 0, r.total, eth) {
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
        let p = Pattern::<2>::new([(0, 0xAB, 0xFF), (9, 0x40, 0x40), (15, 0x01, 0x0F)]);
        let mut h = [0u8; 16];
        h[0] = 0xAB;
        h[9] = 0x40;
        h[15] = 0x01;
        assert!(p.matches(&h, 0));
        h[9] = 0xFF; // other bits of byte 9 do not matter
        h[15] = 0xF1; // nor the high nibble of byte 15
        h[3] = 0x77; // nor unmasked bytes
        assert!(p.matches(&h, 0));
        for (i, b) in [(0, 0xAA), (9, 0x00), (15, 0x02)] {
            let mut g = h;
            g[i] = b;
            assert!(!p.matches(&g, 0), "byte {i} = {b:#04x}");
        }
    }
}
