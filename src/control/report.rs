//! Counter reports: the sum over workers, as a table for people and JSON for tools.

use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::datapath::{CoreStats, DropReason, Event};

/// Hardware/driver counters of one port, as DPDK reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct HwCounters {
    pub ipackets: u64,
    pub opackets: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

/// Mempool occupancy figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct MempoolFigures {
    pub in_use_at_start: u64,
    pub in_use_now: u64,
    pub capacity: u64,
}

/// A snapshot of every counter, summed over workers.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub ports: Vec<PortReport>,
    /// Per worker: per port `(rx_packets, tx_packets)`, and the worker's total drops.
    pub per_core: Vec<(Vec<(u64, u64)>, u64)>,
    pub drops: Vec<(DropReason, u64)>,
    pub events: Vec<(Event, u64)>,
    pub mempool: MempoolFigures,
}

#[derive(Clone, Debug, Default)]
pub struct PortReport {
    pub name: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub tx_dropped: u64,
    pub hw: HwCounters,
}

impl Report {
    /// Sums the workers' counters for ports named `names` (index = port index).
    pub fn collect(
        cores: &[Arc<CoreStats>],
        names: &[String],
        hw: &[HwCounters],
        mempool: MempoolFigures,
    ) -> Report {
        let sum = |f: &dyn Fn(&CoreStats) -> u64| cores.iter().map(|c| f(c)).sum::<u64>();
        let ports = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let p = |f: &dyn Fn(&crate::datapath::stats::PortCounters) -> u64| {
                    sum(&|c: &CoreStats| c.port(i).map(f).unwrap_or(0))
                };
                PortReport {
                    name: name.clone(),
                    rx_packets: p(&|c| c.rx_packets.get()),
                    rx_bytes: p(&|c| c.rx_bytes.get()),
                    tx_packets: p(&|c| c.tx_packets.get()),
                    tx_bytes: p(&|c| c.tx_bytes.get()),
                    tx_dropped: p(&|c| c.tx_dropped.get()),
                    hw: hw.get(i).copied().unwrap_or_default(),
                }
            })
            .collect();
        let per_core = cores
            .iter()
            .map(|c| {
                let ports = (0..names.len())
                    .map(|i| {
                        c.port(i)
                            .map_or((0, 0), |p| (p.rx_packets.get(), p.tx_packets.get()))
                    })
                    .collect();
                (ports, DropReason::ALL.iter().map(|&r| c.drops_of(r)).sum())
            })
            .collect();
        Report {
            ports,
            per_core,
            drops: DropReason::ALL
                .iter()
                .map(|&r| (r, sum(&|c| c.drops_of(r))))
                .collect(),
            events: Event::ALL
                .iter()
                .map(|&e| (e, sum(&|c| c.events_of(e))))
                .collect(),
            mempool,
        }
    }

    /// The count for one drop reason.
    pub fn drop_count(&self, r: DropReason) -> u64 {
        self.drops
            .iter()
            .find(|(x, _)| *x == r)
            .map_or(0, |(_, n)| *n)
    }

    /// JSON as documented in docs/CONFIG.md.
    pub fn to_json(&self) -> Value {
        // Slots of removed vifs (no name) are not shown; per-core columns follow `ports`.
        let shown: Vec<bool> = self.ports.iter().map(|p| !p.name.is_empty()).collect();
        let ports: Vec<Value> = self
            .ports
            .iter()
            .filter(|p| !p.name.is_empty())
            .map(|p| {
                json!({
                    "name": p.name, "rx_packets": p.rx_packets, "rx_bytes": p.rx_bytes,
                    "tx_packets": p.tx_packets, "tx_bytes": p.tx_bytes, "tx_dropped": p.tx_dropped,
                    "hw_ipackets": p.hw.ipackets, "hw_opackets": p.hw.opackets,
                    "hw_imissed": p.hw.imissed, "hw_ierrors": p.hw.ierrors,
                    "hw_oerrors": p.hw.oerrors, "hw_rx_nombuf": p.hw.rx_nombuf,
                })
            })
            .collect();
        let drops: Map<String, Value> = self
            .drops
            .iter()
            .map(|(r, n)| (r.name().to_string(), json!(n)))
            .collect();
        let events: Map<String, Value> = self
            .events
            .iter()
            .map(|(e, n)| (e.name().to_string(), json!(n)))
            .collect();
        let per_core: Vec<Value> = self
            .per_core
            .iter()
            .enumerate()
            .map(|(w, (ports, drops))| {
                json!({
                    "worker": w,
                    "rx_packets": ports.iter().zip(&shown).filter(|x| *x.1).map(|(p, _)| p.0).collect::<Vec<_>>(),
                    "tx_packets": ports.iter().zip(&shown).filter(|x| *x.1).map(|(p, _)| p.1).collect::<Vec<_>>(),
                    "drops": drops,
                })
            })
            .collect();
        json!({
            "ports": ports,
            "per_core": per_core,
            "drops": drops,
            "events": events,
            "mempool": {
                "in_use_at_start": self.mempool.in_use_at_start,
                "in_use_at_exit": self.mempool.in_use_now,
                "in_use_now": self.mempool.in_use_now,
                "capacity": self.mempool.capacity,
            },
        })
    }

    /// A table for a terminal: ports, non-zero drops and events.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<12} {:>12} {:>14} {:>12} {:>14} {:>10} {:>10} {:>10}",
            "port",
            "rx_packets",
            "rx_bytes",
            "tx_packets",
            "tx_bytes",
            "tx_drop",
            "hw_missed",
            "hw_errors"
        );
        for p in self.ports.iter().filter(|p| !p.name.is_empty()) {
            let _ = writeln!(
                s,
                "{:<12} {:>12} {:>14} {:>12} {:>14} {:>10} {:>10} {:>10}",
                p.name,
                p.rx_packets,
                p.rx_bytes,
                p.tx_packets,
                p.tx_bytes,
                p.tx_dropped,
                p.hw.imissed,
                p.hw.ierrors + p.hw.oerrors
            );
        }
        for (w, (ports, drops)) in self.per_core.iter().enumerate() {
            let cols: Vec<String> = ports
                .iter()
                .zip(&self.ports)
                .filter(|(_, p)| !p.name.is_empty())
                .map(|((rx, tx), p)| format!("{} rx={rx} tx={tx}", p.name))
                .collect();
            let _ = writeln!(s, "worker {w}: {}  drops={drops}", cols.join("  "));
        }
        let nz: Vec<String> = self
            .drops
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{}={n}", r.name()))
            .collect();
        let _ = writeln!(
            s,
            "drops:  {}",
            if nz.is_empty() {
                "none".into()
            } else {
                nz.join(" ")
            }
        );
        let ev: Vec<String> = self
            .events
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(e, n)| format!("{}={n}", e.name()))
            .collect();
        let _ = writeln!(
            s,
            "events: {}",
            if ev.is_empty() {
                "none".into()
            } else {
                ev.join(" ")
            }
        );
        let _ = writeln!(
            s,
            "mbufs in use: {} (at start {}, pool {})",
            self.mempool.in_use_now, self.mempool.in_use_at_start, self.mempool.capacity
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_over_workers_and_renders() {
        let a = Arc::new(CoreStats::default());
        let b = Arc::new(CoreStats::default());
        a.count_drop(DropReason::NoRoute);
        b.count_drop(DropReason::NoRoute);
        a.ports[1].rx_packets.add(3);
        b.ports[1].rx_packets.add(4);
        b.event(Event::VxlanDecap);
        let r = Report::collect(
            &[a, b],
            &["fabric".into(), "vm1".into()],
            &[],
            MempoolFigures::default(),
        );
        assert_eq!(r.drop_count(DropReason::NoRoute), 2);
        assert_eq!(r.ports[1].rx_packets, 7);
        let j = r.to_json();
        assert_eq!(j["drops"]["no_route"], 2);
        assert_eq!(j["events"]["vxlan_decap"], 1);
        assert_eq!(j["ports"][1]["name"], "vm1");
        assert_eq!(j["per_core"][0]["rx_packets"][1], 3);
        assert_eq!(j["per_core"][1]["rx_packets"][1], 4);
        assert_eq!(j["per_core"][0]["drops"], 1);
        let t = r.to_text();
        assert!(t.contains("no_route=2"), "{t}");
    }
}
