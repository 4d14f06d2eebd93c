//! The TOML configuration (see docs/CONFIG.md) and its translation into [`Tables`].
//!
//! Validation happens entirely before anything is built, and every error names the field,
//! e.g. `route[2].nexthop: nexthop 7 is not defined`.

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::api::proto::Change;
use super::model::Model;
use crate::tables::{
    Fabric, Generation, MacAddr, NeighborTable, PmtuTable, Port, PortKind, Tables, UdpDecap,
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
    /// ECMP: member nexthop ids.
    #[serde(default)]
    pub members: Vec<u32>,
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
        Ok(self.build_model(fabric_mac)?.tables)
    }

    /// The model this configuration describes: the fixed parts (router, fabric), then every
    /// VRF, vif, nexthop, route and label as [`Change`]s through the same batch code as the
    /// API.
    pub fn build_model(&self, fabric_mac: MacAddr) -> Result<Model, ConfigError> {
        Model::new(self.base_tables(fabric_mac)?).apply_batch(&self.changes())
    }

    /// The fixed part of the tables: router MAC, fabric, static neighbours, options.
    pub fn base_tables(&self, fabric_mac: MacAddr) -> Result<Tables, ConfigError> {
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
        for (i, n) in self.fabric.neighbor.iter().enumerate() {
            let ip = parse_v4(&n.ip, &format!("fabric.neighbor[{i}].ip"))?;
            let mac = parse_mac(&n.mac)
                .ok_or_else(|| bad(format!("fabric.neighbor[{i}].mac"), "not a MAC address"))?;
            neighbors.add_static(ip, mac).ok_or_else(|| {
                bad(
                    format!("fabric.neighbor[{i}]"),
                    "the neighbour table is full",
                )
            })?;
        }
        Ok(Tables {
            generation: Generation::fresh(),
            router_mac,
            fabric: Fabric {
                ip: fip,
                prefix_len: plen,
                mac: fmac,
                gateway,
            },
            ports: vec![Port {
                name: "fabric".into(),
                kind: PortKind::Fabric,
                mtu: self.fabric.mtu.unwrap_or(1500),
                mss_clamp: false,
            }],
            vrfs: Default::default(),
            nexthops: Arc::new(Vec::new()),
            vni_to_vrf: Arc::default(),
            labels: Arc::default(),
            pushed_labels: Arc::default(),
            udp_decap: vec![
                (vxlan::PORT, UdpDecap::Vxlan),
                (PORT_MPLS_UDP, UdpDecap::MplsUdp),
            ],
            neighbors,
            pmtu: PmtuTable::default(),
            icmp_rate,
            frag_outer,
        })
    }

    /// The configuration's VRFs, vifs, nexthops, routes and labels as labelled changes, in
    /// dependency order (errors read `route[2].nexthop: ...`).
    pub fn changes(&self) -> Vec<(String, Change)> {
        let mut out = Vec::new();
        for (i, v) in self.vrf.iter().enumerate() {
            out.push((
                format!("vrf[{i}]"),
                Change::VrfAdd {
                    id: v.id,
                    vni: v.vni,
                    router_ip: v.router_ip.clone(),
                    router_ip6: v.router_ip6.clone(),
                },
            ));
        }
        for (i, v) in self.vif.iter().enumerate() {
            out.push((
                format!("vif[{i}]"),
                Change::VifAdd {
                    name: v.name.clone(),
                    vhost_socket: v.vhost_socket.clone(),
                    vhost_client: v.vhost_client,
                    dev: v.dev.clone(),
                    vrf: v.vrf,
                    mac: v.mac.clone(),
                    ip: v.ip.clone(),
                    mtu: v.mtu,
                    mss_clamp: v.mss_clamp,
                },
            ));
        }
        // ECMP groups last among nexthops: their members must exist.
        let mut nhs: Vec<(usize, &NexthopConf)> = self.nexthop.iter().enumerate().collect();
        nhs.sort_by_key(|(_, n)| n.kind == "ecmp");
        for (i, n) in nhs {
            out.push((
                format!("nexthop[{i}]"),
                Change::NhAdd {
                    id: n.id,
                    kind: n.kind.clone(),
                    encap: n.encap.clone(),
                    dst: n.dst.clone(),
                    vni: n.vni,
                    label: n.label,
                    inner_mac: n.inner_mac.clone(),
                    vif: n.vif.clone(),
                    members: n.members.clone(),
                },
            ));
        }
        for (i, r) in self.route.iter().enumerate() {
            out.push((
                format!("route[{i}]"),
                Change::RouteAdd {
                    vrf: r.vrf,
                    prefix: r.prefix.clone(),
                    nexthop: r.nexthop,
                },
            ));
        }
        for (i, m) in self.mpls.iter().enumerate() {
            out.push((
                format!("mpls[{i}]"),
                Change::MplsAdd {
                    label: m.label,
                    nexthop: m.nexthop,
                },
            ));
        }
        out
    }
}

/// An error naming `field`.
pub(crate) fn bad(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses an IPv4 address; the error names `field`.
pub(crate) fn parse_v4(s: &str, field: &str) -> Result<Ipv4Addr, ConfigError> {
    s.parse()
        .map_err(|_| bad(field, format!("{s:?} is not an IPv4 address")))
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
    use crate::tables::Nexthop;

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
