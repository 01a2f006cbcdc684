//! Checkers for the exercises at the end of each lesson page.
//!
//! A checker is an integration test in `crates/X/tests/exercises.rs`,
//! ignored by default (`#[ignore = "exercise: ..."]`; one that cannot run
//! on Windows says `#[cfg_attr(not(windows), ignore = "exercise: ...")]`
//! and `#[cfg_attr(windows, ignore = "why")]`, since two `ignore`s on one
//! test are an unused-attribute warning there), that starts the
//! student's own build of the lesson and checks the behaviour the exercise
//! asks for, over real sockets. A student runs one with the command printed
//! in the exercise, for example
//! `cargo test -p udp-server --test exercises -- --ignored reverse`.
//!
//! When the behaviour is not there yet, the checker fails with
//! [`not_yet`]: what was expected and what came instead, in the words of
//! the exercise, not of the test. `scripts/exercises.sh --check` proves
//! each checker both ways: it fails on the untouched lesson with this
//! message, and passes once the reference answer in `docs/exercises/` is
//! applied.

use std::fmt::Display;

use super::{Launch, Lesson};

/// The words every failed checker starts with; `scripts/exercises.sh`
/// looks for them to tell "not solved yet" from a broken checker.
pub const NOT_YET: &str = "not solved yet";

/// Fail the checker of `exercise`: the behaviour it asked for is missing.
#[track_caller]
pub fn not_yet(exercise: &str, expected: impl Display, instead: impl Display) -> ! {
    panic!(
        "\n\nexercise `{exercise}`: {NOT_YET}.\n  expected: {expected}\n  instead:  {instead}\n\n\
         (The page's exercise says what to change; the answer is in docs/exercises/.)\n"
    )
}

/// [`not_yet`] unless `ok` holds.
#[track_caller]
pub fn ensure(ok: bool, exercise: &str, expected: impl Display, instead: impl Display) {
    if !ok {
        not_yet(exercise, expected, instead);
    }
}

/// Start the student's build of a server, `bin ARGS`, and wait for its
/// `listening on ADDR` line, like [`Lesson::start`]. When it refuses the
/// arguments instead (a flag the exercise adds is not there yet), the
/// checker fails with [`not_yet`] and the server's own words.
#[track_caller]
pub fn start(exercise: &str, bin: &str, args: &[&str]) -> Lesson {
    Launch::new(bin)
        .args(args)
        .try_start()
        .unwrap_or_else(|said| {
            not_yet(
                exercise,
                format!(
                    "`{} {}` to start and print `listening on ADDR`",
                    name(bin),
                    args.join(" ")
                ),
                format!("it did not: {}", said.trim()),
            )
        })
}

/// A binary's file name, for messages: `udp-server`, not its whole path.
pub fn name(bin: &str) -> &str {
    std::path::Path::new(bin)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(bin)
}
