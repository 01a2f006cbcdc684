//! # udp-threaded-server-tutorial: tutorial 1's UDP server, one thread per datagram
//!
//! The Python program in Rust, call for call, weak spots included: a new
//! thread for every datagram with no limit, no shutdown, and a handler that
//! fails dies alone while its client waits for a reply that never comes.
//!
//! ```text
//! cargo run -q -p udp-threaded-server --example udp-threaded-server-tutorial                # 127.0.0.1:6532
//! cargo run -q -p udp-threaded-server --example udp-threaded-server-tutorial -- '[::1]:0'  # IPv6
//! ```
//!
//! The full lesson, with a cap on its threads, is `src/main.rs`;
//! docs/udp-threaded-server.md breaks this one and shows the fixes.
//! `diff` this file with udp-server's example: only threads differ.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread;

use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    // The tutorial's host and port are constants; here ARG1 can change them.
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| bad_input(format!("{arg}: {e}")))?,
        None => SocketAddr::from(([127, 0, 0, 1], 6532)),
    };
    // Python: socket.socket(AF_INET, SOCK_DGRAM), a UDP socket (the address
    // picks IPv4 or IPv6, so `[::1]:0` works too).
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    // Python: .bind((host, port)), take the port so clients can find us.
    socket.bind(&addr.into())?;
    // Python hands the same socket object to every thread. Arc is that
    // shared ownership; try_clone() would dup the descriptor per datagram.
    let socket = Arc::new(UdpSocket::from(socket));
    // Python prints the address it asked for; this prints the one it got,
    // which is what you need after asking for port 0.
    let mut out = io::stdout();
    writeln!(out, "listening on {}", socket.local_addr()?)?;
    out.flush()?;

    let mut buf = [0u8; 1024];
    loop {
        // Python: .recvfrom(1024), one datagram and its sender. A longer
        // datagram is cut to 1024 bytes, and nobody is told.
        let (len, client) = socket.recv_from(&mut buf)?;
        // Python: threading.Thread(target=handle_client, args=...).start().
        // Builder::spawn returns the error Python raises when no thread can
        // be started; thread::spawn would panic instead.
        let data = buf[..len].to_vec(); // the thread's own copy: buf is reused
        let socket = Arc::clone(&socket);
        thread::Builder::new().spawn(move || {
            // Like an exception in a Python thread: reported, and only this
            // thread ends (its client never gets a reply).
            if let Err(e) = handle_client(&data, client, &socket) {
                eprintln!("handle_client for {client} failed: {e}");
            }
        })?;
    }
}

/// Print the message and answer it, on its own thread.
fn handle_client(data: &[u8], client: SocketAddr, socket: &UdpSocket) -> io::Result<()> {
    // Python: data.decode('utf-8'), which raises on bytes that are not
    // UTF-8; the `?` ends this thread the same way (the server goes on).
    let text = std::str::from_utf8(data).map_err(|e| bad_input(e.to_string()))?;
    writeln!(io::stdout(), "Received data from {client}: {text}")?;
    // Python: .sendto("Message received".encode('utf-8'), client_address).
    socket.send_to(b"Message received", client)?;
    Ok(())
}

fn bad_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
