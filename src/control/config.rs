//! The TOML configuration (see docs/CONFIG.md) and its translation into [`Tables`].
//!
//! Validation happens entirely before anything is built, and every error names the field,
//! e.g. `route[2].nexthop: nexthop 7 is not defined`.

use hashbrown::HashMap;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use crate::tables::{
    Encap, Fabric, MacAddr, NeighborTable, Nexthop, NhIdx, PmtuTable, Port, PortKind, Tables,
    Tunnel, UdpDecap, Vrf, MAX_VRFS,
};
use crate::wire::{mpls::PORT_MPLS_UDP, vxlan};

/// The MAC the router uses toward VMs unless configured (the one Tungsten Fabric uses).
pub const DEFAULT_ROUTER_MAC: MacAddr = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x00];

/// A configuration error, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
impl std::error::Error for ConfigError {}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError {
        field: field.into(),
        message: message.into(),
    })
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub router: RouterConf,
    pub fabric: FabricConf,
    #[serde(default)]
    pub vrf: Vec<VrfConf>,
    #[serde(default)]
    pub vif: Vec<VifConf>,
    #[serde(default)]
    pub nexthop: Vec<NexthopConf>,
    #[serde(default)]
    pub route: Vec<RouteConf>,
    #[serde(default)]
    pub mpls: Vec<MplsConf>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouterConf {
    pub mac: Option<String>,
    pub icmp_rate: Option<u32>,
    pub fragmentation: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FabricConf {
    pub dev: String,
    pub ip: String,
    pub mac: Option<String>,
    pub gateway: Option<String>,
    pub mtu: Option<u16>,
    pub rx_desc: Option<u16>,
    pub tx_desc: Option<u16>,
    #[serde(default)]
    pub neighbor: Vec<NeighborConf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighborConf {
    pub ip: String,
    pub mac: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrfConf {
    pub id: u32,
    pub vni: Option<u32>,
    /// Source address of ICMP errors the router sends in this VRF (default: the fabric IP).
    pub router_ip: Option<String>,
    /// Source of ICMPv6 errors and ND answers (default: link-local of the router MAC).
    pub router_ip6: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VifConf {
    pub name: String,
    pub vhost_socket: Option<String>,
    #[serde(default)]
    pub vhost_client: bool,
    pub dev: Option<String>,
    pub vrf: u32,
    pub mac: String,
    #[serde(default)]
    pub ip: Vec<String>,
    pub mtu: Option<u16>,
    pub mss_clamp: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NexthopConf {
    pub id: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub encap: Option<String>,
    pub dst: Option<String>,
    pub vni: Option<u32>,
    pub label: Option<u32>,
    pub inner_mac: Option<String>,
    pub vif: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConf {
    pub vrf: u32,
    pub prefix: String,
    pub nexthop: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MplsConf {
    pub label: u32,
    pub nexthop: u32,
}

/// Where a vif's DPDK port comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VifDev {
    Vhost { socket: String, client: bool },
    Dev(String),
}

impl VifConf {
    /// The DPDK device behind this vif.
    pub fn device(&self) -> VifDev {
        match (&self.vhost_socket, &self.dev) {
            (Some(s), _) => VifDev::Vhost {
                socket: s.clone(),
                client: self.vhost_client,
            },
            (None, Some(d)) => VifDev::Dev(d.clone()),
            (None, None) => VifDev::Dev(String::new()),
        }
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<MacAddr> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Parses `addr/len` (IPv4 or IPv6); the address alone means a host route.
pub fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l.parse::<u8>().ok().filter(|&l| l <= max)?,
        None => max,
    };
    Some((addr, len))
}

impl Config {
    /// Parses TOML text; errors name the offending key.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError {
            field: "config".into(),
            message: e.to_string().trim().replace('\n', " "),
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            field: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text)
    }

    /// Validates everything and builds the tables. `fabric_mac` is the fabric port's own MAC,
    /// used unless `fabric.mac` overrides it.
    pub fn build_tables(&self, fabric_mac: MacAddr) -> Result<Tables, ConfigError> {
        let router_mac = match &self.router.mac {
            Some(m) => parse_mac(m).ok_or_else(|| bad("router.mac", "not a MAC address"))?,
            None => DEFAULT_ROUTER_MAC,
        };
        let icmp_rate = self.router.icmp_rate.unwrap_or(100);
        let frag_outer = match self.router.fragmentation.as_deref() {
            None | Some("inner") => false,
            Some("outer") => true,
            Some(o) => {
                return err(
                    "router.fragmentation",
                    format!("{o:?} is not one of inner, outer"),
                )
            }
        };
        let default_ip6 = crate::datapath::icmp::link_local_from_mac(&router_mac);

        // Fabric.
        let (fip, plen) = match parse_prefix(&self.fabric.ip) {
            Some((IpAddr::V4(a), l)) => (a, l),
            _ => {
                return err(
                    "fabric.ip",
                    format!("{:?} is not an IPv4 address/prefix", self.fabric.ip),
                )
            }
        };
        let fmac = match &self.fabric.mac {
            Some(m) => parse_mac(m).ok_or_else(|| bad("fabric.mac", "not a MAC address"))?,
            None => fabric_mac,
        };
        let gateway = match &self.fabric.gateway {
            Some(g) => Some(parse_v4(g, "fabric.gateway")?),
            None => None,
        };
        if self.fabric.dev.is_empty() {
            return err("fabric.dev", "empty");
        }
        let mut neighbors = NeighborTable::default();
        let mut pmtu = PmtuTable::default();
        for (i, n) in self.fabric.neighbor.iter().enumerate() {
            let ip = parse_v4(&n.ip, &format!("fabric.neighbor[{i}].ip"))?;
            let mac = parse_mac(&n.mac)
                .ok_or_else(|| bad(format!("fabric.neighbor[{i}].mac"), "not a MAC address"))?;
            neighbors.add_static(ip, mac);
        }
        let fabric = Fabric {
            ip: fip,
            prefix_len: plen,
            mac: fmac,
            gateway,
        };

        // VRFs.
        let mut vrfs: Vec<Option<Vrf>> = Vec::new();
        let mut vni_to_vrf = HashMap::new();
        for (i, v) in self.vrf.iter().enumerate() {
            if v.id as usize >= MAX_VRFS {
                return err(
                    format!("vrf[{i}].id"),
                    format!("{} is out of range 0..{MAX_VRFS}", v.id),
                );
            }
            let id = v.id as u16;
            if vrfs.get(id as usize).is_some_and(Option::is_some) {
                return err(format!("vrf[{i}].id"), format!("VRF {id} is defined twice"));
            }
            if let Some(vni) = v.vni {
                if vni == 0 || vni > 0xFF_FFFF {
                    return err(
                        format!("vrf[{i}].vni"),
                        format!("{vni} is out of range 1..=16777215"),
                    );
                }
                if vni_to_vrf.insert(vni, id).is_some() {
                    return err(
                        format!("vrf[{i}].vni"),
                        format!("VNI {vni} is already mapped"),
                    );
                }
            }
            let router_ip = match &v.router_ip {
                Some(s) => parse_v4(s, &format!("vrf[{i}].router_ip"))?,
                None => fip,
            };
            let router_ip6 = match &v.router_ip6 {
                Some(s) => s.parse().map_err(|_| {
                    bad(
                        format!("vrf[{i}].router_ip6"),
                        format!("{s:?} is not an IPv6 address"),
                    )
                })?,
                None => default_ip6,
            };
            if vrfs.len() <= id as usize {
                vrfs.resize(id as usize + 1, None);
            }
            vrfs[id as usize] = Some(Vrf {
                id,
                router_ip,
                router_ip6,
                fib4: Default::default(),
                fib6: Default::default(),
            });
        }

        // Ports: the fabric, then the vifs.
        let mut ports = vec![Port {
            name: "fabric".into(),
            kind: crate::tables::PortKind::Fabric,
            mtu: self.fabric.mtu.unwrap_or(1500),
            mss_clamp: false,
        }];
        let mut vif_index: HashMap<&str, u16> = HashMap::new();
        let mut auto_routes: Vec<(u16, IpAddr, u8, u16)> = Vec::new(); // vrf, addr, len, port
        for (i, v) in self.vif.iter().enumerate() {
            let f = |k: &str| format!("vif[{i}].{k}");
            if v.name.is_empty() {
                return err(f("name"), "empty");
            }
            if vif_index.contains_key(v.name.as_str()) {
                return err(f("name"), format!("{:?} is used twice", v.name));
            }
            match (&v.vhost_socket, &v.dev) {
                (Some(_), Some(_)) => return err(f("dev"), "give vhost_socket or dev, not both"),
                (None, None) => return err(f("vhost_socket"), "a vif needs vhost_socket or dev"),
                _ => {}
            }
            let vrf = check_vrf(&vrfs, v.vrf, &f("vrf"))?;
            let vm_mac = parse_mac(&v.mac).ok_or_else(|| bad(f("mac"), "not a MAC address"))?;
            let port = ports.len() as u16;
            if usize::from(port) >= crate::datapath::stats::MAX_PORTS {
                return err(f("name"), "too many vifs");
            }
            let mut vm_ipv4 = Vec::new();
            let mut vm_ipv6 = Vec::new();
            for (j, a) in v.ip.iter().enumerate() {
                let ip: IpAddr = a.parse().map_err(|_| {
                    bad(
                        format!("vif[{i}].ip[{j}]"),
                        format!("{a:?} is not an IP address"),
                    )
                })?;
                match ip {
                    IpAddr::V4(a) => vm_ipv4.push(a),
                    IpAddr::V6(a) => vm_ipv6.push(a),
                }
                auto_routes.push((vrf, ip, if ip.is_ipv4() { 32 } else { 128 }, port));
            }
            ports.push(Port {
                name: v.name.clone(),
                kind: PortKind::Vif {
                    vrf,
                    vm_mac,
                    vm_ipv4,
                    vm_ipv6,
                },
                mtu: v.mtu.unwrap_or(1500),
                mss_clamp: v.mss_clamp.unwrap_or(true),
            });
            vif_index.insert(v.name.as_str(), port);
        }

        // Nexthops: configured ids map to dense indices.
        let mut nexthops: Vec<Nexthop> = Vec::new();
        let mut nh_index: HashMap<u32, NhIdx> = HashMap::new();
        for (i, n) in self.nexthop.iter().enumerate() {
            let f = |k: &str| format!("nexthop[{i}].{k}");
            if n.id == 0 || n.id > 65535 {
                return err(f("id"), format!("{} is out of range 1..=65535", n.id));
            }
            if nh_index.contains_key(&n.id) {
                return err(f("id"), format!("nexthop {} is defined twice", n.id));
            }
            let nh = match n.kind.as_str() {
                "discard" => Nexthop::Discard,
                "receive" => Nexthop::Receive,
                "interface" => {
                    let name = n
                        .vif
                        .as_deref()
                        .ok_or_else(|| bad(f("vif"), "required for an interface nexthop"))?;
                    let &port = vif_index
                        .get(name)
                        .ok_or_else(|| bad(f("vif"), format!("vif {name:?} is not defined")))?;
                    let PortKind::Vif { vm_mac, .. } = &ports[port as usize].kind else {
                        unreachable!("vif_index only holds vifs")
                    };
                    Nexthop::Interface {
                        port,
                        dst_mac: *vm_mac,
                    }
                }
                "tunnel" => {
                    let encap = match n.encap.as_deref() {
                        Some("vxlan") => Encap::Vxlan,
                        Some("mpls-udp") => Encap::MplsUdp,
                        Some("mpls-gre") => Encap::MplsGre,
                        Some(o) => {
                            return err(
                                f("encap"),
                                format!("{o:?} is not one of vxlan, mpls-udp, mpls-gre"),
                            )
                        }
                        None => return err(f("encap"), "required for a tunnel nexthop"),
                    };
                    let dst = parse_v4(n.dst.as_deref().unwrap_or(""), &f("dst"))?;
                    let (key, inner_mac) = match encap {
                        Encap::Vxlan => {
                            let vni = n.vni.ok_or_else(|| bad(f("vni"), "required for vxlan"))?;
                            if vni == 0 || vni > 0xFF_FFFF {
                                return err(
                                    f("vni"),
                                    format!("{vni} is out of range 1..=16777215"),
                                );
                            }
                            let m = n
                                .inner_mac
                                .as_deref()
                                .ok_or_else(|| bad(f("inner_mac"), "required for vxlan"))?;
                            (
                                vni,
                                parse_mac(m)
                                    .ok_or_else(|| bad(f("inner_mac"), "not a MAC address"))?,
                            )
                        }
                        _ => {
                            let l = n
                                .label
                                .ok_or_else(|| bad(f("label"), "required for mpls"))?;
                            if !(16..=0xF_FFFF).contains(&l) {
                                return err(
                                    f("label"),
                                    format!("{l} is out of range 16..=1048575"),
                                );
                            }
                            (l, [0; 6])
                        }
                    };
                    let hop = underlay_next_hop(&fabric, dst).ok_or_else(|| {
                        bad(
                            f("dst"),
                            format!(
                                "{dst} is not in {}/{} and fabric.gateway is not set",
                                fip, plen
                            ),
                        )
                    })?;
                    let neighbor = neighbors.add(hop);
                    Nexthop::Tunnel(Tunnel {
                        encap,
                        dst,
                        key,
                        inner_mac,
                        neighbor,
                        endpoint: pmtu.add(dst),
                    })
                }
                o => {
                    return err(
                        f("type"),
                        format!("{o:?} is not one of tunnel, interface, receive, discard"),
                    )
                }
            };
            nh_index.insert(n.id, nexthops.len() as NhIdx);
            nexthops.push(nh);
        }

        // Automatic interface nexthops and host routes for the vifs' addresses.
        let mut auto_nh: HashMap<u16, NhIdx> = HashMap::new();
        for &(vrf, addr, len, port) in &auto_routes {
            let idx = *auto_nh.entry(port).or_insert_with(|| {
                let PortKind::Vif { vm_mac, .. } = &ports[port as usize].kind else {
                    unreachable!("auto routes only for vifs")
                };
                nexthops.push(Nexthop::Interface {
                    port,
                    dst_mac: *vm_mac,
                });
                (nexthops.len() - 1) as NhIdx
            });
            insert_route(
                vrfs[vrf as usize].as_mut().expect("checked"),
                addr,
                len,
                idx,
            );
        }

        let mut pushed_labels = HashMap::new();
        for (i, r) in self.route.iter().enumerate() {
            let f = |k: &str| format!("route[{i}].{k}");
            let vrf = check_vrf(&vrfs, r.vrf, &f("vrf"))?;
            let (addr, len) = parse_prefix(&r.prefix)
                .ok_or_else(|| bad(f("prefix"), format!("{:?} is not an IP prefix", r.prefix)))?;
            let &nh = nh_index.get(&r.nexthop).ok_or_else(|| {
                bad(
                    f("nexthop"),
                    format!("nexthop {} is not defined", r.nexthop),
                )
            })?;
            insert_route(vrfs[vrf as usize].as_mut().expect("checked"), addr, len, nh);
            if let Nexthop::Tunnel(tu) = &nexthops[nh as usize] {
                if tu.encap != Encap::Vxlan {
                    pushed_labels.entry(tu.key).or_insert(vrf);
                }
            }
        }

        let mut labels = HashMap::new();
        for (i, m) in self.mpls.iter().enumerate() {
            if !(16..=0xF_FFFF).contains(&m.label) {
                return err(
                    format!("mpls[{i}].label"),
                    format!("{} is out of range 16..=1048575", m.label),
                );
            }
            let &nh = nh_index.get(&m.nexthop).ok_or_else(|| {
                bad(
                    format!("mpls[{i}].nexthop"),
                    format!("nexthop {} is not defined", m.nexthop),
                )
            })?;
            if labels.insert(m.label, nh).is_some() {
                return err(
                    format!("mpls[{i}].label"),
                    format!("label {} is mapped twice", m.label),
                );
            }
        }

        Ok(Tables {
            router_mac,
            fabric,
            ports,
            vrfs,
            nexthops,
            vni_to_vrf,
            labels,
            pushed_labels,
            udp_decap: vec![
                (vxlan::PORT, UdpDecap::Vxlan),
                (PORT_MPLS_UDP, UdpDecap::MplsUdp),
            ],
            neighbors: Arc::new(neighbors),
            pmtu: Arc::new(pmtu),
            icmp_rate,
            frag_outer,
        })
    }
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

fn parse_v4(s: &str, field: &str) -> Result<Ipv4Addr, ConfigError> {
    s.parse()
        .map_err(|_| bad(field, format!("{s:?} is not an IPv4 address")))
}

fn check_vrf(vrfs: &[Option<Vrf>], id: u32, field: &str) -> Result<u16, ConfigError> {
    if vrfs.get(id as usize).is_some_and(Option::is_some) {
        Ok(id as u16)
    } else {
        err(field, format!("VRF {id} is not defined"))
    }
}

fn insert_route(vrf: &mut Vrf, addr: IpAddr, len: u8, nh: NhIdx) {
    match addr {
        IpAddr::V4(a) => {
            vrf.fib4.insert(u32::from(a), len, nh);
        }
        IpAddr::V6(a) => {
            vrf.fib6.insert(u128::from(a), len, nh);
        }
    }
}

/// The underlay address to resolve by ARP to reach `dst`: `dst` itself when on-link, else
/// the gateway.
pub fn underlay_next_hop(f: &Fabric, dst: Ipv4Addr) -> Option<Ipv4Addr> {
    let mask = if f.prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(f.prefix_len))
    };
    if u32::from(dst) & mask == u32::from(f.ip) & mask {
        Some(dst)
    } else {
        f.gateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SAMPLE: &str = r#"
[fabric]
dev = "net_null0"
ip = "203.0.113.1/24"
[[fabric.neighbor]]
ip = "203.0.113.2"
mac = "02:00:00:00:00:02"
[[vrf]]
id = 1
vni = 100
[[vif]]
name = "vm1"
vhost_socket = "/tmp/vm1.sock"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2", "2001:db8:100::2"]
[[nexthop]]
id = 10
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.2"
vni = 100
inner_mac = "02:00:00:00:02:01"
[[route]]
vrf = 1
prefix = "198.51.100.1/32"
nexthop = 10
"#;

    fn build(text: &str) -> Result<Tables, ConfigError> {
        Config::from_toml(text)?.build_tables([2, 0, 0, 0, 0, 1])
    }

    #[test]
    fn sample_builds() {
        let t = build(SAMPLE).unwrap();
        assert_eq!(t.ports.len(), 2);
        assert_eq!(t.vni_to_vrf.get(&100), Some(&1));
        let vrf = t.vrf(1).unwrap();
        let nh = vrf
            .fib4
            .lookup(u32::from(Ipv4Addr::new(198, 51, 100, 1)))
            .unwrap();
        assert!(matches!(t.nexthop(nh), Some(Nexthop::Tunnel(tu)) if tu.key == 100));
        let nh = vrf
            .fib4
            .lookup(u32::from(Ipv4Addr::new(198, 51, 100, 2)))
            .unwrap();
        assert!(matches!(
            t.nexthop(nh),
            Some(Nexthop::Interface { port: 1, .. })
        ));
        assert!(vrf
            .fib6
            .lookup(u128::from(
                "2001:db8:100::2".parse::<std::net::Ipv6Addr>().unwrap()
            ))
            .is_some());
        assert_eq!(t.neighbors.mac(0), Some([2, 0, 0, 0, 0, 2]));
        assert_eq!(t.router_mac, DEFAULT_ROUTER_MAC);
    }

    fn expect_err(text: &str, field: &str) {
        let e = build(text).expect_err("config should be rejected");
        assert_eq!(e.field, field, "{e}");
    }

    #[test]
    fn errors_name_the_field() {
        expect_err(
            &SAMPLE.replace("nexthop = 10", "nexthop = 11"),
            "route[0].nexthop",
        );
        expect_err(
            &SAMPLE.replace("vrf = 1\nmac", "vrf = 7\nmac"),
            "vif[0].vrf",
        );
        expect_err(
            &SAMPLE.replace("\"198.51.100.1/32\"", "\"198.51.100.1/33\""),
            "route[0].prefix",
        );
        expect_err(
            &SAMPLE.replace("encap = \"vxlan\"", "encap = \"ipip\""),
            "nexthop[0].encap",
        );
        expect_err(
            &SAMPLE.replace("dst = \"203.0.113.2\"", "dst = \"198.18.0.1\""),
            "nexthop[0].dst",
        );
        expect_err(
            &SAMPLE.replace("mac = \"02:00:00:00:01:02\"", "mac = \"02:00\""),
            "vif[0].mac",
        );
        expect_err(
            &SAMPLE.replace("vni = 100\n[[vif]]", "vni = 0\n[[vif]]"),
            "vrf[0].vni",
        );
        let e = build(&format!("{SAMPLE}\n[[bogus]]\nx = 1\n")).unwrap_err();
        assert!(e.message.contains("bogus"), "{e}");
    }

    #[test]
    fn parse_helpers() {
        assert_eq!(parse_mac("02:00:00:00:01:0a"), Some([2, 0, 0, 0, 1, 10]));
        assert_eq!(parse_mac("02:00:00:00:01"), None);
        assert_eq!(parse_mac("02:00:00:00:01:0a:00"), None);
        assert_eq!(parse_prefix("10.0.0.0/8").map(|p| p.1), Some(8));
        assert_eq!(parse_prefix("2001:db8::1").map(|p| p.1), Some(128));
        assert_eq!(parse_prefix("2001:db8::/129"), None);
    }
}
