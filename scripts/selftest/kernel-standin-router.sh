#!/usr/bin/env bash
# HARNESS SELF-TEST ONLY: a stand-in for target/release/vrouter that lets scripts/e2e-vxlan.sh
# and scripts/demo.sh be exercised without the real router:
#   scripts/e2e-vxlan.sh scripts/selftest/kernel-standin-router.sh
# Accepts vrouter's command line (only --stats-json is used) and must run in netns vr-node.
# dpdk-testpmd plays the vhost-user server (socket /tmp/vrouter-e2e/vm1.sock) and hands the
# VM's frames to a TAP "vmside"; the Linux kernel in vr-node then does the routing, proxy ARP
# and VXLAN (vr-fab gets 203.0.113.1). On SIGTERM it writes a SYNTHETIC stats JSON (fixed
# numbers that satisfy e2e-vxlan.sh): it proves the harness and the VM chain, nothing about
# vrouter.
set -uo pipefail
stats=
while [[ $# -gt 0 && $1 != -- ]]; do
    case $1 in --stats-json) stats=$2; shift ;; esac
    shift
done
dpdk-testpmd -l 0-1 --in-memory --file-prefix vrstandin --no-pci --log-level=notice \
    --vdev "net_vhost0,iface=/tmp/vrouter-e2e/vm1.sock,queues=1" \
    --vdev net_tap0,iface=vmside,mac=00:00:5e:00:01:00 \
    -- --forward-mode=io --auto-start --stats-period 5 --no-flush-rx --total-num-mbufs=4096 \
    </dev/null &
P=$!
for _ in $(seq 100); do ip link show vmside >/dev/null 2>&1 && break; sleep 0.1; done
sleep 2   # port start resets the TAP
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip link set vmside mtu 1450 up
ethtool -K vmside tx off >/dev/null 2>&1
ip addr add 203.0.113.1/24 dev vr-fab
ip link add vx type vxlan id 100 dstport 4789 local 203.0.113.1 remote 203.0.113.2 dev vr-fab
ip link set vx address 00:00:5e:00:01:00 mtu 1450 up
ethtool -K vx tx off >/dev/null 2>&1
ip route add 198.51.100.1/32 dev vx
ip route add 198.51.100.2/32 dev vmside
ip -6 route add 2001:db8:100::1/128 dev vx
ip -6 route add 2001:db8:100::2/128 dev vmside
ip neigh replace 198.51.100.1 lladdr 02:00:00:00:02:01 dev vx nud permanent
ip neigh replace 198.51.100.2 lladdr 02:00:00:00:01:02 dev vmside nud permanent
ip neigh replace 2001:db8:100::1 lladdr 02:00:00:00:02:01 dev vx nud permanent
ip neigh replace 2001:db8:100::2 lladdr 02:00:00:00:01:02 dev vmside nud permanent
sysctl -qw net.ipv4.conf.vx.proxy_arp=1 net.ipv4.conf.vmside.proxy_arp=1
on_term() {
    kill -INT "$P"
    wait "$P"
    [[ -n $stats ]] && cat >"$stats" <<'JSON'
{"synthetic": "kernel-standin-router.sh", "ports": [], "drops": {},
 "events": {"vxlan_decap": 1, "vxlan_encap": 1, "arp_replied": 1},
 "mempool": {"in_use_at_start": 0, "in_use_at_exit": 0, "capacity": 0}}
JSON
    exit 0
}
trap on_term TERM INT
trap 'echo "stand-in: SIGUSR1 (no counters, see the kernel: ip -s link)"' USR1
while kill -0 "$P" 2>/dev/null; do wait "$P"; done
