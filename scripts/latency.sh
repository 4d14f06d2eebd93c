#!/usr/bin/env bash
# Latency through the router, end to end over vhost-user (issue 5, item 4).
#
#   scripts/latency.sh [OPTIONS]
#
# Starts vrouter with a fabric port and one vif, both vhost-user servers (net_vhost), and the
# load generator (examples/loadgen) attached to both as virtio-user frontends: it sends
# 64-byte frames in many flows, each carrying its send TSC, and measures what comes back —
# first the maximum forwarding rate, then latency at 10/50/90 % of it. Prints, per direction,
# rate, offered and received Mpps, loss and latency p50/p99/p99.9/max in µs.
#
# Options:
#   --direction D       decap (fabric → vif), encap (vif → fabric) or both   [both]
#   --duration S        measured seconds per rate point                      [5]
#   --warmup S          warm-up seconds before each point                    [1]
#   --rates LIST        rate points in % of the maximum                      [10,50,90]
#   --max-pps N         take N packets/s as the maximum instead of measuring it
#   --burst N           packets per TX burst at paced rates (1 = evenly spaced) [1]
#   --flows N           distinct inner flows                                 [1024]
#   --size N            inner frame size, CRC included                       [64]
#   --idle-sleep-us N   the router's --idle-sleep-us (0 = pure busy polling) [0]
#   --router-lcores L   router EAL -l (first: control thread, rest: workers) [0-1 / 1-2]
#   --gen-lcores L      generator EAL -l (one lcore: send and receive in one loop;
#                       two: the sink on the second)                         [0 / 3-4]
#                       (defaults: machines with fewer than 6 CPUs / the others)
#   --out DIR           keep config, logs and JSON results in DIR (else a temp dir, removed)
#   --no-build          use target/release binaries as they are
#   --vrouter PATH      the router binary to measure (default target/release/vrouter)
#   --bundle DIR        use DIR/bin/{vrouter,loadgen} from a device bundle (no cargo)
#   --make-bundle DIR   build release binaries, bundle them with their DPDK libraries and
#                       drivers into DIR (../shared/tools/device-bundle.sh), and exit
#
# On a machine without DPDK or cargo (the 16-core device machine): make the bundle here,
#   scripts/latency.sh --make-bundle bundle          (bundle/ is git-ignored)
# carry it with the checkout, then run there
#   scripts/latency.sh --bundle bundle
# which runs both programs with LD_LIBRARY_PATH=bundle/lib and EAL -d bundle/pmds.
#
# Every process it starts is stopped by PID; sockets and temp files are removed at exit.
set -euo pipefail
LOG_TAG=latency
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

DIRECTION=both DURATION=5 WARMUP=1 RATES=10,50,90 MAX_PPS= BURST=1 FLOWS=1024 SIZE=64
IDLE_SLEEP=0 ROUTER_LCORES= GEN_LCORES= OUT= NO_BUILD=0 BUNDLE= MAKE_BUNDLE= VROUTER=

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_secs() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ || $1 =~ ^\.[0-9]+$ ]]; }
is_lcores() { [[ $1 =~ ^[0-9]+([-,][0-9]+)*$ ]]; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --direction) need_arg "$@"; DIRECTION=$2; shift 2 ;;
        --duration) need_arg "$@"; DURATION=$2; shift 2 ;;
        --warmup) need_arg "$@"; WARMUP=$2; shift 2 ;;
        --rates) need_arg "$@"; RATES=$2; shift 2 ;;
        --max-pps) need_arg "$@"; MAX_PPS=$2; shift 2 ;;
        --burst) need_arg "$@"; BURST=$2; shift 2 ;;
        --flows) need_arg "$@"; FLOWS=$2; shift 2 ;;
        --size) need_arg "$@"; SIZE=$2; shift 2 ;;
        --idle-sleep-us) need_arg "$@"; IDLE_SLEEP=$2; shift 2 ;;
        --router-lcores) need_arg "$@"; ROUTER_LCORES=$2; shift 2 ;;
        --gen-lcores) need_arg "$@"; GEN_LCORES=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --no-build) NO_BUILD=1; shift ;;
        --vrouter) need_arg "$@"; VROUTER=$2; shift 2 ;;
        --bundle) need_arg "$@"; BUNDLE=$2; shift 2 ;;
        --make-bundle) need_arg "$@"; MAKE_BUNDLE=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

case $DIRECTION in
    decap|encap) DIRECTIONS=("$DIRECTION") ;;
    both) DIRECTIONS=(decap encap) ;;
    *) die "--direction: '$DIRECTION' is not decap, encap or both" ;;
esac
is_secs "$DURATION" && [[ $DURATION =~ [1-9] ]] || die "--duration: '$DURATION' is not a positive number of seconds"
is_secs "$WARMUP" || die "--warmup: '$WARMUP' is not a number of seconds"
[[ $RATES =~ ^[0-9.]+(,[0-9.]+)*$ ]] || die "--rates: '$RATES' is not a comma-separated list of percentages"
[[ -z $MAX_PPS ]] || { is_uint "$MAX_PPS" && ((MAX_PPS > 0)); } || die "--max-pps: '$MAX_PPS' is not a positive integer"
{ is_uint "$BURST" && ((BURST >= 1 && BURST <= 32)); } || die "--burst: '$BURST' is not in 1..32"
{ is_uint "$FLOWS" && ((FLOWS >= 1 && FLOWS <= 64512)); } || die "--flows: '$FLOWS' is not in 1..64512"
{ is_uint "$SIZE" && ((SIZE >= 64 && SIZE <= 1400)); } || die "--size: '$SIZE' is not in 64..1400"
is_uint "$IDLE_SLEEP" || die "--idle-sleep-us: '$IDLE_SLEEP' is not a non-negative integer"
[[ -z $ROUTER_LCORES ]] || is_lcores "$ROUTER_LCORES" || die "--router-lcores: '$ROUTER_LCORES' is not an lcore list (e.g. 1-2)"
[[ -z $GEN_LCORES ]] || is_lcores "$GEN_LCORES" || die "--gen-lcores: '$GEN_LCORES' is not an lcore list (e.g. 3-4)"
[[ -z $BUNDLE || -z $MAKE_BUNDLE ]] || die "--bundle and --make-bundle exclude each other"
[[ -z $BUNDLE || -z $VROUTER ]] || die "--bundle and --vrouter exclude each other"
if [[ -n $VROUTER ]]; then
    VROUTER=$(realpath "$VROUTER" 2>/dev/null) && [[ -x $VROUTER ]] || die "--vrouter: not an executable file"
fi

# ----------------------------------------------------------------------------- binaries
build_release() {
    command -v cargo >/dev/null || die "cargo not found (use --bundle DIR on a machine without Rust)"
    log "building release binaries (vrouter, examples/loadgen)"
    (cd "$REPO_ROOT" && cargo build --release --bin vrouter --example loadgen) >&2 \
        || die "cargo build failed"
}

if [[ -n $MAKE_BUNDLE ]]; then
    bundler=
    for b in "$REPO_ROOT/../shared/tools/device-bundle.sh" "$REPO_ROOT/shared/tools/device-bundle.sh"; do
        [[ -f $b ]] && { bundler=$b; break; }
    done
    [[ -n $bundler ]] || die "--make-bundle: device-bundle.sh not found in ../shared/tools or shared/tools"
    target=$(realpath -m "$MAKE_BUNDLE")
    # device-bundle.sh starts with rm -rf DIR: only a new directory or an earlier bundle.
    case $target in
        /|"$REPO_ROOT"|"$HOME"|/tmp|/work) die "--make-bundle: refusing to replace $target" ;;
    esac
    if [[ -e $target ]] && [[ -n $(ls -A "$target") ]] \
        && ! [[ -d $target/bin && -d $target/lib && -d $target/pmds ]]; then
        die "--make-bundle: $target exists and is not a bundle; give a new directory"
    fi
    build_release
    bash "$bundler" "$target" "$REPO_ROOT/target/release/vrouter" \
        "$REPO_ROOT/target/release/examples/loadgen" >&2
    [[ -x $target/bin/vrouter && -x $target/bin/loadgen ]] || die "bundle incomplete: $target/bin"
    log "bundle ready in $target; on the other machine: scripts/latency.sh --bundle ${MAKE_BUNDLE%/}"
    exit 0
fi

RUN_PREFIX=()      # how the DPDK programs are started (env, unshare)
EAL_EXTRA=()
if [[ -n $BUNDLE ]]; then
    BUNDLE=$(realpath "$BUNDLE" 2>/dev/null) || die "--bundle: no such directory"
    VR=$BUNDLE/bin/vrouter LG=$BUNDLE/bin/loadgen
    [[ -x $VR && -x $LG && -d $BUNDLE/lib && -d $BUNDLE/pmds ]] \
        || die "--bundle: $BUNDLE lacks bin/vrouter, bin/loadgen, lib/ or pmds/ (make it with --make-bundle)"
    RUN_PREFIX=(env "LD_LIBRARY_PATH=$BUNDLE/lib")
    EAL_EXTRA=(-d "$BUNDLE/pmds")
    # Where DPDK is installed too, EAL would also load its own driver directory: two copies of
    # each driver. Hide it from our processes (a private mount namespace) so the bundle is
    # tested as it will run on a machine without DPDK.
    sysdir=$(ls -d /usr/lib/*/dpdk 2>/dev/null | head -1 || true)
    if [[ -n $sysdir ]]; then
        command -v unshare >/dev/null || die "--bundle: DPDK is installed here and unshare is missing"
        log "hiding $sysdir from the bundled programs (private mount namespace)"
        RUN_PREFIX=(unshare --mount --propagation private sh -c
            'mount -t tmpfs none "$0" && exec "$@"' "$sysdir" "${RUN_PREFIX[@]}")
    fi
else
    VR=${VROUTER:-$REPO_ROOT/target/release/vrouter} LG=$REPO_ROOT/target/release/examples/loadgen
    ((NO_BUILD)) || build_release
    [[ -x $VR && -x $LG ]] || die "$VR or $LG missing (cargo build --release --bin vrouter --example loadgen)"
fi

# ----------------------------------------------------------------------------- placement
NCPU=$(nproc)
if ((NCPU >= 6)); then
    : "${ROUTER_LCORES:=1-2}" "${GEN_LCORES:=3-4}"
else
    # 2 cores: the router's worker gets CPU 1 alone; its control thread (mostly asleep) and
    # the generator's single loop share CPU 0.
    : "${ROUTER_LCORES:=0-1}" "${GEN_LCORES:=0}"
fi

# ----------------------------------------------------------------------------- hugepages
# Router (~32k mbufs) and generator (~16k) together use about 200 MiB.
NEED_PAGES=160
hp=/sys/kernel/mm/hugepages/hugepages-2048kB
if (($(hugepages_free) < NEED_PAGES)); then
    total=$(cat $hp/nr_hugepages 2>/dev/null || echo 0)
    want=$((total + NEED_PAGES - $(hugepages_free)))
    log "only $(hugepages_free) free 2 MiB hugepages; asking for $want in all"
    echo "$want" >$hp/nr_hugepages 2>/dev/null || true
    (($(hugepages_free) >= NEED_PAGES)) || die "need $NEED_PAGES free 2 MiB hugepages, have $(hugepages_free) (scripts/setup-host.sh, or free some)"
fi
if ! grep -q hugetlbfs /proc/mounts; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages || die "cannot mount hugetlbfs on /dev/hugepages"
fi

# ----------------------------------------------------------------------------- work dir
if [[ -n $OUT ]]; then
    mkdir -p "$OUT"
    WORK=$(realpath "$OUT")
    KEEP_WORK=1
else
    WORK=$(mktemp -d /tmp/vrouter-latency.XXXXXX)
    KEEP_WORK=0
fi
FAB_SOCK=$WORK/fabric.sock VIF_SOCK=$WORK/vm1.sock API_SOCK=$WORK/api.sock
ROUTER_PID= GEN_PID=
cleanup() {
    local rc=$?
    [[ -n $GEN_PID ]] && stop_pid "$GEN_PID" loadgen INT 10 || true
    [[ -n $ROUTER_PID ]] && stop_pid "$ROUTER_PID" router TERM 15 || true
    rm -f "$FAB_SOCK" "$VIF_SOCK" "$API_SOCK"
    if ((KEEP_WORK)); then log "results and logs in $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$WORK/router.toml" <<EOF
# scripts/latency.sh: fabric and one vif, both vhost-user; addresses as loadgen's defaults.
[router]
mac = "00:00:5e:00:01:00"

[fabric]
# Not net_vhost0..N: the router names its vif vdevs that way.
dev = "net_vhost_fabric,iface=$FAB_SOCK,queues=1"
ip = "203.0.113.1/24"
mac = "02:00:00:00:00:01"
[[fabric.neighbor]]          # the generator's fabric side (static: no ARP in the test)
ip = "203.0.113.2"
mac = "02:00:00:00:00:02"

[[vrf]]
id = 1
vni = 100

[[vif]]
name = "vm1"
vhost_socket = "$VIF_SOCK"
vrf = 1
mac = "02:00:00:00:01:02"
ip = ["198.51.100.2"]

[[nexthop]]
id = 10
type = "tunnel"
encap = "vxlan"
dst = "203.0.113.2"
vni = 100
inner_mac = "02:00:00:00:02:01"

[[route]]
vrf = 1
prefix = "198.51.100.0/24"
nexthop = 10
EOF

# ----------------------------------------------------------------------------- run
start_router() {
    rm -f "$FAB_SOCK" "$VIF_SOCK" "$API_SOCK" "$WORK/router-stats.json"
    "${RUN_PREFIX[@]}" "$VR" -c "$WORK/router.toml" --api-socket "$API_SOCK" \
        --idle-sleep-us "$IDLE_SLEEP" --stats-json "$WORK/router-stats.json" \
        -- -l "$ROUTER_LCORES" --in-memory --file-prefix "vrlat$$" --no-pci \
        --log-level=warning "${EAL_EXTRA[@]}" </dev/null >"$WORK/router.log" 2>&1 &
    ROUTER_PID=$!
    log "router pid $ROUTER_PID (EAL -l $ROUTER_LCORES, --idle-sleep-us $IDLE_SLEEP), log $WORK/router.log"
    if ! wait_socket "$FAB_SOCK" "$ROUTER_PID" 30 || ! wait_socket "$VIF_SOCK" "$ROUTER_PID" 30; then
        tail -20 "$WORK/router.log" >&2
        die "the router did not come up"
    fi
}

# run_direction DIR: one loadgen sweep; its table goes to stdout.
run_direction() {
    local d=$1 npoints limit rc=0
    npoints=$(($(tr -cd , <<<"$RATES" | wc -c) + 2))
    # connect (≤15 s) + per point: warm-up, measurement, drain (≤2 s) + start-up slack
    limit=$(awk -v n="$npoints" -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", 45 + n * (d + w + 3) }')
    local args=(--fabric "$FAB_SOCK" --vif "$VIF_SOCK" --direction "$d" --duration "$DURATION"
        --warmup "$WARMUP" --rates "$RATES" --burst "$BURST" --flows "$FLOWS" --size "$SIZE"
        --json "$WORK/latency-$d.json")
    [[ -n $MAX_PPS ]] && args+=(--max-pps "$MAX_PPS")
    "${RUN_PREFIX[@]}" "$LG" "${args[@]}" \
        -- -l "$GEN_LCORES" --in-memory --single-file-segments --file-prefix "lglat$$" \
        --no-pci --log-level=warning "${EAL_EXTRA[@]}" </dev/null >"$WORK/loadgen-$d.log" 2>&1 &
    GEN_PID=$!
    local deadline=$((SECONDS + limit))
    while pid_alive "$GEN_PID" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "$GEN_PID"; then
        log "loadgen still running after ${limit}s: stopping it"
    fi
    stop_pid "$GEN_PID" loadgen INT 10 || rc=$?
    GEN_PID=
    # Its output without DPDK's start-up chatter.
    grep -v -E '^(EAL|TELEMETRY): ' "$WORK/loadgen-$d.log" || true
    if ((rc != 0)); then
        tail -20 "$WORK/loadgen-$d.log" >&2
        log "loadgen ($d) failed with status $rc"
    fi
    return $rc
}

cat <<EOF
vrouter latency: loadgen (virtio-user) ⇄ vhost-user ⇄ vrouter, end to end.
  router: EAL -l $ROUTER_LCORES (first lcore: control thread, others: workers), --idle-sleep-us $IDLE_SLEEP$( ((IDLE_SLEEP == 0)) && echo " (busy polling)")
  generator: EAL -l $GEN_LCORES$( [[ $GEN_LCORES =~ ^[0-9]+$ ]] && echo " (one loop sends and receives)")
  machine: $NCPU CPUs$( ((NCPU < 6)) && echo "; router and generator share them with everything else: figures are noisy")
  binaries: $( [[ -n $BUNDLE ]] && echo "bundle $BUNDLE" || echo "$VR, $LG")
EOF
# Other busy-polling DPDK programs on these CPUs (another test, another engineer's router)
# take turns with ours and the figures show it.
others=$(ps -eo pid=,comm= | awk '$2 ~ /^(vrouter|dpdk-testpmd|testpmd|loadgen)$/ { printf "%s ", $1 }')
if [[ -n $others ]]; then
    echo "  warning: other DPDK programs are running (pids ${others% }): they compete for the CPUs"
fi
start_router
status=0
for d in "${DIRECTIONS[@]}"; do
    echo
    run_direction "$d" || status=1
done
stop_pid "$ROUTER_PID" router TERM 15 || { log "router exited with an error"; status=1; }
ROUTER_PID=
drops=$(sed -n 's/^drops: *//p' "$WORK/router.log" | tail -1)
echo
echo "router drops at exit: ${drops:-none}"
echo "Latency is end to end: generator TX ring → vhost-user → router → vhost-user → generator RX"
echo "ring, including the generator's own queueing and polling."
exit $status
