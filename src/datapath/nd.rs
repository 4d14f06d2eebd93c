//! IPv6 Neighbor Discovery (RFC 4861) on the vif side: the router answers a guest's
//! Neighbor Solicitations for the addresses it proxies (the gateway, remote overlay hosts)
//! with its own MAC, turning the solicitation into the advertisement in place.

use crate::wire::{ethernet, icmpv6, ipv6, MacAddr};
use std::net::Ipv6Addr;

/// Length of the Neighbor Advertisement frame [`nd_proxy_in_place`] writes: Ethernet (14),
/// IPv6 (40), ICMPv6 header (8), target (16), target link-layer address option (8).
pub const NA_FRAME_LEN: usize = 86;

/// Router Solicitation, the lowest NDP message type.
const TYPE_ROUTER_SOLICIT: u8 = 133;
/// Redirect, the highest NDP message type.
const TYPE_REDIRECT: u8 = 137;
/// NDP messages must arrive with this hop limit (RFC 4861 7.1.1): proof they were not routed.
const ND_HOP_LIMIT: u8 = 255;
/// Length of the NS/NA body after the ICMPv6 header: the target address.
const TARGET_LEN: usize = 16;
/// NDP option type: target link-layer address.
const OPT_TARGET_LL_ADDR: u8 = 2;
/// NA flags in the first byte of the second ICMPv6 word: Router, Solicited, Override.
const NA_FLAGS_RSO: u32 = 0xE000_0000;
/// Where the ICMPv6 message starts in an untagged frame.
const ICMP_AT: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
/// Length of the NA's ICMPv6 message: header, target, one 8-byte option.
const NA_ICMP_LEN: usize = icmpv6::HEADER_LEN + TARGET_LEN + 8;

/// Neighbor-discovery proxy. `buf[..frame_len]` is an Ethernet frame (untagged) carrying
/// IPv6. If it is a Neighbor Solicitation (next header 58 directly, hop limit 255, ICMPv6
/// type 135 code 0, valid ICMPv6 checksum, target not multicast, source not the unspecified
/// address — a DAD probe gets no proxy answer) and `answer(&target)` is true, rewrites the
/// buffer in place into the solicited Neighbor Advertisement: Ethernet dst = the
/// solicitor's Ethernet source, src = `mac`; IPv6 src = the target, dst = the solicitation's
/// source, hop limit 255, flags Router|Solicited|Override, the target, one Target
/// Link-Layer Address option (type 2, length 1, `mac`); ICMPv6 checksum filled. Returns the
/// new frame length (14+40+32 = 86). `buf.len()` must be ≥ 86 (the caller grows it first).
/// Otherwise None and the buffer is unchanged.
///
/// The remaining RFC 4861 7.1.1 checks are made too: the ICMPv6 message is at least 24
/// bytes and every option in it has a non-zero length that fits; the source is not
/// multicast. `None` also when `frame_len > buf.len()` or `buf.len() < 86`. `answer` is
/// called only for a valid solicitation.
pub fn nd_proxy_in_place(
    buf: &mut [u8],
    frame_len: usize,
    mac: MacAddr,
    answer: impl Fn(&Ipv6Addr) -> bool,
) -> Option<usize> {
    if buf.len() < NA_FRAME_LEN {
        return None;
    }
    let (solicitor_mac, solicitor, target) = parse_solicitation(buf.get(..frame_len)?)?;
    if !answer(&target) {
        return None;
    }

    // From here on the buffer is rewritten. Everything the advertisement needs from the
    // solicitation was copied out above.
    ethernet::emit(buf, solicitor_mac, mac, ethernet::ETHERTYPE_IPV6);
    ipv6::emit_header(
        &mut buf[ethernet::HEADER_LEN..],
        0,
        0,
        NA_ICMP_LEN as u16, // 32
        ipv6::NEXT_HEADER_ICMPV6,
        ND_HOP_LIMIT,
        &target,
        &solicitor,
    );
    let mut na = icmpv6::Packet::new_unchecked(&mut buf[ICMP_AT..NA_FRAME_LEN]);
    na.set_msg_type(icmpv6::TYPE_NEIGHBOR_ADVERT);
    na.set_msg_code(0);
    na.set_rest_of_header(NA_FLAGS_RSO);
    let body = na.data_mut();
    body[..TARGET_LEN].copy_from_slice(&target.octets());
    body[TARGET_LEN] = OPT_TARGET_LL_ADDR;
    body[TARGET_LEN + 1] = 1; // in units of 8 bytes
    body[TARGET_LEN + 2..].copy_from_slice(&mac);
    na.fill_checksum(&target, &solicitor);
    Some(NA_FRAME_LEN)
}

/// The solicitor's MAC and address and the target of a Neighbor Solicitation that deserves
/// a proxy answer, or `None` (see [`nd_proxy_in_place`] for the checks).
fn parse_solicitation(frame: &[u8]) -> Option<(MacAddr, Ipv6Addr, Ipv6Addr)> {
    let eth = ethernet::Packet::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::ETHERTYPE_IPV6 {
        return None;
    }
    let ip = ipv6::Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != ipv6::NEXT_HEADER_ICMPV6 || ip.hop_limit() != ND_HOP_LIMIT {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if src.is_unspecified() || src.is_multicast() {
        return None;
    }
    let icmp = icmpv6::Packet::new_checked(ip.payload()).ok()?;
    if icmp.msg_type() != icmpv6::TYPE_NEIGHBOR_SOLICIT || icmp.msg_code() != 0 {
        return None;
    }
    let body = icmp.data();
    let target = body.get(..TARGET_LEN)?;
    if !options_valid(body.get(TARGET_LEN..)?) || !icmp.verify_checksum(&src, &dst) {
        return None;
    }
    let mut octets = [0u8; 16];
    octets.copy_from_slice(target);
    let target = Ipv6Addr::from(octets);
    if target.is_multicast() {
        return None;
    }
    Some((eth.src_addr(), src, target))
}

/// Whether every NDP option in `options` has a non-zero length (in 8-byte units) and ends
/// inside the message (RFC 4861 7.1.1).
fn options_valid(options: &[u8]) -> bool {
    let mut rest = options;
    while !rest.is_empty() {
        let Some(&units) = rest.get(1) else {
            return false;
        };
        let len = usize::from(units) * 8;
        if len == 0 {
            return false;
        }
        let Some(next) = rest.get(len..) else {
            return false;
        };
        rest = next;
    }
    true
}

/// True when `frame` (Ethernet + IPv6) is an ICMPv6 Neighbor Solicitation or Router
/// Solicitation or other NDP message (types 133..=137), so the caller can count
/// "nd_ignored" rather than routing it.
///
/// A classification only: the checksum, hop limit and body are not checked, and ICMPv6
/// behind extension headers does not count. An 802.1Q-tagged frame is looked into.
pub fn is_ndp(frame: &[u8]) -> bool {
    let Ok(eth) = ethernet::Packet::new_checked(frame) else {
        return false;
    };
    if eth.inner_ethertype() != ethernet::ETHERTYPE_IPV6 {
        return false;
    }
    let Ok(ip) = ipv6::Packet::new_checked(eth.payload()) else {
        return false;
    };
    if ip.next_header() != ipv6::NEXT_HEADER_ICMPV6 {
        return false;
    }
    match icmpv6::Packet::new_checked(ip.payload()) {
        Ok(icmp) => (TYPE_ROUTER_SOLICIT..=TYPE_REDIRECT).contains(&icmp.msg_type()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        icmpv6::NdpOptionSlice, icmpv6::NeighborAdvertisementHeader, Icmpv6Type, PacketBuilder,
        SlicedPacket, TransportSlice,
    };
    use proptest::prelude::*;

    const ROUTER_MAC: MacAddr = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x00];
    const GUEST_MAC: MacAddr = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];
    const SNM_MAC: MacAddr = [0x33, 0x33, 0xff, 0x00, 0x00, 0x01];

    fn target() -> Ipv6Addr {
        "2001:db8:100::1".parse().unwrap()
    }
    fn guest() -> Ipv6Addr {
        "2001:db8:100::2".parse().unwrap()
    }
    fn solicited_node() -> Ipv6Addr {
        "ff02::1:ff00:1".parse().unwrap()
    }

    /// An NS frame made by etherparse: `target` asked by `src` (hop limit `hlim`) at `dst`,
    /// with `options` after the target.
    fn ns_frame(
        eth_dst: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hlim: u8,
        target: Ipv6Addr,
        options: &[u8],
    ) -> Vec<u8> {
        let mut body = target.octets().to_vec();
        body.extend_from_slice(options);
        let mut v = Vec::new();
        PacketBuilder::ethernet2(GUEST_MAC, eth_dst)
            .ipv6(src.octets(), dst.octets(), hlim)
            .icmpv6(Icmpv6Type::NeighborSolicitation)
            .write(&mut v, &body)
            .unwrap();
        v
    }

    /// The usual NS: multicast to the solicited-node address, with a source link-layer
    /// address option.
    fn multicast_ns() -> Vec<u8> {
        let mut slla = vec![1, 1];
        slla.extend_from_slice(&GUEST_MAC);
        ns_frame(SNM_MAC, guest(), solicited_node(), 255, target(), &slla)
    }

    fn yes(_: &Ipv6Addr) -> bool {
        true
    }

    /// Parses `frame` as the NA the proxy must send to the guest for `target()`, checking
    /// every field with etherparse.
    fn check_na(frame: &[u8]) {
        assert_eq!(frame.len(), NA_FRAME_LEN);
        let s = SlicedPacket::from_ethernet(frame).unwrap();
        let Some(etherparse::LinkSlice::Ethernet2(eth)) = &s.link else {
            panic!("no Ethernet");
        };
        assert_eq!(eth.destination(), GUEST_MAC);
        assert_eq!(eth.source(), ROUTER_MAC);
        assert_eq!(eth.ether_type(), etherparse::EtherType::IPV6);
        let Some(etherparse::NetSlice::Ipv6(ip)) = &s.net else {
            panic!("no IPv6");
        };
        let h = ip.header();
        assert_eq!((h.traffic_class(), h.flow_label().value()), (0, 0));
        assert_eq!(h.payload_length(), 32);
        assert_eq!(h.next_header(), etherparse::IpNumber::IPV6_ICMP);
        assert_eq!(h.hop_limit(), 255);
        assert_eq!(h.source_addr(), target());
        assert_eq!(h.destination_addr(), guest());
        let Some(TransportSlice::Icmpv6(icmp)) = &s.transport else {
            panic!("no ICMPv6");
        };
        assert!(icmp.is_checksum_valid(h.source(), h.destination()));
        assert_eq!(
            icmp.icmp_type(),
            Icmpv6Type::NeighborAdvertisement(NeighborAdvertisementHeader {
                router: true,
                solicited: true,
                r#override: true,
            })
        );
        assert_eq!(icmp.bytes5to8(), [0xe0, 0, 0, 0], "reserved bits zero");
        let Ok(etherparse::icmpv6::Icmpv6PayloadSlice::NeighborAdvertisement(na)) =
            icmp.payload_slice()
        else {
            panic!("no NA payload");
        };
        assert_eq!(na.target_address(), target());
        let opts: Vec<_> = na.options_iterator().collect();
        assert_eq!(opts.len(), 1);
        match &opts[0] {
            Ok(NdpOptionSlice::TargetLinkLayerAddress(o)) => {
                assert_eq!(o.as_bytes()[..2], [2, 1]);
                assert_eq!(o.link_layer_address(), ROUTER_MAC);
            }
            o => panic!("{o:?}"),
        }
        // Our own view agrees on the checksum.
        let p = icmpv6::Packet::new_checked(&frame[ICMP_AT..]).unwrap();
        assert!(p.verify_checksum(&target(), &guest()));
    }

    #[test]
    fn multicast_ns_answered() {
        let mut f = multicast_ns();
        assert_eq!(f.len(), 14 + 40 + 32);
        let len = f.len();
        let asked = std::cell::Cell::new(None);
        let r = nd_proxy_in_place(&mut f, len, ROUTER_MAC, |t| {
            asked.set(Some(*t));
            true
        });
        assert_eq!(r, Some(NA_FRAME_LEN));
        assert_eq!(asked.get(), Some(target()));
        check_na(&f);
    }

    /// A unicast NS (reachability probe) has no source link-layer option: a 78-byte frame
    /// in a buffer the caller grew.
    #[test]
    fn unicast_ns_without_options_answered() {
        let f = ns_frame(ROUTER_MAC, guest(), target(), 255, target(), &[]);
        assert_eq!(f.len(), 78);
        let mut buf = f.clone();
        buf.resize(128, 0xee);
        assert_eq!(nd_proxy_in_place(&mut buf, 78, ROUTER_MAC, yes), Some(86));
        check_na(&buf[..86]);
        // Not grown: no room for the answer, nothing touched.
        let mut buf = f.clone();
        assert_eq!(nd_proxy_in_place(&mut buf, 78, ROUTER_MAC, yes), None);
        assert_eq!(buf, f);
    }

    /// Ethernet padding or a larger buffer after the frame does not matter.
    #[test]
    fn link_local_solicitor_answered() {
        let ll: Ipv6Addr = "fe80::5054:ff:feaa:bbcc".parse().unwrap();
        let mut f = ns_frame(SNM_MAC, ll, solicited_node(), 255, target(), &[]);
        f.resize(200, 0);
        assert_eq!(nd_proxy_in_place(&mut f, 78, ROUTER_MAC, yes), Some(86));
        let ip = ipv6::Packet::new_checked(&f[14..86]).unwrap();
        assert_eq!(ip.dst_addr(), ll);
        assert!(icmpv6::Packet::new_checked(&f[ICMP_AT..86])
            .unwrap()
            .verify_checksum(&target(), &ll));
    }

    fn assert_ignored(mut f: Vec<u8>, why: &str) {
        let len = f.len();
        f.resize(len.max(NA_FRAME_LEN) + 8, 0);
        let before = f.clone();
        assert_eq!(
            nd_proxy_in_place(&mut f, len, ROUTER_MAC, yes),
            None,
            "{why}"
        );
        assert_eq!(f, before, "{why}: buffer changed");
    }

    #[test]
    fn not_answered() {
        let mut f = multicast_ns();
        let last = f.len() - 1;
        f[last] ^= 1;
        assert_ignored(f, "bad checksum");

        let slla = [1, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc];
        let f = ns_frame(SNM_MAC, guest(), solicited_node(), 64, target(), &slla);
        assert_ignored(f, "hop limit 64");

        let f = ns_frame(
            SNM_MAC,
            Ipv6Addr::UNSPECIFIED,
            solicited_node(),
            255,
            target(),
            &[],
        );
        assert_ignored(f, "DAD");

        let f = ns_frame(
            SNM_MAC,
            "ff02::1".parse().unwrap(),
            solicited_node(),
            255,
            target(),
            &[],
        );
        assert_ignored(f, "multicast source");

        let f = ns_frame(
            SNM_MAC,
            guest(),
            solicited_node(),
            255,
            solicited_node(),
            &[],
        );
        assert_ignored(f, "multicast target");

        let f = ns_frame(
            SNM_MAC,
            guest(),
            solicited_node(),
            255,
            target(),
            &[1, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_ignored(f, "zero-length option");

        let f = ns_frame(
            SNM_MAC,
            guest(),
            solicited_node(),
            255,
            target(),
            &[1, 2, 0, 0, 0, 0, 0, 0],
        );
        assert_ignored(f, "option past the end");

        let mut f = multicast_ns();
        let len = f.len();
        f.resize(100, 0);
        let before = f.clone();
        assert_eq!(nd_proxy_in_place(&mut f, len, ROUTER_MAC, |_| false), None);
        assert_eq!(f, before, "answer=false");

        // Truncated frames, and frame_len past the buffer.
        let full = multicast_ns();
        for len in 0..full.len() {
            assert_ignored(full[..len].to_vec(), "truncated");
        }
        let mut f = multicast_ns();
        f.resize(90, 0);
        assert_eq!(nd_proxy_in_place(&mut f, 91, ROUTER_MAC, yes), None);
    }

    #[test]
    fn other_messages_not_answered() {
        // An NA, an echo request, and an NS with a non-zero code: not solicitations.
        let mut v = Vec::new();
        PacketBuilder::ethernet2(GUEST_MAC, SNM_MAC)
            .ipv6(guest().octets(), solicited_node().octets(), 255)
            .icmpv6(Icmpv6Type::NeighborAdvertisement(
                NeighborAdvertisementHeader {
                    router: false,
                    solicited: false,
                    r#override: true,
                },
            ))
            .write(&mut v, &target().octets())
            .unwrap();
        assert!(is_ndp(&v));
        assert_ignored(v, "NA");

        let mut v = Vec::new();
        PacketBuilder::ethernet2(GUEST_MAC, ROUTER_MAC)
            .ipv6(guest().octets(), target().octets(), 255)
            .icmpv6_echo_request(1, 2)
            .write(&mut v, &[0; 24])
            .unwrap();
        assert!(!is_ndp(&v));
        assert_ignored(v, "echo request");

        let mut v = Vec::new();
        PacketBuilder::ethernet2(GUEST_MAC, SNM_MAC)
            .ipv6(guest().octets(), solicited_node().octets(), 255)
            .icmpv6_raw(135, 1, [0; 4])
            .write(&mut v, &target().octets())
            .unwrap();
        assert_ignored(v, "code 1");
    }

    #[test]
    fn ndp_classification() {
        assert!(is_ndp(&multicast_ns()));
        for t in 133..=137u8 {
            let mut v = Vec::new();
            PacketBuilder::ethernet2(GUEST_MAC, SNM_MAC)
                .ipv6(guest().octets(), solicited_node().octets(), 255)
                .icmpv6_raw(t, 0, [0; 4])
                .write(&mut v, &[0; 16])
                .unwrap();
            assert!(is_ndp(&v), "type {t}");
            // With an 802.1Q tag.
            let mut tagged = v[..12].to_vec();
            tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
            tagged.extend_from_slice(&v[12..]);
            assert!(is_ndp(&tagged), "tagged type {t}");
        }
        for t in [1u8, 2, 128, 132, 138, 143] {
            let mut v = Vec::new();
            PacketBuilder::ethernet2(GUEST_MAC, SNM_MAC)
                .ipv6(guest().octets(), solicited_node().octets(), 255)
                .icmpv6_raw(t, 0, [0; 4])
                .write(&mut v, &[0; 16])
                .unwrap();
            assert!(!is_ndp(&v), "type {t}");
        }
        // UDP, IPv4, truncated.
        let mut v = Vec::new();
        PacketBuilder::ethernet2(GUEST_MAC, SNM_MAC)
            .ipv6(guest().octets(), solicited_node().octets(), 255)
            .udp(135, 135)
            .write(&mut v, &[135; 8])
            .unwrap();
        assert!(!is_ndp(&v));
        let mut v = Vec::new();
        PacketBuilder::ethernet2(GUEST_MAC, SNM_MAC)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 255)
            .icmpv4_raw(135, 0, [0; 4])
            .write(&mut v, &[])
            .unwrap();
        assert!(!is_ndp(&v));
        let f = multicast_ns();
        for len in 0..62 {
            assert!(!is_ndp(&f[..len]), "len {len}");
        }
    }

    proptest! {
        /// Whatever the bytes, no panic; and `None` leaves the buffer as it was.
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..160), frame_len in 0usize..170, steer in any::<bool>()) {
            let mut buf = data;
            if steer && buf.len() >= 62 {
                // Make it look like Ethernet/IPv6/ICMPv6 NS so the deeper checks run.
                buf[12] = 0x86;
                buf[13] = 0xdd;
                buf[14] = 0x60;
                buf[18] = 0;
                buf[19] = (buf.len() - 54).min(255) as u8;
                buf[20] = 58;
                buf[21] = 255;
                buf[54] = 135;
                buf[55] = 0;
            }
            let _ = is_ndp(&buf);
            let before = buf.clone();
            match nd_proxy_in_place(&mut buf, frame_len, ROUTER_MAC, yes) {
                None => prop_assert_eq!(buf, before),
                Some(n) => prop_assert_eq!(n, NA_FRAME_LEN),
            }
        }
    }
}
