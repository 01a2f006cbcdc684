//! Starting, watching and stopping the lesson binaries.
//!
//! Every process started here is registered, so the watchdog can kill them
//! all if the suite ever overruns its time; a [`Server`] kills its process
//! when it is dropped. Every wait has a deadline.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a server may take to print its `listening on` line.
pub const START_WAIT: Duration = Duration::from_secs(10);

/// The pids of every process this suite started and has not reaped.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn children() -> std::sync::MutexGuard<'static, Vec<u32>> {
    CHILDREN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Send `signal` to `pid`. Only ever called with pids of our own children.
pub fn kill(pid: u32, signal: i32) -> Result<(), String> {
    bench::send_signal(pid, signal).map_err(|e| format!("kill -{signal} {pid}: {e}"))
}

/// SIGKILL every child still registered (the watchdog's last resort).
pub fn kill_all_children() {
    for pid in children().iter() {
        let _ = kill(*pid, bench::SIGKILL);
    }
}

/// The stderr of a child, collected as it comes.
#[derive(Default)]
struct Log {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

/// A lesson server running in the background.
pub struct Server {
    pub name: String,
    child: Child,
    addr: Option<SocketAddr>,
    stdout: Receiver<String>,
    log: Arc<Log>,
    reader: Option<JoinHandle<()>>,
    exited: Option<ExitStatus>,
}

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

impl Server {
    /// Start `name` with `args` and wait for its `listening on ADDR` line.
    pub fn start(bins: &Bins, name: &str, args: &[&str]) -> Result<Server, String> {
        let mut command = Command::new(bins.path(name));
        command.args(args);
        Server::launch(name, command, true)
    }

    /// Like [`Server::start`], but with the open-file limit lowered to
    /// `nofile` first (`bash -c 'ulimit -n N && exec BIN ARGS'`: the shell
    /// becomes the server, so the pid is the server's).
    pub fn start_with_nofile(
        bins: &Bins,
        name: &str,
        args: &[&str],
        nofile: u32,
    ) -> Result<Server, String> {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(bins.path(name))
            .args(args);
        Server::launch(name, command, true)
    }

    /// Start without waiting for a `listening on` line (the sending side of
    /// a transfer, say).
    pub fn spawn(bins: &Bins, name: &str, args: &[&str]) -> Result<Server, String> {
        let mut command = Command::new(bins.path(name));
        command.args(args);
        Server::launch(name, command, false)
    }

    fn launch(name: &str, mut command: Command, wait_listening: bool) -> Result<Server, String> {
        let mut child = command
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        children().push(child.id());
        let (tx, stdout) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let log = Arc::new(Log::default());
        let reader = child.stderr.take().map(|mut err| {
            let sink = Arc::clone(&log);
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Some(chunk) = buf.get(..n) {
                        sink.bytes
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .extend_from_slice(chunk);
                    }
                    sink.grew.notify_all();
                }
            })
        });
        let mut server = Server {
            name: name.to_string(),
            child,
            addr: None,
            stdout,
            log,
            reader,
            exited: None,
        };
        if wait_listening {
            let line = server.stdout_line(START_WAIT).ok_or_else(|| {
                format!(
                    "{name} printed no `listening on` line within {START_WAIT:?}; log: {}",
                    server.log_tail(3)
                )
            })?;
            let addr = line
                .strip_prefix("listening on ")
                .and_then(|a| a.trim().parse().ok())
                .ok_or_else(|| format!("{name}: unexpected first line {line:?}"))?;
            server.addr = Some(addr);
        }
        Ok(server)
    }

    /// The address from the `listening on` line.
    pub fn addr(&self) -> Result<SocketAddr, String> {
        self.addr
            .ok_or_else(|| format!("{} printed no address", self.name))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line on stdout, or `None` after `timeout`.
    pub fn stdout_line(&self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                self.reaped(status);
                false
            }
            Err(_) => false,
        }
    }

    fn reaped(&mut self, status: ExitStatus) {
        self.exited = Some(status);
        children().retain(|p| *p != self.child.id());
        // The reader ends at EOF: after this the whole log is in.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// A number from `/proc/PID/status`, such as `Threads` or `VmRSS` (kB).
    pub fn proc_status(&self, key: &str) -> Option<u64> {
        proc_status(self.pid(), key)
    }

    /// How many threads the process has now.
    pub fn threads(&self) -> Option<u64> {
        self.proc_status("Threads")
    }

    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.proc_status("VmRSS")
    }

    /// The most resident memory so far (the high-water mark), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.proc_status("VmHWM")
    }

    /// The soft limit on open files (`Max open files` in `/proc/PID/limits`).
    pub fn proc_limit_nofile(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/limits", self.pid()))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3).map(String::from))
            })
            .unwrap_or_else(|| "unknown".into())
    }

    /// How many file descriptors are open now.
    pub fn open_fds(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .ok()
            .map(|d| d.count())
    }

    pub fn signal(&self, signal: i32) -> Result<(), String> {
        if self.exited.is_some() {
            return Err(format!("{} has already exited", self.name));
        }
        kill(self.pid(), signal)
    }

    /// Wait up to `timeout` for the process to end; `None` if it did not.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited {
                return Some(status);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.reaped(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_micros(500));
        }
    }

    /// SIGINT (Ctrl+C) and the time until the process has exited, or an
    /// error if it is still running after `timeout` (it is then killed).
    pub fn interrupt(&mut self, timeout: Duration) -> Result<(Duration, ExitStatus), String> {
        let start = Instant::now();
        self.signal(bench::SIGINT)?;
        match self.wait_exit(timeout) {
            Some(status) => Ok((start.elapsed(), status)),
            None => {
                let tail = self.log_tail(3);
                self.kill_now();
                Err(format!(
                    "{} still running {timeout:?} after SIGINT; log ends: {tail}",
                    self.name
                ))
            }
        }
    }

    /// SIGKILL and reap.
    pub fn kill_now(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            if let Ok(status) = self.child.wait() {
                self.reaped(status);
            }
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        let bytes = self
            .log
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The last `n` lines of the log, joined with ` | `.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(n);
        lines.get(from..).unwrap_or_default().join(" | ")
    }

    /// Wait until the log (from byte `from` on) contains `needle`.
    pub fn wait_log_from(&self, from: usize, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut bytes = self
            .log
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let found = bytes
                .get(from..)
                .map(|tail| String::from_utf8_lossy(tail).contains(needle))
                .unwrap_or(false);
            if found {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            bytes = match self.log.grew.wait_timeout(bytes, left) {
                Ok((b, _)) => b,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Wait until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_log_from(0, needle, timeout)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_now();
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

/// What a short-lived program did.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run a program to completion (stdin closed). If it is still running after
/// `timeout` it is killed and that is an error.
pub fn run(program: &Path, args: &[OsString], timeout: Duration) -> Result<Finished, String> {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    children().push(child.id());
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = collect(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = collect(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = start + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                children().retain(|p| *p != child.id());
                return Err(format!("still running after {timeout:?} (killed)"));
            }
        }
    };
    children().retain(|p| *p != child.id());
    let elapsed = start.elapsed();
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed,
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
        // from `common::finish`) is allowed, as the last line only.
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
