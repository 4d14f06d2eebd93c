#!/usr/bin/env bash
# Whole-process instructions per packet, counted by callgrind: the router on real DPDK
# (net_pcap infinite_rx fabric -> decap -> route -> net_null vif), and dpdk-testpmd io
# forwarding of the same pcap (net_pcap -> net_null), the ceiling bench.sh measures in Mpps.
# Unlike Mpps on a shared machine, these figures repeat; they split each packet's cost into
# the RX driver (net_pcap), the TX driver (net_null) and the program's own code.
#   scripts/icount-process.sh [--encap vxlan|mpls-udp|mpls-gre] [--seconds S]
# (run as root: DPDK with --no-huge; the pcap is bench.sh's, made by scapy if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh
ENCAP=vxlan
SECONDS_RUN=20
while (($#)); do
    case $1 in
        --encap) ENCAP=${2:?}; shift 2 ;;
        --seconds) SECONDS_RUN=${2:?}; shift 2 ;;
        -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "icount-process: unknown argument $1" >&2; exit 2 ;;
    esac
done
case $ENCAP in vxlan | mpls-udp | mpls-gre) ;; *) echo "icount-process: --encap vxlan|mpls-udp|mpls-gre" >&2; exit 2 ;; esac
for c in valgrind callgrind_annotate dpdk-testpmd; do
    command -v "$c" >/dev/null || { echo "icount-process: $c is needed (apt-get install valgrind dpdk)" >&2; exit 1; }
done
cargo build --release --bin vrouter >/dev/null 2>&1 || cargo build --release --bin vrouter
PCAP_DIR=$(pwd)/target/bench-pcaps/flows-4096
LOG_TAG=icount-process bench_pcaps "$PCAP_DIR" 4096
PCAP=$PCAP_DIR/bench-$ENCAP.pcap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bench_node_config "$tmp/vrouter.toml" "net_pcap0,rx_pcap=$PCAP,infinite_rx=1" \
    'dev = "net_null1,no-rx=1"' "$ENCAP" "scripts/icount-process.sh: bench.sh's node, null mode"

# inclusive COST_OUT PATTERN: the largest inclusive cost of a function matching PATTERN.
inclusive() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v pat="$2" 'index($0, pat) { gsub(",", "", $1); if ($1 + 0 > max) max = $1 + 0 } END { print max + 0 }'
}

# report NAME COST_OUT PACKETS: one row of the table.
report() {
    local all rx tx
    all=$(inclusive "$2" "pthread_create.c:start_thread")
    rx=$(inclusive "$2" "librte_net_pcap.so")
    tx=$(inclusive "$2" "librte_net_null.so")
    awk -v n="$1" -v p="$3" -v a="$all" -v r="$rx" -v t="$tx" 'BEGIN {
        if (p <= 0) { printf "%-24s no packets forwarded\n", n; exit 1 }
        printf "%-24s %10d %11.1f %11.1f %11.1f %11.1f\n", n, p, a / p, r / p, t / p, (a - r - t) / p }'
}

echo "router: ${SECONDS_RUN} s under callgrind" >&2
valgrind --tool=callgrind --callgrind-out-file="$tmp/router.cg" target/release/vrouter \
    -c "$tmp/vrouter.toml" --stats-json "$tmp/final.json" --run-for "$SECONDS_RUN" \
    -- --lcores 0@0,1@1 --no-huge -m 512 --no-pci --log-level=warning >"$tmp/router.log" 2>&1 ||
    { tail -20 "$tmp/router.log" >&2; exit 1; }
rpk=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(p["tx_packets"] for p in d["ports"] if p["name"] == "vm1"))' "$tmp/final.json")

echo "dpdk-testpmd io: ${SECONDS_RUN} s under callgrind" >&2
# testpmd exits on end of input: the sleep's end stops it.
(sleep "$SECONDS_RUN"; echo) | valgrind --tool=callgrind --callgrind-out-file="$tmp/testpmd.cg" \
    dpdk-testpmd -l 0,1 --no-huge -m 1024 --no-pci --log-level=warning \
    --vdev "net_pcap0,rx_pcap=$PCAP,infinite_rx=1" --vdev net_null1,no-rx=1 \
    -- --forward-mode=io --auto-start --nb-cores=1 --rxq=1 --txq=1 --total-num-mbufs=16384 \
    --no-numa >"$tmp/testpmd.log" 2>&1 || { tail -20 "$tmp/testpmd.log" >&2; exit 1; }
# The accumulated statistics of all ports, printed at exit: their TX-packets.
tpk=$(awk '/Accumulated forward statistics for all ports/ { f = 1 } f && /TX-packets:/ { print $2; exit }' "$tmp/testpmd.log")

printf '%s: instructions per packet, all forwarding threads (callgrind)\n' "$ENCAP"
printf '%-24s %10s %11s %11s %11s %11s\n' "program" "packets" "total" "rx net_pcap" "tx net_null" "own code"
report "vrouter (decap, route)" "$tmp/router.cg" "$rpk"
report "dpdk-testpmd io" "$tmp/testpmd.cg" "${tpk:-0}"
