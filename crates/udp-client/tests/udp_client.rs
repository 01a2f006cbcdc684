//! udp-client, run for real against small UDP peers made in the test, on
//! 127.0.0.1 and ::1, port 0. (scripts/demo.sh drives it against udp-server.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::thread;

use common::testing::{run, spawn_piped, uninterrupted, wait_output, WAIT};
use peer::{peer, stdout};

mod peer;

const CLIENT: &str = env!("CARGO_BIN_EXE_udp-client");

#[test]
fn one_shot_prints_the_reply() {
    let (port, server) = peer("127.0.0.1", "Server acknowledges: ", 1);
    let out = run(
        CLIENT,
        &["--port", &port, "--message", "Hello, Server!"],
        "",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "Server acknowledges: Hello, Server!\n");
    assert_eq!(server.join().unwrap(), ["Hello, Server!"]);
}

#[test]
fn interactive_from_stdin_until_exit() {
    let (port, server) = peer("127.0.0.1", "Echo: ", 2);
    let out = run(
        CLIENT,
        &["--port", &port],
        "one\ntwo\nEXIT\nnever sent\n",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0));
    // No prompt: stdin is a pipe, not a person.
    assert_eq!(stdout(&out), "Echo: one\nEcho: two\n");
    assert_eq!(server.join().unwrap(), ["one", "two"]);
}

#[test]
fn interactive_ends_at_end_of_input() {
    let (port, server) = peer("127.0.0.1", "got ", 1);
    let out = run(
        CLIENT,
        &["--port", &port],
        "last line without newline",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "got last line without newline\n");
    server.join().unwrap();
}

/// Bytes that are not UTF-8 are sent as they are, not refused.
#[test]
fn stdin_bytes_are_sent_as_they_are() {
    let (port, server) = peer("127.0.0.1", "", 1);
    let mut child = spawn_piped(CLIENT, &["--port", &port]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\xff\xfeA\r\n")
        .unwrap();
    let out = wait_output(child, WAIT);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.join().unwrap(), ["\u{fffd}\u{fffd}A"]);
}

#[test]
fn ipv6() {
    let (port, server) = peer("::1", "v6 ", 1);
    let out = run(
        CLIENT,
        &["--host", "::1", "--port", &port, "--message", "six"],
        "",
        WAIT,
    );
    assert_eq!(stdout(&out), "v6 six\n");
    server.join().unwrap();
}

/// A peer that reads but never answers: the client resends, then gives up
/// with exit 1 and a message naming the address.
#[test]
fn no_reply_means_exit_1_after_retries() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let port = addr.port().to_string();
    let args = [
        "--port",
        &port,
        "--message",
        "anyone?",
        "--timeout-ms",
        "100",
        "--retries",
        "2",
    ];
    let out = run(CLIENT, &args, "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no reply from {addr} after 3 tries")),
        "{stderr}"
    );
    // Three copies of the request reached the silent peer.
    silent.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        let (n, _) = uninterrupted(|| silent.recv_from(&mut buf)).unwrap();
        assert_eq!(&buf[..n], b"anyone?");
    }
}

/// The first request is "lost" (the peer ignores it); the resend is answered.
#[test]
fn a_lost_request_is_resent() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port().to_string();
    let server = thread::spawn(move || {
        let mut buf = [0u8; 64];
        uninterrupted(|| peer.recv_from(&mut buf)).unwrap(); // dropped on the floor
        let (n, from) = uninterrupted(|| peer.recv_from(&mut buf)).unwrap();
        peer.send_to(&buf[..n], from).unwrap();
    });
    let args = [
        "--port",
        &port,
        "--message",
        "again",
        "--timeout-ms",
        "200",
        "--retries",
        "3",
    ];
    let out = run(CLIENT, &args, "", WAIT);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "again\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sending again (1 of 3)"));
}

/// A duplicate (late) reply to the first message must not be taken for the
/// reply to the second. The second line reaches the client's stdin only once
/// both copies of reply 1 have been sent, so the duplicate is surely queued.
#[test]
fn a_late_duplicate_reply_is_not_the_next_answer() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port().to_string();
    let (sent_twice, duplicate_queued) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (_, from) = uninterrupted(|| peer.recv_from(&mut buf)).unwrap();
        peer.send_to(b"reply 1", from).unwrap();
        peer.send_to(b"reply 1", from).unwrap();
        sent_twice.send(()).unwrap();
        let (_, from) = uninterrupted(|| peer.recv_from(&mut buf)).unwrap();
        peer.send_to(b"reply 2", from).unwrap();
    });
    let mut child = spawn_piped(CLIENT, &["--port", &port, "--timeout-ms", "5000"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    duplicate_queued.recv_timeout(WAIT).unwrap();
    stdin.write_all(b"second\n").unwrap();
    drop(stdin);
    let out = wait_output(child, WAIT);
    server.join().unwrap();
    assert_eq!(stdout(&out), "reply 1\nreply 2\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropping a late reply"));
}

/// A server's control characters are escaped, never sent to our terminal.
#[test]
fn replies_cannot_drive_the_terminal() {
    let (port, server) = peer("127.0.0.1", "\x1b]0;pwned\x07", 1);
    let out = run(CLIENT, &["--port", &port, "--message", "hi"], "", WAIT);
    assert_eq!(stdout(&out), "\\u{1b}]0;pwned\\u{7}hi\n");
    server.join().unwrap();
}

/// `--host 0.0.0.0` (what the server binds to listen everywhere) means this
/// machine to a client.
#[test]
fn unspecified_host_means_this_machine() {
    let (port, server) = peer("127.0.0.1", "", 1);
    let out = run(
        CLIENT,
        &["--host", "0.0.0.0", "--port", &port, "--message", "x"],
        "",
        WAIT,
    );
    assert_eq!(stdout(&out), "x\n");
    server.join().unwrap();
}

/// Over 65,507 bytes cannot be one datagram: exit 1 with advice.
#[test]
#[cfg_attr(
    windows,
    ignore = "a Windows command line holds at most 32,767 characters, too few for a 65,508-byte --message"
)]
fn a_message_too_big_for_a_datagram() {
    let (port, _server) = peer("127.0.0.1", "", 0);
    let big = "x".repeat(65_508);
    let out = run(CLIENT, &["--port", &port, "--message", &big], "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("does not fit in one UDP datagram"),
        "{stderr}"
    );
}

/// stdout closed early (`udp-client | head -1`): an error line and exit 1,
/// never a panic. The reply is sent only after the pipe's read end is gone
/// (were it sent first, the client could write before the close, and pass).
#[test]
fn closed_stdout_is_an_error_not_a_panic() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let mut child = Command::new(CLIENT)
        .args(["--port", &port, "--message", "hi"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before the reply
    let mut buf = [0u8; 64];
    let (n, from) = uninterrupted(|| server.recv_from(&mut buf)).unwrap();
    server.send_to(&buf[..n], from).unwrap();
    let out = wait_output(child, WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--port", "x"][..],
        &["--port", "0"],
        &["--timeout-ms", "0"],
        &["--retries", "-1"],
        &["--host", "bad host name"],
        &["--what"],
    ] {
        let out = run(CLIENT, args, "", WAIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    let help = run(CLIENT, &["--help"], "", WAIT);
    let text = stdout(&help);
    assert!(
        text.contains("--timeout-ms MS") && text.contains("[default: 6532]"),
        "{text}"
    );
}

/// A datagram from anyone but the server is not the answer: it is logged,
/// skipped, and the server's real reply is printed.
#[test]
fn a_stranger_is_not_the_server() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let child = spawn_piped(CLIENT, &["--port", &port, "--message", "hello"]);
    let mut buf = [0u8; 64];
    let (_, client) = uninterrupted(|| server.recv_from(&mut buf)).unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(b"pay 100 to Mallory", client).unwrap();
    // The stranger's datagram is queued before the real reply is sent.
    server.send_to(b"the real reply", client).unwrap();
    let out = wait_output(child, WAIT);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "the real reply\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "ignoring a datagram from {}: it is not the server",
            stranger.local_addr().unwrap()
        )),
        "{stderr}"
    );
}

/// One try is "1 try", not "1 tries".
#[test]
fn no_reply_after_one_try_says_try() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let port = addr.port().to_string();
    let args = [
        "--port",
        &port,
        "--message",
        "x",
        "--timeout-ms",
        "50",
        "--retries",
        "0",
    ];
    let out = run(CLIENT, &args, "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no reply from {addr} after 1 try, 50ms each")),
        "{stderr}"
    );
}

/// Ctrl+D at the prompt (on a real terminal, a pseudo-terminal here) ends
/// the prompt's line, so the shell's next prompt starts on a line of its own.
#[test]
fn ctrl_d_at_the_prompt_ends_the_line() {
    let Some(python) = common::testing::python3("ctrl_d_at_the_prompt_ends_the_line") else {
        return;
    };
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ctrl_d.py");
    let out = run(python, &[tool, "quits)> ", CLIENT, "--port", "9"], "", WAIT);
    assert_eq!(
        stdout(&out),
        "b\"message ('exit' quits)> \\r\\n\"\nexit 0\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
