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

use std::fmt::{self, Display};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Output;
use std::time::{Duration, Instant};

use super::{uninterrupted, Launch, Lesson};

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

/// Run the student's build of a one-shot program (a client, a sender),
/// `bin ARGS` with `stdin` as its input, to its end, within `wait` (like
/// [`super::run`]). When it refuses the command line (see [`refused`]),
/// the checker fails with its own words. Returns what it printed and how
/// long it ran.
#[track_caller]
pub fn run_once(
    exercise: &str,
    bin: &str,
    args: &[&str],
    stdin: &str,
    wait: Duration,
) -> (Output, Duration) {
    let started = Instant::now();
    let out = super::run(bin, args, stdin, wait);
    let took = started.elapsed();
    refused(exercise, &format!("{} {}", name(bin), args.join(" ")), &out);
    (out, took)
}

/// [`not_yet`] when `out` is a usage error, exit code 2: the program
/// refused `command` (as the message shows it), so a flag the exercise adds
/// is not there yet. The message quotes what the program said.
#[track_caller]
pub fn refused(exercise: &str, command: &str, out: &Output) {
    if out.status.code() == Some(2) {
        not_yet(
            exercise,
            format!("`{command}` to be accepted"),
            format!("it was refused: {}", said(out).trim()),
        );
    }
}

/// Everything a finished program said, stdout then stderr, as one string.
pub fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The next datagram to `socket` within `wait`, as text, with its sender;
/// `None` if none came. A receive error (an ICMP message on some systems)
/// does not end the wait early. Leaves the socket's read timeout changed.
pub fn receive(socket: &UdpSocket, wait: Duration) -> Option<(String, SocketAddr)> {
    let end = Instant::now() + wait;
    let mut buf = vec![0u8; 65_536];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        socket.set_read_timeout(Some(left)).ok()?;
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            return Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
        }
    }
}

/// The text of the next datagram to `socket` within `wait` ([`receive`]),
/// or `no reply within WAIT`, for a checker's "instead".
pub fn reply(socket: &UdpSocket, wait: Duration) -> Result<String, String> {
    receive(socket, wait)
        .map(|(text, _)| text)
        .ok_or_else(|| format!("no reply within {wait:?}"))
}

/// What came on a stream that should have stayed quiet ([`waits_quietly`]).
#[derive(Debug)]
pub enum Noise {
    /// The other side closed the connection.
    Closed,
    /// Bytes came, shown as text.
    Text(String),
    /// The read failed.
    Error(std::io::Error),
}

impl Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Noise::Closed => write!(f, "the server closed the connection"),
            Noise::Text(text) => write!(f, "{text:?}"),
            Noise::Error(e) => write!(f, "an error: {e}"),
        }
    }
}

/// `Ok` when nothing comes on `stream` for `wait`: no bytes, no hang-up (a
/// bounded read that must time out). The stream's read timeout is put back
/// as it was.
pub fn waits_quietly(stream: &mut TcpStream, wait: Duration) -> Result<(), Noise> {
    let before = stream.read_timeout().map_err(Noise::Error)?;
    stream.set_read_timeout(Some(wait)).map_err(Noise::Error)?;
    let mut buf = [0u8; 256];
    let heard = match uninterrupted(|| stream.read(&mut buf)) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(()),
        Ok(0) => Err(Noise::Closed),
        Ok(n) => Err(Noise::Text(String::from_utf8_lossy(&buf[..n]).into_owned())),
        Err(e) => Err(Noise::Error(e)),
    };
    stream.set_read_timeout(before).map_err(Noise::Error)?;
    heard
}

/// Where [`send_split`] stopped: the replies that came before, how many
/// were awaited by then, and what came instead of the rest.
#[derive(Debug)]
pub struct Unanswered {
    /// Replies read before the failure.
    pub replied: usize,
    /// Replies that should have come by the failed read.
    pub awaited: usize,
    /// What the read saw instead, in a student's words.
    pub instead: String,
}

/// bgnet0's test of a framing: `frames` (each message as it goes on the
/// wire) sent back to back on a new connection to `server`, in two writes
/// split at byte `at`. Between the writes, the replies to the frames wholly
/// before `at` are read with `read(stream, how_many)`, so the server cannot
/// have read the two parts as one. Returns every reply, in order.
pub fn send_split<T>(
    server: SocketAddr,
    frames: &[Vec<u8>],
    at: usize,
    mut read: impl FnMut(&mut TcpStream, usize) -> Result<Vec<T>, String>,
) -> Result<Vec<T>, Unanswered> {
    let bytes = frames.concat();
    let (first, rest) = bytes.split_at(at);
    let mut end = 0;
    let whole_in_first = frames
        .iter()
        .filter(|frame| {
            end += frame.len();
            end <= at
        })
        .count();
    let mut stream = super::tcp_server::connect(server);
    stream.set_nodelay(true).unwrap();
    let mut got = Vec::new();
    for (part, awaited) in [(first, whole_in_first), (rest, frames.len())] {
        std::io::Write::write_all(&mut stream, part).unwrap();
        match read(&mut stream, awaited - got.len()) {
            Ok(replies) => got.extend(replies),
            Err(instead) => {
                return Err(Unanswered {
                    replied: got.len(),
                    awaited,
                    instead,
                })
            }
        }
    }
    Ok(got)
}
