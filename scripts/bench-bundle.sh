#!/usr/bin/env bash
# Prepares scripts/bench.sh for a machine that has no DPDK, cargo or scapy (the 16-core device
# machine, which receives only the checkout and the paths a call carries):
#
#   scripts/bench-bundle.sh [DIR] [--flows N] [--no-check]     (DIR default: bundle, git-ignored)
#
# - cargo build --release;
# - ../shared/tools/device-bundle.sh DIR vrouter vrouterctl dpdk-testpmd: the programs, every
#   shared library they and the DPDK drivers need (DIR/lib) and the drivers (DIR/pmds); the
#   Rust binaries without their debug info, to keep the bundle small;
# - the benchmark pcaps in DIR/pcaps (tests/fixtures/gen_bench.py);
# - unless --no-check: a 1-second run of bench.sh from the bundle (every mode, VXLAN), here,
#   with the system's DPDK drivers hidden.
#
# Then, on the device machine, from the checkout's root (DIR carried along):
#   scripts/bench.sh --bundle DIR --out OUTDIR [--duration 3 --warmup 1]
# (--bundle implies --pcap-dir DIR/pcaps, LD_LIBRARY_PATH=DIR/lib and EAL -d DIR/pmds).
set -euo pipefail
LOG_TAG=bench-bundle
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR=
FLOWS=4096
CHECK=1
while (($#)); do
    case $1 in
        --flows) FLOWS=${2:?}; shift 2 ;;
        --no-check) CHECK=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) [[ -z $DIR ]] || die "one DIR only"; DIR=$1; shift ;;
    esac
done
DIR=${DIR:-$REPO_ROOT/bundle}

BUNDLER=
for d in "$REPO_ROOT/shared/tools" "$REPO_ROOT/../shared/tools"; do
    [[ -x $d/device-bundle.sh ]] && { BUNDLER=$d/device-bundle.sh; break; }
done
[[ -n $BUNDLER ]] || die "device-bundle.sh not found in shared/tools or ../shared/tools"
TESTPMD=$(command -v dpdk-testpmd) || die "dpdk-testpmd not found (scripts/setup-host.sh)"
command -v cargo >/dev/null || die "cargo not found"
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null || die "/usr/bin/python3 cannot import scapy (scripts/setup-host.sh)"

log "cargo build --release"
(cd "$REPO_ROOT" && cargo build --release --bins)

log "bundling into $DIR with $BUNDLER"
"$BUNDLER" "$DIR" "$REPO_ROOT/target/release/vrouter" "$REPO_ROOT/target/release/vrouterctl" "$TESTPMD"
DIR=$(cd "$DIR" && pwd)
if command -v strip >/dev/null; then
    strip --strip-debug "$DIR/bin/vrouter" "$DIR/bin/vrouterctl"
fi

log "generating the pcaps ($FLOWS flows) in $DIR/pcaps"
/usr/bin/python3 "$REPO_ROOT/tests/fixtures/gen_bench.py" "$DIR/pcaps" --flows "$FLOWS"
{
    echo "built: $(date -u +%FT%TZ) on $(uname -n)"
    echo "vrouter: $(cd "$REPO_ROOT" && git describe --always --dirty 2>/dev/null || echo '?')"
    echo "testpmd: $TESTPMD ($(dpkg-query -W -f='${Version}' dpdk 2>/dev/null || echo '?'))"
} >"$DIR/BUNDLE-INFO"

if ((CHECK)); then
    # 1. Every library the programs and drivers load resolves inside the bundle (glibc aside).
    outside=$(for f in "$DIR"/bin/* "$DIR"/pmds/*.so; do
        LD_LIBRARY_PATH=$DIR/lib ldd "$f" | awk '/=>/ {print $3}'
    done | sort -u | grep -v "^$DIR/" \
        | grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' || true)
    [[ -z $outside ]] || die "the bundle needs libraries from outside it: $outside"
    # 2. A short run from the bundle. EAL also loads the drivers of its built-in plugin
    #    directory when it exists (here, not on the device): two copies of a driver panic, so
    #    that directory is hidden behind an empty tmpfs in a private mount namespace.
    pmddir=$(pkg-config --variable=pmdsdir libdpdk 2>/dev/null || true)
    if [[ -z $pmddir ]]; then
        for d in /usr/lib/x86_64-linux-gnu/dpdk/pmds-*; do [[ -d $d ]] && pmddir=$d; done
    fi
    check_out=$(mktemp -d /tmp/vrouter-bundle-check.XXXXXX)
    log "checking the bundle: bench.sh --bundle $DIR, every mode, VXLAN, 1 worker, 1 s (system DPDK drivers hidden)"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare -m bash -c '[[ -z $1 || ! -d $1 ]] || mount -t tmpfs none "$1"; shift; exec "$@"' _ "$pmddir" \
        "$SCRIPTS_DIR/bench.sh" --bundle "$DIR" --mode all --encap vxlan --workers 1 \
        --duration 1 --warmup 0 --out "$check_out"
    rm -rf "$check_out"
fi

log "bundle ready: $(du -sh "$DIR" | cut -f1) in $DIR"
rel=${DIR#"$REPO_ROOT"/}
log "on the device machine, from the checkout's root (carry \"$rel\"):"
log "  scripts/bench.sh --bundle $rel --out \"\$OUT\" --duration 3 --warmup 1"
