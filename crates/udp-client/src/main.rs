//! # udp-client: send a datagram, wait for the answer
//!
//! Sends text to a UDP server and prints each reply on stdout. With
//! `--message TEXT` it sends once and exits. Without it, it reads lines (typed
//! at a prompt, or from a pipe) and sends each one, until `exit` or the end of
//! input.
//!
//! UDP promises nothing: the request or the reply can be lost and nobody is
//! told. So the client waits only `--timeout-ms` for each reply, resends up to
//! `--retries` times, and then gives up with `no reply from ADDR` and exit
//! code 1 rather than waiting for ever. (Tutorial 5's client,
//! `examples/udp-client-tutorial.rs`, does wait for ever.)
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -q -p udp-server -- --reply ack
//! listening on 127.0.0.1:6532
//!
//! terminal 2 $ cargo run -q -p udp-client
//! message ('exit' quits)> hello
//! 10:04:55.120 INFO  sent 5 bytes to 127.0.0.1:6532
//! 10:04:55.121 INFO  reply from 127.0.0.1:6532 (26 bytes)
//! Server acknowledges: hello
//! message ('exit' quits)> exit
//! ```
//!
//! ## Read in this order
//!
//! `run` (socket, close) → `request` (send_to, recv_from, retries) →
//! `discard_late_replies`. Lesson page: docs/udp-client.md.

use std::error::Error;
use std::io::{self, BufRead, IsTerminal, Write};
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Instant;

use common::options::udp::UdpClientOptions;
use common::{escape, sockets};
use log::{info, warn};
use socket2::{Domain, Protocol, Socket, Type};

fn main() -> ExitCode {
    let options = UdpClientOptions::parse();
    common::logging::init();
    common::exit_code(run(&options))
}

fn run(options: &UdpClientOptions) -> Result<(), Box<dyn Error>> {
    // socket(): a UDP socket of the server's family (IPv4 or IPv6). A client
    // need not bind: the kernel gives it a free port at the first send_to.
    let socket = Socket::new(
        Domain::for_address(options.server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    let socket = UdpSocket::from(socket);
    // A message can be as large as a datagram may be; macOS needs SO_SNDBUF
    // raised for that (see the helper).
    sockets::room_for_any_datagram(&socket)?;
    let mut buf = vec![0u8; sockets::RECV_BUFFER];

    match &options.message {
        Some(message) => common::outln!(
            "{}",
            request(&socket, message.as_bytes(), options, &mut buf)?
        )?,
        None => {
            let stdin = io::stdin();
            // Prompt only a person; a pipe gets no prompts in its output.
            let person = stdin.is_terminal();
            // Bytes, not String: whatever the user types is sent as it is,
            // even if it is not valid UTF-8 (try it: the server must cope).
            let mut line = Vec::new();
            loop {
                if person {
                    write!(io::stdout(), "message ('exit' quits)> ")?;
                    io::stdout().flush()?;
                }
                line.clear();
                if stdin.lock().read_until(b'\n', &mut line)? == 0 {
                    // End of input: the end of the pipe, or Ctrl+D. After
                    // Ctrl+D the cursor is still on the prompt's line: end
                    // it, so the shell's prompt starts on a line of its own.
                    if person {
                        writeln!(io::stdout())?;
                    }
                    break;
                }
                let message = line.strip_suffix(b"\n").unwrap_or(&line);
                let message = message.strip_suffix(b"\r").unwrap_or(message);
                if message.eq_ignore_ascii_case(b"exit") {
                    break;
                }
                common::outln!("{}", request(&socket, message, options, &mut buf)?)?;
            }
        }
    }

    // close(): dropping the socket closes it.
    drop(socket);
    Ok(())
}

/// Send `message` and return the server's reply, resending on silence.
fn request(
    socket: &UdpSocket,
    message: &[u8],
    options: &UdpClientOptions,
    buf: &mut [u8],
) -> Result<String, Box<dyn Error>> {
    // One send_to is one datagram, and a datagram has a size limit.
    if message.len() > sockets::MAX_UDP_PAYLOAD {
        return Err(format!(
            "a {}-byte message does not fit in one UDP datagram (at most {} bytes): \
             split it, as udp-chunked-transfer does, or use TCP",
            message.len(),
            sockets::MAX_UDP_PAYLOAD
        )
        .into());
    }
    discard_late_replies(socket, buf)?;
    for attempt in 0..=options.retries {
        if attempt > 0 {
            warn!(
                "no reply within {:?}, sending again ({attempt} of {})",
                options.timeout, options.retries
            );
        }
        // send_to(): the whole message as one datagram, to the server's address.
        let sent = socket.send_to(message, options.server)?;
        let size = common::count(sent as u64, "byte", "bytes");
        info!("sent {size} to {}", options.server);

        // recv_from() with a deadline. Anything from another address is not
        // our reply (any host can send to our port), so skip it and keep
        // waiting for the rest of the time.
        let deadline = Instant::now() + options.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv_from(buf) {
                Ok((len, from)) if from == options.server => {
                    let size = common::count(len as u64, "byte", "bytes");
                    info!("reply from {from} ({size})");
                    // Escaped where needed: a server must not drive our terminal.
                    return Ok(escape::printable(&buf[..len]));
                }
                Ok((_, from)) => warn!("ignoring a datagram from {from}: it is not the server"),
                Err(e) if sockets::is_timeout(&e) => break,
                // Windows only: the server's machine said no program has
                // that port (ICMP "port unreachable"). Linux and macOS tell
                // an unconnected socket nothing, so there we time out.
                Err(e) if sockets::is_port_unreachable(&e) => {
                    return Err(format!(
                        "nothing is listening at {}: its machine answered that no program \
                         has that UDP port. Start the server first, or check --host and --port",
                        options.server
                    )
                    .into())
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Err(format!(
        "no reply from {} after {}, {:?} each: is the server running on that address \
         and port? (UDP cannot tell a lost datagram from a missing server)",
        options.server,
        common::count(u64::from(options.retries) + 1, "try", "tries"),
        options.timeout,
    )
    .into())
}

/// A reply that arrives after we gave up and resent is still queued on the
/// socket; read and drop such leftovers so it is not taken for the answer to
/// the next message.
fn discard_late_replies(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<()> {
    socket.set_nonblocking(true)?;
    loop {
        match socket.recv_from(buf) {
            Ok((len, from)) => warn!("dropping a late reply from {from} ({len} bytes)"),
            // Windows: an old "port unreachable" in the queue; read on.
            Err(e) if sockets::is_port_unreachable(&e) => {}
            Err(_) => break, // WouldBlock: nothing left
        }
    }
    socket.set_nonblocking(false)
}
