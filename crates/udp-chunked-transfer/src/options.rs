//! Options of `udp-chunked-transfer`: the `send` and `receive` subcommands.
//!
//! Both sides share `--protocol`, `--chunk-size` and the lossy-link
//! simulator flags. The sender's defaults reach the receiver's defaults, so
//! `udp-chunked-transfer receive --out copy.bin` in one terminal and
//! `udp-chunked-transfer send file.bin` in another is a whole transfer.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use common::cli::{self, Flag, Spec};
use common::options::{DEFAULT_HOST, HOST, IPV6_ONLY};

use crate::window::MAX_WINDOW;
use crate::wire::{MAX_BASIC_CHUNK, MAX_RELIABLE_CHUNK};

/// The receiver's port. The UDP lessons use 6532; this lesson sits a little
/// above so both can run at once.
const RECEIVER_PORT: u16 = 6540;

/// How the file travels: `--protocol`. (Not `Protocol`, which would clash
/// with socket2's `Transfer::UDP` in the same files.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfer {
    /// A handshake, a sliding window, acknowledgements, retransmission and an
    /// end-to-end checksum: survives loss, reordering and duplication.
    #[default]
    Reliable,
    /// The tutorial's format: a 4-byte chunk count, then `index + data` per
    /// chunk, sent as fast as possible. No recovery at all.
    Basic,
    /// A plain TCP copy of the same file, as the yardstick.
    Tcp,
}

impl Transfer {
    /// The names `--protocol` accepts.
    pub const NAMES: &'static str = "reliable | basic | tcp";
}

impl FromStr for Transfer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reliable" => Ok(Transfer::Reliable),
            "basic" => Ok(Transfer::Basic),
            "tcp" => Ok(Transfer::Tcp),
            _ => Err(format!("expected one of {}", Transfer::NAMES)),
        }
    }
}

impl fmt::Display for Transfer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transfer::Reliable => "reliable",
            Transfer::Basic => "basic",
            Transfer::Tcp => "tcp",
        })
    }
}

/// A byte count with an optional binary suffix: `1000`, `64K`, `10M`, `2G`
/// (K = 1024). It prints with the largest suffix that divides it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || "expected a byte count such as 5000, 64K, 10M or 2G".to_string();
        let (digits, shift) = match s.char_indices().last() {
            Some((at, 'k' | 'K')) => (&s[..at], 10),
            Some((at, 'm' | 'M')) => (&s[..at], 20),
            Some((at, 'g' | 'G')) => (&s[..at], 30),
            _ => (s, 0),
        };
        let n: u64 = digits.parse().map_err(|_| err())?;
        n.checked_mul(1 << shift).map(ByteSize).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match [(30, 'G'), (20, 'M'), (10, 'K')]
            .into_iter()
            .find(|&(shift, _)| n != 0 && n % (1 << shift) == 0)
        {
            Some((shift, suffix)) => write!(f, "{}{suffix}", n >> shift),
            None => write!(f, "{n}"),
        }
    }
}

/// The lossy-link simulator: what happens to the datagrams this side sends.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Simulation {
    /// Chance that a datagram is never sent.
    pub loss: f64,
    /// Chance that a datagram is sent twice.
    pub duplicate: f64,
    /// Chance that a datagram is held back and sent after the next one.
    pub reorder: f64,
    /// The seed of the simulator's random numbers: the same seed makes the
    /// same choices.
    pub seed: u64,
}

impl Simulation {
    /// Whether any of the three chances is above zero.
    pub fn active(&self) -> bool {
        self.loss > 0.0 || self.duplicate > 0.0 || self.reorder > 0.0
    }
}

/// The flags of `send`.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The file to send.
    pub file: PathBuf,
    /// Where the receiver listens.
    pub receiver: SocketAddr,
    pub protocol: Transfer,
    /// Data bytes per datagram.
    pub chunk_size: usize,
    /// `reliable`: most chunks sent and not yet acknowledged.
    pub window: u32,
    /// `reliable`: how often one datagram is resent before giving up.
    pub retries: u32,
    /// `reliable`: the floor of the retransmission timeout.
    pub min_rto: Duration,
    pub simulation: Simulation,
}

/// The flags of `receive`.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// Where the file goes once it is complete and verified.
    pub out: PathBuf,
    /// Where to bind.
    pub addr: SocketAddr,
    /// IPV6_V6ONLY for an IPv6 `addr`: `--ipv6-only`.
    pub ipv6_only: bool,
    pub protocol: Transfer,
    /// `basic`: the chunk size the sender uses (the format does not say).
    pub chunk_size: usize,
    /// Refuse files larger than this.
    pub max_size: u64,
    /// Give up when the sender is silent this long during a transfer.
    pub timeout: Duration,
    pub simulation: Simulation,
}

/// Which subcommand, with its options.
#[derive(Debug, Clone)]
pub enum Command {
    Send(SendOptions),
    Receive(ReceiveOptions),
}

const PROTOCOL: Flag<Transfer> =
    Flag::with_default("protocol", "NAME", Transfer::Reliable, Transfer::NAMES);
const CHUNK: Flag<usize> = Flag::with_default(
    "chunk-size",
    "BYTES",
    1024,
    "data bytes per datagram (reliable: 1-65498, basic: 1-65503)",
);
const LOSS: Flag<f64> = Flag::with_default(
    "simulate-loss",
    "P",
    0.0,
    "drop this fraction (0-1) of the datagrams this side sends",
);
const DUPLICATE: Flag<f64> = Flag::with_default(
    "simulate-duplicate",
    "P",
    0.0,
    "send this fraction (0-1) of datagrams twice",
);
const REORDER: Flag<f64> = Flag::with_default(
    "simulate-reorder",
    "P",
    0.0,
    "hold back this fraction (0-1) of datagrams until after the next one",
);
const SEED: Flag<u64> = Flag::with_default(
    "seed",
    "N",
    1,
    "seed of the simulator: the same seed drops the same datagrams",
);

const RECEIVER_HOST: Flag<&str> = Flag::with_default(
    "host",
    "HOST",
    DEFAULT_HOST,
    "the receiver's address or name",
);
const RECEIVER: Flag<u16> =
    Flag::with_default("port", "PORT", RECEIVER_PORT, "the receiver's port");
const WINDOW: Flag<u32> = Flag::with_default(
    "window",
    "N",
    512,
    "reliable: most chunks sent and not yet acknowledged (1-4096); the receiver may \
     grant fewer, as many as its socket buffer holds (see net.core.rmem_max)",
);
const RETRIES: Flag<u32> = Flag::with_default(
    "retries",
    "N",
    10,
    "reliable: resend one datagram at most this often, then give up (1-100)",
);
const MIN_RTO: Flag<u64> = Flag::with_default(
    "min-rto-ms",
    "MS",
    20,
    "reliable: the shortest retransmission timeout (1-10000)",
);

static SEND: Spec = Spec {
    name: "send",
    about: "send FILE to a receiver, chunk by chunk",
    positionals: &["FILE"],
    flags: &[
        &RECEIVER_HOST,
        &RECEIVER,
        &PROTOCOL,
        &CHUNK,
        &WINDOW,
        &RETRIES,
        &MIN_RTO,
        &LOSS,
        &DUPLICATE,
        &REORDER,
        &SEED,
    ],
    examples: &[
        "udp-chunked-transfer send photo.jpg",
        "udp-chunked-transfer send big.bin --chunk-size 65498 --window 64",
        "udp-chunked-transfer send big.bin --simulate-loss 0.1 --seed 7",
        "udp-chunked-transfer send notes.txt --protocol basic --port 6541",
    ],
};

const OUT: Flag<String> = Flag::optional(
    "out",
    "FILE",
    "where to write the file (required); nothing appears there unless it is complete",
);
const PORT: Flag<u16> = Flag::with_default(
    "port",
    "PORT",
    RECEIVER_PORT,
    "port to listen on; 0 picks any free port",
);
const BASIC_CHUNK: Flag<usize> = Flag::with_default(
    "chunk-size",
    "BYTES",
    1024,
    "basic only: the sender's chunk size (basic datagrams do not carry it)",
);
const MAX_SIZE: Flag<ByteSize> = Flag::with_default(
    "max-size",
    "BYTES",
    ByteSize(1 << 30),
    "refuse a file larger than this (suffixes K, M, G)",
);
const TIMEOUT: Flag<u64> = Flag::with_default(
    "timeout-ms",
    "MS",
    10_000,
    "give up when the sender is silent this long mid-transfer",
);

static RECEIVE: Spec = Spec {
    name: "receive",
    about: "wait for one file, write it to --out, exit",
    positionals: &[],
    flags: &[
        &OUT,
        &HOST,
        &IPV6_ONLY,
        &PORT,
        &PROTOCOL,
        &BASIC_CHUNK,
        &MAX_SIZE,
        &TIMEOUT,
        &LOSS,
        &DUPLICATE,
        &REORDER,
        &SEED,
    ],
    examples: &[
        "udp-chunked-transfer receive --out copy.bin",
        "udp-chunked-transfer receive --out copy.bin --port 0 --max-size 10M",
        "udp-chunked-transfer receive --out copy.bin --simulate-loss 0.1   # lose ACKs",
        "udp-chunked-transfer receive --out notes.txt --protocol basic --port 6541",
    ],
};

/// Parse the command line: `send FILE ...` or `receive --out FILE ...`.
/// Exits 2 on a usage mistake.
pub fn parse() -> Command {
    let (spec, m) = cli::parse_subcommand(
        "udp-chunked-transfer",
        "move a file over UDP in chunks, first the tutorial's way, then reliably",
        &[&SEND, &RECEIVE],
    );
    let protocol = m.get(&PROTOCOL);
    let max_chunk = match protocol {
        Transfer::Basic => MAX_BASIC_CHUNK,
        Transfer::Reliable | Transfer::Tcp => MAX_RELIABLE_CHUNK,
    };
    let simulation = Simulation {
        loss: m.get_in(&LOSS, 0.0..=1.0),
        duplicate: m.get_in(&DUPLICATE, 0.0..=1.0),
        reorder: m.get_in(&REORDER, 0.0..=1.0),
        seed: m.get(&SEED),
    };
    if spec.name == SEND.name {
        Command::Send(SendOptions {
            file: PathBuf::from(m.positionals().first().cloned().unwrap_or_default()),
            receiver: m.server_addr(&RECEIVER_HOST, &RECEIVER),
            protocol,
            chunk_size: m.get_in(&CHUNK, 1..=max_chunk),
            window: m.get_in(&WINDOW, 1..=MAX_WINDOW),
            retries: m.get_in(&RETRIES, 1..=100),
            min_rto: Duration::from_millis(m.get_in(&MIN_RTO, 1..=10_000)),
            simulation,
        })
    } else {
        let Some(out) = m.opt(&OUT).map(PathBuf::from) else {
            cli::usage_error("missing --out FILE: where should the received file go?")
        };
        let max_size = m.get(&MAX_SIZE);
        let addr = m.socket_addr(&HOST, &PORT);
        Command::Receive(ReceiveOptions {
            out,
            addr,
            ipv6_only: m.ipv6_only(&IPV6_ONLY, addr),
            protocol,
            chunk_size: m.get_in(&BASIC_CHUNK, 1..=max_chunk),
            max_size: max_size.0,
            timeout: Duration::from_millis(m.get_in(&TIMEOUT, 1..=3_600_000)),
            simulation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!("1000".parse(), Ok(ByteSize(1000)));
        assert_eq!("64K".parse(), Ok(ByteSize(65_536)));
        assert_eq!("10m".parse(), Ok(ByteSize(10 << 20)));
        assert_eq!("1G".parse(), Ok(ByteSize(1 << 30)));
        assert!("".parse::<ByteSize>().is_err());
        assert!("K".parse::<ByteSize>().is_err());
        assert!("-5".parse::<ByteSize>().is_err());
        assert!("99999999999999999999G".parse::<ByteSize>().is_err());
        assert!("20000000000G".parse::<ByteSize>().is_err());
        for shown in ["1G", "10M", "64K", "1000", "0", "1536K"] {
            assert_eq!(shown.parse::<ByteSize>().unwrap().to_string(), shown);
        }
    }

    #[test]
    fn protocols_round_trip() {
        for name in ["reliable", "basic", "tcp"] {
            assert_eq!(name.parse::<Transfer>().unwrap().to_string(), name);
        }
        assert!("quic".parse::<Transfer>().is_err());
    }
}
