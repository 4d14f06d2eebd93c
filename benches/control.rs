//! Control-plane figures: route programming rate (config load and API batch), publish
//! latency to the workers (p50/p99), and FIB lookup cost with 10 and 1M routes.
//!
//!   cargo bench --bench control            (full: 1M IPv4 + 100k IPv6 routes, 4096 VRFs)
//!   VROUTER_BENCH_ROUTES=100000 cargo bench --bench control   (smaller)
//!
//! Prints a table; no timing is asserted.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vrouter::control::api::proto::{self, Change, Op};
use vrouter::control::config::Config;
use vrouter::control::model::Model;
use vrouter::tables::rcu::Published;

const VRFS: u32 = 4096;

/// A deterministic xorshift generator (no extra dependency, same routes every run).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn base_model() -> Model {
    let text = r#"
[fabric]
dev = "net_null0"
ip = "203.0.113.1/24"
[[nexthop]]
id = 1
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.2"
vni = 100
inner_mac = "02:00:00:00:02:01"
[[nexthop]]
id = 2
type = "tunnel"
encap = "mpls-udp"
dst = "203.0.113.3"
label = 200
"#;
    let cfg = Config::from_toml(text).unwrap();
    let mut m = cfg.build_model([2, 0, 0, 0, 0, 1]).unwrap();
    let vrfs: Vec<(String, Change)> = (1..=VRFS)
        .map(|id| {
            (
                format!("vrf{id}"),
                Change::VrfAdd {
                    id: id - 1,
                    vni: Some(id),
                    router_ip: None,
                    router_ip6: None,
                },
            )
        })
        .collect();
    m = m.apply_batch(&vrfs).unwrap();
    m
}

/// `n` IPv4 routes spread over the VRFs: mostly host routes (VMs) and /24s, a default each.
fn v4_routes(n: usize, rng: &mut Rng) -> Vec<(String, Change)> {
    let mut out = Vec::with_capacity(n);
    for v in 0..VRFS.min(n as u32) {
        out.push((
            String::new(),
            Change::RouteAdd {
                vrf: v,
                prefix: "0.0.0.0/0".into(),
                nexthop: 2,
            },
        ));
    }
    while out.len() < n {
        let r = rng.next();
        let vrf = (r % u64::from(VRFS)) as u32;
        let a = std::net::Ipv4Addr::from((r >> 16) as u32 | 0x0a00_0000);
        let len = if r & 0xF == 0 { 24 } else { 32 };
        out.push((
            String::new(),
            Change::RouteAdd {
                vrf,
                prefix: format!("{a}/{len}"),
                nexthop: 1 + (r as u32 >> 31),
            },
        ));
    }
    out
}

fn v6_routes(n: usize, rng: &mut Rng) -> Vec<(String, Change)> {
    (0..n)
        .map(|_| {
            let r = rng.next();
            let vrf = (r % u64::from(VRFS)) as u32;
            let a = std::net::Ipv6Addr::from(0x2001_0db8u128 << 96 | u128::from(rng.next()) << 32);
            (
                String::new(),
                Change::RouteAdd {
                    vrf,
                    prefix: format!("{a}/{}", if r & 1 == 0 { 128 } else { 64 }),
                    nexthop: 1,
                },
            )
        })
        .collect()
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n4: usize = std::env::var("VROUTER_BENCH_ROUTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let n6 = n4 / 10;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    println!("control-plane bench: {n4} IPv4 + {n6} IPv6 routes over {VRFS} VRFs");

    // 1. Programming through the batch path (the config file takes the same one).
    let base = base_model();
    let routes4 = v4_routes(n4, &mut rng);
    let routes6 = v6_routes(n6, &mut rng);
    let t0 = Instant::now();
    let m = base.apply_batch(&routes4).unwrap();
    let m = m.apply_batch(&routes6).unwrap();
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "  batch apply (config load path): {:.2} M routes/s ({} routes in {:.3} s)",
        (n4 + n6) as f64 / dt / 1e6,
        n4 + n6,
        dt
    );

    // 2. The API path: JSON request text → parse → apply, in batches of 100k.
    let batch: Vec<Change> = v4_routes(100_000.min(n4), &mut rng)
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    let line = serde_json::to_string(&proto::Request {
        v: 1,
        id: 1,
        op: Op::Batch { changes: batch },
    })
    .unwrap();
    let t0 = Instant::now();
    let req = proto::parse_request(&line).unwrap();
    let Op::Batch { changes } = req.op else {
        unreachable!()
    };
    let labelled: Vec<(String, Change)> = changes.into_iter().map(|c| (String::new(), c)).collect();
    let parsed = t0.elapsed().as_secs_f64();
    let m2 = m.apply_batch(&labelled).unwrap();
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "  API batch (JSON parse + apply onto {} routes): {:.2} M routes/s ({} routes, {:.1} MB request, parse {:.0} ms, total {:.0} ms)",
        n4 + n6,
        labelled.len() as f64 / dt / 1e6,
        labelled.len(),
        line.len() as f64 / 1e6,
        parsed * 1e3,
        dt * 1e3
    );
    drop(m2);

    // 2b. The same through route_add_bulk (one change per VRF, its prefixes as strings).
    let mut per_vrf: Vec<Vec<String>> = vec![Vec::new(); VRFS as usize];
    for (_, c) in v4_routes(100_000.min(n4), &mut rng) {
        if let Change::RouteAdd { vrf, prefix, .. } = c {
            per_vrf[vrf as usize].push(prefix);
        }
    }
    let bulk: Vec<Change> = per_vrf
        .into_iter()
        .enumerate()
        .map(|(vrf, prefixes)| Change::RouteAddBulk {
            vrf: vrf as u32,
            nexthop: 1,
            prefixes,
        })
        .collect();
    let line = serde_json::to_string(&proto::Request {
        v: 1,
        id: 1,
        op: Op::Batch { changes: bulk },
    })
    .unwrap();
    let t0 = Instant::now();
    let req = proto::parse_request(&line).unwrap();
    let Op::Batch { changes } = req.op else {
        unreachable!()
    };
    let n: usize = changes
        .iter()
        .map(|c| {
            if let Change::RouteAddBulk { prefixes, .. } = c {
                prefixes.len()
            } else {
                0
            }
        })
        .sum();
    let labelled: Vec<(String, Change)> = changes.into_iter().map(|c| (String::new(), c)).collect();
    let parsed = t0.elapsed().as_secs_f64();
    let m2 = m.apply_batch(&labelled).unwrap();
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "  API batch with route_add_bulk (JSON parse + apply): {:.2} M routes/s ({n} routes, {:.1} MB request, parse {:.0} ms, total {:.0} ms)",
        n as f64 / dt / 1e6,
        line.len() as f64 / 1e6,
        parsed * 1e3,
        dt * 1e3
    );
    drop(m2);

    // 3. Publish latency: from a one-route change request to every worker having moved on,
    //    with two reader threads forwarding (looking up) meanwhile.
    let published = Arc::new(Published::new(m.tables.clone(), 2));
    let stop = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|w| {
            let (p, stop, lookups) = (published.clone(), stop.clone(), lookups.clone());
            std::thread::spawn(move || {
                p.online(w);
                let mut x = 0x1234_5678u32;
                while !stop.load(Ordering::Relaxed) {
                    let t = p.read();
                    for _ in 0..32 {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        let vrf = (x % VRFS) as u16;
                        black_box(t.vrf(vrf).and_then(|v| v.fib4.lookup(x | 0x0a00_0000)));
                    }
                    lookups.fetch_add(32, Ordering::Relaxed);
                    p.quiescent(w);
                }
                p.offline(w);
            })
        })
        .collect();
    let mut model = m;
    let mut lat = Vec::new();
    for i in 0..300u32 {
        let change = [(
            String::new(),
            Change::RouteAdd {
                vrf: i % VRFS,
                prefix: format!("198.51.100.{}/32", i % 250),
                nexthop: 1,
            },
        )];
        let t0 = Instant::now();
        model = model.apply_batch(&change).unwrap();
        published.publish(model.tables.clone());
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    println!(
        "  publish latency (request → visible in all workers, 300 one-route batches, 2 workers forwarding): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        percentile(&mut lat.clone(), 0.5),
        percentile(&mut lat.clone(), 0.99),
        percentile(&mut lat, 1.0)
    );

    // 4. FIB memory at this scale: heap bytes of every VRF's IPv4 and IPv6 FIB.
    let (mut b4, mut r4) = (0usize, 0usize);
    let (mut b6, mut r6) = (0usize, 0usize);
    // The shared front end of IPv4 lookups (filter, per-VRF miss answers) counts as IPv4.
    b4 += model.tables.vrfs.shared_bytes4();
    for v in model.tables.vrfs.iter() {
        b4 += v.fib4.heap_bytes() + std::mem::size_of_val(&v.fib4);
        r4 += v.fib4.len();
        b6 += v.fib6.heap_bytes() + std::mem::size_of_val(&v.fib6);
        r6 += v.fib6.len();
    }
    println!(
        "  FIB memory: IPv4 {:.1} B/route ({r4} routes, {:.1} MB), IPv6 {:.1} B/route ({r6} routes, {:.1} MB), together {:.1} B/route",
        b4 as f64 / r4 as f64,
        b4 as f64 / 1e6,
        b6 as f64 / r6 as f64,
        b6 as f64 / 1e6,
        (b4 + b6) as f64 / (r4 + r6) as f64
    );

    // 5. Lookup cost: 10 routes in one VRF vs the big table. Destinations come from a
    //    1M-entry array read in order (the same for both tables), in bursts of 32 as a worker
    //    sees them. `random`: uniform random (VRF, address); `hits`: an installed route with
    //    random host bits (for the small table, one of its 10 /24s). `one at a time`:
    //    `t.vrf(v)?.fib4.lookup(a)` (the VRF's own FIB); `lookup4`: `Tables::lookup4`, one at a
    //    time; `lookup4_burst`: `Tables::lookup4_burst`.
    let mut small = base_model();
    let ten: Vec<(String, Change)> = (0..10)
        .map(|i| {
            (
                String::new(),
                Change::RouteAdd {
                    vrf: 0,
                    prefix: format!("10.0.{i}.0/24"),
                    nexthop: 1,
                },
            )
        })
        .collect();
    small = small.apply_batch(&ten).unwrap();
    // The same 10 routes in each of the 4096 VRFs: separates the cost of many VRFs (a cold
    // VRF header per lookup) from the cost of many routes.
    let ten_each: Vec<(String, Change)> = (0..VRFS)
        .flat_map(|v| {
            (0..10).map(move |i| {
                (
                    String::new(),
                    Change::RouteAdd {
                        vrf: v,
                        prefix: format!("10.0.{i}.0/24"),
                        nexthop: 1,
                    },
                )
            })
        })
        .collect();
    let many_vrfs = base_model().apply_batch(&ten_each).unwrap();
    const KEYS: usize = 1 << 20;
    let mut x = 0x9876_5432u32;
    let mut xorshift = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let random = |vrfs: u32, next: &mut dyn FnMut() -> u32| -> Vec<(u16, u32)> {
        (0..KEYS)
            .map(|_| {
                let v = next();
                ((v % vrfs) as u16, next() | 0x0a00_0000)
            })
            .collect()
    };
    let small_random = random(1, &mut xorshift);
    let big_random = random(VRFS, &mut xorshift);
    let small_hits: Vec<(u16, u32)> = (0..KEYS)
        .map(|_| {
            let v = xorshift();
            (0, 0x0a00_0000 | (v % 10) << 8 | (v >> 24))
        })
        .collect();
    let installed: Vec<(u16, u32, u8)> = model
        .tables
        .vrfs
        .iter()
        .flat_map(|v| v.fib4.iter().map(move |(a, l, _)| (v.id, a, l)))
        .filter(|r| r.2 > 0)
        .collect();
    let big_hits: Vec<(u16, u32)> = (0..KEYS)
        .map(|_| {
            let (vrf, a, l) = installed[xorshift() as usize % installed.len()];
            let host = if l == 32 {
                0
            } else {
                xorshift() & (u32::MAX >> l)
            };
            (vrf, a | host)
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum How {
        /// `t.vrf(v)?.fib4.lookup(a)`, one key at a time.
        Vrf,
        /// `Tables::lookup4`, one key at a time.
        Single,
        /// `Tables::lookup4_burst`.
        Burst,
    }
    let run = |tables: &vrouter::tables::Tables, keys: &[(u16, u32)], how: How| -> f64 {
        let mut out = [None; 32];
        let mut hits = 0u32;
        let rounds = 20;
        let t0 = Instant::now();
        for _ in 0..rounds {
            for chunk in keys.chunks_exact(32) {
                match how {
                    How::Burst => tables.lookup4_burst(chunk, &mut out),
                    How::Single => {
                        for (o, &(v, a)) in out.iter_mut().zip(chunk) {
                            *o = tables.lookup4(v, a);
                        }
                    }
                    How::Vrf => {
                        for (o, &(v, a)) in out.iter_mut().zip(chunk) {
                            *o = tables.vrf(v).and_then(|f| f.fib4.lookup(a));
                        }
                    }
                }
                hits += out.iter().filter(|o| o.is_some()).count() as u32;
            }
        }
        black_box(hits);
        t0.elapsed().as_secs_f64() * 1e9 / (rounds * keys.len()) as f64
    };
    println!(
        "  lookup (ns/lookup, bursts of 32; {} routes over {VRFS} VRFs vs 10 routes in one VRF):",
        n4 + n6
    );
    for (name, small_keys, big_keys) in [
        ("random", &small_random, &big_random),
        ("hits", &small_hits, &big_hits),
    ] {
        for (how_name, how) in [
            ("one at a time", How::Vrf),
            ("lookup4", How::Single),
            ("lookup4_burst", How::Burst),
        ] {
            // Warm up, then measure.
            run(&small.tables, small_keys, how);
            let ns10 = run(&small.tables, small_keys, how);
            run(&model.tables, big_keys, how);
            let ns_big = run(&model.tables, big_keys, how);
            let ns_vrfs = if name == "random" {
                run(&many_vrfs.tables, big_keys, how)
            } else {
                f64::NAN
            };
            println!(
                "    {name:<6} {how_name:<14} 10 routes {ns10:5.1} ns, 1M routes {ns_big:5.1} ns: {:3.0}% of the 10-route throughput (10 routes in each VRF: {ns_vrfs:.1} ns)",
                ns10 / ns_big * 100.0
            );
        }
    }
}
