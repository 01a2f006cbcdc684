//! [`Lesson`]: the one harness that starts a lesson binary, waits for its
//! `listening on ADDR` line, signals it, collects its log and times its
//! exit. The integration tests, the load generator (`loadgen ctrlc`) and
//! the stress suite all start their servers through it.
//!
//! The tests want a panic when something goes wrong, with the log in the
//! message; the tools want an error to report and carry on. So every step
//! has a `try_` form that returns `Result` (or `Option`), and the short form
//! the tests call panics on its error.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{send_signal, SIGINT, SIGKILL, WAIT};

/// How often a wait for the exit looks at the process.
const POLL: Duration = Duration::from_micros(200);

/// The pids of every lesson this process started and has not reaped, for
/// [`kill_every_lesson`].
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<u32>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SIGKILL every lesson still running: the last resort of a watchdog that
/// is about to end the whole process.
pub fn kill_every_lesson() {
    for pid in live().iter() {
        let _ = send_signal(*pid, SIGKILL);
    }
}

/// How to start a lesson: [`Launch::new`], the options, then
/// [`Launch::start`] (or [`Launch::try_start`]).
#[derive(Debug, Clone)]
pub struct Launch {
    program: OsString,
    name: String,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    listening: Option<Duration>,
    nofile: Option<u32>,
    unread_stdout: bool,
}

impl Launch {
    /// Run `program`; by default wait up to [`WAIT`] for `listening on`,
    /// with `RUST_LOG` from `LESSON_LOG` (or `info`).
    pub fn new(program: impl AsRef<OsStr>) -> Launch {
        let program = program.as_ref().to_os_string();
        let name = std::path::Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.to_string_lossy().into_owned());
        let log = std::env::var("LESSON_LOG").unwrap_or_else(|_| "info".into());
        Launch {
            program,
            name,
            args: Vec::new(),
            env: vec![("RUST_LOG".into(), log)],
            listening: Some(WAIT),
            nofile: None,
            unread_stdout: false,
        }
    }

    /// The arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Launch {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// One more environment variable (`RUST_LOG` replaces the default).
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Wait this long for the `listening on` line (a release build under
    /// load, or a slow machine, may need more than [`WAIT`]).
    pub fn patience(mut self, wait: Duration) -> Launch {
        self.listening = Some(wait);
        self
    }

    /// Do not wait for a `listening on` line: for a program that prints
    /// none (a client, a sender).
    pub fn no_listening(mut self) -> Launch {
        self.listening = None;
        self
    }

    /// Lower the open-file limit to `nofile` first (Unix: through
    /// `bash -c 'ulimit -n N && exec BIN ARGS'`, so the pid is the lesson's).
    pub fn nofile(mut self, nofile: u32) -> Launch {
        self.nofile = Some(nofile);
        self
    }

    /// Read stdout only up to its first line (`listening on`), then keep
    /// the pipe open unread: once it fills, the lesson's next write blocks,
    /// as on a terminal paused with Ctrl+S.
    pub fn unread_stdout(mut self) -> Launch {
        self.unread_stdout = true;
        self
    }

    /// Start it (and wait for `listening on`, unless told not to).
    pub fn try_start(self) -> Result<Lesson, String> {
        let mut command = match self.nofile {
            Some(n) => {
                let mut bash = Command::new("bash");
                bash.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(&self.program);
                bash
            }
            None => Command::new(&self.program),
        };
        command.args(&self.args);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut lesson = Lesson::launch(&self.name, command, self.unread_stdout)?;
        if let Some(wait) = self.listening {
            let Some(line) = lesson.stdout_line(wait) else {
                // Its stdout closed or the wait ran out: say which, and how
                // it ended if it did (a refused flag is exit code 2).
                let ended = lesson.try_wait_exit(Duration::from_secs(1));
                return Err(match ended {
                    Some(status) => format!(
                        "{} ended ({status}) before printing a `listening on` line; stderr: {}",
                        self.name,
                        lesson.stderr_tail(5)
                    ),
                    None => format!(
                        "{} printed no `listening on` line within {wait:?}; stderr: {}",
                        self.name,
                        lesson.stderr_tail(5)
                    ),
                });
            };
            let addr = line
                .strip_prefix("listening on ")
                .and_then(|a| a.trim().parse().ok())
                .ok_or_else(|| format!("{}: unexpected first line {line:?}", self.name))?;
            lesson.addr = Some(addr);
        }
        Ok(lesson)
    }

    /// [`Launch::try_start`], panicking on its error.
    pub fn start(self) -> Lesson {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A lesson binary running in the background. Killed when dropped.
pub struct Lesson {
    name: String,
    child: Child,
    started: Instant,
    addr: Option<SocketAddr>,
    stdout: Receiver<String>,
    stdout_reader: Option<JoinHandle<()>>,
    /// With [`Launch::unread_stdout`]: the pipe, kept open and unread.
    parked_stdout: Arc<Mutex<Option<BufReader<ChildStdout>>>>,
    stderr: Arc<(Mutex<Vec<u8>>, Condvar)>,
    stderr_reader: Option<JoinHandle<()>>,
    exited: Option<ExitStatus>,
}

/// What a program that ran to its end did ([`Lesson::collect`]).
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From the start to the exit.
    pub elapsed: Duration,
}

impl Lesson {
    /// Start `bin` with `args` and wait for its `listening on ADDR` line.
    pub fn start(bin: &str, args: &[&str]) -> Lesson {
        Launch::new(bin).args(args).start()
    }

    /// Start `bin` without waiting for anything.
    pub fn spawn(bin: &str, args: &[&str]) -> Lesson {
        Launch::new(bin).args(args).no_listening().start()
    }

    /// stdin is closed; stdout (line by line) and stderr are collected in
    /// the background, so a chatty server can never block on a full pipe.
    fn launch(name: &str, mut command: Command, unread: bool) -> Result<Lesson, String> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A program the OS failed to start has not run yet, so trying again
        // tests nothing twice. Wine now and then fails to create a process
        // under load (ERROR_INTERNAL_ERROR, 1359); the next try works. A
        // missing or forbidden binary fails at once.
        let mut spawned = command.spawn();
        for _ in 0..2 {
            match &spawned {
                Err(e)
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) =>
                {
                    spawned = command.spawn()
                }
                _ => break,
            }
        }
        let mut child = spawned.map_err(|e| format!("cannot start {name}: {e}"))?;
        live().push(child.id());
        let (tx, stdout) = mpsc::channel();
        let parked_stdout = Arc::new(Mutex::new(None));
        let park = Arc::clone(&parked_stdout);
        let stdout_reader = child.stdout.take().map(|out| {
            thread::spawn(move || {
                let mut out = BufReader::new(out);
                let mut line = String::new();
                while matches!(out.read_line(&mut line), Ok(n) if n > 0) {
                    let text = line.trim_end_matches(['\n', '\r']).to_string();
                    line.clear();
                    if tx.send(text).is_err() {
                        break;
                    }
                    if unread {
                        *park.lock().unwrap_or_else(PoisonError::into_inner) = Some(out);
                        break;
                    }
                }
            })
        });
        let stderr = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = Arc::clone(&stderr);
        let stderr_reader = child.stderr.take().map(|mut err| {
            thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = err.read(&mut buf) {
                    let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                        break;
                    };
                    sink.0
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(chunk);
                    sink.1.notify_all();
                }
            })
        });
        Ok(Lesson {
            name: name.to_string(),
            child,
            started: Instant::now(),
            addr: None,
            stdout,
            stdout_reader,
            parked_stdout,
            stderr,
            stderr_reader,
            exited: None,
        })
    }

    /// The program's file name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address from the `listening on` line.
    pub fn try_addr(&self) -> Result<SocketAddr, String> {
        self.addr
            .ok_or_else(|| format!("{} printed no `listening on` address", self.name))
    }

    /// The address from the `listening on` line.
    pub fn addr(&self) -> SocketAddr {
        self.try_addr().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line on stdout, or `None` after `timeout`.
    pub fn stdout_line(&self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// The next line on stdout; panics with the stderr so far if none
    /// comes within [`WAIT`].
    pub fn next_stdout_line(&self) -> String {
        self.stdout_line(WAIT)
            .unwrap_or_else(|| panic!("no line on stdout; stderr:\n{}", self.stderr()))
    }

    fn log(&self) -> MutexGuard<'_, Vec<u8>> {
        self.stderr.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.log()).into_owned()
    }

    /// How many bytes of stderr have come so far: a mark for
    /// [`Lesson::wait_stderr_from`].
    pub fn stderr_len(&self) -> usize {
        self.log().len()
    }

    /// The last `n` lines of stderr, joined with ` | `.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = self.stderr();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        lines.get(from..).unwrap_or_default().join(" | ")
    }

    /// Wait until stderr contains `needle`; `false` after `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_stderr_from(0, needle, timeout)
    }

    /// Wait until stderr, from byte `from` on, contains `needle`; `false`
    /// after `timeout`. Each byte is searched once, however long the log.
    pub fn wait_stderr_from(&self, from: usize, needle: &str, timeout: Duration) -> bool {
        let needle = needle.as_bytes();
        let deadline = Instant::now() + timeout;
        let mut searched = from;
        let mut log = self.log();
        loop {
            let start = searched.saturating_sub(needle.len()).max(from);
            if let Some(tail) = log.get(start..) {
                if needle.is_empty() || tail.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
                searched = log.len();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            log = match self.stderr.1.wait_timeout(log, left) {
                Ok((log, _)) => log,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Wait until stderr holds `needle`, with the stderr in the panic
    /// message when it never comes.
    pub fn expect_stderr(&self, needle: &str) {
        assert!(
            self.wait_stderr(needle, WAIT),
            "stderr never showed {needle:?}; it was:\n{}",
            self.stderr()
        );
    }

    /// Send a signal ([`SIGINT`], [`super::SIGTERM`], ...). Refused once the
    /// process is reaped: our own child, not yet reaped, so the pid cannot
    /// belong to anybody else.
    pub fn try_signal(&self, signal: i32) -> Result<(), String> {
        if self.exited.is_some() {
            return Err(format!("{} has already exited", self.name));
        }
        send_signal(self.pid(), signal)
            .map_err(|e| format!("kill -{signal} {} ({}): {e}", self.pid(), self.name))
    }

    /// [`Lesson::try_signal`], panicking on its error.
    pub fn signal(&self, signal: i32) {
        self.try_signal(signal).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Send SIGINT, as Ctrl+C does.
    pub fn interrupt(&self) {
        self.signal(SIGINT);
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
        let pid = self.child.id();
        live().retain(|p| *p != pid);
        // The readers end at EOF: after this the whole output is in.
        for reader in [self.stdout_reader.take(), self.stderr_reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = reader.join();
        }
    }

    /// Wait up to `timeout` for the process to end; `None` if it did not.
    pub fn try_wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.exited.is_some() || !self.alive() {
                return self.exited;
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Wait for the process to exit; panics (with its stderr) after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.try_wait_exit(timeout).unwrap_or_else(|| {
            panic!(
                "{} still running after {timeout:?}; stderr:\n{}",
                self.name,
                self.stderr()
            )
        })
    }

    /// SIGINT, then the time until the process exited and how. If it is
    /// still running after `timeout`, it is killed and that is the error.
    pub fn try_interrupt(&mut self, timeout: Duration) -> Result<(Duration, ExitStatus), String> {
        let start = Instant::now();
        self.try_signal(SIGINT)?;
        match self.try_wait_exit(timeout) {
            Some(status) => Ok((start.elapsed(), status)),
            None => {
                let tail = self.stderr_tail(3);
                self.kill_now();
                Err(format!(
                    "{} still running {timeout:?} after SIGINT; log ends: {tail}",
                    self.name
                ))
            }
        }
    }

    /// SIGINT, then how long it took to exit and the exit status.
    pub fn interrupt_and_time(&mut self) -> (Duration, ExitStatus) {
        self.try_interrupt(WAIT).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Wait for a program without a `listening on` line to end by itself,
    /// and collect what it printed. Still running after `timeout`: killed,
    /// and that is the error.
    pub fn collect(mut self, timeout: Duration) -> Result<Ran, String> {
        let left = timeout.saturating_sub(self.started.elapsed());
        let Some(status) = self.try_wait_exit(left) else {
            self.kill_now();
            return Err(format!(
                "{} still running after {timeout:?} (killed)",
                self.name
            ));
        };
        let elapsed = self.started.elapsed();
        let mut stdout = String::new();
        for line in self.stdout.try_iter() {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        Ok(Ran {
            status,
            stdout,
            stderr: self.stderr(),
            elapsed,
        })
    }

    /// SIGKILL (or `taskkill /F`) and reap.
    pub fn kill_now(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            if let Ok(status) = self.child.wait() {
                self.reaped(status);
            }
        }
    }
}

impl Drop for Lesson {
    fn drop(&mut self) {
        self.kill_now();
        // Only now, with the process gone, may an unread pipe close.
        self.parked_stdout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}
