//! Pushes N packets of one path through the pipeline, for a deterministic instruction count
//! under `valgrind --tool=callgrind` (see scripts/icount.sh, which prints the table).
//!
//!   icount PATH N [offload]   (vxlan_decap_32dst: 32 destinations per burst, one FIB lookup each)
//!                        offload: packets arrive marked "IPv4 checksum good" by the NIC
//!                        PATH: vxlan_decap | vxlan_encap | mpls_udp_decap | mpls_gre_decap |
//!                              mpls_udp_encap | mpls_gre_encap | vif_to_vif | proxy_arp | reset_only
//!
//! Each burst first restores its 32 packets from templates (`reset_only` counts that alone,
//! so the script can subtract it).

use std::hint::black_box;
use std::sync::Arc;
use vrouter::control::config::Config;
use vrouter::datapath::pipeline::{process_burst, CoreCtx, Extra, Verdict};
use vrouter::datapath::{CoreStats, DropReason, VecPacket};

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
[[route]]
vrf = 1
prefix = "198.51.100.64/26"
nexthop = 11
[[mpls]]
label = 300
nexthop = 11
"#;

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

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    csum(&mut h);
    h.extend_from_slice(payload);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const US: [u8; 4] = [203, 0, 113, 1];
const PEER: [u8; 4] = [203, 0, 113, 2];
const FMAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PMAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const RMAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 0];
const VMMAC: [u8; 6] = [2, 0, 0, 0, 1, 2];

/// 64-byte inner frames (IPv4/UDP, 18-byte payload), flow `i`.
fn inner_ip(src: [u8; 4], dst: [u8; 4], i: u16) -> Vec<u8> {
    ipv4(src, dst, 17, &udp(1000 + i, 7000, &[0xab; 18]))
}

fn templates(path: &str) -> (u16, Vec<Vec<u8>>, Verdict) {
    let flows = 0..32u16;
    match path {
        "vxlan_decap" | "vxlan_decap_32dst" | "reset_only" => (
            0,
            flows
                .map(|i| {
                    // 32dst: every packet of the burst to another address (a /26 to vm1), so
                    // each needs its own FIB lookup.
                    let dst = if path == "vxlan_decap_32dst" {
                        [198, 51, 100, 64 + i as u8]
                    } else {
                        [198, 51, 100, 2]
                    };
                    let inner = eth(
                        RMAC,
                        [2, 0, 0, 0, 2, 1],
                        0x0800,
                        &inner_ip([198, 51, 100, 1], dst, i),
                    );
                    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 100, 0];
                    vx.extend_from_slice(&inner);
                    eth(
                        FMAC,
                        PMAC,
                        0x0800,
                        &ipv4(PEER, US, 17, &udp(50000 + i, 4789, &vx)),
                    )
                })
                .collect(),
            Verdict::Tx(1),
        ),
        "mpls_udp_decap" | "mpls_gre_decap" => (
            0,
            flows
                .map(|i| {
                    let mut m = (300u32 << 12 | 0x100 | 64).to_be_bytes().to_vec();
                    m.extend_from_slice(&inner_ip([198, 51, 100, 20], [198, 51, 100, 2], i));
                    if path == "mpls_udp_decap" {
                        eth(
                            FMAC,
                            PMAC,
                            0x0800,
                            &ipv4(PEER, US, 17, &udp(50000 + i, 6635, &m)),
                        )
                    } else {
                        let mut g = vec![0, 0, 0x88, 0x47];
                        g.extend_from_slice(&m);
                        eth(FMAC, PMAC, 0x0800, &ipv4(PEER, US, 47, &g))
                    }
                })
                .collect(),
            Verdict::Tx(1),
        ),
        "vxlan_encap" | "mpls_udp_encap" | "mpls_gre_encap" | "vif_to_vif" => {
            let dst = match path {
                "vxlan_encap" => [198, 51, 100, 1],
                "mpls_udp_encap" => [198, 51, 100, 20],
                "mpls_gre_encap" => [198, 51, 100, 21],
                _ => [198, 51, 100, 3],
            };
            let out = if path == "vif_to_vif" {
                Verdict::Tx(2)
            } else {
                Verdict::Tx(0)
            };
            (
                1,
                flows
                    .map(|i| eth(RMAC, VMMAC, 0x0800, &inner_ip([198, 51, 100, 2], dst, i)))
                    .collect(),
                out,
            )
        }
        "proxy_arp" => (
            1,
            flows
                .map(|i| {
                    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
                    a.extend_from_slice(&VMMAC);
                    a.extend_from_slice(&[198, 51, 100, 2]);
                    a.extend_from_slice(&[0; 6]);
                    a.extend_from_slice(&[198, 51, 100, 100 + (i as u8)]);
                    eth([0xff; 6], VMMAC, 0x0806, &a)
                })
                .collect(),
            Verdict::Tx(1),
        ),
        other => {
            eprintln!("unknown path {other}");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map(String::as_str).unwrap_or("vxlan_decap");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let t = Config::from_toml(CONFIG)
        .unwrap()
        .build_tables([2, 0, 0, 0, 0, 1])
        .unwrap();
    let mut ctx = CoreCtx::new(Arc::new(CoreStats::default()), 1_000_000_000);
    let (port, tmpl, want) = templates(path);
    let offload = args.get(3).is_some_and(|a| a == "offload");
    let mut pkts: Vec<VecPacket> = tmpl
        .iter()
        .map(|f| {
            let mut p = VecPacket::from_bytes(f);
            p.ip_csum_good = offload;
            p
        })
        .collect();
    let mut verdicts = [Verdict::Drop(DropReason::TxFull); 32];
    let mut extra = Extra::default();
    // Check the path before counting it.
    process_burst(&mut ctx, &t, port, &mut pkts, &mut verdicts, &mut extra);
    if path != "reset_only" && verdicts.iter().any(|v| *v != want) {
        eprintln!("{path}: unexpected verdict {:?}", verdicts[0]);
        std::process::exit(1);
    }
    for _ in 0..n / 32 {
        for (p, f) in pkts.iter_mut().zip(&tmpl) {
            p.reset(f);
        }
        if path != "reset_only" {
            process_burst(
                &mut ctx,
                &t,
                port,
                black_box(&mut pkts),
                &mut verdicts,
                &mut extra,
            );
        }
        black_box(&verdicts);
    }
}
