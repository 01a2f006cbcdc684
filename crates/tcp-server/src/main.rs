//! # tcp-server: the sequential TCP server
//!
//! Tutorial 3's TCP server (`examples/tcp-server-tutorial.rs`), made to
//! survive what that one does not. It binds, listens, accepts one client,
//! answers every message that client sends until it hangs up, and only then
//! accepts the next. Clients that come meanwhile wait in the kernel's listen
//! queue (`--backlog`): their handshake is done, nobody reads from them yet.
//!
//! What it survives: a client that says nothing (`--idle-timeout-ms` lets it
//! go), a message cut or run together by the stream (`--framing line` marks
//! where one ends), bytes that are not UTF-8 (`Error: Invalid encoding`), a
//! client that never reads its replies, resets, failed accepts, and Ctrl+C
//! (the client is told, `server closed` is logged, exit 0). What it cannot
//! fix: a client that keeps talking holds it for as long as it likes.
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -q -p tcp-server
//! listening on 127.0.0.1:65432
//!
//! terminal 2 $ cargo run -q -p tcp-client -- --message 'Hello, Server!'
//! 10:16:52.838 INFO  connected to 127.0.0.1:65432 from 127.0.0.1:57214
//! 10:16:52.839 INFO  sent 14 bytes
//! 10:16:52.839 INFO  read 16 bytes
//! Message received
//!
//! terminal 1 now shows
//! 10:16:52.838 INFO  127.0.0.1:57214: connected
//! 10:16:52.838 INFO  127.0.0.1:57214: "Hello, Server!"
//! 10:16:52.839 INFO  127.0.0.1:57214: closed (the client hung up)
//! ```
//!
//! ## Read in this order
//!
//! The tutorial's path first: `serve` (socket, bind, listen, close) →
//! `accept_loop` (accept) → `handle_connection` (one client, close) →
//! `converse` (its messages) → `receive` (recv) → `answer` (decode, send).
//! Then the section "Hardening": a function for each thing the tutorial's
//! server does not survive, named after it. More in docs/tcp-server.md.

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::options::tcp::{Framing, TcpServerOptions, IDLE_REASON, SHUTDOWN_REASON};
use common::reply::INVALID_ENCODING;
use common::shutdown::Wake;
use common::{escape, sockets, StopSignal};
use log::{debug, info, warn};
use socket2::{Domain, Protocol, Socket, Type};

fn main() -> ExitCode {
    let options = TcpServerOptions::sequential();
    common::logging::init();
    common::exit_code(serve(&options))
}

// The tutorial's path: socket → bind → listen → accept → recv → send → close.

/// Open the listening socket, accept clients until Ctrl+C, close it.
fn serve(options: &TcpServerOptions) -> Result<(), Box<dyn Error>> {
    let shutdown = StopSignal::install()?;

    // socket(): an IPv4 or IPv6 socket (the domain follows the address) of
    // type SOCK_STREAM, which is TCP. Same as socket(AF_INET, SOCK_STREAM).
    let socket = Socket::new(
        Domain::for_address(options.addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // IPV6_V6ONLY off: `--host ::` takes IPv4 clients too, on every OS (they
    // show up as ::ffff:127.0.0.1); the OSes' defaults differ. --ipv6-only: on.
    if options.addr.is_ipv6() {
        socket.set_only_v6(options.ipv6_only)?;
    }
    // SO_REUSEADDR: the old server's connections linger in TIME_WAIT for a
    // minute, and without this a restart's bind() fails with "address in
    // use" until then. Not on Windows: there it would let a second server
    // take a port in use, and a restart needs no option at all.
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    // bind(): take the address and port, so clients know where to connect.
    socket
        .bind(&options.addr.into())
        .map_err(|e| sockets::tcp_bind_error(options.addr, e))?;
    // listen(): from now on the kernel completes handshakes by itself and
    // queues up to `backlog` new connections until we accept() them.
    socket.listen(options.backlog)?;
    let listener = TcpListener::from(socket);

    // With port 0 the kernel chose the port: print the real one.
    let addr = listener.local_addr()?;
    common::outln!("listening on {addr}")?;

    // accept() waits for ever, and Ctrl+C does not interrupt it (the handler
    // runs on a thread of its own). So on Ctrl+C the handler connects to us:
    // accept() returns, and the loop sees the stop flag.
    shutdown.wake_on_request(Wake::Connect(addr));

    accept_loop(&listener, options, &shutdown);

    // close(): dropping the listener closes it and frees the port.
    drop(listener);
    info!("server closed");
    Ok(())
}

/// Accept clients and serve each one.
fn accept_loop(listener: &TcpListener, options: &TcpServerOptions, shutdown: &StopSignal) {
    loop {
        if shutdown.requested() {
            break;
        }
        // accept(): the next connection from the queue, as a new socket of
        // its own (the listener goes on listening), and the client's address.
        let accepted = listener.accept();
        if shutdown.requested() {
            break; // this connection is most likely the Ctrl+C handler's
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                back_off_after_accept_error(&e, shutdown);
                continue;
            }
        };
        handle_connection(stream, peer, options, shutdown);
    }
}

/// Serve one client until it hangs up, goes quiet, breaks, or Ctrl+C.
fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &StopSignal,
) {
    info!("{peer}: connected");
    let why = match converse(&stream, peer, options, shutdown) {
        Ok(why) => why.to_string(),
        // A reset, a broken pipe...: this client is gone, the server is not.
        Err(e) => format!("error: {e}"),
    };
    // close(): dropping the stream closes this connection (and only it).
    drop(stream);
    info!("{peer}: closed ({why})");
}

/// The conversation with one client: receive a message, answer it, repeat.
/// Returns why it ended.
fn converse(
    stream: &TcpStream,
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &StopSignal,
) -> io::Result<&'static str> {
    // Reads and writes give up every POLL_INTERVAL, so the loop can notice
    // Ctrl+C and the idle timeout (the tutorial's recv() waits for ever).
    stream.set_read_timeout(Some(sockets::POLL_INTERVAL))?;
    stream.set_write_timeout(Some(sockets::POLL_INTERVAL))?;
    // The buffer holds at most `buffer_size` bytes, so a client cannot make
    // it grow: a longer line is refused, not stored.
    let mut reader = BufReader::with_capacity(options.buffer_size, stream);
    let mut message = Vec::new();
    let mut skipping = false; // throwing away the rest of a too-long line
    let mut last_message = Instant::now();
    loop {
        // Checked between reads only: a message in hand is finished first.
        if let Some(why) =
            stop_on_ctrl_c_or_idle_client(stream, peer, options, shutdown, last_message)
        {
            return Ok(why);
        }
        match receive(&mut reader, &mut message, options) {
            Ok(Incoming::Message) if skipping => skipping = false, // its tail
            Ok(Incoming::Message) => {
                answer(stream, &message, peer, options, shutdown)?;
                last_message = Instant::now();
            }
            Ok(Incoming::TooLong) if skipping => {}
            Ok(Incoming::TooLong) => {
                let error = refuse_too_long_line(peer, options.buffer_size);
                send_reply(stream, error, options, shutdown)?;
                skipping = true;
                last_message = Instant::now();
            }
            // Part of a line: keep it in `message` and read on.
            Ok(Incoming::Partial) => continue,
            Ok(Incoming::Closed) => return Ok("the client hung up"),
            // Nothing came in POLL_INTERVAL: loop to check the clocks.
            Err(e) if sockets::is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
        message.clear();
    }
}

/// What [`receive`] found.
pub(crate) enum Incoming {
    /// A whole message is in `message`.
    Message,
    /// Line framing only: part of a line; the rest is still to come.
    Partial,
    /// Line framing only: a line longer than `--buffer-size`. What came so
    /// far is in `message`, to be thrown away; more of the line may follow.
    TooLong,
    /// The client closed its side of the connection: read() returned 0.
    Closed,
}

/// Read once (at most one recv()) and add what came to `message`, the way
/// `--framing` says. A read that times out comes back as an error, and a
/// part of a line stays in `message` for the next call to finish.
fn receive(
    reader: &mut BufReader<&TcpStream>,
    message: &mut Vec<u8>,
    options: &TcpServerOptions,
) -> io::Result<Incoming> {
    // recv(): whatever the kernel has for us, up to `buffer_size` bytes.
    // That may be part of what the client sent, all of it, or several of its
    // messages run together: TCP does not say which.
    let received = reader.fill_buf()?;
    if received.is_empty() {
        // The end of the stream. A last line with no newline still counts.
        let last_line = options.framing == Framing::Line && !message.is_empty();
        return Ok(if last_line {
            Incoming::Message
        } else {
            Incoming::Closed
        });
    }
    match options.framing {
        Framing::Raw => {
            // No framing: one read is one message, as in the tutorial.
            message.extend_from_slice(received);
            let len = received.len();
            reader.consume(len);
            Ok(Incoming::Message)
        }
        Framing::Line => Ok(read_one_line_at_most(reader, message, options.buffer_size)),
    }
}

/// Work out the reply to one message and send it.
fn answer(
    stream: &TcpStream,
    message: &[u8],
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &StopSignal,
) -> io::Result<()> {
    // decode('utf-8'): bytes on the wire are not text until decoded.
    let reply = match std::str::from_utf8(message) {
        Ok(text) => {
            info!("{peer}: {}", escape::preview(text));
            options.reply.respond(text)
        }
        Err(_) => refuse_invalid_utf8(peer, message.len()),
    };
    // The simulated slow work (`--delay-ms`); Ctrl+C cuts it short.
    shutdown.sleep(options.delay);
    send_reply(stream, reply, options, shutdown)?;
    debug!("{peer}: replied");
    Ok(())
}

/// sendall(): send one reply, framed (in line framing it ends with a
/// newline), every byte of it.
fn send_reply(
    stream: &TcpStream,
    reply: String,
    options: &TcpServerOptions,
    shutdown: &StopSignal,
) -> io::Result<()> {
    let mut bytes = reply.into_bytes();
    if options.framing == Framing::Line {
        bytes.push(b'\n');
    }
    send_all_or_give_up(stream, &bytes, options.idle_timeout, shutdown)
}

// Hardening: what the tutorial's server does not survive. Each function is
// named after what it guards against; docs/tcp-server.md shows each failure.

/// Ctrl+C kills the tutorial's server without a word to its client; here
/// the client is told, and the server exits 0. A silent client holds the
/// tutorial's server in recv() for ever; here it is let go after
/// `--idle-timeout-ms` with no complete message (a byte now and then is
/// still idle). Returns why it hung up, if it did.
fn stop_on_ctrl_c_or_idle_client(
    stream: &TcpStream,
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &StopSignal,
    last_message: Instant,
) -> Option<&'static str> {
    let (why, reason) = if shutdown.requested() {
        (SHUTDOWN_REASON, SHUTDOWN_REASON)
    } else if last_message.elapsed() >= options.idle_timeout {
        ("idle timeout", IDLE_REASON)
    } else {
        return None;
    };
    hang_up_cleanly(stream, peer, reason);
    Some(why)
}

/// One recv() may hold part of a message, or several. Line framing takes
/// bytes up to and including the first '\n', never more than one byte past
/// `limit` (that byte says "too long"): no endless line is stored.
/// (BufRead::read_line grows without bound, deaf to Ctrl+C and idleness.)
/// (Generic over the reader, and `pub(crate)`, only so that `fuzz/` can
/// feed it bytes from memory.)
pub(crate) fn read_one_line_at_most<R: Read>(
    reader: &mut BufReader<R>,
    message: &mut Vec<u8>,
    limit: usize,
) -> Incoming {
    let received = reader.buffer();
    let line_end = received.iter().position(|&b| b == b'\n');
    let wanted = line_end.map_or(received.len(), |i| i + 1);
    let room = (limit + 1).saturating_sub(message.len());
    let taken = wanted.min(room);
    message.extend_from_slice(&received[..taken]);
    reader.consume(taken);
    if message.ends_with(b"\n") {
        message.pop();
        if message.ends_with(b"\r") {
            message.pop(); // telnet and friends end lines with \r\n
        }
        Incoming::Message
    } else if message.len() > limit {
        Incoming::TooLong
    } else {
        Incoming::Partial
    }
}

/// The answer to a line over `--buffer-size`. The rest of the line is then
/// thrown away as it comes.
fn refuse_too_long_line(peer: SocketAddr, limit: usize) -> String {
    warn!("{peer}: line over the {limit}-byte limit");
    format!("Error: Line too long (limit {limit} bytes)")
}

/// Bytes that are not UTF-8 kill the tutorial's server (decode() raises).
/// Here they get an error reply and the connection goes on. (In raw framing
/// a character can also be split across two reads.)
fn refuse_invalid_utf8(peer: SocketAddr, len: usize) -> String {
    let size = common::count(len as u64, "byte", "bytes");
    warn!("{peer}: {size}, not UTF-8");
    INVALID_ENCODING.to_string()
}

/// A failed accept() kills the tutorial's server; here it never stops it.
/// Some failures repeat at once (EMFILE): pause rather than spin.
fn back_off_after_accept_error(error: &io::Error, shutdown: &StopSignal) {
    warn!("accept failed: {error}");
    shutdown.sleep(Duration::from_millis(50));
}

/// send() until every byte is out, like sendall() and write_all(): one
/// send() may take only part of the data (the client is slow to read) and
/// says how much. Unlike sendall(), this gives up after `patience` with no
/// progress, or on Ctrl+C: a client that never reads would otherwise hold
/// the server in send() for ever.
fn send_all_or_give_up(
    mut stream: &TcpStream,
    mut bytes: &[u8],
    patience: Duration,
    shutdown: &StopSignal,
) -> io::Result<()> {
    let started = Instant::now();
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(sent) => bytes = &bytes[sent..],
            Err(e) if sockets::is_timeout(&e) => {
                if shutdown.requested() || started.elapsed() >= patience {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client is not reading its replies",
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Tell the client in one line why we hang up, without a reset eating it.
/// Never a wait (the accept loop calls this too): non-blocking, so a client
/// that cannot take the line does not hold us up.
fn hang_up_cleanly(mut stream: &TcpStream, peer: SocketAddr, reason: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(format!("Error: {reason}\n").as_bytes());
    // shutdown(SHUT_WR): a FIN goes out right after the line, "nothing more
    // from us", while we can still read.
    let _ = stream.shutdown(Shutdown::Write);
    // close() with unread bytes sends a reset (RST), which can cost the
    // client our line: read away what it has sent already (at most 64 KiB).
    // Later bytes still meet a reset; waiting would hold up accept().
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    warn!("{peer}: {reason}");
}
