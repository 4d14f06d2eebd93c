#include <string.h>
/*
 * See shim.h. Each wrapper is a plain call to the DPDK inline it names: the call overhead is
 * paid once per burst (rx/tx) or once per allocation, never per byte of packet access.
 */
#include "shim.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

uint16_t vr_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts,
			 uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t vr_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
			 uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *vr_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int vr_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void vr_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

uint64_t vr_rdtsc(void)
{
	return rte_rdtsc();
}

unsigned int vr_lcore_id(void)
{
	return rte_lcore_id();
}

int vr_errno(void)
{
	return rte_errno;
}

uint64_t vr_mbuf_flag(const char *name)
{
	if (strcmp(name, "TX_L4_MASK") == 0)
		return RTE_MBUF_F_TX_L4_MASK;
	if (strcmp(name, "TX_TCP_CKSUM") == 0)
		return RTE_MBUF_F_TX_TCP_CKSUM;
	if (strcmp(name, "TX_UDP_CKSUM") == 0)
		return RTE_MBUF_F_TX_UDP_CKSUM;
	if (strcmp(name, "TX_TCP_SEG") == 0)
		return RTE_MBUF_F_TX_TCP_SEG;
	if (strcmp(name, "TX_UDP_SEG") == 0)
		return RTE_MBUF_F_TX_UDP_SEG;
	return 0;
}
