//! Ethernet ports (DPDK ethdevs): probing, configuration, control, and the per-queue handles
//! workers own.

use std::ffi::{c_char, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dpdk_sys::{rte_eth_conf, rte_eth_dev_info, rte_eth_link, rte_eth_stats, rte_ether_addr};

use super::burst::Burst;
use super::eal::ensure_up;
use super::error::{DpdkError, Result};
use super::mbuf::Mbuf;
use super::mempool::{Mempool, MBUF_HEADROOM};

/// Ethernet header + CRC + one VLAN tag: what a frame adds to the MTU.
const FRAME_OVERHEAD: usize = 14 + 4 + 4;

/// The ethdev port named `name` (a PCI address like "0000:03:00.0", or a vdev name like
/// "net_ring0"), if one exists.
pub fn port_by_name(name: &str) -> Option<u16> {
    ensure_up("rte_eth_dev_get_port_by_name").ok()?;
    let cname = CString::new(name).ok()?;
    let mut id = 0u16;
    // SAFETY: cname is a valid C string and id a valid out-pointer; EAL is up.
    let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
    (ret == 0).then_some(id)
}

/// Finds or creates the port that `devargs` describes and returns its id.
///
/// `devargs` is a device name optionally followed by `,key=value` options:
/// "0000:03:00.0", "net_vhost0,iface=/tmp/vm1.sock,queues=1,client=0",
/// "net_af_packet0,iface=veth0", "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", "net_null0",
/// "net_ring0", "net_tap0,iface=vh0". If a port with that name already exists (probed at EAL
/// init, e.g. a PCI NIC or a `--vdev`), it is returned as is (the options are not re-applied);
/// otherwise the device is hot-plugged with `rte_dev_probe`.
pub fn probe(devargs: &str) -> Result<u16> {
    const CALL: &str = "rte_dev_probe";
    ensure_up(CALL)?;
    let name = devargs.split(',').next().unwrap_or("").trim();
    if name.is_empty() {
        return Err(DpdkError::new(CALL, dpdk_sys::EINVAL as i32)
            .context(format!("no device name in devargs {devargs:?}")));
    }
    if let Some(id) = port_by_name(name) {
        return Ok(id);
    }
    let cargs = CString::new(devargs).map_err(|_| {
        DpdkError::new(CALL, dpdk_sys::EINVAL as i32)
            .context(format!("devargs {devargs:?} contain a NUL byte"))
    })?;
    // SAFETY: cargs is a valid C string; DPDK parses and copies it. EAL is up.
    let ret = unsafe { dpdk_sys::rte_dev_probe(cargs.as_ptr()) };
    if ret < 0 {
        return Err(DpdkError::from_ret(CALL, ret).context(devargs.to_owned()));
    }
    port_by_name(name).ok_or_else(|| {
        DpdkError::new(CALL, dpdk_sys::ENODEV as i32).context(format!(
            "{devargs:?} probed, but no ethdev port is named {name:?}"
        ))
    })
}

/// How to set up a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConf {
    /// RX queues: one per worker that polls this port.
    pub rx_queues: u16,
    /// TX queues: one per worker that may send on this port.
    pub tx_queues: u16,
    /// RX ring size per queue (clamped to the device's limits; 0 = driver default).
    pub rx_desc: u16,
    /// TX ring size per queue (clamped to the device's limits; 0 = driver default).
    pub tx_desc: u16,
    /// MTU to set; `None` keeps the device's default (1500).
    pub mtu: Option<u16>,
    /// Spread RX over the queues by an IP/UDP/TCP hash (only if `rx_queues > 1` and the
    /// device supports it).
    pub rss: bool,
}

impl Default for PortConf {
    fn default() -> Self {
        PortConf {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            rss: true,
        }
    }
}

/// The device's own counters (`rte_eth_stats`), as the driver reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortHwStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets the device dropped because no RX descriptor was free (we polled too slowly).
    pub imissed: u64,
    /// Erroneous packets received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX mbuf allocation failures (the mempool ran dry).
    pub rx_nombuf: u64,
}

/// A configured port. Control operations only; the hot path uses [`RxQueue`]/[`TxQueue`],
/// which [`rx_queue`](Self::rx_queue)/[`tx_queue`](Self::tx_queue) hand out once each.
///
/// While any queue handle of the port is alive, [`stop`](Self::stop) and
/// [`close`](Self::close) refuse (EBUSY): a driver may free its rings on stop, and a closed
/// port's id may be given to the next device probed, so a handle still polling would race.
/// Dropping a `Port` leaves the device as it is (running, if started).
#[derive(Debug)]
pub struct Port {
    id: u16,
    socket: i32,
    /// Shared with every queue handle: the strong count tells whether any is alive.
    queues: Arc<QueueClaims>,
}

/// Which queues of a port have a live handle.
#[derive(Debug)]
struct QueueClaims {
    rx: Box<[AtomicBool]>,
    tx: Box<[AtomicBool]>,
}

impl Port {
    /// Configures port `port_id` (from [`probe`]): queues, descriptors, RSS, MTU, and the RX
    /// queues' mbuf pool. The port is left stopped; call [`start`](Self::start).
    ///
    /// Queues are set up on the port's NUMA socket. The RX queues are not drained: packets a
    /// source (e.g. `net_pcap rx_pcap`) has queued are all forwarded.
    pub fn configure(port_id: u16, conf: &PortConf, pool: &Mempool) -> Result<Port> {
        ensure_up("rte_eth_dev_configure")?;
        let ctx = |what: &str| format!("port {port_id}: {what}");
        if conf.rx_queues == 0 || conf.tx_queues == 0 {
            return Err(
                DpdkError::new("rte_eth_dev_configure", dpdk_sys::EINVAL as i32)
                    .context(ctx("needs at least one RX and one TX queue")),
            );
        }

        let mut info = rte_eth_dev_info::default();
        // SAFETY: info is a valid out-pointer; DPDK checks port_id.
        let ret = unsafe { dpdk_sys::rte_eth_dev_info_get(port_id, &mut info) };
        if ret != 0 {
            return Err(DpdkError::from_ret("rte_eth_dev_info_get", ret).context(ctx("info")));
        }
        if conf.rx_queues > info.max_rx_queues || conf.tx_queues > info.max_tx_queues {
            return Err(
                DpdkError::new("rte_eth_dev_configure", dpdk_sys::EINVAL as i32).context(ctx(
                    &format!(
                        "{} RX / {} TX queues asked, device has at most {} / {}",
                        conf.rx_queues, conf.tx_queues, info.max_rx_queues, info.max_tx_queues
                    ),
                )),
            );
        }

        let mut eth_conf = rte_eth_conf::default();
        if conf.rss && conf.rx_queues > 1 {
            let wanted = u64::from(
                dpdk_sys::VR_ETH_RSS_IP | dpdk_sys::VR_ETH_RSS_UDP | dpdk_sys::VR_ETH_RSS_TCP,
            );
            let rss_hf = wanted & info.flow_type_rss_offloads;
            if rss_hf != 0 {
                eth_conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
                eth_conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            } else {
                log::warn!(
                    "port {port_id}: no IP/UDP/TCP RSS support; {} RX queues but only the \
                     driver's own distribution",
                    conf.rx_queues
                );
            }
        }
        // Let the NIC verify IPv4 header checksums where it can: the pipeline then skips its
        // own check of the outer header for packets the NIC marks good (and checks all others).
        let ip_cksum = u64::from(dpdk_sys::VR_ETH_RX_OFFLOAD_IPV4_CKSUM);
        if info.rx_offload_capa & ip_cksum != 0 {
            eth_conf.rxmode.offloads |= ip_cksum;
        }
        if let Some(mtu) = conf.mtu {
            // ethdev validates this against the device's min/max MTU at configure time.
            eth_conf.rxmode.mtu = u32::from(mtu);
            let frame = usize::from(mtu) + FRAME_OVERHEAD;
            let room = usize::from(pool.data_room().saturating_sub(MBUF_HEADROOM));
            if frame > room {
                let scatter = u64::from(dpdk_sys::VR_ETH_RX_OFFLOAD_SCATTER);
                if info.rx_offload_capa & scatter != 0 {
                    // Frames bigger than one mbuf arrive chained instead of being dropped.
                    eth_conf.rxmode.offloads |= scatter;
                } else {
                    log::warn!(
                        "port {port_id}: MTU {mtu} frames exceed the {room}-byte mbuf room and \
                         the device cannot scatter: the driver will drop them"
                    );
                }
            }
        }

        // SAFETY: eth_conf is a valid, fully initialised configuration; DPDK checks port_id
        // and copies the configuration.
        let ret = unsafe {
            dpdk_sys::rte_eth_dev_configure(port_id, conf.rx_queues, conf.tx_queues, &eth_conf)
        };
        if ret != 0 {
            return Err(
                DpdkError::from_ret("rte_eth_dev_configure", ret).context(ctx(&format!(
                    "{} RX / {} TX queues, MTU {:?}",
                    conf.rx_queues, conf.tx_queues, conf.mtu
                ))),
            );
        }

        if let Some(mtu) = conf.mtu {
            // Drivers with an MTU hook (TAP: the kernel interface; NICs: the hardware) apply
            // it here. Vdevs without one (ring, pcap, null) already took it from rxmode.mtu.
            // SAFETY: the port is configured and stopped.
            let ret = unsafe { dpdk_sys::rte_eth_dev_set_mtu(port_id, mtu) };
            if ret == -(dpdk_sys::ENOTSUP as i32) {
                // vhost-user and the like: nothing to set; the router enforces the MTU itself.
                log::debug!("port {port_id}: driver has no MTU setting ({mtu} kept by the router)");
            } else if ret != 0 {
                return Err(DpdkError::from_ret("rte_eth_dev_set_mtu", ret)
                    .context(ctx(&format!("MTU {mtu}"))));
            }
        }

        let (mut nb_rxd, mut nb_txd) = (conf.rx_desc, conf.tx_desc);
        // SAFETY: valid out-pointers; the port is configured.
        let ret = unsafe {
            dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut nb_rxd, &mut nb_txd)
        };
        if ret != 0 {
            return Err(DpdkError::from_ret("rte_eth_dev_adjust_nb_rx_tx_desc", ret)
                .context(ctx("descriptor counts")));
        }

        // SAFETY: port_id was accepted by the calls above.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(port_id) };
        // SOCKET_ID_ANY (-1) is passed through as DPDK's unsigned "any socket".
        let queue_socket = socket as u32;
        for q in 0..conf.rx_queues {
            // SAFETY: q < the configured RX queue count; NULL rxconf means the driver's
            // defaults; the pool outlives the port (pools are never freed).
            let ret = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    port_id,
                    q,
                    nb_rxd,
                    queue_socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if ret != 0 {
                return Err(DpdkError::from_ret("rte_eth_rx_queue_setup", ret)
                    .context(ctx(&format!("RX queue {q}, {nb_rxd} descriptors"))));
            }
        }
        for q in 0..conf.tx_queues {
            // SAFETY: q < the configured TX queue count; NULL txconf means the defaults.
            let ret = unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(port_id, q, nb_txd, queue_socket, std::ptr::null())
            };
            if ret != 0 {
                return Err(DpdkError::from_ret("rte_eth_tx_queue_setup", ret)
                    .context(ctx(&format!("TX queue {q}, {nb_txd} descriptors"))));
            }
        }

        let flags = |n: u16| (0..n).map(|_| AtomicBool::new(false)).collect();
        Ok(Port {
            id: port_id,
            socket,
            queues: Arc::new(QueueClaims {
                rx: flags(conf.rx_queues),
                tx: flags(conf.tx_queues),
            }),
        })
    }

    /// The DPDK port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The port's NUMA socket (-1 when unknown, as for vdevs).
    pub fn socket(&self) -> i32 {
        self.socket
    }

    /// Number of configured RX queues.
    pub fn rx_queue_count(&self) -> u16 {
        // Built from a u16 count in configure.
        self.queues.rx.len() as u16
    }

    /// Number of configured TX queues.
    pub fn tx_queue_count(&self) -> u16 {
        self.queues.tx.len() as u16
    }

    /// The handle for RX queue `q`; `None` if out of range or if a handle for it is alive
    /// (a DPDK queue must be polled by one thread only). Dropping the handle returns it.
    pub fn rx_queue(&self, q: u16) -> Option<RxQueue> {
        take(&self.queues.rx, q).then(|| RxQueue {
            port: self.id,
            queue: q,
            claims: Arc::clone(&self.queues),
        })
    }

    /// The handle for TX queue `q`; `None` if out of range or if a handle for it is alive.
    pub fn tx_queue(&self, q: u16) -> Option<TxQueue> {
        take(&self.queues.tx, q).then(|| TxQueue {
            port: self.id,
            queue: q,
            claims: Arc::clone(&self.queues),
        })
    }

    /// EBUSY from `call` while queue handles are alive.
    fn ensure_no_queue_handles(&self, call: &'static str) -> Result<()> {
        if Arc::strong_count(&self.queues) == 1 {
            Ok(())
        } else {
            Err(
                DpdkError::new(call, dpdk_sys::EBUSY as i32).context(format!(
                    "port {}: queue handles are still alive (stop the workers first)",
                    self.id
                )),
            )
        }
    }

    /// Starts the port: RX and TX begin.
    pub fn start(&self) -> Result<()> {
        // SAFETY: the port is configured with all its queues set up.
        let ret = unsafe { dpdk_sys::rte_eth_dev_start(self.id) };
        check(ret, "rte_eth_dev_start", self.id)
    }

    /// Stops the port. Fails with EBUSY while queue handles are alive.
    pub fn stop(&self) -> Result<()> {
        self.ensure_no_queue_handles("rte_eth_dev_stop")?;
        // SAFETY: a valid port id that no queue handle uses; stopping twice is harmless.
        let ret = unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
        check(ret, "rte_eth_dev_stop", self.id)
    }

    /// Stops the port if needed and releases it (its files and sockets are closed, e.g. a
    /// pcap file is flushed). Fails with EBUSY while queue handles are alive.
    pub fn close(self) -> Result<()> {
        self.ensure_no_queue_handles("rte_eth_dev_close")?;
        // SAFETY: as for stop; close also requires a stopped port.
        let ret = unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
        check(ret, "rte_eth_dev_stop", self.id)?;
        // SAFETY: the port is stopped; self is consumed so this handle cannot reuse it.
        let ret = unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
        check(ret, "rte_eth_dev_close", self.id)
    }

    /// The port's MAC address (all zeros if the driver cannot tell).
    pub fn mac(&self) -> [u8; 6] {
        let mut a = rte_ether_addr::default();
        // SAFETY: a is a valid out-pointer for one address.
        let ret = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id, &mut a) };
        if ret == 0 {
            a.addr_bytes
        } else {
            [0; 6]
        }
    }

    /// The port's current MTU (0 if the driver cannot tell).
    pub fn mtu(&self) -> u16 {
        let mut mtu = 0u16;
        // SAFETY: mtu is a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_mtu(self.id, &mut mtu) };
        if ret == 0 {
            mtu
        } else {
            0
        }
    }

    /// The port's device name ("net_ring0", "0000:03:00.0").
    pub fn name(&self) -> String {
        let mut buf = [0 as c_char; dpdk_sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes, the size DPDK writes at most.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_name_by_port(self.id, buf.as_mut_ptr()) };
        if ret != 0 {
            return format!("port{}", self.id);
        }
        // SAFETY: on success buf holds a NUL-terminated name.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The device's counters.
    pub fn stats(&self) -> Result<PortHwStats> {
        let mut s = rte_eth_stats::default();
        // SAFETY: s is a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_stats_get(self.id, &mut s) };
        check(ret, "rte_eth_stats_get", self.id)?;
        Ok(PortHwStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Zeroes the device's counters.
    pub fn reset_stats(&self) -> Result<()> {
        // SAFETY: a valid port id.
        let ret = unsafe { dpdk_sys::rte_eth_stats_reset(self.id) };
        check(ret, "rte_eth_stats_reset", self.id)
    }

    /// Turns promiscuous mode on or off (a router port must see frames for its VMs' MACs).
    pub fn promiscuous(&self, on: bool) -> Result<()> {
        // SAFETY: a valid port id.
        let ret = unsafe {
            if on {
                dpdk_sys::rte_eth_promiscuous_enable(self.id)
            } else {
                dpdk_sys::rte_eth_promiscuous_disable(self.id)
            }
        };
        check(ret, "rte_eth_promiscuous_enable/disable", self.id)
    }

    /// Whether the link is up now (does not wait for negotiation).
    pub fn link_up(&self) -> bool {
        let mut link = rte_eth_link::default();
        // SAFETY: link is a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id, &mut link) };
        ret == 0 && u32::from(link.link_status()) == dpdk_sys::RTE_ETH_LINK_UP
    }
}

/// Claims flag `q`; `false` if out of range or claimed before.
fn take(flags: &[AtomicBool], q: u16) -> bool {
    flags
        .get(usize::from(q))
        .is_some_and(|f| !f.swap(true, Ordering::AcqRel))
}

/// `Ok` for 0, else the error of `call` on `port`.
fn check(ret: i32, call: &'static str, port: u16) -> Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(DpdkError::from_ret(call, ret).context(format!("port {port}")))
    }
}

/// One RX queue of one port, polled by the worker that owns it.
#[derive(Debug)]
pub struct RxQueue {
    port: u16,
    queue: u16,
    claims: Arc<QueueClaims>,
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        self.claims.rx[usize::from(self.queue)].store(false, Ordering::Release);
    }
}

impl RxQueue {
    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The queue number.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives into the free slots of `burst` (after the mbufs it already holds); returns how
    /// many arrived. The port must be started (a stopped port yields nothing).
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut Burst) -> usize {
        let (slots, free) = burst.spare();
        if free == 0 {
            return 0;
        }
        // SAFETY: (port, queue) is a set-up RX queue that only this handle polls (Port hands
        // it out once, and cannot stop or close the port while it lives); slots has room for
        // `free` ≤ BURST_SIZE (fits u16) pointers.
        let n = unsafe { dpdk_sys::vr_eth_rx_burst(self.port, self.queue, slots, free as u16) };
        let n = usize::from(n).min(free);
        // SAFETY: the driver wrote n valid mbufs, now owned by us, into those slots.
        unsafe { burst.grow(n) };
        n
    }
}

/// One TX queue of one port, used by the worker that owns it.
#[derive(Debug)]
pub struct TxQueue {
    port: u16,
    queue: u16,
    claims: Arc<QueueClaims>,
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        self.claims.tx[usize::from(self.queue)].store(false, Ordering::Release);
    }
}

impl TxQueue {
    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The queue number.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Hands the mbufs of `burst` to the driver, front first; returns how many it took. Those
    /// leave the burst; the ones it did not take (ring full) stay, in order, at the front.
    #[inline]
    pub fn tx_burst(&mut self, burst: &mut Burst) -> usize {
        let n = burst.len();
        if n == 0 {
            return 0;
        }
        // SAFETY: (port, queue) is a set-up TX queue that only this handle uses, on a port
        // that stays configured while it lives (see RxQueue::rx_burst); the burst's
        // first n ≤ BURST_SIZE slots hold owned mbufs.
        let sent = unsafe {
            dpdk_sys::vr_eth_tx_burst(self.port, self.queue, burst.as_raw_mut(), n as u16)
        };
        let sent = usize::from(sent).min(n);
        // SAFETY: the driver took ownership of the first `sent` mbufs.
        unsafe { burst.consume_front(sent) };
        sent
    }
}

use crate::datapath::Packet as _;

/// What a TX buffer flush did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxResult {
    /// Packets the driver took.
    pub sent: usize,
    /// Packets it refused (freed).
    pub dropped: usize,
    /// Their bytes.
    pub dropped_bytes: u64,
}

/// A TX queue with a buffer of up to [`BURST_SIZE`](super::BURST_SIZE) packets in front of it, as l3fwd keeps
/// one per port per worker: packets collect until the buffer is full (or the worker flushes
/// on its timer), so the driver is called once per burst, not per packet.
#[derive(Debug)]
pub struct TxBuffer {
    txq: TxQueue,
    buf: Burst,
}

impl TxBuffer {
    /// An empty buffer in front of `txq`.
    pub fn new(txq: TxQueue) -> TxBuffer {
        TxBuffer {
            txq,
            buf: Burst::new(),
        }
    }

    /// Queues `m`; when that fills the buffer, flushes it and returns the flush's result,
    /// else an empty one.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> TxResult {
        // The buffer is never left full (see below), so this cannot fail; if it ever did,
        // `m` would be dropped (freed) and counted.
        if let Err(m) = self.buf.push(m) {
            let bytes = m.len() as u64;
            drop(m);
            return TxResult {
                sent: 0,
                dropped: 1,
                dropped_bytes: bytes,
            };
        }
        if self.buf.is_full() {
            self.flush()
        } else {
            TxResult::default()
        }
    }

    /// Sends what is buffered; mbufs the driver does not take (ring full) are freed.
    #[inline]
    pub fn flush(&mut self) -> TxResult {
        if self.buf.is_empty() {
            return TxResult::default();
        }
        let sent = self.txq.tx_burst(&mut self.buf);
        let dropped = self.buf.len();
        let dropped_bytes = if dropped == 0 {
            0
        } else {
            self.buf.as_mut_slice().iter().map(|m| m.len() as u64).sum()
        };
        self.buf.clear();
        TxResult {
            sent,
            dropped,
            dropped_bytes,
        }
    }

    /// Packets waiting.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// `true` when nothing waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The queue behind the buffer.
    pub fn queue(&self) -> &TxQueue {
        &self.txq
    }
}

// Dropping a TxBuffer frees what is still buffered (Burst's Drop) rather than sending it:
// a worker that exits without a last flush is shutting down anyway.

/// Detaches a virtual device by name (e.g. "net_vhost3") after its port was closed, so its
/// resources (a vhost-user socket) are released and the name can be used again.
pub fn remove_vdev(name: &str) -> Result<()> {
    const CALL: &str = "rte_eal_hotplug_remove";
    ensure_up(CALL)?;
    let bus = CString::new("vdev").map_err(|_| DpdkError::new(CALL, dpdk_sys::EINVAL as i32))?;
    let dev = CString::new(name)
        .map_err(|_| DpdkError::new(CALL, dpdk_sys::EINVAL as i32).context(name.to_owned()))?;
    // SAFETY: both are valid C strings; EAL is up; DPDK copies what it keeps.
    let ret = unsafe { dpdk_sys::rte_eal_hotplug_remove(bus.as_ptr(), dev.as_ptr()) };
    if ret < 0 {
        return Err(DpdkError::from_ret(CALL, ret).context(name.to_owned()));
    }
    Ok(())
}
