//! udp-threaded-server, run for real on 127.0.0.1 (and ::1), port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::udp_server as scenario;
use common::testing::{udp_socket_for, Lesson};

const BIN: &str = env!("CARGO_BIN_EXE_udp-threaded-server");

#[test]
fn every_reply_mode() {
    scenario::every_reply_mode(BIN);
}

#[test]
fn invalid_utf8() {
    scenario::invalid_utf8(BIN);
}

#[test]
fn empty_datagram() {
    scenario::empty_datagram(BIN);
}

#[test]
fn largest_datagram() {
    scenario::largest_datagram(BIN);
}

#[test]
fn oversize_reported() {
    scenario::oversize_reported(BIN);
}

#[test]
fn flood_then_answer() {
    scenario::flood_then_answer(BIN);
}

#[test]
fn ipv6() {
    scenario::ipv6(BIN);
}

#[test]
fn interrupt_mid_request() {
    scenario::interrupt_mid_request(BIN);
}

#[test]
fn terminate_idle() {
    scenario::terminate_idle(BIN);
}

#[test]
fn bad_flags() {
    scenario::bad_flags(BIN);
}

#[test]
fn port_in_use() {
    scenario::port_in_use(BIN);
}

/// Threaded means a slow request does not hold up the next one: B is read
/// (and could be answered) while A is still being worked on.
#[test]
fn slow_request_does_not_block_the_next() {
    let mut server = Lesson::start(BIN, &["--port", "0", "--delay-ms", "30000"]);
    let a = udp_socket_for(server.addr());
    let b = udp_socket_for(server.addr());
    a.send_to(b"A", server.addr()).unwrap();
    server.expect_stderr("\"A\"");
    b.send_to(b"B", server.addr()).unwrap();
    // A is still asleep for 30 s, yet B has been read by another thread.
    server.expect_stderr("\"B\"");
    assert!(!server.stderr().contains("replied to"));
    // Ctrl+C: both in-flight handlers finish, reply, and are joined.
    let (took, status) = server.interrupt_and_time();
    assert_eq!(status.code(), Some(0));
    assert!(took <= scenario::SHUTDOWN_BUDGET, "took {took:?}");
    let mut buf = [0u8; 64];
    for socket in [&a, &b] {
        let (n, _) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Message received");
    }
}

/// `--max-threads 1` turns the threaded server back into a sequential one:
/// the limit really holds.
#[test]
fn max_threads_bounds_the_handlers() {
    let server = Lesson::start(
        BIN,
        &["--port", "0", "--delay-ms", "300", "--max-threads", "1"],
    );
    let a = udp_socket_for(server.addr());
    let b = udp_socket_for(server.addr());
    a.send_to(b"A", server.addr()).unwrap();
    server.expect_stderr("\"A\"");
    b.send_to(b"B", server.addr()).unwrap();
    let mut buf = [0u8; 64];
    b.recv_from(&mut buf).unwrap();
    let log = server.stderr();
    let replied_a = log
        .find(&format!("replied to {}", a.local_addr().unwrap()))
        .unwrap();
    let got_b = log.find("\"B\"").unwrap();
    assert!(
        replied_a < got_b,
        "a second handler ran despite --max-threads 1:\n{log}"
    );
}

/// The tutorial's threads pile up when its handlers stall (see
/// tests/tutorial.rs); here they stall too (stderr, where they log, is a
/// pipe nobody reads), and the flood never gets past `--max-threads`.
#[test]
fn threads_stay_capped_when_handlers_stall() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--max-threads", "8"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stalled_stderr = child.stderr.take().unwrap(); // open, never read
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr: std::net::SocketAddr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let idle = thread_count(child.id());
    let flood = udp_socket_for(addr);
    let mut most = idle;
    // Enough 1000-byte datagrams to fill the stderr pipe many times over.
    let deadline = std::time::Instant::now() + common::testing::WAIT;
    for round in 0..100 {
        for _ in 0..100 {
            let _ = flood.send_to(&[b'x'; 1000], addr);
        }
        most = most.max(thread_count(child.id()));
        // + 1: a handler that has just given back its slot may still be
        // exiting when the next one starts.
        assert!(most <= idle + 9, "{most} threads, {idle} when idle");
        if round > 20 && most >= idle + 8 {
            break; // stalled at the cap, and held there
        }
        assert!(std::time::Instant::now() < deadline);
    }
    assert!(most >= idle + 8, "the handlers never stalled");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// How many threads process `pid` has now (Linux: one entry per thread).
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}
