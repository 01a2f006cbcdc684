//! The tutorial's own client, `examples/tcp-client-tutorial.rs`, run for
//! real against servers written the tutorial's way (in Python, and in Rust
//! inside the test), and the lesson's client against the Python ones; then
//! the ways it breaks, as docs/tcp-client.md shows them, each asserted here.
//! (The lesson's fixes are asserted in tests/tcp_client.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::testing::{example, python3, run, uninterrupted, Lesson, WAIT};

const LESSON: &str = env!("CARGO_BIN_EXE_tcp-client");
const SERVER_PY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/tutorial_server.py"
);

fn tutorial_bin() -> String {
    example(env!("CARGO_MANIFEST_DIR"), "tcp-client-tutorial")
}

/// A peer that accepts one connection and hands it to `talk`.
fn peer(talk: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        talk(stream);
    });
    (addr, handle)
}

/// Like the tutorial's server: one recv(1024), then `reply`, then close.
fn tutorial_peer(reply: &'static [u8]) -> (SocketAddr, JoinHandle<()>) {
    peer(move |mut stream| {
        let mut buf = [0u8; 1024];
        let n = uninterrupted(|| stream.read(&mut buf)).unwrap();
        assert_eq!(&buf[..n], b"Hello, Server!");
        stream.write_all(reply).unwrap();
    })
}

/// Rust alone: the tutorial's exchange against a tutorial-style server.
#[test]
fn tutorial_client_against_a_rust_tutorial_server() {
    let (addr, server) = tutorial_peer(b"Message received");
    let out = run(&tutorial_bin(), &[&addr.to_string()], "", WAIT);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Connected to {addr}\nReceived response: Message received\n")
    );
    server.join().unwrap();
}

/// Both clients, the tutorial's and the lesson's, against both Python
/// servers of the tutorial (sequential and threaded).
#[test]
fn both_clients_against_the_python_tutorial_servers() {
    let Some(python) = python3("both_clients_against_the_python_tutorial_servers") else {
        return;
    };
    for style in ["sequential", "threaded"] {
        let server = Lesson::start(python, &[SERVER_PY, "127.0.0.1", "0", style]);
        let addr = server.addr().to_string();
        let port = server.addr().port().to_string();

        let out = run(&tutorial_bin(), &[&addr], "", WAIT);
        assert_eq!(out.status.code(), Some(0), "{style}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("Connected to {addr}\nReceived response: Message received\n"),
            "{style}"
        );

        let args = ["--port", &port, "--message", "Hello, Server!"];
        let out = run(LESSON, &args, "", WAIT);
        assert_eq!(out.status.code(), Some(0), "{style}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "Message received\n");

        // The threaded one answers every message of a connection.
        if style == "threaded" {
            let out = run(LESSON, &["--port", &port], "one\ntwo\n", WAIT);
            assert_eq!(out.status.code(), Some(0));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "Message received\n".repeat(2)
            );
        }
    }
}

/// Break it: no timeout anywhere. A server that accepts and never answers
/// keeps the tutorial's client in recv() for as long as it stays silent.
#[test]
fn tutorial_client_waits_for_a_silent_server_for_ever() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (addr, server) = peer(move |stream| {
        // Silent until the test says stop.
        let _ = rx.recv_timeout(WAIT);
        drop(stream);
    });
    let client = Lesson::spawn(&tutorial_bin(), &[&addr.to_string()]);
    assert_eq!(
        client.stdout_line(WAIT).as_deref(),
        Some(format!("Connected to {addr}").as_str())
    );
    // A bounded look: nothing for 500 ms, and the client is still waiting.
    assert_eq!(client.stdout_line(Duration::from_millis(500)), None);
    tx.send(()).unwrap();
    server.join().unwrap();
}

/// Break it: a server that reads and hangs up without a reply. recv()
/// returns zero bytes, which the tutorial's client prints as an empty
/// response, and it exits 0 as if all went well.
#[test]
fn a_hang_up_looks_like_an_empty_reply() {
    let (addr, server) = peer(|mut stream| {
        let _ = uninterrupted(|| stream.read(&mut [0u8; 64]));
    });
    let out = run(&tutorial_bin(), &[&addr.to_string()], "", WAIT);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Connected to {addr}\nReceived response: \n")
    );
}

/// Break it: nothing listens on the port. connect() fails and the client
/// dies with the raw error (Python shows a traceback): exit 1.
#[test]
fn refused_connection_is_a_raw_error() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(&tutorial_bin(), &[&addr.to_string()], "", WAIT);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ConnectionRefused"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Break it: one recv(1024) takes at most 1024 bytes. A reply of 2000
/// bytes is cut, and the rest is never read.
#[test]
fn one_recv_takes_part_of_a_long_reply() {
    let (addr, server) = tutorial_peer(&[b'z'; 2000]);
    let out = run(&tutorial_bin(), &[&addr.to_string()], "", WAIT);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let response = stdout.lines().nth(1).unwrap();
    let text = response.strip_prefix("Received response: ").unwrap();
    assert!(
        !text.is_empty() && text.len() <= 1024,
        "{} bytes",
        text.len()
    );
}
