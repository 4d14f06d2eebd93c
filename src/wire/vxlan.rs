//! VXLAN headers (RFC 7348).

use super::{get_u32, set_u32, Error, Result};

/// Length of a VXLAN header.
pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI is valid. The only flag RFC 7348 defines.
pub const FLAG_I: u8 = 0x08;
/// IANA UDP destination port of VXLAN.
pub const PORT: u16 = 4789;

/// The VNI: 24 bits.
const VNI_MASK: u32 = 0x00FF_FFFF;

mod field {
    use super::super::Field;
    pub const FLAGS: usize = 0;
    /// Flags (8) and reserved (24).
    pub const FLAGS_RESERVED: Field = 0..4;
    /// VNI (24) and reserved (8).
    pub const VNI_RESERVED: Field = 4..8;
}

/// A read/write view of a VXLAN packet.
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

    /// Checks that the buffer holds the 8-byte header. The I flag is not checked here: a
    /// decap path decides what to do with a packet without it (RFC 7348 says ignore the VNI).
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

    /// The flags byte ([`FLAG_I`] in a valid packet).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The 24-bit VXLAN network identifier.
    #[inline]
    pub fn vni(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VNI_RESERVED) >> 8
    }

    /// The inner Ethernet frame.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the flags byte (the reserved bytes after it are left as they are).
    #[inline]
    pub fn set_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[field::FLAGS] = flags;
    }

    /// Sets the VNI (cut to 24 bits) and zeroes the reserved byte after it.
    #[inline]
    pub fn set_vni(&mut self, vni: u32) {
        set_u32(
            self.buffer.as_mut(),
            field::VNI_RESERVED,
            (vni & VNI_MASK) << 8,
        );
    }

    /// The inner Ethernet frame, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// Writes a complete VXLAN header at the start of `buf`: flags I, reserved zero, `vni` (cut
/// to 24 bits), reserved zero.
pub fn emit(buf: &mut [u8], vni: u32) {
    set_u32(buf, field::FLAGS_RESERVED, u32::from(FLAG_I) << 24);
    set_u32(buf, field::VNI_RESERVED, (vni & VNI_MASK) << 8);
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7348 layout: flags 0x08, 3 reserved, VNI 0x123456, 1 reserved; then a payload byte.
    static HEADER: [u8; 9] = [0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x00, 0xAA];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        assert_eq!(p.flags(), FLAG_I);
        assert_eq!(p.vni(), 0x123456);
        assert_eq!(p.header_len(), 8);
        assert_eq!(p.payload(), &[0xAA]);
    }

    #[test]
    fn emit_matches_rfc_layout() {
        // etherparse has no VXLAN view, so the oracle is the RFC 7348 layout above.
        let mut b = [0xFFu8; 8];
        emit(&mut b, 0x123456);
        assert_eq!(b, HEADER[..8]);
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0xFFu8; 10];
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_flags(FLAG_I);
        p.set_vni(0xFFAB_CDEF);
        assert_eq!(p.flags(), FLAG_I);
        assert_eq!(p.vni(), 0xAB_CDEF);
        p.payload_mut().copy_from_slice(&[1, 2]);
        assert_eq!(p.payload(), &[1, 2]);
        // set_vni zeroes the trailing reserved byte; set_flags leaves bytes 1..4 alone.
        assert_eq!(
            p.into_inner(),
            &[0x08, 0xFF, 0xFF, 0xFF, 0xAB, 0xCD, 0xEF, 0x00, 1, 2]
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&HEADER[..7]).unwrap_err(),
            Error::Truncated
        );
    }
}
