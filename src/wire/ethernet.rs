//! Ethernet II frames, with at most one 802.1Q VLAN tag.

use super::{get_mac, get_u16, set_u16, Error, MacAddr, Result};

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Length of one 802.1Q tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType (TPID) of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// EtherType of MPLS unicast.
pub const ETHERTYPE_MPLS: u16 = 0x8847;
/// The broadcast MAC address.
pub const BROADCAST: MacAddr = [0xFF; 6];

/// Whether `mac` is a group (multicast or broadcast) address: the I/G bit, the least
/// significant bit of the first octet, is set.
pub fn is_multicast(mac: &MacAddr) -> bool {
    mac[0] & 0x01 != 0
}

mod field {
    use super::super::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    /// The 802.1Q tag control information that follows a 0x8100 ethertype.
    pub const VLAN_TCI: Field = 14..16;
    pub const INNER_ETHERTYPE: Field = 16..18;
}

/// A read/write view of an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length: getters may panic on a short one.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer and checks that it holds the whole header (VLAN tag included).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the header, including a VLAN tag if one is announced.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.header_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Header length: 14, or 18 with an 802.1Q tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        // Also called by check_len() before the buffer is known to hold 14 bytes.
        if self.buffer.as_ref().len() >= HEADER_LEN && self.has_vlan() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        get_mac(self.buffer.as_ref(), field::DST)
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        get_mac(self.buffer.as_ref(), field::SRC)
    }

    /// The EtherType at offset 12: 0x8100 for a tagged frame.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Whether the frame carries an 802.1Q tag.
    #[inline]
    pub fn has_vlan(&self) -> bool {
        self.ethertype() == ETHERTYPE_VLAN
    }

    /// The 12-bit VLAN ID of the 802.1Q tag, if there is one.
    #[inline]
    pub fn vlan_id(&self) -> Option<u16> {
        if self.has_vlan() {
            Some(get_u16(self.buffer.as_ref(), field::VLAN_TCI) & 0x0FFF)
        } else {
            None
        }
    }

    /// The EtherType of the payload: after the 802.1Q tag if there is one.
    #[inline]
    pub fn inner_ethertype(&self) -> u16 {
        if self.has_vlan() {
            get_u16(self.buffer.as_ref(), field::INNER_ETHERTYPE)
        } else {
            self.ethertype()
        }
    }

    /// The bytes after the header (and VLAN tag), Ethernet padding included.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let start = self.header_len();
        &self.buffer.as_ref()[start..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr);
    }

    /// Sets the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr);
    }

    /// Sets the EtherType at offset 12.
    #[inline]
    pub fn set_ethertype(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, value);
    }

    /// Sets the ethertype after an 802.1Q tag (caller has checked `has_vlan()`).
    #[inline]
    pub fn set_inner_ethertype(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::INNER_ETHERTYPE, value);
    }

    /// The bytes after the header, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

/// Writes an untagged 14-byte Ethernet header at the start of `buf`.
pub fn emit(buf: &mut [u8], dst: MacAddr, src: MacAddr, ethertype: u16) {
    let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
    p.set_dst_addr(dst);
    p.set_src_addr(src);
    p.set_ethertype(ethertype);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by scapy: Ether(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb")/Raw(b"\x01\x02")
    static UNTAGGED: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00, 0x01,
        0x02,
    ];

    // Made by scapy: Ether(dst="01:00:5e:00:00:01", src="02:00:00:00:00:02")
    //                /Dot1Q(prio=5, vlan=100)/IPv6(), cut after the first IPv6 bytes.
    static TAGGED: [u8; 22] = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x81, 0x00, 0xa0,
        0x64, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parse_untagged() {
        let p = Packet::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(p.dst_addr(), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(p.src_addr(), [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        assert_eq!(p.ethertype(), ETHERTYPE_IPV4);
        assert!(!p.has_vlan());
        assert_eq!(p.vlan_id(), None);
        assert_eq!(p.inner_ethertype(), ETHERTYPE_IPV4);
        assert_eq!(p.header_len(), 14);
        assert_eq!(p.payload(), &[0x01, 0x02]);
        assert!(!is_multicast(&p.dst_addr()));
    }

    #[test]
    fn parse_tagged() {
        let p = Packet::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(p.ethertype(), ETHERTYPE_VLAN);
        assert!(p.has_vlan());
        assert_eq!(p.vlan_id(), Some(100));
        assert_eq!(p.inner_ethertype(), ETHERTYPE_IPV6);
        assert_eq!(p.header_len(), 18);
        assert_eq!(p.payload(), &[0x60, 0, 0, 0]);
        assert!(is_multicast(&p.dst_addr()));
        assert!(is_multicast(&BROADCAST));
    }

    #[test]
    fn etherparse_agrees() {
        let h = etherparse::SlicedPacket::from_ethernet(&TAGGED).ok();
        // The IPv6 header is cut short, so etherparse may stop early; the link layer and VLAN
        // it reports must still match.
        if let Some(h) = h {
            if let Some(etherparse::LinkSlice::Ethernet2(e)) = h.link {
                assert_eq!(e.destination(), [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
                assert_eq!(e.ether_type().0, ETHERTYPE_VLAN);
            }
        }
        let (eth, _) = etherparse::Ethernet2Header::from_slice(&UNTAGGED).unwrap();
        let p = Packet::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(p.dst_addr(), eth.destination);
        assert_eq!(p.src_addr(), eth.source);
        assert_eq!(p.ethertype(), eth.ether_type.0);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&UNTAGGED[..13]).unwrap_err(),
            Error::Truncated
        );
        assert!(Packet::new_checked(&UNTAGGED[..14]).is_ok());
        // A tag is announced but the buffer stops inside it.
        assert_eq!(
            Packet::new_checked(&TAGGED[..17]).unwrap_err(),
            Error::Truncated
        );
        assert!(Packet::new_checked(&TAGGED[..18]).is_ok());
        assert_eq!(Packet::new_checked(&[][..]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0u8; 18];
        emit(&mut buf, BROADCAST, [2, 0, 0, 0, 0, 1], ETHERTYPE_ARP);
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.dst_addr(), BROADCAST);
        assert_eq!(p.src_addr(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(p.ethertype(), ETHERTYPE_ARP);
        p.set_dst_addr([1, 2, 3, 4, 5, 6]);
        p.set_src_addr([7, 8, 9, 10, 11, 12]);
        p.set_ethertype(ETHERTYPE_VLAN);
        p.set_inner_ethertype(ETHERTYPE_MPLS);
        assert_eq!(p.dst_addr(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(p.src_addr(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(p.header_len(), 18);
        assert_eq!(p.inner_ethertype(), ETHERTYPE_MPLS);
        assert_eq!(p.payload_mut().len(), 0);
        assert_eq!(p.into_inner().len(), 18);
    }
}
