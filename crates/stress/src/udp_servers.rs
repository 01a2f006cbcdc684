//! udp-server and udp-threaded-server: hostile datagrams and shutdown under
//! load.

use std::time::Duration;

use crate::process::{self, check_log, Bins};
use crate::report::{ensure, Outcome, Report};
use crate::shutdown::{self, count_lines};
use crate::udp::{self, probe_figure};
use crate::Plan;
use common::rng::SplitMix64;

const SERVERS: [&str; 2] = ["udp-server", "udp-threaded-server"];

/// Requests that look like the `--reply command` protocol, or like some
/// other protocol that a stray client might speak.
fn fake_request(rng: &mut SplitMix64) -> Vec<u8> {
    let mut out: Vec<u8> = match rng.range(0, 6) {
        0 => b"TIME\0\0".to_vec(),
        1 => b"ECHO".to_vec(),
        2 => {
            let mut v = b"ECHO ".to_vec();
            v.extend(std::iter::repeat(b'E').take(rng.range(1000, 65_000)));
            v
        }
        3 => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        // A DNS query header: id, flags, one question, and a cut-off name.
        4 => vec![
            0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x07, b'e',
        ],
        5 => b"\r\n\r\n".to_vec(),
        _ => b"TIME TIME TIME".to_vec(),
    };
    if rng.percent(30) {
        let tail = rng.range(0, 64);
        out.extend(rng.bytes(tail));
    }
    out
}

/// 10,000 hostile datagrams, then a normal request.
fn hostile(bins: &Bins, name: &str, plan: &Plan) -> Outcome {
    let server = process::start(
        bins,
        name,
        &["--port", "0", "--reply", "echo", "--buffer-size", "65507"],
    )?;
    let flood = udp::flood(&server, plan.datagrams, plan.seed, &fake_request)?;
    let addr = server.try_addr()?;
    let (reply, latency) = udp::request_with_retries(addr, b"probe after the flood")?;
    ensure(reply == b"Echo: probe after the flood", || {
        format!(
            "wrong answer after the flood: {:?}",
            String::from_utf8_lossy(&reply)
        )
    })?;
    let mut server = server;
    ensure(server.alive(), || "the server died".to_string())?;
    check_log(&server.stderr())?;
    flood.check_delivered(1)?;
    flood.check_memory(4 * 1024, 64 * 1024)?;
    Ok(format!("{}; {}", flood.figures(), probe_figure(latency)))
}

/// Each load client sends numbered lines.
fn request(client: usize, i: usize) -> Vec<u8> {
    format!("load {client} {i}").into_bytes()
}

/// Every request the server logged got its reply logged too (no handler
/// thread cut off), and the clients got no more replies than were logged.
fn verify(log: &str, replies: usize) -> Result<(), String> {
    let received = count_lines(log, ": \"load ");
    let answered = count_lines(log, "replied to ") + count_lines(log, "send_to ");
    ensure(received == answered, || {
        format!("{received} requests logged but {answered} replies logged: a handler was cut off")
    })?;
    ensure(replies <= answered, || {
        format!("clients got {replies} replies but only {answered} are in the log")
    })
}

fn shutdown(bins: &Bins, name: &str, plan: &Plan) -> Outcome {
    let args = ["--port", "0", "--reply", "echo", "--delay-ms", "5"];
    let start_load =
        |addr, stop: &_, done: &_| udp::load(addr, 4, stop, done, Duration::from_secs(5), request);
    shutdown::under_load(
        bins,
        name,
        &args,
        plan.rounds,
        plan.seed,
        &start_load,
        &verify,
    )
}

pub fn run(bins: &Bins, plan: &Plan, report: &mut Report) {
    for name in SERVERS {
        if plan.wants("datagrams") {
            report.record(name, "hostile-datagrams", hostile(bins, name, plan));
        }
        if plan.wants("shutdown") {
            report.record(name, "shutdown-under-load", shutdown(bins, name, plan));
        }
    }
}
