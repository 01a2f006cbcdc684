//! Checkers for the exercises of docs/udp-threaded-server.md. Each is
//! ignored until a student asks for it by name:
//!
//! ```text
//! cargo test -p udp-threaded-server --test exercises -- --ignored busy
//! ```
//!
//! The answers are in docs/exercises/ (`udp-threaded-server--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::testing::exercise::{ensure, not_yet, reply, start};
use common::testing::{udp_socket_for, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-threaded-server");

/// Exercise 4: `Error: server busy` at once when every thread is busy.
#[test]
#[ignore = "exercise: cargo test -p udp-threaded-server --test exercises -- --ignored busy"]
fn busy() {
    const EXERCISE: &str = "udp-threaded-server 4, busy at once";
    let server = start(
        EXERCISE,
        BIN,
        &["--port", "0", "--delay-ms", "2000", "--max-threads", "1"],
    );
    let addr = server.addr();
    let a = udp_socket_for(addr);
    let b = udp_socket_for(addr);
    a.send_to(b"A", addr).unwrap();
    // A's handler has the one thread, for 2 s.
    server.expect_stderr("\"A\"");
    let asked = Instant::now();
    b.send_to(b"B", addr).unwrap();
    // "At once": well before A's 2 s of work are over.
    match reply(&b, Duration::from_millis(1000)) {
        Ok(text) => ensure(
            text.starts_with("Error: server busy"),
            EXERCISE,
            "`Error: server busy, try again later` as the answer to B while A holds the one thread",
            format!("B got {text:?} after {:.1?}", asked.elapsed()),
        ),
        Err(instead) => not_yet(
            EXERCISE,
            "`Error: server busy, try again later` to B at once, while A holds the one thread \
             (--max-threads 1)",
            format!("{instead}: the receive loop waited for a free thread"),
        ),
    }
    // A is still served in full.
    let got = reply(&a, WAIT).unwrap_or_else(|e| e);
    ensure(
        got == "Message received",
        EXERCISE,
        "A's own answer, `Message received`, after its 2 s of work",
        format!("A got {got:?}"),
    );
    // And once A's thread is free, B is served when it asks again. The slot
    // is given back a moment after A's reply goes out, which nothing outside
    // the server can see: a few tries, 20 ms apart, at most.
    let mut got = String::new();
    for _ in 0..50 {
        b.send_to(b"B again", addr).unwrap();
        got = reply(&b, WAIT).unwrap_or_else(|e| e);
        if !got.starts_with("Error: server busy") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ensure(
        got == "Message received",
        EXERCISE,
        "B served once A's thread is free again",
        format!("B got {got:?}"),
    );
}

/// Exercise 5: at shutdown, the log says how many requests were served.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
// One ignore per OS: two on one test would be an "unused attribute" error.
#[cfg_attr(
    not(windows),
    ignore = "exercise: cargo test -p udp-threaded-server --test exercises -- --ignored served"
)]
fn served() {
    const EXERCISE: &str = "udp-threaded-server 5, served N requests";
    let mut server = start(EXERCISE, BIN, &["--port", "0", "--delay-ms", "500"]);
    let addr = server.addr();
    // Two answered before Ctrl+C...
    for i in 0..2 {
        let socket = udp_socket_for(addr);
        socket
            .send_to(format!("early {i}").as_bytes(), addr)
            .unwrap();
        reply(&socket, WAIT).unwrap();
    }
    // ...and five still being worked on, each on a thread of its own, when
    // Ctrl+C comes: they too are answered before the server ends.
    let late: Vec<UdpSocket> = (0..5).map(|_| udp_socket_for(addr)).collect();
    for (i, socket) in late.iter().enumerate() {
        socket
            .send_to(format!("late {i}").as_bytes(), addr)
            .unwrap();
    }
    for i in 0..5 {
        server.expect_stderr(&format!("\"late {i}\""));
    }
    server.interrupt();
    let status = server.wait_exit(WAIT);
    for socket in &late {
        reply(socket, WAIT).unwrap();
    }
    let log = server.stderr();
    ensure(
        status.code() == Some(0),
        EXERCISE,
        "exit code 0 after Ctrl+C",
        format!(
            "{:?}; the log ends: {}",
            status.code(),
            server.stderr_tail(3)
        ),
    );
    ensure(
        log.lines().any(|line| line.contains("served 7 requests")),
        EXERCISE,
        "a line with `served 7 requests` in the log at shutdown \
         (2 answered before Ctrl+C, 5 finished after it)",
        format!("the log ends: {}", server.stderr_tail(3).trim()),
    );
}
