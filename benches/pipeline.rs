//! ns/packet for the datapath's paths, on bursts of 32, through the same pipeline code the
//! router runs (on byte buffers instead of mbufs), with a small and a large route table.
//!
//!   cargo bench --bench pipeline
//!   cargo bench --bench pipeline -- 1M_routes/vxlan     (a subset: criterion's filter)
//!
//! Benchmarks are named `pipeline/<table>/<path>[/32_dsts]`:
//! - `<table>`: `10_routes`, the node of `benches/node/mod.rs`, shared with `examples/icount.rs`
//!   (two VMs, four tunnel and interface nexthops, 5 routes) plus the 128 host routes of the
//!   `32_dsts` variants, 133 in all, in one VRF; `1M_routes`, the same plus 4095 more VRFs and ~1M
//!   random IPv4 routes in 10.0.0.0/8 over all 4096 VRFs (a default route in each). Built once;
//!   the paths' own destinations resolve to the same nexthops in both (checked). The benchmark
//!   sends the same bursts again and again, so the FIB nodes it reads stay in cache: what the 1M
//!   table costs in cache misses on varied traffic, `cargo bench --bench control` measures
//!   (lookups).
//! - `<path>`: vxlan_decap_to_vif, mpls_udp_decap_to_vif, mpls_gre_decap_to_vif,
//!   vif_to_vxlan_encap, vif_to_mpls_udp_encap, vif_to_mpls_gre_encap, vif_to_vif, proxy_arp.
//!   Each is run once untimed first and must give the verdict of that path for all 32 packets.
//! - plain: 32 flows (UDP ports) to one destination, so the pipeline's per-burst memo answers
//!   all but the first lookup; `32_dsts`: 32 destinations, each its own /32 route to the same
//!   nexthop (for MPLS decap, where the label selects the nexthop and no FIB is read: 32
//!   labels), so every packet pays its lookup.
//!
//! Each iteration restores the 32 packets from their templates, then runs `process_burst`;
//! `pipeline/reset_only` times the restore alone (of the VXLAN decap frames, the largest
//! here: an upper bound for the others), to subtract from the figures.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vrouter::control::api::proto::Change;
use vrouter::control::config::Config;
use vrouter::control::model::Model;
use vrouter::datapath::pipeline::{process_burst, CoreCtx, Extra, Verdict};
use vrouter::datapath::{CoreStats, DropReason, VecPacket};
use vrouter::tables::{PortIdx, Tables};

#[path = "node/mod.rs"]
mod node;
use node::{
    eth, inner_ip, ipv4, udp, CONFIG, FMAC, PEER, PMAC, REMOTE_VM_IP, RMAC, US, VM1_IP, VM1_MAC,
};

const BURST: usize = 32;
const VRFS: u32 = 4096;
const BIG_ROUTES: usize = 1_000_000;

const FABRIC: PortIdx = 0;
const VM1: PortIdx = 1;
const VM2: PortIdx = 2;
/// The label of vm1 in the config, and the first of the 32 the `32_dsts` variant adds.
const VM1_LABEL: u32 = 300;
const SPREAD_LABEL: u32 = 400;

/// Nexthop ids of the config.
const NH_VXLAN: u32 = 10;
const NH_VM1: u32 = 11;
const NH_MPLS_UDP: u32 = 20;
const NH_MPLS_GRE: u32 = 21;

/// Destination `k` (< 32) of the `32_dsts` variant of path `path` (< 4): 172.16.0.0/12, outside
/// the config's and the big table's prefixes, spread over four /16s and 32 /24s so that the
/// 32 lookups take different branches of the trie.
fn spread_dst(path: u8, k: u16) -> [u8; 4] {
    [
        172,
        16 + 4 * path + (k % 4) as u8,
        (k * 8) as u8,
        k as u8 + 1,
    ]
}

const SPREAD_VXLAN_DECAP: u8 = 0;
const SPREAD_VXLAN_ENCAP: u8 = 1;
const SPREAD_MPLS_UDP_ENCAP: u8 = 2;
const SPREAD_MPLS_GRE_ENCAP: u8 = 3;

/// The routes and labels the `32_dsts` variants need, in both tables.
fn spread_changes() -> Vec<(String, Change)> {
    let mut out = Vec::new();
    for (path, nh) in [
        (SPREAD_VXLAN_DECAP, NH_VM1),
        (SPREAD_VXLAN_ENCAP, NH_VXLAN),
        (SPREAD_MPLS_UDP_ENCAP, NH_MPLS_UDP),
        (SPREAD_MPLS_GRE_ENCAP, NH_MPLS_GRE),
    ] {
        for k in 0..BURST as u16 {
            out.push((
                String::new(),
                Change::RouteAdd {
                    vrf: 1,
                    prefix: format!("{}/32", Ipv4Addr::from(spread_dst(path, k))),
                    nexthop: nh,
                },
            ));
        }
    }
    for k in 0..BURST as u32 {
        out.push((
            String::new(),
            Change::MplsAdd {
                label: SPREAD_LABEL + k,
                nexthop: NH_VM1,
            },
        ));
    }
    out
}

/// A deterministic xorshift generator (same routes every run).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `small` plus VRFs 0 and 2..4096 and ~1M IPv4 routes as `benches/control.rs` makes them:
/// a default in each VRF, then random /32s and /24s (one in 16) in 10.0.0.0/8 over all VRFs,
/// to the config's two UDP tunnels, programmed as `route_add_bulk`s.
fn big_model(small: &Model) -> Model {
    let vrfs: Vec<(String, Change)> = (0..VRFS)
        .filter(|&v| v != 1)
        .map(|v| {
            (
                format!("vrf{v}"),
                Change::VrfAdd {
                    id: v,
                    vni: Some(0x10_0000 + v),
                    router_ip: None,
                    router_ip6: None,
                },
            )
        })
        .collect();
    let m = small.apply_batch(&vrfs).unwrap();
    let nhs = [NH_VXLAN, NH_MPLS_UDP];
    let mut per_vrf: Vec<[Vec<String>; 2]> = vec![Default::default(); VRFS as usize];
    for (v, lists) in per_vrf.iter_mut().enumerate() {
        lists[v % 2].push("0.0.0.0/0".into());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in VRFS as usize..BIG_ROUTES {
        let vrf = (rng.next() % u64::from(VRFS)) as usize;
        let r = rng.next();
        let a = Ipv4Addr::from(r as u32 & 0x00FF_FFFF | 0x0A00_0000);
        let len = if (r >> 32) & 0xF == 0 { 24 } else { 32 };
        per_vrf[vrf][(r >> 40) as usize & 1].push(format!("{a}/{len}"));
    }
    let bulk: Vec<(String, Change)> = per_vrf
        .into_iter()
        .enumerate()
        .flat_map(|(vrf, lists)| {
            lists.into_iter().zip(nhs).map(move |(prefixes, nexthop)| {
                (
                    String::new(),
                    Change::RouteAddBulk {
                        vrf: vrf as u32,
                        nexthop,
                        prefixes,
                    },
                )
            })
        })
        .collect();
    m.apply_batch(&bulk).unwrap()
}

fn route_count(t: &Tables) -> usize {
    t.vrfs.iter().map(|v| v.fib4.len()).sum()
}

/// One benchmarked case: what arrives on `port`, the verdict every packet must get, and the
/// inner destinations the FIB of VRF 1 is asked about (to check both tables agree on them).
struct Case {
    name: String,
    port: PortIdx,
    templates: Vec<Vec<u8>>,
    expect: Verdict,
    looked_up: Vec<[u8; 4]>,
}

/// Destinations of a burst: `None` for one destination, `Some(path)` for that path's 32.
type Dsts = Option<u8>;

fn case_name(path: &str, dsts: Dsts) -> String {
    match dsts {
        None => path.to_string(),
        Some(_) => format!("{path}/32_dsts"),
    }
}

fn dst_of(dsts: Dsts, one: [u8; 4], i: u16) -> [u8; 4] {
    match dsts {
        None => one,
        Some(path) => spread_dst(path, i),
    }
}

fn vxlan_decap(dsts: Dsts) -> Case {
    let flow_dst = |i| dst_of(dsts, VM1_IP, i);
    Case {
        name: case_name("vxlan_decap_to_vif", dsts),
        port: FABRIC,
        templates: (0..BURST as u16)
            .map(|i| {
                let inner = eth(
                    RMAC,
                    [2, 0, 0, 0, 2, 1],
                    0x0800,
                    &inner_ip(REMOTE_VM_IP, flow_dst(i), i),
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
        expect: Verdict::Tx(VM1),
        looked_up: (0..BURST as u16).map(flow_dst).collect(),
    }
}

/// MPLSoUDP (`gre` false) or MPLSoGRE decapsulation to vm1: one label, or 32 (`spread`).
fn mpls_decap(gre: bool, spread: bool) -> Case {
    let path = if gre {
        "mpls_gre_decap_to_vif"
    } else {
        "mpls_udp_decap_to_vif"
    };
    let dsts = spread.then_some(SPREAD_VXLAN_DECAP);
    Case {
        name: case_name(path, dsts),
        port: FABRIC,
        templates: (0..BURST as u16)
            .map(|i| {
                let label = if spread {
                    SPREAD_LABEL + u32::from(i)
                } else {
                    VM1_LABEL
                };
                let mut m = (label << 12 | 0x100 | 64).to_be_bytes().to_vec();
                m.extend_from_slice(&inner_ip(REMOTE_VM_IP, dst_of(dsts, VM1_IP, i), i));
                if gre {
                    let mut g = vec![0, 0, 0x88, 0x47];
                    g.extend_from_slice(&m);
                    eth(FMAC, PMAC, 0x0800, &ipv4(PEER, US, 47, &g))
                } else {
                    eth(
                        FMAC,
                        PMAC,
                        0x0800,
                        &ipv4(PEER, US, 17, &udp(50000 + i, 6635, &m)),
                    )
                }
            })
            .collect(),
        expect: Verdict::Tx(VM1),
        // The label selects the nexthop: no FIB lookup.
        looked_up: Vec::new(),
    }
}

/// From vm1 to `one` (or to the 32 destinations of `dsts`), leaving by `out`.
fn from_vm1(path: &str, dsts: Dsts, one: [u8; 4], out: PortIdx) -> Case {
    let flow_dst = |i| dst_of(dsts, one, i);
    Case {
        name: case_name(path, dsts),
        port: VM1,
        templates: (0..BURST as u16)
            .map(|i| eth(RMAC, VM1_MAC, 0x0800, &inner_ip(VM1_IP, flow_dst(i), i)))
            .collect(),
        expect: Verdict::Tx(out),
        looked_up: (0..BURST as u16).map(flow_dst).collect(),
    }
}

/// ARP requests from vm1 for 32 addresses the router routes: answered back to vm1.
fn proxy_arp() -> Case {
    let targets: Vec<[u8; 4]> = (0..BURST as u8).map(|i| [198, 51, 100, 100 + i]).collect();
    Case {
        name: "proxy_arp".into(),
        port: VM1,
        templates: targets
            .iter()
            .map(|target| {
                let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
                a.extend_from_slice(&VM1_MAC);
                a.extend_from_slice(&VM1_IP);
                a.extend_from_slice(&[0; 6]);
                a.extend_from_slice(target);
                eth([0xff; 6], VM1_MAC, 0x0806, &a)
            })
            .collect(),
        expect: Verdict::Tx(VM1),
        looked_up: targets,
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (path, one, spread) in [
        ("vxlan_decap_to_vif", VM1_IP, SPREAD_VXLAN_DECAP),
        ("mpls_udp_decap_to_vif", VM1_IP, SPREAD_VXLAN_DECAP),
        ("mpls_gre_decap_to_vif", VM1_IP, SPREAD_VXLAN_DECAP),
        ("vif_to_vxlan_encap", REMOTE_VM_IP, SPREAD_VXLAN_ENCAP),
        (
            "vif_to_mpls_udp_encap",
            [198, 51, 100, 20],
            SPREAD_MPLS_UDP_ENCAP,
        ),
        (
            "vif_to_mpls_gre_encap",
            [198, 51, 100, 21],
            SPREAD_MPLS_GRE_ENCAP,
        ),
    ] {
        for dsts in [None, Some(spread)] {
            out.push(match path {
                "vxlan_decap_to_vif" => vxlan_decap(dsts),
                "mpls_udp_decap_to_vif" => mpls_decap(false, dsts.is_some()),
                "mpls_gre_decap_to_vif" => mpls_decap(true, dsts.is_some()),
                _ => from_vm1(path, dsts, one, FABRIC),
            });
        }
    }
    out.push(from_vm1("vif_to_vif", None, [198, 51, 100, 3], VM2));
    out.push(proxy_arp());
    out
}

/// Checks that `case` takes its path on `t`, then times it.
fn bench_case(g: &mut BenchmarkGroup<'_, WallTime>, table: &str, t: &Tables, case: &Case) {
    let name = format!("{table}/{}", case.name);
    let mut ctx = CoreCtx::new(Arc::new(CoreStats::default()), 1_000_000_000);
    let mut pkts: Vec<VecPacket> = case
        .templates
        .iter()
        .map(|f| VecPacket::from_bytes(f))
        .collect();
    let mut verdicts = [Verdict::Drop(DropReason::TxFull); BURST];
    let mut extra = Extra::default();
    process_burst(&mut ctx, t, case.port, &mut pkts, &mut verdicts, &mut extra);
    assert!(
        verdicts.iter().all(|v| *v == case.expect),
        "{name}: {verdicts:?}"
    );
    assert!(extra.is_empty(), "{name}: the path made extra packets");
    g.bench_function(name, |b| {
        b.iter(|| {
            for (p, f) in pkts.iter_mut().zip(&case.templates) {
                p.reset(f);
            }
            process_burst(
                &mut ctx,
                t,
                case.port,
                black_box(&mut pkts),
                &mut verdicts,
                &mut extra,
            );
            black_box(&verdicts);
        })
    });
}

fn benches(c: &mut Criterion) {
    let t0 = Instant::now();
    let small = Config::from_toml(CONFIG)
        .unwrap()
        .build_model(FMAC)
        .unwrap()
        .apply_batch(&spread_changes())
        .unwrap();
    let big = big_model(&small);
    eprintln!(
        "tables: {} and {} IPv4 routes ({} VRFs), built in {:.1} s",
        route_count(&small.tables),
        route_count(&big.tables),
        big.tables.vrfs.iter().count(),
        t0.elapsed().as_secs_f64()
    );
    let cases = cases();
    // The paths' destinations must resolve the same way in both tables.
    let (fib_small, fib_big) = (
        &small.tables.vrf(1).unwrap().fib4,
        &big.tables.vrf(1).unwrap().fib4,
    );
    for case in &cases {
        for d in &case.looked_up {
            let a = u32::from_be_bytes(*d);
            let nh = fib_small.lookup(a);
            assert!(nh.is_some(), "{}: no route to {d:?}", case.name);
            assert_eq!(nh, fib_big.lookup(a), "{}: {d:?}", case.name);
        }
    }

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BURST as u64));
    let reset = vxlan_decap(None);
    let mut pkts: Vec<VecPacket> = reset
        .templates
        .iter()
        .map(|f| VecPacket::from_bytes(f))
        .collect();
    g.bench_function("reset_only", |b| {
        b.iter(|| {
            for (p, f) in pkts.iter_mut().zip(&reset.templates) {
                p.reset(f);
            }
            black_box(&pkts);
        })
    });
    // Both table sizes of a path one after the other: their ratio is the least disturbed by
    // other load on the machine.
    for case in &cases {
        bench_case(&mut g, "10_routes", &small.tables, case);
        bench_case(&mut g, "1M_routes", &big.tables, case);
    }
    g.finish();
}

// 29 benchmarks: ~3.5 s each keeps the run near 2 minutes.
criterion_group! {
    name = pipeline;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(50);
    targets = benches
}
criterion_main!(pipeline);
