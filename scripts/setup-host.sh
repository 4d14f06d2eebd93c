#!/usr/bin/env bash
# Idempotent host preparation for a fresh Debian 12 machine (run as root):
#   - installs DPDK, the bindgen toolchain and the test tools (apt-get update only when
#     something is missing),
#   - reserves 256 x 2 MiB hugepages and mounts hugetlbfs on /dev/hugepages,
#   - fails loudly when fewer than 128 hugepages are free afterwards,
#   - checks that cargo (rustup, ~/.cargo/bin) is reachable.
set -euo pipefail

log() { printf '[setup-host] %s\n' "$*"; }
die() { printf '[setup-host] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, hugepages, network namespaces)"

PACKAGES=(
    dpdk dpdk-dev libdpdk-dev
    clang libclang-dev pkg-config
    python3-scapy iperf3 tcpdump tshark curl
    ethtool iproute2 iputils-ping procps psmisc
)
NEED_HUGEPAGES=${NEED_HUGEPAGES:-128}
WANT_HUGEPAGES=${WANT_HUGEPAGES:-256}

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
    # "install ok installed" only for packages that are fully installed.
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture: answer no, without a prompt.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "all packages present"
fi
command -v dpdk-testpmd >/dev/null || die "dpdk-testpmd not found after installing dpdk-dev"
pkg-config --exists libdpdk || die "pkg-config does not know libdpdk (libdpdk-dev missing?)"
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import scapy.all' 2>/dev/null \
    || die "/usr/bin/python3 cannot import scapy (python3-scapy)"

# ---------------------------------------------------------------- hugepages
hp_dir=/sys/kernel/mm/hugepages/hugepages-2048kB
[[ -d $hp_dir ]] || die "no 2 MiB hugepage support in this kernel ($hp_dir missing)"
cur=$(cat /proc/sys/vm/nr_hugepages)
if ((cur < WANT_HUGEPAGES)); then
    log "nr_hugepages $cur -> $WANT_HUGEPAGES"
    echo "$WANT_HUGEPAGES" > /proc/sys/vm/nr_hugepages || true
fi
if ! mountpoint -q /dev/hugepages; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages || die "cannot mount hugetlbfs on /dev/hugepages"
    log "mounted hugetlbfs on /dev/hugepages"
fi
total=$(cat "$hp_dir/nr_hugepages")
free=$(cat "$hp_dir/free_hugepages")
if ((free < NEED_HUGEPAGES)); then
    {
        echo "[setup-host] ERROR: only $free of $total 2 MiB hugepages are free; need >= $NEED_HUGEPAGES."
        echo "[setup-host]   Leftover DPDK files holding pages (remove them if no DPDK process runs):"
        ls -l /dev/hugepages/ 2>/dev/null | sed 's/^/[setup-host]     /' | head -20
        echo "[setup-host]   Or the kernel could not find contiguous memory: free memory and retry."
    } >&2
    exit 1
fi
log "hugepages: $free free of $total (2 MiB)"

# ---------------------------------------------------------------- rust
if ! command -v cargo >/dev/null; then
    [[ -x $HOME/.cargo/bin/cargo ]] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || die "cargo not found (install rustup; expected ~/.cargo/bin/cargo)"
log "cargo: $(cargo --version)"
log "done"
