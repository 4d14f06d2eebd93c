//! Lcores (EAL's pinned threads), launching work on them, and the TSC clock.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::eal::{ensure_up, is_up};
use super::error::{DpdkError, Result};

/// What [`wait_lcore`] returns for a launched function that panicked.
pub const LAUNCH_PANICKED: i32 = i32::MIN;

/// The boxed closure handed to an lcore through `rte_eal_remote_launch`'s `void *`.
type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

/// The main lcore (the thread that called [`Eal::init`](super::Eal::init)).
pub fn main_lcore() -> u32 {
    // SAFETY: reads EAL's configuration; before init it is zeroed, not invalid.
    unsafe { dpdk_sys::rte_get_main_lcore() }
}

/// All enabled lcores except the main one, in ascending order: the ones [`launch`] accepts.
/// Empty before EAL is initialised.
pub fn worker_lcores() -> Vec<u32> {
    let mut v = Vec::new();
    if !is_up() {
        return v;
    }
    let mut i = u32::MAX; // rte_get_next_lcore(-1, ...) yields the first lcore
    loop {
        // SAFETY: rte_get_next_lcore accepts any index and returns RTE_MAX_LCORE at the end.
        i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
        if i >= dpdk_sys::RTE_MAX_LCORE {
            return v;
        }
        v.push(i);
    }
}

/// NUMA socket of `lcore`; -1 (SOCKET_ID_ANY, "allocate anywhere") if unknown or if
/// `lcore` is not a valid lcore id.
pub fn lcore_socket(lcore: u32) -> i32 {
    if lcore >= dpdk_sys::RTE_MAX_LCORE {
        return dpdk_sys::SOCKET_ID_ANY;
    }
    // SAFETY: lcore is below RTE_MAX_LCORE, the size of the table this indexes.
    let s = unsafe { dpdk_sys::rte_lcore_to_socket_id(lcore) };
    // SOCKET_ID_ANY comes back as u32::MAX and maps to -1, as DPDK means it.
    s as i32
}

/// CPU that `lcore` is pinned to, or `None` if it is not a valid lcore id.
pub fn lcore_cpu(lcore: u32) -> Option<u32> {
    // SAFETY: rte_lcore_to_cpu_id checks its argument and returns -1 when out of range.
    let c = unsafe { dpdk_sys::rte_lcore_to_cpu_id(lcore as c_int) };
    u32::try_from(c).ok()
}

/// The calling thread's lcore id; `u32::MAX` (LCORE_ID_ANY) on a thread EAL did not create.
#[inline]
pub fn current_lcore() -> u32 {
    // SAFETY: reads the calling thread's TLS lcore id.
    unsafe { dpdk_sys::vr_lcore_id() }
}

/// The calling thread's NUMA socket; -1 (SOCKET_ID_ANY) when unknown.
pub fn socket_id() -> i32 {
    // SAFETY: reads the calling thread's TLS socket id.
    let s = unsafe { dpdk_sys::rte_socket_id() };
    s as i32
}

/// Runs `f` on worker lcore `lcore`; its return value is collected by [`wait_lcore`].
///
/// Fails with EINVAL if `lcore` is not an enabled worker lcore (the main lcore runs its own
/// code), with EBUSY if it is still running a previous function. A panic in `f` is caught on
/// the lcore and reported as [`LAUNCH_PANICKED`] (unwinding into C would abort).
pub fn launch<F>(lcore: u32, f: F) -> Result<()>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    ensure_up("rte_eal_remote_launch")?;
    if !worker_lcores().contains(&lcore) {
        return Err(
            DpdkError::new("rte_eal_remote_launch", dpdk_sys::EINVAL as i32)
                .context(format!("lcore {lcore} is not an enabled worker lcore")),
        );
    }
    let job: Box<Job> = Box::new(Box::new(f));
    let arg = Box::into_raw(job).cast::<c_void>();
    // SAFETY: trampoline matches lcore_function_t; arg is a leaked Box<Job> that the
    // trampoline takes back exactly once. lcore is an enabled worker (checked above).
    let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
    if ret != 0 {
        // SAFETY: the launch failed, so the lcore never saw arg: reclaim it here, once.
        drop(unsafe { Box::from_raw(arg.cast::<Job>()) });
        return Err(
            DpdkError::from_ret("rte_eal_remote_launch", ret).context(format!("lcore {lcore}"))
        );
    }
    Ok(())
}

/// Entry point EAL calls on the worker lcore.
unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Box<Job> leaked by `launch`, passed to exactly one remote launch.
    let job = unsafe { Box::from_raw(arg.cast::<Job>()) };
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(ret) => ret,
        Err(_) => LAUNCH_PANICKED,
    }
}

/// Waits until worker `lcore` has finished the function [`launch`]ed on it and returns that
/// function's value (0 if nothing was running, -1 if `lcore` is not a worker lcore).
pub fn wait_lcore(lcore: u32) -> i32 {
    if !worker_lcores().contains(&lcore) {
        return -1;
    }
    // SAFETY: lcore is an enabled worker lcore (checked above), so the state it reads exists.
    unsafe { dpdk_sys::rte_eal_wait_lcore(lcore) }
}

/// The time-stamp counter: cheap enough to read every loop iteration (no fence, like
/// `rte_rdtsc`). Ticks at [`tsc_hz`].
#[inline(always)]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC exists on every x86_64 CPU and has no memory effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: reads the CPU's cycle counter; no memory effects.
        unsafe { dpdk_sys::vr_rdtsc() }
    }
}

/// TSC ticks per second as EAL measured it; 0 before EAL is initialised.
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value EAL set at init (0 before).
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}
