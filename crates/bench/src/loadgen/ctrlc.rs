//! Ctrl+C latency: start a server, wait for its `listening on` line,
//! optionally put it under load, send SIGINT, and time until it logs
//! `server closed` (and check that it then exits 0).
//!
//! An idle server is woken by its Ctrl+C handler at once; a busy one sees
//! the flag between two requests; a connection that sits quiet is checked
//! every `POLL_INTERVAL` (100 ms). The tries wait a different time before
//! the signal, spread evenly over `pause_max`, so that any such interval is
//! sampled all over.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::send_signal;

/// How long a server may take to print `listening on`, and to exit after
/// SIGINT before it is killed and counted as a failure.
const PATIENCE: Duration = Duration::from_secs(5);

/// How often to check whether the server has exited.
const POLL: Duration = Duration::from_micros(200);

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
    let mut child = Command::new(&plan.bin)
        .args(&plan.args)
        .env("RUST_LOG", &plan.log_level)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", plan.bin.display()))?;
    let pid = child.id();

    // Drain both pipes in the background, so the server never blocks on a
    // full pipe. stdout: the first line is passed on. stderr: every line,
    // with the moment it was read, and the whole text at the end.
    let (line_tx, line_rx) = mpsc::channel();
    let stdout = child.stdout.take();
    let out_reader = thread::spawn(move || {
        let Some(out) = stdout else { return };
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let _ = line_tx.send(line);
        }
    });
    let (log_tx, log_rx) = mpsc::channel::<(Instant, String)>();
    let stderr = child.stderr.take();
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        let Some(err) = stderr else { return text };
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            let _ = log_tx.send((Instant::now(), line.clone()));
            text.push_str(&line);
            text.push('\n');
        }
        text
    });

    let mut load = None;
    let outcome = (|| {
        let addr = match line_rx.recv_timeout(PATIENCE) {
            Ok(line) => line
                .strip_prefix("listening on ")
                .map(str::to_string)
                .ok_or_else(|| format!("unexpected first line {line:?}"))?,
            Err(_) => return Err("no `listening on` line".to_string()),
        };
        if let Some(command) = &plan.load {
            load = Some(start_load(command, &addr)?);
            wait_for_line(&log_rx, &plan.load_seen).ok_or_else(|| {
                format!("the load never showed in the log ({:?})", plan.load_seen)
            })?;
        }
        thread::sleep(pause);
        let sent = Instant::now();
        send_signal(pid, crate::SIGINT).map_err(|e| format!("kill: {e}"))?;
        let closed = if plan.expect_log.is_empty() {
            None
        } else {
            wait_for_line(&log_rx, &plan.expect_log)
        };
        // waitpid(WNOHANG) every POLL.
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let until = closed.unwrap_or_else(Instant::now);
                    return Ok((until.saturating_duration_since(sent), status.success()));
                }
                Ok(None) if sent.elapsed() > PATIENCE => {
                    return Err(format!("still running {PATIENCE:?} after SIGINT"))
                }
                Ok(None) => thread::sleep(POLL),
                Err(e) => return Err(format!("waitpid: {e}")),
            }
        }
    })();
    if outcome.is_err() {
        // Leave no process behind. `Child::kill` does nothing to a child
        // that was already reaped, so it cannot hit a recycled pid.
        let _ = child.kill();
    }
    let _ = child.wait();
    if let Some(mut load) = load {
        let _ = load.kill();
        let _ = load.wait();
    }
    let _ = out_reader.join();
    let log = err_reader.join().unwrap_or_default();
    let (elapsed, exited_ok) = outcome?;
    let logged = plan.expect_log.is_empty() || log.contains(&plan.expect_log);
    if !exited_ok || !logged {
        log::warn!(
            "{}: exit ok {exited_ok}, logged {:?} {logged}; last log lines:\n{}",
            plan.bin.display(),
            plan.expect_log,
            last_lines(&log, 5)
        );
    }
    Ok((elapsed, exited_ok && logged))
}

/// Start the load command, `{addr}` replaced by the server's address
/// (`{host}` and `{port}` by its parts). Its
/// output is not wanted; it stops by itself (its own count and time
/// limits) or is killed after the try.
fn start_load(command: &str, addr: &str) -> Result<Child, String> {
    // A server on 0.0.0.0 or :: is reached at loopback.
    let to = match addr.parse() {
        Ok(bound) => common::net::destination(bound),
        Err(_) => return Err(format!("`listening on {addr}`: not an address")),
    };
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

/// The moment the server logged a line containing `text`, or `None` after
/// [`PATIENCE`].
fn wait_for_line(log: &mpsc::Receiver<(Instant, String)>, text: &str) -> Option<Instant> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(left) {
            Ok((at, line)) if line.contains(text) => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(n)..)
        .unwrap_or_default()
        .join("\n")
}
