//! EAL initialisation and cleanup.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{DpdkError, Result};

/// Set once `rte_eal_init` has been attempted: DPDK allows one initialisation per process.
static INIT_CALLED: AtomicBool = AtomicBool::new(false);
/// True between a successful `rte_eal_init` and `rte_eal_cleanup`.
static EAL_UP: AtomicBool = AtomicBool::new(false);

/// Program name put in front of the EAL arguments (EAL's getopt skips `argv[0]`).
const PROGRAM_NAME: &str = "vrouter";

/// The initialised DPDK environment. One per process; dropping it calls `rte_eal_cleanup`.
///
/// Drop it last: after every launched lcore has been waited for and every [`Mbuf`],
/// [`Mempool`], [`Port`] and queue handle is gone, since cleanup releases their memory.
///
/// [`Mbuf`]: super::Mbuf
/// [`Mempool`]: super::Mempool
/// [`Port`]: super::Port
#[derive(Debug)]
pub struct Eal {
    /// Only `init` makes one.
    _private: (),
}

impl Eal {
    /// Initialises DPDK's EAL with `args` (EAL options only, e.g. `["-l", "0-1",
    /// "--no-huge", "-m", "256"]`; a program name is prepended here).
    ///
    /// Fails if EAL was already initialised in this process, if an argument contains a NUL,
    /// or if `rte_eal_init` fails (bad option, no memory, no permission...).
    pub fn init(args: &[String]) -> Result<Eal> {
        if INIT_CALLED.swap(true, Ordering::AcqRel) {
            return Err(DpdkError::new("rte_eal_init", dpdk_sys::EALREADY as i32)
                .context("EAL can be initialised only once per process"));
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        for a in std::iter::once(PROGRAM_NAME).chain(args.iter().map(String::as_str)) {
            let c = CString::new(a).map_err(|_| {
                DpdkError::new("rte_eal_init", dpdk_sys::EINVAL as i32)
                    .context(format!("argument {a:?} contains a NUL byte"))
            })?;
            owned.push(c);
        }
        // EAL's getopt permutes argv and EAL may keep pointers into it for the life of the
        // process, so the strings and the array are leaked on purpose (once per process).
        let argv: &'static mut [*mut c_char] = Vec::leak(
            owned
                .into_iter()
                .map(|c| c.into_raw())
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect(),
        );
        let argc = i32::try_from(argv.len() - 1).map_err(|_| {
            DpdkError::new("rte_eal_init", dpdk_sys::EINVAL as i32).context("too many arguments")
        })?;
        // SAFETY: argv holds argc valid NUL-terminated strings followed by NULL, all leaked so
        // they outlive EAL; INIT_CALLED guarantees this runs at most once per process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::from_rte_errno("rte_eal_init"));
        }
        EAL_UP.store(true, Ordering::Release);
        Ok(Eal { _private: () })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        EAL_UP.store(false, Ordering::Release);
        // SAFETY: EAL was initialised by `init` (an Eal exists only then) and this is the only
        // Eal, dropped once. The type's contract says DPDK objects are gone by now.
        let ret = unsafe { dpdk_sys::rte_eal_cleanup() };
        if ret < 0 {
            log::warn!("{}", DpdkError::from_ret("rte_eal_cleanup", ret));
        }
    }
}

/// `Ok` when EAL is up; otherwise an error naming `call`. Guards DPDK calls that would read
/// uninitialised EAL state.
pub(crate) fn ensure_up(call: &'static str) -> Result<()> {
    if EAL_UP.load(Ordering::Acquire) {
        Ok(())
    } else {
        Err(DpdkError::new(call, dpdk_sys::ENODEV as i32).context("EAL is not initialised"))
    }
}

/// Whether EAL is up (see [`ensure_up`]).
pub(crate) fn is_up() -> bool {
    EAL_UP.load(Ordering::Acquire)
}
