#!/usr/bin/env bash
# Path-MTU end-to-end test in network namespaces (the topology of scripts/topo.sh):
#   scripts/e2e-pmtu.sh [VROUTER_BIN]      (default target/release/vrouter)
# The field's failing scenario with real peers: the VM's vmtap0 and its vif have MTU 1500, the
# underlay veth 1500, the remote's VXLAN device vx100 1450, so the tunnel carries inner packets
# of at most 1450 bytes. Config scripts/pmtu-demo.toml (router_ip 198.51.100.254, receive route
# for it, vif mtu 1500, mss_clamp default). No static IPv6 neighbours: the router's ND proxy
# answers; the VM's TAP keeps its default offloads (VM_OFFLOADS=keep).
# Checks, in this order (order matters: a PMTU the VM's kernel has learned changes what it sends):
#   ping / ping6 both ways (ND), the neighbour entries ND filled in;
#   iperf3 TCP 3 s both ways (captured SYNs: the VM asks MSS 1460, the remote sees 1410);
#   a 20 MB HTTP download each way (python3 http.server + curl), sha256 equal;
#   ping -M dont -s 1472 (the router fragments), ping -M do -s 1472 ("Frag needed and DF set
#   (mtu = 1450)", then `ip route get` shows mtu 1450), ping -M do -s 1422;
#   iperf3 -6 VM -> remote, ping -6 -M do -s 1452 ("Packet too big: mtu=1450", route cache),
#   ping -6 -M do -s 1402;
#   captured SYNs: the VM sends MSS 1460 (IPv6 1440), the remote receives 1410 (IPv6 1390);
#   captures on the RECEIVING side of each direction (vx100 in vr-remote, vmtap0 in vr-vm):
#   tshark finds no bad IPv4/TCP/UDP/ICMP/ICMPv6 checksum (a TCP 0xffff standing for 0x0000,
#   which Linux itself writes, is listed but allowed: RFC 1624);
#   the stats JSON: icmp_frag_needed_sent >= 1, mss_clamped >= 2, fragmented >= 1,
#   fragments_sent >= 2, icmp6_ptb_sent >= 1, nd_replied >= 1, mempool back to its baseline.
# Needs root, hugepages (scripts/setup-host.sh), iperf3, tcpdump, tshark, curl. About 1-2 min.
# KEEP=1 keeps /tmp/vrouter-e2e (logs, captures, stats) after a passing run.
# PMTU_CFG=FILE runs another config (debugging the harness only).
set -euo pipefail
LOG_TAG=e2e-pmtu
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"
BIN=$(resolve_bin "${1:-}")
CFG=${PMTU_CFG:-$REPO_ROOT/scripts/pmtu-demo.toml}
# The topology variant (lib.sh knobs): VM MTU 1500, TAP offloads left alone, no static ND.
VM_MTU=1500
VM_OFFLOADS=keep
STATIC_ND=0
STATS=$E2E_DIR/stats.json
CAP_RMT=$E2E_DIR/rx-remote-vx100.pcap      # received by the remote (VM -> remote direction)
CAP_VM=$E2E_DIR/rx-vm-vmtap0.pcap          # received by the VM (remote -> VM direction)
CAP_VM_SYN=$E2E_DIR/tx-vm-syn.pcap         # SYNs the VM sends (before the router's clamp)
HTTP_PORT=8000
BLOB_MB=20
ROUTER_MAC_RE=00:00:5e:00:01:00
TCPDUMP_PIDS=()
BG_PID=             # an iperf3 or http.server we started
T0=$SECONDS

for tool in iperf3 tcpdump tshark curl; do
    command -v $tool >/dev/null || die "$tool missing (scripts/setup-host.sh)"
done

diagnostics() {
    echo "===== diagnostics ($E2E_DIR)"
    dump_file "$ROUTER_LOG" 80
    dump_file "$VM_LOG" 30
    topo_status 2>&1 | grep -vE '^\s+link/loopback' || true
    local c
    for c in "$CAP_RMT" "$CAP_VM"; do
        if [[ -s $c ]]; then
            echo "----- $c: ICMP/ICMPv6/ARP and SYNs (first 30)"
            tcpdump -nn -e -r "$c" 'icmp or icmp6 or arp or tcp[tcpflags] & tcp-syn != 0' 2>/dev/null | head -30 || true
        fi
    done
    [[ -f $STATS ]] && { echo "----- $STATS"; cat "$STATS"; echo; }
}

stop_captures() {
    local p
    for p in "${TCPDUMP_PIDS[@]}"; do
        stop_pid "$p" tcpdump INT 5 || true
    done
    TCPDUMP_PIDS=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    trap "" PIPE
    [[ -n $BG_PID ]] && stop_pid "$BG_PID" "background server" TERM 3 || true
    stop_captures
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

# ----------------------------------------------------------------------------- setup
check "topology up (vr-node/vr-remote/vr-vm, veth MTU 1500, vx100 MTU 1450, no static ND)" topo_up

# capture NAME NS IFACE DIRECTION SNAPLEN FILE FILTER: tcpdump in the background (pid kept).
capture() {
    local name=$1 ns=$2 ifc=$3 dir=$4 snap=$5 file=$6 filter=$7
    ip netns exec "$ns" tcpdump -i "$ifc" -Q "$dir" -nn -U -B 16384 -s "$snap" -w "$file" \
        "$filter" >"$E2E_DIR/tcpdump-$name.log" 2>&1 &
    TCPDUMP_PIDS+=($!)
    wait_until 5 "tcpdump $name listening" grep -q 'listening on' "$E2E_DIR/tcpdump-$name.log" \
        || log "warning: tcpdump $name not listening yet"
}
# What the captures keep: ICMP/ICMPv6, the HTTP transfers (full packets, for the checksum
# check) and every TCP SYN (IPv4, and IPv6 without extension headers: TCP flags at ip6[53]).
SYN_FILTER='(tcp[tcpflags] & tcp-syn != 0) or (ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)'
CAP_FILTER="icmp or icmp6 or tcp port $HTTP_PORT or $SYN_FILTER"
capture rmt $NS_REMOTE vx100 in 0 "$CAP_RMT" "$CAP_FILTER"

if router_start "$BIN" "$CFG" "$STATS"; then
    pass "router started ($(basename "$CFG")), vhost-user socket $VHOST_SOCK ready"
else
    fail "router did not create $VHOST_SOCK (does it accept $(basename "$CFG")?)"
    exit 1
fi
if vm_start; then
    pass "VM (testpmd virtio_user <-> vmtap0) up, vmtap0 MTU $VM_MTU, offloads at their defaults"
else
    fail "VM did not come up"
    exit 1
fi
log "vmtap0: $(ip -n $NS_VM -o link show vmtap0 | grep -o 'mtu [0-9]*')," \
    "offloads: $(ip netns exec $NS_VM ethtool -k vmtap0 2>/dev/null | grep -E '^(tx-checksumming|rx-checksumming|tcp-segmentation-offload|generic-receive-offload):' | tr -s ' \n' ' ')"
capture vm $NS_VM vmtap0 in 0 "$CAP_VM" "$CAP_FILTER"
capture vmsyn $NS_VM vmtap0 out 200 "$CAP_VM_SYN" "$SYN_FILTER"

# ----------------------------------------------------------------------------- reachability
ping_check() {   # ping_check NS ADDR [ping options...]
    local ns=$1 addr=$2
    shift 2
    in_ns "$ns" ping -n -c 3 -i 0.2 -W 1 -w 8 "$@" "$addr"
}
# nd_learned NS ADDR DEV: the neighbour entry for ADDR (not a static one) holds the router MAC.
nd_learned() {
    local e
    e=$(ip -n "$1" -6 neigh show "$2" dev "$3")
    echo "neighbour entry in $1: ${e:-(none)}"
    [[ $e == *"lladdr $ROUTER_MAC_RE"* && $e != *PERMANENT* ]]
}
# ping6_check NS ADDR DEV: ping6 that, on failure, says whether ND is the reason.
ping6_check() {
    local ns=$1 addr=$2 dev=$3 rc=0
    ping_check "$ns" "$addr" -6 || rc=$?
    if ((rc)); then
        local e
        e=$(ip -n "$ns" -6 neigh show "$addr" dev "$dev")
        echo "neighbour entry for $addr in $ns: ${e:-(none)}"
        [[ $e == *lladdr* ]] || echo "=> IPv6 failed for lack of ND: no Neighbor Advertisement from the router"
    fi
    return $rc
}
check "ping 198.51.100.1 from vr-vm (VM -> router -> VXLAN -> remote)" ping_check $NS_VM 198.51.100.1
check "ping 198.51.100.2 from vr-remote (VXLAN -> router -> VM)" ping_check $NS_REMOTE 198.51.100.2
check "ping 198.51.100.254 (router_ip, receive nexthop) from vr-vm" ping_check $NS_VM 198.51.100.254
check "ping6 2001:db8:100::1 from vr-vm (ND for ::1 answered by the router)" \
    ping6_check $NS_VM 2001:db8:100::1 vmtap0
check "ping6 2001:db8:100::2 from vr-remote (ND for ::2 answered inside VXLAN)" \
    ping6_check $NS_REMOTE 2001:db8:100::2 vx100
check "VM learned 2001:db8:100::1 -> router MAC by ND" nd_learned $NS_VM 2001:db8:100::1 vmtap0
check "remote learned 2001:db8:100::2 -> router MAC by ND" nd_learned $NS_REMOTE 2001:db8:100::2 vx100

# ----------------------------------------------------------------------------- TCP
iperf_run() {    # iperf_run NAME BIND_ADDR [iperf3 client options]: server vr-remote, client vr-vm
    local name=$1 addr=$2 rc=0
    shift 2
    ip netns exec $NS_REMOTE iperf3 -s -1 -B "$addr" -p 5201 \
        >"$E2E_DIR/iperf-server-$name.log" 2>&1 &
    BG_PID=$!
    wait_until 5 "iperf3 server listening" \
        sh -c "ip netns exec $NS_REMOTE ss -ltn | grep -q -- '$addr\]*:5201'" || true
    timeout 20 ip netns exec $NS_VM iperf3 -c "$addr" -p 5201 -t 3 -J \
        --connect-timeout 5000 "$@" >"$E2E_DIR/iperf-$name.json" 2>&1 || rc=$?
    stop_pid "$BG_PID" "iperf3 server" TERM 5 || true
    BG_PID=
    iperf_json_ok "$E2E_DIR/iperf-$name.json" || { echo "iperf3 client exit $rc"; return 1; }
}
check "iperf3 TCP 3 s, VM -> remote" iperf_run up 198.51.100.1
check "iperf3 TCP 3 s, remote -> VM (-R)" iperf_run down 198.51.100.1 -R

# http_run NAME SERVER_NS SERVER_ADDR CLIENT_NS: a BLOB_MB random file served by python3
# http.server, fetched with curl from the other side, sha256 compared.
http_run() {
    local name=$1 sns=$2 addr=$3 cns=$4 rc=0 dir=$E2E_DIR/www-$1 got=$E2E_DIR/got-$1.bin w
    mkdir -p "$dir"
    head -c $((BLOB_MB * 1024 * 1024)) /dev/urandom >"$dir/blob.bin"
    ip netns exec "$sns" $PY -m http.server "$HTTP_PORT" --bind "$addr" --directory "$dir" \
        >"$E2E_DIR/http-server-$name.log" 2>&1 &
    BG_PID=$!
    wait_until 10 "http.server listening" \
        sh -c "ip netns exec $sns ss -ltn | grep -q '$addr:$HTTP_PORT'" || true
    w=$(timeout 40 ip netns exec "$cns" curl -sS --max-time 30 -o "$got" \
        -w '%{size_download} B in %{time_total} s (%{speed_download} B/s)' \
        "http://$addr:$HTTP_PORT/blob.bin" 2>&1) || rc=$?
    stop_pid "$BG_PID" "http.server" TERM 5 || true
    BG_PID=
    echo "curl: $w (exit $rc)"
    local want have
    want=$(sha256sum <"$dir/blob.bin" | cut -d' ' -f1)
    have=$(sha256sum <"$got" 2>/dev/null | cut -d' ' -f1) || true
    echo "sha256 served $want"
    echo "sha256 got    ${have:-(no file)}"
    rm -f "$got" "$dir/blob.bin"
    ((rc == 0)) && [[ $want == "$have" ]]
}
VERBOSE=1 check "HTTP ${BLOB_MB} MB VM -> remote (server in vr-vm, curl in vr-remote), sha256 equal" \
    http_run vm2rmt $NS_VM 198.51.100.2 $NS_REMOTE
VERBOSE=1 check "HTTP ${BLOB_MB} MB remote -> VM (server in vr-remote, curl in vr-vm), sha256 equal" \
    http_run rmt2vm $NS_REMOTE 198.51.100.1 $NS_VM

# ----------------------------------------------------------------------------- IPv4 path MTU
# Without DF first: once the VM's kernel has learned PMTU 1450 it fragments by itself (even
# for IP_PMTUDISC_DONT sockets) and the router would never see the 1500-byte packet.
ping_nodf() {
    local out
    out=$(in_ns $NS_VM ping -n -M dont -s 1472 -c 2 -i 0.3 -W 2 -w 8 198.51.100.1 2>&1) || true
    printf '%s\n' "$out" | sed -n '2,3p;$p'
    grep -q '2 received' <<<"$out"
}
VERBOSE=1 check "ping -M dont -s 1472 (1500 B, no DF): the router fragments, replies come back" ping_nodf

# (check runs its command in a subshell: outputs kept for the summary go to files)
PING_DF_OUT=$E2E_DIR/ping-df.txt
ping_df_big() {
    in_ns $NS_VM ping -n -M do -s 1472 -c 2 -i 0.5 -W 1 -w 4 198.51.100.1 >"$PING_DF_OUT" 2>&1 || true
    cat "$PING_DF_OUT"
    grep -q 'Frag needed and DF set (mtu = 1450)' "$PING_DF_OUT"
}
VERBOSE=1 check "ping -M do -s 1472 gets 'Frag needed and DF set (mtu = 1450)'" ping_df_big
route_mtu() {    # route_mtu [-6] ADDR MTU
    local fam=
    [[ $1 == -6 ]] && { fam=-6; shift; }
    local out
    out=$(ip -n $NS_VM $fam route get "$1" 2>&1)
    printf '%s\n' "$out"
    grep -qw "mtu $2" <<<"$out"
}
VERBOSE=1 check "vr-vm: ip route get 198.51.100.1 shows mtu 1450 (learned)" route_mtu 198.51.100.1 1450
check "ping -M do -s 1422 (1450 B) succeeds" \
    in_ns $NS_VM ping -n -M do -s 1422 -c 2 -i 0.3 -W 2 -w 8 198.51.100.1

# ----------------------------------------------------------------------------- IPv6
check "iperf3 -6 TCP 3 s, VM -> remote" iperf_run up6 2001:db8:100::1
PING6_OUT=$E2E_DIR/ping6-df.txt
ping6_df_big() {
    in_ns $NS_VM ping -6 -n -M do -s 1452 -c 2 -i 0.5 -W 1 -w 4 2001:db8:100::1 >"$PING6_OUT" 2>&1 || true
    cat "$PING6_OUT"
    grep -q 'Packet too big: mtu=1450' "$PING6_OUT"
}
VERBOSE=1 check "ping -6 -M do -s 1452 (1500 B) gets 'Packet too big: mtu=1450'" ping6_df_big
VERBOSE=1 check "vr-vm: ip -6 route get 2001:db8:100::1 shows mtu 1450 (learned)" \
    route_mtu -6 2001:db8:100::1 1450
check "ping -6 -M do -s 1402 (1450 B) succeeds" \
    in_ns $NS_VM ping -6 -n -M do -s 1402 -c 2 -i 0.3 -W 2 -w 8 2001:db8:100::1

# ----------------------------------------------------------------------------- stop, stats
sleep 0.5
stop_captures
rc=0
router_stop 15 || rc=$?
if ((rc == 0)); then pass "router exited 0 on SIGTERM"; else fail "router exit status $rc after SIGTERM"; fi
vm_stop

VERBOSE=1 check "stats JSON: PMTU events, ND answers, mempool back to its baseline" \
    $PY "$SCRIPTS_DIR/check_stats.py" "$STATS" \
    "events.icmp_frag_needed_sent >= 1" "events.mss_clamped >= 2" \
    "events.fragmented >= 1" "events.fragments_sent >= 2" "events.icmp6_ptb_sent >= 1" \
    "events.nd_replied >= 1" "drops.frag_needed >= 2" \
    "events.vxlan_decap > 0" "events.vxlan_encap > 0" \
    "mempool.in_use_at_exit <= mempool.in_use_at_start"
[[ -f $STATS ]] && $PY - "$STATS" <<'PYEOF' || true
import json, sys
s = json.load(open(sys.argv[1]))
ev, dr = s.get("events", {}), s.get("drops", {})
keys = ["icmp_frag_needed_sent", "icmp6_ptb_sent", "mss_clamped", "fragmented", "fragments_sent",
        "nd_replied", "pmtu_learned", "icmp_relayed", "csum_completed"]
print("    PMTU counters: " + ", ".join(f"{k}={ev.get(k, 'absent')}" for k in keys))
m = s.get("mempool", {})
print(f"    mempool: in_use_at_start={m.get('in_use_at_start')} in_use_at_exit={m.get('in_use_at_exit')} capacity={m.get('capacity')}")
print("    events: " + ", ".join(f"{k}={v}" for k, v in ev.items() if v))
print("    drops:  " + (", ".join(f"{k}={v}" for k, v in dr.items() if v) or "none"))
PYEOF

# ----------------------------------------------------------------------------- captures
# tshark_fields FILE FILTER FIELDS...: one line per matching packet.
tshark_fields() {
    local f=$1 y=$2
    shift 2
    local args=() e
    for e in "$@"; do args+=(-e "$e"); done
    tshark -n -r "$f" -Y "$y" -T fields -E separator=' ' "${args[@]}" 2>/dev/null
}
# syn_mss FILE SRC WANT_CMP: SYNs (not SYN-ACKs) from SRC, every MSS compared with WANT_CMP
# ("==1410", "<=1390"); at least one.
syn_mss() {
    local f=$1 src=$2 cmp=$3 fam=ip lines n bad
    [[ $src == *:* ]] && fam=ipv6
    lines=$(tshark_fields "$f" "tcp.flags.syn==1 && tcp.flags.ack==0 && $fam.src==$src" \
        tcp.dstport tcp.options.mss_val)
    n=$(grep -c . <<<"$lines" || true)
    ((n == 0)) || printf '%s\n' "$lines" | awk '{print "SYN to port " $1 ": MSS " $2}' | sort | uniq -c | sed 's/^ *//'
    ((n > 0)) || { echo "no SYN from $src in $f"; return 1; }
    bad=$(awk -v c="$cmp" '{v=$2+0; w=substr(c,3)+0; op=substr(c,1,2);
        ok = (op=="==" && v==w) || (op=="<=" && v<=w) || (op==">=" && v>=w); if (!ok) n++}
        END {print n+0}' <<<"$lines")
    echo "$n SYN(s), $bad with an MSS not $cmp"
    ((bad == 0))
}
VERBOSE=1 check "the VM's own SYNs (vmtap0 TX) ask MSS 1460 (VM MTU 1500)" \
    syn_mss "$CAP_VM_SYN" 198.51.100.2 "==1460"
VERBOSE=1 check "the remote receives the VM's SYNs with MSS 1410 (clamped: 1450 - 40)" \
    syn_mss "$CAP_RMT" 198.51.100.2 "==1410"
VERBOSE=1 check "the remote receives the VM's IPv6 SYNs with MSS 1390 (1450 - 60)" \
    syn_mss "$CAP_RMT" 2001:db8:100::2 "==1390"

# bad_checksums FILE: tshark with checksum validation on: no bad IPv4/TCP/UDP/ICMP/ICMPv6
# checksum. A TCP checksum 0xffff where the computed one is 0x0000 is the same number in
# ones' complement (RFC 1624); Linux's own software checksum (skb_checksum_help) writes 0xffff
# for 0 and Wireshark flags it (tcp.checksum.ffff), about 1 in 65536 segments. Such packets
# are listed but do not fail the check.
CSUM_OPTS=(-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE)
BAD_FILTER='ip.checksum.status=="Bad" || tcp.checksum.status=="Bad" || udp.checksum.status=="Bad" || icmp.checksum.status=="Bad" || icmpv6.checksum.status=="Bad"'
bad_checksums() {
    local f=$1 err=$E2E_DIR/tshark.err total bad ffff nbad nffff
    total=$(tshark -n -r "$f" -T fields -e frame.number 2>"$err") || { cat "$err"; return 1; }
    total=$(grep -c '^[0-9]' <<<"$total" || true)
    bad=$(tshark -n -r "$f" "${CSUM_OPTS[@]}" -Y "$BAD_FILTER" 2>"$err") || { cat "$err"; return 1; }
    ffff=$(tshark -n -r "$f" "${CSUM_OPTS[@]}" 2>"$err" \
        -Y "($BAD_FILTER) && tcp.checksum.ffff && !(ip.checksum.status==\"Bad\" || icmp.checksum.status==\"Bad\")") \
        || { cat "$err"; return 1; }
    nbad=$(grep -c . <<<"$bad" || true)
    nffff=$(grep -c . <<<"$ffff" || true)
    echo "$(basename "$f"): $nbad bad checksums in $total packets examined" \
        "($nffff of them TCP 0xffff for 0x0000, RFC 1624-equivalent: not counted)"
    ((nbad)) && printf '%s\n' "$bad" | head -10
    ((total > 1000 && nbad - nffff == 0))
}
VERBOSE=1 check "capture received by the remote (vx100): no bad checksum (> 1000 packets)" \
    bad_checksums "$CAP_RMT"
VERBOSE=1 check "capture received by the VM (vmtap0): no bad checksum (> 1000 packets)" \
    bad_checksums "$CAP_VM"
for t in rmt vm vmsyn; do
    grep -h 'dropped by kernel' "$E2E_DIR/tcpdump-$t.log" 2>/dev/null | sed "s/^/    tcpdump $t: /" || true
done

# The key lines for a reviewer.
echo "    --- ICMP errors the VM received (capture on vmtap0):"
tshark -n -r "$CAP_VM" -Y '(icmp.type==3 && icmp.code==4) || icmpv6.type==2' -T fields \
    -E occurrence=f -E separator=/t -e frame.number -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
    -e ip.ttl -e ipv6.hlim -e icmp.mtu -e icmpv6.mtu -e frame.len 2>/dev/null \
    | awk -F'\t' '{t = $8 != "" ? "ICMP frag needed mtu " $8 : "ICMPv6 packet too big mtu " $9;
        printf "      frame %s: %s -> %s ttl/hlim %s, %s, %s bytes\n", $1, $2 $3, $4 $5, $6 $7, t, $10}' \
    | head -10 || true
echo "    --- ping output:"
cat "$PING_DF_OUT" "$PING6_OUT" 2>/dev/null | grep -E 'Frag needed|Packet too big' | sed 's/^/      /' || true
echo "    --- SYN MSS: VM sent (vmtap0 TX) / remote received (vx100 RX):"
for c in "$CAP_VM_SYN" "$CAP_RMT"; do
    tshark -n -r "$c" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0 && (ip.src==198.51.100.2 || ipv6.src==2001:db8:100::2)' \
        -T fields -E separator=/t -e ip.src -e ipv6.src -e tcp.dstport -e tcp.options.mss_val 2>/dev/null \
        | awk -F'\t' '{print $1 $2 " -> port " $3 ": MSS " $4}' | sort | uniq -c \
        | sed "s|^ *\([0-9]*\) |      $(basename "$c"): \1 SYN(s) from |" || true
done

summary e2e-pmtu
