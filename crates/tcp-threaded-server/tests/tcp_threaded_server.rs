//! tcp-threaded-server, run for real on 127.0.0.1 (and ::1), port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;

use common::testing::tcp_server::{
    self as scenario, connect, expect_bytes, read_to_close, rss_kib, served_again, threads_of, BUSY,
};
use common::testing::Lesson;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-threaded-server");

// The shared scenarios (common::testing::tcp_server), one test each.
common::scenario_tests!(
    scenario,
    BIN,
    every_reply_mode,
    tutorial_clients,
    line_framing,
    line_too_long,
    invalid_utf8,
    hostile_peers,
    trickle_is_idle,
    ipv6,
    ctrl_c interrupt_with_clients,
    ctrl_c terminate_idle,
    port_in_use,
    ctrl_c restart_on_same_port,
);

#[test]
fn bad_flags() {
    scenario::bad_flags(BIN);
    let out = common::testing::run(
        BIN,
        &["--max-connections", "0"],
        "",
        scenario::SHUTDOWN_BUDGET * 40,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'0' for --max-connections"));
}

/// Threaded means a connected client does not hold up the next one: with A
/// connected and idle, B is answered while A is still open. Asserted by
/// order, not by timing.
#[test]
fn second_client_served_at_once() {
    let server = Lesson::start(BIN, &["--port", "0"]);
    let mut a = connect(server.addr());
    a.write_all(b"A").unwrap();
    expect_bytes(&mut a, "Message received");
    let mut b = connect(server.addr());
    b.write_all(b"B").unwrap();
    expect_bytes(&mut b, "Message received");
    // A was open all along, and is still served.
    a.write_all(b"A again").unwrap();
    expect_bytes(&mut a, "Message received");
    let a_name = a.local_addr().unwrap().to_string();
    assert!(!server.stderr().contains(&format!("{a_name}: closed")));
}

/// Open `total` connections and keep them open, idle. The server accepts
/// them in order: the first `cap` get a handler thread each, the rest get
/// the busy line and are closed. Returns the connections that were served.
fn fill_past_the_cap(server: &Lesson, total: usize, cap: usize) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for i in 0..total {
        let mut stream = connect(server.addr());
        if i < cap {
            open.push(stream);
        } else {
            // Past the cap: one line, then the server hangs up.
            assert_eq!(read_to_close(&mut stream), BUSY, "connection {i}");
        }
    }
    open
}

/// 300 clients at once against `--max-connections 256`: the 44 extra get
/// the busy line, the 256 are all served, the thread count stays under the
/// cap, and once the 256 leave new clients are served again.
#[test]
#[cfg_attr(
    windows,
    ignore = "counts threads or memory in /proc/PID, which only Linux has"
)]
fn cap_of_256_with_300_clients() {
    let server = Lesson::start(BIN, &["--port", "0", "--max-connections", "256"]);
    let mut open = fill_past_the_cap(&server, 300, 256);
    for stream in &mut open {
        stream.write_all(b"hi").unwrap();
        expect_bytes(stream, "Message received");
    }
    // main + Ctrl+C handler + one per connection.
    assert!(threads_of(server.pid()) <= 256 + 2);
    server.expect_stderr("server busy, try again later");
    drop(open);
    served_again(server.addr());
}

/// 1,000 idle connections with the default cap: the server neither falls
/// over nor grows past 256 handler threads. Prints its memory use.
#[test]
#[cfg_attr(
    windows,
    ignore = "counts threads or memory in /proc/PID, which only Linux has"
)]
fn a_thousand_idle_connections() {
    let server = Lesson::start(BIN, &["--port", "0"]);
    let before = rss_kib(server.pid());
    let open = fill_past_the_cap(&server, 1000, 256);
    let threads = threads_of(server.pid());
    let after = rss_kib(server.pid());
    eprintln!("1000 idle connections: {threads} threads, RSS {before} KiB before, {after} KiB with 256 served");
    assert!(threads <= 256 + 2, "{threads} threads");
    drop(open);
    served_again(server.addr());
}

/// Out of file descriptors (EMFILE): accept() fails, the server logs it,
/// backs off, and carries on; when clients leave it serves again.
#[test]
#[cfg_attr(windows, ignore = "runs a bash or sh script, which Wine has not")]
fn accept_errors_are_survived() {
    // A shell lowers the limit on open files, then becomes the server.
    let server = Lesson::start("sh", &["-c", "ulimit -n 16 && exec \"$0\" --port 0", BIN]);
    let open: Vec<TcpStream> = (0..30).map(|_| connect(server.addr())).collect();
    server.expect_stderr("accept failed");
    server.expect_stderr("Too many open files");
    drop(open);
    served_again(server.addr());
    assert!(!server.stderr().contains("panicked"));
}

/// Clients turned away after they have already sent a request get the busy
/// line and then a normal close (FIN), not a reset: the server reads what
/// is queued before it closes, and shuts down its sending side right after
/// the line. (Closing with unread bytes would send RST.) The 50 clients
/// connect and send before reading, so their requests are queued when the
/// server reaches them.
#[test]
fn busy_clients_get_the_line_and_a_clean_close() {
    let server = Lesson::start(BIN, &["--port", "0", "--max-connections", "1"]);
    let mut holder = connect(server.addr());
    holder.write_all(b"I hold the slot").unwrap();
    expect_bytes(&mut holder, "Message received");
    let mut waiting: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut stream = connect(server.addr());
            stream.write_all(b"me too?").unwrap();
            stream
        })
        .collect();
    for (i, stream) in waiting.iter_mut().enumerate() {
        let mut said = Vec::new();
        let end = stream.read_to_end(&mut said);
        assert_eq!(String::from_utf8_lossy(&said), BUSY, "client {i}");
        assert!(end.is_ok(), "client {i}: {end:?} instead of a clean close");
    }
    // The holder was served all along, and still is.
    holder.write_all(b"still mine").unwrap();
    expect_bytes(&mut holder, "Message received");
}
