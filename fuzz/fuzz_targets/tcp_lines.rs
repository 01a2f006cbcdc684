//! `--framing line` of tcp-server and tcp-threaded-server: the bytes of one
//! connection, cut into reads of any size, go through each server's
//! `read_one_line_at_most` as its connection loop drives it. A line handed
//! on never exceeds `--buffer-size` and holds no newline, the bytes kept
//! never exceed the limit by more than the one byte that says "too long",
//! and the lines and refusals are exactly those of a plain split on '\n'.
//!
//! Input: byte 0 picks the limit (1 to 64, small so that long lines are
//! common), byte 1 the sizes of the reads; the rest is the stream.
#![no_main]
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/tcp-server/src/main.rs"]
mod sequential;
#[path = "../../crates/tcp-threaded-server/src/main.rs"]
mod threaded;

/// What the client is sent for each line: its text, or "too long".
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Line(Vec<u8>),
    TooLong,
}

/// What one call of `read_one_line_at_most` says.
enum Outcome {
    Message,
    Partial,
    TooLong,
}

/// A stream whose reads return at most a few bytes each, the way TCP cuts a
/// byte stream into reads wherever it likes.
struct Chunky<'a> {
    data: &'a [u8],
    sizes: [usize; 3],
    turn: usize,
}

impl Read for Chunky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.turn % 3];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    let [limit, step, stream @ ..] = input else {
        return;
    };
    let limit = usize::from(limit % 64) + 1;
    let step = usize::from(*step);
    let sizes = [step % 17 + 1, 1, step / 17 + 1];
    let expected = split(stream, limit);
    let got = converse(
        stream,
        sizes,
        limit,
        |r, m, l| match sequential::read_one_line_at_most(r, m, l) {
            sequential::Incoming::Message => Outcome::Message,
            sequential::Incoming::Partial => Outcome::Partial,
            sequential::Incoming::TooLong => Outcome::TooLong,
            sequential::Incoming::Closed => unreachable!("it never says Closed"),
        },
    );
    assert_eq!(got, expected, "tcp-server, limit {limit}, reads {sizes:?}");
    let got = converse(
        stream,
        sizes,
        limit,
        |r, m, l| match threaded::read_one_line_at_most(r, m, l) {
            threaded::Incoming::Message => Outcome::Message,
            threaded::Incoming::Partial => Outcome::Partial,
            threaded::Incoming::TooLong => Outcome::TooLong,
            threaded::Incoming::Closed => unreachable!("it never says Closed"),
        },
    );
    assert_eq!(
        got, expected,
        "tcp-threaded-server, limit {limit}, reads {sizes:?}"
    );
});

/// The servers' `converse` and `receive` loops in line framing, without the
/// socket: fill the buffer (one read), take what the framing takes, and skip
/// the rest of a line that was refused. At the end of the stream an
/// unfinished line still counts.
fn converse(
    stream: &[u8],
    sizes: [usize; 3],
    limit: usize,
    mut read_line: impl FnMut(&mut BufReader<Chunky<'_>>, &mut Vec<u8>, usize) -> Outcome,
) -> Vec<Event> {
    let chunky = Chunky {
        data: stream,
        sizes,
        turn: 0,
    };
    // As the servers make it: the buffer holds `--buffer-size` bytes.
    let mut reader = BufReader::with_capacity(limit, chunky);
    let mut message = Vec::new();
    let mut skipping = false;
    let mut events = Vec::new();
    // Each call takes at least one byte, so this ends; the bound says so.
    for _ in 0..=2 * stream.len() + 2 {
        let received = reader.fill_buf().map(<[u8]>::len).unwrap_or(0);
        let outcome = if received == 0 {
            if message.is_empty() {
                return events;
            }
            Outcome::Message
        } else {
            let before = reader.buffer().len();
            let outcome = read_line(&mut reader, &mut message, limit);
            assert!(reader.buffer().len() < before, "nothing was taken");
            outcome
        };
        assert!(message.len() <= limit + 1, "{} bytes kept", message.len());
        match outcome {
            Outcome::Message if skipping => skipping = false,
            Outcome::Message => {
                assert!(message.len() <= limit, "a line of {} bytes", message.len());
                assert!(!message.contains(&b'\n'));
                events.push(Event::Line(message.clone()));
            }
            Outcome::TooLong => {
                assert_eq!(message.len(), limit + 1);
                if !skipping {
                    events.push(Event::TooLong);
                    skipping = true;
                }
            }
            Outcome::Partial => {
                assert!(!message.is_empty() && message.len() <= limit);
                continue;
            }
        }
        message.clear();
    }
    panic!("the loop did not end");
}

/// The same stream split on '\n' by the book: a line of at most `limit`
/// bytes (its '\r' included) is handed on without its "\r\n" or "\n"; a
/// longer one is refused once.
fn split(stream: &[u8], limit: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let (line, ended) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => (std::mem::take(&mut rest), false),
        };
        if line.len() > limit {
            events.push(Event::TooLong);
        } else if ended {
            events.push(Event::Line(
                line.strip_suffix(b"\r").unwrap_or(line).to_vec(),
            ));
        } else {
            events.push(Event::Line(line.to_vec()));
        }
    }
    events
}
