//! Starting the lesson binaries for the suite, on the shared harness
//! ([`common::testing::Lesson`]), and reading their figures from `/proc`.
//!
//! A [`Lesson`] kills its process when it is dropped, and the watchdog can
//! kill every one still running (`kill_every_lesson`). Every wait has a
//! deadline.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::testing::{Launch, Lesson, Ran};

/// How long a server may take to print its `listening on` line.
pub const START_WAIT: Duration = Duration::from_secs(10);

/// Where the lesson binaries are.
#[derive(Debug, Clone)]
pub struct Bins {
    dir: PathBuf,
}

impl Bins {
    pub fn new(dir: PathBuf) -> Bins {
        Bins { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Does the binary exist (it may not be built yet)?
    pub fn has(&self, name: &str) -> bool {
        self.path(name).is_file()
    }
}

/// `name` with `args`, logging at `info`, with a backtrace should it panic.
fn launch(bins: &Bins, name: &str, args: &[&str]) -> Launch {
    Launch::new(bins.path(name))
        .args(args)
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "1")
        .patience(START_WAIT)
}

/// Start `name` with `args` and wait for its `listening on ADDR` line.
pub fn start(bins: &Bins, name: &str, args: &[&str]) -> Result<Lesson, String> {
    launch(bins, name, args).try_start()
}

/// Like [`start`], but with the open-file limit lowered to `nofile` first.
pub fn start_with_nofile(
    bins: &Bins,
    name: &str,
    args: &[&str],
    nofile: u32,
) -> Result<Lesson, String> {
    launch(bins, name, args).nofile(nofile).try_start()
}

/// Start without waiting for a `listening on` line (the sending side of a
/// transfer, say).
pub fn spawn(bins: &Bins, name: &str, args: &[&str]) -> Result<Lesson, String> {
    launch(bins, name, args).no_listening().try_start()
}

/// Run a program to completion (stdin closed). If it is still running after
/// `timeout` it is killed and that is an error.
pub fn run(program: &Path, args: &[OsString], timeout: Duration) -> Result<Ran, String> {
    Launch::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .env("RUST_BACKTRACE", "1")
        .no_listening()
        .try_start()?
        .collect(timeout)
}

/// A server's figures from `/proc` (Linux only, as the suite is).
pub trait Proc {
    /// A number from `/proc/PID/status`, such as `Threads` or `VmRSS` (kB).
    fn proc_status(&self, key: &str) -> Option<u64>;

    /// How many threads the process has now.
    fn threads(&self) -> Option<u64> {
        self.proc_status("Threads")
    }

    /// Resident memory now, in KiB.
    fn rss_kib(&self) -> Option<u64> {
        self.proc_status("VmRSS")
    }

    /// The most resident memory so far (the high-water mark), in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        self.proc_status("VmHWM")
    }

    /// The soft limit on open files (`Max open files` in `/proc/PID/limits`).
    fn proc_limit_nofile(&self) -> String;

    /// How many file descriptors are open now.
    fn open_fds(&self) -> Option<usize>;
}

impl Proc for Lesson {
    fn proc_status(&self, key: &str) -> Option<u64> {
        proc_status(self.pid(), key)
    }

    fn proc_limit_nofile(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/limits", self.pid()))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3).map(String::from))
            })
            .unwrap_or_else(|| "unknown".into())
    }

    fn open_fds(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .ok()
            .map(|d| d.count())
    }
}

/// A number from `/proc/PID/status` (`Threads:  5`, `VmRSS:  1234 kB`).
pub fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Check a server log line by line: every line is a whole log line
/// (`HH:MM:SS.mmm LEVEL message`), the log ends with a newline, and nothing
/// panicked. Returns the number of lines.
pub fn check_log(log: &str) -> Result<usize, String> {
    if log.contains("panicked") {
        let line = log.lines().find(|l| l.contains("panicked")).unwrap_or("");
        return Err(format!("the log shows a panic: {line}"));
    }
    if !log.is_empty() && !log.ends_with('\n') {
        let last = log.lines().last().unwrap_or("");
        return Err(format!("the log ends in the middle of a line: {last:?}"));
    }
    let total = log.lines().count();
    for (i, line) in log.lines().enumerate() {
        // The one line a failing program ends with (`NAME: error: ...`,
        // from `common::exit_code`) is allowed, as the last line only.
        let final_error = i + 1 == total && line.contains(": error: ");
        if !is_log_line(line) && !final_error {
            return Err(format!("not a whole log line: {line:?}"));
        }
    }
    Ok(total)
}

/// `09:37:00.123 INFO  ...`: a timestamp, a level, a message.
fn is_log_line(line: &str) -> bool {
    let bytes = line.as_bytes();
    let digits = [0, 1, 3, 4, 6, 7, 9, 10, 11];
    let stamp_ok = bytes.len() > 13
        && digits
            .iter()
            .all(|i| bytes.get(*i).is_some_and(u8::is_ascii_digit))
        && bytes.get(2) == Some(&b':')
        && bytes.get(5) == Some(&b':')
        && bytes.get(8) == Some(&b'.')
        && bytes.get(12) == Some(&b' ');
    let level_ok = line
        .get(13..)
        .map(|rest| {
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                .iter()
                .any(|l| rest.starts_with(l))
        })
        .unwrap_or(false);
    stamp_ok && level_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines() {
        assert!(is_log_line("09:37:00.123 INFO  received 5 bytes"));
        assert!(is_log_line("09:37:00.123 WARN  x"));
        assert!(!is_log_line("09:37:00.1"));
        assert!(!is_log_line("thread 'main' panicked at src/main.rs"));
        assert_eq!(check_log("09:37:00.123 INFO  a\n").ok(), Some(1));
        assert!(check_log("09:37:00.123 INFO  a").is_err());
        assert!(check_log("").is_ok());
        assert!(check_log("09:37:00.123 INFO  a\nx: error: gone\n").is_ok());
        assert!(check_log("x: error: gone\n09:37:00.123 INFO  a\n").is_err());
    }
}
