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
const CLIENTS: Flag = Flag::with_default(
    "clients",
    "N",
    "1",
    "client threads, one request in flight each (1-1024)",
);
const REQUESTS: Flag = Flag::with_default(
    "requests",
    "N",
    "1000000",
    "stop after this many requests in all",
);
const DURATION: Flag = Flag::with_default(
    "duration-ms",
    "MS",
    "1000",
    "...or after this long (at most 60000)",
);
const TIMEOUT: Flag =
    Flag::with_default("timeout-ms", "MS", "2000", "how long to wait for one reply");
const SIZE: Flag = Flag::with_default(
    "size",
    "BYTES",
    "32",
    "bytes per request (at least the sequence number)",
);
const CHECK: Flag = Flag::with_default(
    "check",
    "echo|any",
    "echo",
    "echo: the reply must end with the request; any: any reply counts",
);

static UDP: Spec = Spec {
    name: "udp",
    about: "closed-loop UDP clients; a lost datagram is resent, then counted as an error",
    positionals: &[],
    flags: &[
        Flag::with_default("addr", "ADDR", "127.0.0.1:6532", ADDR_HELP),
        CLIENTS,
        REQUESTS,
        DURATION,
        TIMEOUT,
        Flag::with_default("retries", "N", "2", "resends after a timeout"),
        SIZE,
        CHECK,
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
        Flag::with_default("addr", "ADDR", "127.0.0.1:65432", ADDR_HELP),
        CLIENTS,
        REQUESTS,
        DURATION,
        TIMEOUT,
        SIZE,
        CHECK,
        Flag::with_default(
            "framing",
            "raw|line",
            "raw",
            "raw: one write is one message; line: messages end with a newline",
        ),
        Flag::switch(
            "per-request-connect",
            "connect, send, read the reply, close, for every request",
        ),
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
        Flag::optional("bin", "PATH", "the server binary"),
        Flag::with_default("args", "ARGS", "--port 0", "its arguments, split at spaces"),
        Flag::with_default("tries", "N", "20", "how many times (1-1000)"),
        Flag::with_default(
            "pause-max-ms",
            "MS",
            "100",
            "pauses before SIGINT are spread over 0..MS",
        ),
        Flag::with_default("log", "LEVEL", "info", "the server's RUST_LOG"),
        Flag::with_default(
            "expect-log",
            "TEXT",
            "server closed",
            "the server must log this on the way out; timed to it ('' times the exit)",
        ),
        Flag::optional(
            "load",
            "COMMAND",
            "run COMMAND ({addr}, {host}, {port}: the server's) against the server during each try",
        ),
        Flag::with_default(
            "load-seen",
            "TEXT",
            "from ",
            "with --load: signal only once the server's log shows TEXT",
        ),
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
            let load = load(&m);
            let report = loadgen::udp::run(&load, m.get_in("retries", 0..=100));
            println!("{report}");
        }
        "tcp" => {
            let load = load(&m);
            let mode = TcpMode {
                framing: m.get("framing"),
                per_request_connect: m.switch("per-request-connect"),
            };
            println!("{}", loadgen::tcp::run(&load, mode));
        }
        _ => {
            let Some(bin) = m.opt::<PathBuf>("bin") else {
                cli::usage_error("missing --bin");
            };
            let plan = CtrlcRun {
                bin,
                args: m
                    .get::<String>("args")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                tries: m.get_in("tries", 1..=1000),
                pause_max: m.millis("pause-max-ms", 10_000),
                log_level: m.get("log"),
                expect_log: m.get("expect-log"),
                load: m.opt("load"),
                load_seen: m.get("load-seen"),
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
fn load(m: &Matches) -> Load {
    let addr: SocketAddr = m.get("addr");
    let addr = bench::require_loopback(addr).unwrap_or_else(|e| cli::usage_error(&e));
    Load {
        addr,
        clients: m.get_in("clients", 1..=1024),
        requests: m.get_in("requests", 1..=100_000_000),
        duration: m.millis("duration-ms", 60_000),
        timeout: Duration::from_millis(m.get_in("timeout-ms", 1..=60_000)),
        size: m.get_in("size", 1..=60_000),
        check: m.get::<Check>("check"),
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
