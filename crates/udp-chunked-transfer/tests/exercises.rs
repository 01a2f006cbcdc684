//! Checkers for the exercises of docs/udp-chunked-transfer.md. Each is
//! ignored until a student asks for it by name:
//!
//! ```text
//! cargo test -p udp-chunked-transfer --test exercises -- --ignored aimd
//! ```
//!
//! The answers are in docs/exercises/ (`udp-chunked-transfer--*.patch`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use common::testing::exercise::{self, ensure, not_yet, said};
use common::testing::{example, run, Lesson};

mod files;

const BIN: &str = env!("CARGO_BIN_EXE_udp-chunked-transfer");

/// A file of `len` bytes that look random, in a directory of its own.
fn file(name: &str, len: usize) -> (PathBuf, PathBuf) {
    let dir = files::scratch("chunked-exercises", name);
    let src = dir.join("src.bin");
    files::make_file(&src, len, 0x9e37_79b9_7f4a_7c15);
    (src, dir.join("copy.bin"))
}

/// The lesson's receiver on 127.0.0.1, any port, with `extra` flags; then
/// its sender, `send SRC` with `send_flags`, to completion (bounded).
fn transfer(name: &str, send_flags: &[&str], receive_flags: &[&str]) -> (Lesson, Output) {
    let (src, out) = file(name, 300_000);
    let mut args = vec!["receive", "--out", out.to_str().unwrap(), "--port", "0"];
    args.extend_from_slice(receive_flags);
    let receiver = Lesson::start(BIN, &args);
    let port = receiver.addr().port().to_string();
    let mut args = vec![
        "send",
        src.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ];
    args.extend_from_slice(send_flags);
    let sent = run(BIN, &args, "", Duration::from_secs(30));
    (receiver, sent)
}

/// Fail with the sender's own words when it refused `flag` (exit 2, a
/// usage error): the exercise's flag is not there yet.
fn refused(exercise: &str, flag: &str, out: &Output) {
    exercise::refused(
        exercise,
        &format!("udp-chunked-transfer send ... {flag}"),
        out,
    );
}

/// The number just before `what` in `text`: `12 retransmissions` → 12.
fn count_before(text: &str, what: &str) -> Option<u64> {
    let at = text.find(what)?;
    text[..at].rsplit([' ', ',']).next()?.parse().ok()
}

/// The number right after `key` in `text`: `largest 24,` → 24.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(key)? + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Every whole number in `text`, in order.
fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Exercise 2: the Sorcerer's Apprentice, rebuilt on purpose behind
/// `send --resend-on-duplicate`. On a link that loses nothing, with every
/// ACK sent twice, the broken sender resends (or gives up); the lesson's
/// sender resends nothing (tests/chunked.rs checks that side).
#[test]
#[ignore = "exercise: cargo test -p udp-chunked-transfer --test exercises -- --ignored sorcerer"]
fn sorcerer() {
    const EXERCISE: &str = "udp-chunked-transfer 2, the Sorcerer's Apprentice";
    // A 2 s RTO: no timer fires in this short transfer, so every resend
    // comes from a duplicate ACK.
    let (_receiver, sent) = transfer(
        "sorcerer",
        &[
            "--resend-on-duplicate",
            "--window",
            "16",
            "--min-rto-ms",
            "2000",
        ],
        &["--simulate-duplicate", "1"],
    );
    refused(EXERCISE, "--resend-on-duplicate", &sent);
    let text = said(&sent);
    let gave_up = text.contains("never acknowledged");
    let resent = count_before(&text, " retransmission").unwrap_or(0);
    ensure(
        gave_up || resent > 0,
        EXERCISE,
        "with --resend-on-duplicate against `receive --simulate-duplicate 1`, retransmissions \
         on a link that loses nothing (or a sender that gives up)",
        format!("{resent} retransmissions: {}", text.trim()),
    );
}

/// Exercise 3: AIMD congestion control behind `send --aimd`, which prints
/// `congestion window: started at 2, largest N, halved K times`.
#[test]
#[ignore = "exercise: cargo test -p udp-chunked-transfer --test exercises -- --ignored aimd"]
fn aimd() {
    const EXERCISE: &str = "udp-chunked-transfer 3, AIMD congestion control";
    let report = |name: &str, flags: &[&str]| {
        let mut all = vec!["--aimd"];
        all.extend_from_slice(flags);
        let (_receiver, sent) = transfer(name, &all, &[]);
        refused(EXERCISE, "--aimd", &sent);
        let text = said(&sent);
        ensure(
            sent.status.success(),
            EXERCISE,
            format!("`send --aimd {}` to deliver the file", flags.join(" ")),
            text.trim(),
        );
        let Some(line) = text.lines().find(|l| l.starts_with("congestion window: ")) else {
            not_yet(
                EXERCISE,
                "a line `congestion window: started at 2, largest N, halved K times` after \
                 the summary",
                format!("none in: {}", text.trim()),
            )
        };
        let (started, largest, halved) = (
            number_after(line, "started at "),
            number_after(line, "largest "),
            number_after(line, "halved "),
        );
        match (started, largest, halved) {
            (Some(s), Some(l), Some(h)) => (s, l, h, line.to_string()),
            _ => not_yet(
                EXERCISE,
                "`congestion window: started at 2, largest N, halved K times`",
                line,
            ),
        }
    };
    // A 1 s RTO: on a busy machine a 20 ms timer could fire for no loss.
    let (started, largest, halved, line) = report("aimd-lossless", &["--min-rto-ms", "1000"]);
    ensure(
        started == 2 && halved == 0 && largest > 2,
        EXERCISE,
        "on a link that loses nothing: started at 2, grown past 2, halved 0 times",
        &line,
    );
    let (_, _, halved, line) = report("aimd-lossy", &["--simulate-loss", "0.05"]);
    ensure(
        halved >= 1,
        EXERCISE,
        "with --simulate-loss 0.05: halved at least once",
        &line,
    );
}

/// Exercise 4: the tutorial's receiver gets a timeout. The test plays the
/// sender: a count of 6 chunks, then chunks 0, 2, 3 and 5 only. The
/// receiver must end by itself within a few seconds, naming 1 and 4.
#[test]
#[ignore = "exercise: cargo test -p udp-chunked-transfer -- --ignored tutorial_timeout"]
fn tutorial_timeout() {
    const EXERCISE: &str = "udp-chunked-transfer 4, the tutorial's receiver gives up";
    let (_, out) = file("tutorial-timeout", 0);
    let tutorial = example(env!("CARGO_MANIFEST_DIR"), "udp-chunked-transfer-tutorial");
    let mut rx = Lesson::start(
        &tutorial,
        &["receive", "127.0.0.1:0", out.to_str().unwrap()],
    );
    let to: SocketAddr = rx.addr();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(&6u32.to_be_bytes(), to).unwrap();
    for index in [0u32, 2, 3, 5] {
        let mut datagram = index.to_be_bytes().to_vec();
        datagram.extend_from_slice(&[b'x'; 1024]);
        sender.send_to(&datagram, to).unwrap();
    }
    let sent = Instant::now();
    // Generous: a 2 s timeout ends it well before this.
    let limit = Duration::from_secs(6);
    let Some(status) = rx.try_wait_exit(limit) else {
        not_yet(
            EXERCISE,
            "the receiver to give up by itself a few seconds after the last chunk",
            format!(
                "it was still waiting {} s later (and would wait for ever)",
                limit.as_secs()
            ),
        )
    };
    let stderr = rx.stderr();
    ensure(
        !status.success(),
        EXERCISE,
        "a failure exit: the file is incomplete",
        format!("{status}, stderr {:?}", stderr.trim()),
    );
    // The numbers after the word `missing`: 1 and 4, and none of the
    // chunks that came.
    let named = stderr
        .find("missing")
        .map(|at| numbers(&stderr[at..]))
        .unwrap_or_default();
    ensure(
        named.contains(&1) && named.contains(&4) && ![0, 2, 3, 5].iter().any(|n| named.contains(n)),
        EXERCISE,
        "an error that says `missing` and then names chunks 1 and 4 (and no others)",
        format!(
            "{:?} after {:.1} s",
            stderr.trim(),
            sent.elapsed().as_secs_f64()
        ),
    );
    ensure(
        !out.exists(),
        EXERCISE,
        "no copy written",
        format!("{} exists", out.display()),
    );
}
