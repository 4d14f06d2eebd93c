#!/usr/bin/env bash
# Smoke test of the latency kit (about 30 s): scripts/latency.sh, both directions, 1 s per
# point at 10 % and 50 % of the maximum rate, then checks of its JSON results and of the
# router's counters. It checks that the kit works, not how fast the router is: on a shared
# 2-core machine the figures themselves are noise.
#   scripts/latency-smoke.sh [VROUTER_BIN]     (KEEP=1 keeps the work directory)
# VROUTER_BIN: the router to test (default: target/release/vrouter); the generator is built
# here (cargo build --release --example loadgen, incremental).
set -euo pipefail
LOG_TAG=latency-smoke
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT=$(mktemp -d /tmp/vrouter-latsmoke.XXXXXX)
cleanup() {
    if [[ -n ${KEEP:-} || $N_FAIL -gt 0 ]]; then log "files kept in $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT

ARGS=(--direction both --duration 1 --warmup 0.2 --rates 10,50 --out "$OUT")
[[ -n ${1:-} ]] && ARGS+=(--vrouter "$(resolve_bin "$1")")

rc=0
"$SCRIPTS_DIR/latency.sh" "${ARGS[@]}" >"$OUT/latency.out" 2>&1 || rc=$?
if ((rc == 0)); then pass "latency.sh ran both directions"; else fail "latency.sh exit status $rc"; fi

# check_results DIRECTION: the sweep's JSON is complete and plausible.
check_results() {
    $PY - "$OUT/latency-$1.json" <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = {r["rate"]: r for r in doc["rows"]}
errors = []
if sorted(rows) != sorted(["max", "10%", "50%"]):
    errors.append(f"rows {sorted(rows)}, expected max, 10%, 50%")
for name, r in rows.items():
    lat = r["latency_us"]
    if not (r["sent"] > 0 and r["received"] > 0):
        errors.append(f"{name}: sent {r['sent']}, received {r['received']}")
        continue
    if r["received"] > r["sent"]:
        errors.append(f"{name}: received {r['received']} > sent {r['sent']}")
    if r["recorded"] != r["received"]:
        errors.append(f"{name}: {r['recorded']} latencies recorded for {r['received']} frames")
    if r["reordered"] != 0:
        errors.append(f"{name}: {r['reordered']} frames out of order (one queue, one worker)")
    # Loss is allowed at the maximum rate; at paced rates only a little (a shared machine
    # deschedules the pollers now and then).
    if name != "max" and r["loss_pct"] > 5:
        errors.append(f"{name}: loss {r['loss_pct']:.2f}%")
    vals = [lat[k] for k in ("min", "p50", "p99", "p99_9", "max")]
    if any(v is None for v in vals) or not all(a <= b for a, b in zip(vals, vals[1:])):
        errors.append(f"{name}: latencies not ordered min ≤ p50 ≤ p99 ≤ p99.9 ≤ max: {vals}")
    elif not 0 < lat["p50"] < 1e6:
        errors.append(f"{name}: p50 {lat['p50']} µs")
print(f"{doc['direction']}: " + ", ".join(
    f"{n} {r['received_mpps']:.3f} Mpps p50 {r['latency_us']['p50']:.1f} µs" for n, r in rows.items()))
sys.exit("; ".join(errors) if errors else 0)
PYEOF
}

# The router dropped nothing but frames its TX rings could not take: every test frame was
# well-formed, addressed and routed.
check_router() {
    $PY - "$OUT/router-stats.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
bad = {k: v for k, v in s["drops"].items() if v and k != "tx_full"}
ev = s["events"]
print(f"vxlan_decap {ev.get('vxlan_decap', 0)}, vxlan_encap {ev.get('vxlan_encap', 0)}, "
      f"drops {s['drops'].get('tx_full', 0)} tx_full")
if bad:
    sys.exit(f"unexpected drops: {bad}")
if not (ev.get("vxlan_decap", 0) > 0 and ev.get("vxlan_encap", 0) > 0):
    sys.exit("no decap or no encap counted")
m = s["mempool"]
if m["in_use_at_exit"] != m["in_use_at_start"]:
    sys.exit(f"mbufs in use at exit {m['in_use_at_exit']}, at start {m['in_use_at_start']}")
PYEOF
}

if ((rc == 0)); then
    VERBOSE=1 check "decap results (max, 10%, 50%)" check_results decap
    VERBOSE=1 check "encap results (max, 10%, 50%)" check_results encap
    VERBOSE=1 check "router counters: only tx_full drops, mbufs back" check_router
fi
if ((N_FAIL)); then
    dump_file "$OUT/latency.out" 60
    dump_file "$OUT/router.log" 30
fi
summary latency-smoke
