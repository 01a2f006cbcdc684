//! The behaviour both TCP servers share, as test scenarios. `tcp-server` and
//! `tcp-threaded-server` each run every scenario against their own binary, so
//! the two lessons are held to exactly the same contract. Helpers for the
//! tests that differ (and for the client's tests) are here too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};

pub use super::terminate_idle;
use super::{expect_help, expect_usage_errors, run, uninterrupted, Lesson, WAIT};

/// Exit within this long of SIGINT or SIGTERM.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(250);

/// What the threaded server says past its connection cap (the protocol's
/// own constant, which `tcp-client` recognises).
pub const BUSY: &str = crate::options::tcp::BUSY_LINE;
/// What both servers say before closing a quiet connection.
pub const IDLE: &str = "Error: idle for too long, closing\n";
/// What both servers say to the clients they hang up on at Ctrl+C.
pub const SHUTTING_DOWN: &str = "Error: server shutting down\n";

/// Connect to `server`, with every read and write limited to [`WAIT`].
pub fn connect(server: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&server, WAIT).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// Read exactly `expected.len()` bytes and compare them with `expected`.
/// (A raw reply has no end marker, so the test says how long it must be.)
pub fn expect_bytes(stream: &mut TcpStream, expected: &str) {
    let mut buf = vec![0u8; expected.len()];
    stream
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("waiting for {expected:?}: {e}"));
    assert_eq!(String::from_utf8_lossy(&buf), expected);
}

/// Read until the server closes, and return what came (an error such as a
/// reset also ends it).
pub fn read_to_close(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match uninterrupted(|| stream.read(&mut buf)) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Assert that nothing has arrived on `stream` yet, without waiting.
pub fn assert_nothing_yet(stream: &TcpStream, what: &str) {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let result = (&*stream).read(&mut buf);
    stream.set_nonblocking(false).unwrap();
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("{what}: expected nothing yet, got {other:?}"),
    }
}

/// A client that behaves like the tutorial's: connect, send the whole
/// message, one recv(1024), close. Returns the reply.
pub fn seed_client(server: SocketAddr, message: &str) -> String {
    let mut stream = connect(server);
    stream.write_all(message.as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    let n = uninterrupted(|| stream.read(&mut buf)).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// One line framed request on a new connection.
pub fn line_request(server: SocketAddr, message: &str) -> String {
    let stream = connect(server);
    (&stream)
        .write_all(format!("{message}\n").as_bytes())
        .unwrap();
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

/// A server answering a fresh client with `Message received`, proving it is
/// still up and free.
pub fn still_serving(server: SocketAddr) {
    assert_eq!(seed_client(server, "still there?"), "Message received");
}

/// Count the threads of process `pid` (Linux: /proc/PID/status).
pub fn threads_of(pid: u32) -> usize {
    status_field(pid, "Threads:").parse().unwrap()
}

/// The resident memory of process `pid` in KiB (Linux: /proc/PID/status).
pub fn rss_kib(pid: u32) -> usize {
    status_field(pid, "VmRSS:")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap()
        .trim()
        .to_string()
}

/// Every `--reply` mode answers as the tutorials do (raw framing: the
/// replies carry no newline).
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
        let mut stream = connect(server.addr());
        stream.write_all(message.as_bytes()).unwrap();
        expect_bytes(&mut stream, expected);
    }
    let server = Lesson::start(bin, &["--port", "0", "--reply", "command"]);
    let mut stream = connect(server.addr());
    stream.write_all(b"TIME").unwrap();
    let mut time = [0u8; 27];
    stream.read_exact(&mut time).unwrap();
    let time = String::from_utf8_lossy(&time);
    assert!(time.ends_with('Z') && &time[10..11] == "T", "{time}");
    server.expect_stderr("127.0.0.1:");
    server.expect_stderr(": connected");
}

/// The tutorial's client (send `Hello, Server!` with no newline, one recv,
/// close) gets `Message received`; a client that keeps its connection (as in
/// the threaded tutorial) gets a reply to each message.
pub fn tutorial_clients(bin: &str) {
    let server = Lesson::start(bin, &["--port", "0"]);
    assert_eq!(
        seed_client(server.addr(), "Hello, Server!"),
        "Message received"
    );
    server.expect_stderr("\"Hello, Server!\"");
    server.expect_stderr("closed (the client hung up)");
    let mut stream = connect(server.addr());
    for message in ["one", "two", "three"] {
        stream.write_all(message.as_bytes()).unwrap();
        expect_bytes(&mut stream, "Message received");
    }
}

/// Line framing: several lines in one write get one reply each, `\r\n`
/// works, and a last line without a newline is answered when the client
/// shuts down its sending side.
pub fn line_framing(bin: &str) {
    let server = Lesson::start(
        bin,
        &["--port", "0", "--framing", "line", "--reply", "echo"],
    );
    let stream = connect(server.addr());
    (&stream).write_all(b"one\ntwo\r\nthr").unwrap();
    (&stream).write_all(b"ee\n\nlast").unwrap();
    stream.shutdown(Both::Write).unwrap();
    let mut reader = BufReader::new(&stream);
    let mut replies = String::new();
    reader.read_to_string(&mut replies).unwrap();
    assert_eq!(
        replies,
        "Echo: one\nEcho: two\nEcho: three\nEcho: \nEcho: last\n"
    );
    assert_eq!(line_request(server.addr(), "again"), "Echo: again\n");
}

/// Line framing with a small `--buffer-size`: a longer line gets one error
/// reply, is thrown away to its end, and the connection goes on.
pub fn line_too_long(bin: &str) {
    let server = Lesson::start(
        bin,
        &[
            "--port",
            "0",
            "--framing",
            "line",
            "--buffer-size",
            "16",
            "--reply",
            "echo",
        ],
    );
    let stream = connect(server.addr());
    let long = "x".repeat(100);
    (&stream)
        .write_all(format!("{long}\nsixteen bytes ok\nshort\n").as_bytes())
        .unwrap();
    let mut reader = BufReader::new(&stream);
    for expected in [
        "Error: Line too long (limit 16 bytes)\n",
        "Echo: sixteen bytes ok\n",
        "Echo: short\n",
    ] {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, expected);
    }
    server.expect_stderr("line over the 16-byte limit");
}

/// Bytes that are not UTF-8 get `Error: Invalid encoding`, in both framings.
pub fn invalid_utf8(bin: &str) {
    let server = Lesson::start(bin, &["--port", "0", "--reply", "echo"]);
    let mut stream = connect(server.addr());
    stream.write_all(&[0xff, 0xfe, b'a']).unwrap();
    expect_bytes(&mut stream, "Error: Invalid encoding");
    server.expect_stderr("3 bytes, not UTF-8");
    stream.write_all(b"fine").unwrap();
    expect_bytes(&mut stream, "Echo: fine");

    let server = Lesson::start(
        bin,
        &["--port", "0", "--reply", "echo", "--framing", "line"],
    );
    let mut stream = connect(server.addr());
    stream.write_all(b"\xc3\x28\nok\n").unwrap();
    expect_bytes(&mut stream, "Error: Invalid encoding\nEcho: ok\n");
    // One byte is "1 byte", not "1 bytes".
    stream.write_all(b"\xff\n").unwrap();
    expect_bytes(&mut stream, "Error: Invalid encoding\n");
    server.expect_stderr("1 byte, not UTF-8");
}

/// Peers that misbehave, one after another, in both framings: connect and
/// close at once; reset (SO_LINGER 0); 1 MiB of junk; a client that never
/// reads its replies; half a message and then silence. After each, a normal
/// client is still served (for the sequential server, that also proves the
/// bad peer let go of it).
pub fn hostile_peers(bin: &str) {
    for framing in ["raw", "line"] {
        let server = Lesson::start(
            bin,
            &[
                "--port",
                "0",
                "--framing",
                framing,
                "--reply",
                "echo",
                "--idle-timeout-ms",
                "300",
                "--buffer-size",
                "65536",
            ],
        );
        let addr = server.addr();
        let normal = |what: &str| {
            let reply = if framing == "line" {
                line_request(addr, "normal")
            } else {
                let mut stream = connect(addr);
                stream.write_all(b"normal").unwrap();
                let mut buf = [0u8; 64];
                let n = uninterrupted(|| stream.read(&mut buf)).unwrap();
                String::from_utf8_lossy(&buf[..n]).into_owned()
            };
            assert!(reply.starts_with("Echo: normal"), "after {what}: {reply:?}");
        };

        // Connect, then close without a word.
        drop(connect(addr));
        normal("connect and close");

        // Send half a message, then reset: close with SO_LINGER 0 sends RST.
        let stream = connect(addr);
        (&stream).write_all(b"half a mess").unwrap();
        SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
        normal("reset");

        // 1 MiB of junk without a newline, replies read and thrown away.
        let stream = connect(addr);
        let writer = stream.try_clone().unwrap();
        let junk = thread::spawn(move || {
            let _ = (&writer).write_all(&vec![b'j'; 1 << 20]);
            let _ = writer.shutdown(Both::Write);
        });
        let replies = read_to_close(&mut stream.try_clone().unwrap());
        junk.join().unwrap();
        if framing == "line" {
            assert!(replies.starts_with("Error: Line too long"), "{replies:.80}");
        } else {
            assert!(replies.starts_with("Echo: jjj"), "{replies:.80}");
        }
        drop(stream);
        normal("1 MiB of junk");

        // A client that sends and sends and never reads (with a tiny receive
        // buffer, so the echoes back up soon): the server cannot send, and
        // gives up on it after the idle timeout and hangs up, which is what
        // finally makes the client's writes fail.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect_timeout(&addr.into(), WAIT).unwrap();
        let stream = TcpStream::from(socket);
        stream.set_write_timeout(Some(WAIT)).unwrap();
        let mut chunk = vec![b'f'; 60_000];
        chunk.push(b'\n');
        let mut sent = 0usize;
        while sent < 64 << 20 && (&stream).write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        assert!(sent < 64 << 20, "the server never stopped reading");
        normal("a client that never reads");
        drop(stream);
        server.expect_stderr("the client is not reading its replies");

        // Invalid UTF-8.
        let mut stream = connect(addr);
        stream.write_all(b"\xff\n").unwrap();
        expect_bytes(&mut stream, "Error: Invalid encoding");
        drop(stream);
        normal("invalid UTF-8");

        // Half a message, then silence: closed after the idle timeout.
        let mut stream = connect(addr);
        stream.write_all(b"half").unwrap();
        let rest = read_to_close(&mut stream);
        assert!(rest.ends_with(IDLE), "{rest:?}");
        normal("half a message, then silence");

        server.expect_stderr("idle for too long");
        assert!(!server.stderr().contains("panicked"));
    }
}

/// Line framing: a client that trickles in a byte every 20 ms and never
/// ends its line is idle too (no complete message), and is let go after the
/// idle timeout even though its reads never time out.
pub fn trickle_is_idle(bin: &str) {
    let server = Lesson::start(
        bin,
        &[
            "--port",
            "0",
            "--framing",
            "line",
            "--idle-timeout-ms",
            "300",
        ],
    );
    let mut stream = connect(server.addr());
    let writer = stream.try_clone().unwrap();
    let trickle = thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        // A behaviour, not a wait for readiness: one byte per 20 ms.
        while Instant::now() < deadline && (&writer).write_all(b"t").is_ok() {
            thread::sleep(Duration::from_millis(20));
        }
    });
    assert_eq!(read_to_close(&mut stream), IDLE);
    drop(stream);
    trickle.join().unwrap();
    assert_eq!(line_request(server.addr(), "next"), "Message received\n");
}

/// The same server over IPv6 loopback. On `::` it takes IPv4 clients too,
/// logged as `::ffff:127.0.0.1`; with `--ipv6-only` it does not.
pub fn ipv6(bin: &str) {
    let server = Lesson::start(bin, &["--host", "::1", "--port", "0", "--reply", "ack"]);
    assert!(server.addr().is_ipv6());
    assert_eq!(
        seed_client(server.addr(), "six"),
        "Server acknowledges: six"
    );

    let both = Lesson::start(bin, &["--host", "::", "--port", "0", "--reply", "ack"]);
    let port = both.addr().port();
    assert_eq!(
        seed_client(super::v4_loopback(port), "four"),
        "Server acknowledges: four"
    );
    both.expect_stderr("[::ffff:127.0.0.1]:");
    assert_eq!(
        seed_client(super::v6_loopback(port), "six"),
        "Server acknowledges: six"
    );

    let only = Lesson::start(bin, &["--host", "::", "--ipv6-only", "--port", "0"]);
    let port = only.addr().port();
    assert_eq!(
        seed_client(super::v6_loopback(port), "six"),
        "Message received"
    );
    let refused = TcpStream::connect_timeout(&super::v4_loopback(port), WAIT).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// SIGINT while one request is being worked on and other clients are
/// connected: the request in hand is still answered, every connection is
/// closed, the server logs `server closed` and exits 0 within 250 ms.
pub fn interrupt_with_clients(bin: &str) {
    let mut server = Lesson::start(bin, &["--port", "0", "--delay-ms", "30000"]);
    let mut busy = connect(server.addr());
    busy.write_all(b"slow one").unwrap();
    server.expect_stderr("\"slow one\"");
    let mut idle: Vec<TcpStream> = (0..3).map(|_| connect(server.addr())).collect();
    let (took, status) = server.interrupt_and_time();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.stderr());
    assert!(took <= SHUTDOWN_BUDGET, "took {took:?} to stop");
    let rest = read_to_close(&mut busy);
    assert!(
        rest.starts_with("Message received"),
        "the request in hand got no reply: {rest:?}"
    );
    for stream in &mut idle {
        // Closed: a goodbye line, or (never accepted) a reset.
        let rest = read_to_close(stream);
        assert!(rest.is_empty() || rest == SHUTTING_DOWN, "{rest:?}");
    }
    let log = server.stderr();
    assert!(log.contains("server closed"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// Bad flags: exit 2, one line that names the bad value; `--help` works.
pub fn bad_flags(bin: &str) {
    let cases: &[(&[&str], &str)] = &[
        (&["--port", "abc"], "'abc' for --port"),
        (&["--port", "70000"], "'70000' for --port"),
        (&["--buffer-size", "0"], "'0' for --buffer-size"),
        (&["--buffer-size", "65537"], "'65537' for --buffer-size"),
        (&["--backlog", "0"], "'0' for --backlog"),
        (&["--idle-timeout-ms", "0"], "'0' for --idle-timeout-ms"),
        (&["--delay-ms", "-5"], "'-5' for --delay-ms"),
        (&["--reply", "loud"], "'loud' for --reply"),
        (&["--framing", "lines"], "'lines' for --framing"),
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
            "[default: 65432]",
            "--reply MODE",
            "--framing KIND",
            "--backlog N",
            "--idle-timeout-ms MS",
            "Examples:",
        ],
    );
}

/// A port that another server listens on: exit 1, the address named,
/// `--port 0` suggested. (SO_REUSEADDR does not let two servers listen on
/// one port.)
pub fn port_in_use(bin: &str) {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let port = addr.port().to_string();
    let out = run(bin, &["--port", &port], "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&addr.to_string()) && stderr.contains("--port 0"),
        "{stderr}"
    );
}

/// SO_REUSEADDR at work: a server can be restarted on its port at once,
/// while the connections of the previous run are still in TIME_WAIT.
pub fn restart_on_same_port(bin: &str) {
    let mut first = Lesson::start(bin, &["--port", "0"]);
    let addr = first.addr();
    // The server closes first (Ctrl+C hangs up on this client), so its side
    // of the connection is the one left in TIME_WAIT.
    let mut client = connect(addr);
    client.write_all(b"hi").unwrap();
    expect_bytes(&mut client, "Message received");
    first.interrupt();
    assert_eq!(first.wait_exit(WAIT).code(), Some(0));
    assert_eq!(read_to_close(&mut client), SHUTTING_DOWN);
    drop(client);
    let port = addr.port().to_string();
    let second = Lesson::start(bin, &["--port", &port]);
    still_serving(second.addr());
}

/// Wait up to [`WAIT`] for a fresh client to be answered normally, trying
/// again while the server answers `busy` or hangs up (its handler threads
/// may still be on their way out).
pub fn served_again(server: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = connect(server);
        let reply = stream.write_all(b"again").ok().and_then(|()| {
            let mut buf = [0u8; 64];
            let n = stream.read(&mut buf).ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).into_owned())
        });
        if reply.as_deref() == Some("Message received") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not served again within {WAIT:?}: last reply {reply:?}"
        );
    }
}
