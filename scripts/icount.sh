#!/usr/bin/env bash
# Instructions per packet for each datapath path, counted by valgrind's callgrind (exact and
# repeatable, unlike timings on a shared machine). Each path runs twice (N and 2N packets);
# the difference divided by N removes start-up, and the template-copy cost (reset_only) is
# subtracted.
#   scripts/icount.sh [N]        (default 32000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v valgrind >/dev/null || { echo "icount: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
N=${1:-32000}
cargo build --release --example icount >/dev/null 2>&1 || cargo build --release --example icount
BIN=${ICOUNT_BIN:-target/release/examples/icount}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
count() { # count PATH PACKETS [offload] -> total instructions
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$BIN" "$1" "$2" ${3:-} >/dev/null 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; exit 1; }
    grep -E '^summary:|^totals:' "$tmp/cg.out" | head -1 | awk '{print $2}'
}
per_packet() { # per_packet PATH [offload] -> instructions per packet, start-up removed
    local a b
    a=$(count "$1" "$N" "${2:-}"); b=$(count "$1" $((2 * N)) "${2:-}")
    echo $(((b - a) / N))
}
reset=$(per_packet reset_only)
printf '%-16s %14s %26s\n' "path" "instr/packet" "with NIC IPv4 csum offload"
for p in vxlan_decap vxlan_decap_32dst mpls_udp_decap mpls_gre_decap vxlan_encap mpls_udp_encap mpls_gre_encap vif_to_vif proxy_arp; do
    if [[ $p == *_decap* ]]; then
        off=$(($(per_packet "$p" offload) - reset))
    else
        off=-
    fi
    printf '%-16s %14d %26s\n' "$p" $(($(per_packet "$p") - reset)) "$off"
done
printf '(template copy, subtracted above: %d instructions/packet; N=%d. The offload column: the\n' "$reset" "$N"
printf ' NIC has verified the outer IPv4 header checksum, as most NICs do in hardware.)\n'
