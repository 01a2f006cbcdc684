//! `--protocol basic`: the tutorial's `send_large_data` and
//! `receive_large_data`, wire for wire, and what our receiver adds to
//! survive the failures the tutorial's receiver cannot (see
//! `examples/udp-chunked-transfer-tutorial.rs` for the tutorial's own).
//!
//! The format: one datagram with the number of chunks (4 bytes,
//! big-endian), then one datagram per chunk, its 4-byte index in front.
//! Nothing comes back, so nothing lost is ever sent again.

use std::fs::File;
use std::io::Read;
use std::net::UdpSocket;
use std::time::Instant;

use common::{sockets, StopSignal};
use log::{debug, info, warn};

use crate::crc::{self, Crc32};
use crate::options::{ReceiveOptions, SendOptions};
use crate::output::PartFile;
use crate::report::{self, Progress, Summary};
use crate::sim::{Fate, Simulator};
use crate::window::chunk_len;
use crate::wire::{self, Basic, BASIC_HEADER};
use crate::{chunk_count, in_chunks, listen_udp, release_held, transmit, udp_socket, Result};

/// How many missing chunk indices an error message lists. Why 20: enough
/// to see a pattern (a run, or scattered), short enough for one message.
const SHOWN_MISSING: usize = 20;

/// The tutorial's sender: the count, then every chunk, as fast as possible,
/// and never a look back.
pub fn send_basic(
    options: &SendOptions,
    file: &mut File,
    size: u64,
    shutdown: &StopSignal,
) -> Result {
    let chunk = options.chunk_size;
    let count = chunk_count(size, chunk)?;
    let to = options.receiver;
    // socket(). No bind(): the kernel picks a free port at the first send_to.
    let socket = UdpSocket::from(udp_socket(to)?);
    let mut sim = Simulator::new(options.simulation);
    let mut progress = Progress::new(size);
    let mut crc = Crc32::new();
    let start = Instant::now();
    info!(
        "sending {} to {to}, nothing acknowledged",
        in_chunks(size, count, chunk)
    );

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
            pieces: common::count(u64::from(count), "chunk", "chunks"),
            counts: vec!["nothing acknowledged, nothing sent again".into()],
            elapsed: start.elapsed(),
            crc: crc.value(),
        }
    )?;
    Ok(())
}

/// The tutorial's receiver, plus what it lacks: a silence timeout, the
/// missing chunks named, and no partial file left behind.
pub fn receive_basic(options: &ReceiveOptions, shutdown: &StopSignal) -> Result {
    let socket = listen_udp(options, shutdown)?;
    let chunk = options.chunk_size;
    let most_chunks =
        options.max_size / chunk as u64 + u64::from(options.max_size % chunk as u64 != 0);
    let mut buf = vec![0u8; sockets::RECV_BUFFER];
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
            Err(e) if sockets::is_timeout(&e) => continue,
            Err(e) => {
                sockets::log_recv_error(&e);
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
    info!(
        "{peer} announces {} of up to {}",
        common::count(u64::from(count), "chunk", "chunks"),
        common::count(chunk as u64, "byte", "bytes")
    );

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
        // recv_from(): the next chunk, or the read timeout (to check the
        // silence and Ctrl+C).
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if sockets::is_timeout(&e) => continue,
            Err(e) => {
                sockets::log_recv_error(&e);
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
        info!(
            "ignored {} (another sender, or chunks that did not fit)",
            common::count(ignored, "datagram", "datagrams")
        );
    }
    info!(
        "{}",
        Summary {
            verb: "received",
            file: out.to_string(),
            bytes,
            pieces: common::count(u64::from(count), "chunk", "chunks"),
            counts: vec![common::count(
                duplicates,
                "duplicate chunk received",
                "duplicate chunks received",
            )],
            elapsed,
            crc,
        }
    );
    Ok(())
}

/// The basic receiver's record of arrived chunks, as sorted runs
/// `[start, end)`. It grows only with chunks that really arrived, so a
/// header that claims four billion chunks costs nothing.
#[derive(Debug, Default)]
pub struct Received {
    runs: Vec<(u32, u32)>,
    total: u64,
}

impl Received {
    /// Record chunk `index`; `false` if we had it already. (`u32::MAX` is
    /// never a chunk index: a file has at most `u32::MAX` chunks.)
    pub fn insert(&mut self, index: u32) -> bool {
        let Some(after) = index.checked_add(1) else {
            return false;
        };
        // The first run that ends after `index`.
        let at = self.runs.partition_point(|&(_, end)| end <= index);
        if let Some(&(start, _)) = self.runs.get(at) {
            if start <= index {
                return false;
            }
        }
        self.total += 1;
        let joins_left = at > 0 && self.runs[at - 1].1 == index;
        let joins_right = self.runs.get(at).is_some_and(|&(s, _)| s == after);
        match (joins_left, joins_right) {
            (true, true) => {
                self.runs[at - 1].1 = self.runs[at].1;
                self.runs.remove(at);
            }
            (true, false) => self.runs[at - 1].1 = after,
            (false, true) => self.runs[at].0 = index,
            (false, false) => self.runs.insert(at, (index, after)),
        }
        true
    }

    /// How many distinct chunks arrived.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The first `limit` missing indices below `count`.
    pub fn missing(&self, count: u32, limit: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut from = 0u32;
        for &(start, end) in self.runs.iter().chain(std::iter::once(&(count, count))) {
            let mut i = from;
            while i < start.min(count) && out.len() < limit {
                out.push(i);
                i += 1;
            }
            from = end;
            if out.len() >= limit || from >= count {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_runs_merge_and_name_the_gaps() {
        let mut r = Received::default();
        for i in [5, 0, 1, 3, 9, 4] {
            assert!(r.insert(i));
        }
        assert!(!r.insert(4));
        assert!(!r.insert(0));
        assert_eq!(r.total(), 6);
        assert_eq!(r.missing(12, 100), [2, 6, 7, 8, 10, 11]);
        assert_eq!(r.missing(12, 2), [2, 6]);
        assert!(r.insert(2));
        assert_eq!(r.runs, [(0, 6), (9, 10)]);
        assert_eq!(Received::default().missing(3, 10), [0, 1, 2]);
        // A chunk far away costs one run, not a bitmap that reaches it.
        assert!(r.insert(4_000_000_000));
        assert_eq!(r.runs.len(), 3);
        assert!(!r.insert(u32::MAX));
        assert!(r.insert(u32::MAX - 1));
    }
}
