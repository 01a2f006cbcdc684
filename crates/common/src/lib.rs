//! Plumbing shared by every lesson in this workspace.
//!
//! None of this is the lesson. The lessons (`crates/*/src/main.rs`) keep every
//! socket call in plain sight; this crate holds what would only distract from
//! them:
//!
//! | module       | what it does                                                      |
//! |--------------|-------------------------------------------------------------------|
//! | [`cli`]      | `--flag value` parsing, `--help`, usage errors (exit code 2)      |
//! | [`options`]  | the flags and defaults of the request/response lessons            |
//! | [`logging`]  | `info` by default, `RUST_LOG` to change it, short lines on stderr |
//! | [`shutdown`] | Ctrl+C / SIGTERM sets a flag ([`StopSignal`]); a second exits     |
//! | [`sockets`]  | small socket helpers: timeouts, friendly bind errors              |
//! | [`escape`]   | the one rule for printing what a peer sent                        |
//! | [`reply`]    | the reply styles of the tutorials (`Message received`, echo, …)   |
//! | [`limit`]    | a counting limit that keeps threaded servers from spawning forever |
//! | [`rng`]      | SplitMix64: seeded, repeatable random numbers                     |
//! | [`time`]     | UTC timestamps without a date/time dependency                    |
//! | `testing`    | (feature `testing`) spawn a lesson binary from an integration test |

use std::error::Error;
use std::process::ExitCode;

pub mod cli;
pub mod escape;
pub mod limit;
pub mod logging;
pub mod options;
pub mod reply;
pub mod rng;
pub mod shutdown;
pub mod sockets;
pub mod time;

#[cfg(feature = "testing")]
pub mod testing;

pub use limit::ThreadLimit;
pub use shutdown::StopSignal;

/// `println!` that returns an error instead of panicking.
///
/// `println!` panics when stdout is a closed pipe (`udp-client | head -1`),
/// and a panic means exit code 101 and a backtrace. A lesson writes its
/// output with `outln!(...)?` instead, so a closed pipe becomes an ordinary
/// error: one line on stderr and exit code 1.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        writeln!(::std::io::stdout().lock(), $($arg)*)
    }};
}

/// Turn the result of a lesson's `run` function into the process exit code.
///
/// `Ok` is exit code 0 (this includes a graceful Ctrl+C shutdown). An error is
/// printed as one line, `NAME: error: MESSAGE`, and gives exit code 1. Usage
/// errors never get here: [`cli`] exits with code 2 before anything runs.
///
/// The message goes straight to stderr rather than through `log`, so that it
/// is shown even when `RUST_LOG=off`.
pub fn exit_code(result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: error: {error}", cli::program_name());
            ExitCode::FAILURE
        }
    }
}

/// `1 try`, `3 tries`: a count with its noun in the right number, for the
/// summaries a student reads (`after 1 tries` reads as a bug).
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod count_tests {
    #[test]
    fn singular_and_plural() {
        assert_eq!(super::count(1, "try", "tries"), "1 try");
        assert_eq!(super::count(0, "try", "tries"), "0 tries");
        assert_eq!(super::count(3, "chunk", "chunks"), "3 chunks");
    }
}
