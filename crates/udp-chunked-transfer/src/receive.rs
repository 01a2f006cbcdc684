//! `--protocol reliable`, the receiver: [`receive_reliable`] waits in
//! [`wait_for_hello`] (refusing, with a reason, what [`check_hello`] does not
//! accept), runs [`receive_chunks`] (every chunk written at its offset; the
//! ACK policy), commits the file and answers late FINs in [`linger`].

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{escape, sockets, StopSignal};
use log::{debug, info, warn};
use socket2::SockRef;

use crate::crc;
use crate::link::{Counters, Link, Stop};
use crate::options::ReceiveOptions;
use crate::output::PartFile;
use crate::report::{Progress, Summary};
use crate::sim::Simulator;
use crate::window::{chunk_len, Arrival, RecvWindow, MAX_WINDOW};
use crate::wire::{
    self, ErrorCode, Hello, Packet, BASIC_HEADER, MAX_RELIABLE_CHUNK, RELIABLE_HEADER,
};
use crate::{chunk_count, in_chunks, listen_udp, Result};

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

/// The reliable receiver: wait for a HELLO, take the chunks, check the
/// CRC-32, rename the file into place, answer late FINs for a moment.
pub fn receive_reliable(options: &ReceiveOptions, shutdown: &StopSignal) -> Result {
    let socket = listen_udp(options, shutdown)?;
    let rcvbuf = SockRef::from(&socket).recv_buffer_size()?;
    let mut buf = vec![0u8; sockets::RECV_BUFFER];

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
            "ignored {} (other addresses or transfers, out of window, garbled)",
            common::count(link.counters.ignored, "datagram", "datagrams")
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
            pieces: common::count(u64::from(hello.count), "chunk", "chunks"),
            counts: receiver_counts(&link.counters),
            elapsed,
            crc,
        }
    );
    linger(&mut link, &done);
    // close()
    drop(link.socket);
    Ok(())
}

/// What the receiver counted, for its summary. A lost chunk that the sender
/// sent again looks, here, like any other chunk, so the retransmissions
/// are the sender's to count; what this side sees is chunks that came
/// twice (a copy resent too soon, or a duplicated datagram), and its own
/// ACCEPTs sent again.
fn receiver_counts(counters: &Counters) -> Vec<String> {
    let mut counts = vec![common::count(
        counters.duplicates,
        "duplicate chunk received",
        "duplicate chunks received",
    )];
    if counters.retransmissions > 0 {
        counts.push(common::count(
            counters.retransmissions,
            "ACCEPT sent again",
            "ACCEPTs sent again",
        ));
    }
    counts.push("retransmissions: see the sender".into());
    counts
}

/// Wait for a HELLO we can accept. Answer one we cannot accept with ERROR
/// and go on waiting. `None` on Ctrl+C.
fn wait_for_hello(
    socket: &UdpSocket,
    options: &ReceiveOptions,
    rcvbuf: usize,
    shutdown: &StopSignal,
    buf: &mut [u8],
) -> Option<(Hello, SocketAddr, u32)> {
    let mut out = Vec::new();
    loop {
        if shutdown.requested() {
            return None;
        }
        // recv_from(): a HELLO, from anybody; we learn the sender's address
        // here.
        let (len, from) = match socket.recv_from(buf) {
            Ok(received) => received,
            Err(e) if sockets::is_timeout(&e) => continue,
            Err(e) => {
                sockets::log_recv_error(&e);
                continue;
            }
        };
        match wire::decode(&buf[..len]) {
            Ok(Packet::Hello(hello)) => match check_hello(&hello, options, rcvbuf) {
                Ok(window) => return Some((hello, from, window)),
                Err((code, why)) => {
                    warn!("{from}: refused: {why}");
                    wire::error(&mut out, hello.id, code, &why);
                    // send_to(): the refusal and its reason, to that sender.
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
        "{} sends {} (transfer {:08x}, window {window})",
        link.peer,
        in_chunks(hello.size, hello.count, chunk),
        link.id
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
    // SO_RCVTIMEO: wake up at least every ACK_DELAY, to send a held ACK.
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
            Err(e) if sockets::is_timeout(&e) => continue,
            Err(e) => {
                sockets::log_recv_error(&e);
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
                    escape::one_line(message)
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
    let _ = link.socket.set_read_timeout(Some(sockets::POLL_INTERVAL));
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < LINGER && !link.shutdown.requested() {
        // recv_from(): a repeated FIN, or the timeout.
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

#[cfg(test)]
mod tests {
    use super::*;

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
