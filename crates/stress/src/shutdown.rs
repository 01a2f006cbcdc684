//! Shutdown under load: start a server, put clients on it, press Ctrl+C
//! (SIGINT) while they are busy, and check what a graceful stop promises:
//! exit code 0 within 250 ms, `server closed` as the last log line, every log
//! line whole, no panic, and nothing the clients were told missing from the
//! log.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::process::{self, check_log, Bins, Proc};
use crate::report::{median_max, ms, Outcome};
use common::rng::SplitMix64;

/// Exit within this long of SIGINT.
pub const BUDGET: Duration = Duration::from_millis(250);

/// Starts the clients: server address, stop flag, a counter of completed
/// exchanges to bump. Every client must end when the flag is set.
pub type StartLoad<'a> =
    &'a dyn Fn(SocketAddr, &Arc<AtomicBool>, &Arc<AtomicUsize>) -> Vec<JoinHandle<()>>;

/// Checks the complete log of one round against the number of exchanges the
/// clients completed.
pub type VerifyLog<'a> = &'a dyn Fn(&str, usize) -> Result<(), String>;

/// One round: start, load, SIGINT, check.
fn round(
    bins: &Bins,
    name: &str,
    args: &[&str],
    rng: &mut SplitMix64,
    start_load: StartLoad,
    verify: VerifyLog,
) -> Result<(Duration, u64, usize), String> {
    let mut server = process::start(bins, name, args)?;
    let addr = server.try_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let clients = start_load(addr, &stop, &done);
    let finish_clients = |clients: Vec<JoinHandle<()>>| {
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            let _ = c.join();
        }
    };
    // The load is on once the first exchange has completed.
    let deadline = Instant::now() + Duration::from_secs(3);
    while done.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    if done.load(Ordering::SeqCst) == 0 {
        finish_clients(clients);
        return Err(format!(
            "the clients got no answer within 3 s; log ends: {}",
            server.stderr_tail(3)
        ));
    }
    // A random moment in the middle of the traffic.
    thread::sleep(Duration::from_millis(rng.range(5, 60) as u64));
    let threads = server.threads().unwrap_or(0);
    let stopped = server.try_interrupt(Duration::from_secs(3));
    finish_clients(clients);
    let (elapsed, status) = stopped?;
    let exchanges = done.load(Ordering::SeqCst);
    let log = server.stderr();
    if status.code() != Some(0) {
        return Err(format!(
            "exit status {status} after SIGINT; log ends: {}",
            server.stderr_tail(3)
        ));
    }
    if elapsed > BUDGET {
        return Err(format!(
            "took {} to exit (budget {})",
            ms(elapsed),
            ms(BUDGET)
        ));
    }
    check_log(&log)?;
    let last = log.lines().last().unwrap_or("");
    if !last.contains("server closed") {
        return Err(format!(
            "the last log line is {last:?}, not `server closed`"
        ));
    }
    verify(&log, exchanges)?;
    Ok((elapsed, threads, exchanges))
}

/// `rounds` rounds against one server; the figures or the first failure.
pub fn under_load(
    bins: &Bins,
    name: &str,
    args: &[&str],
    rounds: usize,
    seed: u64,
    start_load: StartLoad,
    verify: VerifyLog,
) -> Outcome {
    let mut rng = SplitMix64::new(seed);
    let mut times = Vec::new();
    let mut max_threads = 0;
    let mut exchanges = 0;
    let mut failures = Vec::new();
    for i in 1..=rounds {
        match round(bins, name, args, &mut rng, start_load, verify) {
            Ok((elapsed, threads, done)) => {
                times.push(elapsed);
                max_threads = max_threads.max(threads);
                exchanges += done;
            }
            Err(e) => failures.push(format!("round {i}: {e}")),
        }
    }
    let (median, max) = median_max(&times);
    let figures = format!(
        "{}/{rounds} rounds exit 0 with `server closed` and a whole log; SIGINT to exit median {}, \
         max {}; {exchanges} exchanges completed under load; up to {max_threads} threads at SIGINT",
        times.len(),
        ms(median),
        ms(max),
    );
    if failures.is_empty() {
        Ok(figures)
    } else {
        Err(format!(
            "{} of {rounds} rounds failed; first: {}; {figures}",
            failures.len(),
            failures.first().map(String::as_str).unwrap_or("")
        ))
    }
}

/// Count the log lines that contain `needle`.
pub fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}
