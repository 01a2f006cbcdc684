//! The udp-broadcast listener: hostile datagrams and shutdown under load.
//! The listener binds 0.0.0.0; every datagram here goes to 127.0.0.1, and
//! the one real `discover` goes to the loopback broadcast address
//! 127.255.255.255, which never leaves this host.

use std::ffi::OsString;
use std::time::Duration;

use crate::process::{self, check_log, run, Bins};
use crate::report::{ensure, ms, Outcome, Report};
use crate::shutdown::{self, count_lines};
use crate::udp::{self, loopback, probe_figure};
use crate::Plan;
use common::rng::SplitMix64;

const BIN: &str = "udp-broadcast";
const NAME: &str = "stress-listener";

/// Datagrams that look like the discovery protocol but are not quite it
/// (and now and then one that is).
fn fake_discovery(rng: &mut SplitMix64) -> Vec<u8> {
    const FAKES: [&[u8]; 10] = [
        b"DISCOVER\n\n",
        b"DISCOVER ",
        b"discover",
        b"DISCOVER\0",
        b"DISCOVERDISCOVERDISCOVER",
        b"HERE evil\x1b[2J",
        b"HERE ",
        b"\nDISCOVER",
        b"DISCOVER\r\n", // a real request
        b"DISCOVER",     // a real request
    ];
    let mut out = rng.pick(&FAKES).map(|f| f.to_vec()).unwrap_or_default();
    if rng.percent(20) {
        let tail = rng.range(1, 3000);
        out.extend(rng.bytes(tail));
    }
    out
}

fn listen_args() -> Vec<&'static str> {
    vec!["listen", "--port", "0", "--name", NAME]
}

/// 10,000 hostile datagrams, then a real discovery.
fn hostile(bins: &Bins, plan: &Plan) -> Outcome {
    let server = process::start(bins, BIN, &listen_args())?;
    let flood = udp::flood(&server, plan.datagrams, plan.seed, &fake_discovery)?;
    let addr = loopback(server.try_addr()?);
    let (reply, latency) = udp::request_with_retries(addr, b"DISCOVER")?;
    let expected = format!("HERE {NAME}");
    ensure(reply == expected.as_bytes(), || {
        format!(
            "after the flood, DISCOVER got {:?}",
            String::from_utf8_lossy(&reply)
        )
    })?;
    // And the real client, over the loopback broadcast address.
    let port = addr.port().to_string();
    let args: Vec<OsString> = [
        "discover",
        "--port",
        &port,
        "--stop-after",
        "1",
        "--wait-ms",
        "3000",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let found = run(&bins.path(BIN), &args, Duration::from_secs(10))?;
    ensure(
        found.status.code() == Some(0) && found.stdout.contains(NAME),
        || {
            format!(
                "discover after the flood: exit {}, stdout {:?}, stderr {:?}",
                found.status,
                found.stdout.trim(),
                found.stderr.trim()
            )
        },
    )?;
    let mut server = server;
    ensure(server.alive(), || "the listener died".into())?;
    check_log(&server.stderr())?;
    flood.check_delivered(1)?;
    flood.check_memory(2 * 1024, 32 * 1024)?;
    Ok(format!(
        "{}; {}; `discover` found it in {}",
        flood.figures(),
        probe_figure(latency),
        ms(found.elapsed)
    ))
}

fn request(_client: usize, _i: usize) -> Vec<u8> {
    b"DISCOVER".to_vec()
}

/// Every reply a client got was logged as a request first.
fn verify(log: &str, replies: usize) -> Result<(), String> {
    let requests = count_lines(log, "discovery request from");
    ensure(replies <= requests, || {
        format!("clients got {replies} replies but only {requests} requests are in the log")
    })
}

fn shutdown(bins: &Bins, plan: &Plan) -> Outcome {
    let start_load = |addr, stop: &_, done: &_| {
        udp::load(
            loopback(addr),
            4,
            stop,
            done,
            Duration::from_secs(5),
            request,
        )
    };
    shutdown::under_load(
        bins,
        BIN,
        &listen_args(),
        plan.rounds,
        plan.seed,
        &start_load,
        &verify,
    )
}

pub fn run_checks(bins: &Bins, plan: &Plan, report: &mut Report) {
    let who = "udp-broadcast-listen";
    if plan.wants("datagrams") {
        report.record(who, "hostile-datagrams", hostile(bins, plan));
    }
    if plan.wants("shutdown") {
        report.record(who, "shutdown-under-load", shutdown(bins, plan));
    }
}
