#!/usr/bin/env bash
# Malformed-input end-to-end test on pcap ports:
#   scripts/e2e-malformed.sh [VROUTER_BIN]      (default target/release/vrouter)
# Feeds known numbers of packets for every drop reason reachable from the fabric, mixed with
# valid ones (tests/fixtures/gen_malformed.py, whose header has the expectation table), runs the
# router for 3 s, and asserts the EXACT count of every drop reason (all others 0), the event
# counts, the frames delivered to the VM, and that no mbuf leaked. KEEP=1 keeps the work dir.
set -euo pipefail
LOG_TAG=e2e-malformed
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BIN=$(resolve_bin "${1:-}")
FIX=$REPO_ROOT/tests/fixtures
OUT=$(mktemp -d /tmp/vrouter-malformed.XXXXXX)
cleanup() {
    if [[ -n ${KEEP:-} || $N_FAIL -gt 0 ]]; then log "files kept in $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

check "generate fixtures (gen_malformed.py)" $PY "$FIX/gen_malformed.py" "$OUT"
((N_FAIL == 0)) || { summary e2e-malformed; exit 1; }

rc=0
run_router_pcap "$BIN" "$OUT/malformed.toml" "$OUT/stats.json" vrmalformed "$OUT/router.log" || rc=$?
if ((rc == 0)); then pass "router ran 3 s and exited 0"; else fail "router exit status $rc"; fi

VERBOSE=1 check "stats JSON: exact drop counts, events, ports, mempool" \
    $PY "$SCRIPTS_DIR/check_stats.py" "$OUT/stats.json" --expect "$OUT/expect-malformed.json"
check "valid packets delivered: vm-out.pcap == expected-vm-out.pcap" \
    $PY "$FIX/compare.py" "$OUT/expected-vm-out.pcap" "$OUT/vm-out.pcap"

if ((N_FAIL)); then
    echo "----- fabric-in.pcap index -> case: $OUT/fabric-in.txt"
    dump_file "$OUT/router.log" 80
fi
summary e2e-malformed
