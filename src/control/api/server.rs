//! The API socket: a Unix stream socket, one JSON request per line (see [`proto`]).
//!
//! The socket's threads only frame and parse. Every request is handed to the control loop as an
//! [`ApiRequest`] and answered with the [`Response`] it sends back, so the tables keep a single
//! writer. Miss notifications go the other way, through the [`MonitorHub`], to every client that
//! asked for `monitor`.
//!
//! The socket is root's only (mode 0600): whoever can write to it can reprogram the router.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::proto::{self, MissEvent, Op, Response, API_VERSION, MAX_REQUEST_BYTES};

/// How long `publish` waits on one subscriber whose socket buffer is full before dropping it:
/// a stuck `vrouterctl monitor` must not stall the control loop.
const MONITOR_WRITE_TIMEOUT: Duration = Duration::from_millis(20);
/// How long dropping the [`ServerHandle`] waits for the accept thread.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// A request for the control loop. Answer it by sending one [`Response`] on `reply`; its `v` and
/// `id` are filled in by the server.
#[derive(Debug)]
pub struct ApiRequest {
    pub op: Op,
    pub id: u64,
    pub reply: Sender<Response>,
}

/// The `monitor` subscribers. Cloned freely; the control loop keeps one to publish misses.
#[derive(Clone, Default)]
pub struct MonitorHub {
    subs: Arc<Mutex<Vec<Subscriber>>>,
    next_id: Arc<AtomicU64>,
}

struct Subscriber {
    id: u64,
    stream: UnixStream,
}

impl MonitorHub {
    /// A hub with no subscribers (the router's tests; [`spawn`] makes the real one).
    pub fn new() -> MonitorHub {
        MonitorHub::default()
    }

    /// Writes `ev` as one JSON line to every subscriber. A subscriber whose write fails, or
    /// does not complete within a few milliseconds (it stopped reading), is dropped.
    pub fn publish(&self, ev: &MissEvent) {
        let mut line = match serde_json::to_vec(ev) {
            Ok(l) => l,
            Err(e) => {
                log::warn!("api: cannot serialise miss event {ev:?}: {e}");
                return;
            }
        };
        line.push(b'\n');
        lock(&self.subs).retain(|s| match (&s.stream).write_all(&line) {
            Ok(()) => true,
            Err(e) => {
                log::info!("api: dropping monitor subscriber {}: {e}", s.id);
                // Wakes the connection's thread, which is waiting for the client to close.
                let _ = s.stream.shutdown(Shutdown::Both);
                false
            }
        });
    }

    /// How many clients are monitoring.
    pub fn subscribers(&self) -> usize {
        lock(&self.subs).len()
    }

    fn subscribe(&self, stream: &UnixStream) -> io::Result<u64> {
        let stream = stream.try_clone()?;
        stream.set_write_timeout(Some(MONITOR_WRITE_TIMEOUT))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.subs).push(Subscriber { id, stream });
        Ok(id)
    }

    fn unsubscribe(&self, id: u64) {
        lock(&self.subs).retain(|s| s.id != id);
    }
}

/// The running server. Dropping it stops accepting, closes the open connections and removes
/// the socket file.
pub struct ServerHandle {
    path: PathBuf,
    /// (st_dev, st_ino) of the socket we bound: the file is removed only if it is still ours.
    inode: (u64, u64),
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    /// Every open connection, to shut them down with the server.
    conns: Mutex<HashMap<u64, UnixStream>>,
    next_conn: AtomicU64,
}

impl ServerHandle {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept() by connecting to ourselves.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.accept.take() {
            let deadline = Instant::now() + SHUTDOWN_WAIT;
            while !t.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                // Someone removed or replaced our socket file; never hang the router's exit.
                log::warn!("api: the accept thread did not stop; leaving it behind");
            }
        }
        for (_, c) in lock(&self.shared.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Ok(md) = fs::symlink_metadata(&self.path) {
            if (md.dev(), md.ino()) == self.inode {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds the API socket at `path` and serves it on its own threads.
///
/// Creates the parent directory if needed and replaces a stale socket file (one nobody is
/// listening on); refuses to touch a path that is not a socket or that another process serves.
/// Returns the handle (drop it to stop), the requests for the control loop and the hub for miss
/// notifications.
pub fn spawn(path: &Path) -> io::Result<(ServerHandle, Receiver<ApiRequest>, MonitorHub)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| with_path(e, dir, "cannot create"))?;
    }
    remove_stale(path)?;
    let listener = UnixListener::bind(path).map_err(|e| with_path(e, path, "cannot bind"))?;
    let secured = fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .and_then(|()| fs::symlink_metadata(path))
        .and_then(|md| {
            // Connections made before the chmod (umask permitting) are closed unserved.
            drain_backlog(&listener)?;
            Ok((md.dev(), md.ino()))
        });
    let inode = match secured {
        Ok(i) => i,
        Err(e) => {
            let _ = fs::remove_file(path);
            return Err(with_path(e, path, "cannot secure"));
        }
    };

    let (tx, rx) = mpsc::channel();
    let hub = MonitorHub::new();
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        conns: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(0),
    });
    let accept = {
        let (shared, hub) = (shared.clone(), hub.clone());
        thread::Builder::new()
            .name("api-accept".into())
            .spawn(move || accept_loop(listener, &shared, &tx, &hub))
    };
    let accept = match accept {
        Ok(t) => t,
        Err(e) => {
            let _ = fs::remove_file(path);
            return Err(e);
        }
    };
    log::info!("api: listening on {}", path.display());
    let handle = ServerHandle {
        path: path.to_path_buf(),
        inode,
        shared,
        accept: Some(accept),
    };
    Ok((handle, rx, hub))
}

fn with_path(e: io::Error, path: &Path, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn remove_stale(path: &Path) -> io::Result<()> {
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(with_path(e, path, "cannot inspect")),
    };
    if !md.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; not removing it",
                path.display()
            ),
        ));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{}: another process is serving this socket", path.display()),
        ));
    }
    log::info!("api: removing stale socket {}", path.display());
    fs::remove_file(path).map_err(|e| with_path(e, path, "cannot remove stale socket"))
}

fn drain_backlog(listener: &UnixListener) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => drop(s),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    listener.set_nonblocking(false)
}

fn accept_loop(
    listener: UnixListener,
    shared: &Arc<Shared>,
    tx: &Sender<ApiRequest>,
    hub: &MonitorHub,
) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log::warn!("api: accept: {e}");
                // Out of file descriptors, most likely: don't spin.
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(c) = stream.try_clone() {
            lock(&shared.conns).insert(id, c);
        }
        let (shared2, tx, hub) = (shared.clone(), tx.clone(), hub.clone());
        let spawned = thread::Builder::new()
            .name("api-conn".into())
            .spawn(move || {
                serve(stream, &tx, &hub);
                lock(&shared2.conns).remove(&id);
            });
        if let Err(e) = spawned {
            log::warn!("api: cannot start a connection thread: {e}");
            lock(&shared.conns).remove(&id);
        }
    }
}

/// The outcome of reading one request line.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// A line (without its newline) is in the buffer; also a last line without one.
    Line,
    /// The client closed.
    Eof,
    /// The line is longer than the limit; what was read of it is discarded.
    TooLong,
}

/// Reads one line into `buf`, never holding more than `max` bytes of it.
fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<LineRead> {
    buf.clear();
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if buf.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line
            });
        }
        let newline = avail.iter().position(|&b| b == b'\n');
        let content = newline.unwrap_or(avail.len());
        if buf.len() + content > max {
            buf.clear();
            return Ok(LineRead::TooLong);
        }
        buf.extend_from_slice(&avail[..content]);
        match newline {
            Some(i) => {
                r.consume(i + 1);
                return Ok(LineRead::Line);
            }
            None => r.consume(content),
        }
    }
}

/// The id of a request that did not parse, if it has one we can read.
fn salvage_id(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("id")?.as_u64())
        .unwrap_or(0)
}

fn write_response(w: &mut impl Write, resp: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(resp).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)
}

/// One client connection: requests in, responses out, in order.
fn serve(stream: UnixStream, tx: &Sender<ApiRequest>, hub: &MonitorHub) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            log::warn!("api: {e}");
            return;
        }
    };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        match read_line_bounded(&mut reader, &mut line, MAX_REQUEST_BYTES) {
            Ok(LineRead::Line) => {}
            Ok(LineRead::Eof) => return,
            Ok(LineRead::TooLong) => {
                let msg = format!("request line longer than {MAX_REQUEST_BYTES} bytes");
                let _ = write_response(&mut writer, &Response::err(0, "request", msg));
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Err(e) => {
                log::debug!("api: read: {e}");
                return;
            }
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            let resp = Response::err(0, "request", "request line is not valid UTF-8");
            if write_response(&mut writer, &resp).is_err() {
                return;
            }
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let resp = match proto::parse_request(text) {
            Err(e) => Response::err(salvage_id(text), e.field, e.message),
            Ok(req) if req.op == Op::Monitor => {
                monitor(&mut writer, &mut reader, req.id, hub);
                return;
            }
            Ok(req) => dispatch(tx, req.op, req.id),
        };
        if write_response(&mut writer, &resp).is_err() {
            return;
        }
    }
}

/// Hands a request to the control loop and waits for its answer.
fn dispatch(tx: &Sender<ApiRequest>, op: Op, id: u64) -> Response {
    let (reply, answer) = mpsc::channel();
    if tx.send(ApiRequest { op, id, reply }).is_err() {
        return Response::err(id, "router", "the router's control loop is not running");
    }
    match answer.recv() {
        Ok(mut resp) => {
            resp.v = API_VERSION;
            resp.id = id;
            resp
        }
        Err(_) => Response::err(
            id,
            "router",
            "the control loop dropped the request unanswered",
        ),
    }
}

/// Subscribes the connection to miss notifications until the client closes.
fn monitor(writer: &mut UnixStream, reader: &mut impl Read, id: u64, hub: &MonitorHub) {
    let ok = Response::ok(id, serde_json::json!({ "monitoring": true }));
    if write_response(writer, &ok).is_err() {
        return;
    }
    let sub = match hub.subscribe(writer) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("api: monitor: {e}");
            return;
        }
    };
    // Whatever the client sends now is ignored; EOF (or the hub shutting us) ends it.
    let mut sink = [0u8; 512];
    loop {
        match reader.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    hub.unsubscribe(sub);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], cap: usize, max: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut r = BufReader::with_capacity(cap, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let l = read_line_bounded(&mut r, &mut buf, max).unwrap();
            let stop = l != LineRead::Line;
            out.push((l, buf.clone()));
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn lines_are_bounded_whatever_the_buffer_size() {
        for cap in [1, 3, 64] {
            let got = read_all(b"abc\n\nxyz", cap, 3);
            assert_eq!(
                got,
                vec![
                    (LineRead::Line, b"abc".to_vec()),
                    (LineRead::Line, vec![]),
                    (LineRead::Line, b"xyz".to_vec()),
                    (LineRead::Eof, vec![]),
                ],
                "cap {cap}"
            );
            let got = read_all(b"ab\nabcd\nx\n", cap, 3);
            assert_eq!(got[0], (LineRead::Line, b"ab".to_vec()));
            assert_eq!(got[1], (LineRead::TooLong, vec![]));
        }
    }

    #[test]
    fn salvages_the_id_of_a_bad_request() {
        assert_eq!(salvage_id(r#"{"v":1,"id":9,"op":"nope"}"#), 9);
        assert_eq!(salvage_id("{not json"), 0);
    }

    #[test]
    fn publish_drops_dead_subscribers() {
        let hub = MonitorHub::new();
        let (a, a_peer) = UnixStream::pair().unwrap();
        let (b, b_peer) = UnixStream::pair().unwrap();
        hub.subscribe(&a).unwrap();
        hub.subscribe(&b).unwrap();
        drop((a, b));
        drop(b_peer);
        let ev = MissEvent {
            kind: "no_route".into(),
            vrf: 1,
            addr: "198.51.100.99".into(),
            vif: Some("vm1".into()),
        };
        hub.publish(&ev);
        assert_eq!(hub.subscribers(), 1);
        let mut line = String::new();
        BufReader::new(a_peer).read_line(&mut line).unwrap();
        let got: MissEvent = serde_json::from_str(&line).unwrap();
        assert_eq!(got, ev);
    }

    #[test]
    fn a_stuck_subscriber_is_dropped_quickly() {
        let hub = MonitorHub::new();
        let (a, _a_peer_never_reads) = UnixStream::pair().unwrap();
        hub.subscribe(&a).unwrap();
        let ev = MissEvent {
            kind: "arp_unresolved".into(),
            vrf: 0,
            addr: "203.0.113.9".into(),
            vif: None,
        };
        let t = Instant::now();
        for _ in 0..100_000 {
            hub.publish(&ev);
            if hub.subscribers() == 0 {
                break;
            }
        }
        assert_eq!(hub.subscribers(), 0);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
}
