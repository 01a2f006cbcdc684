//! # stress: the stress and fault suite
//!
//! Runs every lesson server through abuse and checks that it keeps working,
//! loses nothing it promised, and stops cleanly. `scripts/stress.sh` builds
//! the lessons and runs this; `docs/reliability.md` explains each check and
//! gives the figures of a real run.
//!
//! Every check prints one line, `PASS|FAIL <server> <check>: <figures>`, and
//! the run ends with `N passed, N failed` alone on a line. The exit code is 0
//! only when nothing failed.
//!
//! All traffic goes to loopback (127.0.0.1). Every loop is bounded in count
//! and in time, and a watchdog ends the whole run (and every server it
//! started) if it ever overruns `--deadline-s`.
//!
//! | group         | what it does                                              |
//! |---------------|-----------------------------------------------------------|
//! | `datagrams`   | 10,000 hostile datagrams to each UDP server               |
//! | `connections` | 1,000 hostile connections to each TCP server              |
//! | `held`        | 1,000 idle connections held against tcp-threaded-server   |
//! | `slow`        | an idle client must not hold up the next one              |
//! | `fds`         | out of file descriptors (`ulimit -n 64`): EMFILE survived |
//! | `transfer`    | chunked transfers over a lossy link, and killed midway     |
//! | `shutdown`    | SIGINT 20 times per server while clients are busy         |

mod broadcast;
mod chunked;
mod chunked_wire;
mod process;
mod report;
mod shutdown;
mod tcp;
mod tcp_held;
mod tcp_servers;
mod udp;
mod udp_servers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use common::cli::{Flag, Spec};

use crate::process::Bins;
use crate::report::Report;

/// Every lesson binary: all must be built before the suite starts. (The bad
/// command lines that were this suite's `cli` group are in `cargo test` now:
/// each lesson's `tests/cli.rs`.)
const LESSONS: [&str; 8] = [
    "udp-server",
    "udp-threaded-server",
    "udp-client",
    "tcp-server",
    "tcp-threaded-server",
    "tcp-client",
    "udp-chunked-transfer",
    "udp-broadcast",
];

/// The groups, in the order they run.
const GROUPS: [&str; 7] = [
    "datagrams",
    "connections",
    "held",
    "slow",
    "fds",
    "shutdown",
    "transfer",
];

const BIN_DIR: Flag<String> = Flag::optional(
    "bin-dir",
    "DIR",
    "where the lesson binaries are (default: next to this program)",
);
const ONLY: Flag<&str> = Flag::with_default(
    "only",
    "GROUPS",
    "all",
    "comma-separated groups to run: datagrams, connections, held, slow, fds, shutdown, \
     transfer",
);
const SEED: Flag<u64> = Flag::with_default(
    "seed",
    "N",
    20261121,
    "seed of every random choice; the same seed repeats a run",
);
const DATAGRAMS: Flag<usize> =
    Flag::with_default("datagrams", "N", 10000, "hostile datagrams per UDP server");
const CONNECTIONS: Flag<usize> = Flag::with_default(
    "connections",
    "N",
    1000,
    "hostile connections per TCP server",
);
const HELD: Flag<usize> = Flag::with_default(
    "held",
    "N",
    1000,
    "idle connections held against tcp-threaded-server",
);
const ROUNDS: Flag<usize> = Flag::with_default(
    "rounds",
    "N",
    20,
    "SIGINT rounds per server in the shutdown group",
);
const TRANSFERS: Flag<usize> = Flag::with_default(
    "transfers",
    "N",
    20,
    "lossy transfers, one seed each, in the transfer group",
);
const KILLS: Flag<usize> = Flag::with_default(
    "kills",
    "N",
    12,
    "transfers killed at a random point, in the transfer group",
);
const DEADLINE: Flag<u64> = Flag::with_default(
    "deadline-s",
    "S",
    170,
    "the watchdog stops everything after this many seconds",
);

static SPEC: Spec = Spec {
    name: "stress",
    about: "the stress and fault suite: hostile input, overload and shutdown under load, \
            against every lesson server on loopback",
    positionals: &[],
    flags: &[
        &BIN_DIR,
        &ONLY,
        &SEED,
        &DATAGRAMS,
        &CONNECTIONS,
        &HELD,
        &ROUNDS,
        &TRANSFERS,
        &KILLS,
        &DEADLINE,
    ],
    examples: &[
        "scripts/stress.sh",
        "stress --only shutdown",
        "stress --only datagrams,shutdown --datagrams 1000 --rounds 3",
    ],
};

/// What to run, and how much of it.
pub struct Plan {
    pub only: Vec<String>,
    pub seed: u64,
    pub datagrams: usize,
    pub connections: usize,
    pub held: usize,
    pub rounds: usize,
    pub transfers: usize,
    pub kills: usize,
}

impl Plan {
    /// Is group `name` part of this run?
    pub fn wants(&self, name: &str) -> bool {
        self.only.iter().any(|g| g == "all" || g == name)
    }
}

fn main() -> ExitCode {
    let m = SPEC.parse();
    let only: Vec<String> = m
        .text(&ONLY)
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(unknown) = only
        .iter()
        .find(|g| *g != "all" && !GROUPS.contains(&g.as_str()))
    {
        common::cli::usage_error(&format!(
            "unknown group '{unknown}' for --only: expected some of {}",
            GROUPS.join(", ")
        ));
    }
    let plan = Plan {
        only,
        seed: m.get(&SEED),
        datagrams: m.get_in(&DATAGRAMS, 1..=100_000),
        connections: m.get_in(&CONNECTIONS, 8..=100_000),
        held: m.get_in(&HELD, 1..=10_000),
        rounds: m.get_in(&ROUNDS, 1..=100),
        transfers: m.get_in(&TRANSFERS, 1..=100),
        kills: m.get_in(&KILLS, 1..=100),
    };
    let deadline = Duration::from_secs(m.get_in(&DEADLINE, 1..=3600));
    let bin_dir = match m.opt(&BIN_DIR) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
        {
            Some(dir) => dir,
            None => common::cli::usage_error("cannot tell where this program is: pass --bin-dir"),
        },
    };
    let bins = Bins::new(bin_dir);
    if let Some(missing) = LESSONS.iter().find(|b| !bins.has(b)) {
        eprintln!(
            "stress: error: {} not found: build the lessons first (cargo build --workspace --bins) \
             or pass --bin-dir",
            bins.path(missing).display()
        );
        return ExitCode::FAILURE;
    }

    let started = Instant::now();
    watchdog(deadline);
    println!(
        "stress suite: seed {}, {} datagrams per UDP server, {} SIGINT rounds per server, \
         groups {}",
        plan.seed,
        plan.datagrams,
        plan.rounds,
        plan.only.join(",")
    );
    let mut report = Report;
    udp_servers::run(&bins, &plan, &mut report);
    broadcast::run_checks(&bins, &plan, &mut report);
    tcp_servers::run(&bins, &plan, &mut report);
    chunked::run_checks(&bins, &plan, &mut report);
    report.summary(started.elapsed());
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// After `deadline`, report a hang, kill every server we started and exit 1.
fn watchdog(deadline: Duration) {
    thread::spawn(move || {
        thread::sleep(deadline);
        let mut report = Report;
        report.record(
            "suite",
            "watchdog",
            Err(format!(
                "still running after {} s: something hangs; every process it started is killed",
                deadline.as_secs()
            )),
        );
        common::testing::kill_every_lesson();
        report.summary(deadline);
        std::process::exit(1);
    });
}
