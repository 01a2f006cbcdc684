//! Checkers for the exercises of docs/tcp-server.md. Each is ignored until a
//! student asks for it by name:
//!
//! ```text
//! cargo test -p tcp-server --test exercises -- --ignored nul
//! ```
//!
//! The answers are in docs/exercises/ (`tcp-server--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::testing::exercise::{ensure, not_yet, send_split, start};
use common::testing::tcp_server::connect;
use common::testing::uninterrupted;
use common::testing::WAIT;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");

/// The messages of the `\0` framing checker. The second holds a newline,
/// which must now be part of a message, not the end of one.
const MESSAGES: [&str; 4] = ["hello", "two\nlines", "héllo", "x"];

/// Read until `count` replies, each ending with a `\0`, have come; `None`
/// (and what came) if the server closed or went quiet for [`WAIT`] first.
fn read_replies(stream: &mut TcpStream, count: usize) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while bytes.iter().filter(|&&b| b == 0).count() < count {
        match uninterrupted(|| stream.read(&mut buf)) {
            Ok(0) => {
                return Err(format!(
                    "the server closed the connection after {:?}",
                    String::from_utf8_lossy(&bytes)
                ))
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) => {
                return Err(format!(
                    "{:?}, then nothing ({e})",
                    String::from_utf8_lossy(&bytes)
                ))
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .split_terminator('\0')
        .map(str::to_string)
        .collect::<Vec<_>>())
}

/// Send the messages, each ended by `\0`, in two writes, split at byte
/// `at` ([`send_split`]: the replies to the messages wholly in the first part
/// are read before the rest goes out, so the server cannot have read the two
/// parts as one).
fn split_exchange(exercise: &str, server: SocketAddr, buffer: usize, at: usize) {
    let frames: Vec<Vec<u8>> = MESSAGES
        .iter()
        .map(|m| [m.as_bytes(), b"\0"].concat())
        .collect();
    let bytes = frames.concat();
    let (first, rest) = bytes.split_at(at);
    let expected: Vec<String> = MESSAGES.iter().map(|m| format!("Echo: {m}")).collect();
    let shown = |part: &[u8]| format!("{:?}", String::from_utf8_lossy(part));
    let got = match send_split(server, &frames, at, read_replies) {
        Ok(got) => got,
        Err(e) => not_yet(
            exercise,
            format!(
                "with --buffer-size {buffer}, {} and then {} to be answered with \
                 {:?}, each reply ended by \\0",
                shown(first),
                shown(rest),
                &expected[e.replied..e.awaited]
            ),
            e.instead,
        ),
    };
    ensure(
        got == expected,
        exercise,
        format!(
            "with --buffer-size {buffer}, {} then {} to be answered with {expected:?}",
            shown(first),
            shown(rest)
        ),
        format!("{got:?}"),
    );
}

/// Exercise 2: `--framing nul`, a message ends at a `\0` byte instead of
/// `\n`. bgnet0's rule: the stream of messages is split at every byte
/// position, and the server reads it with several buffer sizes (one server
/// each: `--buffer-size` 9, the longest message, up to 4096).
#[test]
#[ignore = "exercise: cargo test -p tcp-server --test exercises -- --ignored nul"]
fn nul() {
    const EXERCISE: &str = "tcp-server 2, --framing nul";
    let total: usize = MESSAGES.iter().map(|m| m.len() + 1).sum();
    for buffer in [9, 10, 64, 4096] {
        let size = buffer.to_string();
        let args = [
            "--port",
            "0",
            "--framing",
            "nul",
            "--reply",
            "echo",
            "--buffer-size",
            &size,
        ];
        let server = start(EXERCISE, BIN, &args);
        for at in 0..=total {
            split_exchange(EXERCISE, server.addr(), buffer, at);
        }
    }
}

/// Exercise 4: when a connection closes, the log line says how many
/// messages it sent: `127.0.0.1:PORT: closed (the client hung up) after 3
/// messages`.
#[test]
#[ignore = "exercise: cargo test -p tcp-server --test exercises -- --ignored count"]
fn count() {
    const EXERCISE: &str = "tcp-server 4, count each connection's messages";
    let server = start(
        EXERCISE,
        BIN,
        &["--port", "0", "--framing", "line", "--reply", "echo"],
    );
    for (sent, word) in [(3, "messages"), (1, "message"), (0, "messages")] {
        let mut stream = connect(server.addr());
        let name = stream.local_addr().unwrap().to_string();
        for i in 0..sent {
            stream.write_all(format!("line {i}\n").as_bytes()).unwrap();
            let mut reply = vec![0u8; "Echo: line 0\n".len()];
            stream.read_exact(&mut reply).unwrap();
        }
        drop(stream);
        let wanted = format!("{name}: closed (the client hung up) after {sent} {word}");
        let closed = format!("{name}: closed");
        if !server.wait_stderr(&closed, WAIT) {
            not_yet(
                EXERCISE,
                format!("a `{wanted}` line in the log"),
                "no `closed` line for that connection",
            );
        }
        let line = server
            .stderr()
            .lines()
            .find(|l| l.contains(&closed))
            .map(|l| {
                l.split_once("INFO  ")
                    .map_or(l, |(_, rest)| rest)
                    .to_string()
            })
            .unwrap_or_default();
        ensure(
            line.ends_with(&wanted),
            EXERCISE,
            format!("`{wanted}`"),
            format!("`{line}`"),
        );
    }
}
