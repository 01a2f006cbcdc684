//! TCP tools of the suite: connecting with deadlines, reading a reply line,
//! and the hostile connection kinds.

use common::testing::uninterrupted;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::SockRef;

use common::rng::SplitMix64;

/// The deadline of every connect, read and write of a client here.
pub const IO_WAIT: Duration = Duration::from_secs(5);

/// Connect with a timeout; reads and writes then time out after `IO_WAIT`.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    connect_within(addr, IO_WAIT)
}

/// Connect, waiting at most `timeout` for the handshake.
pub fn connect_within(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    let stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(IO_WAIT))
        .and_then(|()| stream.set_write_timeout(Some(IO_WAIT)))
        .map_err(|e| format!("socket options: {e}"))?;
    Ok(stream)
}

/// Read until a newline (returned without it), EOF, or `timeout`.
pub fn read_line(stream: &mut TcpStream, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no whole line within {timeout:?} (got {:?})",
                String::from_utf8_lossy(&line)
            ));
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut byte) {
            Ok(0) if line.is_empty() => return Err("the server closed the connection".into()),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "no whole line within {timeout:?} (got {:?})",
                    String::from_utf8_lossy(&line)
                ))
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Read whatever one read returns (raw framing's reply).
pub fn read_once(stream: &mut TcpStream, timeout: Duration) -> Result<String, String> {
    let _ = stream.set_read_timeout(Some(timeout));
    let mut buf = vec![0u8; 65_536];
    match uninterrupted(|| stream.read(&mut buf)) {
        Ok(0) => Err("the server closed the connection".into()),
        Ok(n) => Ok(String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// The framing a server was started with, and so how its client talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Raw,
    Line,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Framing::Raw => "raw",
            Framing::Line => "line",
        }
    }

    /// A message as it goes on the wire.
    pub fn frame(self, text: &str) -> Vec<u8> {
        match self {
            Framing::Raw => text.as_bytes().to_vec(),
            Framing::Line => format!("{text}\n").into_bytes(),
        }
    }

    /// Read one reply.
    pub fn read_reply(self, stream: &mut TcpStream, timeout: Duration) -> Result<String, String> {
        match self {
            Framing::Raw => read_once(stream, timeout),
            Framing::Line => read_line(stream, timeout),
        }
    }
}

/// Connect, send `text`, read the reply, hang up; the reply and the time.
pub fn request(
    addr: SocketAddr,
    framing: Framing,
    text: &str,
) -> Result<(String, Duration), String> {
    request_within(addr, framing, text, IO_WAIT)
}

/// [`request`], giving up on the reply after `timeout`.
pub fn request_within(
    addr: SocketAddr,
    framing: Framing,
    text: &str,
    timeout: Duration,
) -> Result<(String, Duration), String> {
    let start = Instant::now();
    let mut stream = connect(addr)?;
    stream
        .write_all(&framing.frame(text))
        .map_err(|e| format!("write: {e}"))?;
    let reply = framing.read_reply(&mut stream, timeout)?;
    Ok((reply, start.elapsed()))
}

/// Keep asking until the answer is `expected` (for up to `patience`): a
/// threaded server may still say "busy" while its handlers wind down.
pub fn request_until(
    addr: SocketAddr,
    framing: Framing,
    text: &str,
    expected: &str,
    patience: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < patience {
        match request(addr, framing, text) {
            Ok((reply, _)) if reply.trim_end() == expected => return Ok(start.elapsed()),
            Ok((reply, _)) => last = reply,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "no {expected:?} from {addr} within {patience:?}; last answer: {last:?}"
    ))
}

/// The kinds of hostile connection, made in turn.
pub const KINDS: [&str; 5] = [
    "connect+close",
    "reset (SO_LINGER 0)",
    "1 MiB junk",
    "invalid UTF-8",
    "half a message+idle",
];

/// What one hostile connection saw; errors from the server's side (a reset,
/// a refused write) are expected and only counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    pub bytes_sent: u64,
    pub bytes_back: u64,
    pub idle_hangups: usize,
}

/// Make one hostile connection of kind `i % 5`. `long_idle` asks the
/// half-message kind to wait until the server hangs up instead of leaving
/// after a moment.
pub fn hostile(
    addr: SocketAddr,
    i: usize,
    rng: &mut SplitMix64,
    framing: Framing,
    long_idle: Option<Duration>,
) -> Result<Seen, String> {
    let mut seen = Seen::default();
    let mut stream = connect(addr)?;
    match i % KINDS.len() {
        0 => drop(stream),
        1 => {
            if rng.percent(50) {
                let _ = stream.write_all(b"ECHO about to reset");
            }
            SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .map_err(|e| format!("SO_LINGER: {e}"))?;
            drop(stream); // close() with linger 0 sends RST
        }
        2 => {
            // 1 MiB of random bytes; half the time with no newline at all,
            // so a line server sees one endless line.
            let mut junk = rng.bytes(1 << 20);
            if rng.percent(50) {
                for b in junk.iter_mut().filter(|b| **b == b'\n') {
                    *b = b'.';
                }
            }
            let mut reader = stream.try_clone().map_err(|e| format!("try_clone: {e}"))?;
            // Read the replies while writing, or both sides could block with
            // full buffers.
            let drain = std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0u64;
                while let Ok(n) = uninterrupted(|| reader.read(&mut buf)) {
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                total
            });
            // The server may hang up or reset before it has read it all.
            for piece in junk.chunks(64 * 1024) {
                if stream.write_all(piece).is_err() {
                    break;
                }
                seen.bytes_sent += piece.len() as u64;
            }
            let _ = stream.shutdown(Shutdown::Write);
            seen.bytes_back = drain.join().unwrap_or(0);
        }
        3 => {
            let mut bad = b"ECHO ".to_vec();
            bad.extend_from_slice(&[0xff, 0xfe, 0xc0, 0xaf, b'x', 0xed, 0xa0, 0x80]);
            let bad = framing_bytes(framing, bad);
            stream.write_all(&bad).map_err(|e| format!("write: {e}"))?;
            let reply = framing.read_reply(&mut stream, IO_WAIT)?;
            if !reply.starts_with("Error: Invalid encoding") {
                return Err(format!("invalid UTF-8 answered with {reply:?}"));
            }
        }
        _ => {
            stream
                .write_all(b"ECHO half a mess")
                .map_err(|e| format!("write: {e}"))?;
            match long_idle {
                None => std::thread::sleep(Duration::from_millis(rng.range(1, 20) as u64)),
                Some(limit) => {
                    // Wait for the server to give up on us: every reply line
                    // is read until the idle notice or EOF.
                    let deadline = Instant::now() + limit;
                    loop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match read_line(&mut stream, left) {
                            Ok(line) if line.contains("idle") => {
                                seen.idle_hangups += 1;
                                break;
                            }
                            Ok(_) => continue,
                            Err(e) => return Err(format!("idle client was not hung up on: {e}")),
                        }
                    }
                }
            }
        }
    }
    Ok(seen)
}

fn framing_bytes(framing: Framing, mut bytes: Vec<u8>) -> Vec<u8> {
    if framing == Framing::Line {
        bytes.push(b'\n');
    }
    bytes
}
