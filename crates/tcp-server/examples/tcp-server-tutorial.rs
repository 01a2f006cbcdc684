//! # tcp-server-tutorial: tutorial 3's TCP server, as the tutorial writes it
//!
//! One client at a time: accept it, read once (at most 1024 bytes), print
//! what came, answer `Message received`, close, accept the next one.
//! Nothing more: no timeouts, no Ctrl+C handling, no framing. Bytes that are
//! not UTF-8 end the program with an error, as `decode('utf-8')` does.
//!
//! ```text
//! terminal 1 $ cargo run -q -p tcp-server --example tcp-server-tutorial [-- ADDR]
//! terminal 2 $ cargo run -q -p tcp-client --example tcp-client-tutorial [-- ADDR]
//! ```
//!
//! ADDR defaults to `127.0.0.1:65432`; `127.0.0.1:0` picks a free port.
//! The full lesson, with what this one does not survive, is `src/main.rs`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    let arg = std::env::args_os().nth(1);
    let arg = arg.unwrap_or_else(|| "127.0.0.1:65432".into());
    let addr: SocketAddr = arg
        .to_string_lossy()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;

    // Python: socket.socket(AF_INET, SOCK_STREAM), a TCP socket.
    let server_socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Python: server_socket.bind((host, port)).
    server_socket.bind(&addr.into())?;
    // Python: server_socket.listen(5), a queue of 5 unaccepted connections.
    server_socket.listen(5)?;
    let server_socket = TcpListener::from(server_socket);
    // Python printed the address it was given; this prints the real one.
    println!("listening on {}", server_socket.local_addr()?);
    io::stdout().flush()?;

    loop {
        // Python: client_socket, client_address = server_socket.accept().
        let (mut client_socket, client_address) = server_socket.accept()?;
        println!("Connection from {client_address} has been established.");

        let mut data = [0u8; 1024];
        // Python: data = client_socket.recv(1024), one read of what is there.
        let n = client_socket.read(&mut data)?;
        // Python: data.decode('utf-8'), which raises on bytes that are not UTF-8.
        let text = std::str::from_utf8(&data[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        println!("Received data: {text}");

        // Python: client_socket.sendall(response.encode('utf-8')).
        client_socket.write_all("Message received".as_bytes())?;
        // Python: client_socket.close().
        drop(client_socket);
    }
}
