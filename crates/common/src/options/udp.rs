//! Options of `udp-server`, `udp-threaded-server` and `udp-client`.

use std::net::SocketAddr;
use std::time::Duration;

use super::{HOST, IPV6_ONLY, SERVER_HOST};
use crate::cli::{Flag, Spec};
use crate::reply::Reply;
use crate::sockets::MAX_UDP_PAYLOAD;

/// The port of the UDP lessons (the threaded tutorial's port): the servers
/// bind it and the client sends to it, so both run with no arguments.
const UDP_PORT: u16 = 6532;

const PORT: Flag<u16> =
    Flag::with_default("port", "PORT", UDP_PORT, "UDP port; 0 picks any free port");
const REPLY: Flag<Reply> = Flag::with_default("reply", "MODE", Reply::Received, Reply::NAMES);
const BUFFER: Flag<usize> = Flag::with_default(
    "buffer-size",
    "BYTES",
    1024,
    "largest message accepted (1-65507, the IPv4 limit, used for IPv6 too); longer ones get an error reply",
);
const DELAY: Flag<u64> = Flag::with_default(
    "delay-ms",
    "MS",
    0,
    "pretend each request takes this long to work out (shows why threads help)",
);
const MAX_THREADS: Flag<usize> = Flag::with_default(
    "max-threads",
    "N",
    64,
    "most handler threads running at once (1-4096)",
);

static SERVER: Spec = Spec {
    name: "udp-server",
    about: "a sequential UDP server: receive one datagram, reply to its sender, repeat",
    positionals: &[],
    flags: &[&HOST, &IPV6_ONLY, &PORT, &REPLY, &BUFFER, &DELAY],
    examples: &[
        "udp-server",
        "udp-server --port 0 --reply echo",
        "udp-server --host ::1 --delay-ms 200",
    ],
};

static THREADED: Spec = Spec {
    name: "udp-threaded-server",
    about: "a UDP server that handles each datagram on a thread of its own",
    positionals: &[],
    flags: &[
        &HOST,
        &IPV6_ONLY,
        &PORT,
        &REPLY,
        &BUFFER,
        &DELAY,
        &MAX_THREADS,
    ],
    examples: &[
        "udp-threaded-server --delay-ms 1000",
        "udp-threaded-server --port 0 --max-threads 8",
    ],
};

/// Options of both UDP servers.
#[derive(Debug, Clone, Copy)]
pub struct UdpServerOptions {
    /// Where to bind.
    pub addr: SocketAddr,
    /// IPV6_V6ONLY for an IPv6 `addr`: `--ipv6-only`.
    pub ipv6_only: bool,
    /// What to answer.
    pub reply: Reply,
    /// The largest message the server accepts, like `recvfrom(1024)` in the
    /// tutorials; longer datagrams are reported, not silently cut.
    pub buffer_size: usize,
    /// Simulated work per request.
    pub delay: Duration,
    /// Only the threaded server: how many handler threads may run at once.
    pub max_threads: usize,
}

impl UdpServerOptions {
    /// Parse the flags of `udp-server`.
    pub fn sequential() -> UdpServerOptions {
        UdpServerOptions::from_spec(&SERVER)
    }

    /// Parse the flags of `udp-threaded-server` (adds `--max-threads`).
    pub fn threaded() -> UdpServerOptions {
        UdpServerOptions::from_spec(&THREADED)
    }

    fn from_spec(spec: &'static Spec) -> UdpServerOptions {
        let m = spec.parse();
        let addr = m.socket_addr(&HOST, &PORT);
        let threaded = spec.flags.iter().any(|f| f.name() == MAX_THREADS.name);
        UdpServerOptions {
            addr,
            ipv6_only: m.ipv6_only(&IPV6_ONLY, addr),
            reply: m.get(&REPLY),
            buffer_size: m.get_in(&BUFFER, 1..=MAX_UDP_PAYLOAD),
            delay: m.millis(&DELAY, 3_600_000),
            max_threads: if threaded {
                m.get_in(&MAX_THREADS, 1..=4096)
            } else {
                1
            },
        }
    }
}

const SERVER_PORT: Flag<u16> =
    Flag::with_default("port", "PORT", UDP_PORT, "the server's UDP port");
const MESSAGE: Flag<String> = Flag::optional(
    "message",
    "TEXT",
    "send TEXT once, print the reply, exit (else: prompt)",
);
const TIMEOUT: Flag<u64> =
    Flag::with_default("timeout-ms", "MS", 1000, "how long to wait for each reply");
const RETRIES: Flag<u32> = Flag::with_default(
    "retries",
    "N",
    2,
    "how many times to resend when no reply comes",
);

static CLIENT: Spec = Spec {
    name: "udp-client",
    about: "send messages to a UDP server and print its replies",
    positionals: &[],
    flags: &[&SERVER_HOST, &SERVER_PORT, &MESSAGE, &TIMEOUT, &RETRIES],
    examples: &[
        "udp-client --message hello",
        "udp-client --port 6532              # then type lines; 'exit' or Ctrl+D ends",
        "printf 'one\\ntwo\\n' | udp-client   # lines from a pipe work too",
    ],
};

/// Options of `udp-client`.
#[derive(Debug, Clone)]
pub struct UdpClientOptions {
    /// The server.
    pub server: SocketAddr,
    /// One message to send, or `None` for the interactive loop.
    pub message: Option<String>,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How many times to resend when no reply comes.
    pub retries: u32,
}

impl UdpClientOptions {
    /// Parse the flags of `udp-client`.
    pub fn parse() -> UdpClientOptions {
        let m = CLIENT.parse();
        UdpClientOptions {
            server: m.server_addr(&SERVER_HOST, &SERVER_PORT),
            message: m.opt(&MESSAGE),
            timeout: Duration::from_millis(m.get_in(&TIMEOUT, 1..=600_000)),
            retries: m.get_in(&RETRIES, 0..=100),
        }
    }
}
