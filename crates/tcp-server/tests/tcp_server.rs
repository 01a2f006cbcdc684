//! tcp-server, run for real on 127.0.0.1 (and ::1), port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use common::testing::tcp_server::{self as scenario, assert_nothing_yet, connect, expect_bytes};
use common::testing::Lesson;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");

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
    bad_flags,
    port_in_use,
    ctrl_c restart_on_same_port,
);

/// Sequential means one client at a time: with A connected, B's request is
/// queued but not read, however long A stays; it is answered only after A
/// leaves. Asserted by order, not by timing.
#[test]
fn second_client_waits_for_the_first() {
    let server = Lesson::start(BIN, &["--port", "0"]);
    let mut a = connect(server.addr());
    a.write_all(b"A").unwrap();
    expect_bytes(&mut a, "Message received");
    // B connects (the kernel completes the handshake and queues it) and
    // sends its request.
    let mut b = connect(server.addr());
    b.write_all(b"B").unwrap();
    // The server is up and still busy with A: A's second request, sent
    // after B's, is answered...
    a.write_all(b"A again").unwrap();
    expect_bytes(&mut a, "Message received");
    // ...and B's is not.
    assert_nothing_yet(&b, "B while A is connected");
    let b_name = b.local_addr().unwrap().to_string();
    assert!(!server.stderr().contains(&format!("{b_name}: connected")));
    // A leaves; now B is accepted and answered.
    let a_name = a.local_addr().unwrap().to_string();
    drop(a);
    expect_bytes(&mut b, "Message received");
    server.expect_stderr(&format!("{b_name}: connected"));
    let log = server.stderr();
    let a_closed = log.find(&format!("{a_name}: closed")).unwrap();
    let b_connected = log.find(&format!("{b_name}: connected")).unwrap();
    assert!(a_closed < b_connected, "{log}");
}

/// An idle client cannot hold the sequential server for ever: after
/// `--idle-timeout-ms` it is told so and closed, and the next client is
/// served.
#[test]
fn idle_client_is_let_go() {
    let server = Lesson::start(BIN, &["--port", "0", "--idle-timeout-ms", "200"]);
    let mut a = connect(server.addr());
    let mut b = connect(server.addr());
    b.write_all(b"B").unwrap();
    expect_bytes(&mut b, "Message received");
    assert_eq!(scenario::read_to_close(&mut a), scenario::IDLE);
    let a_name = a.local_addr().unwrap().to_string();
    let b_name = b.local_addr().unwrap().to_string();
    server.expect_stderr(&format!("{b_name}: connected"));
    let log = server.stderr();
    let a_closed = log
        .find(&format!("{a_name}: closed (idle timeout)"))
        .unwrap();
    let b_connected = log.find(&format!("{b_name}: connected")).unwrap();
    assert!(a_closed < b_connected, "{log}");
}

/// The idle timeout frees the server from a silent client only. A client
/// that sends a message more often than `--idle-timeout-ms` is never idle,
/// and holds the sequential server for as long as it likes: here A talks
/// every 100 ms for four times the 200 ms timeout, and B, queued all that
/// time, is answered only after A leaves. (The threaded server fixes this.)
#[test]
fn chatty_client_holds_the_server_past_the_idle_timeout() {
    let server = Lesson::start(BIN, &["--port", "0", "--idle-timeout-ms", "200"]);
    let mut a = connect(server.addr());
    a.write_all(b"A").unwrap();
    expect_bytes(&mut a, "Message received");
    let mut b = connect(server.addr());
    b.write_all(b"B").unwrap();
    for _ in 0..8 {
        // A behaviour, not a wait for readiness: one message per 100 ms.
        std::thread::sleep(std::time::Duration::from_millis(100));
        a.write_all(b"still here").unwrap();
        expect_bytes(&mut a, "Message received");
    }
    assert_nothing_yet(&b, "B while A keeps talking");
    drop(a);
    expect_bytes(&mut b, "Message received");
    assert!(!server.stderr().contains("idle for too long"));
}
