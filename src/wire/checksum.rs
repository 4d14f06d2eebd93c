//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! A checksum is computed in two steps: add up partial sums with [`sum`] (and the pseudo
//! headers), then [`fold`] the total into the 16-bit value that goes into the header.
//! Partial sums are plain `u32` additions, so several of them can be added together before
//! folding as long as each covers an even number of bytes (except the last).

use std::net::{Ipv4Addr, Ipv6Addr};

/// The one's-complement partial sum of `data` as big-endian 16-bit words; an odd last byte
/// is padded with zero.
///
/// The result is already folded to at most 0xFFFF, so a caller can add tens of thousands of
/// partial sums in a `u32` without overflow.
pub fn sum(data: &[u8]) -> u32 {
    // A u64 accumulator cannot overflow: even 2^32 words of 0xFFFF fit. Folding happens once.
    // Summing big-endian 32-bit words gives the same folded result as 16-bit ones (2^16 is
    // 1 modulo 0xFFFF), in half the steps; eight bytes a step, as two such words.
    let mut acc: u64 = 0;
    let mut quads = data.chunks_exact(8);
    for q in &mut quads {
        acc += u64::from(u32::from_be_bytes([q[0], q[1], q[2], q[3]]));
        acc += u64::from(u32::from_be_bytes([q[4], q[5], q[6], q[7]]));
    }
    let mut words = quads.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    // The loop above leaves acc <= 0xFFFF.
    acc as u32
}

/// Folds the carries of a partial sum into 16 bits and returns its one's complement: the
/// value to write into a checksum field.
///
/// To verify a checksum, sum the data *including* the checksum field: `fold` of that is 0
/// when the checksum is right.
pub fn fold(sum: u32) -> u16 {
    let mut s = sum;
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    // The loop above leaves s <= 0xFFFF.
    !(s as u16)
}

/// The partial sum of the IPv4 pseudo header (RFC 768/793) used by UDP and TCP.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + u32::from(proto) + u32::from(len)
}

/// The partial sum of the IPv6 pseudo header (RFC 8200 section 8.1) used by UDP, TCP and
/// ICMPv6. `len` is the upper-layer packet length, which is 32 bits wide there.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, len: u32) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + (len >> 16) + (len & 0xFFFF) + u32::from(next_header)
}

/// Updates checksum `csum` for a 16-bit word of the covered data changing from `old` to
/// `new`, by RFC 1624 equation 3: `HC' = ~(~HC + ~m + m')`.
///
/// Equation 3 rather than equation 2 (`HC - ~m - m'`) because the latter can yield 0xFFFF
/// where a full recomputation yields 0x0000 (RFC 1624 section 4); this one always agrees
/// with recomputing the checksum from scratch.
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    fold(u32::from(!csum) + u32::from(!old) + u32::from(new))
}

/// Like [`update16`], for a 32-bit field (an IPv4 address, a TCP sequence number) that is
/// 16-bit aligned in the covered data.
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    // Both halves go into one sum: ~HC + ~m_hi + m'_hi + ~m_lo + m'_lo.
    let hi = |v: u32| (v >> 16) as u16;
    let lo = |v: u32| v as u16;
    fold(
        u32::from(!csum)
            + u32::from(!hi(old))
            + u32::from(hi(new))
            + u32::from(!lo(old))
            + u32::from(lo(new)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to 0xddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(fold(sum(&data)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn large_buffer_does_not_overflow() {
        // 64 KiB of 0xFF: every word is 0xFFFF, the one's-complement sum is 0xFFFF.
        let data = vec![0xFFu8; 65536];
        assert_eq!(sum(&data), 0xFFFF);
        assert_eq!(fold(sum(&data)), 0);
        let data = vec![0xFFu8; 65535];
        // 32767 words of 0xFFFF plus 0xFF00.
        assert_eq!(fold(sum(&data)), !0xFF00);
    }

    #[test]
    fn fold_carries() {
        assert_eq!(fold(0), 0xFFFF);
        assert_eq!(fold(0xFFFF), 0);
        assert_eq!(fold(0x1_0000), !1);
        assert_eq!(fold(0xFFFF_FFFF), 0);
        assert_eq!(fold(0x0001_FFFE), 0);
    }

    /// The RFC 1624 section 4 example, where equation 2 goes wrong.
    #[test]
    fn rfc1624_example() {
        // The sum of the other header words is 0xCD7A; m changes from 0x5555 to 0x3285.
        let hc = fold(0xCD7A + 0x5555);
        assert_eq!(hc, 0xDD2F);
        let full = fold(0xCD7A + 0x3285);
        assert_eq!(full, 0x0000);
        assert_eq!(update16(hc, 0x5555, 0x3285), full);
    }

    #[test]
    fn pseudo_header_v4_matches_bytes() {
        let src = Ipv4Addr::new(192, 168, 0, 1);
        let dst = Ipv4Addr::new(10, 1, 2, 3);
        let bytes = [192, 168, 0, 1, 10, 1, 2, 3, 0, 17, 0x01, 0x02];
        assert_eq!(
            fold(pseudo_header_v4(src, dst, 17, 0x0102)),
            fold(sum(&bytes))
        );
    }

    #[test]
    fn pseudo_header_v6_matches_bytes() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::abcd:1".parse().unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&0x0001_2345u32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            fold(pseudo_header_v6(&src, &dst, 58, 0x0001_2345)),
            fold(sum(&bytes))
        );
    }

    proptest! {
        /// Replacing any aligned 16-bit word and updating incrementally gives the same
        /// checksum as summing everything again.
        #[test]
        fn update16_matches_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 4..64),
            idx in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            // Keep a non-zero word that is never changed: the all-zero buffer has the other
            // zero (0xFFFF) as its checksum, which no real header (version nibble, protocol
            // number in the pseudo header) ever sums to.
            data[0] = 0x45;
            let before = fold(sum(&data));
            let w = 2 + idx.index((data.len() - 2) / 2) * 2;
            let old = u16::from_be_bytes([data[w], data[w + 1]]);
            data[w..w + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update16(before, old, new), fold(sum(&data)));
        }

        #[test]
        fn update32_matches_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 6..64),
            idx in any::<prop::sample::Index>(),
            new in any::<u32>(),
        ) {
            data[0] = 0x45;
            let before = fold(sum(&data));
            let w = 2 + idx.index((data.len() - 2) / 2 - 1) * 2;
            let old = u32::from_be_bytes([data[w], data[w + 1], data[w + 2], data[w + 3]]);
            data[w..w + 4].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update32(before, old, new), fold(sum(&data)));
        }

        /// Splitting a buffer at an even offset and adding the partial sums gives the same
        /// result as summing it whole.
        #[test]
        fn partial_sums_add(
            data in proptest::collection::vec(any::<u8>(), 0..256),
            cut in any::<prop::sample::Index>(),
        ) {
            let at = cut.index(data.len() / 2 + 1) * 2;
            let at = at.min(data.len());
            prop_assert_eq!(fold(sum(&data[..at]) + sum(&data[at..])), fold(sum(&data)));
        }
    }
}
