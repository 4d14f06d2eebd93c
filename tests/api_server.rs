//! The API server and client over a real Unix socket, with a stand-in control loop, and
//! `vrouterctl` run as the operator would run it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vrouter::control::api::client::{CallError, Client};
use vrouter::control::api::proto::{Change, MissEvent, Op, Response, MAX_REQUEST_BYTES};
use vrouter::control::api::server::{self, ApiRequest};

/// A fresh directory for one test's socket (the socket itself one level down, so that the
/// server has to create its parent).
fn sock_path(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vrouter-api-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("run").join("api.sock")
}

fn cleanup(path: &Path) {
    let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
}

/// Stands in for the router's control loop: answers `version`, `vif_list` with two vifs,
/// refuses `vrf_del 99`, and echoes anything else.
fn fake_control_loop(rx: Receiver<ApiRequest>) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let mut served = 0;
        for req in rx {
            served += 1;
            let resp = match &req.op {
                Op::Version => Response::ok(0, json!({"api": 1, "vrouter": "0.1.0"})),
                Op::VifList { .. } => Response::ok(
                    0,
                    json!({"vifs": [
                        {"index": 0, "name": "fabric", "type": "fabric", "mac": "02:00:00:00:00:01",
                         "ip": ["203.0.113.1"], "vrf": null, "mtu": 1500, "flags": [],
                         "rx_packets": 10, "rx_bytes": 1000, "tx_packets": 20, "tx_bytes": 2000,
                         "tx_dropped": 0, "hw_ierrors": 0, "hw_oerrors": 0, "hw_imissed": 0},
                        {"index": 1, "name": "vm1", "type": "vhost", "mac": "02:00:00:00:01:02",
                         "ip": ["198.51.100.2"], "vrf": 1, "mtu": 1450, "flags": ["mss_clamp"],
                         "rx_packets": 5, "rx_bytes": 500, "tx_packets": 6, "tx_bytes": 600,
                         "tx_dropped": 1, "hw_ierrors": 0, "hw_oerrors": 0, "hw_imissed": 0}]}),
                ),
                Op::Change(Change::VrfDel { id: 99 }) => {
                    Response::err(0, "changes[0].id", "VRF 99 is not defined")
                }
                op => Response::ok(0, json!({ "echo": op })),
            };
            let _ = req.reply.send(resp);
        }
        served
    })
}

/// Sends raw lines and reads one response line per request.
fn raw_exchange(path: &Path, line: &[u8]) -> Value {
    let s = UnixStream::connect(path).unwrap();
    (&s).write_all(line).unwrap();
    let mut resp = String::new();
    BufReader::new(&s).read_line(&mut resp).unwrap();
    serde_json::from_str(&resp).unwrap_or_else(|e| panic!("{resp:?}: {e}"))
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn requests_replies_and_errors() {
    let path = sock_path("requests");
    let (handle, rx, _hub) = server::spawn(&path).unwrap();
    assert_eq!(handle.path(), path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    let control = fake_control_loop(rx);

    let mut c = Client::connect(&path).unwrap();
    assert_eq!(c.call(Op::Version).unwrap()["api"], 1);
    let r = c
        .call(Op::RtDump {
            vrf: 3,
            family: None,
        })
        .unwrap();
    assert_eq!(
        r["echo"],
        json!({"op": "rt_dump", "args": {"vrf": 3, "family": null}})
    );
    let e = c.call(Op::Change(Change::VrfDel { id: 99 })).unwrap_err();
    let e = e.downcast::<CallError>().unwrap();
    assert_eq!(e.field, "changes[0].id");
    assert_eq!(e.to_string(), "changes[0].id: VRF 99 is not defined");
    // Same connection, still usable after an error.
    assert_eq!(c.call(Op::NhList).unwrap()["echo"]["op"], "nh_list");

    // Malformed requests: each answered with the field at fault, on the same connection.
    let s = UnixStream::connect(&path).unwrap();
    let mut lines = BufReader::new(s.try_clone().unwrap());
    let mut ask = |line: &str| -> Value {
        (&s).write_all(line.as_bytes()).unwrap();
        (&s).write_all(b"\n").unwrap();
        let mut resp = String::new();
        lines.read_line(&mut resp).unwrap();
        serde_json::from_str(&resp).unwrap()
    };
    let r = ask("this is not json");
    assert_eq!(
        (r["ok"].clone(), r["error"]["field"].clone()),
        (json!(false), json!("request"))
    );
    let r = ask(r#"{"v":1,"id":5,"op":"change","args":{"op":"vrf_del","id":1,"bogus":1}}"#);
    assert_eq!(r["id"], 5, "{r}");
    assert_eq!(r["error"]["field"], "request");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("bogus"),
        "{r}"
    );
    let r = ask(r#"{"v":1,"id":6,"op":"no_such_op"}"#);
    assert_eq!((r["id"].clone(), r["ok"].clone()), (json!(6), json!(false)));
    let r = ask(r#"{"v":2,"id":7,"op":"version"}"#);
    assert_eq!(
        (r["id"].clone(), r["error"]["field"].clone()),
        (json!(7), json!("v"))
    );
    let r = ask(r#"{"v":1,"id":8,"op":"version"}"#);
    assert_eq!((r["id"].clone(), r["ok"].clone()), (json!(8), json!(true)));
    drop(s);

    // A line longer than the limit: refused, the connection closed, the server still serving.
    let s = UnixStream::connect(&path).unwrap();
    let writer = {
        let s = s.try_clone().unwrap();
        thread::spawn(move || {
            let mut big = vec![b'x'; MAX_REQUEST_BYTES + 1];
            big.push(b'\n');
            // The server stops reading midway and closes: this write may fail.
            let _ = (&s).write_all(&big);
        })
    };
    let mut resp = String::new();
    BufReader::new(&s).read_line(&mut resp).unwrap();
    writer.join().unwrap();
    let r: Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(r["error"]["field"], "request", "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("longer"),
        "{r}"
    );
    let r = raw_exchange(&path, b"{\"v\":1,\"id\":9,\"op\":\"version\"}\n");
    assert_eq!(r["ok"], true);

    drop(c);
    drop(handle);
    assert!(!path.exists(), "the socket file outlived the server");
    assert!(UnixStream::connect(&path).is_err());
    // Every connection was closed with the server, so the control loop sees the end.
    assert_eq!(control.join().unwrap(), 6);
    cleanup(&path);
}

#[test]
fn monitor_subscribers_receive_events() {
    let path = sock_path("monitor");
    let (handle, rx, hub) = server::spawn(&path).unwrap();
    let _control = fake_control_loop(rx);
    let (tx, events) = mpsc::channel();
    let watcher = {
        let c = Client::connect(&path).unwrap();
        thread::spawn(move || {
            c.monitor(|ev| {
                tx.send(ev).unwrap();
                false // one is enough
            })
        })
    };
    wait_for("the subscriber", || hub.subscribers() == 1);
    let ev = MissEvent {
        kind: "no_route".into(),
        vrf: 1,
        addr: "198.51.100.99".into(),
        vif: Some("vm1".into()),
    };
    hub.publish(&ev);
    assert_eq!(events.recv_timeout(Duration::from_secs(5)).unwrap(), ev);
    watcher.join().unwrap().unwrap();
    // The client closed: its subscription goes without waiting for the next event.
    wait_for("the unsubscription", || hub.subscribers() == 0);

    // Dropping the server ends a monitor stream with an error the operator sees.
    let c = Client::connect(&path).unwrap();
    let watcher = thread::spawn(move || c.monitor(|_| true));
    wait_for("the second subscriber", || hub.subscribers() == 1);
    drop(handle);
    let e = watcher.join().unwrap().unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
    cleanup(&path);
}

#[test]
fn stale_and_foreign_socket_files() {
    let path = sock_path("stale");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A socket nobody listens on (a crashed router's) is replaced.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let (handle, rx, _hub) = server::spawn(&path).unwrap();
    // One somebody serves is not.
    let e = server::spawn(&path)
        .err()
        .expect("a second server on a live socket");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
    // With the control loop gone, requests get an error rather than hanging.
    drop(rx);
    let e = Client::connect(&path).unwrap().call(Op::Stats).unwrap_err();
    assert!(e.to_string().starts_with("router: "), "{e}");
    drop(handle);

    // A path that is not a socket is left alone.
    std::fs::write(&path, b"precious").unwrap();
    let e = server::spawn(&path)
        .err()
        .expect("spawn over a regular file");
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    cleanup(&path);
}

#[test]
fn vrouterctl_against_the_server() {
    let path = sock_path("ctl");
    let (handle, rx, _hub) = server::spawn(&path).unwrap();
    let _control = fake_control_loop(rx);
    let ctl = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vrouterctl"))
            .arg("--socket")
            .arg(&path)
            .args(args)
            .output()
            .unwrap()
    };

    let out = ctl(&["vif", "--list"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("VIF  NAME    TYPE"), "{text}");
    assert!(
        text.lines().nth(2).unwrap().contains("vm1     vhost"),
        "{text}"
    );

    let out = ctl(&["--json", "rt", "--dump", "1", "--family", "inet"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["echo"]["args"], json!({"vrf": 1, "family": "inet"}));

    let out = ctl(&["vrf", "--delete", "99"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "vrouterctl: error: changes[0].id: VRF 99 is not defined\n"
    );

    let out = ctl(&["stats", "--rate", "--interval", "0.05", "--count", "2"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("RX PPS").count(), 2, "{text}");
    assert!(!text.contains('\x1b'), "escape codes on a pipe: {text:?}");

    drop(handle);
    let out = ctl(&["nh", "--list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&*path.to_string_lossy()), "{err}");
    assert!(err.contains("is vrouter running?"), "{err}");
    cleanup(&path);
}
