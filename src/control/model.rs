//! The control plane's model of the forwarding state, changed by [`Change`]s.
//!
//! The configuration file and the API go through the same code: a batch of changes is
//! applied to a copy of the model (cheap: the big parts are behind `Arc` and only what a
//! change touches is cloned — one VRF's FIB, the nexthop list, one map), validated as it
//! goes, and either published whole or dropped whole: a failing batch changes nothing.

use hashbrown::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use super::api::proto::Change;
use super::config::{
    bad, parse_mac, parse_prefix, parse_v4, underlay_next_hop, ConfigError, VifDev,
};
use crate::tables::{
    Encap, MacAddr, Nexthop, NhIdx, Port, PortIdx, PortKind, Tables, Tunnel, Vrf, FABRIC, MAX_VRFS,
};

/// What the control plane knows beyond the tables: names, ids, reference counts.
#[derive(Clone, Debug)]
pub struct Model {
    pub tables: Tables,
    /// vif name → port index.
    pub vif_index: HashMap<String, PortIdx>,
    /// Per port: the vif's device and its addresses (None for the fabric and free slots).
    pub vif_info: Vec<Option<VifInfo>>,
    /// Nexthop id (API) → index in `tables.nexthops`.
    pub nh_index: HashMap<u32, NhIdx>,
    /// Index → id (0 for automatic ones).
    pub nh_ids: Vec<u32>,
    /// How many routes, labels and ECMP groups use each nexthop index.
    pub nh_refs: Vec<u32>,
    /// Free nexthop indices to reuse.
    pub nh_free: Vec<NhIdx>,
    /// Per VRF: number of vifs in it (a VRF in use cannot be deleted).
    pub vrf_vifs: Vec<u32>,
    /// Default for VRFs without router_ip6.
    pub default_ip6: Ipv6Addr,
    /// Port slots freed by the batch being applied: not reused before the next batch, so the
    /// router can tell a removed vif from a new one in the same slot.
    pub retired_ports: Vec<PortIdx>,
    /// Paths no vhost-user vif may take (the API socket).
    pub reserved_paths: Vec<String>,
}

/// A vif as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifInfo {
    pub dev: VifDev,
    pub addrs: Vec<(IpAddr, u8)>,
    /// Its automatic interface nexthop.
    pub auto_nh: NhIdx,
    /// The MTU was given (not the device's default).
    pub mtu_set: bool,
}

/// Ids of automatic nexthops (the vifs' own) are above this.
pub const AUTO_NH_ID: u32 = 65535;

fn check_label(label: u32, field: &str) -> Result<(), ConfigError> {
    if (16..=0xF_FFFF).contains(&label) {
        Ok(())
    } else {
        Err(bad(field, format!("{label} is out of range 16..=1048575")))
    }
}

fn check_vni(vni: u32, field: &str) -> Result<(), ConfigError> {
    if vni == 0 || vni > 0xFF_FFFF {
        Err(bad(field, format!("{vni} is out of range 1..=16777215")))
    } else {
        Ok(())
    }
}

impl Model {
    /// A model with no VRF, vif, nexthop or route around fixed `tables` basics (router MAC,
    /// fabric, the fabric port).
    pub fn new(tables: Tables) -> Model {
        let n = tables.ports.len();
        let default_ip6 = crate::datapath::icmp::link_local_from_mac(&tables.router_mac);
        Model {
            tables,
            vif_index: HashMap::new(),
            vif_info: vec![None; n],
            nh_index: HashMap::new(),
            nh_ids: Vec::new(),
            nh_refs: Vec::new(),
            nh_free: Vec::new(),
            vrf_vifs: vec![0; MAX_VRFS],
            default_ip6,
            retired_ports: Vec::new(),
            reserved_paths: Vec::new(),
        }
    }

    /// Applies `changes` in order to a copy and returns it; on error, names the field as
    /// `<label of the change>.<field>` and leaves `self` as it was.
    pub fn apply_batch(&self, changes: &[(String, Change)]) -> Result<Model, ConfigError> {
        let mut next = self.clone();
        next.retired_ports.clear();
        for (label, c) in changes {
            next.apply(c).map_err(|e| ConfigError {
                field: if e.field.is_empty() {
                    label.clone()
                } else {
                    format!("{label}.{}", e.field)
                },
                message: e.message,
            })?;
        }
        Ok(next)
    }

    fn check_vrf(&self, id: u32, field: &str) -> Result<u16, ConfigError> {
        if self.tables.vrfs.contains(id) {
            Ok(id as u16)
        } else {
            Err(bad(field, format!("VRF {id} is not defined")))
        }
    }

    fn nh(&self, id: u32, field: &str) -> Result<NhIdx, ConfigError> {
        self.nh_index
            .get(&id)
            .copied()
            .ok_or_else(|| bad(field, format!("nexthop {id} is not defined")))
    }

    fn add_ref(&mut self, nh: NhIdx, delta: i32) {
        if let Some(r) = self.nh_refs.get_mut(nh as usize) {
            *r = r.saturating_add_signed(delta);
        }
    }

    /// Stores a nexthop in a free slot; returns its index.
    fn put_nexthop(&mut self, id: u32, nh: Nexthop) -> NhIdx {
        let list = Arc::make_mut(&mut self.tables.nexthops);
        let idx = match self.nh_free.pop() {
            Some(i) => {
                list[i as usize] = nh;
                self.nh_ids[i as usize] = id;
                self.nh_refs[i as usize] = 0;
                i
            }
            None => {
                list.push(nh);
                self.nh_ids.push(id);
                self.nh_refs.push(0);
                (list.len() - 1) as NhIdx
            }
        };
        if id != 0 {
            self.nh_index.insert(id, idx);
        }
        idx
    }

    fn free_nexthop(&mut self, idx: NhIdx) {
        let list = Arc::make_mut(&mut self.tables.nexthops);
        if let Nexthop::Ecmp(members) = std::mem::replace(&mut list[idx as usize], Nexthop::Unused)
        {
            for m in members.iter() {
                self.add_ref(*m, -1);
            }
        }
        let id = self.nh_ids[idx as usize];
        if id != 0 {
            self.nh_index.remove(&id);
        }
        self.nh_ids[idx as usize] = 0;
        self.nh_free.push(idx);
    }

    fn route_insert(
        &mut self,
        vrf: u32,
        addr: IpAddr,
        len: u8,
        nh: NhIdx,
        field: &str,
    ) -> Result<(), ConfigError> {
        // Nexthop ids stop at AUTO_NH_ID and automatic ones at one per vif, far below what a
        // FIB entry holds; checked so that the FIB can never refuse an insert silently.
        if nh >= crate::tables::fib4::MAX_NH {
            return Err(bad(field, "the nexthop table is full"));
        }
        let id = self.check_vrf(vrf, field)?;
        let vrfs = &mut self.tables.vrfs;
        let old = match addr {
            IpAddr::V4(a) => vrfs.insert4(id, u32::from(a), len, nh),
            IpAddr::V6(a) => vrfs.insert6(id, u128::from(a), len, nh),
        }
        .expect("checked");
        self.add_ref(nh, 1);
        if let Some(o) = old {
            self.add_ref(o, -1);
        }
        if let Some(Nexthop::Tunnel(tu)) = self.tables.nexthop(nh) {
            if tu.encap != Encap::Vxlan {
                let key = tu.key;
                Arc::make_mut(&mut self.tables.pushed_labels)
                    .entry(key)
                    .or_insert(vrf as u16);
            }
        }
        Ok(())
    }

    fn route_remove(
        &mut self,
        vrf: u32,
        addr: IpAddr,
        len: u8,
        field: &str,
    ) -> Result<Option<NhIdx>, ConfigError> {
        let id = self.check_vrf(vrf, field)?;
        let vrfs = &mut self.tables.vrfs;
        let old = match addr {
            IpAddr::V4(a) => vrfs.remove4(id, u32::from(a), len),
            IpAddr::V6(a) => vrfs.remove6(id, u128::from(a), len),
        }
        .expect("checked");
        if let Some(o) = old {
            self.add_ref(o, -1);
        }
        Ok(old)
    }

    /// Applies one change.
    pub fn apply(&mut self, c: &Change) -> Result<(), ConfigError> {
        match c {
            Change::VrfAdd {
                id,
                vni,
                router_ip,
                router_ip6,
            } => {
                if *id as usize >= MAX_VRFS {
                    return Err(bad("id", format!("{id} is out of range 0..{MAX_VRFS}")));
                }
                if self.tables.vrfs.contains(*id) {
                    return Err(bad("id", format!("VRF {id} is defined twice")));
                }
                let router_ip = match router_ip {
                    Some(s) => parse_v4(s, "router_ip")?,
                    None => self.tables.fabric.ip,
                };
                let router_ip6 = match router_ip6 {
                    Some(s) => s
                        .parse()
                        .map_err(|_| bad("router_ip6", format!("{s:?} is not an IPv6 address")))?,
                    None => self.default_ip6,
                };
                if let Some(vni) = vni {
                    check_vni(*vni, "vni")?;
                    if self.tables.vni_to_vrf.contains_key(vni) {
                        return Err(bad("vni", format!("VNI {vni} is already mapped")));
                    }
                    Arc::make_mut(&mut self.tables.vni_to_vrf).insert(*vni, *id as u16);
                }
                self.tables.vrfs.insert(Vrf {
                    id: *id as u16,
                    fib4: Default::default(),
                    fib6: Default::default(),
                    router_ip,
                    router_ip6,
                });
            }
            Change::VrfDel { id } => {
                let id16 = self.check_vrf(*id, "id")?;
                if self.vrf_vifs[*id as usize] > 0 {
                    return Err(bad("id", format!("VRF {id} still has vifs")));
                }
                let v = self.tables.vrfs.remove(id16).expect("checked");
                let used: Vec<NhIdx> = v
                    .fib4
                    .iter()
                    .map(|r| r.2)
                    .chain(v.fib6.iter().map(|r| r.2))
                    .collect();
                for nh in used {
                    self.add_ref(nh, -1);
                }
                Arc::make_mut(&mut self.tables.vni_to_vrf).retain(|_, vrf| u32::from(*vrf) != *id);
                Arc::make_mut(&mut self.tables.pushed_labels)
                    .retain(|_, vrf| u32::from(*vrf) != *id);
            }
            Change::VniAdd { vni, vrf } => {
                check_vni(*vni, "vni")?;
                let vrf = self.check_vrf(*vrf, "vrf")?;
                if self.tables.vni_to_vrf.contains_key(vni) {
                    return Err(bad("vni", format!("VNI {vni} is already mapped")));
                }
                Arc::make_mut(&mut self.tables.vni_to_vrf).insert(*vni, vrf);
            }
            Change::VniDel { vni } => {
                if Arc::make_mut(&mut self.tables.vni_to_vrf)
                    .remove(vni)
                    .is_none()
                {
                    return Err(bad("vni", format!("VNI {vni} is not mapped")));
                }
            }
            Change::VifAdd {
                name,
                vhost_socket,
                vhost_client,
                dev,
                vrf,
                mac,
                ip,
                mtu,
                mss_clamp,
            } => self.vif_add(
                name,
                vhost_socket,
                *vhost_client,
                dev,
                *vrf,
                mac,
                ip,
                *mtu,
                *mss_clamp,
            )?,
            Change::VifDel { name } => self.vif_del(name)?,
            Change::VifSet {
                name,
                mtu,
                mss_clamp,
            } => {
                let &port = self
                    .vif_index
                    .get(name.as_str())
                    .ok_or_else(|| bad("name", format!("vif {name:?} is not defined")))?;
                let p = &mut self.tables.ports[usize::from(port)];
                if let Some(m) = mtu {
                    if *m < 576 {
                        return Err(bad("mtu", format!("{m} is below 576")));
                    }
                    p.mtu = *m;
                    if let Some(Some(info)) = self.vif_info.get_mut(usize::from(port)) {
                        info.mtu_set = true;
                    }
                }
                if let Some(c) = mss_clamp {
                    p.mss_clamp = *c;
                }
            }
            Change::NhAdd {
                id,
                kind,
                encap,
                dst,
                vni,
                label,
                inner_mac,
                vif,
                members,
            } => {
                if *id == 0 || *id > AUTO_NH_ID {
                    return Err(bad("id", format!("{id} is out of range 1..=65535")));
                }
                if self.nh_index.contains_key(id) {
                    return Err(bad("id", format!("nexthop {id} is defined twice")));
                }
                let nh =
                    self.build_nexthop(kind, encap, dst, vni, label, inner_mac, vif, members)?;
                if let Nexthop::Ecmp(m) = &nh {
                    for x in m.iter() {
                        self.add_ref(*x, 1);
                    }
                }
                self.put_nexthop(*id, nh);
            }
            Change::NhDel { id } => {
                let idx = self.nh(*id, "id")?;
                let refs = self.nh_refs[idx as usize];
                if refs > 0 {
                    return Err(bad(
                        "id",
                        format!(
                            "nexthop {id} is used by {refs} route(s), label(s) or ECMP group(s)"
                        ),
                    ));
                }
                self.free_nexthop(idx);
            }
            Change::RouteAdd {
                vrf,
                prefix,
                nexthop,
            } => {
                self.check_vrf(*vrf, "vrf")?;
                let (addr, len) = parse_prefix(prefix)
                    .ok_or_else(|| bad("prefix", format!("{prefix:?} is not an IP prefix")))?;
                let nh = self.nh(*nexthop, "nexthop")?;
                self.route_insert(*vrf, addr, len, nh, "vrf")?;
            }
            Change::RouteDel { vrf, prefix } => {
                self.check_vrf(*vrf, "vrf")?;
                let (addr, len) = parse_prefix(prefix)
                    .ok_or_else(|| bad("prefix", format!("{prefix:?} is not an IP prefix")))?;
                if self.route_remove(*vrf, addr, len, "vrf")?.is_none() {
                    return Err(bad("prefix", format!("no route {prefix} in VRF {vrf}")));
                }
            }
            Change::RouteAddBulk {
                vrf,
                nexthop,
                prefixes,
            } => {
                self.check_vrf(*vrf, "vrf")?;
                let nh = self.nh(*nexthop, "nexthop")?;
                for (i, prefix) in prefixes.iter().enumerate() {
                    let (addr, len) = parse_prefix(prefix).ok_or_else(|| {
                        bad(
                            format!("prefixes[{i}]"),
                            format!("{prefix:?} is not an IP prefix"),
                        )
                    })?;
                    self.route_insert(*vrf, addr, len, nh, "vrf")?;
                }
            }
            Change::RouteDelBulk { vrf, prefixes } => {
                self.check_vrf(*vrf, "vrf")?;
                for (i, prefix) in prefixes.iter().enumerate() {
                    let (addr, len) = parse_prefix(prefix).ok_or_else(|| {
                        bad(
                            format!("prefixes[{i}]"),
                            format!("{prefix:?} is not an IP prefix"),
                        )
                    })?;
                    if self.route_remove(*vrf, addr, len, "vrf")?.is_none() {
                        return Err(bad(
                            format!("prefixes[{i}]"),
                            format!("no route {prefix} in VRF {vrf}"),
                        ));
                    }
                }
            }
            Change::MplsAdd { label, nexthop } => {
                check_label(*label, "label")?;
                let nh = self.nh(*nexthop, "nexthop")?;
                if !matches!(self.tables.nexthop(nh), Some(Nexthop::Interface { .. })) {
                    return Err(bad(
                        "nexthop",
                        format!("nexthop {nexthop} is not an interface nexthop"),
                    ));
                }
                if self.tables.labels.contains_key(label) {
                    return Err(bad("label", format!("label {label} is mapped twice")));
                }
                Arc::make_mut(&mut self.tables.labels).insert(*label, nh);
                self.add_ref(nh, 1);
            }
            Change::MplsDel { label } => match Arc::make_mut(&mut self.tables.labels).remove(label)
            {
                Some(nh) => self.add_ref(nh, -1),
                None => return Err(bad("label", format!("label {label} is not mapped"))),
            },
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn build_nexthop(
        &mut self,
        kind: &str,
        encap: &Option<String>,
        dst: &Option<String>,
        vni: &Option<u32>,
        label: &Option<u32>,
        inner_mac: &Option<String>,
        vif: &Option<String>,
        members: &[u32],
    ) -> Result<Nexthop, ConfigError> {
        Ok(match kind {
            "discard" => Nexthop::Discard,
            "receive" => Nexthop::Receive,
            "interface" => {
                let name = vif
                    .as_deref()
                    .ok_or_else(|| bad("vif", "required for an interface nexthop"))?;
                let &port = self
                    .vif_index
                    .get(name)
                    .ok_or_else(|| bad("vif", format!("vif {name:?} is not defined")))?;
                let PortKind::Vif { vm_mac, .. } = &self.tables.ports[usize::from(port)].kind
                else {
                    return Err(bad("vif", format!("vif {name:?} is not defined")));
                };
                Nexthop::Interface {
                    port,
                    dst_mac: *vm_mac,
                }
            }
            "ecmp" => {
                if members.len() < 2 {
                    return Err(bad("members", "an ECMP nexthop needs at least two members"));
                }
                let mut idx = Vec::with_capacity(members.len());
                for m in members {
                    let i = self.nh(*m, "members")?;
                    if matches!(self.tables.nexthop(i), Some(Nexthop::Ecmp(_))) {
                        return Err(bad(
                            "members",
                            format!("nexthop {m} is itself an ECMP group"),
                        ));
                    }
                    idx.push(i);
                }
                Nexthop::Ecmp(idx.into_boxed_slice())
            }
            "tunnel" => {
                let encap = match encap.as_deref() {
                    Some("vxlan") => Encap::Vxlan,
                    Some("mpls-udp") => Encap::MplsUdp,
                    Some("mpls-gre") => Encap::MplsGre,
                    Some(o) => {
                        return Err(bad(
                            "encap",
                            format!("{o:?} is not one of vxlan, mpls-udp, mpls-gre"),
                        ))
                    }
                    None => return Err(bad("encap", "required for a tunnel nexthop")),
                };
                let dst = parse_v4(dst.as_deref().unwrap_or(""), "dst")?;
                let (key, inner_mac) = match encap {
                    Encap::Vxlan => {
                        let vni = vni.ok_or_else(|| bad("vni", "required for vxlan"))?;
                        check_vni(vni, "vni")?;
                        let m = inner_mac
                            .as_deref()
                            .ok_or_else(|| bad("inner_mac", "required for vxlan"))?;
                        (
                            vni,
                            parse_mac(m).ok_or_else(|| bad("inner_mac", "not a MAC address"))?,
                        )
                    }
                    _ => {
                        let l = label.ok_or_else(|| bad("label", "required for mpls"))?;
                        check_label(l, "label")?;
                        (l, [0; 6])
                    }
                };
                let f = &self.tables.fabric;
                let hop = underlay_next_hop(f, dst).ok_or_else(|| {
                    bad(
                        "dst",
                        format!(
                            "{dst} is not in {}/{} and fabric.gateway is not set",
                            f.ip, f.prefix_len
                        ),
                    )
                })?;
                let neighbor = self
                    .tables
                    .neighbors
                    .add(hop)
                    .ok_or_else(|| bad("dst", "the neighbour table is full"))?;
                let endpoint = self
                    .tables
                    .pmtu
                    .add(dst)
                    .ok_or_else(|| bad("dst", "the endpoint table is full"))?;
                Nexthop::Tunnel(Tunnel {
                    encap,
                    dst,
                    key,
                    inner_mac,
                    neighbor,
                    endpoint,
                })
            }
            o => {
                return Err(bad(
                    "type",
                    format!("{o:?} is not one of tunnel, interface, ecmp, receive, discard"),
                ))
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn vif_add(
        &mut self,
        name: &str,
        vhost_socket: &Option<String>,
        vhost_client: bool,
        dev: &Option<String>,
        vrf: u32,
        mac: &str,
        ip: &[String],
        mtu: Option<u16>,
        mss_clamp: Option<bool>,
    ) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(bad("name", "empty"));
        }
        if self.vif_index.contains_key(name) {
            return Err(bad("name", format!("{name:?} is used twice")));
        }
        let dev = match (vhost_socket, dev) {
            (Some(_), Some(_)) => return Err(bad("dev", "give vhost_socket or dev, not both")),
            (None, None) => return Err(bad("vhost_socket", "a vif needs vhost_socket or dev")),
            (Some(s), None) => {
                if self.reserved_paths.iter().any(|r| r == s) {
                    return Err(bad(
                        "vhost_socket",
                        format!("{s:?} is the router's API socket"),
                    ));
                }
                let owner = self.vif_info.iter().enumerate().find_map(|(i, v)| match v {
                    Some(VifInfo {
                        dev: VifDev::Vhost { socket, .. },
                        ..
                    }) if socket == s => Some(self.tables.ports[i].name.clone()),
                    _ => None,
                });
                if let Some(o) = owner {
                    return Err(bad(
                        "vhost_socket",
                        format!("{s:?} is already used by vif {o:?}"),
                    ));
                }
                VifDev::Vhost {
                    socket: s.clone(),
                    client: vhost_client,
                }
            }
            (None, Some(d)) => VifDev::Dev(d.clone()),
        };
        let vrf16 = self.check_vrf(vrf, "vrf")?;
        let vm_mac = parse_mac(mac).ok_or_else(|| bad("mac", "not a MAC address"))?;
        if let Some(m) = mtu {
            if m < 576 {
                return Err(bad("mtu", format!("{m} is below 576")));
            }
        }
        let mut addrs = Vec::new();
        let (mut vm_ipv4, mut vm_ipv6) = (Vec::new(), Vec::new());
        for (j, a) in ip.iter().enumerate() {
            let addr: IpAddr = a
                .parse()
                .map_err(|_| bad(format!("ip[{j}]"), format!("{a:?} is not an IP address")))?;
            match addr {
                IpAddr::V4(x) => vm_ipv4.push(x),
                IpAddr::V6(x) => vm_ipv6.push(x),
            }
            let len = if addr.is_ipv4() { 32 } else { 128 };
            let existing = self.tables.vrf(vrf16).and_then(|v| match addr {
                IpAddr::V4(a) => v.fib4.get(u32::from(a), len),
                IpAddr::V6(a) => v.fib6.get(u128::from(a), len),
            });
            if let Some(Nexthop::Interface { port, .. }) =
                existing.and_then(|nh| self.tables.nexthop(nh))
            {
                let other = self.tables.ports[usize::from(*port)].name.clone();
                return Err(bad(
                    format!("ip[{j}]"),
                    format!("{addr} already belongs to vif {other:?}"),
                ));
            }
            addrs.push((addr, len));
        }
        // A free slot, or a new one.
        let ports = &mut self.tables.ports;
        let retired = &self.retired_ports;
        let free = ports
            .iter()
            .enumerate()
            .position(|(i, p)| p.kind == PortKind::Unused && !retired.contains(&(i as PortIdx)));
        let port = match free {
            Some(i) => i,
            None => {
                if ports.len() >= crate::datapath::stats::MAX_PORTS {
                    return Err(bad("name", "too many vifs"));
                }
                ports.push(Port {
                    name: String::new(),
                    kind: PortKind::Unused,
                    mtu: 0,
                    mss_clamp: false,
                });
                self.vif_info.push(None);
                ports.len() - 1
            }
        };
        ports[port] = Port {
            name: name.to_string(),
            kind: PortKind::Vif {
                vrf: vrf16,
                vm_mac,
                vm_ipv4,
                vm_ipv6,
            },
            mtu: mtu.unwrap_or(1500),
            mss_clamp: mss_clamp.unwrap_or(true),
        };
        let port = port as PortIdx;
        self.vif_index.insert(name.to_string(), port);
        let auto_nh = self.put_nexthop(
            0,
            Nexthop::Interface {
                port,
                dst_mac: vm_mac,
            },
        );
        for &(addr, len) in &addrs {
            self.route_insert(vrf, addr, len, auto_nh, "vrf")?;
        }
        self.vif_info[usize::from(port)] = Some(VifInfo {
            dev,
            addrs,
            auto_nh,
            mtu_set: mtu.is_some(),
        });
        self.vrf_vifs[vrf as usize] += 1;
        Ok(())
    }

    fn vif_del(&mut self, name: &str) -> Result<(), ConfigError> {
        let &port = self
            .vif_index
            .get(name)
            .ok_or_else(|| bad("name", format!("vif {name:?} is not defined")))?;
        let PortKind::Vif { vrf, .. } = self.tables.ports[usize::from(port)].kind else {
            return Err(bad("name", format!("vif {name:?} is not defined")));
        };
        let info = self.vif_info[usize::from(port)].take().expect("vif info");
        for &(addr, len) in &info.addrs {
            self.route_remove(u32::from(vrf), addr, len, "name")?;
        }
        // Other nexthops pointing at this vif must be gone first.
        let users: Vec<u32> = self
            .tables
            .nexthops
            .iter()
            .enumerate()
            .filter(|(i, nh)| {
                *i as NhIdx != info.auto_nh
                    && matches!(nh, Nexthop::Interface { port: p, .. } if *p == port)
            })
            .map(|(i, _)| self.nh_ids[i])
            .collect();
        if !users.is_empty() {
            return Err(bad(
                "name",
                format!("vif {name:?} is used by nexthop(s) {users:?}: delete them first"),
            ));
        }
        let refs = self.nh_refs[info.auto_nh as usize];
        if refs > 0 {
            return Err(bad(
                "name",
                format!("vif {name:?} is still routed to by {refs} other route(s)"),
            ));
        }
        self.free_nexthop(info.auto_nh);
        self.tables.ports[usize::from(port)] = Port {
            name: String::new(),
            kind: PortKind::Unused,
            mtu: 0,
            mss_clamp: false,
        };
        self.vif_index.remove(name);
        self.vrf_vifs[usize::from(vrf)] -= 1;
        self.retired_ports.push(port);
        Ok(())
    }

    /// The nexthop id an index has (for views), 0 for automatic ones.
    pub fn nh_id(&self, idx: NhIdx) -> u32 {
        self.nh_ids.get(idx as usize).copied().unwrap_or(0)
    }

    /// The port index of the fabric.
    pub const FABRIC: PortIdx = FABRIC;

    /// The vif's MAC helper for views.
    pub fn vm_mac(&self, port: PortIdx) -> Option<MacAddr> {
        match &self.tables.ports.get(usize::from(port))?.kind {
            PortKind::Vif { vm_mac, .. } => Some(*vm_mac),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::config::Config;
    use std::net::Ipv4Addr;

    const BASE: &str = r#"
[fabric]
dev = "net_null0"
ip = "203.0.113.1/24"
[[vrf]]
id = 1
vni = 100
[[vif]]
name = "vm1"
dev = "x"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2"]
"#;

    fn model() -> Model {
        Config::from_toml(BASE)
            .unwrap()
            .build_model([2, 0, 0, 0, 0, 1])
            .unwrap()
    }

    fn batch(m: &Model, json: &str) -> Result<Model, ConfigError> {
        let changes: Vec<Change> = serde_json::from_str(json).unwrap();
        let labelled: Vec<(String, Change)> = changes
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("changes[{i}]"), c))
            .collect();
        m.apply_batch(&labelled)
    }

    fn lookup(m: &Model, vrf: u16, a: [u8; 4]) -> Option<&Nexthop> {
        let nh = m
            .tables
            .vrf(vrf)?
            .fib4
            .lookup(u32::from(Ipv4Addr::from(a)))?;
        m.tables.nexthop(nh)
    }

    #[test]
    fn a_failing_batch_changes_nothing() {
        let m = model();
        let e = batch(
            &m,
            r#"[{"op":"nh_add","id":10,"type":"tunnel","encap":"vxlan","dst":"203.0.113.2","vni":100,"inner_mac":"02:00:00:00:02:01"},
                {"op":"route_add","vrf":1,"prefix":"198.51.100.1/32","nexthop":10},
                {"op":"route_add","vrf":1,"prefix":"198.51.100.0/33","nexthop":10}]"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "changes[2].prefix");
        assert!(lookup(&m, 1, [198, 51, 100, 1]).is_none());
        assert!(m.nh_index.is_empty());
        let e = batch(
            &m,
            r#"[{"op":"route_add","vrf":1,"prefix":"198.51.100.0/24","nexthop":99}]"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("changes[0].nexthop", "nexthop 99 is not defined")
        );
    }

    #[test]
    fn nexthops_are_reference_counted_and_reused() {
        let m = model();
        let m = batch(
            &m,
            r#"[{"op":"nh_add","id":10,"type":"tunnel","encap":"vxlan","dst":"203.0.113.2","vni":100,"inner_mac":"02:00:00:00:02:01"},
                {"op":"nh_add","id":11,"type":"tunnel","encap":"mpls-udp","dst":"203.0.113.3","label":200},
                {"op":"nh_add","id":12,"type":"ecmp","members":[10,11]},
                {"op":"route_add","vrf":1,"prefix":"198.51.100.0/24","nexthop":12}]"#,
        )
        .unwrap();
        assert!(matches!(lookup(&m, 1, [198, 51, 100, 9]), Some(Nexthop::Ecmp(x)) if x.len() == 2));
        let e = batch(&m, r#"[{"op":"nh_del","id":10}]"#).unwrap_err();
        assert!(e.message.contains("used by 1"), "{e}");
        let e = batch(&m, r#"[{"op":"nh_del","id":12}]"#).unwrap_err();
        assert!(e.message.contains("used by 1"), "{e}");
        let freed = [m.nh_index[&10], m.nh_index[&12]];
        let m = batch(
            &m,
            r#"[{"op":"route_del","vrf":1,"prefix":"198.51.100.0/24"},{"op":"nh_del","id":12},{"op":"nh_del","id":10},
                {"op":"nh_add","id":20,"type":"discard"}]"#,
        )
        .unwrap();
        assert!(lookup(&m, 1, [198, 51, 100, 9]).is_none());
        assert!(freed.contains(&m.nh_index[&20]), "a freed slot is reused");
        assert!(matches!(
            m.tables.nexthop(m.nh_index[&20]),
            Some(Nexthop::Discard)
        ));
    }

    #[test]
    fn vifs_come_and_go() {
        let m = model();
        let m = batch(
            &m,
            r#"[{"op":"vif_add","name":"vm2","dev":"y","vrf":1,"mac":"02:00:00:00:01:03","ip":["198.51.100.3","2001:db8::3"]}]"#,
        )
        .unwrap();
        let port = m.vif_index["vm2"];
        assert!(
            matches!(lookup(&m, 1, [198, 51, 100, 3]), Some(Nexthop::Interface { port: p, .. }) if *p == port)
        );
        // A nexthop using it blocks its removal until deleted.
        let m = batch(
            &m,
            r#"[{"op":"nh_add","id":5,"type":"interface","vif":"vm2"}]"#,
        )
        .unwrap();
        assert!(batch(&m, r#"[{"op":"vif_del","name":"vm2"}]"#)
            .unwrap_err()
            .message
            .contains("used by nexthop"));
        let m = batch(
            &m,
            r#"[{"op":"nh_del","id":5},{"op":"vif_del","name":"vm2"}]"#,
        )
        .unwrap();
        assert!(lookup(&m, 1, [198, 51, 100, 3]).is_none());
        assert_eq!(m.tables.ports[usize::from(port)].kind, PortKind::Unused);
        // The slot is reused (in a later batch); the VRF cannot go while vm1 is in it.
        let m = batch(
            &m,
            r#"[{"op":"vif_add","name":"vm3","dev":"z","vrf":1,"mac":"02:00:00:00:01:04"}]"#,
        )
        .unwrap();
        assert_eq!(m.vif_index["vm3"], port);
        assert!(batch(&m, r#"[{"op":"vrf_del","id":1}]"#)
            .unwrap_err()
            .message
            .contains("still has vifs"));
        let e = batch(&m, r#"[{"op":"vif_set","name":"vm3","mtu":100}]"#).unwrap_err();
        assert_eq!(e.field, "changes[0].mtu");
        // Another vif's address, or a vhost socket already taken (or the API's), is refused.
        let e = batch(&m, r#"[{"op":"vif_add","name":"vm4","dev":"w","vrf":1,"mac":"02:00:00:00:01:05","ip":["198.51.100.2"]}]"#)
            .unwrap_err();
        assert_eq!(e.field, "changes[0].ip[0]");
        assert!(e.message.contains("vm1"), "{e}");
        let m = batch(&m, r#"[{"op":"vif_add","name":"v1","vhost_socket":"/tmp/a.sock","vrf":1,"mac":"02:00:00:00:01:06"}]"#).unwrap();
        let e = batch(&m, r#"[{"op":"vif_add","name":"v2","vhost_socket":"/tmp/a.sock","vrf":1,"mac":"02:00:00:00:01:07"}]"#)
            .unwrap_err();
        assert_eq!(e.field, "changes[0].vhost_socket");
        let mut r = m.clone();
        r.reserved_paths.push("/run/x.sock".into());
        let e = batch(&r, r#"[{"op":"vif_add","name":"v3","vhost_socket":"/run/x.sock","vrf":1,"mac":"02:00:00:00:01:08"}]"#)
            .unwrap_err();
        assert!(e.message.contains("API socket"), "{e}");
    }

    #[test]
    fn bulk_routes_all_or_nothing() {
        let m = batch(&model(), r#"[{"op":"nh_add","id":1,"type":"discard"}]"#).unwrap();
        let e = batch(&m, r#"[{"op":"route_add_bulk","vrf":1,"nexthop":1,"prefixes":["10.0.0.0/8","10.1.0.0/33"]}]"#)
            .unwrap_err();
        assert_eq!(e.field, "changes[0].prefixes[1]");
        let m = batch(&m, r#"[{"op":"route_add_bulk","vrf":1,"nexthop":1,"prefixes":["10.0.0.0/8","2001:db8::/32"]}]"#)
            .unwrap();
        assert!(lookup(&m, 1, [10, 2, 3, 4]).is_some());
        assert_eq!(m.nh_refs[m.nh_index[&1] as usize], 2);
        let m = batch(
            &m,
            r#"[{"op":"route_del_bulk","vrf":1,"prefixes":["10.0.0.0/8","2001:db8::/32"]}]"#,
        )
        .unwrap();
        assert!(lookup(&m, 1, [10, 2, 3, 4]).is_none());
        assert_eq!(m.nh_refs[m.nh_index[&1] as usize], 0);
    }

    #[test]
    fn unchanged_vrfs_are_shared_not_copied() {
        let m = model();
        let m = batch(&m, r#"[{"op":"vrf_add","id":2},{"op":"vrf_add","id":3}]"#).unwrap();
        let next = batch(&m, r#"[{"op":"nh_add","id":1,"type":"discard"},{"op":"route_add","vrf":2,"prefix":"10.0.0.0/8","nexthop":1}]"#)
            .unwrap();
        let same = |id: u16| {
            Arc::ptr_eq(
                m.tables.vrfs.get_arc(id).unwrap(),
                next.tables.vrfs.get_arc(id).unwrap(),
            )
        };
        assert!(same(1) && same(3), "untouched VRFs are the same allocation");
        assert!(!same(2), "the changed VRF is a copy");
    }
}
