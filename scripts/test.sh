#!/usr/bin/env bash
# The project's single test command (run as root on Debian 12):
#   host preparation (scripts/setup-host.sh), cargo build --release, cargo test --release
#   (unit + integration), then the end-to-end scripts e2e-vxlan.sh, e2e-mpls-pcap.sh,
#   e2e-malformed.sh, e2e-pmtu.sh, e2e-pmtu-pcap.sh, e2e-api.sh and latency-smoke.sh against
#   target/release/vrouter.
# The last line is "N passed, N failed", counting cargo test (as one) and the end-to-end scripts; the exit status is
# non-zero when anything failed (host setup, build, cargo test or an end-to-end script).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
E2E=(e2e-vxlan.sh e2e-mpls-pcap.sh e2e-malformed.sh e2e-pmtu.sh e2e-pmtu-pcap.sh e2e-api.sh
     latency-smoke.sh)
declare -A LIMIT=([e2e-vxlan.sh]=240 [e2e-mpls-pcap.sh]=120 [e2e-malformed.sh]=120
                  [e2e-pmtu.sh]=240 [e2e-pmtu-pcap.sh]=90 [e2e-api.sh]=180
                  [latency-smoke.sh]=300)
status=0
step() { printf '\n==== %s\n' "$*"; }

step "host setup (scripts/setup-host.sh)"
if ! scripts/setup-host.sh; then
    echo "test.sh: host setup failed; nothing else can run"
    echo "0 passed, ${#E2E[@]} failed"
    exit 1
fi

step "cargo build --release"
built=1
if ! cargo build --release; then
    echo "test.sh: FAIL cargo build --release"
    built=0
    status=1
fi

n_pass=0
n_fail=0
results=()

step "cargo test --release"
if ((built)) && cargo test --release; then
    echo "test.sh: PASS cargo test --release"
    results+=("PASS cargo test --release")
    n_pass=$((n_pass + 1))
else
    echo "test.sh: FAIL cargo test --release"
    results+=("FAIL cargo test --release")
    n_fail=$((n_fail + 1))
    status=1
fi
for s in "${E2E[@]}"; do
    step "scripts/$s"
    if ((!built)); then
        results+=("FAIL $s (not run: build failed)")
        n_fail=$((n_fail + 1))
        continue
    fi
    t0=$SECONDS
    timeout -k 15 "${LIMIT[$s]}" "scripts/$s" "$ROOT/target/release/vrouter"
    rc=$?
    if ((rc == 0)); then
        results+=("PASS $s ($((SECONDS - t0)) s)")
        n_pass=$((n_pass + 1))
    else
        why="exit $rc"
        ((rc == 124 || rc == 137)) && why="timed out after ${LIMIT[$s]} s"
        results+=("FAIL $s ($why)")
        n_fail=$((n_fail + 1))
    fi
done

step "summary"
printf '%s\n' "${results[@]}"
((n_fail == 0)) || status=1
echo "$n_pass passed, $n_fail failed"
exit $status
