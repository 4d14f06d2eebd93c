//! Underlay neighbours (ARP): the IPv4 addresses of tunnel endpoints and the gateway, each
//! with a MAC that workers fill in lock-free when ARP tells them.
//!
//! The MAC slots are shared by every version of the table (a copy-on-write clone shares
//! them), so what a worker learned survives table changes; only the address → slot index is
//! copied when the control plane adds an address.

use hashbrown::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::MacAddr;

/// Bit set in an entry's word when its MAC is known.
const VALID: u64 = 1 << 63;
/// Bit set when the MAC came from the configuration: ARP does not overwrite it.
const STATIC: u64 = 1 << 62;
/// Most neighbours (slots are never reused, so this bounds additions over the router's life).
pub const NEIGHBOR_CAPACITY: usize = 16384;

/// A neighbour table.
#[derive(Debug, Clone)]
pub struct NeighborTable {
    /// MAC in the low 48 bits, plus the VALID/STATIC flags; shared by all versions.
    macs: Arc<[AtomicU64]>,
    ips: Vec<Ipv4Addr>,
    index: HashMap<Ipv4Addr, u32>,
}

impl Default for NeighborTable {
    fn default() -> Self {
        NeighborTable {
            macs: (0..NEIGHBOR_CAPACITY).map(|_| AtomicU64::new(0)).collect(),
            ips: Vec::new(),
            index: HashMap::new(),
        }
    }
}

fn pack(mac: &MacAddr) -> u64 {
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(mac);
    u64::from_be_bytes(b)
}

fn unpack(w: u64) -> MacAddr {
    let b = w.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

impl NeighborTable {
    /// The index of `ip`, adding it (unresolved) if new; `None` when the table is full.
    pub fn add(&mut self, ip: Ipv4Addr) -> Option<u32> {
        if let Some(&i) = self.index.get(&ip) {
            return Some(i);
        }
        if self.ips.len() >= self.macs.len() {
            return None;
        }
        let i = self.ips.len() as u32;
        self.ips.push(ip);
        self.index.insert(ip, i);
        Some(i)
    }

    /// Adds `ip` with a static MAC that ARP will not change.
    pub fn add_static(&mut self, ip: Ipv4Addr, mac: MacAddr) -> Option<u32> {
        let i = self.add(ip)?;
        self.macs[i as usize].store(pack(&mac) | VALID | STATIC, Ordering::Relaxed);
        Some(i)
    }

    /// The index of `ip`, if it is a known neighbour.
    #[inline]
    pub fn index_of(&self, ip: Ipv4Addr) -> Option<u32> {
        self.index.get(&ip).copied()
    }

    /// The MAC of neighbour `i`, if resolved.
    #[inline(always)]
    pub fn mac(&self, i: u32) -> Option<MacAddr> {
        if i as usize >= self.ips.len() {
            return None;
        }
        let w = self.macs[i as usize].load(Ordering::Relaxed);
        (w & VALID != 0).then(|| unpack(w))
    }

    /// The address of neighbour `i`.
    #[inline]
    pub fn ip(&self, i: u32) -> Option<Ipv4Addr> {
        self.ips.get(i as usize).copied()
    }

    /// Records `mac` for `ip` if `ip` is a neighbour and not static; `true` when that changed
    /// what was stored.
    #[inline]
    pub fn learn(&self, ip: Ipv4Addr, mac: MacAddr) -> bool {
        let Some(&i) = self.index.get(&ip) else {
            return false;
        };
        let slot = &self.macs[i as usize];
        let old = slot.load(Ordering::Relaxed);
        let new = pack(&mac) | VALID;
        if old & STATIC != 0 || old == new {
            return false;
        }
        slot.store(new, Ordering::Relaxed);
        true
    }

    /// Copies the MACs `old` learned by ARP for addresses this table also has (and has no
    /// static MAC for), so a table rebuilt from scratch does not forget resolved endpoints.
    pub fn inherit_learned(&self, old: &NeighborTable) {
        for (i, ip) in self.ips.iter().enumerate() {
            let Some(j) = old.index_of(*ip) else { continue };
            let w = old.macs[j as usize].load(Ordering::Relaxed);
            let slot = &self.macs[i];
            if w & VALID != 0 && w & STATIC == 0 && slot.load(Ordering::Relaxed) & STATIC == 0 {
                slot.store(w, Ordering::Relaxed);
            }
        }
    }

    /// Number of neighbours.
    pub fn len(&self) -> usize {
        self.ips.len()
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_static_and_shared_across_clones() {
        let mut t = NeighborTable::default();
        let a = t.add(Ipv4Addr::new(203, 0, 113, 2)).unwrap();
        let b = t
            .add_static(Ipv4Addr::new(203, 0, 113, 3), [2, 0, 0, 0, 0, 3])
            .unwrap();
        assert_eq!(t.add(Ipv4Addr::new(203, 0, 113, 2)), Some(a));
        assert_eq!(t.mac(a), None);
        let mut next = t.clone();
        let c = next.add(Ipv4Addr::new(203, 0, 113, 4)).unwrap();
        assert!(t.learn(Ipv4Addr::new(203, 0, 113, 2), [2, 0, 0, 0, 0, 2]));
        assert!(!t.learn(Ipv4Addr::new(203, 0, 113, 2), [2, 0, 0, 0, 0, 2]));
        assert_eq!(
            next.mac(a),
            Some([2, 0, 0, 0, 0, 2]),
            "learned by the old version, seen by the new"
        );
        assert_eq!(
            t.mac(c),
            None,
            "the old version does not know the new address"
        );
        assert!(!t.learn(Ipv4Addr::new(203, 0, 113, 3), [9; 6]));
        assert_eq!(t.mac(b), Some([2, 0, 0, 0, 0, 3]));
        assert!(!t.learn(Ipv4Addr::new(203, 0, 113, 99), [9; 6]));
    }
}
