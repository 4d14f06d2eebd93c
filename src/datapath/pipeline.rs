//! The burst pipeline: classify → decap → route → rewrite/encap, and the exceptions the
//! router answers itself (ARP, ND, ICMP echo, ICMP errors), path MTU (ICMP frag-needed /
//! packet too big, fragmentation, MSS clamping, learning from the fabric's ICMP errors) and
//! partial checksums from virtio guests.
//!
//! It runs on anything that implements [`Packet`]: mbufs in the router, byte buffers in tests
//! and benches. Nothing here allocates (fragments come from the packet's own pool, into a
//! pre-sized [`Extra`] list), locks, logs or makes a system call; every failure is a
//! [`Verdict::Drop`] with a named reason, counted by [`process_burst`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::packet::Packet;
use super::stats::{CoreStats, DropReason, Event, MAX_PORTS};
use super::{icmp, mss, nd};
use crate::tables::{Encap, Nexthop, NhIdx, PortIdx, PortKind, Tables, Tunnel, UdpDecap, FABRIC};
use crate::wire::{
    arp, checksum, ethernet, gre, icmpv4, icmpv6, ipv4, ipv6, mpls, udp, vxlan, Error as WireError,
    MacAddr,
};

const ETH: usize = ethernet::HEADER_LEN;

mod fast;

/// What to do with a packet after the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it out of this port (index in [`Tables::ports`]).
    Tx(PortIdx),
    /// Free it; already counted under this reason.
    Drop(DropReason),
}

use DropReason as R;
use Verdict::{Drop, Tx};

/// Packets the pipeline made besides those it was given (fragments), with their verdicts.
/// Sized once; when full, fragmenting fails (counted) rather than allocating.
pub struct Extra<P> {
    pkts: Vec<(P, Verdict)>,
}

/// Room for the fragments of a whole burst of large packets.
pub const EXTRA_CAPACITY: usize = 256;

impl<P> Default for Extra<P> {
    fn default() -> Self {
        Extra {
            pkts: Vec::with_capacity(EXTRA_CAPACITY),
        }
    }
}

impl<P> Extra<P> {
    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.pkts.len()
    }
    /// `true` when none wait.
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }
    /// Takes them all, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, (P, Verdict)> {
        self.pkts.drain(..)
    }
    fn room(&self) -> usize {
        EXTRA_CAPACITY - self.pkts.len()
    }
}

/// What a miss notification says (kept small and allocation-free for the worker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Miss {
    /// The destination had no route.
    pub no_route: bool,
    pub vrf: u16,
    /// The vif the packet came from.
    pub port: PortIdx,
    /// The destination (no route) or the underlay next hop (unresolved).
    pub addr: std::net::IpAddr,
}

/// Miss notifications per second per worker, at most.
pub const MISS_RATE: u64 = 200;

/// A worker's private pipeline state: its counters, clock and rate limiters.
pub struct CoreCtx {
    misses: Option<Arc<crossbeam_queue::ArrayQueue<Miss>>>,
    /// (tokens, last refill) of the miss-notification bucket, and the last miss sent.
    miss_bucket: (u64, u64, Option<Miss>),
    pub stats: Arc<CoreStats>,
    tsc_hz: u64,
    now: u64,
    now_s: u64,
    /// ICMP-error token buckets per ingress port: (tokens, last refill).
    icmp: Box<[(u64, u64)]>,
    /// Last ARP request sent per neighbour (TSC), for the 100 ms rate limit.
    arp_last: Box<[u64]>,
    /// Try the fast paths first (on by default; tests turn it off to compare).
    pub fast_path: bool,
    /// The fast path's FIB cache: `(vrf, destination) → nexthop` for one generation of the
    /// tables, direct-mapped (as OVS's exact-match cache), so that a worker serving a few
    /// hundred busy destinations rarely walks the FIB.
    fib_cache: Box<[fast::CacheEntry; fast::FIB_CACHE]>,
    /// The fast paths' header patterns for the current tables.
    fast_consts: fast::Consts,
}

/// Most neighbours a worker rate-limits ARP requests for.
pub const MAX_NEIGHBORS: usize = crate::tables::neighbor::NEIGHBOR_CAPACITY;

impl CoreCtx {
    /// A context with a clock of `tsc_hz` ticks per second.
    pub fn new(stats: Arc<CoreStats>, tsc_hz: u64) -> Self {
        CoreCtx {
            misses: None,
            miss_bucket: (0, 0, None),
            stats,
            tsc_hz: tsc_hz.max(1),
            now: 0,
            now_s: 0,
            icmp: vec![(0, 0); MAX_PORTS].into_boxed_slice(),
            arp_last: vec![0; MAX_NEIGHBORS].into_boxed_slice(),
            fast_path: true,
            fib_cache: Box::new([fast::CacheEntry::EMPTY; fast::FIB_CACHE]),
            fast_consts: fast::Consts::default(),
        }
    }

    /// Where miss notifications go (a bounded queue the control thread drains).
    pub fn set_miss_queue(&mut self, q: Arc<crossbeam_queue::ArrayQueue<Miss>>) {
        self.misses = Some(q);
    }

    /// Publishes a miss notification, rate-limited ([`MISS_RATE`]/s) and without repeating
    /// the previous one within a second; dropped when the queue is full (the miss itself is
    /// counted as a drop reason anyway).
    #[cold]
    fn miss(&mut self, m: Miss) {
        let Some(q) = &self.misses else { return };
        let (tokens, last, prev) = &mut self.miss_bucket;
        if *prev == Some(m) && self.now.wrapping_sub(*last) < self.tsc_hz {
            return;
        }
        let add = (u128::from(self.now.saturating_sub(*last)) * u128::from(MISS_RATE)
            / u128::from(self.tsc_hz)) as u64;
        if add > 0 {
            *tokens = (*tokens + add).min(MISS_RATE);
            *last = self.now;
        }
        if *tokens == 0 {
            return;
        }
        *tokens -= 1;
        *prev = Some(m);
        let _ = q.push(m);
    }

    /// Sets the clock for the next burst (TSC ticks, or any monotonic count at `tsc_hz`).
    #[inline]
    pub fn set_now(&mut self, now: u64) {
        self.now = now;
        self.now_s = now / self.tsc_hz;
    }

    /// Takes one ICMP-error token of `port`'s bucket: `rate` per second, bursts up to `rate`.
    #[cold]
    fn icmp_allow(&mut self, port: PortIdx, rate: u32) -> bool {
        let (now, hz) = (self.now, self.tsc_hz);
        let Some((tokens, last)) = self.icmp.get_mut(usize::from(port)) else {
            return false;
        };
        let add =
            (u128::from(now.saturating_sub(*last)) * u128::from(rate) / u128::from(hz)) as u64;
        if add > 0 {
            *tokens = (*tokens + add).min(u64::from(rate));
            *last = now;
        }
        if *tokens > 0 {
            *tokens -= 1;
            true
        } else {
            false
        }
    }

    /// `true` (and the clock noted) when no ARP request for `neigh` went out in 100 ms.
    #[cold]
    fn arp_allow(&mut self, neigh: u32) -> bool {
        let gap = self.tsc_hz / 10;
        match self.arp_last.get_mut(neigh as usize) {
            Some(last) if *last == 0 || self.now.wrapping_sub(*last) >= gap => {
                *last = self.now.max(1);
                true
            }
            _ => false,
        }
    }
}

/// Where a packet being routed came from.
#[derive(Clone, Copy, Debug)]
struct Ingress {
    /// The port it arrived on, or [`GENERATED`].
    port: PortIdx,
    /// Arrived through a tunnel: the largest inner IP packet that tunnel carries (for MSS
    /// clamping toward the VM); 0 otherwise.
    tunnel_limit: u16,
}

/// Ingress of packets the router made itself (ICMP errors and replies): they never cause
/// another ICMP error.
const GENERATED: PortIdx = PortIdx::MAX;
const FROM_ROUTER: Ingress = Ingress {
    port: GENERATED,
    tunnel_limit: 0,
};

/// The per-burst environment.
struct Cx<'a, P> {
    core: &'a mut CoreCtx,
    t: &'a Tables,
    extra: &'a mut Extra<P>,
}

/// Runs the pipeline over a burst received on `in_port`, writing one verdict per packet and
/// counting drops. Fragments it makes are appended to `extra` with their own verdicts (the
/// caller sends them after the burst). `verdicts` must be at least as long as `pkts`.
pub fn process_burst<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    in_port: PortIdx,
    pkts: &mut [P],
    verdicts: &mut [Verdict],
    extra: &mut Extra<P>,
) {
    let first_extra = extra.len();
    let fast = ctx.fast_path;
    let mut cx = Cx {
        core: ctx,
        t,
        extra,
    };
    if !fast {
        for (p, v) in pkts.iter_mut().zip(verdicts.iter_mut()) {
            *v = general(&mut cx, in_port, p);
        }
    } else if in_port == FABRIC {
        let mut m = fast::Memo::new(cx.core, t, in_port);
        for (p, v) in pkts.iter_mut().zip(verdicts.iter_mut()) {
            if !fast::fabric(cx.core, t, &mut m, p, v) {
                *v = general(&mut cx, in_port, p);
            }
        }
        m.flush(cx.core);
    } else {
        let mut m = fast::Memo::new(cx.core, t, in_port);
        for (p, v) in pkts.iter_mut().zip(verdicts.iter_mut()) {
            if !fast::vif(cx.core, t, &mut m, in_port, p, v) {
                *v = general(&mut cx, in_port, p);
            }
        }
        m.flush(cx.core);
    }
    for (_, v) in &cx.extra.pkts[first_extra..] {
        if let Drop(r) = *v {
            cx.core.stats.count_drop(r);
        }
    }
}

/// The general pipeline for one packet, its drop counted.
#[inline(never)]
fn general<P: Packet>(cx: &mut Cx<'_, P>, in_port: PortIdx, p: &mut P) -> Verdict {
    let v = process(cx, in_port, p);
    if let Drop(r) = v {
        cx.core.stats.count_drop(r);
    }
    v
}

/// Runs only the fast path on `p`: `Some(verdict)` when it took the packet (then changed as
/// [`process_burst`] would), `None` when it left it (unchanged) to the general pipeline.
/// For tests and diagnostics.
pub fn fast_path_only<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    in_port: PortIdx,
    p: &mut P,
) -> Option<Verdict> {
    let mut memo = fast::Memo::new(ctx, t, in_port);
    let mut v = Drop(R::TxFull);
    let taken = if in_port == FABRIC {
        fast::fabric(ctx, t, &mut memo, p, &mut v)
    } else {
        fast::vif(ctx, t, &mut memo, in_port, p, &mut v)
    };
    memo.flush(ctx);
    taken.then_some(v)
}

/// The pipeline for one packet.
#[inline]
fn process<P: Packet>(cx: &mut Cx<'_, P>, in_port: PortIdx, p: &mut P) -> Verdict {
    if !p.is_contiguous() {
        return Drop(R::MultiSegment);
    }
    if in_port == FABRIC {
        from_fabric(cx, p)
    } else {
        from_vif(cx, in_port, p)
    }
}

#[inline(always)]
fn be16(d: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([d[off], d[off + 1]])
}

fn ip_err(e: WireError) -> Verdict {
    match e {
        WireError::Truncated => Drop(R::IpTruncated),
        WireError::Malformed => Drop(R::IpMalformed),
    }
}

/// Largest inner IP packet an encapsulation lets through a path of `path_mtu`.
#[inline]
fn inner_limit(encap: Encap, path_mtu: u16) -> u16 {
    path_mtu.saturating_sub((encap.overhead() - ETH) as u16)
}

// ---------------------------------------------------------------------------------------
// From the fabric.

fn from_fabric<P: Packet>(cx: &mut Cx<'_, P>, p: &mut P) -> Verdict {
    let t = cx.t;
    let (dst, ethertype) = match ethernet::Packet::new_checked(p.data()) {
        Ok(eth) if eth.has_vlan() => return Drop(R::VlanUnsupported),
        Ok(eth) => (eth.dst_addr(), eth.ethertype()),
        Err(_) => return Drop(R::L2Truncated),
    };
    if dst != t.fabric.mac && dst != ethernet::BROADCAST {
        return Drop(R::L2OtherHost);
    }
    match ethertype {
        ethernet::ETHERTYPE_IPV4 => fabric_ipv4(cx, p),
        ethernet::ETHERTYPE_ARP => fabric_arp(cx, p),
        _ => Drop(R::EthertypeUnsupported),
    }
}

fn fabric_ipv4<P: Packet>(cx: &mut Cx<'_, P>, p: &mut P) -> Verdict {
    let t = cx.t;
    let d = p.data();
    let ip = match ipv4::Packet::new_checked(&d[ETH..]) {
        Ok(ip) => ip,
        Err(e) => return ip_err(e),
    };
    if ip.header_len() != ipv4::HEADER_LEN {
        return Drop(R::IpOptions);
    }
    if !ip.verify_checksum() {
        return Drop(R::IpBadChecksum);
    }
    if ip.is_fragment() {
        return Drop(R::IpFragment);
    }
    if ip.dst_addr() != t.fabric.ip {
        return Drop(R::NotForUs);
    }
    let l4 = ETH + ipv4::HEADER_LEN;
    let end = ETH + usize::from(ip.total_len());
    match ip.protocol() {
        ipv4::PROTO_UDP => {
            let (dport, ulen) = match udp::Packet::new_checked(&d[l4..end]) {
                Ok(u) => (u.dst_port(), usize::from(u.len())),
                Err(_) => return Drop(R::UdpMalformed),
            };
            let payload = l4 + udp::HEADER_LEN;
            match t.udp_decap(dport) {
                Some(UdpDecap::Vxlan) => vxlan_decap(cx, p, payload, l4 + ulen),
                Some(UdpDecap::MplsUdp) => mpls_decap(cx, p, payload, l4 + ulen, Encap::MplsUdp),
                None => Drop(R::UdpPortUnknown),
            }
        }
        ipv4::PROTO_GRE => {
            match gre::Packet::new_checked(&d[l4..end]) {
                Ok(g) if g.flags_version() == 0 && g.protocol() == gre::PROTO_MPLS => {}
                _ => return Drop(R::GreUnsupported),
            }
            mpls_decap(cx, p, l4 + gre::HEADER_LEN, end, Encap::MplsGre)
        }
        ipv4::PROTO_ICMP => underlay_icmp(cx, p, end),
        _ => Drop(R::ProtoUnsupported),
    }
}

/// VXLAN: `off..end` is the VXLAN header and the inner frame.
fn vxlan_decap<P: Packet>(cx: &mut Cx<'_, P>, p: &mut P, off: usize, end: usize) -> Verdict {
    let t = cx.t;
    let d = p.data();
    let vrf = match vxlan::Packet::new_checked(&d[off..end]) {
        Ok(v) if v.flags() & vxlan::FLAG_I == 0 => return Drop(R::VxlanBadFlags),
        Ok(v) => match t.vni_to_vrf.get(&v.vni()) {
            Some(&vrf) => vrf,
            None => return Drop(R::UnknownVni),
        },
        Err(_) => return Drop(R::VxlanMalformed),
    };
    let inner = off + vxlan::HEADER_LEN;
    let (idst, itype) = match ethernet::Packet::new_checked(&d[inner..end]) {
        Ok(e) if e.has_vlan() => return Drop(R::VlanUnsupported),
        Ok(e) => (e.dst_addr(), e.ethertype()),
        Err(_) => return Drop(R::L2Truncated),
    };
    cx.core.stats.event(Event::VxlanDecap);
    match itype {
        ethernet::ETHERTYPE_ARP => return tunnel_arp(cx, p, vrf, inner, end),
        ethernet::ETHERTYPE_IPV6 if nd::is_ndp(&d[inner..end]) => {
            return tunnel_nd(cx, p, vrf, inner, end)
        }
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => {
            if idst != t.router_mac {
                return Drop(R::InnerL2OtherHost);
            }
        }
        _ => return Drop(R::EthertypeUnsupported),
    }
    if !p.adj(inner) || !p.set_len(end - inner) {
        return Drop(R::IpTruncated);
    }
    let ing = Ingress {
        port: FABRIC,
        tunnel_limit: inner_limit(Encap::Vxlan, t.fabric_mtu()),
    };
    route_frame(cx, vrf, p, None, ing, 0)
}

/// MPLS (over UDP or GRE): `off..end` is the label stack entry and the inner IP packet.
fn mpls_decap<P: Packet>(
    cx: &mut Cx<'_, P>,
    p: &mut P,
    off: usize,
    end: usize,
    encap: Encap,
) -> Verdict {
    let t = cx.t;
    let d = p.data();
    let (label, ttl) = match mpls::Packet::new_checked(&d[off..end]) {
        Ok(m) if m.bottom_of_stack() => (m.label(), m.ttl()),
        _ => return Drop(R::MplsMalformed),
    };
    let Some(&nh) = t.labels.get(&label) else {
        return Drop(R::UnknownLabel);
    };
    if ttl <= 1 {
        return Drop(R::TtlExpired);
    }
    let inner = off + mpls::HEADER_LEN;
    let ethertype = match d.get(inner).map(|b| b >> 4) {
        Some(4) => ethernet::ETHERTYPE_IPV4,
        Some(6) => ethernet::ETHERTYPE_IPV6,
        Some(_) => return Drop(R::IpMalformed),
        None => return Drop(R::IpTruncated),
    };
    // A label selects a nexthop directly; the VRF only matters as the context of ICMP errors.
    let Some(vrf) = label_vrf(t, nh) else {
        return Drop(R::NexthopUnsupported);
    };
    cx.core.stats.event(if encap == Encap::MplsUdp {
        Event::MplsUdpDecap
    } else {
        Event::MplsGreDecap
    });
    // The 14 bytes in front of the inner packet (end of the outer headers) become its
    // Ethernet header: no prepend needed.
    if !p.adj(inner - ETH) || !p.set_len(end - inner + ETH) {
        return Drop(R::IpTruncated);
    }
    p.data_mut()[12..14].copy_from_slice(&ethertype.to_be_bytes());
    let ing = Ingress {
        port: FABRIC,
        tunnel_limit: inner_limit(encap, t.fabric_mtu()),
    };
    route_frame(cx, vrf, p, Some(nh), ing, 0)
}

/// The VRF of the vif an MPLS label's (interface) nexthop delivers to.
fn label_vrf(t: &Tables, nh: NhIdx) -> Option<u16> {
    match t.nexthop(nh) {
        Some(Nexthop::Interface { port, .. }) => {
            match t.ports.get(usize::from(*port)).map(|p| &p.kind) {
                Some(PortKind::Vif { vrf, .. }) => Some(*vrf),
                _ => None,
            }
        }
        _ => None,
    }
}

fn fabric_arp<P: Packet>(cx: &mut Cx<'_, P>, p: &mut P) -> Verdict {
    let t = cx.t;
    let (op, sha, spa, tpa) = match arp::Packet::new_checked(&p.data()[ETH..]) {
        Ok(a) => (
            a.operation(),
            a.sender_hw_addr(),
            a.sender_proto_addr(),
            a.target_proto_addr(),
        ),
        Err(_) => return Drop(R::ArpMalformed),
    };
    if t.neighbors.learn(spa, sha) {
        cx.core.stats.event(Event::ArpLearned);
    }
    if op == arp::OP_REQUEST && tpa == t.fabric.ip {
        arp_reply_in_place(p.data_mut(), t.fabric.mac);
        cx.core.stats.event(Event::ArpReplied);
        return Tx(FABRIC);
    }
    Drop(R::ArpIgnored)
}

/// Turns the ARP request at `d` (Ethernet + ARP) into the reply `mac` gives for its target.
fn arp_reply_in_place(d: &mut [u8], mac: MacAddr) {
    let src_mac = ethernet::Packet::new_unchecked(&*d).src_addr();
    {
        let mut e = ethernet::Packet::new_unchecked(&mut d[..ETH]);
        e.set_dst_addr(src_mac);
        e.set_src_addr(mac);
    }
    let mut a = arp::Packet::new_unchecked(&mut d[ETH..ETH + arp::LEN]);
    let (sha, spa, tpa) = (
        a.sender_hw_addr(),
        a.sender_proto_addr(),
        a.target_proto_addr(),
    );
    a.set_operation(arp::OP_REPLY);
    a.set_target_hw_addr(sha);
    a.set_target_proto_addr(spa);
    a.set_sender_hw_addr(mac);
    a.set_sender_proto_addr(tpa);
}

/// `true` when `addr` reaches a local vif in `vrf` (the addresses the router answers for
/// inside a tunnel).
fn serves_v4(t: &Tables, vrf: u16, addr: Ipv4Addr) -> bool {
    t.lookup4(vrf, u32::from(addr))
        .and_then(|nh| t.nexthop(nh))
        .is_some_and(|nh| matches!(nh, Nexthop::Interface { .. }))
}

fn serves_v6(t: &Tables, vrf: u16, addr: &Ipv6Addr) -> bool {
    t.vrf(vrf)
        .and_then(|v| v.fib6.lookup(u128::from(*addr)))
        .and_then(|nh| t.nexthop(nh))
        .is_some_and(|nh| matches!(nh, Nexthop::Interface { .. }))
}

/// An ARP request inside a VXLAN tunnel: answered, inside the tunnel, for addresses of local
/// vifs in the VRF.
fn tunnel_arp<P: Packet>(
    cx: &mut Cx<'_, P>,
    p: &mut P,
    vrf: u16,
    inner: usize,
    end: usize,
) -> Verdict {
    let t = cx.t;
    let (op, tpa) = match arp::Packet::new_checked(&p.data()[inner + ETH..end]) {
        Ok(a) => (a.operation(), a.target_proto_addr()),
        Err(_) => return Drop(R::ArpMalformed),
    };
    if op != arp::OP_REQUEST || !serves_v4(t, vrf, tpa) {
        return Drop(R::ArpIgnored);
    }
    arp_reply_in_place(&mut p.data_mut()[inner..], t.router_mac);
    vxlan_reply(t, p, inner, end - inner);
    cx.core.stats.event(Event::ArpReplied);
    Tx(FABRIC)
}

/// A neighbour solicitation inside a VXLAN tunnel: answered inside the tunnel for addresses
/// of local vifs.
fn tunnel_nd<P: Packet>(
    cx: &mut Cx<'_, P>,
    p: &mut P,
    vrf: u16,
    inner: usize,
    end: usize,
) -> Verdict {
    let t = cx.t;
    if !p.set_len((inner + nd::NA_FRAME_LEN).max(end)) {
        return Drop(R::NdIgnored);
    }
    let answered =
        nd::nd_proxy_in_place(&mut p.data_mut()[inner..], end - inner, t.router_mac, |a| {
            serves_v6(t, vrf, a)
        });
    let Some(n) = answered else {
        p.set_len(end);
        return Drop(R::NdIgnored);
    };
    vxlan_reply(t, p, inner, n);
    cx.core.stats.event(Event::NdReplied);
    Tx(FABRIC)
}

/// Turns a received VXLAN packet whose inner frame (at `inner`) was rewritten into an answer
/// of `inner_len` bytes into a VXLAN packet back to its sender: outer addresses swapped,
/// lengths and the outer header checksum redone, same VNI.
fn vxlan_reply<P: Packet>(t: &Tables, p: &mut P, inner: usize, inner_len: usize) {
    p.set_len(inner + inner_len);
    let d = p.data_mut();
    let peer_mac: MacAddr = d[6..12].try_into().unwrap_or_default();
    let peer_ip = ipv4::Packet::new_unchecked(&d[ETH..]).src_addr();
    let sport = be16(d, ETH + ipv4::HEADER_LEN);
    let total = (d.len() - ETH) as u16;
    d[0..6].copy_from_slice(&peer_mac);
    d[6..12].copy_from_slice(&t.fabric.mac);
    ipv4::emit_header(
        &mut d[ETH..ETH + ipv4::HEADER_LEN],
        0,
        total,
        0,
        true,
        64,
        ipv4::PROTO_UDP,
        t.fabric.ip,
        peer_ip,
    );
    let mut u = udp::Packet::new_unchecked(&mut d[ETH + ipv4::HEADER_LEN..]);
    u.set_src_port(sport);
    u.set_dst_port(vxlan::PORT);
    u.set_len(total - ipv4::HEADER_LEN as u16);
    u.set_checksum(0);
}

/// ICMP to the underlay address: echo requests are answered; "fragmentation needed" about a
/// tunnel packet teaches the endpoint's path MTU and is relayed to the inner sender.
fn underlay_icmp<P: Packet>(cx: &mut Cx<'_, P>, p: &mut P, end: usize) -> Verdict {
    let l4 = ETH + ipv4::HEADER_LEN;
    let (ty, code, mtu) = match icmpv4::Packet::new_checked(&p.data()[l4..end]) {
        Ok(i) => (i.msg_type(), i.msg_code(), i.next_hop_mtu()),
        Err(_) => return Drop(R::ReceiveUnsupported),
    };
    match (ty, code) {
        (icmpv4::TYPE_ECHO_REQUEST, 0) => {}
        (icmpv4::TYPE_DEST_UNREACHABLE, icmpv4::CODE_FRAG_NEEDED) => {
            return fabric_frag_needed(cx, p, l4 + icmpv4::HEADER_LEN, end, mtu)
        }
        _ => return Drop(R::ReceiveUnsupported),
    }
    let d = p.data_mut();
    let (dst, src): (MacAddr, MacAddr) = (
        d[6..12].try_into().unwrap_or_default(),
        d[0..6].try_into().unwrap_or_default(),
    );
    d[0..6].copy_from_slice(&dst);
    d[6..12].copy_from_slice(&src);
    echo_reply_in_place(&mut d[ETH..end]);
    cx.core.stats.event(Event::IcmpEchoReplied);
    Tx(FABRIC)
}

/// An ICMP "fragmentation needed" whose quote (at `q..end`) should be one of our tunnel
/// packets: learn the endpoint's path MTU, and relay an inner error to the inner sender when
/// the quote reaches the inner IP header.
#[cold]
fn fabric_frag_needed<P: Packet>(
    cx: &mut Cx<'_, P>,
    p: &mut P,
    q: usize,
    end: usize,
    mtu: u16,
) -> Verdict {
    let t = cx.t;
    let d = p.data();
    let Ok(outer) = ipv4::Packet::new_checked(&d[q..end]).or_else(|_| {
        // The quote is cut short by design (RFC 792: header + 8 bytes): accept a header whose
        // total length exceeds what was quoted.
        let h = d
            .get(q..end)
            .filter(|h| h.len() >= ipv4::HEADER_LEN && h[0] == 0x45);
        h.map(ipv4::Packet::new_unchecked)
            .ok_or(WireError::Truncated)
    }) else {
        return Drop(R::IcmpFromFabric);
    };
    if outer.src_addr() != t.fabric.ip {
        return Drop(R::IcmpFromFabric);
    }
    let endpoint = outer.dst_addr();
    let proto = outer.protocol();
    let oh = outer.header_len();
    let learned = t.pmtu.learn(endpoint, mtu, t.fabric_mtu(), cx.core.now_s);
    if learned.is_some() {
        cx.core.stats.event(Event::PmtuLearned);
    }
    let in_force = learned.unwrap_or(mtu.max(crate::tables::pmtu::PMTU_MIN));
    // Find the inner packet in the quote: VXLAN, MPLSoUDP or MPLSoGRE.
    let l4 = q + oh;
    let (encap, vrf, inner_ip) = match proto {
        ipv4::PROTO_UDP if end >= l4 + udp::HEADER_LEN => {
            let u = udp::Packet::new_unchecked(&d[l4..]);
            let h = l4 + udp::HEADER_LEN;
            match t.udp_decap(u.dst_port()) {
                Some(UdpDecap::Vxlan) if end >= h + vxlan::HEADER_LEN + ETH => {
                    let vni = vxlan::Packet::new_unchecked(&d[h..]).vni();
                    let Some(&vrf) = t.vni_to_vrf.get(&vni) else {
                        return Drop(R::IcmpFromFabric);
                    };
                    (Encap::Vxlan, vrf, h + vxlan::HEADER_LEN + ETH)
                }
                Some(UdpDecap::MplsUdp) if end >= h + mpls::HEADER_LEN => {
                    let label = mpls::Packet::new_unchecked(&d[h..]).label();
                    match quoted_label_vrf(t, label) {
                        Some(vrf) => (Encap::MplsUdp, vrf, h + mpls::HEADER_LEN),
                        None => return Drop(R::IcmpFromFabric),
                    }
                }
                _ => return Drop(R::IcmpFromFabric),
            }
        }
        ipv4::PROTO_GRE if end >= l4 + gre::HEADER_LEN + mpls::HEADER_LEN => {
            let label = mpls::Packet::new_unchecked(&d[l4 + gre::HEADER_LEN..]).label();
            match quoted_label_vrf(t, label) {
                Some(vrf) => (Encap::MplsGre, vrf, l4 + gre::HEADER_LEN + mpls::HEADER_LEN),
                None => return Drop(R::IcmpFromFabric),
            }
        }
        _ => return Drop(R::IcmpFromFabric),
    };
    // The inner packet must be IPv4 with at least its header quoted.
    if end < inner_ip + ipv4::HEADER_LEN || d[inner_ip] >> 4 != 4 {
        return Drop(R::IcmpFromFabric);
    }
    let inner_mtu = inner_limit(encap, in_force);
    // Make the quoted inner packet the packet: it is what the error is about.
    if !p.adj(inner_ip - ETH) || !p.set_len(end - inner_ip + ETH) {
        return Drop(R::IcmpFromFabric);
    }
    p.data_mut()[12..14].copy_from_slice(&ethernet::ETHERTYPE_IPV4.to_be_bytes());
    let ing = Ingress {
        port: FABRIC,
        tunnel_limit: 0,
    };
    icmp_error(cx, vrf, p, ing, 0, IcmpError::Relayed(inner_mtu))
}

/// The VRF behind an MPLS label we pushed (the remote's label, not one of ours).
fn quoted_label_vrf(t: &Tables, label: u32) -> Option<u16> {
    t.pushed_labels.get(&label).copied()
}

/// Turns the ICMP echo request at `ip` (an IPv4 packet, header checksum valid) into its reply.
fn echo_reply_in_place(ip: &mut [u8]) {
    let mut h = ipv4::Packet::new_unchecked(&mut *ip);
    let (src, dst) = (h.src_addr(), h.dst_addr());
    let hl = h.header_len();
    h.set_src_addr(dst);
    h.set_dst_addr(src);
    h.set_ttl(64);
    h.fill_checksum();
    let mut i = icmpv4::Packet::new_unchecked(&mut ip[hl..]);
    let c = checksum::update16(
        i.checksum(),
        u16::from(icmpv4::TYPE_ECHO_REQUEST) << 8,
        u16::from(icmpv4::TYPE_ECHO_REPLY) << 8,
    );
    i.set_msg_type(icmpv4::TYPE_ECHO_REPLY);
    i.set_checksum(c);
}

// ---------------------------------------------------------------------------------------
// From a vif.

fn from_vif<P: Packet>(cx: &mut Cx<'_, P>, port: PortIdx, p: &mut P) -> Verdict {
    let t = cx.t;
    let Some(PortKind::Vif {
        vrf,
        vm_ipv4,
        vm_ipv6,
        ..
    }) = t.ports.get(usize::from(port)).map(|p| &p.kind)
    else {
        return Drop(R::UnknownPort);
    };
    if p.gso_size().is_some() {
        return Drop(R::GsoUnsupported);
    }
    if p.l4_csum_partial() {
        complete_l4_checksum(p.data_mut());
        p.clear_rx_offload();
        cx.core.stats.event(Event::CsumCompleted);
    }
    let (dst, ethertype) = match ethernet::Packet::new_checked(p.data()) {
        Ok(eth) if eth.has_vlan() => return Drop(R::VlanUnsupported),
        Ok(eth) => (eth.dst_addr(), eth.ethertype()),
        Err(_) => return Drop(R::L2Truncated),
    };
    match ethertype {
        ethernet::ETHERTYPE_ARP => vif_arp(cx, port, *vrf, vm_ipv4, p),
        ethernet::ETHERTYPE_IPV6 if nd::is_ndp(p.data()) => vif_nd(cx, port, *vrf, vm_ipv6, p),
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => {
            if dst != t.router_mac {
                return Drop(R::L2OtherHost);
            }
            let ing = Ingress {
                port,
                tunnel_limit: 0,
            };
            let v = route_frame(cx, *vrf, p, None, ing, 0);
            if matches!(v, Tx(out) if out != FABRIC && out != port) {
                cx.core.stats.event(Event::LocalDelivery);
            }
            v
        }
        _ => Drop(R::EthertypeUnsupported),
    }
}

/// Completes a partial (virtio NEEDS_CSUM) TCP/UDP checksum: the field holds the
/// pseudo-header sum, so the one's-complement sum over the segment, complemented, is the
/// checksum.
#[cold]
fn complete_l4_checksum(frame: &mut [u8]) {
    if frame.len() < ETH {
        return;
    }
    let (l4, end, proto) = match be16(frame, 12) {
        ethernet::ETHERTYPE_IPV4 => match ipv4::Packet::new_checked(&frame[ETH..]) {
            Ok(ip) if !ip.is_fragment() => (
                ETH + ip.header_len(),
                ETH + usize::from(ip.total_len()),
                ip.protocol(),
            ),
            _ => return,
        },
        ethernet::ETHERTYPE_IPV6 => match ipv6::Packet::new_checked(&frame[ETH..]) {
            Ok(ip) => (
                ETH + ipv6::HEADER_LEN,
                ETH + ipv6::HEADER_LEN + usize::from(ip.payload_len()),
                ip.next_header(),
            ),
            _ => return,
        },
        _ => return,
    };
    let field = match proto {
        ipv4::PROTO_TCP => 16,
        ipv4::PROTO_UDP => 6,
        _ => return,
    };
    if end < l4 + field + 2 {
        return;
    }
    let mut c = checksum::fold(checksum::sum(&frame[l4..end]));
    if proto == ipv4::PROTO_UDP && c == 0 {
        c = 0xFFFF;
    }
    frame[l4 + field..l4 + field + 2].copy_from_slice(&c.to_be_bytes());
}

/// `true` when `addr` is routable (to anything but a discard nexthop) in `vrf`.
fn routable_v4(t: &Tables, vrf: u16, addr: Ipv4Addr) -> bool {
    t.lookup4(vrf, u32::from(addr))
        .and_then(|nh| t.nexthop(nh))
        .is_some_and(|nh| !matches!(nh, Nexthop::Discard))
}

fn routable_v6(t: &Tables, vrf: u16, addr: &Ipv6Addr) -> bool {
    t.vrf(vrf)
        .and_then(|v| v.fib6.lookup(u128::from(*addr)))
        .and_then(|nh| t.nexthop(nh))
        .is_some_and(|nh| !matches!(nh, Nexthop::Discard))
}

/// Proxy ARP: a VM's request for any address routable in its VRF gets the router MAC.
fn vif_arp<P: Packet>(
    cx: &mut Cx<'_, P>,
    port: PortIdx,
    vrf: u16,
    vm_ipv4: &[Ipv4Addr],
    p: &mut P,
) -> Verdict {
    let t = cx.t;
    let (op, tpa) = match arp::Packet::new_checked(&p.data()[ETH..]) {
        Ok(a) => (a.operation(), a.target_proto_addr()),
        Err(_) => return Drop(R::ArpMalformed),
    };
    if op != arp::OP_REQUEST
        || tpa.is_unspecified()
        || vm_ipv4.contains(&tpa)
        || !routable_v4(t, vrf, tpa)
    {
        return Drop(R::ArpIgnored);
    }
    arp_reply_in_place(p.data_mut(), t.router_mac);
    cx.core.stats.event(Event::ArpReplied);
    Tx(port)
}

/// ND proxy: a VM's solicitation for any address routable in its VRF gets the router MAC.
fn vif_nd<P: Packet>(
    cx: &mut Cx<'_, P>,
    port: PortIdx,
    vrf: u16,
    vm_ipv6: &[Ipv6Addr],
    p: &mut P,
) -> Verdict {
    let t = cx.t;
    let len = p.len();
    if !p.set_len(len.max(nd::NA_FRAME_LEN)) {
        return Drop(R::NdIgnored);
    }
    let answered = nd::nd_proxy_in_place(p.data_mut(), len, t.router_mac, |a| {
        !vm_ipv6.contains(a) && routable_v6(t, vrf, a)
    });
    match answered {
        Some(n) => {
            p.set_len(n);
            cx.core.stats.event(Event::NdReplied);
            Tx(port)
        }
        None => Drop(R::NdIgnored),
    }
}

// ---------------------------------------------------------------------------------------
// Routing.

/// Routes the Ethernet frame `p` (IPv4 or IPv6) in `vrf`, or sends it to `label_nh` when an
/// MPLS label already chose. `depth` > 0 marks a packet the router generated itself, which
/// must not trigger another ICMP answer.
fn route_frame<P: Packet>(
    cx: &mut Cx<'_, P>,
    vrf: u16,
    p: &mut P,
    label_nh: Option<NhIdx>,
    ing: Ingress,
    depth: u8,
) -> Verdict {
    let d = p.data();
    if d.len() < ETH {
        return Drop(R::L2Truncated);
    }
    match be16(d, 12) {
        ethernet::ETHERTYPE_IPV4 => route_v4(cx, vrf, p, label_nh, ing, depth),
        ethernet::ETHERTYPE_IPV6 => route_v6(cx, vrf, p, label_nh, ing, depth),
        _ => Drop(R::EthertypeUnsupported),
    }
}

/// The MSS limit for a SYN between vif `vif` and a tunnel carrying at most `tunnel_limit`
/// bytes of inner IP, or `None` when the vif does not clamp.
#[inline]
fn mss_limit(t: &Tables, vif: PortIdx, tunnel_limit: u16, ip_and_tcp: u16) -> Option<u16> {
    let port = t.ports.get(usize::from(vif))?;
    if !port.mss_clamp || !matches!(port.kind, PortKind::Vif { .. }) {
        return None;
    }
    Some(tunnel_limit.min(port.mtu).saturating_sub(ip_and_tcp))
}

fn route_v4<P: Packet>(
    cx: &mut Cx<'_, P>,
    vrf_id: u16,
    p: &mut P,
    label_nh: Option<NhIdx>,
    ing: Ingress,
    depth: u8,
) -> Verdict {
    let t = cx.t;
    let d = p.data();
    let ip = match ipv4::Packet::new_checked(&d[ETH..]) {
        Ok(ip) => ip,
        Err(e) => return ip_err(e),
    };
    if !ip.verify_checksum() {
        return Drop(R::IpBadChecksum);
    }
    let total = ip.total_len();
    let ttl = ip.ttl();
    let df = ip.dont_frag();
    let dst = ip.dst_addr();
    let found = label_nh.or_else(|| t.lookup4(vrf_id, u32::from(dst)));
    let nh = match resolve(cx, vrf_id, found, ing, dst.into(), || {
        flow_hash_v4(&d[ETH..])
    }) {
        Ok(nh) => nh,
        Err(v) => return v,
    };
    // Drop Ethernet padding: lengths below come from the IP header.
    p.set_len(ETH + usize::from(total));
    match nh {
        Nexthop::Discard => Drop(R::DiscardRoute),
        Nexthop::Unused | Nexthop::Ecmp(_) => Drop(R::NoRoute),
        Nexthop::Receive => receive_v4(cx, vrf_id, p, depth),
        Nexthop::Interface { port, dst_mac } => {
            let Some(out) = t.ports.get(usize::from(*port)) else {
                return Drop(R::NoRoute);
            };
            if ttl <= 1 {
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TimeExceeded);
            }
            if total > out.mtu && df {
                let mtu = out.mtu;
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TooBig(mtu));
            }
            let d = p.data_mut();
            // Packets the router made itself leave with their TTL as made (64).
            if ing.port != GENERATED {
                ipv4::Packet::new_unchecked(&mut d[ETH..]).decrement_ttl();
            }
            // Only TCP carries an MSS (and the clamp re-validates headers: skip the rest).
            if ing.tunnel_limit != 0 && d[ETH + 9] == ipv4::PROTO_TCP {
                if let Some(m) = mss_limit(t, *port, ing.tunnel_limit, 40) {
                    if mss::clamp_mss_v4(&mut d[ETH..], m) {
                        cx.core.stats.event(Event::MssClamped);
                    }
                }
            }
            d[0..6].copy_from_slice(dst_mac);
            d[6..12].copy_from_slice(&t.router_mac);
            if total > out.mtu {
                return fragment_v4(cx, p, ETH, out.mtu, Tx(*port));
            }
            Tx(*port)
        }
        Nexthop::Tunnel(tun) => {
            if ttl <= 1 {
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TimeExceeded);
            }
            let path = path_mtu(cx, tun);
            let limit = inner_limit(tun.encap, path);
            if total > limit && df {
                let mtu = limit;
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TooBig(mtu));
            }
            let Some(nmac) = t.neighbors.mac(tun.neighbor) else {
                return arp_miss(cx, p, tun.neighbor, vrf_id, ing.port);
            };
            let d = p.data_mut();
            let mut ip = ipv4::Packet::new_unchecked(&mut d[ETH..]);
            let hop_ttl = if ing.port == GENERATED { ttl } else { ttl - 1 };
            if ing.port != GENERATED {
                ip.decrement_ttl();
            }
            let tos = ip.tos();
            let tcp = d[ETH + 9] == ipv4::PROTO_TCP;
            if let Some(m) = mss_limit(t, ing.port, limit, 40).filter(|_| tcp) {
                if mss::clamp_mss_v4(&mut d[ETH..], m) {
                    cx.core.stats.event(Event::MssClamped);
                }
            }
            let hash = flow_hash_v4(&d[ETH..]);
            let e = EncapArgs {
                tun,
                nmac,
                tos,
                ttl: hop_ttl,
                hash,
                df: true,
            };
            if total <= limit {
                return encap(cx.core, t, p, &e);
            }
            if t.frag_outer {
                let v = encap(cx.core, t, p, &EncapArgs { df: false, ..e });
                return if v == Tx(FABRIC) {
                    fragment_v4(cx, p, ETH, path, v)
                } else {
                    v
                };
            }
            // Inner fragmentation: fragment, then encapsulate every fragment on its own.
            let first = cx.extra.len();
            let v = fragment_v4(cx, p, ETH, limit, Tx(FABRIC));
            if v != Tx(FABRIC) {
                return v;
            }
            for (q, qv) in cx.extra.pkts[first..].iter_mut() {
                *qv = encap(cx.core, t, q, &e);
            }
            encap(cx.core, t, p, &e)
        }
    }
}

fn route_v6<P: Packet>(
    cx: &mut Cx<'_, P>,
    vrf_id: u16,
    p: &mut P,
    label_nh: Option<NhIdx>,
    ing: Ingress,
    depth: u8,
) -> Verdict {
    let t = cx.t;
    let d = p.data();
    let ip = match ipv6::Packet::new_checked(&d[ETH..]) {
        Ok(ip) => ip,
        Err(e) => return ip_err(e),
    };
    let total = ipv6::HEADER_LEN + usize::from(ip.payload_len());
    let hop = ip.hop_limit();
    let dst = ip.dst_addr();
    let found = label_nh.or_else(|| t.vrf(vrf_id)?.fib6.lookup(u128::from(dst)));
    let nh = match resolve(cx, vrf_id, found, ing, dst.into(), || {
        flow_hash_v6(&d[ETH..])
    }) {
        Ok(nh) => nh,
        Err(v) => return v,
    };
    p.set_len(ETH + total);
    match nh {
        Nexthop::Discard => Drop(R::DiscardRoute),
        Nexthop::Unused | Nexthop::Ecmp(_) => Drop(R::NoRoute),
        Nexthop::Receive => Drop(R::ReceiveUnsupported),
        Nexthop::Interface { port, dst_mac } => {
            let Some(out) = t.ports.get(usize::from(*port)) else {
                return Drop(R::NoRoute);
            };
            if hop <= 1 {
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TimeExceeded);
            }
            if total > usize::from(out.mtu) {
                let mtu = out.mtu;
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TooBig(mtu));
            }
            let d = p.data_mut();
            if ing.port != GENERATED {
                ipv6::Packet::new_unchecked(&mut d[ETH..]).set_hop_limit(hop - 1);
            }
            if ing.tunnel_limit != 0 && d[ETH + 6] == ipv4::PROTO_TCP {
                if let Some(m) = mss_limit(t, *port, ing.tunnel_limit, 60) {
                    if mss::clamp_mss_v6(&mut d[ETH..], m) {
                        cx.core.stats.event(Event::MssClamped);
                    }
                }
            }
            d[0..6].copy_from_slice(dst_mac);
            d[6..12].copy_from_slice(&t.router_mac);
            Tx(*port)
        }
        Nexthop::Tunnel(tun) => {
            if hop <= 1 {
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TimeExceeded);
            }
            let limit = inner_limit(tun.encap, path_mtu(cx, tun));
            if total > usize::from(limit) {
                let mtu = limit;
                return icmp_error(cx, vrf_id, p, ing, depth, IcmpError::TooBig(mtu));
            }
            let Some(nmac) = t.neighbors.mac(tun.neighbor) else {
                return arp_miss(cx, p, tun.neighbor, vrf_id, ing.port);
            };
            let d = p.data_mut();
            let mut ip = ipv6::Packet::new_unchecked(&mut d[ETH..]);
            let hop = if ing.port == GENERATED { hop } else { hop - 1 };
            ip.set_hop_limit(hop);
            let tos = ip.traffic_class();
            let tcp = d[ETH + 6] == ipv4::PROTO_TCP;
            if let Some(m) = mss_limit(t, ing.port, limit, 60).filter(|_| tcp) {
                if mss::clamp_mss_v6(&mut d[ETH..], m) {
                    cx.core.stats.event(Event::MssClamped);
                }
            }
            let hash = flow_hash_v6(&d[ETH..]);
            encap(
                cx.core,
                t,
                p,
                &EncapArgs {
                    tun,
                    nmac,
                    tos,
                    ttl: hop,
                    hash,
                    df: true,
                },
            )
        }
    }
}

/// The nexthop a packet goes to, given what the label or the FIB found: a miss on a packet
/// from a vif is notified (rate-limited), and an ECMP group resolves to one member by the
/// flow's hash.
#[inline]
fn resolve<'t, P>(
    cx: &mut Cx<'t, P>,
    vrf: u16,
    found: Option<NhIdx>,
    ing: Ingress,
    dst: std::net::IpAddr,
    hash: impl FnOnce() -> u32,
) -> Result<&'t Nexthop, Verdict> {
    let t = cx.t;
    let Some(idx) = found else {
        if ing.port != FABRIC && ing.port != GENERATED {
            cx.core.miss(Miss {
                no_route: true,
                vrf,
                port: ing.port,
                addr: dst,
            });
        }
        return Err(Drop(R::NoRoute));
    };
    match t.nexthop(idx) {
        Some(Nexthop::Ecmp(members)) => ecmp_member(t, members, hash()).ok_or(Drop(R::NoRoute)),
        Some(nh) => Ok(nh),
        None => Err(Drop(R::NoRoute)),
    }
}

/// The ECMP member for a flow: one per flow (the same hash that picks the tunnel's UDP source
/// port), evenly over the members.
#[inline]
fn ecmp_member<'t>(t: &'t Tables, members: &[NhIdx], hash: u32) -> Option<&'t Nexthop> {
    if members.is_empty() {
        return None;
    }
    // Multiply-shift instead of a modulo: no division on the hot path.
    let i = ((u64::from(hash) * members.len() as u64) >> 32) as usize;
    t.nexthop(members[i])
}

/// The path MTU toward a tunnel's endpoint: the fabric MTU, or lower when learned.
#[inline]
fn path_mtu<P>(cx: &Cx<'_, P>, tun: &Tunnel) -> u16 {
    path_mtu_of(cx.t, cx.core, tun)
}

#[inline(always)]
fn path_mtu_of(t: &Tables, core: &CoreCtx, tun: &Tunnel) -> u16 {
    let fab = t.fabric_mtu();
    match t.pmtu.get(tun.endpoint, core.now_s) {
        Some(m) => m.min(fab),
        None => fab,
    }
}

/// An IPv4 packet for a receive nexthop: echo requests are answered (and the answer routed).
fn receive_v4<P: Packet>(cx: &mut Cx<'_, P>, vrf: u16, p: &mut P, depth: u8) -> Verdict {
    let d = p.data();
    let ip = ipv4::Packet::new_unchecked(&d[ETH..]);
    let is_echo = depth == 0
        && ip.protocol() == ipv4::PROTO_ICMP
        && !ip.is_fragment()
        && icmpv4::Packet::new_checked(ip.payload())
            .is_ok_and(|i| i.msg_type() == icmpv4::TYPE_ECHO_REQUEST && i.msg_code() == 0);
    if !is_echo {
        return Drop(R::ReceiveUnsupported);
    }
    echo_reply_in_place(&mut p.data_mut()[ETH..]);
    cx.core.stats.event(Event::IcmpEchoReplied);
    route_frame(cx, vrf, p, None, FROM_ROUTER, depth + 1)
}

/// The ICMP errors the router sends; each says why the packet that caused it was dropped.
#[derive(Clone, Copy, Debug)]
enum IcmpError {
    /// TTL / hop limit expired: ICMP time exceeded (ICMPv6 type 3).
    TimeExceeded,
    /// Too big for the next hop: ICMP frag-needed with this MTU (ICMPv6 packet too big).
    TooBig(u16),
    /// A frag-needed from the fabric about one of our tunnel packets, passed on to the inner
    /// sender (IPv4) with this MTU.
    Relayed(u16),
}

impl IcmpError {
    fn reason(self) -> DropReason {
        match self {
            IcmpError::TimeExceeded => R::TtlExpired,
            IcmpError::TooBig(_) => R::FragNeeded,
            IcmpError::Relayed(_) => R::IcmpFromFabric,
        }
    }
}

/// Answers the packet `p` (IPv4 or IPv6, by its EtherType) with an ICMP/ICMPv6 error,
/// rate-limited per ingress port and routed back to its source. The packet itself counts as a
/// drop under the error's reason, whether or not the answer could be sent.
#[cold]
fn icmp_error<P: Packet>(
    cx: &mut Cx<'_, P>,
    vrf_id: u16,
    p: &mut P,
    ing: Ingress,
    depth: u8,
    kind: IcmpError,
) -> Verdict {
    let reason = kind.reason();
    if depth > 0 || ing.port == GENERATED {
        return Drop(reason);
    }
    if !cx.core.icmp_allow(ing.port, cx.t.icmp_rate) {
        cx.core.stats.event(Event::IcmpRateLimited);
        return Drop(reason);
    }
    let Some(vrf) = cx.t.vrf(vrf_id) else {
        return Drop(reason);
    };
    let v6 = be16(p.data(), 12) == ethernet::ETHERTYPE_IPV6;
    let orig_len = p.len() - ETH;
    let err_len = if v6 {
        icmp::icmpv6_error_len(orig_len)
    } else {
        icmp::icmpv4_error_len(orig_len)
    };
    if !p.set_len(ETH + orig_len.max(err_len)) {
        return Drop(reason);
    }
    let buf = &mut p.data_mut()[ETH..];
    let (n, event) = match (v6, kind) {
        (false, IcmpError::TimeExceeded) => (
            icmp::icmpv4_error_in_place(
                buf,
                orig_len,
                vrf.router_ip,
                icmpv4::TYPE_TIME_EXCEEDED,
                0,
                0,
            ),
            None,
        ),
        (false, IcmpError::TooBig(mtu) | IcmpError::Relayed(mtu)) => {
            let (ty, code) = (icmpv4::TYPE_DEST_UNREACHABLE, icmpv4::CODE_FRAG_NEEDED);
            let event = match kind {
                IcmpError::Relayed(_) => Event::IcmpRelayed,
                _ => Event::IcmpFragNeededSent,
            };
            (
                icmp::icmpv4_error_in_place(buf, orig_len, vrf.router_ip, ty, code, u32::from(mtu)),
                Some(event),
            )
        }
        (true, IcmpError::TimeExceeded) => (
            icmp::icmpv6_error_in_place(
                buf,
                orig_len,
                &vrf.router_ip6,
                icmpv6::TYPE_TIME_EXCEEDED,
                0,
                0,
            ),
            Some(Event::Icmp6TimeExceededSent),
        ),
        (true, IcmpError::TooBig(mtu) | IcmpError::Relayed(mtu)) => (
            icmp::icmpv6_error_in_place(
                buf,
                orig_len,
                &vrf.router_ip6,
                icmpv6::TYPE_PACKET_TOO_BIG,
                0,
                u32::from(mtu),
            ),
            Some(Event::Icmp6PtbSent),
        ),
    };
    if n == 0 || !p.set_len(ETH + n) {
        return Drop(reason);
    }
    cx.core.stats.count_drop(reason);
    cx.core.stats.event(Event::IcmpErrorSent);
    if let Some(e) = event {
        cx.core.stats.event(e);
    }
    route_frame(cx, vrf_id, p, None, FROM_ROUTER, depth + 1)
}

/// Fragments the IPv4 packet at `l3` in `p` (everything before it, the link header, is copied
/// to every fragment) so each is at most `mtu` bytes of IP (RFC 791): `p` becomes the first
/// fragment, the others go to `extra` with `verdict`. Returns `verdict`, or a drop when it
/// cannot (options, no buffer, too many fragments).
#[cold]
fn fragment_v4<P: Packet>(
    cx: &mut Cx<'_, P>,
    p: &mut P,
    l3: usize,
    mtu: u16,
    verdict: Verdict,
) -> Verdict {
    let d = p.data();
    let Ok(ip) = ipv4::Packet::new_checked(&d[l3..]) else {
        return Drop(R::FragFailed);
    };
    let h = ip.header_len();
    if h != ipv4::HEADER_LEN {
        return Drop(R::FragFailed);
    }
    let payload = usize::from(ip.total_len()) - h;
    let chunk = (usize::from(mtu).saturating_sub(h)) / 8 * 8;
    if chunk == 0 || payload <= chunk {
        return Drop(R::FragFailed);
    }
    let n = payload.div_ceil(chunk);
    if n - 1 > cx.extra.room() {
        return Drop(R::FragFailed);
    }
    let (orig_off, orig_mf) = (usize::from(ip.frag_offset()), ip.more_frags());
    let first = cx.extra.len();
    for k in 1..n {
        let len = chunk.min(payload - k * chunk);
        let Some(mut q) = p.alloc_sibling() else {
            cx.extra.pkts.truncate(first);
            return Drop(R::FragFailed);
        };
        if !q.set_len(l3 + h + len) {
            cx.extra.pkts.truncate(first);
            return Drop(R::FragFailed);
        }
        let qd = q.data_mut();
        qd[..l3 + h].copy_from_slice(&d[..l3 + h]);
        qd[l3 + h..].copy_from_slice(&d[l3 + h + k * chunk..l3 + h + k * chunk + len]);
        let mut qi = ipv4::Packet::new_unchecked(&mut qd[l3..]);
        qi.set_total_len((h + len) as u16);
        qi.set_flags_frag(false, k < n - 1 || orig_mf, (orig_off + k * chunk) as u16);
        qi.fill_checksum();
        cx.extra.pkts.push((q, verdict));
    }
    p.set_len(l3 + h + chunk);
    let mut pi = ipv4::Packet::new_unchecked(&mut p.data_mut()[l3..]);
    pi.set_total_len((h + chunk) as u16);
    pi.set_flags_frag(false, true, orig_off as u16);
    pi.fill_checksum();
    cx.core.stats.event(Event::Fragmented);
    cx.core.stats.events[Event::FragmentsSent as usize].add(n as u64);
    verdict
}

// ---------------------------------------------------------------------------------------
// Encapsulation.

/// UDP source port for a flow: 49152 + (hash mod 16384), the range RFC 7348/7510 suggest.
#[inline(always)]
pub fn entropy_port(hash: u32) -> u16 {
    0xC000 | (hash as u16 & 0x3FFF)
}

#[inline(always)]
fn mix(a: u64, b: u64) -> u32 {
    // murmur3's 64-bit finaliser: every input bit reaches the low bits the port uses.
    let mut h = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b;
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^= h >> 33;
    h as u32
}

/// Hash of an IPv4 packet's 5-tuple (addresses and protocol only for fragments and
/// protocols without ports).
#[inline]
pub fn flow_hash_v4(ip: &[u8]) -> u32 {
    if ip.len() < ipv4::HEADER_LEN {
        return 0;
    }
    let addrs = u64::from_be_bytes(ip[12..20].try_into().unwrap_or_default());
    let proto = ip[9];
    let hl = usize::from(ip[0] & 0x0F) * 4;
    let frag = be16(ip, 6) & 0x3FFF != 0;
    let ports =
        if !frag && (proto == ipv4::PROTO_TCP || proto == ipv4::PROTO_UDP) && ip.len() >= hl + 4 {
            u32::from_be_bytes(ip[hl..hl + 4].try_into().unwrap_or_default())
        } else {
            0
        };
    mix(addrs, (u64::from(proto) << 32) | u64::from(ports))
}

/// [`flow_hash_v4`] of the IPv4 packet of `total` bytes at `at` in `d`, whose header has no
/// options and whose first `N` bytes hold at least the header (`at + 20 <= N`): the same
/// value, with the header length known.
#[inline(always)]
fn flow_hash_v4_at<const N: usize>(d: &[u8], at: usize, total: usize) -> u32 {
    let Some(h) = d.first_chunk::<N>() else {
        return 0;
    };
    let addrs = u64::from_be_bytes([
        h[at + 12],
        h[at + 13],
        h[at + 14],
        h[at + 15],
        h[at + 16],
        h[at + 17],
        h[at + 18],
        h[at + 19],
    ]);
    let proto = h[at + 9];
    let frag = (h[at + 6] & 0x3F) | h[at + 7] != 0;
    let ports = match d.get(at + 20..at + 24) {
        Some(&[a, b, c, e])
            if !frag && (proto == ipv4::PROTO_TCP || proto == ipv4::PROTO_UDP) && total >= 24 =>
        {
            u32::from_be_bytes([a, b, c, e])
        }
        _ => 0,
    };
    mix(addrs, (u64::from(proto) << 32) | u64::from(ports))
}

/// Hash of an IPv6 packet's addresses, next header and (for TCP/UDP) ports.
#[inline]
pub fn flow_hash_v6(ip: &[u8]) -> u32 {
    if ip.len() < ipv6::HEADER_LEN {
        return 0;
    }
    let mut acc = 0u64;
    for c in ip[8..40].chunks_exact(8) {
        acc = acc.rotate_left(13) ^ u64::from_be_bytes(c.try_into().unwrap_or_default());
    }
    let nh = ip[6];
    let ports = if (nh == 6 || nh == 17) && ip.len() >= ipv6::HEADER_LEN + 4 {
        u32::from_be_bytes(ip[40..44].try_into().unwrap_or_default())
    } else {
        0
    };
    mix(acc, (u64::from(nh) << 32) | u64::from(ports))
}

/// What [`encap`] needs besides the packet.
#[derive(Clone, Copy)]
struct EncapArgs<'a> {
    tun: &'a Tunnel,
    /// The underlay next hop's MAC.
    nmac: MacAddr,
    tos: u8,
    /// The inner TTL / hop limit after decrement (copied to the MPLS label).
    ttl: u8,
    hash: u32,
    /// Set DF on the outer header (clear only for outer fragmentation).
    df: bool,
}

/// Encapsulates the frame `p` (inner Ethernet + IP, TTL already decremented) toward `e.tun`.
/// The caller has checked it fits the path (or clears `df` to fragment the outer packet).
#[inline]
fn encap<P: Packet>(core: &mut CoreCtx, t: &Tables, p: &mut P, e: &EncapArgs<'_>) -> Verdict {
    let outer_len = p.len() - ETH + OuterHeader::push_len(e.tun.encap);
    if outer_len > usize::from(u16::MAX) || (e.df && outer_len > usize::from(t.fabric_mtu())) {
        return Drop(R::MtuExceeded);
    }
    let h = OuterHeader::new(t, e.tun, &e.nmac, e.df);
    if !h.write(p, e.tos, e.ttl, e.hash) {
        return Drop(R::NoHeadroom);
    }
    core.stats.event(match e.tun.encap {
        Encap::Vxlan => Event::VxlanEncap,
        Encap::MplsUdp => Event::MplsUdpEncap,
        Encap::MplsGre => Event::MplsGreEncap,
    });
    Tx(FABRIC)
}

/// A tunnel's outer headers with the per-packet fields left blank, built once per nexthop
/// (per burst on the fast path) and written in front of each packet, where the fields that
/// vary (TOS, lengths, checksum, source port, MPLS TTL) are patched in. The general
/// encapsulation and the fast path share it.
#[derive(Clone, Copy)]
pub(super) struct OuterHeader {
    encap: Encap,
    /// Outer Ethernet, IPv4 and UDP/GRE, then the VXLAN header and the inner frame's MACs
    /// (62 bytes), or the MPLS label stack entry (46 or 42 bytes).
    bytes: [u8; 62],
    /// The one's-complement sum of the outer IPv4 header's constant words.
    sum: u32,
}

impl OuterHeader {
    /// Bytes an encapsulation adds in front of the inner frame (VXLAN keeps the inner
    /// Ethernet header; MPLS carries the bare IP packet, and the inner Ethernet header's 14
    /// bytes become the outer one). Also the outer IPv4 length minus the inner IP length.
    #[inline(always)]
    pub(super) fn push_len(e: Encap) -> usize {
        match e {
            Encap::Vxlan => ETH + 36,
            Encap::MplsUdp => 32,
            Encap::MplsGre => 28,
        }
    }

    pub(super) fn encap(&self) -> Encap {
        self.encap
    }

    /// The headers toward `tun` through the underlay neighbour `nmac`, DF set when `df`.
    pub(super) fn new(t: &Tables, tun: &Tunnel, nmac: &MacAddr, df: bool) -> Self {
        let mut b = [0u8; 62];
        let proto = if tun.encap == Encap::MplsGre {
            ipv4::PROTO_GRE
        } else {
            ipv4::PROTO_UDP
        };
        let flags: u8 = if df { 0x40 } else { 0 };
        let (src, dst) = (t.fabric.ip.octets(), tun.dst.octets());
        b[0..6].copy_from_slice(nmac);
        b[6..12].copy_from_slice(&t.fabric.mac);
        b[12..14].copy_from_slice(&ethernet::ETHERTYPE_IPV4.to_be_bytes());
        b[14] = 0x45;
        b[20] = flags;
        b[22] = 64;
        b[23] = proto;
        b[26..30].copy_from_slice(&src);
        b[30..34].copy_from_slice(&dst);
        // TTL 0: patched per packet.
        let mpls_entry = ((tun.key & 0xF_FFFF) << 12 | 0x100).to_be_bytes();
        match tun.encap {
            Encap::Vxlan => {
                b[36..38].copy_from_slice(&vxlan::PORT.to_be_bytes());
                b[42] = vxlan::FLAG_I;
                b[46..50].copy_from_slice(&((tun.key & 0xFF_FFFF) << 8).to_be_bytes());
                b[50..56].copy_from_slice(&tun.inner_mac);
                b[56..62].copy_from_slice(&t.router_mac);
            }
            Encap::MplsUdp => {
                b[36..38].copy_from_slice(&mpls::PORT_MPLS_UDP.to_be_bytes());
                b[42..46].copy_from_slice(&mpls_entry);
            }
            Encap::MplsGre => {
                b[36..38].copy_from_slice(&gre::PROTO_MPLS.to_be_bytes());
                b[38..42].copy_from_slice(&mpls_entry);
            }
        }
        let w = |a: [u8; 4]| {
            u32::from(u16::from_be_bytes([a[0], a[1]]))
                + u32::from(u16::from_be_bytes([a[2], a[3]]))
        };
        let sum = 0x4500 + (u32::from(flags) << 8) + (64 << 8 | u32::from(proto)) + w(src) + w(dst);
        OuterHeader {
            encap: tun.encap,
            bytes: b,
            sum,
        }
    }

    /// Puts the headers in front of `p` (inner Ethernet + IP); `tos` and `ttl` are the inner
    /// packet's (TTL after decrement, for the MPLS label), `hash` its flow hash (the UDP
    /// source port). `false` when the headroom is too small (then `p` is unchanged).
    #[inline(always)]
    pub(super) fn write<P: Packet>(&self, p: &mut P, tos: u8, ttl: u8, hash: u32) -> bool {
        let push = Self::push_len(self.encap);
        let len = (p.len() - ETH + push) as u16;
        if !p.prepend(push) {
            return false;
        }
        let d = p.data_mut();
        // The frame holds at least its Ethernet header, so the headers fit.
        match self.encap {
            Encap::Vxlan => d
                .first_chunk_mut::<62>()
                .is_some_and(|d| self.patch::<62, 62>(d, tos, len, ttl, hash)),
            Encap::MplsUdp => d
                .first_chunk_mut::<46>()
                .is_some_and(|d| self.patch::<46, 46>(d, tos, len, ttl, hash)),
            Encap::MplsGre => d
                .first_chunk_mut::<42>()
                .is_some_and(|d| self.patch::<42, 42>(d, tos, len, ttl, hash)),
        }
    }

    /// The fast path's encapsulation of `p`, a frame whose IPv4 packet (no options, TTL > 1,
    /// `total` bytes, checked) follows its Ethernet header: trims it to that packet,
    /// decrements the TTL and puts the headers in front, in one pass over the first bytes.
    /// `false`, and no change, when the headroom is too small or `p` shorter than `total`.
    #[inline(always)]
    pub(super) fn push_front<P: Packet>(&self, p: &mut P, total: usize) -> bool {
        match self.encap {
            Encap::Vxlan => self.put::<P, 50, 62, 84>(p, total),
            Encap::MplsUdp => self.put::<P, 32, 46, 66>(p, total),
            Encap::MplsGre => self.put::<P, 28, 42, 62>(p, total),
        }
    }

    /// [`OuterHeader::push_front`] for `PUSH` bytes of headers, of which the template's first
    /// `H` are written; `MIN` = `PUSH` + the inner Ethernet and IPv4 headers.
    #[inline(always)]
    fn put<P: Packet, const PUSH: usize, const H: usize, const MIN: usize>(
        &self,
        p: &mut P,
        total: usize,
    ) -> bool {
        const { assert!(MIN == PUSH + ETH + 20 && H <= MIN) };
        if !p.reframe(PUSH, ETH + total) {
            return false;
        }
        let d = p.data_mut();
        let hash = flow_hash_v4_at::<MIN>(d, PUSH + ETH, total);
        // Never fails: the frame is now PUSH + ETH + total bytes, and total >= 20.
        if let Some(h) = d.first_chunk_mut::<MIN>() {
            let ip = PUSH + ETH;
            fast::decrement_ttl(h, ip);
            let (tos, ttl) = (h[ip + 1], h[ip + 8]);
            self.patch::<H, MIN>(h, tos, (PUSH + total) as u16, ttl, hash);
        }
        true
    }

    /// Writes the first `H` header bytes at the front of `d` and patches in the packet's
    /// fields: `len` is the outer IPv4 total length. Always `true`.
    #[inline(always)]
    fn patch<const H: usize, const N: usize>(
        &self,
        d: &mut [u8; N],
        tos: u8,
        len: u16,
        ttl: u8,
        hash: u32,
    ) -> bool {
        // Two folds suffice: the sum is below 0x70000.
        let s = self.sum + u32::from(tos) + u32::from(len);
        let s = (s & 0xFFFF) + (s >> 16);
        let csum = !((s & 0xFFFF) + (s >> 16)) as u16;
        if let (Some(d), Some(b)) = (d.first_chunk_mut::<H>(), self.bytes.first_chunk::<H>()) {
            *d = *b;
        }
        if let Some(d) = d.first_chunk_mut::<42>() {
            d[15] = tos;
            d[16..18].copy_from_slice(&len.to_be_bytes());
            d[24..26].copy_from_slice(&csum.to_be_bytes());
            if self.encap != Encap::MplsGre {
                d[34..36].copy_from_slice(&entropy_port(hash).to_be_bytes());
                d[38..40].copy_from_slice(&(len - 20).to_be_bytes());
            }
        }
        // The label stack entry's TTL byte.
        let at = match self.encap {
            Encap::Vxlan => return true,
            Encap::MplsUdp => 45,
            Encap::MplsGre => 41,
        };
        if let Some(b) = d.get_mut(at) {
            *b = ttl;
        }
        true
    }
}

/// The endpoint's MAC is unknown: the packet is dropped and, at most every 100 ms per
/// neighbour, its buffer becomes an ARP request for it.
#[cold]
fn arp_miss<P: Packet>(
    cx: &mut Cx<'_, P>,
    p: &mut P,
    neigh: u32,
    vrf: u16,
    port: PortIdx,
) -> Verdict {
    let t = cx.t;
    let Some(target) = t.neighbors.ip(neigh) else {
        return Drop(R::ArpUnresolved);
    };
    if port != FABRIC && port != GENERATED {
        let addr = std::net::IpAddr::V4(target);
        cx.core.miss(Miss {
            no_route: false,
            vrf,
            port,
            addr,
        });
    }
    if !cx.core.arp_allow(neigh) || !p.set_len(60) {
        return Drop(R::ArpUnresolved);
    }
    let d = p.data_mut();
    d.fill(0);
    d[0..6].copy_from_slice(&ethernet::BROADCAST);
    d[6..12].copy_from_slice(&t.fabric.mac);
    d[12..14].copy_from_slice(&ethernet::ETHERTYPE_ARP.to_be_bytes());
    arp::emit(
        &mut d[ETH..ETH + arp::LEN],
        arp::OP_REQUEST,
        t.fabric.mac,
        t.fabric.ip,
        [0; 6],
        target,
    );
    cx.core.stats.count_drop(R::ArpUnresolved);
    cx.core.stats.event(Event::ArpRequestSent);
    Tx(FABRIC)
}
