//! # udp-server-tutorial: tutorial 1's UDP server, the version without threads
//!
//! The Python program in Rust, call for call, weak spots included: no limit
//! check, no shutdown, and any error (even one bad datagram) ends it.
//!
//! ```text
//! cargo run -q -p udp-server --example udp-server-tutorial                # 127.0.0.1:6532
//! cargo run -q -p udp-server --example udp-server-tutorial -- '[::1]:0'  # IPv6, any free port
//! ```
//!
//! The full lesson, which survives everything this one does not, is
//! `src/main.rs`; docs/udp-server.md breaks this one and shows the fixes.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};

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
    let socket = UdpSocket::from(socket);
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
        // The tutorial does this inline; a function keeps the threaded twin's
        // diff small (there it runs on a thread of its own).
        handle_client(&buf[..len], client, &socket)?;
    }
}

/// Print the message and answer it. An error here ends the server.
fn handle_client(data: &[u8], client: SocketAddr, socket: &UdpSocket) -> io::Result<()> {
    // Python: data.decode('utf-8'), which raises on bytes that are not
    // UTF-8; the `?` ends the program the same way.
    let text = std::str::from_utf8(data).map_err(|e| bad_input(e.to_string()))?;
    writeln!(io::stdout(), "Received data from {client}: {text}")?;
    // Python: .sendto("Message received".encode('utf-8'), client_address).
    socket.send_to(b"Message received", client)?;
    Ok(())
}

fn bad_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
