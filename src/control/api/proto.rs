//! The API's messages: one JSON object per line over a Unix stream socket.
//!
//! Request:  `{"v": 1, "id": 7, "op": "batch", "args": {"changes": [ ... ]}}`
//! Response: `{"v": 1, "id": 7, "ok": true, "result": ...}` or
//!           `{"v": 1, "id": 7, "ok": false, "error": {"field": "changes[3].prefix", "message": "..."}}`
//!
//! Unknown fields are errors everywhere (a typo must not be silently ignored).

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const API_VERSION: u32 = 1;
/// Largest request line accepted (bytes); longer ones are refused with an error.
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

/// A request line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Protocol version; must be [`API_VERSION`].
    pub v: u32,
    /// Echoed in the response.
    #[serde(default)]
    pub id: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// What a request asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "op",
    content = "args",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Op {
    /// Versions of the API and the router.
    Version,
    /// Apply changes atomically: all or nothing, visible to the workers at once.
    Batch { changes: Vec<Change> },
    /// One change (a batch of one).
    Change(Change),
    /// The vifs, with counters (summed, or of one worker).
    VifList {
        #[serde(default)]
        core: Option<usize>,
    },
    /// The routes of a VRF.
    RtDump {
        vrf: u32,
        #[serde(default)]
        family: Option<Family>,
    },
    /// The nexthops.
    NhList,
    /// The MPLS label map.
    MplsDump,
    /// The VNI → VRF map.
    VxlanDump,
    /// Drop counters by reason (summed, or of one worker).
    Dropstats {
        #[serde(default)]
        core: Option<usize>,
    },
    /// Every counter (the same JSON as `--stats-json`).
    Stats,
    /// Zero every counter.
    ClearCounters,
    /// Stream miss notifications (one JSON object per line) until the client closes.
    Monitor,
}

/// Address family filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
}

/// One change to the forwarding state. The configuration file is turned into a list of these
/// and applied through the same code as an API batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    VrfAdd {
        id: u32,
        #[serde(default)]
        vni: Option<u32>,
        #[serde(default)]
        router_ip: Option<String>,
        #[serde(default)]
        router_ip6: Option<String>,
    },
    VrfDel {
        id: u32,
    },
    VifAdd {
        name: String,
        #[serde(default)]
        vhost_socket: Option<String>,
        #[serde(default)]
        vhost_client: bool,
        #[serde(default)]
        dev: Option<String>,
        vrf: u32,
        mac: String,
        #[serde(default)]
        ip: Vec<String>,
        #[serde(default)]
        mtu: Option<u16>,
        #[serde(default)]
        mss_clamp: Option<bool>,
    },
    VifDel {
        name: String,
    },
    /// Interface MTU and flags.
    VifSet {
        name: String,
        #[serde(default)]
        mtu: Option<u16>,
        #[serde(default)]
        mss_clamp: Option<bool>,
    },
    NhAdd {
        id: u32,
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        encap: Option<String>,
        #[serde(default)]
        dst: Option<String>,
        #[serde(default)]
        vni: Option<u32>,
        #[serde(default)]
        label: Option<u32>,
        #[serde(default)]
        inner_mac: Option<String>,
        #[serde(default)]
        vif: Option<String>,
        /// ECMP composite: member nexthop ids (type "ecmp").
        #[serde(default)]
        members: Vec<u32>,
    },
    NhDel {
        id: u32,
    },
    RouteAdd {
        vrf: u32,
        prefix: String,
        nexthop: u32,
    },
    RouteDel {
        vrf: u32,
        prefix: String,
    },
    /// Many routes of one VRF to one nexthop: how an agent programs routes fast (a compact
    /// request, parsed several times faster than as many `route_add`s).
    RouteAddBulk {
        vrf: u32,
        nexthop: u32,
        prefixes: Vec<String>,
    },
    /// Many routes of one VRF removed.
    RouteDelBulk {
        vrf: u32,
        prefixes: Vec<String>,
    },
    MplsAdd {
        label: u32,
        nexthop: u32,
    },
    MplsDel {
        label: u32,
    },
    VniAdd {
        vni: u32,
        vrf: u32,
    },
    VniDel {
        vni: u32,
    },
}

/// A response line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub v: u32,
    #[serde(default)]
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// An error, naming the field at fault (`changes[3].prefix`, `args`, `v`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    pub field: String,
    pub message: String,
}

impl Response {
    /// A success.
    pub fn ok(id: u64, result: serde_json::Value) -> Response {
        Response {
            v: API_VERSION,
            id,
            ok: true,
            result: Some(result),
            error: None,
        }
    }
    /// A failure.
    pub fn err(id: u64, field: impl Into<String>, message: impl Into<String>) -> Response {
        Response {
            v: API_VERSION,
            id,
            ok: false,
            result: None,
            error: Some(ApiError {
                field: field.into(),
                message: message.into(),
            }),
        }
    }
}

/// A miss notification (`vrouterctl monitor`): a VM packet the router could not forward for
/// want of state a control plane can supply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissEvent {
    /// "no_route" or "arp_unresolved".
    pub kind: String,
    pub vrf: u32,
    /// The destination (no_route) or the underlay next hop (arp_unresolved).
    pub addr: String,
    /// The vif it came from, if any.
    #[serde(default)]
    pub vif: Option<String>,
}

/// Parses a request line; errors name the field.
pub fn parse_request(line: &str) -> Result<Request, ApiError> {
    let req: Request = serde_json::from_str(line).map_err(|e| ApiError {
        field: "request".into(),
        message: e.to_string(),
    })?;
    if req.v != API_VERSION {
        return Err(ApiError {
            field: "v".into(),
            message: format!(
                "version {} is not supported (this router speaks {API_VERSION})",
                req.v
            ),
        });
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown_fields() {
        let line = r#"{"v":1,"id":3,"op":"batch","args":{"changes":[{"op":"route_add","vrf":1,"prefix":"198.51.100.0/24","nexthop":10}]}}"#;
        let r = parse_request(line).unwrap();
        assert_eq!(r.id, 3);
        let Op::Batch { changes } = &r.op else {
            panic!()
        };
        assert!(matches!(
            &changes[0],
            Change::RouteAdd {
                vrf: 1,
                nexthop: 10,
                ..
            }
        ));
        let again = serde_json::to_string(&r).unwrap();
        assert_eq!(parse_request(&again).unwrap(), r);
        let e = parse_request(r#"{"v":1,"op":"batch","args":{"changes":[{"op":"route_add","vrf":1,"prefix":"x","nexthop":1,"bogus":1}]}}"#)
            .unwrap_err();
        assert!(e.message.contains("bogus"), "{e:?}");
        assert_eq!(
            parse_request(r#"{"v":2,"op":"version"}"#)
                .unwrap_err()
                .field,
            "v"
        );
        assert!(parse_request("not json").is_err());
        let r = parse_request(r#"{"v":1,"op":"change","args":{"op":"vrf_del","id":4}}"#).unwrap();
        assert_eq!(r.op, Op::Change(Change::VrfDel { id: 4 }));
        let r = parse_request(r#"{"v":1,"op":"nh_list"}"#).unwrap();
        assert_eq!(r.op, Op::NhList);
        let e =
            parse_request(r#"{"v":1,"op":"rt_dump","args":{"vrf":1,"famly":"inet"}}"#).unwrap_err();
        assert!(e.message.contains("famly"), "{e:?}");
    }
}
