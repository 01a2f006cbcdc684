//! # tcp-threaded-server: one thread per client
//!
//! `tcp-server` is a TCP server in its plainest form. It binds a socket,
//! listens, accepts one client, answers every message that client sends
//! until it hangs up, and only then accepts the next one.
//! `tcp-threaded-server` is the same program plus one thread per client, at
//! most `--max-connections` of them, so the next client is accepted at once.
//! `diff` the two files: they differ only where the threads come in.
//!
//! TCP has connections, so a server holds one socket per client. While the
//! sequential server serves one, the others wait: the kernel completes their
//! handshakes and queues them (the `--backlog`), but nobody reads from them.
//! `--idle-timeout-ms` closes a client that stays silent that long, freeing
//! the server from a forgotten connection; a client that keeps talking still
//! holds it, for as long as it likes. That is what the threads fix.
//!
//! Why a cap? Each thread costs a stack and scheduler time, and a server
//! that spawns one per connection lets anyone who opens connections make it
//! spawn threads until memory runs out (the Rust book says so before its
//! thread pool). Past the cap: one `Error: server busy` line, then hang up.
//!
//! TCP is a stream of bytes, not of messages (UDP keeps each datagram whole).
//! With `--framing raw`, the default, one `read()` is one message, as in the
//! tutorial, whose client sends `Hello, Server!` with no newline and waits.
//! With `--framing line` a message ends at a newline, and so does every
//! reply; `--reply echo --framing line` (on the client too) shows it.
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -p tcp-threaded-server
//! listening on 127.0.0.1:65432
//!
//! terminal 2 $ cargo run -p tcp-client -- --message 'Hello, Server!'
//! Message received
//!
//! terminal 1 now shows
//! 10:20:31.017 INFO  127.0.0.1:51622: connected
//! 10:20:31.017 INFO  127.0.0.1:51622: "Hello, Server!"
//! 10:20:31.018 INFO  127.0.0.1:51622: closed (the client hung up)
//! ```
//!
//! Keep one `tcp-client` open at its prompt and send from another one:
//! `tcp-server` answers it only once the first leaves or falls silent,
//! `tcp-threaded-server` at once. Ctrl+C logs `server closed`, exits 0.
//!
//! ## Read in this order
//!
//! `serve` (socket, bind, listen, close) → `accept_loop` (accept) →
//! `handle_connection` (one client) → `next_message` (recv, framing) →
//! `answer` (decode, reply) → `send_all` (send until all is sent).

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::options::tcp::{Framing, TcpServerOptions};
use common::reply::INVALID_ENCODING;
use common::{net, Shutdown};
use log::{debug, info, warn};
use socket2::{Domain, Protocol, Socket, Type};

fn main() -> ExitCode {
    let options = TcpServerOptions::threaded();
    common::logging::init();
    common::finish(serve(&options))
}

/// Open the listening socket, accept clients until Ctrl+C, close it.
fn serve(options: &TcpServerOptions) -> Result<(), Box<dyn Error>> {
    let shutdown = Shutdown::install()?;

    // socket(): an IPv4 or IPv6 socket (the domain follows the address) of
    // type SOCK_STREAM, which is TCP. Same as socket(AF_INET, SOCK_STREAM).
    let socket = Socket::new(
        Domain::for_address(options.addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // SO_REUSEADDR: after a restart, the old server's connections linger in
    // TIME_WAIT for a minute or two, and without this bind() would fail with
    // "address in use" until they are gone. (It does not let two servers
    // listen on one port: that still fails.)
    socket.set_reuse_address(true)?;
    // bind(): take the address and port, so clients know where to connect.
    socket
        .bind(&options.addr.into())
        .map_err(|e| net::bind_error(options.addr, e))?;
    // listen(): from now on the kernel completes handshakes by itself and
    // queues up to `backlog` new connections until we accept() them.
    socket.listen(options.backlog)?;
    let listener = TcpListener::from(socket);

    // accept() would block for ever, and Ctrl+C does not interrupt it, so it
    // gives up every POLL_INTERVAL and the loop checks for a shutdown.
    net::set_accept_timeout(&listener, net::POLL_INTERVAL)?;

    // With port 0 the kernel chose the port: print the real one.
    common::outln!("listening on {}", listener.local_addr()?)?;

    accept_loop(&listener, options, &shutdown);

    // close(): dropping the listener closes it and frees the port.
    drop(listener);
    info!("server closed");
    Ok(())
}

/// Accept clients and serve each one.
fn accept_loop(listener: &TcpListener, options: &TcpServerOptions, shutdown: &Shutdown) {
    let limit = common::ThreadLimit::new(options.max_connections); // the cap: see the header
    std::thread::scope(|scope| loop {
        if shutdown.requested() {
            break;
        }
        // accept(): the next connection from the queue, as a new socket of
        // its own (the listener goes on listening), and the client's address.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                // A failed accept is never a reason to stop. Some failures
                // come back at once when retried (out of file descriptors:
                // EMFILE), so pause a moment rather than spin.
                warn!("accept failed: {e}");
                shutdown.sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Some(permit) = limit.try_acquire() else {
            hang_up(&stream, peer, common::options::tcp::BUSY_REASON); // no thread for it
            continue;
        };
        scope.spawn(move || {
            let _permit = permit; // frees the slot when the thread ends
            handle_connection(stream, peer, options, shutdown);
        });
    }); // the scope ends only when every handler thread has: join()
}

/// Serve one client until it hangs up, goes quiet, breaks, or Ctrl+C.
fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &Shutdown,
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

/// The conversation with one client: read a message, answer it, repeat.
/// Returns why it ended.
fn converse(
    stream: &TcpStream,
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &Shutdown,
) -> io::Result<&'static str> {
    // Reads and writes give up every POLL_INTERVAL, so the loop can notice
    // Ctrl+C and the idle timeout.
    stream.set_read_timeout(Some(net::POLL_INTERVAL))?;
    stream.set_write_timeout(Some(net::POLL_INTERVAL))?;
    // The buffer holds at most `buffer_size` bytes, so a client cannot make
    // it grow: a longer line is refused, not stored.
    let mut reader = BufReader::with_capacity(options.buffer_size, stream);
    let mut message = Vec::new();
    let mut skipping = false; // throwing away the rest of a too-long line
    let mut last_message = Instant::now();
    loop {
        // Checked between reads only: a message in hand is finished first.
        if shutdown.requested() {
            hang_up(stream, peer, "server shutting down");
            return Ok("server shutting down");
        }
        // Idle means no complete message: a client that trickles in a byte
        // now and then, and never ends its line, is idle too.
        if last_message.elapsed() >= options.idle_timeout {
            hang_up(stream, peer, "idle for too long, closing");
            return Ok("idle timeout");
        }
        match next_message(&mut reader, &mut message, options) {
            Ok(Incoming::Message) if skipping => skipping = false, // its tail
            Ok(Incoming::Message) => {
                answer(stream, &message, peer, options, shutdown)?;
                last_message = Instant::now();
            }
            Ok(Incoming::TooLong) if skipping => {}
            Ok(Incoming::TooLong) => {
                warn!("{peer}: line over the {}-byte limit", options.buffer_size);
                let error = format!("Error: Line too long (limit {} bytes)", options.buffer_size);
                send_reply(stream, error, options, shutdown)?;
                skipping = true;
                last_message = Instant::now();
            }
            // Part of a line: keep it in `message` and read on.
            Ok(Incoming::Partial) => continue,
            Ok(Incoming::Closed) => return Ok("the client hung up"),
            // Nothing came in POLL_INTERVAL: loop to check the clocks.
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
        message.clear();
    }
}

/// What [`next_message`] found.
enum Incoming {
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
fn next_message(
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
        Framing::Line => {
            // Take bytes up to and including the first '\n', but never more
            // than one byte past the limit: that byte says "too long".
            // (BufRead::read_line would do this in one call, but it lets the
            // line grow without bound and keeps reading while bytes trickle
            // in, deaf to Ctrl+C and to the idle timeout.)
            let line_end = received.iter().position(|&b| b == b'\n');
            let wanted = line_end.map_or(received.len(), |i| i + 1);
            let room = (options.buffer_size + 1).saturating_sub(message.len());
            let taken = wanted.min(room);
            message.extend_from_slice(&received[..taken]);
            reader.consume(taken);
            if message.ends_with(b"\n") {
                message.pop();
                if message.ends_with(b"\r") {
                    message.pop(); // telnet and friends end lines with \r\n
                }
                Ok(Incoming::Message)
            } else if message.len() > options.buffer_size {
                Ok(Incoming::TooLong)
            } else {
                Ok(Incoming::Partial)
            }
        }
    }
}

/// Work out the reply to one message and send it.
fn answer(
    stream: &TcpStream,
    message: &[u8],
    peer: SocketAddr,
    options: &TcpServerOptions,
    shutdown: &Shutdown,
) -> io::Result<()> {
    // Bytes on the wire are not text until decoded; a peer can send anything,
    // so a decoding error is an answer, not a crash. (In raw framing a
    // character can also be split across two reads.)
    let reply = match std::str::from_utf8(message) {
        Ok(text) => {
            info!("{peer}: {}", net::preview(text));
            options.reply.respond(text)
        }
        Err(_) => {
            warn!("{peer}: {} bytes that are not UTF-8", message.len());
            INVALID_ENCODING.to_string()
        }
    };
    // The simulated slow work (`--delay-ms`); Ctrl+C cuts it short.
    shutdown.sleep(options.delay);
    send_reply(stream, reply, options, shutdown)?;
    debug!("{peer}: replied");
    Ok(())
}

/// Send one reply, framed: in line framing it ends with a newline.
fn send_reply(
    stream: &TcpStream,
    reply: String,
    options: &TcpServerOptions,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let mut bytes = reply.into_bytes();
    if options.framing == Framing::Line {
        bytes.push(b'\n');
    }
    send_all(stream, &bytes, options.idle_timeout, shutdown)
}

/// send() until every byte is out, like Python's sendall() and Rust's
/// write_all(). One send() may take only part of the data (when the socket's
/// buffer is full because the client is slow to read) and says how much it
/// took; the rest must be sent again. Unlike write_all(), this gives up when
/// the client has read nothing for `patience`, or on Ctrl+C, instead of
/// waiting for ever on a client that never reads.
fn send_all(
    mut stream: &TcpStream,
    mut bytes: &[u8],
    patience: Duration,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let started = Instant::now();
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(sent) => bytes = &bytes[sent..],
            Err(e) if net::is_timeout(&e) => {
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

/// Tell the client in one line why we hang up, and get ready to close.
/// Best effort and never a wait (the accept loop calls this too): the socket
/// goes non-blocking, so a client that cannot take the line does not hold
/// us up.
fn hang_up(mut stream: &TcpStream, peer: SocketAddr, reason: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(format!("Error: {reason}\n").as_bytes());
    // shutdown(SHUT_WR): a FIN goes out right after the line, "nothing more
    // from us", while we can still read.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // close() with unread bytes in the receive buffer sends a reset (RST)
    // instead of a normal close, and a reset can cost the client our line.
    // So read and throw away what the client has sent already (at most
    // 64 KiB). Bytes that come later still meet a reset: waiting for them
    // would hold up the accept loop.
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    warn!("{peer}: {reason}");
}
