//! UDP headers (RFC 768).

use super::checksum;
use super::{get_u16, set_u16, Error, Result};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Length of a UDP header.
pub const HEADER_LEN: usize = 8;

/// IP protocol / next-header number of UDP, for the pseudo header.
const PROTO_UDP: u8 = 17;

mod field {
    use super::super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A read/write view of a UDP datagram.
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

    /// Checks that the buffer holds the header and that the length field is at least the
    /// header and at most the buffer. A buffer longer than the length field is fine.
    pub fn check_len(&self) -> Result<()> {
        let buf_len = self.buffer.as_ref().len();
        if buf_len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN || len > buf_len {
            return Err(Error::Malformed);
        }
        Ok(())
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

    /// The length field: header plus payload.
    #[inline]
    #[allow(clippy::len_without_is_empty)] // a header field, not a container length
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum as stored (0 = none, IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The payload: bytes 8..len.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// The datagram as the length field bounds it: what the checksum covers.
    #[inline]
    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// Whether the checksum is right for an IPv4 datagram from `src` to `dst`. A zero
    /// checksum means the sender did not compute one (RFC 768) and is accepted.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let pseudo = checksum::pseudo_header_v4(src, dst, PROTO_UDP, self.len());
        checksum::fold(pseudo + checksum::sum(self.datagram())) == 0
    }

    /// Whether the checksum is right for an IPv6 datagram from `src` to `dst`.
    ///
    /// A zero checksum is rejected, as RFC 8200 requires. Tunnel endpoints that accept
    /// zero-checksum UDP over IPv6 (RFC 6935/6936, e.g. VXLAN) must test `checksum() == 0`
    /// themselves before calling this.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let pseudo = checksum::pseudo_header_v6(src, dst, PROTO_UDP, u32::from(self.len()));
        checksum::fold(pseudo + checksum::sum(self.datagram())) == 0
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

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// The payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes and stores the checksum for IPv4, over `len` bytes.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let pseudo = checksum::pseudo_header_v4(src, dst, PROTO_UDP, self.len());
        let c = checksum::fold(pseudo + checksum::sum(self.datagram()));
        self.set_checksum(nonzero(c));
    }

    /// Computes and stores the checksum for IPv6, over `len` bytes.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let pseudo = checksum::pseudo_header_v6(src, dst, PROTO_UDP, u32::from(self.len()));
        let c = checksum::fold(pseudo + checksum::sum(self.datagram()));
        self.set_checksum(nonzero(c));
    }
}

/// A computed checksum of 0 is sent as 0xFFFF (its one's-complement twin), because 0 on
/// the wire means "no checksum" (RFC 768).
fn nonzero(c: u16) -> u16 {
    if c == 0 {
        0xFFFF
    } else {
        c
    }
}

/// Writes an 8-byte UDP header with a zero (absent) checksum at the start of `buf`, as
/// tunnel encap does for VXLAN and MPLSoUDP over IPv4 (RFC 7348, RFC 7510).
pub fn emit(buf: &mut [u8], src_port: u16, dst_port: u16, len: u16) {
    let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
    p.set_src_port(src_port);
    p.set_dst_port(dst_port);
    p.set_len(len);
    p.set_checksum(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // UDP part of scapy's IP(src="10.1.1.1", dst="10.2.2.2", ...)/UDP(sport=54321,
    // dport=4789)/Raw(b"abcdefgh"), checksum 0x704c.
    static V4_DGRAM: [u8; 16] = [
        0xd4, 0x31, 0x12, 0xb5, 0x00, 0x10, 0x70, 0x4c, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];
    const V4_SRC: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 1);
    const V4_DST: Ipv4Addr = Ipv4Addr::new(10, 2, 2, 2);

    // UDP part of scapy's IPv6(src="2001:db8::1", dst="2001:db8::2")/UDP(sport=1000,
    // dport=6635)/Raw(b"mpls"), checksum 0xacaa.
    static V6_DGRAM: [u8; 12] = [
        0x03, 0xe8, 0x19, 0xeb, 0x00, 0x0c, 0xac, 0xaa, 0x6d, 0x70, 0x6c, 0x73,
    ];

    fn v6_addrs() -> (Ipv6Addr, Ipv6Addr) {
        (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        )
    }

    #[test]
    fn parse_v4() {
        let p = Packet::new_checked(&V4_DGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 54321);
        assert_eq!(p.dst_port(), 4789);
        assert_eq!(p.len(), 16);
        assert_eq!(p.checksum(), 0x704c);
        assert_eq!(p.header_len(), 8);
        assert_eq!(p.payload(), b"abcdefgh");
        assert!(p.verify_checksum_v4(V4_SRC, V4_DST));
        assert!(!p.verify_checksum_v4(V4_SRC, Ipv4Addr::new(10, 2, 2, 3)));
    }

    #[test]
    fn checksums_match_fixture() {
        let mut b = V4_DGRAM;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_checksum(0x1234);
        p.fill_checksum_v4(V4_SRC, V4_DST);
        assert_eq!(p.checksum(), 0x704c);

        let (s, d) = v6_addrs();
        let mut b = V6_DGRAM;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        assert!(p.verify_checksum_v6(&s, &d));
        p.set_checksum(0);
        assert!(
            !p.verify_checksum_v6(&s, &d),
            "zero is not 'no checksum' over IPv6"
        );
        p.fill_checksum_v6(&s, &d);
        assert_eq!(p.checksum(), 0xacaa);
    }

    #[test]
    fn zero_checksum_v4_is_accepted() {
        let mut b = V4_DGRAM;
        Packet::new_unchecked(&mut b[..]).set_checksum(0);
        assert!(Packet::new_checked(&b[..])
            .unwrap()
            .verify_checksum_v4(V4_SRC, V4_DST));
    }

    #[test]
    fn check_len_errors() {
        assert_eq!(
            Packet::new_checked(&V4_DGRAM[..7]).unwrap_err(),
            Error::Truncated
        );
        // Length field larger than the buffer.
        assert_eq!(
            Packet::new_checked(&V4_DGRAM[..15]).unwrap_err(),
            Error::Malformed
        );
        let mut b = V4_DGRAM;
        b[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
        // A longer buffer is fine; payload stops at len.
        b[4..6].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&b[..]).unwrap().payload(), b"ab");
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 12];
        emit(&mut b, 1, 2, 12);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        assert_eq!(
            (p.src_port(), p.dst_port(), p.len(), p.checksum()),
            (1, 2, 12, 0)
        );
        p.set_src_port(0xFFFF);
        p.set_dst_port(4789);
        p.set_len(10);
        p.set_checksum(0xABCD);
        p.payload_mut().copy_from_slice(b"hi");
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (0xFFFF, 4789, 10));
        assert_eq!(p.checksum(), 0xABCD);
        assert_eq!(p.payload(), b"hi");
        assert_eq!(p.into_inner().len(), 12);
    }

    #[test]
    fn computed_zero_goes_out_as_ffff() {
        assert_eq!(nonzero(0), 0xFFFF);
        assert_eq!(nonzero(1), 1);
    }

    proptest! {
        /// etherparse's UDP checksum agrees with ours, over IPv4 and IPv6.
        #[test]
        fn checksum_matches_etherparse(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
            src6 in any::<[u8; 16]>(), dst6 in any::<[u8; 16]>(),
            sport in any::<u16>(), dport in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let e = etherparse::UdpHeader::with_ipv4_checksum(sport, dport,
                &etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::UDP, src, dst).unwrap(),
                &payload).unwrap();
            let len = u16::try_from(HEADER_LEN + payload.len()).unwrap();
            let mut b = vec![0u8; usize::from(len)];
            emit(&mut b, sport, dport, len);
            b[HEADER_LEN..].copy_from_slice(&payload);
            let mut p = Packet::new_checked(&mut b[..]).unwrap();
            p.fill_checksum_v4(src.into(), dst.into());
            prop_assert_eq!(p.checksum(), e.checksum);
            prop_assert!(p.verify_checksum_v4(src.into(), dst.into()));

            let e6 = etherparse::UdpHeader::with_ipv6_checksum(sport, dport,
                &etherparse::Ipv6Header {
                    source: src6, destination: dst6, next_header: etherparse::IpNumber::UDP,
                    ..Default::default()
                },
                &payload).unwrap();
            p.fill_checksum_v6(&src6.into(), &dst6.into());
            prop_assert_eq!(p.checksum(), e6.checksum);
            prop_assert!(p.verify_checksum_v6(&src6.into(), &dst6.into()));
        }
    }
}
