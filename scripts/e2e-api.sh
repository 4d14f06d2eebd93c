#!/usr/bin/env bash
# Control-plane end-to-end test: the router's API socket and vrouterctl, in the namespace
# topology of e2e-vxlan.sh (scripts/topo.sh, scripts/vxlan-demo.toml):
#   scripts/e2e-api.sh [VROUTER_BIN]      (default target/release/vrouter; vrouterctl is
#                                          taken from the same directory)
#  1. views: vif/rt/nh/vxlan/mpls/dropstats/stats/stats --rate/version, text and --json;
#     vm1's counters grow with traffic;
#  2. misuse: bad JSON, unknown fields, bad prefix, undefined nexthop, a batch whose last
#     change is bad, deleting a nexthop in use, a request over 64 MiB, a wrong protocol
#     version: each a clear error (exit 1) naming the field, and nothing changes;
#  3. a batch of 10000 IPv6 routes applied at once (readers see all or none), then deleted;
#  4. miss notifications (vrouterctl monitor): no_route, arp_unresolved, rate-limited;
#  5. hot add/remove of a vhost-user vif (a second testpmd VM in netns vr-vm2) while VM1
#     pings the remote at 20/s: at most 2 lost; then SIGTERM and the mempool check.
# Needs root and hugepages (scripts/setup-host.sh). Takes about 30 s (bounded waits: < 3 min).
# KEEP=1 keeps /tmp/vrouter-e2e (logs, JSON views, stats) after a passing run.
set -euo pipefail
LOG_TAG=e2e-api
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"
BIN=$(resolve_bin "${1:-}")
CTL=$(dirname "$BIN")/vrouterctl
[[ -x $CTL ]] || CTL=$REPO_ROOT/target/release/vrouterctl
[[ -x $CTL ]] || die "vrouterctl not found next to $BIN (cargo build --release)"
STATS=$E2E_DIR/stats.json
API_SOCK=$E2E_DIR/api.sock
CFG=$E2E_DIR/vxlan-demo.toml     # scripts/vxlan-demo.toml, its vhost socket under $E2E_DIR
VM2_SOCK=$E2E_DIR/vm2.sock
V=$E2E_DIR/views                 # what each command printed
MON_PID=
MON_OUT=$E2E_DIR/monitor.jsonl
PING_PID=
POLL_PID=
T0=$SECONDS

diagnostics() {
    echo "===== diagnostics ($E2E_DIR)"
    dump_file "$ROUTER_LOG" 80
    dump_file "$VM_LOG" 30
    [[ -f $VM2_LOG ]] && dump_file "$VM2_LOG" 30
    [[ -f $MON_OUT ]] && dump_file "$MON_OUT" 20
    topo_status 2>&1 | grep -vE '^\s+link/loopback' || true
    [[ -f $STATS ]] && { echo "----- $STATS"; cat "$STATS"; echo; }
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    trap "" PIPE
    local p
    for p in "$POLL_PID" "$PING_PID" "$MON_PID"; do
        [[ -n $p ]] && stop_pid "$p" helper TERM 3 || true
    done
    vm2_stop || true
    router_stop 10 >/dev/null 2>&1 || true
    vm_stop || true
    ((N_FAIL == 0 && rc == 0)) || diagnostics
    topo_down >/dev/null 2>&1 || true
    if ((N_FAIL == 0 && rc == 0)) && [[ -z ${KEEP:-} ]]; then
        rm -rf "$E2E_DIR"
    else
        log "logs kept in $E2E_DIR"
    fi
    log "took $((SECONDS - T0)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----------------------------------------------------------------------------- helpers
ctl() { "$CTL" --socket "$API_SOCK" "$@"; }

# jexpr FILE EXPR: the Python expression EXPR, with j = the JSON in FILE, must be true.
jexpr() {
    $PY - "$1" "$2" <<'PYEOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
try:
    j = json.load(open(path))
except Exception as e:
    sys.exit(f"{path}: not JSON ({e}):\n" + open(path, errors="replace").read()[:800])
try:
    ok = eval(expr, {"j": j})
except Exception as e:
    sys.exit(f"{expr}: {type(e).__name__}: {e}\n  JSON: {json.dumps(j)[:800]}")
if not ok:
    sys.exit(f"false: {expr}\n  JSON: {json.dumps(j)[:800]}")
PYEOF
}

# view NAME EXPR ctl-args...: vrouterctl --json ARGS into $V/NAME.json (exit 0), then EXPR.
view() {
    local name=$1 expr=$2
    shift 2
    ctl --json "$@" >"$V/$name.json" 2>"$V/$name.err" \
        || { echo "vrouterctl $* --json failed:"; cat "$V/$name.err"; return 1; }
    jexpr "$V/$name.json" "$expr"
}

# text NAME ERE ctl-args...: vrouterctl ARGS (text) into $V/NAME.txt; each ERE (separated
# by ' && ') must match a line.
text() {
    local name=$1 res=$2 re
    shift 2
    ctl "$@" >"$V/$name.txt" 2>"$V/$name.err" \
        || { echo "vrouterctl $* failed:"; cat "$V/$name.err"; return 1; }
    while IFS= read -r re; do
        grep -Eq -- "$re" "$V/$name.txt" || { echo "no line matches /$re/ in:"; head -30 "$V/$name.txt"; return 1; }
    done <<<"${res// && /$'\n'}"
}

# snapshot FILE: what the misuse cases must leave alone (routes of VRF 1, nexthops, VNIs,
# labels, vif names).
snapshot() {
    {
        ctl --json rt --dump 1 && ctl --json nh --list && ctl --json vxlan --dump \
            && ctl --json mpls --dump && ctl --json vif --list | grep -E '"(name|index)"'
    } >"$1" 2>&1
}

# misuse DESC ERE cmd...: the command must exit 1 with a message matching ERE (the field at
# fault) on stderr, and the snapshot must not change. The message is shown.
N_MISUSE=0
misuse() {
    local desc=$1 re=$2 rc=0 err why=
    shift 2
    N_MISUSE=$((N_MISUSE + 1))
    local b=$E2E_DIR/misuse-$N_MISUSE
    snapshot "$b.before"
    "$@" >"$b.out" 2>"$b.err" || rc=$?
    snapshot "$b.after"
    err=$(head -c 400 "$b.err")
    ((rc == 1)) || why="exit $rc, not 1"
    [[ -z $why ]] && ! grep -Eq -- "$re" "$b.err" && why="stderr does not match /$re/"
    [[ -z $why ]] && ! cmp -s "$b.before" "$b.after" && why="the tables changed"
    if [[ -z $why ]]; then
        pass "$desc -> exit 1: $err"
    else
        fail "$desc ($why)"
        printf '    stdout: %s\n    stderr: %s\n' "$(head -c 300 "$b.out")" "$err"
        diff "$b.before" "$b.after" | head -20 | sed 's/^/    /'
    fi
}

# raw EXPECT_FIELD ERE LINE|--huge: one request straight to the socket (python); the response
# must be ok:false with error.field == EXPECT_FIELD and a message matching ERE. --huge sends
# a line of 64 MiB + 1 KiB.
raw() {
    $PY - "$API_SOCK" "$@" <<'PYEOF'
import json, re, socket, sys, threading
path, field, msg_re, what = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(path)
if what == "--huge":
    data = b'{"v":1,"id":9,"op":"version","pad":"' + b"x" * ((64 << 20) + 1024) + b'"}\n'
else:
    data = what.encode() + b"\n"
sent = []
def send():
    try:
        s.sendall(data)
        sent.append(len(data))
    except OSError as e:  # the router may stop reading once it has answered
        sent.append(f"stopped: {e.strerror or e}")
t = threading.Thread(target=send, daemon=True)
t.start()
buf = b""
try:
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
except OSError as e:
    sys.exit(f"reading the response: {e}; got {buf[:300]!r}")
t.join(10)
line = buf.split(b"\n")[0]
try:
    resp = json.loads(line)
except ValueError:
    sys.exit(f"response is not JSON: {line[:300]!r} (sent: {sent})")
print(f"response: {json.dumps(resp)}  (sent {len(data)} bytes: {sent[0] if sent else '?'})")
err = resp.get("error") or {}
if resp.get("ok") is not False or err.get("field") != field or not re.search(msg_re, err.get("message", "")):
    sys.exit(f"expected ok:false, error.field {field!r}, message ~ /{msg_re}/")
PYEOF
}

# raw_misuse DESC FIELD ERE LINE: raw(), plus the snapshot must not change; shows the answer.
raw_misuse() {
    local desc=$1 out rc=0
    shift
    N_MISUSE=$((N_MISUSE + 1))
    local b=$E2E_DIR/misuse-$N_MISUSE
    snapshot "$b.before"
    out=$(raw "$@" 2>&1) || rc=$?
    snapshot "$b.after"
    if ((rc == 0)) && cmp -s "$b.before" "$b.after"; then
        pass "$desc -> $(printf '%s' "$out" | head -c 300)"
    else
        ((rc == 0)) && out="the tables changed: $out"
        fail "$desc"
        printf '%s\n' "$out" | head -c 1000 | sed 's/^/    /'
        diff "$b.before" "$b.after" | head -20 | sed 's/^/    /'
    fi
}

# vif_counter NAME KEY: one counter of a vif from vif --list --json.
vif_counter() {
    ctl --json vif --list | $PY -c 'import json,sys; n,k=sys.argv[1:]; print(next(v[k] for v in json.load(sys.stdin)["vifs"] if v["name"]==n))' "$1" "$2"
}
drop_counter() {
    ctl --json dropstats --all | $PY -c 'import json,sys; print(json.load(sys.stdin)["drops"][sys.argv[1]])' "$1"
}

# ----------------------------------------------------------------------------- setup
free=$(hugepages_free)
((free >= 64)) || die "only $free free hugepages (run scripts/setup-host.sh)"

vm2_stop
vm_stop
if [[ -f $E2E_DIR/router.pid ]]; then
    old=$(cat "$E2E_DIR/router.pid")
    if pid_alive "$old" && [[ $(readlink -f "/proc/$old/exe" 2>/dev/null) == "$BIN" ]]; then
        log "stopping the router left from an earlier run (pid $old)"
        kill -TERM "$old" 2>/dev/null || true
        sleep 2
    fi
fi
topo_down >/dev/null 2>&1 || true
rm -rf "$E2E_DIR"
mkdir -p "$E2E_DIR" "$V"
sed "s|^vhost_socket = .*|vhost_socket = \"$VHOST_SOCK\"|" "$REPO_ROOT/scripts/vxlan-demo.toml" >"$CFG"

check "topology up (netns vr-node/vr-remote/vr-vm, veth, vx100)" topo_up
if router_start "$BIN" "$CFG" "$STATS" --api-socket "$API_SOCK" \
    && wait_socket "$API_SOCK" "$ROUTER_PID" 10; then
    pass "router started: vhost-user socket $VHOST_SOCK, API socket $API_SOCK"
else
    fail "router did not create $VHOST_SOCK and $API_SOCK"
    exit 1
fi
if vm_start; then
    pass "VM1 (testpmd virtio_user <-> vmtap0) up"
else
    fail "VM1 did not come up"
    exit 1
fi
check "ping 198.51.100.1 from vr-vm (VM1 -> VXLAN -> remote)" \
    in_ns $NS_VM ping -n -c 3 -i 0.2 -W 1 -w 8 198.51.100.1

# ----------------------------------------------------------------------------- 1. views
log "1. views"
check "vif --list: fabric and vm1 with counter columns" text vif \
    '^ *VIF +NAME .*RX PKTS +RX BYTES +TX PKTS +TX BYTES && ^ *0 +fabric +fabric  && ^ *1 +vm1 +vhost +02:00:00:00:01:02 ' \
    vif --list
check "rt --dump 1: 198.51.100.1/32 and 198.51.100.2/32" text rt \
    '^VRF 1: [0-9]+ routes && ^198\.51\.100\.1/32 +10$ && ^198\.51\.100\.2/32 ' rt --dump 1
check "nh --list: nexthop 10 vxlan dst 203.0.113.2 vni 100" text nh \
    '^ *10 +tunnel +vxlan dst 203\.0\.113\.2 vni 100 inner_mac 02:00:00:00:02:01' nh --list
check "vxlan --dump: VNI 100 -> VRF 1" text vxlan '^ *VNI +VRF && ^ *100 +1$' vxlan --dump
check "mpls --dump (no labels configured: header only)" text mpls '^ *LABEL +NEXTHOP' mpls --dump
check "dropstats" text dropstats '.' dropstats
check "dropstats --all: every reason, zeros too" text dropstats-all \
    '^no_route +[0-9]+$ && ^unknown_vni +[0-9]+$ && ^arp_unresolved +[0-9]+$' dropstats --all
check "stats: ports, workers, events, mempool" text stats \
    '^PORT +RX PKTS && ^fabric +[0-9]+ && ^vm1 +[0-9]+ && ^ *WORKER +RX PKTS && ^events: && ^mempool: ' stats
check "version: vrouterctl and vrouter, api 1" text version \
    '^vrouterctl .*\(api 1\)$ && ^vrouter .*\(api 1\)$' version

rate_plain() {   # two plain tables (stdout is a file, not a tty): no escape sequences
    ctl stats --rate --count 2 --interval 1 >"$V/rate.txt" 2>"$V/rate.err" || { cat "$V/rate.err"; return 1; }
    cat "$V/rate.txt"
    ! grep -q $'\e' "$V/rate.txt" || { echo "escape sequences in the output"; return 1; }
    [[ $(grep -Ec '^VIF +RX PPS +RX MBIT/S +TX PPS +TX MBIT/S +DROPS/S$' "$V/rate.txt") == 2 ]] || return 1
    [[ $(grep -Ec '^vm1 +[0-9]+' "$V/rate.txt") == 2 && $(grep -Ec '^fabric +[0-9]+' "$V/rate.txt") == 2 ]]
}
check "stats --rate --count 2 --interval 1: two plain blocks" rate_plain
rate_json() {    # one JSON object per sample
    ctl --json stats --rate --count 2 --interval 0.5 >"$V/rate.jsonl" 2>&1 || { cat "$V/rate.jsonl"; return 1; }
    $PY - "$V/rate.jsonl" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 2, lines
for s in lines:
    assert s["interval_s"] > 0.3 and {v["name"] for v in s["vifs"]} >= {"fabric", "vm1"}, s
    assert all(set(v) >= {"rx_pps", "tx_pps", "rx_mbps", "tx_mbps", "drops_ps"} for v in s["vifs"]), s
PYEOF
}
check "stats --rate --json: 2 samples with rx_pps/tx_pps/... per vif" rate_json

check "vif --list --json: vifs[] with name, type, mac, ip, vrf, counters" view vif \
    'len(j["vifs"]) == 2 and [v["name"] for v in j["vifs"]] == ["fabric", "vm1"] and all({"index","name","type","dev","mac","ip","vrf","mtu","flags","rx_packets","rx_bytes","tx_packets","tx_bytes","tx_dropped"} <= set(v) for v in j["vifs"]) and j["vifs"][1]["ip"] == ["198.51.100.2", "2001:db8:100::2"] and j["vifs"][1]["vrf"] == 1 and j["vifs"][1]["type"] == "vhost"' \
    vif --list
check "rt --dump 1 --json: routes[] prefix/nexthop" view rt \
    'j["vrf"] == 1 and {"prefix": "198.51.100.1/32", "nexthop": 10} in j["routes"] and any(r["prefix"] == "198.51.100.2/32" for r in j["routes"])' \
    rt --dump 1
check "rt --dump 1 --family inet6 --json: IPv6 only" view rt6 \
    'j["routes"] and all(":" in r["prefix"] for r in j["routes"]) and any(r["prefix"] == "2001:db8:100::1/128" for r in j["routes"])' \
    rt --dump 1 --family inet6
check "nh --list --json: nexthop 10 tunnel vxlan" view nh \
    'any(n["id"] == 10 and n["type"] == "tunnel" and n["encap"] == "vxlan" and n["dst"] == "203.0.113.2" and n["vni"] == 100 and n["inner_mac"] == "02:00:00:00:02:01" for n in j["nexthops"])' \
    nh --list
check "vxlan --dump --json: {vni 100, vrf 1}" view vxlan '{"vni": 100, "vrf": 1} in j["vnis"]' vxlan --dump
check "mpls --dump --json: labels[]" view mpls 'j["labels"] == []' mpls --dump
check "dropstats --json: drops{} with no_route" view dropstats \
    'isinstance(j["drops"], dict) and "no_route" in j["drops"] and "unknown_vni" in j["drops"]' dropstats
check "stats --json: per_core, ports, drops, events, mempool" view stats \
    'set(j) >= {"per_core","ports","drops","events","mempool"} and j["ports"][0]["name"] == "fabric" and j["mempool"]["capacity"] > 0 and j["events"]["vxlan_encap"] > 0' \
    stats
check "version --json: api 1, vrouter version" view version 'j["api"] == 1 and j["vrouter"]' version

counters_grow() {
    local rx0 tx0 rx1 tx1
    rx0=$(vif_counter vm1 rx_packets) && tx0=$(vif_counter vm1 tx_packets) || return 1
    in_ns $NS_VM ping -n -q -c 20 -i 0.02 -W 1 -w 5 198.51.100.1 || return 1
    rx1=$(vif_counter vm1 rx_packets) && tx1=$(vif_counter vm1 tx_packets) || return 1
    echo "vm1 rx_packets $rx0 -> $rx1, tx_packets $tx0 -> $tx1"
    ((rx1 >= rx0 + 20 && tx1 >= tx0 + 20))
}
VERBOSE=1 check "after 20 pings, vm1 rx_packets and tx_packets grew by >= 20" counters_grow

# ----------------------------------------------------------------------------- 2. misuse
log "2. misuse: each refused, exit 1, the field named, nothing changed"
printf '[{"op":"route_add","vrf":1,"prefix":"198.51.100.40/32","nexthop":10},\n {"op":"route_add",' \
    >"$E2E_DIR/bad-json.json"
misuse "batch file with bad JSON" 'bad-json\.json.*(JSON|EOF|line [0-9]+)' ctl batch "$E2E_DIR/bad-json.json"
cat >"$E2E_DIR/unknown-field.json" <<'EOF'
[{"op":"route_add","vrf":1,"prefix":"198.51.100.41/32","nexthop":10},
 {"op":"route_add","vrf":1,"prefix":"198.51.100.42/32","nexthop":10,"metric":5}]
EOF
misuse "batch with an unknown field in changes[1]" 'changes\[1\].*metric' ctl batch "$E2E_DIR/unknown-field.json"
raw_misuse "raw request with an unknown field in a change (the router's own check)" request 'metric' \
    '{"v":1,"id":3,"op":"batch","args":{"changes":[{"op":"route_add","vrf":1,"prefix":"198.51.100.43/32","nexthop":10,"metric":5}]}}'
misuse "rt --add 198.51.100.0/33" 'prefix' ctl rt --add --vrf 1 --prefix 198.51.100.0/33 --nh 10
misuse "rt --add to undefined nexthop 999" 'nexthop.*999|999.*nexthop' ctl rt --add --vrf 1 --prefix 198.51.100.44/32 --nh 999
cat >"$E2E_DIR/last-bad.json" <<'EOF'
[{"op":"nh_add","id":30,"type":"tunnel","encap":"vxlan","dst":"203.0.113.2","vni":100,"inner_mac":"02:00:00:00:02:01"},
 {"op":"route_add","vrf":1,"prefix":"198.51.100.45/32","nexthop":30},
 {"op":"route_add","vrf":1,"prefix":"2001:db8:45::/64","nexthop":10},
 {"op":"route_add","vrf":1,"prefix":"198.51.100.46/32","nexthop":31}]
EOF
misuse "batch of 4 whose last change is bad (none applied)" 'changes\[3\]' ctl batch "$E2E_DIR/last-bad.json"
misuse "nh --delete 10 (still used by routes)" '(id|nexthop).*10.*(used|route)' ctl nh --delete 10
raw_misuse "raw request with bad JSON" request '.' '{"v":1,"id":4,"op":'
raw_misuse "raw request with protocol version 2" v 'version 2' '{"v":2,"id":5,"op":"version"}'
raw_misuse "raw request line over 64 MiB" request 'longer than' --huge
check "the router still serves after the oversized request (version)" ctl version
check "the router is alive" pid_alive "$ROUTER_PID"

# ----------------------------------------------------------------------------- 3. 10000 routes
log "3. a batch of 10000 IPv6 routes"
N_ROUTES=10000
$PY - "$E2E_DIR" "$N_ROUTES" <<'PYEOF'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
pfx = [f"2001:db8:1:{i:x}::/64" for i in range(n)]
json.dump([{"op": "route_add", "vrf": 1, "prefix": p, "nexthop": 10} for p in pfx], open(f"{d}/add.json", "w"))
json.dump([{"op": "route_del", "vrf": 1, "prefix": p} for p in pfx], open(f"{d}/del.json", "w"))
bad = [{"op": "route_add", "vrf": 1, "prefix": p, "nexthop": 10} for p in pfx]
bad.append({"op": "route_add", "vrf": 1, "prefix": "2001:db8:2::/129", "nexthop": 10})
json.dump(bad, open(f"{d}/add-bad.json", "w"))
PYEOF
ctl --json rt --dump 1 --family inet6 >"$V/rt6-before.json"
N6=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["routes"]))' "$V/rt6-before.json")
NALL=$(ctl --json rt --dump 1 | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["routes"]))')

misuse "batch of 10000 good route_add + 1 bad prefix (none applied)" 'changes\[10000\]' \
    ctl batch "$E2E_DIR/add-bad.json"

# A reader polls rt --dump during the batch: it must see all the new routes or none.
$PY - "$API_SOCK" "$E2E_DIR/poll.counts" "$E2E_DIR/poll.stop" <<'PYEOF' &
import json, os, socket, sys, time
path, out, stop = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rwb")
counts, deadline = [], time.time() + 20
while not os.path.exists(stop) and time.time() < deadline:
    f.write(b'{"v":1,"id":1,"op":"rt_dump","args":{"vrf":1,"family":"inet6"}}\n')
    f.flush()
    r = json.loads(f.readline())
    counts.append(len(r["result"]["routes"]))
open(out, "w").write(" ".join(map(str, counts)))
PYEOF
POLL_PID=$!
sleep 0.3
batch_add() {
    local t0 t1
    t0=$(date +%s%N)
    ctl --json batch "$E2E_DIR/add.json" >"$V/batch-add.json" || return 1
    t1=$(date +%s%N)
    log "batch of $N_ROUTES route_add: $(tr -d ' \n' <"$V/batch-add.json"), vrouterctl took $(((t1 - t0) / 1000000)) ms"
    jexpr "$V/batch-add.json" "j[\"applied\"] == $N_ROUTES and j[\"publish_us\"] >= 0"
}
VERBOSE=1 check "batch of $N_ROUTES route_add 2001:db8:1:N::/64 -> nh 10 applied" batch_add
sleep 0.3
touch "$E2E_DIR/poll.stop"
wait_until 25 "the route poller to finish" test -e "$E2E_DIR/poll.counts" || true
stop_pid "$POLL_PID" "route poller" TERM 3 || true
POLL_PID=
poll_atomic() {
    local counts bad
    counts=$(cat "$E2E_DIR/poll.counts") || return 1
    bad=$(tr ' ' '\n' <<<"$counts" | grep -vxE "$N6|$((N6 + N_ROUTES))" | sort -u | head -5 || true)
    echo "$(wc -w <<<"$counts") dumps during the batch; counts seen: $(tr ' ' '\n' <<<"$counts" | sort -un | tr '\n' ' ')"
    [[ -z $bad ]] && grep -qw "$((N6 + N_ROUTES))" <<<"$counts"
}
VERBOSE=1 check "a reader during the batch saw $N6 or $((N6 + N_ROUTES)) IPv6 routes, nothing between" poll_atomic
check "rt --dump 1 --family inet6 shows all $N_ROUTES new routes -> nh 10" view rt6-after \
    "sum(1 for r in j['routes'] if r['prefix'].startswith('2001:db8:1:') and r['prefix'].endswith('::/64') and r['nexthop'] == 10) == $N_ROUTES and len(j['routes']) == $N6 + $N_ROUTES" \
    rt --dump 1 --family inet6
check "rt --dump 1 (text) lists them too" text rt-all "^VRF 1: $((NALL + N_ROUTES)) routes && ^2001:db8:1:270f::/64 +10$" rt --dump 1
check "forwarding still works with $N_ROUTES more routes (ping)" \
    in_ns $NS_VM ping -n -c 2 -i 0.2 -W 1 -w 5 198.51.100.1
batch_del() {
    ctl --json batch "$E2E_DIR/del.json" >"$V/batch-del.json" || return 1
    log "batch of $N_ROUTES route_del: $(tr -d ' \n' <"$V/batch-del.json")"
    jexpr "$V/batch-del.json" "j[\"applied\"] == $N_ROUTES"
    ctl --json rt --dump 1 --family inet6 >"$V/rt6-deleted.json" || return 1
    cmp "$V/rt6-before.json" "$V/rt6-deleted.json"
}
check "batch of $N_ROUTES route_del: the IPv6 routes are as before" batch_del

# ----------------------------------------------------------------------------- 4. monitor
log "4. miss notifications"
ctl --json monitor >"$MON_OUT" 2>"$E2E_DIR/monitor.err" &
MON_PID=$!
sleep 0.5
pid_alive "$MON_PID" || { fail "vrouterctl monitor exited: $(cat "$E2E_DIR/monitor.err")"; MON_PID=; }

# events KIND ADDR: how many monitor lines are KIND for ADDR from vm1 in VRF 1.
events() {
    $PY - "$MON_OUT" "$1" "$2" <<'PYEOF'
import json, sys
path, kind, addr = sys.argv[1:]
n = 0
for l in open(path):
    if l.strip():
        e = json.loads(l)
        n += e == {"kind": kind, "vrf": 1, "addr": addr, "vif": "vm1"}
print(n)
PYEOF
}
event_seen() { (($(events "$1" "$2") > 0)); }
# ping_for_event DST KIND ADDR: one ping to DST every 0.3 s until the monitor shows the event
# (a miss that happens before the monitor has subscribed is not kept, and the same miss is
# not repeated within a second), at most 20 pings.
ping_for_event() {
    local i
    for ((i = 0; i < 20; i++)); do
        in_ns $NS_VM ping -n -q -c 1 -W 0.3 "$1" >/dev/null 2>&1 || true
        event_seen "$2" "$3" && return 0
    done
    sleep 0.2
    event_seen "$2" "$3"
}

in_ns $NS_VM ip neigh replace 198.51.100.99 lladdr $ROUTER_MAC dev vmtap0 nud permanent
NR0=$(drop_counter no_route)
if ping_for_event 198.51.100.99 no_route 198.51.100.99; then
    pass "monitor: $(grep -m1 '198.51.100.99' "$MON_OUT")"
else
    fail "monitor printed no no_route event for 198.51.100.99 from vm1"
    dump_file "$MON_OUT" 10
fi
NR1=$(drop_counter no_route)
if ((NR1 > NR0)); then pass "dropstats no_route $NR0 -> $NR1"; else fail "dropstats no_route $NR0 -> $NR1"; fi

check "nh --add 20: vxlan tunnel to 203.0.113.77 (nobody answers)" \
    ctl nh --add --id 20 --type tunnel --encap vxlan --dst 203.0.113.77 --vni 100 --inner-mac 02:00:00:00:02:77
check "rt --add 198.51.100.77/32 -> nh 20" ctl rt --add --vrf 1 --prefix 198.51.100.77/32 --nh 20
check "nh --list shows 20, neighbor unresolved" text nh20 '^ *20 +tunnel +vxlan dst 203\.0\.113\.77 .*neighbor unresolved' nh --list
in_ns $NS_VM ip neigh replace 198.51.100.77 lladdr $ROUTER_MAC dev vmtap0 nud permanent
if ping_for_event 198.51.100.77 arp_unresolved 203.0.113.77; then
    pass "monitor: $(grep -m1 '203.0.113.77' "$MON_OUT")"
else
    fail "monitor printed no arp_unresolved event for 203.0.113.77 from vm1"
    dump_file "$MON_OUT" 10
fi

# Rate limit: 100 misses in ~1 s must not give 100 notifications.
sleep 1.2   # past the one-second window of "the same miss"
E0=$(events arp_unresolved 203.0.113.77)
AU0=$(drop_counter arp_unresolved)
# (no -w: with a deadline ping would go on sending until it)
in_ns $NS_VM ping -n -q -c 100 -i 0.01 -W 1 198.51.100.77 >"$E2E_DIR/flood.txt" 2>&1 || true
sleep 0.5
E1=$(events arp_unresolved 203.0.113.77)
AU1=$(drop_counter arp_unresolved)
log "flood to 198.51.100.77: $(grep -o '[0-9]* packets transmitted' "$E2E_DIR/flood.txt"); $((E1 - E0)) arp_unresolved events; dropstats arp_unresolved $AU0 -> $AU1"
if ((E1 - E0 >= 1 && E1 - E0 <= 10)); then
    pass "miss notifications rate-limited: $((E1 - E0)) events for 100 misses"
else
    fail "miss notifications for 100 misses in 1 s: $((E1 - E0)) (want 1..10)"
fi
if ((AU1 - AU0 >= 100)); then pass "every flood packet counted as arp_unresolved (+$((AU1 - AU0)))"; else fail "arp_unresolved +$((AU1 - AU0)), want >= 100"; fi
stop_pid "$MON_PID" "vrouterctl monitor" TERM 3 || true
MON_PID=
log "monitor lines: $(wc -l <"$MON_OUT") ($(sort "$MON_OUT" | uniq -c | tr -s ' \n' ' '))"
in_ns $NS_VM ip neigh del 198.51.100.99 dev vmtap0 2>/dev/null || true
in_ns $NS_VM ip neigh del 198.51.100.77 dev vmtap0 2>/dev/null || true
check "rt --delete 198.51.100.77/32, nh --delete 20 (now unused)" \
    sh -c "'$CTL' --socket '$API_SOCK' rt --delete --vrf 1 --prefix 198.51.100.77/32 && '$CTL' --socket '$API_SOCK' nh --delete 20"
check "nh 20 and its route are gone" view nh-after \
    'not any(n["id"] == 20 for n in j["nexthops"])' nh --list
check "the router survives the monitor client going away" ctl version

# ----------------------------------------------------------------------------- 5. hot add/remove
log "5. hot add/remove of vif vm2 while VM1 pings the remote at 20/s"
PING_OUT=$E2E_DIR/ping-vm1.txt
ip netns exec $NS_VM ping -n -i 0.05 -W 1 198.51.100.1 >"$PING_OUT" 2>&1 &
PING_PID=$!
PING_T0=$SECONDS
sleep 1
vif_add() {
    ctl vif --add vm2 --vhost-socket "$VM2_SOCK" --vrf 1 --mac $VM2_MAC --ip $VM2_IP || return 1
    wait_socket "$VM2_SOCK" "$ROUTER_PID" 5
}
check "vif --add vm2 (vhost-user $VM2_SOCK, VRF 1, $VM2_IP): the socket appears" vif_add
check "vif --list --json shows vm2" view vif-vm2 \
    "any(v['name'] == 'vm2' and v['type'] == 'vhost' and v['dev'] == '$VM2_SOCK' and v['ip'] == ['$VM2_IP'] and v['vrf'] == 1 and v['mac'] == '$VM2_MAC' for v in j['vifs'])" \
    vif --list
check "rt --dump 1 has $VM2_IP/32" text rt-vm2 "^198\.51\.100\.3/32 " rt --dump 1
if vm2_start "$VM2_SOCK"; then
    pass "VM2 (testpmd virtio_user <-> vm2tap0 in $NS_VM2) up"
    check "ping 198.51.100.1 from VM2 (the remote resolves .3 by ARP inside VXLAN)" \
        in_ns $NS_VM2 ping -n -c 3 -i 0.2 -W 1 -w 10 198.51.100.1
    check "ping $VM2_IP from the remote" in_ns $NS_REMOTE ping -n -c 2 -i 0.2 -W 1 -w 5 $VM2_IP
    check "vm2 counters count VM2's traffic" view vif-vm2-cnt \
        "next(v for v in j['vifs'] if v['name'] == 'vm2')['rx_packets'] >= 3 and next(v for v in j['vifs'] if v['name'] == 'vm2')['tx_packets'] >= 3" \
        vif --list
else
    fail "VM2 did not come up"
fi
vm2_stop
sock_unused() {   # removed, or nobody accepts on it
    [[ ! -e $VM2_SOCK ]] && { echo "removed"; return 0; }
    ! $PY -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$VM2_SOCK" 2>/dev/null \
        && echo "present but nobody listens"
}
vif_gone() {
    ctl vif --delete vm2 || return 1
    ctl --json vif --list >"$V/vif-del.json" || return 1
    jexpr "$V/vif-del.json" 'not any(v["name"] == "vm2" for v in j["vifs"])' || return 1
    ctl --json rt --dump 1 >"$V/rt-del.json" || return 1
    jexpr "$V/rt-del.json" 'not any(r["prefix"] == "198.51.100.3/32" for r in j["routes"])' || return 1
    log "vm2 deleted; its socket: $(sock_unused)"
    sock_unused >/dev/null
}
VERBOSE=1 check "vif --delete vm2: gone from vif --list and rt, its socket removed or unused" vif_gone
vif_again() {
    ctl vif --add vm2 --vhost-socket "$VM2_SOCK" --vrf 1 --mac $VM2_MAC --ip $VM2_IP || return 1
    wait_socket "$VM2_SOCK" "$ROUTER_PID" 5 || return 1
    ctl --json vif --list >"$V/vif-again.json" || return 1
    jexpr "$V/vif-again.json" 'sum(v["name"] == "vm2" for v in j["vifs"]) == 1' || return 1
    ctl vif --delete vm2 || return 1
    ctl --json vif --list >"$V/vif-again-del.json" || return 1
    jexpr "$V/vif-again-del.json" 'not any(v["name"] == "vm2" for v in j["vifs"])' || return 1
    sock_unused
}
check "vif --add vm2 again (same name and socket), then --delete again" vif_again
sleep 1
while ((SECONDS - PING_T0 < 6)); do sleep 0.2; done   # >= ~100 requests in all
stop_pid "$PING_PID" "VM1 ping" INT 5 || true
PING_PID=
ping_loss() {     # replies missing among the requests sent (the last one may be in flight)
    $PY - "$PING_OUT" <<'PYEOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"(\d+) packets transmitted, (\d+) received", t)
if not m:
    sys.exit("no ping summary:\n" + t[-500:])
sent, recv = map(int, m.groups())
seqs = {int(x) for x in re.findall(r"icmp_seq=(\d+) ttl=", t)}
lost = [s for s in range(1, sent) if s not in seqs]   # not counting the last request
print(f"VM1 -> 198.51.100.1 during step 5: {sent} sent, {recv} received, lost {len(lost)} (seq {lost[:10]}); " + (re.findall(r"rtt .*", t) or [""])[0])
sys.exit(0 if len(lost) <= 2 and sent >= 90 else 1)
PYEOF
}
if out=$(ping_loss 2>&1); then pass "$out"; else fail "VM1's ping through the hot add/remove: $out (want <= 2 lost, >= 90 sent)"; fi
check "the router is alive after the hot add/remove" pid_alive "$ROUTER_PID"
check "VM1 still reaches the remote" in_ns $NS_VM ping -n -c 2 -i 0.2 -W 1 -w 5 198.51.100.1
check "vif --list: fabric and vm1 only" view vif-end '[v["name"] for v in j["vifs"]] == ["fabric", "vm1"]' vif --list

if grep -nE 'panick|panic|ERROR|Segmentation|core dumped' "$ROUTER_LOG" >"$E2E_DIR/log-errors.txt"; then
    fail "router log has errors:"
    head -20 "$E2E_DIR/log-errors.txt" | sed 's/^/    /'
else
    pass "no panic or ERROR in the router log"
fi

# ----------------------------------------------------------------------------- exit
rc=0
router_stop 15 || rc=$?
if ((rc == 0)); then pass "router exited 0 on SIGTERM"; else fail "router exit status $rc after SIGTERM"; fi
vm_stop
check "API socket removed at exit" test ! -e "$API_SOCK"
check "stats JSON: mempool exit <= start, vxlan_encap > 0, no_route > 0" \
    $PY "$SCRIPTS_DIR/check_stats.py" "$STATS" \
    "mempool.in_use_at_exit <= mempool.in_use_at_start" "events.vxlan_encap > 0" "drops.no_route > 0"
[[ -f $STATS ]] && $PY - "$STATS" <<'PYEOF' || true
import json, sys
s = json.load(open(sys.argv[1]))
m = s.get("mempool", {})
print(f"    mempool: in_use_at_start={m.get('in_use_at_start')} in_use_at_exit={m.get('in_use_at_exit')} capacity={m.get('capacity')}")
print("    drops:  " + (", ".join(f"{k}={v}" for k, v in s.get("drops", {}).items() if v) or "none"))
PYEOF

summary e2e-api
