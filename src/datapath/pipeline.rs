//! The burst pipeline: classify → decap → route → rewrite/encap, and the exceptions the
//! router answers itself (ARP, ICMP echo, ICMP time exceeded).
//!
//! It runs on anything that implements [`Packet`]: mbufs in the router, byte buffers in tests
//! and benches. Nothing here allocates, locks, logs or makes a system call; every failure is
//! a [`Verdict::Drop`] with a named reason, counted by [`process_burst`].

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::packet::Packet;
use super::stats::{CoreStats, DropReason, Event};
use crate::tables::{Encap, Nexthop, NhIdx, PortIdx, PortKind, Tables, Tunnel, UdpDecap, FABRIC};
use crate::wire::{
    arp, checksum, ethernet, gre, icmpv4, ipv4, ipv6, mpls, udp, vxlan, Error as WireError, MacAddr,
};

const ETH: usize = ethernet::HEADER_LEN;

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

/// A worker's private pipeline state: its counters, clock and rate limiters.
pub struct CoreCtx {
    pub stats: Arc<CoreStats>,
    tsc_hz: u64,
    now: u64,
    icmp_tokens: u64,
    icmp_last: u64,
    /// Last ARP request sent per neighbour (TSC), for the 100 ms rate limit.
    arp_last: Box<[u64]>,
}

/// Most neighbours a worker rate-limits ARP requests for.
pub const MAX_NEIGHBORS: usize = 4096;

impl CoreCtx {
    /// A context with a clock of `tsc_hz` ticks per second.
    pub fn new(stats: Arc<CoreStats>, tsc_hz: u64) -> Self {
        CoreCtx {
            stats,
            tsc_hz: tsc_hz.max(1),
            now: 0,
            icmp_tokens: 0,
            icmp_last: 0,
            arp_last: vec![0; MAX_NEIGHBORS].into_boxed_slice(),
        }
    }

    /// Sets the clock for the next burst (TSC ticks, or any monotonic count at `tsc_hz`).
    #[inline]
    pub fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// Takes one ICMP-error token; `rate` tokens per second, bursts up to `rate`.
    #[cold]
    fn icmp_allow(&mut self, rate: u32) -> bool {
        let elapsed = self.now.saturating_sub(self.icmp_last);
        let add = (u128::from(elapsed) * u128::from(rate) / u128::from(self.tsc_hz)) as u64;
        if add > 0 {
            self.icmp_tokens = (self.icmp_tokens + add).min(u64::from(rate));
            self.icmp_last = self.now;
        }
        if self.icmp_tokens > 0 {
            self.icmp_tokens -= 1;
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

/// Runs the pipeline over a burst received on `in_port`, writing one verdict per packet and
/// counting drops. `verdicts` must be at least as long as `pkts`.
pub fn process_burst<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    in_port: PortIdx,
    pkts: &mut [P],
    verdicts: &mut [Verdict],
) {
    for (p, v) in pkts.iter_mut().zip(verdicts.iter_mut()) {
        *v = process(ctx, t, in_port, p);
        if let Drop(r) = *v {
            ctx.stats.count_drop(r);
        }
    }
}

/// The pipeline for one packet.
#[inline]
pub fn process<P: Packet>(ctx: &mut CoreCtx, t: &Tables, in_port: PortIdx, p: &mut P) -> Verdict {
    if !p.is_contiguous() {
        return Drop(R::MultiSegment);
    }
    if in_port == FABRIC {
        from_fabric(ctx, t, p)
    } else {
        from_vif(ctx, t, in_port, p)
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

// ---------------------------------------------------------------------------------------
// From the fabric.

fn from_fabric<P: Packet>(ctx: &mut CoreCtx, t: &Tables, p: &mut P) -> Verdict {
    let (dst, ethertype) = match ethernet::Packet::new_checked(p.data()) {
        Ok(eth) if eth.has_vlan() => return Drop(R::VlanUnsupported),
        Ok(eth) => (eth.dst_addr(), eth.ethertype()),
        Err(_) => return Drop(R::L2Truncated),
    };
    if dst != t.fabric.mac && dst != ethernet::BROADCAST {
        return Drop(R::L2OtherHost);
    }
    match ethertype {
        ethernet::ETHERTYPE_IPV4 => fabric_ipv4(ctx, t, p),
        ethernet::ETHERTYPE_ARP => fabric_arp(ctx, t, p),
        _ => Drop(R::EthertypeUnsupported),
    }
}

fn fabric_ipv4<P: Packet>(ctx: &mut CoreCtx, t: &Tables, p: &mut P) -> Verdict {
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
                Some(UdpDecap::Vxlan) => vxlan_decap(ctx, t, p, payload, l4 + ulen),
                Some(UdpDecap::MplsUdp) => {
                    mpls_decap(ctx, t, p, payload, l4 + ulen, Event::MplsUdpDecap)
                }
                None => Drop(R::UdpPortUnknown),
            }
        }
        ipv4::PROTO_GRE => {
            match gre::Packet::new_checked(&d[l4..end]) {
                Ok(g) if g.flags_version() == 0 && g.protocol() == gre::PROTO_MPLS => {}
                _ => return Drop(R::GreUnsupported),
            }
            mpls_decap(ctx, t, p, l4 + gre::HEADER_LEN, end, Event::MplsGreDecap)
        }
        ipv4::PROTO_ICMP => underlay_icmp(ctx, p, end),
        _ => Drop(R::ProtoUnsupported),
    }
}

/// VXLAN: `off..end` is the VXLAN header and the inner frame.
fn vxlan_decap<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    p: &mut P,
    off: usize,
    end: usize,
) -> Verdict {
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
    ctx.stats.event(Event::VxlanDecap);
    match itype {
        ethernet::ETHERTYPE_ARP => return tunnel_arp(ctx, t, p, vrf, inner, end),
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
    route_frame(ctx, t, vrf, p, None, 0)
}

/// MPLS (over UDP or GRE): `off..end` is the label stack entry and the inner IP packet.
fn mpls_decap<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    p: &mut P,
    off: usize,
    end: usize,
    ev: Event,
) -> Verdict {
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
    let vrf = match t.nexthop(nh) {
        Some(Nexthop::Interface { port, .. }) => {
            match t.ports.get(usize::from(*port)).map(|p| &p.kind) {
                Some(PortKind::Vif { vrf, .. }) => *vrf,
                _ => return Drop(R::NexthopUnsupported),
            }
        }
        _ => return Drop(R::NexthopUnsupported),
    };
    ctx.stats.event(ev);
    // The 14 bytes in front of the inner packet (end of the outer headers) become its
    // Ethernet header: no prepend needed.
    if !p.adj(inner - ETH) || !p.set_len(end - inner + ETH) {
        return Drop(R::IpTruncated);
    }
    p.data_mut()[12..14].copy_from_slice(&ethertype.to_be_bytes());
    route_frame(ctx, t, vrf, p, Some(nh), 0)
}

fn fabric_arp<P: Packet>(ctx: &mut CoreCtx, t: &Tables, p: &mut P) -> Verdict {
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
        ctx.stats.event(Event::ArpLearned);
    }
    if op == arp::OP_REQUEST && tpa == t.fabric.ip {
        arp_reply_in_place(p.data_mut(), t.fabric.mac);
        ctx.stats.event(Event::ArpReplied);
        return Tx(FABRIC);
    }
    Drop(R::ArpIgnored)
}

/// Turns the ARP request at `d` (Ethernet + ARP) into the reply `mac` gives for its target.
fn arp_reply_in_place(d: &mut [u8], mac: MacAddr) {
    let (src_mac, _) = {
        let e = ethernet::Packet::new_unchecked(&*d);
        (e.src_addr(), ())
    };
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

/// An ARP request inside a VXLAN tunnel: answered, inside the tunnel, for addresses of local
/// vifs in the VRF.
fn tunnel_arp<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    p: &mut P,
    vrf: u16,
    inner: usize,
    end: usize,
) -> Verdict {
    let d = p.data();
    let (op, tpa) = match arp::Packet::new_checked(&d[inner + ETH..end]) {
        Ok(a) => (a.operation(), a.target_proto_addr()),
        Err(_) => return Drop(R::ArpMalformed),
    };
    let serves = t
        .vrf(vrf)
        .and_then(|v| v.fib4.lookup(u32::from(tpa)))
        .and_then(|nh| t.nexthop(nh))
        .is_some_and(|nh| matches!(nh, Nexthop::Interface { .. }));
    if op != arp::OP_REQUEST || !serves {
        return Drop(R::ArpIgnored);
    }
    let outer_src_mac: MacAddr = d[6..12].try_into().unwrap_or_default();
    let outer_src_ip = ipv4::Packet::new_unchecked(&d[ETH..]).src_addr();
    let total = be16(d, ETH + 2);
    let sport = be16(d, ETH + ipv4::HEADER_LEN);
    let d = p.data_mut();
    arp_reply_in_place(&mut d[inner..], t.router_mac);
    d[0..6].copy_from_slice(&outer_src_mac);
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
        outer_src_ip,
    );
    let mut u = udp::Packet::new_unchecked(&mut d[ETH + ipv4::HEADER_LEN..]);
    u.set_src_port(sport);
    u.set_dst_port(vxlan::PORT);
    u.set_checksum(0);
    ctx.stats.event(Event::ArpReplied);
    Tx(FABRIC)
}

/// ICMP to the underlay address: echo requests are answered.
fn underlay_icmp<P: Packet>(ctx: &mut CoreCtx, p: &mut P, end: usize) -> Verdict {
    let l4 = ETH + ipv4::HEADER_LEN;
    match icmpv4::Packet::new_checked(&p.data()[l4..end]) {
        Ok(i) if i.msg_type() == icmpv4::TYPE_ECHO_REQUEST && i.msg_code() == 0 => {}
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
    ctx.stats.event(Event::IcmpEchoReplied);
    Tx(FABRIC)
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

fn from_vif<P: Packet>(ctx: &mut CoreCtx, t: &Tables, port: PortIdx, p: &mut P) -> Verdict {
    let Some(PortKind::Vif { vrf, vm_ipv4, .. }) = t.ports.get(usize::from(port)).map(|p| &p.kind)
    else {
        return Drop(R::UnknownPort);
    };
    let (dst, ethertype) = match ethernet::Packet::new_checked(p.data()) {
        Ok(eth) if eth.has_vlan() => return Drop(R::VlanUnsupported),
        Ok(eth) => (eth.dst_addr(), eth.ethertype()),
        Err(_) => return Drop(R::L2Truncated),
    };
    match ethertype {
        ethernet::ETHERTYPE_ARP => vif_arp(ctx, t, port, *vrf, vm_ipv4, p),
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => {
            if dst != t.router_mac {
                return Drop(R::L2OtherHost);
            }
            let v = route_frame(ctx, t, *vrf, p, None, 0);
            if matches!(v, Tx(out) if out != FABRIC) {
                ctx.stats.event(Event::LocalDelivery);
            }
            v
        }
        _ => Drop(R::EthertypeUnsupported),
    }
}

/// Proxy ARP: a VM's request for any address routable in its VRF gets the router MAC.
fn vif_arp<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    port: PortIdx,
    vrf: u16,
    vm_ipv4: &[Ipv4Addr],
    p: &mut P,
) -> Verdict {
    let (op, tpa) = match arp::Packet::new_checked(&p.data()[ETH..]) {
        Ok(a) => (a.operation(), a.target_proto_addr()),
        Err(_) => return Drop(R::ArpMalformed),
    };
    if op != arp::OP_REQUEST || tpa.is_unspecified() || vm_ipv4.contains(&tpa) {
        return Drop(R::ArpIgnored);
    }
    let routable = t
        .vrf(vrf)
        .and_then(|v| v.fib4.lookup(u32::from(tpa)))
        .and_then(|nh| t.nexthop(nh))
        .is_some_and(|nh| !matches!(nh, Nexthop::Discard));
    if !routable {
        return Drop(R::ArpIgnored);
    }
    arp_reply_in_place(p.data_mut(), t.router_mac);
    ctx.stats.event(Event::ArpReplied);
    Tx(port)
}

// ---------------------------------------------------------------------------------------
// Routing.

/// Routes the Ethernet frame `p` (IPv4 or IPv6) in `vrf`, or sends it to `label_nh` when an
/// MPLS label already chose. `depth` > 0 marks a packet the router generated itself, which
/// must not trigger another ICMP answer.
fn route_frame<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    vrf: u16,
    p: &mut P,
    label_nh: Option<NhIdx>,
    depth: u8,
) -> Verdict {
    let d = p.data();
    if d.len() < ETH {
        return Drop(R::L2Truncated);
    }
    match be16(d, 12) {
        ethernet::ETHERTYPE_IPV4 => route_v4(ctx, t, vrf, p, label_nh, depth),
        ethernet::ETHERTYPE_IPV6 => route_v6(ctx, t, vrf, p, label_nh),
        _ => Drop(R::EthertypeUnsupported),
    }
}

fn route_v4<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    vrf_id: u16,
    p: &mut P,
    label_nh: Option<NhIdx>,
    depth: u8,
) -> Verdict {
    let d = p.data();
    let ip = match ipv4::Packet::new_checked(&d[ETH..]) {
        Ok(ip) => ip,
        Err(e) => return ip_err(e),
    };
    if !ip.verify_checksum() {
        return Drop(R::IpBadChecksum);
    }
    let total = usize::from(ip.total_len());
    let ttl = ip.ttl();
    let Some(vrf) = t.vrf(vrf_id) else {
        return Drop(R::NoRoute);
    };
    let nh_idx = match label_nh {
        Some(nh) => nh,
        None => match vrf.fib4.lookup(u32::from(ip.dst_addr())) {
            Some(nh) => nh,
            None => return Drop(R::NoRoute),
        },
    };
    let Some(nh) = t.nexthop(nh_idx) else {
        return Drop(R::NoRoute);
    };
    // Drop Ethernet padding: lengths below come from the IP header.
    p.set_len(ETH + total);
    match nh {
        Nexthop::Discard => Drop(R::DiscardRoute),
        Nexthop::Receive => receive_v4(ctx, t, vrf_id, p, depth),
        Nexthop::Interface { port, dst_mac } => {
            if ttl <= 1 {
                return time_exceeded_v4(ctx, t, vrf_id, p, depth);
            }
            if t.ports
                .get(usize::from(*port))
                .is_none_or(|pt| total > usize::from(pt.mtu))
            {
                return Drop(R::MtuExceeded);
            }
            let d = p.data_mut();
            ipv4::Packet::new_unchecked(&mut d[ETH..]).decrement_ttl();
            d[0..6].copy_from_slice(dst_mac);
            d[6..12].copy_from_slice(&t.router_mac);
            Tx(*port)
        }
        Nexthop::Tunnel(tun) => {
            if ttl <= 1 {
                return time_exceeded_v4(ctx, t, vrf_id, p, depth);
            }
            let d = p.data_mut();
            let mut ip = ipv4::Packet::new_unchecked(&mut d[ETH..]);
            ip.decrement_ttl();
            let tos = ip.tos();
            let hash = flow_hash_v4(&d[ETH..]);
            encap(ctx, t, p, tun, tos, ttl - 1, hash)
        }
    }
}

fn route_v6<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    vrf_id: u16,
    p: &mut P,
    label_nh: Option<NhIdx>,
) -> Verdict {
    let d = p.data();
    let ip = match ipv6::Packet::new_checked(&d[ETH..]) {
        Ok(ip) => ip,
        Err(e) => return ip_err(e),
    };
    let total = ipv6::HEADER_LEN + usize::from(ip.payload_len());
    let hop = ip.hop_limit();
    let Some(vrf) = t.vrf(vrf_id) else {
        return Drop(R::NoRoute);
    };
    let nh_idx = match label_nh {
        Some(nh) => nh,
        None => match vrf.fib6.lookup(u128::from(ip.dst_addr())) {
            Some(nh) => nh,
            None => return Drop(R::NoRoute),
        },
    };
    let Some(nh) = t.nexthop(nh_idx) else {
        return Drop(R::NoRoute);
    };
    p.set_len(ETH + total);
    match nh {
        Nexthop::Discard => Drop(R::DiscardRoute),
        Nexthop::Receive => Drop(R::ReceiveUnsupported),
        Nexthop::Interface { port, dst_mac } => {
            if hop <= 1 {
                return Drop(R::TtlExpired);
            }
            if t.ports
                .get(usize::from(*port))
                .is_none_or(|pt| total > usize::from(pt.mtu))
            {
                return Drop(R::MtuExceeded);
            }
            let d = p.data_mut();
            ipv6::Packet::new_unchecked(&mut d[ETH..]).set_hop_limit(hop - 1);
            d[0..6].copy_from_slice(dst_mac);
            d[6..12].copy_from_slice(&t.router_mac);
            Tx(*port)
        }
        Nexthop::Tunnel(tun) => {
            if hop <= 1 {
                return Drop(R::TtlExpired);
            }
            let d = p.data_mut();
            let mut ip = ipv6::Packet::new_unchecked(&mut d[ETH..]);
            ip.set_hop_limit(hop - 1);
            let tos = ip.traffic_class();
            let hash = flow_hash_v6(&d[ETH..]);
            encap(ctx, t, p, tun, tos, hop - 1, hash)
        }
    }
}

/// An IPv4 packet for a receive nexthop: echo requests are answered (and the answer routed).
fn receive_v4<P: Packet>(ctx: &mut CoreCtx, t: &Tables, vrf: u16, p: &mut P, depth: u8) -> Verdict {
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
    ctx.stats.event(Event::IcmpEchoReplied);
    route_frame(ctx, t, vrf, p, None, depth + 1)
}

/// TTL expired: answer with ICMP time exceeded (rate-limited), routed back to the source.
#[cold]
fn time_exceeded_v4<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    vrf_id: u16,
    p: &mut P,
    depth: u8,
) -> Verdict {
    if depth > 0 {
        return Drop(R::TtlExpired);
    }
    if !ctx.icmp_allow(t.icmp_rate) {
        ctx.stats.event(Event::IcmpRateLimited);
        return Drop(R::TtlExpired);
    }
    let Some(vrf) = t.vrf(vrf_id) else {
        return Drop(R::TtlExpired);
    };
    // The error quotes the original header and 8 bytes of its payload (RFC 792).
    let d = p.data();
    let ip = ipv4::Packet::new_unchecked(&d[ETH..]);
    let quote_len = (ip.header_len() + 8).min(usize::from(ip.total_len()));
    let orig_src = ip.src_addr();
    let mut quote = [0u8; 60 + 8];
    quote[..quote_len].copy_from_slice(&d[ETH..ETH + quote_len]);
    let icmp_len = icmpv4::HEADER_LEN + quote_len;
    let ip_len = ipv4::HEADER_LEN + icmp_len;
    if !p.set_len(ETH + ip_len) {
        return Drop(R::TtlExpired);
    }
    let d = p.data_mut();
    ipv4::emit_header(
        &mut d[ETH..ETH + ipv4::HEADER_LEN],
        0,
        ip_len as u16,
        0,
        false,
        64,
        ipv4::PROTO_ICMP,
        vrf.router_ip,
        orig_src,
    );
    let l4 = ETH + ipv4::HEADER_LEN;
    d[l4 + icmpv4::HEADER_LEN..l4 + icmp_len].copy_from_slice(&quote[..quote_len]);
    let mut i = icmpv4::Packet::new_unchecked(&mut d[l4..l4 + icmp_len]);
    i.set_msg_type(icmpv4::TYPE_TIME_EXCEEDED);
    i.set_msg_code(0);
    i.set_rest_of_header(0);
    i.fill_checksum();
    ctx.stats.count_drop(R::TtlExpired);
    ctx.stats.event(Event::IcmpErrorSent);
    route_frame(ctx, t, vrf_id, p, None, depth + 1)
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

/// Encapsulates the frame `p` (inner Ethernet + IP, TTL already decremented) toward `tun`.
fn encap<P: Packet>(
    ctx: &mut CoreCtx,
    t: &Tables,
    p: &mut P,
    tun: &Tunnel,
    tos: u8,
    ttl: u8,
    hash: u32,
) -> Verdict {
    let Some(nmac) = t.neighbors.mac(tun.neighbor) else {
        return arp_miss(ctx, t, p, tun.neighbor);
    };
    let l3_len = p.len() - ETH;
    let (proto, push) = match tun.encap {
        Encap::Vxlan => (ipv4::PROTO_UDP, ETH + 20 + 8 + 8),
        Encap::MplsUdp => (ipv4::PROTO_UDP, 20 + 8 + 4),
        Encap::MplsGre => (ipv4::PROTO_GRE, 20 + 4 + 4),
    };
    // Outer IPv4 total length: everything after the outer Ethernet header.
    let outer_len = match tun.encap {
        Encap::Vxlan => 20 + 8 + 8 + ETH + l3_len,
        _ => push + l3_len,
    };
    if outer_len > usize::from(t.ports[usize::from(FABRIC)].mtu) {
        return Drop(R::MtuExceeded);
    }
    if tun.encap == Encap::Vxlan {
        let d = p.data_mut();
        d[0..6].copy_from_slice(&tun.inner_mac);
        d[6..12].copy_from_slice(&t.router_mac);
    }
    // VXLAN keeps the inner Ethernet header; MPLS carries the bare IP packet, and the inner
    // Ethernet header's 14 bytes become the outer one. Either way `push` bytes are added.
    if !p.prepend(push) {
        return Drop(R::NoHeadroom);
    }
    let d = p.data_mut();
    d[0..6].copy_from_slice(&nmac);
    d[6..12].copy_from_slice(&t.fabric.mac);
    d[12..14].copy_from_slice(&ethernet::ETHERTYPE_IPV4.to_be_bytes());
    ipv4::emit_header(
        &mut d[ETH..ETH + ipv4::HEADER_LEN],
        tos,
        outer_len as u16,
        0,
        true,
        64,
        proto,
        t.fabric.ip,
        tun.dst,
    );
    let l4 = ETH + ipv4::HEADER_LEN;
    match tun.encap {
        Encap::Vxlan | Encap::MplsUdp => {
            let dport = if tun.encap == Encap::Vxlan {
                vxlan::PORT
            } else {
                mpls::PORT_MPLS_UDP
            };
            let mut u = udp::Packet::new_unchecked(&mut d[l4..l4 + udp::HEADER_LEN]);
            u.set_src_port(entropy_port(hash));
            u.set_dst_port(dport);
            u.set_len((outer_len - ipv4::HEADER_LEN) as u16);
            u.set_checksum(0);
            let h = l4 + udp::HEADER_LEN;
            if tun.encap == Encap::Vxlan {
                vxlan::emit(&mut d[h..h + vxlan::HEADER_LEN], tun.key);
                ctx.stats.event(Event::VxlanEncap);
            } else {
                mpls::emit(&mut d[h..h + mpls::HEADER_LEN], tun.key, 0, true, ttl);
                ctx.stats.event(Event::MplsUdpEncap);
            }
        }
        Encap::MplsGre => {
            d[l4..l4 + 2].copy_from_slice(&0u16.to_be_bytes());
            d[l4 + 2..l4 + 4].copy_from_slice(&gre::PROTO_MPLS.to_be_bytes());
            let h = l4 + gre::HEADER_LEN;
            mpls::emit(&mut d[h..h + mpls::HEADER_LEN], tun.key, 0, true, ttl);
            ctx.stats.event(Event::MplsGreEncap);
        }
    }
    Tx(FABRIC)
}

/// The endpoint's MAC is unknown: the packet is dropped and, at most every 100 ms per
/// neighbour, its buffer becomes an ARP request for it.
#[cold]
fn arp_miss<P: Packet>(ctx: &mut CoreCtx, t: &Tables, p: &mut P, neigh: u32) -> Verdict {
    let Some(target) = t.neighbors.ip(neigh) else {
        return Drop(R::ArpUnresolved);
    };
    if !ctx.arp_allow(neigh) || !p.set_len(60) {
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
    ctx.stats.count_drop(R::ArpUnresolved);
    ctx.stats.event(Event::ArpRequestSent);
    Tx(FABRIC)
}
