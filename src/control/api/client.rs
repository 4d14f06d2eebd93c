//! A client of the API socket (what `vrouterctl` uses).
//!
//! Responses are read leniently (fields this client does not know are ignored) so that an
//! older `vrouterctl` keeps working against a newer router of the same API version.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::proto::{MissEvent, Op, Request, API_VERSION};

/// An error the router answered with: the field at fault and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for CallError {}

/// A connection to the router's API socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Client {
    /// Connects to the socket at `path`.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<Client> {
        let writer = UnixStream::connect(path)?;
        let reader = BufReader::new(writer.try_clone()?);
        Ok(Client {
            reader,
            writer,
            next_id: 1,
        })
    }

    /// Sends `op` and waits for its answer: the `result` on success, a [`CallError`] (shown as
    /// "field: message") when the router refused it.
    pub fn call(&mut self, op: Op) -> anyhow::Result<Value> {
        let id = self.send(op)?;
        let line = self
            .read_line()?
            .ok_or_else(|| anyhow!("the router closed the connection without answering"))?;
        let resp: Value =
            serde_json::from_str(&line).context("the router's response is not JSON")?;
        into_result(resp, id)
    }

    /// Streams miss notifications to `f` until it returns false. Ends with an error if the
    /// router closes the stream.
    pub fn monitor(self, mut f: impl FnMut(MissEvent) -> bool) -> anyhow::Result<()> {
        self.monitor_raw(|v| Ok(f(event_from_value(&v)?)))
    }

    /// Like [`Client::monitor`], with each notification as the JSON the router sent.
    pub fn monitor_raw(
        mut self,
        mut f: impl FnMut(Value) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        self.call(Op::Monitor)?;
        loop {
            let line = self
                .read_line()?
                .ok_or_else(|| anyhow!("the router closed the monitor stream"))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value =
                serde_json::from_str(&line).context("a miss notification is not JSON")?;
            if !f(v)? {
                return Ok(());
            }
        }
    }

    fn send(&mut self, op: Op) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let req = Request {
            v: API_VERSION,
            id,
            op,
        };
        let mut line = serde_json::to_vec(&req)?;
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .context("cannot send the request")?;
        Ok(id)
    }

    fn read_line(&mut self) -> anyhow::Result<Option<String>> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .context("cannot read the router's response")?;
        Ok((n > 0).then_some(line))
    }
}

/// The `result` of a response to request `id`, or its error.
fn into_result(resp: Value, id: u64) -> anyhow::Result<Value> {
    let Value::Object(mut resp) = resp else {
        bail!("the router's response is not a JSON object");
    };
    let ok = resp.get("ok").and_then(Value::as_bool);
    let got_id = resp.get("id").and_then(Value::as_u64).unwrap_or(0);
    if ok == Some(false) {
        let err = resp.get("error");
        let text = |k: &str| {
            err.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        };
        return Err(CallError {
            field: text("field"),
            message: text("message"),
        }
        .into());
    }
    if ok != Some(true) {
        bail!("the router's response has no \"ok\"");
    }
    if got_id != id {
        bail!("the router answered request {got_id}, not {id}");
    }
    Ok(resp.remove("result").unwrap_or(Value::Null))
}

fn event_from_value(v: &Value) -> anyhow::Result<MissEvent> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let vrf = v
        .get("vrf")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    match (text("kind"), vrf, text("addr")) {
        (Some(kind), Some(vrf), Some(addr)) => Ok(MissEvent {
            kind,
            vrf,
            addr,
            vif: text("vif"),
        }),
        _ => bail!("malformed miss notification: {v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_and_errors() {
        let r = into_result(json!({"v":1,"id":4,"ok":true,"result":{"a":1},"new":0}), 4);
        assert_eq!(r.unwrap(), json!({"a":1}));
        let e = into_result(
            json!({"v":1,"id":4,"ok":false,"error":{"field":"changes[0].vrf","message":"VRF 7 is not defined"}}),
            4,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "changes[0].vrf: VRF 7 is not defined");
        assert!(e.downcast_ref::<CallError>().is_some());
        assert!(into_result(json!({"v":1,"id":3,"ok":true}), 4).is_err());
        assert!(into_result(json!([1]), 4).is_err());
    }

    #[test]
    fn events_are_read_leniently() {
        let ev = event_from_value(
            &json!({"kind":"no_route","vrf":1,"addr":"198.51.100.99","vif":"vm1","extra":1}),
        )
        .unwrap();
        assert_eq!(ev.vif.as_deref(), Some("vm1"));
        let ev = event_from_value(&json!({"kind":"arp_unresolved","vrf":0,"addr":"203.0.113.2"}))
            .unwrap();
        assert_eq!(ev.vif, None);
        assert!(event_from_value(&json!({"kind":"no_route"})).is_err());
    }
}
