//! Tutorial 4's "Handling Large Datagrams", as the tutorial writes it:
//! `send_large_data` and `receive_large_data` in Rust. A count datagram (4
//! bytes, big-endian), then one datagram per 1024-byte chunk, its 4-byte
//! big-endian index in front. No acknowledgement, no timeout: lose one chunk
//! and the receiver waits for ever.
//!
//! ```text
//! terminal 1 $ cargo run -q -p udp-chunked-transfer --example udp-chunked-transfer-tutorial -- receive 127.0.0.1:6540 target/copy.bin
//! listening on 127.0.0.1:6540
//! received 50000 bytes from 127.0.0.1:51231
//!
//! terminal 2 $ head -c 50000 /dev/urandom > target/small.bin
//! terminal 2 $ cargo run -q -p udp-chunked-transfer --example udp-chunked-transfer-tutorial -- send target/small.bin 127.0.0.1:6540
//! sent 50000 bytes to 127.0.0.1:6540
//! ```
//!
//! (Git ignores `target/`.) The receiver exits after one file.
//!
//! The full lesson, hardened and then made reliable, is `src/main.rs`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Error, ErrorKind, Write};
use std::net::{SocketAddr, UdpSocket};
use std::{env, fs};

use socket2::{Domain, Socket, Type};

const CHUNK_SIZE: usize = 1024;

/// `int.from_bytes(data, 'big')`: any number of bytes, most significant first.
fn from_bytes(data: &[u8]) -> u64 {
    data.iter().fold(0, |n, &byte| n << 8 | u64::from(byte))
}

/// An error that ends the program the way a Python exception would.
fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

/// `num.to_bytes(4, 'big')`, which refuses a number that does not fit.
fn to_bytes(n: usize) -> io::Result<[u8; 4]> {
    let n = u32::try_from(n).map_err(|_| invalid(format!("{n} does not fit in 4 bytes")))?;
    Ok(n.to_be_bytes())
}

fn send_large_data(sock: &UdpSocket, data: &[u8], address: SocketAddr) -> io::Result<()> {
    let num_chunks = (data.len() + CHUNK_SIZE - 1) / CHUNK_SIZE;
    // Python's first sendto: the count, as 4 big-endian bytes, comes first.
    sock.send_to(&to_bytes(num_chunks)?, address)?;
    for i in 0..num_chunks {
        let start = i * CHUNK_SIZE;
        let chunk = &data[start..data.len().min(start + CHUNK_SIZE)];
        let mut datagram = to_bytes(i)?.to_vec();
        datagram.extend_from_slice(chunk);
        // Python's sendto of header + chunk: one datagram, index in front.
        sock.send_to(&datagram, address)?;
    }
    Ok(())
}

fn receive_large_data(sock: &UdpSocket) -> io::Result<(Vec<u8>, SocketAddr)> {
    let mut data = [0u8; 4];
    // data, address = sock.recvfrom(4): a longer datagram is cut to 4 bytes.
    let (n, address) = sock.recv_from(&mut data)?;
    let num_chunks = from_bytes(&data[..n]);
    let mut chunks: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut data = [0u8; CHUNK_SIZE + 4];
    while (chunks.len() as u64) < num_chunks {
        // Python's recvfrom(1024 + 4) per chunk: it waits as long as it takes.
        let (n, addr) = sock.recv_from(&mut data)?;
        if addr != address {
            continue; // another sender's datagram
        }
        let header = n.min(4);
        chunks.insert(from_bytes(&data[..header]), data[header..n].to_vec());
    }
    let mut result = Vec::new();
    for i in 0..num_chunks {
        // b''.join(chunks[i] ...): a missing index is Python's KeyError.
        let chunk = chunks
            .get(&i)
            .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("KeyError: chunk {i}")))?;
        result.extend_from_slice(chunk);
    }
    Ok((result, address))
}

fn main() -> io::Result<()> {
    // sys.argv, taken as bytes: a file name need not be UTF-8.
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    let addr = |arg: &OsString| -> io::Result<SocketAddr> {
        let text = arg.to_string_lossy();
        text.parse().map_err(|e| invalid(format!("{text}: {e}")))
    };
    let mut stdout = io::stdout();
    match (args.first().and_then(|a| a.to_str()), &args[..]) {
        (Some("send"), [_, file, to]) => {
            let (data, address) = (fs::read(file)?, addr(to)?);
            // socket.socket(AF_INET, SOCK_DGRAM): no bind(); the first sendto picks a port.
            let sock: UdpSocket =
                Socket::new(Domain::for_address(address), Type::DGRAM, None)?.into();
            send_large_data(&sock, &data, address)?;
            writeln!(stdout, "sent {} bytes to {address}", data.len())?;
        }
        (Some("receive"), [_, on, out]) => {
            // socket.socket(AF_INET, SOCK_DGRAM), then sock.bind((host, port)).
            let sock = UdpSocket::bind(addr(on)?)?;
            writeln!(stdout, "listening on {}", sock.local_addr()?)?;
            stdout.flush()?;
            let (result, address) = receive_large_data(&sock)?;
            fs::write(out, &result)?;
            writeln!(stdout, "received {} bytes from {address}", result.len())?;
        }
        _ => return Err(invalid("usage: send FILE ADDR | receive ADDR OUT".into())),
    }
    // sock.close(): the socket is closed when `sock` goes out of scope.
    Ok(())
}
