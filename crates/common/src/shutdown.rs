//! Graceful shutdown on Ctrl+C (SIGINT) and SIGTERM.
//!
//! [`Shutdown::install`] registers a handler (through the `ctrlc` crate, with
//! its `termination` feature so SIGTERM and SIGHUP count too). The first
//! signal only sets a flag: the server's loops see it within
//! [`POLL_INTERVAL`](crate::net::POLL_INTERVAL), finish or close what they
//! have in hand, log `server closed` and return, and the program exits 0.
//! A second signal means "now": the process exits at once with code 130.
//!
//! Why a flag and not an exit straight from the handler? Because exiting in
//! the middle of a reply loses it, and a lesson about servers should show the
//! polite way to stop one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use log::warn;

/// Exit code for the second Ctrl+C: 128 + SIGINT, as shells report it.
pub const FORCED_EXIT: i32 = 130;

/// A cheap, clonable handle on the "please stop" flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    // Lets `sleep` wake at once when the flag is set.
    lock: Mutex<()>,
    wake: Condvar,
}

impl Shutdown {
    /// Install the signal handler and return the flag it sets. Call once per
    /// process.
    pub fn install() -> Result<Shutdown, ctrlc::Error> {
        let shutdown = Shutdown::default();
        let flag = shutdown.clone();
        let signals = AtomicUsize::new(0);
        ctrlc::set_handler(move || {
            if signals.fetch_add(1, Ordering::SeqCst) == 0 {
                // Log first, then set the flag: once the flag is set the
                // server may log `server closed` and exit at any moment, and
                // this line must come before that one, not after or never.
                warn!("shutting down (press Ctrl+C again to stop at once)");
                flag.request();
            } else {
                eprintln!("second interrupt: exiting now");
                std::process::exit(FORCED_EXIT);
            }
        })?;
        Ok(shutdown)
    }

    /// Ask everything that holds this handle to stop.
    pub fn request(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        let _guard = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner.wake.notify_all();
    }

    /// Has a stop been asked for?
    pub fn requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Sleep for `duration`, or less if a stop is asked for meanwhile. The
    /// lessons use it for `--delay-ms`, their stand-in for slow work, so that
    /// a long delay never holds up Ctrl+C.
    pub fn sleep(&self, duration: Duration) {
        // The common case (no --delay-ms) must cost nothing per request: no
        // lock, which every handler thread would otherwise queue on.
        if duration.is_zero() {
            return;
        }
        let deadline = Instant::now() + duration;
        let mut guard = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !self.requested() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            guard = match self.inner.wake.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_is_cut_short_by_a_request() {
        let shutdown = Shutdown::default();
        let other = shutdown.clone();
        let start = Instant::now();
        let t = std::thread::spawn(move || other.sleep(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        shutdown.request();
        t.join().unwrap();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(shutdown.requested());
    }

    #[test]
    fn sleep_without_request_takes_its_time() {
        let start = Instant::now();
        Shutdown::default().sleep(Duration::from_millis(30));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
