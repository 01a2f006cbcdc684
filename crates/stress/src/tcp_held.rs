//! tcp-threaded-server under 1,000 held idle connections, and a slow client
//! against both TCP servers: the `held` and `slow` groups of
//! [`crate::tcp_servers`].

use common::testing::uninterrupted;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{self, check_log, Bins, Proc};
use crate::report::{ensure, mib, ms, Outcome};
use crate::shutdown::count_lines;
use crate::tcp::{self, Framing, IO_WAIT};
use crate::tcp_servers::{BUSY, DEFAULT_CAP, OTHER_THREADS, SEQUENTIAL, THREADED};
use crate::Plan;

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
    let held = match uninterrupted(|| stream.read(&mut buf)) {
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
pub fn held(bins: &Bins, plan: &Plan) -> Outcome {
    let server = process::start(
        bins,
        THREADED,
        &["--port", "0", "--reply", "echo", "--framing", "line"],
    )?;
    let addr = server.try_addr()?;
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
        let log = server.stderr();
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
    check_log(&server.stderr())?;
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
pub fn slow(bins: &Bins, name: &str) -> Outcome {
    const IDLE_MS: u64 = 500;
    let idle = Duration::from_millis(IDLE_MS);
    let margin = Duration::from_millis(300);
    let mut figures = Vec::new();
    let mut problems = Vec::new();
    for kind in [Slow::Silent, Slow::HalfLine, Slow::Trickle] {
        let server = process::start(
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
        let addr = server.try_addr()?;
        let slow = tcp::connect(addr)?;
        let slow_addr = slow.local_addr().map_err(|e| e.to_string())?;
        if !server.wait_stderr(&format!("{slow_addr}: connected"), Duration::from_secs(3)) {
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
        check_log(&server.stderr())?;
    }
    let figures = format!("idle timeout {}; {}", ms(idle), figures.join("; "));
    if problems.is_empty() {
        Ok(figures)
    } else {
        Err(format!("{}; {figures}", problems.join("; ")))
    }
}
