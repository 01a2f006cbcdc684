//! # tcp-threaded-server-tutorial: tutorial 3's threaded TCP server, as written
//!
//! Accept a client, start a thread for it, go back to accept. Each thread
//! reads (at most 1024 bytes at a time) and answers `Message received` to
//! every read, until the client hangs up. No cap on threads, no timeouts, no
//! framing, no Ctrl+C handling. Bytes that are not UTF-8 end that client's
//! thread with an error, as `decode('utf-8')` does; the server goes on.
//!
//! ```text
//! terminal 1 $ cargo run -q -p tcp-threaded-server --example tcp-threaded-server-tutorial
//! listening on 127.0.0.1:65432
//! Connection from 127.0.0.1:43836 has been established.
//! Received data from 127.0.0.1:43836: Hello, Server!
//! Connection from 127.0.0.1:43836 has been closed.
//!
//! terminal 2 $ cargo run -q -p tcp-client --example tcp-client-tutorial
//! Connected to 127.0.0.1:65432
//! Received response: Message received
//! ```
//!
//! Both take an address after `--` (`[-- ADDR]`).
//!
//! ADDR defaults to `127.0.0.1:65432`; `127.0.0.1:0` picks a free port.
//! The full lesson, with what this one does not survive, is `src/main.rs`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

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
        let (client_socket, client_address) = server_socket.accept()?;
        // Python: threading.Thread(target=handle_client, ...).start().
        std::thread::spawn(move || {
            // An exception ends only this thread; Python prints a traceback.
            if let Err(e) = handle_client(client_socket, client_address) {
                eprintln!("Error in the thread for {client_address}: {e}");
            }
        });
    }
}

fn handle_client(mut client_socket: TcpStream, client_address: SocketAddr) -> io::Result<()> {
    println!("Connection from {client_address} has been established.");
    loop {
        let mut data = [0u8; 1024];
        // Python: data = client_socket.recv(1024), one read of what is there.
        let n = client_socket.read(&mut data)?;
        // Python: if not data: break. Zero bytes: the client hung up.
        if n == 0 {
            break;
        }
        // Python: data.decode('utf-8'), which raises on bytes that are not UTF-8.
        let text = std::str::from_utf8(&data[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        println!("Received data from {client_address}: {text}");

        // Python: client_socket.sendall(response.encode('utf-8')).
        client_socket.write_all("Message received".as_bytes())?;
    }
    println!("Connection from {client_address} has been closed.");
    // Python: client_socket.close().
    drop(client_socket);
    Ok(())
}
