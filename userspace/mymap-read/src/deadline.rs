// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The `--timeout` bound on waits.

use std::time::{Duration, Instant};

/// When waiting has to stop, if ever.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Option<Instant>,
    timeout: Option<Duration>,
}

impl Deadline {
    /// A deadline `timeout` from now, or none.
    pub fn after(timeout: Option<Duration>) -> Self {
        Deadline {
            end: timeout.map(|timeout| Instant::now() + timeout),
            timeout,
        }
    }

    /// The time left: `None` for no deadline, zero once it has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.end
            .map(|end| end.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// The timeout this deadline was made with.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// `wanted`, shortened so as not to sleep past the deadline.
    pub fn cap(&self, wanted: Duration) -> Duration {
        self.remaining().map_or(wanted, |left| wanted.min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_timeout_never_expires() {
        let deadline = Deadline::after(None);
        assert_eq!(deadline.remaining(), None);
        assert!(!deadline.expired());
        assert_eq!(deadline.cap(Duration::from_secs(5)), Duration::from_secs(5));
    }

    #[test]
    fn a_zero_timeout_has_expired() {
        let deadline = Deadline::after(Some(Duration::ZERO));
        assert!(deadline.expired());
        assert_eq!(deadline.cap(Duration::from_secs(5)), Duration::ZERO);
    }

    #[test]
    fn a_long_timeout_caps_nothing_short() {
        let deadline = Deadline::after(Some(Duration::from_secs(3600)));
        assert!(!deadline.expired());
        assert_eq!(
            deadline.cap(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
        assert!(deadline.cap(Duration::from_secs(7200)) <= Duration::from_secs(3600));
    }
}
