//! ICMPv6 (RFC 4443), plus the type numbers of Neighbor Discovery (RFC 4861).

use super::checksum;
use super::{get_u16, get_u32, set_u16, set_u32, Error, Result};
use std::net::Ipv6Addr;

/// Length of the ICMPv6 header (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;
/// Destination unreachable.
pub const TYPE_DEST_UNREACHABLE: u8 = 1;
/// Packet too big.
pub const TYPE_PACKET_TOO_BIG: u8 = 2;
/// Time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 3;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 129;
/// Neighbor solicitation.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbor advertisement.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;

/// Next-header number of ICMPv6, for the pseudo header.
const NEXT_HEADER_ICMPV6: u8 = 58;

mod field {
    use super::super::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    /// The type-specific second word: the MTU of packet-too-big, echo id and sequence,
    /// the R/S/O flags of a neighbor advertisement.
    pub const REST_OF_HEADER: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQ_NO: Field = 6..8;
}

/// A read/write view of an ICMPv6 message: the buffer is the whole message.
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

    /// Checks that the buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Always 8.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Message type (`TYPE_*`).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The whole type-specific second word.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::REST_OF_HEADER)
    }

    /// MTU of a packet-too-big message (32 bits in ICMPv6).
    #[inline]
    pub fn mtu(&self) -> u32 {
        self.rest_of_header()
    }

    /// Echo identifier (echo request/reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (echo request/reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_SEQ_NO)
    }

    /// Everything after the 8-byte header (echo data, ND target and options, quoted packet).
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Same as [`data`](Self::data), under the name the other modules use.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.data()
    }

    /// Whether the checksum (with the IPv6 pseudo header) over the whole buffer is right.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v6(src, dst, NEXT_HEADER_ICMPV6, len32(data));
        checksum::fold(pseudo + checksum::sum(data)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the message code.
    #[inline]
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the whole second word.
    #[inline]
    pub fn set_rest_of_header(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::REST_OF_HEADER, value);
    }

    /// Sets the MTU of a packet-too-big message.
    #[inline]
    pub fn set_mtu(&mut self, value: u32) {
        self.set_rest_of_header(value);
    }

    /// Sets the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::ECHO_SEQ_NO, value);
    }

    /// The data after the header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and stores the checksum (with the IPv6 pseudo header) over the whole buffer.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v6(src, dst, NEXT_HEADER_ICMPV6, len32(data));
        let c = checksum::fold(pseudo + checksum::sum(data));
        self.set_checksum(c);
    }
}

/// The message length for the pseudo header.
fn len32(data: &[u8]) -> u32 {
    u32::try_from(data.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ICMPv6 part of scapy's IPv6(src="fe80::1", dst="fe80::2", hlim=64)
    //                        /ICMPv6EchoRequest(id=0x1111, seq=2, data=b"v6ping")
    static ECHO: [u8; 14] = [
        0x80, 0x00, 0x1c, 0x98, 0x11, 0x11, 0x00, 0x02, 0x76, 0x36, 0x70, 0x69, 0x6e, 0x67,
    ];

    // Made by scapy: ICMPv6PacketTooBig(mtu=1280), without an IPv6 layer (checksum 0).
    static PTB: [u8; 8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00];

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        ("fe80::1".parse().unwrap(), "fe80::2".parse().unwrap())
    }

    #[test]
    fn parse_echo() {
        let (s, d) = addrs();
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x1c98);
        assert_eq!(p.rest_of_header(), 0x1111_0002);
        assert_eq!(p.echo_ident(), 0x1111);
        assert_eq!(p.echo_seq_no(), 2);
        assert_eq!(p.data(), b"v6ping");
        assert_eq!(p.payload(), b"v6ping");
        assert_eq!(p.header_len(), 8);
        assert!(p.verify_checksum(&s, &d));
    }

    #[test]
    fn parse_packet_too_big() {
        let p = Packet::new_checked(&PTB[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_PACKET_TOO_BIG);
        assert_eq!(p.mtu(), 1280);
    }

    #[test]
    fn fill_matches_fixture() {
        let (s, d) = addrs();
        let mut b = ECHO;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_checksum(0);
        assert!(!p.verify_checksum(&s, &d));
        p.fill_checksum(&s, &d);
        assert_eq!(p.checksum(), 0x1c98);
        // Changing an address must break it: the pseudo header is covered.
        assert!(!p.verify_checksum(&s, &"fe80::3".parse().unwrap()));
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 10];
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_msg_type(TYPE_NEIGHBOR_ADVERT);
        p.set_msg_code(0);
        p.set_rest_of_header(0x6000_0000);
        assert_eq!(p.rest_of_header(), 0x6000_0000);
        p.set_mtu(9000);
        assert_eq!(p.mtu(), 9000);
        p.set_echo_ident(5);
        p.set_echo_seq_no(6);
        assert_eq!((p.echo_ident(), p.echo_seq_no()), (5, 6));
        p.set_checksum(0x1234);
        assert_eq!(p.checksum(), 0x1234);
        p.data_mut().copy_from_slice(&[7, 8]);
        assert_eq!(p.msg_type(), TYPE_NEIGHBOR_ADVERT);
        assert_eq!(p.data(), &[7, 8]);
        assert_eq!(p.into_inner().len(), 10);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&ECHO[..7]).unwrap_err(),
            Error::Truncated
        );
    }

    proptest! {
        #[test]
        fn checksum_matches_etherparse(
            s in any::<[u8; 16]>(), d in any::<[u8; 16]>(),
            id in any::<u16>(), seq in any::<u16>(),
            data in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let t = etherparse::Icmpv6Type::EchoRequest(etherparse::IcmpEchoHeader { id, seq });
            let h = etherparse::Icmpv6Header::with_checksum(t, s, d, &data).unwrap();
            let mut b = vec![0u8; HEADER_LEN + data.len()];
            let mut p = Packet::new_checked(&mut b[..]).unwrap();
            p.set_msg_type(TYPE_ECHO_REQUEST);
            p.set_echo_ident(id);
            p.set_echo_seq_no(seq);
            p.data_mut().copy_from_slice(&data);
            let (s, d) = (Ipv6Addr::from(s), Ipv6Addr::from(d));
            p.fill_checksum(&s, &d);
            prop_assert_eq!(p.checksum(), h.checksum);
            prop_assert!(p.verify_checksum(&s, &d));
        }
    }
}
