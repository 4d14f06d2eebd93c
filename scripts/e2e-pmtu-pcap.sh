#!/usr/bin/env bash
# Path-MTU end-to-end test on pcap ports (no namespaces, no hugepages):
#   scripts/e2e-pmtu-pcap.sh [VROUTER_BIN]      (default target/release/vrouter)
# Generates the fixtures (tests/fixtures/gen_pmtu.py: its header has the case table and the
# choices made where docs/CONFIG.md leaves a value open), runs the router for 3 s on them
# (fabric + vifs vm1 (mtu 1500) and vm2 (mtu 1400), all net_pcap), then:
#   - every output (vm1, vm2, fabric) == expected, byte for byte, cut in parts whose relative
#     order is not guaranteed (by input pcap; fragments apart), each part in order; the tunnel
#     UDP source port masked (ICMP frag needed / packet too big, fragments, clamped SYNs, the
#     ICMP relayed from the fabric);
#   - fragments of one packet share the UDP source port; TCP checksums of the SYNs;
#   - the stats: exact drop counts (frag_needed, frag_failed, icmp_from_fabric, all others
#     0), the PMTU events, port counters, mempool back to its baseline.
# KEEP=1 keeps the work directory.
set -euo pipefail
LOG_TAG=e2e-pmtu-pcap
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN=$(resolve_bin "${1:-}")
FIX=$REPO_ROOT/tests/fixtures
OUT=$(mktemp -d /tmp/vrouter-pmtu.XXXXXX)
cleanup() {
    if [[ -n ${KEEP:-} || $N_FAIL -gt 0 ]]; then log "files kept in $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

check "generate fixtures (gen_pmtu.py)" $PY "$FIX/gen_pmtu.py" "$OUT"
((N_FAIL == 0)) || { summary e2e-pmtu-pcap; exit 1; }

rc=0
run_router_pcap "$BIN" "$OUT/pmtu.toml" "$OUT/stats.json" vrpmtu "$OUT/router.log" || rc=$?
if ((rc == 0)); then pass "router ran 3 s and exited 0"; else fail "router exit status $rc"; fi

# The outputs, cut in parts (gen_pmtu.py's header says why), each compared in order.
check "outputs cut in parts (gen_pmtu.py --split)" $PY "$FIX/gen_pmtu.py" --split "$OUT"
if [[ -f $OUT/parts.txt ]]; then
    while IFS=$'\t' read -r key what; do
        mask=()
        [[ $key == fabric* ]] && mask=(--mask-udp-sport)
        check "$what: part-$key.pcap == expected" \
            $PY "$FIX/compare.py" "$OUT/expected-part-$key.pcap" "$OUT/part-$key.pcap" "${mask[@]}"
    done <"$OUT/parts.txt"
fi
VERBOSE=1 check "fragments: same UDP source port, in offset order; SYN MSS values and TCP checksums" \
    $PY "$FIX/gen_pmtu.py" --check "$OUT"
VERBOSE=1 check "stats JSON: exact drops, PMTU events, ports, mempool" \
    $PY "$SCRIPTS_DIR/check_stats.py" "$OUT/stats.json" --expect "$OUT/expect-pmtu.json"

if ((N_FAIL)); then
    echo "----- input packet index -> case: $OUT/cases.txt"
    cat "$OUT/cases.txt"
    dump_file "$OUT/router.log" 80
fi
summary e2e-pmtu-pcap
