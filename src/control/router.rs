//! Bringing the router up and down (EAL, mempool, ports, tables, workers) and the control
//! loop: the API (changes, views, counters), miss notifications, signals, periodic stats and
//! the run-for deadline. Ports come and go at run time: a vif added through the API is
//! probed, started and handed to the workers before the tables that route to it are
//! published; a removed one leaves the tables first, then the workers, then DPDK.

use anyhow::{bail, Context, Result};
use crossbeam_queue::ArrayQueue;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::proto::{Change, Family, MissEvent, Op, Response, API_VERSION};
use super::api::server::{self, ApiRequest, MonitorHub};
use super::config::{Config, ConfigError, VifDev};
use super::model::{Model, AUTO_NH_ID};
use super::report::{HwCounters, MempoolFigures, Report};
use crate::datapath::pipeline::Miss;
use crate::datapath::{CoreStats, DropReason};
use crate::dpdk::{self, Eal, Mempool, Port, PortConf, TxBuffer};
use crate::tables::rcu::Published;
use crate::tables::{Encap, Nexthop, NhIdx, PortIdx, PortKind, Tables};
use crate::worker::{Mailbox, PortCmd, Worker};

/// Run-time options from the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub config: PathBuf,
    pub run_for: Option<Duration>,
    pub stats_json: Option<PathBuf>,
    pub stats_interval: Option<Duration>,
    pub idle_sleep_us: u64,
    pub control_core: Option<usize>,
    /// Where the API listens.
    pub api_socket: PathBuf,
    pub eal_args: Vec<String>,
}

/// Default API socket.
pub const DEFAULT_API_SOCKET: &str = "/run/vrouter/vrouter.sock";
/// Miss notifications a worker can queue before the control thread drains them.
const MISS_QUEUE: usize = 1024;

/// The running router, as the control thread sees it.
struct Router {
    pool: Mempool,
    nq: u16,
    /// By port index; `None` for free slots.
    ports: Vec<Option<Port>>,
    /// The vdev name to detach when the port goes (vhost ports the router created).
    vdev_names: Vec<Option<String>>,
    vhost_seq: u32,
    model: Model,
    published: Arc<Published<Tables>>,
    core_stats: Vec<Arc<CoreStats>>,
    mailboxes: Vec<Mailbox>,
    misses: Vec<Arc<ArrayQueue<Miss>>>,
    in_use_at_start: u64,
}

/// Runs the router until SIGINT/SIGTERM or the run-for deadline.
/// The launched workers: dropping this stops them and waits for each.
struct Running {
    stop: Arc<AtomicBool>,
    lcores: Vec<u32>,
}

impl Running {
    fn stop_and_wait(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for lcore in self.lcores.drain(..) {
            let rc = dpdk::wait_lcore(lcore);
            if rc != 0 {
                log::error!("worker on lcore {lcore} exited with {rc}");
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_and_wait();
    }
}

pub fn run(opts: &Options) -> Result<()> {
    let config = Config::load(&opts.config)?;
    // Validate everything before touching DPDK: a bad config starts nothing.
    config.build_model([0; 6])?;

    if let Some(c) = opts.control_core {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: c }) {
            log::warn!("could not pin the control thread to CPU {c}");
        }
    }

    let eal = Eal::init(&opts.eal_args).context("EAL initialisation")?;
    let wrong = dpdk::check_flags();
    if !wrong.is_empty() {
        bail!(
            "this DPDK's mbuf offload flags differ from those vrouter was written for: {wrong:?}"
        );
    }
    let lcores = dpdk::worker_lcores();
    if lcores.is_empty() {
        bail!("no worker lcore: give EAL at least two lcores (e.g. -l 0-1); the main lcore runs the control thread");
    }
    let nq = lcores.len() as u16;
    let rx_desc = config.fabric.rx_desc.unwrap_or(1024);
    let tx_desc = config.fabric.tx_desc.unwrap_or(1024);
    // The fabric's rings full, every worker's bursts and buffers, per-lcore caches, and room
    // for vhost ports added later (they hold no ring of mbufs, only bursts in flight).
    let n_mbufs = (u32::from(nq) * (u32::from(rx_desc) + u32::from(tx_desc)) * 2
        + u32::from(nq) * 256 * 32
        + 16384)
        .next_power_of_two()
        - 1;
    let pool = Mempool::pktmbuf(
        "vr_mbufs",
        n_mbufs,
        256,
        dpdk::DEFAULT_DATA_ROOM,
        dpdk::socket_id(),
    )
    .context("mbuf pool")?;

    let fabric_id = dpdk::probe(&config.fabric.dev)
        .with_context(|| format!("fabric.dev {:?}", config.fabric.dev))?;
    let fabric = Port::configure(
        fabric_id,
        &PortConf {
            rx_queues: nq,
            tx_queues: nq,
            rx_desc,
            tx_desc,
            mtu: config.fabric.mtu,
            rss: true,
        },
        &pool,
    )
    .context("fabric port")?;
    start_port(&fabric)?;
    let fabric_mac = fabric.mac();
    let fabric_mtu = fabric.mtu();

    // The fixed part of the tables, then the configuration through the same path as an API
    // batch: VRFs, vifs (whose ports are opened here), nexthops, routes, labels.
    let mut base = config.base_tables(fabric_mac)?;
    if config.fabric.mtu.is_none() && fabric_mtu >= 576 {
        base.ports[0].mtu = fabric_mtu;
    }
    // The configuration goes through the same batch code as the API; its vifs' ports are
    // opened before any worker runs, so no packet meets a half-built router.
    let mut vhost_seq = 0;
    let mut start = Model::new(base);
    start
        .reserved_paths
        .push(opts.api_socket.display().to_string());
    let mut model = start.apply_batch(&config.changes())?;
    let mut ports: Vec<Option<Port>> = vec![Some(fabric)];
    let mut vdev_names: Vec<Option<String>> = vec![None];
    for i in 1..model.tables.ports.len() {
        let Some(info) = model.vif_info[i].clone() else {
            ports.push(None);
            vdev_names.push(None);
            continue;
        };
        let name = model.tables.ports[i].name.clone();
        let (port, vdev) = open_vif(
            &pool,
            nq,
            &mut vhost_seq,
            &name,
            &info.dev,
            model.tables.ports[i].mtu,
        )
        .with_context(|| format!("vif {name:?}"))?;
        if !info.mtu_set && port.mtu() >= 576 {
            model.tables.ports[i].mtu = port.mtu();
        }
        ports.push(Some(port));
        vdev_names.push(vdev);
    }
    let published = Arc::new(Published::new(model.tables.clone(), lcores.len()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut router = Router {
        pool,
        nq,
        ports,
        vdev_names,
        vhost_seq,
        model,
        published: published.clone(),
        core_stats: lcores
            .iter()
            .map(|_| Arc::new(CoreStats::default()))
            .collect(),
        mailboxes: lcores.iter().map(|_| Mailbox::default()).collect(),
        misses: lcores
            .iter()
            .map(|_| Arc::new(ArrayQueue::new(MISS_QUEUE)))
            .collect(),
        in_use_at_start: 0,
    };
    // The API socket is bound before any worker starts: a socket in use is an error that
    // starts nothing.
    let (api, api_rx, hub) = server::spawn(&opts.api_socket)
        .with_context(|| format!("API socket {}", opts.api_socket.display()))?;
    // From the first launch on, any early return stops and waits for the workers (the guard),
    // so that EAL cleanup never waits on lcores that still forward.
    let mut running = Running {
        stop: stop.clone(),
        lcores: Vec::new(),
    };
    // The baseline of the exit leak check: what the ports hold once started, before any
    // worker can have packets in hand.
    router.in_use_at_start = u64::from(router.pool.in_use());
    for (w, &lcore) in lcores.iter().enumerate() {
        let q = w as u16;
        let mut rx = Vec::new();
        let mut tx: Vec<Option<TxBuffer>> = Vec::new();
        for (i, p) in router.ports.iter().enumerate() {
            match p {
                Some(p) => {
                    rx.push((i as PortIdx, p.rx_queue(q).context("rx queue taken twice")?));
                    tx.push(Some(TxBuffer::new(
                        p.tx_queue(q).context("tx queue taken twice")?,
                    )));
                }
                None => tx.push(None),
            }
        }
        let worker = Worker {
            id: w,
            tables: published.clone(),
            stats: router.core_stats[w].clone(),
            rx,
            tx,
            stop: stop.clone(),
            idle_sleep_us: opts.idle_sleep_us,
            mailbox: router.mailboxes[w].clone(),
            misses: router.misses[w].clone(),
        };
        dpdk::launch(lcore, move || worker.run())
            .with_context(|| format!("launching lcore {lcore}"))?;
        running.lcores.push(lcore);
    }
    log::info!(
        "fabric {} ({}) mac {}, {} vif(s), {} worker(s) on lcores {:?}",
        config.fabric.dev,
        router.model.tables.fabric.ip,
        fmt_mac(&router.model.tables.fabric.mac),
        router.model.vif_index.len(),
        nq,
        lcores
    );

    // Control loop.
    let term = Arc::new(AtomicBool::new(false));
    let usr1 = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, term.clone()).context("signal handler")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .context("signal handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, usr1.clone())
        .context("signal handler")?;
    let started = Instant::now();
    let mut last_print = Instant::now();
    println!(
        "vrouter: forwarding ({nq} worker(s)); API on {}; SIGUSR1 prints counters, SIGHUP reloads the config, SIGINT stops",
        opts.api_socket.display()
    );
    loop {
        match api_rx.recv_timeout(Duration::from_millis(20)) {
            Ok(req) => router.serve(req),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => bail!("the API server stopped"),
        }
        router.publish_misses(&hub);
        if term.load(Ordering::Relaxed) || opts.run_for.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if hup.swap(false, Ordering::Relaxed) {
            match router.reload(&opts.config, &config) {
                Ok(us) => log::info!(
                    "SIGHUP: {} reloaded; tables replaced in {us} µs",
                    opts.config.display()
                ),
                Err(e) => log::error!(
                    "SIGHUP: {} not applied, tables unchanged: {e:#}",
                    opts.config.display()
                ),
            }
        }
        let periodic = opts
            .stats_interval
            .is_some_and(|i| last_print.elapsed() >= i);
        if usr1.swap(false, Ordering::Relaxed) || periodic {
            println!("{}", router.report().to_text());
            last_print = Instant::now();
        }
    }
    drop(api);

    running.stop_and_wait();
    // Workers are gone and have flushed their buffers: what is still in use sits in rings.
    let final_report = router.report();
    println!("vrouter: final counters\n{}", final_report.to_text());
    if let Some(path) = &opts.stats_json {
        std::fs::write(path, serde_json::to_string_pretty(&final_report.to_json())?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for p in router.ports.drain(..).flatten() {
        let name = p.name();
        if let Err(e) = p.close() {
            log::warn!("closing {name}: {e}");
        }
    }
    drop(router);
    drop(published);
    drop(eal);
    Ok(())
}

fn start_port(p: &Port) -> Result<()> {
    p.start()
        .with_context(|| format!("starting port {}", p.name()))?;
    if let Err(e) = p.promiscuous(true) {
        log::debug!("port {}: promiscuous mode: {e}", p.name());
    }
    Ok(())
}

impl Router {
    /// Applies a batch: validates it on a copy of the model, opens the ports of new vifs and
    /// hands them to the workers, publishes the tables, then retires removed vifs' ports.
    /// Nothing changes when it fails. Returns the publish time in µs.
    fn commit_changes(&mut self, changes: &[(String, Change)]) -> Result<u128, ConfigError> {
        let next = self.model.apply_batch(changes)?;
        self.commit(next)
    }

    fn commit(&mut self, mut next: Model) -> Result<u128, ConfigError> {
        let n = next.tables.ports.len().max(self.model.tables.ports.len());
        let info = |m: &Model, i: usize| m.vif_info.get(i).cloned().flatten().map(|v| v.dev);
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for i in 1..n {
            let (old, new) = (info(&self.model, i), info(&next, i));
            if old != new {
                if old.is_some() {
                    removed.push(i);
                }
                if new.is_some() {
                    added.push(i);
                }
            }
        }
        // 1. Open the new ports; on failure close what was opened and change nothing.
        let mut opened: Vec<(usize, Port, Option<String>)> = Vec::new();
        for &i in &added {
            let name = next.tables.ports[i].name.clone();
            let dev = next.vif_info[i]
                .as_ref()
                .map(|v| v.dev.clone())
                .expect("added vif");
            match open_vif(
                &self.pool,
                self.nq,
                &mut self.vhost_seq,
                &name,
                &dev,
                next.tables.ports[i].mtu,
            ) {
                Ok((port, vdev)) => {
                    let set = next.vif_info[i].as_ref().is_some_and(|v| v.mtu_set);
                    if !set && port.mtu() >= 576 {
                        next.tables.ports[i].mtu = port.mtu();
                    }
                    opened.push((i, port, vdev));
                }
                Err(e) => {
                    for (_, p, vdev) in opened {
                        close_port(p, vdev);
                    }
                    return Err(ConfigError {
                        field: format!("vif {name:?}"),
                        message: format!("{e:#}"),
                    });
                }
            }
        }
        // 2. Hand their queues to the workers (RX on an unpublished port is counted as
        //    unknown_port until step 3).
        let mut cmds: Vec<Vec<PortCmd>> = (0..self.mailboxes.len()).map(|_| Vec::new()).collect();
        for (i, port, vdev) in opened {
            for (w, c) in cmds.iter_mut().enumerate() {
                let q = w as u16;
                if let (Some(rx), Some(tx)) = (port.rx_queue(q), port.tx_queue(q)) {
                    c.push(PortCmd::Add(i as PortIdx, rx, Box::new(TxBuffer::new(tx))));
                }
            }
            if self.ports.len() <= i {
                self.ports.resize_with(i + 1, || None);
                self.vdev_names.resize(i + 1, None);
            }
            self.ports[i] = Some(port);
            self.vdev_names[i] = vdev;
        }
        self.send_commands(cmds);
        // 3. Publish: after this returns no worker holds the old tables.
        let t0 = Instant::now();
        self.published.publish(next.tables.clone());
        let publish_us = t0.elapsed().as_micros();
        // 4. Retire removed ports: workers drop their queues, then DPDK closes them.
        let mut cmds: Vec<Vec<PortCmd>> = (0..self.mailboxes.len()).map(|_| Vec::new()).collect();
        for &i in &removed {
            for c in cmds.iter_mut() {
                c.push(PortCmd::Remove(i as PortIdx));
            }
        }
        self.send_commands(cmds);
        for &i in &removed {
            if let Some(p) = self.ports.get_mut(i).and_then(Option::take) {
                close_port(p, self.vdev_names[i].take());
            }
            for c in &self.core_stats {
                if let Some(pc) = c.port(i) {
                    for x in [
                        &pc.rx_packets,
                        &pc.rx_bytes,
                        &pc.tx_packets,
                        &pc.tx_bytes,
                        &pc.tx_dropped,
                    ] {
                        x.clear();
                    }
                }
            }
        }
        self.model = next;
        Ok(publish_us)
    }

    /// Sends each worker its commands and waits until all are done.
    fn send_commands(&self, cmds: Vec<Vec<PortCmd>>) {
        let mut want = Vec::new();
        for (mb, list) in self.mailboxes.iter().zip(cmds) {
            let target = mb.done.load(Ordering::Acquire) + list.len() as u64;
            for c in list {
                let mut c = c;
                while let Err(back) = mb.cmds.push(c) {
                    c = back;
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            want.push(target);
        }
        let t0 = Instant::now();
        for (mb, target) in self.mailboxes.iter().zip(want) {
            while mb.done.load(Ordering::Acquire) < target {
                std::thread::sleep(Duration::from_micros(20));
                if t0.elapsed() > Duration::from_secs(5) {
                    log::warn!("a worker has not taken its port commands for 5 s");
                }
            }
        }
    }

    /// Re-reads the configuration: everything but the ports may change (the API adds and
    /// removes vifs). Learned MACs and path MTUs carry over.
    fn reload(&mut self, path: &std::path::Path, running: &Config) -> Result<u128> {
        let new = Config::load(path)?;
        if new.fabric.dev != running.fabric.dev {
            bail!("fabric.dev changed: the fabric cannot change at run time (restart the router)");
        }
        let devs = |c: &Config| {
            c.vif
                .iter()
                .map(|v| (v.name.clone(), v.device()))
                .collect::<Vec<_>>()
        };
        let now: Vec<(String, VifDev)> = (1..self.model.tables.ports.len())
            .filter_map(|i| {
                let info = self.model.vif_info.get(i)?.as_ref()?;
                Some((self.model.tables.ports[i].name.clone(), info.dev.clone()))
            })
            .collect();
        if devs(&new) != now {
            bail!("the vif list (names, devices or order) differs from the running one: use the API (vrouterctl vif --add/--delete) to change vifs at run time");
        }
        let mut base = new.base_tables(self.model.tables.fabric.mac)?;
        base.ports[0].mtu = match new.fabric.mtu {
            Some(m) => m,
            None => self.model.tables.ports[0].mtu,
        };
        let mut start = Model::new(base);
        start.reserved_paths = self.model.reserved_paths.clone();
        let next = start.apply_batch(&new.changes())?;
        next.tables
            .neighbors
            .inherit_learned(&self.model.tables.neighbors);
        next.tables.pmtu.inherit(&self.model.tables.pmtu);
        let mut next = next;
        for (i, p) in next.tables.ports.iter_mut().enumerate().skip(1) {
            let set = next
                .vif_info
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|v| v.mtu_set);
            if !set {
                p.mtu = self.model.tables.ports.get(i).map_or(p.mtu, |o| o.mtu);
            }
        }
        Ok(self.commit(next)?)
    }

    /// Forwards the workers' miss notifications to `vrouterctl monitor` subscribers.
    fn publish_misses(&self, hub: &MonitorHub) {
        for q in &self.misses {
            while let Some(m) = q.pop() {
                if hub.subscribers() == 0 {
                    continue;
                }
                let vif = self
                    .model
                    .tables
                    .ports
                    .get(usize::from(m.port))
                    .map(|p| p.name.clone());
                hub.publish(&MissEvent {
                    kind: if m.no_route {
                        "no_route"
                    } else {
                        "arp_unresolved"
                    }
                    .into(),
                    vrf: u32::from(m.vrf),
                    addr: m.addr.to_string(),
                    vif,
                });
            }
        }
    }

    fn hw(&self) -> Vec<HwCounters> {
        (0..self.model.tables.ports.len())
            .map(|i| {
                self.ports
                    .get(i)
                    .and_then(Option::as_ref)
                    .and_then(|p| p.stats().ok())
                    .map(|s| HwCounters {
                        ipackets: s.ipackets,
                        opackets: s.opackets,
                        imissed: s.imissed,
                        ierrors: s.ierrors,
                        oerrors: s.oerrors,
                        rx_nombuf: s.rx_nombuf,
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    fn report_of(&self, cores: &[Arc<CoreStats>]) -> Report {
        let names: Vec<String> = self
            .model
            .tables
            .ports
            .iter()
            .map(|p| p.name.clone())
            .collect();
        Report::collect(
            cores,
            &names,
            &self.hw(),
            MempoolFigures {
                in_use_at_start: self.in_use_at_start,
                in_use_now: u64::from(self.pool.in_use()),
                capacity: u64::from(self.pool.capacity()),
            },
        )
    }

    fn report(&self) -> Report {
        self.report_of(&self.core_stats)
    }

    fn cores(&self, core: Option<usize>) -> Result<Vec<Arc<CoreStats>>, Response> {
        match core {
            None => Ok(self.core_stats.clone()),
            Some(c) => match self.core_stats.get(c) {
                Some(s) => Ok(vec![s.clone()]),
                None => Err(Response::err(
                    0,
                    "core",
                    format!("worker {c} does not exist (0..{})", self.core_stats.len()),
                )),
            },
        }
    }

    /// Answers one API request.
    fn serve(&mut self, req: ApiRequest) {
        let resp = self.handle(req.op);
        let _ = req.reply.send(Response { id: req.id, ..resp });
    }

    fn handle(&mut self, op: Op) -> Response {
        let ok = |v: Value| Response::ok(0, v);
        match op {
            Op::Version => ok(json!({"api": API_VERSION, "vrouter": env!("CARGO_PKG_VERSION")})),
            Op::Batch { changes } => {
                let labelled: Vec<(String, Change)> = changes
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| (format!("changes[{i}]"), c))
                    .collect();
                self.apply_api(&labelled)
            }
            Op::Change(c) => self.apply_api(&[("change".to_string(), c)]),
            Op::VifList { core } => match self.cores(core) {
                Ok(cores) => ok(self.vif_list(&cores)),
                Err(e) => e,
            },
            Op::RtDump { vrf, family } => {
                match self.model.tables.vrf(vrf.min(u32::from(u16::MAX)) as u16) {
                    Some(v) if vrf < crate::tables::MAX_VRFS as u32 => {
                        let mut routes = Vec::new();
                        if family != Some(Family::Inet6) {
                            let mut r: Vec<_> = v.fib4.iter().collect();
                            r.sort_by_key(|&(a, l, _)| (a, l));
                            for (a, l, nh) in r {
                                routes.push(json!({"prefix": format!("{}/{l}", std::net::Ipv4Addr::from(a)), "nexthop": self.nh_display_id(nh)}));
                            }
                        }
                        if family != Some(Family::Inet) {
                            let mut r: Vec<_> = v.fib6.iter().collect();
                            r.sort_by_key(|&(a, l, _)| (a, l));
                            for (a, l, nh) in r {
                                routes.push(json!({"prefix": format!("{}/{l}", std::net::Ipv6Addr::from(a)), "nexthop": self.nh_display_id(nh)}));
                            }
                        }
                        ok(json!({"vrf": vrf, "routes": routes}))
                    }
                    _ => Response::err(0, "vrf", format!("VRF {vrf} is not defined")),
                }
            }
            Op::NhList => ok(self.nh_list()),
            Op::MplsDump => {
                let mut l: Vec<_> = self
                    .model
                    .tables
                    .labels
                    .iter()
                    .map(|(&l, &nh)| (l, nh))
                    .collect();
                l.sort_unstable();
                let labels: Vec<Value> = l
                    .into_iter()
                    .map(|(l, nh)| json!({"label": l, "nexthop": self.nh_display_id(nh)}))
                    .collect();
                ok(json!({"labels": labels}))
            }
            Op::VxlanDump => {
                let mut v: Vec<_> = self
                    .model
                    .tables
                    .vni_to_vrf
                    .iter()
                    .map(|(&a, &b)| (a, b))
                    .collect();
                v.sort_unstable();
                let vnis: Vec<Value> = v
                    .into_iter()
                    .map(|(vni, vrf)| json!({"vni": vni, "vrf": vrf}))
                    .collect();
                ok(json!({"vnis": vnis}))
            }
            Op::Dropstats { core } => match self.cores(core) {
                Ok(cores) => {
                    let drops: serde_json::Map<String, Value> = DropReason::ALL
                        .iter()
                        .map(|&r| {
                            (
                                r.name().to_string(),
                                json!(cores.iter().map(|c| c.drops_of(r)).sum::<u64>()),
                            )
                        })
                        .collect();
                    ok(json!({"drops": drops}))
                }
                Err(e) => e,
            },
            Op::Stats => ok(self.report().to_json()),
            Op::ClearCounters => {
                for c in &self.core_stats {
                    c.clear();
                }
                for p in self.ports.iter().flatten() {
                    let _ = p.reset_stats();
                }
                ok(json!({}))
            }
            Op::Monitor => Response::err(0, "op", "monitor is served by the API server"),
        }
    }

    fn apply_api(&mut self, changes: &[(String, Change)]) -> Response {
        let t0 = Instant::now();
        let vifs_before: Vec<String> = self.model.vif_index.keys().cloned().collect();
        match self.commit_changes(changes) {
            Ok(us) => {
                let total = t0.elapsed().as_micros();
                for name in self
                    .model
                    .vif_index
                    .keys()
                    .filter(|n| !vifs_before.contains(n))
                {
                    log::info!("API: vif {name} added");
                }
                for name in vifs_before
                    .iter()
                    .filter(|n| !self.model.vif_index.contains_key(*n))
                {
                    log::info!("API: vif {name} removed");
                }
                log::debug!(
                    "API: {} change(s) applied in {total} µs (publish {us} µs)",
                    changes.len()
                );
                Response::ok(
                    0,
                    json!({"applied": changes.len(), "apply_us": total, "publish_us": us}),
                )
            }
            Err(e) => {
                log::warn!(
                    "API: batch of {} change(s) refused, nothing changed: {e}",
                    changes.len()
                );
                Response::err(0, e.field, e.message)
            }
        }
    }

    /// The id an operator knows a nexthop by: its API id, or above 65535 for automatic ones.
    fn nh_display_id(&self, idx: NhIdx) -> u32 {
        match self.model.nh_id(idx) {
            0 => AUTO_NH_ID + 1 + idx,
            id => id,
        }
    }

    fn vif_list(&self, cores: &[Arc<CoreStats>]) -> Value {
        let r = self.report_of(cores);
        let t = &self.model.tables;
        let mut vifs = Vec::new();
        for (i, p) in t.ports.iter().enumerate() {
            let c = &r.ports[i];
            let (kind, dev, mac, ips, vrf) = match &p.kind {
                PortKind::Unused => continue,
                PortKind::Fabric => (
                    "fabric",
                    self.ports[0].as_ref().map(Port::name).unwrap_or_default(),
                    fmt_mac(&t.fabric.mac),
                    vec![t.fabric.ip.to_string()],
                    Value::Null,
                ),
                PortKind::Vif { vrf, vm_mac, .. } => {
                    let info = self.model.vif_info[i].as_ref();
                    let (kind, dev) = match info.map(|x| &x.dev) {
                        Some(VifDev::Vhost { socket, .. }) => ("vhost", socket.clone()),
                        Some(VifDev::Dev(d)) => ("dev", d.clone()),
                        None => ("dev", String::new()),
                    };
                    let ips = info
                        .map(|x| x.addrs.iter().map(|(a, _)| a.to_string()).collect())
                        .unwrap_or_default();
                    (kind, dev, fmt_mac(vm_mac), ips, json!(vrf))
                }
            };
            let mut flags = Vec::new();
            if p.mss_clamp {
                flags.push("mss_clamp");
            }
            if self
                .ports
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(Port::link_up)
            {
                flags.push("link_up");
            }
            vifs.push(json!({
                "index": i, "name": p.name, "type": kind, "dev": dev, "mac": mac, "ip": ips,
                "vrf": vrf, "mtu": p.mtu, "flags": flags,
                "rx_packets": c.rx_packets, "rx_bytes": c.rx_bytes,
                "tx_packets": c.tx_packets, "tx_bytes": c.tx_bytes, "tx_dropped": c.tx_dropped,
                "hw_ierrors": c.hw.ierrors, "hw_oerrors": c.hw.oerrors, "hw_imissed": c.hw.imissed,
            }));
        }
        json!({"vifs": vifs})
    }

    fn nh_list(&self) -> Value {
        let t = &self.model.tables;
        let mut out = Vec::new();
        for (idx, nh) in t.nexthops.iter().enumerate() {
            let id = self.nh_display_id(idx as NhIdx);
            let v = match nh {
                Nexthop::Unused => continue,
                Nexthop::Discard => json!({"id": id, "type": "discard"}),
                Nexthop::Receive => json!({"id": id, "type": "receive"}),
                Nexthop::Interface { port, dst_mac } => json!({
                    "id": id, "type": "interface",
                    "vif": t.ports.get(usize::from(*port)).map(|p| p.name.clone()),
                    "mac": fmt_mac(dst_mac),
                }),
                Nexthop::Ecmp(m) => json!({
                    "id": id, "type": "ecmp",
                    "members": m.iter().map(|&x| self.nh_display_id(x)).collect::<Vec<_>>(),
                }),
                Nexthop::Tunnel(tu) => {
                    let encap = match tu.encap {
                        Encap::Vxlan => "vxlan",
                        Encap::MplsUdp => "mpls-udp",
                        Encap::MplsGre => "mpls-gre",
                    };
                    let now_s = dpdk::tsc() / dpdk::tsc_hz().max(1);
                    let mut v = json!({
                        "id": id, "type": "tunnel", "encap": encap, "dst": tu.dst.to_string(),
                        "neighbor_mac": t.neighbors.mac(tu.neighbor).map(|m| fmt_mac(&m)),
                        "pmtu": t.pmtu.get(tu.endpoint, now_s),
                    });
                    if tu.encap == Encap::Vxlan {
                        v["vni"] = json!(tu.key);
                        v["inner_mac"] = json!(fmt_mac(&tu.inner_mac));
                    } else {
                        v["label"] = json!(tu.key);
                    }
                    v
                }
            };
            out.push(v);
        }
        json!({"nexthops": out})
    }
}

/// Probes, configures and starts a vif's DPDK port; returns it and the vdev name to detach
/// when it goes (for vhost ports the router names itself).
fn open_vif(
    pool: &Mempool,
    nq: u16,
    vhost_seq: &mut u32,
    name: &str,
    dev: &VifDev,
    mtu: u16,
) -> Result<(Port, Option<String>)> {
    let (devargs, vdev) = match dev {
        VifDev::Vhost { socket, client } => {
            if !client {
                remove_stale_socket(socket)?;
            }
            // A prefix of the vhost driver's name that users' own devargs ("net_vhost0", ...)
            // do not take.
            let vname = format!("net_vhost_vif{vhost_seq}");
            *vhost_seq += 1;
            (
                format!(
                    "{vname},iface={socket},queues={nq},client={}",
                    u8::from(*client)
                ),
                Some(vname),
            )
        }
        VifDev::Dev(d) => (d.clone(), None),
    };
    let id = dpdk::probe(&devargs).with_context(|| format!("{name}: {devargs}"))?;
    let port = Port::configure(
        id,
        &PortConf {
            rx_queues: nq,
            tx_queues: nq,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: Some(mtu),
            rss: false,
        },
        pool,
    )
    .with_context(|| name.to_string())?;
    start_port(&port)?;
    Ok((port, vdev))
}

fn close_port(p: Port, vdev: Option<String>) {
    let name = p.name();
    if let Err(e) = p.close() {
        log::warn!("closing {name}: {e}");
    }
    if let Some(v) = vdev {
        if let Err(e) = dpdk::remove_vdev(&v) {
            log::debug!("detaching {v}: {e}");
        }
    }
}

/// A vhost-user server cannot bind over a socket file left by an earlier run.
/// Removes a vhost-user socket file left by a process that is gone; refuses when a process
/// still serves it (another router with the same config), rather than stealing its VM.
fn remove_stale_socket(path: &str) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("vhost_socket {path}: another process is serving it");
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale socket {path}"))?;
    }
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
