//! `--protocol reliable`, what both sides share: [`Link`], one end of one
//! transfer (the socket, the peer, the transfer id, the simulator, the
//! counters), and [`Stop`], why a transfer ended early.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{sockets, StopSignal};
use log::debug;

use crate::sim::{Fate, Simulator};
use crate::transmit;
use crate::wire::{self, ErrorCode};

/// Why a reliable transfer stopped early.
#[derive(Debug)]
pub enum Stop {
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
pub struct Counters {
    pub retransmissions: u64,
    pub duplicates: u64,
    pub ignored: u64,
}

/// One side of one reliable transfer: the socket, the other side's
/// address, the transfer id, and what the steps below share.
pub struct Link<'a> {
    pub socket: UdpSocket,
    pub peer: SocketAddr,
    pub id: u32,
    pub sim: Simulator,
    pub counters: Counters,
    /// Big enough for any datagram.
    pub buf: Vec<u8>,
    pub shutdown: &'a StopSignal,
}

impl Link<'_> {
    /// send_to() the peer, through the simulator.
    pub fn send(&mut self, datagram: &[u8]) -> io::Result<Fate> {
        transmit(&self.socket, datagram, self.peer, &mut self.sim)
    }

    /// Tell the peer why we stop. Sent straight, not through the simulator,
    /// so that a simulated loss never hides the reason.
    pub fn tell(&self, stop: &Stop) {
        if let Stop::Here(code, message) = stop {
            let mut out = Vec::new();
            wire::error(&mut out, self.id, *code, message);
            // send_to(): the ERROR, once; if it is lost, the peer times out.
            if let Err(e) = self.socket.send_to(&out, self.peer) {
                debug!("could not send ERROR to {}: {e}", self.peer);
            }
        }
    }

    /// What a failed recv_from() means. On Windows, after a datagram of ours
    /// met a closed port (ICMP "port unreachable"), the next recv_from()
    /// fails with a connection reset: nothing is listening at the peer's
    /// address. Linux and macOS say nothing; there the peer times out.
    /// Retrying would only hear the same answer, so the transfer ends.
    pub fn receive_error(&self, e: io::Error) -> Stop {
        if sockets::is_port_unreachable(&e) {
            Stop::There(format!(
                "nothing is listening at {} (its machine answered \"port unreachable\"): \
                 is the other side running, on that address and port?",
                self.peer
            ))
        } else {
            e.into()
        }
    }

    /// Wait until `deadline` for a datagram from the peer, into `buf`; its
    /// length, or `None` at the deadline. Datagrams from any other address
    /// are ignored.
    pub fn recv_until(&mut self, deadline: Instant) -> std::result::Result<Option<usize>, Stop> {
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
            let wait = left.clamp(Duration::from_millis(1), sockets::POLL_INTERVAL);
            // SO_RCVTIMEO: wake up by the deadline, or to notice Ctrl+C.
            self.socket.set_read_timeout(Some(wait))?;
            // recv_from(): the reply, or anybody else's datagram.
            match self.socket.recv_from(&mut self.buf) {
                Ok((len, from)) if from == self.peer => return Ok(Some(len)),
                Ok((_, from)) => {
                    self.counters.ignored += 1;
                    debug!("{from}: not the receiver: ignored");
                }
                Err(e) if sockets::is_timeout(&e) => {}
                Err(e) => return Err(self.receive_error(e)),
            }
        }
    }
}
