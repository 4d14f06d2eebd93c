//! The node that `benches/pipeline.rs` and `examples/icount.rs` push packets through, and
//! the frame builders both use (included by each with `#[path]`; not a bench target).

/// vm1 (port 1) and vm2 (port 2) in VRF 1 (VNI 100).
pub const CONFIG: &str = r#"
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
[[vif]]
name = "vm1"
dev = "a"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2"]
[[vif]]
name = "vm2"
dev = "b"
vrf = 1
mac = "02:00:00:00:01:03"
ip = ["198.51.100.3"]
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
[[route]]
vrf = 1
prefix = "198.51.100.0/24"
nexthop = 10
[[route]]
vrf = 1
prefix = "198.51.100.20/32"
nexthop = 20
[[route]]
vrf = 1
prefix = "198.51.100.21/32"
nexthop = 21
[[mpls]]
label = 300
nexthop = 11
"#;

/// The fabric address, the peer endpoint, and their MACs.
pub const US: [u8; 4] = [203, 0, 113, 1];
pub const PEER: [u8; 4] = [203, 0, 113, 2];
pub const FMAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const PMAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// The router's MAC toward VMs.
pub const RMAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 0];
pub const VM1_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
pub const VM1_IP: [u8; 4] = [198, 51, 100, 2];
/// A VM behind the peer (routed to the VXLAN tunnel).
pub const REMOTE_VM_IP: [u8; 4] = [198, 51, 100, 1];

fn csum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let mut s = 0u32;
    for c in h.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    h[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
}

pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    csum(&mut h);
    h.extend_from_slice(payload);
    h
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An inner IPv4/UDP packet with an 18-byte payload (a 64-byte frame behind Ethernet), flow `i`.
pub fn inner_ip(src: [u8; 4], dst: [u8; 4], i: u16) -> Vec<u8> {
    ipv4(src, dst, 17, &udp(1000 + i, 7000, &[0xab; 18]))
}
