//! Per-core counters: per-port RX/TX, drops by named reason, datapath events.
//!
//! Each worker owns one [`CoreStats`] and is its only writer; it updates a counter with a
//! relaxed load and store (a plain add on x86, no locked instruction). Readers (the control
//! thread) sum relaxed loads over the workers when asked.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v,)* }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// How many values there are.
            pub const COUNT: usize = Self::ALL.len();
            /// The snake_case name operators see.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }
    };
}

named_enum! {
    /// Why a packet was dropped. One list for the whole datapath.
    DropReason {
        /// Shorter than an Ethernet header, or a VLAN tag cut short.
        L2Truncated = "l2_truncated",
        /// An 802.1Q-tagged frame (the fabric is untagged).
        VlanUnsupported = "vlan_unsupported",
        /// Ethernet destination neither the port's MAC nor broadcast.
        L2OtherHost = "l2_other_host",
        /// An EtherType the router does not handle (neither IPv4, IPv6 nor ARP).
        EthertypeUnsupported = "ethertype_unsupported",
        /// ARP shorter than 28 bytes or not Ethernet/IPv4.
        ArpMalformed = "arp_malformed",
        /// ARP that needs no answer (target not ours, or a reply already learned from).
        ArpIgnored = "arp_ignored",
        /// IP header or payload cut short (buffer shorter than 20/40 bytes or the total length).
        IpTruncated = "ip_truncated",
        /// Bad IP version, IHL < 5, or total length < header length.
        IpMalformed = "ip_malformed",
        /// IPv4 header with options (IHL > 5) on the fabric.
        IpOptions = "ip_options",
        /// An IPv4 fragment addressed to the router.
        IpFragment = "ip_fragment",
        /// IPv4 header checksum wrong.
        IpBadChecksum = "ip_bad_checksum",
        /// Outer IPv4 destination is not the router's underlay address.
        NotForUs = "not_for_us",
        /// Outer IP protocol neither UDP, GRE nor ICMP.
        ProtoUnsupported = "proto_unsupported",
        /// UDP shorter than 8 bytes, or its length field inconsistent with the IP payload.
        UdpMalformed = "udp_malformed",
        /// UDP to the router on a port with no decapsulation registered.
        UdpPortUnknown = "udp_port_unknown",
        /// GRE with checksum/key/sequence bits, a non-zero version, or a protocol other than MPLS.
        GreUnsupported = "gre_unsupported",
        /// VXLAN header cut short.
        VxlanMalformed = "vxlan_malformed",
        /// VXLAN with the I flag clear.
        VxlanBadFlags = "vxlan_bad_flags",
        /// VXLAN VNI mapped to no VRF.
        UnknownVni = "unknown_vni",
        /// MPLS header cut short, or not bottom of stack (one label only).
        MplsMalformed = "mpls_malformed",
        /// MPLS label mapped to no nexthop.
        UnknownLabel = "unknown_label",
        /// Inner Ethernet destination is not the router MAC.
        InnerL2OtherHost = "inner_l2_other_host",
        /// Longest prefix match found nothing in the VRF.
        NoRoute = "no_route",
        /// The route's nexthop is a discard nexthop.
        DiscardRoute = "discard_route",
        /// TTL or hop limit (IP or MPLS) ≤ 1.
        TtlExpired = "ttl_expired",
        /// Tunnel endpoint (or gateway) MAC not yet resolved by ARP.
        ArpUnresolved = "arp_unresolved",
        /// Addressed to the router (receive nexthop) and not an ICMP echo request.
        ReceiveUnsupported = "receive_unsupported",
        /// Nexthop unusable here (e.g. an MPLS label pointing at a tunnel).
        NexthopUnsupported = "nexthop_unsupported",
        /// Larger than the outgoing MTU.
        MtuExceeded = "mtu_exceeded",
        /// Not enough headroom for the encapsulation, or tailroom for a rewrite.
        NoHeadroom = "no_headroom",
        /// A multi-segment packet.
        MultiSegment = "multi_segment",
        /// The TX queue was full.
        TxFull = "tx_full",
        /// Received on a port the tables do not know (e.g. a vif being removed).
        UnknownPort = "unknown_port",
        /// Larger than the path MTU with DF set (IPv4) or any IPv6: dropped, and an ICMP
        /// "fragmentation needed" / ICMPv6 "packet too big" answered (see the events).
        FragNeeded = "frag_needed",
        /// Needed fragmenting but could not be (no buffer for a fragment, too many fragments).
        FragFailed = "frag_failed",
        /// A guest segmentation-offload (TSO/GSO) super-frame, which the router does not offer.
        GsoUnsupported = "gso_unsupported",
        /// An ICMP error from the fabric about a tunnel packet, once learned from (consumed).
        IcmpFromFabric = "icmp_from_fabric",
        /// Neighbor discovery the router does not answer (not a solicitation for a routable
        /// address, or malformed).
        NdIgnored = "nd_ignored",
    }
}

named_enum! {
    /// Things the datapath did that are not plain forwarding, counted.
    Event {
        VxlanDecap = "vxlan_decap",
        MplsUdpDecap = "mpls_udp_decap",
        MplsGreDecap = "mpls_gre_decap",
        VxlanEncap = "vxlan_encap",
        MplsUdpEncap = "mpls_udp_encap",
        MplsGreEncap = "mpls_gre_encap",
        LocalDelivery = "local_delivery",
        ArpReplied = "arp_replied",
        ArpRequestSent = "arp_request_sent",
        ArpLearned = "arp_learned",
        IcmpEchoReplied = "icmp_echo_replied",
        IcmpErrorSent = "icmp_error_sent",
        IcmpRateLimited = "icmp_rate_limited",
        /// ICMP "fragmentation needed" (type 3 code 4) sent.
        IcmpFragNeededSent = "icmp_frag_needed_sent",
        /// ICMPv6 "packet too big" sent.
        Icmp6PtbSent = "icmp6_ptb_sent",
        /// ICMPv6 time exceeded sent.
        Icmp6TimeExceededSent = "icmp6_time_exceeded_sent",
        /// TCP SYN / SYN-ACK whose MSS option was lowered.
        MssClamped = "mss_clamped",
        /// IPv4 packets fragmented (each counted once).
        Fragmented = "fragmented",
        /// Fragments those packets became.
        FragmentsSent = "fragments_sent",
        /// A lower path MTU learned for a tunnel endpoint from an ICMP error.
        PmtuLearned = "pmtu_learned",
        /// ICMP errors about tunnel packets relayed to the VM as inner errors.
        IcmpRelayed = "icmp_relayed",
        /// Partial (virtio NEEDS_CSUM) L4 checksums completed in software.
        CsumCompleted = "csum_completed",
        /// Neighbor advertisements sent (ND proxy).
        NdReplied = "nd_replied",
    }
}

/// A counter with one writer (its worker) and any number of readers.
#[derive(Default, Debug)]
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker calls this: load + store is not an atomic RMW.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }
    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
    /// Resets to zero (racy with the writer by design: counters-clear semantics).
    pub fn clear(&self) {
        self.0.store(0, Relaxed);
    }
}

/// RX/TX counters of one port on one core.
#[derive(Default, Debug)]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
    /// Packets the TX queue refused (also counted as [`DropReason::TxFull`]).
    pub tx_dropped: Counter,
}

/// Maximum number of ports (fabric + vifs) the counters cover.
pub const MAX_PORTS: usize = 256;

/// One worker's counters; cache-line aligned so no two workers share a line.
#[derive(Debug)]
#[repr(align(64))]
pub struct CoreStats {
    pub ports: Box<[PortCounters]>,
    pub drops: [Counter; DropReason::COUNT],
    pub events: [Counter; Event::COUNT],
}

impl Default for CoreStats {
    fn default() -> Self {
        CoreStats {
            ports: (0..MAX_PORTS).map(|_| PortCounters::default()).collect(),
            drops: std::array::from_fn(|_| Counter::default()),
            events: std::array::from_fn(|_| Counter::default()),
        }
    }
}

impl CoreStats {
    #[inline(always)]
    pub fn count_drop(&self, r: DropReason) {
        self.drops[r as usize].add(1);
    }
    #[inline(always)]
    pub fn event(&self, e: Event) {
        self.events[e as usize].add(1);
    }
    /// Counts `n` occurrences of event `e`.
    #[inline(always)]
    pub fn events_add(&self, e: Event, n: u64) {
        self.events[e as usize].add(n);
    }
    /// Zeroes every counter (racy with the worker by design: counters-clear semantics).
    pub fn clear(&self) {
        for p in self.ports.iter() {
            for c in [
                &p.rx_packets,
                &p.rx_bytes,
                &p.tx_packets,
                &p.tx_bytes,
                &p.tx_dropped,
            ] {
                c.clear();
            }
        }
        self.drops
            .iter()
            .chain(self.events.iter())
            .for_each(Counter::clear);
    }
    /// The count for one drop reason.
    pub fn drops_of(&self, r: DropReason) -> u64 {
        self.drops[r as usize].get()
    }
    /// The count for one event.
    pub fn events_of(&self, e: Event) -> u64 {
        self.events[e as usize].get()
    }
    /// Port counters of port `p` (None when out of range).
    #[inline(always)]
    pub fn port(&self, p: usize) -> Option<&PortCounters> {
        self.ports.get(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in DropReason::ALL {
            assert!(seen.insert(r.name()), "duplicate {}", r.name());
            assert!(r
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
        assert_eq!(
            DropReason::ALL[DropReason::TxFull as usize],
            DropReason::TxFull
        );
    }

    #[test]
    fn counters_add_and_clear() {
        let s = CoreStats::default();
        s.count_drop(DropReason::NoRoute);
        s.count_drop(DropReason::NoRoute);
        s.event(Event::ArpReplied);
        assert_eq!(s.drops_of(DropReason::NoRoute), 2);
        assert_eq!(s.events_of(Event::ArpReplied), 1);
        s.drops[DropReason::NoRoute as usize].clear();
        assert_eq!(s.drops_of(DropReason::NoRoute), 0);
    }
}
