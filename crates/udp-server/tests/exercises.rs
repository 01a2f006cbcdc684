//! Checkers for the exercises of docs/udp-server.md. Each is ignored until a
//! student asks for it by name:
//!
//! ```text
//! cargo test -p udp-server --test exercises -- --ignored reverse
//! ```
//!
//! The answers are in docs/exercises/ (`udp-server--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use common::testing::exercise::{ensure, not_yet, start};
use common::testing::{example, udp_socket_for, udp_text_with_retries, uninterrupted, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-server");

/// Exercise 2: a `--reply reverse` style.
#[test]
#[ignore = "exercise: cargo test -p udp-server --test exercises -- --ignored reverse"]
fn reverse() {
    const EXERCISE: &str = "udp-server 2, --reply reverse";
    let server = start(EXERCISE, BIN, &["--port", "0", "--reply", "reverse"]);
    for (sent, expected) in [("hello", "olleh"), ("héllo wörld", "dlröw olléh"), ("", "")] {
        let got = udp_text_with_retries(server.addr(), sent);
        ensure(
            got == expected,
            EXERCISE,
            format!("{sent:?} to be answered with {expected:?}"),
            format!("the server answered {got:?}"),
        );
    }
}

/// Exercise 4: the tutorial's example survives bytes that are not UTF-8.
#[test]
#[ignore = "exercise: cargo test -p udp-server -- --ignored lossy"]
fn lossy() {
    const EXERCISE: &str = "udp-server 4, the example survives bad bytes";
    let tutorial = example(env!("CARGO_MANIFEST_DIR"), "udp-server-tutorial");
    let mut server = start(EXERCISE, &tutorial, &["127.0.0.1:0"]);
    let addr = server.addr();
    let client = udp_socket_for(addr);
    // Long enough for an answer; short enough not to keep a student waiting.
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    client.send_to(&[b'h', b'i', 0xff], addr).unwrap();
    let mut buf = [0u8; 64];
    match uninterrupted(|| client.recv_from(&mut buf)) {
        Ok((n, _)) => ensure(
            &buf[..n] == b"Message received",
            EXERCISE,
            "`Message received` as the answer to b\"hi\\xff\"",
            format!("the answer {:?}", String::from_utf8_lossy(&buf[..n])),
        ),
        Err(_) => {
            let died = !server.alive();
            not_yet(
                EXERCISE,
                "an answer to b\"hi\\xff\", as to any other datagram",
                if died {
                    format!("the example ended: {}", server.stderr().trim())
                } else {
                    "no answer".to_string()
                },
            )
        }
    }
    let line = server.stdout_line(WAIT).unwrap_or_default();
    ensure(
        line.ends_with(": hi\u{fffd}"),
        EXERCISE,
        "a `Received data from ADDR: hi\u{fffd}` line (U+FFFD stands in for the bad byte)",
        format!("{line:?}"),
    );
    // And it is still there for the next client.
    let got = udp_text_with_retries(addr, "still there?");
    ensure(
        got == "Message received",
        EXERCISE,
        "an answer to the next datagram",
        format!("{got:?}"),
    );
}
