//! tcp-server and tcp-threaded-server: hostile connections, held
//! connections, slow clients, running out of file descriptors, and shutdown
//! under load.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{check_log, Bins, Server};
use crate::report::{ensure, mib, ms, Outcome, Report};
use crate::rng::Rng;
use crate::shutdown::{self, count_lines};
use crate::tcp::{self, Framing, IO_WAIT};
use crate::Plan;

const SEQUENTIAL: &str = "tcp-server";
const THREADED: &str = "tcp-threaded-server";

/// The threaded server's default `--max-connections`.
const DEFAULT_CAP: u64 = 256;
/// Threads a TCP server has besides its handlers: main and the Ctrl+C
/// handler's thread, plus a little slack.
const OTHER_THREADS: u64 = 3;
/// The busy line of the threaded server.
const BUSY: &str = "Error: server busy, try again later";

/// Wait (bounded) until the log holds as many `closed (` lines as
/// `connected` lines: every connection the server took has been finished.
fn wait_all_closed(server: &Server, timeout: Duration) -> (usize, usize) {
    let deadline = Instant::now() + timeout;
    loop {
        let log = server.log();
        let opened = count_lines(&log, ": connected");
        let closed = count_lines(&log, ": closed (");
        if opened == closed || Instant::now() >= deadline {
            return (opened, closed);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Wait (bounded) until the server has at most `fds` descriptors open.
fn wait_fds(server: &Server, fds: usize, timeout: Duration) -> usize {
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
        let mut server = Server::start(
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
        let addr = server.addr()?;
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
                    let mut rng = Rng::new(seed);
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
        check_log(&server.log())?;
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

/// What a held connection turned out to be.
enum Held {
    Served,
    Busy,
    Closed,
}

fn classify(stream: &mut TcpStream) -> Held {
    if stream.set_nonblocking(true).is_err() {
        return Held::Closed;
    }
    let mut buf = [0u8; 256];
    let held = match stream.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => Held::Served,
        Ok(n) if String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).contains(BUSY) => {
            Held::Busy
        }
        _ => Held::Closed,
    };
    let _ = stream.set_nonblocking(false);
    held
}

/// 1,000 idle connections against tcp-threaded-server.
fn held(bins: &Bins, plan: &Plan) -> Outcome {
    let server = Server::start(
        bins,
        THREADED,
        &["--port", "0", "--reply", "echo", "--framing", "line"],
    )?;
    let addr = server.addr()?;
    let threads_before = server.threads().unwrap_or(0);
    let mut max_threads = threads_before;
    let start = Instant::now();
    // Eight openers at once: now and then the kernel drops a SYN on loopback
    // and the connect waits a second for the retransmission; in parallel
    // those waits overlap.
    let openers: Vec<_> = (0..8)
        .map(|o| {
            let count = plan.held / 8 + usize::from(o < plan.held % 8);
            thread::spawn(move || {
                let mut streams = Vec::with_capacity(count);
                let mut slow = 0;
                for _ in 0..count {
                    let began = Instant::now();
                    let stream =
                        tcp::connect_within(addr, Duration::from_secs(3)).map_err(|e| {
                            format!(
                                "{e} after {} connections (is `ulimit -n` high enough?)",
                                streams.len()
                            )
                        })?;
                    if began.elapsed() > Duration::from_millis(500) {
                        slow += 1;
                    }
                    streams.push(stream);
                }
                Ok::<_, String>((streams, slow))
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(plan.held);
    let mut retried = 0;
    while openers.iter().any(|o| !o.is_finished()) {
        max_threads = max_threads.max(server.threads().unwrap_or(0));
        thread::sleep(Duration::from_millis(5));
    }
    for opener in openers {
        let (mut some, slow) = opener
            .join()
            .map_err(|_| "an opener thread panicked".to_string())??;
        streams.append(&mut some);
        retried += slow;
    }
    let opened_in = start.elapsed();
    // Every connection has been accepted and either given a thread or told
    // busy once the log has a line for each.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log();
        let handled = count_lines(&log, ": connected") + count_lines(&log, "server busy");
        max_threads = max_threads.max(server.threads().unwrap_or(0));
        if handled >= plan.held || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let rss_held = server.rss_kib().unwrap_or(0);
    let (mut served, mut busy, mut closed) = (0, 0, 0);
    for stream in &mut streams {
        match classify(stream) {
            Held::Served => served += 1,
            Held::Busy => busy += 1,
            Held::Closed => closed += 1,
        }
    }
    ensure(max_threads <= DEFAULT_CAP + OTHER_THREADS, || {
        format!(
            "{max_threads} threads with {} connections held: over the cap of {DEFAULT_CAP} + \
             {OTHER_THREADS}",
            plan.held
        )
    })?;
    ensure(
        served as u64 <= DEFAULT_CAP && served + busy == plan.held,
        || format!("{served} served, {busy} told busy, {closed} closed without a word"),
    )?;

    // A fresh client: served, or refused with the busy line; nothing else.
    let fresh_start = Instant::now();
    let mut fresh = tcp::connect(addr)?;
    let fresh_reply = match tcp::read_line(&mut fresh, Duration::from_millis(200)) {
        Ok(line) => line, // the busy line, sent without waiting for us
        Err(_) => {
            fresh
                .write_all(b"fresh\n")
                .map_err(|e| format!("write: {e}"))?;
            tcp::read_line(&mut fresh, IO_WAIT)?
        }
    };
    let fresh_time = fresh_start.elapsed();
    ensure(fresh_reply == BUSY || fresh_reply == "Echo: fresh", || {
        format!("a fresh client got {fresh_reply:?}")
    })?;
    drop(fresh);

    // Let go of them all: new clients are served normally again.
    drop(streams);
    let recovered = tcp::request_until(
        addr,
        Framing::Line,
        "after",
        "Echo: after",
        Duration::from_secs(5),
    )?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut threads_after = server.threads().unwrap_or(0);
    while threads_after > threads_before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        threads_after = server.threads().unwrap_or(0);
    }
    ensure(threads_after <= threads_before, || {
        format!("{threads_after} threads left after the clients went (before: {threads_before})")
    })?;
    let mut server = server;
    ensure(server.alive(), || "the server died".into())?;
    check_log(&server.log())?;
    Ok(format!(
        "{} connections opened in {} ({retried} waited for a SYN retransmission): {served} served (cap {DEFAULT_CAP}), {busy} told busy; \
         threads {threads_before} -> max {max_threads} -> {threads_after}; fresh client got \
         {fresh_reply:?} in {}; served again {} after release; RSS with all held {}",
        plan.held,
        ms(opened_in),
        ms(fresh_time),
        ms(recovered),
        mib(rss_held),
    ))
}

/// How a slow client misbehaves.
#[derive(Debug, Clone, Copy)]
enum Slow {
    /// Connects and says nothing.
    Silent,
    /// Sends half a line and stops.
    HalfLine,
    /// Sends one byte every 50 ms, never a newline.
    Trickle,
}

/// The slow client's side: misbehave until the server hangs up (at most
/// `patience`); what the server said and how long the client was held.
fn misbehave(
    mut slow: TcpStream,
    kind: Slow,
    patience: Duration,
) -> Result<(String, Duration), String> {
    let start = Instant::now();
    let end = start + patience;
    match kind {
        Slow::Silent => {}
        Slow::HalfLine => {
            slow.write_all(b"ECHO only half of")
                .map_err(|e| format!("write: {e}"))?;
        }
        Slow::Trickle => {
            // A byte every 50 ms: never quiet long enough for a read to time
            // out, never a whole line.
            let _ = slow.set_read_timeout(Some(Duration::from_millis(50)));
            let mut buf = [0u8; 256];
            while Instant::now() < end {
                if slow.write_all(b"x").is_err() {
                    break;
                }
                match slow.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let told = String::from_utf8_lossy(buf.get(..n).unwrap_or_default());
                        return Ok((told.trim_end().to_string(), start.elapsed()));
                    }
                    Err(_) => {}
                }
            }
            if Instant::now() >= end {
                return Err(format!(
                    "still connected after {patience:?} of a byte every 50 ms and no newline"
                ));
            }
        }
    }
    let left = end.saturating_duration_since(Instant::now());
    let told = tcp::read_line(&mut slow, left.max(Duration::from_millis(1)))?;
    Ok((told, start.elapsed()))
}

/// A slow client (silent, half a line, or a byte at a time) is hung up on
/// at the idle timeout, and a client behind it is served: at once by the
/// threaded server, within the idle timeout by the sequential one.
fn slow(bins: &Bins, name: &str) -> Outcome {
    const IDLE_MS: u64 = 500;
    let idle = Duration::from_millis(IDLE_MS);
    let margin = Duration::from_millis(300);
    let mut figures = Vec::new();
    let mut problems = Vec::new();
    for kind in [Slow::Silent, Slow::HalfLine, Slow::Trickle] {
        let server = Server::start(
            bins,
            name,
            &[
                "--port",
                "0",
                "--reply",
                "echo",
                "--framing",
                "line",
                "--idle-timeout-ms",
                &IDLE_MS.to_string(),
            ],
        )?;
        let addr = server.addr()?;
        let slow = tcp::connect(addr)?;
        let slow_addr = slow.local_addr().map_err(|e| e.to_string())?;
        if !server.wait_log(&format!("{slow_addr}: connected"), Duration::from_secs(3)) {
            return Err(format!("{kind:?}: the slow client was never accepted"));
        }
        let slow_side = thread::spawn(move || misbehave(slow, kind, Duration::from_secs(3)));
        // The client behind it: served within the idle timeout (plus a
        // margin), or that is a failure; it gives up a little later.
        let behind = if name == SEQUENTIAL {
            idle + margin
        } else {
            margin
        };
        let second = tcp::request_within(addr, Framing::Line, "behind the slow one", behind + idle);
        let held = slow_side
            .join()
            .unwrap_or_else(|_| Err("the slow client thread panicked".into()));
        let mut bad = |p: String| problems.push(format!("{kind:?}: {p}"));
        match second {
            Ok((reply, waited)) if reply == "Echo: behind the slow one" && waited <= behind => {
                figures.push(format!("{kind:?}: next client served in {}", ms(waited)));
            }
            Ok((reply, waited)) => bad(format!(
                "the next client got {reply:?} after {} (limit {})",
                ms(waited),
                ms(behind)
            )),
            Err(e) => bad(format!("the next client got no reply: {e}")),
        }
        match held {
            Ok((told, after)) if told.contains("idle for too long") && after <= idle + margin => {
                if let Some(last) = figures.last_mut() {
                    last.push_str(&format!(", slow one cut off after {}", ms(after)));
                }
            }
            Ok((told, after)) => bad(format!(
                "the slow client was held {} (idle timeout {}) and told {told:?}",
                ms(after),
                ms(idle)
            )),
            Err(e) => bad(format!("the slow client was never hung up on: {e}")),
        }
        check_log(&server.log())?;
    }
    let figures = format!("idle timeout {}; {}", ms(idle), figures.join("; "));
    if problems.is_empty() {
        Ok(figures)
    } else {
        Err(format!("{}; {figures}", problems.join("; ")))
    }
}

/// Under `ulimit -n 64`, 200 connections: accept fails with EMFILE, the
/// server says so, keeps going, and serves again when connections close.
fn descriptors(bins: &Bins) -> Outcome {
    let server = Server::start_with_nofile(
        bins,
        THREADED,
        &["--port", "0", "--reply", "echo", "--framing", "line"],
        64,
    )?;
    let addr = server.addr()?;
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
    if !server.wait_log("accept failed", Duration::from_secs(3)) {
        return Err(format!(
            "no `accept failed` in the log with {} connections open under ulimit -n 64; log ends: {}",
            streams.len(),
            server.log_tail(2)
        ));
    }
    // The server must pause between failed accepts, not spin: count them
    // over half a second.
    let before = count_lines(&server.log(), "accept failed");
    let window = Instant::now();
    thread::sleep(Duration::from_millis(500));
    let failed_in_window = count_lines(&server.log(), "accept failed") - before;
    let window = window.elapsed();
    let log = server.log();
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
    check_log(&server.log())?;
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
