//! Ctrl+C latency: start a server, wait for its `listening on` line,
//! optionally put it under load, send SIGINT, and time until it logs
//! `server closed` (and check that it then exits 0).
//!
//! An idle server is woken by its Ctrl+C handler at once; a busy one sees
//! the flag between two requests; a connection that sits quiet is checked
//! every `POLL_INTERVAL` (100 ms). The tries wait a different time before
//! the signal, spread evenly over `pause_max`, so that any such interval is
//! sampled all over.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::testing::{Launch, SIGINT};

/// How long a server may take to print `listening on`, and to exit after
/// SIGINT before it is killed and counted as a failure.
const PATIENCE: Duration = Duration::from_secs(5);

/// What to start and how often.
#[derive(Debug, Clone)]
pub struct CtrlcRun {
    pub bin: PathBuf,
    pub args: Vec<String>,
    pub tries: usize,
    /// The pauses before the signal are spread over 0..pause_max.
    pub pause_max: Duration,
    /// The server's `RUST_LOG`.
    pub log_level: String,
    /// The line the server logs on the way out; the time is measured to it
    /// (empty: to the exit instead).
    pub expect_log: String,
    /// A load to run against the server during the try: a command, split
    /// at spaces, in which `{addr}` is replaced by the server's address
    /// (`{host}` and `{port}` by its parts).
    pub load: Option<String>,
    /// Under load: the signal waits until the server's log shows this, the
    /// proof that the load reached it.
    pub load_seen: String,
}

/// Median, maximum and failures over all tries.
#[derive(Debug)]
pub struct CtrlcReport {
    pub tries: usize,
    /// Tries that did not exit 0, did not log `expect_log`, or took longer
    /// than [`PATIENCE`].
    pub failures: usize,
    /// Milliseconds from SIGINT to `expect_log` (or to the exit), sorted.
    pub times_ms: Vec<f64>,
}

impl std::fmt::Display for CtrlcReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.times_ms.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => self.times_ms.get(n / 2).copied().unwrap_or(0.0),
            _ => {
                let a = self.times_ms.get(n / 2 - 1).copied().unwrap_or(0.0);
                let b = self.times_ms.get(n / 2).copied().unwrap_or(0.0);
                (a + b) / 2.0
            }
        };
        let min = self.times_ms.first().copied().unwrap_or(0.0);
        let max = self.times_ms.last().copied().unwrap_or(0.0);
        write!(
            f,
            "ctrlc tries={} failures={} min_ms={min:.1} median_ms={median:.1} max_ms={max:.1}",
            self.tries, self.failures
        )
    }
}

/// Run every try, one after the other.
pub fn run(plan: &CtrlcRun) -> CtrlcReport {
    let mut times_ms = Vec::with_capacity(plan.tries);
    let mut failures = 0;
    for i in 0..plan.tries {
        // 0, 7, 14, ... (mod tries): every slot of the interval once, in a
        // scrambled order.
        let slot = (i * 7) % plan.tries.max(1);
        let pause = plan
            .pause_max
            .mul_f64(slot as f64 / plan.tries.max(1) as f64);
        match one_try(plan, pause) {
            Ok((elapsed, true)) => times_ms.push(elapsed.as_secs_f64() * 1000.0),
            Ok((elapsed, false)) => {
                times_ms.push(elapsed.as_secs_f64() * 1000.0);
                failures += 1;
            }
            Err(e) => {
                log::warn!("try {i}: {e}");
                failures += 1;
            }
        }
    }
    times_ms.sort_by(|a, b| a.total_cmp(b));
    CtrlcReport {
        tries: plan.tries,
        failures,
        times_ms,
    }
}

/// One start, (load,) pause, SIGINT, `server closed`, exit. `Ok((time,
/// clean))`: `clean` is exit code 0 and the expected log line.
fn one_try(plan: &CtrlcRun, pause: Duration) -> Result<(Duration, bool), String> {
    // The shared harness starts the server, waits for `listening on`,
    // collects its log and kills it when dropped, whatever happens.
    let mut server = Launch::new(&plan.bin)
        .args(&plan.args)
        .env("RUST_LOG", &plan.log_level)
        .patience(PATIENCE)
        .try_start()?;
    // A server on 0.0.0.0 or :: is reached at loopback.
    let to = common::sockets::destination(server.try_addr()?);
    let mut load = None;
    let outcome = (|| {
        if let Some(command) = &plan.load {
            load = Some(start_load(command, to)?);
            if !server.wait_stderr(&plan.load_seen, PATIENCE) {
                return Err(format!(
                    "the load never showed in the log ({:?})",
                    plan.load_seen
                ));
            }
        }
        thread::sleep(pause);
        let mark = server.stderr_len();
        let sent = Instant::now();
        server.try_signal(SIGINT)?;
        // The moment the log shows the line (the reader wakes this wait
        // as soon as the bytes arrive).
        let closed = (!plan.expect_log.is_empty()
            && server.wait_stderr_from(mark, &plan.expect_log, PATIENCE))
        .then(Instant::now);
        let left = PATIENCE.saturating_sub(sent.elapsed());
        let status = server
            .try_wait_exit(left)
            .ok_or_else(|| format!("still running {PATIENCE:?} after SIGINT"))?;
        let until = closed.unwrap_or_else(Instant::now);
        Ok((until.saturating_duration_since(sent), status.success()))
    })();
    if outcome.is_err() {
        // Leave no process behind (it is our child, not yet reaped).
        server.kill_now();
    }
    if let Some(mut load) = load {
        let _ = load.kill();
        let _ = load.wait();
    }
    let (elapsed, exited_ok) = outcome?;
    let log = server.stderr();
    let logged = plan.expect_log.is_empty() || log.contains(&plan.expect_log);
    if !exited_ok || !logged {
        log::warn!(
            "{}: exit ok {exited_ok}, logged {:?} {logged}; last log lines: {}",
            plan.bin.display(),
            plan.expect_log,
            server.stderr_tail(5)
        );
    }
    Ok((elapsed, exited_ok && logged))
}

/// Start the load command, `{addr}` replaced by the server's address
/// (`{host}` and `{port}` by its parts). Its
/// output is not wanted; it stops by itself (its own count and time
/// limits) or is killed after the try.
fn start_load(command: &str, to: SocketAddr) -> Result<Child, String> {
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| {
            w.replace("{addr}", &to.to_string())
                .replace("{host}", &to.ip().to_string())
                .replace("{port}", &to.port().to_string())
        })
        .collect();
    let (program, args) = words.split_first().ok_or("an empty --load")?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the load {program}: {e}"))
}
