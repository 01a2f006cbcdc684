//! The bookkeeping of the transfer: which chunks are out, which arrived,
//! which are lost, and how long to wait before sending one again.
//!
//! Two numbers bound a reliable transfer:
//!
//! - the **window** (`--window N`): at most N chunks are out at once, sent
//!   and not yet acknowledged. This is flow control: N chunks must fit in
//!   the receiver's socket buffer, or the kernel drops what does not fit.
//! - the **span** ([`SPAN_PER_WINDOW`] windows): how far past the first
//!   missing chunk the sender may go. The receiver keeps one bit per chunk
//!   of the span and ignores anything beyond it, so its memory is bounded by
//!   the window whatever the file size. A span wider than the window lets
//!   the transfer flow on while a lost chunk is sent again, instead of
//!   stalling behind it.
//!
//! - [`SendWindow`]: the sender's side, one small record per chunk of the
//!   span (no data: a chunk to resend is read from the file again).
//! - [`RecvWindow`]: the receiver's side: a bitmap over the span.
//! - [`Rtt`]: the retransmission timeout from measured round trips
//!   (RFC 6298, as TCP does it).
//!
//! None of this touches a socket; `send.rs` and `receive.rs` do the sending
//! and receiving.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The largest `--window`. Both sides keep a little bookkeeping (a bit at
/// the receiver, a few bytes at the sender) per chunk of a few windows, so
/// this bounds their memory.
pub const MAX_WINDOW: u32 = 4096;

/// The span is this many windows wide.
pub const SPAN_PER_WINDOW: u32 = 4;

/// Data bytes in chunk `index` of a `size`-byte file cut in `chunk`-byte
/// chunks: `chunk`, except for a short last one (and 0 past the end).
pub fn chunk_len(size: u64, chunk: usize, index: u32) -> usize {
    let start = u64::from(index) * chunk as u64;
    size.saturating_sub(start).min(chunk as u64) as usize
}

/// A chunk counts as lost once a chunk sent this many transmissions after it
/// has been acknowledged. Less than that is taken for reordering. (TCP's
/// "three duplicate ACKs" and its RACK loss detection, RFC 8985, rest on
/// the same idea.)
pub const REORDER_THRESHOLD: u64 = 3;

#[derive(Debug, Clone, Copy)]
struct Slot {
    acked: bool,
    /// Waiting in the lost queue.
    queued: bool,
    /// How many times it was sent.
    tries: u32,
    /// The number of its latest transmission (1, 2, 3, ... over the whole
    /// transfer).
    tx: u64,
    sent_at: Instant,
}

/// What an ACK taught the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckOutcome {
    /// Chunks acknowledged for the first time. Zero means a duplicate ACK,
    /// which on its own never makes the sender resend anything.
    pub newly: u32,
    /// A round-trip sample, from a chunk that was sent exactly once (Karn's
    /// rule: for a resent chunk we cannot tell which copy was answered).
    pub rtt: Option<Duration>,
    /// The ACK claimed chunks that were never sent: ignored.
    pub bogus: bool,
}

/// The sender's window. Chunks below `base` are all acknowledged; chunks
/// `base..next` have been sent, and some of them acknowledged (selectively).
#[derive(Debug)]
pub struct SendWindow {
    size: u64,
    chunk_size: usize,
    count: u32,
    window: u32,
    span: u32,
    base: u32,
    next: u32,
    /// Sent at least once and not acknowledged.
    out: u32,
    slots: Vec<Slot>,
    tx: u64,
    /// Every transmission `(tx, index)`, oldest first, until it is known
    /// to have arrived or to be lost.
    sent_order: VecDeque<(u64, u32)>,
    /// The latest transmission known to have arrived.
    delivered_tx: u64,
    lost: VecDeque<u32>,
    acked_bytes: u64,
    /// The retransmission timer (one per transfer, as in TCP): started when
    /// a chunk goes out with nothing else out, restarted by every ACK that
    /// brings news and by every timeout.
    timer: Option<Instant>,
}

impl SendWindow {
    /// A window of `window` chunks over a file of `size` bytes cut in
    /// `count` chunks of `chunk_size`.
    pub fn new(size: u64, chunk_size: usize, count: u32, window: u32) -> SendWindow {
        let window = window.max(1);
        let span = window * SPAN_PER_WINDOW;
        let empty = Slot {
            acked: false,
            queued: false,
            tries: 0,
            tx: 0,
            sent_at: Instant::now(),
        };
        SendWindow {
            size,
            chunk_size,
            count,
            window,
            span,
            base: 0,
            next: 0,
            out: 0,
            slots: vec![empty; span as usize],
            tx: 0,
            sent_order: VecDeque::new(),
            delivered_tx: 0,
            lost: VecDeque::new(),
            acked_bytes: 0,
            timer: None,
        }
    }

    fn slot(&self, index: u32) -> usize {
        (index % self.span) as usize
    }

    /// Data bytes in chunk `index` (the last one may be short).
    pub fn chunk_len(&self, index: u32) -> usize {
        chunk_len(self.size, self.chunk_size, index)
    }

    /// Where chunk `index` starts in the file.
    pub fn offset(&self, index: u32) -> u64 {
        u64::from(index) * self.chunk_size as u64
    }

    /// May a chunk never sent before go out now?
    pub fn has_room(&self) -> bool {
        self.next < self.count && self.out < self.window && self.next - self.base < self.span
    }

    /// Take the next new chunk; the caller sends it and calls
    /// [`SendWindow::record_send`].
    pub fn take_new(&mut self) -> u32 {
        let index = self.next;
        self.next += 1;
        self.out += 1;
        let s = self.slot(index);
        self.slots[s] = Slot {
            acked: false,
            queued: false,
            tries: 0,
            tx: 0,
            sent_at: Instant::now(),
        };
        index
    }

    /// Note that chunk `index` was just sent; returns how many times it has
    /// been sent now.
    pub fn record_send(&mut self, index: u32, now: Instant) -> u32 {
        self.tx += 1;
        let tx = self.tx;
        let s = self.slot(index);
        let slot = &mut self.slots[s];
        slot.tx = tx;
        slot.sent_at = now;
        slot.tries += 1;
        slot.queued = false;
        let tries = slot.tries;
        self.sent_order.push_back((tx, index));
        if self.timer.is_none() {
            self.timer = Some(now);
        }
        tries
    }

    /// How many times chunk `index` has been sent.
    pub fn tries(&self, index: u32) -> u32 {
        self.slots[self.slot(index)].tries
    }

    /// The next chunk found lost (by [`SendWindow::on_ack`]) that still needs
    /// sending again.
    pub fn pop_lost(&mut self) -> Option<u32> {
        while let Some(index) = self.lost.pop_front() {
            if index >= self.base && index < self.next {
                let slot = self.slots[self.slot(index)];
                if slot.queued && !slot.acked {
                    return Some(index);
                }
            }
        }
        None
    }

    /// Take in an ACK: "every chunk below `cumulative`, plus the ones set in
    /// `selective`". Marks chunks delivered, slides the window, and queues
    /// as lost every chunk that a later transmission overtook by more than
    /// [`REORDER_THRESHOLD`].
    pub fn on_ack(&mut self, cumulative: u32, selective: &[u8], now: Instant) -> AckOutcome {
        let mut outcome = AckOutcome::default();
        if cumulative > self.next {
            outcome.bogus = true;
            return outcome;
        }
        // The newest transmission among the chunks this ACK brings news of.
        let mut newest: Option<(u64, u32)> = None;
        let mut mark = |w: &mut SendWindow, index: u32| {
            let len = w.chunk_len(index) as u64;
            let s = w.slot(index);
            let slot = &mut w.slots[s];
            if slot.acked {
                return;
            }
            slot.acked = true;
            let tx = slot.tx;
            w.out -= 1;
            w.acked_bytes += len;
            outcome.newly += 1;
            if newest.map_or(true, |(newest_tx, _)| tx > newest_tx) {
                newest = Some((tx, index));
            }
        };
        for index in self.base..cumulative {
            mark(self, index);
        }
        let first = u64::from(cumulative) + 1;
        'bits: for (i, byte) in selective.iter().enumerate() {
            if *byte == 0 {
                continue;
            }
            for bit in 0..8 {
                if byte & (0x80 >> bit) == 0 {
                    continue;
                }
                let index = first + (i as u64) * 8 + bit;
                if index >= u64::from(self.next) {
                    break 'bits;
                }
                if index >= u64::from(self.base) {
                    mark(self, index as u32);
                }
            }
        }
        while self.base < self.next && self.slots[self.slot(self.base)].acked {
            self.base += 1;
        }
        let Some((newest_tx, newest_index)) = newest else {
            return outcome;
        };
        self.timer = (self.out > 0).then_some(now);
        let slot = self.slots[self.slot(newest_index)];
        if slot.tries == 1 {
            outcome.rtt = Some(now.saturating_duration_since(slot.sent_at));
        }
        // Every transmission made well before one that arrived, and not
        // acknowledged itself, was lost.
        self.delivered_tx = self.delivered_tx.max(newest_tx);
        while let Some(&(tx, index)) = self.sent_order.front() {
            if tx + REORDER_THRESHOLD > self.delivered_tx {
                break;
            }
            self.sent_order.pop_front();
            if index < self.base || index >= self.next {
                continue;
            }
            let s = self.slot(index);
            let slot = &mut self.slots[s];
            // `slot.tx == tx`: this is the chunk's latest transmission.
            if !slot.acked && !slot.queued && slot.tx == tx {
                slot.queued = true;
                self.lost.push_back(index);
            }
        }
        outcome
    }

    /// When the retransmission timer runs out, if chunks are out.
    pub fn deadline(&self, rto: Duration) -> Option<Instant> {
        self.timer.map(|start| start + rto)
    }

    /// The timer ran out: the oldest unacknowledged chunk, to send again.
    /// Restarts the timer.
    pub fn expired(&mut self, now: Instant, rto: Duration) -> Option<u32> {
        match self.deadline(rto) {
            Some(deadline) if now >= deadline && self.base < self.next => {
                self.timer = Some(now);
                Some(self.base)
            }
            _ => None,
        }
    }

    /// Every chunk sent and acknowledged?
    pub fn finished(&self) -> bool {
        self.base == self.count
    }

    /// Bytes acknowledged so far.
    pub fn acked_bytes(&self) -> u64 {
        self.acked_bytes
    }
}

/// What became of one arriving chunk, at the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A chunk we did not have. `gap_opened`: it skipped over missing
    /// chunks. `gap_closed`: it filled the first gap and the window moved
    /// past chunks that came early.
    New { gap_opened: bool, gap_closed: bool },
    /// We already had it.
    Duplicate,
    /// Beyond the span: the sender may not send it yet.
    OutOfWindow,
    /// Not a chunk of this file at all.
    OutOfRange,
}

/// The receiver's window: chunks below `cumulative` are all in; of the
/// span of chunks from there on, one bit each says whether it is.
#[derive(Debug)]
pub struct RecvWindow {
    count: u32,
    span: u32,
    cumulative: u32,
    highest: Option<u32>,
    bits: Vec<u64>,
}

impl RecvWindow {
    /// For a transfer of `count` chunks with this window.
    pub fn new(count: u32, window: u32) -> RecvWindow {
        let span = window.max(1) * SPAN_PER_WINDOW;
        RecvWindow {
            count,
            span,
            cumulative: 0,
            highest: None,
            bits: vec![0; span as usize / 64 + 1],
        }
    }

    fn bit(&self, index: u32) -> (usize, u64) {
        let pos = (index % self.span) as usize;
        (pos / 64, 1 << (pos % 64))
    }

    fn has(&self, index: u32) -> bool {
        let (word, mask) = self.bit(index);
        self.bits[word] & mask != 0
    }

    /// Record chunk `index`.
    pub fn arrive(&mut self, index: u32) -> Arrival {
        if index >= self.count {
            return Arrival::OutOfRange;
        }
        if index < self.cumulative {
            return Arrival::Duplicate;
        }
        if u64::from(index) >= u64::from(self.cumulative) + u64::from(self.span) {
            return Arrival::OutOfWindow;
        }
        if self.has(index) {
            return Arrival::Duplicate;
        }
        let (word, mask) = self.bit(index);
        self.bits[word] |= mask;
        let gap_opened = match self.highest {
            Some(h) => index > h + 1,
            None => index > self.cumulative,
        };
        if self.highest.map_or(true, |h| index > h) {
            self.highest = Some(index);
        }
        while self.cumulative < self.count && self.has(self.cumulative) {
            let (word, mask) = self.bit(self.cumulative);
            self.bits[word] &= !mask;
            self.cumulative += 1;
        }
        let gap_closed = u64::from(self.cumulative) > u64::from(index) + 1;
        Arrival::New {
            gap_opened,
            gap_closed,
        }
    }

    /// Every chunk below this has arrived.
    pub fn cumulative(&self) -> u32 {
        self.cumulative
    }

    /// Every chunk has arrived.
    pub fn complete(&self) -> bool {
        self.cumulative == self.count
    }

    /// The selective part of an ACK, into `out`: one bit per chunk from
    /// `cumulative + 1` up to the highest one that arrived.
    pub fn selective(&self, out: &mut Vec<u8>) {
        out.clear();
        let Some(highest) = self.highest else { return };
        if highest <= self.cumulative {
            return;
        }
        let span = highest - self.cumulative; // chunks cumulative+1 ..= highest
        out.resize(span.div_euclid(8) as usize + 1, 0);
        for k in 0..span {
            if self.has(self.cumulative + 1 + k) {
                out[(k / 8) as usize] |= 0x80 >> (k % 8);
            }
        }
        while out.last() == Some(&0) {
            out.pop();
        }
    }
}

/// The retransmission timeout, from measured round trips (RFC 6298).
#[derive(Debug, Clone, Copy)]
pub struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
}

/// Before any measurement (the handshake) we wait this long.
pub const INITIAL_RTO: Duration = Duration::from_millis(200);
/// We never wait longer than this for one reply.
pub const MAX_RTO: Duration = Duration::from_secs(1);

impl Rtt {
    /// `min` is the floor (`--min-rto-ms`).
    pub fn new(min: Duration) -> Rtt {
        Rtt {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: INITIAL_RTO.max(min).min(MAX_RTO.max(min)),
            min,
        }
    }

    /// Take in one round-trip measurement.
    pub fn sample(&mut self, r: Duration) {
        let (srtt, rttvar) = match self.srtt {
            None => (r, r / 2),
            Some(srtt) => {
                let err = if srtt > r { srtt - r } else { r - srtt };
                ((srtt * 7 + r) / 8, (self.rttvar * 3 + err) / 4)
            }
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar;
        self.rto = (srtt + rttvar * 4).clamp(self.min, MAX_RTO.max(self.min));
    }

    /// A timeout fired: wait twice as long next time (until a new sample).
    pub fn backoff(&mut self) {
        self.rto = (self.rto * 2).min(MAX_RTO.max(self.min));
    }

    /// The current timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// The smoothed round-trip time, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A window over `count` full chunks of 10 bytes with every chunk that
    /// fits sent once.
    fn sent(count: u32, window: u32) -> (SendWindow, Instant) {
        let mut w = SendWindow::new(u64::from(count) * 10, 10, count, window);
        let t0 = Instant::now();
        while w.has_room() {
            let i = w.take_new();
            w.record_send(i, t0);
        }
        (w, t0)
    }

    #[test]
    fn chunk_lengths() {
        assert_eq!(chunk_len(2500, 1000, 0), 1000);
        assert_eq!(chunk_len(2500, 1000, 2), 500);
        assert_eq!(chunk_len(2500, 1000, 3), 0);
        assert_eq!(chunk_len(u64::MAX, 65_498, u32::MAX), 65_498);
    }

    #[test]
    fn cumulative_ack_slides_the_window() {
        let (mut w, t0) = sent(10, 4);
        assert!(!w.has_room());
        let out = w.on_ack(2, &[], t0 + 5 * MS);
        assert_eq!(out.newly, 2);
        assert_eq!(out.rtt, Some(5 * MS));
        assert!(w.has_room());
        assert_eq!(w.acked_bytes(), 20);
        assert_eq!(w.pop_lost(), None);
    }

    #[test]
    fn a_duplicate_ack_resends_nothing() {
        // The Sorcerer's Apprentice bug (RFC 1123 4.2.3.1): if a duplicate
        // ACK made the sender resend, every resend would answer with another
        // duplicate, for ever.
        let (mut w, t0) = sent(10, 4);
        assert_eq!(w.on_ack(1, &[], t0 + MS).newly, 1);
        for _ in 0..5 {
            let again = w.on_ack(1, &[], t0 + 2 * MS);
            assert_eq!(again, AckOutcome::default());
            assert_eq!(w.pop_lost(), None);
        }
    }

    #[test]
    fn selective_acks_reveal_a_loss_after_the_reorder_threshold() {
        let (mut w, t0) = sent(10, 8);
        // 0 lost; 1 and 2 arrived: could still be reordering.
        w.on_ack(0, &[0b1100_0000], t0 + MS);
        assert_eq!(w.pop_lost(), None);
        // 3 arrived too: 0 was overtaken by three later transmissions.
        let out = w.on_ack(0, &[0b1110_0000], t0 + MS);
        assert_eq!(out.newly, 1);
        assert_eq!(w.pop_lost(), Some(0));
        assert_eq!(w.pop_lost(), None);
        // Resent: not lost again until later transmissions overtake it.
        assert_eq!(w.record_send(0, t0 + 2 * MS), 2);
        w.on_ack(0, &[0b1111_0000], t0 + 3 * MS);
        assert_eq!(w.pop_lost(), None);
        // Its ACK gives no RTT sample (Karn), though it brings news.
        let out = w.on_ack(5, &[], t0 + 4 * MS);
        assert_eq!(out.newly, 1);
        assert_eq!(out.rtt, None);
    }

    #[test]
    fn acks_for_chunks_never_sent_are_ignored() {
        let (mut w, t0) = sent(10, 4);
        assert!(w.on_ack(9, &[], t0).bogus);
        assert_eq!(w.acked_bytes(), 0);
        // Bits past the last chunk sent are ignored too.
        let out = w.on_ack(0, &[0xff, 0xff], t0);
        assert_eq!(out.newly, 3);
    }

    #[test]
    fn the_timer_resends_the_oldest_chunk() {
        let (mut w, t0) = sent(10, 4);
        let rto = 20 * MS;
        assert_eq!(w.deadline(rto), Some(t0 + rto));
        assert_eq!(w.expired(t0 + 19 * MS, rto), None);
        assert_eq!(w.expired(t0 + 20 * MS, rto), Some(0));
        // Restarted: not again at once.
        assert_eq!(w.expired(t0 + 21 * MS, rto), None);
        w.on_ack(4, &[], t0 + 22 * MS);
        // All out acknowledged: no timer until the next send.
        assert_eq!(w.deadline(rto), None);
    }

    #[test]
    fn a_whole_transfer_finishes() {
        let mut w = SendWindow::new(25, 10, 3, 2);
        let t0 = Instant::now();
        let mut lens = Vec::new();
        while !w.finished() {
            while w.has_room() {
                let i = w.take_new();
                assert_eq!(w.offset(i), u64::from(i) * 10);
                lens.push(w.chunk_len(i));
                w.record_send(i, t0);
            }
            let c = lens.len() as u32;
            w.on_ack(c, &[], t0);
        }
        assert_eq!(lens, [10, 10, 5]);
        assert_eq!(w.acked_bytes(), 25);
    }

    #[test]
    fn the_span_lets_chunks_flow_past_a_lost_one() {
        // Window 2, span 8: chunk 0 is lost, yet chunks up to 7 may go out
        // while it is resent, two at a time.
        let (mut w, t0) = sent(100, 2);
        let mut sack = 0u8;
        for next in 2..8u32 {
            sack |= 0x80 >> (next - 2); // chunk next-1 arrived
            w.on_ack(0, &[sack], t0);
            assert!(w.has_room(), "room for chunk {next}");
            assert_eq!(w.take_new(), next);
            w.record_send(next, t0);
        }
        w.on_ack(0, &[0xff], t0);
        assert!(!w.has_room(), "chunk 8 is beyond the span");
        assert_eq!(w.pop_lost(), Some(0));
        w.record_send(0, t0);
        w.on_ack(8, &[], t0);
        assert!(w.has_room());
    }

    #[test]
    fn receiver_window_tracks_gaps_and_duplicates() {
        // Window 1: a span of 4 chunks.
        let mut r = RecvWindow::new(30, 1);
        assert_eq!(
            r.arrive(0),
            Arrival::New {
                gap_opened: false,
                gap_closed: false
            }
        );
        assert_eq!(r.arrive(0), Arrival::Duplicate);
        assert_eq!(
            r.arrive(2),
            Arrival::New {
                gap_opened: true,
                gap_closed: false
            }
        );
        assert_eq!(r.arrive(5), Arrival::OutOfWindow);
        assert_eq!(r.arrive(30), Arrival::OutOfRange);
        assert_eq!(r.arrive(u32::MAX), Arrival::OutOfRange);
        let mut sel = Vec::new();
        r.selective(&mut sel);
        assert_eq!(r.cumulative(), 1);
        assert_eq!(sel, [0b1000_0000]); // chunk 2 = cumulative + 1
        assert_eq!(
            r.arrive(1),
            Arrival::New {
                gap_opened: false,
                gap_closed: true
            }
        );
        assert_eq!(r.cumulative(), 3);
        r.selective(&mut sel);
        assert!(sel.is_empty());
        assert_eq!(r.arrive(2), Arrival::Duplicate);
        for i in 3..30 {
            assert!(matches!(r.arrive(i), Arrival::New { .. }));
        }
        assert!(r.complete());
    }

    #[test]
    fn receiver_window_bits_wrap_around() {
        let mut r = RecvWindow::new(1000, 1);
        // Groups of three, the highest first: every chunk lands in a bit
        // that an earlier one used.
        for base in (0..1000u32).step_by(3) {
            for j in (base..(base + 3).min(1000)).rev() {
                assert!(matches!(r.arrive(j), Arrival::New { .. }), "chunk {j}");
            }
        }
        assert!(r.complete());
    }

    #[test]
    fn rto_follows_the_measurements() {
        let mut rtt = Rtt::new(10 * MS);
        assert_eq!(rtt.rto(), INITIAL_RTO);
        rtt.sample(40 * MS);
        // SRTT 40, RTTVAR 20: RTO = 40 + 4 * 20.
        assert_eq!(rtt.rto(), 120 * MS);
        for _ in 0..50 {
            rtt.sample(MS);
        }
        assert_eq!(rtt.rto(), 10 * MS, "never below the floor");
        rtt.backoff();
        assert_eq!(rtt.rto(), 20 * MS);
        for _ in 0..20 {
            rtt.backoff();
        }
        assert_eq!(rtt.rto(), MAX_RTO);
    }
}
