//! ICMP for IPv4 (RFC 792), including the fragmentation-needed message of RFC 1191.

use super::checksum;
use super::{get_u16, get_u32, set_u16, set_u32, Error, Result};

/// Length of the ICMP header (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;
/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Destination unreachable.
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 8;
/// Time exceeded.
pub const TYPE_TIME_EXCEEDED: u8 = 11;
/// Destination-unreachable code: fragmentation needed and DF set (RFC 1191).
pub const CODE_FRAG_NEEDED: u8 = 4;

mod field {
    use super::super::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    /// The type-specific second word.
    pub const REST_OF_HEADER: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQ_NO: Field = 6..8;
    /// RFC 1191: the low half of the second word of a fragmentation-needed message.
    pub const NEXT_HOP_MTU: Field = 6..8;
}

/// A read/write view of an ICMPv4 message: the buffer is the whole message.
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

    /// The whole type-specific second word.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::REST_OF_HEADER)
    }

    /// Next-hop MTU of a fragmentation-needed message (RFC 1191).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Everything after the 8-byte header: echo data, or the quoted IP header and 8 bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Same as [`data`](Self::data), under the name the other modules use.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.data()
    }

    /// Whether the checksum over the whole buffer is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.buffer.as_ref())) == 0
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

    /// Sets the whole second word (e.g. to zero it for time-exceeded).
    #[inline]
    pub fn set_rest_of_header(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::REST_OF_HEADER, value);
    }

    /// Sets the next-hop MTU (the unused high half is left as is).
    #[inline]
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, value);
    }

    /// The data after the header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::fold(checksum::sum(self.buffer.as_ref()));
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Made by scapy: ICMP(type=8, code=0, id=0x4242, seq=7)/Raw(b"pingdata")
    static ECHO: [u8; 16] = [
        0x08, 0x00, 0xfe, 0x22, 0x42, 0x42, 0x00, 0x07, 0x70, 0x69, 0x6e, 0x67, 0x64, 0x61, 0x74,
        0x61,
    ];

    // Made by scapy: ICMP(type=3, code=4, nexthopmtu=1400)/Raw(b"\x45\x00")
    static FRAG_NEEDED: [u8; 10] = [0x03, 0x04, 0xb2, 0x83, 0x00, 0x00, 0x05, 0x78, 0x45, 0x00];

    #[test]
    fn parse_echo() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0xfe22);
        assert_eq!(p.echo_ident(), 0x4242);
        assert_eq!(p.echo_seq_no(), 7);
        assert_eq!(p.rest_of_header(), 0x4242_0007);
        assert_eq!(p.data(), b"pingdata");
        assert_eq!(p.payload(), b"pingdata");
        assert_eq!(p.header_len(), 8);
        assert!(p.verify_checksum());
    }

    #[test]
    fn parse_frag_needed() {
        let p = Packet::new_checked(&FRAG_NEEDED[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_DEST_UNREACHABLE);
        assert_eq!(p.msg_code(), CODE_FRAG_NEEDED);
        assert_eq!(p.next_hop_mtu(), 1400);
        assert!(p.verify_checksum());
    }

    #[test]
    fn echo_reply_in_place() {
        // What a router answering a ping does: flip the type, refill the checksum.
        let mut b = ECHO;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_msg_type(TYPE_ECHO_REPLY);
        p.fill_checksum();
        assert!(p.verify_checksum());
        let t =
            etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 0x4242, seq: 7 });
        let h = etherparse::Icmpv4Header::with_checksum(t, b"pingdata");
        assert_eq!(p.checksum(), h.checksum);
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 12];
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_msg_type(TYPE_TIME_EXCEEDED);
        p.set_msg_code(1);
        p.set_rest_of_header(0xDEAD_BEEF);
        assert_eq!(p.rest_of_header(), 0xDEAD_BEEF);
        p.set_echo_ident(0x0102);
        p.set_echo_seq_no(0x0304);
        assert_eq!(p.rest_of_header(), 0x0102_0304);
        p.set_next_hop_mtu(1500);
        assert_eq!(p.next_hop_mtu(), 1500);
        p.set_checksum(0xAAAA);
        assert_eq!(p.checksum(), 0xAAAA);
        p.data_mut().copy_from_slice(&[9; 4]);
        assert_eq!((p.msg_type(), p.msg_code()), (TYPE_TIME_EXCEEDED, 1));
        assert_eq!(p.data(), &[9; 4]);
        assert_eq!(p.into_inner().len(), 12);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&ECHO[..7]).unwrap_err(),
            Error::Truncated
        );
        assert!(Packet::new_checked(&ECHO[..8]).is_ok());
    }

    proptest! {
        #[test]
        fn checksum_matches_etherparse(id in any::<u16>(), seq in any::<u16>(),
                                       data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let t = etherparse::Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id, seq });
            let h = etherparse::Icmpv4Header::with_checksum(t, &data);
            let mut b = vec![0u8; HEADER_LEN + data.len()];
            let mut p = Packet::new_checked(&mut b[..]).unwrap();
            p.set_msg_type(TYPE_ECHO_REQUEST);
            p.set_echo_ident(id);
            p.set_echo_seq_no(seq);
            p.data_mut().copy_from_slice(&data);
            p.fill_checksum();
            prop_assert_eq!(p.checksum(), h.checksum);
        }
    }
}
