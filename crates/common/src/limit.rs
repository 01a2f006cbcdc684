//! A counting limit on handler threads.
//!
//! A thread per request is the easiest way to serve many clients at once, but
//! every thread costs memory (its stack) and scheduler time. If a server
//! spawns one for every datagram or connection that arrives, anyone who can
//! send it packets can make it spawn threads until the machine gives out.
//! The Rust book's web server chapter makes the same point before it builds
//! a thread pool. [`ThreadLimit`] is the smallest fix: take a [`Permit`]
//! before spawning, give it back when the thread ends.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// At most `max` permits are out at once.
#[derive(Debug)]
pub struct ThreadLimit {
    max: usize,
    in_use: Mutex<usize>,
    freed: Condvar,
}

/// Proof that a slot is taken; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is freed as soon as the permit is dropped"]
pub struct Permit<'a> {
    limit: &'a ThreadLimit,
}

impl ThreadLimit {
    /// A limit of `max` (at least 1).
    pub fn new(max: usize) -> ThreadLimit {
        ThreadLimit {
            max: max.max(1),
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn count(&self) -> MutexGuard<'_, usize> {
        self.in_use.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a slot, waiting while all `max` are in use. The caller (the
    /// receive or accept loop) stops reading new work while it waits, so the
    /// backlog stays in the kernel's queues instead of in new threads.
    pub fn acquire(&self) -> Permit<'_> {
        let mut in_use = self.count();
        while *in_use >= self.max {
            in_use = self
                .freed
                .wait(in_use)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *in_use += 1;
        Permit { limit: self }
    }

    /// Take a slot if one is free, without waiting. A TCP server uses this to
    /// answer "busy" at once instead of leaving the client hanging.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut in_use = self.count();
        if *in_use >= self.max {
            return None;
        }
        *in_use += 1;
        Some(Permit { limit: self })
    }

    /// How many permits are out now.
    pub fn in_use(&self) -> usize {
        *self.count()
    }

    /// The most permits that can be out at once.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.limit.count() -= 1;
        self.limit.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn never_more_than_max() {
        let limit = ThreadLimit::new(2);
        let a = limit.acquire();
        let _b = limit.acquire();
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.in_use(), 2);
        drop(a);
        assert!(limit.try_acquire().is_some());
    }

    #[test]
    fn acquire_waits_for_a_free_slot() {
        let limit = ThreadLimit::new(1);
        std::thread::scope(|s| {
            let held = limit.acquire();
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                drop(held);
            });
            let _again = limit.acquire();
            assert_eq!(limit.in_use(), 1);
        });
    }
}
