/* Everything bindgen binds: the DPDK headers vrouter uses, plus the shim's prototypes. */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "shim.h"

/*
 * Flag values that DPDK builds with function-like macros (RTE_BIT64): bindgen cannot evaluate
 * those macros, but clang evaluates enum constants, so they are re-stated here as enumerators
 * with DPDK's own macros as their values. They must fit an int, which the asserts check.
 */
enum vr_dpdk_flags {
	VR_ETH_RSS_IP = RTE_ETH_RSS_IP,
	VR_ETH_RSS_UDP = RTE_ETH_RSS_UDP,
	VR_ETH_RSS_TCP = RTE_ETH_RSS_TCP,
	VR_ETH_RX_OFFLOAD_SCATTER = RTE_ETH_RX_OFFLOAD_SCATTER,
	VR_MBUF_F_RX_RSS_HASH = RTE_MBUF_F_RX_RSS_HASH,
	VR_MBUF_F_RX_L4_CKSUM_MASK = RTE_MBUF_F_RX_L4_CKSUM_MASK,
	VR_MBUF_F_RX_L4_CKSUM_NONE = RTE_MBUF_F_RX_L4_CKSUM_NONE,
	VR_MBUF_F_RX_LRO = RTE_MBUF_F_RX_LRO,
	VR_MBUF_F_RX_IP_CKSUM_MASK = RTE_MBUF_F_RX_IP_CKSUM_MASK,
	VR_MBUF_F_RX_IP_CKSUM_GOOD = RTE_MBUF_F_RX_IP_CKSUM_GOOD,
	VR_ETH_RX_OFFLOAD_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
};
_Static_assert(RTE_MBUF_F_RX_IP_CKSUM_MASK < (1ULL << 31), "RX_IP_CKSUM_MASK exceeds an int");
_Static_assert(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM < (1ULL << 31), "RX_OFFLOAD_IPV4_CKSUM exceeds an int");
_Static_assert(RTE_MBUF_F_RX_L4_CKSUM_MASK < (1ULL << 31), "RX_L4_CKSUM_MASK exceeds an int");
_Static_assert(RTE_MBUF_F_RX_LRO < (1ULL << 31), "RX_LRO exceeds an int");
_Static_assert(RTE_ETH_RSS_IP < (1ULL << 31), "RTE_ETH_RSS_IP exceeds an int");
_Static_assert(RTE_ETH_RSS_UDP < (1ULL << 31), "RTE_ETH_RSS_UDP exceeds an int");
_Static_assert(RTE_ETH_RSS_TCP < (1ULL << 31), "RTE_ETH_RSS_TCP exceeds an int");
_Static_assert(RTE_ETH_RX_OFFLOAD_SCATTER < (1ULL << 31), "RX_OFFLOAD_SCATTER exceeds an int");
_Static_assert(RTE_MBUF_F_RX_RSS_HASH < (1ULL << 31), "RTE_MBUF_F_RX_RSS_HASH exceeds an int");
