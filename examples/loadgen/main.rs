//! `loadgen`: a load generator and latency sink for vrouter (see scripts/latency.sh).
//!
//! It attaches to a running router through two virtio-user ports (vhost-user frontends,
//! `net_virtio_user`), one on the router's fabric port and one on a vif, both of which the
//! router serves with `net_vhost`:
//!
//! ```text
//!   decap:  loadgen fabric port ── VXLAN ──► router fabric ─decap, route─► vif ──► loadgen vif port
//!   encap:  loadgen vif port ── IPv4/UDP ──► router vif ─route, encap─► fabric ──► loadgen fabric port
//! ```
//!
//! Every frame carries a probe (run, sequence number, TSC when handed to the driver); the sink
//! reads the TSC again when the frame comes back and records the difference in a histogram.
//! Sender and sink are one process (two lcores, or one lcore doing both), so both TSC reads
//! are on this machine's invariant TSC.
//!
//! A sweep: first the maximum forwarding rate (send as fast as the ring takes frames, count
//! what comes back), then a constant-rate stream at each given percentage of it; each point
//! has a warm-up, then a measured interval, then a drain. Reported per point: offered and
//! received rate, loss, out-of-order frames, latency p50/p99/p99.9/max.
//!
//! With two or more EAL lcores the sink runs on the second one; with one, a single loop sends
//! and receives (good enough on a 2-core machine, where the router needs the other core).
//!
//! ```text
//! loadgen --fabric SOCK --vif SOCK [--direction decap|encap] [--duration S] [--rates 10,50,90]
//!         [--max-pps N] [--burst N] [--flows N] [--size N] [--json FILE] -- EAL ARGS
//! ```

mod histogram;
mod pacer;
mod probe;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};

use histogram::{Histogram, P50, P99, P999};
use pacer::Pacer;
use probe::{Addrs, Direction, Template};
use vrouter::datapath::Packet;
use vrouter::dpdk::{self, Burst, Eal, Mempool, Port, PortConf, RxQueue, TxQueue, BURST_SIZE};
use vrouter::wire::MacAddr;

/// Run id 0: connectivity check and warm-ups, never reported.
const RUN_UNMEASURED: u8 = 0;
/// At most this many rate points after the maximum-rate run.
const MAX_RATES: usize = 16;
/// A paced sender more than this many packets behind skips the excess (see `Pacer`).
const PACER_BACKLOG: u64 = 256;
/// Mbufs in the generator's pool: two ports' RX and TX rings at the largest queue size, plus
/// bursts and per-lcore caches.
const POOL_MBUFS: u32 = 16383;
/// A drain ends when nothing has arrived for this long...
const DRAIN_QUIET_MS: u64 = 50;
/// ... or after this long at most.
const DRAIN_MAX_MS: u64 = 2000;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DirArg {
    /// VXLAN from the fabric, decapsulated, to the vif.
    Decap,
    /// From the vif, encapsulated in VXLAN, to the fabric.
    Encap,
}

/// Load generator and latency sink for vrouter: VXLAN decap/encap through vhost-user.
#[derive(Parser, Debug)]
#[command(
    about,
    after_help = "Arguments after `--` go to DPDK's EAL. Default: -l 0 --in-memory \
                  --single-file-segments --no-pci (virtio-user needs fd-backed memory in \
                  few segments). Example: loadgen --fabric /tmp/fab.sock --vif /tmp/vm1.sock \
                  -- -l 2-3 --in-memory --single-file-segments --no-pci"
)]
struct Cli {
    /// vhost-user socket of the router's fabric port (the router is the server).
    #[arg(long, value_name = "PATH")]
    fabric: PathBuf,
    /// vhost-user socket of the router's vif.
    #[arg(long, value_name = "PATH")]
    vif: PathBuf,
    /// Which way the traffic crosses the router.
    #[arg(long, value_enum, default_value = "decap")]
    direction: DirArg,
    /// Measured seconds per rate point.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_secs)]
    duration: f64,
    /// Warm-up seconds before each measured interval (same rate, not recorded).
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = non_negative_secs)]
    warmup: f64,
    /// Rate points, in percent of the maximum rate (comma-separated, each in (0, 100]).
    #[arg(long, value_name = "LIST", default_value = "10,50,90", value_parser = parse_rates)]
    rates: Rates,
    /// Use this as the maximum rate (packets/s) instead of measuring it.
    #[arg(long, value_name = "PPS", value_parser = clap::value_parser!(u64).range(1..))]
    max_pps: Option<u64>,
    /// Packets per TX burst at a paced rate: 1 sends each packet when it is due (evenly
    /// spaced, as far as the loop keeps up); N sends N at a time (bursty). The maximum-rate
    /// run always fills bursts of 32.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=BURST_SIZE as i64))]
    burst: u16,
    /// Flows: distinct inner UDP source ports, used in turn.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(probe::MAX_FLOWS)))]
    flows: u32,
    /// Inner frame size in bytes on the wire, CRC included (64..=1400).
    #[arg(long, value_name = "BYTES", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(probe::MIN_FRAME as i64..=probe::MAX_FRAME as i64))]
    size: u16,
    /// virtio ring size of each queue (a power of two, 64..=4096).
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = parse_queue_size)]
    queue_size: u16,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Give up when no frame has come back through the router within this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 15.0, value_parser = positive_secs)]
    connect_timeout: f64,
    /// The router's fabric MAC (outer destination of VXLAN frames).
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:01", value_parser = probe::parse_mac)]
    fabric_mac: MacAddr,
    /// MAC of the generator's fabric port (the remote VTEP).
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:02", value_parser = probe::parse_mac)]
    peer_mac: MacAddr,
    /// The router's underlay address.
    #[arg(long, value_name = "IP", default_value = "203.0.113.1")]
    router_ip: Ipv4Addr,
    /// The remote VTEP's underlay address (the generator's fabric side).
    #[arg(long, value_name = "IP", default_value = "203.0.113.2")]
    peer_ip: Ipv4Addr,
    /// VNI of the test VRF.
    #[arg(long, value_name = "VNI", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..(1 << 24)))]
    vni: u32,
    /// The router MAC that VMs see.
    #[arg(long, value_name = "MAC", default_value = "00:00:5e:00:01:00", value_parser = probe::parse_mac)]
    router_mac: MacAddr,
    /// The VM's MAC (the vif's `mac`).
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:01:02", value_parser = probe::parse_mac)]
    vm_mac: MacAddr,
    /// Inner source MAC of frames from the remote side (the nexthop's `inner_mac`).
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:02:01", value_parser = probe::parse_mac)]
    remote_mac: MacAddr,
    /// The VM's address (one of the vif's `ip`).
    #[arg(long, value_name = "IP", default_value = "198.51.100.2")]
    vm_ip: Ipv4Addr,
    /// The remote host's address (routed to the tunnel nexthop).
    #[arg(long, value_name = "IP", default_value = "198.51.100.1")]
    remote_ip: Ipv4Addr,
    /// DPDK EAL arguments.
    #[arg(last = true)]
    eal: Vec<String>,
}

/// Rate points in percent.
#[derive(Clone, Debug)]
struct Rates(Vec<f64>);

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}

fn non_negative_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in [0, 86400]")),
    }
}

fn parse_rates(s: &str) -> Result<Rates, String> {
    let mut v = Vec::new();
    for part in s.split(',') {
        let part = part.trim().trim_end_matches('%');
        match part.parse::<f64>() {
            Ok(p) if p.is_finite() && p > 0.0 && p <= 100.0 => v.push(p),
            _ => return Err(format!("{part:?} is not a percentage in (0, 100]")),
        }
    }
    if v.len() > MAX_RATES {
        return Err(format!("at most {MAX_RATES} rate points"));
    }
    Ok(Rates(v))
}

fn parse_queue_size(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if (64..=4096).contains(&n) && n.is_power_of_two() => Ok(n),
        _ => Err(format!("{s:?} is not a power of two in 64..=4096")),
    }
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("loadgen: error: {e:#}");
        std::process::exit(1);
    }
}

// ----------------------------------------------------------------------------- the sink

/// What the sink saw of one run.
struct RunRx {
    hist: Histogram,
    received: u64,
    /// One past the highest sequence number seen.
    next_seq: u64,
    /// Frames with a sequence number below one already seen (late or duplicated).
    reordered: u64,
    /// Frames whose receive TSC was below their send TSC (cores' TSCs not in step); their
    /// latency is recorded as 0.
    negative: u64,
}

impl RunRx {
    fn new() -> Self {
        RunRx {
            hist: Histogram::new(),
            received: 0,
            next_seq: 0,
            reordered: 0,
            negative: 0,
        }
    }

    #[inline]
    fn record(&mut self, p: probe::Probe, now: u64) {
        let lat = now.wrapping_sub(p.tsc);
        if (lat as i64) < 0 {
            self.negative += 1;
            self.hist.record(0);
        } else {
            self.hist.record(lat);
        }
        self.received += 1;
        if p.seq < self.next_seq {
            self.reordered += 1;
        } else {
            self.next_seq = p.seq.saturating_add(1);
        }
    }
}

/// State the sender reads while the sink runs: received counts per run, the stop flag.
struct Shared {
    received: Vec<AtomicU64>,
    stop: AtomicBool,
}

impl Shared {
    fn received(&self, run: u8) -> u64 {
        self.received
            .get(usize::from(run))
            .map_or(0, |a| a.load(Ordering::Acquire))
    }
}

/// Polls the RX queues, reads each probe, records its latency.
struct Sink {
    /// The queue the test traffic arrives on first, then the other port's (which should see
    /// nothing; polled so that whatever the router sends there is freed and counted).
    rxqs: Vec<RxQueue>,
    burst: Burst,
    runs: Vec<RunRx>,
    /// Frames that carried no probe (ARP, anything else).
    other: u64,
    /// Probes of a run this process never started (another generator's?).
    foreign: u64,
    shared: Arc<Shared>,
}

impl Sink {
    /// One poll of every queue. No allocation, no panic.
    #[inline]
    fn poll(&mut self) -> usize {
        let mut got = 0;
        for q in self.rxqs.iter_mut() {
            let n = q.rx_burst(&mut self.burst);
            if n == 0 {
                continue;
            }
            let now = dpdk::tsc();
            got += n;
            let mut touched = 0u64;
            for m in self.burst.as_slice() {
                match probe::parse(m.data()) {
                    Some(p) => match self.runs.get_mut(usize::from(p.run)) {
                        Some(r) => {
                            r.record(p, now);
                            touched |= 1u64 << (p.run & 63);
                        }
                        None => self.foreign += 1,
                    },
                    None => self.other += 1,
                }
            }
            self.burst.clear();
            while touched != 0 {
                let run = touched.trailing_zeros() as usize;
                touched &= touched - 1;
                if let (Some(r), Some(a)) = (self.runs.get(run), self.shared.received.get(run)) {
                    a.store(r.received, Ordering::Release);
                }
            }
        }
        got
    }

    fn run_until_stopped(&mut self) {
        while !self.shared.stop.load(Ordering::Relaxed) {
            self.poll();
        }
    }
}

// ----------------------------------------------------------------------------- the sender

/// What the sender did in one phase.
#[derive(Clone, Copy, Debug, Default)]
struct PhaseTx {
    sent: u64,
    /// TSC ticks the phase lasted.
    ticks: u64,
    /// Packets the schedule skipped (the sender was too far behind).
    skipped: u64,
    /// TX calls that left packets behind (ring full): they were retried.
    ring_full: u64,
    /// Bulk allocations that failed (pool empty).
    no_mbuf: u64,
}

struct Source {
    txq: TxQueue,
    pool: Mempool,
    tmpl: Template,
    burst: Burst,
    flows: u16,
    flow: u16,
    /// Smallest burst at a paced rate.
    min_burst: usize,
    hz: u64,
}

impl Source {
    /// Sends run `run` for `ticks` TSC ticks: at `pps` packets/s, or as fast as the TX ring
    /// takes them (`None`). With `sink`, polls it every iteration (one-lcore mode). The hot
    /// loop allocates nothing and cannot panic.
    fn phase(
        &mut self,
        run: u8,
        pps: Option<u64>,
        ticks: u64,
        mut sink: Option<&mut Sink>,
    ) -> PhaseTx {
        let start = dpdk::tsc();
        let end = start.saturating_add(ticks);
        let mut pacer = pps.map(|p| Pacer::new(start, self.hz, p, PACER_BACKLOG));
        let mut st = PhaseTx::default();
        let len = self.tmpl.len();
        let mut seq = 0u64;
        loop {
            let now = dpdk::tsc();
            if now >= end {
                break;
            }
            if self.burst.is_empty() {
                let want = match pacer.as_mut() {
                    None => BURST_SIZE,
                    Some(p) => {
                        let due = p.backlog(now).min(BURST_SIZE as u64) as usize;
                        due / self.min_burst * self.min_burst
                    }
                };
                if want > 0 {
                    if self.pool.alloc_bulk(&mut self.burst, want) {
                        for m in self.burst.as_mut_slice() {
                            // A fresh mbuf always has room for the template (checked at start).
                            m.set_len(len);
                            self.tmpl.write(m.data_mut(), self.flow, run, seq);
                            seq += 1;
                            self.flow += 1;
                            if self.flow == self.flows {
                                self.flow = 0;
                            }
                        }
                        if let Some(p) = pacer.as_mut() {
                            p.release(want as u64);
                        }
                    } else {
                        st.no_mbuf += 1;
                    }
                }
            }
            if !self.burst.is_empty() {
                let t = dpdk::tsc();
                for m in self.burst.as_mut_slice() {
                    self.tmpl.stamp(m.data_mut(), t);
                }
                st.sent += self.txq.tx_burst(&mut self.burst) as u64;
                if !self.burst.is_empty() {
                    st.ring_full += 1;
                }
            }
            if let Some(s) = sink.as_deref_mut() {
                s.poll();
            }
        }
        st.ticks = dpdk::tsc().wrapping_sub(start);
        st.skipped = pacer.map_or(0, |p| p.skipped());
        // What the ring did not take by the end was never sent.
        self.burst.clear();
        st
    }
}

// ----------------------------------------------------------------------------- the run

/// The sink, either polled by the sending loop or running on its own lcore.
enum SinkAt {
    Local(Box<Sink>),
    Lcore {
        lcore: u32,
        back: Arc<Mutex<Option<Box<Sink>>>>,
    },
}

impl SinkAt {
    fn local(&mut self) -> Option<&mut Sink> {
        match self {
            SinkAt::Local(s) => Some(s),
            SinkAt::Lcore { .. } => None,
        }
    }
}

/// One measured point of the sweep.
struct Point {
    label: String,
    run: u8,
    /// Target rate (packets/s); `None`: as fast as possible.
    target_pps: Option<u64>,
    tx: PhaseTx,
}

fn check_socket(path: &Path, option: &str) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(_) => bail!("{option} {}: not a socket", path.display()),
        Err(e) => bail!(
            "{option} {}: {e} (is the router running with this vhost-user socket?)",
            path.display()
        ),
    }
}

fn tsc_is_invariant() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| {
        c.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|l| l.contains(" constant_tsc") && l.contains(" nonstop_tsc"))
    })
}

fn open_port(devargs: &str, queue_size: u16, pool: &Mempool) -> Result<Port> {
    let id = dpdk::probe(devargs).with_context(|| devargs.to_string())?;
    let port = Port::configure(
        id,
        &PortConf {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: queue_size,
            tx_desc: queue_size,
            mtu: None,
            rss: false,
        },
        pool,
    )
    .with_context(|| devargs.to_string())?;
    port.start().with_context(|| devargs.to_string())?;
    Ok(port)
}

fn fmt_mac(m: &MacAddr) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn secs_to_ticks(secs: f64, hz: u64) -> u64 {
    (secs * hz as f64) as u64
}

fn run(cli: &Cli) -> Result<()> {
    check_socket(&cli.fabric, "--fabric")?;
    check_socket(&cli.vif, "--vif")?;
    let dir = match cli.direction {
        DirArg::Decap => Direction::Decap,
        DirArg::Encap => Direction::Encap,
    };
    let addrs = Addrs {
        fabric_mac: cli.fabric_mac,
        peer_mac: cli.peer_mac,
        router_ip: cli.router_ip,
        peer_ip: cli.peer_ip,
        vni: cli.vni,
        router_mac: cli.router_mac,
        vm_mac: cli.vm_mac,
        remote_mac: cli.remote_mac,
        vm_ip: cli.vm_ip,
        remote_ip: cli.remote_ip,
    };
    let tmpl =
        Template::new(dir, &addrs, usize::from(cli.size)).map_err(|e| anyhow!("--size: {e}"))?;
    if !tsc_is_invariant() {
        log::warn!(
            "this CPU does not report constant_tsc and nonstop_tsc: latencies measured across \
             cores may be off"
        );
    }

    let default_eal: Vec<String> = [
        "-l",
        "0",
        "--in-memory",
        "--single-file-segments",
        "--no-pci",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal_args = if cli.eal.is_empty() {
        &default_eal
    } else {
        &cli.eal
    };
    let eal = Eal::init(eal_args).context("EAL initialisation (arguments after --)")?;
    let hz = dpdk::tsc_hz();
    if hz == 0 {
        bail!("EAL reports a TSC frequency of 0");
    }
    let pool = Mempool::pktmbuf(
        "lg_mbufs",
        POOL_MBUFS,
        256,
        dpdk::DEFAULT_DATA_ROOM,
        dpdk::socket_id(),
    )
    .context("mbuf pool")?;
    if usize::from(pool.data_room() - dpdk::MBUF_HEADROOM) < tmpl.len() {
        bail!("--size {}: larger than an mbuf", cli.size);
    }

    let fabric = open_port(
        &format!(
            "net_virtio_user0,path={},queues=1,queue_size={},mac={}",
            cli.fabric.display(),
            cli.queue_size,
            fmt_mac(&cli.peer_mac)
        ),
        cli.queue_size,
        &pool,
    )
    .context("--fabric")?;
    let vif = open_port(
        &format!(
            "net_virtio_user1,path={},queues=1,queue_size={},mac={}",
            cli.vif.display(),
            cli.queue_size,
            fmt_mac(&cli.vm_mac)
        ),
        cli.queue_size,
        &pool,
    )
    .context("--vif")?;
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(cli.connect_timeout);
    while !(fabric.link_up() && vif.link_up()) {
        if std::time::Instant::now() > deadline {
            log::warn!(
                "virtio-user links still down after {} s; trying anyway",
                cli.connect_timeout
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let (tx_port, rx_port) = match dir {
        Direction::Decap => (&fabric, &vif),
        Direction::Encap => (&vif, &fabric),
    };
    let n_runs = 2 + cli.rates.0.len();
    let shared = Arc::new(Shared {
        received: (0..n_runs).map(|_| AtomicU64::new(0)).collect(),
        stop: AtomicBool::new(false),
    });
    let sink = Box::new(Sink {
        rxqs: vec![
            rx_port.rx_queue(0).context("RX queue")?,
            tx_port.rx_queue(0).context("RX queue")?,
        ],
        burst: Burst::new(),
        runs: (0..n_runs).map(|_| RunRx::new()).collect(),
        other: 0,
        foreign: 0,
        shared: shared.clone(),
    });
    let mut source = Source {
        txq: tx_port.tx_queue(0).context("TX queue")?,
        pool: pool.clone(),
        tmpl,
        burst: Burst::new(),
        // flows ≤ MAX_FLOWS < 65536 (validated by clap)
        flows: cli.flows as u16,
        flow: 0,
        min_burst: usize::from(cli.burst),
        hz,
    };
    let mut sink_at = match dpdk::worker_lcores().first() {
        Some(&lcore) => {
            let back = Arc::new(Mutex::new(None));
            let back2 = back.clone();
            let mut s = sink;
            dpdk::launch(lcore, move || {
                s.run_until_stopped();
                if let Ok(mut slot) = back2.lock() {
                    *slot = Some(s);
                }
                0
            })
            .context("launching the sink")?;
            SinkAt::Lcore { lcore, back }
        }
        None => SinkAt::Local(sink),
    };
    let cpu = |l: u32| dpdk::lcore_cpu(l).map_or("?".to_string(), |c| c.to_string());
    println!(
        "loadgen: {dir}, {}-byte frames, {} flows, TSC {:.3} GHz; sender on CPU {}, sink on CPU {}",
        cli.size,
        cli.flows,
        hz as f64 / 1e9,
        cpu(dpdk::main_lcore()),
        match &sink_at {
            SinkAt::Local(_) => format!("{} (same loop)", cpu(dpdk::main_lcore())),
            SinkAt::Lcore { lcore, .. } => cpu(*lcore),
        }
    );

    let result = sweep(cli, hz, &mut source, &mut sink_at, &shared);

    // Stop the sink and take it back, whatever happened.
    shared.stop.store(true, Ordering::Release);
    let sink = match sink_at {
        SinkAt::Local(s) => Some(s),
        SinkAt::Lcore { lcore, back } => {
            dpdk::wait_lcore(lcore);
            back.lock().ok().and_then(|mut s| s.take())
        }
    };
    let points = result?;
    let sink = sink.ok_or_else(|| anyhow!("the sink lcore did not hand its results back"))?;
    report(cli, dir, hz, &points, &sink)?;

    // Queue handles go before the ports close, the ports before EAL.
    drop(source);
    drop(sink);
    for p in [fabric, vif] {
        if let Err(e) = p.close() {
            log::warn!("closing a port: {e}");
        }
    }
    drop(eal);
    Ok(())
}

/// Waits until the frames of `run` stop arriving (or all `sent` have).
fn drain(run: u8, sent: u64, sink_at: &mut SinkAt, shared: &Shared, hz: u64) {
    let quiet = hz / 1000 * DRAIN_QUIET_MS;
    let limit = hz / 1000 * DRAIN_MAX_MS;
    let start = dpdk::tsc();
    let mut last = shared.received(run);
    let mut last_change = start;
    loop {
        match sink_at.local() {
            Some(s) => {
                s.poll();
            }
            None => std::thread::sleep(Duration::from_micros(200)),
        }
        let now = dpdk::tsc();
        let r = shared.received(run);
        if r != last {
            last = r;
            last_change = now;
        }
        if r >= sent || now.wrapping_sub(last_change) > quiet || now.wrapping_sub(start) > limit {
            return;
        }
    }
}

/// Connectivity check, maximum rate, then each rate point.
fn sweep(
    cli: &Cli,
    hz: u64,
    source: &mut Source,
    sink_at: &mut SinkAt,
    shared: &Shared,
) -> Result<Vec<Point>> {
    // 1. Something must come back before anything is measured: the router's side of the
    //    vhost-user connections may need a moment after ours is up.
    let start = std::time::Instant::now();
    let mut sent = 0;
    while shared.received(RUN_UNMEASURED) == 0 {
        if start.elapsed().as_secs_f64() > cli.connect_timeout {
            bail!(
                "no test frame came back through the router within {} s ({sent} sent): check \
                 the router's log and counters (kill -USR1 <pid>) and that its config matches \
                 the addresses here (see loadgen --help)",
                cli.connect_timeout
            );
        }
        sent += source
            .phase(RUN_UNMEASURED, Some(1000), hz / 10, sink_at.local())
            .sent;
    }
    drain(RUN_UNMEASURED, u64::MAX, sink_at, shared, hz);

    let warm = secs_to_ticks(cli.warmup, hz);
    let measure = secs_to_ticks(cli.duration, hz);
    let mut points = Vec::new();
    let mut run: u8 = 1;

    // 2. The maximum rate: as fast as the TX ring takes frames.
    let max_pps = match cli.max_pps {
        Some(p) => {
            println!("loadgen: maximum rate given: {:.3} Mpps", p as f64 / 1e6);
            p
        }
        None => {
            if warm > 0 {
                source.phase(RUN_UNMEASURED, None, warm, sink_at.local());
            }
            let tx = source.phase(run, None, measure, sink_at.local());
            drain(run, tx.sent, sink_at, shared, hz);
            let rx = shared.received(run);
            let secs = tx.ticks as f64 / hz as f64;
            let pps = (rx as f64 / secs) as u64;
            println!(
                "loadgen: maximum rate: offered {:.3} Mpps, received {:.3} Mpps",
                tx.sent as f64 / secs / 1e6,
                pps as f64 / 1e6
            );
            points.push(Point {
                label: "max".into(),
                run,
                target_pps: None,
                tx,
            });
            run += 1;
            if pps == 0 {
                bail!("nothing came back at the maximum rate");
            }
            pps
        }
    };

    // 3. Each rate point.
    for &pct in &cli.rates.0 {
        let target = ((max_pps as f64 * pct / 100.0) as u64).max(1);
        if warm > 0 {
            source.phase(RUN_UNMEASURED, Some(target), warm, sink_at.local());
        }
        let tx = source.phase(run, Some(target), measure, sink_at.local());
        drain(run, tx.sent, sink_at, shared, hz);
        println!(
            "loadgen: {pct}% = {:.3} Mpps: sent {}, received {}",
            target as f64 / 1e6,
            tx.sent,
            shared.received(run)
        );
        points.push(Point {
            label: format!("{pct}%"),
            run,
            target_pps: Some(target),
            tx,
        });
        run += 1;
    }
    Ok(points)
}

fn report(cli: &Cli, dir: Direction, hz: u64, points: &[Point], sink: &Sink) -> Result<()> {
    let us = |ticks: Option<u64>| ticks.map_or(f64::NAN, |t| t as f64 * 1e6 / hz as f64);
    println!();
    println!(
        "{dir}: {}-byte frames, {} flows, paced bursts of {}, {} s per point after {} s warm-up",
        cli.size, cli.flows, cli.burst, cli.duration, cli.warmup
    );
    println!(
        "{:>7} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}",
        "rate",
        "offered",
        "received",
        "sent",
        "lost",
        "loss%",
        "p50",
        "p99",
        "p99.9",
        "max",
        "reord"
    );
    println!(
        "{:>7} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}",
        "", "Mpps", "Mpps", "", "", "", "µs", "µs", "µs", "µs", ""
    );
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    for p in points {
        let Some(r) = sink.runs.get(usize::from(p.run)) else {
            continue;
        };
        let secs = p.tx.ticks as f64 / hz as f64;
        let offered = p.tx.sent as f64 / secs;
        let received = r.received as f64 / secs;
        let lost = p.tx.sent.saturating_sub(r.received);
        let loss_pct = if p.tx.sent > 0 {
            lost as f64 * 100.0 / p.tx.sent as f64
        } else {
            0.0
        };
        let (p50, p99, p999, max) = (
            us(r.hist.value_at_ppm(P50)),
            us(r.hist.value_at_ppm(P99)),
            us(r.hist.value_at_ppm(P999)),
            us(r.hist.max()),
        );
        println!(
            "{:>7} {:>9.3} {:>9.3} {:>10} {:>10} {:>8.3} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>7}",
            p.label,
            offered / 1e6,
            received / 1e6,
            p.tx.sent,
            lost,
            loss_pct,
            p50,
            p99,
            p999,
            max,
            r.reordered
        );
        if let Some(t) = p.target_pps {
            if offered < t as f64 * 0.98 {
                warnings.push(format!(
                    "{}: offered only {:.3} of {:.3} Mpps: the TX ring was full on {} tries \
                     (the router, or the CPU it runs on, fell behind) and the pacer skipped {} \
                     packets it could not send in time",
                    p.label,
                    offered / 1e6,
                    t as f64 / 1e6,
                    p.tx.ring_full,
                    p.tx.skipped
                ));
            }
        }
        if r.negative > 0 {
            warnings.push(format!(
                "{}: {} frames came back with a receive TSC below their send TSC (recorded as 0)",
                p.label, r.negative
            ));
        }
        if p.tx.no_mbuf > 0 {
            warnings.push(format!(
                "{}: the mbuf pool ran dry {} times",
                p.label, p.tx.no_mbuf
            ));
        }
        rows.push(serde_json::json!({
            "rate": p.label,
            "target_pps": p.target_pps,
            "seconds": secs,
            "sent": p.tx.sent,
            "received": r.received,
            "recorded": r.hist.count(),
            "lost": lost,
            "loss_pct": loss_pct,
            "offered_mpps": offered / 1e6,
            "received_mpps": received / 1e6,
            "reordered": r.reordered,
            "tx_ring_full": p.tx.ring_full,
            "pacer_skipped": p.tx.skipped,
            "tsc_negative": r.negative,
            "latency_us": {
                "min": us(r.hist.min()),
                "mean": r.hist.mean().map_or(f64::NAN, |m| m * 1e6 / hz as f64),
                "p50": p50, "p99": p99, "p99_9": p999, "max": max,
            },
        }));
    }
    if sink.other > 0 || sink.foreign > 0 {
        warnings.push(format!(
            "{} frames without a probe and {} probes of unknown runs were received (not counted)",
            sink.other, sink.foreign
        ));
    }
    for w in &warnings {
        println!("note: {w}");
    }
    if let Some(path) = &cli.json {
        let doc = serde_json::json!({
            "direction": match dir { Direction::Decap => "decap", Direction::Encap => "encap" },
            "frame_size": cli.size,
            "flows": cli.flows,
            "burst": cli.burst,
            "duration_s": cli.duration,
            "warmup_s": cli.warmup,
            "tsc_hz": hz,
            "rows": rows,
            "other_frames": sink.other,
            "notes": warnings,
        });
        let text = serde_json::to_string_pretty(&doc).context("JSON")?;
        std::fs::write(path, text + "\n").with_context(|| format!("--json {}", path.display()))?;
    }
    Ok(())
}
