//! The tutorial's program, `examples/udp-threaded-server-tutorial.rs`:
//! against Rust and Python clients, and the breaks shown on
//! docs/udp-threaded-server.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use common::testing::udp_server as scenario;
use common::testing::{example, python3, udp_socket_for, udp_text, uninterrupted, Launch, WAIT};

fn tutorial() -> String {
    example(env!("CARGO_MANIFEST_DIR"), "udp-threaded-server-tutorial")
}

/// The same tutorial-1 client as udp-server's tests use.
const PYTHON_CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../udp-server/tests/python/tutorial1_client.py"
);

#[test]
fn tutorial_answers_message_received() {
    scenario::tutorial_answers(&tutorial());
}

#[test]
fn tutorial_against_the_python_client() {
    let Some(python) = python3("tutorial_against_the_python_client") else {
        return;
    };
    scenario::tutorial_python_client(&tutorial(), python, PYTHON_CLIENT);
}

#[test]
fn tutorial_against_the_python_line_client() {
    let Some(python) = python3("tutorial_against_the_python_line_client") else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../udp-server/tests/python/tutorial5_client.py"
    );
    scenario::tutorial_python_line_client(&tutorial(), python, script);
}

#[test]
fn tutorial_bad_address() {
    scenario::tutorial_bad_address(&tutorial());
}

/// Twenty clients at once, each on a thread of its own: all answered.
#[test]
fn tutorial_answers_many_clients_at_once() {
    let server = scenario::tutorial_start(&tutorial(), "127.0.0.1:0");
    let addr = server.addr();
    let clients: Vec<_> = (0..20)
        .map(|i| std::thread::spawn(move || udp_text(addr, &format!("client {i}"))))
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), "Message received");
    }
}

/// Break: a datagram that is not UTF-8 ends its own thread (a message on
/// stderr) and its sender gets no reply, while the server goes on.
#[test]
fn tutorial_invalid_utf8_kills_only_its_thread() {
    let server = scenario::tutorial_start(&tutorial(), "127.0.0.1:0");
    let client = udp_socket_for(server.addr());
    client.send_to(&[0xff, 0xfe], server.addr()).unwrap();
    server.expect_stderr("invalid utf-8");
    // The thread has died before its send_to: the first datagram we get is
    // the reply to the next message, and nothing else is queued.
    client.send_to(b"still there?", server.addr()).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = uninterrupted(|| client.recv_from(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"Message received");
    client.set_nonblocking(true).unwrap();
    assert!(client.recv_from(&mut buf).is_err(), "a second reply came");
}

/// Break: nothing limits the threads. When the handlers stall (here stdout
/// is a pipe nobody reads, as a terminal paused with Ctrl+S would be),
/// every new datagram adds a thread, and they pile up without end.
#[test]
#[cfg_attr(
    windows,
    ignore = "counts threads or memory in /proc/PID, which only Linux has"
)]
fn tutorial_threads_pile_up_when_handlers_stall() {
    let server = Launch::new(tutorial())
        .args(&["127.0.0.1:0"])
        .unread_stdout()
        .start();
    let addr = server.addr();
    // From here on nobody reads `stdout` (kept open, so writes block).
    let flood = udp_socket_for(addr);
    let deadline = Instant::now() + WAIT;
    let (mut sent, mut threads) = (0, 0);
    while threads <= 300 {
        assert!(
            Instant::now() < deadline && sent < 20_000,
            "only {threads} threads after {sent} datagrams"
        );
        for _ in 0..100 {
            let _ = flood.send_to(&[b'x'; 1000], addr);
            sent += 1;
        }
        threads = thread_count(server.pid());
    }
    drop(server);
}

/// Break: Ctrl+C kills it without a word.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn tutorial_killed_by_ctrl_c() {
    scenario::tutorial_killed_by_ctrl_c(&tutorial());
}

/// How many threads process `pid` has now (Linux: one entry per thread).
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}
