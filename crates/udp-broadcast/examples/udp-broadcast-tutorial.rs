//! Tutorial 4's broadcast server, done its way in Rust: one socket with
//! SO_REUSEADDR and SO_BROADCAST on every interface, and a loop that prints
//! each datagram and answers its sender with "Server response".
//!
//! Run it: `cargo run -q -p udp-broadcast --example udp-broadcast-tutorial [-- PORT]`
//! (PORT defaults to 6550, the lesson's port; 0 lets the kernel pick one).
//! It prints `listening on 0.0.0.0:6550`, then a line such as
//! `Received from 127.0.0.1:38386: hello` for each datagram.
//! It answers anyone who can reach the port and dies on the first error.
//! The full lesson, which answers only this machine unless given `--lan`, is
//! `src/main.rs` (with `src/listen.rs` and `src/discover.rs`); its page is
//! docs/udp-broadcast.md.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    // The tutorial's `port=8080` parameter; here the first argument.
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("bad port {arg}: {e}"))
        })?,
        None => 6550,
    };

    // socket.socket(AF_INET, SOCK_DGRAM): an IPv4 UDP socket.
    let server = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    // setsockopt(SOL_SOCKET, SO_REUSEADDR, 1): other copies may bind this port.
    server.set_reuse_address(true)?;
    // setsockopt(SOL_SOCKET, SO_BROADCAST, 1): only sending needs it; set anyway.
    server.set_broadcast(true)?;
    // bind(('', port)): the empty host is every interface, 0.0.0.0.
    server.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    let server = UdpSocket::from(server);

    // The tutorial prints its port here; we print the address really bound,
    // so that port 0 shows the port the kernel picked.
    println!("listening on {}", server.local_addr()?);
    io::stdout().flush()?;

    let mut buf = [0u8; 1024];
    loop {
        // recvfrom(1024): one datagram (cut to 1024 bytes) and who sent it.
        let (len, client_address) = server.recv_from(&mut buf)?;
        // data.decode(): text that is not UTF-8 ends the program, as
        // Python's UnicodeDecodeError does.
        let data = std::str::from_utf8(&buf[..len]).map_err(|e| {
            let why = format!("datagram from {client_address} is not UTF-8: {e}");
            io::Error::new(io::ErrorKind::InvalidData, why)
        })?;
        // The tutorial's print: the sender's address, then the text.
        println!("Received from {client_address}: {data}");
        // sendto(reply, client_address): one fixed reply to anyone, from anywhere.
        server.send_to(b"Server response", client_address)?;
    }
}
