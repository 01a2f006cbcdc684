//! # tcp-client: connect, send, wait for the answer
//!
//! Tutorial 3's TCP client (`examples/tcp-client-tutorial.rs`), made to say
//! what went wrong instead of waiting for ever or printing nothing as if it
//! were a reply. It connects to a TCP server and prints each reply on stdout.
//! With `--message TEXT` it sends once and exits; without, it sends each line
//! it reads (typed at a prompt, or from a pipe) over the same connection,
//! until `exit` or the end of input.
//!
//! A refused connection, a reset, a server that hung up (saying why, or
//! not), a busy server, or silence past `--timeout-ms`: each ends it with
//! one line saying what happened, and exit code 1. `--burst N` writes each
//! message N times before reading: TCP carries bytes, not messages.
//! `--split` (two writes per message), `--nodelay` and `--repeat N` (time N
//! round trips) show the 40 ms Nagle/delayed-ACK stall: src/round_trips.rs.
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -q -p tcp-server
//! listening on 127.0.0.1:65432
//! 10:15:53.937 INFO  127.0.0.1:38204: connected
//! 10:15:53.937 INFO  127.0.0.1:38204: "Hello, Server!"
//! 10:15:53.937 INFO  127.0.0.1:38204: closed (the client hung up)
//!
//! terminal 2 $ cargo run -q -p tcp-client -- --message 'Hello, Server!'
//! 10:15:53.937 INFO  connected to 127.0.0.1:65432 from 127.0.0.1:38204
//! 10:15:53.937 INFO  sent 14 bytes
//! 10:15:53.937 INFO  read 16 bytes
//! Message received
//! ```
//!
//! The reply is on stdout, the log lines on stderr (`2>/dev/null` hides them).
//! ## Read in this order
//!
//! The tutorial's path first: `run` (socket, connect, close) → `exchange`
//! (send, recv) → `send_message` (sendall) → `read_reply` (recv, framing).
//! Then the section "Hardening": `check_unasked` (what the server said on
//! its own) and the errors that say what happened. More in docs/tcp-client.md.

use std::error::Error;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use common::options::tcp::{
    is_busy_line, split_goodbye, Framing, TcpClientOptions, MAX_BUFFER, MAX_REPLY,
};
use common::{escape, sockets};
use log::{info, log, warn, Level};
use socket2::{Domain, Protocol, Socket, Type};

mod round_trips;

fn main() -> ExitCode {
    let options = TcpClientOptions::parse();
    common::logging::init();
    common::exit_code(run(&options))
}

fn run(options: &TcpClientOptions) -> Result<(), Box<dyn Error>> {
    // socket(): a TCP socket of the server's family (IPv4 or IPv6). A client
    // need not bind: connect() picks a free local port.
    let socket = Socket::new(
        Domain::for_address(options.server),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // connect(): the three-way handshake with the server. A plain connect()
    // can wait for minutes when nobody answers; this one gives up in time.
    socket
        .connect_timeout(&options.server.into(), options.timeout)
        .map_err(|e| connect_error(options, e))?;
    let stream = TcpStream::from(socket);
    info!(
        "connected to {} from {}",
        options.server,
        stream.local_addr()?
    );
    // A reply that never comes, or a server that stops reading, must not
    // hang the client: reads and writes give up after --timeout-ms.
    stream.set_read_timeout(Some(options.timeout))?;
    stream.set_write_timeout(Some(options.timeout))?;
    // setsockopt(TCP_NODELAY): turn Nagle's algorithm off. With it on (the
    // default), a small write waits while an earlier one is not yet ACKed;
    // with it off, every write leaves at once, however small.
    if options.nodelay {
        stream.set_nodelay(true)?;
    }
    // Replies are read through a buffer, so that line framing can split them
    // at newlines. It holds at most MAX_BUFFER bytes.
    let mut reader = BufReader::with_capacity(MAX_BUFFER, &stream);

    match &options.message {
        Some(message) if options.repeat.is_some() => {
            round_trips::repeat(&stream, &mut reader, message, options)?
        }
        Some(message) => exchange(&stream, &mut reader, message, options)?,
        None => {
            let stdin = io::stdin();
            // Prompt only a person; a pipe gets no prompts in its output.
            let person = stdin.is_terminal();
            let mut line = String::new();
            loop {
                if person {
                    write!(io::stdout(), "message ('exit' quits)> ")?;
                    io::stdout().flush()?;
                }
                line.clear();
                if stdin.lock().read_line(&mut line)? == 0 {
                    // End of input: Ctrl+D, or the end of the pipe. After
                    // Ctrl+D the cursor is still on the prompt's line: end
                    // it, or the shell's prompt would follow ours.
                    if person {
                        writeln!(io::stdout())?;
                    }
                    break;
                }
                let message = line.trim_end_matches(['\r', '\n']);
                if message.eq_ignore_ascii_case("exit") {
                    break;
                }
                exchange(&stream, &mut reader, message, options)?;
            }
        }
    }

    // close(): dropping the stream closes the connection; the server's
    // read() then returns 0 and it knows we are done.
    drop(reader);
    drop(stream);
    Ok(())
}

/// Send `message` (`--burst` times) and print the replies, one per line.
fn exchange(
    stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
    message: &str,
    options: &TcpClientOptions,
) -> Result<(), Box<dyn Error>> {
    check_unasked(stream, reader, options)?;
    if !sendable(message, options) {
        return Ok(());
    }
    send_and_read(stream, reader, message, options, &mut |reply| {
        common::outln!("{}", escape::printable(reply))
    })
}

/// `false` (and a warning) for a message TCP cannot send: zero bytes.
fn sendable(message: &str, options: &TcpClientOptions) -> bool {
    if message.is_empty() && options.framing == Framing::Raw {
        // A UDP datagram can be empty; a TCP stream has no such thing. Zero
        // bytes never leave, the server reads nothing and never answers.
        warn!("an empty message is zero bytes, which TCP does not send; skipped");
        return false;
    }
    true
}

/// One round trip: write the message `--burst` times, then read as many
/// replies, handing each real answer to `show`.
fn send_and_read(
    stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
    message: &str,
    options: &TcpClientOptions,
    show: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), Box<dyn Error>> {
    for _ in 0..options.burst {
        send_message(stream, message, options)?;
    }
    for count in 1..=options.burst {
        match read_reply(reader, options) {
            // The threaded server's line to a client past its cap: no
            // answer, but a refusal.
            Ok(reply) if is_busy_line(&reply) => return Err(busy_error(options)),
            // A goodbye (idle timeout, shutdown) is the server hanging up,
            // not an answer, even when it came glued to the answer.
            Ok(reply) if split_goodbye(&reply).is_some() => {
                return Err(goodbye_error(&reply, options));
            }
            // The bytes are the server's, not ours: printed with control
            // characters escaped, so they cannot drive the terminal.
            Ok(reply) => show(&reply)?,
            // Raw framing: after the first reply, silence may just mean the
            // server read several of our messages as one, or we read several
            // of its replies as one.
            Err(e) if count > 1 && options.framing == Framing::Raw && sockets::is_timeout(&e) => {
                warn!(
                    "sent {} messages but read only {}: several writes were read as one \
                     (ours by the server, or its replies by us), because TCP carries bytes, \
                     not messages (--framing line on both sides fixes this)",
                    options.burst,
                    common::count(count as u64 - 1, "reply", "replies")
                );
                break;
            }
            Err(e) => return Err(io_error(options, e)),
        }
    }
    Ok(())
}

/// Write one message, framed as `--framing` says.
fn send_message(
    mut stream: &TcpStream,
    message: &str,
    options: &TcpClientOptions,
) -> Result<(), Box<dyn Error>> {
    let mut bytes = message.as_bytes().to_vec();
    if options.framing == Framing::Line {
        bytes.push(b'\n');
    }
    // send(), the way Python's sendall() does it. A single write() (Python's
    // send()) may take only the first part of the bytes when the socket's
    // send buffer is full, and returns how many it took; the caller must send
    // the rest. write_all() loops over write() until every byte is out, or
    // fails (here: after --timeout-ms with no progress). Small messages on a
    // quiet connection almost always go in one write(), which is exactly why
    // forgetting the loop is a bug that hides until the day it bites.
    if options.split {
        // --split: the same bytes in two write() calls, as a program does
        // that writes a header, then a body. The first leaves at once; the
        // second is small and the first is not yet ACKed, so Nagle's
        // algorithm holds it back until the ACK comes. A server that waits
        // for the whole line before it answers sends that ACK only when its
        // delayed-ACK timer fires: about 40 ms on Linux (docs/tcp-client.md).
        let (first, rest) = bytes.split_at(bytes.len() / 2);
        for part in [first, rest] {
            stream.write_all(part).map_err(|e| send_error(options, e))?;
        }
    } else {
        stream
            .write_all(&bytes)
            .map_err(|e| send_error(options, e))?;
    }
    log!(detail(options), "sent {} bytes", bytes.len());
    Ok(())
}

/// The level of the per-message log lines: `info`, but `debug` while
/// `--repeat` times round trips (a log line per message would flood the
/// terminal and be part of every measured time).
fn detail(options: &TcpClientOptions) -> Level {
    if options.repeat.is_some() {
        Level::Debug
    } else {
        Level::Info
    }
}

/// Read one reply, as bytes, without its final newline. Raw framing:
/// whatever one read() returns (like the tutorial's recv(1024)). Line
/// framing: up to the next newline.
fn read_reply(
    reader: &mut BufReader<&TcpStream>,
    options: &TcpClientOptions,
) -> io::Result<Vec<u8>> {
    match options.framing {
        Framing::Raw => {
            // recv(): at most one read of whatever has arrived.
            let received = reader.fill_buf()?;
            if received.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let mut reply = received.to_vec();
            reader.consume(reply.len());
            log!(detail(options), "read {} bytes", reply.len());
            while reply.last() == Some(&b'\n') {
                reply.pop();
            }
            Ok(reply)
        }
        Framing::Line => {
            // read_until() reads as often as needed to reach the newline; the
            // take() caps how much a server can make us hold: MAX_REPLY, the
            // longest reply our servers send, and the newline.
            let mut line = Vec::new();
            let read = reader
                .by_ref()
                .take(MAX_REPLY as u64 + 1)
                .read_until(b'\n', &mut line);
            match read {
                Err(e) if sockets::is_timeout(&e) && !line.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "got {} but no newline after it: is the server using --framing line?",
                            escape::preview(&String::from_utf8_lossy(&line))
                        ),
                    ))
                }
                Err(e) => return Err(e),
                Ok(_) if line.len() > MAX_REPLY && !line.ends_with(b"\n") => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "reply longer than {MAX_REPLY} bytes with no newline, more than \
                             any lesson server sends; gave up on it"
                        ),
                    ))
                }
                Ok(_) if !line.ends_with(b"\n") => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
            }
            line.pop();
            if line.ends_with(b"\r") {
                line.pop(); // a server that ends its lines with \r\n
            }
            Ok(line)
        }
    }
}

// Hardening: what the tutorial's client does not survive. The tutorial's
// client waits for ever, takes a hang-up for an empty reply, and dies of an
// error with a traceback; these turn each case into one line that says what
// happened, and exit code 1.

/// Before sending, look (without waiting) for bytes the server sent that we
/// did not ask for: the rest of a reply longer than one read, or a last line
/// before it hung up (busy, idle timeout, shutting down). Show them rather
/// than take them for the next reply, and stop if the server has hung up.
fn check_unasked(
    stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
    options: &TcpClientOptions,
) -> Result<(), Box<dyn Error>> {
    let mut unasked = Vec::new();
    stream.set_nonblocking(true)?;
    let result = loop {
        match reader.fill_buf() {
            Ok([]) => break Ok(false),
            Ok(received) => {
                // Keep the first bytes to show; throw the rest away.
                let keep = received.len().min(MAX_BUFFER - unasked.len());
                unasked.extend_from_slice(&received[..keep]);
                let len = received.len();
                reader.consume(len);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(true),
            Err(e) => break Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    if is_busy_line(&unasked) {
        // Turned away before we said a word (the line came in time).
        return Err(busy_error(options));
    }
    // preview() escapes control characters as printable() does (and quotes).
    // The line's own newline ends it: it is not part of what was said.
    let line = unasked.strip_suffix(b"\n").unwrap_or(&unasked);
    let said = escape::preview(&String::from_utf8_lossy(line));
    match result {
        Ok(true) if unasked.is_empty() => Ok(()),
        Ok(true) => {
            warn!("the server sent, unasked: {said}");
            Ok(())
        }
        Ok(false) if unasked.is_empty() => {
            Err(format!("the server at {} has closed the connection", options.server).into())
        }
        Ok(false) => Err(format!(
            "the server at {} has closed the connection, saying {said}",
            options.server
        )
        .into()),
        Err(e) => Err(io_error(options, e)),
    }
}

/// Why connect() failed, in words that say what to do.
fn connect_error(options: &TcpClientOptions, error: io::Error) -> Box<dyn Error> {
    let server = options.server;
    match error.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "connection refused by {server}: nothing is listening there. Is the server running, \
             and on this port?"
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
            "no answer from {server} within {:?}: the server may be down, its queue of new \
             connections full, or the packets dropped on the way. Try again, or a longer \
             --timeout-ms",
            options.timeout
        ),
        _ => format!("cannot connect to {server}: {error}"),
    }
    .into()
}

/// The threaded server turned us away: every one of its slots is taken.
fn busy_error(options: &TcpClientOptions) -> Box<dyn Error> {
    format!(
        "the server at {} is busy: it serves at most --max-connections clients at once, and \
         that many are connected. Try again later (or start it with a larger --max-connections)",
        options.server
    )
    .into()
}

/// The server's goodbye line, alone or glued to a reply: print the reply
/// part, and report the hang-up.
fn goodbye_error(reply: &[u8], options: &TcpClientOptions) -> Box<dyn Error> {
    let Some((before, said)) = split_goodbye(reply) else {
        return format!("the server at {} has closed the connection", options.server).into();
    };
    if !before.is_empty() {
        if let Err(e) = common::outln!("{}", escape::printable(before)) {
            return e.into();
        }
    }
    format!(
        "the server at {} has closed the connection, saying {}",
        options.server,
        escape::preview(said)
    )
    .into()
}

/// What a failed send means. A send that times out is not a missing
/// reply: the server has stopped reading, and the bytes have nowhere to go.
fn send_error(options: &TcpClientOptions, error: io::Error) -> Box<dyn Error> {
    if sockets::is_timeout(&error) {
        return format!(
            "could not send to {} within {:?}: the server is not reading what we send, and \
             the buffers between us are full (a sequential server may be busy with another \
             client). Try a longer --timeout-ms",
            options.server, options.timeout
        )
        .into();
    }
    io_error(options, error)
}

/// What a failed send or receive means for the connection.
fn io_error(options: &TcpClientOptions, error: io::Error) -> Box<dyn Error> {
    let server = options.server;
    if sockets::is_timeout(&error) && options.framing == Framing::Raw {
        // Our message had no newline. A server in line framing is still
        // waiting for one: that is not slowness, but a framing mismatch.
        return format!(
            "no reply from {server} within {:?}. If the server runs with --framing line, it \
             is still waiting for the end of the line: use --framing line here too. Otherwise \
             it is slow or stuck (a sequential server may be busy with another client): try a \
             longer --timeout-ms",
            options.timeout
        )
        .into();
    }
    if sockets::is_timeout(&error) {
        return format!(
            "no reply from {server} within {:?}: the server is slow or stuck (a sequential \
             server may be busy with another client). Try a longer --timeout-ms",
            options.timeout
        )
        .into();
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!("the server at {server} closed the connection without a reply").into()
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            format!("the server at {server} reset the connection (it crashed or dropped us)").into()
        }
        io::ErrorKind::InvalidData => format!("bad reply from {server}: {error}").into(),
        io::ErrorKind::BrokenPipe => {
            format!("the server at {server} has closed the connection; nothing more can be sent")
                .into()
        }
        _ => format!("connection to {server} failed: {error}").into(),
    }
}
