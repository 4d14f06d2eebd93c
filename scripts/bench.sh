#!/usr/bin/env bash
# Whole-process forwarding benchmark: vrouter on real DPDK, beside dpdk-testpmd io forwarding of
# the same traffic in the same run (the ceiling), reported as Mpps and as a ratio.
#
#   scripts/bench.sh [--mode null,vhost,pvp|all] [--encap vxlan,mpls-udp,mpls-gre|all]
#                    [--workers 1,2,4,8] [--duration SECS] [--warmup SECS] [--flows N]
#                    [--repeat N] [--out DIR] [--pcap-dir DIR] [--bundle DIR] [--path-ceiling]
#                    [--vm-ring N] [--oversubscribe] [--no-huge] [--keep]
#
# Traffic: a net_pcap fabric port replaying (infinite_rx) a pcap of N flows (default 4096) of
# 64-byte inner frames, VXLAN / MPLSoUDP / MPLSoGRE (tests/fixtures/gen_bench.py), one RX queue
# (one rx_pcap of the same file) per worker.
# Modes, what "router Mpps" counts:
#   null   fabric -> decap -> route -> a net_null vif (no-rx=1): packets the vif took
#   vhost  ... -> a vhost-user vif, drained by dpdk-testpmd (virtio_user, rxonly) as the VM:
#          packets the VM's queues took
#   pvp    ... -> vhost-user -> the VM (dpdk-testpmd 5tswap: swaps MACs, IPs and ports, so the
#          reply is addressed to the remote sender) -> vrouter -> lookup -> encap -> fabric TX
#          (net_pcap dropping on TX): packets sent back to the fabric
# Ceiling: dpdk-testpmd io forwarding of the same pcap, net_pcap(infinite_rx) -> net_null, on
# the same cores, measured right before the router points of that encap and worker count.
# --path-ceiling adds, for vhost and pvp, testpmd io forwarding in the router's place (same
# pcap, same VM), printed as "same-path testpmd" and "path ratio".
# --repeat N runs every point N times, the ceiling and the router in turn, and reports medians
# (the ratio: the median of each repetition's router / ceiling), for noisy machines.
#
# Rates are measured over a window: after --warmup seconds the router's counters are read
# through its API (vrouterctl --json stats), again --duration seconds later; testpmd runs
# interactive, fed from a FIFO, and its port counters are read the same way ("show port
# stats"); rate = difference / wall-clock time between the reads. A point whose traffic was
# not really forwarded (nothing decapsulated, datapath drops above 1 %) is marked INVALID and
# the script exits 1. Drop counters of the window and of the whole run (--stats-json) are
# printed for every point. The VM's rings have --vm-ring descriptors (default 1024, as tuned
# NFV hosts use; virtio_user's default is 256).
#
# Cores (the CPUs this script may use, in order): the first runs the router's control thread
# and testpmd's main lcores; workers (and testpmd's forwarding cores) the next W; the VM's
# forwarding cores the ones after those, or the first CPU when none is left. Worker counts
# that do not fit beside the control CPU are skipped, unless
# --oversubscribe (functional check only: the figures then mean nothing).
#
# Output (--out DIR, default target/bench): results.txt (the table), results.csv, mpps.png,
# logs.tar.gz (every config, log and counter snapshot). Exit status: 0 all points valid, 1 a
# point invalid or a process failed, 2 usage, 3 table written but no plot (no matplotlib).
#
# On a machine without DPDK, cargo or scapy (the device): scripts/bench-bundle.sh DIR here,
# then there: scripts/bench.sh --bundle DIR --pcap-dir DIR/pcaps ...  (DIR/bin binaries,
# LD_LIBRARY_PATH=DIR/lib, EAL -d DIR/pmds).
set -euo pipefail
LOG_TAG=bench
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }

# ----------------------------------------------------------------------------- options
MODES=all
ENCAPS=all
WORKERS=
DURATION=5
WARMUP=2
FLOWS=4096
OUT_DIR=$REPO_ROOT/target/bench
PCAP_DIR=
BUNDLE=
PATH_CEILING=0
REPEAT=1
REP=1           # the repetition being run
OVERSUB=0
NO_HUGE=0
VM_RING=1024
KEEP=${KEEP:-}
while (($#)); do
    case $1 in
        --mode) MODES=${2:?}; shift 2 ;;
        --encap) ENCAPS=${2:?}; shift 2 ;;
        --workers) WORKERS=${2:?}; shift 2 ;;
        --duration) DURATION=${2:?}; shift 2 ;;
        --warmup) WARMUP=${2:?}; shift 2 ;;
        --flows) FLOWS=${2:?}; shift 2 ;;
        --out) OUT_DIR=${2:?}; shift 2 ;;
        --pcap-dir) PCAP_DIR=${2:?}; shift 2 ;;
        --bundle) BUNDLE=${2:?}; shift 2 ;;
        --path-ceiling) PATH_CEILING=1; shift ;;
        --repeat) REPEAT=${2:?}; shift 2 ;;
        --oversubscribe) OVERSUB=1; shift ;;
        --no-huge) NO_HUGE=1; shift ;;
        --vm-ring) VM_RING=${2:?}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage 0 ;;
        *) echo "bench.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
[[ $MODES == all ]] && MODES=null,vhost,pvp
[[ $ENCAPS == all ]] && ENCAPS=vxlan,mpls-udp,mpls-gre
IFS=, read -ra MODE_LIST <<<"$MODES"
IFS=, read -ra ENCAP_LIST <<<"$ENCAPS"
for m in "${MODE_LIST[@]}"; do
    [[ $m =~ ^(null|vhost|pvp)$ ]] || { echo "bench.sh: --mode: $m is not null, vhost or pvp" >&2; exit 2; }
done
for e in "${ENCAP_LIST[@]}"; do
    [[ $e =~ ^(vxlan|mpls-udp|mpls-gre)$ ]] || { echo "bench.sh: --encap: $e is not vxlan, mpls-udp or mpls-gre" >&2; exit 2; }
done
[[ $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $FLOWS =~ ^[1-9][0-9]*$ && $REPEAT =~ ^[1-9][0-9]*$ ]] \
    || { echo "bench.sh: --duration, --warmup, --flows, --repeat: whole numbers (all but --warmup >= 1)" >&2; exit 2; }
[[ $VM_RING =~ ^(64|128|256|512|1024|2048|4096)$ ]] \
    || { echo "bench.sh: --vm-ring: a power of two, 64..4096" >&2; exit 2; }

# The CPUs this process may run on (a cpuset need not start at 0): CPUS[0] is the control core.
cpus_allowed() {
    local list part a b
    list=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
    [[ -n $list ]] || list="0-$(($(nproc) - 1))"
    IFS=, read -ra parts <<<"$list"
    for part in "${parts[@]}"; do
        a=${part%-*} b=${part#*-}
        for ((; a <= b; a++)); do echo "$a"; done
    done
}
mapfile -t CPUS < <(cpus_allowed)
NCPU=${#CPUS[@]}
if [[ -z $WORKERS ]]; then
    WORKERS=1
    for w in 2 4 8; do
        if ((w + 1 <= NCPU)); then WORKERS+=",$w"; fi
    done
fi
IFS=, read -ra REQ_WORKERS <<<"$WORKERS"
WORKER_LIST=()
for w in "${REQ_WORKERS[@]}"; do
    [[ $w =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --workers: $w is not a positive number" >&2; exit 2; }
    if ((w + 1 > NCPU && !OVERSUB)); then
        log "skipping $w worker(s): $NCPU CPUs, a control core plus $w workers do not fit (--oversubscribe to run it anyway)"
        continue
    fi
    WORKER_LIST+=("$w")
done
((${#WORKER_LIST[@]})) || die "no worker count fits on $NCPU CPUs"

# ----------------------------------------------------------------------------- programs
EAL_EXTRA=()
if [[ -n $BUNDLE ]]; then
    BUNDLE=$(cd "$BUNDLE" && pwd)
    VROUTER=$BUNDLE/bin/vrouter
    VROUTERCTL=$BUNDLE/bin/vrouterctl
    TESTPMD=$BUNDLE/bin/dpdk-testpmd
    export LD_LIBRARY_PATH=$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    EAL_EXTRA=(-d "$BUNDLE/pmds")
    [[ -z $PCAP_DIR && -d $BUNDLE/pcaps ]] && PCAP_DIR=$BUNDLE/pcaps
else
    VROUTER=$REPO_ROOT/target/release/vrouter
    VROUTERCTL=$REPO_ROOT/target/release/vrouterctl
    TESTPMD=$(command -v dpdk-testpmd || true)
    if [[ ! -x $VROUTER || ! -x $VROUTERCTL ]]; then
        command -v cargo >/dev/null || die "$VROUTER missing and no cargo: build it or use --bundle"
        log "building vrouter (cargo build --release)"
        (cd "$REPO_ROOT" && cargo build --release --bins)
    fi
fi
for b in "$VROUTER" "$VROUTERCTL" "$TESTPMD"; do
    [[ -n $b && -x $b ]] || die "missing program ${b:-dpdk-testpmd} (scripts/setup-host.sh installs DPDK; or --bundle DIR)"
done
# Python for the measurements (standard library) and the plot (matplotlib): the first of
# Debian's and the one on PATH that has matplotlib; here, Debian's python3-matplotlib is
# installed when missing.
APY=
for p in /usr/bin/python3 "$(command -v python3 || true)"; do
    [[ -n $p && -x $p ]] || continue
    [[ -n $APY ]] || APY=$p
    if "$p" -c 'import matplotlib' 2>/dev/null; then APY=$p; break; fi
done
[[ -n $APY ]] || die "python3 is needed for the measurements"
if ! "$APY" -c 'import matplotlib' 2>/dev/null && [[ -z $BUNDLE ]] && command -v apt-get >/dev/null; then
    log "installing python3-matplotlib (for the plot)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-matplotlib >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-matplotlib >/dev/null 2>&1 || true
    fi
    [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null && APY=/usr/bin/python3
fi
"$APY" -c 'import matplotlib' 2>/dev/null \
    || log "!!! matplotlib cannot be imported by $APY and could not be installed: NO PLOT, table and CSV only"
STATS_PY=$SCRIPTS_DIR/bench_stats.py

# ----------------------------------------------------------------------------- work dir
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK=$(mktemp -d /tmp/vrouter-bench.XXXXXX)
PREFIX=vrb$$
STARTED=()      # PIDs of the processes this script started and has not reaped yet
HP_RESTORE=     # nr_hugepages before this script raised it
FAILED=0

forget_pid() {
    local p keep=()
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    STARTED=("${keep[@]}")
}
# stop_started PID NAME SIGNAL: stops one process we started; never fails.
stop_started() {
    stop_pid "$1" "$2" "$3" 15 || true
    forget_pid "$1"
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local p
    for p in "${STARTED[@]}"; do
        if pid_alive "$p"; then stop_pid "$p" "process $p" INT 10 || true; fi
    done
    STARTED=()
    if [[ -d $WORK ]]; then
        tar -C "$WORK" -czf "$OUT_DIR/logs.tar.gz" . 2>/dev/null || true
        if [[ -n $KEEP ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    fi
    # --no-huge runs keep a runtime directory per file prefix
    rm -rf /var/run/dpdk/"$PREFIX"-* 2>/dev/null || true
    # hugepages reserved for this run go back (pages others still use are freed as released)
    if [[ -n $HP_RESTORE ]]; then
        echo "$HP_RESTORE" 2>/dev/null >/proc/sys/vm/nr_hugepages || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----------------------------------------------------------------------------- traffic
if [[ -n $PCAP_DIR ]]; then
    PCAP_DIR=$(cd "$PCAP_DIR" && pwd)
else
    PCAP_DIR=$REPO_ROOT/target/bench-pcaps/flows-$FLOWS
    bench_pcaps "$PCAP_DIR" "$FLOWS"
fi
for e in "${ENCAP_LIST[@]}"; do
    [[ -s $PCAP_DIR/bench-$e.pcap ]] || die "$PCAP_DIR/bench-$e.pcap missing"
done
PCAP_FLOWS=$("$APY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["flows"])' "$PCAP_DIR/bench-meta.json")

# ----------------------------------------------------------------------------- memory
# Hugepages (2 MiB) for the biggest pair of processes that run at once; vhost-user needs them
# (the VM's memory is shared through file descriptors). Without (or with --no-huge): EAL
# --no-huge, null mode only.
max_w=0
for w in "${WORKER_LIST[@]}"; do
    if ((w > max_w)); then max_w=$w; fi
done
pow2() { local n=1; while ((n < $1)); do n=$((n * 2)); done; echo "$n"; }
# vrouter's pool: next_pow2(W * (2 * (1024 + 1024) + 256 * 32) + 16384) mbufs of ~2.3 KiB.
router_mbufs() { pow2 $(($1 * 12288 + 16384)); }
# testpmd: the pcap copy held per queue, rings and caches.
testpmd_mbufs() { echo $(($1 * (PCAP_FLOWS + 8192) + 16384)); }
vm_mbufs() { echo $((16384 + $1 * 4096)); }
need_mb=$((($(router_mbufs "$max_w") + $(vm_mbufs "$max_w")) * 23 / 10240 + 128))
need_mb2=$((($(testpmd_mbufs "$max_w") + $(vm_mbufs "$max_w")) * 23 / 10240 + 128))
if ((need_mb2 > need_mb)); then need_mb=$need_mb2; fi
HP=/sys/kernel/mm/hugepages/hugepages-2048kB
HUGE=0
if ((!NO_HUGE)) && [[ -d $HP ]]; then
    need_pages=$((need_mb / 2))
    free=$(cat "$HP/free_hugepages")
    if ((free < need_pages)); then
        total=$(cat "$HP/nr_hugepages")
        log "hugepages: $free free, $need_pages wanted: raising nr_hugepages to $((total + need_pages - free)) (until the end)"
        if echo $((total + need_pages - free)) 2>/dev/null >/proc/sys/vm/nr_hugepages; then
            HP_RESTORE=$total
        fi
        free=$(cat "$HP/free_hugepages")
    fi
    if ! mountpoint -q /dev/hugepages 2>/dev/null && ! grep -q hugetlbfs /proc/mounts; then
        if mkdir -p /dev/hugepages; then mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true; fi
    fi
    if ((free >= need_pages)) && grep -q hugetlbfs /proc/mounts; then HUGE=1; fi
fi
if ((!HUGE)); then
    log "!!! no usable hugepages (need ~${need_mb} MB as 2 MiB pages): running with --no-huge;"
    log "!!! vhost and pvp modes need hugepages and are skipped"
    keep=()
    for m in "${MODE_LIST[@]}"; do
        if [[ $m == null ]]; then keep+=("$m"); fi
    done
    ((${#keep[@]})) || die "nothing left to run without hugepages"
    MODE_LIST=("${keep[@]}")
fi

# mem_args NAME MB: EAL memory options for one process (name: unique within this run).
mem_args() {
    if ((HUGE)); then
        echo "--in-memory"
    else
        echo "--no-huge -m $2 --no-shconf --file-prefix $PREFIX-$1"
    fi
}

# ----------------------------------------------------------------------------- cores
# CPU of worker / testpmd forwarding lcore i (1-based); CPUS[0] is the control core.
worker_cpu() {
    if (($1 <= NCPU - 1)); then echo "${CPUS[$1]}"; else echo "${CPUS[1 + ($1 - 1) % (NCPU - 1)]}"; fi
}
# lcores_for W: "0@c0,1@c1,...,W@cW".
lcores_for() {
    local s="0@${CPUS[0]}" i
    for ((i = 1; i <= $1; i++)); do s+=",$i@$(worker_cpu "$i")"; done
    echo "$s"
}
# vm_plan W: sets VM_LCORES and VM_CORES (forwarding cores of the VM's testpmd): the CPUs
# after the workers', at most W; CPUS[0] when none is left.
vm_plan() {
    local w=$1 free=$((NCPU - 1 - $1)) i
    VM_CORES=$((w < free ? w : free))
    VM_LCORES="0@${CPUS[0]}"
    if ((VM_CORES < 1)); then
        VM_CORES=1
        VM_LCORES+=",1@${CPUS[0]}"      # no CPU left: the VM shares the control CPU
    else
        for ((i = 1; i <= VM_CORES; i++)); do VM_LCORES+=",$i@${CPUS[w + i]}"; done
    fi
}

# ----------------------------------------------------------------------------- helpers
# running PID: the process exists and has not exited (a child that exited stays a zombie
# until waited for, and kill -0 still succeeds on it).
running() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# wait_while_alive PID TIMEOUT_S DESCRIPTION cmd args...: until the command succeeds (true),
# or the process exits or the timeout passes (false).
wait_while_alive() {
    local pid=$1 timeout=$2 desc=$3 deadline=$((SECONDS + $2))
    shift 3
    until "$@" >/dev/null 2>&1; do
        running "$pid" || { log "process $pid exited while waiting for: $desc"; return 1; }
        ((SECONDS < deadline)) || { log "timed out after ${timeout}s waiting for: $desc"; return 1; }
        sleep 0.1
    done
}

# wait_exit PID TIMEOUT_S: until the process is gone (true) or the timeout (false).
wait_exit() {
    local deadline=$((SECONDS + $2))
    while running "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

now() { if [[ -n ${EPOCHREALTIME:-} ]]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }

# fabric_dev ENCAP W: the net_pcap fabric, one rx_pcap (queue) per worker, replayed forever;
# with no tx_pcap it drops what it sends, one TX queue per RX queue.
fabric_devargs() {
    local f=$PCAP_DIR/bench-$1.pcap s i
    s="net_pcap0"
    for ((i = 0; i < $2; i++)); do s+=",rx_pcap=$f"; done
    echo "$s,infinite_rx=1"
}

# write_config FILE MODE ENCAP W DIR
write_config() {
    local file=$1 mode=$2 encap=$3 w=$4 dir=$5 vif
    if [[ $mode == null ]]; then
        vif="dev = \"net_null1,no-rx=1\""
    else
        vif="vhost_socket = \"$dir/vm1.sock\""
    fi
    bench_node_config "$file" "$(fabric_devargs "$encap" "$w")" "$vif" "$encap" \
        "scripts/bench.sh: $mode, $encap, $w worker(s); traffic tests/fixtures/gen_bench.py"
}

# vm_start SOCK W FWD LOG: dpdk-testpmd as the VM (virtio_user on SOCK, W queue pairs) in
# forwarding mode FWD (rxonly or 5tswap), in the background; sets VM_PID. Waits until it
# forwards.
VM_PID=
vm_start() {
    local sock=$1 w=$2 fwd=$3 logf=$4
    vm_plan "$w"
    # shellcheck disable=SC2046 # mem_args is a list of words
    "$TESTPMD" --lcores "$VM_LCORES" "${EAL_EXTRA[@]}" $(mem_args vm 1024) --single-file-segments \
        --no-pci --log-level=notice --vdev "net_virtio_user0,path=$sock,queues=$w,queue_size=$VM_RING" \
        -- --forward-mode="$fwd" --port-topology=loop --auto-start --stats-period 1 \
        --no-flush-rx --nb-cores="$VM_CORES" --rxq="$w" --txq="$w" --rxd="$VM_RING" --txd="$VM_RING" \
        --total-num-mbufs="$(vm_mbufs "$w")" </dev/null >"$logf" 2>&1 &
    VM_PID=$!
    STARTED+=("$VM_PID")
    if ! wait_while_alive "$VM_PID" 30 "the VM (testpmd) forwarding" \
        grep -Eq 'packet forwarding - ports=|Start automatic packet forwarding' "$logf"; then
        tail -20 "$logf" >&2
        return 1
    fi
    pid_alive "$VM_PID" || { tail -20 "$logf" >&2; return 1; }
}

# snapshot API FILE: the router's counters now; prints the time it was taken (mid-call).
snapshot() {
    local t0 t1
    t0=$(now)
    "$VROUTERCTL" --socket "$1" --json stats >"$2"
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (a + b) / 2 }'
}

# ----------------------------------------------------------------------------- points
# router_point MODE ENCAP W
router_point() {
    local mode=$1 encap=$2 w=$3
    local dir=$WORK/$mode-$encap-${w}w-r$REP rpid ta tb rc=0
    mkdir -p "$dir"
    write_config "$dir/vrouter.toml" "$mode" "$encap" "$w" "$dir"
    log "vrouter $mode $encap, $w worker(s) (lcores $(lcores_for "$w"))"
    # shellcheck disable=SC2046 # mem_args is a list of words
    "$VROUTER" -c "$dir/vrouter.toml" --stats-json "$dir/final.json" --api-socket "$dir/api.sock" \
        --run-for $((WARMUP + DURATION + 120)) \
        -- --lcores "$(lcores_for "$w")" "${EAL_EXTRA[@]}" $(mem_args router $((512 + w * 256))) \
        --no-pci --log-level=warning </dev/null >"$dir/router.log" 2>&1 &
    rpid=$!
    STARTED+=("$rpid")
    VM_PID=
    if ! wait_while_alive "$rpid" 60 "socket $dir/api.sock" test -S "$dir/api.sock"; then
        dump_file "$dir/router.log" 30
        stop_started "$rpid" router TERM
        FAILED=1
        return 0
    fi
    if [[ $mode != null ]]; then
        local fwd=rxonly
        if [[ $mode == pvp ]]; then fwd=5tswap; fi
        if ! wait_while_alive "$rpid" 30 "socket $dir/vm1.sock" test -S "$dir/vm1.sock" || ! vm_start "$dir/vm1.sock" "$w" "$fwd" "$dir/vm.log"; then
            log "FAIL: the VM did not start"
            if [[ -n $VM_PID ]]; then stop_started "$VM_PID" "VM testpmd" INT; fi
            stop_started "$rpid" router TERM
            FAILED=1
            return 0
        fi
    fi
    sleep "$WARMUP"
    ta=$(snapshot "$dir/api.sock" "$dir/a.json") || rc=1
    sleep "$DURATION"
    tb=$(snapshot "$dir/api.sock" "$dir/b.json") || rc=1
    stop_pid "$rpid" router TERM 20 || { log "router exit status $?"; rc=1; }
    forget_pid "$rpid"
    if [[ -n $VM_PID ]]; then stop_started "$VM_PID" "VM testpmd" INT; fi
    if ((rc)) || [[ ! -s $dir/final.json ]]; then
        log "FAIL: router run did not complete (log: $dir/router.log)"
        dump_file "$dir/router.log" 30
        FAILED=1
        return 0
    fi
    if ! "$APY" "$STATS_PY" router --a "$dir/a.json" --b "$dir/b.json" --ta "$ta" --tb "$tb" \
        --final "$dir/final.json" --mode "$mode" --encap "$encap" --workers "$w" --rep "$REP" \
        --out "$WORK/points/router-$mode-$encap-$w-r$REP.json"; then
        log "!!! INVALID MEASUREMENT: $mode $encap $w worker(s) — see the FAIL lines above"
        FAILED=1
    fi
}

# testpmd_point ROLE MODE ENCAP W: ROLE ceiling (pcap -> net_null) or path (pcap -> vhost-user
# -> the VM, in the router's place; MODE vhost or pvp). testpmd runs interactive, its commands
# from a FIFO: "show port stats" at the two ends of the window reads its cumulative counters
# when we say so (its --stats-period samples come at irregular 1-2 s intervals).
testpmd_point() {
    local role=$1 mode=$2 encap=$3 w=$4
    local dir=$WORK/testpmd-$role-$mode-$encap-${w}w-r$REP tpid second port ta tb fd
    mkdir -p "$dir"
    if [[ $role == ceiling ]]; then
        second="net_null0,no-rx=1"
        port=1
    else
        second="net_vhost0,iface=$dir/vm1.sock,queues=$w"
        port=1                              # vhost: delivered to the VM
        if [[ $mode == pvp ]]; then port=0; fi   # pvp: sent back to the fabric
    fi
    log "testpmd io $role${mode:+ ($mode)} $encap, $w forwarding core(s) (lcores $(lcores_for "$w"))"
    mkfifo "$dir/cmd.fifo"
    # shellcheck disable=SC2046 # mem_args is a list of words
    "$TESTPMD" --lcores "$(lcores_for "$w")" "${EAL_EXTRA[@]}" $(mem_args "tp$role" $((512 + w * 256))) \
        --no-pci --log-level=notice \
        --vdev "$(fabric_devargs "$encap" "$w")" --vdev "$second" \
        -- -i --forward-mode=io --port-topology=paired --auto-start --no-flush-rx \
        --nb-cores="$w" --rxq="$w" --txq="$w" --total-num-mbufs="$(testpmd_mbufs "$w")" \
        <"$dir/cmd.fifo" >"$dir/testpmd.log" 2>&1 &
    tpid=$!
    STARTED+=("$tpid")
    exec {fd}>"$dir/cmd.fifo"
    VM_PID=
    # The prompt comes once the ports are up and forwarding has started (--auto-start).
    if ! wait_while_alive "$tpid" 30 "testpmd prompt" grep -q 'testpmd> ' "$dir/testpmd.log"; then
        exec {fd}>&-
        dump_file "$dir/testpmd.log" 30
        stop_started "$tpid" testpmd INT
        FAILED=1
        return 0
    fi
    if [[ $role == path ]]; then
        local fwd=rxonly
        if [[ $mode == pvp ]]; then fwd=5tswap; fi
        if ! wait_while_alive "$tpid" 30 "socket $dir/vm1.sock" test -S "$dir/vm1.sock" || ! vm_start "$dir/vm1.sock" "$w" "$fwd" "$dir/vm.log"; then
            log "FAIL: the VM did not start"
            exec {fd}>&-
            if [[ -n $VM_PID ]]; then stop_started "$VM_PID" "VM testpmd" INT; fi
            stop_started "$tpid" testpmd INT
            FAILED=1
            return 0
        fi
    fi
    sleep "$WARMUP"
    ta=$(now)
    echo "show port stats $port" >&"$fd"
    sleep "$DURATION"
    tb=$(now)
    echo "show port stats $port" >&"$fd"
    sleep 0.2
    echo quit >&"$fd"
    exec {fd}>&-
    wait_exit "$tpid" 20 || log "testpmd did not quit within 20 s"
    stop_started "$tpid" testpmd INT
    if [[ -n $VM_PID ]]; then stop_started "$VM_PID" "VM testpmd" INT; fi
    if ! "$APY" "$STATS_PY" testpmd --log "$dir/testpmd.log" --port "$port" --ta "$ta" --tb "$tb" \
        --workers "$w" --encap "$encap" --mode "$mode" --role "$role" --rep "$REP" \
        --out "$WORK/points/$role-${mode:-all}-$encap-$w-r$REP.json"; then
        dump_file "$dir/testpmd.log" 30
        FAILED=1
    fi
}

# ----------------------------------------------------------------------------- run
mkdir -p "$WORK/points"
log "$NCPU CPUs; workers ${WORKER_LIST[*]}; modes ${MODE_LIST[*]}; encaps ${ENCAP_LIST[*]}"
log "window ${DURATION} s after ${WARMUP} s warm-up; $PCAP_FLOWS flows from $PCAP_DIR"
log "vrouter $VROUTER; testpmd $TESTPMD; hugepages $( ((HUGE)) && echo yes || echo no)"
((OVERSUB)) && log "!!! --oversubscribe: lcores share CPUs; the figures are NOT performance figures"
{
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(uname -n) $(uname -r), $NCPU CPUs"
    grep -m1 'model name' /proc/cpuinfo || true
    echo "vrouter: $VROUTER ($(cd "$REPO_ROOT" && git describe --always --dirty 2>/dev/null || echo '?'))"
    echo "testpmd: $TESTPMD"
    echo "args: workers ${WORKER_LIST[*]}; modes ${MODE_LIST[*]}; encaps ${ENCAP_LIST[*]}; duration $DURATION; warmup $WARMUP; repeat $REPEAT; flows $PCAP_FLOWS; vm ring $VM_RING; hugepages $HUGE; oversubscribe $OVERSUB"
} >"$WORK/run-info.txt"

for w in "${WORKER_LIST[@]}"; do
    for ((REP = 1; REP <= REPEAT; REP++)); do
        ((REPEAT == 1)) || log "repetition $REP of $REPEAT ($w worker(s))"
        for e in "${ENCAP_LIST[@]}"; do
            testpmd_point ceiling "" "$e" "$w"
            for m in "${MODE_LIST[@]}"; do
                router_point "$m" "$e" "$w"
                if ((PATH_CEILING)) && [[ $m != null ]]; then
                    testpmd_point path "$m" "$e" "$w"
                fi
            done
        done
    done
done

echo
title="vrouter vs testpmd io, $PCAP_FLOWS flows, 64-byte inner frames, $NCPU CPUs"
((OVERSUB)) && title+=" (OVERSUBSCRIBED)"
rc=0
"$APY" "$STATS_PY" report "$WORK"/points/*.json --csv "$OUT_DIR/results.csv" \
    --txt "$OUT_DIR/results.txt" --png "$OUT_DIR/mpps.png" --title "$title" || rc=$?
cp "$WORK/run-info.txt" "$OUT_DIR/run-info.txt"
echo "results: $OUT_DIR/results.txt, $OUT_DIR/results.csv, $OUT_DIR/mpps.png, logs $OUT_DIR/logs.tar.gz"
if ((FAILED || rc == 1)); then
    log "!!! some points failed or are invalid (see FAIL lines above)"
    KEEP=1
    exit 1
fi
exit "$rc"
