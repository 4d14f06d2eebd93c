//! Fast paths: the common cases of the pipeline — VXLAN, MPLSoUDP and MPLSoGRE decapsulation
//! to a vif; vif to tunnel encapsulation; vif to vif — written straight through, with the
//! headers read at fixed offsets and the last lookups of the burst remembered.
//!
//! A fast path either does everything the general pipeline would do with the packet — the
//! same verdict, the same bytes out, the same counters — or returns `None` without having
//! changed the packet, and the general pipeline takes it. Anything unusual (IP options,
//! fragments of the outer packet, ARP and ND, IPv6 inner packets, TTL about to expire, too big
//! for the path, a TCP SYN to clamp, ECMP, an unresolved underlay neighbour, a miss) goes the
//! general way, where every drop reason, ICMP error and notification lives. `tests` below
//! checks this equivalence on valid and corrupted packets.

use super::{
    be16, encap, inner_limit, path_mtu_of, CoreCtx, EncapArgs, Event, Packet, Verdict, ETH, FABRIC,
};
use crate::tables::{Encap, Nexthop, NhIdx, PortIdx, PortKind, Tables, UdpDecap};
use crate::wire::{ipv4, mpls};
use Verdict::Tx;

/// The last lookups of a burst. Tables cannot change within a burst, and bursts carry runs of
/// packets of one tunnel and one destination, so these save most hash probes and FIB walks.
pub(super) struct Memo {
    vni: u32,
    vni_vrf: u16,
    label: u32,
    label_nh: NhIdx,
    /// `(vrf << 32 | dst)` of the last FIB lookup, `u64::MAX` for none.
    dst: u64,
    dst_nh: NhIdx,
}

impl Memo {
    #[inline(always)]
    pub(super) fn new() -> Self {
        // VNIs are 24 bits and labels 20: u32::MAX matches neither.
        Memo {
            vni: u32::MAX,
            vni_vrf: 0,
            label: u32::MAX,
            label_nh: 0,
            dst: u64::MAX,
            dst_nh: 0,
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
            let nh = t.vrf(vrf)?.fib4.lookup(dst)?;
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

/// The native-endian 32-bit word at `i` of `h` (one load: the compiler sees the bounds).
#[inline(always)]
fn rd32<const N: usize>(h: &[u8; N], i: usize) -> u32 {
    u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]])
}

/// The native-endian 16-bit word at `i` of `h`.
#[inline(always)]
fn rd16<const N: usize>(h: &[u8; N], i: usize) -> u16 {
    u16::from_ne_bytes([h[i], h[i + 1]])
}

/// `true` when the 6 bytes at `i` of `h` are `mac`: two integer compares.
#[inline(always)]
fn mac_at<const N: usize>(h: &[u8; N], i: usize, mac: &[u8; 6]) -> bool {
    rd32(h, i) == u32::from_ne_bytes([mac[0], mac[1], mac[2], mac[3]])
        && rd16(h, i + 4) == u16::from_ne_bytes([mac[4], mac[5]])
}

/// Ethertype IPv4 followed by version 4, header length 5, as they sit in memory.
const IPV4_NO_OPTIONS: [u8; 3] = [0x08, 0x00, 0x45];

/// `true` when the 20-byte IPv4 header `h` has a correct checksum: its one's-complement sum
/// folds to 0xFFFF. Since 2^16 ≡ 1 (mod 0xFFFF), a plain sum of 32-bit words (in either byte
/// order) is congruent to the folded sum, and a non-zero sum folds to 0xFFFF exactly when it
/// is a multiple of 0xFFFF — one multiply instead of a chain of folds.
#[inline(always)]
fn csum_ok(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let s = w(0) + w(4) + w(8) + w(12) + w(16);
    s != 0 && s % 0xFFFF == 0
}

/// Decrements the TTL (> 1) of the IPv4 header `ip` and updates its checksum incrementally:
/// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), where ~m + m' is 0xFEFF for any TTL ≥ 1 — the
/// same bytes as [`ipv4::Packet::decrement_ttl`] writes.
#[inline(always)]
fn decrement_ttl(ip: &mut [u8; 20]) {
    ip[8] -= 1;
    let hc = u16::from_be_bytes([ip[10], ip[11]]);
    ip[10..12].copy_from_slice(&crate::wire::checksum::fold(u32::from(!hc) + 0xFEFF).to_be_bytes());
}

/// An inner IPv4 packet that passed the checks route_v4 makes and was looked up.
struct Routed<'t> {
    nh: &'t Nexthop,
    /// IP total length.
    total: usize,
    ttl: u8,
    /// A TCP segment with SYN set (its MSS may need clamping: the general path's job).
    syn: bool,
}

/// Checks the IPv4 header at the start of `ip` (no options, length within `ip`, checksum,
/// TTL > 1) and finds its nexthop: `label` when given, else the FIB of `vrf`.
#[inline(always)]
fn route4<'t>(
    cache: &mut [CacheEntry; FIB_CACHE],
    t: &'t Tables,
    m: &mut Memo,
    vrf: u16,
    ip: &[u8],
    label: Option<NhIdx>,
) -> Option<Routed<'t>> {
    let h = ip.first_chunk::<20>()?;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if h[0] != 0x45 || total < 20 || total > ip.len() || h[8] <= 1 || !csum_ok(h) {
        return None;
    }
    let idx = match label {
        Some(nh) => nh,
        None => m.lookup(
            cache,
            t,
            vrf,
            u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
        )?,
    };
    let syn = h[9] == ipv4::PROTO_TCP && (ip[..total].get(33).is_none_or(|f| f & 0x02 != 0));
    Some(Routed {
        nh: t.nexthop(idx)?,
        total,
        ttl: h[8],
        syn,
    })
}

/// The interface a routed packet goes out of, when its nexthop is one and the packet fits it.
#[inline(always)]
fn interface<'t>(t: &'t Tables, r: &Routed<'t>) -> Option<(PortIdx, &'t [u8; 6])> {
    let Nexthop::Interface { port, dst_mac } = r.nh else {
        return None;
    };
    let out = t.ports.get(usize::from(*port))?;
    (r.total <= usize::from(out.mtu)).then_some((*port, dst_mac))
}

/// Delivers a routed frame (Ethernet header at the front, IP after it, checked by
/// [`interface`]): trims it to the IP length, decrements the TTL and rewrites the MACs.
#[inline(always)]
fn deliver<P: Packet>(t: &Tables, p: &mut P, total: usize, dst_mac: &[u8; 6]) {
    // Shortening never fails.
    p.set_len(ETH + total);
    if let Some(d) = p.data_mut().first_chunk_mut::<{ ETH + 20 }>() {
        d[0..6].copy_from_slice(dst_mac);
        d[6..12].copy_from_slice(&t.router_mac);
        if let Some(ip) = d.last_chunk_mut::<20>() {
            decrement_ttl(ip);
        }
    }
}

/// A packet from the fabric.
#[inline(always)]
pub(super) fn fabric<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    p: &mut P,
) -> Option<Verdict> {
    if !p.is_contiguous() {
        return None;
    }
    let d = p.data();
    let h = d.first_chunk::<42>()?;
    if !mac_at(h, 0, &t.fabric.mac) || [h[12], h[13], h[14]] != IPV4_NO_OPTIONS {
        return None;
    }
    // Not a fragment (DF may be set), addressed to us, checksum right.
    if h[20] & 0x3F != 0 || h[21] != 0 || rd32(h, 30) != u32::from_ne_bytes(t.fabric.ip.octets()) {
        return None;
    }
    if !p.rx_ip_csum_good() && !csum_ok(h[14..34].try_into().ok()?) {
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
            match t.udp_decap(be16(h, 36))? {
                UdpDecap::Vxlan => vxlan(core, t, m, p, end),
                UdpDecap::MplsUdp => mpls_in(core, t, m, p, 42, end, Encap::MplsUdp),
            }
        }
        ipv4::PROTO_GRE => {
            if [h[34], h[35], h[36], h[37]] != [0, 0, 0x88, 0x47] {
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
) -> Option<Verdict> {
    const INNER: usize = 50;
    let d = p.data();
    let h = d.get(..end)?.first_chunk::<{ INNER + ETH }>()?;
    if h[42] & 0x08 == 0 {
        return None;
    }
    let vni = u32::from_be_bytes([0, h[46], h[47], h[48]]);
    let vrf = if vni == m.vni {
        m.vni_vrf
    } else {
        let v = *t.vni_to_vrf.get(&vni)?;
        m.vni = vni;
        m.vni_vrf = v;
        v
    };
    if !mac_at(h, INNER, &t.router_mac) || [h[INNER + 12], h[INNER + 13]] != [0x08, 0x00] {
        return None;
    }
    let r = route4(&mut core.fib_cache, t, m, vrf, &d[INNER + ETH..end], None)?;
    let (port, mac) = interface(t, &r)?;
    // From a tunnel, a SYN toward a clamping vif gets its MSS clamped: the general path.
    if r.syn {
        return None;
    }
    // Commit: from here the packet changes, and every check has passed.
    if !p.adj(INNER) {
        return None;
    }
    deliver(t, p, r.total, mac);
    core.stats.event(Event::VxlanDecap);
    Some(Tx(port))
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
) -> Option<Verdict> {
    let d = p.data();
    let e = d.get(off..end)?.first_chunk::<4>()?;
    let entry = u32::from_be_bytes(*e);
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
    let r = route4(&mut core.fib_cache, t, m, 0, &d[inner..end], Some(nh))?;
    // The label's nexthop must be an interface to a vif (the general path drops others).
    let (port, mac) = interface(t, &r)?;
    if r.syn
        || !matches!(
            t.ports.get(usize::from(port)).map(|p| &p.kind),
            Some(PortKind::Vif { .. })
        )
    {
        return None;
    }
    // Commit: the 14 bytes before the inner packet become its Ethernet header.
    if !p.adj(inner - ETH) {
        return None;
    }
    p.data_mut()[12..14].copy_from_slice(&[0x08, 0x00]);
    deliver(t, p, r.total, mac);
    core.stats.event(if encap == Encap::MplsUdp {
        Event::MplsUdpDecap
    } else {
        Event::MplsGreDecap
    });
    Some(Tx(port))
}

/// A packet from vif `port`.
#[inline(always)]
pub(super) fn vif<P: Packet>(
    core: &mut CoreCtx,
    t: &Tables,
    m: &mut Memo,
    port: PortIdx,
    p: &mut P,
) -> Option<Verdict> {
    let Some(PortKind::Vif { vrf, .. }) = t.ports.get(usize::from(port)).map(|p| &p.kind) else {
        return None;
    };
    if !p.is_contiguous() || p.gso_size().is_some() || p.l4_csum_partial() {
        return None;
    }
    let d = p.data();
    let h = d.first_chunk::<{ ETH + 1 }>()?;
    if !mac_at(h, 0, &t.router_mac) || [h[12], h[13], h[14]] != IPV4_NO_OPTIONS {
        return None;
    }
    let r = route4(&mut core.fib_cache, t, m, *vrf, &d[ETH..], None)?;
    match r.nh {
        Nexthop::Interface { .. } => {
            let (out, mac) = interface(t, &r)?;
            deliver(t, p, r.total, mac);
            if out != FABRIC && out != port {
                core.stats.event(Event::LocalDelivery);
            }
            Some(Tx(out))
        }
        Nexthop::Tunnel(tun) => {
            let limit = inner_limit(tun.encap, path_mtu_of(t, core, tun));
            if r.total > usize::from(limit) || r.syn {
                return None;
            }
            let nmac = t.neighbors.mac(tun.neighbor)?;
            if !p.set_len(ETH + r.total) {
                return None;
            }
            let d = p.data_mut();
            // Always there: route4 checked total >= 20.
            let ip = d
                .get_mut(ETH..ETH + 20)
                .and_then(|s| s.first_chunk_mut::<20>())?;
            decrement_ttl(ip);
            let tos = ip[1];
            let hash = super::flow_hash_v4(&d[ETH..]);
            let e = EncapArgs {
                tun,
                nmac,
                tos,
                ttl: r.ttl - 1,
                hash,
                df: true,
            };
            Some(encap(core, t, p, &e))
        }
        _ => None,
    }
}
