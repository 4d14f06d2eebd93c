//! A burst: the fixed array of up to [`BURST_SIZE`] mbufs that RX fills and TX drains.

use std::iter::FusedIterator;
use std::mem::MaybeUninit;

use dpdk_sys::rte_mbuf;

use super::mbuf::Mbuf;

/// Packets per RX/TX burst, as in DPDK's examples: enough to amortise the per-call cost,
/// small enough that a burst's headers stay in L1.
pub const BURST_SIZE: usize = 32;

// rx/tx take the count as u16 and free_bulk as u32.
const _: () = assert!(BURST_SIZE <= u16::MAX as usize);

/// Up to [`BURST_SIZE`] owned mbufs in a fixed inline array (no heap). Dropping it frees the
/// mbufs still in it.
///
/// Invariant: `pkts[..len]` are initialised, owned mbufs; `pkts[len..]` are not.
pub struct Burst {
    len: usize,
    pkts: [MaybeUninit<Mbuf>; BURST_SIZE],
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Burst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Burst").field("len", &self.len).finish()
    }
}

impl Burst {
    /// An empty burst.
    #[inline]
    pub const fn new() -> Self {
        Burst {
            len: 0,
            pkts: [const { MaybeUninit::uninit() }; BURST_SIZE],
        }
    }

    /// Number of mbufs held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when it holds no mbuf.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `true` when it holds [`BURST_SIZE`] mbufs.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BURST_SIZE
    }

    /// The mbufs, in order.
    #[inline]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: pkts[..len] are initialised (invariant); MaybeUninit<Mbuf> has Mbuf's layout.
        unsafe { std::slice::from_raw_parts(self.pkts.as_ptr().cast::<Mbuf>(), self.len) }
    }

    /// The mbufs, in order, writable (edit packets in place; to take one out by value use
    /// [`drain`](Self::drain), [`pop`](Self::pop) or [`swap_remove`](Self::swap_remove)).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: as in as_slice, with exclusive access through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.pkts.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }

    /// Appends `m`, or gives it back if the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST_SIZE {
            return Err(m);
        }
        self.pkts[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Takes out the last mbuf.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: pkts[len] was initialised, and lowering len first hands its ownership to us.
        Some(unsafe { self.pkts[self.len].assume_init_read() })
    }

    /// Takes out the mbuf at `i`, moving the last one into its place (O(1), order not kept).
    #[inline]
    pub fn swap_remove(&mut self, i: usize) -> Option<Mbuf> {
        if i >= self.len {
            return None;
        }
        self.pkts.swap(i, self.len - 1);
        self.pop()
    }

    /// Takes every mbuf out, in order. Mbufs the iterator has not yielded when it is dropped
    /// are freed. The burst is empty afterwards.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let end = self.len;
        // Ownership of pkts[..end] moves to the Drain: if it is leaked, they leak, but are
        // never freed twice.
        self.len = 0;
        Drain {
            burst: self,
            pos: 0,
            end,
        }
    }

    /// Frees every mbuf.
    #[inline]
    pub fn clear(&mut self) {
        let n = self.len;
        self.len = 0;
        free_range(&mut self.pkts[..n]);
    }

    /// Pointer to the first free slot and how many slots are free, for a driver to fill.
    #[inline]
    pub(crate) fn spare(&mut self) -> (*mut *mut rte_mbuf, usize) {
        let free = BURST_SIZE - self.len;
        // Mbuf is repr(transparent) over NonNull<rte_mbuf>, so a slot is a `rte_mbuf *`.
        let p = self.pkts[self.len..].as_mut_ptr().cast::<*mut rte_mbuf>();
        (p, free)
    }

    /// Pointer to the first mbuf, as DPDK's `struct rte_mbuf **`.
    #[inline]
    pub(crate) fn as_raw_mut(&mut self) -> *mut *mut rte_mbuf {
        self.pkts.as_mut_ptr().cast::<*mut rte_mbuf>()
    }

    /// Marks `n` more slots as holding mbufs.
    ///
    /// # Safety
    /// The `n` slots after the current ones must have been filled with valid owned mbufs
    /// (non-NULL), and `len + n <= BURST_SIZE`.
    #[inline]
    pub(crate) unsafe fn grow(&mut self, n: usize) {
        debug_assert!(self.len + n <= BURST_SIZE);
        self.len += n;
    }

    /// Forgets the first `n` mbufs (DPDK took them) and moves the rest to the front.
    ///
    /// # Safety
    /// Ownership of the first `n <= len` mbufs must have passed to someone else.
    #[inline]
    pub(crate) unsafe fn consume_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        let rest = self.len - n;
        let base = self.pkts.as_mut_ptr();
        // SAFETY: both ranges are within the array (n + rest = len <= BURST_SIZE); `copy`
        // allows overlap; the moved-from slots beyond `rest` are then outside len.
        unsafe { std::ptr::copy(base.add(n), base, rest) };
        self.len = rest;
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Frees the initialised mbufs in `slots` with one bulk call.
#[inline]
fn free_range(slots: &mut [MaybeUninit<Mbuf>]) {
    if slots.is_empty() {
        return;
    }
    // SAFETY: the caller passes slots holding owned mbufs whose ownership it gave up (its
    // length no longer covers them); at most BURST_SIZE, so the count fits a u32.
    unsafe {
        dpdk_sys::rte_pktmbuf_free_bulk(
            slots.as_mut_ptr().cast::<*mut rte_mbuf>(),
            slots.len() as u32,
        )
    }
}

/// Iterator taking the mbufs out of a [`Burst`]; see [`Burst::drain`].
pub struct Drain<'a> {
    burst: &'a mut Burst,
    pos: usize,
    end: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.pos == self.end {
            return None;
        }
        let i = self.pos;
        self.pos += 1;
        // SAFETY: slots pos..end are initialised and owned by the Drain; advancing pos
        // before reading hands slot i's ownership to the caller.
        Some(unsafe { self.burst.pkts[i].assume_init_read() })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.pos;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Drain<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Mbuf> {
        if self.pos == self.end {
            return None;
        }
        self.end -= 1;
        // SAFETY: as in next, from the back.
        Some(unsafe { self.burst.pkts[self.end].assume_init_read() })
    }
}

impl ExactSizeIterator for Drain<'_> {}
impl FusedIterator for Drain<'_> {}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        let (pos, end) = (self.pos, self.end);
        self.pos = end;
        free_range(&mut self.burst.pkts[pos..end]);
    }
}
