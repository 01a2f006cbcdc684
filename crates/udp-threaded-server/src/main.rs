//! # udp-threaded-server: one thread per datagram
//!
//! udp-server's loop with one change: each datagram is handled on a thread
//! of its own, so a slow request (see `--delay-ms`) no longer holds up the
//! ones behind it. At most `--max-threads` handlers run at once; while all
//! are busy the loop waits, and new datagrams queue in the kernel.
//!
//! This is tutorial 1's threaded server
//! (`examples/udp-threaded-server-tutorial.rs`) made to last: a flood cannot
//! start threads without end, a bad datagram gets an error reply, and
//! Ctrl+C lets the running handlers send their replies before it exits.
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -q -p udp-threaded-server -- --delay-ms 1000
//! listening on 127.0.0.1:6532
//!
//! terminal 2 $ for i in 1 2 3; do cargo run -q -p udp-client -- \
//!                  --message "client $i" --timeout-ms 5000 2>/dev/null & done; wait
//! Message received
//! Message received
//! Message received
//! ```
//!
//! All three replies come after one second, not three: terminal 1 logs the
//! three `from` lines at once, and the three `replied` lines together. Ctrl+C: `server closed`, exit 0.
//!
//! ## Read in this order
//!
//! `receive_loop` first: its thread scope, `ThreadLimit` and `scope.spawn`
//! are all that differs from udp-server (`diff` the two files). `serve` and
//! `handle` are udp-server's. Lesson page:
//! docs/udp-threaded-server.md.

use std::error::Error;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;

use common::options::udp::UdpServerOptions;
use common::reply::INVALID_ENCODING;
use common::shutdown::Wake;
use common::{escape, sockets, StopSignal};
use log::{info, warn};
use socket2::{Domain, Protocol, Socket, Type};

fn main() -> ExitCode {
    let options = UdpServerOptions::threaded();
    common::logging::init();
    common::exit_code(serve(&options))
}

/// Open the socket, run the receive loop until Ctrl+C, close the socket.
fn serve(options: &UdpServerOptions) -> Result<(), Box<dyn Error>> {
    let shutdown = StopSignal::install()?;

    // socket(): an IPv4 or IPv6 socket (the domain follows the address) of
    // type SOCK_DGRAM, which is UDP. Same call as socket(AF_INET, SOCK_DGRAM).
    let socket = Socket::new(
        Domain::for_address(options.addr),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // IPV6_V6ONLY off: `--host ::` takes IPv4 clients too, on every OS (they
    // show up as ::ffff:127.0.0.1); the OSes' defaults differ. --ipv6-only: on.
    if options.addr.is_ipv6() {
        socket.set_only_v6(options.ipv6_only)?;
    }
    // bind(): take the address and port, so clients know where to send.
    socket
        .bind(&options.addr.into())
        .map_err(|e| sockets::bind_error(options.addr, e))?;
    // std's UdpSocket has everything else the lesson needs.
    let socket = UdpSocket::from(socket);
    // A reply can be as large as a datagram may be; macOS needs SO_SNDBUF
    // raised for that (see the helper).
    sockets::room_for_any_datagram(&socket)?;

    // With port 0 the kernel chose the port: print the real one.
    let addr = socket.local_addr()?;
    common::outln!("listening on {addr}")?;

    // recv_from() waits for ever, and Ctrl+C does not interrupt it (the
    // handler runs on a thread of its own). So on Ctrl+C the handler sends us
    // an empty datagram: recv_from() returns, and the loop sees the stop flag.
    shutdown.wake_on_request(Wake::Datagram(addr));

    receive_loop(&socket, options, &shutdown);

    // close(): dropping the socket closes it and frees the port.
    drop(socket);
    info!("server closed");
    Ok(())
}

/// Wait for datagrams and handle each one.
fn receive_loop(socket: &UdpSocket, options: &UdpServerOptions, shutdown: &StopSignal) {
    // Big enough for any datagram, so we learn its true length. The tutorials
    // call recvfrom(1024): a longer datagram is then cut to 1024 bytes and the
    // rest is lost without any error. Here `--buffer-size` is the limit we
    // accept, and a longer datagram is reported instead of cut short.
    let mut buf = vec![0u8; sockets::RECV_BUFFER];
    // Unbounded threads let a flood of datagrams exhaust memory: cap them.
    let limit = common::ThreadLimit::new(options.max_threads);
    // The scope joins every handler before returning (Ctrl+C waits for them).
    std::thread::scope(|scope| loop {
        if shutdown.requested() {
            break;
        }
        // recv_from(): one whole datagram (UDP keeps message boundaries) and
        // the address it came from, which is where the reply must go.
        let received = socket.recv_from(&mut buf);
        if shutdown.requested() {
            break; // this datagram is most likely the Ctrl+C handler's
        }
        let (len, peer) = match received {
            Ok(received) => received,
            Err(e) => {
                // One bad datagram must not stop the server: log, go on.
                // (On Windows this includes ICMP "port unreachable": a reply
                // of ours met a client that had left, and the next recv_from
                // says so. `log_recv_error` tells that apart.)
                sockets::log_recv_error(&e);
                continue;
            }
        };
        let permit = limit.acquire();
        let datagram = buf[..len].to_vec(); // a copy: `buf` is reused at once
        scope.spawn(move || {
            let _permit = permit; // frees the slot when the thread ends
            handle(socket, &datagram, peer, options, shutdown);
        });
    });
}

/// Work out the reply to one datagram and send it back to `peer`.
fn handle(
    socket: &UdpSocket,
    datagram: &[u8],
    peer: SocketAddr,
    options: &UdpServerOptions,
    shutdown: &StopSignal,
) {
    let reply = if datagram.len() > options.buffer_size {
        warn!(
            "from {peer}: {} bytes, over the {}-byte limit",
            datagram.len(),
            options.buffer_size
        );
        format!(
            "Error: Message too long ({} bytes, limit {})",
            datagram.len(),
            options.buffer_size
        )
    } else {
        // Bytes on the wire are not text until decoded; a peer can send
        // anything, so a decoding error is an answer, not a crash.
        match std::str::from_utf8(datagram) {
            Ok(text) => {
                info!("from {peer}: {}", escape::preview(text));
                options.reply.respond(text)
            }
            Err(_) => {
                let size = common::count(datagram.len() as u64, "byte", "bytes");
                warn!("from {peer}: {size}, not UTF-8");
                INVALID_ENCODING.to_string()
            }
        }
    };

    // A reply can outgrow one datagram (`Echo: ` plus a 65,507-byte message);
    // send_to would fail with "Message too long", so say so instead.
    let reply = if reply.len() > sockets::MAX_UDP_PAYLOAD {
        format!("Error: Reply too long ({} bytes)", reply.len())
    } else {
        reply
    };

    // The simulated slow work (`--delay-ms`); Ctrl+C cuts it short.
    shutdown.sleep(options.delay);

    // send_to(): UDP has no connection, so every send names its destination.
    match socket.send_to(reply.as_bytes(), peer) {
        Ok(sent) => info!(
            "replied to {peer} ({})",
            common::count(sent as u64, "byte", "bytes")
        ),
        Err(e) => warn!("send_to {peer} failed: {e}"),
    }
}
