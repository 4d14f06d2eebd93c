//! RCU-style publication with quiescent-state-based reclamation (QSBR).
//!
//! Workers read the current snapshot with one atomic load per burst and never block. The
//! control thread swaps in a new snapshot and frees the old one only after every worker has
//! passed a quiescent point (the end of a loop iteration, where it holds no reference), or is
//! offline.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A worker that holds no reference and is not counting (stopped or asleep).
const OFFLINE: u64 = u64::MAX;

/// A published value of type `T` and the quiescent-state counters of its readers.
pub struct Published<T> {
    ptr: AtomicPtr<T>,
    epochs: Box<[CachePadded<AtomicU64>]>,
}

// SAFETY: the pointee is only reached through `&T` by readers and replaced/freed under the
// QSBR protocol; sharing across threads is sound when `T` itself is Send + Sync.
unsafe impl<T: Send + Sync> Sync for Published<T> {}
// SAFETY: as above; ownership of the boxed value moves with the struct.
unsafe impl<T: Send + Sync> Send for Published<T> {}

impl<T> Published<T> {
    /// Publishes `value` for `readers` workers, all initially offline.
    pub fn new(value: T, readers: usize) -> Self {
        Published {
            ptr: AtomicPtr::new(Box::into_raw(Box::new(value))),
            epochs: (0..readers)
                .map(|_| CachePadded::new(AtomicU64::new(OFFLINE)))
                .collect(),
        }
    }

    /// Number of reader slots.
    pub fn readers(&self) -> usize {
        self.epochs.len()
    }

    /// Marks reader `r` online; it must call [`Self::quiescent`] regularly from now on.
    pub fn online(&self, r: usize) {
        self.epochs[r].store(0, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Marks reader `r` offline (holding no reference): publishers stop waiting for it.
    pub fn offline(&self, r: usize) {
        self.epochs[r].store(OFFLINE, Ordering::Release);
    }

    /// The current value. For a worker (which must be online) the reference is valid until
    /// its next [`Self::quiescent`] or [`Self::offline`] call: it must not keep it past that
    /// point. The (single) publishing thread may also read, between its own publishes. One
    /// atomic load.
    #[inline(always)]
    pub fn read(&self) -> &T {
        // SAFETY: the pointer always points to a live boxed T: a replaced value is freed only
        // after every online reader has announced a quiescent state following the swap, and a
        // reader holds this reference only until its next quiescent point.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }

    /// Reader `r` holds no reference obtained before this call.
    #[inline(always)]
    pub fn quiescent(&self, r: usize) {
        let e = &self.epochs[r];
        // Online counts start at 0 and never reach OFFLINE (2^64 - 1 loop iterations).
        e.store(e.load(Ordering::Relaxed) + 1, Ordering::Release);
        // Order the store before the next read of the pointer (store→load needs a full fence),
        // so that a publisher that sees the new count also knows the next read sees the swap.
        fence(Ordering::SeqCst);
    }

    /// Replaces the value and frees the old one once no reader can hold it. Waits (sleeping)
    /// for every online reader to pass a quiescent point; a reader stuck longer than `warn`
    /// is reported in the log, and the wait goes on.
    pub fn publish(&self, value: T) {
        let old = self
            .ptr
            .swap(Box::into_raw(Box::new(value)), Ordering::SeqCst);
        self.synchronize();
        // SAFETY: `old` came from Box::into_raw and, after synchronize(), no reader holds it.
        drop(unsafe { Box::from_raw(old) });
    }

    /// Waits until every reader online now has passed a quiescent point.
    pub fn synchronize(&self) {
        fence(Ordering::SeqCst);
        let seen: Vec<u64> = self
            .epochs
            .iter()
            .map(|e| e.load(Ordering::Acquire))
            .collect();
        let start = Instant::now();
        let mut warned = false;
        for (i, e) in self.epochs.iter().enumerate() {
            let s = seen[i];
            if s == OFFLINE {
                continue;
            }
            let mut spins = 0u32;
            loop {
                let now = e.load(Ordering::Acquire);
                if now != s {
                    break;
                }
                spins += 1;
                if spins < 1000 {
                    std::hint::spin_loop();
                } else {
                    std::thread::sleep(Duration::from_micros(20));
                }
                if !warned && start.elapsed() > Duration::from_secs(1) {
                    log::warn!("rcu: reader {i} has not passed a quiescent point for 1 s");
                    warned = true;
                }
            }
        }
    }
}

impl<T> Drop for Published<T> {
    fn drop(&mut self) {
        // SAFETY: we have &mut self: no reader can hold a reference any more.
        drop(unsafe { Box::from_raw(*self.ptr.get_mut()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// A value that checks it is never read after being freed.
    struct Canary {
        alive: AtomicU64,
        gen: u64,
    }
    impl Drop for Canary {
        fn drop(&mut self) {
            self.alive.store(0xDEAD, Ordering::SeqCst);
        }
    }

    #[test]
    fn readers_never_see_freed_values_across_thousands_of_swaps() {
        let p = Arc::new(Published::new(
            Canary {
                alive: AtomicU64::new(1),
                gen: 0,
            },
            2,
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(std::sync::Barrier::new(3));
        let mut handles = Vec::new();
        for r in 0..2 {
            let (p, stop, ready) = (p.clone(), stop.clone(), ready.clone());
            handles.push(std::thread::spawn(move || {
                p.online(r);
                ready.wait();
                let mut last = 0;
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v = p.read();
                    for _ in 0..50 {
                        assert_eq!(v.alive.load(Ordering::SeqCst), 1, "read a freed value");
                    }
                    assert!(v.gen >= last, "generation went backwards");
                    last = v.gen;
                    reads += 1;
                    p.quiescent(r);
                }
                p.offline(r);
                reads
            }));
        }
        // Publish only once both readers are online, so every swap has to wait for them.
        ready.wait();
        for g in 1..=3000 {
            p.publish(Canary {
                alive: AtomicU64::new(1),
                gen: g,
            });
        }
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            assert!(h.join().unwrap() > 0);
        }
        assert_eq!(p.read().gen, 3000);
    }

    #[test]
    fn offline_readers_do_not_block_publish() {
        let p = Published::new(1u32, 4);
        p.publish(2);
        assert_eq!(*p.read(), 2);
    }
}
