//! Pipeline decisions on byte buffers: every path, checked against packets built and parsed
//! by etherparse (an independent implementation), plus malformed input.

use etherparse::{PacketBuilder, SlicedPacket};
use proptest::prelude::*;
use std::sync::Arc;
use vrouter::control::config::Config;
use vrouter::datapath::pipeline::{process_burst, CoreCtx, Extra, Verdict};
use vrouter::datapath::{CoreStats, DropReason, Event, Packet, VecPacket};
use vrouter::tables::Tables;

const FABRIC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const ROUTER_MAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 0];
const VM_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
const VM2_MAC: [u8; 6] = [2, 0, 0, 0, 1, 3];
const REMOTE_INNER_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
const US: [u8; 4] = [203, 0, 113, 1];
const PEER: [u8; 4] = [203, 0, 113, 2];
const UNRESOLVED: [u8; 4] = [203, 0, 113, 3];
const VM: [u8; 4] = [198, 51, 100, 2];
const VM2: [u8; 4] = [198, 51, 100, 3];
const REMOTE: [u8; 4] = [198, 51, 100, 1];
const HZ: u64 = 1_000_000_000;

const CONFIG: &str = r#"
[fabric]
dev = "net_null0"
ip = "203.0.113.1/24"
mac = "02:00:00:00:00:01"
[[fabric.neighbor]]
ip = "203.0.113.2"
mac = "02:00:00:00:00:02"
[[vrf]]
id = 1
vni = 100
router_ip = "198.51.100.254"
[[vif]]
name = "vm1"
dev = "net_null1"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2", "2001:db8:100::2"]
[[vif]]
name = "vm2"
dev = "net_null2"
vrf = 1
mac = "02:00:00:00:01:03"
ip = ["198.51.100.3"]
mtu = 1400
[[nexthop]]
id = 10
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.2"
vni = 100
inner_mac = "02:00:00:00:02:01"
[[nexthop]]
id = 11
type = "interface"
vif = "vm1"
[[nexthop]]
id = 20
type = "tunnel"
encap = "mpls-udp"
dst = "203.0.113.2"
label = 200
[[nexthop]]
id = 21
type = "tunnel"
encap = "mpls-gre"
dst = "203.0.113.2"
label = 201
[[nexthop]]
id = 22
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.3"
vni = 100
inner_mac = "02:00:00:00:02:01"
[[nexthop]]
id = 30
type = "discard"
[[nexthop]]
id = 31
type = "receive"
[[route]]
vrf = 1
prefix = "198.51.100.1/32"
nexthop = 10
[[route]]
vrf = 1
prefix = "198.51.100.20/32"
nexthop = 20
[[route]]
vrf = 1
prefix = "198.51.100.21/32"
nexthop = 21
[[route]]
vrf = 1
prefix = "198.51.100.30/32"
nexthop = 22
[[route]]
vrf = 1
prefix = "198.51.100.40/32"
nexthop = 30
[[route]]
vrf = 1
prefix = "198.51.100.254/32"
nexthop = 31
[[route]]
vrf = 1
prefix = "2001:db8:100::1/128"
nexthop = 10
[[mpls]]
label = 300
nexthop = 11
"#;

struct Rig {
    t: Tables,
    ctx: CoreCtx,
    stats: Arc<CoreStats>,
    extra: Extra<VecPacket>,
    /// Fragments (or other extra packets) the last run made.
    last_extra: Vec<(VecPacket, Verdict)>,
}

impl Rig {
    fn new() -> Rig {
        let t = Config::from_toml(CONFIG)
            .unwrap()
            .build_tables([9; 6])
            .unwrap();
        let stats = Arc::new(CoreStats::default());
        let mut ctx = CoreCtx::new(stats.clone(), HZ);
        ctx.set_now(HZ);
        Rig {
            t,
            ctx,
            stats,
            extra: Extra::default(),
            last_extra: Vec::new(),
        }
    }
    fn run(&mut self, port: u16, frame: &[u8]) -> (Verdict, VecPacket) {
        let mut pkts = [VecPacket::from_bytes(frame)];
        let mut v = [Verdict::Drop(DropReason::TxFull)];
        process_burst(
            &mut self.ctx,
            &self.t,
            port,
            &mut pkts,
            &mut v,
            &mut self.extra,
        );
        self.last_extra = self.extra.drain().collect();
        let [p] = pkts;
        (v[0], p)
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.stats.drops_of(r)
    }
}

fn ipv4_checksum_ok(hdr: &[u8]) -> bool {
    let mut s = 0u32;
    for c in hdr.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s == 0xFFFF
}

/// `frame` with 4 option bytes (zeros: end of options) added to the IPv4 header at `at`:
/// IHL 6, lengths and checksum updated. The first 20 bytes still sum right, so only the
/// header-length check tells this packet apart.
fn with_ip_options(frame: &[u8], at: usize) -> Vec<u8> {
    let mut f = frame[..at + 20].to_vec();
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&frame[at + 20..]);
    f[at] = 0x46;
    let total = u16::from_be_bytes([f[at + 2], f[at + 3]]) + 4;
    f[at + 2..at + 4].copy_from_slice(&total.to_be_bytes());
    f[at + 10..at + 12].copy_from_slice(&[0, 0]);
    let mut s = 0u32;
    for c in f[at..at + 24].chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    f[at + 10..at + 12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    assert!(ipv4_checksum_ok(&f[at..at + 24]) && ipv4_checksum_ok(&f[at..at + 20]));
    f
}

/// A VM frame: Ethernet to the router MAC, IPv4/UDP.
fn vm_udp(src: [u8; 4], dst: [u8; 4], ttl: u8, sport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(VM_MAC, ROUTER_MAC)
        .ipv4(src, dst, ttl)
        .udp(sport, 7000)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A VXLAN frame from the peer carrying `inner`.
fn vxlan_from_peer(vni: u32, flags: u8, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![flags, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, FABRIC_MAC)
        .ipv4(PEER, US, 64)
        .udp(54321, 4789)
        .write(&mut out, &payload)
        .unwrap();
    // Linux sends VXLAN over IPv4 without a UDP checksum.
    out[40] = 0;
    out[41] = 0;
    out
}

/// Inner frame from the remote's VXLAN device.
fn remote_inner(dst: [u8; 4], ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(REMOTE_INNER_MAC, ROUTER_MAC)
        .ipv4(REMOTE, dst, ttl)
        .udp(5000, 6000)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn mpls_over(proto_udp: bool, label: u32, mpls_ttl: u8, inner_ip: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    if !proto_udp {
        payload.extend_from_slice(&[0, 0, 0x88, 0x47]);
    }
    payload.extend_from_slice(&((label << 12) | 0x100 | u32::from(mpls_ttl)).to_be_bytes());
    payload.extend_from_slice(inner_ip);
    let mut out = Vec::new();
    let b = PacketBuilder::ethernet2(PEER_MAC, FABRIC_MAC).ipv4(PEER, US, 64);
    if proto_udp {
        b.udp(50000, 6635).write(&mut out, &payload).unwrap();
        out[40] = 0;
        out[41] = 0;
    } else {
        b.write(&mut out, etherparse::IpNumber(47), &payload)
            .unwrap();
    }
    out
}

#[test]
fn vxlan_decap_delivers_to_the_vm() {
    let mut r = Rig::new();
    let inner = remote_inner(VM, 64, b"hello vm");
    let (v, p) = r.run(0, &vxlan_from_peer(100, 0x08, &inner));
    assert_eq!(v, Verdict::Tx(1));
    let out = p.data();
    assert_eq!(&out[0..6], &VM_MAC);
    assert_eq!(&out[6..12], &ROUTER_MAC);
    let s = SlicedPacket::from_ethernet(out).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = s.net else {
        panic!("not ipv4")
    };
    assert_eq!(ip.header().ttl(), 63);
    assert_eq!(ip.header().source(), REMOTE);
    assert!(ipv4_checksum_ok(&out[14..34]));
    assert_eq!(&out[42..], b"hello vm");
    assert_eq!(out.len(), inner.len());
    assert_eq!(r.stats.events_of(Event::VxlanDecap), 1);
}

#[test]
fn vm_to_vxlan_encap() {
    let mut r = Rig::new();
    let mut frame = vm_udp(VM, REMOTE, 64, 1234, b"to remote");
    frame[15] = 0x28; // TOS, copied to the outer header
    let ip_ck = etherparse::Ipv4Header::from_slice(&frame[14..])
        .unwrap()
        .0
        .calc_header_checksum();
    frame[24..26].copy_from_slice(&ip_ck.to_be_bytes());
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(0));
    let out = p.data();
    assert_eq!(out.len(), frame.len() + 50);
    let s = SlicedPacket::from_ethernet(out).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = s.link else {
        panic!()
    };
    assert_eq!(eth.destination(), PEER_MAC);
    assert_eq!(eth.source(), FABRIC_MAC);
    let Some(etherparse::NetSlice::Ipv4(ip)) = s.net else {
        panic!()
    };
    let h = ip.header();
    assert_eq!(
        (
            h.source(),
            h.destination(),
            h.ttl(),
            h.dont_fragment(),
            h.identification()
        ),
        (US, PEER, 64, true, 0)
    );
    assert_eq!(h.dcp().value() << 2 | h.ecn().value(), 0x28);
    assert_eq!(h.total_len() as usize, out.len() - 14);
    assert!(ipv4_checksum_ok(&out[14..34]));
    let Some(etherparse::TransportSlice::Udp(u)) = s.transport else {
        panic!()
    };
    assert_eq!(u.destination_port(), 4789);
    assert!(u.source_port() >= 49152);
    assert_eq!(u.checksum(), 0);
    assert_eq!(u.length() as usize, out.len() - 34);
    assert_eq!(&out[42..50], &[0x08, 0, 0, 0, 0, 0, 100, 0]);
    // Inner frame: rewritten MACs, TTL decremented, checksum still right.
    let inner = &out[50..];
    assert_eq!(&inner[0..6], &REMOTE_INNER_MAC);
    assert_eq!(&inner[6..12], &ROUTER_MAC);
    assert_eq!(inner[14 + 8], 63);
    assert!(ipv4_checksum_ok(&inner[14..34]));
    assert_eq!(&inner[42..], b"to remote");
    assert_eq!(r.stats.events_of(Event::VxlanEncap), 1);

    // Same flow, same source port; another flow usually another one.
    let (_, p2) = r.run(1, &frame);
    assert_eq!(&p2.data()[34..36], &out[34..36]);
    let ports: std::collections::HashSet<[u8; 2]> = (0..32u16)
        .map(|i| {
            let (_, p) = r.run(1, &vm_udp(VM, REMOTE, 64, 2000 + i, b"x"));
            [p.data()[34], p.data()[35]]
        })
        .collect();
    assert!(
        ports.len() > 16,
        "flow entropy too low: {} ports for 32 flows",
        ports.len()
    );
}

#[test]
fn vm_to_mpls_udp_and_gre() {
    let mut r = Rig::new();
    for (dst, gre, label) in [
        ([198, 51, 100, 20], false, 200u32),
        ([198, 51, 100, 21], true, 201),
    ] {
        let frame = vm_udp(VM, dst, 64, 1234, b"mpls payload");
        let (v, p) = r.run(1, &frame);
        assert_eq!(v, Verdict::Tx(0));
        let out = p.data();
        let inner_ip = &frame[14..];
        let hdr = if gre { 4 } else { 8 };
        assert_eq!(out.len(), 14 + 20 + hdr + 4 + inner_ip.len());
        assert_eq!(&out[0..6], &PEER_MAC);
        assert_eq!(out[23], if gre { 47 } else { 17 });
        assert!(ipv4_checksum_ok(&out[14..34]));
        if gre {
            assert_eq!(&out[34..38], &[0, 0, 0x88, 0x47]);
        } else {
            assert_eq!(u16::from_be_bytes([out[36], out[37]]), 6635);
            assert_eq!(&out[40..42], &[0, 0]);
        }
        let m = u32::from_be_bytes(out[34 + hdr..38 + hdr].try_into().unwrap());
        assert_eq!(m >> 12, label);
        assert_eq!(m & 0x100, 0x100, "bottom of stack");
        assert_eq!(m & 0xFF, 63, "label TTL = inner TTL after decrement");
        let ip = &out[38 + hdr..];
        assert_eq!(ip[8], 63);
        assert!(ipv4_checksum_ok(&ip[..20]));
        assert_eq!(&ip[28..], b"mpls payload");
    }
    assert_eq!(r.stats.events_of(Event::MplsUdpEncap), 1);
    assert_eq!(r.stats.events_of(Event::MplsGreEncap), 1);
}

#[test]
fn mpls_decap_udp_and_gre() {
    let mut r = Rig::new();
    let mut inner = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 20], VM, 64)
        .udp(1, 2)
        .write(&mut inner, b"over mpls")
        .unwrap();
    for udp in [true, false] {
        let (v, p) = r.run(0, &mpls_over(udp, 300, 64, &inner));
        assert_eq!(v, Verdict::Tx(1));
        let out = p.data();
        assert_eq!(&out[0..6], &VM_MAC);
        assert_eq!(&out[6..12], &ROUTER_MAC);
        assert_eq!(&out[12..14], &[0x08, 0x00]);
        assert_eq!(out.len(), 14 + inner.len());
        assert_eq!(out[14 + 8], 63);
        assert!(ipv4_checksum_ok(&out[14..34]));
        assert_eq!(&out[14 + 28..], b"over mpls");
    }
    assert_eq!(r.stats.events_of(Event::MplsUdpDecap), 1);
    assert_eq!(r.stats.events_of(Event::MplsGreDecap), 1);
    let (v, _) = r.run(0, &mpls_over(true, 999, 64, &inner));
    assert_eq!(v, Verdict::Drop(DropReason::UnknownLabel));
    let (v, _) = r.run(0, &mpls_over(false, 300, 1, &inner));
    assert_eq!(v, Verdict::Drop(DropReason::TtlExpired));
}

#[test]
fn ipv6_both_ways() {
    let mut r = Rig::new();
    let vm6 = "2001:db8:100::2"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let rem6 = "2001:db8:100::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(VM_MAC, ROUTER_MAC)
        .ipv6(vm6, rem6, 64)
        .udp(1, 2)
        .write(&mut frame, b"v6")
        .unwrap();
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(0));
    let inner = &p.data()[50..];
    assert_eq!(&inner[12..14], &[0x86, 0xdd]);
    assert_eq!(inner[14 + 7], 63);
    let mut back = Vec::new();
    PacketBuilder::ethernet2(REMOTE_INNER_MAC, ROUTER_MAC)
        .ipv6(rem6, vm6, 5)
        .udp(2, 1)
        .write(&mut back, b"v6")
        .unwrap();
    let (v, p) = r.run(0, &vxlan_from_peer(100, 0x08, &back));
    assert_eq!(v, Verdict::Tx(1));
    assert_eq!(p.data()[14 + 7], 4);
    assert_eq!(&p.data()[0..6], &VM_MAC);
}

fn arp_frame(src_mac: [u8; 6], dst_mac: [u8; 6], op: u16, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa);
    f
}

#[test]
fn proxy_arp_for_vms() {
    let mut r = Rig::new();
    let (v, p) = r.run(1, &arp_frame(VM_MAC, [0xff; 6], 1, VM, REMOTE));
    assert_eq!(v, Verdict::Tx(1));
    let d = p.data();
    assert_eq!(&d[0..6], &VM_MAC);
    assert_eq!(&d[6..12], &ROUTER_MAC);
    assert_eq!(u16::from_be_bytes([d[20], d[21]]), 2);
    assert_eq!(&d[22..28], &ROUTER_MAC);
    assert_eq!(&d[28..32], &REMOTE);
    assert_eq!(&d[32..38], &VM_MAC);
    assert_eq!(&d[38..42], &VM);
    // Not for the VM's own address (duplicate address detection), not for unroutable ones.
    assert_eq!(
        r.run(1, &arp_frame(VM_MAC, [0xff; 6], 1, VM, VM)).0,
        Verdict::Drop(DropReason::ArpIgnored)
    );
    assert_eq!(
        r.run(1, &arp_frame(VM_MAC, [0xff; 6], 1, VM, [198, 51, 100, 99]))
            .0,
        Verdict::Drop(DropReason::ArpIgnored)
    );
    assert_eq!(
        r.run(1, &arp_frame(VM_MAC, [0xff; 6], 1, VM, [198, 51, 100, 40]))
            .0,
        Verdict::Drop(DropReason::ArpIgnored)
    );
    assert_eq!(r.drops(DropReason::ArpIgnored), 3);
}

#[test]
fn arp_on_the_fabric_and_inside_vxlan() {
    let mut r = Rig::new();
    let (v, p) = r.run(0, &arp_frame(PEER_MAC, [0xff; 6], 1, PEER, US));
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(&p.data()[22..28], &FABRIC_MAC);
    assert_eq!(&p.data()[28..32], &US);
    // An ARP request from the remote's VXLAN device for the VM's address.
    let inner = arp_frame(REMOTE_INNER_MAC, [0xff; 6], 1, REMOTE, VM);
    let (v, p) = r.run(0, &vxlan_from_peer(100, 0x08, &inner));
    assert_eq!(v, Verdict::Tx(0));
    let d = p.data();
    assert_eq!(&d[0..6], &PEER_MAC);
    assert_eq!(&d[6..12], &FABRIC_MAC);
    assert_eq!(&d[26..30], &US);
    assert_eq!(&d[30..34], &PEER);
    assert!(ipv4_checksum_ok(&d[14..34]));
    assert_eq!(u16::from_be_bytes([d[36], d[37]]), 4789);
    assert_eq!(&d[42..50], &[0x08, 0, 0, 0, 0, 0, 100, 0]);
    let a = &d[50 + 14..];
    assert_eq!(u16::from_be_bytes([a[6], a[7]]), 2);
    assert_eq!(&a[8..14], &ROUTER_MAC);
    assert_eq!(&a[14..18], &VM);
    assert_eq!(&a[24..28], &REMOTE);
    // The remote's own address is not ours to answer inside the tunnel.
    let inner = arp_frame(REMOTE_INNER_MAC, [0xff; 6], 1, REMOTE, [198, 51, 100, 20]);
    assert_eq!(
        r.run(0, &vxlan_from_peer(100, 0x08, &inner)).0,
        Verdict::Drop(DropReason::ArpIgnored)
    );
    assert_eq!(r.stats.events_of(Event::ArpReplied), 2);
}

#[test]
fn unresolved_endpoint_sends_rate_limited_arp_then_learns() {
    let mut r = Rig::new();
    let frame = vm_udp(VM, [198, 51, 100, 30], 64, 1, b"x");
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(0), "the buffer became an ARP request");
    let d = p.data();
    assert_eq!(&d[0..6], &[0xff; 6]);
    assert_eq!(&d[12..14], &[0x08, 0x06]);
    assert_eq!(&d[38..42], &UNRESOLVED);
    assert_eq!(r.drops(DropReason::ArpUnresolved), 1);
    // Within 100 ms: dropped, no second request.
    assert_eq!(r.run(1, &frame).0, Verdict::Drop(DropReason::ArpUnresolved));
    assert_eq!(r.stats.events_of(Event::ArpRequestSent), 1);
    // The reply teaches the MAC; the next packet is encapsulated toward it.
    let reply = arp_frame([2, 0, 0, 0, 0, 3], FABRIC_MAC, 2, UNRESOLVED, US);
    assert_eq!(r.run(0, &reply).0, Verdict::Drop(DropReason::ArpIgnored));
    assert_eq!(r.stats.events_of(Event::ArpLearned), 1);
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(&p.data()[0..6], &[2, 0, 0, 0, 0, 3]);
}

#[test]
fn ttl_expiry_answers_icmp_time_exceeded_rate_limited() {
    let mut r = Rig::new();
    let frame = vm_udp(VM, REMOTE, 1, 1, b"expiring");
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(1), "the error goes back to the VM");
    let d = p.data();
    assert_eq!(&d[0..6], &VM_MAC);
    assert!(ipv4_checksum_ok(&d[14..34]));
    assert_eq!(
        &d[26..30],
        &[198, 51, 100, 254],
        "source: the VRF's router_ip"
    );
    assert_eq!(d[22], 64, "the router's own packets leave with TTL 64");
    assert_eq!(&d[30..34], &VM);
    assert_eq!(d[34], 11);
    let icmp = &d[34..];
    let mut s = 0u32;
    for c in icmp.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    assert_eq!(s, 0xFFFF, "ICMP checksum");
    assert_eq!(
        &icmp[8..8 + 28],
        &frame[14..14 + 28],
        "quotes header + 8 bytes"
    );
    assert_eq!(r.drops(DropReason::TtlExpired), 1);
    assert_eq!(r.stats.events_of(Event::IcmpErrorSent), 1);
    // 100 tokens per second: the rest of a flood in the same instant is only counted.
    for _ in 0..150 {
        r.run(1, &frame);
    }
    assert_eq!(r.stats.events_of(Event::IcmpErrorSent), 100);
    assert_eq!(r.stats.events_of(Event::IcmpRateLimited), 51);
    assert_eq!(r.drops(DropReason::TtlExpired), 151);
}

#[test]
fn local_delivery_echo_and_discard() {
    let mut r = Rig::new();
    let (v, p) = r.run(1, &vm_udp(VM, VM2, 64, 1, b"neighbour"));
    assert_eq!(v, Verdict::Tx(2));
    assert_eq!(&p.data()[0..6], &VM2_MAC);
    assert_eq!(r.stats.events_of(Event::LocalDelivery), 1);
    assert_eq!(
        r.run(1, &vm_udp(VM, [198, 51, 100, 40], 64, 1, b"")).0,
        Verdict::Drop(DropReason::DiscardRoute)
    );
    assert_eq!(
        r.run(1, &vm_udp(VM, [198, 51, 100, 99], 64, 1, b"")).0,
        Verdict::Drop(DropReason::NoRoute)
    );
    // Ping to the VRF's router address gets an answer, routed back to the VM.
    let mut ping = Vec::new();
    PacketBuilder::ethernet2(VM_MAC, ROUTER_MAC)
        .ipv4(VM, [198, 51, 100, 254], 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut ping, b"abcdefgh")
        .unwrap();
    let (v, p) = r.run(1, &ping);
    assert_eq!(v, Verdict::Tx(1));
    let s = SlicedPacket::from_ethernet(p.data()).unwrap();
    let Some(etherparse::TransportSlice::Icmpv4(i)) = s.transport else {
        panic!()
    };
    assert_eq!(
        i.icmp_type(),
        etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 7, seq: 1 })
    );
    assert_eq!(i.checksum(), i.icmp_type().calc_checksum(i.payload()));
    assert!(ipv4_checksum_ok(&p.data()[14..34]));
    // Ping to the underlay address from the fabric.
    let mut uping = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, FABRIC_MAC)
        .ipv4(PEER, US, 64)
        .icmpv4_echo_request(1, 2)
        .write(&mut uping, b"u")
        .unwrap();
    let (v, p) = r.run(0, &uping);
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(&p.data()[0..6], &PEER_MAC);
    assert_eq!(&p.data()[30..34], &PEER);
    assert_eq!(r.stats.events_of(Event::IcmpEchoReplied), 2);
}

/// One malformed case per reason reachable from the fabric, each checked by name.
#[test]
fn malformed_fabric_input_is_counted_by_reason() {
    use DropReason as R;
    let inner = remote_inner(VM, 64, b"x");
    let good = vxlan_from_peer(100, 0x08, &inner);
    let fix_ck = |f: &mut Vec<u8>| {
        f[24] = 0;
        f[25] = 0;
        let ck = etherparse::Ipv4Header::from_slice(&f[14..])
            .map(|h| h.0.calc_header_checksum())
            .unwrap_or(0);
        f[24..26].copy_from_slice(&ck.to_be_bytes());
    };
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(R, Vec<u8>)> = vec![
        (R::L2Truncated, good[..10].to_vec()),
        (
            R::VlanUnsupported,
            edit(&|f| {
                f.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
            }),
        ),
        (
            R::L2OtherHost,
            edit(&|f| f[0..6].copy_from_slice(&[2, 9, 9, 9, 9, 9])),
        ),
        (
            R::EthertypeUnsupported,
            edit(&|f| f[12..14].copy_from_slice(&[0x88, 0xcc])),
        ),
        (
            R::ArpMalformed,
            edit(&|f| {
                f[12..14].copy_from_slice(&[0x08, 0x06]);
                f.truncate(30);
            }),
        ),
        (R::IpTruncated, good[..30].to_vec()),
        (
            R::IpTruncated,
            edit(&|f| {
                f[16..18].copy_from_slice(&2000u16.to_be_bytes());
                fix_ck(f);
            }),
        ),
        (
            R::IpMalformed,
            edit(&|f| {
                f[14] = 0x55;
                fix_ck(f);
            }),
        ),
        (
            R::IpOptions,
            edit(&|f| {
                f[14] = 0x46;
                f.splice(34..34, [1, 1, 1, 0]);
                let tl = u16::from_be_bytes([f[16], f[17]]) + 4;
                f[16..18].copy_from_slice(&tl.to_be_bytes());
                fix_ck(f);
            }),
        ),
        (R::IpBadChecksum, edit(&|f| f[24] ^= 0xff)),
        (
            R::IpFragment,
            edit(&|f| {
                f[20] = 0x20;
                fix_ck(f);
            }),
        ),
        (
            R::NotForUs,
            edit(&|f| {
                f[33] = 99;
                fix_ck(f);
            }),
        ),
        (
            R::ProtoUnsupported,
            edit(&|f| {
                f[23] = 6;
                fix_ck(f);
            }),
        ),
        (
            R::UdpMalformed,
            edit(&|f| f[38..40].copy_from_slice(&4u16.to_be_bytes())),
        ),
        (
            R::UdpMalformed,
            edit(&|f| f[38..40].copy_from_slice(&3000u16.to_be_bytes())),
        ),
        (
            R::UdpPortUnknown,
            edit(&|f| f[36..38].copy_from_slice(&9999u16.to_be_bytes())),
        ),
        (
            R::VxlanMalformed,
            edit(&|f| {
                f.truncate(46);
                f[16..18].copy_from_slice(&32u16.to_be_bytes());
                f[38..40].copy_from_slice(&12u16.to_be_bytes());
                fix_ck(f);
            }),
        ),
        (R::VxlanBadFlags, vxlan_from_peer(100, 0, &inner)),
        (R::UnknownVni, vxlan_from_peer(999, 0x08, &inner)),
        (
            R::InnerL2OtherHost,
            vxlan_from_peer(100, 0x08, &{
                let mut i = inner.clone();
                i[0..6].copy_from_slice(&[2, 7, 7, 7, 7, 7]);
                i
            }),
        ),
        (
            R::NoRoute,
            vxlan_from_peer(100, 0x08, &remote_inner([198, 51, 100, 99], 64, b"x")),
        ),
        (
            R::MplsMalformed,
            edit(&|f| {
                // MPLSoUDP with the S bit clear.
                *f = mpls_over(true, 300, 64, &f[64..]);
                f[44] &= !0x01;
            }),
        ),
        (
            R::GreUnsupported,
            edit(&|f| {
                *f = mpls_over(false, 300, 64, &f[64..]);
                f[34] = 0x20; // K bit
            }),
        ),
    ];
    let mut r = Rig::new();
    for (i, (reason, frame)) in cases.iter().enumerate() {
        let (v, _) = r.run(0, frame);
        assert_eq!(v, Verdict::Drop(*reason), "case {i}");
    }
    for reason in DropReason::ALL {
        let want = cases.iter().filter(|(r, _)| r == reason).count() as u64;
        assert_eq!(r.drops(*reason), want, "{}", reason.name());
    }
    // And the good frame still passes.
    assert_eq!(r.run(0, &good).0, Verdict::Tx(1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]
    /// Random bytes, or a valid frame with random corruption, never panic on either side.
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                    flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..6),
                    port in 0u16..4) {
        let mut r = Rig::new();
        r.run(port, &bytes);
        let mut f = vxlan_from_peer(100, 0x08, &remote_inner(VM, 64, b"payload"));
        for &(i, b) in &flips {
            if let Some(x) = f.get_mut(i) { *x = b; }
        }
        r.run(0, &f);
        let mut g = vm_udp(VM, REMOTE, 64, 9, b"payload");
        for &(i, b) in &flips {
            if let Some(x) = g.get_mut(i) { *x = b; }
        }
        r.run(1, &g);
    }
}

// ---------------------------------------------------------------------------------------
// Path MTU, fragmentation, MSS, checksums, ND.

fn ipv4_frame(src: [u8; 4], dst: [u8; 4], df: bool, total: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..total - 28).map(|i| i as u8).collect();
    let mut f = vm_udp(src, dst, 64, 4000, &payload);
    if !df {
        f[20] &= !0x40;
    } else {
        f[20] |= 0x40;
    }
    f[24] = 0;
    f[25] = 0;
    let ck = etherparse::Ipv4Header::from_slice(&f[14..])
        .unwrap()
        .0
        .calc_header_checksum();
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f
}

#[test]
fn df_too_big_for_the_tunnel_gets_frag_needed() {
    let mut r = Rig::new();
    let frame = ipv4_frame(VM, REMOTE, true, 1500);
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(1), "the ICMP error goes back to the VM");
    let d = p.data();
    assert_eq!(&d[0..6], &VM_MAC);
    assert_eq!(d.len(), 14 + 576, "RFC 1812: at most 576 bytes");
    let s = SlicedPacket::from_ethernet(d).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = &s.net else {
        panic!()
    };
    assert_eq!(ip.header().source(), [198, 51, 100, 254]);
    assert_eq!(ip.header().ttl(), 64);
    assert_eq!(ip.header().destination(), VM);
    let Some(etherparse::TransportSlice::Icmpv4(i)) = s.transport else {
        panic!()
    };
    assert_eq!(
        i.icmp_type(),
        etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1450 }
        )
    );
    assert_eq!(i.checksum(), i.icmp_type().calc_checksum(i.payload()));
    assert_eq!(
        &d[14 + 28..14 + 28 + 40],
        &frame[14..54],
        "quotes the original"
    );
    assert_eq!(r.drops(DropReason::FragNeeded), 1);
    assert_eq!(r.stats.events_of(Event::IcmpFragNeededSent), 1);
    // 1450 bytes fit: encapsulated, DF kept on the outer header.
    let (v, p) = r.run(1, &ipv4_frame(VM, REMOTE, true, 1450));
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(p.len(), 14 + 1500);
}

#[test]
fn no_df_too_big_is_fragmented_inside_then_encapsulated() {
    let mut r = Rig::new();
    let frame = ipv4_frame(VM, REMOTE, false, 1500);
    let (v, first) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(r.last_extra.len(), 1);
    let (second, v2) = &r.last_extra[0];
    assert_eq!(*v2, Verdict::Tx(0));
    let mut payload = Vec::new();
    for (k, f) in [first.data(), second.data()].iter().enumerate() {
        assert!(f.len() - 14 <= 1500, "outer packet fits the fabric");
        assert_eq!(&f[36..38], &4789u16.to_be_bytes());
        assert!(ipv4_checksum_ok(&f[14..34]));
        let inner = &f[50 + 14..];
        assert!(ipv4_checksum_ok(&inner[..20]));
        assert_eq!(inner[8], 63, "TTL decremented on every fragment");
        let flags_off = u16::from_be_bytes([inner[6], inner[7]]);
        let (mf, off) = (flags_off & 0x2000 != 0, usize::from(flags_off & 0x1fff) * 8);
        assert_eq!(mf, k == 0);
        assert_eq!(off, payload.len());
        assert_eq!(
            u16::from_be_bytes([inner[2], inner[3]]) as usize,
            inner.len()
        );
        payload.extend_from_slice(&inner[20..]);
    }
    assert_eq!(
        &first.data()[34..36],
        &second.data()[34..36],
        "same UDP source port"
    );
    assert_eq!(
        payload,
        &frame[34..],
        "fragments reassemble to the original payload"
    );
    assert_eq!(
        first.data().len() - 64 - 20,
        1424,
        "first fragment payload: floor(1430/8)*8"
    );
    assert_eq!(r.stats.events_of(Event::Fragmented), 1);
    assert_eq!(r.stats.events_of(Event::FragmentsSent), 2);
}

#[test]
fn outer_fragmentation_by_config() {
    let cfg = CONFIG.replace("[fabric]", "[router]\nfragmentation = \"outer\"\n[fabric]");
    let mut r = Rig::new();
    r.t = Config::from_toml(&cfg)
        .unwrap()
        .build_tables([9; 6])
        .unwrap();
    let frame = ipv4_frame(VM, REMOTE, false, 1500);
    let (v, first) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(0));
    let (second, _) = &r.last_extra[0];
    let f1 = first.data();
    let f2 = second.data();
    assert_eq!(
        f1.len(),
        14 + 20 + 1480,
        "outer fragment payload: floor(1480/8)*8"
    );
    assert_eq!(
        u16::from_be_bytes([f1[20], f1[21]]),
        0x2000,
        "MF, offset 0, DF clear"
    );
    assert_eq!(
        u16::from_be_bytes([f2[20], f2[21]]),
        1480 / 8,
        "last fragment: MF clear, offset 185"
    );
    assert_eq!(
        f2.len() - 34 + f1.len() - 34,
        1500 + 50 - 20,
        "outer payload preserved"
    );
    assert_eq!(
        &f1[42..50],
        &[0x08, 0, 0, 0, 0, 0, 100, 0],
        "VXLAN header in the first fragment"
    );
    assert!(ipv4_checksum_ok(&f2[14..34]));
}

fn tcp_syn(src: [u8; 4], dst: [u8; 4], mss: u16, from_vm: bool) -> Vec<u8> {
    let (smac, dmac) = if from_vm {
        (VM_MAC, ROUTER_MAC)
    } else {
        (REMOTE_INNER_MAC, ROUTER_MAC)
    };
    let mut f = Vec::new();
    PacketBuilder::ethernet2(smac, dmac)
        .ipv4(src, dst, 64)
        .tcp(40000, 80, 1, 64240)
        .syn()
        .options(&[
            etherparse::TcpOptionElement::MaximumSegmentSize(mss),
            etherparse::TcpOptionElement::SelectiveAcknowledgementPermitted,
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::WindowScale(7),
        ])
        .unwrap()
        .write(&mut f, &[])
        .unwrap();
    f
}

fn tcp_mss_and_csum_ok(ip: &[u8]) -> (u16, bool) {
    let (h, rest) = etherparse::Ipv4Header::from_slice(ip).unwrap();
    let (tcp, payload) =
        etherparse::TcpHeader::from_slice(&rest[..usize::from(h.total_len) - 20]).unwrap();
    let mss = tcp
        .options_iterator()
        .find_map(|o| match o {
            Ok(etherparse::TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
            _ => None,
        })
        .unwrap();
    let ok = tcp.calc_checksum_ipv4(&h, payload).unwrap() == tcp.checksum;
    (mss, ok)
}

#[test]
fn mss_clamped_both_ways_through_tunnels() {
    let mut r = Rig::new();
    let (v, p) = r.run(1, &tcp_syn(VM, REMOTE, 1460, true));
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(
        tcp_mss_and_csum_ok(&p.data()[64..]),
        (1410, true),
        "VXLAN: 1500 - 50 - 40"
    );
    let (v, p) = r.run(1, &tcp_syn(VM, [198, 51, 100, 20], 1460, true));
    assert_eq!(v, Verdict::Tx(0));
    assert_eq!(
        tcp_mss_and_csum_ok(&p.data()[46..]),
        (1428, true),
        "MPLSoUDP: 1500 - 32 - 40"
    );
    // Small MSS untouched.
    let (_, p) = r.run(1, &tcp_syn(VM, REMOTE, 1200, true));
    assert_eq!(tcp_mss_and_csum_ok(&p.data()[64..]), (1200, true));
    // From the tunnel toward vm2, whose MTU is 1400: min(1450, 1400) - 40.
    let (v, p) = r.run(
        0,
        &vxlan_from_peer(100, 0x08, &tcp_syn(REMOTE, VM2, 1460, false)),
    );
    assert_eq!(v, Verdict::Tx(2));
    assert_eq!(tcp_mss_and_csum_ok(&p.data()[14..]), (1360, true));
    assert_eq!(r.stats.events_of(Event::MssClamped), 3);
    // A vif with mss_clamp = false is left alone.
    let cfg = CONFIG.replace(
        "ip = [\"198.51.100.2\", \"2001:db8:100::2\"]",
        "ip = [\"198.51.100.2\", \"2001:db8:100::2\"]\nmss_clamp = false",
    );
    r.t = Config::from_toml(&cfg)
        .unwrap()
        .build_tables([9; 6])
        .unwrap();
    let (_, p) = r.run(1, &tcp_syn(VM, REMOTE, 1460, true));
    assert_eq!(tcp_mss_and_csum_ok(&p.data()[64..]).0, 1460);
}

#[test]
fn decap_too_big_for_the_vif_answers_through_the_tunnel() {
    let mut r = Rig::new();
    let mut inner = Vec::new();
    PacketBuilder::ethernet2(REMOTE_INNER_MAC, ROUTER_MAC)
        .ipv4(REMOTE, VM2, 64)
        .udp(5000, 6000)
        .write(&mut inner, &vec![7u8; 1450 - 28])
        .unwrap();
    inner[20] |= 0x40;
    inner[24] = 0;
    inner[25] = 0;
    let ck = etherparse::Ipv4Header::from_slice(&inner[14..])
        .unwrap()
        .0
        .calc_header_checksum();
    inner[24..26].copy_from_slice(&ck.to_be_bytes());
    let (v, p) = r.run(0, &vxlan_from_peer(100, 0x08, &inner));
    assert_eq!(v, Verdict::Tx(0), "the error goes back into the tunnel");
    let d = p.data();
    assert_eq!(&d[30..34], &PEER);
    let icmp_ip = &d[64..];
    assert_eq!(&icmp_ip[16..20], &REMOTE);
    assert_eq!(icmp_ip[20], 3);
    assert_eq!(icmp_ip[21], 4);
    assert_eq!(
        u16::from_be_bytes([icmp_ip[26], icmp_ip[27]]),
        1400,
        "the vif's MTU"
    );
    // Without DF: fragmented to the vif MTU.
    inner[20] &= !0x40;
    inner[24] = 0;
    inner[25] = 0;
    let ck = etherparse::Ipv4Header::from_slice(&inner[14..])
        .unwrap()
        .0
        .calc_header_checksum();
    inner[24..26].copy_from_slice(&ck.to_be_bytes());
    let (v, p) = r.run(0, &vxlan_from_peer(100, 0x08, &inner));
    assert_eq!(v, Verdict::Tx(2));
    assert!(p.len() - 14 <= 1400);
    assert_eq!(r.last_extra.len(), 1);
    assert_eq!(r.last_extra[0].1, Verdict::Tx(2));
}

#[test]
fn ipv6_too_big_gets_packet_too_big() {
    let mut r = Rig::new();
    let vm6 = "2001:db8:100::2"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let rem6 = "2001:db8:100::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(VM_MAC, ROUTER_MAC)
        .ipv6(vm6, rem6, 64)
        .udp(1, 2)
        .write(&mut frame, &[0u8; 1452])
        .unwrap();
    let (v, p) = r.run(1, &frame);
    assert_eq!(v, Verdict::Tx(1));
    let d = p.data();
    assert_eq!(d.len(), 14 + 1280);
    let s = SlicedPacket::from_ethernet(d).unwrap();
    let Some(etherparse::NetSlice::Ipv6(ip)) = &s.net else {
        panic!()
    };
    assert_eq!(ip.header().destination(), vm6);
    assert_eq!(ip.header().hop_limit(), 64);
    assert_eq!(
        ip.header().source(),
        "fe80::200:5eff:fe00:100"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
    let Some(etherparse::TransportSlice::Icmpv6(i)) = s.transport else {
        panic!()
    };
    assert_eq!(
        i.icmp_type(),
        etherparse::Icmpv6Type::PacketTooBig { mtu: 1450 }
    );
    assert!(i.is_checksum_valid(ip.header().source(), ip.header().destination()));
    assert_eq!(r.stats.events_of(Event::Icmp6PtbSent), 1);
    // Hop limit 1: time exceeded.
    let mut f = Vec::new();
    PacketBuilder::ethernet2(VM_MAC, ROUTER_MAC)
        .ipv6(vm6, rem6, 1)
        .udp(1, 2)
        .write(&mut f, b"x")
        .unwrap();
    assert_eq!(r.run(1, &f).0, Verdict::Tx(1));
    assert_eq!(r.stats.events_of(Event::Icmp6TimeExceededSent), 1);
}

#[test]
fn pmtu_learned_from_fabric_icmp_and_relayed() {
    let mut r = Rig::new();
    // One of our own VXLAN packets, as the fabric would quote it.
    let (_, ours) = r.run(1, &ipv4_frame(VM, REMOTE, true, 200));
    let quote = ours.data()[14..14 + 20 + 8 + 8 + 14 + 20 + 8].to_vec();
    let mut icmp = vec![3u8, 4, 0, 0, 0, 0];
    icmp.extend_from_slice(&1400u16.to_be_bytes());
    icmp.extend_from_slice(&quote);
    let mut f = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, FABRIC_MAC)
        .ipv4([203, 0, 113, 9], US, 64)
        .write(&mut f, etherparse::IpNumber(1), &icmp)
        .unwrap();
    let l4 = 34;
    let mut s = 0u32;
    for c in f[l4..].chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    f[l4 + 2..l4 + 4].copy_from_slice(&(!(s as u16)).to_be_bytes());
    let (v, p) = r.run(0, &f);
    assert_eq!(v, Verdict::Tx(1), "relayed to the VM");
    let d = p.data();
    assert_eq!(&d[0..6], &VM_MAC);
    assert_eq!(&d[30..34], &VM);
    assert_eq!((d[34], d[35]), (3, 4));
    assert_eq!(u16::from_be_bytes([d[40], d[41]]), 1350, "1400 - 50");
    assert_eq!(r.stats.events_of(Event::PmtuLearned), 1);
    assert_eq!(r.stats.events_of(Event::IcmpRelayed), 1);
    assert_eq!(r.drops(DropReason::IcmpFromFabric), 1);
    // Now a 1400-byte DF packet no longer fits: the router answers with the learned MTU.
    let (v, p) = r.run(1, &ipv4_frame(VM, REMOTE, true, 1400));
    assert_eq!(v, Verdict::Tx(1));
    assert_eq!(u16::from_be_bytes([p.data()[40], p.data()[41]]), 1350);
}

#[test]
fn partial_checksums_from_the_vm_are_completed() {
    let mut r = Rig::new();
    let frame = tcp_syn(VM, REMOTE, 1200, true);
    // Replace the checksum by the pseudo-header sum, as a virtio guest with NEEDS_CSUM does.
    let mut partial = frame.clone();
    let tcp_len = (partial.len() - 34) as u32;
    let mut s: u32 = 6 + tcp_len;
    for c in partial[26..34].chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    partial[50..52].copy_from_slice(&(s as u16).to_be_bytes());
    let mut pkts = [VecPacket::from_bytes(&partial)];
    pkts[0].csum_partial = true;
    let mut v = [Verdict::Drop(DropReason::TxFull)];
    process_burst(&mut r.ctx, &r.t, 1, &mut pkts, &mut v, &mut r.extra);
    assert_eq!(v[0], Verdict::Tx(0));
    assert_eq!(tcp_mss_and_csum_ok(&pkts[0].data()[64..]), (1200, true));
    assert!(!pkts[0].csum_partial, "offload flag cleared");
    assert_eq!(r.stats.events_of(Event::CsumCompleted), 1);
}

#[test]
fn nd_proxy_for_vms_and_inside_vxlan() {
    let mut r = Rig::new();
    let vm6: std::net::Ipv6Addr = "2001:db8:100::2".parse().unwrap();
    let rem6: std::net::Ipv6Addr = "2001:db8:100::1".parse().unwrap();
    let ns = |src: std::net::Ipv6Addr, smac: [u8; 6], target: std::net::Ipv6Addr| {
        let t = target.octets();
        let dst: std::net::Ipv6Addr = format!("ff02::1:ff{:02x}:{:02x}{:02x}", t[13], t[14], t[15])
            .parse()
            .unwrap();
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&t);
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&smac);
        let mut f = Vec::new();
        PacketBuilder::ethernet2(smac, [0x33, 0x33, 0xff, t[13], t[14], t[15]])
            .ipv6(src.octets(), dst.octets(), 255)
            .icmpv6(etherparse::Icmpv6Type::Unknown {
                type_u8: 135,
                code_u8: 0,
                bytes5to8: [0; 4],
            })
            .write(&mut f, &body[4..])
            .unwrap();
        f
    };
    let (v, p) = r.run(1, &ns(vm6, VM_MAC, rem6));
    assert_eq!(v, Verdict::Tx(1));
    let d = p.data();
    assert_eq!(&d[0..6], &VM_MAC);
    assert_eq!(&d[6..12], &ROUTER_MAC);
    assert_eq!(d[54], 136, "neighbor advertisement");
    assert_eq!(&d[22..38], &rem6.octets());
    // Its own address: no answer (duplicate address detection must not be fooled).
    assert_eq!(
        r.run(1, &ns(vm6, VM_MAC, vm6)).0,
        Verdict::Drop(DropReason::NdIgnored)
    );
    // From the remote, inside VXLAN, for the VM's address.
    let (v, p) = r.run(
        0,
        &vxlan_from_peer(100, 0x08, &ns(rem6, REMOTE_INNER_MAC, vm6)),
    );
    assert_eq!(v, Verdict::Tx(0));
    let d = p.data();
    assert_eq!(&d[30..34], &PEER);
    assert_eq!(
        u16::from_be_bytes([d[16], d[17]]) as usize,
        d.len() - 14,
        "outer length redone"
    );
    assert!(ipv4_checksum_ok(&d[14..34]));
    assert_eq!(d[50 + 54], 136);
    assert_eq!(r.stats.events_of(Event::NdReplied), 2);
}

fn tcp_packet(
    ttl: u8,
    tos: u8,
    id: u16,
    df: bool,
    syn_mss: Option<u16>,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    let mut b = PacketBuilder::ethernet2(VM_MAC, ROUTER_MAC)
        .ipv4(VM, REMOTE, ttl)
        .tcp(40000, 80, 7, 1000);
    if let Some(m) = syn_mss {
        b = b
            .syn()
            .options(&[
                etherparse::TcpOptionElement::Noop,
                etherparse::TcpOptionElement::MaximumSegmentSize(m),
            ])
            .unwrap();
    }
    b.write(&mut f, payload).unwrap();
    f[15] = tos;
    f[18..20].copy_from_slice(&id.to_be_bytes());
    f[20] = if df { 0x40 } else { 0 };
    f[24] = 0;
    f[25] = 0;
    let ck = etherparse::Ipv4Header::from_slice(&f[14..])
        .unwrap()
        .0
        .calc_header_checksum();
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, .. ProptestConfig::default() })]
    /// Every rewrite on the way (TTL decrement, MSS clamp: incremental; outer header: full)
    /// leaves checksums that a full recomputation confirms.
    #[test]
    fn rewrites_keep_checksums_exact(ttl in 2u8..=255, tos in any::<u8>(), id in any::<u16>(),
                                     syn_mss in proptest::option::of(500u16..=9000),
                                     payload in proptest::collection::vec(any::<u8>(), 0..1300)) {
        let mut r = Rig::new();
        let frame = tcp_packet(ttl, tos, id, true, syn_mss, &payload);
        let (v, p) = r.run(1, &frame);
        prop_assert_eq!(v, Verdict::Tx(0));
        let d = p.data();
        prop_assert!(ipv4_checksum_ok(&d[14..34]), "outer header checksum");
        let inner = &d[64..];
        prop_assert!(ipv4_checksum_ok(&inner[..20]), "inner header checksum after TTL decrement");
        prop_assert_eq!(inner[8], ttl - 1);
        let (h, rest) = etherparse::Ipv4Header::from_slice(inner).unwrap();
        let (tcp, data) = etherparse::TcpHeader::from_slice(rest).unwrap();
        prop_assert_eq!(tcp.calc_checksum_ipv4(&h, data).unwrap(), tcp.checksum, "TCP checksum");
        if let Some(m) = syn_mss {
            let got = tcp.options_iterator().find_map(|o| match o {
                Ok(etherparse::TcpOptionElement::MaximumSegmentSize(x)) => Some(x),
                _ => None,
            });
            prop_assert_eq!(got, Some(m.min(1410)));
        }
        // And back: the reply through the tunnel to the VM.
        let mut back = tcp_packet(ttl, tos, id, false, syn_mss, &payload);
        back[0..6].copy_from_slice(&ROUTER_MAC);
        back[6..12].copy_from_slice(&REMOTE_INNER_MAC);
        back[26..30].copy_from_slice(&REMOTE);
        back[30..34].copy_from_slice(&VM);
        // Addresses swapped: fix both checksums the simple way.
        let (h, rest) = etherparse::Ipv4Header::from_slice(&back[14..]).unwrap();
        let (mut tcp, data) = etherparse::TcpHeader::from_slice(rest).unwrap();
        tcp.checksum = tcp.calc_checksum_ipv4(&h, data).unwrap();
        let th = tcp.to_bytes();
        back[34..34 + th.len()].copy_from_slice(&th);
        back[24] = 0;
        back[25] = 0;
        let ck = h.calc_header_checksum();
        back[24..26].copy_from_slice(&ck.to_be_bytes());
        let (v, p) = r.run(0, &vxlan_from_peer(100, 0x08, &back));
        prop_assert_eq!(v, Verdict::Tx(1));
        let d = p.data();
        prop_assert!(ipv4_checksum_ok(&d[14..34]));
        let (h, rest) = etherparse::Ipv4Header::from_slice(&d[14..]).unwrap();
        let (tcp, data) = etherparse::TcpHeader::from_slice(rest).unwrap();
        prop_assert_eq!(tcp.calc_checksum_ipv4(&h, data).unwrap(), tcp.checksum);
    }
}

#[test]
fn ecmp_spreads_flows_and_keeps_each_on_one_member() {
    let cfg = format!(
        "{CONFIG}\n[[nexthop]]\nid = 40\ntype = \"ecmp\"\nmembers = [10, 20]\n[[route]]\nvrf = 1\nprefix = \"198.51.100.60/32\"\nnexthop = 40\n"
    );
    let mut r = Rig::new();
    r.t = Config::from_toml(&cfg)
        .unwrap()
        .build_tables([9; 6])
        .unwrap();
    let mut per_member = [0u32; 2];
    for sport in 0..64u16 {
        let frame = vm_udp(VM, [198, 51, 100, 60], 64, 3000 + sport, b"ecmp");
        let (v, p) = r.run(1, &frame);
        assert_eq!(v, Verdict::Tx(0));
        let dport = u16::from_be_bytes([p.data()[36], p.data()[37]]);
        let member = match dport {
            4789 => 0,
            6635 => 1,
            other => panic!("unexpected encapsulation, UDP port {other}"),
        };
        per_member[member] += 1;
        let (_, again) = r.run(1, &frame);
        assert_eq!(
            &again.data()[34..38],
            &p.data()[34..38],
            "a flow stays on its member"
        );
    }
    assert!(
        per_member[0] >= 16 && per_member[1] >= 16,
        "64 flows over 2 members: {per_member:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Fast paths: the same outcome as the general pipeline.

/// Frames a fast path may take (and variants it must hand over): from the fabric (port 0) and
/// from vm1 (port 1).
fn fast_path_templates() -> Vec<(u16, Vec<u8>)> {
    let inner = remote_inner(VM, 64, &[0x5a; 40]);
    let mut tcp_ack = tcp_syn(REMOTE, VM, 1460, false);
    tcp_ack[47] = 0x10; // ACK instead of SYN
    let vm_tcp_ack = {
        let mut f = tcp_syn(VM, REMOTE, 1460, true);
        f[47] = 0x10;
        f
    };
    vec![
        (0, vxlan_from_peer(100, 0x08, &inner)),
        (
            0,
            vxlan_from_peer(100, 0x08, &remote_inner(VM2, 64, &[1; 1400])),
        ),
        (0, vxlan_from_peer(100, 0x08, &remote_inner(VM, 1, b"ttl"))),
        (
            0,
            vxlan_from_peer(100, 0x08, &tcp_syn(REMOTE, VM2, 1460, false)),
        ),
        (0, vxlan_from_peer(100, 0x08, &tcp_ack)),
        (0, mpls_over(true, 300, 64, &inner[14..])),
        (0, mpls_over(false, 300, 64, &inner[14..])),
        (0, mpls_over(true, 300, 1, &inner[14..])),
        (1, vm_udp(VM, REMOTE, 64, 9, &[7; 30])),
        (1, vm_udp(VM, [198, 51, 100, 20], 64, 9, &[7; 30])),
        (1, vm_udp(VM, [198, 51, 100, 21], 64, 9, &[7; 30])),
        (1, vm_udp(VM, [198, 51, 100, 30], 64, 9, &[7; 30])),
        (1, vm_udp(VM, [198, 51, 100, 40], 64, 9, &[7; 30])),
        (1, vm_udp(VM, [198, 51, 100, 99], 64, 9, &[7; 30])),
        (1, vm_udp(VM, VM2, 64, 9, &[7; 30])),
        (1, vm_udp(VM, REMOTE, 2, 9, &[7; 30])),
        (1, tcp_syn(VM, REMOTE, 1460, true)),
        (1, vm_tcp_ack),
        (1, ipv4_frame(VM, REMOTE, true, 1480)),
        (1, ipv4_frame(VM, REMOTE, false, 1480)),
        (1, ipv4_frame(VM, VM2, true, 1450)),
        // IP options whose first 20 bytes still check out: only the IHL tells.
        (0, vxlan_from_peer(100, 0x08, &with_ip_options(&inner, 14))),
        (
            0,
            mpls_over(true, 300, 64, &with_ip_options(&inner, 14)[14..]),
        ),
        (1, with_ip_options(&vm_udp(VM, REMOTE, 64, 9, &[7; 30]), 14)),
        (1, with_ip_options(&vm_udp(VM, VM2, 64, 9, &[7; 30]), 14)),
        // Bytes after the packet (Ethernet padding or trailing garbage): the tunnel fast
        // paths leave them to the general path; from a VM they are trimmed.
        (0, padded(&vxlan_from_peer(100, 0x08, &inner), 4)),
        (0, padded(&mpls_over(true, 300, 64, &inner[14..]), 2)),
        (0, padded(&mpls_over(false, 300, 64, &inner[14..]), 6)),
        (1, padded(&vm_udp(VM, REMOTE, 64, 9, &[7; 30]), 4)),
        (1, padded(&vm_udp(VM, VM2, 64, 9, &[7; 30]), 4)),
    ]
}

/// `frame` with `n` bytes after it.
fn padded(frame: &[u8], n: usize) -> Vec<u8> {
    let mut f = frame.to_vec();
    f.resize(frame.len() + n, 0xA5);
    f
}

/// One burst through a fresh rig with the fast paths on or off: verdicts, bytes out, extra
/// packets, and every drop and event counter.
type BurstOutcome = (
    Vec<Verdict>,
    Vec<Vec<u8>>,
    Vec<(Vec<u8>, Verdict)>,
    Vec<u64>,
);

fn run_burst(fast: bool, port: u16, frames: &[Vec<u8>]) -> BurstOutcome {
    let mut r = Rig::new();
    r.ctx.fast_path = fast;
    let mut pkts: Vec<VecPacket> = frames.iter().map(|f| VecPacket::from_bytes(f)).collect();
    let mut v = vec![Verdict::Drop(DropReason::TxFull); pkts.len()];
    process_burst(&mut r.ctx, &r.t, port, &mut pkts, &mut v, &mut r.extra);
    let extra = r
        .extra
        .drain()
        .map(|(p, v)| (p.data().to_vec(), v))
        .collect();
    let counters = r
        .stats
        .drops
        .iter()
        .chain(r.stats.events.iter())
        .map(|c| c.get())
        .collect();
    (
        v,
        pkts.iter().map(|p| p.data().to_vec()).collect(),
        extra,
        counters,
    )
}

#[test]
fn fast_paths_take_the_common_cases() {
    // Which templates the fast path takes (the others it must leave untouched).
    let taken = [
        true, false, false, false, true, true, true, false, // from the fabric
        true, true, true, false, false, false, true, true, false, true, false, false, false, false,
        false, false, false, // IP options
        false, false, false, true, true, // padded
    ];
    let all = fast_path_templates();
    assert_eq!(all.len(), taken.len());
    for ((port, f), want) in all.iter().zip(taken) {
        let mut r = Rig::new();
        let mut p = VecPacket::from_bytes(f);
        let got = vrouter::datapath::pipeline::fast_path_only(&mut r.ctx, &r.t, *port, &mut p);
        assert_eq!(got.is_some(), want, "port {port}, frame {f:02x?}");
        if got.is_none() {
            assert_eq!(p.data(), &f[..], "left untouched");
        }
        let a = run_burst(true, *port, std::slice::from_ref(f));
        let b = run_burst(false, *port, std::slice::from_ref(f));
        assert_eq!(a, b, "port {port}, frame {f:02x?}");
        if let Some(v) = got {
            assert_eq!(v, a.0[0]);
            assert_eq!(p.data(), &a.1[0][..]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]
    /// Bursts of valid and corrupted frames give the same verdicts, bytes, extra packets and
    /// counters with the fast paths as without them.
    #[test]
    fn fast_paths_match_the_general_pipeline(
        fabric in any::<bool>(),
        picks in proptest::collection::vec(
            (0usize..64, proptest::collection::vec((0usize..110, any::<u8>()), 0..3), proptest::option::of(0usize..120)),
            1..8)) {
        let all = fast_path_templates();
        let port = if fabric { 0 } else { 1 };
        let mine: Vec<&Vec<u8>> = all.iter().filter(|(p, _)| *p == port).map(|(_, f)| f).collect();
        let frames: Vec<Vec<u8>> = picks
            .iter()
            .map(|(i, flips, trunc)| {
                let mut f = mine[i % mine.len()].clone();
                for &(at, b) in flips {
                    if let Some(x) = f.get_mut(at) {
                        *x = b;
                    }
                }
                if let Some(n) = trunc {
                    f.truncate(*n);
                }
                f
            })
            .collect();
        let a = run_burst(true, port, &frames);
        let b = run_burst(false, port, &frames);
        prop_assert_eq!(a, b);
    }
}

/// One worker context (and so one FIB cache) across table versions: VXLAN packets go where
/// the tables in force say, whether a route or the VNI's VRF changed, and back again.
#[test]
fn fast_path_caches_follow_the_tables_for_vxlan() {
    const DST: [u8; 4] = [198, 51, 100, 50];
    let nexthop12 = "\n[[nexthop]]\nid = 12\ntype = \"interface\"\nvif = \"vm2\"\n";
    let route = |vrf: u16, nh: u32| {
        format!("\n[[route]]\nvrf = {vrf}\nprefix = \"198.51.100.50/32\"\nnexthop = {nh}\n")
    };
    let build = |toml: String| -> Tables {
        Config::from_toml(&toml)
            .unwrap()
            .build_tables([9; 6])
            .unwrap()
    };
    // A: 198.51.100.50 to vm2 (port 2); B: to vm1 (port 1); C: VNI 100 now VRF 2's, where
    // there is no route to it.
    let a = build(format!("{CONFIG}{nexthop12}{}", route(1, 12)));
    let b = build(format!("{CONFIG}{nexthop12}{}", route(1, 11)));
    let moved = CONFIG.replacen("id = 1\nvni = 100\n", "id = 1\n", 1);
    assert_ne!(moved, CONFIG);
    let c = build(format!(
        "{moved}{nexthop12}{}\n[[vrf]]\nid = 2\nvni = 100\n",
        route(1, 12)
    ));
    let stats = Arc::new(CoreStats::default());
    let mut ctx = CoreCtx::new(stats.clone(), HZ);
    ctx.set_now(HZ);
    let mut extra = Extra::default();
    let frame = vxlan_from_peer(100, 0x08, &remote_inner(DST, 64, b"cached"));
    for (t, want) in [
        (&a, Verdict::Tx(2)),
        (&a, Verdict::Tx(2)),
        (&b, Verdict::Tx(1)),
        (&a, Verdict::Tx(2)),
        (&c, Verdict::Drop(DropReason::NoRoute)),
        (&a, Verdict::Tx(2)),
        (&b, Verdict::Tx(1)),
    ] {
        let mut pkts: Vec<VecPacket> = (0..4).map(|_| VecPacket::from_bytes(&frame)).collect();
        let mut v = [Verdict::Drop(DropReason::TxFull); 4];
        process_burst(&mut ctx, t, 0, &mut pkts, &mut v, &mut extra);
        assert_eq!(v, [want; 4]);
    }
    // Every packet was decapsulated (those of C too, before the general path dropped them).
    assert_eq!(stats.events[Event::VxlanDecap as usize].get(), 7 * 4);
    assert_eq!(stats.drops[DropReason::NoRoute as usize].get(), 4);
}
