//! tcp-server and tcp-threaded-server: hostile connections, held
//! connections, slow clients, running out of file descriptors, and shutdown
//! under load.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{self, check_log, Bins, Proc};
use crate::report::{ensure, mib, ms, Outcome, Report};
use crate::shutdown::{self, count_lines};
use crate::tcp::{self, Framing};
use crate::tcp_held::{held, slow};
use crate::Plan;
use common::rng::SplitMix64;
use common::testing::Lesson;

pub(crate) const SEQUENTIAL: &str = "tcp-server";
pub(crate) const THREADED: &str = "tcp-threaded-server";

/// The threaded server's default `--max-connections`.
pub(crate) const DEFAULT_CAP: u64 = 256;
/// Threads a TCP server has besides its handlers: main and the Ctrl+C
/// handler's thread, plus a little slack.
pub(crate) const OTHER_THREADS: u64 = 3;
/// The busy line of the threaded server.
pub(crate) const BUSY: &str = "Error: server busy, try again later";

/// Wait (bounded) until the log holds as many `closed (` lines as
/// `connected` lines: every connection the server took has been finished.
pub(crate) fn wait_all_closed(server: &Lesson, timeout: Duration) -> (usize, usize) {
    let deadline = Instant::now() + timeout;
    loop {
        let log = server.stderr();
        let opened = count_lines(&log, ": connected");
        let closed = count_lines(&log, ": closed (");
        if opened == closed || Instant::now() >= deadline {
            return (opened, closed);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Wait (bounded) until the server has at most `fds` descriptors open.
pub(crate) fn wait_fds(server: &Lesson, fds: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let now = server.open_fds().unwrap_or(usize::MAX);
        if now <= fds || Instant::now() >= deadline {
            return now;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// 1,000 hostile connections (half in raw framing, half in line framing),
/// from four clients at once; then a normal request.
fn hostile(bins: &Bins, name: &str, plan: &Plan) -> Outcome {
    let mut figures = Vec::new();
    let mut totals = tcp::Seen::default();
    let mut made = 0;
    let mut latencies = Vec::new();
    let mut rss = Vec::new();
    for (round, framing) in [Framing::Raw, Framing::Line].into_iter().enumerate() {
        let mut server = process::start(
            bins,
            name,
            &[
                "--port",
                "0",
                "--reply",
                "echo",
                "--framing",
                framing.name(),
                "--idle-timeout-ms",
                "300",
            ],
        )?;
        let addr = server.try_addr()?;
        let fds_before = server.open_fds().unwrap_or(0);
        let per_client = plan.connections / 2 / 4;
        let failures = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = Arc::new(Mutex::new(tcp::Seen::default()));
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let failures = Arc::clone(&failures);
                let seen = Arc::clone(&seen);
                let seed = plan.seed ^ ((round * 4 + c) as u64) << 32;
                thread::spawn(move || {
                    let mut rng = SplitMix64::new(seed);
                    for i in 0..per_client {
                        // One half-message client in 50 waits for the hang-up.
                        let long_idle = (i % 250 == 4).then_some(Duration::from_secs(3));
                        match tcp::hostile(addr, i, &mut rng, framing, long_idle) {
                            Ok(s) => {
                                let mut t = seen.lock().unwrap_or_else(PoisonError::into_inner);
                                t.bytes_sent += s.bytes_sent;
                                t.bytes_back += s.bytes_back;
                                t.idle_hangups += s.idle_hangups;
                            }
                            Err(e) => failures
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(format!("{} #{i}: {e}", tcp::KINDS[i % tcp::KINDS.len()])),
                        }
                    }
                })
            })
            .collect();
        for c in clients {
            let _ = c.join();
        }
        made += per_client * 4;
        let failures = failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ensure(failures.is_empty(), || {
            format!(
                "{framing:?} framing: {} connections went wrong; first: {}",
                failures.len(),
                failures.first().map(String::as_str).unwrap_or("")
            )
        })?;
        let s = *seen.lock().unwrap_or_else(PoisonError::into_inner);
        totals.bytes_sent += s.bytes_sent;
        totals.bytes_back += s.bytes_back;
        totals.idle_hangups += s.idle_hangups;

        let latency = tcp::request_until(
            addr,
            framing,
            "probe",
            "Echo: probe",
            Duration::from_secs(3),
        )?;
        latencies.push(latency);
        let (opened, closed) = wait_all_closed(&server, Duration::from_secs(5));
        ensure(opened == closed, || {
            format!("{opened} connections logged but only {closed} closed")
        })?;
        let fds_after = wait_fds(&server, fds_before, Duration::from_secs(2));
        ensure(fds_after <= fds_before, || {
            format!("open descriptors {fds_before} before, {fds_after} after: a leak")
        })?;
        ensure(server.alive(), || "the server died".into())?;
        check_log(&server.stderr())?;
        rss.push(server.peak_rss_kib().unwrap_or(0));
        figures.push(format!(
            "{}: {opened} connections, fds {fds_before} -> {fds_after}",
            framing.name()
        ));
    }
    Ok(format!(
        "{made} connections ({} each of {}), 0 failed; {:.0} MiB junk sent, {:.1} MiB of replies \
         read; {} idle clients hung up on; {}; normal request after: {} (raw), {} (line); \
         peak RSS {}",
        made / tcp::KINDS.len(),
        tcp::KINDS.join(", "),
        totals.bytes_sent as f64 / 1_048_576.0,
        totals.bytes_back as f64 / 1_048_576.0,
        totals.idle_hangups,
        figures.join("; "),
        latencies.first().map(|d| ms(*d)).unwrap_or_default(),
        latencies.get(1).map(|d| ms(*d)).unwrap_or_default(),
        mib(rss.iter().copied().max().unwrap_or(0)),
    ))
}

/// Under `ulimit -n 64`, 200 connections: accept fails with EMFILE, the
/// server says so, keeps going, and serves again when connections close.
fn descriptors(bins: &Bins) -> Outcome {
    let server = process::start_with_nofile(
        bins,
        THREADED,
        &["--port", "0", "--reply", "echo", "--framing", "line"],
        64,
    )?;
    let addr = server.try_addr()?;
    let limit = server.proc_limit_nofile();
    let mut streams = Vec::new();
    let mut not_queued = 0;
    for _ in 0..200 {
        // Past the accept queue the kernel ignores the handshake; give up on
        // those quickly.
        match tcp::connect_within(addr, Duration::from_millis(200)) {
            Ok(s) => streams.push(s),
            Err(_) => not_queued += 1,
        }
    }
    if !server.wait_stderr("accept failed", Duration::from_secs(3)) {
        return Err(format!(
            "no `accept failed` in the log with {} connections open under ulimit -n 64; log ends: {}",
            streams.len(),
            server.stderr_tail(2)
        ));
    }
    // The server must pause between failed accepts, not spin: count them
    // over half a second.
    let before = count_lines(&server.stderr(), "accept failed");
    let window = Instant::now();
    thread::sleep(Duration::from_millis(500));
    let failed_in_window = count_lines(&server.stderr(), "accept failed") - before;
    let window = window.elapsed();
    let log = server.stderr();
    let emfile = log.contains("os error 24") || log.contains("Too many open files");
    let accepted = count_lines(&log, ": connected");
    let mut server = server;
    ensure(server.alive(), || "the server died on EMFILE".into())?;
    ensure(emfile, || "accept failed, but not with EMFILE".into())?;
    ensure(failed_in_window <= 20, || {
        format!(
            "{failed_in_window} failed accepts in {}: the accept loop spins",
            ms(window)
        )
    })?;
    let open = streams.len();
    drop(streams);
    let recovered = tcp::request_until(
        addr,
        Framing::Line,
        "recovered",
        "Echo: recovered",
        Duration::from_secs(10),
    )?;
    check_log(&server.stderr())?;
    Ok(format!(
        "nofile limit {limit}; {open} of 200 connections open ({not_queued} past the accept \
         queue), {accepted} accepted before EMFILE; `accept failed` logged {failed_in_window} \
         times in {} (paced, no spin); served again {} after the clients closed",
        ms(window),
        ms(recovered)
    ))
}

/// Each load client sends five numbered lines per connection, then
/// reconnects, so the sequential server serves them all in turn.
fn tcp_load(
    addr: SocketAddr,
    stop: &Arc<AtomicBool>,
    done: &Arc<AtomicUsize>,
) -> Vec<thread::JoinHandle<()>> {
    (0..4)
        .map(|c| {
            let stop = Arc::clone(stop);
            let done = Arc::clone(done);
            thread::spawn(move || {
                let end = Instant::now() + Duration::from_secs(5);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                    let Ok(mut stream) = tcp::connect_within(addr, Duration::from_millis(500))
                    else {
                        thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    for _ in 0..5 {
                        i += 1;
                        let line = format!("load {c} {i}\n");
                        if stream.write_all(line.as_bytes()).is_err() {
                            break;
                        }
                        match tcp::read_line(&mut stream, Duration::from_secs(1)) {
                            Ok(reply) if reply.starts_with("Echo: load") => {
                                done.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => break,
                        }
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                }
            })
        })
        .collect()
}

/// Every connection the log opened, it also closed (no handler cut off),
/// and the clients got no more replies than the log shows requests.
fn verify(log: &str, replies: usize) -> Result<(), String> {
    let opened = count_lines(log, ": connected");
    let closed = count_lines(log, ": closed (");
    ensure(opened == closed, || {
        format!("{opened} connections logged, {closed} closed: a handler was cut off")
    })?;
    let requests = count_lines(log, ": \"load ");
    ensure(replies <= requests, || {
        format!("clients got {replies} replies but the log shows {requests} requests")
    })
}

fn shutdown(bins: &Bins, name: &str, plan: &Plan) -> Outcome {
    shutdown::under_load(
        bins,
        name,
        &[
            "--port",
            "0",
            "--reply",
            "echo",
            "--framing",
            "line",
            "--delay-ms",
            "2",
        ],
        plan.rounds,
        plan.seed,
        &tcp_load,
        &verify,
    )
}

pub fn run(bins: &Bins, plan: &Plan, report: &mut Report) {
    for name in [SEQUENTIAL, THREADED] {
        if plan.wants("connections") {
            report.record(name, "hostile-connections", hostile(bins, name, plan));
        }
    }
    if plan.wants("held") {
        report.record(THREADED, "held-connections", held(bins, plan));
    }
    if plan.wants("slow") {
        for name in [SEQUENTIAL, THREADED] {
            report.record(name, "slow-client", slow(bins, name));
        }
    }
    if plan.wants("fds") {
        report.record(THREADED, "emfile", descriptors(bins));
    }
    if plan.wants("shutdown") {
        for name in [SEQUENTIAL, THREADED] {
            report.record(name, "shutdown-under-load", shutdown(bins, name, plan));
        }
    }
}
