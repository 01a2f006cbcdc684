//! The Nagle lesson: `--split`, `--nodelay` and `--repeat`, run for real.
//! The stall is measured against the real `tcp-server --framing line`, on
//! 127.0.0.1, port 0; the flags and the summary line against small peers
//! made here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::thread;

use common::testing::{expect_help, expect_usage_errors, run, Lesson, WAIT};

const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");

/// The real tcp-server, built beside this crate's binary by a workspace
/// build (`cargo test --workspace`, as CI runs it). `cargo test -p
/// tcp-client` alone does not build it: then the test says so and skips.
fn tcp_server(test: &str) -> Option<String> {
    let path =
        Path::new(CLIENT).with_file_name(format!("tcp-server{}", std::env::consts::EXE_SUFFIX));
    if path.exists() {
        Some(path.to_string_lossy().into_owned())
    } else {
        eprintln!("skipped {test}: tcp-server is not built (run cargo test --workspace)");
        None
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The median and max of the line `N round trips, median X ms, max Y ms`,
/// which must be the last line of stdout, for `rounds` round trips.
fn summary(out: &Output, rounds: usize) -> (f64, f64) {
    let stdout = text(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let rest = line
        .strip_prefix(&format!("{rounds} round trips, median "))
        .unwrap_or_else(|| panic!("not a summary line: {line:?}"));
    let (median, max) = rest
        .strip_suffix(" ms")
        .and_then(|r| r.split_once(" ms, max "))
        .unwrap_or_else(|| panic!("not a summary line: {line:?}"));
    (median.parse().unwrap(), max.parse().unwrap())
}

/// Run the client `rounds` times against `port`, in line framing, with
/// `extra` flags; it must succeed.
fn timed(port: &str, rounds: usize, extra: &[&str]) -> Output {
    let rounds = rounds.to_string();
    let mut args = vec![
        "--port",
        port,
        "--framing",
        "line",
        "--message",
        "ping",
        "--repeat",
        &rounds,
    ];
    args.extend_from_slice(extra);
    let out = run(CLIENT, &args, "", WAIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// The lesson's claim, as a ratio in one run: a message in two writes,
/// answered only once the whole line is in, waits for the server's delayed
/// ACK (about 40 ms on Linux); with TCP_NODELAY it does not. Never an
/// absolute time: a slow machine slows both sides.
#[test]
#[cfg_attr(
    windows,
    ignore = "Windows (and Wine on top of Linux) delays ACKs with timers and rules of its own, so the stall need not show; the test is for Linux and macOS"
)]
fn split_writes_stall_without_nodelay() {
    let Some(server) = tcp_server("split_writes_stall_without_nodelay") else {
        return;
    };
    let server = Lesson::start(&server, &["--framing", "line", "--port", "0"]);
    let port = server.addr().port().to_string();
    let rounds = 12;
    let stalled = timed(&port, rounds, &["--split"]);
    let prompt = timed(&port, rounds, &["--split", "--nodelay"]);
    let (slow, _) = summary(&stalled, rounds);
    let (fast, _) = summary(&prompt, rounds);
    // Three decimals: a median that prints as 0.000 was under 0.001 ms.
    let ratio = slow / fast.max(0.001);
    assert!(
        ratio >= 20.0,
        "--split median {slow} ms, --split --nodelay median {fast} ms: ratio {ratio:.1}, \
         expected at least 20"
    );
    for out in [&stalled, &prompt] {
        assert_eq!(text(&out.stdout).lines().next(), Some("Message received"));
    }
}

/// The summary is the last line of stdout; only the first reply and any
/// reply unlike the one before it are printed; the per-message log lines are
/// not shown (they would flood the terminal and be timed too).
#[test]
fn repeat_prints_new_replies_and_one_summary_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let answers = ["same", "same", "other", "other", "same"];
        let mut lines = BufReader::new(&stream).lines();
        let mut seen = Vec::new();
        for answer in answers {
            let Some(Ok(line)) = lines.next() else { break };
            (&stream)
                .write_all(format!("{answer}\n").as_bytes())
                .unwrap();
            seen.push(line);
        }
        seen
    });
    let out = timed(&port, 5, &["--split"]);
    let stdout = text(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let last = lines.pop().unwrap_or_default();
    assert_eq!(lines, ["same", "other", "same"], "{stdout}");
    assert!(last.starts_with("5 round trips, median "), "{stdout}");
    let (median, max) = summary(&out, 5);
    assert!(median <= max, "{last}");
    // The peer got each message whole, however it was written.
    assert_eq!(peer.join().unwrap(), ["ping"; 5]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("sent "), "{stderr}");
}

/// One round trip is one, not ones.
#[test]
fn repeat_once_says_one_round_trip() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        (&stream).write_all(b"Echo: ping\n").unwrap();
        line
    });
    let out = timed(&port, 1, &["--nodelay"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("Echo: ping\n1 round trip, median "),
        "{stdout}"
    );
    assert_eq!(peer.join().unwrap(), "ping\n");
}

#[test]
fn nagle_flags() {
    expect_usage_errors(
        CLIENT,
        &[
            (&["--repeat", "0", "--message", "hi"], "'0' for --repeat"),
            (
                &["--repeat", "10001", "--message", "hi"],
                "'10001' for --repeat",
            ),
            (
                &["--repeat", "many", "--message", "hi"],
                "'many' for --repeat",
            ),
            (&["--repeat", "3"], "--repeat needs --message"),
            (&["--repeat"], "--repeat"),
        ],
    );
    expect_help(
        CLIENT,
        &[
            "--split",
            "--nodelay",
            "--repeat N",
            "TCP_NODELAY",
            "1-10000",
        ],
    );
}
