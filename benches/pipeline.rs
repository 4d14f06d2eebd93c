//! ns/packet for the datapath's main paths, on bursts of 32, through the same pipeline code
//! the router runs (on byte buffers instead of mbufs).
//!
//!   cargo bench --bench pipeline
//!
//! Each iteration restores the 32 packets from a template (a ~100-byte copy each, measured
//! alone as `reset_only`) and runs them through `process_burst`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use vrouter::control::config::Config;
use vrouter::datapath::pipeline::{process_burst, CoreCtx, Extra, Verdict};
use vrouter::datapath::{CoreStats, DropReason, VecPacket};
use vrouter::tables::Tables;

const BURST: usize = 32;

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
[[nexthop]]
id = 20
type = "tunnel"
encap = "mpls-udp"
dst = "203.0.113.2"
label = 200
[[route]]
vrf = 1
prefix = "198.51.100.0/24"
nexthop = 10
[[route]]
vrf = 1
prefix = "203.0.113.128/25"
nexthop = 20
"#;

fn ipv4_header(buf: &mut Vec<u8>, src: [u8; 4], dst: [u8; 4], proto: u8, payload_len: usize) {
    let total = (20 + payload_len) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let mut s = 0u32;
    for c in h.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    h[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    buf.extend_from_slice(&h);
}

/// Ethernet + IPv4 + UDP with an 18-byte payload (a 64-byte frame), flow `i`.
fn inner_frame(dst_mac: [u8; 6], src_mac: [u8; 6], src: [u8; 4], dst: [u8; 4], i: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    ipv4_header(&mut f, src, dst, 17, 8 + 18);
    f.extend_from_slice(&(1000 + i).to_be_bytes());
    f.extend_from_slice(&7000u16.to_be_bytes());
    f.extend_from_slice(&26u16.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[0xab; 18]);
    f
}

fn vxlan_frame(i: u16) -> Vec<u8> {
    let inner = inner_frame(
        [0, 0, 0x5e, 0, 1, 0],
        [2, 0, 0, 0, 2, 1],
        [198, 51, 100, 1],
        [198, 51, 100, 2],
        i,
    );
    let mut f = Vec::new();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    ipv4_header(
        &mut f,
        [203, 0, 113, 2],
        [203, 0, 113, 1],
        17,
        8 + 8 + inner.len(),
    );
    f.extend_from_slice(&(50000 + i).to_be_bytes());
    f.extend_from_slice(&4789u16.to_be_bytes());
    f.extend_from_slice(&((8 + 8 + inner.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x08, 0, 0, 0, 0, 0, 100, 0]);
    f.extend_from_slice(&inner);
    f
}

fn run_path(c: &mut Criterion, name: &str, port: u16, templates: Vec<Vec<u8>>, expect: Verdict) {
    let t: Tables = Config::from_toml(CONFIG)
        .unwrap()
        .build_tables([2, 0, 0, 0, 0, 1])
        .unwrap();
    let mut ctx = CoreCtx::new(Arc::new(CoreStats::default()), 1_000_000_000);
    let mut pkts: Vec<VecPacket> = templates.iter().map(|f| VecPacket::from_bytes(f)).collect();
    let mut verdicts = [Verdict::Drop(DropReason::TxFull); BURST];
    // Check the path really is the one named before timing it.
    let mut extra = Extra::default();
    process_burst(&mut ctx, &t, port, &mut pkts, &mut verdicts, &mut extra);
    assert!(
        verdicts.iter().all(|v| *v == expect),
        "{name}: {:?}",
        verdicts[0]
    );
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || (),
            |_| {
                for (p, f) in pkts.iter_mut().zip(&templates) {
                    p.reset(f);
                }
                process_burst(
                    &mut ctx,
                    &t,
                    port,
                    black_box(&mut pkts),
                    &mut verdicts,
                    &mut extra,
                );
                black_box(&verdicts);
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function(format!("{name}/reset_only"), |b| {
        b.iter(|| {
            for (p, f) in pkts.iter_mut().zip(&templates) {
                p.reset(f);
            }
            black_box(&pkts);
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let decap: Vec<Vec<u8>> = (0..BURST as u16).map(vxlan_frame).collect();
    run_path(c, "vxlan_decap_to_vif", 0, decap, Verdict::Tx(1));
    let encap: Vec<Vec<u8>> = (0..BURST as u16)
        .map(|i| {
            inner_frame(
                [0, 0, 0x5e, 0, 1, 0],
                [2, 0, 0, 0, 1, 2],
                [198, 51, 100, 2],
                [198, 51, 100, 1],
                i,
            )
        })
        .collect();
    run_path(c, "vif_to_vxlan_encap", 1, encap, Verdict::Tx(0));
    let mpls: Vec<Vec<u8>> = (0..BURST as u16)
        .map(|i| {
            inner_frame(
                [0, 0, 0x5e, 0, 1, 0],
                [2, 0, 0, 0, 1, 2],
                [198, 51, 100, 2],
                [203, 0, 113, 200],
                i,
            )
        })
        .collect();
    run_path(c, "vif_to_mpls_udp_encap", 1, mpls, Verdict::Tx(0));
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
