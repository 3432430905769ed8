// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What a test is and how it fails: the verdict type and `check!`.

/// A test's verdict: `Err` holds the reason.
pub type TestResult = Result<(), String>;

/// Fails the test with a formatted reason unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}
pub(crate) use check;

/// A test of the registry.
pub struct Test {
    pub name: &'static str,
    pub run: fn() -> TestResult,
    /// Seconds before the test counts as hung.
    pub timeout: u64,
    /// Runs only where this holds (e.g. the kernel has kmemleak); else reported as skipped.
    pub when: Option<fn() -> bool>,
}
