//! Bringing the router up and down: EAL, mempool, ports, tables, workers, and the control
//! loop (signals, periodic stats, the run-for deadline).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{Config, VifDev};
use super::report::{HwCounters, MempoolFigures, Report};
use crate::datapath::CoreStats;
use crate::dpdk::{self, Eal, Mempool, Port, PortConf, TxBuffer};
use crate::tables::rcu::Published;
use crate::tables::Tables;
use crate::worker::Worker;

/// Run-time options from the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub config: PathBuf,
    pub run_for: Option<Duration>,
    pub stats_json: Option<PathBuf>,
    pub stats_interval: Option<Duration>,
    pub idle_sleep_us: u64,
    pub control_core: Option<usize>,
    pub eal_args: Vec<String>,
}

/// Runs the router until SIGINT/SIGTERM or the run-for deadline.
pub fn run(opts: &Options) -> Result<()> {
    let config = Config::load(&opts.config)?;
    // Validate everything before touching DPDK: a bad config starts nothing.
    config.build_tables([0; 6])?;

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
    let nports = 1 + config.vif.len() as u32;
    // RX and TX rings of every queue full, each worker's bursts and buffers, per-lcore
    // caches, and slack.
    let n_mbufs = (nports * u32::from(nq) * (u32::from(rx_desc) + u32::from(tx_desc))
        + u32::from(nq) * (nports + 1) * 32
        + u32::from(nq) * 256
        + 4096)
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

    // Ports: fabric first, then the vifs in config order (the tables' port indices).
    let mut ports: Vec<Port> = Vec::new();
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
    ports.push(fabric);
    for (i, v) in config.vif.iter().enumerate() {
        let devargs = match v.device() {
            VifDev::Vhost { socket, client } => {
                if !client {
                    remove_stale_socket(&socket);
                }
                format!(
                    "net_vhost{i},iface={socket},queues={nq},client={}",
                    u8::from(client)
                )
            }
            VifDev::Dev(d) => d,
        };
        let id =
            dpdk::probe(&devargs).with_context(|| format!("vif[{i}] ({}): {devargs}", v.name))?;
        let port = Port::configure(
            id,
            &PortConf {
                rx_queues: nq,
                tx_queues: nq,
                rx_desc: 1024,
                tx_desc: 1024,
                mtu: v.mtu,
                rss: false,
            },
            &pool,
        )
        .with_context(|| format!("vif[{i}] ({})", v.name))?;
        ports.push(port);
    }
    for p in &ports {
        p.start()
            .with_context(|| format!("starting port {}", p.name()))?;
        if let Err(e) = p.promiscuous(true) {
            log::debug!("port {}: promiscuous mode: {e}", p.name());
        }
    }
    let fabric_mac = ports[0].mac();
    let port_mtus: Vec<u16> = ports.iter().map(Port::mtu).collect();
    let mut tables = config.build_tables(fabric_mac)?;
    fill_port_mtus(&mut tables, &config, &port_mtus);
    log::info!(
        "fabric {} ({}) mac {}, {} vif(s), {} worker(s) on lcores {:?}",
        config.fabric.dev,
        tables.fabric.ip,
        fmt_mac(&tables.fabric.mac),
        config.vif.len(),
        nq,
        lcores
    );
    let names: Vec<String> = tables.ports.iter().map(|p| p.name.clone()).collect();
    let published = Arc::new(Published::new(tables, lcores.len()));
    let stop = Arc::new(AtomicBool::new(false));
    let core_stats: Vec<Arc<CoreStats>> = lcores
        .iter()
        .map(|_| Arc::new(CoreStats::default()))
        .collect();
    let in_use_at_start = u64::from(pool.in_use());

    for (w, &lcore) in lcores.iter().enumerate() {
        let q = w as u16;
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        for (idx, p) in ports.iter().enumerate() {
            rx.push((idx as u16, p.rx_queue(q).context("rx queue taken twice")?));
            tx.push(TxBuffer::new(
                p.tx_queue(q).context("tx queue taken twice")?,
            ));
        }
        let worker = Worker {
            id: w,
            tables: published.clone(),
            stats: core_stats[w].clone(),
            rx,
            tx,
            stop: stop.clone(),
            idle_sleep_us: opts.idle_sleep_us,
        };
        dpdk::launch(lcore, move || worker.run())
            .with_context(|| format!("launching lcore {lcore}"))?;
    }

    let report = |ports: &[Port], in_use_now: u64| {
        let hw: Vec<HwCounters> = ports
            .iter()
            .map(|p| {
                p.stats()
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
            .collect();
        Report::collect(
            &core_stats,
            &names,
            &hw,
            MempoolFigures {
                in_use_at_start,
                in_use_now,
                capacity: u64::from(pool.capacity()),
            },
        )
    };

    // Control loop.
    let term = Arc::new(AtomicBool::new(false));
    let usr1 = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, term.clone()).context("signal handler")?;
    }
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .context("signal handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, usr1.clone())
        .context("signal handler")?;
    let started = Instant::now();
    let mut last_print = Instant::now();
    println!(
        "vrouter: forwarding ({} worker(s)); SIGUSR1 prints counters, SIGINT stops",
        nq
    );
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if term.load(Ordering::Relaxed) {
            break;
        }
        if opts.run_for.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let periodic = opts
            .stats_interval
            .is_some_and(|i| last_print.elapsed() >= i);
        if hup.swap(false, Ordering::Relaxed) {
            match reload(&opts.config, &config, fabric_mac, &port_mtus, &published) {
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
        if usr1.swap(false, Ordering::Relaxed) || periodic {
            println!("{}", report(&ports, u64::from(pool.in_use())).to_text());
            last_print = Instant::now();
        }
    }

    stop.store(true, Ordering::Relaxed);
    for &lcore in &lcores {
        let rc = dpdk::wait_lcore(lcore);
        if rc != 0 {
            log::error!("worker on lcore {lcore} exited with {rc}");
        }
    }
    // Workers are gone and have flushed their buffers: what is still in use sits in rings.
    let final_report = report(&ports, u64::from(pool.in_use()));
    println!("vrouter: final counters\n{}", final_report.to_text());
    if let Some(path) = &opts.stats_json {
        std::fs::write(path, serde_json::to_string_pretty(&final_report.to_json())?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for p in ports {
        let name = p.name();
        if let Err(e) = p.stop() {
            log::warn!("stopping {name}: {e}");
        }
        if let Err(e) = p.close() {
            log::warn!("closing {name}: {e}");
        }
    }
    drop(published);
    drop(eal);
    Ok(())
}

/// Re-reads the configuration and publishes new tables while the workers forward. Ports are
/// fixed at start, so a config that changes the fabric or the vifs' devices is refused whole.
/// Returns the time from build start to the old tables being freed, in µs.
fn reload(
    path: &std::path::Path,
    running: &Config,
    fabric_mac: [u8; 6],
    port_mtus: &[u16],
    published: &Published<Tables>,
) -> Result<u128> {
    let t0 = Instant::now();
    let new = Config::load(path)?;
    if new.fabric.dev != running.fabric.dev {
        bail!("fabric.dev changed: ports cannot change at run time (restart the router)");
    }
    let devs = |c: &Config| {
        c.vif
            .iter()
            .map(|v| (v.name.clone(), v.device()))
            .collect::<Vec<_>>()
    };
    if devs(&new) != devs(running) {
        bail!("the vif list (names or devices) changed: ports cannot change at run time (restart the router)");
    }
    let mut tables = new.build_tables(fabric_mac)?;
    fill_port_mtus(&mut tables, &new, port_mtus);
    let old = published.read();
    tables.neighbors.inherit_learned(&old.neighbors);
    tables.pmtu.inherit(&old.pmtu);
    published.publish(tables);
    Ok(t0.elapsed().as_micros())
}

/// Ports whose MTU the config leaves open get the device's own.
fn fill_port_mtus(tables: &mut Tables, config: &Config, port_mtus: &[u16]) {
    let configured = std::iter::once(config.fabric.mtu).chain(config.vif.iter().map(|v| v.mtu));
    for ((port, conf), &dev) in tables.ports.iter_mut().zip(configured).zip(port_mtus) {
        if conf.is_none() && dev >= 576 {
            port.mtu = dev;
        }
    }
}

/// A vhost-user server cannot bind over a socket file left by an earlier run.
fn remove_stale_socket(path: &str) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
