//! vrouterctl: the operator's command line for a running vrouter, over its API socket.
//!
//! The commands and flags follow Tungsten Fabric's vRouter utilities (`vif --list`,
//! `rt --dump 1`, `nh --list`, `mpls --dump`, `vxlan --dump`, `dropstats`), so a TF operator
//! finds them where they expect; `--json` prints what the router answered, for scripts.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

use vrouter::control::api::client::Client;
use vrouter::control::api::proto::{Change, Family, MissEvent, Op, API_VERSION};

const DEFAULT_SOCKET: &str = "/run/vrouter/vrouter.sock";

#[derive(Parser, Debug)]
#[command(
    name = "vrouterctl",
    version,
    about = "Inspect and program a running vrouter"
)]
struct Cli {
    /// The router's API socket [default: $VROUTER_SOCKET, else /run/vrouter/vrouter.sock]
    #[arg(long, global = true, value_name = "PATH", display_order = 900)]
    socket: Option<PathBuf>,
    /// Print the router's answer as JSON
    #[arg(long, global = true, display_order = 901)]
    json: bool,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Virtual interfaces: list with counters, add, delete, set
    Vif(VifArgs),
    /// Routes of a VRF
    Rt(RtArgs),
    /// Nexthops
    Nh(NhArgs),
    /// MPLS label → nexthop map
    Mpls(MplsArgs),
    /// VXLAN VNI → VRF map
    Vxlan(VxlanArgs),
    /// VRFs
    Vrf(VrfArgs),
    /// Drop counters by reason
    Dropstats(DropstatsArgs),
    /// Every counter; --clear zeroes them; --rate shows packets/s per vif
    Stats(StatsArgs),
    /// Print miss notifications (no route, unresolved endpoint) as they happen
    Monitor,
    /// Apply a JSON array of changes from FILE ('-': stdin), all or nothing
    Batch {
        /// JSON array of changes: [{"op":"route_add","vrf":1,"prefix":"10.0.0.0/8","nexthop":10}]
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Versions of vrouterctl, the router and their API
    Version,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["list", "add", "delete", "set"])))]
#[command(group(ArgGroup::new("backend").args(["vhost_socket", "dev"])))]
#[command(group(ArgGroup::new("settings").args(["mtu", "mss_clamp"]).multiple(true)))]
struct VifArgs {
    /// List the vifs with their counters
    #[arg(long)]
    list: bool,
    /// Add a vif (with --vhost-socket or --dev, --vrf, --mac)
    #[arg(long, value_name = "NAME", requires_all = ["backend", "vrf", "mac"])]
    add: Option<String>,
    /// Delete a vif
    #[arg(long, value_name = "NAME")]
    delete: Option<String>,
    /// Change a vif's MTU or flags
    #[arg(long, value_name = "NAME", requires = "settings")]
    set: Option<String>,
    /// Counters of one worker only (--list)
    #[arg(long, value_name = "N", conflicts_with_all = ["add", "delete", "set"])]
    core: Option<usize>,
    /// vhost-user socket path (net_vhost; the router is the server unless --vhost-client)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["list", "delete", "set"])]
    vhost_socket: Option<String>,
    /// Connect to the vhost-user socket as a client (reconnecting)
    #[arg(long, requires = "vhost_socket", conflicts_with_all = ["dev", "list", "delete", "set"])]
    vhost_client: bool,
    /// Any other DPDK device, by devargs
    #[arg(long, value_name = "DEVARGS", conflicts_with_all = ["list", "delete", "set"])]
    dev: Option<String>,
    /// The vif's VRF
    #[arg(long, value_name = "N", conflicts_with_all = ["list", "delete", "set"])]
    vrf: Option<u32>,
    /// The VM's MAC
    #[arg(long, value_name = "MAC", conflicts_with_all = ["list", "delete", "set"])]
    mac: Option<String>,
    /// A VM address (host route to the vif); repeat for more
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["list", "delete", "set"])]
    ip: Vec<String>,
    /// Interface MTU (--add, --set)
    #[arg(long, value_name = "N", conflicts_with_all = ["list", "delete"])]
    mtu: Option<u16>,
    /// Do not clamp TCP MSS through tunnels (--add)
    #[arg(long, conflicts_with_all = ["list", "delete", "set"])]
    no_mss_clamp: bool,
    /// Clamp TCP MSS through tunnels (--set)
    #[arg(long, value_name = "BOOL", conflicts_with_all = ["list", "add", "delete"])]
    mss_clamp: Option<bool>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["dump", "add", "delete"])))]
struct RtArgs {
    /// Dump the routes of VRF
    #[arg(long, value_name = "VRF")]
    dump: Option<u32>,
    /// Add a route (--vrf, --prefix, --nh)
    #[arg(long, requires_all = ["vrf", "prefix", "nh"])]
    add: bool,
    /// Delete a route (--vrf, --prefix)
    #[arg(long, requires_all = ["vrf", "prefix"])]
    delete: bool,
    /// Only this address family (--dump)
    #[arg(long, conflicts_with_all = ["add", "delete"])]
    family: Option<FamilyArg>,
    /// The route's VRF (--add, --delete)
    #[arg(long, value_name = "N", conflicts_with = "dump")]
    vrf: Option<u32>,
    /// IPv4 or IPv6 prefix, e.g. 198.51.100.0/24
    #[arg(long, value_name = "PREFIX", conflicts_with = "dump")]
    prefix: Option<String>,
    /// Nexthop id
    #[arg(long, value_name = "ID", conflicts_with_all = ["dump", "delete"])]
    nh: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FamilyArg {
    Inet,
    Inet6,
}

/// The nexthop options that only `--add` takes.
const NOT_NH_ADD: [&str; 2] = ["list", "delete"];

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["list", "add", "delete"])))]
struct NhArgs {
    /// List the nexthops
    #[arg(long)]
    list: bool,
    /// Add a nexthop (--id, --type, and what the type needs)
    #[arg(long, requires_all = ["id", "kind"])]
    add: bool,
    /// Delete nexthop ID
    #[arg(long, value_name = "ID")]
    delete: Option<u32>,
    /// The new nexthop's id
    #[arg(long, value_name = "N", conflicts_with_all = NOT_NH_ADD)]
    id: Option<u32>,
    /// What the nexthop does
    #[arg(long = "type", value_name = "TYPE", conflicts_with_all = NOT_NH_ADD)]
    kind: Option<NhType>,
    /// Tunnel encapsulation
    #[arg(long, required_if_eq("kind", "tunnel"), conflicts_with_all = NOT_NH_ADD)]
    encap: Option<Encap>,
    /// Tunnel endpoint (underlay IPv4)
    #[arg(long, value_name = "IP", required_if_eq("kind", "tunnel"))]
    #[arg(conflicts_with_all = NOT_NH_ADD)]
    dst: Option<String>,
    /// VXLAN VNI
    #[arg(long, value_name = "N", required_if_eq("encap", "vxlan"))]
    #[arg(conflicts_with_all = NOT_NH_ADD)]
    vni: Option<u32>,
    /// MPLS label to push
    #[arg(long, value_name = "N", conflicts_with = "vni", conflicts_with_all = NOT_NH_ADD)]
    #[arg(required_if_eq_any([("encap", "mpls-udp"), ("encap", "mpls-gre")]))]
    label: Option<u32>,
    /// VXLAN inner destination MAC
    #[arg(long, value_name = "MAC", conflicts_with_all = NOT_NH_ADD)]
    inner_mac: Option<String>,
    /// Interface nexthop: the vif to deliver to
    #[arg(long, value_name = "NAME", required_if_eq("kind", "interface"))]
    #[arg(conflicts_with_all = NOT_NH_ADD)]
    vif: Option<String>,
    /// ECMP members (nexthop ids, comma separated)
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        required_if_eq("kind", "ecmp")
    )]
    #[arg(conflicts_with_all = NOT_NH_ADD)]
    members: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum NhType {
    Tunnel,
    Interface,
    Receive,
    Discard,
    Ecmp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Encap {
    Vxlan,
    MplsUdp,
    MplsGre,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["dump", "add", "delete"])))]
struct MplsArgs {
    /// Dump the label map
    #[arg(long)]
    dump: bool,
    /// Map incoming LABEL to --nh
    #[arg(long, value_name = "LABEL", requires = "nh")]
    add: Option<u32>,
    /// Remove LABEL
    #[arg(long, value_name = "LABEL")]
    delete: Option<u32>,
    /// The nexthop the label selects (--add)
    #[arg(long, value_name = "ID", conflicts_with_all = ["dump", "delete"])]
    nh: Option<u32>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["dump", "add", "delete"])))]
struct VxlanArgs {
    /// Dump the VNI map
    #[arg(long)]
    dump: bool,
    /// Map VNI to --vrf
    #[arg(long, value_name = "VNI", requires = "vrf")]
    add: Option<u32>,
    /// Remove VNI
    #[arg(long, value_name = "VNI")]
    delete: Option<u32>,
    /// The VRF the VNI selects (--add)
    #[arg(long, value_name = "N", conflicts_with_all = ["dump", "delete"])]
    vrf: Option<u32>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("action").required(true).args(["add", "delete"])))]
struct VrfArgs {
    /// Add VRF ID
    #[arg(long, value_name = "ID")]
    add: Option<u32>,
    /// Delete VRF ID
    #[arg(long, value_name = "ID")]
    delete: Option<u32>,
    /// VXLAN VNI selecting this VRF
    #[arg(long, value_name = "N", conflicts_with = "delete")]
    vni: Option<u32>,
    /// Source of the VRF's ICMP errors
    #[arg(long, value_name = "ADDR", conflicts_with = "delete")]
    router_ip: Option<String>,
    /// Source of the VRF's ICMPv6 errors and ND answers
    #[arg(long, value_name = "ADDR", conflicts_with = "delete")]
    router_ip6: Option<String>,
}

#[derive(Args, Debug)]
struct DropstatsArgs {
    /// Show every reason, zeros too
    #[arg(long)]
    all: bool,
    /// Counters of one worker only
    #[arg(long, value_name = "N")]
    core: Option<usize>,
}

#[derive(Args, Debug)]
struct StatsArgs {
    /// Zero every counter
    #[arg(long, conflicts_with = "rate")]
    clear: bool,
    /// Live packets/s and Mbit/s per vif
    #[arg(long)]
    rate: bool,
    /// Seconds between samples (--rate)
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_interval)]
    #[arg(requires = "rate", conflicts_with = "clear")]
    interval: f64,
    /// Stop after N samples (--rate)
    #[arg(long, value_name = "N", requires = "rate", conflicts_with = "clear")]
    count: Option<u64>,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.01..=3600.0).contains(&x) => Ok(x),
        _ => Err("expected seconds between 0.01 and 3600".into()),
    }
}

/// What a command line asks for.
#[derive(Debug, PartialEq)]
enum Plan {
    /// One request; its result is shown as `View`.
    Call(Op, View),
    Rate {
        interval: f64,
        count: Option<u64>,
    },
    Monitor,
    Batch(String),
    Version,
}

/// How to show a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    Vifs,
    Routes,
    Nexthops,
    Labels,
    Vnis,
    Drops { all: bool },
    Stats,
    Applied,
    Cleared,
}

fn change(c: Change) -> Plan {
    Plan::Call(Op::Change(c), View::Applied)
}

/// The protocol's name for a value: the same as on the command line (`mpls-udp`).
fn value_name(v: impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// The request a command line makes. Values clap's groups guarantee are unwrapped with
/// defaults that are never used.
fn plan(cmd: &Command) -> Plan {
    match cmd {
        Command::Vif(a) => {
            if let Some(name) = &a.add {
                change(Change::VifAdd {
                    name: name.clone(),
                    vhost_socket: a.vhost_socket.clone(),
                    vhost_client: a.vhost_client,
                    dev: a.dev.clone(),
                    vrf: a.vrf.unwrap_or_default(),
                    mac: a.mac.clone().unwrap_or_default(),
                    ip: a.ip.clone(),
                    mtu: a.mtu,
                    mss_clamp: a.no_mss_clamp.then_some(false),
                })
            } else if let Some(name) = &a.delete {
                change(Change::VifDel { name: name.clone() })
            } else if let Some(name) = &a.set {
                change(Change::VifSet {
                    name: name.clone(),
                    mtu: a.mtu,
                    mss_clamp: a.mss_clamp,
                })
            } else {
                Plan::Call(Op::VifList { core: a.core }, View::Vifs)
            }
        }
        Command::Rt(a) => {
            let vrf = a.vrf.unwrap_or_default();
            let prefix = a.prefix.clone().unwrap_or_default();
            if a.add {
                change(Change::RouteAdd {
                    vrf,
                    prefix,
                    nexthop: a.nh.unwrap_or_default(),
                })
            } else if a.delete {
                change(Change::RouteDel { vrf, prefix })
            } else {
                let family = a.family.map(|f| match f {
                    FamilyArg::Inet => Family::Inet,
                    FamilyArg::Inet6 => Family::Inet6,
                });
                let vrf = a.dump.unwrap_or_default();
                Plan::Call(Op::RtDump { vrf, family }, View::Routes)
            }
        }
        Command::Nh(a) => {
            if a.add {
                change(Change::NhAdd {
                    id: a.id.unwrap_or_default(),
                    kind: a.kind.map(value_name).unwrap_or_default(),
                    encap: a.encap.map(value_name),
                    dst: a.dst.clone(),
                    vni: a.vni,
                    label: a.label,
                    inner_mac: a.inner_mac.clone(),
                    vif: a.vif.clone(),
                    members: a.members.clone(),
                })
            } else if let Some(id) = a.delete {
                change(Change::NhDel { id })
            } else {
                Plan::Call(Op::NhList, View::Nexthops)
            }
        }
        Command::Mpls(a) => match (a.add, a.delete) {
            (Some(label), _) => change(Change::MplsAdd {
                label,
                nexthop: a.nh.unwrap_or_default(),
            }),
            (_, Some(label)) => change(Change::MplsDel { label }),
            _ => Plan::Call(Op::MplsDump, View::Labels),
        },
        Command::Vxlan(a) => match (a.add, a.delete) {
            (Some(vni), _) => change(Change::VniAdd {
                vni,
                vrf: a.vrf.unwrap_or_default(),
            }),
            (_, Some(vni)) => change(Change::VniDel { vni }),
            _ => Plan::Call(Op::VxlanDump, View::Vnis),
        },
        Command::Vrf(a) => match (a.add, a.delete) {
            (Some(id), _) => change(Change::VrfAdd {
                id,
                vni: a.vni,
                router_ip: a.router_ip.clone(),
                router_ip6: a.router_ip6.clone(),
            }),
            (_, id) => change(Change::VrfDel {
                id: id.unwrap_or_default(),
            }),
        },
        Command::Dropstats(a) => {
            Plan::Call(Op::Dropstats { core: a.core }, View::Drops { all: a.all })
        }
        Command::Stats(a) if a.clear => Plan::Call(Op::ClearCounters, View::Cleared),
        Command::Stats(a) if a.rate => Plan::Rate {
            interval: a.interval,
            count: a.count,
        },
        Command::Stats(_) => Plan::Call(Op::Stats, View::Stats),
        Command::Monitor => Plan::Monitor,
        Command::Batch { file } => Plan::Batch(file.clone()),
        Command::Version => Plan::Version,
    }
}

/// Parses a batch file: a JSON array of changes. Errors name the change at fault.
fn parse_batch(text: &str) -> anyhow::Result<Vec<Change>> {
    let items: Vec<Value> =
        serde_json::from_str(text).context("expected a JSON array of changes")?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| serde_json::from_value(v).map_err(|e| anyhow!("changes[{i}]: {e}")))
        .collect()
}

// ---- formatting -------------------------------------------------------------------------

/// A column: its header and whether its cells are numbers (right-aligned).
type Col<'a> = (&'a str, bool);

/// Renders rows under headers, columns two spaces apart, no trailing blanks.
fn table(cols: &[Col], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = cols.iter().map(|(h, _)| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let headers: Vec<String> = cols.iter().map(|(h, _)| h.to_string()).collect();
    for row in std::iter::once(&headers).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let (w, right) = (widths[i], cols[i].1);
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A field as text: "-" when absent or null, lists comma-joined.
fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.is_empty() => "-".into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn format_vifs(r: &Value) -> String {
    let cols = [
        ("VIF", true),
        ("NAME", false),
        ("TYPE", false),
        ("MAC", false),
        ("IP", false),
        ("VRF", true),
        ("MTU", true),
        ("FLAGS", false),
        ("RX PKTS", true),
        ("RX BYTES", true),
        ("TX PKTS", true),
        ("TX BYTES", true),
        ("ERRORS", true),
        ("DROPS", true),
    ];
    let rows: Vec<Vec<String>> = list(r, "vifs")
        .iter()
        .map(|v| {
            vec![
                text(v, "index"),
                text(v, "name"),
                text(v, "type"),
                text(v, "mac"),
                text(v, "ip"),
                text(v, "vrf"),
                text(v, "mtu"),
                text(v, "flags"),
                num(v, "rx_packets").to_string(),
                num(v, "rx_bytes").to_string(),
                num(v, "tx_packets").to_string(),
                num(v, "tx_bytes").to_string(),
                (num(v, "hw_ierrors") + num(v, "hw_oerrors")).to_string(),
                (num(v, "tx_dropped") + num(v, "hw_imissed")).to_string(),
            ]
        })
        .collect();
    table(&cols, &rows)
}

fn format_routes(r: &Value) -> String {
    let routes = list(r, "routes");
    let rows: Vec<Vec<String>> = routes
        .iter()
        .map(|rt| vec![text(rt, "prefix"), text(rt, "nexthop")])
        .collect();
    let mut out = format!("VRF {}: {} routes\n", text(r, "vrf"), routes.len());
    out.push_str(&table(&[("PREFIX", false), ("NEXTHOP", true)], &rows));
    out
}

/// What a nexthop does, in words: `vxlan dst 203.0.113.2 vni 100 ...`.
fn nexthop_detail(nh: &Value) -> String {
    let mut parts = Vec::new();
    let mut add = |key: &str, label: &str| {
        if let Some(x) = nh.get(key).filter(|x| !x.is_null()) {
            if !x.as_array().is_some_and(Vec::is_empty) {
                parts.push(format!("{label} {}", text(nh, key)));
            }
        }
    };
    add("dst", "dst");
    add("vni", "vni");
    add("label", "label");
    add("inner_mac", "inner_mac");
    add("vif", "vif");
    add("mac", "mac");
    add("members", "members");
    add("pmtu", "pmtu");
    if nh.get("type").and_then(Value::as_str) == Some("tunnel") {
        parts.push(match nh.get("neighbor_mac").and_then(Value::as_str) {
            Some(mac) => format!("neighbor {mac}"),
            None => "neighbor unresolved".into(),
        });
    }
    if let Some(encap) = nh.get("encap").and_then(Value::as_str) {
        parts.insert(0, encap.to_string());
    }
    parts.join(" ")
}

fn format_nexthops(r: &Value) -> String {
    let rows: Vec<Vec<String>> = list(r, "nexthops")
        .iter()
        .map(|nh| vec![text(nh, "id"), text(nh, "type"), nexthop_detail(nh)])
        .collect();
    table(&[("ID", true), ("TYPE", false), ("DETAILS", false)], &rows)
}

fn format_labels(r: &Value) -> String {
    let rows: Vec<Vec<String>> = list(r, "labels")
        .iter()
        .map(|l| vec![text(l, "label"), text(l, "nexthop")])
        .collect();
    table(&[("LABEL", true), ("NEXTHOP", true)], &rows)
}

fn format_vnis(r: &Value) -> String {
    let rows: Vec<Vec<String>> = list(r, "vnis")
        .iter()
        .map(|l| vec![text(l, "vni"), text(l, "vrf")])
        .collect();
    table(&[("VNI", true), ("VRF", true)], &rows)
}

/// `name  count` lines of a counter object, by name; zeros left out unless `all`.
fn counter_lines(counters: Option<&Value>, all: bool) -> String {
    let mut rows: Vec<Vec<String>> = counters
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, n)| {
            let n = n.as_u64().unwrap_or(0);
            (all || n != 0).then(|| vec![name.clone(), n.to_string()])
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort();
    let t = table(&[("", false), ("", true)], &rows);
    // Drop the (empty) header line.
    t.split_once('\n')
        .map_or(t.clone(), |(_, rest)| rest.to_string())
}

fn format_drops(r: &Value, all: bool) -> String {
    let lines = counter_lines(r.get("drops"), all);
    if lines.is_empty() {
        "no packets dropped\n".into()
    } else {
        lines
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

fn format_stats(r: &Value) -> String {
    let mut out = String::new();
    let ports: Vec<Vec<String>> = list(r, "ports")
        .iter()
        .map(|p| {
            let mut row = vec![text(p, "name")];
            for k in [
                "rx_packets",
                "rx_bytes",
                "tx_packets",
                "tx_bytes",
                "tx_dropped",
                "hw_imissed",
                "hw_ierrors",
                "hw_oerrors",
            ] {
                row.push(num(p, k).to_string());
            }
            row
        })
        .collect();
    let port_cols = [
        ("PORT", false),
        ("RX PKTS", true),
        ("RX BYTES", true),
        ("TX PKTS", true),
        ("TX BYTES", true),
        ("TX DROPPED", true),
        ("HW IMISSED", true),
        ("HW IERRORS", true),
        ("HW OERRORS", true),
    ];
    out.push_str(&table(&port_cols, &ports));

    let sum = |v: &Value, k: &str| -> u64 {
        match v.get(k) {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).sum(),
            Some(x) => x.as_u64().unwrap_or(0),
            None => 0,
        }
    };
    let workers: Vec<Vec<String>> = list(r, "per_core")
        .iter()
        .map(|w| {
            vec![
                text(w, "worker"),
                sum(w, "rx_packets").to_string(),
                sum(w, "tx_packets").to_string(),
                sum(w, "drops").to_string(),
            ]
        })
        .collect();
    let worker_cols = [
        ("WORKER", true),
        ("RX PKTS", true),
        ("TX PKTS", true),
        ("DROPS", true),
    ];
    out.push('\n');
    out.push_str(&table(&worker_cols, &workers));

    for (title, key) in [("drops", "drops"), ("events", "events")] {
        let lines = counter_lines(r.get(key), false);
        if lines.is_empty() {
            let _ = writeln!(out, "\n{title}: none");
        } else {
            let _ = write!(out, "\n{title}:\n{}", indent(&lines));
        }
    }
    if let Some(m) = r.get("mempool").and_then(Value::as_object) {
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "\nmempool: {}", parts.join(", "));
    }
    out
}

fn format_applied(r: &Value) -> String {
    let n = num(r, "applied");
    let s = if n == 1 { "" } else { "s" };
    match r.get("publish_us").and_then(Value::as_u64) {
        Some(us) => format!("applied {n} change{s}, published in {us} µs\n"),
        None => format!("applied {n} change{s}\n"),
    }
}

fn format_event(ev: &MissEvent) -> String {
    let mut s = format!("{} vrf {} {}", ev.kind, ev.vrf, ev.addr);
    if let Some(vif) = &ev.vif {
        let _ = write!(s, " from {vif}");
    }
    s
}

fn render(view: View, r: &Value) -> String {
    match view {
        View::Vifs => format_vifs(r),
        View::Routes => format_routes(r),
        View::Nexthops => format_nexthops(r),
        View::Labels => format_labels(r),
        View::Vnis => format_vnis(r),
        View::Drops { all } => format_drops(r, all),
        View::Stats => format_stats(r),
        View::Applied => format_applied(r),
        View::Cleared => "counters cleared\n".into(),
    }
}

/// Per-vif rates between two `vif_list` results `secs` apart: (table, JSON).
fn rates(prev: &Value, cur: &Value, secs: f64) -> (String, Value) {
    let key = |v: &Value| (text(v, "index"), text(v, "name"));
    let mut rows = Vec::new();
    let mut vifs = Vec::new();
    for v in list(cur, "vifs") {
        let Some(p) = list(prev, "vifs").iter().find(|p| key(p) == key(v)) else {
            continue; // new since the last sample
        };
        // A counter that went down was cleared: count from zero.
        let delta = |k: &str| num(v, k).saturating_sub(num(p, k)) as f64 / secs;
        let drops = |x: &Value| num(x, "tx_dropped") + num(x, "hw_imissed");
        let d = drops(v).saturating_sub(drops(p)) as f64 / secs;
        let (rx_pps, tx_pps) = (delta("rx_packets"), delta("tx_packets"));
        let (rx_mbps, tx_mbps) = (delta("rx_bytes") * 8e-6, delta("tx_bytes") * 8e-6);
        rows.push(vec![
            text(v, "name"),
            format!("{rx_pps:.0}"),
            format!("{rx_mbps:.1}"),
            format!("{tx_pps:.0}"),
            format!("{tx_mbps:.1}"),
            format!("{d:.0}"),
        ]);
        vifs.push(json!({
            "name": text(v, "name"), "rx_pps": rx_pps, "rx_mbps": rx_mbps,
            "tx_pps": tx_pps, "tx_mbps": tx_mbps, "drops_ps": d,
        }));
    }
    let cols = [
        ("VIF", false),
        ("RX PPS", true),
        ("RX MBIT/S", true),
        ("TX PPS", true),
        ("TX MBIT/S", true),
        ("DROPS/S", true),
    ];
    (
        table(&cols, &rows),
        json!({ "interval_s": secs, "vifs": vifs }),
    )
}

// ---- running ------------------------------------------------------------------------------

/// Writes to stdout; a closed pipe (`| head`) ends the program quietly.
fn emit(s: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => Ok(r?),
    }
}

fn socket_path(cli: &Cli) -> PathBuf {
    cli.socket
        .clone()
        .or_else(|| std::env::var_os("VROUTER_SOCKET").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

fn connect(cli: &Cli) -> anyhow::Result<Client> {
    let path = socket_path(cli);
    Client::connect(&path).map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::PermissionDenied => "the API socket is root's only",
            _ => "is vrouter running? (--socket or VROUTER_SOCKET name another socket)",
        };
        anyhow!("cannot connect to {}: {e}; {hint}", path.display())
    })
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    match plan(&cli.cmd) {
        Plan::Call(op, view) => {
            let result = connect(cli)?.call(op)?;
            if cli.json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&result)?))
            } else {
                emit(&render(view, &result))
            }
        }
        Plan::Batch(file) => {
            let text = if file == "-" {
                let mut s = String::new();
                io::stdin().read_to_string(&mut s).context("stdin")?;
                s
            } else {
                std::fs::read_to_string(&file).with_context(|| file.clone())?
            };
            let changes = parse_batch(&text).with_context(|| file.clone())?;
            let result = connect(cli)?.call(Op::Batch { changes })?;
            if cli.json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&result)?))
            } else {
                emit(&format_applied(&result))
            }
        }
        Plan::Rate { interval, count } => run_rate(cli, interval, count),
        Plan::Monitor => {
            let client = connect(cli)?;
            if cli.json {
                client.monitor_raw(|v| {
                    emit(&format!("{v}\n"))?;
                    Ok(true)
                })
            } else {
                let mut failed = None;
                client.monitor(|ev| match emit(&format!("{}\n", format_event(&ev))) {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                })?;
                failed.map_or(Ok(()), Err)
            }
        }
        Plan::Version => {
            let mine = format!(
                "vrouterctl {} (api {API_VERSION})",
                env!("CARGO_PKG_VERSION")
            );
            let theirs = connect(cli)?.call(Op::Version)?;
            if cli.json {
                return emit(&format!("{}\n", serde_json::to_string_pretty(&theirs)?));
            }
            emit(&format!(
                "{mine}\nvrouter {} (api {})\n",
                text(&theirs, "vrouter"),
                text(&theirs, "api")
            ))?;
            if theirs.get("api").and_then(Value::as_u64) != Some(u64::from(API_VERSION)) {
                bail!("the router speaks another API version");
            }
            Ok(())
        }
    }
}

fn run_rate(cli: &Cli, interval: f64, count: Option<u64>) -> anyhow::Result<()> {
    let mut client = connect(cli)?;
    let tty = !cli.json && io::stdout().is_terminal();
    let op = || Op::VifList { core: None };
    let mut prev = (Instant::now(), client.call(op())?);
    let mut shown = 0;
    while count.is_none_or(|c| shown < c) {
        thread::sleep(Duration::from_secs_f64(interval));
        let cur = (Instant::now(), client.call(op())?);
        let secs = cur.0.duration_since(prev.0).as_secs_f64().max(1e-6);
        let (tab, js) = rates(&prev.1, &cur.1, secs);
        if cli.json {
            emit(&format!("{js}\n"))?;
        } else if tty {
            // Cursor home, clear the screen: the table refreshes in place.
            emit(&format!("\x1b[H\x1b[2Jevery {interval} s\n{tab}"))?;
        } else {
            let sep = if shown == 0 { "" } else { "\n" };
            emit(&format!("{sep}{tab}"))?;
        }
        prev = cur;
        shown += 1;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vrouterctl: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Plan, clap::Error> {
        let argv = std::iter::once("vrouterctl").chain(args.split_whitespace());
        Cli::try_parse_from(argv).map(|c| plan(&c.cmd))
    }

    fn op(args: &str) -> Op {
        match parse(args).unwrap_or_else(|e| panic!("{args}: {e}")) {
            Plan::Call(op, _) => op,
            other => panic!("{args}: {other:?}"),
        }
    }

    fn chg(args: &str) -> Change {
        match op(args) {
            Op::Change(c) => c,
            other => panic!("{args}: {other:?}"),
        }
    }

    #[test]
    fn listing_commands_map_to_their_ops() {
        assert_eq!(op("vif --list"), Op::VifList { core: None });
        assert_eq!(op("vif --list --core 2"), Op::VifList { core: Some(2) });
        assert_eq!(
            op("rt --dump 1"),
            Op::RtDump {
                vrf: 1,
                family: None
            }
        );
        assert_eq!(
            op("rt --dump 3 --family inet6"),
            Op::RtDump {
                vrf: 3,
                family: Some(Family::Inet6)
            }
        );
        assert_eq!(op("nh --list"), Op::NhList);
        assert_eq!(op("mpls --dump"), Op::MplsDump);
        assert_eq!(op("vxlan --dump"), Op::VxlanDump);
        assert_eq!(op("dropstats"), Op::Dropstats { core: None });
        assert_eq!(op("dropstats --core 1"), Op::Dropstats { core: Some(1) });
        assert_eq!(
            parse("dropstats --all").unwrap(),
            Plan::Call(Op::Dropstats { core: None }, View::Drops { all: true })
        );
        assert_eq!(op("stats"), Op::Stats);
        assert_eq!(op("stats --clear"), Op::ClearCounters);
        assert_eq!(parse("version").unwrap(), Plan::Version);
        assert_eq!(parse("monitor --json").unwrap(), Plan::Monitor);
        assert_eq!(parse("batch -").unwrap(), Plan::Batch("-".into()));
        assert_eq!(
            parse("stats --rate").unwrap(),
            Plan::Rate {
                interval: 1.0,
                count: None
            }
        );
        assert_eq!(
            parse("stats --rate --interval 0.5 --count 3").unwrap(),
            Plan::Rate {
                interval: 0.5,
                count: Some(3)
            }
        );
    }

    #[test]
    fn vif_changes() {
        assert_eq!(
            chg("vif --add vm1 --vhost-socket /run/vrouter/vm1.sock --vhost-client --vrf 1 \
                 --mac 02:00:00:00:01:02 --ip 198.51.100.2 --ip 2001:db8::2 --mtu 1450 --no-mss-clamp"),
            Change::VifAdd {
                name: "vm1".into(),
                vhost_socket: Some("/run/vrouter/vm1.sock".into()),
                vhost_client: true,
                dev: None,
                vrf: 1,
                mac: "02:00:00:00:01:02".into(),
                ip: vec!["198.51.100.2".into(), "2001:db8::2".into()],
                mtu: Some(1450),
                mss_clamp: Some(false),
            }
        );
        assert_eq!(
            chg("vif --add p1 --dev net_tap0,iface=t0 --vrf 2 --mac 02:00:00:00:00:09"),
            Change::VifAdd {
                name: "p1".into(),
                vhost_socket: None,
                vhost_client: false,
                dev: Some("net_tap0,iface=t0".into()),
                vrf: 2,
                mac: "02:00:00:00:00:09".into(),
                ip: vec![],
                mtu: None,
                mss_clamp: None,
            }
        );
        assert_eq!(
            chg("vif --delete vm1"),
            Change::VifDel { name: "vm1".into() }
        );
        assert_eq!(
            chg("vif --set vm1 --mtu 9000 --mss-clamp false"),
            Change::VifSet {
                name: "vm1".into(),
                mtu: Some(9000),
                mss_clamp: Some(false)
            }
        );
        assert_eq!(
            chg("vif --set vm1 --mss-clamp true"),
            Change::VifSet {
                name: "vm1".into(),
                mtu: None,
                mss_clamp: Some(true)
            }
        );
    }

    #[test]
    fn table_changes() {
        assert_eq!(
            chg("rt --add --vrf 1 --prefix 198.51.100.0/24 --nh 10"),
            Change::RouteAdd {
                vrf: 1,
                prefix: "198.51.100.0/24".into(),
                nexthop: 10
            }
        );
        assert_eq!(
            chg("rt --delete --vrf 1 --prefix 2001:db8::/64"),
            Change::RouteDel {
                vrf: 1,
                prefix: "2001:db8::/64".into()
            }
        );
        assert_eq!(
            chg(
                "nh --add --id 10 --type tunnel --encap vxlan --dst 203.0.113.2 --vni 100 \
                 --inner-mac 02:00:00:00:02:01"
            ),
            Change::NhAdd {
                id: 10,
                kind: "tunnel".into(),
                encap: Some("vxlan".into()),
                dst: Some("203.0.113.2".into()),
                vni: Some(100),
                label: None,
                inner_mac: Some("02:00:00:00:02:01".into()),
                vif: None,
                members: vec![],
            }
        );
        let Change::NhAdd { encap, label, .. } =
            chg("nh --add --id 11 --type tunnel --encap mpls-gre --dst 203.0.113.3 --label 200")
        else {
            panic!()
        };
        assert_eq!((encap.as_deref(), label), (Some("mpls-gre"), Some(200)));
        let Change::NhAdd { kind, vif, .. } = chg("nh --add --id 12 --type interface --vif vm1")
        else {
            panic!()
        };
        assert_eq!((kind.as_str(), vif.as_deref()), ("interface", Some("vm1")));
        let Change::NhAdd { kind, members, .. } =
            chg("nh --add --id 13 --type ecmp --members 10,11,12")
        else {
            panic!()
        };
        assert_eq!((kind.as_str(), members), ("ecmp", vec![10, 11, 12]));
        let Change::NhAdd { kind, .. } = chg("nh --add --id 14 --type discard") else {
            panic!()
        };
        assert_eq!(kind, "discard");
        assert_eq!(chg("nh --delete 10"), Change::NhDel { id: 10 });
        assert_eq!(
            chg("mpls --add 300 --nh 11"),
            Change::MplsAdd {
                label: 300,
                nexthop: 11
            }
        );
        assert_eq!(chg("mpls --delete 300"), Change::MplsDel { label: 300 });
        assert_eq!(
            chg("vxlan --add 100 --vrf 1"),
            Change::VniAdd { vni: 100, vrf: 1 }
        );
        assert_eq!(chg("vxlan --delete 100"), Change::VniDel { vni: 100 });
        assert_eq!(
            chg("vrf --add 2 --vni 200 --router-ip 198.51.100.254 --router-ip6 fe80::1"),
            Change::VrfAdd {
                id: 2,
                vni: Some(200),
                router_ip: Some("198.51.100.254".into()),
                router_ip6: Some("fe80::1".into())
            }
        );
        assert_eq!(
            chg("vrf --add 3"),
            Change::VrfAdd {
                id: 3,
                vni: None,
                router_ip: None,
                router_ip6: None
            }
        );
        assert_eq!(chg("vrf --delete 2"), Change::VrfDel { id: 2 });
    }

    #[test]
    fn bad_combinations_are_refused() {
        for bad in [
            "vif",
            "vif --list --delete vm1",
            "vif --list --mtu 1500",
            "vif --delete vm1 --vrf 1",
            "vif --add vm1 --vrf 1 --mac 02:00:00:00:00:01",
            "vif --add vm1 --dev net_tap0 --mac 02:00:00:00:00:01",
            "vif --add vm1 --dev net_tap0 --vrf 1",
            "vif --add vm1 --dev d --vhost-socket s --vrf 1 --mac m",
            "vif --add vm1 --dev d --vhost-client --vrf 1 --mac m",
            "vif --set vm1",
            "vif --set vm1 --no-mss-clamp",
            "vif --set vm1 --mss-clamp maybe",
            "vif --add vm1 --dev d --vrf 1 --mac m --mss-clamp true",
            "vif --core 1",
            "rt",
            "rt --dump",
            "rt --dump 1 --add",
            "rt --add --vrf 1 --prefix 10.0.0.0/8",
            "rt --delete --vrf 1",
            "rt --dump 1 --vrf 2",
            "rt --dump 1 --family ipx",
            "rt --delete --vrf 1 --prefix 10.0.0.0/8 --nh 3",
            "nh --list --delete 3",
            "nh --add --id 10",
            "nh --add --id 10 --type tunnel",
            "nh --add --id 10 --type tunnel --encap vxlan --dst 203.0.113.2",
            "nh --add --id 10 --type tunnel --encap mpls-udp --dst 203.0.113.2",
            "nh --add --id 10 --type tunnel --encap vxlan --dst 1.2.3.4 --vni 1 --label 2",
            "nh --add --id 10 --type interface",
            "nh --add --id 10 --type ecmp",
            "nh --add --id 10 --type bogus",
            "nh --list --vni 3",
            "mpls --add 300",
            "mpls --dump --nh 3",
            "vxlan --add 100",
            "vxlan --dump --delete 100",
            "vrf --add 1 --delete 1",
            "vrf --delete 1 --vni 3",
            "stats --clear --rate",
            "stats --clear --interval 2",
            "vif --add vm1 --dev d --vrf 1 --mac m --core 1",
            "vif --delete vm1 --ip 1.2.3.4",
            "vif --set vm1 --mtu 1500 --vrf 2",
            "rt --add --vrf 1 --prefix 10.0.0.0/8 --nh 3 --family inet",
            "nh --delete 3 --vni 5",
            "nh --delete 3 --members 1,2",
            "mpls --delete 300 --nh 3",
            "vxlan --delete 100 --vrf 3",
            "vrf --delete 1 --router-ip 1.2.3.4",
            "stats --interval 2",
            "stats --rate --interval 0",
            "stats --rate --interval x",
            "batch",
            "bogus",
        ] {
            assert!(parse(bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["vrouterctl", "vif", "--list", "--json", "--socket", "/x"])
            .unwrap();
        assert!(cli.json);
        assert_eq!(socket_path(&cli), PathBuf::from("/x"));
        let cli = Cli::try_parse_from(["vrouterctl", "--socket", "/y", "nh", "--list"]).unwrap();
        assert_eq!(socket_path(&cli), PathBuf::from("/y"));
    }

    #[test]
    fn batch_files_name_the_change_at_fault() {
        let ok = parse_batch(
            r#"[{"op":"vrf_add","id":1,"vni":100},
                {"op":"route_add","vrf":1,"prefix":"198.51.100.0/24","nexthop":10}]"#,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        let e = parse_batch(r#"[{"op":"vrf_del","id":1},{"op":"vrf_del","id":2,"bogus":1}]"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("changes[1]: unknown field `bogus`"),
            "{e}"
        );
        assert!(parse_batch(r#"{"op":"vrf_del","id":1}"#).is_err());
    }

    #[test]
    fn vif_table() {
        let r = json!({"vifs": [
            {"index":0,"name":"fabric","type":"fabric","dev":"net_af_packet0,iface=vr-fab",
             "mac":"02:00:00:00:00:01","ip":["203.0.113.1"],"vrf":null,"mtu":1500,"flags":[],
             "rx_packets":1234,"rx_bytes":567890,"tx_packets":1200,"tx_bytes":560000,
             "tx_dropped":2,"hw_ierrors":1,"hw_oerrors":1,"hw_imissed":5,"future":true},
            {"index":1,"name":"vm1","type":"vhost","mac":"02:00:00:00:01:02",
             "ip":["198.51.100.2","2001:db8:1::2"],"vrf":1,"mtu":1450,"flags":["mss_clamp"],
             "rx_packets":7,"rx_bytes":700,"tx_packets":9,"tx_bytes":900,
             "tx_dropped":0,"hw_ierrors":0,"hw_oerrors":0,"hw_imissed":0}
        ]});
        let expected = "\
VIF  NAME    TYPE    MAC                IP                          VRF   MTU  FLAGS      RX PKTS  RX BYTES  TX PKTS  TX BYTES  ERRORS  DROPS
  0  fabric  fabric  02:00:00:00:00:01  203.0.113.1                   -  1500  -             1234    567890     1200    560000       2      7
  1  vm1     vhost   02:00:00:00:01:02  198.51.100.2,2001:db8:1::2    1  1450  mss_clamp        7       700        9       900       0      0
";
        assert_eq!(format_vifs(&r), expected);
    }

    #[test]
    fn route_nexthop_label_vni_tables() {
        let r = json!({"vrf":1,"routes":[
            {"prefix":"198.51.100.0/24","nexthop":10},
            {"prefix":"198.51.100.2/32","nexthop":65537}]});
        assert_eq!(
            format_routes(&r),
            "\
VRF 1: 2 routes
PREFIX           NEXTHOP
198.51.100.0/24       10
198.51.100.2/32    65537
"
        );
        let r = json!({"nexthops":[
            {"id":10,"type":"tunnel","encap":"vxlan","dst":"203.0.113.2","vni":100,
             "inner_mac":"02:00:00:00:02:01","neighbor_mac":"02:00:00:00:00:02","pmtu":1400},
            {"id":20,"type":"tunnel","encap":"mpls-udp","dst":"203.0.113.3","label":200,
             "inner_mac":null,"neighbor_mac":null,"pmtu":null},
            {"id":11,"type":"interface","vif":"vm1","mac":"02:00:00:00:01:02"},
            {"id":12,"type":"ecmp","members":[10,11]},
            {"id":13,"type":"discard"},
            {"id":14,"type":"receive"}]});
        assert_eq!(
            format_nexthops(&r),
            "\
ID  TYPE       DETAILS
10  tunnel     vxlan dst 203.0.113.2 vni 100 inner_mac 02:00:00:00:02:01 pmtu 1400 neighbor 02:00:00:00:00:02
20  tunnel     mpls-udp dst 203.0.113.3 label 200 neighbor unresolved
11  interface  vif vm1 mac 02:00:00:00:01:02
12  ecmp       members 10,11
13  discard
14  receive
"
        );
        assert_eq!(
            format_labels(&json!({"labels":[{"label":300,"nexthop":11},{"label":16,"nexthop":7}]})),
            "LABEL  NEXTHOP\n  300       11\n   16        7\n"
        );
        assert_eq!(
            format_vnis(&json!({"vnis":[{"vni":100,"vrf":1},{"vni":16777215,"vrf":4095}]})),
            "     VNI   VRF\n     100     1\n16777215  4095\n"
        );
    }

    #[test]
    fn dropstats_and_stats() {
        let r = json!({"drops":{"no_route":3,"unknown_vni":0,"ttl_expired":12}});
        assert_eq!(
            format_drops(&r, false),
            "no_route      3\nttl_expired  12\n"
        );
        assert_eq!(
            format_drops(&r, true),
            "no_route      3\nttl_expired  12\nunknown_vni   0\n"
        );
        assert_eq!(
            format_drops(&json!({"drops":{"no_route":0}}), false),
            "no packets dropped\n"
        );
        let stats = json!({
            "per_core":[{"worker":0,"rx_packets":[10,5],"tx_packets":[4,11],"drops":1}],
            "ports":[{"name":"fabric","rx_packets":10,"rx_bytes":1000,"tx_packets":4,
                      "tx_bytes":400,"tx_dropped":0,"hw_ipackets":10,"hw_opackets":4,
                      "hw_imissed":0,"hw_ierrors":0,"hw_oerrors":0}],
            "drops":{"no_route":1,"unknown_vni":0},
            "events":{"arp_replied":0},
            "mempool":{"in_use_at_start":10,"capacity":8191}
        });
        assert_eq!(
            format_stats(&stats),
            "\
PORT    RX PKTS  RX BYTES  TX PKTS  TX BYTES  TX DROPPED  HW IMISSED  HW IERRORS  HW OERRORS
fabric       10      1000        4       400           0           0           0           0

WORKER  RX PKTS  TX PKTS  DROPS
     0       15       15      1

drops:
  no_route  1

events: none

mempool: capacity 8191, in_use_at_start 10
"
        );
    }

    #[test]
    fn results_events_and_rates() {
        assert_eq!(
            format_applied(&json!({"applied":3,"publish_us":41})),
            "applied 3 changes, published in 41 µs\n"
        );
        assert_eq!(format_applied(&json!({"applied":1})), "applied 1 change\n");
        let ev = MissEvent {
            kind: "no_route".into(),
            vrf: 1,
            addr: "198.51.100.99".into(),
            vif: Some("vm1".into()),
        };
        assert_eq!(format_event(&ev), "no_route vrf 1 198.51.100.99 from vm1");
        let prev = json!({"vifs":[
            {"index":0,"name":"fabric","rx_packets":1000,"rx_bytes":1_000_000,"tx_packets":0,"tx_bytes":0},
            {"index":1,"name":"vm1","rx_packets":50,"rx_bytes":5000,"tx_packets":50,"tx_bytes":5000}]});
        let cur = json!({"vifs":[
            {"index":0,"name":"fabric","rx_packets":3000,"rx_bytes":3_500_000,"tx_packets":10,"tx_bytes":1000,"tx_dropped":4},
            {"index":1,"name":"vm1","rx_packets":0,"rx_bytes":0,"tx_packets":0,"tx_bytes":0},
            {"index":2,"name":"vm2","rx_packets":9,"rx_bytes":9,"tx_packets":9,"tx_bytes":9}]});
        let (tab, js) = rates(&prev, &cur, 2.0);
        assert_eq!(
            tab,
            "\
VIF     RX PPS  RX MBIT/S  TX PPS  TX MBIT/S  DROPS/S
fabric    1000       10.0       5        0.0        2
vm1          0        0.0       0        0.0        0
"
        );
        assert_eq!(js["vifs"][0]["rx_pps"], json!(1000.0));
        assert_eq!(js["vifs"].as_array().unwrap().len(), 2);
    }
}
