//! The per-lcore run-to-completion loop: poll every RX queue this worker owns, run the
//! pipeline over each burst, buffer the results per output port, flush on fill or timer.
//! Ports come and go at run time through a mailbox the control thread fills.

use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::datapath::pipeline::{process_burst, CoreCtx, Extra, Miss, Verdict};
use crate::datapath::stats::MAX_PORTS;
use crate::datapath::{CoreStats, DropReason, Packet};
use crate::dpdk::{tsc, tsc_hz, Burst, Mbuf, RxQueue, TxBuffer, TxResult, BURST_SIZE};
use crate::tables::rcu::Published;
use crate::tables::{PortIdx, Tables};

/// Empty polls in a row before an idle worker may sleep.
const IDLE_POLLS_BEFORE_SLEEP: u32 = 64;
/// TX buffers are flushed at least this often (µs), so a lone packet is not held back.
const TX_DRAIN_US: u64 = 100;

/// What the control thread asks a worker to do with its ports.
pub enum PortCmd {
    /// Start polling this port's RX queue and sending on its TX queue.
    Add(PortIdx, RxQueue, Box<TxBuffer>),
    /// Stop using the port: flush and drop its queue handles.
    Remove(PortIdx),
}

/// The control thread's line to one worker: commands in, a count of those done out.
#[derive(Clone)]
pub struct Mailbox {
    pub cmds: Arc<ArrayQueue<PortCmd>>,
    pub done: Arc<AtomicU64>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox {
            cmds: Arc::new(ArrayQueue::new(2 * MAX_PORTS)),
            done: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Everything one worker owns.
pub struct Worker {
    /// Reader slot in the RCU publication.
    pub id: usize,
    pub tables: Arc<Published<Tables>>,
    pub stats: Arc<CoreStats>,
    /// The RX queues it polls, with the port index the tables know them by.
    pub rx: Vec<(PortIdx, RxQueue)>,
    /// One TX buffer per port, indexed by port index.
    pub tx: Vec<Option<TxBuffer>>,
    pub stop: Arc<AtomicBool>,
    /// Sleep this long when idle (0: pure busy polling).
    pub idle_sleep_us: u64,
    pub mailbox: Mailbox,
    /// Miss notifications for the control thread.
    pub misses: Arc<ArrayQueue<Miss>>,
}

impl Worker {
    /// Runs until `stop` is set. Returns 0 (the lcore exit status).
    pub fn run(mut self) -> i32 {
        let hz = tsc_hz();
        let mut ctx = CoreCtx::new(self.stats.clone(), hz);
        ctx.set_miss_queue(self.misses.clone());
        let drain_ticks = hz / 1_000_000 * TX_DRAIN_US;
        let mut burst = Burst::new();
        let mut verdicts = [Verdict::Drop(DropReason::TxFull); BURST_SIZE];
        // Fragments the pipeline makes; sized once, here.
        let mut extra: Extra<Mbuf> = Extra::default();
        let mut last_drain = tsc();
        let mut idle = 0u32;
        self.tx.resize_with(MAX_PORTS, || None);
        let mut active: Vec<usize> = Vec::with_capacity(MAX_PORTS);
        self.active_tx(&mut active);
        self.tables.online(self.id);
        while !self.stop.load(Ordering::Relaxed) {
            let now = tsc();
            ctx.set_now(now);
            // One atomic load per loop; the reference is dropped before `quiescent` below.
            let t = self.tables.read();
            let mut got = 0;
            for (port, rxq) in self.rx.iter_mut() {
                let n = rxq.rx_burst(&mut burst);
                if n == 0 {
                    continue;
                }
                got += n;
                if let Some(pc) = self.stats.port(usize::from(*port)) {
                    pc.rx_packets.add(n as u64);
                    pc.rx_bytes
                        .add(burst.as_slice().iter().map(|m| m.len() as u64).sum());
                }
                process_burst(
                    &mut ctx,
                    t,
                    *port,
                    burst.as_mut_slice(),
                    &mut verdicts[..n],
                    &mut extra,
                );
                // The burst's packets, then the fragments the pipeline made.
                let done = burst.drain().zip(verdicts.iter().copied());
                send(&self.stats, &mut self.tx, done.chain(extra.drain()));
            }
            // Whatever this round received leaves now (as OVS-DPDK's tx-flush-interval=0):
            // under load the buffers fill to whole bursts anyway, and at low rates no packet
            // waits for others. The timer is the backstop.
            if got > 0 || now.wrapping_sub(last_drain) >= drain_ticks {
                self.flush(&active);
                last_drain = now;
            }
            self.tables.quiescent(self.id);
            if !self.mailbox.cmds.is_empty() {
                self.take_commands();
                self.active_tx(&mut active);
            }
            if got == 0 && self.idle_sleep_us > 0 {
                idle += 1;
                if idle >= IDLE_POLLS_BEFORE_SLEEP {
                    self.flush(&active);
                    self.tables.offline(self.id);
                    std::thread::sleep(Duration::from_micros(self.idle_sleep_us));
                    self.tables.online(self.id);
                }
            } else {
                idle = 0;
            }
        }
        self.flush(&active);
        self.tables.offline(self.id);
        // Hand the queue handles back (dropped here) before the control thread stops ports.
        self.rx.clear();
        self.tx.clear();
        0
    }

    #[cold]
    fn take_commands(&mut self) {
        while let Some(cmd) = self.mailbox.cmds.pop() {
            match cmd {
                PortCmd::Add(port, rxq, txb) => {
                    self.rx.retain(|(p, _)| *p != port);
                    self.rx.push((port, rxq));
                    if let Some(slot) = self.tx.get_mut(usize::from(port)) {
                        *slot = Some(*txb);
                    }
                }
                PortCmd::Remove(port) => {
                    self.rx.retain(|(p, _)| *p != port);
                    if let Some(slot) = self.tx.get_mut(usize::from(port)) {
                        if let Some(mut txb) = slot.take() {
                            let r = txb.flush();
                            count_tx_drops(&self.stats, usize::from(port), r);
                        }
                    }
                }
            }
            self.mailbox.done.fetch_add(1, Ordering::Release);
        }
    }

    /// Sets `active` to the ports this worker has a TX queue on (capacity reserved up front:
    /// no allocation).
    fn active_tx(&self, active: &mut Vec<usize>) {
        active.clear();
        active.extend(
            self.tx
                .iter()
                .enumerate()
                .filter(|(_, t)| t.is_some())
                .map(|(i, _)| i),
        );
    }

    /// Flushes the TX buffers of the ports in `active` (those the worker has).
    fn flush(&mut self, active: &[usize]) {
        for &port in active {
            if let Some(Some(txb)) = self.tx.get_mut(port) {
                if !txb.is_empty() {
                    let r = txb.flush();
                    count_tx_drops(&self.stats, port, r);
                }
            }
        }
    }
}

/// Sends each packet with a `Tx` verdict to its port's TX buffer and frees the others. Runs
/// of packets to one port (most of a burst, usually) look up the buffer once and add to the
/// port's counters once.
#[inline]
fn send(
    stats: &CoreStats,
    tx: &mut [Option<TxBuffer>],
    pkts: impl Iterator<Item = (Mbuf, Verdict)>,
) {
    let mut pkts = pkts.peekable();
    while let Some((mut m, v)) = pkts.next() {
        let Verdict::Tx(out) = v else {
            drop(m);
            continue;
        };
        let Some(Some(txb)) = tx.get_mut(usize::from(out)) else {
            stats.count_drop(DropReason::UnknownPort);
            continue;
        };
        let pc = stats.port(usize::from(out));
        let queued = |packets: u64, bytes: u64| {
            if let Some(pc) = pc {
                pc.tx_packets.add(packets);
                pc.tx_bytes.add(bytes);
            }
        };
        let (mut packets, mut bytes) = (0u64, 0u64);
        loop {
            packets += 1;
            bytes += m.len() as u64;
            let r = txb.push(m);
            if r.dropped > 0 {
                // Counted as queued first, so that the counters never go below zero.
                queued(packets, bytes);
                (packets, bytes) = (0, 0);
                count_tx_drops(stats, usize::from(out), r);
            }
            match pkts.next_if(|(_, v)| *v == Verdict::Tx(out)) {
                Some((next, _)) => m = next,
                None => break,
            }
        }
        queued(packets, bytes);
    }
}

/// Packets the TX queue refused: counted in the port's tx_dropped and as a drop reason, and
/// taken back out of tx_packets and tx_bytes (which counted them when queued).
#[inline]
fn count_tx_drops(stats: &CoreStats, port: usize, r: TxResult) {
    if r.dropped > 0 {
        if let Some(pc) = stats.port(port) {
            pc.tx_dropped.add(r.dropped as u64);
            pc.tx_packets.add((r.dropped as u64).wrapping_neg());
            pc.tx_bytes.add(r.dropped_bytes.wrapping_neg());
        }
        stats.drops[DropReason::TxFull as usize].add(r.dropped as u64);
    }
}
