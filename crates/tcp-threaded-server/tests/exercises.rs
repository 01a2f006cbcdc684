//! Checkers for the exercises of docs/tcp-threaded-server.md. Each is
//! ignored until a student asks for it by name:
//!
//! ```text
//! cargo test -p tcp-threaded-server --test exercises -- --ignored acquire
//! ```
//!
//! The answers are in docs/exercises/ (`tcp-threaded-server--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::testing::exercise::{self, ensure, not_yet, start, Noise};
use common::testing::tcp_server::{connect, threads_of, BUSY};
use common::testing::Lesson;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-threaded-server");

/// How long a client past the cap listens for a busy line that should not
/// come. The untouched server sends it within milliseconds.
const QUIET: Duration = Duration::from_secs(1);

/// Send `message` and read the one raw reply `Message received`, or fail
/// the checker with what came instead.
fn served(exercise: &str, who: &str, stream: &mut TcpStream, message: &str) {
    stream.write_all(message.as_bytes()).unwrap();
    let mut reply = [0u8; 16];
    let got = stream.read_exact(&mut reply);
    ensure(
        got.is_ok() && &reply == b"Message received",
        exercise,
        format!("{who}: `Message received` as the answer to {message:?}"),
        match got {
            Ok(()) => format!("{:?}", String::from_utf8_lossy(&reply)),
            Err(e) => format!("no answer ({e})"),
        },
    );
}

/// A client past the cap: it has sent a message, and must hear nothing for
/// [`QUIET`]: no busy line, no hang-up. It waits for a slot instead.
fn waits_quietly(exercise: &str, who: &str, stream: &mut TcpStream) {
    if let Err(noise) = exercise::waits_quietly(stream, QUIET) {
        let instead = match noise {
            Noise::Text(text) if text == BUSY => {
                "the busy line, `Error: server busy, try again later`".to_string()
            }
            noise => noise.to_string(),
        };
        not_yet(
            exercise,
            format!("{who}, past --max-connections, to wait quietly for a free slot"),
            instead,
        );
    }
    stream
        .set_read_timeout(Some(common::testing::WAIT))
        .unwrap();
}

/// The client that waited is served, now that a slot is free.
fn served_after_waiting(exercise: &str, who: &str, stream: &mut TcpStream) {
    let mut reply = [0u8; 16];
    let got = stream.read_exact(&mut reply);
    ensure(
        got.is_ok() && &reply == b"Message received",
        exercise,
        format!("{who} to be answered once a slot is free"),
        match got {
            Ok(()) => format!("{:?}", String::from_utf8_lossy(&reply)),
            Err(e) => format!("no answer within 10 s ({e})"),
        },
    );
}

/// Exercise 1: `acquire` instead of `try_acquire`: a client past the cap
/// waits for a slot instead of being told the server is busy.
#[test]
#[ignore = "exercise: cargo test -p tcp-threaded-server --test exercises -- --ignored acquire"]
fn acquire() {
    const EXERCISE: &str = "tcp-threaded-server 1, acquire instead of try_acquire";
    let server = start(EXERCISE, BIN, &["--port", "0", "--max-connections", "1"]);
    let mut a = connect(server.addr());
    served(EXERCISE, "A", &mut a, "hello from A");
    let mut b = connect(server.addr());
    b.write_all(b"hello from B").unwrap();
    waits_quietly(EXERCISE, "B", &mut b);
    // A leaves: its slot is free, and B's message is answered.
    drop(a);
    served_after_waiting(EXERCISE, "B", &mut b);
}

/// Exercise 2: a fixed pool of `--max-connections` workers fed by a channel.
/// The workers exist before any client comes; a client past the cap queues
/// instead of being told busy; Ctrl+C still ends the server with exit 0.
#[test]
// One `ignore` per OS: two on one test would be an unused attribute.
#[cfg_attr(
    target_os = "linux",
    ignore = "exercise: cargo test -p tcp-threaded-server --test exercises -- --ignored pool"
)]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "counts the server's threads in /proc/PID, which only Linux has"
)]
fn pool() {
    const EXERCISE: &str = "tcp-threaded-server 2, a fixed pool of workers";
    const WORKERS: usize = 3;
    let mut server = start(
        EXERCISE,
        BIN,
        &["--port", "0", "--max-connections", &WORKERS.to_string()],
    );
    // main and the Ctrl+C handler's thread, plus the workers. They may be
    // started just after `listening on`: look for up to 2 s.
    let wanted = WORKERS + 2;
    let mut threads = threads_of(server.pid());
    for _ in 0..200 {
        if threads >= wanted {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        threads = threads_of(server.pid());
    }
    ensure(
        threads >= wanted,
        EXERCISE,
        format!(
            "{WORKERS} workers waiting before any client connects: at least {wanted} threads \
             (with main and the Ctrl+C handler)"
        ),
        format!("{threads} threads"),
    );
    // Every worker busy with a client that stays connected...
    let mut held: Vec<TcpStream> = (0..WORKERS).map(|_| connect(server.addr())).collect();
    for (i, stream) in held.iter_mut().enumerate() {
        served(
            EXERCISE,
            &format!("client {}", i + 1),
            stream,
            "hold a worker",
        );
    }
    // ...then one more: it queues.
    let mut late = connect(server.addr());
    late.write_all(b"me too?").unwrap();
    let who = format!("client {}", WORKERS + 1);
    waits_quietly(EXERCISE, &who, &mut late);
    ensure(
        threads_of(server.pid()) <= wanted,
        EXERCISE,
        format!("no thread beyond the pool's {WORKERS} (at most {wanted} in all)"),
        format!("{} threads", threads_of(server.pid())),
    );
    // One client leaves: its worker takes the queued one.
    drop(held.remove(0));
    served_after_waiting(EXERCISE, &who, &mut late);
    stops_on_ctrl_c(EXERCISE, &mut server);
}

/// Ctrl+C with clients connected: exit 0, `server closed`, within 2 s.
fn stops_on_ctrl_c(exercise: &str, server: &mut Lesson) {
    match server.try_interrupt(Duration::from_secs(2)) {
        Ok((_, status)) => ensure(
            status.code() == Some(0),
            exercise,
            "Ctrl+C (SIGINT) to end the server with exit code 0",
            format!("{status}; log ends: {}", server.stderr_tail(3)),
        ),
        Err(e) => not_yet(
            exercise,
            "Ctrl+C (SIGINT) to end the server within 2 s (tell the workers to stop: drop the \
             channel's sender)",
            e,
        ),
    }
    let log = server.stderr();
    ensure(
        log.contains("server closed") && !log.contains("panicked"),
        exercise,
        "`server closed` in the log, and no panic",
        server.stderr_tail(3),
    );
}
