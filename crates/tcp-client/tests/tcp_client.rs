//! tcp-client, run for real against small TCP peers made in the test, on
//! 127.0.0.1 and ::1, port 0. (scripts/demo.sh drives it against the real
//! tcp-server and tcp-threaded-server.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use common::options::tcp::{BUSY_LINE, MAX_REPLY};
use common::testing::{run, spawn_piped, uninterrupted, wait_output, WAIT};
use socket2::{Domain, SockRef, Socket, Type};

const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");

/// A peer on `host` that accepts one connection and hands it to `talk`.
/// Returns the port and what `talk` returns.
fn peer<T: Send + 'static>(
    host: &str,
    talk: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let listener = TcpListener::bind((host, 0)).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        talk(stream)
    });
    (port, handle)
}

/// Like the tutorial's threaded server: each read is a message, answered
/// with `prefix` + the message, until the client closes. Returns the reads.
fn raw_peer(host: &str, prefix: &'static str) -> (String, JoinHandle<Vec<String>>) {
    peer(host, move |mut stream| {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = uninterrupted(|| stream.read(&mut buf)) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            stream
                .write_all(format!("{prefix}{text}").as_bytes())
                .unwrap();
            seen.push(text);
        }
        seen
    })
}

/// A line-framed echo peer. Returns the lines.
fn line_peer() -> (String, JoinHandle<Vec<String>>) {
    peer("127.0.0.1", |stream| {
        let mut seen = Vec::new();
        for line in BufReader::new(&stream).lines() {
            let Ok(line) = line else { break };
            (&stream)
                .write_all(format!("Echo: {line}\n").as_bytes())
                .unwrap();
            seen.push(line);
        }
        seen
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn one_shot_prints_the_reply() {
    let (port, server) = raw_peer("127.0.0.1", "Server acknowledges: ");
    let out = run(
        CLIENT,
        &["--port", &port, "--message", "Hello, Server!"],
        "",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Server acknowledges: Hello, Server!\n");
    // The tutorial's message, as is: no newline added in raw framing.
    assert_eq!(server.join().unwrap(), ["Hello, Server!"]);
}

#[test]
fn interactive_from_stdin_until_exit() {
    let (port, server) = raw_peer("127.0.0.1", "Echo: ");
    let out = run(
        CLIENT,
        &["--port", &port],
        "first\nsecond\nEXIT\nnever sent\n",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // No prompts: stdin is a pipe, not a person.
    assert_eq!(stdout(&out), "Echo: first\nEcho: second\n");
    assert_eq!(server.join().unwrap(), ["first", "second"]);
}

#[test]
fn interactive_until_end_of_input() {
    let (port, server) = raw_peer("127.0.0.1", "Echo: ");
    let out = run(CLIENT, &["--port", &port], "only\n", WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Echo: only\n");
    assert_eq!(server.join().unwrap(), ["only"]);
}

/// An empty line is zero bytes in raw framing: nothing to send, so it is
/// skipped rather than waited on.
#[test]
fn empty_message_in_raw_framing_is_skipped() {
    let (port, server) = raw_peer("127.0.0.1", "Echo: ");
    let out = run(CLIENT, &["--port", &port], "\nafter\n", WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Echo: after\n");
    assert!(stderr(&out).contains("empty message is zero bytes"));
    assert_eq!(server.join().unwrap(), ["after"]);
}

#[test]
fn line_framing() {
    let (port, server) = line_peer();
    let out = run(
        CLIENT,
        &["--port", &port, "--framing", "line"],
        "one\ntwo\n",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Echo: one\nEcho: two\n");
    assert_eq!(server.join().unwrap(), ["one", "two"]);
}

#[test]
fn ipv6() {
    let (port, server) = raw_peer("::1", "Echo: ");
    let out = run(
        CLIENT,
        &["--host", "::1", "--port", &port, "--message", "six"],
        "",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Echo: six\n");
    assert_eq!(server.join().unwrap(), ["six"]);
}

/// Three writes, and a server that reads only after all three arrived (as
/// a busy server does): one read holds all three, so one reply comes back.
/// The client says so, and exits 0: that is TCP, not an error.
#[test]
fn burst_in_raw_framing_can_merge() {
    let (port, server) = peer("127.0.0.1", |mut stream| {
        let mut all = [0u8; 12];
        stream.read_exact(&mut all).unwrap();
        stream.write_all(b"Echo: pingpingping").unwrap();
        // Wait for the client to go.
        let _ = uninterrupted(|| stream.read(&mut [0u8; 16]));
    });
    let out = run(
        CLIENT,
        &[
            "--port",
            &port,
            "--message",
            "ping",
            "--burst",
            "3",
            "--timeout-ms",
            "300",
        ],
        "",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Echo: pingpingping\n");
    assert!(
        stderr(&out).contains("sent 3 messages but read only 1 reply"),
        "{}",
        stderr(&out)
    );
    server.join().unwrap();
}

/// The same burst with line framing: three lines, three replies.
#[test]
fn burst_in_line_framing_keeps_boundaries() {
    let (port, server) = line_peer();
    let out = run(
        CLIENT,
        &[
            "--port",
            &port,
            "--message",
            "ping",
            "--burst",
            "3",
            "--framing",
            "line",
        ],
        "",
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Echo: ping\n".repeat(3));
    assert_eq!(server.join().unwrap(), ["ping", "ping", "ping"]);
}

/// The failures TCP reports: exit 1, one line saying what happened.
fn expect_failure(args: &[&str], needle: &str) {
    let out = run(CLIENT, args, "", WAIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn refused() {
    // A port that was free a moment ago: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    expect_failure(
        &["--port", &port, "--message", "anyone?"],
        &format!("connection refused by 127.0.0.1:{port}"),
    );
}

#[test]
fn no_reply_in_time() {
    // The kernel accepts the connection; nobody ever reads or answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    expect_failure(
        &[
            "--port",
            &port,
            "--message",
            "hello?",
            "--timeout-ms",
            "200",
        ],
        "no reply from 127.0.0.1",
    );
}

#[test]
fn connect_timeout() {
    // A listener whose queue is full (backlog 0 holds one connection, and
    // nobody accepts): the kernel drops further handshakes, so connect()
    // gets no answer at all.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let _queued = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    // Fill the queue for sure: connect until one does not complete.
    let mut fillers = Vec::new();
    while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
        fillers.push(s);
        assert!(fillers.len() < 64, "the queue never filled");
    }
    let port = addr.port().to_string();
    expect_failure(
        &["--port", &port, "--message", "hi", "--timeout-ms", "200"],
        &format!("no answer from 127.0.0.1:{port} within 200ms"),
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Wine reports a reset (RST) that arrives during a read as an orderly close, 0 bytes, not WSAECONNRESET"
)]
fn reset_by_the_server() {
    let (port, server) = peer("127.0.0.1", |mut stream| {
        let _ = uninterrupted(|| stream.read(&mut [0u8; 64]));
        // SO_LINGER 0: close() sends RST instead of FIN.
        SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    expect_failure(
        &["--port", &port, "--message", "hi"],
        "reset the connection",
    );
    server.join().unwrap();
}

#[test]
fn closed_without_a_reply() {
    let (port, server) = peer("127.0.0.1", |mut stream| {
        let _ = uninterrupted(|| stream.read(&mut [0u8; 64]));
    });
    expect_failure(
        &["--port", &port, "--message", "hi"],
        "closed the connection without a reply",
    );
    server.join().unwrap();
}

/// A line the server sends unasked (its goodbye before closing an idle
/// connection) is shown as such, not taken for the next reply, and the
/// closed connection is reported: exit 1.
#[test]
fn goodbye_line_is_not_a_reply() {
    let (port, server) = peer("127.0.0.1", |stream| {
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        (&stream).write_all(b"Echo: first\n").unwrap();
        (&stream)
            .write_all(b"Error: idle for too long, closing\n")
            .unwrap();
    });
    let mut child = spawn_piped(CLIENT, &["--port", &port, "--framing", "line"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    // The second line is typed only after the server has said goodbye and
    // closed.
    server.join().unwrap();
    stdin.write_all(b"second\n").unwrap();
    drop(stdin);
    let out = wait_output(child, WAIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(stdout(&out), "Echo: first\n");
    // Shown as the server's words, not as a reply. (Usually the close is
    // seen at the same moment; if it comes a little later, the client sends,
    // and then finds the connection closed or reset.)
    assert!(err.contains("\"Error: idle for too long"), "{err}");
    // The line's newline is not shown as part of it.
    assert!(!err.contains("closing\\n"), "{err}");
    assert!(
        err.contains("closed the connection") || err.contains("reset the connection"),
        "{err}"
    );
}

#[test]
fn bad_flags() {
    let cases: &[(&[&str], &str)] = &[
        (&["--port", "abc"], "'abc' for --port"),
        (&["--timeout-ms", "0"], "'0' for --timeout-ms"),
        (&["--burst", "0"], "'0' for --burst"),
        (&["--framing", "json"], "'json' for --framing"),
        (&["--host", "bad host name"], "bad host name"),
        (&["--nope"], "--nope"),
    ];
    for (args, named) in cases {
        let out = run(CLIENT, args, "", WAIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
    let help = run(CLIENT, &["--help"], "", WAIT);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    for part in [
        "[default: 65432]",
        "--message TEXT",
        "--burst N",
        "Examples:",
    ] {
        assert!(text.contains(part), "--help lacks {part:?}:\n{text}");
    }
}

/// Bytes the server sends between replies are reported, and the next reply
/// is still the right one.
#[test]
fn unasked_bytes_are_not_taken_for_a_reply() {
    let (port, server) = peer("127.0.0.1", |stream| {
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        (&stream).write_all(b"Echo: first\nnote: extra\n").unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        (&stream).write_all(b"Echo: second\n").unwrap();
        let _ = reader.read_line(&mut line);
    });
    let out = run(
        CLIENT,
        &["--port", &port, "--framing", "line"],
        "first\nsecond\n",
        WAIT,
    );
    server.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(stdout(&out), "Echo: first\nEcho: second\n");
    // The newline ends the line; it is not shown as part of it.
    assert!(err.contains("unasked: \"note: extra\"\n"), "{err}");
}

/// A peer that answers the first message with `reply` and hangs up.
fn one_reply_peer(reply: &'static [u8]) -> (String, JoinHandle<()>) {
    peer("127.0.0.1", move |mut stream| {
        let _ = uninterrupted(|| stream.read(&mut [0u8; 64]));
        let _ = stream.write_all(reply);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        // Read on until the client goes, so its bytes are never left unread.
        let _ = stream.read_to_end(&mut Vec::new());
    })
}

/// The busy line, when it comes as the reply, is a refusal and not an
/// answer: exit 1, saying the server is busy, nothing on stdout. In both
/// framings (the server sends it with a newline either way).
#[test]
fn busy_line_as_the_reply_is_an_error() {
    for framing in ["raw", "line"] {
        let (port, server) = one_reply_peer(BUSY_LINE.as_bytes());
        expect_failure(
            &["--port", &port, "--message", "hi", "--framing", framing],
            &format!("the server at 127.0.0.1:{port} is busy"),
        );
        server.join().unwrap();
    }
}

/// The busy line that arrives before the client has sent anything (the
/// server turned it away at accept) is recognised too.
#[test]
fn busy_line_unasked_is_an_error() {
    let (port, server) = peer("127.0.0.1", |stream| {
        (&stream).write_all(BUSY_LINE.as_bytes()).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut child = spawn_piped(CLIENT, &["--port", &port]);
    let mut stdin = child.stdin.take().unwrap();
    // The line is typed only once the server has said it and hung up.
    server.join().unwrap();
    stdin.write_all(b"hello?\n").unwrap();
    drop(stdin);
    let out = wait_output(child, WAIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is busy: it serves at most"), "{err}");
    assert!(stdout(&out).is_empty());
}

/// A reply is the server's bytes, not ours to pass to the terminal as they
/// are: an escape sequence or a bidi override is printed escaped. (Line
/// framing also drops a `\r` before the newline.)
#[test]
fn replies_are_printed_with_control_characters_escaped() {
    for framing in ["raw", "line"] {
        let (port, server) = one_reply_peer(b"\x1b]0;pwned\x07 a\xe2\x80\xaeb\r\n");
        let out = run(
            CLIENT,
            &["--port", &port, "--message", "hi", "--framing", framing],
            "",
            WAIT,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let expected = if framing == "raw" {
            "\\u{1b}]0;pwned\\u{7} a\\u{202e}b\\u{d}\n"
        } else {
            "\\u{1b}]0;pwned\\u{7} a\\u{202e}b\n"
        };
        assert_eq!(stdout(&out), expected, "{framing}");
        server.join().unwrap();
    }
}

/// Line framing: a reply of MAX_REPLY bytes (room for anything a lesson
/// server sends) is printed; one byte more is reported as too long, not as
/// a server that closed without replying.
#[test]
fn reply_length_limit_in_line_framing() {
    for (len, fits) in [(MAX_REPLY, true), (MAX_REPLY + 1, false)] {
        let mut reply = vec![b'x'; len];
        reply.push(b'\n');
        let reply: &'static [u8] = reply.leak();
        let (port, server) = one_reply_peer(reply);
        let args = ["--port", &port, "--message", "hi", "--framing", "line"];
        if fits {
            let out = run(CLIENT, &args, "", WAIT);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert_eq!(out.stdout.len(), len + 1);
        } else {
            expect_failure(&args, &format!("reply longer than {MAX_REPLY} bytes"));
        }
        server.join().unwrap();
    }
}

/// The servers' goodbye line (here: Ctrl+C's) is the server hanging up,
/// not a reply: exit 1, saying so, nothing printed as an answer. Glued to a
/// real reply (raw framing: two writes, one read), the reply is printed and
/// the hang-up reported.
#[test]
fn goodbye_as_the_reply_is_an_error() {
    let (port, server) = one_reply_peer(b"Error: server shutting down\n");
    expect_failure(
        &["--port", &port, "--message", "hi"],
        "has closed the connection, saying \"Error: server shutting down\"",
    );
    server.join().unwrap();

    let (port, server) = one_reply_peer(b"Message receivedError: server shutting down\n");
    let out = run(CLIENT, &["--port", &port, "--message", "hi"], "", WAIT);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Message received\n");
    assert!(
        stderr(&out).contains("saying \"Error: server shutting down\""),
        "{}",
        stderr(&out)
    );

    let (port, server) = one_reply_peer(b"Error: idle for too long, closing\n");
    expect_failure(
        &["--port", &port, "--message", "hi", "--framing", "line"],
        "saying \"Error: idle for too long, closing\"",
    );
    server.join().unwrap();
}

/// A raw client (no newline) and a server in line framing: the server waits
/// for the end of the line and never answers. The client says that this may
/// be a framing mismatch, not just a slow server.
#[test]
fn framing_mismatch_is_named() {
    let (port, server) = peer("127.0.0.1", |stream| {
        // A line server: reads, and answers only a complete line.
        let mut line = Vec::new();
        let _ = BufReader::new(&stream).read_until(b'\n', &mut line);
        line
    });
    expect_failure(
        &["--port", &port, "--message", "hi", "--timeout-ms", "300"],
        "If the server runs with --framing line, it is still waiting for the end of the line",
    );
    assert_eq!(server.join().unwrap(), b"hi");
}

/// A server that stops reading: our sends fill its buffers and then time
/// out. That is reported as a send that could not be done, not as a
/// missing reply.
#[test]
fn send_timeout_is_not_a_missing_reply() {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    // Accepted sockets inherit a small receive buffer: it fills soon.
    listener.set_recv_buffer_size(4096).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(1).unwrap();
    let listener = TcpListener::from(listener);
    let port = listener.local_addr().unwrap().port().to_string();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Never reads; holds the connection until the test is done.
        let _ = wait.recv_timeout(WAIT);
        drop(stream);
    });
    let big = format!("{}\n", "x".repeat(32 << 20));
    let out = run(
        CLIENT,
        &["--port", &port, "--timeout-ms", "300"],
        &big,
        WAIT,
    );
    done.send(()).unwrap();
    server.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not send to 127.0.0.1"), "{err}");
    assert!(!err.contains("no reply"), "{err}");
}

/// At a terminal, Ctrl+D at the prompt ends the input; the client ends the
/// prompt's line first, so the shell's prompt starts on a line of its own.
/// (Runs the client in a pseudo-terminal, with a small Python tool.)
#[test]
fn ctrl_d_at_the_prompt_ends_the_line() {
    let Some(python) = common::testing::python3("ctrl_d_at_the_prompt_ends_the_line") else {
        return;
    };
    let (port, server) = peer("127.0.0.1", |mut stream| {
        let _ = stream.read_to_end(&mut Vec::new());
    });
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/at_a_terminal.py");
    let prompt = "message ('exit' quits)> ";
    let out = run(python, &[tool, prompt, CLIENT, "--port", &port], "", WAIT);
    server.join().unwrap();
    let screen = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{screen:?} {}", stderr(&out));
    // The terminal turns "\n" into "\r\n".
    let after = screen.rsplit(prompt).next().unwrap();
    assert_eq!(after, "\r\n", "{screen:?}");
}
