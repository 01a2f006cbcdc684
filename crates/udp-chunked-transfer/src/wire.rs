//! What the datagrams look like, byte by byte.
//!
//! Every number is big-endian ("network byte order"), as in the tutorial.
//!
//! ## `--protocol basic` (the tutorial's format)
//!
//! ```text
//! count header   [count: u32]                       exactly 4 bytes
//! chunk          [index: u32][data: 1..=chunk_size]  5 bytes or more
//! ```
//!
//! ## `--protocol reliable` (this lesson's; TFTP with RFC 7440 windows is the model)
//!
//! The first byte is an opcode; the transfer id, picked at random by the
//! sender, comes next in every datagram, so that datagrams of an old or a
//! foreign transfer are told apart at once.
//!
//! ```text
//! 1 HELLO   [1][version: u8][id][size: u64][chunk_size: u32][count: u32][window: u32]  26 bytes
//! 2 ACCEPT  [2][id][window: u32]                                                         9 bytes
//! 3 DATA    [3][id][index: u32][data]                                                    9 + data
//! 4 ACK     [4][id][cumulative: u32][selective bitmap]                                   9 + bitmap
//! 5 FIN     [5][id][crc32: u32]                                                          9 bytes
//! 6 DONE    [6][id][crc32: u32]                                                          9 bytes
//! 7 ERROR   [7][id][code: u8][message: UTF-8, at most 200 bytes]                         6 + message
//! ```
//!
//! An ACK says "I have every chunk below `cumulative`"; bit 7 (the high bit)
//! of the bitmap's first byte stands for chunk `cumulative + 1`, the next bit
//! for `cumulative + 2`, and so on: a set bit means "that one arrived too".
//! (Chunk `cumulative` itself is missing, or it would be counted.)
//!
//! Decoding checks every length before it reads, and never allocates: a
//! short, long or unknown datagram is an `Err`, never a panic.

use std::fmt;

use common::sockets::MAX_UDP_PAYLOAD;

use crate::window::{MAX_WINDOW, SPAN_PER_WINDOW};

/// Bytes in front of every chunk in `--protocol reliable`: an opcode (1),
/// the transfer id (4) and the chunk index (4).
pub const RELIABLE_HEADER: usize = 9;

/// Bytes in front of every chunk in `--protocol basic`: the index (4).
pub const BASIC_HEADER: usize = 4;

/// The largest chunk of `--protocol reliable`: a whole UDP datagram minus
/// the header.
pub const MAX_RELIABLE_CHUNK: usize = MAX_UDP_PAYLOAD - RELIABLE_HEADER;

/// The largest chunk of `--protocol basic`.
pub const MAX_BASIC_CHUNK: usize = MAX_UDP_PAYLOAD - BASIC_HEADER;

/// The version in HELLO. A receiver refuses any other.
pub const VERSION: u8 = 1;

const HELLO: u8 = 1;
const ACCEPT: u8 = 2;
const DATA: u8 = 3;
const ACK: u8 = 4;
const FIN: u8 = 5;
const DONE: u8 = 6;
const ERROR: u8 = 7;

const HELLO_LEN: usize = 26;
const SHORT_LEN: usize = 9;
const ERROR_HEADER: usize = 6;
/// The longest ERROR message we send or accept.
pub const MAX_MESSAGE: usize = 200;
/// The longest selective bitmap: one bit per chunk of the largest span.
pub const MAX_BITMAP: usize = (MAX_WINDOW * SPAN_PER_WINDOW) as usize / 8;

/// The handshake: everything the receiver must know before the first chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Names this transfer in every datagram.
    pub id: u32,
    /// File size in bytes.
    pub size: u64,
    /// Data bytes per chunk (the last chunk may be shorter).
    pub chunk_size: u32,
    /// Number of chunks: `size / chunk_size`, rounded up.
    pub count: u32,
    /// The window the sender would like.
    pub window: u32,
}

/// Why a transfer was refused or stopped, in an ERROR datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Over the receiver's `--max-size`.
    TooLarge,
    /// A HELLO that does not add up, or a version we do not speak.
    BadRequest,
    /// Ctrl+C on the other side.
    Interrupted,
    /// The other side heard nothing for too long.
    TimedOut,
    /// The file arrived but its CRC-32 differs from the sender's.
    ChecksumMismatch,
    /// The receiver cannot write the file.
    CannotWrite,
    /// The sender ran out of retries.
    GaveUp,
    /// A local error: a file that cannot be read, a socket error.
    Failed,
    /// A code this version does not know.
    Other(u8),
}

impl ErrorCode {
    /// The code on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            ErrorCode::TooLarge => 1,
            ErrorCode::BadRequest => 2,
            ErrorCode::Interrupted => 3,
            ErrorCode::TimedOut => 4,
            ErrorCode::ChecksumMismatch => 5,
            ErrorCode::CannotWrite => 6,
            ErrorCode::GaveUp => 7,
            ErrorCode::Failed => 8,
            ErrorCode::Other(b) => b,
        }
    }

    fn from_byte(b: u8) -> ErrorCode {
        match b {
            1 => ErrorCode::TooLarge,
            2 => ErrorCode::BadRequest,
            3 => ErrorCode::Interrupted,
            4 => ErrorCode::TimedOut,
            5 => ErrorCode::ChecksumMismatch,
            6 => ErrorCode::CannotWrite,
            7 => ErrorCode::GaveUp,
            8 => ErrorCode::Failed,
            other => ErrorCode::Other(other),
        }
    }
}

/// One decoded datagram of `--protocol reliable`. Borrowed slices point
/// into the receive buffer: decoding copies nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    Hello(Hello),
    Accept {
        id: u32,
        window: u32,
    },
    Data {
        id: u32,
        index: u32,
        data: &'a [u8],
    },
    Ack {
        id: u32,
        cumulative: u32,
        selective: &'a [u8],
    },
    Fin {
        id: u32,
        crc: u32,
    },
    Done {
        id: u32,
        crc: u32,
    },
    Error {
        id: u32,
        code: ErrorCode,
        message: &'a [u8],
    },
}

impl Packet<'_> {
    /// The transfer id every packet carries.
    pub fn id(&self) -> u32 {
        match *self {
            Packet::Hello(h) => h.id,
            Packet::Accept { id, .. }
            | Packet::Data { id, .. }
            | Packet::Ack { id, .. }
            | Packet::Fin { id, .. }
            | Packet::Done { id, .. }
            | Packet::Error { id, .. } => id,
        }
    }
}

/// Why a datagram could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    UnknownOpcode(u8),
    BadLength { opcode: u8, len: usize },
    BadVersion(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => write!(f, "an empty datagram"),
            DecodeError::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            DecodeError::BadLength { opcode, len } => {
                write!(f, "{len} bytes is the wrong length for opcode {opcode}")
            }
            DecodeError::BadVersion(v) => write!(f, "protocol version {v}, we speak {VERSION}"),
        }
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = buf.get(at..at + 4) {
        b.copy_from_slice(src);
    }
    u32::from_be_bytes(b)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = buf.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_be_bytes(b)
}

/// Decode one datagram of `--protocol reliable`.
pub fn decode(buf: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let Some(&opcode) = buf.first() else {
        return Err(DecodeError::Empty);
    };
    let len = buf.len();
    let bad = Err(DecodeError::BadLength { opcode, len });
    let id = u32_at(buf, 1);
    match opcode {
        HELLO => {
            if len != HELLO_LEN {
                return bad;
            }
            let version = buf.get(1).copied().unwrap_or_default();
            if version != VERSION {
                return Err(DecodeError::BadVersion(version));
            }
            Ok(Packet::Hello(Hello {
                id: u32_at(buf, 2),
                size: u64_at(buf, 6),
                chunk_size: u32_at(buf, 14),
                count: u32_at(buf, 18),
                window: u32_at(buf, 22),
            }))
        }
        ACCEPT | FIN | DONE if len != SHORT_LEN => bad,
        ACCEPT => Ok(Packet::Accept {
            id,
            window: u32_at(buf, 5),
        }),
        FIN => Ok(Packet::Fin {
            id,
            crc: u32_at(buf, 5),
        }),
        DONE => Ok(Packet::Done {
            id,
            crc: u32_at(buf, 5),
        }),
        DATA => match buf.get(RELIABLE_HEADER..) {
            Some(data) => Ok(Packet::Data {
                id,
                index: u32_at(buf, 5),
                data,
            }),
            None => bad,
        },
        ACK => match buf.get(SHORT_LEN..) {
            Some(selective) if selective.len() <= MAX_BITMAP => Ok(Packet::Ack {
                id,
                cumulative: u32_at(buf, 5),
                selective,
            }),
            _ => bad,
        },
        ERROR => match (buf.get(5), buf.get(ERROR_HEADER..)) {
            (Some(&code), Some(message)) if message.len() <= MAX_MESSAGE => Ok(Packet::Error {
                id,
                code: ErrorCode::from_byte(code),
                message,
            }),
            _ => bad,
        },
        other => Err(DecodeError::UnknownOpcode(other)),
    }
}

/// HELLO, ready to send.
pub fn hello(h: &Hello) -> [u8; HELLO_LEN] {
    let mut out = [0u8; HELLO_LEN];
    out[0] = HELLO;
    out[1] = VERSION;
    out[2..6].copy_from_slice(&h.id.to_be_bytes());
    out[6..14].copy_from_slice(&h.size.to_be_bytes());
    out[14..18].copy_from_slice(&h.chunk_size.to_be_bytes());
    out[18..22].copy_from_slice(&h.count.to_be_bytes());
    out[22..26].copy_from_slice(&h.window.to_be_bytes());
    out
}

fn short(opcode: u8, id: u32, value: u32) -> [u8; SHORT_LEN] {
    let mut out = [0u8; SHORT_LEN];
    out[0] = opcode;
    out[1..5].copy_from_slice(&id.to_be_bytes());
    out[5..9].copy_from_slice(&value.to_be_bytes());
    out
}

/// ACCEPT: the receiver takes the transfer, with this window.
pub fn accept(id: u32, window: u32) -> [u8; SHORT_LEN] {
    short(ACCEPT, id, window)
}

/// FIN: the sender has every chunk acknowledged; this is the file's CRC-32.
pub fn fin(id: u32, crc: u32) -> [u8; SHORT_LEN] {
    short(FIN, id, crc)
}

/// DONE: the receiver checked the CRC-32 and saved the file.
pub fn done(id: u32, crc: u32) -> [u8; SHORT_LEN] {
    short(DONE, id, crc)
}

/// Write a DATA header into the first [`RELIABLE_HEADER`] bytes of `buf`
/// (which the caller made at least that long).
pub fn data_header(buf: &mut [u8], id: u32, index: u32) {
    if let Some(head) = buf.get_mut(..RELIABLE_HEADER) {
        head[0] = DATA;
        head[1..5].copy_from_slice(&id.to_be_bytes());
        head[5..9].copy_from_slice(&index.to_be_bytes());
    }
}

/// ACK into `out` (cleared first): the cumulative count, then at most
/// [`MAX_BITMAP`] bytes of selective bitmap.
pub fn ack(out: &mut Vec<u8>, id: u32, cumulative: u32, selective: &[u8]) {
    out.clear();
    out.push(ACK);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&cumulative.to_be_bytes());
    out.extend_from_slice(&selective[..selective.len().min(MAX_BITMAP)]);
}

/// ERROR into `out` (cleared first); the message is cut to
/// [`MAX_MESSAGE`] bytes at a character boundary.
pub fn error(out: &mut Vec<u8>, id: u32, code: ErrorCode, message: &str) {
    let mut end = message.len().min(MAX_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    out.clear();
    out.push(ERROR);
    out.extend_from_slice(&id.to_be_bytes());
    out.push(code.to_byte());
    out.extend_from_slice(&message.as_bytes()[..end]);
}

/// One decoded datagram of `--protocol basic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basic<'a> {
    /// The first datagram: how many chunks follow.
    Count(u32),
    /// One chunk: its index, then its data.
    Chunk { index: u32, data: &'a [u8] },
}

/// Decode a datagram of `--protocol basic`. Exactly 4 bytes is the count
/// header; more is a chunk (every chunk holds at least one byte); less is
/// nothing we know.
pub fn decode_basic(buf: &[u8]) -> Option<Basic<'_>> {
    match buf.len() {
        BASIC_HEADER => Some(Basic::Count(u32_at(buf, 0))),
        n if n > BASIC_HEADER => Some(Basic::Chunk {
            index: u32_at(buf, 0),
            data: &buf[BASIC_HEADER..],
        }),
        _ => None,
    }
}

/// The count header of `--protocol basic`.
pub fn basic_count(count: u32) -> [u8; BASIC_HEADER] {
    count.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_limits_fill_one_datagram() {
        assert_eq!(MAX_RELIABLE_CHUNK, 65_498);
        assert_eq!(MAX_BASIC_CHUNK, 65_503);
    }

    #[test]
    fn every_packet_round_trips() {
        let h = Hello {
            id: 0xdead_beef,
            size: 5_000_000_000,
            chunk_size: 1024,
            count: 4_882_813,
            window: 512,
        };
        assert_eq!(decode(&hello(&h)), Ok(Packet::Hello(h)));
        assert_eq!(
            decode(&accept(7, 64)),
            Ok(Packet::Accept { id: 7, window: 64 })
        );
        assert_eq!(decode(&fin(7, 99)), Ok(Packet::Fin { id: 7, crc: 99 }));
        assert_eq!(decode(&done(7, 99)), Ok(Packet::Done { id: 7, crc: 99 }));

        let mut buf = vec![0u8; RELIABLE_HEADER + 3];
        data_header(&mut buf, 7, 4_000_000_000);
        buf[RELIABLE_HEADER..].copy_from_slice(b"abc");
        assert_eq!(
            decode(&buf),
            Ok(Packet::Data {
                id: 7,
                index: 4_000_000_000,
                data: b"abc"
            })
        );

        let mut out = Vec::new();
        ack(&mut out, 7, 10, &[0b1010_0000]);
        assert_eq!(
            decode(&out),
            Ok(Packet::Ack {
                id: 7,
                cumulative: 10,
                selective: &[0b1010_0000]
            })
        );
        error(&mut out, 7, ErrorCode::TooLarge, "too big");
        let p = decode(&out).unwrap();
        assert_eq!(
            p,
            Packet::Error {
                id: 7,
                code: ErrorCode::TooLarge,
                message: b"too big"
            }
        );
        assert_eq!(p.id(), 7);
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[99, 1, 2]), Err(DecodeError::UnknownOpcode(99)));
        // Every prefix of every packet, and every length from 0 to 40 of
        // every opcode: decode must answer, not panic.
        for op in 0..=255u8 {
            for len in 0..40 {
                let mut buf = vec![0xffu8; len];
                if let Some(b) = buf.first_mut() {
                    *b = op;
                }
                let _ = decode(&buf);
            }
        }
        let h = hello(&Hello {
            id: 1,
            size: 1,
            chunk_size: 1,
            count: 1,
            window: 1,
        });
        for cut in 0..h.len() {
            assert!(decode(&h[..cut]).is_err(), "HELLO cut to {cut} bytes");
        }
        let mut long = h.to_vec();
        long.push(0);
        assert!(decode(&long).is_err());
        let mut v2 = h;
        v2[1] = 2;
        assert_eq!(decode(&v2), Err(DecodeError::BadVersion(2)));
        assert!(decode(&accept(1, 1)[..8]).is_err());
        // A DATA header with no room for the index.
        assert!(decode(&[DATA, 0, 0, 0, 1, 0, 0]).is_err());
        // An ACK with a bitmap longer than any window.
        let mut out = vec![ACK, 0, 0, 0, 1, 0, 0, 0, 0];
        out.resize(SHORT_LEN + MAX_BITMAP + 1, 0xff);
        assert!(decode(&out).is_err());
    }

    #[test]
    fn error_messages_are_cut_at_a_character() {
        let mut out = Vec::new();
        let long = "é".repeat(300);
        error(&mut out, 1, ErrorCode::Other(42), &long);
        let Ok(Packet::Error { code, message, .. }) = decode(&out) else {
            panic!("not an ERROR");
        };
        assert_eq!(code, ErrorCode::Other(42));
        assert!(message.len() <= MAX_MESSAGE);
        assert!(std::str::from_utf8(message).is_ok());
    }

    #[test]
    fn basic_format_is_the_tutorials() {
        assert_eq!(basic_count(3), [0, 0, 0, 3]);
        assert_eq!(decode_basic(&[0, 0, 1, 0]), Some(Basic::Count(256)));
        assert_eq!(
            decode_basic(&[0, 0, 0, 2, b'h', b'i']),
            Some(Basic::Chunk {
                index: 2,
                data: b"hi"
            })
        );
        assert_eq!(decode_basic(&[0, 0, 1]), None);
        assert_eq!(decode_basic(&[]), None);
    }
}
