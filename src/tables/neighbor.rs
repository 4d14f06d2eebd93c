//! Underlay neighbours (ARP): a fixed set of IPv4 addresses (tunnel endpoints and the
//! gateway), each with a MAC that workers fill in lock-free when ARP tells them.

use hashbrown::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::MacAddr;

/// Bit set in an entry's word when its MAC is known.
const VALID: u64 = 1 << 63;
/// Bit set when the MAC came from the configuration: ARP does not overwrite it.
const STATIC: u64 = 1 << 62;

/// A neighbour table with a fixed set of addresses.
#[derive(Debug, Default)]
pub struct NeighborTable {
    ips: Vec<Ipv4Addr>,
    /// MAC in the low 48 bits, plus the VALID/STATIC flags.
    macs: Vec<AtomicU64>,
    index: HashMap<Ipv4Addr, u32>,
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
    /// The index of `ip`, adding it (unresolved) if new.
    pub fn add(&mut self, ip: Ipv4Addr) -> u32 {
        if let Some(&i) = self.index.get(&ip) {
            return i;
        }
        let i = self.ips.len() as u32;
        self.ips.push(ip);
        self.macs.push(AtomicU64::new(0));
        self.index.insert(ip, i);
        i
    }

    /// Adds `ip` with a static MAC that ARP will not change.
    pub fn add_static(&mut self, ip: Ipv4Addr, mac: MacAddr) -> u32 {
        let i = self.add(ip);
        self.macs[i as usize].store(pack(&mac) | VALID | STATIC, Ordering::Relaxed);
        i
    }

    /// The index of `ip`, if it is a known neighbour.
    #[inline]
    pub fn index_of(&self, ip: Ipv4Addr) -> Option<u32> {
        self.index.get(&ip).copied()
    }

    /// The MAC of neighbour `i`, if resolved.
    #[inline]
    pub fn mac(&self, i: u32) -> Option<MacAddr> {
        let w = self.macs.get(i as usize)?.load(Ordering::Relaxed);
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
    /// static MAC for), so a table swap does not forget resolved endpoints.
    pub fn inherit_learned(&mut self, old: &NeighborTable) {
        for (i, ip) in self.ips.iter().enumerate() {
            let Some(j) = old.index_of(*ip) else { continue };
            let w = old.macs[j as usize].load(Ordering::Relaxed);
            let slot = self.macs[i].get_mut();
            if w & VALID != 0 && w & STATIC == 0 && *slot & STATIC == 0 {
                *slot = w;
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
    fn learn_and_static() {
        let mut t = NeighborTable::default();
        let a = t.add(Ipv4Addr::new(203, 0, 113, 2));
        let b = t.add_static(Ipv4Addr::new(203, 0, 113, 3), [2, 0, 0, 0, 0, 3]);
        assert_eq!(t.add(Ipv4Addr::new(203, 0, 113, 2)), a);
        assert_eq!(t.mac(a), None);
        assert!(t.learn(Ipv4Addr::new(203, 0, 113, 2), [2, 0, 0, 0, 0, 2]));
        assert!(!t.learn(Ipv4Addr::new(203, 0, 113, 2), [2, 0, 0, 0, 0, 2]));
        assert_eq!(t.mac(a), Some([2, 0, 0, 0, 0, 2]));
        assert!(!t.learn(Ipv4Addr::new(203, 0, 113, 3), [9; 6]));
        assert_eq!(t.mac(b), Some([2, 0, 0, 0, 0, 3]));
        assert!(!t.learn(Ipv4Addr::new(203, 0, 113, 99), [9; 6]));

        let mut n = NeighborTable::default();
        let c = n.add(Ipv4Addr::new(198, 51, 100, 9));
        let a2 = n.add(Ipv4Addr::new(203, 0, 113, 2));
        let b2 = n.add_static(Ipv4Addr::new(203, 0, 113, 3), [2, 0, 0, 0, 0, 4]);
        n.inherit_learned(&t);
        assert_eq!(
            n.mac(a2),
            Some([2, 0, 0, 0, 0, 2]),
            "learned MAC carried over"
        );
        assert_eq!(n.mac(b2), Some([2, 0, 0, 0, 0, 4]), "new static entry wins");
        assert_eq!(n.mac(c), None);
    }
}
