//! The behaviour both UDP servers share, as test scenarios. `udp-server` and
//! `udp-threaded-server` each run every scenario against their own binary, so
//! the two lessons are held to exactly the same contract.

use std::net::SocketAddr;
use std::time::Duration;

pub use super::terminate_idle;
use super::{
    expect_help, expect_usage_errors, run, udp_request, udp_socket_for, udp_text,
    udp_text_with_retries, uninterrupted, v4_loopback, v6_loopback, Lesson, WAIT,
};

/// Exit within this long of SIGINT or SIGTERM.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(250);

/// Every `--reply` mode answers as the tutorials do.
pub fn every_reply_mode(bin: &str) {
    let cases: &[(&str, &str, &str)] = &[
        ("received", "hello", "Message received"),
        ("ack", "hello", "Server acknowledges: hello"),
        ("echo", "hello", "Echo: hello"),
        ("upper", "héllo", "Response: HÉLLO"),
        ("command", "ECHO a b", "a b"),
        ("command", "DANCE", "Unknown command"),
    ];
    for (mode, message, expected) in cases {
        let server = Lesson::start(bin, &["--port", "0", "--reply", mode]);
        assert_eq!(
            udp_text(server.addr(), message),
            *expected,
            "--reply {mode}"
        );
    }
    let server = Lesson::start(bin, &["--port", "0", "--reply", "command"]);
    let time = udp_text(server.addr(), "TIME");
    assert!(
        time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    server.expect_stderr("from 127.0.0.1:");
}

/// Bytes that are not UTF-8 get `Error: Invalid encoding`, and a log line.
pub fn invalid_utf8(bin: &str) {
    let server = Lesson::start(bin, &["--port", "0", "--reply", "echo"]);
    assert_eq!(
        udp_request(server.addr(), &[0xff, 0xfe, b'a']),
        b"Error: Invalid encoding"
    );
    server.expect_stderr("3 bytes, not UTF-8");
    assert_eq!(
        udp_request(server.addr(), &[0xff]),
        b"Error: Invalid encoding"
    );
    server.expect_stderr("1 byte, not UTF-8");
    assert_eq!(udp_text(server.addr(), "still here"), "Echo: still here");
}

/// A zero-length datagram is a message like any other.
pub fn empty_datagram(bin: &str) {
    let server = Lesson::start(bin, &["--port", "0", "--reply", "echo"]);
    assert_eq!(udp_text(server.addr(), ""), "Echo: ");
}

/// The largest IPv4 datagram, 65,507 bytes: over the default 1024-byte limit
/// it is reported; under `--buffer-size 65507` it is accepted, and an echo
/// that would not fit in one datagram is refused in words.
pub fn largest_datagram(bin: &str) {
    let big = vec![b'x'; 65_507];
    let server = Lesson::start(bin, &["--port", "0"]);
    let reply = String::from_utf8(udp_request(server.addr(), &big)).unwrap();
    assert_eq!(reply, "Error: Message too long (65507 bytes, limit 1024)");

    let server = Lesson::start(bin, &["--port", "0", "--buffer-size", "65507"]);
    assert_eq!(udp_request(server.addr(), &big), b"Message received");
    let server = Lesson::start(
        bin,
        &["--port", "0", "--buffer-size", "65507", "--reply", "echo"],
    );
    assert_eq!(
        udp_request(server.addr(), &big),
        b"Error: Reply too long (65513 bytes)"
    );
}

/// A datagram over `--buffer-size` is detected, logged and answered.
pub fn oversize_reported(bin: &str) {
    let server = Lesson::start(
        bin,
        &["--port", "0", "--buffer-size", "16", "--reply", "echo"],
    );
    let reply = udp_text(server.addr(), "this message is longer than sixteen bytes");
    assert_eq!(reply, "Error: Message too long (41 bytes, limit 16)");
    server.expect_stderr("41 bytes, over the 16-byte limit");
    assert_eq!(udp_text(server.addr(), "short"), "Echo: short");
}

/// 1,000 datagrams as fast as one socket can send them; afterwards a new
/// client is still answered. (Some of the flood may be dropped by the kernel
/// when the queue is full: that is UDP, and it is not what this checks.)
pub fn flood_then_answer(bin: &str) {
    let server = Lesson::start(bin, &["--port", "0", "--reply", "echo"]);
    let flood = udp_socket_for(server.addr());
    for i in 0..1000u32 {
        let _ = flood.send_to(format!("flood {i}").as_bytes(), server.addr());
    }
    let reply = udp_text_with_retries(server.addr(), "after the flood");
    assert_eq!(reply, "Echo: after the flood");
    assert!(!server.stderr().contains("panicked"));
}

/// The same server over IPv6 loopback. On `::` it takes IPv4 clients too,
/// logged as `::ffff:127.0.0.1`; with `--ipv6-only` it does not.
pub fn ipv6(bin: &str) {
    let server = Lesson::start(bin, &["--host", "::1", "--port", "0", "--reply", "ack"]);
    assert!(server.addr().is_ipv6());
    assert_eq!(udp_text(server.addr(), "six"), "Server acknowledges: six");

    let both = Lesson::start(bin, &["--host", "::", "--port", "0", "--reply", "ack"]);
    let port = both.addr().port();
    assert_eq!(
        udp_text(v4_loopback(port), "four"),
        "Server acknowledges: four"
    );
    both.expect_stderr("from [::ffff:127.0.0.1]:");
    assert_eq!(
        udp_text(v6_loopback(port), "six"),
        "Server acknowledges: six"
    );

    let only = Lesson::start(bin, &["--host", "::", "--ipv6-only", "--port", "0"]);
    let port = only.addr().port();
    assert_eq!(udp_text(v6_loopback(port), "six"), "Message received");
    // Nobody has the IPv4 port. A connected UDP socket hears the ICMP "port
    // unreachable" that a datagram there brings back, as an error. Wine does
    // not pass that error on (its recv just times out), Windows does.
    if super::under_wine() {
        eprintln!("skipped the port-unreachable check: Wine does not report it");
        return;
    }
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(WAIT)).unwrap();
    probe.connect(v4_loopback(port)).unwrap();
    probe.send(b"four").unwrap();
    let refused = uninterrupted(|| probe.recv(&mut [0u8; 64])).unwrap_err();
    assert!(
        matches!(
            refused.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
        ),
        "{refused:?}"
    );
}

/// SIGINT while a request is being worked on: the reply still goes out, the
/// server logs `server closed` and exits 0 within 250 ms.
pub fn interrupt_mid_request(bin: &str) {
    let mut server = Lesson::start(bin, &["--port", "0", "--delay-ms", "30000"]);
    let client = udp_socket_for(server.addr());
    client.send_to(b"slow one", server.addr()).unwrap();
    server.expect_stderr("\"slow one\"");
    let (took, status) = server.interrupt_and_time();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    assert!(took <= SHUTDOWN_BUDGET, "took {took:?} to stop");
    let mut buf = [0u8; 64];
    let (n, _) =
        uninterrupted(|| client.recv_from(&mut buf)).expect("the in-flight request got no reply");
    assert_eq!(&buf[..n], b"Message received");
    let log = server.stderr();
    assert!(log.contains("server closed"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// Bad flags: exit 2, one line that names the bad value.
pub fn bad_flags(bin: &str) {
    let cases: &[(&[&str], &str)] = &[
        (&["--port", "abc"], "'abc' for --port"),
        (&["--port", "70000"], "'70000' for --port"),
        (&["--buffer-size", "0"], "'0' for --buffer-size"),
        (&["--buffer-size", "65508"], "'65508' for --buffer-size"),
        (&["--delay-ms", "-5"], "'-5' for --delay-ms"),
        (&["--reply", "loud"], "'loud' for --reply"),
        (&["--host", "bad host name"], "bad host name"),
        (&["--bogus"], "--bogus"),
        (&["--port"], "--port needs a value"),
        (&["--ipv6-only"], "--ipv6-only needs an IPv6 --host"),
    ];
    expect_usage_errors(bin, cases);
    expect_help(
        bin,
        &[
            "--port PORT",
            "[default: 6532]",
            "--reply MODE",
            "Examples:",
        ],
    );
}

/// A port that is taken: exit 1, the address named, `--port 0` suggested.
pub fn port_in_use(bin: &str) {
    let holder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = holder.local_addr().unwrap();
    let port = addr.port().to_string();
    let out = run(bin, &["--port", &port], "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&addr.to_string()) && stderr.contains("--port 0"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// The tutorial examples (`examples/*-tutorial.rs`): what they do right, and
// the breaks that the lesson pages show. `bin` is the example's path, from
// `testing::example`; it takes its bind address as its only argument.

/// Start a tutorial example on `addr` (`127.0.0.1:0`, `[::1]:0`).
pub fn tutorial_start(bin: &str, addr: &str) -> Lesson {
    Lesson::start(bin, &[addr])
}

/// `Message received` to everyone, and `Received data from ADDR: TEXT` on
/// stdout, over IPv4 and IPv6.
pub fn tutorial_answers(bin: &str) {
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        let server = tutorial_start(bin, addr);
        let client = udp_socket_for(server.addr());
        client.send_to("héllo".as_bytes(), server.addr()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = uninterrupted(|| client.recv_from(&mut buf)).unwrap();
        assert_eq!((&buf[..n], from), (&b"Message received"[..], server.addr()));
        let line = server.stdout_line(WAIT).expect("no `Received data` line");
        let me = client.local_addr().unwrap();
        assert_eq!(line, format!("Received data from {me}: héllo"));
    }
}

/// A tutorial-style Python client (`script HOST PORT`) gets its answer.
pub fn tutorial_python_client(bin: &str, python: &str, script: &str) {
    let server = tutorial_start(bin, "127.0.0.1:0");
    let port = server.addr().port().to_string();
    let out = run(python, &[script, "127.0.0.1", &port], "", WAIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout,
        format!(
            "Sent message to 127.0.0.1:{port}\n\
             Received response from ('127.0.0.1', {port}): Message received\n"
        )
    );
    let line = server.stdout_line(WAIT).expect("no `Received data` line");
    assert!(line.ends_with(": Hello, Server!"), "{line}");
}

/// Tutorial 5's Python client (`script HOST PORT`, lines on stdin) against
/// the example: a reply per line, then `exit`.
pub fn tutorial_python_line_client(bin: &str, python: &str, script: &str) {
    let server = tutorial_start(bin, "127.0.0.1:0");
    let port = server.addr().port().to_string();
    let out = run(
        python,
        &[script, "127.0.0.1", &port],
        "one\ntwo\nEXIT\n",
        WAIT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout
            .matches("Server response: Message received\n")
            .count(),
        2,
        "{stdout}"
    );
    for text in ["one", "two"] {
        let line = server.stdout_line(WAIT).expect("no `Received data` line");
        assert!(line.ends_with(&format!(": {text}")), "{line}");
    }
}

/// Break: a 2,000-byte datagram is cut to 1,024 bytes, and the sender is
/// still told `Message received`.
pub fn tutorial_cuts_long_datagrams(bin: &str) {
    let server = tutorial_start(bin, "127.0.0.1:0");
    let reply = udp_request(server.addr(), &[b'x'; 2000]);
    assert_eq!(reply, b"Message received");
    let line = server.stdout_line(WAIT).expect("no `Received data` line");
    let text = line.rsplit(": ").next().unwrap();
    assert_eq!(text, "x".repeat(1024), "the datagram was not cut at 1024");
}

/// Break: Ctrl+C kills the tutorial server at once, by the signal, without
/// a word on stderr (no `server closed`).
pub fn tutorial_killed_by_ctrl_c(bin: &str) {
    let mut server = tutorial_start(bin, "127.0.0.1:0");
    assert_eq!(udp_text(server.addr(), "hi"), "Message received");
    let (_, status) = server.interrupt_and_time();
    assert_eq!(status.code(), None, "exited instead of being killed");
    assert_eq!(super::killed_by(status), Some(super::SIGINT));
    assert_eq!(server.stderr(), "");
}

/// A bind address that is not `IP:PORT` is an error: a message and exit 1.
pub fn tutorial_bad_address(bin: &str) {
    let out = run(bin, &["localhost"], "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("localhost"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
