//! Packet-buffer pools.

use std::ffi::{CStr, CString};
use std::ptr::NonNull;

use dpdk_sys::rte_mempool;

use super::burst::{Burst, BURST_SIZE};
use super::eal::ensure_up;
use super::error::{DpdkError, Result};
use super::mbuf::Mbuf;

/// Headroom DPDK reserves in front of received data (RTE_PKTMBUF_HEADROOM): room for the
/// outer headers an encap prepends without copying.
pub const MBUF_HEADROOM: u16 = dpdk_sys::RTE_PKTMBUF_HEADROOM as u16;

/// DPDK's default mbuf data room (RTE_MBUF_DEFAULT_BUF_SIZE): headroom + 2048 bytes, enough
/// for a 1500-byte MTU frame plus encapsulation.
pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

/// A DPDK pktmbuf pool. A cheap handle: clones refer to the same pool, and any thread may
/// allocate and free (DPDK mempools are MT-safe; EAL lcores also get a per-lcore cache).
///
/// Pools live until the process exits: DPDK cannot tell whether mbufs of a pool are still in
/// flight (in a driver ring, another worker's TX buffer), so freeing one is never safe here.
#[derive(Clone, Debug)]
pub struct Mempool {
    mp: NonNull<rte_mempool>,
    data_room: u16,
}

// SAFETY: a DPDK mempool is MT-safe (multi-producer/multi-consumer ring plus per-lcore
// caches), never freed while a handle exists, and the handle holds nothing thread-bound.
unsafe impl Send for Mempool {}
// SAFETY: as for Send: every operation through &Mempool is an MT-safe DPDK call or a read of
// a field fixed at creation.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n_mbufs` packet buffers (`n_mbufs` = 2^k − 1 uses memory best), each
    /// with `data_room` bytes of buffer including [`MBUF_HEADROOM`] (use
    /// [`DEFAULT_DATA_ROOM`] for standard frames), a per-lcore cache of `cache` mbufs
    /// (≤ 512, ideally a divisor of `n_mbufs`), on NUMA `socket` (-1: any).
    ///
    /// `name` must be unique and short (DPDK limits it to about 24 bytes).
    pub fn pktmbuf(
        name: &str,
        n_mbufs: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool> {
        const CALL: &str = "rte_pktmbuf_pool_create";
        ensure_up(CALL)?;
        let cname = CString::new(name).map_err(|_| {
            DpdkError::new(CALL, dpdk_sys::EINVAL as i32).context("name contains a NUL byte")
        })?;
        // SAFETY: cname is a valid C string for the call; DPDK copies it. EAL is up.
        let mp = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(cname.as_ptr(), n_mbufs, cache, 0, data_room, socket)
        };
        match NonNull::new(mp) {
            Some(mp) => Ok(Mempool { mp, data_room }),
            None => Err(DpdkError::from_rte_errno(CALL).context(format!(
                "pool {name:?}, {n_mbufs} mbufs of {data_room} bytes, socket {socket}"
            ))),
        }
    }

    /// Allocates one mbuf (empty, default headroom); `None` when the pool is exhausted.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is valid for the life of the process; alloc is MT-safe.
        let m = unsafe { dpdk_sys::vr_pktmbuf_alloc(self.mp.as_ptr()) };
        // SAFETY: a non-NULL result is a fresh mbuf (refcount 1, direct) that we now own.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Appends `n` fresh mbufs to `burst` in one call: all of them, or none (`false`) when
    /// the pool has fewer available or the burst lacks room.
    pub fn alloc_bulk(&self, burst: &mut Burst, n: usize) -> bool {
        let (slots, free) = burst.spare();
        if n > free || n == 0 {
            return n == 0;
        }
        // SAFETY: slots has room for n ≥ 1 pointers (n ≤ free ≤ BURST_SIZE, so n fits u32).
        let ret = unsafe { dpdk_sys::vr_pktmbuf_alloc_bulk(self.mp.as_ptr(), slots, n as u32) };
        if ret != 0 {
            return false;
        }
        // SAFETY: on success DPDK wrote n fresh owned mbufs into those slots.
        unsafe { burst.grow(n) };
        debug_assert!(burst.len() <= BURST_SIZE);
        true
    }

    /// Mbufs currently allocated (in packets, rings, TX buffers). Includes the per-lcore
    /// caches' contents as free, so it is exact when nothing is in flight: the leak check.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid; the count is a read of ring and cache sizes.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.mp.as_ptr()) }
    }

    /// Mbufs available for allocation (including those in per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: as in in_use.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.mp.as_ptr()) }
    }

    /// Number of mbufs in the pool.
    pub fn capacity(&self) -> u32 {
        // SAFETY: the pool is valid and `size` is fixed at creation.
        unsafe { self.mp.as_ref().size }
    }

    /// Buffer size of each mbuf, headroom included.
    pub fn data_room(&self) -> u16 {
        self.data_room
    }

    /// The pool's name.
    pub fn name(&self) -> String {
        // SAFETY: the pool is valid and `name` is a NUL-terminated array fixed at creation.
        let n = unsafe { CStr::from_ptr(self.mp.as_ref().name.as_ptr()) };
        n.to_string_lossy().into_owned()
    }

    /// The raw pool, for DPDK calls this layer does not wrap.
    pub fn as_ptr(&self) -> *mut rte_mempool {
        self.mp.as_ptr()
    }
}
