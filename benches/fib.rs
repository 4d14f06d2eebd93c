//! FIB (longest-prefix match) at scale: build rate, memory, lookup cost.
//!
//!   cargo bench --bench fib
//!
//! Tables: 1M IPv4 routes over 4096 VRFs (per VRF: a default, three shorter prefixes
//! (/12, /16, /20), 24 /24s (12 local subnets, 12 remote) and ~216 /32 hosts inside the local
//! subnets) and 100k IPv6 routes over the same VRFs (per VRF: a default, a /48, three /64
//! subnets, ~19 /128 hosts numbered IPAM-style inside them). Routes are inserted in a random
//! order across VRFs, as a control plane would receive them.
//!
//! - `build/*`: inserting every route into fresh FIBs (elements = routes: Melem/s).
//! - `lookup/*`: batches of 4096 lookups (elements = lookups; time / 4096 = ns/lookup),
//!   `(vrf, destination)` pairs read from a 1M-entry array so that the set of lines touched
//!   is not recycled by the cache between iterations. `10_routes` is one VRF with 10 routes;
//!   `1M` the table above; `10_routes_x4096_vrfs` the 10 routes in each of 4096 VRFs, which
//!   separates the cost of many VRFs (a cold root per lookup) from that of many routes. `random`: uniform random destinations (mostly resolved by short
//!   prefixes and defaults); `hits`: a random installed route and random host bits inside it
//!   (the walk goes as deep as the route: the cache-miss-bound case).
//! - `clone/*`: duplicating one VRF's FIB, as a copy-on-write batch does.
//! - `baseline_lpm/*`: the same runs on the hash-per-length `Lpm` for comparison.
//!
//! Memory (heap bytes, from `heap_bytes()` and from a counting allocator) is printed before
//! the measurements.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use vrouter::tables::fib::{Fib, FibKey};
use vrouter::tables::lpm::Lpm4;

/// Counts live heap bytes, to check `heap_bytes()` and to size the baseline.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const VRFS: usize = 4096;
const V4_ROUTES: usize = 1_000_000;
const V6_ROUTES: usize = 100_000;
const BATCH: usize = 4096;
const DESTS: usize = 1 << 20;

/// splitmix64: deterministic, fast.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// `k` distinct values in `lo..hi`.
    fn distinct(&mut self, k: usize, lo: u64, hi: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (lo..hi).collect();
        for i in 0..k {
            let j = i + self.below((v.len() - i) as u64) as usize;
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// `(vrf, prefix, len, nh)`.
type Route<K> = (u16, K, u8, u32);

fn routes_v4(rng: &mut Rng) -> Vec<Route<u32>> {
    let per = 1 + 3 + 24 + 216;
    let extra = V4_ROUTES - per * VRFS;
    let mut r = Vec::with_capacity(V4_ROUTES);
    for v in 0..VRFS {
        let vrf = v as u16;
        let push = |a: u32, l: u8, r: &mut Vec<Route<u32>>| {
            let nh = rng_nh(v, r.len());
            r.push((vrf, a, l, nh))
        };
        push(0, 0, &mut r);
        push(
            ((rng.below(224) as u32) << 24) | ((rng.below(16) as u32) << 20),
            12,
            &mut r,
        );
        push(0xAC10_0000 | ((rng.below(16) as u32) << 16), 16, &mut r);
        push(0xC0A8_0000 | ((rng.below(16) as u32) << 12), 20, &mut r);
        let base = 0x0A00_0000 | ((rng.below(256) as u32) << 16);
        let subnets = rng.distinct(12, 0, 256);
        for &s in &subnets {
            push(base | ((s as u32) << 8), 24, &mut r);
        }
        for _ in 0..12 {
            push(0x0A00_0000 | ((rng.below(1 << 16) as u32) << 8), 24, &mut r);
        }
        for (i, &s) in subnets.iter().enumerate() {
            let k = 18 + usize::from(i == 0 && v < extra);
            for h in rng.distinct(k, 2, 255) {
                push(base | ((s as u32) << 8) | h as u32, 32, &mut r);
            }
        }
    }
    rng.shuffle(&mut r);
    r
}

fn routes_v6(rng: &mut Rng, random_iid: bool) -> Vec<Route<u128>> {
    let per = 1 + 1 + 3 + 19;
    let extra = V6_ROUTES - per * VRFS;
    let mut r = Vec::with_capacity(V6_ROUTES);
    for v in 0..VRFS {
        let vrf = v as u16;
        r.push((vrf, 0, 0, rng_nh(v, r.len())));
        let remote = (0x2001_0db8u128 << 96) | (u128::from(rng.below(1 << 16)) << 80);
        r.push((vrf, remote, 48, rng_nh(v, r.len())));
        let p48 =
            (0xfd00u128 << 112) | ((v as u128) << 96) | (u128::from(rng.below(1 << 16)) << 80);
        let subnets = rng.distinct(3, 0, 1 << 16);
        for &s in &subnets {
            r.push((vrf, p48 | (u128::from(s) << 64), 64, rng_nh(v, r.len())));
        }
        let hosts = 19 + usize::from(v < extra);
        let ids = rng.distinct(hosts, 2, 1024);
        for (i, id) in ids.into_iter().enumerate() {
            let id = if random_iid { rng.next() } else { id };
            let a = p48 | (u128::from(subnets[i % 3]) << 64) | u128::from(id);
            r.push((vrf, a, 128, rng_nh(v, r.len())));
        }
    }
    rng.shuffle(&mut r);
    r
}

fn rng_nh(v: usize, i: usize) -> u32 {
    ((v * 7919 + i) % 65_521) as u32
}

/// Ten routes in one VRF.
fn routes_v4_small() -> Vec<Route<u32>> {
    [
        (0, 0),
        (0xAC10_0000, 12),
        (0xC0A8_0000, 20),
        (0x0A01_0000, 16),
        (0x0A01_0100, 24),
        (0x0A01_0200, 24),
        (0x0A01_0102, 32),
        (0x0A01_0103, 32),
        (0x0A01_0204, 32),
        (0x0A01_0205, 32),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(a, l))| (0, a, l, i as u32 + 1))
    .collect()
}

fn routes_v6_small() -> Vec<Route<u128>> {
    let p = 0xfd00_0000_0001_0000u128 << 64;
    [
        (0, 0),
        (0x2001_0db8u128 << 96, 32),
        (p, 48),
        (p | (1 << 64), 64),
        (p | (2 << 64), 64),
        (p | (3 << 64), 64),
        (p | (1 << 64) | 2, 128),
        (p | (1 << 64) | 3, 128),
        (p | (2 << 64) | 2, 128),
        (p | (2 << 64) | 3, 128),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(a, l))| (0, a, l, i as u32 + 1))
    .collect()
}

fn build<K: FibKey>(routes: &[Route<K>], vrfs: usize) -> Vec<Fib<K>> {
    let mut fibs = vec![Fib::<K>::default(); vrfs];
    for &(v, a, l, nh) in routes {
        fibs[usize::from(v)].insert(a, l, nh);
    }
    fibs
}

/// Random `(vrf, destination)` pairs: uniform, or inside a random installed route.
fn dests<K: FibKey>(rng: &mut Rng, routes: &[Route<K>], vrfs: usize, hits: bool) -> Vec<(u32, K)> {
    let width = u32::from(K::BITS);
    let all = u128::MAX >> (128 - width);
    (0..DESTS)
        .map(|_| {
            let rnd = (u128::from(rng.next()) << 64 | u128::from(rng.next())) & all;
            if hits {
                let (v, a, l, _) = routes[rng.below(routes.len() as u64) as usize];
                let host = if l == 0 { rnd } else { rnd & (all >> l) };
                (u32::from(v), K::from_u128(a.to_u128() | host))
            } else {
                (rng.below(vrfs as u64) as u32, K::from_u128(rnd))
            }
        })
        .collect()
}

fn footprint<K: FibKey>(name: &str, fibs: &[Fib<K>], live_delta: isize) {
    let routes: usize = fibs.iter().map(Fib::len).sum();
    let heap: usize = fibs.iter().map(Fib::heap_bytes).sum();
    let hdr = std::mem::size_of_val(fibs);
    let cloned: Vec<Fib<K>> = fibs.to_vec();
    let heap_c: usize = cloned.iter().map(Fib::heap_bytes).sum();
    println!(
        "{name}: {routes} routes in {} VRFs: heap {:.1} MB (allocator: {:.1} MB) + structs {:.1} MB \
         = {:.1} bytes/route; as cloned (arenas trimmed) {:.1} bytes/route; struct {} bytes",
        fibs.len(),
        heap as f64 / 1e6,
        live_delta as f64 / 1e6,
        hdr as f64 / 1e6,
        (heap + hdr) as f64 / routes as f64,
        (heap_c + hdr) as f64 / routes as f64,
        std::mem::size_of::<Fib<K>>(),
    );
}

fn measure_build<K: FibKey>(name: &str, routes: &[Route<K>]) -> Vec<Fib<K>> {
    let before = LIVE.load(Ordering::Relaxed);
    let t = Instant::now();
    let fibs = build(routes, VRFS);
    let dt = t.elapsed();
    let live = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "{name}: one build of {} routes: {:.0} ms, {:.2} M routes/s",
        routes.len(),
        dt.as_secs_f64() * 1e3,
        routes.len() as f64 / dt.as_secs_f64() / 1e6
    );
    footprint(name, &fibs, live);
    fibs
}

fn lookups<K: FibKey>(fibs: &[Fib<K>], batch: &[(u32, K)]) -> u64 {
    let mut s = 0u64;
    for &(v, a) in batch {
        if let Some(nh) = fibs[v as usize].lookup(a) {
            s += u64::from(nh);
        }
    }
    s
}

/// `(name, FIBs by VRF, (vrf, destination) pairs)`.
type LookupCase<'a, K> = (&'a str, &'a [Fib<K>], &'a [(u32, K)]);

fn bench_lookup<K: FibKey>(c: &mut Criterion, group: &str, cases: &[LookupCase<K>]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(BATCH as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for &(name, fibs, dests) in cases {
        let mut off = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let batch = &dests[off..off + BATCH];
                off = (off + BATCH) % DESTS;
                black_box(lookups(black_box(fibs), batch))
            })
        });
    }
    g.finish();
}

fn bench_build<K: FibKey>(c: &mut Criterion, name: &str, routes: &[Route<K>]) {
    let mut g = c.benchmark_group("build");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(routes.len() as u64));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                let fibs = build(routes, VRFS);
                total += t.elapsed();
                drop(black_box(fibs));
            }
            total
        })
    });
    g.finish();
}

fn fib(c: &mut Criterion) {
    let mut rng = Rng(0x5eed);
    let r4 = routes_v4(&mut rng);
    let r6 = routes_v6(&mut rng, false);
    let r6_iid = routes_v6(&mut rng, true);
    let s4 = routes_v4_small();
    let s6 = routes_v6_small();

    let f4 = measure_build("fib4", &r4);
    let f6 = measure_build("fib6", &r6);
    drop(measure_build("fib6 random-iid /128s", &r6_iid));
    drop(r6_iid);
    let fs4 = build(&s4, 1);
    let fs6 = build(&s6, 1);
    // The 10 routes in each of the 4096 VRFs: separates the cost of many VRFs (a cold root
    // per lookup) from the cost of many routes.
    let many = |s: &[Route<u32>]| -> Vec<Route<u32>> {
        (0..VRFS as u16)
            .flat_map(|v| s.iter().map(move |&(_, a, l, nh)| (v, a, l, nh)))
            .collect()
    };
    let m4 = many(&s4);
    let fm4 = build(&m4, VRFS);

    bench_build(c, "fib4_1M_4096vrfs", &r4);
    bench_build(c, "fib6_100k_4096vrfs", &r6);
    // The same routes grouped by VRF (in random order within each), as a copy-on-write batch
    // applies them: the VRF being built stays in cache.
    let mut g4 = r4.clone();
    g4.sort_by_key(|r| r.0);
    bench_build(c, "fib4_1M_4096vrfs_by_vrf", &g4);
    drop(g4);

    let d4 = [
        dests(&mut rng, &s4, 1, false),
        dests(&mut rng, &r4, VRFS, false),
        dests(&mut rng, &s4, 1, true),
        dests(&mut rng, &r4, VRFS, true),
        dests(&mut rng, &m4, VRFS, false),
        dests(&mut rng, &m4, VRFS, true),
    ];
    bench_lookup(
        c,
        "lookup4",
        &[
            ("10_routes/random", &fs4, &d4[0]),
            ("1M/random", &f4, &d4[1]),
            ("10_routes/hits", &fs4, &d4[2]),
            ("1M/hits", &f4, &d4[3]),
            ("10_routes_x4096_vrfs/random", &fm4, &d4[4]),
            ("10_routes_x4096_vrfs/hits", &fm4, &d4[5]),
        ],
    );
    drop(d4);
    let d6 = [
        dests(&mut rng, &s6, 1, false),
        dests(&mut rng, &r6, VRFS, false),
        dests(&mut rng, &s6, 1, true),
        dests(&mut rng, &r6, VRFS, true),
    ];
    bench_lookup(
        c,
        "lookup6",
        &[
            ("10_routes/random", &fs6, &d6[0]),
            ("100k/random", &f6, &d6[1]),
            ("10_routes/hits", &fs6, &d6[2]),
            ("100k/hits", &f6, &d6[3]),
        ],
    );
    drop(d6);

    let mut g = c.benchmark_group("clone");
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    g.bench_function("fib4_244_routes", |b| b.iter(|| black_box(&f4[7]).clone()));
    g.bench_function("fib6_24_routes", |b| b.iter(|| black_box(&f6[7]).clone()));
    g.finish();
    drop((f4, f6, fs4, fs6, fm4));

    baseline(c, &r4);
}

/// The hash-per-length `Lpm` on the same IPv4 table.
fn baseline(c: &mut Criterion, r4: &[Route<u32>]) {
    let mut rng = Rng(0xba5e);
    let before = LIVE.load(Ordering::Relaxed);
    let t = Instant::now();
    let mut lpm = vec![Lpm4::default(); VRFS];
    for &(v, a, l, nh) in r4 {
        lpm[usize::from(v)].insert(a, l, nh);
    }
    let dt = t.elapsed();
    let live = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "lpm4 baseline: build {:.2} M routes/s; {:.1} bytes/route (allocator, structs included)",
        r4.len() as f64 / dt.as_secs_f64() / 1e6,
        live as f64 / r4.len() as f64
    );
    let d = [
        dests(&mut rng, r4, VRFS, false),
        dests(&mut rng, r4, VRFS, true),
    ];
    let mut g = c.benchmark_group("baseline_lpm4");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for (name, d) in [("1M/random", &d[0]), ("1M/hits", &d[1])] {
        let mut off = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let batch = &d[off..off + BATCH];
                off = (off + BATCH) % DESTS;
                let mut s = 0u64;
                for &(v, a) in batch {
                    s += u64::from(black_box(&lpm)[v as usize].lookup(a).unwrap_or(0));
                }
                black_box(s)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fib);
criterion_main!(benches);
