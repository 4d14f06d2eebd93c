//! MPLS label stack entries (RFC 3032), and the UDP port of MPLS over UDP (RFC 7510).

use super::{get_u32, set_u32, Error, Result};

/// Length of one label stack entry.
pub const HEADER_LEN: usize = 4;
/// UDP destination port of MPLS over UDP (RFC 7510).
pub const PORT_MPLS_UDP: u16 = 6635;

/// Label: the top 20 bits of the entry.
const LABEL_MASK: u32 = 0x000F_FFFF;
const LABEL_SHIFT: u32 = 12;
/// Traffic class: 3 bits.
const TC_MASK: u32 = 0x7;
const TC_SHIFT: u32 = 9;
/// Bottom of stack: 1 bit.
const BOS_BIT: u32 = 1 << 8;
/// TTL: the low 8 bits.
const TTL_MASK: u32 = 0xFF;

mod field {
    use super::super::Field;
    /// Label (20), TC (3), S (1), TTL (8), packed in one 32-bit word.
    pub const ENTRY: Field = 0..4;
}

/// A read/write view of one MPLS label stack entry and what follows it.
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

    /// Checks that the buffer holds one label stack entry.
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

    /// Always 4: one entry. A stack is walked one entry at a time via `payload()`.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    #[inline]
    fn entry(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ENTRY)
    }

    /// The 20-bit label.
    #[inline]
    pub fn label(&self) -> u32 {
        (self.entry() >> LABEL_SHIFT) & LABEL_MASK
    }

    /// Traffic class (3 bits, formerly EXP).
    #[inline]
    pub fn tc(&self) -> u8 {
        // Masked to 3 bits: the cast loses nothing.
        ((self.entry() >> TC_SHIFT) & TC_MASK) as u8
    }

    /// Whether this is the last entry of the stack.
    #[inline]
    pub fn bottom_of_stack(&self) -> bool {
        self.entry() & BOS_BIT != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        // Masked to 8 bits: the cast loses nothing.
        (self.entry() & TTL_MASK) as u8
    }

    /// Everything after this entry: the next entry, or the payload after bottom of stack.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    #[inline]
    fn set_entry(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::ENTRY, value);
    }

    /// Sets the label (cut to 20 bits).
    #[inline]
    pub fn set_label(&mut self, label: u32) {
        let e = self.entry() & !(LABEL_MASK << LABEL_SHIFT);
        self.set_entry(e | ((label & LABEL_MASK) << LABEL_SHIFT));
    }

    /// Sets the traffic class (cut to 3 bits).
    #[inline]
    pub fn set_tc(&mut self, tc: u8) {
        let e = self.entry() & !(TC_MASK << TC_SHIFT);
        self.set_entry(e | ((u32::from(tc) & TC_MASK) << TC_SHIFT));
    }

    /// Sets or clears the bottom-of-stack bit.
    #[inline]
    pub fn set_bottom_of_stack(&mut self, bos: bool) {
        let e = self.entry() & !BOS_BIT;
        self.set_entry(if bos { e | BOS_BIT } else { e });
    }

    /// Sets the TTL.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        let e = self.entry() & !TTL_MASK;
        self.set_entry(e | u32::from(ttl));
    }

    /// Everything after this entry, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// Writes one label stack entry at the start of `buf`. `label` is cut to 20 bits and `tc`
/// to 3.
pub fn emit(buf: &mut [u8], label: u32, tc: u8, bos: bool, ttl: u8) {
    let entry = ((label & LABEL_MASK) << LABEL_SHIFT)
        | ((u32::from(tc) & TC_MASK) << TC_SHIFT)
        | if bos { BOS_BIT } else { 0 }
        | u32::from(ttl);
    set_u32(buf, field::ENTRY, entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Made by scapy: MPLS(label=0xABCDE, cos=5, s=1, ttl=63)/Raw(b"\x45")
    static ENTRY: [u8; 5] = [0xab, 0xcd, 0xeb, 0x3f, 0x45];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&ENTRY[..]).unwrap();
        assert_eq!(p.label(), 0xABCDE);
        assert_eq!(p.tc(), 5);
        assert!(p.bottom_of_stack());
        assert_eq!(p.ttl(), 63);
        assert_eq!(p.header_len(), 4);
        assert_eq!(p.payload(), &[0x45]);
    }

    #[test]
    fn emit_matches_fixture() {
        let mut b = [0u8; 4];
        emit(&mut b, 0xABCDE, 5, true, 63);
        assert_eq!(b, ENTRY[..4]);
        // Out-of-range values are cut, not spilled into neighbouring fields.
        emit(&mut b, 0xFFFF_FFFF, 0xFF, false, 0);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            (p.label(), p.tc(), p.bottom_of_stack(), p.ttl()),
            (0xF_FFFF, 7, false, 0)
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Packet::new_checked(&ENTRY[..3]).unwrap_err(),
            Error::Truncated
        );
    }

    proptest! {
        /// Each setter changes its own field and no other.
        #[test]
        fn setters_round_trip(init in any::<[u8; 6]>(), label in 0u32..=0xF_FFFF, tc in 0u8..8,
                              bos in any::<bool>(), ttl in any::<u8>()) {
            let mut b = init;
            let mut p = Packet::new_checked(&mut b[..]).unwrap();
            p.set_label(label);
            p.set_tc(tc);
            p.set_bottom_of_stack(bos);
            p.set_ttl(ttl);
            prop_assert_eq!((p.label(), p.tc(), p.bottom_of_stack(), p.ttl()), (label, tc, bos, ttl));
            prop_assert_eq!(p.payload_mut(), &init[4..]);
            let mut e = [0u8; 4];
            emit(&mut e, label, tc, bos, ttl);
            prop_assert_eq!(&p.into_inner()[..4], &e[..]);
        }
    }
}
