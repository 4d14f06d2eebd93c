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

#[path = "../benches/node/mod.rs"]
mod node;
use node::{
    eth, inner_ip, ipv4, udp, CONFIG, FMAC, PEER, PMAC, REMOTE_VM_IP, RMAC, US, VM1_IP, VM1_MAC,
};

/// The node of `benches/pipeline.rs`, plus a /26 to vm1 for the 32-destination decap.
const EXTRA_ROUTE: &str = r#"
[[route]]
vrf = 1
prefix = "198.51.100.64/26"
nexthop = 11
"#;

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
                        VM1_IP
                    };
                    let inner = eth(
                        RMAC,
                        [2, 0, 0, 0, 2, 1],
                        0x0800,
                        &inner_ip(REMOTE_VM_IP, dst, i),
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
                    m.extend_from_slice(&inner_ip([198, 51, 100, 20], VM1_IP, i));
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
                "vxlan_encap" => REMOTE_VM_IP,
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
                    .map(|i| eth(RMAC, VM1_MAC, 0x0800, &inner_ip(VM1_IP, dst, i)))
                    .collect(),
                out,
            )
        }
        "proxy_arp" => (
            1,
            flows
                .map(|i| {
                    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
                    a.extend_from_slice(&VM1_MAC);
                    a.extend_from_slice(&VM1_IP);
                    a.extend_from_slice(&[0; 6]);
                    a.extend_from_slice(&[198, 51, 100, 100 + (i as u8)]);
                    eth([0xff; 6], VM1_MAC, 0x0806, &a)
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
    let t = Config::from_toml(&format!("{CONFIG}{EXTRA_ROUTE}"))
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
