#!/usr/bin/env bash
# Quick-start demo (as root, Debian 12): prepares the host, builds the router, brings up the
# namespace topology of scripts/topo.sh, starts the router and the VM, then shows ping, ping6
# and a short iperf3 through the router, its counters (SIGUSR1), its stats JSON at exit, and
# tears everything down.
#   scripts/demo.sh [VROUTER_BIN]    (default: build and use target/release/vrouter)
set -euo pipefail
LOG_TAG=demo
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"
cd "$REPO_ROOT"

banner() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" || log "(exit $?)"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    trap "" PIPE
    router_stop 10 >/dev/null 2>&1 || true
    vm_stop || true
    topo_down >/dev/null 2>&1 || true
    rm -rf "$E2E_DIR"
    log "topology torn down"
    exit "$rc"
}

banner "host setup"
scripts/setup-host.sh
if [[ -n ${1:-} ]]; then
    BIN=$(resolve_bin "$1")
else
    banner "cargo build --release"
    cargo build --release
    BIN=$(resolve_bin)
fi

trap cleanup EXIT
trap 'exit 130' INT TERM
topo_down >/dev/null 2>&1 || true
rm -rf "$E2E_DIR"

banner "topology: netns vr-node (router), vr-remote (kernel VXLAN peer), vr-vm (the VM)"
topo_up
banner "router: ip netns exec vr-node $BIN -c scripts/vxlan-demo.toml ..."
router_start "$BIN" "$REPO_ROOT/scripts/vxlan-demo.toml" "$E2E_DIR/stats.json" \
    || die "the router did not start (log: $ROUTER_LOG)"
banner "VM: dpdk-testpmd virtio_user <-> TAP vmtap0 in vr-vm"
vm_start || die "the VM did not start (log: $VM_LOG)"
ip -n $NS_VM -br addr show vmtap0

banner "ping: VM -> remote (over VXLAN) and back"
run in_ns $NS_VM ping -n -c 3 -i 0.2 -w 8 198.51.100.1
run in_ns $NS_REMOTE ping -n -c 3 -i 0.2 -w 8 198.51.100.2
banner "ping6"
run in_ns $NS_VM ping -6 -n -c 3 -i 0.2 -w 8 2001:db8:100::1
run in_ns $NS_REMOTE ping -6 -n -c 3 -i 0.2 -w 8 2001:db8:100::2

banner "iperf3 TCP, 2 s each way"
for dir in "" -R; do
    ip netns exec $NS_REMOTE iperf3 -s -1 -B 198.51.100.1 >/dev/null 2>&1 &
    srv=$!
    wait_until 5 "iperf3 server" sh -c "ip netns exec $NS_REMOTE ss -ltn | grep -q 198.51.100.1:5201" || true
    run timeout 15 ip netns exec $NS_VM iperf3 -c 198.51.100.1 -t 2 --connect-timeout 5000 $dir
    stop_pid "$srv" "iperf3 server" TERM 3 || true
done

banner "router counters (SIGUSR1 -> router stdout)"
lines=$(wc -l <"$ROUTER_LOG")
kill -USR1 "$ROUTER_PID"
sleep 0.5
tail -n +"$((lines + 1))" "$ROUTER_LOG"

banner "the operator's view: vrouterctl (API on /run/vrouter/vrouter.sock)"
CTL=$(dirname "$BIN")/vrouterctl
if [[ -x $CTL ]]; then
    run "$CTL" vif --list
    run "$CTL" rt --dump 1
    run "$CTL" nh --list
    run "$CTL" dropstats
else
    log "no vrouterctl next to $BIN"
fi

banner "stop the router (SIGTERM): stats JSON"
router_stop 15 || log "router exit status $?"
if [[ -f $E2E_DIR/stats.json ]]; then
    $PY -m json.tool "$E2E_DIR/stats.json"
else
    log "no stats JSON written"; tail -20 "$ROUTER_LOG"
fi
