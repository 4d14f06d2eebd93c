//! GRE headers (RFC 2784, with the key and sequence fields of RFC 2890), as used for
//! MPLS over GRE (RFC 4023).

use super::{get_u16, get_u32, set_u16, Error, Result};

/// Length of a GRE header without optional fields.
pub const HEADER_LEN: usize = 4;
/// Protocol type of MPLS unicast (its EtherType).
pub const PROTO_MPLS: u16 = 0x8847;

/// Checksum-present bit.
const FLAG_C: u16 = 0x8000;
/// Key-present bit (RFC 2890).
const FLAG_K: u16 = 0x2000;
/// Sequence-number-present bit (RFC 2890).
const FLAG_S: u16 = 0x1000;
/// The version bits.
const VERSION_MASK: u16 = 0x0007;

mod field {
    use super::super::Field;
    pub const FLAGS_VERSION: Field = 0..2;
    pub const PROTOCOL: Field = 2..4;
    // The optional words follow in the order checksum(+reserved1), key, sequence number; each
    // is present only if its flag is set, so their offsets are computed, not fixed.
}

/// A read/write view of a GRE packet.
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

    /// Checks that the buffer holds the header with every optional field its flags announce.
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

    /// The flags and version word.
    #[inline]
    pub fn flags_version(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FLAGS_VERSION)
    }

    /// Whether a checksum (and reserved1) word is present.
    #[inline]
    pub fn has_checksum(&self) -> bool {
        self.flags_version() & FLAG_C != 0
    }

    /// Whether a key word is present.
    #[inline]
    pub fn has_key(&self) -> bool {
        self.flags_version() & FLAG_K != 0
    }

    /// Whether a sequence-number word is present.
    #[inline]
    pub fn has_seq(&self) -> bool {
        self.flags_version() & FLAG_S != 0
    }

    /// GRE version (0 for RFC 2784).
    #[inline]
    pub fn version(&self) -> u8 {
        // Masked to 3 bits: the cast loses nothing.
        (self.flags_version() & VERSION_MASK) as u8
    }

    /// Protocol type of the payload (an EtherType).
    #[inline]
    pub fn protocol(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// Header length: 4, plus 4 for each of checksum, key and sequence number present.
    #[inline]
    pub fn header_len(&self) -> usize {
        // Also called by check_len() before the buffer is known to hold 4 bytes.
        if self.buffer.as_ref().len() < HEADER_LEN {
            return HEADER_LEN;
        }
        HEADER_LEN
            + 4 * (usize::from(self.has_checksum())
                + usize::from(self.has_key())
                + usize::from(self.has_seq()))
    }

    /// The key, if present.
    #[inline]
    pub fn key(&self) -> Option<u32> {
        if !self.has_key() {
            return None;
        }
        let at = HEADER_LEN + 4 * usize::from(self.has_checksum());
        Some(get_u32(self.buffer.as_ref(), at..at + 4))
    }

    /// The payload: everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the flags and version word. Changing the C/K/S bits changes `header_len()`.
    #[inline]
    pub fn set_flags_version(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::FLAGS_VERSION, value);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::PROTOCOL, value);
    }

    /// The payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }
}

/// Writes a 4-byte GRE header (no checksum, key or sequence number; version 0) at the start
/// of `buf`, as MPLSoGRE encap uses.
pub fn emit(buf: &mut [u8], protocol: u16) {
    let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
    p.set_flags_version(0);
    p.set_protocol(protocol);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by scapy: GRE(key_present=1, key=0xdeadbeef, proto=0x8847)
    //                /MPLS(label=0xABCDE, cos=5, s=1, ttl=63)/Raw(b"\x45")
    static KEYED_MPLS: [u8; 13] = [
        0x20, 0x00, 0x88, 0x47, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xcd, 0xeb, 0x3f, 0x45,
    ];

    #[test]
    fn parse_keyed() {
        let p = Packet::new_checked(&KEYED_MPLS[..]).unwrap();
        assert_eq!(p.flags_version(), 0x2000);
        assert!(!p.has_checksum());
        assert!(p.has_key());
        assert!(!p.has_seq());
        assert_eq!(p.version(), 0);
        assert_eq!(p.protocol(), PROTO_MPLS);
        assert_eq!(p.header_len(), 8);
        assert_eq!(p.key(), Some(0xdead_beef));
        assert_eq!(p.payload(), &KEYED_MPLS[8..]);
    }

    #[test]
    fn header_len_counts_every_option() {
        let mut b = [0u8; 16];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_flags_version(FLAG_C | FLAG_K | FLAG_S | 1);
        assert_eq!(p.header_len(), 16);
        assert_eq!(p.version(), 1);
        assert!(p.has_checksum() && p.has_key() && p.has_seq());
        assert!(p.payload_mut().is_empty());
        // The key comes after the checksum word.
        b[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap().key(),
            Some(0x0102_0304)
        );
        assert_eq!(Packet::new_checked(&b[..15]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn emit_and_setters() {
        let mut b = [0xFFu8; 6];
        emit(&mut b, PROTO_MPLS);
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        assert_eq!(p.flags_version(), 0);
        assert_eq!(p.header_len(), 4);
        assert_eq!(p.key(), None);
        assert_eq!(p.protocol(), PROTO_MPLS);
        p.set_protocol(0x0800);
        assert_eq!(p.protocol(), 0x0800);
        assert_eq!(p.into_inner(), &[0, 0, 0x08, 0x00, 0xFF, 0xFF]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&KEYED_MPLS[..3]).unwrap_err(),
            Error::Truncated
        );
        // The key flag is set but the key is cut off.
        assert_eq!(
            Packet::new_checked(&KEYED_MPLS[..7]).unwrap_err(),
            Error::Truncated
        );
    }
}
