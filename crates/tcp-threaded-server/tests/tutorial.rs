//! The tutorial's own threaded server,
//! `examples/tcp-threaded-server-tutorial.rs`, run for real: it answers the
//! tutorial's client (in Rust and in Python), and it breaks in the ways
//! docs/tcp-threaded-server.md shows, each one asserted here. (The lesson's
//! fixes are asserted in tests/tcp_threaded_server.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::TcpStream;

use common::testing::tcp_server::{connect, expect_bytes, read_to_close, seed_client, threads_of};
use common::testing::{example, killed_by, python3, run, Lesson, SIGINT, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_tcp-threaded-server");
/// The same Python client as tcp-server's tests use: one tool, two servers.
const CLIENT_PY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tcp-server/tests/python/tutorial_client.py"
);

fn tutorial() -> Lesson {
    let bin = example(env!("CARGO_MANIFEST_DIR"), "tcp-threaded-server-tutorial");
    Lesson::start(&bin, &["127.0.0.1:0"])
}

/// Rust alone: two clients at once, one of them talking several times over
/// its connection, and the lines the server prints for a client.
#[test]
fn tutorial_server_answers_clients_side_by_side() {
    let server = tutorial();
    let mut a = connect(server.addr());
    assert!(server
        .next_stdout_line()
        .ends_with(" has been established."));
    // A stays connected; B is answered all the same.
    assert_eq!(
        seed_client(server.addr(), "Hello, Server!"),
        "Message received"
    );
    for message in ["one", "two"] {
        a.write_all(message.as_bytes()).unwrap();
        expect_bytes(&mut a, "Message received");
    }
    let a_name = a.local_addr().unwrap().to_string();
    drop(a);
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.ends_with(" has been closed.") && l.contains(&a_name))
    {
        lines.push(server.next_stdout_line());
    }
    assert!(
        lines.contains(&format!("Received data from {a_name}: two")),
        "{lines:?}"
    );
}

/// The tutorial's Python client (several messages on one connection)
/// against the Rust example and against the lesson's server.
#[test]
fn python_tutorial_client_against_both_servers() {
    let Some(python) = python3("python_tutorial_client_against_both_servers") else {
        return;
    };
    let lesson = Lesson::start(BIN, &["--port", "0"]);
    for server in [&tutorial(), &lesson] {
        let port = server.addr().port().to_string();
        let args = [CLIENT_PY, "127.0.0.1", &port, "Hello, Server!", "and again"];
        let out = run(python, &args, "", WAIT);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout,
            format!(
                "Connected to 127.0.0.1:{port}\n{}",
                "Received response: Message received\n".repeat(2)
            )
        );
    }
    lesson.expect_stderr("\"and again\"");
}

/// Break it: a thread for every connection, with no limit. 50 clients that
/// connect and say nothing cost the server 50 threads (and anyone can open
/// more).
#[test]
#[cfg_attr(
    windows,
    ignore = "counts threads or memory in /proc/PID, which only Linux has"
)]
fn every_connection_costs_the_tutorial_server_a_thread() {
    let server = tutorial();
    let before = threads_of(server.pid());
    // One at a time, each accepted (its thread has said hello) before the
    // next: the listen(5) queue never fills.
    let open: Vec<TcpStream> = (0..50)
        .map(|_| {
            let stream = connect(server.addr());
            assert!(server
                .next_stdout_line()
                .ends_with(" has been established."));
            stream
        })
        .collect();
    let during = threads_of(server.pid());
    assert_eq!(before, 1);
    assert_eq!(during, 1 + 50, "{during} threads");
    drop(open);
}

/// Break it: TCP is a stream, and the handler takes whatever one
/// recv(1024) returns as a message. One write of 1500 bytes is two
/// messages to it, and gets two replies, which reach the client as one.
#[test]
fn one_long_message_gets_two_replies() {
    let server = tutorial();
    let mut client = connect(server.addr());
    client.write_all(&[b'y'; 1500]).unwrap();
    expect_bytes(&mut client, "Message receivedMessage received");
    assert!(server
        .next_stdout_line()
        .ends_with(" has been established."));
    let first = server.next_stdout_line();
    let second = server.next_stdout_line();
    let len = |l: &str| l.rsplit(": ").next().unwrap().len();
    assert_eq!(
        (len(&first), len(&second)),
        (1024, 476),
        "{first:.60} / {second:.60}"
    );
}

/// Break it: bytes that are not UTF-8 make decode() fail in the client's
/// thread. That thread ends (its client gets no reply, the connection just
/// closes); the server and its other clients go on.
#[test]
fn invalid_utf8_ends_the_clients_thread() {
    let server = tutorial();
    let mut client = connect(server.addr());
    client.write_all(b"\xff\xfe").unwrap();
    assert_eq!(read_to_close(&mut client), "");
    server.expect_stderr("Error in the thread for");
    assert_eq!(seed_client(server.addr(), "still up?"), "Message received");
}

/// Break it: Ctrl+C (SIGINT) ends the server and every thread at once,
/// without a word: no log line, and each connected client is cut off.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn ctrl_c_cuts_off_every_client() {
    let mut server = tutorial();
    let mut clients: Vec<TcpStream> = (0..3)
        .map(|_| {
            let stream = connect(server.addr());
            assert!(server
                .next_stdout_line()
                .ends_with(" has been established."));
            stream
        })
        .collect();
    server.interrupt();
    let status = server.wait_exit(WAIT);
    assert_eq!(killed_by(status), Some(SIGINT), "{status:?}");
    assert_eq!(server.stderr(), "");
    for client in &mut clients {
        assert_eq!(read_to_close(client), "");
    }
}
