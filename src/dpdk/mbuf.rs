//! One packet buffer: an owned `rte_mbuf`.

use std::ptr::NonNull;

use dpdk_sys::rte_mbuf;

use crate::datapath::Packet;

/// An owned packet buffer (`rte_mbuf`). Dropping it returns it to its mempool.
///
/// `repr(transparent)` over the mbuf pointer, so a `[Mbuf]` is the `struct rte_mbuf *[]` that
/// DPDK's burst functions take. Data access reads the mbuf's fields directly (no FFI call),
/// so it inlines into the pipeline.
///
/// Invariant: the pointer is a valid mbuf that this value alone owns (refcount 1, not
/// attached to another mbuf's data), with `data_off + data_len <= buf_len`.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<rte_mbuf>);

// SAFETY: an Mbuf is uniquely owned, and DPDK mbufs may be freed on any thread (mempools are
// MT-safe), so moving one to another thread (worker to worker, RX to TX) is sound.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid, initialised mbuf that nothing else owns or will free, whose data
    /// is not shared with other mbufs (refcount 1, direct).
    #[inline]
    pub unsafe fn from_raw(m: NonNull<rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Gives up ownership; the caller must free the mbuf (or hand it to DPDK).
    #[inline]
    pub fn into_raw(self) -> NonNull<rte_mbuf> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    /// The raw pointer, still owned by `self`.
    #[inline]
    pub fn as_ptr(&self) -> *mut rte_mbuf {
        self.0.as_ptr()
    }

    #[inline(always)]
    fn raw(&self) -> &rte_mbuf {
        // SAFETY: by the type invariant the pointer is a valid mbuf we own; &self stops
        // anyone mutating it meanwhile.
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    fn raw_mut(&mut self) -> &mut rte_mbuf {
        // SAFETY: as in `raw`, and &mut self makes the access exclusive.
        unsafe { self.0.as_mut() }
    }

    /// Total length of the packet over all segments.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// Length of the data in the first segment.
    #[inline]
    pub fn data_len(&self) -> u16 {
        self.raw().data_len
    }

    /// Number of segments (1 for a contiguous packet).
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Free bytes in front of the data ([`Packet::prepend`] room).
    #[inline]
    pub fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    /// Free bytes after the data in the first segment ([`Packet::set_len`] growth room).
    #[inline]
    pub fn tailroom(&self) -> usize {
        let m = self.raw();
        usize::from(m.buf_len) - usize::from(m.data_off) - usize::from(m.data_len)
    }

    /// The port the packet was received on (as the driver set it).
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Sets the input port field.
    #[inline]
    pub fn set_port(&mut self, port: u16) {
        self.raw_mut().port = port;
    }

    /// The NIC's RSS hash of the packet, when the driver provided one.
    #[inline]
    pub fn rss_hash(&self) -> Option<u32> {
        let m = self.raw();
        if m.ol_flags & u64::from(dpdk_sys::VR_MBUF_F_RX_RSS_HASH) != 0 {
            // SAFETY: the RX_RSS_HASH flag says the driver stored the hash in `hash.rss`;
            // every variant of the union is plain integers anyway.
            Some(unsafe { m.__bindgen_anon_2.hash.rss })
        } else {
            None
        }
    }

    /// Offload flags (`RTE_MBUF_F_*`).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// Hints the CPU to fetch the packet's first cache line (the headers) now, so that it is
    /// in cache when the pipeline reaches this packet.
    #[inline]
    pub fn prefetch_data(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            let m = self.raw();
            let p = m
                .buf_addr
                .cast::<u8>()
                .wrapping_add(usize::from(m.data_off))
                .cast::<i8>();
            // SAFETY: a prefetch is only a hint: it never faults, whatever the address.
            unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p) }
        }
    }

    /// Appends `bytes` at the end of the first segment. `false`, and no change, if the
    /// tailroom is too small or the packet has several segments.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> bool {
        let old = self.len();
        if !self.set_len(old + bytes.len()) {
            return false;
        }
        self.data_mut()[old..].copy_from_slice(bytes);
        true
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf (type invariant) and this is its only release.
        unsafe { dpdk_sys::vr_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl Packet for Mbuf {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr points to a buffer of buf_len bytes and the mbuf invariant
        // data_off + data_len <= buf_len holds; the bytes live as long as we own the mbuf.
        unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in `data`; &mut self makes the access exclusive and the buffer is not
        // shared with other mbufs (type invariant).
        unsafe {
            std::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// Like `rte_pktmbuf_adj`: strips from the first segment.
    #[inline(always)]
    fn adj(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        let Ok(n16) = u16::try_from(n) else {
            return false;
        };
        if n16 > m.data_len {
            return false;
        }
        m.data_off += n16;
        m.data_len -= n16;
        m.pkt_len -= u32::from(n16);
        true
    }

    #[inline(always)]
    fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    /// Like `rte_pktmbuf_prepend`.
    #[inline(always)]
    fn prepend(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        let Ok(n16) = u16::try_from(n) else {
            return false;
        };
        if n16 > m.data_off {
            return false;
        }
        m.data_off -= n16;
        // Cannot overflow: data_off + data_len <= buf_len, a u16, is unchanged.
        m.data_len += n16;
        m.pkt_len += u32::from(n16);
        true
    }

    /// Sets the length of a single-segment packet (`false` for a chained one: which segment
    /// would change is ambiguous, and the pipeline drops those anyway).
    #[inline(always)]
    fn set_len(&mut self, len: usize) -> bool {
        let m = self.raw_mut();
        if m.nb_segs != 1 {
            return false;
        }
        let room = usize::from(m.buf_len) - usize::from(m.data_off);
        if len > room {
            return false;
        }
        // len <= room <= u16::MAX, so the conversions are exact.
        m.data_len = len as u16;
        m.pkt_len = len as u32;
        true
    }

    #[inline(always)]
    fn is_contiguous(&self) -> bool {
        self.raw().nb_segs == 1
    }

    /// Prepends `push` bytes and trims what follows to `len` in one step (single-segment
    /// packets only).
    #[inline(always)]
    fn reframe(&mut self, push: usize, len: usize) -> bool {
        let m = self.raw_mut();
        if m.nb_segs != 1 || push > usize::from(m.data_off) || len > usize::from(m.data_len) {
            return false;
        }
        // push <= data_off and push + len <= data_off + data_len <= buf_len, all u16.
        m.data_off -= push as u16;
        m.data_len = (push + len) as u16;
        m.pkt_len = u32::from(m.data_len);
        true
    }

    #[inline]
    fn len(&self) -> usize {
        usize::from(self.raw().data_len)
    }

    #[inline(always)]
    fn rx_ip_csum_good(&self) -> bool {
        let mask = u64::from(dpdk_sys::VR_MBUF_F_RX_IP_CKSUM_MASK);
        self.raw().ol_flags & mask == u64::from(dpdk_sys::VR_MBUF_F_RX_IP_CKSUM_GOOD)
    }

    #[inline]
    fn l4_csum_partial(&self) -> bool {
        // The vhost library reports a virtio NEEDS_CSUM packet, whose L4 checksum field holds
        // the pseudo-header sum, as "L4 checksum NONE" (data intact, checksum not computed)
        // in its compliant offload mode, or with a TX L4 checksum request in its legacy mode.
        let f = self.raw().ol_flags;
        let mask = u64::from(dpdk_sys::VR_MBUF_F_RX_L4_CKSUM_MASK);
        f & mask == u64::from(dpdk_sys::VR_MBUF_F_RX_L4_CKSUM_NONE) || f & flags::TX_L4_MASK != 0
    }

    #[inline]
    fn clear_rx_offload(&mut self) {
        let m = self.raw_mut();
        m.ol_flags &= !(u64::from(dpdk_sys::VR_MBUF_F_RX_L4_CKSUM_MASK)
            | u64::from(dpdk_sys::VR_MBUF_F_RX_LRO)
            | flags::TX_L4_MASK
            | flags::TX_TCP_SEG
            | flags::TX_UDP_SEG);
    }

    #[inline]
    fn gso_size(&self) -> Option<u16> {
        let m = self.raw();
        let gso = u64::from(dpdk_sys::VR_MBUF_F_RX_LRO) | flags::TX_TCP_SEG | flags::TX_UDP_SEG;
        if m.ol_flags & gso == 0 {
            return None;
        }
        // SAFETY: tx_offload is a plain-integer union; the vhost library sets tso_segsz with
        // RX_LRO for a guest GSO frame.
        let seg = unsafe { m.__bindgen_anon_3.__bindgen_anon_1.tso_segsz() };
        Some(seg as u16)
    }

    fn alloc_sibling(&self) -> Option<Self> {
        // SAFETY: `pool` of a valid mbuf is its (live, MT-safe) mempool.
        let m = unsafe { dpdk_sys::vr_pktmbuf_alloc(self.raw().pool) };
        // SAFETY: a non-NULL result is a fresh mbuf that we now own.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }
}

/// 64-bit mbuf offload flags of DPDK 22.11 that bindgen cannot evaluate (RTE_BIT64 macros).
/// [`check_flags`] compares them with the C library's values at start.
pub mod flags {
    /// RTE_MBUF_F_TX_L4_MASK (TCP, SCTP or UDP checksum requested).
    pub const TX_L4_MASK: u64 = 3 << 52;
    /// RTE_MBUF_F_TX_TCP_CKSUM.
    pub const TX_TCP_CKSUM: u64 = 1 << 52;
    /// RTE_MBUF_F_TX_UDP_CKSUM.
    pub const TX_UDP_CKSUM: u64 = 3 << 52;
    /// RTE_MBUF_F_TX_TCP_SEG.
    pub const TX_TCP_SEG: u64 = 1 << 50;
    /// RTE_MBUF_F_TX_UDP_SEG.
    pub const TX_UDP_SEG: u64 = 1 << 42;
}

/// Checks [`flags`] against the linked DPDK; the names of those that differ.
pub fn check_flags() -> Vec<&'static str> {
    let table = [
        (c"TX_L4_MASK", "TX_L4_MASK", flags::TX_L4_MASK),
        (c"TX_TCP_CKSUM", "TX_TCP_CKSUM", flags::TX_TCP_CKSUM),
        (c"TX_UDP_CKSUM", "TX_UDP_CKSUM", flags::TX_UDP_CKSUM),
        (c"TX_TCP_SEG", "TX_TCP_SEG", flags::TX_TCP_SEG),
        (c"TX_UDP_SEG", "TX_UDP_SEG", flags::TX_UDP_SEG),
    ];
    table
        .iter()
        .filter(|(c, _, value)| {
            // SAFETY: `c` is a valid NUL-terminated string; the function only compares it.
            unsafe { dpdk_sys::vr_mbuf_flag(c.as_ptr()) != *value }
        })
        .map(|(_, name, _)| *name)
        .collect()
}
