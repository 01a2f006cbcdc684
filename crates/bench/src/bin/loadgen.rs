//! # loadgen: the load generator of `scripts/bench.sh`
//!
//! Not a lesson: a tool that measures them. Three commands:
//!
//! - `loadgen udp`: N client threads, each sending a datagram and waiting for
//!   its reply (with a timeout and a bounded number of resends), then the next.
//! - `loadgen tcp`: the same over TCP, on one connection per client
//!   (persistent) or a new connection per request (`--per-request-connect`).
//! - `loadgen ctrlc`: start a server 20 times, send SIGINT, time the exit.
//!
//! Each prints ONE line of `key=value` pairs on stdout, for example
//!
//! ```text
//! $ loadgen udp --addr 127.0.0.1:6532 --clients 8 --duration-ms 1000
//! udp clients=8 requests=80214 errors=0 resends=0 connects=0 seconds=1.000 rps=80180.2 p50_us=90 p99_us=230
//! ```
//!
//! Only loopback addresses are accepted. Every run stops at `--requests` or
//! `--duration-ms`, whichever comes first, and every wait has a timeout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::loadgen::ctrlc::CtrlcRun;
use bench::loadgen::tcp::TcpMode;
use bench::loadgen::{self, Check, Load};
use common::cli::{self, Flag, Matches, Spec};

const ADDR_HELP: &str = "the server (loopback only)";
const CLIENTS: Flag<usize> = Flag::with_default(
    "clients",
    "N",
    1,
    "client threads, one request in flight each (1-1024)",
);
const REQUESTS: Flag<u64> = Flag::with_default(
    "requests",
    "N",
    1000000,
    "stop after this many requests in all",
);
const DURATION: Flag<u64> = Flag::with_default(
    "duration-ms",
    "MS",
    1000,
    "...or after this long (at most 60000)",
);
const TIMEOUT: Flag<u64> =
    Flag::with_default("timeout-ms", "MS", 2000, "how long to wait for one reply");
const SIZE: Flag<usize> = Flag::with_default(
    "size",
    "BYTES",
    32,
    "bytes per request (at least the sequence number)",
);
const CHECK: Flag<&str> = Flag::with_default(
    "check",
    "echo|any",
    "echo",
    "echo: the reply must end with the request; any: any reply counts",
);

const UDP_ADDR: Flag<&str> = Flag::with_default("addr", "ADDR", "127.0.0.1:6532", ADDR_HELP);
const RETRIES: Flag<u32> = Flag::with_default("retries", "N", 2, "resends after a timeout");
const TCP_ADDR: Flag<&str> = Flag::with_default("addr", "ADDR", "127.0.0.1:65432", ADDR_HELP);
const FRAMING: Flag<&str> = Flag::with_default(
    "framing",
    "raw|line",
    "raw",
    "raw: one write is one message; line: messages end with a newline",
);
const PER_REQUEST_CONNECT: Flag<bool> = Flag::switch(
    "per-request-connect",
    "connect, send, read the reply, close, for every request",
);
const BIN: Flag<String> = Flag::optional("bin", "PATH", "the server binary");
const ARGS: Flag<&str> =
    Flag::with_default("args", "ARGS", "--port 0", "its arguments, split at spaces");
const TRIES: Flag<usize> = Flag::with_default("tries", "N", 20, "how many times (1-1000)");
const PAUSE_MAX: Flag<u64> = Flag::with_default(
    "pause-max-ms",
    "MS",
    100,
    "pauses before SIGINT are spread over 0..MS",
);
const LOG: Flag<&str> = Flag::with_default("log", "LEVEL", "info", "the server's RUST_LOG");
const EXPECT_LOG: Flag<&str> = Flag::with_default(
    "expect-log",
    "TEXT",
    "server closed",
    "the server must log this on the way out; timed to it ('' times the exit)",
);
const LOAD: Flag<String> = Flag::optional(
    "load",
    "COMMAND",
    "run COMMAND ({addr}, {host}, {port}: the server's) against the server during each try",
);
const LOAD_SEEN: Flag<&str> = Flag::with_default(
    "load-seen",
    "TEXT",
    "from ",
    "with --load: signal only once the server's log shows TEXT",
);

static UDP: Spec = Spec {
    name: "udp",
    about: "closed-loop UDP clients; a lost datagram is resent, then counted as an error",
    positionals: &[],
    flags: &[
        &UDP_ADDR, &CLIENTS, &REQUESTS, &DURATION, &TIMEOUT, &RETRIES, &SIZE, &CHECK,
    ],
    examples: &[
        "loadgen udp --addr 127.0.0.1:6532 --clients 8",
        "loadgen udp --addr [::1]:6532 --clients 32 --duration-ms 2000 --check any",
    ],
};

static TCP: Spec = Spec {
    name: "tcp",
    about: "closed-loop TCP clients, on persistent connections or one connection per request",
    positionals: &[],
    flags: &[
        &TCP_ADDR,
        &CLIENTS,
        &REQUESTS,
        &DURATION,
        &TIMEOUT,
        &SIZE,
        &CHECK,
        &FRAMING,
        &PER_REQUEST_CONNECT,
    ],
    examples: &[
        "loadgen tcp --addr 127.0.0.1:65432 --clients 8",
        "loadgen tcp --addr 127.0.0.1:65432 --clients 8 --per-request-connect",
    ],
};

static CTRLC: Spec = Spec {
    name: "ctrlc",
    about: "start a server, wait for `listening on`, send SIGINT, time `server closed`; repeat",
    positionals: &[],
    flags: &[
        &BIN,
        &ARGS,
        &TRIES,
        &PAUSE_MAX,
        &LOG,
        &EXPECT_LOG,
        &LOAD,
        &LOAD_SEEN,
    ],
    examples: &[
        "loadgen ctrlc --bin target/release/udp-server --args '--port 0' --tries 20",
        "loadgen ctrlc --bin target/release/udp-server --load 'target/release/loadgen udp --addr {addr} --clients 2 --check any'",
    ],
};

fn main() -> ExitCode {
    let (spec, m) = cli::parse_subcommand(
        "loadgen",
        "load generator for scripts/bench.sh (loopback only)",
        &[&UDP, &TCP, &CTRLC],
    );
    init_logging();
    match spec.name {
        "udp" => {
            let load = load(&m, &UDP_ADDR);
            let report = loadgen::udp::run(&load, m.get_in(&RETRIES, 0..=100));
            println!("{report}");
        }
        "tcp" => {
            let load = load(&m, &TCP_ADDR);
            let mode = TcpMode {
                framing: m.parse(&FRAMING),
                per_request_connect: m.switch(&PER_REQUEST_CONNECT),
            };
            println!("{}", loadgen::tcp::run(&load, mode));
        }
        _ => {
            let Some(bin) = m.opt(&BIN).map(PathBuf::from) else {
                cli::usage_error("missing --bin");
            };
            let plan = CtrlcRun {
                bin,
                args: m
                    .text(&ARGS)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                tries: m.get_in(&TRIES, 1..=1000),
                pause_max: m.millis(&PAUSE_MAX, 10_000),
                log_level: m.text(&LOG),
                expect_log: m.text(&EXPECT_LOG),
                load: m.opt(&LOAD),
                load_seen: m.text(&LOAD_SEEN),
            };
            let report = loadgen::ctrlc::run(&plan);
            println!("{report}");
            if report.failures > 0 {
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The options shared by `udp` and `tcp`.
fn load(m: &Matches, addr: &Flag<&str>) -> Load {
    let addr: SocketAddr = m.parse(addr);
    let addr = bench::require_loopback(addr).unwrap_or_else(|e| cli::usage_error(&e));
    Load {
        addr,
        clients: m.get_in(&CLIENTS, 1..=1024),
        requests: m.get_in(&REQUESTS, 1..=100_000_000),
        duration: m.millis(&DURATION, 60_000),
        timeout: Duration::from_millis(m.get_in(&TIMEOUT, 1..=60_000)),
        size: m.get_in(&SIZE, 1..=60_000),
        check: m.parse::<Check>(&CHECK),
    }
}

/// Warnings (a server that failed to exit, say) go to stderr through the
/// same logger as the lessons, at `warn` unless RUST_LOG says otherwise.
fn init_logging() {
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    common::logging::init();
}
