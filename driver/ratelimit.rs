// SPDX-License-Identifier: GPL-2.0

//! A rate limit for log messages, usable in any context.
//!
//! The 7.3 Rust bindings have `pr_err_once!` but no `pr_err_ratelimited!`,
//! and the C `struct ratelimit_state` needs a lock initialised at run time.
//! This is the small part of `___ratelimit()` the driver needs: at most one
//! message per call site per interval, without a lock (a lost race skips a
//! message, never prints two).

use kernel::{
    bindings,
    sync::atomic::{
        ordering::Relaxed,
        Atomic, //
    },
};

/// Nanoseconds between two messages of one call site: 5 s, as `DEFAULT_RATELIMIT_INTERVAL`.
const INTERVAL_NS: u64 = 5_000_000_000;

/// One call site's limit; a `static` beside the message.
pub(crate) struct RateLimit {
    /// `ktime_get_mono_fast_ns()` from which the next message may print.
    next_ns: Atomic<u64>,
}

impl RateLimit {
    pub(crate) const fn new() -> Self {
        Self {
            next_ns: Atomic::new(0),
        }
    }

    /// Whether a message may print now; if so, the next one waits an interval.
    pub(crate) fn allow(&self) -> bool {
        // SAFETY: `ktime_get_mono_fast_ns` has no preconditions and is safe in any context,
        // NMI included.
        let now = unsafe { bindings::ktime_get_mono_fast_ns() };
        let next = self.next_ns.load(Relaxed);
        now >= next && self.next_ns.cmpxchg(next, now + INTERVAL_NS, Relaxed).is_ok()
    }
}

/// `pr_err!` at most once per interval at this call site.
macro_rules! pr_err_ratelimited {
    ($($arg:tt)*) => {{
        static LIMIT: $crate::ratelimit::RateLimit = $crate::ratelimit::RateLimit::new();
        if LIMIT.allow() {
            ::kernel::pr_err!($($arg)*);
        }
    }};
}
pub(crate) use pr_err_ratelimited;
