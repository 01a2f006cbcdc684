//! The tutorial's program, `examples/udp-client-tutorial.rs`: against a
//! Rust peer, a tutorial-5 Python server and udp-server's example, and the
//! breaks shown on docs/udp-client.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::testing::{
    example, python3, run, spawn_piped, uninterrupted, wait_output, Lesson, WAIT,
};

fn tutorial() -> String {
    example(env!("CARGO_MANIFEST_DIR"), "udp-client-tutorial")
}

const PYTHON_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/tutorial5_server.py"
);

/// A peer on 127.0.0.1 that answers `count` datagrams with `Message
/// received`, and returns what it got.
fn peer(count: usize) -> (String, JoinHandle<Vec<String>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 2048];
        for _ in 0..count {
            let (n, from) = uninterrupted(|| socket.recv_from(&mut buf)).unwrap();
            socket.send_to(b"Message received", from).unwrap();
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        seen
    });
    (addr, handle)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Lines until `exit` (any case), one reply each; no prompt in a pipe.
#[test]
fn tutorial_client_until_exit() {
    let (addr, server) = peer(2);
    let out = run(&tutorial(), &[&addr], "one\ntwo\nExit\nnever sent\n", WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Server response: Message received\nServer response: Message received\n"
    );
    assert_eq!(server.join().unwrap(), ["one", "two"]);
}

#[test]
fn tutorial_client_against_the_python_server() {
    let Some(python) = python3("tutorial_client_against_the_python_server") else {
        return;
    };
    let server = Lesson::start(python, &["-u", PYTHON_SERVER, "127.0.0.1", "0"]);
    let addr = server.addr().to_string();
    let out = run(&tutorial(), &[&addr], "hello\nexit\n", WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Server response: Message received\n");
    let said: Vec<_> = (0..3).filter_map(|_| server.stdout_line(WAIT)).collect();
    assert!(
        said[0].starts_with("Connection from ('127.0.0.1', "),
        "{said:?}"
    );
    assert_eq!(said[1], "Message from client: hello");
    assert!(said[2].starts_with("Acknowledgment sent to "), "{said:?}");
}

/// Both tutorial examples together, Rust alone. udp-server's example is
/// built by a workspace run (`cargo test --workspace`, as CI does); with
/// `cargo test -p udp-client` alone it is not, and this test says so.
#[test]
fn tutorial_client_against_the_server_example() {
    let client = tutorial();
    let peer = Path::new(&client).with_file_name(format!(
        "udp-server-tutorial{}",
        std::env::consts::EXE_SUFFIX
    ));
    if !peer.exists() {
        eprintln!("skipped: udp-server's example is not built (run cargo test --workspace)");
        return;
    }
    let server = Lesson::start(peer.to_str().unwrap(), &["127.0.0.1:0"]);
    let addr = server.addr().to_string();
    let out = run(&client, &[&addr], "hi there\nEXIT\n", WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Server response: Message received\n");
    let line = server.stdout_line(WAIT).unwrap();
    assert!(line.ends_with(": hi there"), "{line}");
}

/// Break: no reply (here: a peer that reads and never answers) and the
/// tutorial client waits for ever. It is still waiting long after the
/// lesson client would have given up, and has to be killed.
#[test]
fn tutorial_client_waits_for_ever() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_read_timeout(Some(WAIT)).unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let mut child = spawn_piped(&tutorial(), &[&addr]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"anyone?\n").unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = uninterrupted(|| silent.recv_from(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"anyone?");
    // The request has arrived; watch the client for a while.
    let watch = Duration::from_millis(500);
    let start = Instant::now();
    while start.elapsed() < watch {
        assert!(child.try_wait().unwrap().is_none(), "the client gave up");
        thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Break: input that ends before `exit` (Ctrl+D, or the end of a pipe) is
/// an error, as `input()`'s EOFError is: exit 1.
#[test]
fn tutorial_client_dies_at_end_of_input() {
    let (addr, server) = peer(1);
    let out = run(&tutorial(), &[&addr], "hello\n", WAIT);
    assert_eq!(text(&out.stdout), "Server response: Message received\n");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("end of input before 'exit'"), "{stderr}");
    server.join().unwrap();
}

/// Break: any datagram is taken for the server's answer. A stranger that
/// learns the client's port gets its words printed as the server's.
#[test]
fn tutorial_client_believes_a_stranger() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let mut child = spawn_piped(&tutorial(), &[&addr]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    let mut buf = [0u8; 64];
    let (_, client) = uninterrupted(|| server.recv_from(&mut buf)).unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(b"pay 100 to Mallory", client).unwrap();
    stdin.write_all(b"exit\n").unwrap();
    drop(stdin);
    let out = wait_output(child, WAIT);
    assert_eq!(text(&out.stdout), "Server response: pay 100 to Mallory\n");
}

/// The same over IPv6 loopback.
#[test]
fn tutorial_client_over_ipv6() {
    let socket = UdpSocket::bind("[::1]:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = uninterrupted(|| socket.recv_from(&mut buf)).unwrap();
        socket.send_to(b"Message received", from).unwrap();
        buf[..n].to_vec()
    });
    let out = run(&tutorial(), &[&addr], "six\nexit\n", WAIT);
    assert_eq!(text(&out.stdout), "Server response: Message received\n");
    assert_eq!(server.join().unwrap(), b"six");
}

/// A server address that is not `IP:PORT` is an error: a message, exit 1.
#[test]
fn tutorial_client_bad_address() {
    let out = run(&tutorial(), &["localhost"], "", WAIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("localhost") && !stderr.contains("panicked"));
}
