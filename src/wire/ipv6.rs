//! IPv6 fixed headers (RFC 8200). Extension headers are left to the caller: `next_header()`
//! names the first one and `payload()` starts with it.

use super::{get_ipv6, get_u16, get_u32, set_u16, set_u32, Error, Result};
use std::net::Ipv6Addr;

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// Next-header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;

mod field {
    use super::super::Field;
    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer and runs [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the header is IPv6 and that the buffer holds header plus payload_len
    /// bytes. A longer buffer is fine (Ethernet padding).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 6 {
            return Err(Error::Malformed);
        }
        if len < HEADER_LEN + usize::from(self.payload_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Always 40: extension headers count as payload.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// IP version (6).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class (DSCP + ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        // Bits 4..12 of the first word; the shift leaves 8 bits, so the cast loses nothing.
        ((get_u32(self.buffer.as_ref(), field::VER_TC_FLOW) >> 20) & 0xFF) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FLOW) & 0x000F_FFFF
    }

    /// Payload length: everything after the fixed header, extension headers included.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// Next header: the first extension header or the upper-layer protocol.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        get_ipv6(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        get_ipv6(self.buffer.as_ref(), field::DST)
    }

    /// The payload: bytes 40..40+payload_len.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes version 6, the traffic class and the 20-bit flow label.
    #[inline]
    pub fn set_version_tc_flow(&mut self, tc: u8, flow: u32) {
        let word = (6 << 28) | (u32::from(tc) << 20) | (flow & 0x000F_FFFF);
        set_u32(self.buffer.as_mut(), field::VER_TC_FLOW, word);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, value);
    }

    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value;
    }

    /// Sets the hop limit. IPv6 has no header checksum, so nothing else changes.
    #[inline]
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.octets());
    }

    /// The payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// Writes a 40-byte IPv6 header at the start of `buf`. Panics if `buf` is shorter.
// One argument per header field, as in ipv4::emit_header.
#[allow(clippy::too_many_arguments)]
pub fn emit_header(
    buf: &mut [u8],
    traffic_class: u8,
    flow_label: u32,
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) {
    let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
    p.set_version_tc_flow(traffic_class, flow_label);
    p.set_payload_len(payload_len);
    p.set_next_header(next_header);
    p.set_hop_limit(hop_limit);
    p.set_src_addr(*src);
    p.set_dst_addr(*dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by scapy: IPv6(src="2001:db8::1", dst="2001:db8::2", tc=0xb8, fl=0x12345,
    //                     hlim=255)/UDP(sport=1000, dport=6635)/Raw(b"mpls")
    static UDP_PACKET: [u8; 52] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x0c, 0x11, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xe8, 0x19, 0xeb, 0x00,
        0x0c, 0xac, 0xaa, 0x6d, 0x70, 0x6c, 0x73,
    ];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&UDP_PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 12);
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.hop_limit(), 255);
        assert_eq!(p.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.payload(), &UDP_PACKET[40..]);
    }

    #[test]
    fn etherparse_agrees() {
        let h = etherparse::Ipv6HeaderSlice::from_slice(&UDP_PACKET).unwrap();
        let p = Packet::new_checked(&UDP_PACKET[..]).unwrap();
        assert_eq!(p.traffic_class(), h.traffic_class());
        assert_eq!(p.flow_label(), h.flow_label().value());
        assert_eq!(p.payload_len(), h.payload_length());
        assert_eq!(p.next_header(), h.next_header().0);
        assert_eq!(p.hop_limit(), h.hop_limit());
        assert_eq!(p.src_addr(), h.source_addr());
        assert_eq!(p.dst_addr(), h.destination_addr());
    }

    #[test]
    fn emit_matches_fixture() {
        let mut b = [0u8; 40];
        emit_header(
            &mut b,
            0xb8,
            0x12345,
            12,
            17,
            255,
            &"2001:db8::1".parse().unwrap(),
            &"2001:db8::2".parse().unwrap(),
        );
        assert_eq!(b, UDP_PACKET[..40]);
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 44];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_tc_flow(0xFF, 0xFFFF_FFFF);
        p.set_payload_len(4);
        p.set_next_header(NEXT_HEADER_ICMPV6);
        p.set_hop_limit(1);
        p.set_src_addr(Ipv6Addr::LOCALHOST);
        p.set_dst_addr("ff02::1".parse().unwrap());
        p.payload_mut().copy_from_slice(&[1, 2, 3, 4]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xFF);
        // The flow label is cut to 20 bits rather than spilling into the traffic class.
        assert_eq!(p.flow_label(), 0xF_FFFF);
        assert_eq!(p.next_header(), NEXT_HEADER_ICMPV6);
        assert_eq!(p.hop_limit(), 1);
        assert_eq!(p.src_addr(), Ipv6Addr::LOCALHOST);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        assert_eq!(p.into_inner().len(), 44);
    }

    #[test]
    fn check_len_errors() {
        assert_eq!(
            Packet::new_checked(&UDP_PACKET[..39]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Packet::new_checked(&UDP_PACKET[..51]).unwrap_err(),
            Error::Truncated
        );
        let mut b = UDP_PACKET;
        b[0] = 0x4b;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
        let mut padded = UDP_PACKET.to_vec();
        padded.push(0);
        assert_eq!(
            Packet::new_checked(&padded[..]).unwrap().payload().len(),
            12
        );
    }
}
