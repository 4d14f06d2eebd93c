//! Zero-copy views of the wire formats the router reads and writes.
//!
//! Modelled on smoltcp's `wire` module: each protocol has a `Packet<T: AsRef<[u8]>>` that
//! wraps a byte buffer and reads or writes fields by byte offset, in network byte order.
//! Nothing is ever cast to a struct (packet data is unaligned), and nothing here depends on
//! DPDK, so the whole module is unit-testable on any host.
//!
//! The contract, shared by every module: build a view of untrusted bytes with
//! `new_checked()` (or call `check_len()` once); after that succeeds no getter can panic.
//! `new_unchecked()` is for buffers the caller sized itself, e.g. when emitting headers.
//! Setters may assume the buffer was checked or sized by the caller.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod gre;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod tcp;
pub mod udp;
pub mod vxlan;

use core::fmt;

/// Why a buffer could not be viewed as a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than a header or length field says it must be.
    Truncated,
    /// A field holds a value that makes the packet impossible to interpret
    /// (wrong version, a length field smaller than the header, ...).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated packet"),
            Error::Malformed => f.write_str("malformed packet"),
        }
    }
}

impl std::error::Error for Error {}

/// The result of parsing a wire format.
pub type Result<T> = core::result::Result<T, Error>;

/// An Ethernet MAC address, in transmission order.
pub type MacAddr = [u8; 6];

/// A field's position in a header: a range of byte offsets.
pub(crate) type Field = core::ops::Range<usize>;

// Field accessors shared by the protocol modules. They index, so they panic on a short
// buffer: every caller either ran check_len() first or is a setter on a caller-sized buffer.

#[inline]
pub(crate) fn get_u16(data: &[u8], field: Field) -> u16 {
    let mut b = [0u8; 2];
    b.copy_from_slice(&data[field]);
    u16::from_be_bytes(b)
}

#[inline]
pub(crate) fn get_u32(data: &[u8], field: Field) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[field]);
    u32::from_be_bytes(b)
}

#[inline]
pub(crate) fn set_u16(data: &mut [u8], field: Field, value: u16) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

#[inline]
pub(crate) fn set_u32(data: &mut [u8], field: Field, value: u32) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

#[inline]
pub(crate) fn get_mac(data: &[u8], field: Field) -> MacAddr {
    let mut b = [0u8; 6];
    b.copy_from_slice(&data[field]);
    b
}

#[inline]
pub(crate) fn get_ipv4(data: &[u8], field: Field) -> std::net::Ipv4Addr {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[field]);
    std::net::Ipv4Addr::from(b)
}

#[inline]
pub(crate) fn get_ipv6(data: &[u8], field: Field) -> std::net::Ipv6Addr {
    let mut b = [0u8; 16];
    b.copy_from_slice(&data[field]);
    std::net::Ipv6Addr::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn error_display() {
        assert_eq!(Error::Truncated.to_string(), "truncated packet");
        assert_eq!(Error::Malformed.to_string(), "malformed packet");
        let e: Box<dyn std::error::Error> = Box::new(Error::Malformed);
        assert_eq!(e.to_string(), "malformed packet");
    }

    /// Calls every getter of every view that new_checked() accepted. The point is that none
    /// of them panics: the result values are thrown away.
    fn touch_all(data: &[u8]) {
        if let Ok(p) = ethernet::Packet::new_checked(data) {
            let _ = (p.dst_addr(), p.src_addr(), p.ethertype(), p.has_vlan());
            let _ = (
                p.vlan_id(),
                p.inner_ethertype(),
                p.header_len(),
                p.payload(),
            );
        }
        if let Ok(p) = arp::Packet::new_checked(data) {
            let _ = (
                p.hw_type(),
                p.proto_type(),
                p.hw_len(),
                p.proto_len(),
                p.operation(),
            );
            let _ = (p.sender_hw_addr(), p.sender_proto_addr());
            let _ = (p.target_hw_addr(), p.target_proto_addr(), p.header_len());
        }
        if let Ok(p) = ipv4::Packet::new_checked(data) {
            let _ = (
                p.version(),
                p.header_len(),
                p.tos(),
                p.total_len(),
                p.ident(),
            );
            let _ = (
                p.dont_frag(),
                p.more_frags(),
                p.frag_offset(),
                p.is_fragment(),
            );
            let _ = (
                p.ttl(),
                p.protocol(),
                p.checksum(),
                p.src_addr(),
                p.dst_addr(),
            );
            let _ = (p.verify_checksum(), p.payload(), p.options());
            let mut v = data.to_vec();
            let mut p = ipv4::Packet::new_unchecked(&mut v[..]);
            p.decrement_ttl();
            p.fill_checksum();
            p.payload_mut();
        }
        if let Ok(p) = ipv6::Packet::new_checked(data) {
            let _ = (
                p.version(),
                p.traffic_class(),
                p.flow_label(),
                p.payload_len(),
            );
            let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
            let _ = (p.header_len(), p.payload());
        }
        let src4 = std::net::Ipv4Addr::new(10, 0, 0, 1);
        let dst4 = std::net::Ipv4Addr::new(10, 0, 0, 2);
        let src6: std::net::Ipv6Addr = "fe80::1".parse().unwrap();
        let dst6: std::net::Ipv6Addr = "ff02::1".parse().unwrap();
        if let Ok(p) = udp::Packet::new_checked(data) {
            let _ = (
                p.src_port(),
                p.dst_port(),
                p.len(),
                p.checksum(),
                p.payload(),
            );
            let _ = (p.header_len(), p.verify_checksum_v4(src4, dst4));
            let _ = p.verify_checksum_v6(&src6, &dst6);
            let mut v = data.to_vec();
            let mut p = udp::Packet::new_unchecked(&mut v[..]);
            p.fill_checksum_v4(src4, dst4);
            p.fill_checksum_v6(&src6, &dst6);
        }
        if let Ok(p) = tcp::Packet::new_checked(data) {
            let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
            let _ = (
                p.header_len(),
                p.flags(),
                p.window_len(),
                p.checksum(),
                p.urgent(),
            );
            let _ = (p.options(), p.payload(), p.verify_checksum_v4(src4, dst4));
            let _ = p.verify_checksum_v6(&src6, &dst6);
            let mut v = data.to_vec();
            let mut p = tcp::Packet::new_unchecked(&mut v[..]);
            p.fill_checksum_v4(src4, dst4);
            p.fill_checksum_v6(&src6, &dst6);
            p.options_mut();
            p.payload_mut();
        }
        if let Ok(p) = icmpv4::Packet::new_checked(data) {
            let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident());
            let _ = (
                p.echo_seq_no(),
                p.rest_of_header(),
                p.next_hop_mtu(),
                p.data(),
            );
            let _ = (p.header_len(), p.verify_checksum());
        }
        if let Ok(p) = icmpv6::Packet::new_checked(data) {
            let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.rest_of_header());
            let _ = (
                p.mtu(),
                p.data(),
                p.header_len(),
                p.verify_checksum(&src6, &dst6),
            );
        }
        if let Ok(p) = gre::Packet::new_checked(data) {
            let _ = (
                p.flags_version(),
                p.has_checksum(),
                p.has_key(),
                p.has_seq(),
            );
            let _ = (
                p.version(),
                p.protocol(),
                p.header_len(),
                p.key(),
                p.payload(),
            );
        }
        if let Ok(p) = mpls::Packet::new_checked(data) {
            let _ = (
                p.label(),
                p.tc(),
                p.bottom_of_stack(),
                p.ttl(),
                p.header_len(),
            );
            let _ = p.payload();
        }
        if let Ok(p) = vxlan::Packet::new_checked(data) {
            let _ = (p.flags(), p.vni(), p.header_len(), p.payload());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The module contract: whatever the bytes, a view that new_checked() accepted
        /// never panics in a getter.
        #[test]
        fn no_getter_panics_after_check(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            touch_all(&data);
        }

        /// Same, but with the first bytes steered toward values that pass the version and
        /// length checks, so the deeper getters are actually reached.
        #[test]
        fn no_getter_panics_plausible_headers(
            first in prop_oneof![Just(0x45u8), Just(0x46), Just(0x4f), Just(0x60), Just(0x50), Just(0xf0)],
            len_hi in 0u8..2,
            rest in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut data = vec![first];
            data.extend_from_slice(&rest);
            // Put small values into the usual length fields so they are often consistent.
            if data.len() > 4 { data[2] = len_hi; data[4] = len_hi; }
            touch_all(&data);
        }
    }
}
