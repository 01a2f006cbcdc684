//! # udp-chunked-transfer: a file in many datagrams
//!
//! One UDP datagram carries at most 65,507 bytes, so a file must be cut into
//! chunks, each sent on its own, and glued back together at the other end.
//! This lesson does that three ways:
//!
//! - `--protocol basic`, the tutorial's way: a datagram with the number of
//!   chunks, then one datagram per chunk, `[index][data]`, as fast as the
//!   loop can go. Nothing is acknowledged. If one datagram is lost the file
//!   is incomplete, and even on loopback a fast sender overruns the
//!   receiver's buffer and datagrams *are* lost. Our receiver gives up after
//!   `--timeout-ms` of silence and names the chunks that never came.
//! - `--protocol reliable` (the default): a handshake, a sliding window,
//!   acknowledgements that say what arrived, retransmission on a timeout
//!   measured from real round trips, and an end-to-end CRC-32. It survives
//!   loss, reordering and duplication; `--simulate-loss` and friends let you
//!   watch it do so.
//! - `--protocol tcp`: a plain TCP copy of the same file, the yardstick.
//!   The kernel's TCP does everything the reliable protocol does, for you.
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -p udp-chunked-transfer -- receive --out copy.bin
//! listening on 127.0.0.1:6540
//! 10:21:31.509 INFO  127.0.0.1:41980 sends 2000000 bytes in 1954 chunks of 1024 bytes (transfer 0e90862d, window 512)
//! 10:21:31.574 INFO  received copy.bin: 2000000 bytes, 1954 chunks, 0 retransmissions, 0 duplicates seen, 32.0 MB/s, crc32 7ddd463d
//! 10:21:31.999 INFO  server closed
//!
//! terminal 2 $ head -c 2000000 /dev/urandom > file.bin
//! terminal 2 $ cargo run -p udp-chunked-transfer -- send file.bin --simulate-loss 0.1
//! 10:21:31.509 INFO  127.0.0.1:6540 accepted transfer 0e90862d: 2000000 bytes in 1954 chunks of 1024 bytes, window 512 (asked 512), round trip 227.586µs
//! 10:21:31.573 INFO  simulator (seed 1): lost 224, duplicated 0, reordered 0 datagrams
//! sent file.bin: 2000000 bytes, 1954 chunks, 224 retransmissions, 0 duplicates seen, 31.0 MB/s, crc32 7ddd463d
//! ```
//!
//! `window 512 (asked 512)` depends on the machine: these runs had
//! `net.core.rmem_max` raised to 4 MiB (it must be at least 655360 for 512
//! chunks of 1024 bytes). A stock kernel's 212992 gives the receiver an
//! SO_RCVBUF of 425984, and `window_capacity` cuts the window to 166:
//! `window 166 (asked 512)`.
//!
//! The simulator dropped 224 chunks and the sender sent exactly 224 again.
//! `RUST_LOG=debug` on the sender shows each one and why. The receiver takes
//! one file and exits. Ctrl+C stops it with exit code 0, also in the middle
//! of a transfer: then it tells the sender, deletes the partial file, and
//! writes nothing.
//!
//! ## Read in this order
//!
//! 1. `send_basic` and `receive_basic`: the tutorial's protocol, and what
//!    our receiver adds (silence timeout, missing chunks named, no partial
//!    file).
//! 2. `send_reliable`: `handshake` (HELLO until ACCEPT), `send_window` (the
//!    loop: resend what is lost, fill the window, take in ACKs with
//!    `take_ack`, wait when the window is full), `finish_transfer` (FIN until
//!    DONE). `Link` holds what the steps share.
//! 3. `receive_reliable`: `wait_for_hello`, `receive_chunks` (every chunk
//!    written at its offset; the ACK policy), `linger`.
//! 4. `send_tcp` and `receive_tcp`: the same file over TCP.
//!
//! The wire format is in `wire.rs`, the window bookkeeping and the RTT
//! estimator in `window.rs`, the simulator in `sim.rs`, the temporary file
//! in `output.rs`, the CRC in `crc.rs`, the progress bar in `report.rs`.

mod crc;
mod output;
mod report;
mod sim;
mod window;
mod wire;

use std::error::Error;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::net;
use common::options::chunked::{
    self, Command, Protocol as Transfer, ReceiveOptions, SendOptions, BASIC_HEADER,
    MAX_RELIABLE_CHUNK, MAX_WINDOW, RELIABLE_HEADER,
};
use common::Shutdown;
use log::{debug, info, warn};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::crc::Crc32;
use crate::output::PartFile;
use crate::report::{Progress, Summary};
use crate::sim::{Fate, Simulator};
use crate::window::{chunk_len, Arrival, Received, RecvWindow, Rtt, SendWindow};
use crate::wire::{Basic, ErrorCode, Hello, Packet};

/// The kernel buffers we ask for. Linux caps the request at
/// `net.core.rmem_max` / `wmem_max` without a word, so we read back what we
/// got. Why 8 MiB: that much holds a window of over 3,000 chunks of 1 KiB,
/// or 110 full-size datagrams, when the kernel allows it.
const SOCKET_BUFFER: usize = 8 << 20;
/// The receiver acknowledges at the latest this long after a chunk arrived.
/// Why 2 ms: a tenth of the default shortest retransmission timeout
/// (`--min-rto-ms 20`), so a held-back ACK does not make the sender resend,
/// yet the ACKs of a burst still go out as one.
const ACK_DELAY: Duration = Duration::from_millis(2);
/// After DONE the receiver stays this long (after the last FIN) to answer a
/// FIN again, in case its DONE was lost. Why 400 ms: twice the sender's
/// initial retransmission timeout (200 ms) and many times its usual one, so
/// a FIN resent after a lost DONE still finds us.
const LINGER: Duration = Duration::from_millis(400);
/// The reliable sender looks for ACKs after this many new chunks. Why 32:
/// often enough that a loss is seen and repaired long before a 512-chunk
/// window drains, rarely enough that the empty recv_from costs little.
const ACK_CHECK_EVERY: usize = 32;
/// How many missing chunk indices an error message lists. Why 20: enough
/// to see a pattern (a run, or scattered), short enough for one message.
const SHOWN_MISSING: usize = 20;
/// TCP: how long to wait for the connection and for a reply. Why 10 s:
/// far beyond any loopback or LAN delay, short enough not to hang a script.
const TCP_PATIENCE: Duration = Duration::from_secs(10);
/// TCP: bytes per read and write. Why 256 KiB: few system calls per
/// megabyte, and a small, fixed amount of memory.
const TCP_BLOCK: usize = 256 << 10;

fn main() -> ExitCode {
    let command = chunked::parse();
    common::logging::init();
    common::finish(match &command {
        Command::Send(options) => send(options),
        Command::Receive(options) => receive(options),
    })
}

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Open the file and hand it to the sender of the chosen protocol.
fn send(options: &SendOptions) -> Result {
    let shutdown = Shutdown::install()?;
    let name = options.file.display();
    let mut file = File::open(&options.file).map_err(|e| format!("cannot open {name}: {e}"))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(format!("{name} is not a regular file").into());
    }
    let size = meta.len();
    match options.protocol {
        Transfer::Basic => send_basic(options, &mut file, size, &shutdown),
        Transfer::Reliable => send_reliable(options, &mut file, size, &shutdown),
        Transfer::Tcp => send_tcp(options, &mut file, size, &shutdown),
    }
}

/// Run the receiver of the chosen protocol; say `server closed` however it
/// ends.
fn receive(options: &ReceiveOptions) -> Result {
    check_destination(&options.out)?;
    let shutdown = Shutdown::install()?;
    let result = match options.protocol {
        Transfer::Basic => receive_basic(options, &shutdown),
        Transfer::Reliable => receive_reliable(options, &shutdown),
        Transfer::Tcp => receive_tcp(options, &shutdown),
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
fn udp_socket(addr: SocketAddr) -> io::Result<Socket> {
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

/// socket(), bind(), a read timeout, and the `listening on` line: how every
/// UDP receiver starts.
fn listen_udp(addr: SocketAddr) -> Result<UdpSocket> {
    let socket = udp_socket(addr)?;
    // bind(): take the port, so the sender knows where to send.
    socket
        .bind(&addr.into())
        .map_err(|e| net::bind_error(addr, e))?;
    let socket = UdpSocket::from(socket);
    // recv_from() wakes up every POLL_INTERVAL to notice Ctrl+C.
    socket.set_read_timeout(Some(net::POLL_INTERVAL))?;
    common::outln!("listening on {}", socket.local_addr()?)?;
    debug!(
        "receive buffer: {} bytes",
        SockRef::from(&socket).recv_buffer_size()?
    );
    Ok(socket)
}

/// send_to(), through the lossy-link simulator: the datagram may be lost,
/// sent twice, or held back until after the next one.
fn transmit(
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
fn release_held(socket: &UdpSocket, sim: &mut Simulator) -> io::Result<()> {
    if let Some((datagram, to)) = sim.held() {
        socket.send_to(datagram, to)?;
    }
    sim.release();
    Ok(())
}

/// How many chunks `size` bytes make: `size / chunk`, rounded up. Chunk
/// indices are 4 bytes on the wire, so there can be at most 2^32 - 1.
fn chunk_count(size: u64, chunk: usize) -> Result<u32> {
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

/// A message from the network (at most 200 bytes), made safe to print:
/// control characters are escaped, so the peer cannot drive our terminal.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// --protocol basic: the tutorial's send_large_data / receive_large_data
// ---------------------------------------------------------------------------

/// The tutorial's sender: the count, then every chunk, as fast as possible,
/// and never a look back.
fn send_basic(options: &SendOptions, file: &mut File, size: u64, shutdown: &Shutdown) -> Result {
    let chunk = options.chunk_size;
    let count = chunk_count(size, chunk)?;
    let to = options.receiver;
    // socket(). No bind(): the kernel picks a free port at the first send_to.
    let socket = UdpSocket::from(udp_socket(to)?);
    let mut sim = Simulator::new(options.simulation);
    let mut progress = Progress::new(size);
    let mut crc = Crc32::new();
    let start = Instant::now();
    info!("sending {size} bytes to {to} in {count} chunks of {chunk} bytes, nothing acknowledged");

    // The first datagram: how many chunks follow, 4 bytes big-endian.
    transmit(&socket, &wire::basic_count(count), to, &mut sim)?;

    // Then each chunk: its 4-byte index, then its data.
    let mut datagram = vec![0u8; BASIC_HEADER + chunk];
    let mut sent = 0u64;
    for index in 0..count {
        if shutdown.requested() {
            return Err("interrupted; the receiver will give up after its --timeout-ms".into());
        }
        let len = chunk_len(size, chunk, index);
        datagram[..BASIC_HEADER].copy_from_slice(&index.to_be_bytes());
        let data = &mut datagram[BASIC_HEADER..BASIC_HEADER + len];
        file.read_exact(data)
            .map_err(|e| format!("reading {}: {e}", options.file.display()))?;
        crc.update(data);
        if transmit(&socket, &datagram[..BASIC_HEADER + len], to, &mut sim)? == Fate::Lose {
            debug!("simulator lost chunk {index}");
        }
        sent += len as u64;
        progress.update(sent);
    }
    release_held(&socket, &mut sim)?;
    progress.finish();

    // close()
    drop(socket);
    if let Some(report) = sim.report() {
        info!("{report}");
    }
    common::outln!(
        "{}",
        Summary {
            verb: "sent",
            file: options.file.display().to_string(),
            bytes: size,
            chunks: u64::from(count),
            retransmissions: Some(0),
            duplicates: None,
            elapsed: start.elapsed(),
            crc: crc.value(),
        }
    )?;
    Ok(())
}

/// The tutorial's receiver, plus what it lacks: a silence timeout, the
/// missing chunks named, and no partial file left behind.
fn receive_basic(options: &ReceiveOptions, shutdown: &Shutdown) -> Result {
    let socket = listen_udp(options.addr)?;
    let chunk = options.chunk_size;
    let most_chunks =
        options.max_size / chunk as u64 + u64::from(options.max_size % chunk as u64 != 0);
    let mut buf = vec![0u8; net::RECV_BUFFER];
    let mut hinted = false;

    // 1. Wait for a count header, from anybody.
    let (count, peer) = loop {
        if shutdown.requested() {
            // close(): nothing was in progress, so this is a clean stop.
            drop(socket);
            return Ok(());
        }
        // recv_from(): one whole datagram and who sent it.
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                warn!("recv_from failed: {e}");
                continue;
            }
        };
        match wire::decode_basic(&buf[..len]) {
            Some(Basic::Count(count)) if u64::from(count) > most_chunks => warn!(
                "{from} announces {count} chunks of {chunk} bytes, more than --max-size {} \
                 allows: ignored (the basic protocol has no way to say no)",
                options.max_size
            ),
            Some(Basic::Count(count)) => break (count, from),
            Some(Basic::Chunk { index, .. }) if !hinted => {
                hinted = true;
                warn!(
                    "{from}: a {len}-byte datagram (chunk {index}?) before any count header: \
                     ignored. Was the header lost, or does the sender use --protocol reliable?"
                );
            }
            _ => debug!("{from}: a {len}-byte datagram while idle: ignored"),
        }
    };
    let started = Instant::now();
    info!("{peer} announces {count} chunks of up to {chunk} bytes");

    // 2. Collect chunks from that sender until all are in, or it falls silent.
    let out = options.out.display();
    let mut part = PartFile::create(&options.out)?;
    let mut received = Received::default();
    let mut chain = crc::InOrder::new(chunk);
    let mut progress = Progress::new(u64::from(count) * chunk as u64);
    let (mut bytes, mut duplicates, mut ignored) = (0u64, 0u64, 0u64);
    let mut size = 0u64; // known once the last chunk is in
    let mut last_heard = started;
    while received.total() < u64::from(count) {
        if shutdown.requested() {
            return Err(format!(
                "interrupted (Ctrl+C) after {} of {count} chunks: {out} was not written",
                received.total()
            )
            .into());
        }
        if last_heard.elapsed() >= options.timeout {
            break;
        }
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                warn!("recv_from failed: {e}");
                continue;
            }
        };
        // The tutorial's check: only the sender of the count header counts.
        if from != peer {
            ignored += 1;
            debug!("{from}: not the sender of this transfer: ignored");
            continue;
        }
        let Some(Basic::Chunk { index, data }) = wire::decode_basic(&buf[..len]) else {
            debug!("{len}-byte datagram that is no chunk: ignored");
            continue;
        };
        last_heard = Instant::now();
        // Every chunk is full but the last, which holds at least one byte.
        let last = count.checked_sub(1) == Some(index);
        let expected = if last { 1..=chunk } else { chunk..=chunk };
        if index >= count || !expected.contains(&data.len()) {
            ignored += 1;
            warn!(
                "chunk {index} of {} bytes does not fit {count} chunks of {chunk} bytes: ignored \
                 (do both sides use the same --chunk-size?)",
                data.len()
            );
            continue;
        }
        if !received.insert(index) {
            duplicates += 1;
            continue;
        }
        let offset = u64::from(index) * chunk as u64;
        part.write_at(offset, data)?;
        chain.add(index, crc::crc32(data), data.len());
        bytes += data.len() as u64;
        if last {
            size = offset + data.len() as u64;
        }
        progress.update(bytes);
    }
    progress.finish();
    let elapsed = last_heard - started;
    let rate = report::megabytes_per_second(bytes, elapsed);

    if received.total() < u64::from(count) {
        let lost = u64::from(count) - received.total();
        let mut missing: Vec<String> = received
            .missing(count, SHOWN_MISSING)
            .iter()
            .map(u32::to_string)
            .collect();
        if lost > SHOWN_MISSING as u64 {
            missing.push(format!("and {} more", lost - SHOWN_MISSING as u64));
        }
        // close(); `part` is dropped on return, which deletes the partial file.
        drop(socket);
        return Err(format!(
            "nothing from {peer} for {} ms: {lost} of {count} chunks never arrived \
             ({:.1}% lost; {bytes} bytes came at {rate:.1} MB/s). Missing chunk indices: {}. \
             {out} was not written. The basic protocol cannot ask for a chunk again: \
             use --protocol reliable",
            options.timeout.as_millis(),
            lost as f64 * 100.0 / f64::from(count),
            missing.join(", "),
        )
        .into());
    }
    let crc = chain.value();
    part.commit(size)?;
    // close()
    drop(socket);
    if ignored > 0 {
        info!("ignored {ignored} datagrams (another sender, or chunks that did not fit)");
    }
    info!(
        "{}",
        Summary {
            verb: "received",
            file: out.to_string(),
            bytes,
            chunks: u64::from(count),
            retransmissions: None,
            duplicates: Some(duplicates),
            elapsed,
            crc,
        }
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// --protocol reliable
// ---------------------------------------------------------------------------

/// Why a reliable transfer stopped early.
#[derive(Debug)]
enum Stop {
    /// This side stops; the other side is told why (an ERROR datagram).
    Here(ErrorCode, String),
    /// The other side stopped and told us.
    There(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Here(_, message) | Stop::There(message) => f.write_str(message),
        }
    }
}

impl Error for Stop {}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Here(ErrorCode::Failed, e.to_string())
    }
}

/// Counters for the summary line.
#[derive(Debug, Default)]
struct Counters {
    retransmissions: u64,
    duplicates: u64,
    ignored: u64,
}

/// One side of one reliable transfer: the socket, the other side's
/// address, the transfer id, and what the steps below share.
struct Link<'a> {
    socket: UdpSocket,
    peer: SocketAddr,
    id: u32,
    sim: Simulator,
    counters: Counters,
    /// Big enough for any datagram.
    buf: Vec<u8>,
    shutdown: &'a Shutdown,
}

impl Link<'_> {
    /// send_to() the peer, through the simulator.
    fn send(&mut self, datagram: &[u8]) -> io::Result<Fate> {
        transmit(&self.socket, datagram, self.peer, &mut self.sim)
    }

    /// Tell the peer why we stop. Sent straight, not through the simulator,
    /// so that a simulated loss never hides the reason.
    fn tell(&self, stop: &Stop) {
        if let Stop::Here(code, message) = stop {
            let mut out = Vec::new();
            wire::error(&mut out, self.id, *code, message);
            if let Err(e) = self.socket.send_to(&out, self.peer) {
                debug!("could not send ERROR to {}: {e}", self.peer);
            }
        }
    }

    /// Wait until `deadline` for a datagram from the peer, into `buf`; its
    /// length, or `None` at the deadline. Datagrams from any other address
    /// are ignored.
    fn recv_until(&mut self, deadline: Instant) -> std::result::Result<Option<usize>, Stop> {
        loop {
            if self.shutdown.requested() {
                return Err(Stop::Here(
                    ErrorCode::Interrupted,
                    "interrupted (Ctrl+C)".into(),
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let wait = left.clamp(Duration::from_millis(1), net::POLL_INTERVAL);
            self.socket.set_read_timeout(Some(wait))?;
            match self.socket.recv_from(&mut self.buf) {
                Ok((len, from)) if from == self.peer => return Ok(Some(len)),
                Ok((_, from)) => {
                    self.counters.ignored += 1;
                    debug!("{from}: not the receiver: ignored");
                }
                Err(e) if net::is_timeout(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The file being sent, through two handles: one reads new chunks in order,
/// the other reads old ones again to resend them. One datagram buffer.
struct Source {
    fresh: File,
    again: File,
    datagram: Vec<u8>,
}

/// The reliable sender: handshake, windowed data with retransmission, FIN.
fn send_reliable(options: &SendOptions, file: &mut File, size: u64, shutdown: &Shutdown) -> Result {
    let chunk = options.chunk_size;
    let count = chunk_count(size, chunk)?;
    let to = options.receiver;
    let hello = Hello {
        id: sim::random_id(),
        size,
        chunk_size: chunk as u32,
        count,
        window: options.window,
    };
    // socket(); the kernel binds it to a free port at the first send_to.
    let mut link = Link {
        socket: UdpSocket::from(udp_socket(to)?),
        peer: to,
        id: hello.id,
        sim: Simulator::new(options.simulation),
        counters: Counters::default(),
        buf: vec![0u8; net::RECV_BUFFER],
        shutdown,
    };
    let mut rtt = Rtt::new(options.min_rto);
    let start = Instant::now();

    let window = handshake(&mut link, &mut rtt, &hello, options.retries).map_err(|e| {
        link.tell(&e);
        e
    })?;
    info!(
        "{to} accepted transfer {:08x}: {size} bytes in {count} chunks of {chunk} bytes, \
         window {window} (asked {}), round trip {}",
        hello.id,
        hello.window,
        rtt.srtt()
            .map_or("not measured (HELLO was sent again)".into(), |d| format!(
                "{d:?}"
            ))
    );

    let mut source = Source {
        fresh: file.try_clone()?,
        again: File::open(&options.file)?,
        datagram: vec![0u8; RELIABLE_HEADER + chunk],
    };
    let crc = send_window(&mut link, &mut rtt, &hello, window, &mut source, options)
        .and_then(|crc| finish_transfer(&mut link, &mut rtt, crc, options.retries))
        .map_err(|e| {
            link.tell(&e);
            e
        })?;

    // close()
    drop(link.socket);
    if let Some(report) = link.sim.report() {
        info!("{report}");
    }
    common::outln!(
        "{}",
        Summary {
            verb: "sent",
            file: options.file.display().to_string(),
            bytes: size,
            chunks: u64::from(count),
            retransmissions: Some(link.counters.retransmissions),
            duplicates: Some(link.counters.duplicates),
            elapsed: start.elapsed(),
            crc,
        }
    )?;
    Ok(())
}

/// HELLO until ACCEPT (or ERROR). Returns the window the receiver granted.
fn handshake(
    link: &mut Link,
    rtt: &mut Rtt,
    hello: &Hello,
    retries: u32,
) -> std::result::Result<u32, Stop> {
    let datagram = wire::hello(hello);
    for attempt in 0..=retries {
        if attempt > 0 {
            link.counters.retransmissions += 1;
        }
        let sent_at = Instant::now();
        link.send(&datagram)?;
        release_held(&link.socket, &mut link.sim)?;
        let deadline = sent_at + rtt.rto();
        while let Some(len) = link.recv_until(deadline)? {
            match wire::decode(&link.buf[..len]) {
                Ok(Packet::Accept { id, window }) if id == hello.id => {
                    if window == 0 || window > hello.window {
                        debug!("ACCEPT with window {window}: ignored");
                        continue;
                    }
                    if attempt == 0 {
                        rtt.sample(sent_at.elapsed());
                    }
                    return Ok(window);
                }
                Ok(Packet::Error { id, message, .. }) if id == hello.id => {
                    return Err(Stop::There(format!(
                        "the receiver refused the file: {}",
                        text(message)
                    )));
                }
                other => debug!("while waiting for ACCEPT: {other:?}: ignored"),
            }
        }
        debug!("no ACCEPT within {:?}: HELLO again", rtt.rto());
        rtt.backoff();
    }
    Err(Stop::Here(
        ErrorCode::GaveUp,
        format!(
            "no answer from {} to {} HELLOs: is `udp-chunked-transfer receive` running there, \
             with --protocol reliable?",
            link.peer,
            retries + 1
        ),
    ))
}

/// The data phase: keep the window full, take in ACKs, resend what is lost.
/// Returns the file's CRC-32 once every chunk is acknowledged.
fn send_window(
    link: &mut Link,
    rtt: &mut Rtt,
    hello: &Hello,
    window: u32,
    source: &mut Source,
    options: &SendOptions,
) -> std::result::Result<u32, Stop> {
    let mut win = SendWindow::new(hello.size, options.chunk_size, hello.count, window);
    let mut crc = Crc32::new();
    let mut progress = Progress::new(hello.size);
    // Non-blocking: recv_from returns WouldBlock at once when no ACK is
    // waiting, so the sender can look for ACKs between chunks for free.
    link.socket.set_nonblocking(true)?;
    loop {
        if link.shutdown.requested() {
            return Err(Stop::Here(
                ErrorCode::Interrupted,
                "the sender was interrupted (Ctrl+C)".into(),
            ));
        }
        // 1. Resend what is known to be lost, before anything new.
        while let Some(index) = win.pop_lost() {
            resend(
                link,
                &mut win,
                index,
                "later chunks overtook it",
                source,
                options.retries,
            )?;
        }
        // 2. The retransmission timer: no news for a whole RTO.
        if let Some(index) = win.expired(Instant::now(), rtt.rto()) {
            let why = format!("no news for {:?}", rtt.rto());
            resend(link, &mut win, index, &why, source, options.retries)?;
            rtt.backoff();
        }
        // 3. New chunks while the window has room, a few at a time, read
        //    from the file in order.
        for _ in 0..ACK_CHECK_EVERY {
            if !win.has_room() {
                break;
            }
            let index = win.take_new();
            let len = RELIABLE_HEADER + win.chunk_len(index);
            let datagram = &mut source.datagram[..len];
            wire::data_header(datagram, link.id, index);
            source.fresh.read_exact(&mut datagram[RELIABLE_HEADER..])?;
            crc.update(&datagram[RELIABLE_HEADER..]);
            transmit(&link.socket, datagram, link.peer, &mut link.sim)?;
            win.record_send(index, Instant::now());
        }
        if win.finished() {
            progress.finish();
            link.socket.set_nonblocking(false)?;
            return Ok(crc.value());
        }
        // 4. Take in every ACK that is waiting: the sooner a loss is known,
        //    the sooner the chunk goes out again.
        let mut heard = false;
        loop {
            match link.socket.recv_from(&mut link.buf) {
                Ok((len, from)) => {
                    heard = true;
                    take_ack(link, len, from, &mut win, rtt)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        progress.update(win.acked_bytes());
        if heard || win.has_room() {
            continue;
        }
        // 5. The window is full and nothing came: wait for an ACK, but not
        //    past the retransmission timer.
        release_held(&link.socket, &mut link.sim)?;
        let now = Instant::now();
        let wait = win
            .deadline(rtt.rto())
            .map_or(net::POLL_INTERVAL, |d| d.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), net::POLL_INTERVAL);
        link.socket.set_nonblocking(false)?;
        link.socket.set_read_timeout(Some(wait))?;
        let received = link.socket.recv_from(&mut link.buf);
        link.socket.set_nonblocking(true)?;
        match received {
            Ok((len, from)) => take_ack(link, len, from, &mut win, rtt)?,
            Err(e) if net::is_timeout(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// One datagram (`len` bytes in `link.buf`) that came back to the sender:
/// an ACK is taken in, an ERROR ends the transfer, anything else is ignored.
fn take_ack(
    link: &mut Link,
    len: usize,
    from: SocketAddr,
    win: &mut SendWindow,
    rtt: &mut Rtt,
) -> std::result::Result<(), Stop> {
    if from != link.peer {
        link.counters.ignored += 1;
        debug!("{from}: not the receiver: ignored");
        return Ok(());
    }
    match wire::decode(&link.buf[..len]) {
        Ok(Packet::Ack {
            id,
            cumulative,
            selective,
        }) if id == link.id => {
            let outcome = win.on_ack(cumulative, selective, Instant::now());
            if outcome.bogus {
                link.counters.ignored += 1;
                debug!("an ACK for chunks never sent: ignored");
            } else if outcome.newly == 0 {
                // A duplicate ACK. Resending because of it is the Sorcerer's
                // Apprentice bug (RFC 1123 4.2.3.1): we only count it.
                link.counters.duplicates += 1;
            }
            if let Some(sample) = outcome.rtt {
                rtt.sample(sample);
            }
        }
        Ok(Packet::Error { id, message, .. }) if id == link.id => {
            return Err(Stop::There(format!(
                "the receiver stopped the transfer: {}",
                text(message)
            )));
        }
        other => {
            link.counters.ignored += 1;
            debug!("while sending: {other:?}: ignored");
        }
    }
    Ok(())
}

/// Send chunk `index` again, read afresh from the file, unless it has used
/// up its retries.
fn resend(
    link: &mut Link,
    win: &mut SendWindow,
    index: u32,
    why: &str,
    source: &mut Source,
    retries: u32,
) -> std::result::Result<(), Stop> {
    let tries = win.tries(index);
    if tries > retries {
        return Err(Stop::Here(
            ErrorCode::GaveUp,
            format!(
                "chunk {index} was sent {tries} times and never acknowledged: the receiver is \
                 gone or the path loses too much (--retries {retries}); giving up"
            ),
        ));
    }
    debug!("resending chunk {index} (try {}): {why}", tries + 1);
    let len = RELIABLE_HEADER + win.chunk_len(index);
    let datagram = &mut source.datagram[..len];
    wire::data_header(datagram, link.id, index);
    source.again.seek(SeekFrom::Start(win.offset(index)))?;
    source.again.read_exact(&mut datagram[RELIABLE_HEADER..])?;
    transmit(&link.socket, datagram, link.peer, &mut link.sim)?;
    win.record_send(index, Instant::now());
    link.counters.retransmissions += 1;
    Ok(())
}

/// FIN with the CRC-32 until DONE comes back with the same CRC-32.
fn finish_transfer(
    link: &mut Link,
    rtt: &mut Rtt,
    crc: u32,
    retries: u32,
) -> std::result::Result<u32, Stop> {
    let datagram = wire::fin(link.id, crc);
    for attempt in 0..=retries {
        if attempt > 0 {
            link.counters.retransmissions += 1;
        }
        link.send(&datagram)?;
        release_held(&link.socket, &mut link.sim)?;
        let deadline = Instant::now() + rtt.rto();
        while let Some(len) = link.recv_until(deadline)? {
            match wire::decode(&link.buf[..len]) {
                Ok(Packet::Done { id, crc: theirs }) if id == link.id => {
                    return if theirs == crc {
                        Ok(crc)
                    } else {
                        Err(Stop::Here(
                            ErrorCode::ChecksumMismatch,
                            format!(
                                "the receiver saved a file with CRC-32 {theirs:08x}, ours is \
                                 {crc:08x}"
                            ),
                        ))
                    };
                }
                Ok(Packet::Error { id, message, .. }) if id == link.id => {
                    return Err(Stop::There(format!(
                        "the receiver stopped the transfer: {}",
                        text(message)
                    )));
                }
                // Late ACKs and the like.
                _ => {}
            }
        }
        debug!("no DONE within {:?}: FIN again", rtt.rto());
        rtt.backoff();
    }
    Err(Stop::Here(
        ErrorCode::GaveUp,
        format!(
            "every chunk was acknowledged but {} never confirmed the checksum: it may or may \
             not have saved the file",
            link.peer
        ),
    ))
}

/// The reliable receiver: wait for a HELLO, take the chunks, check the
/// CRC-32, rename the file into place, answer late FINs for a moment.
fn receive_reliable(options: &ReceiveOptions, shutdown: &Shutdown) -> Result {
    let socket = listen_udp(options.addr)?;
    let rcvbuf = SockRef::from(&socket).recv_buffer_size()?;
    let mut buf = vec![0u8; net::RECV_BUFFER];

    let Some((hello, peer, window)) = wait_for_hello(&socket, options, rcvbuf, shutdown, &mut buf)
    else {
        // close(): Ctrl+C while idle, a clean stop.
        drop(socket);
        return Ok(());
    };
    let mut link = Link {
        socket,
        peer,
        id: hello.id,
        sim: Simulator::new(options.simulation),
        counters: Counters::default(),
        buf,
        shutdown,
    };
    let started = Instant::now();
    let outcome = PartFile::create(&options.out)
        .map_err(|e| Stop::Here(ErrorCode::CannotWrite, e.to_string()))
        .and_then(|mut part| {
            let crc = receive_chunks(&mut link, &hello, window, &mut part, options.timeout)?;
            let elapsed = started.elapsed();
            // The CRC-32 matches: make the file durable and put it in place.
            let commit = Instant::now();
            part.commit(hello.size)
                .map_err(|e| Stop::Here(ErrorCode::CannotWrite, e.to_string()))?;
            debug!("fsync and rename took {:?}", commit.elapsed());
            Ok((crc, elapsed))
        });
    let (crc, elapsed) = match outcome {
        Ok(done) => done,
        Err(stop) => {
            link.tell(&stop);
            return Err(format!("{stop}; {} was not written", options.out.display()).into());
        }
    };
    let done = wire::done(hello.id, crc);
    if let Err(e) = link.send(&done) {
        warn!("sending DONE failed: {e}");
    }
    if link.counters.ignored > 0 {
        info!(
            "ignored {} datagrams (other addresses or transfers, out of window, garbled)",
            link.counters.ignored
        );
    }
    if let Some(report) = link.sim.report() {
        info!("{report}");
    }
    info!(
        "{}",
        Summary {
            verb: "received",
            file: options.out.display().to_string(),
            bytes: hello.size,
            chunks: u64::from(hello.count),
            retransmissions: Some(link.counters.retransmissions),
            duplicates: Some(link.counters.duplicates),
            elapsed,
            crc,
        }
    );
    linger(&mut link, &done);
    // close()
    drop(link.socket);
    Ok(())
}

/// Wait for a HELLO we can accept. Answer one we cannot accept with ERROR
/// and go on waiting. `None` on Ctrl+C.
fn wait_for_hello(
    socket: &UdpSocket,
    options: &ReceiveOptions,
    rcvbuf: usize,
    shutdown: &Shutdown,
    buf: &mut [u8],
) -> Option<(Hello, SocketAddr, u32)> {
    let mut out = Vec::new();
    loop {
        if shutdown.requested() {
            return None;
        }
        let (len, from) = match socket.recv_from(buf) {
            Ok(received) => received,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                warn!("recv_from failed: {e}");
                continue;
            }
        };
        match wire::decode(&buf[..len]) {
            Ok(Packet::Hello(hello)) => match check_hello(&hello, options, rcvbuf) {
                Ok(window) => return Some((hello, from, window)),
                Err((code, why)) => {
                    warn!("{from}: refused: {why}");
                    wire::error(&mut out, hello.id, code, &why);
                    if let Err(e) = socket.send_to(&out, from) {
                        warn!("could not tell {from}: {e}");
                    }
                }
            },
            Ok(other) => debug!("{from}: {other:?} before any HELLO: ignored"),
            Err(_) if len == BASIC_HEADER => warn!(
                "{from}: a 4-byte datagram, like a basic-protocol count header: ignored \
                 (start the receiver with --protocol basic for that)"
            ),
            Err(e) => debug!("{from}: {e}: ignored"),
        }
    }
}

/// Does the HELLO add up, and may we take it? The window we grant, or the
/// reason to refuse.
fn check_hello(
    hello: &Hello,
    options: &ReceiveOptions,
    rcvbuf: usize,
) -> std::result::Result<u32, (ErrorCode, String)> {
    let chunk = hello.chunk_size as usize;
    if chunk == 0 || chunk > MAX_RELIABLE_CHUNK {
        return Err((
            ErrorCode::BadRequest,
            format!("chunk size {chunk} is not between 1 and {MAX_RELIABLE_CHUNK}"),
        ));
    }
    if chunk_count(hello.size, chunk).ok() != Some(hello.count) {
        return Err((
            ErrorCode::BadRequest,
            format!(
                "{} chunks of {chunk} bytes do not make {} bytes",
                hello.count, hello.size
            ),
        ));
    }
    if hello.size > options.max_size {
        return Err((
            ErrorCode::TooLarge,
            format!(
                "the file is {} bytes, over this receiver's --max-size of {} bytes",
                hello.size, options.max_size
            ),
        ));
    }
    if hello.window == 0 {
        return Err((ErrorCode::BadRequest, "a window of 0 chunks".into()));
    }
    Ok(hello
        .window
        .min(MAX_WINDOW)
        .min(window_capacity(rcvbuf, chunk)))
}

/// How many chunks the kernel's receive buffer holds, so that a full window
/// never overflows it. Linux charges each datagram its size plus
/// bookkeeping: up to the next power of two for small ones, a few percent
/// for large ones (measured on loopback). We grant 90% of that.
fn window_capacity(rcvbuf: usize, chunk: usize) -> u32 {
    let datagram = chunk + RELIABLE_HEADER;
    // 320, 256 and 1024 bytes: per-datagram overheads fitted to what Linux
    // charged on loopback; above 16 KiB the estimate stops rounding up to a
    // power of two.
    let cost = if datagram + 320 <= 16_384 {
        (datagram + 320).next_power_of_two() + 256
    } else {
        datagram + datagram / 32 + 1024
    };
    (rcvbuf / 10 * 9 / cost).clamp(1, MAX_WINDOW as usize) as u32
}

/// ACCEPT, then chunks until a FIN with the right CRC-32. Returns the CRC-32.
fn receive_chunks(
    link: &mut Link,
    hello: &Hello,
    window: u32,
    part: &mut PartFile,
    timeout: Duration,
) -> std::result::Result<u32, Stop> {
    let chunk = hello.chunk_size as usize;
    let accept = wire::accept(link.id, window);
    link.send(&accept)?;
    info!(
        "{} sends {} bytes in {} chunks of {chunk} bytes (transfer {:08x}, window {window})",
        link.peer, hello.size, hello.count, link.id
    );

    let mut rw = RecvWindow::new(hello.count, window);
    let mut chain = crc::InOrder::new(chunk);
    // The ACK policy: at once when something changed that the sender must
    // hear about (a gap opened or closed, a duplicate, the last chunk); else
    // after a quarter window of chunks; else ACK_DELAY after the first
    // chunk not yet acknowledged.
    let ack_every = (window / 4).max(1);
    let mut pending = 0u32;
    let mut pending_since = Instant::now();
    let mut scratch = (Vec::new(), Vec::new());

    let mut progress = Progress::new(hello.size);
    let mut bytes = 0u64;
    let mut last_heard = Instant::now();
    link.socket.set_read_timeout(Some(ACK_DELAY))?;
    loop {
        if link.shutdown.requested() {
            return Err(Stop::Here(
                ErrorCode::Interrupted,
                "the receiver was interrupted (Ctrl+C)".into(),
            ));
        }
        let now = Instant::now();
        if now - last_heard >= timeout {
            return Err(Stop::Here(
                ErrorCode::TimedOut,
                format!(
                    "nothing from the sender for {} ms (--timeout-ms)",
                    timeout.as_millis()
                ),
            ));
        }
        if pending > 0 && now - pending_since >= ACK_DELAY {
            send_ack(link, &rw, &mut scratch);
            pending = 0;
        }
        // recv_from(): the next datagram, from anybody.
        let (len, from) = match link.socket.recv_from(&mut link.buf) {
            Ok(received) => received,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                warn!("recv_from failed: {e}");
                continue;
            }
        };
        if from != link.peer {
            link.counters.ignored += 1;
            debug!("{from}: not the sender of this transfer: ignored");
            continue;
        }
        let packet = match wire::decode(&link.buf[..len]) {
            Ok(packet) if packet.id() == link.id => packet,
            Ok(packet) => {
                link.counters.ignored += 1;
                debug!("transfer id {:08x}, not ours: ignored", packet.id());
                continue;
            }
            Err(e) => {
                link.counters.ignored += 1;
                debug!("{e}: ignored");
                continue;
            }
        };
        last_heard = Instant::now();
        let ack_now = match packet {
            Packet::Data { index, data, .. } => {
                if index < hello.count && data.len() != chunk_len(hello.size, chunk, index) {
                    link.counters.ignored += 1;
                    debug!("chunk {index} with {} bytes: garbled, ignored", data.len());
                    continue;
                }
                match rw.arrive(index) {
                    Arrival::New {
                        gap_opened,
                        gap_closed,
                    } => {
                        let offset = u64::from(index) * chunk as u64;
                        part.write_at(offset, data)
                            .map_err(|e| Stop::Here(ErrorCode::CannotWrite, e.to_string()))?;
                        chain.add(index, crc::crc32(data), data.len());
                        bytes += data.len() as u64;
                        progress.update(bytes);
                        if pending == 0 {
                            pending_since = last_heard;
                        }
                        pending += 1;
                        gap_opened || gap_closed || pending >= ack_every || rw.complete()
                    }
                    Arrival::Duplicate => {
                        // Perhaps our ACK was lost: say again what we have.
                        link.counters.duplicates += 1;
                        true
                    }
                    Arrival::OutOfWindow | Arrival::OutOfRange => {
                        link.counters.ignored += 1;
                        debug!("chunk {index} is outside the window: ignored");
                        false
                    }
                }
            }
            // Our ACCEPT was lost.
            Packet::Hello(_) => {
                link.counters.retransmissions += 1;
                link.send(&accept)?;
                false
            }
            // The sender has every chunk acknowledged. If we agree, compare
            // the CRC-32s; if not, tell it again what we have.
            Packet::Fin { crc, .. } if rw.complete() => {
                progress.finish();
                let ours = chain.value();
                if crc != ours {
                    return Err(Stop::Here(
                        ErrorCode::ChecksumMismatch,
                        format!("the CRC-32 here is {ours:08x}, the sender's is {crc:08x}"),
                    ));
                }
                return Ok(crc);
            }
            Packet::Fin { .. } => true,
            Packet::Error { message, .. } => {
                return Err(Stop::There(format!(
                    "the sender stopped the transfer: {}",
                    text(message)
                )));
            }
            other => {
                link.counters.ignored += 1;
                debug!("{other:?}: ignored");
                false
            }
        };
        if ack_now {
            send_ack(link, &rw, &mut scratch);
            pending = 0;
        }
    }
}

/// send_to() an ACK: "I have every chunk below `cumulative`, and these
/// after it". `scratch` holds the bitmap and the datagram, reused.
fn send_ack(link: &mut Link, rw: &RecvWindow, scratch: &mut (Vec<u8>, Vec<u8>)) {
    let (selective, datagram) = scratch;
    rw.selective(selective);
    wire::ack(datagram, link.id, rw.cumulative(), selective);
    if let Err(e) = link.send(datagram) {
        warn!("sending an ACK failed: {e}");
    }
}

/// After DONE: stay a moment to answer a repeated FIN (our DONE may have
/// been lost), until the sender has been quiet for LINGER, or Ctrl+C.
fn linger(link: &mut Link, done: &[u8]) {
    let _ = link.socket.set_read_timeout(Some(net::POLL_INTERVAL));
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < LINGER && !link.shutdown.requested() {
        let Ok((len, from)) = link.socket.recv_from(&mut link.buf) else {
            continue;
        };
        let fin =
            matches!(wire::decode(&link.buf[..len]), Ok(Packet::Fin { id, .. }) if id == link.id);
        if from == link.peer && fin {
            quiet_since = Instant::now();
            if let Err(e) = link.send(done) {
                warn!("sending DONE failed: {e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// --protocol tcp: the same file over one TCP connection, for comparison
// ---------------------------------------------------------------------------
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
    shutdown: &Shutdown,
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
            Err(e) if net::is_timeout(&e) => {}
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
    shutdown: &Shutdown,
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
            Err(e) if net::is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The receiver's verdict after a status byte: `Ok(())` for 0, else the
/// error message that follows the code.
fn read_verdict(stream: &mut TcpStream, shutdown: &Shutdown) -> Result {
    let mut status = [0u8; 1];
    read_full(stream, &mut status, TCP_PATIENCE, shutdown)?;
    if status[0] == 0 {
        return Ok(());
    }
    let mut message = Vec::new();
    let _ = stream
        .take(wire::MAX_MESSAGE as u64)
        .read_to_end(&mut message);
    Err(format!("the receiver refused: {}", text(&message)).into())
}

/// The TCP sender: connect, size, file, CRC-32, wait for the verdict.
fn send_tcp(options: &SendOptions, file: &mut File, size: u64, shutdown: &Shutdown) -> Result {
    let to = options.receiver;
    // socket() and connect(): TCP's handshake happens here, in the kernel.
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    socket.connect_timeout(&to.into(), TCP_PATIENCE).map_err(|e| {
        format!("cannot connect to {to}: {e}: is `udp-chunked-transfer receive --protocol tcp` running there?")
    })?;
    let mut stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(net::POLL_INTERVAL))?;
    stream.set_write_timeout(Some(net::POLL_INTERVAL))?;
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
            chunks: blocks,
            retransmissions: None,
            duplicates: None,
            elapsed: start.elapsed(),
            crc: crc.value(),
        }
    )?;
    Ok(())
}

/// The TCP receiver: listen, accept one connection, copy it into the file.
fn receive_tcp(options: &ReceiveOptions, shutdown: &Shutdown) -> Result {
    let addr = options.addr;
    // socket(), bind(), listen()
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a new receiver take the port while old connections wind down.
    socket.set_reuse_address(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| net::bind_error(addr, e))?;
    socket.listen(1)?;
    let listener = TcpListener::from(socket);
    net::set_accept_timeout(&listener, net::POLL_INTERVAL)?;
    common::outln!("listening on {}", listener.local_addr()?)?;

    loop {
        if shutdown.requested() {
            // close(): nothing in progress.
            drop(listener);
            return Ok(());
        }
        // accept()
        let (stream, peer) = match listener.accept() {
            Ok(connection) => connection,
            Err(e) if net::is_timeout(&e) => continue,
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
    shutdown: &Shutdown,
) -> Result<Option<Summary>> {
    stream.set_read_timeout(Some(net::POLL_INTERVAL))?;
    stream.set_write_timeout(Some(net::POLL_INTERVAL))?;
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
    info!("{peer} sends {size} bytes over TCP");
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
            Err(e) if net::is_timeout(&e) => {}
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
        chunks: reads,
        retransmissions: None,
        duplicates: None,
        elapsed,
        crc,
    }))
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

    #[test]
    fn peer_text_is_escaped_not_cut() {
        assert_eq!(text(b"too big\n\x1b[2J"), "too big\\n\\u{1b}[2J");
        assert_eq!(text(&[b'a'; 150]).len(), 150);
        assert_eq!(text(&[0xff, b'x']), "\u{fffd}x");
    }

    #[test]
    fn window_fits_the_receive_buffer() {
        // Measured on Linux loopback: an 8 MiB buffer holds about 3,640
        // datagrams of 1,033 bytes and 126 of 65,507.
        assert_eq!(window_capacity(8 << 20, 1024), 3276);
        let big = window_capacity(8 << 20, MAX_RELIABLE_CHUNK);
        assert!((100..126).contains(&big), "{big}");
        assert_eq!(window_capacity(1000, 1024), 1);
        assert_eq!(window_capacity(usize::MAX / 16, 1), MAX_WINDOW);
    }
}
