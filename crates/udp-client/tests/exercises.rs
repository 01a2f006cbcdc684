//! Checkers for the exercises of docs/udp-client.md. Each is ignored until a
//! student asks for it by name:
//!
//! ```text
//! cargo test -p udp-client --test exercises -- --ignored connect
//! ```
//!
//! The answers are in docs/exercises/ (`udp-client--*.patch`). Each checker
//! plays the server itself, with a socket of its own on 127.0.0.1, so that it
//! can see exactly what the student's client sends, and when.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::process::Output;
use std::time::{Duration, Instant};

use common::testing::exercise::{ensure, refused, run_once};
use common::testing::{spawn_piped, uninterrupted, wait_output, WAIT};
use peer::{peer, stdout};

mod peer;

const CLIENT: &str = env!("CARGO_BIN_EXE_udp-client");

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exercise 1: `--connect`, then `send` and `recv`.
#[test]
#[ignore = "exercise: cargo test -p udp-client --test exercises -- --ignored connect"]
fn connect() {
    const EXERCISE: &str = "udp-client 1, --connect";

    // A port nobody listens on: bind one, note it, close it again.
    let dead = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let port = dead.port().to_string();
    let args = [
        "--port",
        &port,
        "--connect",
        "--message",
        "anyone?",
        "--timeout-ms",
        "1000",
        "--retries",
        "2",
    ];
    let (out, took) = run_once(EXERCISE, CLIENT, &args, "", WAIT);
    let said = stderr(&out);
    ensure(
        out.status.code() == Some(1),
        EXERCISE,
        format!("exit code 1 when nothing listens at {dead}"),
        format!("exit code {:?}, stderr: {}", out.status.code(), said.trim()),
    );
    // Three tries of 1 s each would end after 3 s; a connected socket is
    // told "connection refused" at its first recv.
    ensure(
        took < Duration::from_secs(2),
        EXERCISE,
        format!("to give up at once (well within 2 s) when nothing listens at {dead}"),
        format!("it gave up after {took:.1?}: {}", said.trim()),
    );
    ensure(
        said.contains(&dead.to_string()) && !said.contains("no reply from"),
        EXERCISE,
        format!(
            "an error that names {dead} and says nothing listens there \
             (not the `no reply from` of a silent server)"
        ),
        format!("{:?}", said.trim()),
    );

    // And with a server there, it still gets its answer.
    let (port, server) = peer("127.0.0.1", "", 1);
    let args = ["--port", &port, "--connect", "--message", "hello"];
    let (out, _) = run_once(EXERCISE, CLIENT, &args, "", WAIT);
    let got = server.join().unwrap();
    ensure(
        got == ["hello"],
        EXERCISE,
        "`hello` to reach an echo server",
        format!("it received {got:?}"),
    );
    ensure(
        out.status.code() == Some(0) && stdout(&out) == "hello\n",
        EXERCISE,
        "the echo `hello` printed on stdout, exit code 0",
        format!(
            "exit code {:?}, stdout {:?}, stderr: {}",
            out.status.code(),
            stdout(&out),
            stderr(&out).trim()
        ),
    );
}

/// Exercise 2: the wait doubles after each unanswered try.
#[test]
#[ignore = "exercise: cargo test -p udp-client --test exercises -- --ignored backoff"]
fn backoff() {
    const EXERCISE: &str = "udp-client 2, a wait that doubles";
    // A server that reads every try and never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent.set_read_timeout(Some(WAIT)).unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let args = [
        "--port",
        &port,
        "--message",
        "anyone?",
        "--timeout-ms",
        "100",
        "--retries",
        "4",
    ];
    let child = spawn_piped(CLIENT, &args);
    // When each of the five tries arrived.
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 64];
    for _ in 0..5 {
        match uninterrupted(|| silent.recv_from(&mut buf)) {
            Ok(_) => arrivals.push(Instant::now()),
            Err(_) => break,
        }
    }
    let out = wait_output(child, WAIT);
    let ended = Instant::now();
    refused(EXERCISE, &format!("udp-client {}", args.join(" ")), &out);
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    let shown: Vec<String> = gaps
        .iter()
        .map(|g| format!("{} ms", g.as_millis()))
        .collect();
    ensure(
        arrivals.len() == 5,
        EXERCISE,
        "5 tries (--retries 4) to reach a server that never answers",
        format!("{} came, {} apart", arrivals.len(), shown.join(", ")),
    );
    // 100, 200, 400, 800 ms; the timer never fires early, and a busy
    // machine may be late: generous bounds.
    for (i, gap) in gaps.iter().enumerate() {
        let expected = Duration::from_millis(100 << i);
        let low = expected * 9 / 10;
        let high = expected * 3 / 2 + Duration::from_millis(150);
        ensure(
            *gap >= low && *gap <= high,
            EXERCISE,
            "with --timeout-ms 100 the tries 100, 200, 400 and 800 ms apart \
             (the wait doubles after each unanswered try)",
            format!("they came {} apart", shown.join(", ")),
        );
    }
    // After the fifth try it still waits its full 1600 ms before giving up.
    let last = ended - arrivals[4];
    ensure(
        last >= Duration::from_millis(1400) && out.status.code() == Some(1),
        EXERCISE,
        "after the fifth try, 1600 ms of waiting, then exit code 1",
        format!(
            "exit code {:?} {} ms after the fifth try",
            out.status.code(),
            last.as_millis()
        ),
    );
    let said = stderr(&out);
    ensure(
        !said.contains("100ms each"),
        EXERCISE,
        "a final error that tells the waits as they were (not `100ms each`)",
        format!("{:?}", said.lines().last().unwrap_or_default()),
    );
}
