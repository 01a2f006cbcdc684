//! `--protocol tcp`: the same file over one TCP connection, the yardstick.
//! The kernel's TCP does what the reliable protocol does by hand:
//! acknowledgements, retransmission, flow control, and congestion control
//! besides.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::shutdown::Wake;
use common::{escape, sockets, StopSignal};
use log::{info, warn};
use socket2::{Domain, Protocol, Socket, Type};

use crate::crc::Crc32;
use crate::options::{ReceiveOptions, SendOptions};
use crate::output::PartFile;
use crate::report::{Progress, Summary};
use crate::wire::{self, ErrorCode};
use crate::Result;
/// What the summary says instead of retransmissions: TCP's are invisible
/// to the program.
const KERNEL_COUNTS: &str = "retransmissions: the kernel's, not counted";
/// TCP: how long to wait for the connection and for a reply. Why 10 s:
/// far beyond any loopback or LAN delay, short enough not to hang a script.
const TCP_PATIENCE: Duration = Duration::from_secs(10);
/// TCP: bytes per read and write. Why 256 KiB: few system calls per
/// megabyte, and a small, fixed amount of memory.
const TCP_BLOCK: usize = 256 << 10;

//
// sender -> receiver: [size: u64] ... then the file ... then [crc32: u32]
// receiver -> sender: [0] to go ahead, then [0][crc32: u32] once saved;
//                     or an error code byte and a message instead.

/// read_exact() on a socket with a read timeout: waits through the timeouts
/// (to notice Ctrl+C) until `patience` has passed with no byte at all.
fn read_full(
    stream: &mut TcpStream,
    mut buf: &mut [u8],
    patience: Duration,
    shutdown: &StopSignal,
) -> io::Result<()> {
    let mut last = Instant::now();
    while !buf.is_empty() {
        if shutdown.requested() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        if last.elapsed() >= patience {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no data for {} ms", patience.as_millis()),
            ));
        }
        // recv()
        match stream.read(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the other side closed the connection",
                ))
            }
            Ok(n) => {
                buf = &mut buf[n..];
                last = Instant::now();
            }
            Err(e) if sockets::is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// write_all() on a socket with a write timeout, in the same patient way.
fn write_full(
    stream: &mut TcpStream,
    mut buf: &[u8],
    patience: Duration,
    shutdown: &StopSignal,
) -> io::Result<()> {
    let mut last = Instant::now();
    while !buf.is_empty() {
        if shutdown.requested() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        if last.elapsed() >= patience {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("could not send for {} ms", patience.as_millis()),
            ));
        }
        // send(): it may take only part of the buffer.
        match stream.write(buf) {
            Ok(n) => {
                buf = &buf[n..];
                last = Instant::now();
            }
            Err(e) if sockets::is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The receiver's verdict after a status byte: `Ok(())` for 0, else the
/// error message that follows the code.
fn read_verdict(stream: &mut TcpStream, shutdown: &StopSignal) -> Result {
    let mut status = [0u8; 1];
    read_full(stream, &mut status, TCP_PATIENCE, shutdown)?;
    if status[0] == 0 {
        return Ok(());
    }
    let mut message = Vec::new();
    let _ = stream
        .take(wire::MAX_MESSAGE as u64)
        .read_to_end(&mut message);
    Err(format!("the receiver refused: {}", escape::one_line(&message)).into())
}

/// The TCP sender: connect, size, file, CRC-32, wait for the verdict.
pub fn send_tcp(
    options: &SendOptions,
    file: &mut File,
    size: u64,
    shutdown: &StopSignal,
) -> Result {
    let to = options.receiver;
    // socket() and connect(): TCP's handshake happens here, in the kernel.
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.connect_timeout(&to.into(), TCP_PATIENCE).map_err(|e| {
        format!("cannot connect to {to}: {e}: is `udp-chunked-transfer receive --protocol tcp` running there?")
    })?;
    let mut stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(sockets::POLL_INTERVAL))?;
    stream.set_write_timeout(Some(sockets::POLL_INTERVAL))?;
    let start = Instant::now();

    write_full(&mut stream, &size.to_be_bytes(), TCP_PATIENCE, shutdown)?;
    read_verdict(&mut stream, shutdown)?;

    let mut crc = Crc32::new();
    let mut progress = Progress::new(size);
    let mut block = vec![0u8; TCP_BLOCK];
    let (mut sent, mut blocks) = (0u64, 0u64);
    while sent < size {
        let want = (size - sent).min(TCP_BLOCK as u64) as usize;
        file.read_exact(&mut block[..want])
            .map_err(|e| format!("reading {}: {e}", options.file.display()))?;
        crc.update(&block[..want]);
        write_full(&mut stream, &block[..want], TCP_PATIENCE, shutdown)?;
        sent += want as u64;
        blocks += 1;
        progress.update(sent);
    }
    write_full(
        &mut stream,
        &crc.value().to_be_bytes(),
        TCP_PATIENCE,
        shutdown,
    )?;
    read_verdict(&mut stream, shutdown)?;
    let mut theirs = [0u8; 4];
    read_full(&mut stream, &mut theirs, TCP_PATIENCE, shutdown)?;
    progress.finish();
    if u32::from_be_bytes(theirs) != crc.value() {
        return Err("the receiver's CRC-32 differs from ours".into());
    }
    // close()
    drop(stream);
    common::outln!(
        "{}",
        Summary {
            verb: "sent",
            file: options.file.display().to_string(),
            bytes: size,
            pieces: common::count(blocks, "block", "blocks"),
            counts: vec![KERNEL_COUNTS.into()],
            elapsed: start.elapsed(),
            crc: crc.value(),
        }
    )?;
    Ok(())
}

/// The TCP receiver: listen, accept one connection, copy it into the file.
pub fn receive_tcp(options: &ReceiveOptions, shutdown: &StopSignal) -> Result {
    let addr = options.addr;
    // socket(), bind(), listen()
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // IPV6_V6ONLY off: `--host ::` takes IPv4 senders too, on every OS.
    if addr.is_ipv6() {
        socket.set_only_v6(options.ipv6_only)?;
    }
    // Lets a new receiver take the port while old connections wind down.
    // Not on Windows, where it would let two receivers share the port.
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| sockets::tcp_bind_error(addr, e))?;
    socket.listen(1)?;
    let listener = TcpListener::from(socket);
    let local = listener.local_addr()?;
    common::outln!("listening on {local}")?;
    // accept() waits for ever; on Ctrl+C the handler connects to wake it.
    shutdown.wake_on_request(Wake::Connect(local));

    loop {
        // accept()
        let accepted = listener.accept();
        if shutdown.requested() {
            // close(): nothing in progress (this is the handler's connection).
            drop(listener);
            return Ok(());
        }
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(e) => {
                warn!("accept failed: {e}");
                continue;
            }
        };
        if let Some(summary) = receive_tcp_file(stream, peer, options, shutdown)? {
            // close() the listening socket: this receiver takes one file.
            drop(listener);
            info!("{summary}");
            return Ok(());
        }
    }
}

/// One connection: `Ok(None)` if the file was refused (we keep listening).
fn receive_tcp_file(
    mut stream: TcpStream,
    peer: SocketAddr,
    options: &ReceiveOptions,
    shutdown: &StopSignal,
) -> Result<Option<Summary>> {
    stream.set_read_timeout(Some(sockets::POLL_INTERVAL))?;
    stream.set_write_timeout(Some(sockets::POLL_INTERVAL))?;
    let patience = options.timeout;
    let mut head = [0u8; 8];
    if let Err(e) = read_full(&mut stream, &mut head, patience, shutdown) {
        warn!("{peer}: no size header: {e}");
        return Ok(None);
    }
    let size = u64::from_be_bytes(head);
    if size > options.max_size {
        let why = format!(
            "the file is {size} bytes, over this receiver's --max-size of {} bytes",
            options.max_size
        );
        warn!("{peer}: refused: {why}");
        let mut reply = vec![ErrorCode::TooLarge.to_byte()];
        reply.extend_from_slice(why.as_bytes());
        let _ = write_full(&mut stream, &reply, patience, shutdown);
        return Ok(None);
    }
    info!(
        "{peer} sends {} over TCP",
        common::count(size, "byte", "bytes")
    );
    let started = Instant::now();
    let out = options.out.display();
    let fail = |e: io::Error| format!("{e}; {out} was not written");
    let mut part = PartFile::create(&options.out)?;
    write_full(&mut stream, &[0], patience, shutdown).map_err(fail)?;

    let mut progress = Progress::new(size);
    let mut crc = Crc32::new();
    let mut block = vec![0u8; TCP_BLOCK];
    let (mut got, mut reads) = (0u64, 0u64);
    let mut last = Instant::now();
    while got < size {
        if shutdown.requested() {
            return Err(format!("interrupted (Ctrl+C): {out} was not written").into());
        }
        if last.elapsed() >= patience {
            return Err(format!(
                "nothing from {peer} for {} ms: {out} was not written",
                patience.as_millis()
            )
            .into());
        }
        let want = (size - got).min(TCP_BLOCK as u64) as usize;
        // recv(): whatever has arrived, up to `want` bytes.
        match stream.read(&mut block[..want]) {
            Ok(0) => {
                return Err(format!(
                "{peer} closed the connection after {got} of {size} bytes: {out} was not written"
            )
                .into())
            }
            Ok(n) => {
                part.write_at(got, &block[..n])?;
                crc.update(&block[..n]);
                got += n as u64;
                reads += 1;
                last = Instant::now();
                progress.update(got);
            }
            Err(e) if sockets::is_timeout(&e) => {}
            Err(e) => return Err(fail(e).into()),
        }
    }
    progress.finish();
    let mut trailer = [0u8; 4];
    read_full(&mut stream, &mut trailer, patience, shutdown).map_err(fail)?;
    let crc = crc.value();
    if u32::from_be_bytes(trailer) != crc {
        let mut reply = vec![ErrorCode::ChecksumMismatch.to_byte()];
        reply.extend_from_slice(b"CRC-32 mismatch");
        let _ = write_full(&mut stream, &reply, patience, shutdown);
        return Err(format!("the CRC-32 differs from the sender's: {out} was not written").into());
    }
    let elapsed = started.elapsed();
    part.commit(size)?;
    let mut reply = vec![0u8];
    reply.extend_from_slice(&crc.to_be_bytes());
    write_full(&mut stream, &reply, patience, shutdown)?;
    // close()
    drop(stream);
    Ok(Some(Summary {
        verb: "received",
        file: out.to_string(),
        bytes: size,
        pieces: common::count(reads, "read", "reads"),
        counts: vec![KERNEL_COUNTS.into()],
        elapsed,
        crc,
    }))
}
