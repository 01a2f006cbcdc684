//! Checkers for the exercises of docs/tcp-client.md. Each is ignored until a
//! student asks for it by name:
//!
//! ```text
//! cargo test -p tcp-client --test exercises -- --ignored length
//! ```
//!
//! The answers are in docs/exercises/ (`tcp-client--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::testing::exercise::{ensure, not_yet, refused, send_split, start};
use common::testing::lan::lesson_bin;
use common::testing::tcp_server::connect;
use common::testing::{run, spawn_piped, uninterrupted, wait_output, WAIT};

const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");

/// The messages of the length checker: a newline inside one, an empty one,
/// and a character of two bytes (the length counts bytes, not characters).
const MESSAGES: [&str; 4] = ["hello", "two\nlines", "", "héllo"];

/// The sizes the checker reads the server's replies with: bgnet0's 1 to
/// 4,096, with the awkward ones in between (a length split across reads).
const READ_SIZES: [usize; 7] = [1, 2, 3, 5, 7, 64, 4096];

/// `message` as length framing puts it on the wire.
fn framed(message: &[u8]) -> Vec<u8> {
    let mut bytes = (message.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(message);
    bytes
}

/// Read `count` length-framed replies, `size` bytes at most per read.
fn read_replies(stream: &mut TcpStream, size: usize, count: usize) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    let mut replies = Vec::new();
    let mut buf = vec![0u8; size];
    while replies.len() < count {
        // Take every whole reply out of what came so far.
        while let Some(header) = bytes.get(..4) {
            let len = u32::from_be_bytes(header.try_into().unwrap()) as usize;
            if len > 4096 {
                return Err(format!(
                    "a reply announced as {len} bytes (the 4 bytes {:?})",
                    String::from_utf8_lossy(header)
                ));
            }
            let Some(body) = bytes.get(4..4 + len) else {
                break;
            };
            replies.push(String::from_utf8_lossy(body).into_owned());
            bytes.drain(..4 + len);
        }
        if replies.len() >= count {
            break;
        }
        match uninterrupted(|| stream.read(&mut buf)) {
            Ok(0) => return Err(format!("the server hung up after {replies:?}")),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("{replies:?}, then nothing ({e})")),
        }
    }
    Ok(replies)
}

/// One connection: the messages, framed, sent in two writes split at byte
/// `at`; the replies to the messages wholly in the first part are read
/// before the rest goes out ([`send_split`]). Replies are read `size` bytes
/// at a time.
fn split_exchange(exercise: &str, server: SocketAddr, at: usize, size: usize) {
    let frames: Vec<Vec<u8>> = MESSAGES.iter().map(|m| framed(m.as_bytes())).collect();
    let expected: Vec<String> = MESSAGES.iter().map(|m| format!("Echo: {m}")).collect();
    let got = send_split(server, &frames, at, |stream, count| {
        read_replies(stream, size, count)
    })
    .unwrap_or_else(|e| {
        not_yet(
            exercise,
            format!(
                "{MESSAGES:?}, each after its 4-byte length and sent split at byte {at}, to \
                 be answered with {expected:?}, each after its length (read {size} bytes \
                 at a time)"
            ),
            e.instead,
        )
    });
    ensure(
        got == expected,
        exercise,
        format!("{MESSAGES:?}, split at byte {at}, to be answered with {expected:?}"),
        format!("{got:?}"),
    );
}

/// A text client (`hello\n`) against a length server: `hell` reads as a
/// length of 1,751,477,356 bytes. The server must not wait for them: it
/// answers or hangs up at once, and serves the next client.
fn refuses_a_huge_length(exercise: &str, server: SocketAddr) {
    let mut stream = connect(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(b"hello\n").unwrap();
    let mut all = Vec::new();
    let ended = stream.read_to_end(&mut all);
    let timed_out = matches!(&ended, Err(e) if matches!(e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
    ensure(
        !timed_out,
        exercise,
        "`hello\\n` from a text client (`hell` is a length of 1,751,477,356 bytes, over \
         --buffer-size) to be refused: an error reply and a hang-up, within 2 s",
        "the server is still waiting for the 1,751,477,356 bytes",
    );
}

/// The client: a peer made here answers its one message after the length,
/// one byte per write, so the client reads the reply in pieces. Returns
/// what the client sent.
fn client_against_a_trickling_peer(exercise: &str) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let expected = framed(b"two\nlines");
        let mut got = vec![0u8; expected.len()];
        if stream.read_exact(&mut got).is_err() {
            return got;
        }
        for byte in framed(b"Echo: two\nlines") {
            if stream.write_all(&[byte]).is_err() {
                break;
            }
        }
        let _ = stream.read_to_end(&mut Vec::new());
        got
    });
    let args = [
        "--port",
        &port,
        "--framing",
        "length",
        "--message",
        "two\nlines",
    ];
    let out = run(CLIENT, &args, "", WAIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    refused(exercise, "tcp-client --framing length", &out);
    let sent = peer.join().unwrap();
    ensure(
        sent == framed(b"two\nlines"),
        exercise,
        "`--message 'two\\nlines'` to go out as its length, 0 0 0 9, then its 9 bytes",
        format!("{sent:?}"),
    );
    ensure(
        out.status.success() && stdout == "Echo: two\nlines\n",
        exercise,
        "the reply, sent one byte at a time after its length, to be printed whole: \
         `Echo: two\\nlines`",
        format!(
            "{}, stdout {stdout:?}, stderr {:?}",
            out.status,
            stderr.trim()
        ),
    );
    sent
}

/// Exercise 2: `--framing length` in the client and the server. bgnet0's
/// rule: against tcp-server, the messages go split at every byte position
/// and the replies are read with buffer sizes from 1 to 4,096; then the
/// client reads a reply that comes one byte at a time.
#[test]
#[ignore = "exercise: cargo test -p tcp-client --test exercises -- --ignored length"]
fn length() {
    const EXERCISE: &str = "tcp-client 2, --framing length";
    let server_bin = lesson_bin("tcp-server");
    let args = ["--port", "0", "--framing", "length", "--reply", "echo"];
    let server = start(EXERCISE, &server_bin, &args);
    let total: usize = MESSAGES.iter().map(|m| 4 + m.len()).sum();
    for at in 0..=total {
        for size in READ_SIZES {
            split_exchange(EXERCISE, server.addr(), at, size);
        }
    }
    refuses_a_huge_length(EXERCISE, server.addr());
    split_exchange(EXERCISE, server.addr(), 0, 4096); // and it is still there
    client_against_a_trickling_peer(EXERCISE);
    // And the two together, the real way.
    let port = server.addr().port().to_string();
    let out = run(
        CLIENT,
        &["--port", &port, "--framing", "length"],
        "one\n\nthree\n",
        WAIT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure(
        out.status.success() && stdout == "Echo: one\nEcho: \nEcho: three\n",
        EXERCISE,
        "tcp-client --framing length, fed `one`, an empty line and `three`, to print \
         `Echo: one`, `Echo: ` and `Echo: three`",
        format!(
            "{}, stdout {stdout:?}, stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    );
}

/// A line-framed server made here that answers one line per connection,
/// `Echo: LINE`, then hangs up, for up to `connections` connections. It
/// tells `events` each line it got, and when it has closed each connection.
fn one_line_per_connection(connections: usize) -> (String, mpsc::Receiver<Event>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (events, received) = mpsc::channel();
    thread::spawn(move || {
        for n in 1..=connections {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            stream.set_read_timeout(Some(WAIT)).unwrap();
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            let line = line.trim_end().to_string();
            let _ = (&stream).write_all(format!("Echo: {line}\n").as_bytes());
            let _ = events.send(Event::Line(n, line));
            drop(stream); // close(): the FIN follows the reply
            let _ = events.send(Event::Closed(n));
        }
    });
    (port, received)
}

#[derive(Debug, PartialEq)]
enum Event {
    /// Connection N brought this line.
    Line(usize, String),
    /// The server closed connection N.
    Closed(usize),
}

/// Exercise 4: the server hangs up between two lines; the client connects
/// again, once, and sends the second line there.
#[test]
#[ignore = "exercise: cargo test -p tcp-client --test exercises -- --ignored reconnect"]
fn reconnect() {
    const EXERCISE: &str = "tcp-client 4, reconnect once";
    let (port, events) = one_line_per_connection(2);
    let mut client = spawn_piped(CLIENT, &["--port", &port, "--framing", "line"]);
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"one\n").unwrap();
    let first = events.recv_timeout(WAIT);
    assert_eq!(first, Ok(Event::Line(1, "one".to_string())));
    assert_eq!(events.recv_timeout(WAIT), Ok(Event::Closed(1)));
    // Only now the second line: the server has hung up before it.
    stdin.write_all(b"two\n").unwrap();
    drop(stdin); // the end of input: the client ends after `two`
    let out = wait_output(client, WAIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default().to_string();
    match events.recv_timeout(Duration::from_millis(100)) {
        Ok(Event::Line(2, line)) => ensure(
            line == "two",
            EXERCISE,
            "`two` on the new connection",
            format!("{line:?}"),
        ),
        _ => not_yet(
            EXERCISE,
            "after the server hung up, a new connection, with `two` sent on it",
            format!("no new connection; the client said: {last}"),
        ),
    }
    ensure(
        out.status.success() && stdout == "Echo: one\nEcho: two\n",
        EXERCISE,
        "`Echo: one` and `Echo: two` on stdout, and exit code 0",
        format!("{}, stdout {stdout:?}; the client said: {last}", out.status),
    );
}
