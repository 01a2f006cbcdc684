//! Checkers for the exercises of docs/udp-broadcast.md. Each is ignored
//! until a student asks for it by name:
//!
//! ```text
//! cargo test -p udp-broadcast --test exercises -- --ignored attempts
//! ```
//!
//! Everything stays on loopback: the test's own sockets on 127.0.0.1 play
//! the other side. The answers are in docs/exercises/
//! (`udp-broadcast--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::testing::exercise::{ensure, not_yet, receive, refused, said, start};
use common::testing::{example, run, Lesson, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-broadcast");

/// A socket on 127.0.0.1 with a short receive timeout.
fn socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    socket
}

/// Exercise 1: `discover --attempts N`. The test plays one listener on
/// 127.0.0.1: it counts the requests and answers every one of them, so
/// discover hears it N times and must still print it once.
#[test]
#[ignore = "exercise: cargo test -p udp-broadcast --test exercises -- --ignored attempts"]
fn attempts() {
    const EXERCISE: &str = "udp-broadcast 1, discover --attempts N";
    let listener = socket();
    let port = listener.local_addr().unwrap().port().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let stand_in = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            // When each request came, relative to the first.
            let mut times: Vec<Duration> = Vec::new();
            let first = Instant::now();
            let mut buf = [0u8; 64];
            let end = first + WAIT;
            while !done.load(Ordering::SeqCst) && Instant::now() < end {
                if let Ok((n, from)) = listener.recv_from(&mut buf) {
                    if &buf[..n] == b"DISCOVER" {
                        times.push(first.elapsed());
                        let _ = listener.send_to(b"HERE stand-in", from);
                    }
                }
            }
            times
        })
    };
    let args = [
        "discover",
        "--to",
        "127.0.0.1",
        "--port",
        &port,
        "--attempts",
        "3",
        "--wait-ms",
        "900",
    ];
    let out = run(BIN, &args, "", WAIT);
    done.store(true, Ordering::SeqCst);
    let times = stand_in.join().unwrap();
    refused(EXERCISE, "udp-broadcast discover --attempts 3", &out);
    ensure(
        times.len() == 3,
        EXERCISE,
        "3 DISCOVER requests at the listener for `--attempts 3`",
        format!("{} requests", times.len()),
    );
    let spread = times[2].saturating_sub(times[0]);
    ensure(
        spread >= Duration::from_millis(200),
        EXERCISE,
        "the requests spread over the 900 ms wait (about 300 ms apart)",
        format!("all 3 within {} ms", spread.as_millis()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed = stdout.lines().filter(|l| l.contains("stand-in")).count();
    ensure(
        printed == 1,
        EXERCISE,
        "the listener printed once, although it answered 3 times",
        format!("printed {printed} times: {:?}", stdout.trim()),
    );
}

/// Exercise 3: `listen --via` puts the address that reaches the asker in
/// its reply: `HERE NAME via ADDR`. On loopback that is 127.0.0.1.
#[test]
#[ignore = "exercise: cargo test -p udp-broadcast --test exercises -- --ignored via"]
fn via() {
    const EXERCISE: &str = "udp-broadcast 3, the address in the reply";
    let listener = start(
        EXERCISE,
        BIN,
        &["listen", "--port", "0", "--name", "alpha", "--via"],
    );
    let port = listener.addr().port();
    let asker = socket();
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let mut got = None;
    // A lost datagram is unlikely on loopback; try a few times all the same.
    for _ in 0..3 {
        asker.send_to(b"DISCOVER", to).unwrap();
        got = receive(&asker, Duration::from_secs(1));
        if got.is_some() {
            break;
        }
    }
    let Some((reply, _)) = got else {
        not_yet(
            EXERCISE,
            "a reply to DISCOVER from `listen --via`",
            format!("no reply; the listener said: {}", listener.stderr().trim()),
        )
    };
    ensure(
        reply == "HERE alpha via 127.0.0.1",
        EXERCISE,
        "the reply `HERE alpha via 127.0.0.1` to a request from 127.0.0.1",
        format!("{reply:?}"),
    );
    // And discover shows it, next to the address it printed before.
    let out = run(
        BIN,
        &[
            "discover",
            "--to",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--stop-after",
            "1",
        ],
        "",
        WAIT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure(
        stdout
            .lines()
            .any(|l| l.starts_with("alpha at 127.0.0.1:") && l.contains("via 127.0.0.1")),
        EXERCISE,
        "discover to print the listener as `alpha at 127.0.0.1:PORT`, with `via 127.0.0.1`",
        format!("{:?}", said(&out).trim()),
    );
}

/// Exercise 4: the tutorial's program with two of the lesson's fixes. A
/// datagram that is not UTF-8 no longer ends it, and this machine is still
/// answered. (That it stays silent to other hosts needs a second host:
/// tests/namespaces.rs.)
#[test]
#[ignore = "exercise: cargo test -p udp-broadcast -- --ignored tutorial_fixes"]
fn tutorial_fixes() {
    const EXERCISE: &str = "udp-broadcast 4, two fixes in the tutorial's program";
    let tutorial = example(env!("CARGO_MANIFEST_DIR"), "udp-broadcast-tutorial");
    // A port nobody holds (the example shares its port with SO_REUSEADDR).
    let port = UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut server: Lesson = start(EXERCISE, &tutorial, &[&port]);
    let to = server.addr();
    let to = SocketAddr::from(([127, 0, 0, 1], to.port()));
    let client = socket();
    client.send_to(&[0xff, 0xfe, b'!'], to).unwrap();
    match receive(&client, Duration::from_secs(2)) {
        Some((reply, _)) => ensure(
            reply == "Server response",
            EXERCISE,
            "`Server response` to b\"\\xff\\xfe!\"",
            format!("{reply:?}"),
        ),
        None => not_yet(
            EXERCISE,
            "an answer to b\"\\xff\\xfe!\" (bytes that are not UTF-8), as to any datagram",
            if server.alive() {
                "no answer".to_string()
            } else {
                format!("the example ended: {}", server.stderr().trim())
            },
        ),
    }
    let line = server.stdout_line(WAIT).unwrap_or_default();
    ensure(
        line.ends_with(": \u{fffd}\u{fffd}!"),
        EXERCISE,
        "a `Received from ADDR: \u{fffd}\u{fffd}!` line (U+FFFD for each bad byte)",
        format!("{line:?}"),
    );
    client.send_to(b"still there?", to).unwrap();
    let answer = receive(&client, Duration::from_secs(2)).map(|(text, _)| text);
    ensure(
        answer.as_deref() == Some("Server response"),
        EXERCISE,
        "this machine (127.0.0.1) still answered after that",
        format!("{answer:?}"),
    );
}
