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
    /// Sets the length to `len` bytes: shorter trims the tail, longer grows into the tailroom
    /// (new bytes unspecified). `false`, and no change, if the tailroom is too small.
    fn set_len(&mut self, len: usize) -> bool;
    /// `true` when all the packet's bytes are in one segment. The pipeline drops others.
    fn is_contiguous(&self) -> bool {
        true
    }
    /// Length in bytes.
    #[inline]
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
}

impl VecPacket {
    /// A packet holding a copy of `bytes` with the default headroom.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut p = VecPacket {
            buf: vec![0; DEFAULT_BUF_SIZE.max(DEFAULT_HEADROOM + bytes.len())],
            start: DEFAULT_HEADROOM,
            end: DEFAULT_HEADROOM,
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
    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        if self.end - self.start < n {
            return false;
        }
        self.start += n;
        true
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        if self.start < n {
            return false;
        }
        self.start -= n;
        true
    }
    #[inline]
    fn set_len(&mut self, len: usize) -> bool {
        if self.start + len > self.buf.len() {
            return false;
        }
        self.end = self.start + len;
        true
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
}
