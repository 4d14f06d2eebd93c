#!/usr/bin/env bash
# VXLAN end-to-end test in network namespaces (see scripts/topo.sh):
#   scripts/e2e-vxlan.sh [VROUTER_BIN]      (default target/release/vrouter)
# VM (dpdk-testpmd virtio_user <-> TAP vmtap0, netns vr-vm) <-vhost-user-> vrouter (netns
# vr-node) <-af_packet/veth-> kernel VXLAN vx100 (netns vr-remote). Checks ping, ping6 and
# iperf3 TCP both ways, then stops the router (SIGTERM) and checks its stats JSON.
# Needs root and hugepages (scripts/setup-host.sh). Finishes in well under 3 minutes.
# KEEP=1 keeps /tmp/vrouter-e2e (logs, capture, stats) after a passing run.
set -euo pipefail
LOG_TAG=e2e-vxlan
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"
BIN=$(resolve_bin "${1:-}")
CFG=$REPO_ROOT/scripts/vxlan-demo.toml
STATS=$E2E_DIR/stats.json
CAP=$E2E_DIR/fabric.pcap
TCPDUMP_PID=
IPERF_PID=
T0=$SECONDS

diagnostics() {
    echo "===== diagnostics ($E2E_DIR)"
    dump_file "$ROUTER_LOG" 80
    dump_file "$VM_LOG" 40
    topo_status 2>&1 | grep -vE '^\s+link/loopback' || true
    if [[ -s $CAP ]]; then
        echo "----- capture on rmt-fab (first 60 packets, $CAP)"
        tcpdump -nn -e -r "$CAP" 2>/dev/null | head -60 || true
    fi
    [[ -f $STATS ]] && { echo "----- $STATS"; cat "$STATS"; echo; }
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    trap "" PIPE   # a closed stdout (e.g. piped into head) must not stop the cleanup
    [[ -n $IPERF_PID ]] && stop_pid "$IPERF_PID" "iperf3 server" TERM 3 || true
    [[ -n $TCPDUMP_PID ]] && stop_pid "$TCPDUMP_PID" tcpdump TERM 3 || true
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

# Everything below is bounded: each wait has a timeout.
free=$(hugepages_free)
((free >= 64)) || die "only $free free hugepages (run scripts/setup-host.sh)"

# A leftover router/VM from an earlier run would hold the socket and the TAP: stop ours.
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
mkdir -p "$E2E_DIR"

check "topology up (netns vr-node/vr-remote/vr-vm, veth, vx100)" topo_up

ip netns exec $NS_REMOTE tcpdump -i rmt-fab -nn -U -s 256 -c 3000 -w "$CAP" \
    'arp or icmp or (udp port 4789 and less 400)' >"$E2E_DIR/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
wait_until 5 "tcpdump listening" grep -q 'listening on' "$E2E_DIR/tcpdump.log" || true

if router_start "$BIN" "$CFG" "$STATS"; then
    pass "router started, vhost-user socket $VHOST_SOCK ready"
else
    fail "router did not create $VHOST_SOCK"
    exit 1
fi
if vm_start; then
    pass "VM (testpmd virtio_user <-> vmtap0) up, vmtap0 configured"
else
    fail "VM did not come up"
    exit 1
fi

ping_check() {   # ping_check NS ADDR [-6]
    in_ns "$1" ping ${3:-} -n -c 3 -i 0.2 -W 1 -w 8 "$2"
}
check "ping 198.51.100.1 from vr-vm (VM -> router -> VXLAN -> remote)" ping_check $NS_VM 198.51.100.1
check "ping 198.51.100.2 from vr-remote (VXLAN -> router -> VM)" ping_check $NS_REMOTE 198.51.100.2
check "ping6 2001:db8:100::1 from vr-vm" ping_check $NS_VM 2001:db8:100::1 -6
check "ping6 2001:db8:100::2 from vr-remote" ping_check $NS_REMOTE 2001:db8:100::2 -6

iperf_run() {    # iperf_run NAME [-R]: server in vr-remote, client in vr-vm, 3 s TCP
    local name=$1 rc=0
    shift
    ip netns exec $NS_REMOTE iperf3 -s -1 -B 198.51.100.1 -p 5201 \
        >"$E2E_DIR/iperf-server-$name.log" 2>&1 &
    IPERF_PID=$!
    wait_until 5 "iperf3 server listening" \
        sh -c "ip netns exec $NS_REMOTE ss -ltn | grep -q '198.51.100.1:5201'" || true
    timeout 20 ip netns exec $NS_VM iperf3 -c 198.51.100.1 -p 5201 -t 3 -J \
        --connect-timeout 5000 "$@" >"$E2E_DIR/iperf-$name.json" 2>&1 || rc=$?
    stop_pid "$IPERF_PID" "iperf3 server" TERM 5 || true
    IPERF_PID=
    iperf_json_ok "$E2E_DIR/iperf-$name.json" || { echo "iperf3 client exit $rc"; return 1; }
}
check "iperf3 TCP 3 s, VM -> remote" iperf_run up
check "iperf3 TCP 3 s, remote -> VM (-R)" iperf_run down -R

# SIGHUP: the control thread re-reads the config and publishes new tables (RCU) while the
# workers forward; a ping stream running through it must lose nothing.
hup_under_ping() {
    local out
    (sleep 0.5; kill -HUP "$ROUTER_PID"; sleep 0.5; kill -HUP "$ROUTER_PID") &
    local hup=$!
    out=$(ip netns exec $NS_VM ping -n -c 40 -i 0.05 -W 1 198.51.100.1 2>&1) || true
    wait "$hup" || true
    echo "$out" | tail -2
    echo "$out" | grep -q " 0% packet loss" || return 1
    [[ $(grep -c "tables replaced" "$ROUTER_LOG") -ge 2 ]] || { echo "router log has no 'tables replaced' x2"; return 1; }
}
check "config reloaded twice (SIGHUP) under a 20 pps ping: no loss" hup_under_ping

# SIGUSR1: counters on the router's stdout; it must keep running.
if pid_alive "$ROUTER_PID"; then
    kill -USR1 "$ROUTER_PID"
    sleep 0.5
    if pid_alive "$ROUTER_PID"; then pass "router survives SIGUSR1"; else fail "router died on SIGUSR1"; fi
else
    fail "router is not running any more"
fi

# Stop the router (the VM still connected), then the VM.
rc=0
router_stop 15 || rc=$?
if ((rc == 0)); then pass "router exited 0 on SIGTERM"; else fail "router exit status $rc after SIGTERM"; fi
vm_stop

# The router measures the mempool after stopping its ports: nothing may stay in use.
check "stats JSON: vxlan_decap > 0, vxlan_encap > 0, arp_replied > 0, mempool exit <= start" \
    $PY "$SCRIPTS_DIR/check_stats.py" "$STATS" \
    "events.vxlan_decap > 0" "events.vxlan_encap > 0" "events.arp_replied > 0" \
    "mempool.in_use_at_exit <= mempool.in_use_at_start"
[[ -f $STATS ]] && $PY - "$STATS" <<'PYEOF' || true
import json, sys
s = json.load(open(sys.argv[1]))
m = s.get("mempool", {})
print(f"    mempool: in_use_at_start={m.get('in_use_at_start')} in_use_at_exit={m.get('in_use_at_exit')} capacity={m.get('capacity')}")
print("    events: " + ", ".join(f"{k}={v}" for k, v in s.get("events", {}).items() if v))
print("    drops:  " + (", ".join(f"{k}={v}" for k, v in s.get("drops", {}).items() if v) or "none"))
for p in s.get("ports", []):
    print(f"    port {p['name']}: rx {p['rx_packets']} tx {p['tx_packets']} tx_dropped {p['tx_dropped']} hw_imissed {p['hw_imissed']}")
PYEOF

summary e2e-vxlan
