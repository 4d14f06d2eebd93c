//! Path MTUs learned for tunnel endpoints from ICMP "fragmentation needed" on the fabric.
//!
//! Each endpoint's slot holds the learned MTU and when it expires, in one atomic word, so
//! workers learn and read lock-free. Slots are shared by every version of the table, like the
//! neighbours' MACs.

use hashbrown::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How long a learned path MTU holds before the fabric MTU applies again (RFC 1191 suggests
/// 10 minutes).
pub const PMTU_TIMEOUT_S: u64 = 600;
/// The lowest path MTU the router accepts from an ICMP error (RFC 791's minimum datagram).
pub const PMTU_MIN: u16 = 576;
/// Most tunnel endpoints.
pub const ENDPOINT_CAPACITY: usize = 16384;

/// Learned path MTUs per tunnel endpoint.
#[derive(Debug, Clone)]
pub struct PmtuTable {
    /// `mtu << 48 | expiry (seconds of the worker clock)`; 0 = nothing learned.
    slots: Arc<[AtomicU64]>,
    ips: Vec<Ipv4Addr>,
    index: HashMap<Ipv4Addr, u32>,
}

impl Default for PmtuTable {
    fn default() -> Self {
        PmtuTable {
            slots: (0..ENDPOINT_CAPACITY).map(|_| AtomicU64::new(0)).collect(),
            ips: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl PmtuTable {
    /// The index of endpoint `ip`, adding it if new; `None` when full.
    pub fn add(&mut self, ip: Ipv4Addr) -> Option<u32> {
        if let Some(&i) = self.index.get(&ip) {
            return Some(i);
        }
        if self.ips.len() >= self.slots.len() {
            return None;
        }
        let i = self.ips.len() as u32;
        self.ips.push(ip);
        self.index.insert(ip, i);
        Some(i)
    }

    /// Copies what `old` learned for endpoints this table also has.
    pub fn inherit(&self, old: &PmtuTable) {
        for (i, ip) in self.ips.iter().enumerate() {
            if let Some(&j) = old.index.get(ip) {
                self.slots[i].store(
                    old.slots[j as usize].load(Ordering::Relaxed),
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// The learned path MTU of endpoint `i` at time `now_s`, if one holds.
    #[inline]
    pub fn get(&self, i: u32, now_s: u64) -> Option<u16> {
        let w = self.slots.get(i as usize)?.load(Ordering::Relaxed);
        (w != 0 && now_s < (w & 0xFFFF_FFFF_FFFF)).then_some((w >> 48) as u16)
    }

    /// Records that the path to `ip` carries at most `mtu` bytes (clamped to [`PMTU_MIN`]),
    /// from time `now_s`. Returns the MTU now in force when this lowered it, else `None` (not
    /// an endpoint, or not lower than what holds).
    pub fn learn(&self, ip: Ipv4Addr, mtu: u16, current: u16, now_s: u64) -> Option<u16> {
        let &i = self.index.get(&ip)?;
        let mtu = mtu.max(PMTU_MIN);
        let in_force = self.get(i, now_s).unwrap_or(current).min(current);
        if mtu >= in_force {
            return None;
        }
        let expiry = (now_s + PMTU_TIMEOUT_S) & 0xFFFF_FFFF_FFFF;
        self.slots[i as usize].store(u64::from(mtu) << 48 | expiry, Ordering::Relaxed);
        Some(mtu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_lower_only_expire_and_share() {
        let mut t = PmtuTable::default();
        let ep = Ipv4Addr::new(203, 0, 113, 2);
        let i = t.add(ep).unwrap();
        let next = t.clone();
        assert_eq!(t.get(i, 10), None);
        assert_eq!(t.learn(ep, 1400, 1500, 10), Some(1400));
        assert_eq!(next.get(i, 11), Some(1400), "shared with later versions");
        assert_eq!(
            t.learn(ep, 1450, 1500, 12),
            None,
            "a higher MTU is not learned"
        );
        assert_eq!(t.learn(ep, 100, 1500, 12), Some(PMTU_MIN));
        assert_eq!(t.get(i, 12 + PMTU_TIMEOUT_S), None, "expired");
        assert_eq!(
            t.learn(Ipv4Addr::new(198, 51, 100, 1), 1000, 1500, 0),
            None,
            "not an endpoint"
        );
    }
}
