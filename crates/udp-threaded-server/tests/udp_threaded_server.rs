//! udp-threaded-server, run for real on 127.0.0.1 (and ::1), port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::udp_server as scenario;
use common::testing::{udp_socket_for, uninterrupted, Lesson};

const BIN: &str = env!("CARGO_BIN_EXE_udp-threaded-server");

// The shared scenarios (common::testing::udp_server), one test each.
common::scenario_tests!(
    scenario,
    BIN,
    every_reply_mode,
    invalid_utf8,
    empty_datagram,
    largest_datagram,
    oversize_reported,
    flood_then_answer,
    ipv6,
    ctrl_c interrupt_mid_request,
    ctrl_c terminate_idle,
    bad_flags,
    port_in_use,
);

/// Threaded means a slow request does not hold up the next one: B is read
/// (and could be answered) while A is still being worked on.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
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
        let (n, _) = uninterrupted(|| socket.recv_from(&mut buf)).unwrap();
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
    uninterrupted(|| b.recv_from(&mut buf)).unwrap();
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
/// tests/tutorial.rs). Here every handler stalls (a 60 s `--delay-ms`), and
/// a flood of 1,000 datagrams still starts no more than `--max-threads`.
#[test]
#[cfg_attr(
    windows,
    ignore = "counts threads or memory in /proc/PID, which only Linux has"
)]
fn threads_stay_capped_when_handlers_stall() {
    let server = Lesson::start(
        BIN,
        &["--port", "0", "--delay-ms", "60000", "--max-threads", "8"],
    );
    let pid = server.pid();
    let idle = thread_count(pid);
    let flood = udp_socket_for(server.addr());
    let send = |n: usize| {
        for _ in 0..n {
            let _ = flood.send_to(b"stall", server.addr());
        }
    };
    send(500);
    // Eight handlers start and sleep; no handler ever ends, so from then on
    // the count can only grow if the cap fails.
    let deadline = std::time::Instant::now() + common::testing::WAIT;
    while thread_count(pid) < idle + 8 {
        assert!(std::time::Instant::now() < deadline, "8 handlers never ran");
        send(1);
    }
    send(500);
    assert_eq!(thread_count(pid), idle + 8);
    // Eight were read (their log lines may lag: wait for them), and no
    // ninth: the loop waits for a free slot before it reads again.
    let read = || server.stderr().matches("\"stall\"").count();
    while read() < 8 {
        assert!(std::time::Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(read(), 8);
}

/// How many threads process `pid` has now (Linux: one entry per thread).
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}
