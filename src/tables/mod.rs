//! The forwarding state workers read: ports, VRFs and their FIBs, nexthops, the VNI and MPLS
//! label maps, underlay neighbours. Built by the control plane, published RCU-style
//! ([`rcu`]), read-only to workers except for the neighbour MACs, which ARP fills in
//! lock-free.
//!
//! IPv4 lookups go through [`Tables::lookup4`] / [`Tables::lookup4_burst`]: a filter over every
//! VRF's /24 blocks and a per-VRF answer for "no route in this /24" ([`vrfs`]) settle most
//! destinations before any VRF's own [`Fib4`] ([`fib4`]) is read.

pub mod fib4;
pub mod lpm;
pub mod neighbor;
pub mod pmtu;
pub mod rcu;
pub mod vrfs;

use hashbrown::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

pub use fib4::Fib4;
pub use lpm::{Lpm4, Lpm6, NhIdx};
pub use neighbor::NeighborTable;
pub use pmtu::PmtuTable;
pub use vrfs::Vrfs;

/// Asks the CPU to bring the cache line at `p` in (a hint: never faults, even for null or
/// dangling pointers).
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint that never faults and reads nothing architecturally; SSE is
    // part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Ethernet address.
pub type MacAddr = [u8; 6];

/// Index of a port in [`Tables::ports`]: 0 is the fabric, then the vifs.
pub type PortIdx = u16;
/// The fabric port's index.
pub const FABRIC: PortIdx = 0;
/// Highest VRF id + 1.
pub const MAX_VRFS: usize = 4096;

/// Tunnel encapsulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// VXLAN (RFC 7348) over UDP 4789.
    Vxlan,
    /// MPLS over UDP 6635 (RFC 7510).
    MplsUdp,
    /// MPLS over GRE (RFC 4023), 4-byte GRE header.
    MplsGre,
}

impl Encap {
    /// Bytes the encapsulation adds in front of the inner IP packet, outer Ethernet included.
    /// VXLAN keeps the inner Ethernet header, so its figure counts it too.
    pub const fn overhead(self) -> usize {
        match self {
            Encap::Vxlan => 14 + 20 + 8 + 8 + 14,
            Encap::MplsUdp => 14 + 20 + 8 + 4,
            Encap::MplsGre => 14 + 20 + 4 + 4,
        }
    }
}

/// A tunnel nexthop: where and how to encapsulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub encap: Encap,
    /// Remote endpoint (underlay).
    pub dst: Ipv4Addr,
    /// VNI (VXLAN) or label (MPLS) to push.
    pub key: u32,
    /// VXLAN: the inner destination MAC.
    pub inner_mac: MacAddr,
    /// Index in the neighbour table of the underlay next hop (the endpoint or the gateway).
    pub neighbor: u32,
    /// Index of the endpoint in the path-MTU table.
    pub endpoint: u32,
}

/// What to do with a packet once its destination is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nexthop {
    /// Drop it, counted.
    Discard,
    /// The router itself: answer ICMP echo, drop the rest, counted.
    Receive,
    /// Deliver to a vif.
    Interface { port: PortIdx, dst_mac: MacAddr },
    /// Encapsulate toward a remote endpoint.
    Tunnel(Tunnel),
    /// ECMP composite: one member (never itself a composite) per flow, by flow hash.
    Ecmp(Box<[NhIdx]>),
    /// A deleted nexthop's slot (nothing refers to it).
    Unused,
}

/// What a port is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// A removed vif's slot.
    Unused,
    Fabric,
    Vif {
        vrf: u16,
        /// The VM's MAC.
        vm_mac: MacAddr,
        /// The VM's IPv4 addresses (its own ARP probes are not answered).
        vm_ipv4: Vec<Ipv4Addr>,
        /// The VM's IPv6 addresses (its own ND probes are not answered).
        vm_ipv6: Vec<Ipv6Addr>,
    },
}

/// One port (fabric or vif).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub kind: PortKind,
    /// Largest IP packet (bytes, without Ethernet) the port sends.
    pub mtu: u16,
    /// Clamp TCP MSS on SYNs between this vif and tunnels.
    pub mss_clamp: bool,
}

/// One VRF: its FIBs and the addresses the router uses in it. `fib4` comes first so that the
/// fields a lookup reads share the allocation's first cache lines.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Vrf {
    pub fib4: Fib4,
    pub id: u16,
    pub fib6: Lpm6,
    /// Source of ICMP errors the router sends in this VRF.
    pub router_ip: Ipv4Addr,
    /// Source of ICMPv6 errors and ND answers in this VRF.
    pub router_ip6: Ipv6Addr,
}

/// The underlay side of the router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fabric {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub mac: MacAddr,
    pub gateway: Option<Ipv4Addr>,
}

/// Decapsulations selected by UDP destination port (a registry, VPP-style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpDecap {
    Vxlan,
    MplsUdp,
}

/// Identifies one version of the tables: every copy gets a number of its own (from a global
/// counter, on creation and on every clone), so a worker can tell that the snapshot it reads
/// is the one an entry of its FIB cache came from. Copies are only modified before they are
/// published, never after, so equal generations mean equal forwarding state.
#[derive(Debug)]
pub struct Generation(pub u64);

impl Generation {
    /// A number no other copy has.
    pub fn fresh() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Generation(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

impl Default for Generation {
    fn default() -> Self {
        Generation::fresh()
    }
}

impl Clone for Generation {
    fn clone(&self) -> Self {
        Generation::fresh()
    }
}

/// The whole forwarding state, as one published snapshot. Big parts sit behind `Arc` so a
/// change clones only what it touches (copy-on-write per VRF, per map).
#[derive(Debug, Clone)]
pub struct Tables {
    /// The router's MAC toward VMs.
    pub router_mac: MacAddr,
    pub fabric: Fabric,
    /// Indexed by [`PortIdx`].
    pub ports: Vec<Port>,
    /// The VRFs, by id, and the shared front end of their IPv4 lookups; every change to a
    /// VRF goes through it.
    pub vrfs: Vrfs,
    pub nexthops: Arc<Vec<Nexthop>>,
    pub vni_to_vrf: Arc<HashMap<u32, u16>>,
    pub labels: Arc<HashMap<u32, NhIdx>>,
    /// Labels the router pushes (MPLS tunnel nexthops) → the VRF routing to them, to relay
    /// ICMP errors about its own MPLS packets.
    pub pushed_labels: Arc<HashMap<u32, u16>>,
    /// UDP destination port → decapsulation.
    pub udp_decap: Vec<(u16, UdpDecap)>,
    /// Learned MACs are shared by every snapshot, so they survive a table swap.
    pub neighbors: NeighborTable,
    /// Learned path MTUs of tunnel endpoints, shared by every snapshot like the neighbours.
    pub pmtu: PmtuTable,
    /// ICMP errors per second per worker and port.
    pub icmp_rate: u32,
    /// Fragment the outer packet (true) or the inner one (false, the default).
    pub frag_outer: bool,
    /// This copy's generation (new on every clone).
    pub generation: Generation,
}

impl Tables {
    /// The VRF with this id.
    #[inline]
    pub fn vrf(&self, id: u16) -> Option<&Vrf> {
        self.vrfs.get(id)
    }

    /// The nexthop of the longest IPv4 prefix that covers `dst` in VRF `vrf`: the same answer
    /// as `self.vrf(vrf)?.fib4.lookup(dst)`, faster with many VRFs (a destination without a
    /// route of its own in its /24 is answered without reading the VRF; see [`vrfs`]).
    #[inline]
    pub fn lookup4(&self, vrf: u16, dst: u32) -> Option<NhIdx> {
        self.vrfs.lookup4(vrf, dst)
    }

    /// IPv4 lookups for a burst: `out[i]` is the nexthop for `keys[i] = (vrf, destination)`.
    /// Each step's cache line is prefetched for the whole burst (32 keys at a time) before any
    /// lookup reads it, so that the misses of 32 lookups overlap instead of following one
    /// another: first the shared filter words; then, for the few lanes that need their VRF's
    /// FIB, its header, the /24 block slot and the host-route slot.
    #[inline]
    pub fn lookup4_burst(&self, keys: &[(u16, u32)], out: &mut [Option<NhIdx>]) {
        for (keys, out) in keys.chunks(32).zip(out.chunks_mut(32)) {
            self.vrfs.lookup4_chunk(keys, out);
        }
    }

    /// The nexthop at this index.
    #[inline]
    pub fn nexthop(&self, idx: NhIdx) -> Option<&Nexthop> {
        self.nexthops.get(idx as usize)
    }

    /// The fabric MTU.
    #[inline]
    pub fn fabric_mtu(&self) -> u16 {
        self.ports[usize::from(FABRIC)].mtu
    }

    /// The decapsulation registered for UDP port `port`.
    #[inline]
    pub fn udp_decap(&self, port: u16) -> Option<UdpDecap> {
        self.udp_decap
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, d)| *d)
    }
}
