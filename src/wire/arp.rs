//! ARP for IPv4 over Ethernet (RFC 826). Other hardware or protocol types are not handled.

use super::{get_ipv4, get_mac, get_u16, set_u16, Error, MacAddr, Result};
use std::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP packet.
pub const LEN: usize = 28;
/// ARP request.
pub const OP_REQUEST: u16 = 1;
/// ARP reply.
pub const OP_REPLY: u16 = 2;

/// Hardware type of Ethernet.
const HW_ETHERNET: u16 = 1;
/// Protocol type of IPv4 (its EtherType).
const PROTO_IPV4: u16 = 0x0800;

mod field {
    use super::super::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    // The address fields below assume hw_len 6 and proto_len 4, as new_checked() enforces.
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// A read/write view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer, checks its length, and checks that it is Ethernet/IPv4 ARP: the
    /// address offsets of this view are only right for 6-byte MACs and 4-byte addresses.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        if p.hw_type() != HW_ETHERNET
            || p.proto_type() != PROTO_IPV4
            || p.hw_len() != 6
            || p.proto_len() != 4
        {
            return Err(Error::Malformed);
        }
        Ok(p)
    }

    /// Checks that the buffer holds 28 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Always 28: Ethernet/IPv4 ARP has no variable part.
    #[inline]
    pub fn header_len(&self) -> usize {
        LEN
    }

    /// Hardware type (1 = Ethernet).
    #[inline]
    pub fn hw_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 = IPv4).
    #[inline]
    pub fn proto_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length.
    #[inline]
    pub fn hw_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    #[inline]
    pub fn proto_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation: [`OP_REQUEST`] or [`OP_REPLY`].
    #[inline]
    pub fn operation(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OPER)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_hw_addr(&self) -> MacAddr {
        get_mac(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_proto_addr(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_hw_addr(&self) -> MacAddr {
        get_mac(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol address.
    #[inline]
    pub fn target_proto_addr(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware type.
    #[inline]
    pub fn set_hw_type(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_proto_type(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Sets the hardware address length.
    #[inline]
    pub fn set_hw_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length.
    #[inline]
    pub fn set_proto_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    #[inline]
    pub fn set_operation(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::OPER, value);
    }

    /// Sets the sender hardware address.
    #[inline]
    pub fn set_sender_hw_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr);
    }

    /// Sets the sender protocol address.
    #[inline]
    pub fn set_sender_proto_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&addr.octets());
    }

    /// Sets the target hardware address.
    #[inline]
    pub fn set_target_hw_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr);
    }

    /// Sets the target protocol address.
    #[inline]
    pub fn set_target_proto_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&addr.octets());
    }
}

/// Writes a complete 28-byte Ethernet/IPv4 ARP packet at the start of `buf`.
///
/// Panics if `buf` is shorter than [`LEN`].
pub fn emit(buf: &mut [u8], op: u16, sha: MacAddr, spa: Ipv4Addr, tha: MacAddr, tpa: Ipv4Addr) {
    let mut p = Packet::new_unchecked(&mut buf[..LEN]);
    p.set_hw_type(HW_ETHERNET);
    p.set_proto_type(PROTO_IPV4);
    p.set_hw_len(6);
    p.set_proto_len(4);
    p.set_operation(op);
    p.set_sender_hw_addr(sha);
    p.set_sender_proto_addr(spa);
    p.set_target_hw_addr(tha);
    p.set_target_proto_addr(tpa);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by scapy: ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="192.0.2.1",
    //                    hwdst="00:00:00:00:00:00", pdst="192.0.2.2")
    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0,
        0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x02,
    ];

    #[test]
    fn parse_request() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hw_type(), 1);
        assert_eq!(p.proto_type(), 0x0800);
        assert_eq!(p.hw_len(), 6);
        assert_eq!(p.proto_len(), 4);
        assert_eq!(p.operation(), OP_REQUEST);
        assert_eq!(p.sender_hw_addr(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(p.sender_proto_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(p.target_hw_addr(), [0; 6]);
        assert_eq!(p.target_proto_addr(), Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(p.header_len(), LEN);
    }

    #[test]
    fn etherparse_agrees() {
        let a = etherparse::ArpPacketSlice::from_slice(&REQUEST).unwrap();
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.operation(), a.operation().0);
        assert_eq!(p.sender_hw_addr(), a.sender_hw_addr());
        assert_eq!(
            &p.sender_proto_addr().octets()[..],
            a.sender_protocol_addr()
        );
        assert_eq!(
            &p.target_proto_addr().octets()[..],
            a.target_protocol_addr()
        );
    }

    #[test]
    fn emit_matches_fixture() {
        let mut buf = [0xAAu8; 28];
        emit(
            &mut buf,
            OP_REQUEST,
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(192, 0, 2, 1),
            [0; 6],
            Ipv4Addr::new(192, 0, 2, 2),
        );
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = REQUEST;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_operation(OP_REPLY);
        p.set_sender_hw_addr([1, 2, 3, 4, 5, 6]);
        p.set_sender_proto_addr(Ipv4Addr::new(10, 0, 0, 1));
        p.set_target_hw_addr([6, 5, 4, 3, 2, 1]);
        p.set_target_proto_addr(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.operation(), OP_REPLY);
        assert_eq!(p.sender_hw_addr(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(p.sender_proto_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.target_hw_addr(), [6, 5, 4, 3, 2, 1]);
        assert_eq!(p.target_proto_addr(), Ipv4Addr::new(10, 0, 0, 2));
        p.set_hw_type(6);
        p.set_proto_type(0x86DD);
        p.set_hw_len(8);
        p.set_proto_len(16);
        assert_eq!(
            (p.hw_type(), p.proto_type(), p.hw_len(), p.proto_len()),
            (6, 0x86DD, 8, 16)
        );
        assert_eq!(p.into_inner().len(), 28);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            Packet::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
        for (at, v) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[at] = v;
            assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
            // check_len() alone only looks at the length.
            assert!(Packet::new_unchecked(&b[..]).check_len().is_ok());
        }
    }
}
