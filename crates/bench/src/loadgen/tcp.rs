//! TCP clients: one connection kept for the whole run (persistent), or a new
//! connection for every request (connect, send, read the reply, close), which
//! is what the sequential TCP lesson needs to serve more than one client.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};

use super::{fill_request, Check, Load, Tally, Work};

/// How messages are delimited on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No delimiter: one write is one request, and the reply is complete
    /// when the check says so (or, with `--check any`, after one read).
    Raw,
    /// Every request and reply ends with `\n`.
    Line,
}

impl std::str::FromStr for Framing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "raw" => Ok(Framing::Raw),
            "line" => Ok(Framing::Line),
            _ => Err("expected raw or line".to_string()),
        }
    }
}

/// How the TCP clients behave.
#[derive(Debug, Clone, Copy)]
pub struct TcpMode {
    pub framing: Framing,
    /// A fresh connection per request instead of one per client.
    pub per_request_connect: bool,
}

/// The longest reply a client collects before calling it an error.
const MAX_REPLY: usize = 64 * 1024;

/// Run `load` against a TCP server.
pub fn run(load: &Load, mode: TcpMode) -> super::Report {
    let kind = if mode.per_request_connect {
        "tcp-per-request"
    } else {
        "tcp-persistent"
    };
    super::run(kind, load, |i, work| client(i, work, load, mode))
}

fn client(index: usize, work: &Work, load: &Load, mode: TcpMode) -> Tally {
    let mut tally = Tally::default();
    let mut stream: Option<TcpStream> = None;
    let mut request = Vec::with_capacity(load.size.max(32) + 1);
    let mut reply = Vec::with_capacity(MAX_REPLY);
    while let Some(seq) = work.take() {
        fill_request(&mut request, index, seq, load.size);
        if mode.framing == Framing::Line {
            request.push(b'\n');
        }
        let start = Instant::now();
        let conn = match stream.take() {
            Some(s) => s,
            None => match connect(load, index, tally.connects) {
                Ok(s) => {
                    tally.connects += 1;
                    s
                }
                Err(e) => {
                    log::debug!("client {index}: connect: {e}");
                    tally.errors += 1;
                    continue;
                }
            },
        };
        match exchange(&conn, load, mode.framing, &request, &mut reply) {
            Ok(()) => {
                tally.answered(start);
                // Per request: dropping `conn` closes it (FIN), the server
                // reads EOF and moves on. Persistent: keep it for the next.
                if !mode.per_request_connect {
                    stream = Some(conn);
                }
            }
            Err(e) => {
                // A reset, a timeout or a wrong reply: the stream is in an
                // unknown state, so drop it; the next request reconnects.
                log::debug!("client {index}: {e}");
                tally.errors += 1;
            }
        }
    }
    tally
}

/// Connect to the server from a loopback source address that depends on
/// the client and on how many connections it has made so far.
///
/// Why not just connect? A closed connection leaves its four-tuple (source
/// address and port, destination address and port) in TIME_WAIT for a
/// minute, and Linux lends such a tuple to a new connection only after a
/// second. One source address has about 28,000 ephemeral ports; at 40,000
/// connections a second to one server they run out, and connect() stalls
/// for milliseconds while the kernel hunts for a free port. Real clients
/// come from many addresses; on loopback every 127.x.y.z is ours, so each
/// client cycles through 64 of them (127.C.N.1), and the benchmark
/// measures the server, not the port hunt.
fn connect(load: &Load, client: usize, count: u64) -> io::Result<TcpStream> {
    let stream = match (load.addr, client_source(client, count)) {
        (SocketAddr::V4(_), Some(source)) => {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
            match socket.bind(&SocketAddr::from((source, 0)).into()) {
                Ok(()) => {
                    socket.connect_timeout(&load.addr.into(), load.timeout)?;
                    TcpStream::from(socket)
                }
                // A system without the whole of 127.0.0.0/8 on loopback:
                // fall back to the default source address.
                Err(_) => TcpStream::connect_timeout(&load.addr, load.timeout)?,
            }
        }
        _ => TcpStream::connect_timeout(&load.addr, load.timeout)?,
    };
    // Requests are small and we wait for each reply: send at once.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(load.timeout))?;
    stream.set_write_timeout(Some(load.timeout))?;
    Ok(stream)
}

/// The loopback source address of connection number `count` of `client`:
/// 127.C.N.1 with C = 1 + client % 250 and N = count % 64.
fn client_source(client: usize, count: u64) -> Option<Ipv4Addr> {
    let c = u8::try_from(1 + client % 250).ok()?;
    let n = u8::try_from(count % 64).ok()?;
    Some(Ipv4Addr::new(127, c, n, 1))
}

/// Send one request and read until its reply is complete.
fn exchange(
    mut stream: &TcpStream,
    load: &Load,
    framing: Framing,
    request: &[u8],
    reply: &mut Vec<u8>,
) -> io::Result<()> {
    stream.write_all(request)?;
    reply.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before replying",
            ));
        }
        reply.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let complete = match framing {
            Framing::Line => reply.contains(&b'\n'),
            Framing::Raw => load.check == Check::Any || load.check.matches(request, reply),
        };
        if complete {
            return if load.check.matches(request, reply) {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected reply {:?}", String::from_utf8_lossy(reply)),
                ))
            };
        }
        if reply.len() > MAX_REPLY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "reply too long"));
        }
    }
}
