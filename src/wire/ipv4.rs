//! IPv4 headers (RFC 791).

use super::checksum;
use super::{get_ipv4, get_u16, set_u16, Error, Result};
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;
/// Protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// Protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// Protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// Protocol number of GRE.
pub const PROTO_GRE: u8 = 47;

/// The Don't Fragment bit of the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
/// The More Fragments bit.
const FLAG_MF: u16 = 0x2000;
/// The fragment offset, in units of 8 bytes.
const FRAG_OFFSET_MASK: u16 = 0x1FFF;

mod field {
    use super::super::Field;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLAGS_FRAG: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    /// TTL and protocol as the one 16-bit word the checksum sees.
    pub const TTL_PROTOCOL: Field = 8..10;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

/// A read/write view of an IPv4 packet.
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

    /// Checks that the header is IPv4, that its lengths are consistent, and that the buffer
    /// holds `total_len` bytes. A longer buffer is fine: Ethernet pads short frames.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 || self.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if usize::from(self.total_len()) < self.header_len() {
            return Err(Error::Malformed);
        }
        if len < self.header_len() || len < usize::from(self.total_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IP version (4).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0F) * 4
    }

    /// Type of service / DSCP+ECN byte.
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Total length: header plus payload.
    #[inline]
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_DF != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FRAG_OFFSET_MASK) * 8
    }

    /// Whether this is a fragment: MF set or a non-zero offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum as stored.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::DST)
    }

    /// Whether the header checksum is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let data = self.buffer.as_ref();
        checksum::fold(checksum::sum(&data[..self.header_len()])) == 0
    }

    /// The options: bytes 20..header_len.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: bytes header_len..total_len, without any Ethernet padding.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version/IHL byte as is (0x45 for a header without options).
    #[inline]
    pub fn set_version_ihl(&mut self, value: u8) {
        self.buffer.as_mut()[field::VER_IHL] = value;
    }

    /// Sets the type of service byte.
    #[inline]
    pub fn set_tos(&mut self, value: u8) {
        self.buffer.as_mut()[field::TOS] = value;
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::TOTAL_LEN, value);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, value);
    }

    /// Sets the flags and the fragment offset, given in bytes (a multiple of 8; the low three
    /// bits are dropped).
    #[inline]
    pub fn set_flags_frag(&mut self, dont_frag: bool, more_frags: bool, offset_bytes: u16) {
        let mut word = (offset_bytes / 8) & FRAG_OFFSET_MASK;
        if dont_frag {
            word |= FLAG_DF;
        }
        if more_frags {
            word |= FLAG_MF;
        }
        set_u16(self.buffer.as_mut(), field::FLAGS_FRAG, word);
    }

    /// Sets the time to live (checksum not updated; see [`decrement_ttl`](Self::decrement_ttl)).
    #[inline]
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = value;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.octets());
    }

    /// Computes the header checksum over `header_len` bytes and stores it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::fold(checksum::sum(&self.buffer.as_ref()[..hl]));
        self.set_checksum(c);
    }

    /// Decrements the TTL and patches the checksum incrementally (RFC 1624) instead of
    /// summing the header again: this runs on every forwarded packet.
    ///
    /// The caller has checked `ttl() > 1` (a packet with TTL 0 or 1 is not forwarded). At 0
    /// the TTL wraps to 255 and the checksum still matches the header.
    #[inline]
    pub fn decrement_ttl(&mut self) {
        let data = self.buffer.as_mut();
        let old = get_u16(data, field::TTL_PROTOCOL);
        let new = old.wrapping_sub(0x0100);
        set_u16(data, field::TTL_PROTOCOL, new);
        let c = checksum::update16(get_u16(data, field::CHECKSUM), old, new);
        set_u16(data, field::CHECKSUM, c);
    }

    /// The options, mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hl]
    }

    /// The payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// Writes a 20-byte IPv4 header (no options, fragment offset 0) with its checksum at the
/// start of `buf`. Panics if `buf` is shorter than [`HEADER_LEN`].
// Nine arguments because every one is a field an encap path chooses; a struct would only
// be built to be taken apart again on the hot path.
#[allow(clippy::too_many_arguments)]
pub fn emit_header(
    buf: &mut [u8],
    tos: u8,
    total_len: u16,
    ident: u16,
    dont_frag: bool,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) {
    let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
    p.set_version_ihl(0x45);
    p.set_tos(tos);
    p.set_total_len(total_len);
    p.set_ident(ident);
    p.set_flags_frag(dont_frag, false, 0);
    p.set_ttl(ttl);
    p.set_protocol(protocol);
    p.set_src_addr(src);
    p.set_dst_addr(dst);
    p.fill_checksum();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Made by scapy: IP(src="10.1.1.1", dst="10.2.2.2", tos=0x10, id=0x1234, flags="DF",
    //                   ttl=64)/UDP(sport=54321, dport=4789)/Raw(b"abcdefgh")
    static UDP_PACKET: [u8; 36] = [
        0x45, 0x10, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x11, 0x80, 0x0a, 0x01, 0x01,
        0x01, 0x0a, 0x02, 0x02, 0x02, 0xd4, 0x31, 0x12, 0xb5, 0x00, 0x10, 0x70, 0x4c, 0x61, 0x62,
        0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    ];

    // Made by scapy: IP(src="10.1.1.1", dst="10.2.2.2", id=7, flags="MF", frag=185, ttl=3,
    //                   proto=47, options=[IPOption_NOP()]*4)/Raw(b"xyz")
    static FRAGMENT: [u8; 27] = [
        0x46, 0x00, 0x00, 0x1b, 0x00, 0x07, 0x20, 0xb9, 0x03, 0x2f, 0x7c, 0xed, 0x0a, 0x01, 0x01,
        0x01, 0x0a, 0x02, 0x02, 0x02, 0x01, 0x01, 0x01, 0x01, 0x78, 0x79, 0x7a,
    ];

    /// The classic example header (as in many checksum tutorials), checksum 0xb861.
    static CLASSIC: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn parse_udp_packet() {
        let p = Packet::new_checked(&UDP_PACKET[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.tos(), 0x10);
        assert_eq!(p.total_len(), 36);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), PROTO_UDP);
        assert_eq!(p.checksum(), 0x1180);
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 1, 1, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 2, 2, 2));
        assert!(p.verify_checksum());
        assert_eq!(p.options(), &[] as &[u8]);
        assert_eq!(p.payload().len(), 16);
        assert_eq!(&p.payload()[8..], b"abcdefgh");
    }

    #[test]
    fn parse_fragment_with_options() {
        let p = Packet::new_checked(&FRAGMENT[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert!(!p.dont_frag());
        assert!(p.more_frags());
        assert_eq!(p.frag_offset(), 185 * 8);
        assert!(p.is_fragment());
        assert_eq!(p.ttl(), 3);
        assert_eq!(p.protocol(), PROTO_GRE);
        assert!(p.verify_checksum());
        assert_eq!(p.options(), &[1, 1, 1, 1]);
        assert_eq!(p.payload(), b"xyz");
    }

    #[test]
    fn offset_alone_is_fragment() {
        let mut b = UDP_PACKET;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_flags_frag(false, false, 16);
        assert!(p.is_fragment());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 16);
    }

    #[test]
    fn classic_checksum() {
        // Header only: total_len says 115, so this is a view without check_len().
        let p = Packet::new_unchecked(&CLASSIC[..]);
        assert!(p.verify_checksum());
        let mut b = CLASSIC;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_checksum(0);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb861);
    }

    #[test]
    fn etherparse_agrees() {
        let h = etherparse::Ipv4HeaderSlice::from_slice(&FRAGMENT)
            .unwrap()
            .to_header();
        let p = Packet::new_checked(&FRAGMENT[..]).unwrap();
        assert_eq!(p.header_len(), h.header_len());
        assert_eq!(p.total_len(), h.total_len);
        assert_eq!(p.ident(), h.identification);
        assert_eq!(p.more_frags(), h.more_fragments);
        assert_eq!(p.frag_offset(), h.fragment_offset.value() * 8);
        assert_eq!(p.ttl(), h.time_to_live);
        assert_eq!(p.protocol(), h.protocol.0);
        assert_eq!(p.src_addr().octets(), h.source);
        assert_eq!(p.checksum(), h.calc_header_checksum());
    }

    #[test]
    fn emit_header_matches_fixture() {
        let mut buf = [0xEEu8; 20];
        emit_header(
            &mut buf,
            0x10,
            36,
            0x1234,
            true,
            64,
            PROTO_UDP,
            Ipv4Addr::new(10, 1, 1, 1),
            Ipv4Addr::new(10, 2, 2, 2),
        );
        assert_eq!(buf, UDP_PACKET[..20]);
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 40];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_ihl(0x46);
        p.set_tos(0xb8);
        p.set_total_len(40);
        p.set_ident(0xBEEF);
        p.set_flags_frag(true, true, 0x1FFF * 8);
        p.set_ttl(9);
        p.set_protocol(PROTO_TCP);
        p.set_src_addr(Ipv4Addr::new(1, 2, 3, 4));
        p.set_dst_addr(Ipv4Addr::new(5, 6, 7, 8));
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.payload_mut()[0] = 0x99;
        p.fill_checksum();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.tos()), (4, 24, 0xb8));
        assert_eq!((p.total_len(), p.ident()), (40, 0xBEEF));
        assert!(p.dont_frag() && p.more_frags());
        assert_eq!(p.frag_offset(), 0x1FFF * 8);
        assert_eq!((p.ttl(), p.protocol()), (9, PROTO_TCP));
        assert_eq!(p.src_addr(), Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(5, 6, 7, 8));
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload()[0], 0x99);
        assert!(p.verify_checksum());
        assert_eq!(p.into_inner().len(), 40);
    }

    #[test]
    fn check_len_errors() {
        assert_eq!(
            Packet::new_checked(&UDP_PACKET[..19]).unwrap_err(),
            Error::Truncated
        );
        // Buffer shorter than total_len.
        assert_eq!(
            Packet::new_checked(&UDP_PACKET[..35]).unwrap_err(),
            Error::Truncated
        );
        // Buffer shorter than the options.
        assert_eq!(
            Packet::new_checked(&FRAGMENT[..22]).unwrap_err(),
            Error::Truncated
        );
        // Ethernet padding after total_len is fine and not part of the payload.
        let mut padded = UDP_PACKET.to_vec();
        padded.extend_from_slice(&[0; 10]);
        let p = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload().len(), 16);

        let malformed = |at: usize, v: u8| {
            let mut b = UDP_PACKET;
            b[at] = v;
            Packet::new_checked(&b[..]).unwrap_err()
        };
        assert_eq!(malformed(0, 0x65), Error::Malformed); // version 6
        assert_eq!(malformed(0, 0x44), Error::Malformed); // IHL 4
        let mut b = UDP_PACKET;
        b[2..4].copy_from_slice(&19u16.to_be_bytes()); // total_len < header_len
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn decrement_ttl_example() {
        let mut b = UDP_PACKET;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.decrement_ttl();
        assert_eq!(p.ttl(), 63);
        assert_eq!(p.protocol(), PROTO_UDP);
        assert!(p.verify_checksum());
    }

    /// A random but valid 20-byte header with its checksum filled in.
    fn header() -> impl Strategy<Value = [u8; 20]> {
        any::<[u8; 20]>().prop_map(|mut h| {
            h[0] = 0x45;
            h[2..4].copy_from_slice(&20u16.to_be_bytes());
            let mut p = Packet::new_unchecked(&mut h[..]);
            p.fill_checksum();
            h
        })
    }

    fn recomputed(h: &[u8; 20]) -> u16 {
        let mut c = *h;
        let mut p = Packet::new_unchecked(&mut c[..]);
        p.fill_checksum();
        p.checksum()
    }

    proptest! {
        #[test]
        fn decrement_ttl_matches_recompute(mut h in header(), ttl in 2u8..=255) {
            let mut p = Packet::new_unchecked(&mut h[..]);
            p.set_ttl(ttl);
            p.fill_checksum();
            p.decrement_ttl();
            prop_assert_eq!(p.ttl(), ttl - 1);
            prop_assert!(p.verify_checksum());
            prop_assert_eq!(p.checksum(), recomputed(&h));
        }

        /// Any aligned 16-bit word other than the checksum itself.
        #[test]
        fn update16_on_header(mut h in header(), word in 0usize..10, new in any::<u16>()) {
            prop_assume!(word != 5); // the checksum field
            // Word 0 is version/IHL + TOS: keep 0x45 so the header length stays 20 and only
            // the TOS (a DSCP rewrite) changes.
            let new = if word == 0 { 0x4500 | (new & 0x00FF) } else { new };
            let at = word * 2..word * 2 + 2;
            let old = get_u16(&h, at.clone());
            let before = Packet::new_unchecked(&h[..]).checksum();
            set_u16(&mut h, at, new);
            let inc = checksum::update16(before, old, new);
            prop_assert_eq!(inc, recomputed(&h));
        }

        /// A 32-bit address rewrite, as in NAT.
        #[test]
        fn update32_on_address(mut h in header(), dst in any::<bool>(), new in any::<u32>()) {
            let at = if dst { 16..20 } else { 12..16 };
            let old = super::super::get_u32(&h, at.clone());
            let before = Packet::new_unchecked(&h[..]).checksum();
            super::super::set_u32(&mut h, at, new);
            prop_assert_eq!(checksum::update32(before, old, new), recomputed(&h));
        }

        /// etherparse, as an independent oracle, computes the same header checksum.
        #[test]
        fn checksum_matches_etherparse(mut h in header()) {
            // etherparse drops the reserved flag bit when it parses, so keep it clear.
            h[6] &= 0x7F;
            Packet::new_unchecked(&mut h[..]).fill_checksum();
            let e = etherparse::Ipv4HeaderSlice::from_slice(&h).unwrap().to_header();
            prop_assert_eq!(Packet::new_unchecked(&h[..]).checksum(), e.calc_header_checksum());
        }
    }
}
