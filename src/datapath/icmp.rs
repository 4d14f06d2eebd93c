//! ICMP errors built in place: the router turns the packet it cannot forward into the
//! error about it (fragmentation needed, packet too big, time exceeded, unreachable), in the
//! same buffer, so sending an error never allocates.
//!
//! These functions only build the message. Whether one may be sent at all (not about an
//! ICMP error, a non-first fragment, a multicast or broadcast packet or an unspecified
//! source; rate limits: RFC 1812 4.3.2.7, RFC 4443 2.4) is the caller's decision.

use crate::wire::{icmpv4, icmpv6, ipv4, ipv6};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest ICMPv4 error, IP header included (RFC 1812 4.3.2.3: at most 576 bytes).
pub const ICMPV4_ERROR_MAX_LEN: usize = 576;
/// Largest ICMPv6 error, IPv6 header included (RFC 4443 2.4(c): the IPv6 minimum MTU).
pub const ICMPV6_ERROR_MAX_LEN: usize = 1280;
/// What an ICMPv4 error puts before the quote: a 20-byte IPv4 header and the ICMP header.
const ICMPV4_OVERHEAD: usize = ipv4::HEADER_LEN + icmpv4::HEADER_LEN;
/// What an ICMPv6 error puts before the quote: the IPv6 header and the ICMPv6 header.
const ICMPV6_OVERHEAD: usize = ipv6::HEADER_LEN + icmpv6::HEADER_LEN;
/// Hop limit / TTL of the errors the router originates.
const ERROR_TTL: u8 = 64;
/// Source-address field of the quoted IPv4 header.
const V4_SRC: core::ops::Range<usize> = 12..16;
/// Source-address field of the quoted IPv6 header.
const V6_SRC: core::ops::Range<usize> = 8..24;

/// Length of the ICMPv4 error [`icmpv4_error_in_place`] makes from an `orig_len`-byte
/// packet: 28 bytes of headers plus the quote, at most 576. The buffer must be at least this
/// long before the call.
pub fn icmpv4_error_len(orig_len: usize) -> usize {
    orig_len
        .saturating_add(ICMPV4_OVERHEAD)
        .min(ICMPV4_ERROR_MAX_LEN)
}

/// Turns `buf[..orig_len]`, which holds an IPv4 packet (from its IP header), into an ICMPv4
/// error about it, in place: a new 20-byte IPv4 header (TOS 0, ID 0, DF clear, TTL 64,
/// protocol 1, source `src`, destination = the original source), the 8-byte ICMP header
/// (type, code, the 32-bit `rest` word — e.g. next-hop MTU in its low 16 bits for type 3
/// code 4), then the quote: the original packet from its IP header, truncated so the whole
/// error is at most 576 bytes (RFC 1812 4.3.2.3). Both checksums filled. `buf.len()` must be
/// at least the returned length (the caller grows the buffer first:
/// [`icmpv4_error_len`]`(orig_len)` tells how much). Returns the error's length (IP total
/// length).
///
/// Returns 0, and leaves `buf` unchanged, when no error can be built: `orig_len` is below
/// 20 (there is no source address to answer), `orig_len` exceeds `buf.len()`, or `buf` is
/// shorter than `icmpv4_error_len(orig_len)`. The original header is not validated
/// otherwise; bytes of `buf` past the returned length are unspecified.
pub fn icmpv4_error_in_place(
    buf: &mut [u8],
    orig_len: usize,
    src: Ipv4Addr,
    msg_type: u8,
    code: u8,
    rest: u32,
) -> usize {
    let total = icmpv4_error_len(orig_len);
    if orig_len < ipv4::HEADER_LEN || orig_len > buf.len() || buf.len() < total {
        return 0;
    }
    let Ok(total16) = u16::try_from(total) else {
        return 0; // unreachable: total <= 576
    };
    let Some(&[a, b, c, d]) = buf.get(V4_SRC) else {
        return 0;
    };
    let orig_src = Ipv4Addr::new(a, b, c, d);
    let quote_len = total - ICMPV4_OVERHEAD;
    // memmove: overlapping ranges are copied as if through a temporary.
    buf.copy_within(..quote_len, ICMPV4_OVERHEAD);
    ipv4::emit_header(
        buf,
        0,
        total16,
        0,
        false,
        ERROR_TTL,
        ipv4::PROTO_ICMP,
        src,
        orig_src,
    );
    let mut icmp = icmpv4::Packet::new_unchecked(&mut buf[ipv4::HEADER_LEN..total]);
    icmp.set_msg_type(msg_type);
    icmp.set_msg_code(code);
    icmp.set_rest_of_header(rest);
    icmp.fill_checksum();
    total
}

/// Length of the ICMPv6 error [`icmpv6_error_in_place`] makes from an `orig_len`-byte
/// packet: 48 bytes of headers plus the quote, at most 1280. The buffer must be at least
/// this long before the call.
pub fn icmpv6_error_len(orig_len: usize) -> usize {
    orig_len
        .saturating_add(ICMPV6_OVERHEAD)
        .min(ICMPV6_ERROR_MAX_LEN)
}

/// The ICMPv6 counterpart: new IPv6 header (traffic class 0, flow 0, next header 58, hop
/// limit 64, source `src`, destination = original source), ICMPv6 header (type, code,
/// `rest` — the MTU for Packet Too Big), the quote truncated so the error is at most 1280
/// bytes (RFC 4443 2.4(c)); ICMPv6 checksum over the pseudo-header. Returns the error's
/// length (40 + payload length).
///
/// Returns 0, and leaves `buf` unchanged, when no error can be built: `orig_len` is below
/// 40, `orig_len` exceeds `buf.len()`, or `buf` is shorter than
/// [`icmpv6_error_len`]`(orig_len)`.
pub fn icmpv6_error_in_place(
    buf: &mut [u8],
    orig_len: usize,
    src: &Ipv6Addr,
    msg_type: u8,
    code: u8,
    rest: u32,
) -> usize {
    let total = icmpv6_error_len(orig_len);
    if orig_len < ipv6::HEADER_LEN || orig_len > buf.len() || buf.len() < total {
        return 0;
    }
    let Ok(payload16) = u16::try_from(total - ipv6::HEADER_LEN) else {
        return 0; // unreachable: total <= 1280
    };
    let mut octets = [0u8; 16];
    match buf.get(V6_SRC) {
        Some(s) => octets.copy_from_slice(s),
        None => return 0,
    }
    let orig_src = Ipv6Addr::from(octets);
    let quote_len = total - ICMPV6_OVERHEAD;
    buf.copy_within(..quote_len, ICMPV6_OVERHEAD);
    ipv6::emit_header(
        buf,
        0,
        0,
        payload16,
        ipv6::NEXT_HEADER_ICMPV6,
        ERROR_TTL,
        src,
        &orig_src,
    );
    let mut icmp = icmpv6::Packet::new_unchecked(&mut buf[ipv6::HEADER_LEN..total]);
    icmp.set_msg_type(msg_type);
    icmp.set_msg_code(code);
    icmp.set_rest_of_header(rest);
    icmp.fill_checksum(src, &orig_src);
    total
}

/// RFC 4291 link-local address built from a MAC (EUI-64), e.g. 00:00:5e:00:01:00 →
/// fe80::200:5eff:fe00:100: fe80::/64, then the MAC with ff:fe in its middle and the
/// universal/local bit (0x02 of the first byte) inverted (RFC 4291 appendix A).
pub fn link_local_from_mac(mac: &[u8; 6]) -> Ipv6Addr {
    let [m0, m1, m2, m3, m4, m5] = *mac;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m0 ^ 0x02,
        m1,
        m2,
        0xff,
        0xfe,
        m3,
        m4,
        m5,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, Ipv4Slice, Ipv6Slice, PacketBuilder,
    };
    use proptest::prelude::*;

    const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const HOST: [u8; 4] = [10, 1, 1, 5];
    const PEER: [u8; 4] = [10, 2, 2, 7];

    fn router6() -> Ipv6Addr {
        "fe80::200:5eff:fe00:100".parse().unwrap()
    }

    /// An IPv4/TCP packet of exactly `len` bytes (len >= 40).
    fn tcp_v4(len: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..len - 40).map(|i| i as u8).collect();
        let mut v = Vec::new();
        PacketBuilder::ipv4(HOST, PEER, 17)
            .tcp(33000, 80, 7, 1000)
            .ack(9)
            .write(&mut v, &payload)
            .unwrap();
        assert_eq!(v.len(), len);
        v
    }

    /// An IPv4/UDP packet of exactly `len` bytes (len >= 28).
    fn udp_v4(len: usize) -> Vec<u8> {
        let payload = vec![0x5a; len - 28];
        let mut v = Vec::new();
        PacketBuilder::ipv4(HOST, PEER, 1)
            .udp(5000, 53)
            .write(&mut v, &payload)
            .unwrap();
        v
    }

    /// An IPv6/UDP packet of exactly `len` bytes (len >= 48).
    fn udp_v6(len: usize) -> Vec<u8> {
        let src: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:2::7".parse().unwrap();
        let payload: Vec<u8> = (0..len - 48).map(|i| (i * 7) as u8).collect();
        let mut v = Vec::new();
        PacketBuilder::ipv6(src.octets(), dst.octets(), 1)
            .udp(5000, 4789)
            .write(&mut v, &payload)
            .unwrap();
        v
    }

    /// Runs icmpv4_error_in_place on `orig` in a buffer grown as the caller would, and
    /// checks everything common to all errors with etherparse. Returns the error's bytes.
    fn make_v4(orig: &[u8], msg_type: u8, code: u8, rest: u32) -> Vec<u8> {
        let want = icmpv4_error_len(orig.len());
        let mut buf = orig.to_vec();
        buf.resize(want.max(orig.len()), 0xee);
        let n = icmpv4_error_in_place(&mut buf, orig.len(), ROUTER, msg_type, code, rest);
        assert_eq!(n, want);
        assert!(n <= 576);
        let err = &buf[..n];

        let ip = Ipv4Slice::from_slice(err).unwrap();
        let h = ip.header();
        assert_eq!(h.total_len() as usize, n);
        assert_eq!(h.ihl(), 5);
        assert_eq!((h.dcp().value(), h.ecn().value()), (0, 0));
        assert_eq!(h.identification(), 0);
        assert!(!h.dont_fragment() && !h.more_fragments());
        assert_eq!(h.ttl(), 64);
        assert_eq!(h.protocol(), etherparse::IpNumber::ICMP);
        assert_eq!(h.source_addr(), ROUTER);
        assert_eq!(h.destination(), HOST);
        assert_eq!(
            h.header_checksum(),
            h.to_header().calc_header_checksum(),
            "IPv4 header checksum"
        );

        let icmp = Icmpv4Slice::from_slice(ip.payload().payload).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (msg_type, code));
        assert_eq!(icmp.bytes5to8(), rest.to_be_bytes());
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload()),
            "ICMP checksum"
        );
        assert_eq!(icmp.payload(), &orig[..n - 28], "quote");
        err.to_vec()
    }

    #[test]
    fn frag_needed_from_tcp() {
        let orig = tcp_v4(1500);
        let err = make_v4(&orig, 3, 4, 1450);
        assert_eq!(err.len(), 576);
        let icmp = Icmpv4Slice::from_slice(&err[20..]).unwrap();
        match icmp.icmp_type() {
            Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
            ) => assert_eq!(next_hop_mtu, 1450),
            t => panic!("{t:?}"),
        }
        // Our own view agrees.
        let p = icmpv4::Packet::new_checked(&err[20..]).unwrap();
        assert_eq!(p.next_hop_mtu(), 1450);
        assert!(p.verify_checksum());
        assert!(ipv4::Packet::new_checked(&err[..])
            .unwrap()
            .verify_checksum());
    }

    #[test]
    fn time_exceeded_from_udp() {
        let orig = udp_v4(40);
        let err = make_v4(&orig, 11, 0, 0);
        assert_eq!(err.len(), 28 + 40);
        let icmp = Icmpv4Slice::from_slice(&err[20..]).unwrap();
        assert_eq!(
            icmp.icmp_type(),
            Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit)
        );
    }

    #[test]
    fn quote_length_boundaries() {
        for len in [20, 21, 28, 547, 548, 549, 576, 1500, 9000] {
            let mut orig = udp_v4(len.max(28));
            orig.truncate(len);
            let err = make_v4(&orig, 3, 1, 0);
            assert_eq!(err.len(), (len + 28).min(576), "orig {len}");
        }
    }

    /// The caller's buffer may be longer than the error (it grew it for a bigger original
    /// or the mbuf has tailroom): only the returned length counts.
    #[test]
    fn longer_buffer() {
        let orig = tcp_v4(600);
        let mut buf = orig.clone();
        buf.resize(2000, 0);
        assert_eq!(
            icmpv4_error_in_place(&mut buf, orig.len(), ROUTER, 3, 4, 1400),
            576
        );
        assert!(Icmpv4Slice::from_slice(&buf[20..576]).is_ok());
        assert_eq!(&buf[28..576], &orig[..548]);
    }

    #[test]
    fn too_small_returns_zero() {
        let orig = udp_v4(40);
        // orig_len 0 and below a header.
        for orig_len in [0, 1, 19] {
            let mut b = orig.clone();
            b.resize(100, 0);
            let before = b.clone();
            assert_eq!(icmpv4_error_in_place(&mut b, orig_len, ROUTER, 11, 0, 0), 0);
            assert_eq!(b, before);
        }
        // Buffer not grown, or orig_len past its end.
        let mut b = orig.clone();
        assert_eq!(icmpv4_error_in_place(&mut b, 40, ROUTER, 11, 0, 0), 0);
        assert_eq!(b, orig);
        assert_eq!(icmpv4_error_in_place(&mut b, 41, ROUTER, 11, 0, 0), 0);
        assert_eq!(icmpv4_error_in_place(&mut [], 0, ROUTER, 11, 0, 0), 0);
        assert_eq!(icmpv4_error_in_place(&mut [0; 4], 20, ROUTER, 11, 0, 0), 0);
        assert_eq!(icmpv4_error_len(0), 28);
        assert_eq!(icmpv4_error_len(usize::MAX), 576);
    }

    #[test]
    fn packet_too_big_v6() {
        let orig = udp_v6(1500);
        let mut buf = orig.clone();
        buf.resize(icmpv6_error_len(orig.len()).max(orig.len()), 0);
        let src = router6();
        let n = icmpv6_error_in_place(&mut buf, orig.len(), &src, 2, 0, 1450);
        assert_eq!(n, 1280);
        let err = &buf[..n];

        let ip = Ipv6Slice::from_slice(err).unwrap();
        let h = ip.header();
        assert_eq!(usize::from(h.payload_length()), 1240);
        assert_eq!((h.traffic_class(), h.flow_label().value()), (0, 0));
        assert_eq!(h.next_header(), etherparse::IpNumber::IPV6_ICMP);
        assert_eq!(h.hop_limit(), 64);
        assert_eq!(h.source_addr(), src);
        assert_eq!(h.destination(), orig[8..24]);

        let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
        assert_eq!(icmp.icmp_type(), Icmpv6Type::PacketTooBig { mtu: 1450 });
        assert!(icmp.is_checksum_valid(h.source(), h.destination()));
        assert_eq!(icmp.payload(), &orig[..1232]);
        let p = icmpv6::Packet::new_checked(&err[40..]).unwrap();
        assert_eq!(p.mtu(), 1450);
        assert!(p.verify_checksum(&src, &h.destination_addr()));
    }

    #[test]
    fn time_exceeded_v6_small() {
        let orig = udp_v6(60);
        let mut buf = orig.clone();
        buf.resize(icmpv6_error_len(60), 0);
        let n = icmpv6_error_in_place(&mut buf, 60, &router6(), 3, 0, 0);
        assert_eq!(n, 108);
        let ip = Ipv6Slice::from_slice(&buf[..n]).unwrap();
        let icmp = Icmpv6Slice::from_slice(ip.payload().payload).unwrap();
        assert_eq!(
            icmp.icmp_type(),
            Icmpv6Type::TimeExceeded(etherparse::icmpv6::TimeExceededCode::HopLimitExceeded)
        );
        assert!(icmp.is_checksum_valid(ip.header().source(), ip.header().destination()));
        assert_eq!(icmp.payload(), &orig[..]);
    }

    #[test]
    fn too_small_returns_zero_v6() {
        let src = router6();
        let orig = udp_v6(48);
        for orig_len in [0, 8, 39] {
            let mut b = orig.clone();
            b.resize(200, 0);
            let before = b.clone();
            assert_eq!(icmpv6_error_in_place(&mut b, orig_len, &src, 1, 0, 0), 0);
            assert_eq!(b, before);
        }
        let mut b = orig.clone();
        assert_eq!(icmpv6_error_in_place(&mut b, 48, &src, 1, 0, 0), 0);
        assert_eq!(b, orig);
        assert_eq!(icmpv6_error_in_place(&mut b, 49, &src, 1, 0, 0), 0);
        assert_eq!(icmpv6_error_in_place(&mut [], 0, &src, 1, 0, 0), 0);
        assert_eq!(icmpv6_error_len(0), 48);
        assert_eq!(icmpv6_error_len(usize::MAX), 1280);
    }

    #[test]
    fn link_local() {
        let cases = [
            (
                [0x00, 0x00, 0x5e, 0x00, 0x01, 0x00],
                "fe80::200:5eff:fe00:100",
            ),
            (
                [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
                "fe80::5054:ff:fe12:3456",
            ),
            (
                [0x02, 0xff, 0xff, 0xff, 0xff, 0xff],
                "fe80::ff:ffff:feff:ffff",
            ),
        ];
        for (mac, want) in cases {
            assert_eq!(link_local_from_mac(&mac), want.parse::<Ipv6Addr>().unwrap());
        }
    }

    proptest! {
        /// Any original length and contents: no panic, and a valid error whenever the buffer
        /// was grown as told.
        #[test]
        fn any_original(data in proptest::collection::vec(any::<u8>(), 0..1400), extra in 0usize..64, rest in any::<u32>()) {
            let len = data.len();
            let mut b = data.clone();
            b.resize(icmpv4_error_len(len).max(len) + extra, 0);
            let n = icmpv4_error_in_place(&mut b, len, ROUTER, 3, 4, rest);
            if len < 20 {
                prop_assert_eq!(n, 0);
            } else {
                prop_assert_eq!(n, (len + 28).min(576));
                prop_assert!(ipv4::Packet::new_checked(&b[..n]).unwrap().verify_checksum());
                let p = icmpv4::Packet::new_checked(&b[20..n]).unwrap();
                prop_assert!(p.verify_checksum());
                prop_assert_eq!(p.data(), &data[..n - 28]);
            }
            let mut b = data.clone();
            b.resize(icmpv6_error_len(len).max(len) + extra, 0);
            let n = icmpv6_error_in_place(&mut b, len, &router6(), 2, 0, rest);
            if len < 40 {
                prop_assert_eq!(n, 0);
            } else {
                prop_assert_eq!(n, (len + 48).min(1280));
                let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&data[8..24]).unwrap());
                let p = icmpv6::Packet::new_checked(&b[40..n]).unwrap();
                prop_assert!(p.verify_checksum(&router6(), &dst));
                prop_assert_eq!(p.data(), &data[..n - 48]);
            }
            // A buffer that was not grown never panics either.
            let mut b = data.clone();
            let _ = icmpv4_error_in_place(&mut b, len, ROUTER, 3, 4, rest);
            let _ = icmpv6_error_in_place(&mut b, len, &router6(), 2, 0, rest);
        }
    }
}
