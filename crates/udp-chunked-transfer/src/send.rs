//! `--protocol reliable`, the sender: [`send_reliable`] runs
//! [`handshake`] (HELLO until ACCEPT), [`send_window`] (the data phase:
//! resend what is lost, fill the window, take in ACKs with [`take_ack`],
//! wait when the window is full) and [`finish_transfer`] (FIN until DONE).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{escape, sockets, StopSignal};
use log::{debug, info};

use crate::crc::Crc32;
use crate::link::{Counters, Link, Stop};
use crate::options::SendOptions;
use crate::report::{Progress, Summary};
use crate::sim::{self, Simulator};
use crate::window::{Rtt, SendWindow};
use crate::wire::{self, ErrorCode, Hello, Packet, RELIABLE_HEADER};
use crate::{chunk_count, in_chunks, release_held, transmit, udp_socket, Result};

/// The reliable sender looks for ACKs after this many new chunks. Why 32:
/// often enough that a loss is seen and repaired long before a 512-chunk
/// window drains, rarely enough that the empty recv_from costs little.
const ACK_CHECK_EVERY: usize = 32;

/// The file being sent, through two handles: one reads new chunks in order,
/// the other reads old ones again to resend them. One datagram buffer.
struct Source {
    fresh: File,
    again: File,
    datagram: Vec<u8>,
}

/// The reliable sender: handshake, windowed data with retransmission, FIN.
pub fn send_reliable(
    options: &SendOptions,
    file: &mut File,
    size: u64,
    shutdown: &StopSignal,
) -> Result {
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
        buf: vec![0u8; sockets::RECV_BUFFER],
        shutdown,
    };
    let mut rtt = Rtt::new(options.min_rto);
    let start = Instant::now();

    let window = handshake(&mut link, &mut rtt, &hello, options.retries).map_err(|e| {
        link.tell(&e);
        e
    })?;
    info!(
        "{to} accepted transfer {:08x}: {}, window {window} (asked {}), round trip {}",
        hello.id,
        in_chunks(size, count, chunk),
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
            pieces: common::count(u64::from(count), "chunk", "chunks"),
            counts: vec![
                common::count(
                    link.counters.retransmissions,
                    "retransmission",
                    "retransmissions",
                ),
                common::count(link.counters.duplicates, "duplicate ACK", "duplicate ACKs"),
            ],
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
                        escape::one_line(message)
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
            "no answer from {} to {}: is `udp-chunked-transfer receive` running there, \
             with --protocol reliable?",
            link.peer,
            common::count(u64::from(retries) + 1, "HELLO", "HELLOs")
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
            // recv_from() on the non-blocking socket: WouldBlock when empty.
            match link.socket.recv_from(&mut link.buf) {
                Ok((len, from)) => {
                    heard = true;
                    take_ack(link, len, from, &mut win, rtt)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(link.receive_error(e)),
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
            .map_or(sockets::POLL_INTERVAL, |d| d.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), sockets::POLL_INTERVAL);
        link.socket.set_nonblocking(false)?;
        link.socket.set_read_timeout(Some(wait))?;
        let received = link.socket.recv_from(&mut link.buf);
        link.socket.set_nonblocking(true)?;
        match received {
            Ok((len, from)) => take_ack(link, len, from, &mut win, rtt)?,
            Err(e) if sockets::is_timeout(&e) => {}
            Err(e) => return Err(link.receive_error(e)),
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
                escape::one_line(message)
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
                "chunk {index} was sent {} and never acknowledged: the receiver is gone or \
                 the path loses too much (--retries {retries}); giving up",
                common::count(u64::from(tries), "time", "times")
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
                        escape::one_line(message)
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
