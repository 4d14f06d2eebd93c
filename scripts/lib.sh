# shellcheck shell=bash
# Shared helpers for the vrouter test scripts (topology, router, VM, checks).
# Source it; it sets no shell options of its own.
#
# Topology (see docs and scripts/topo.sh):
#
#   netns vr-vm                netns vr-node              netns vr-remote
#   vmtap0 (kernel)            vrouter                    rmt-fab 203.0.113.2/24
#    198.51.100.2/24            fabric: af_packet vr-fab ==veth== rmt-fab
#    2001:db8:100::2/64         vif vm1: vhost-user        vx100 (VXLAN 100, kernel)
#     |                          server E2E_DIR/vm1.sock     198.51.100.1/24
#   dpdk-testpmd (the "VM"):     ^                           2001:db8:100::1/64
#    net_tap0 <-io-> net_virtio_user0 --------+

# ----------------------------------------------------------------------------- names
E2E_DIR=${E2E_DIR:-/tmp/vrouter-e2e}
NS_NODE=vr-node
NS_REMOTE=vr-remote
NS_VM=vr-vm
VHOST_SOCK=$E2E_DIR/vm1.sock
ROUTER_MAC=00:00:5e:00:01:00
VM_MAC=02:00:00:00:01:02
REMOTE_VX_MAC=02:00:00:00:02:01
PY=/usr/bin/python3          # Debian's python3 with python3-scapy (not a pyenv one)
# Knobs for variants of the topology (defaults: what e2e-vxlan.sh has always used):
VM_MTU=${VM_MTU:-1450}            # MTU of vmtap0, the VM's interface
VM_OFFLOADS=${VM_OFFLOADS:-off}   # off: ethtool -K vmtap0 tx/rx/tso/gso/gro off; keep: TAP defaults
STATIC_ND=${STATIC_ND:-1}         # 1: static IPv6 neighbour entries for the router MAC (VM and
                                  # remote); 0: none, the router's ND proxy must answer

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPTS_DIR/.." && pwd)

# cargo from rustup when not on PATH
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi

# ----------------------------------------------------------------------------- output
_C_RED='' _C_GRN='' _C_RST=''
if [[ -t 1 ]]; then _C_RED=$'\e[31m' _C_GRN=$'\e[32m' _C_RST=$'\e[0m'; fi
N_PASS=0
N_FAIL=0
log()  { printf '[%s] %s\n' "${LOG_TAG:-e2e}" "$*"; }
pass() { N_PASS=$((N_PASS + 1)); printf '%sPASS%s %s\n' "$_C_GRN" "$_C_RST" "$*"; }
fail() { N_FAIL=$((N_FAIL + 1)); printf '%sFAIL%s %s\n' "$_C_RED" "$_C_RST" "$*"; }
die()  { printf '[%s] ERROR: %s\n' "${LOG_TAG:-e2e}" "$*" >&2; exit 1; }

# check "description" cmd args...: runs the command, its output indented, PASS/FAIL.
check() {
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1) && rc=0 || rc=$?
    if ((rc == 0)); then
        pass "$desc"
        [[ -n ${VERBOSE:-} && -n $out ]] && printf '%s\n' "$out" | sed 's/^/    /'
    else
        fail "$desc (exit $rc)"
        [[ -n $out ]] && printf '%s\n' "$out" | tail -40 | sed 's/^/    /'
    fi
    return 0
}

# wait_until TIMEOUT_S DESCRIPTION cmd args...: polls every 0.1 s.
wait_until() {
    local timeout=$1 desc=$2 deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for: $desc"
            return 1
        fi
        sleep 0.1
    done
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID NAME [SIGNAL] [TIMEOUT_S]: signal one process we started, wait for it,
# SIGKILL after the timeout. Returns the process's exit status when we are its parent
# (wait), else 0. Prints nothing when the process is already gone.
stop_pid() {
    local pid=$1 name=$2 sig=${3:-TERM} timeout=${4:-10} deadline rc=0
    pid_alive "$pid" || { wait "$pid" 2>/dev/null || rc=$?; return $rc; }
    kill -s "$sig" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + timeout))
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if pid_alive "$pid"; then
        # kill -0 also succeeds on a zombie child: wait reaps it at once.
        if [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
            log "$name (pid $pid) did not exit within ${timeout}s after SIG$sig: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
link_in_ns() { ip -n "$1" link show "$2" >/dev/null 2>&1; }

# ----------------------------------------------------------------------------- topology
# offloads_off NS DEV: checksum/segmentation offloads off, so af_packet and the TAP see
# plain, fully checksummed frames. Features a device does not have are skipped.
offloads_off() {
    local ns=$1 dev=$2 f
    for f in tx rx tso gso gro; do
        in_ns "$ns" ethtool -K "$dev" "$f" off >/dev/null 2>&1 || true
    done
    if in_ns "$ns" ethtool -k "$dev" 2>/dev/null | grep -Eq '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload): on'; then
        log "warning: offloads still on for $dev in $ns:"
        in_ns "$ns" ethtool -k "$dev" | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload)' >&2
    fi
}

# topo_up: creates (or completes) the namespaces, the veth and the VXLAN device. Idempotent.
# The VM side (vmtap0) appears only once the VM (testpmd) runs: see vm_start.
topo_up() {
    mkdir -p "$E2E_DIR"
    local ns
    for ns in $NS_NODE $NS_REMOTE $NS_VM; do
        ns_exists "$ns" || ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up || return 1
    done
    if ! link_in_ns $NS_NODE vr-fab || ! link_in_ns $NS_REMOTE rmt-fab; then
        ip -n $NS_NODE link del vr-fab 2>/dev/null || true
        ip -n $NS_REMOTE link del rmt-fab 2>/dev/null || true
        ip link del vr-fab 2>/dev/null || true    # leftovers in the root namespace
        ip link del rmt-fab 2>/dev/null || true
        ip link add vr-fab netns $NS_NODE type veth peer name rmt-fab netns $NS_REMOTE || return 1
    fi
    # vr-fab: no IP, no IPv6 chatter (the kernel's own frames would reach the router's socket).
    in_ns $NS_NODE sysctl -qw net.ipv6.conf.vr-fab.disable_ipv6=1 || return 1
    in_ns $NS_REMOTE sysctl -qw net.ipv6.conf.rmt-fab.disable_ipv6=1 || return 1
    # rmt-fab answers ARP for its own address only
    in_ns $NS_REMOTE sysctl -qw net.ipv4.conf.rmt-fab.arp_ignore=1 || return 1
    ip -n $NS_NODE link set vr-fab mtu 1500 up || return 1
    ip -n $NS_REMOTE link set rmt-fab mtu 1500 up || return 1
    ip -n $NS_REMOTE addr replace 203.0.113.2/24 dev rmt-fab || return 1
    offloads_off $NS_NODE vr-fab || return 1
    offloads_off $NS_REMOTE rmt-fab || return 1

    if ! link_in_ns $NS_REMOTE vx100; then
        ip -n $NS_REMOTE link add vx100 type vxlan id 100 dstport 4789 \
            local 203.0.113.2 remote 203.0.113.1 dev rmt-fab || return 1
    fi
    ip -n $NS_REMOTE link set vx100 address $REMOTE_VX_MAC mtu 1450 up || return 1
    ip -n $NS_REMOTE addr replace 198.51.100.1/24 dev vx100 || return 1
    ip -n $NS_REMOTE addr replace 2001:db8:100::1/64 dev vx100 nodad || return 1
    offloads_off $NS_REMOTE vx100 || return 1
    if [[ $STATIC_ND == 1 ]]; then
        # Without the router's ND proxy: the router MAC, statically.
        ip -n $NS_REMOTE neigh replace 2001:db8:100::2 lladdr $ROUTER_MAC dev vx100 nud permanent || return 1
    else
        ip -n $NS_REMOTE neigh del 2001:db8:100::2 dev vx100 2>/dev/null || true
    fi
}

# topo_down: stops the VMs we started (pid files), deletes the namespaces (vr-vm2 too, when
# a test made it). Idempotent.
topo_down() {
    vm_stop
    vm2_stop
    local ns
    for ns in $NS_VM2 $NS_VM $NS_REMOTE $NS_NODE; do
        if ns_exists "$ns"; then
            ip netns del "$ns" || log "warning: cannot delete netns $ns"
        fi
    done
}

topo_status() {
    local ns
    for ns in $NS_NODE $NS_REMOTE $NS_VM $NS_VM2; do
        [[ $ns == "$NS_VM2" ]] && ! ns_exists "$ns" && continue   # only tests with a 2nd VM
        echo "=== netns $ns"
        if ns_exists "$ns"; then
            ip -n "$ns" -s link show 2>&1
            ip -n "$ns" addr show 2>&1 | grep -E '^[0-9]+:|inet'
            ip -n "$ns" neigh show 2>&1
        else
            echo "(absent)"
        fi
    done
}

# ----------------------------------------------------------------------------- the VM
# dpdk-testpmd in netns vr-vm plays the VM: virtio_user (vhost-user frontend, connects to
# the router's socket) <-> io forwarding <-> net_tap "vmtap0" (the VM's kernel interface).
#  -l 0-1 --main-lcore 1: the forwarding lcore is CPU 0, the router's worker is CPU 1 (2 cores).
#  --in-memory --single-file-segments: no hugepage files left behind; few memory regions for
#                                      vhost-user (needed with --in-memory).
#  --total-num-mbufs: testpmd otherwise sizes its pool for 32 ports (~370 MB of hugepages).
#  --stats-period: keeps testpmd running with stdin at /dev/null.
#  --no-flush-rx: do not drain RX queues at start.
VM_PID=
VM_LOG=$E2E_DIR/testpmd-vm.log
vm_start() {
    local sock=${1:-$VHOST_SOCK}
    mkdir -p "$E2E_DIR"
    [[ -S $sock ]] || { log "vhost socket $sock missing (start the router first)"; return 1; }
    ip netns exec $NS_VM dpdk-testpmd -l 0-1 --main-lcore 1 --in-memory --single-file-segments \
        --file-prefix vrvm --no-pci --log-level=notice \
        --vdev "net_virtio_user0,path=$sock,queues=1" \
        --vdev "net_tap0,iface=vmtap0,mac=$VM_MAC" \
        -- --forward-mode=io --auto-start --stats-period 5 --no-flush-rx \
        --total-num-mbufs=4096 --rxq=1 --txq=1 \
        </dev/null >"$VM_LOG" 2>&1 &
    VM_PID=$!
    echo "$VM_PID" >"$E2E_DIR/vm.pid"
    log "VM (dpdk-testpmd) pid $VM_PID, log $VM_LOG"
    # Configure vmtap0 only once testpmd has started its ports (port start resets the TAP).
    if ! wait_until 30 "testpmd forwarding" vm_forwarding; then
        pid_alive "$VM_PID" || log "testpmd exited"
        tail -30 "$VM_LOG" >&2
        return 1
    fi
    vm_configure
    local mac
    mac=$(ip -n $NS_VM -br link show vmtap0 | awk '{print $3}')
    [[ $mac == "$VM_MAC" ]] || { log "vmtap0 has MAC $mac, expected $VM_MAC"; return 1; }
}
vm_forwarding() {
    pid_alive "$VM_PID" && link_in_ns $NS_VM vmtap0 \
        && grep -Eq 'start packet forwarding|packet forwarding - ports=' "$VM_LOG"
}

# vm_configure: addresses, MTU ($VM_MTU), offloads (unless VM_OFFLOADS=keep), static ND entry
# on vmtap0 (unless STATIC_ND=0).
vm_configure() {
    ip -n $NS_VM link set vmtap0 down || return 1
    ip -n $NS_VM link set vmtap0 address $VM_MAC mtu "$VM_MTU" || return 1
    if [[ $VM_OFFLOADS == off ]]; then
        offloads_off $NS_VM vmtap0 || return 1
    fi
    ip -n $NS_VM link set vmtap0 up || return 1
    ip -n $NS_VM addr replace 198.51.100.2/24 dev vmtap0 || return 1
    ip -n $NS_VM addr replace 2001:db8:100::2/64 dev vmtap0 nodad || return 1
    if [[ $STATIC_ND == 1 ]]; then
        ip -n $NS_VM neigh replace 2001:db8:100::1 lladdr $ROUTER_MAC dev vmtap0 nud permanent || return 1
    fi
}

# vm_stop: stops the testpmd we started (by the PID we recorded).
vm_stop() {
    local pid=${VM_PID:-}
    [[ -z $pid && -f $E2E_DIR/vm.pid ]] && pid=$(cat "$E2E_DIR/vm.pid")
    if [[ -n $pid ]] && pid_alive "$pid" \
        && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dpdk-testpmd* ]]; then
        stop_pid "$pid" "VM testpmd" INT 10 || true
    fi
    rm -f "$E2E_DIR/vm.pid"
    VM_PID=
}

# ----------------------------------------------------------------------------- a second VM
# Another dpdk-testpmd "VM" (e2e-api.sh: a vif added at run time): virtio_user on SOCK <-> io
# forwarding <-> net_tap "vm2tap0" in its own netns vr-vm2 (made here, removed by topo_down),
# 198.51.100.3/24, MAC 02:00:00:00:01:03. Same lcores as the first VM (forwarding on CPU 0):
# on 2 cores every busy-polling testpmd slows the rest, so keep its life short.
NS_VM2=vr-vm2
VM2_MAC=02:00:00:00:01:03
VM2_IP=198.51.100.3
VM2_PID=
VM2_LOG=$E2E_DIR/testpmd-vm2.log
# vm2_start SOCK: starts it, waits until it forwards, configures vm2tap0.
vm2_start() {
    local sock=$1 mac
    mkdir -p "$E2E_DIR"
    [[ -S $sock ]] || { log "vhost socket $sock missing (add the vif first)"; return 1; }
    if ! ns_exists $NS_VM2; then
        ip netns add $NS_VM2 || return 1
    fi
    ip -n $NS_VM2 link set lo up || return 1
    ip netns exec $NS_VM2 dpdk-testpmd -l 0-1 --main-lcore 1 --in-memory --single-file-segments \
        --file-prefix vrvm2 --no-pci --log-level=notice \
        --vdev "net_virtio_user0,path=$sock,queues=1" \
        --vdev "net_tap0,iface=vm2tap0,mac=$VM2_MAC" \
        -- --forward-mode=io --auto-start --stats-period 5 --no-flush-rx \
        --total-num-mbufs=4096 --rxq=1 --txq=1 \
        </dev/null >"$VM2_LOG" 2>&1 &
    VM2_PID=$!
    echo "$VM2_PID" >"$E2E_DIR/vm2.pid"
    log "VM2 (dpdk-testpmd) pid $VM2_PID, log $VM2_LOG"
    if ! wait_until 30 "VM2 testpmd forwarding" vm2_forwarding; then
        pid_alive "$VM2_PID" || log "VM2 testpmd exited"
        tail -30 "$VM2_LOG" >&2
        return 1
    fi
    ip -n $NS_VM2 link set vm2tap0 down || return 1
    ip -n $NS_VM2 link set vm2tap0 address $VM2_MAC mtu "$VM_MTU" || return 1
    if [[ $VM_OFFLOADS == off ]]; then
        offloads_off $NS_VM2 vm2tap0 || return 1
    fi
    ip -n $NS_VM2 link set vm2tap0 up || return 1
    ip -n $NS_VM2 addr replace $VM2_IP/24 dev vm2tap0 || return 1
    mac=$(ip -n $NS_VM2 -br link show vm2tap0 | awk '{print $3}')
    [[ $mac == "$VM2_MAC" ]] || { log "vm2tap0 has MAC $mac, expected $VM2_MAC"; return 1; }
}
vm2_forwarding() {
    pid_alive "$VM2_PID" && link_in_ns $NS_VM2 vm2tap0 \
        && grep -Eq 'start packet forwarding|packet forwarding - ports=' "$VM2_LOG"
}
# vm2_stop: stops the second testpmd we started (by its recorded PID); the netns stays.
vm2_stop() {
    local pid=${VM2_PID:-}
    [[ -z $pid && -f $E2E_DIR/vm2.pid ]] && pid=$(cat "$E2E_DIR/vm2.pid")
    if [[ -n $pid ]] && pid_alive "$pid" \
        && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dpdk-testpmd* ]]; then
        stop_pid "$pid" "VM2 testpmd" INT 10 || true
    fi
    rm -f "$E2E_DIR/vm2.pid"
    VM2_PID=
}

# ----------------------------------------------------------------------------- the router
ROUTER_PID=
ROUTER_LOG=$E2E_DIR/router.log
# router_start BIN CONFIG STATS_JSON [extra vrouter options...]: in netns vr-node, EAL with
# hugepages (vhost-user needs fd-backed memory), in-memory (no files left behind).
router_start() {
    local bin=$1 cfg=$2 stats=$3
    shift 3
    mkdir -p "$E2E_DIR"
    rm -f "$stats" "$VHOST_SOCK"
    ip netns exec $NS_NODE "$bin" -c "$cfg" --idle-sleep-us 50 --stats-json "$stats" "$@" \
        -- -l 0-1 --in-memory --file-prefix vrnode --no-pci --log-level=warning \
        </dev/null >"$ROUTER_LOG" 2>&1 &
    ROUTER_PID=$!
    echo "$ROUTER_PID" >"$E2E_DIR/router.pid"
    log "router pid $ROUTER_PID, log $ROUTER_LOG"
    if ! wait_socket "$VHOST_SOCK" "$ROUTER_PID" 30; then
        tail -30 "$ROUTER_LOG" >&2
        return 1
    fi
}

# wait_socket PATH PID TIMEOUT_S: until PATH is a socket; fails early when PID exits.
wait_socket() {
    local sock=$1 pid=$2 deadline=$((SECONDS + $3))
    while [[ ! -S $sock ]]; do
        pid_alive "$pid" || { log "process $pid exited before creating $sock"; return 1; }
        ((SECONDS < deadline)) || { log "timed out after ${3}s waiting for $sock"; return 1; }
        sleep 0.1
    done
}

# router_stop [TIMEOUT]: SIGTERM and wait; returns the router's exit status.
router_stop() {
    local rc=0
    [[ -n $ROUTER_PID ]] || return 0
    stop_pid "$ROUTER_PID" router TERM "${1:-15}" || rc=$?
    ROUTER_PID=
    rm -f "$E2E_DIR/router.pid"
    return $rc
}

# ----------------------------------------------------------------------------- diagnostics
dump_file() {
    local f=$1 n=${2:-60}
    echo "----- $f (last $n lines)"
    if [[ -f $f ]]; then tail -n "$n" "$f"; else echo "(missing)"; fi
}

# ----------------------------------------------------------------------------- pcap runs
# run_router_pcap BIN CONFIG STATS_JSON FILE_PREFIX LOG: runs the router on net_pcap ports for
# 3 s (--run-for 3), no hugepages, bounded by a 60 s timeout. Returns the router's exit status.
run_router_pcap() {
    local bin=$1 cfg=$2 stats=$3 prefix=$4 logf=$5 rc=0
    rm -f "$stats"
    timeout -s INT -k 10 60 "$bin" -c "$cfg" --run-for 3 --stats-json "$stats" \
        -- -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$prefix" --log-level=warning \
        </dev/null >"$logf" 2>&1 || rc=$?
    return $rc
}

# resolve_bin [PATH]: the router binary to test (default target/release/vrouter), absolute.
resolve_bin() {
    local bin=${1:-$REPO_ROOT/target/release/vrouter}
    [[ $bin == /* ]] || bin=$PWD/$bin
    [[ -x $bin ]] || die "router binary $bin not found or not executable (cargo build --release)"
    printf '%s\n' "$bin"
}

# summary NAME: prints "NAME: N passed, N failed" and returns non-zero when any failed.
summary() {
    echo "$1: $N_PASS passed, $N_FAIL failed"
    ((N_FAIL == 0))
}

# hugepages_free: free 2 MiB hugepages.
hugepages_free() { cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0; }

# iperf_json_ok FILE: iperf3 client JSON without "error" and with bytes received > 0.
iperf_json_ok() {
    $PY - "$1" <<'PYEOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"cannot read iperf3 JSON {sys.argv[1]}: {e}")
if r.get("error"):
    sys.exit(f"iperf3 error: {r['error']}")
end = r.get("end", {})
rx = end.get("sum_received", {}).get("bytes", 0)
tx = end.get("sum_sent", {}).get("bytes", 0)
bps = end.get("sum_received", {}).get("bits_per_second", 0)
retr = end.get("sum_sent", {}).get("retransmits", "?")
print(f"sent {tx} B, received {rx} B, {bps / 1e6:.1f} Mbit/s, retransmits {retr}")
sys.exit(0 if rx > 0 else "no bytes received")
PYEOF
}

# ----------------------------------------------------------------------------- bench node
# bench_node_config FILE FABRIC_DEV VIF_LINE ENCAP COMMENT: the node of scripts/bench.sh and
# scripts/icount-process.sh (traffic from tests/fixtures/gen_bench.py): the fabric on
# FABRIC_DEV, vif vm1 (VIF_LINE: its dev or vhost_socket line) in VRF 1 (VNI 100) with the
# inner destinations routed to it, and a tunnel of encapsulation ENCAP (vxlan, mpls-udp,
# mpls-gre) back to the sender for PVP.
bench_node_config() {
    local file=$1 fabric_dev=$2 vif=$3 encap=$4 comment=$5 tunnel
    case $encap in
        vxlan) tunnel=$'encap = "vxlan"\nvni = 100\ninner_mac = "02:00:00:00:02:01"' ;;
        mpls-udp) tunnel=$'encap = "mpls-udp"\nlabel = 200' ;;
        mpls-gre) tunnel=$'encap = "mpls-gre"\nlabel = 201' ;;
        *) die "bench_node_config: unknown encapsulation $encap" ;;
    esac
    cat >"$file" <<EOF
# $comment
[fabric]
dev = "$fabric_dev"
ip = "203.0.113.1/24"
mac = "02:00:00:00:00:01"

[[fabric.neighbor]]
ip = "203.0.113.2"
mac = "02:00:00:00:00:02"

[[vrf]]
id = 1
vni = 100

[[vif]]
name = "vm1"
$vif
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2"]

[[nexthop]]
id = 11
type = "interface"
vif = "vm1"

# PVP: the VM's replies (to the remote senders 10.1.x.y) go back through this tunnel.
[[nexthop]]
id = 20
type = "tunnel"
$tunnel
dst = "203.0.113.2"

[[route]]
vrf = 1
prefix = "198.51.100.16/28"
nexthop = 11

[[route]]
vrf = 1
prefix = "10.0.0.0/8"
nexthop = 20

[[mpls]]
label = 300
nexthop = 11
EOF
}

# bench_pcaps DIR FLOWS: the bench traffic (tests/fixtures/gen_bench.py: VXLAN, MPLSoUDP and
# MPLSoGRE pcaps of FLOWS flows) in DIR, made with Debian's scapy unless already there.
bench_pcaps() {
    local dir=$1 flows=$2 gen
    [[ -f $dir/bench-meta.json ]] && return 0
    gen=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/fixtures/gen_bench.py
    /usr/bin/python3 -c 'import scapy.all' 2>/dev/null ||
        die "generating the pcaps needs Debian's python3-scapy (scripts/setup-host.sh), or pcaps made elsewhere (bench.sh --pcap-dir)"
    log "generating $flows-flow pcaps in $dir (scapy, ~30 s)"
    /usr/bin/python3 "$gen" "$dir.tmp" --flows "$flows" || die "gen_bench.py failed"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
}
