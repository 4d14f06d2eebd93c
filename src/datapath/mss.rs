//! TCP MSS clamping: lower the MSS option of SYN and SYN-ACK segments so that the peers
//! never send segments that do not fit the overlay path once the encap headers are added.
//!
//! Both functions rewrite at most two bytes of the option and patch the TCP checksum
//! incrementally (RFC 1624). They never allocate, never panic and leave the packet as it was
//! whenever they return `false`.
//!
//! The TCP checksum must be a complete one. A segment whose checksum field holds only the
//! pseudo-header sum (checksum offload, `Packet::l4_csum_partial()`) must have it completed
//! before it is clamped, or the patched field is wrong.

use crate::wire::{checksum, ipv4, ipv6, tcp};

/// TCP option kind: end of option list.
const OPT_EOL: u8 = 0;
/// TCP option kind: no operation (one byte of padding).
const OPT_NOP: u8 = 1;
/// TCP option kind: maximum segment size (RFC 9293 3.7.1).
const OPT_MSS: u8 = 2;
/// Length of the MSS option: kind, length and a 16-bit value.
const OPT_MSS_LEN: usize = 4;

/// If the IPv4 packet `ip` (starting at the IPv4 header; header already validated by the
/// caller, buffer may be longer than total_len) is a non-fragment TCP segment with SYN set
/// (SYN or SYN-ACK) and an MSS option greater than `max_mss`, lowers the option to `max_mss`
/// and updates the TCP checksum incrementally (RFC 1624). Returns true when it changed the
/// packet. Malformed TCP/options: false, no change.
///
/// The IPv4 header is checked again (cheaply) rather than trusted, so an invalid one is just
/// another `false`. Only the first MSS option counts; the segment ends at `total_len`, so
/// Ethernet padding after it is never read.
pub fn clamp_mss_v4(ip: &mut [u8], max_mss: u16) -> bool {
    let (start, end) = match ipv4::Packet::new_checked(&ip[..]) {
        Ok(p) if p.protocol() == ipv4::PROTO_TCP && !p.is_fragment() => {
            (p.header_len(), usize::from(p.total_len()))
        }
        _ => return false,
    };
    // new_checked() guarantees header_len <= total_len <= ip.len().
    match ip.get_mut(start..end) {
        Some(segment) => clamp_mss_segment(segment, max_mss),
        None => false,
    }
}

/// The same for IPv6 (TCP directly after the fixed header only; extension headers: false).
///
/// `ip` starts at the IPv6 header and may be longer than the packet; the segment ends at
/// 40 + payload_len. A jumbogram (payload_len 0) is not clamped.
pub fn clamp_mss_v6(ip: &mut [u8], max_mss: u16) -> bool {
    let end = match ipv6::Packet::new_checked(&ip[..]) {
        Ok(p) if p.next_header() == ipv4::PROTO_TCP => {
            ipv6::HEADER_LEN + usize::from(p.payload_len())
        }
        _ => return false,
    };
    match ip.get_mut(ipv6::HEADER_LEN..end) {
        Some(segment) => clamp_mss_segment(segment, max_mss),
        None => false,
    }
}

/// Clamps the MSS option of the TCP segment `segment` (header to end of segment). The
/// pseudo header does not change, so it plays no part in the checksum update.
fn clamp_mss_segment(segment: &mut [u8], max_mss: u16) -> bool {
    let (at, old) = {
        let Ok(p) = tcp::Packet::new_checked(&segment[..]) else {
            return false;
        };
        if p.flags() & tcp::FLAG_SYN == 0 {
            return false;
        }
        let Some(opt) = find_mss_option(p.options()) else {
            return false;
        };
        // find_mss_option() returned an option that lies wholly inside options().
        let at = tcp::HEADER_LEN + opt + 2;
        let Some(&[hi, lo]) = segment.get(at..at + 2) else {
            return false;
        };
        (at, u16::from_be_bytes([hi, lo]))
    };
    if old <= max_mss {
        return false;
    }
    let Some(value) = segment.get_mut(at..at + 2) else {
        return false;
    };
    value.copy_from_slice(&max_mss.to_be_bytes());

    // The checksum sums 16-bit words aligned to the start of the segment. At an even offset
    // the value is one such word. At an odd offset its high byte is the low byte of one word
    // and its low byte the high byte of the next; the one's-complement sum does not care
    // which word a byte is in, only whether it is a high or low byte (RFC 1071 2(B)), so
    // that is the same as a word holding the value with its bytes swapped.
    let (old_word, new_word) = if at.is_multiple_of(2) {
        (old, max_mss)
    } else {
        (old.swap_bytes(), max_mss.swap_bytes())
    };
    let mut p = tcp::Packet::new_unchecked(&mut segment[..]);
    let c = checksum::update16(p.checksum(), old_word, new_word);
    p.set_checksum(c);
    true
}

/// The offset, within `options`, of the first MSS option (its kind byte), or `None` when
/// there is none or the option list is malformed before one is found: an option whose
/// length byte is missing, below 2 or runs past the end, or an MSS option whose length is
/// not 4.
fn find_mss_option(options: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&kind) = options.get(i) {
        match kind {
            OPT_EOL => return None,
            OPT_NOP => i += 1,
            _ => {
                let len = usize::from(*options.get(i + 1)?);
                if len < 2 || i + len > options.len() {
                    return None;
                }
                if kind == OPT_MSS {
                    return (len == OPT_MSS_LEN).then_some(i);
                }
                i += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
    use proptest::prelude::*;

    const SRC4: [u8; 4] = [10, 0, 0, 1];
    const DST4: [u8; 4] = [10, 0, 0, 2];
    const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa];
    const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb];

    /// MSS 1460, then NOP NOP and SACK-permitted, padded to 8 bytes.
    const MSS_FIRST: [u8; 8] = [2, 4, 0x05, 0xb4, 1, 1, 4, 2];

    /// An IPv4 TCP segment made by etherparse. `syn` and `ack` set those flags.
    fn v4_segment(syn: bool, ack: bool, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut b = PacketBuilder::ipv4(SRC4, DST4, 64).tcp(40000, 443, 0x1234_5678, 64240);
        if syn {
            b = b.syn();
        }
        if ack {
            b = b.ack(0x0bad_cafe);
        }
        let b = b.options_raw(options).unwrap();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn v6_segment(options: &[u8], payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv6(SRC6, DST6, 64)
            .tcp(40000, 443, 1, 64800)
            .syn()
            .options_raw(options)
            .unwrap();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// Whether etherparse, recomputing the TCP checksum, agrees with the one in `ip`; and
    /// the MSS it finds in the options.
    fn oracle(ip: &[u8]) -> (bool, Option<u16>) {
        let s = SlicedPacket::from_ip(ip).unwrap();
        let Some(TransportSlice::Tcp(t)) = s.transport else {
            panic!("not TCP");
        };
        let c = match &s.net {
            Some(etherparse::NetSlice::Ipv4(v4)) => t
                .calc_checksum_ipv4(v4.header().source(), v4.header().destination())
                .unwrap(),
            Some(etherparse::NetSlice::Ipv6(v6)) => t
                .calc_checksum_ipv6(v6.header().source(), v6.header().destination())
                .unwrap(),
            _ => panic!("not IP"),
        };
        let mss = t.options_iterator().find_map(|o| match o {
            Ok(etherparse::TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
            _ => None,
        });
        (c == t.checksum(), mss)
    }

    #[test]
    fn syn_is_clamped() {
        let mut p = v4_segment(true, false, &MSS_FIRST, b"");
        assert_eq!(oracle(&p), (true, Some(1460)));
        assert!(clamp_mss_v4(&mut p, 1410));
        assert_eq!(oracle(&p), (true, Some(1410)));
        // Clamping again changes nothing.
        let before = p.clone();
        assert!(!clamp_mss_v4(&mut p, 1410));
        assert_eq!(p, before);
    }

    #[test]
    fn syn_ack_is_clamped() {
        let mut p = v4_segment(true, true, &MSS_FIRST, b"");
        assert!(clamp_mss_v4(&mut p, 1360));
        assert_eq!(oracle(&p), (true, Some(1360)));
    }

    #[test]
    fn ipv6_syn_is_clamped() {
        let mut p = v6_segment(&MSS_FIRST, b"");
        assert!(clamp_mss_v6(&mut p, 1390));
        assert_eq!(oracle(&p), (true, Some(1390)));
        // Not IPv6 TCP: a v4 packet, and IPv6 with a hop-by-hop header first.
        let mut v4 = v4_segment(true, false, &MSS_FIRST, b"");
        assert!(!clamp_mss_v6(&mut v4, 1000));
        let mut p = v6_segment(&MSS_FIRST, b"");
        p[6] = 0;
        let before = p.clone();
        assert!(!clamp_mss_v6(&mut p, 1000));
        assert_eq!(p, before);
    }

    #[test]
    fn small_mss_untouched() {
        for max in [1460, 1500, u16::MAX] {
            let mut p = v4_segment(true, false, &MSS_FIRST, b"");
            let before = p.clone();
            assert!(!clamp_mss_v4(&mut p, max));
            assert_eq!(p, before);
        }
    }

    #[test]
    fn non_syn_untouched() {
        // An ACK carrying an MSS option (never sent, but a guest may): not clamped.
        let mut p = v4_segment(false, true, &MSS_FIRST, b"data");
        let before = p.clone();
        assert!(!clamp_mss_v4(&mut p, 1000));
        assert_eq!(p, before);
    }

    #[test]
    fn fragment_and_non_tcp_untouched() {
        let mut p = v4_segment(true, false, &MSS_FIRST, b"");
        p[6] |= 0x20; // MF
        let before = p.clone();
        assert!(!clamp_mss_v4(&mut p, 1000));
        assert_eq!(p, before);

        let mut u = Vec::new();
        PacketBuilder::ipv4(SRC4, DST4, 64)
            .udp(1, 2)
            .write(
                &mut u,
                &[
                    2, 4, 5, 0xb4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
            )
            .unwrap();
        let before = u.clone();
        assert!(!clamp_mss_v4(&mut u, 1000));
        assert_eq!(u, before);
    }

    /// NOP, then the MSS: its value starts at segment offset 23, the low byte of one
    /// checksum word and the high byte of the next.
    #[test]
    fn odd_offset_mss() {
        let opts = [1, 2, 4, 0x23, 0x28, 1, 1, 0];
        let mut p = v4_segment(true, false, &opts, b"");
        assert_eq!(oracle(&p), (true, Some(9000)));
        assert!(clamp_mss_v4(&mut p, 1410));
        assert_eq!(oracle(&p), (true, Some(1410)));
        assert_eq!(&p[20 + 20..20 + 28], &[1, 2, 4, 0x05, 0x82, 1, 1, 0]);

        let mut p = v6_segment(&opts, b"payload");
        assert!(clamp_mss_v6(&mut p, 1220));
        assert_eq!(oracle(&p), (true, Some(1220)));
    }

    /// A full Linux-style SYN: MSS, SACK-permitted, timestamps, NOP, window scale; and the
    /// same options with the MSS last, behind three NOPs (odd offset again).
    #[test]
    fn with_other_options() {
        let linux = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let mut p = v4_segment(true, false, &linux, b"");
        assert!(clamp_mss_v4(&mut p, 1410));
        assert_eq!(oracle(&p), (true, Some(1410)));

        let last = [
            4, 2, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 3, 3, 7, 1, 1, 1, 2, 4, 0x05, 0xb4, 0, 0,
        ];
        let mut p = v4_segment(true, true, &last, b"");
        assert!(clamp_mss_v4(&mut p, 1300));
        assert_eq!(oracle(&p), (true, Some(1300)));
        assert_eq!(&p[40 + 19..40 + 22], &[4, 0x05, 0x14]);
    }

    #[test]
    fn malformed_options_untouched() {
        let cases: [&[u8]; 6] = [
            // A SACK option of length 0 before the MSS: the walk stops.
            &[4, 0, 2, 4, 0x05, 0xb4, 0, 0],
            // Window scale claiming 9 bytes in an 8-byte option space.
            &[3, 9, 7, 2, 4, 0x05, 0xb4, 0],
            // MSS with a wrong length.
            &[2, 3, 0x05, 0xb4, 0, 0, 0, 0],
            // MSS cut off by the end of the header.
            &[1, 1, 1, 1, 1, 2, 4, 0x05],
            // End of list before the MSS.
            &[0, 0, 0, 0, 2, 4, 0x05, 0xb4],
            // A kind with no length byte.
            &[1, 1, 1, 1, 1, 1, 1, 8],
        ];
        for opts in cases {
            let mut p = v4_segment(true, false, opts, b"");
            let before = p.clone();
            assert!(!clamp_mss_v4(&mut p, 1000), "{opts:?}");
            assert_eq!(p, before);
        }
    }

    #[test]
    fn truncated_packets_untouched() {
        let full = v4_segment(true, false, &MSS_FIRST, b"");
        for len in 0..full.len() {
            let mut p = full[..len].to_vec();
            let before = p.clone();
            assert!(!clamp_mss_v4(&mut p, 1000), "len {len}");
            assert_eq!(p, before);
            let mut p = full[..len].to_vec();
            assert!(!clamp_mss_v6(&mut p, 1000));
        }
        // total_len shorter than the TCP header says.
        let mut p = full.clone();
        p[3] = 36;
        assert!(!clamp_mss_v4(&mut p, 1000));
        // A buffer with Ethernet padding after the packet is fine.
        let mut p = full.clone();
        p.extend_from_slice(&[0; 6]);
        assert!(clamp_mss_v4(&mut p, 1000));
        assert_eq!(oracle(&p[..full.len()]), (true, Some(1000)));
    }

    /// A random option list: NOPs, known options of their proper length, unknown options
    /// of length 2..=10, and one MSS option somewhere; then padded to a multiple of 4.
    /// Also returns the offset of the MSS option in the list.
    fn option_layout() -> impl Strategy<Value = (Vec<u8>, usize)> {
        let filler = prop_oneof![
            Just(vec![1u8]),
            Just(vec![3u8, 3, 7]),
            Just(vec![4u8, 2]),
            Just(vec![8u8, 10, 1, 2, 3, 4, 5, 6, 7, 8]),
            (30u8..250, 2usize..=10).prop_map(|(k, l)| {
                let mut v = vec![k, l as u8];
                v.resize(l, 0xa5);
                v
            }),
        ];
        (
            proptest::collection::vec(filler.clone(), 0..4),
            any::<u16>(),
            proptest::collection::vec(filler, 0..3),
        )
            .prop_filter_map("fits in 40 bytes", |(before, mss, after)| {
                let mut v: Vec<u8> = before.concat();
                let at = v.len();
                v.extend_from_slice(&[2, 4]);
                v.extend_from_slice(&mss.to_be_bytes());
                v.extend(after.concat());
                while !v.len().is_multiple_of(4) {
                    v.push(0);
                }
                (v.len() <= 40).then_some((v, at))
            })
    }

    fn full_checksum_v4(p: &[u8]) -> u16 {
        let mut c = p.to_vec();
        let mut t = tcp::Packet::new_unchecked(&mut c[20..]);
        t.fill_checksum_v4(SRC4.into(), DST4.into());
        t.checksum()
    }

    proptest! {
        #[test]
        fn incremental_matches_full_recompute(
            (opts, at) in option_layout(),
            max_mss in any::<u16>(),
            ack in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut p = v4_segment(true, ack, &opts, &payload);
            let old = u16::from_be_bytes([opts[at + 2], opts[at + 3]]);
            let before = p.clone();
            let changed = clamp_mss_v4(&mut p, max_mss);
            prop_assert_eq!(changed, old > max_mss);
            if changed {
                // etherparse stops at unknown option kinds, so read the MSS at its offset.
                prop_assert!(oracle(&p).0);
                prop_assert_eq!(&p[40 + at + 2..40 + at + 4], &max_mss.to_be_bytes());
                prop_assert_eq!(tcp::Packet::new_unchecked(&p[20..]).checksum(), full_checksum_v4(&p));
            } else {
                prop_assert_eq!(&p, &before);
            }
            let mut q = v6_segment(&opts, &payload);
            prop_assert_eq!(clamp_mss_v6(&mut q, max_mss), old > max_mss);
            prop_assert!(oracle(&q).0);
        }

        /// Whatever the bytes, no panic; and a `false` leaves them as they were.
        #[test]
        fn never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..100), v6 in any::<bool>()) {
            if data.len() > 9 && !v6 {
                data[0] = 0x45;
                data[6] &= 0x40;
                data[7] = 0;
                data[9] = 6;
                data[2] = 0;
                data[3] = data.len() as u8;
                let flags = 33.min(data.len() - 1);
                data[flags] |= 0x02;
            }
            let before = data.clone();
            let changed = if v6 { clamp_mss_v6(&mut data, 536) } else { clamp_mss_v4(&mut data, 536) };
            if !changed {
                prop_assert_eq!(data, before);
            }
        }
    }
}
