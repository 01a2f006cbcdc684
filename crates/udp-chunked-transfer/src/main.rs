//! # udp-chunked-transfer: a file in many datagrams
//!
//! A UDP datagram holds at most 65,507 bytes, so a file travels in chunks,
//! a datagram each. `--protocol basic` is the tutorial's format, with a
//! receiver that names the chunks that never came; `reliable` (the default)
//! adds a handshake, a sliding window, selective ACKs, retransmission timed
//! from real round trips and a CRC-32 (`--simulate-loss` makes loopback a
//! bad link to watch it recover); `tcp` is the yardstick.
//!
//! ## Run it (two terminals; the files go under `target/`, which git ignores)
//!
//! ```text
//! terminal 1 $ cargo run -q -p udp-chunked-transfer -- receive --out target/copy.bin
//! listening on 127.0.0.1:6540
//!
//! terminal 2 $ head -c 2000000 /dev/urandom > target/file.bin
//! terminal 2 $ cargo run -q -p udp-chunked-transfer -- send target/file.bin --simulate-loss 0.1
//! 10:20:39.830 INFO  127.0.0.1:6540 accepted transfer 74c6c7b3: 2000000 bytes in 1954 chunks of 1024 bytes, window 512 (asked 512), round trip 248.276µs
//! 10:20:39.898 INFO  simulator (seed 1): lost 224, duplicated 0, reordered 0 datagrams
//! sent target/file.bin: 2000000 bytes, 1954 chunks, 224 retransmissions, 0 duplicate ACKs, 29.3 MB/s, crc32 1ccc3a10
//!
//! terminal 1 now shows, and the receiver exits 0:
//! 10:20:39.830 INFO  127.0.0.1:57971 sends 2000000 bytes in 1954 chunks of 1024 bytes (transfer 74c6c7b3, window 512)
//! 10:20:39.898 INFO  received target/copy.bin: 2000000 bytes, 1954 chunks, 0 duplicate chunks received, retransmissions: see the sender, 31.1 MB/s, crc32 1ccc3a10
//! 10:20:40.314 INFO  server closed
//! ```
//! (`window 512` needs `net.core.rmem_max` ≥ 655360: see the page.)
//!
//! ## Read in this order
//!
//! 1. This file: `send`/`receive` pick the protocol; `udp_socket`,
//!    `listen_udp` and `transmit` set up the sockets both UDP ones use.
//! 2. `basic.rs`: the tutorial's protocol, and what our receiver adds.
//! 3. `link.rs` (shared), `send.rs` (`handshake`, `send_window`,
//!    `finish_transfer`), `receive.rs` (`wait_for_hello`, `receive_chunks`).
//! 4. `tcp.rs`: the same file over TCP.
//!
//! No sockets in `wire.rs`, `window.rs`, `sim.rs`, `output.rs`, `crc.rs`,
//! `report.rs`, `options.rs`. Page: `docs/udp-chunked-transfer.md`; the
//! tutorial's program: `examples/udp-chunked-transfer-tutorial.rs`.

mod basic;
mod crc;
mod link;
mod options;
mod output;
mod receive;
mod report;
mod send;
mod sim;
mod tcp;
mod window;
mod wire;

use std::error::Error;
use std::fs::File;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::ExitCode;

use common::shutdown::Wake;
use common::{sockets, StopSignal};
use log::{debug, info, warn};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::options::{Command, ReceiveOptions, SendOptions, Transfer};
use crate::sim::{Fate, Simulator};

/// The kernel buffers we ask for. Linux caps the request at
/// `net.core.rmem_max` / `wmem_max` without a word, so we read back what we
/// got. Why 8 MiB: that much holds a window of over 3,000 chunks of 1 KiB,
/// or 110 full-size datagrams, when the kernel allows it.
const SOCKET_BUFFER: usize = 8 << 20;

fn main() -> ExitCode {
    let command = options::parse();
    common::logging::init();
    common::exit_code(match &command {
        Command::Send(options) => send(options),
        Command::Receive(options) => receive(options),
    })
}

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Open the file and hand it to the sender of the chosen protocol.
fn send(options: &SendOptions) -> Result {
    let shutdown = StopSignal::install()?;
    let name = options.file.display();
    let mut file = File::open(&options.file).map_err(|e| format!("cannot open {name}: {e}"))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(format!("{name} is not a regular file").into());
    }
    let size = meta.len();
    match options.protocol {
        Transfer::Basic => basic::send_basic(options, &mut file, size, &shutdown),
        Transfer::Reliable => send::send_reliable(options, &mut file, size, &shutdown),
        Transfer::Tcp => tcp::send_tcp(options, &mut file, size, &shutdown),
    }
}

/// Run the receiver of the chosen protocol; say `server closed` however it
/// ends.
fn receive(options: &ReceiveOptions) -> Result {
    check_destination(&options.out)?;
    let shutdown = StopSignal::install()?;
    let result = match options.protocol {
        Transfer::Basic => basic::receive_basic(options, &shutdown),
        Transfer::Reliable => receive::receive_reliable(options, &shutdown),
        Transfer::Tcp => tcp::receive_tcp(options, &shutdown),
    };
    // Ctrl+C is a graceful stop, like every server's, even in the middle of
    // a transfer: the sender has been told, the partial file is gone, and
    // the exit code is 0. The log says what was lost.
    let result = match result {
        Err(e) if shutdown.requested() => {
            warn!("{e}");
            Ok(())
        }
        other => other,
    };
    info!("server closed");
    result
}

/// Refuse at once, before listening, an `--out` that could never be
/// written, rather than fail when the first sender arrives.
fn check_destination(out: &Path) -> Result {
    if out.file_name().is_none() || out.is_dir() {
        return Err(format!("--out {} must name a file, not a directory", out.display()).into());
    }
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: there is no directory {}",
            out.display(),
            dir.display()
        )
        .into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Shared by both UDP protocols
// ---------------------------------------------------------------------------

/// socket(): a UDP socket of the family of `addr`, with big kernel buffers.
pub fn udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // SO_RCVBUF and SO_SNDBUF. A datagram that arrives while the receive
    // buffer is full is dropped by the kernel, silently: the bigger the
    // buffer, the longer a receiver may fall behind before that happens.
    // Failure here only means a smaller buffer, so it is not fatal.
    if let Err(e) = socket.set_recv_buffer_size(SOCKET_BUFFER) {
        debug!("SO_RCVBUF: {e}");
    }
    if let Err(e) = socket.set_send_buffer_size(SOCKET_BUFFER) {
        debug!("SO_SNDBUF: {e}");
    }
    Ok(socket)
}

/// socket(), bind(), a read timeout, the `listening on` line and the
/// Ctrl+C wake-up: how every UDP receiver starts.
pub fn listen_udp(options: &ReceiveOptions, shutdown: &StopSignal) -> Result<UdpSocket> {
    let addr = options.addr;
    let socket = udp_socket(addr)?;
    // IPV6_V6ONLY off: `--host ::` takes IPv4 senders too, on every OS.
    if addr.is_ipv6() {
        socket.set_only_v6(options.ipv6_only)?;
    }
    // bind(): take the port, so the sender knows where to send.
    socket
        .bind(&addr.into())
        .map_err(|e| sockets::bind_error(addr, e))?;
    let socket = UdpSocket::from(socket);
    // recv_from() wakes up every POLL_INTERVAL to check the sender's silence.
    socket.set_read_timeout(Some(sockets::POLL_INTERVAL))?;
    let local = socket.local_addr()?;
    common::outln!("listening on {local}")?;
    // And at once on Ctrl+C: the handler sends us an empty datagram.
    shutdown.wake_on_request(Wake::Datagram(local));
    debug!(
        "receive buffer: {} bytes",
        SockRef::from(&socket).recv_buffer_size()?
    );
    Ok(socket)
}

/// send_to(), through the lossy-link simulator: the datagram may be lost,
/// sent twice, or held back until after the next one.
pub fn transmit(
    socket: &UdpSocket,
    datagram: &[u8],
    to: SocketAddr,
    sim: &mut Simulator,
) -> io::Result<Fate> {
    let fate = sim.fate();
    match fate {
        Fate::Send => {
            socket.send_to(datagram, to)?;
        }
        Fate::SendTwice => {
            socket.send_to(datagram, to)?;
            socket.send_to(datagram, to)?;
        }
        Fate::Lose => {}
        Fate::HoldBack => {
            sim.hold(datagram, to);
            return Ok(fate);
        }
    }
    release_held(socket, sim)?;
    Ok(fate)
}

/// Send the datagram the simulator held back, if any.
pub fn release_held(socket: &UdpSocket, sim: &mut Simulator) -> io::Result<()> {
    if let Some((datagram, to)) = sim.held() {
        socket.send_to(datagram, to)?;
    }
    sim.release();
    Ok(())
}

/// How many chunks `size` bytes make: `size / chunk`, rounded up. Chunk
/// indices are 4 bytes on the wire, so there can be at most 2^32 - 1.
pub fn chunk_count(size: u64, chunk: usize) -> Result<u32> {
    let chunk = chunk as u64;
    let count = size / chunk + u64::from(size % chunk != 0);
    u32::try_from(count).map_err(|_| {
        format!(
            "{size} bytes in {chunk}-byte chunks is {count} chunks, more than a 4-byte index \
             can number: use a bigger --chunk-size"
        )
        .into()
    })
}

/// `2000000 bytes in 1954 chunks of 1024 bytes`, with "1 byte" and "1
/// chunk" where there is one.
pub fn in_chunks(size: u64, count: u32, chunk: usize) -> String {
    format!(
        "{} in {} of {}",
        common::count(size, "byte", "bytes"),
        common::count(u64::from(count), "chunk", "chunks"),
        common::count(chunk as u64, "byte", "bytes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_arithmetic() {
        assert_eq!(chunk_count(0, 1024).unwrap(), 0);
        assert_eq!(chunk_count(1, 1024).unwrap(), 1);
        assert_eq!(chunk_count(1024, 1024).unwrap(), 1);
        assert_eq!(chunk_count(1025, 1024).unwrap(), 2);
        assert_eq!(chunk_count(u64::from(u32::MAX), 1).unwrap(), u32::MAX);
        assert!(chunk_count(u64::from(u32::MAX) + 1, 1).is_err());
    }
}
