//! The packet buffer abstraction the pipeline works on.
//!
//! The pipeline never sees DPDK: the router implements [`Packet`] for its mbuf wrapper, tests
//! and benches use [`VecPacket`]. Every method is total: it reports failure instead of
//! panicking, so the pipeline can turn a failure into a counted drop.

/// A single-segment packet buffer with headroom, as an mbuf is.
pub trait Packet {
    /// The packet's bytes, from the first header to the end.
    fn data(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Removes `n` bytes from the front (strip headers). `false`, and no change, if the
    /// packet is shorter than `n`.
    fn adj(&mut self, n: usize) -> bool;
    /// Adds `n` bytes at the front (room for new headers; their content is unspecified).
    /// `false`, and no change, if the headroom is smaller than `n`.
    fn prepend(&mut self, n: usize) -> bool;
    /// Bytes [`Packet::prepend`] can add.
    fn headroom(&self) -> usize;
    /// Sets the length to `len` bytes: shorter trims the tail, longer grows into the tailroom
    /// (new bytes unspecified). `false`, and no change, if the tailroom is too small.
    fn set_len(&mut self, len: usize) -> bool;
    /// Adds `push` bytes at the front (content unspecified) and keeps `len` bytes after them
    /// (shortening only), in one step. `false`, and no change, when the headroom is smaller
    /// than `push` or the packet shorter than `len`.
    #[inline(always)]
    fn reframe(&mut self, push: usize, len: usize) -> bool {
        self.headroom() >= push && len <= self.len() && self.set_len(len) && self.prepend(push)
    }
    /// `true` when all the packet's bytes are in one segment. The pipeline drops others.
    fn is_contiguous(&self) -> bool {
        true
    }
    /// `true` when the NIC verified the (outer) IPv4 header checksum and found it right
    /// (DPDK RTE_MBUF_F_RX_IP_CKSUM_GOOD). The fast path then skips its own check.
    #[inline(always)]
    fn rx_ip_csum_good(&self) -> bool {
        false
    }
    /// `true` when the L4 (TCP/UDP) checksum field holds only the pseudo-header sum and the
    /// checksum must be completed before the packet leaves for the wire (virtio-net
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM, surfaced by DPDK as RTE_MBUF_F_RX_L4_CKSUM_NONE).
    #[inline]
    fn l4_csum_partial(&self) -> bool {
        false
    }
    /// Forgets receive-offload metadata once the pipeline has acted on it (e.g. after
    /// completing a partial checksum).
    #[inline]
    fn clear_rx_offload(&mut self) {}
    /// The segment size of a segmentation-offload super-frame (guest TSO/GSO), if it is one.
    #[inline]
    fn gso_size(&self) -> Option<u16> {
        None
    }
    /// A new, empty packet from the same buffer pool, with the default headroom (for
    /// fragments). `None` when the pool is empty.
    fn alloc_sibling(&self) -> Option<Self>
    where
        Self: Sized;
    /// Length in bytes.
    #[inline(always)]
    fn len(&self) -> usize {
        self.data().len()
    }
    /// `true` when the packet has no bytes.
    #[inline]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Headroom a [`VecPacket`] starts with, the same as DPDK's RTE_PKTMBUF_HEADROOM.
pub const DEFAULT_HEADROOM: usize = 128;
/// Buffer size of a [`VecPacket`], the same as DPDK's default mbuf data room.
pub const DEFAULT_BUF_SIZE: usize = 2048 + DEFAULT_HEADROOM;

/// A heap-backed [`Packet`] for tests and benches.
#[derive(Clone, Debug)]
pub struct VecPacket {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Test knob: pretend the L4 checksum is partial (as from a virtio guest).
    pub csum_partial: bool,
    /// Test knob: pretend the NIC found the IPv4 header checksum good.
    pub ip_csum_good: bool,
}

impl VecPacket {
    /// A packet holding a copy of `bytes` with the default headroom.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut p = VecPacket {
            buf: vec![0; DEFAULT_BUF_SIZE.max(DEFAULT_HEADROOM + bytes.len())],
            start: DEFAULT_HEADROOM,
            end: DEFAULT_HEADROOM,
            csum_partial: false,
            ip_csum_good: false,
        };
        p.reset(bytes);
        p
    }

    /// Replaces the content with `bytes`, restoring the default headroom (no allocation
    /// when `bytes` fits the buffer).
    pub fn reset(&mut self, bytes: &[u8]) {
        if self.buf.len() < DEFAULT_HEADROOM + bytes.len() {
            self.buf.resize(DEFAULT_HEADROOM + bytes.len(), 0);
        }
        self.start = DEFAULT_HEADROOM;
        self.end = DEFAULT_HEADROOM + bytes.len();
        self.buf[self.start..self.end].copy_from_slice(bytes);
    }
}

impl Packet for VecPacket {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    #[inline(always)]
    fn adj(&mut self, n: usize) -> bool {
        if self.end - self.start < n {
            return false;
        }
        self.start += n;
        true
    }
    #[inline(always)]
    fn headroom(&self) -> usize {
        self.start
    }
    #[inline(always)]
    fn prepend(&mut self, n: usize) -> bool {
        if self.start < n {
            return false;
        }
        self.start -= n;
        true
    }
    #[inline(always)]
    fn set_len(&mut self, len: usize) -> bool {
        if self.start + len > self.buf.len() {
            return false;
        }
        self.end = self.start + len;
        true
    }
    #[inline(always)]
    fn reframe(&mut self, push: usize, len: usize) -> bool {
        if push > self.start || len > self.end - self.start {
            return false;
        }
        self.end = self.start + len;
        self.start -= push;
        true
    }
    #[inline(always)]
    fn rx_ip_csum_good(&self) -> bool {
        self.ip_csum_good
    }
    #[inline]
    fn l4_csum_partial(&self) -> bool {
        self.csum_partial
    }
    #[inline]
    fn clear_rx_offload(&mut self) {
        self.csum_partial = false;
    }
    fn alloc_sibling(&self) -> Option<Self> {
        Some(VecPacket::from_bytes(&[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adj_prepend_set_len_bounds() {
        let mut p = VecPacket::from_bytes(&[1, 2, 3, 4]);
        assert!(!p.adj(5));
        assert!(p.adj(2));
        assert_eq!(p.data(), &[3, 4]);
        assert!(p.prepend(2));
        assert_eq!(p.data(), &[1, 2, 3, 4]);
        assert!(!p.prepend(DEFAULT_HEADROOM + 1));
        assert!(p.set_len(2));
        assert_eq!(p.data(), &[1, 2]);
        assert!(!p.set_len(DEFAULT_BUF_SIZE));
    }

    #[test]
    fn reframe_prepends_and_trims_in_one_step() {
        let mut p = VecPacket::from_bytes(&[1, 2, 3, 4, 5, 6]);
        assert!(!p.reframe(DEFAULT_HEADROOM + 1, 3));
        assert!(!p.reframe(2, 7));
        assert_eq!(p.data(), &[1, 2, 3, 4, 5, 6]);
        assert!(p.reframe(2, 4));
        assert_eq!(&p.data()[2..], &[1, 2, 3, 4]);
        assert_eq!(p.headroom(), DEFAULT_HEADROOM - 2);
    }
}
