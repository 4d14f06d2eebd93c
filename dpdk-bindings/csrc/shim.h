/*
 * Non-inline wrappers for DPDK's static-inline and macro-only API.
 *
 * Rust cannot call a `static inline` C function or read a C thread-local through a macro, so
 * the few that vrouter needs are re-exported here as ordinary functions. They are bound by
 * bindgen from this header, so the Rust declarations cannot drift from the C definitions.
 * Everything per-packet that Rust can do itself (mbuf field access) is done in Rust instead.
 */
#ifndef VR_DPDK_SHIM_H
#define VR_DPDK_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

/* rte_eth_rx_burst: receive up to nb_pkts mbufs from one RX queue. */
uint16_t vr_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts,
			 uint16_t nb_pkts);
/* rte_eth_tx_burst: hand up to nb_pkts mbufs to one TX queue; returns how many it took. */
uint16_t vr_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
			 uint16_t nb_pkts);
/* rte_pktmbuf_alloc: one reset mbuf, or NULL when the pool is empty. */
struct rte_mbuf *vr_pktmbuf_alloc(struct rte_mempool *mp);
/* rte_pktmbuf_alloc_bulk: all `count` mbufs (0) or none (negative errno). */
int vr_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count);
/* rte_pktmbuf_free: free a whole chain (NULL is allowed). */
void vr_pktmbuf_free(struct rte_mbuf *m);
/* rte_rdtsc: the time-stamp counter. */
uint64_t vr_rdtsc(void);
/* rte_lcore_id: the calling thread's lcore, LCORE_ID_ANY for a non-EAL thread. */
unsigned int vr_lcore_id(void);
/* rte_errno: the calling thread's last DPDK error number (a TLS variable). */
int vr_errno(void);
/* 64-bit mbuf offload flags (RTE_BIT64 macros bindgen cannot evaluate), by name:
 * "TX_L4_MASK", "TX_TCP_CKSUM", "TX_UDP_CKSUM", "TX_TCP_SEG", "TX_UDP_SEG"; 0 if unknown.
 * The safe layer keeps them as Rust constants and checks them against this at start. */
uint64_t vr_mbuf_flag(const char *name);

#endif
