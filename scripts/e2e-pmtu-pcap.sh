#!/usr/bin/env bash
# Path-MTU end-to-end test on pcap ports (no namespaces, no hugepages):
#   scripts/e2e-pmtu-pcap.sh [VROUTER_BIN]      (default target/release/vrouter)
# Generates the fixtures (tests/fixtures/gen_pmtu.py: its header has the case table and the
# choices made where docs/CONFIG.md leaves a value open), runs the router for 3 s on them
# (fabric + vifs vm1 (mtu 1500) and vm2 (mtu 1400), all net_pcap), then:
#   - vm1 and vm2 outputs == expected, byte for byte, in order (ICMP frag needed / packet too
#     big, fragments, clamped SYNs, the ICMP relayed from the fabric);
#   - the fabric output, split by origin (vm-in / fabric-in: their relative order is not
#     guaranteed), == expected with the tunnel UDP source port masked;
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

check "vm1: vm-out.pcap == expected-vm-out.pcap (ICMP frag needed x3, packet too big)" \
    $PY "$FIX/compare.py" "$OUT/expected-vm-out.pcap" "$OUT/vm-out.pcap"
check "vm2: vm2-out.pcap == expected-vm2-out.pcap (relayed ICMP mtu 1350, fragments, MSS 1360)" \
    $PY "$FIX/compare.py" "$OUT/expected-vm2-out.pcap" "$OUT/vm2-out.pcap"
if [[ -f $OUT/fabric-out.pcap ]]; then
    check "fabric-out.pcap split by origin" $PY "$FIX/gen_pmtu.py" --split "$OUT/fabric-out.pcap" "$OUT"
else
    fail "no fabric-out.pcap"
fi
check "fabric, caused by vm-in == expected (fragments, MSS 1410/1428/1390, boundaries; sport masked)" \
    $PY "$FIX/compare.py" "$OUT/expected-fabric-out-vm.pcap" "$OUT/fabric-out-vm.pcap" --mask-udp-sport
check "fabric, caused by fabric-in == expected (ICMP frag needed mtu 1400 in VXLAN; sport masked)" \
    $PY "$FIX/compare.py" "$OUT/expected-fabric-out-fab.pcap" "$OUT/fabric-out-fab.pcap" --mask-udp-sport
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
