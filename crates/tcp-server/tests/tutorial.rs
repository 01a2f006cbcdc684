//! The tutorial's own server, `examples/tcp-server-tutorial.rs`, run for
//! real: it answers the tutorial's client (in Rust and in Python), and it
//! breaks in the ways docs/tcp-server.md shows, each one asserted here.
//! (The lesson's fixes are asserted in tests/tcp_server.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use common::testing::tcp_server::{connect, expect_bytes, read_to_close, seed_client};
use common::testing::{
    example, killed_by, python3, run, uninterrupted, Lesson, SIGINT, SIGTERM, WAIT,
};

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");
const CLIENT_PY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/tutorial_client.py"
);

fn tutorial() -> Lesson {
    let bin = example(env!("CARGO_MANIFEST_DIR"), "tcp-server-tutorial");
    Lesson::start(&bin, &["127.0.0.1:0"])
}

/// Rust alone: the tutorial's exchange, and the server's two lines.
#[test]
fn tutorial_server_answers_the_tutorial_client() {
    let server = tutorial();
    assert_eq!(
        seed_client(server.addr(), "Hello, Server!"),
        "Message received"
    );
    assert!(server
        .next_stdout_line()
        .ends_with(" has been established."));
    assert_eq!(server.next_stdout_line(), "Received data: Hello, Server!");
    // Sequential, but it goes back to accept(): the next client is served.
    assert_eq!(seed_client(server.addr(), "again"), "Message received");
}

/// The tutorial's Python client against the Rust example, and against the
/// lesson's server (its defaults are the tutorial's).
#[test]
fn python_tutorial_client_against_both_servers() {
    let Some(python) = python3("python_tutorial_client_against_both_servers") else {
        return;
    };
    let lesson = Lesson::start(BIN, &["--port", "0"]);
    for server in [&tutorial(), &lesson] {
        let port = server.addr().port().to_string();
        let out = run(python, &[CLIENT_PY, "127.0.0.1", &port], "", WAIT);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout,
            format!("Connected to 127.0.0.1:{port}\nReceived response: Message received\n")
        );
    }
    lesson.expect_stderr("\"Hello, Server!\"");
}

/// Break it: a client that connects and says nothing holds the server in
/// its recv(), so the next client's message is not read, however long it
/// waits. Only when the silent one leaves is the next one served.
#[test]
fn silent_client_holds_the_tutorial_server() {
    let server = tutorial();
    let silent = connect(server.addr());
    assert!(server
        .next_stdout_line()
        .ends_with(" has been established."));
    let mut next = connect(server.addr());
    next.write_all(b"anyone there?").unwrap();
    // A bounded look, not a sleep: 500 ms of no answer.
    next.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let err = uninterrupted(|| next.read(&mut [0u8; 64])).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // The silent client leaves: its recv() returns nothing, and then the
    // next client is accepted and answered.
    drop(silent);
    next.set_read_timeout(Some(WAIT)).unwrap();
    expect_bytes(&mut next, "Message received");
    assert_eq!(server.next_stdout_line(), "Received data: ");
}

/// Break it: TCP is a stream, and one recv(1024) takes at most 1024 bytes.
/// A message of 1500 bytes is cut: the server prints 1024 of them and
/// answers as if that were the whole message.
#[test]
fn one_recv_takes_part_of_a_long_message() {
    let server = tutorial();
    let mut client = connect(server.addr());
    client.write_all(&[b'x'; 1500]).unwrap();
    assert!(server
        .next_stdout_line()
        .ends_with(" has been established."));
    let received = server.next_stdout_line();
    let text = received.strip_prefix("Received data: ").unwrap();
    assert!(
        !text.is_empty() && text.len() <= 1024,
        "{} bytes",
        text.len()
    );
    // The reply, then (the server closed with 476 bytes unread) a reset or
    // an end of stream.
    let rest = read_to_close(&mut client);
    assert!(rest.is_empty() || rest == "Message received", "{rest:?}");
}

/// Break it: bytes that are not UTF-8 make decode() fail, and the error
/// ends the server: an error message, exit code 1, the port closed.
#[test]
fn invalid_utf8_kills_the_tutorial_server() {
    let mut server = tutorial();
    let mut client = connect(server.addr());
    client.write_all(b"\xff\xfe").unwrap();
    assert_eq!(read_to_close(&mut client), "");
    let status = server.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1));
    assert!(server.stderr().contains("Error: "), "{}", server.stderr());
    assert!(std::net::TcpStream::connect(server.addr()).is_err());
}

/// Break it: Ctrl+C (SIGINT) kills the server at once, without a word on
/// either side: no log line, and the connected client is simply cut off.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn ctrl_c_kills_the_tutorial_server_without_a_word() {
    let mut server = tutorial();
    let mut client = connect(server.addr());
    assert!(server
        .next_stdout_line()
        .ends_with(" has been established."));
    server.interrupt();
    let status = server.wait_exit(WAIT);
    assert_eq!(killed_by(status), Some(SIGINT), "{status:?}");
    assert_eq!(server.stderr(), "");
    assert_eq!(read_to_close(&mut client), "");
}

/// Break it: no SO_REUSEADDR. The tutorial's server closes each connection
/// first, so its side of the connection stays in TIME_WAIT for a minute,
/// and a new server cannot bind the port until then: Address already in use.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn restart_on_the_same_port_fails() {
    let mut first = tutorial();
    let addr = first.addr();
    let mut client = connect(addr);
    client.write_all(b"hi").unwrap();
    // To the end: the server closed first.
    assert_eq!(read_to_close(&mut client), "Message received");
    first.signal(SIGTERM);
    first.wait_exit(WAIT);
    let bin = example(env!("CARGO_MANIFEST_DIR"), "tcp-server-tutorial");
    let out = run(&bin, &[&addr.to_string()], "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("AddrInUse"), "{stderr}");

    // The lesson's server sets SO_REUSEADDR, but the closed connections did
    // not, so it cannot take the port either: its message says why and
    // what to do, rather than blaming another program.
    let port = addr.port().to_string();
    let out = run(BIN, &["--port", &port], "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TIME_WAIT"), "{stderr}");
    assert!(stderr.contains("--port 0"), "{stderr}");
}
