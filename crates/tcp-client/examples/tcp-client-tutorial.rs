//! # tcp-client-tutorial: tutorial 3's TCP client, as the tutorial writes it
//!
//! Connect, send `Hello, Server!` in full, read once (at most 1024 bytes),
//! print it, close. No timeouts: a server that never answers keeps it
//! waiting for ever. A reply that is not UTF-8 ends it with an error, as
//! `decode('utf-8')` does.
//!
//! ```text
//! terminal 1 $ cargo run -q -p tcp-server --example tcp-server-tutorial
//! listening on 127.0.0.1:65432
//! Connection from 127.0.0.1:57580 has been established.
//! Received data: Hello, Server!
//!
//! terminal 2 $ cargo run -q -p tcp-client --example tcp-client-tutorial
//! Connected to 127.0.0.1:65432
//! Received response: Message received
//! ```
//!
//! Usage: `cargo run -q -p tcp-client --example tcp-client-tutorial [-- ADDR [MESSAGE]]`.
//!
//! ADDR defaults to `127.0.0.1:65432`. MESSAGE (not in the tutorial, for the
//! experiments in docs/tcp-client.md) replaces `Hello, Server!`.
//! The full lesson, with what this one does not survive, is `src/main.rs`.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let addr = args
        .get(1)
        .map_or("127.0.0.1:65432".into(), |a| a.to_string_lossy());
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // MESSAGE as bytes, as given: it may be any bytes, UTF-8 or not.
    let message = args
        .get(2)
        .map_or(b"Hello, Server!".to_vec(), |m| bytes_of(m));

    // Python: socket.socket(AF_INET, SOCK_STREAM), a TCP socket.
    let client_socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Python: client_socket.connect((host, port)), the handshake; no deadline.
    client_socket.connect(&addr.into())?;
    let mut client_socket = TcpStream::from(client_socket);
    println!("Connected to {addr}");

    // Python: client_socket.sendall(message.encode('utf-8')).
    client_socket.write_all(&message)?;

    let mut response = [0u8; 1024];
    // Python: response = client_socket.recv(1024), one read of what is there.
    let n = client_socket.read(&mut response)?;
    // Python: response.decode('utf-8'), which raises on bytes that are not UTF-8.
    let text = std::str::from_utf8(&response[..n])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    println!("Received response: {text}");

    // Python: client_socket.close().
    drop(client_socket);
    Ok(())
}

/// An argument's bytes as given (Unix passes bytes, any bytes).
#[cfg(unix)]
fn bytes_of(arg: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    arg.as_bytes().to_vec()
}

/// Windows passes UTF-16: send its UTF-8 (what cannot be text becomes U+FFFD).
#[cfg(not(unix))]
fn bytes_of(arg: &OsStr) -> Vec<u8> {
    arg.to_string_lossy().into_owned().into_bytes()
}
