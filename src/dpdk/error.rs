//! The error type of the DPDK layer.

use std::ffi::CStr;
use std::fmt;

/// Result of a DPDK call.
pub type Result<T, E = DpdkError> = std::result::Result<T, E>;

/// A failed DPDK call: which call, DPDK's errno and its text (`rte_strerror`), and optional
/// context (which device, which queue) so that an operator can act on the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    call: &'static str,
    errno: i32,
    message: String,
    context: Option<String>,
}

impl DpdkError {
    /// An error with an explicit errno (positive, as in `errno.h`).
    pub fn new(call: &'static str, errno: i32) -> Self {
        DpdkError {
            call,
            errno,
            message: strerror(errno),
            context: None,
        }
    }

    /// An error from a call that reports failure through `rte_errno` (e.g. a NULL return).
    /// Must be called on the thread that made the failing call, before any other DPDK call.
    pub(crate) fn from_rte_errno(call: &'static str) -> Self {
        // SAFETY: vr_errno only reads the calling thread's rte_errno TLS variable.
        let errno = unsafe { dpdk_sys::vr_errno() };
        Self::new(call, errno)
    }

    /// An error from a call that returns a negative errno.
    pub(crate) fn from_ret(call: &'static str, ret: i32) -> Self {
        Self::new(call, ret.saturating_neg())
    }

    /// Adds context (a device name, a queue number) to the message.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The DPDK function that failed.
    pub fn call(&self) -> &'static str {
        self.call
    }

    /// The errno it reported (positive).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// `rte_strerror`'s text for the errno.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.call)?;
        if let Some(ctx) = &self.context {
            write!(f, " ({ctx})")?;
        }
        write!(f, ": {} (errno {})", self.message, self.errno)
    }
}

impl std::error::Error for DpdkError {}

/// DPDK's text for an errno; covers DPDK's own codes (E_RTE_*) as well as the system's.
fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any value and returns a NUL-terminated string (static or
    // in a per-thread buffer) that stays valid until the next call on this thread; it is
    // copied out at once. It needs no EAL initialisation.
    unsafe {
        let p = dpdk_sys::rte_strerror(errno);
        if p.is_null() {
            return format!("errno {errno}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_call_context_and_text() {
        let e = DpdkError::new("rte_eth_dev_configure", dpdk_sys::EINVAL as i32).context("port 3");
        let s = e.to_string();
        assert!(
            s.starts_with("rte_eth_dev_configure failed (port 3): "),
            "{s}"
        );
        assert!(s.contains("Invalid argument"), "{s}");
        assert!(s.ends_with("(errno 22)"), "{s}");
        assert_eq!(DpdkError::from_ret("x", -19).errno(), 19);
    }
}
