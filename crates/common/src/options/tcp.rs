//! Options of `tcp-server`, `tcp-threaded-server` and `tcp-client`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::{HOST, IPV6_ONLY, SERVER_HOST};
use crate::cli::{Flag, Spec};
use crate::reply::Reply;

/// The port of the TCP lessons (the TCP tutorial's port): the servers
/// listen on it and the client connects to it, so both run with no
/// arguments.
const TCP_PORT: u16 = 65432;

/// The largest `--buffer-size`: one read of 64 KiB, or a line that long.
pub const MAX_BUFFER: usize = 65_536;

/// The longest reply line `tcp-client` takes in line framing, newline not
/// counted. It is sized from the servers' own limit, so that every reply a
/// server can send fits: a message is at most [`MAX_BUFFER`] bytes, the
/// longest prefix is `Server acknowledges: ` (21 bytes), and upper-casing can
/// make UTF-8 text up to three times longer (`ΐ`, 2 bytes, becomes `Ϊ́`, 6).
pub const MAX_REPLY: usize = 3 * MAX_BUFFER + 64;

/// Why `tcp-threaded-server` turns a client away: it already serves
/// `--max-connections` clients. The server's `hang_up_cleanly` sends it as
/// [`BUSY_LINE`].
pub const BUSY_REASON: &str = "server busy, try again later";

/// The one line a client past `--max-connections` receives before the server
/// hangs up. Part of the protocol: `tcp-client` recognises it, as a reply or
/// as bytes that came unasked, and reports a busy server instead of taking
/// the line for an answer.
pub const BUSY_LINE: &str = "Error: server busy, try again later\n";

/// `true` if `bytes` are [`BUSY_LINE`], with or without its newline.
pub fn is_busy_line(bytes: &[u8]) -> bool {
    let line = BUSY_LINE.as_bytes();
    bytes == line || Some(bytes) == line.strip_suffix(b"\n")
}

/// Why both servers hang up on a client that sent no message for
/// `--idle-timeout-ms`. Sent as `Error: REASON` and a newline.
pub const IDLE_REASON: &str = "idle for too long, closing";

/// Why both servers hang up on their clients at Ctrl+C. Sent as
/// `Error: REASON` and a newline.
pub const SHUTDOWN_REASON: &str = "server shutting down";

/// If `bytes` end with a goodbye line (`Error: ` and [`IDLE_REASON`] or
/// [`SHUTDOWN_REASON`], with or without its newline), the bytes before it
/// and the goodbye line without its newline. In raw framing a goodbye can
/// arrive glued to the reply before it: `Message receivedError: server
/// shutting down`. `tcp-client` uses this so a goodbye is never taken for an
/// answer.
pub fn split_goodbye(bytes: &[u8]) -> Option<(&[u8], &str)> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    [IDLE_REASON, SHUTDOWN_REASON].iter().find_map(|reason| {
        let line = format!("Error: {reason}");
        let before = bytes.strip_suffix(line.as_bytes())?;
        let start = before.len();
        let said = std::str::from_utf8(&bytes[start..]).ok()?;
        Some((before, said))
    })
}

/// How a TCP peer tells where one message ends and the next begins.
///
/// TCP carries a stream of bytes, not messages: two `write`s can reach the
/// other side as one `read`, and one `write` as two. UDP keeps each datagram
/// whole; over TCP the program has to mark the boundaries itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// No framing: whatever one `read` returns is taken as one message, as
    /// in the tutorial (`recv(1024)`). Works for one request at a time; two
    /// quick requests may be read as one.
    #[default]
    Raw,
    /// One message per line: a message ends at `\n` (a `\r` before it is
    /// dropped too), and every reply ends with `\n`.
    Line,
}

impl Framing {
    /// The names `--framing` accepts, for `--help`.
    pub const NAMES: &'static str =
        "raw (one read = one message, as in the tutorial) | line (one message per line)";
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "raw" => Ok(Framing::Raw),
            "line" => Ok(Framing::Line),
            _ => Err("expected raw or line".to_string()),
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::Raw => "raw",
            Framing::Line => "line",
        })
    }
}

const PORT: Flag<u16> =
    Flag::with_default("port", "PORT", TCP_PORT, "TCP port; 0 picks any free port");
const REPLY: Flag<Reply> = Flag::with_default("reply", "MODE", Reply::Received, Reply::NAMES);
const FRAMING: Flag<Framing> = Flag::with_default("framing", "KIND", Framing::Raw, Framing::NAMES);
const BUFFER: Flag<usize> = Flag::with_default(
    "buffer-size",
    "BYTES",
    1024,
    "raw: the most one read takes; line: the longest line accepted (1-65536)",
);
const BACKLOG: Flag<i32> = Flag::with_default(
    "backlog",
    "N",
    128,
    "listen() backlog: connections the kernel queues until accept() (1-4096)",
);
const IDLE: Flag<u64> = Flag::with_default(
    "idle-timeout-ms",
    "MS",
    30_000,
    "close a connection that sends no message for this long (1-3600000)",
);
const DELAY: Flag<u64> = Flag::with_default(
    "delay-ms",
    "MS",
    0,
    "pretend each request takes this long to work out (shows why threads help)",
);
const MAX_CONNECTIONS: Flag<usize> = Flag::with_default(
    "max-connections",
    "N",
    256,
    "most clients served at once, one thread each; the rest are told busy (1-4096)",
);

static SERVER: Spec = Spec {
    name: "tcp-server",
    about: "a sequential TCP server: accept one client, answer it until it leaves, repeat",
    positionals: &[],
    flags: &[
        &HOST, &IPV6_ONLY, &PORT, &REPLY, &FRAMING, &BUFFER, &BACKLOG, &IDLE, &DELAY,
    ],
    examples: &[
        "tcp-server",
        "tcp-server --port 0 --reply echo --framing line",
        "tcp-server --host ::1 --idle-timeout-ms 5000",
    ],
};

static THREADED: Spec = Spec {
    name: "tcp-threaded-server",
    about: "a TCP server that serves each client on a thread of its own",
    positionals: &[],
    flags: &[
        &HOST,
        &IPV6_ONLY,
        &PORT,
        &REPLY,
        &FRAMING,
        &BUFFER,
        &BACKLOG,
        &IDLE,
        &DELAY,
        &MAX_CONNECTIONS,
    ],
    examples: &[
        "tcp-threaded-server",
        "tcp-threaded-server --port 0 --max-connections 8 --delay-ms 1000",
    ],
};

/// Options of both TCP servers.
#[derive(Debug, Clone, Copy)]
pub struct TcpServerOptions {
    /// Where to bind.
    pub addr: SocketAddr,
    /// IPV6_V6ONLY for an IPv6 `addr`: `--ipv6-only`.
    pub ipv6_only: bool,
    /// What to answer.
    pub reply: Reply,
    /// Where one message ends.
    pub framing: Framing,
    /// Raw framing: the size of one read, like `recv(1024)`. Line framing:
    /// the longest line accepted, so a client cannot make the server buffer
    /// an endless line.
    pub buffer_size: usize,
    /// The `listen()` backlog.
    pub backlog: i32,
    /// A connection that sends no complete message for this long is closed.
    pub idle_timeout: Duration,
    /// Simulated work per request.
    pub delay: Duration,
    /// Only the threaded server: how many clients are served at once.
    pub max_connections: usize,
}

impl TcpServerOptions {
    /// Parse the flags of `tcp-server`.
    pub fn sequential() -> TcpServerOptions {
        TcpServerOptions::from_spec(&SERVER)
    }

    /// Parse the flags of `tcp-threaded-server` (adds `--max-connections`).
    pub fn threaded() -> TcpServerOptions {
        TcpServerOptions::from_spec(&THREADED)
    }

    fn from_spec(spec: &'static Spec) -> TcpServerOptions {
        let m = spec.parse();
        let addr = m.socket_addr(&HOST, &PORT);
        let threaded = spec.flags.iter().any(|f| f.name() == MAX_CONNECTIONS.name);
        TcpServerOptions {
            addr,
            ipv6_only: m.ipv6_only(&IPV6_ONLY, addr),
            reply: m.get(&REPLY),
            framing: m.get(&FRAMING),
            buffer_size: m.get_in(&BUFFER, 1..=MAX_BUFFER),
            backlog: m.get_in(&BACKLOG, 1..=4096),
            idle_timeout: Duration::from_millis(m.get_in(&IDLE, 1..=3_600_000)),
            delay: m.millis(&DELAY, 3_600_000),
            max_connections: if threaded {
                m.get_in(&MAX_CONNECTIONS, 1..=4096)
            } else {
                1
            },
        }
    }
}

const SERVER_PORT: Flag<u16> =
    Flag::with_default("port", "PORT", TCP_PORT, "the server's TCP port");
const MESSAGE: Flag<String> = Flag::optional(
    "message",
    "TEXT",
    "send TEXT once, print the reply, exit (else: prompt)",
);
const CLIENT_FRAMING: Flag<Framing> = Flag::with_default(
    "framing",
    "KIND",
    Framing::Raw,
    "raw (send the text as is) | line (end each message with a newline); match the server",
);
const TIMEOUT: Flag<u64> = Flag::with_default(
    "timeout-ms",
    "MS",
    2000,
    "how long to wait for the connection, and for each reply",
);
const BURST: Flag<usize> = Flag::with_default(
    "burst",
    "N",
    1,
    "write each message N times in a row before reading (shows TCP has no message boundaries)",
);
const SPLIT: Flag<bool> = Flag::switch(
    "split",
    "send each message in two write() calls, its first half then the rest (shows the Nagle stall)",
);
const NODELAY: Flag<bool> = Flag::switch(
    "nodelay",
    "set TCP_NODELAY: small writes leave at once instead of waiting for an ACK (Nagle off)",
);
const REPEAT: Flag<usize> = Flag::optional(
    "repeat",
    "N",
    "with --message: N round trips (1-10000), then one line: their median and max time",
);

static CLIENT: Spec = Spec {
    name: "tcp-client",
    about: "connect to a TCP server, send messages and print its replies",
    positionals: &[],
    flags: &[
        &SERVER_HOST,
        &SERVER_PORT,
        &MESSAGE,
        &CLIENT_FRAMING,
        &TIMEOUT,
        &BURST,
        &SPLIT,
        &NODELAY,
        &REPEAT,
    ],
    examples: &[
        "tcp-client --message 'Hello, Server!'",
        "tcp-client                               # then type lines; 'exit' or Ctrl+D ends",
        "tcp-client --message ping --burst 3      # three writes, how many reads?",
        "tcp-client --message ping --burst 3 --framing line",
        "tcp-client --framing line --message ping --split --repeat 20            # the 40 ms stall",
        "tcp-client --framing line --message ping --split --nodelay --repeat 20  # gone",
    ],
};

/// Options of `tcp-client`.
#[derive(Debug, Clone)]
pub struct TcpClientOptions {
    /// The server.
    pub server: SocketAddr,
    /// One message to send, or `None` for the interactive loop.
    pub message: Option<String>,
    /// Where one message ends; must match the server's `--framing`.
    pub framing: Framing,
    /// How long to wait for the connection, and for each reply.
    pub timeout: Duration,
    /// How many times each message is written, back to back.
    pub burst: usize,
    /// Each message goes out in two `write` calls: `--split`.
    pub split: bool,
    /// `TCP_NODELAY` on the socket: `--nodelay`.
    pub nodelay: bool,
    /// `--repeat N`: send the one `--message` N times, one round trip after
    /// the other, and print their median and longest time. `None` when the
    /// flag is absent: one exchange, no timing line.
    pub repeat: Option<usize>,
}

impl TcpClientOptions {
    /// Parse the flags of `tcp-client`.
    pub fn parse() -> TcpClientOptions {
        let m = CLIENT.parse();
        let message = m.opt(&MESSAGE);
        let repeat = m.given(&REPEAT).then(|| m.get_in(&REPEAT, 1..=10_000));
        if repeat.is_some() && message.is_none() {
            crate::cli::usage_error("--repeat needs --message: it times one message, sent N times");
        }
        TcpClientOptions {
            server: m.server_addr(&SERVER_HOST, &SERVER_PORT),
            message,
            framing: m.get(&CLIENT_FRAMING),
            timeout: Duration::from_millis(m.get_in(&TIMEOUT, 1..=600_000)),
            burst: m.get_in(&BURST, 1..=1000),
            split: m.switch(&SPLIT),
            nodelay: m.switch(&NODELAY),
            repeat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_names() {
        for name in ["raw", "line"] {
            assert_eq!(name.parse::<Framing>().unwrap().to_string(), name);
        }
        assert!("lines".parse::<Framing>().is_err());
        assert_eq!(Framing::default(), Framing::Raw);
    }

    #[test]
    fn goodbyes_are_found_alone_and_glued() {
        let alone = split_goodbye(b"Error: server shutting down\n");
        assert_eq!(alone, Some((&b""[..], "Error: server shutting down")));
        let glued = split_goodbye(b"Message receivedError: idle for too long, closing");
        assert_eq!(
            glued,
            Some((
                &b"Message received"[..],
                "Error: idle for too long, closing"
            ))
        );
        assert_eq!(split_goodbye(b"Message received"), None);
        assert_eq!(split_goodbye(BUSY_LINE.as_bytes()), None);
    }

    #[test]
    fn busy_line_is_the_busy_reason() {
        assert_eq!(BUSY_LINE, format!("Error: {BUSY_REASON}\n"));
        assert!(is_busy_line(BUSY_LINE.as_bytes()));
        assert!(is_busy_line(b"Error: server busy, try again later"));
        assert!(!is_busy_line(b"Echo: Error: server busy, try again later"));
        assert!(!is_busy_line(b""));
    }

    /// Every reply a server can send to a message of `MAX_BUFFER` bytes fits
    /// in the client's `MAX_REPLY`.
    #[test]
    fn the_longest_reply_fits_the_client() {
        use crate::reply::Reply;
        // No character grows more than threefold when upper-cased.
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let upper: usize = c.to_uppercase().map(char::len_utf8).sum();
            assert!(upper <= 3 * c.len_utf8(), "{c:?}");
        }
        let plain = "x".repeat(MAX_BUFFER);
        let growing = "\u{390}".repeat(MAX_BUFFER / 2);
        assert_eq!(growing.len(), MAX_BUFFER);
        for reply in [
            Reply::Received,
            Reply::Ack,
            Reply::Echo,
            Reply::Upper,
            Reply::Command,
        ] {
            for message in [&plain, &growing] {
                let len = reply.respond(message).len();
                assert!(len <= MAX_REPLY, "{reply}: {len} bytes");
            }
        }
        assert!(Reply::Upper.respond(&growing).len() > 3 * MAX_BUFFER);
    }

    #[test]
    fn defaults_reach_each_other() {
        assert_eq!(PORT.default, SERVER_PORT.default);
        assert_eq!(HOST.default, SERVER_HOST.default);
        assert_eq!(REPLY.default, Some(Reply::Received));
    }
}
