#!/usr/bin/env bash
# Namespace topology for the VXLAN end-to-end test and the demo.
#
#   scripts/topo.sh up         netns vr-node / vr-remote / vr-vm, veth vr-fab<->rmt-fab,
#                              kernel VXLAN vx100 in vr-remote (idempotent)
#   scripts/topo.sh vm-start   start the VM (dpdk-testpmd virtio_user<->net_tap vmtap0 in
#                              vr-vm) and configure vmtap0; the router (vhost-user server,
#                              socket /tmp/vrouter-e2e/vm1.sock) must already run
#   scripts/topo.sh vm-stop    stop that VM
#   scripts/topo.sh down       stop the VM, delete the namespaces (idempotent)
#   scripts/topo.sh status     links, addresses and neighbours of the namespaces
#
# Environment (scripts/lib.sh): VM_MTU (vmtap0's MTU, default 1450), VM_OFFLOADS (off: the
# default, ethtool -K vmtap0 ... off; keep: the TAP's defaults), STATIC_ND (1: the default,
# static IPv6 neighbour entries for the router MAC; 0: none, the router's ND proxy answers).
# The path-MTU variant (scripts/e2e-pmtu.sh, scripts/pmtu-demo.toml):
#   VM_MTU=1500 VM_OFFLOADS=keep STATIC_ND=0 scripts/topo.sh up|vm-start
#
# The router itself, for this topology:
#   ip netns exec vr-node target/release/vrouter -c scripts/vxlan-demo.toml \
#       --idle-sleep-us 50 --stats-json /tmp/vrouter-e2e/stats.json \
#       -- -l 0-1 --in-memory --file-prefix vrnode --log-level=warning
set -euo pipefail
LOG_TAG=topo
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $(id -u) -eq 0 ]] || die "must run as root"

case "${1:-}" in
    up)       topo_up; log "topology up" ;;
    down)     topo_down; log "topology down" ;;
    vm-start) vm_start; log "VM running (pid $VM_PID); vmtap0 configured in $NS_VM" ;;
    vm-stop)  vm_stop; log "VM stopped" ;;
    status)   topo_status ;;
    *)        echo "usage: $0 up|down|vm-start|vm-stop|status" >&2; exit 2 ;;
esac
