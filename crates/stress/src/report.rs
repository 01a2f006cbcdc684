//! One line per check (`PASS|FAIL <server> <check>: <figures>`) and the
//! final tally.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// What a check returns: the figures on success, what went wrong otherwise.
pub type Outcome = Result<String, String>;

// Global, so that the watchdog can print the tally too.
static PASSED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);
static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The tally of the run.
#[derive(Debug, Default)]
pub struct Report;

impl Report {
    /// Print the line of one check and count it.
    pub fn record(&mut self, server: &str, check: &str, outcome: Outcome) {
        match outcome {
            Ok(figures) => {
                PASSED.fetch_add(1, Ordering::SeqCst);
                println!("PASS {server} {check}: {figures}");
            }
            Err(problem) => {
                FAILED.fetch_add(1, Ordering::SeqCst);
                // One line per check, whatever the error text holds.
                let problem = problem.replace('\n', " | ");
                println!("FAIL {server} {check}: {problem}");
                FAILURES
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(format!("{server} {check}"));
            }
        }
    }

    pub fn failed(&self) -> usize {
        FAILED.load(Ordering::SeqCst)
    }

    /// The last lines of the run: the failures again (so they are easy to
    /// find in a CI log), then `N passed, N failed` alone on a line.
    pub fn summary(&self, elapsed: Duration) {
        let failures = FAILURES.lock().unwrap_or_else(PoisonError::into_inner);
        if !failures.is_empty() {
            println!("failed checks: {}", failures.join(", "));
        }
        println!("suite ran in {:.1} s", elapsed.as_secs_f64());
        println!(
            "{} passed, {} failed",
            PASSED.load(Ordering::SeqCst),
            FAILED.load(Ordering::SeqCst)
        );
    }
}

/// Milliseconds with one decimal, for the figures.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Kibibytes as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Median and maximum of some durations.
pub fn median_max(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let max = sorted.last().copied().unwrap_or_default();
    (median, max)
}

/// Fail with `message` unless `condition` holds.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}
