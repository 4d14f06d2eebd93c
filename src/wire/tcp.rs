//! TCP headers (RFC 9293). The router only rewrites TCP (MSS clamping, NAT), so this is a
//! field view, not a TCP implementation.

use super::checksum;
use super::{get_u16, get_u32, set_u16, set_u32, Error, Result};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// FIN flag.
pub const FLAG_FIN: u16 = 0x01;
/// SYN flag.
pub const FLAG_SYN: u16 = 0x02;
/// RST flag.
pub const FLAG_RST: u16 = 0x04;
/// PSH flag.
pub const FLAG_PSH: u16 = 0x08;
/// ACK flag.
pub const FLAG_ACK: u16 = 0x10;
/// URG flag.
pub const FLAG_URG: u16 = 0x20;
/// ECE flag.
pub const FLAG_ECE: u16 = 0x40;
/// CWR flag.
pub const FLAG_CWR: u16 = 0x80;
/// NS flag (RFC 3540, historic).
pub const FLAG_NS: u16 = 0x100;

/// IP protocol / next-header number of TCP, for the pseudo header.
const PROTO_TCP: u8 = 6;
/// The nine flag bits of the offset/flags word.
const FLAGS_MASK: u16 = 0x01FF;

mod field {
    use super::super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    /// Data offset (4 bits), reserved (3 bits), flags (9 bits).
    pub const OFFSET_FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// A read/write view of a TCP segment: the buffer is the whole segment, header to end.
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

    /// Checks that the data offset is sane and the buffer holds the header with options.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ_NUM)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK_NUM)
    }

    /// Header length in bytes (data offset * 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFFSET_FLAGS.start] >> 4) * 4
    }

    /// The nine flag bits (`FLAG_*`).
    #[inline]
    pub fn flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) & FLAGS_MASK
    }

    /// Window size.
    #[inline]
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WIN_SIZE)
    }

    /// Checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options: bytes 20..header_len.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Whether the checksum is right for an IPv4 segment from `src` to `dst`.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v4(src, dst, PROTO_TCP, len16(data));
        checksum::fold(pseudo + checksum::sum(data)) == 0
    }

    /// Whether the checksum is right for an IPv6 segment from `src` to `dst`.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v6(src, dst, PROTO_TCP, len32(data));
        checksum::fold(pseudo + checksum::sum(data)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::SEQ_NUM, value);
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::ACK_NUM, value);
    }

    /// Sets the header length in bytes (a multiple of 4, at most 60), keeping the flags.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let data = self.buffer.as_mut();
        let offset = ((len / 4) & 0x0F) as u8; // masked to 4 bits: the cast loses nothing
        let at = field::OFFSET_FLAGS.start;
        data[at] = (data[at] & 0x0F) | (offset << 4);
    }

    /// Sets the nine flag bits, keeping the data offset.
    #[inline]
    pub fn set_flags(&mut self, flags: u16) {
        let data = self.buffer.as_mut();
        let word = get_u16(data, field::OFFSET_FLAGS);
        set_u16(
            data,
            field::OFFSET_FLAGS,
            (word & !FLAGS_MASK) | (flags & FLAGS_MASK),
        );
    }

    /// Sets the window size.
    #[inline]
    pub fn set_window_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::WIN_SIZE, value);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::URGENT, value);
    }

    /// The options, mutable (for MSS clamping).
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }

    /// The payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }

    /// Computes and stores the checksum of the whole buffer as an IPv4 segment.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v4(src, dst, PROTO_TCP, len16(data));
        let c = checksum::fold(pseudo + checksum::sum(data));
        self.set_checksum(c);
    }

    /// Computes and stores the checksum of the whole buffer as an IPv6 segment.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_v6(src, dst, PROTO_TCP, len32(data));
        let c = checksum::fold(pseudo + checksum::sum(data));
        self.set_checksum(c);
    }
}

/// The segment length for the IPv4 pseudo header. A segment inside an IPv4 packet is below
/// 64 KiB; a longer buffer cannot be one, and saturating makes its checksum fail.
fn len16(data: &[u8]) -> u16 {
    u16::try_from(data.len()).unwrap_or(u16::MAX)
}

/// The segment length for the IPv6 pseudo header (32 bits there).
fn len32(data: &[u8]) -> u32 {
    u32::try_from(data.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // TCP part of scapy's IP(src="192.168.1.10", dst="192.168.1.20")/TCP(sport=443,
    // dport=51000, seq=0x01020304, ack=0xa0b0c0d0, flags="PA", window=0x7210,
    // options=[("MSS",1460),("NOP",None),("WScale",7)])/Raw(b"hello")
    static V4_SEGMENT: [u8; 33] = [
        0x01, 0xbb, 0xc7, 0x38, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0, 0x70, 0x18, 0x72,
        0x10, 0x1c, 0x31, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07, 0x68, 0x65,
        0x6c, 0x6c, 0x6f,
    ];
    const V4_SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
    const V4_DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);

    // TCP part of scapy's IPv6(src="2001:db8::a", dst="2001:db8::b")/TCP(sport=22,
    // dport=40000, seq=1, ack=2, flags="SA", window=65535)/Raw(b"x")
    static V6_SEGMENT: [u8; 21] = [
        0x00, 0x16, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x50, 0x12, 0xff,
        0xff, 0x3f, 0xf1, 0x00, 0x00, 0x78,
    ];

    fn v6_addrs() -> (Ipv6Addr, Ipv6Addr) {
        (
            "2001:db8::a".parse().unwrap(),
            "2001:db8::b".parse().unwrap(),
        )
    }

    #[test]
    fn parse_v4() {
        let p = Packet::new_checked(&V4_SEGMENT[..]).unwrap();
        assert_eq!(p.src_port(), 443);
        assert_eq!(p.dst_port(), 51000);
        assert_eq!(p.seq_number(), 0x0102_0304);
        assert_eq!(p.ack_number(), 0xa0b0_c0d0);
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.flags(), FLAG_PSH | FLAG_ACK);
        assert_eq!(p.window_len(), 0x7210);
        assert_eq!(p.checksum(), 0x1c31);
        assert_eq!(p.urgent(), 0);
        assert_eq!(
            p.options(),
            &[0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07]
        );
        assert_eq!(p.payload(), b"hello");
        assert!(p.verify_checksum_v4(V4_SRC, V4_DST));
        assert!(!p.verify_checksum_v4(V4_DST, Ipv4Addr::new(1, 1, 1, 1)));
    }

    #[test]
    fn parse_v6() {
        let (s, d) = v6_addrs();
        let p = Packet::new_checked(&V6_SEGMENT[..]).unwrap();
        assert_eq!(p.flags(), FLAG_SYN | FLAG_ACK);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.options(), &[] as &[u8]);
        assert!(p.verify_checksum_v6(&s, &d));
    }

    #[test]
    fn fill_matches_fixture() {
        let mut b = V4_SEGMENT;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_checksum(0xFFFF);
        p.fill_checksum_v4(V4_SRC, V4_DST);
        assert_eq!(p.checksum(), 0x1c31);
        let (s, d) = v6_addrs();
        let mut b = V6_SEGMENT;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_checksum(0);
        p.fill_checksum_v6(&s, &d);
        assert_eq!(p.checksum(), 0x3ff1);
    }

    #[test]
    fn etherparse_agrees() {
        let h = etherparse::TcpHeaderSlice::from_slice(&V4_SEGMENT).unwrap();
        let p = Packet::new_checked(&V4_SEGMENT[..]).unwrap();
        assert_eq!(p.seq_number(), h.sequence_number());
        assert_eq!(p.ack_number(), h.acknowledgment_number());
        assert_eq!(p.header_len(), h.slice().len());
        assert_eq!(p.flags() & FLAG_PSH != 0, h.psh());
        assert_eq!(p.window_len(), h.window_size());
        assert_eq!(p.options(), h.options());
        let c = h
            .to_header()
            .calc_checksum_ipv4_raw(V4_SRC.octets(), V4_DST.octets(), p.payload())
            .unwrap();
        assert_eq!(p.checksum(), c);
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 30];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_header_len(24);
        p.set_flags(0xFFFF);
        assert_eq!(p.header_len(), 24, "flags must not touch the data offset");
        p.set_flags(FLAG_SYN | FLAG_FIN | FLAG_RST | FLAG_NS);
        p.set_header_len(28);
        assert_eq!(p.flags(), FLAG_SYN | FLAG_FIN | FLAG_RST | FLAG_NS);
        p.set_src_port(1);
        p.set_dst_port(2);
        p.set_seq_number(3);
        p.set_ack_number(0xFFFF_FFFF);
        p.set_window_len(5);
        p.set_checksum(6);
        p.set_urgent(7);
        p.options_mut().copy_from_slice(&[1; 8]);
        p.payload_mut().copy_from_slice(b"ab");
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.seq_number()), (1, 2, 3));
        assert_eq!(p.ack_number(), 0xFFFF_FFFF);
        assert_eq!((p.window_len(), p.checksum(), p.urgent()), (5, 6, 7));
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.options(), &[1; 8]);
        assert_eq!(p.payload(), b"ab");
        assert_eq!(p.into_inner().len(), 30);
    }

    #[test]
    fn check_len_errors() {
        assert_eq!(
            Packet::new_checked(&V4_SEGMENT[..19]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Packet::new_checked(&V4_SEGMENT[..27]).unwrap_err(),
            Error::Truncated
        );
        assert!(Packet::new_checked(&V4_SEGMENT[..28]).is_ok());
        let mut b = V4_SEGMENT;
        b[12] = 0x40;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }

    /// A random segment (20-byte header, random payload) with a valid IPv4 checksum.
    fn segment() -> impl Strategy<Value = (Vec<u8>, Ipv4Addr, Ipv4Addr)> {
        (
            any::<[u8; 20]>(),
            proptest::collection::vec(any::<u8>(), 0..32),
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
        )
            .prop_map(|(h, payload, s, d)| {
                let mut b = h.to_vec();
                b.extend_from_slice(&payload);
                let (s, d) = (Ipv4Addr::from(s), Ipv4Addr::from(d));
                let mut p = Packet::new_unchecked(&mut b[..]);
                p.set_header_len(20);
                p.fill_checksum_v4(s, d);
                (b, s, d)
            })
    }

    fn recomputed(b: &[u8], s: Ipv4Addr, d: Ipv4Addr) -> u16 {
        let mut c = b.to_vec();
        let mut p = Packet::new_unchecked(&mut c[..]);
        p.fill_checksum_v4(s, d);
        p.checksum()
    }

    proptest! {
        /// A port rewrite or window change, patched incrementally.
        #[test]
        fn update16_on_header((mut b, s, d) in segment(), word in 0usize..10, new in any::<u16>()) {
            prop_assume!(word != 8); // the checksum field
            let at = word * 2..word * 2 + 2;
            let old = get_u16(&b, at.clone());
            let before = Packet::new_unchecked(&b[..]).checksum();
            set_u16(&mut b, at, new);
            prop_assert_eq!(checksum::update16(before, old, new), recomputed(&b, s, d));
        }

        /// A sequence/ack number rewrite, or an address change in the pseudo header (NAT).
        #[test]
        fn update32_on_header((mut b, s, d) in segment(), seq in any::<bool>(), new in any::<u32>()) {
            let at = if seq { field::SEQ_NUM } else { field::ACK_NUM };
            let old = get_u32(&b, at.clone());
            let before = Packet::new_unchecked(&b[..]).checksum();
            set_u32(&mut b, at, new);
            let inc = checksum::update32(before, old, new);
            prop_assert_eq!(inc, recomputed(&b, s, d));

            // Then the pseudo header's source address, starting from the patched checksum.
            let before = inc;
            let new_src = Ipv4Addr::from(new.rotate_left(7));
            let inc = checksum::update32(before, u32::from(s), u32::from(new_src));
            prop_assert_eq!(inc, recomputed(&b, new_src, d));
        }
    }
}
