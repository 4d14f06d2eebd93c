#!/usr/bin/env bash
# MPLSoUDP / MPLSoGRE end-to-end test on pcap ports (no namespaces, no hugepages):
#   scripts/e2e-mpls-pcap.sh [VROUTER_BIN]      (default target/release/vrouter)
# Generates the fixtures (tests/fixtures/gen_mpls.py), runs the router for 3 s on them, compares
# both outputs byte for byte with the expected pcaps (the MPLSoUDP source port, a flow hash, is
# masked and checked separately) and checks the counters. KEEP=1 keeps the work directory.
set -euo pipefail
LOG_TAG=e2e-mpls
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN=$(resolve_bin "${1:-}")
FIX=$REPO_ROOT/tests/fixtures
OUT=$(mktemp -d /tmp/vrouter-mpls.XXXXXX)
cleanup() {
    if [[ -n ${KEEP:-} || $N_FAIL -gt 0 ]]; then log "files kept in $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

check "generate fixtures (gen_mpls.py)" $PY "$FIX/gen_mpls.py" "$OUT"
((N_FAIL == 0)) || { summary e2e-mpls-pcap; exit 1; }

rc=0
run_router_pcap "$BIN" "$OUT/mpls.toml" "$OUT/stats.json" vrmpls "$OUT/router.log" || rc=$?
if ((rc == 0)); then pass "router ran 3 s and exited 0"; else fail "router exit status $rc"; fi

check "fabric -> VM: vm-out.pcap == expected-vm-out.pcap" \
    $PY "$FIX/compare.py" "$OUT/expected-vm-out.pcap" "$OUT/vm-out.pcap"
check "VM -> fabric: fabric-out.pcap == expected-fabric-out.pcap (UDP sport masked)" \
    $PY "$FIX/compare.py" "$OUT/expected-fabric-out.pcap" "$OUT/fabric-out.pcap" --mask-udp-sport
VERBOSE=1 check "stats JSON: encap/decap counts, no drops, ports, mempool" \
    $PY "$SCRIPTS_DIR/check_stats.py" "$OUT/stats.json" --expect "$OUT/expect-mpls.json"

if ((N_FAIL)); then
    dump_file "$OUT/router.log" 80
fi
summary e2e-mpls-pcap
