//! The tutorial's broadcast server (`examples/udp-broadcast-tutorial.rs`),
//! run for real: end to end with Rust alone, then against Python programs
//! written the tutorial's way (`tests/python/`), then against the lesson's
//! own `udp-broadcast discover`. Every datagram goes to 127.0.0.1 or to the
//! loopback broadcast address 127.255.255.255, so nothing leaves this
//! machine. The docs page's "Break it" experiments are checked here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::Output;
use std::time::Duration;

use common::testing::{self, run, uninterrupted, Lesson, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-broadcast");
const SERVER_PY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/broadcast_server.py"
);
const CLIENT_PY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/broadcast_client.py"
);

/// How long to listen for a datagram that should *not* come.
const QUIET: Duration = Duration::from_millis(300);

fn example() -> String {
    testing::example(env!("CARGO_MANIFEST_DIR"), "udp-broadcast-tutorial")
}

/// The example on `port` ("0": the kernel picks one).
fn start_example(port: &str) -> Lesson {
    Lesson::start(&example(), &[port])
}

/// A UDP port nobody on this machine holds. The example, like the tutorial,
/// sets SO_REUSEADDR before bind, so on Linux its port 0 may be given a port
/// that another SO_REUSEADDR socket of a parallel test already has, and the
/// two would hear each other's broadcasts. A bind without SO_REUSEADDR is
/// never given a port in use: ask for one that way, free it, pass it on.
fn free_port() -> String {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.local_addr().unwrap().port().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A client socket on `local` (an address of 127.0.0.0/8) that may
/// broadcast, with a receive timeout.
fn client_on(local: &str) -> UdpSocket {
    let socket = UdpSocket::bind(format!("{local}:0")).unwrap();
    socket.set_broadcast(true).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

/// The next reply to `client`, as text, with its sender.
fn reply(client: &UdpSocket) -> (String, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = uninterrupted(|| client.recv_from(&mut buf)).expect("no reply in time");
    (text(&buf[..n]), from)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn loopback_broadcast(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 255, 255, 255], port))
}

/// `udp-broadcast discover` to the loopback broadcast address on `port`.
fn lesson_discover(port: u16, args: &[&str]) -> Output {
    let port = port.to_string();
    let mut all = vec!["discover", "--port", &port];
    all.extend_from_slice(args);
    run(BIN, &all, "", WAIT)
}

/// The Python sender: `broadcast_client.py HOST PORT MESSAGE REPLIES`.
fn python_client(python: &str, host: &str, port: u16, message: &str, replies: usize) -> Output {
    let port = port.to_string();
    let replies = replies.to_string();
    run(
        python,
        &[CLIENT_PY, host, &port, message, &replies],
        "",
        WAIT,
    )
}

#[test]
fn example_answers_unicast_and_broadcast() {
    let server = start_example(&free_port());
    let port = server.addr().port();
    assert_eq!(server.addr().to_string(), format!("0.0.0.0:{port}"));

    for (to, message) in [
        (loopback(port), "hello"),
        (loopback_broadcast(port), "anyone?"),
    ] {
        let client = client_on("127.0.0.1");
        client.send_to(message.as_bytes(), to).unwrap();
        assert_eq!(reply(&client), ("Server response".into(), loopback(port)));
        let me = client.local_addr().unwrap();
        assert_eq!(
            server.next_stdout_line(),
            format!("Received from {me}: {message}")
        );
    }
}

/// Break it: the example answers every sender, whoever it is. On loopback
/// every address of 127.0.0.0/8 is this machine, so this shows only that
/// nothing is checked; tests/namespaces.rs shows it answering another host.
#[test]
#[cfg_attr(
    windows,
    ignore = "under Wine a UDP socket bound to 127.0.0.2 reports that address, but its datagrams arrive from 127.0.0.1"
)]
fn example_answers_every_sender() {
    let server = start_example(&free_port());
    let port = server.addr().port();
    for local in ["127.0.0.1", "127.0.0.2", "127.45.6.7"] {
        let client = client_on(local);
        client.send_to(b"who are you?", loopback(port)).unwrap();
        assert_eq!(reply(&client).0, "Server response");
        let me = client.local_addr().unwrap();
        assert_eq!(
            server.next_stdout_line(),
            format!("Received from {me}: who are you?")
        );
    }
    // Junk gets the same answer as a question.
    let client = client_on("127.0.0.1");
    client.send_to(b"", loopback(port)).unwrap();
    assert_eq!(reply(&client).0, "Server response");
}

/// Break it: one datagram that is not UTF-8 ends the example (exit 1, an
/// error message, no panic), and nobody gets an answer after that.
#[test]
fn invalid_utf8_kills_the_example() {
    let mut server = start_example(&free_port());
    let port = server.addr().port();
    let client = client_on("127.0.0.1");
    client.send_to(&[0xff, 0xfe, b'!'], loopback(port)).unwrap();
    let status = server.wait_exit(WAIT);
    let stderr = server.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("is not UTF-8"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    client.set_read_timeout(Some(QUIET)).unwrap();
    // The port is closed now: the send may work or report the ICMP error of
    // an earlier one, but no reply comes.
    let _ = client.send_to(b"hello?", loopback(port));
    let mut buf = [0u8; 64];
    assert!(client.recv_from(&mut buf).is_err());
}

/// Break it: a sender without SO_BROADCAST cannot reach the example through
/// the broadcast address (EACCES, Permission denied); the example never
/// sees that request. The same sender with the option gets an answer.
#[test]
fn sender_without_so_broadcast_gets_eacces() {
    let server = start_example(&free_port());
    let port = server.addr().port();

    let out = lesson_discover(port, &["--without-so-broadcast"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The OS's words for EACCES; Windows has its own for WSAEACCES.
    let denied = if cfg!(windows) {
        "(os error 10013)"
    } else {
        "Permission denied"
    };
    assert!(stderr.contains(denied), "{stderr}");

    let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
    let refused = plain
        .send_to(b"hello", loopback_broadcast(port))
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PermissionDenied, "{refused}");

    // The first line the example prints is for this request: the two
    // refused ones never left this machine's kernel.
    let client = client_on("127.0.0.1");
    client.send_to(b"hello", loopback_broadcast(port)).unwrap();
    assert_eq!(reply(&client).0, "Server response");
    let me = client.local_addr().unwrap();
    assert_eq!(
        server.next_stdout_line(),
        format!("Received from {me}: hello")
    );
}

/// Break it: two copies on one port (SO_REUSEADDR) both get every broadcast
/// and both answer, but a unicast datagram reaches only one of them.
#[test]
fn two_copies_share_broadcasts_not_unicast() {
    let first = start_example(&free_port());
    let port = first.addr().port();
    let second = start_example(&port.to_string());
    assert_eq!(second.addr(), first.addr());

    let client = client_on("127.0.0.1");
    client
        .send_to(b"everyone", loopback_broadcast(port))
        .unwrap();
    for _ in 0..2 {
        assert_eq!(reply(&client), ("Server response".into(), loopback(port)));
    }
    let me = client.local_addr().unwrap();
    for copy in [&first, &second] {
        assert_eq!(
            copy.next_stdout_line(),
            format!("Received from {me}: everyone")
        );
    }

    let client = client_on("127.0.0.1");
    client.send_to(b"just one", loopback(port)).unwrap();
    assert_eq!(reply(&client).0, "Server response");
    client.set_read_timeout(Some(QUIET)).unwrap();
    let mut buf = [0u8; 64];
    assert!(client.recv_from(&mut buf).is_err(), "a second answer came");
    let heard: Vec<String> = [&first, &second]
        .iter()
        .filter_map(|copy| copy.stdout_line(QUIET))
        .collect();
    let me = client.local_addr().unwrap();
    assert_eq!(heard, [format!("Received from {me}: just one")]);
}

/// Break it: Ctrl+C kills the example by the signal itself: no exit code,
/// not a word on stderr.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn ctrl_c_kills_the_example_silently() {
    let mut server = start_example(&free_port());
    server.interrupt();
    let status = server.wait_exit(WAIT);
    assert_eq!(status.code(), None, "it exited by itself: {status}");
    assert_eq!(testing::killed_by(status), Some(2), "{status}");
    assert_eq!(server.stderr(), "");
}

/// Port 0: the kernel picks a port, and the `listening on` line shows it.
/// (No traffic here: the other tests use `free_port`, see there why.)
#[test]
fn example_takes_port_0() {
    let server = start_example("0");
    let addr = server.addr();
    assert!(addr.ip().is_unspecified(), "{addr}");
    assert_ne!(addr.port(), 0, "{addr}");
}

/// A port that is not a number ends the example with exit 1 and a message.
#[test]
fn example_refuses_a_bad_port() {
    let out = run(&example(), &["http"], "", WAIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bad port http: invalid digit"), "{stderr}");
}

/// Interop: the tutorial-style Python sender, broadcast and unicast, gets
/// the example's answer; the example prints the Python message.
#[test]
fn python_client_gets_the_example_answer() {
    let Some(python) = testing::python3("python_client_gets_the_example_answer") else {
        return;
    };
    let server = start_example(&free_port());
    let port = server.addr().port();
    for host in ["127.255.255.255", "127.0.0.1"] {
        let out = python_client(python, host, port, "hello from python", 1);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("Received from ('127.0.0.1', {port}): Server response\n")
        );
        let line = server.next_stdout_line();
        assert!(
            line.starts_with("Received from 127.0.0.1:") && line.ends_with(": hello from python"),
            "{line}"
        );
    }
}

/// Interop, as far as the formats agree: the lesson's `discover` reaches the
/// example, which prints the request and answers it, but "Server response"
/// is not a `HERE <name>` reply, so discover logs it, drops it, and reports
/// no responders.
#[test]
fn lesson_discover_reaches_the_example() {
    let server = start_example(&free_port());
    let port = server.addr().port();
    let out = lesson_discover(port, &["--wait-ms", "300"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let dropped = format!(
        "ignored 15 bytes from 127.0.0.1:{port}: not a discovery reply: \"Server response\""
    );
    assert!(stderr.contains(&dropped), "{stderr}");
    assert!(stderr.contains("no responders"), "{stderr}");
    let line = server.next_stdout_line();
    assert!(
        line.starts_with("Received from 127.0.0.1:") && line.ends_with(": DISCOVER"),
        "{line}"
    );
}

/// Interop: the lesson's `discover` against the tutorial's Python server
/// goes the same way as against the example.
#[test]
fn lesson_discover_reaches_the_python_server() {
    let Some(python) = testing::python3("lesson_discover_reaches_the_python_server") else {
        return;
    };
    let server = Lesson::start(python, &[SERVER_PY, "", &free_port()]);
    let port = server.addr().port();
    assert_eq!(server.addr().to_string(), format!("0.0.0.0:{port}"));
    assert_eq!(
        server.next_stdout_line(),
        format!("Broadcast UDP server on port {port}")
    );
    let out = lesson_discover(port, &["--wait-ms", "300"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "ignored 15 bytes from 127.0.0.1:{port}: not a discovery reply: \"Server response\""
        )),
        "{stderr}"
    );
    let line = server.next_stdout_line();
    assert!(
        line.starts_with("Received from ('127.0.0.1', ") && line.ends_with("): DISCOVER"),
        "{line}"
    );
}

/// Interop: the Python sender speaks the lesson's protocol when told to, and
/// the lesson's listener answers it, broadcast and unicast.
#[test]
fn python_client_finds_the_lesson_listener() {
    let Some(python) = testing::python3("python_client_finds_the_lesson_listener") else {
        return;
    };
    let listener = Lesson::start(BIN, &["listen", "--port", "0", "--name", "alpha"]);
    let port = listener.addr().port();
    for host in ["127.255.255.255", "127.0.0.1"] {
        let out = python_client(python, host, port, "DISCOVER", 1);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("Received from ('127.0.0.1', {port}): HERE alpha\n")
        );
    }
    listener.expect_stderr("discovery request from 127.0.0.1:");
}

/// Interop: the Python server and the example share one port, as SO_REUSEADDR
/// allows when both set it before bind; one broadcast reaches both, and the
/// Python sender hears two answers.
#[test]
fn example_and_python_server_share_a_port() {
    let Some(python) = testing::python3("example_and_python_server_share_a_port") else {
        return;
    };
    let py_server = Lesson::start(python, &[SERVER_PY, "", &free_port()]);
    let port = py_server.addr().port();
    let server = start_example(&port.to_string());
    let out = python_client(python, "127.255.255.255", port, "both of you", 2);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let answer = format!("Received from ('127.0.0.1', {port}): Server response\n");
    assert_eq!(text(&out.stdout), answer.repeat(2));
    assert!(server.next_stdout_line().ends_with(": both of you"));
    py_server.next_stdout_line(); // "Broadcast UDP server on port ..."
    assert!(py_server.next_stdout_line().ends_with(": both of you"));
}
