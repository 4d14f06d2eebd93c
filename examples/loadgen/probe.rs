//! The test frames and the probe they carry.
//!
//! Every frame is an IPv4/UDP packet as a VM sends it (64 bytes on the wire by default, CRC
//! included), whose payload starts with a probe: a magic byte, the run it belongs to, a
//! sequence number and the TSC when it was handed to the driver. Toward the router's fabric
//! (direction decap) that frame travels inside VXLAN, as a remote VTEP would send it.
//!
//! Probe layout (18 bytes, little endian — only this program reads it):
//! `magic (0xA5) | run (u8) | seq (u64) | tsc (u64)`.

use std::fmt;
use std::net::Ipv4Addr;

use vrouter::wire::{ethernet, ipv4, udp, vxlan, MacAddr};

/// Bytes of the probe.
pub const PROBE_LEN: usize = 18;
/// First byte of every probe.
pub const MAGIC: u8 = 0xA5;
/// Inner UDP destination port of the test frames.
pub const PROBE_PORT: u16 = 7777;
/// First inner UDP source port; flow `i` uses `FLOW_PORT_BASE + i`.
pub const FLOW_PORT_BASE: u16 = 1024;
/// Most flows (distinct inner UDP source ports).
pub const MAX_FLOWS: u32 = 65536 - FLOW_PORT_BASE as u32;
/// Smallest and largest frame size (inner frame, CRC included).
pub const MIN_FRAME: usize = 64;
/// Largest frame size: an inner IP packet of 1382 bytes fits every path MTU the router
/// derives from a 1500-byte underlay (1450 for VXLAN).
pub const MAX_FRAME: usize = 1400;

const VXLAN_PORT: u16 = 4789;
const CRC_LEN: usize = 4;
/// Inner Ethernet + IPv4 + UDP headers.
const INNER_HEADERS: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN;
/// Outer Ethernet + IPv4 + UDP + VXLAN headers.
const VXLAN_HEADERS: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN + 8;

/// Which way the test traffic crosses the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// VXLAN from the fabric → decapsulated → the VM (vif).
    Decap,
    /// The VM (vif) → encapsulated in VXLAN → the fabric.
    Encap,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Decap => "decap (fabric → vif)",
            Direction::Encap => "encap (vif → fabric)",
        })
    }
}

/// The addresses of the test topology; they must match the router's configuration.
#[derive(Clone, Debug)]
pub struct Addrs {
    /// The router's fabric MAC (outer destination of VXLAN frames toward it).
    pub fabric_mac: MacAddr,
    /// The generator's fabric-side MAC (the remote VTEP's: outer source).
    pub peer_mac: MacAddr,
    /// The router's underlay address.
    pub router_ip: Ipv4Addr,
    /// The remote VTEP's underlay address.
    pub peer_ip: Ipv4Addr,
    /// VNI of the test VRF.
    pub vni: u32,
    /// The router MAC VMs see (inner destination in both directions).
    pub router_mac: MacAddr,
    /// The VM's MAC (source of its frames).
    pub vm_mac: MacAddr,
    /// Inner source MAC of frames from the remote side.
    pub remote_mac: MacAddr,
    /// The VM's address.
    pub vm_ip: Ipv4Addr,
    /// The remote host's address (behind the VTEP).
    pub remote_ip: Ipv4Addr,
}

/// One frame, built once, copied into every mbuf; per packet only the flow's source
/// port(s) and the probe change.
#[derive(Clone, Debug)]
pub struct Template {
    bytes: Vec<u8>,
    /// Offset of the inner UDP source port (the flow).
    inner_sport: usize,
    /// Offset of the outer UDP source port (VXLAN frames: entropy, as a VTEP derives it).
    outer_sport: Option<usize>,
    /// Offset of the probe.
    probe: usize,
}

impl Template {
    /// The frame for `dir`: `frame_size` is the inner frame's size on the wire, CRC
    /// included ([`MIN_FRAME`]..=[`MAX_FRAME`]).
    pub fn new(dir: Direction, a: &Addrs, frame_size: usize) -> Result<Template, String> {
        if !(MIN_FRAME..=MAX_FRAME).contains(&frame_size) {
            return Err(format!(
                "frame size {frame_size} is outside {MIN_FRAME}..={MAX_FRAME}"
            ));
        }
        let inner_len = frame_size - CRC_LEN;
        let (src_mac, src_ip, dst_ip) = match dir {
            Direction::Decap => (a.remote_mac, a.remote_ip, a.vm_ip),
            Direction::Encap => (a.vm_mac, a.vm_ip, a.remote_ip),
        };
        let mut inner = vec![0u8; inner_len];
        ethernet::emit(&mut inner, a.router_mac, src_mac, ethernet::ETHERTYPE_IPV4);
        let ip_len = (inner_len - ethernet::HEADER_LEN) as u16;
        ipv4::emit_header(
            &mut inner[ethernet::HEADER_LEN..],
            0,
            ip_len,
            0,
            true,
            64,
            ipv4::PROTO_UDP,
            src_ip,
            dst_ip,
        );
        let udp_off = ethernet::HEADER_LEN + ipv4::HEADER_LEN;
        udp::emit(
            &mut inner[udp_off..],
            FLOW_PORT_BASE,
            PROBE_PORT,
            ip_len - ipv4::HEADER_LEN as u16,
        );
        inner[INNER_HEADERS] = MAGIC;
        match dir {
            Direction::Encap => Ok(Template {
                bytes: inner,
                inner_sport: udp_off,
                outer_sport: None,
                probe: INNER_HEADERS,
            }),
            Direction::Decap => {
                let mut f = vec![0u8; VXLAN_HEADERS + inner_len];
                ethernet::emit(&mut f, a.fabric_mac, a.peer_mac, ethernet::ETHERTYPE_IPV4);
                let outer_ip_len = (f.len() - ethernet::HEADER_LEN) as u16;
                ipv4::emit_header(
                    &mut f[ethernet::HEADER_LEN..],
                    0,
                    outer_ip_len,
                    0,
                    true,
                    64,
                    ipv4::PROTO_UDP,
                    a.peer_ip,
                    a.router_ip,
                );
                udp::emit(
                    &mut f[udp_off..],
                    49152,
                    VXLAN_PORT,
                    outer_ip_len - ipv4::HEADER_LEN as u16,
                );
                vxlan::emit(&mut f[INNER_HEADERS..], a.vni);
                f[VXLAN_HEADERS..].copy_from_slice(&inner);
                Ok(Template {
                    bytes: f,
                    inner_sport: VXLAN_HEADERS + udp_off,
                    outer_sport: Some(udp_off),
                    probe: VXLAN_HEADERS + INNER_HEADERS,
                })
            }
        }
    }

    /// Length of the frame in the mbuf (no CRC).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Writes the frame for `flow` (0..[`MAX_FLOWS`]), `run` and `seq` into `buf`, which must
    /// be [`len`](Self::len) bytes long (`false`, nothing written, otherwise). The TSC field
    /// is left for [`stamp`](Self::stamp).
    #[inline]
    pub fn write(&self, buf: &mut [u8], flow: u16, run: u8, seq: u64) -> bool {
        if buf.len() != self.bytes.len() {
            return false;
        }
        buf.copy_from_slice(&self.bytes);
        let sport = FLOW_PORT_BASE.wrapping_add(flow);
        put(buf, self.inner_sport, &sport.to_be_bytes());
        if let Some(o) = self.outer_sport {
            // 49152..=65535, like the router's own encap (a hash of the flow there).
            put(buf, o, &(0xC000 | (flow & 0x3FFF)).to_be_bytes());
        }
        put(buf, self.probe + 1, &[run]);
        put(buf, self.probe + 2, &seq.to_le_bytes());
        true
    }

    /// Writes the send time into a frame made by [`write`](Self::write).
    #[inline]
    pub fn stamp(&self, buf: &mut [u8], tsc: u64) {
        put(buf, self.probe + 10, &tsc.to_le_bytes());
    }
}

/// Copies `bytes` to `buf[at..]` when it fits (it always does for frames of the template's
/// length); never panics.
#[inline]
fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// What a received probe says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub run: u8,
    pub seq: u64,
    pub tsc: u64,
}

/// The probe in a received frame: Ethernet/IPv4/UDP to [`PROBE_PORT`], directly or inside
/// VXLAN. `None` for anything else (ARP, other traffic, truncated frames). Never panics.
#[inline]
pub fn parse(frame: &[u8]) -> Option<Probe> {
    let (mut dport, mut payload) = udp_payload(frame)?;
    if dport == VXLAN_PORT {
        (dport, payload) = udp_payload(payload.get(8..)?)?;
    }
    if dport != PROBE_PORT {
        return None;
    }
    let p = payload.get(..PROBE_LEN)?;
    if p[0] != MAGIC {
        return None;
    }
    let mut seq = [0u8; 8];
    let mut tsc = [0u8; 8];
    seq.copy_from_slice(&p[2..10]);
    tsc.copy_from_slice(&p[10..18]);
    Some(Probe {
        run: p[1],
        seq: u64::from_le_bytes(seq),
        tsc: u64::from_le_bytes(tsc),
    })
}

/// Destination port and payload of an untagged Ethernet/IPv4/UDP frame (not a fragment).
#[inline]
fn udp_payload(f: &[u8]) -> Option<(u16, &[u8])> {
    if f.get(12..14)? != [0x08, 0x00] {
        return None;
    }
    let ip = f.get(ethernet::HEADER_LEN..)?;
    let ihl = usize::from(ip.first()? & 0x0F) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x3FFF;
    if ihl < ipv4::HEADER_LEN || *ip.get(9)? != ipv4::PROTO_UDP || frag != 0 {
        return None;
    }
    let udp = ip.get(..total)?.get(ihl..)?;
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    Some((dport, udp.get(udp::HEADER_LEN..)?))
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<MacAddr, String> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts
            .next()
            .ok_or_else(|| format!("{s:?} is not a MAC address"))?;
        if p.len() != 2 {
            return Err(format!("{s:?} is not a MAC address"));
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("{s:?} is not a MAC address"))?;
    }
    if parts.next().is_some() {
        return Err(format!("{s:?} is not a MAC address"));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use vrouter::control::config::Config;
    use vrouter::datapath::pipeline::{process_burst, CoreCtx, Extra, Verdict};
    use vrouter::datapath::{CoreStats, DropReason, VecPacket};

    fn addrs() -> Addrs {
        Addrs {
            fabric_mac: [2, 0, 0, 0, 0, 1],
            peer_mac: [2, 0, 0, 0, 0, 2],
            router_ip: Ipv4Addr::new(203, 0, 113, 1),
            peer_ip: Ipv4Addr::new(203, 0, 113, 2),
            vni: 100,
            router_mac: [0, 0, 0x5e, 0, 1, 0],
            vm_mac: [2, 0, 0, 0, 1, 2],
            remote_mac: [2, 0, 0, 0, 2, 1],
            vm_ip: Ipv4Addr::new(198, 51, 100, 2),
            remote_ip: Ipv4Addr::new(198, 51, 100, 1),
        }
    }

    /// The configuration scripts/latency.sh writes, with net_null devices in place of the
    /// vhost-user ports.
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
[[vif]]
name = "vm1"
dev = "net_null1"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2"]
[[nexthop]]
id = 10
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.2"
vni = 100
inner_mac = "02:00:00:00:02:01"
[[route]]
vrf = 1
prefix = "198.51.100.0/24"
nexthop = 10
"#;

    fn checksum_ok(ip_header: &[u8]) -> bool {
        ipv4::Packet::new_checked(ip_header).is_ok_and(|p| p.verify_checksum())
    }

    fn frame(t: &Template, flow: u16, run: u8, seq: u64, tsc: u64) -> Vec<u8> {
        let mut f = vec![0u8; t.len()];
        assert!(t.write(&mut f, flow, run, seq));
        t.stamp(&mut f, tsc);
        f
    }

    #[test]
    fn encap_frame_is_64_bytes_and_parses() {
        let t = Template::new(Direction::Encap, &addrs(), 64).unwrap();
        assert_eq!(t.len(), 60);
        let f = frame(&t, 5, 3, 0x1122_3344_5566_7788, 987_654_321);
        let s = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = &s.net else {
            panic!("not IPv4")
        };
        assert_eq!(ip.header().source(), [198, 51, 100, 2]);
        assert_eq!(ip.header().destination(), [198, 51, 100, 1]);
        assert!(checksum_ok(&f[14..]));
        let Some(etherparse::TransportSlice::Udp(u)) = s.transport else {
            panic!("not UDP")
        };
        assert_eq!(u.source_port(), FLOW_PORT_BASE + 5);
        assert_eq!(u.destination_port(), PROBE_PORT);
        assert_eq!(u.payload().len(), 18);
        assert_eq!(
            parse(&f),
            Some(Probe {
                run: 3,
                seq: 0x1122_3344_5566_7788,
                tsc: 987_654_321
            })
        );
    }

    #[test]
    fn decap_frame_is_vxlan_around_the_same_frame() {
        let a = addrs();
        let t = Template::new(Direction::Decap, &a, 64).unwrap();
        assert_eq!(t.len(), 110);
        let f = frame(&t, 0x4005, 1, 42, 7);
        let s = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = &s.net else {
            panic!("not IPv4")
        };
        assert_eq!(ip.header().destination(), [203, 0, 113, 1]);
        assert!(checksum_ok(&f[14..]));
        let Some(etherparse::TransportSlice::Udp(u)) = s.transport else {
            panic!("not UDP")
        };
        assert_eq!(u.destination_port(), 4789);
        assert_eq!(u.source_port(), 0xC005);
        assert_eq!(&f[42..50], &[0x08, 0, 0, 0, 0, 0, 100, 0]);
        let inner = &f[50..];
        assert_eq!(&inner[..6], &a.router_mac);
        assert!(checksum_ok(&inner[14..]));
        assert_eq!(
            parse(&f),
            Some(Probe {
                run: 1,
                seq: 42,
                tsc: 7
            })
        );
        // the inner frame alone parses too (what the VM receives after decap)
        assert_eq!(parse(inner).map(|p| p.seq), Some(42));
    }

    #[test]
    fn parse_rejects_other_frames_without_panicking() {
        let t = Template::new(Direction::Encap, &addrs(), 64).unwrap();
        let f = frame(&t, 0, 1, 1, 1);
        for cut in 0..f.len() {
            assert_eq!(parse(&f[..cut]), None, "cut at {cut}");
        }
        let mut g = f.clone();
        g[INNER_HEADERS] = 0; // magic
        assert_eq!(parse(&g), None);
        let mut g = f.clone();
        g[12] = 0x08;
        g[13] = 0x06; // ARP
        assert_eq!(parse(&g), None);
        let mut g = f;
        g[20] = 0x20; // more fragments
        assert_eq!(parse(&g), None);
    }

    #[test]
    fn frame_sizes() {
        let a = addrs();
        for size in [64, 128, 1400] {
            let t = Template::new(Direction::Encap, &a, size).unwrap();
            assert_eq!(t.len(), size - 4);
            let f = frame(&t, 0, 1, 9, 9);
            assert_eq!(parse(&f).map(|p| p.seq), Some(9));
        }
        assert!(Template::new(Direction::Decap, &a, 63).is_err());
        assert!(Template::new(Direction::Decap, &a, 1401).is_err());
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("02:00:00:00:0a:FF"), Ok([2, 0, 0, 0, 10, 255]));
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:00:00",
            "2:0:0:0:0:0",
            "zz:00:00:00:00:00",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }

    /// The frames go through the router's own pipeline the way the test expects: decap
    /// frames to the vif, VM frames to the fabric, the probe intact on the way out.
    #[test]
    fn router_pipeline_forwards_the_test_frames() {
        let tables = Config::from_toml(CONFIG)
            .unwrap()
            .build_tables([2, 0, 0, 0, 0, 1])
            .unwrap();
        let mut ctx = CoreCtx::new(Arc::new(CoreStats::default()), 1_000_000_000);
        let mut extra = Extra::default();
        for (dir, in_port, out_port) in [(Direction::Decap, 0, 1), (Direction::Encap, 1, 0)] {
            let t = Template::new(dir, &addrs(), 64).unwrap();
            let mut pkts: Vec<VecPacket> = (0..32u16)
                .map(|i| VecPacket::from_bytes(&frame(&t, i * 777, 2, u64::from(i), 1000)))
                .collect();
            let mut verdicts = [Verdict::Drop(DropReason::TxFull); 32];
            process_burst(
                &mut ctx,
                &tables,
                in_port,
                &mut pkts,
                &mut verdicts,
                &mut extra,
            );
            for (i, (p, v)) in pkts.iter().zip(verdicts).enumerate() {
                assert_eq!(v, Verdict::Tx(out_port), "{dir}: packet {i}");
                use vrouter::datapath::Packet;
                let probe = parse(p.data()).unwrap_or_else(|| panic!("{dir}: packet {i}"));
                assert_eq!((probe.run, probe.seq, probe.tsc), (2, i as u64, 1000));
            }
        }
    }
}
