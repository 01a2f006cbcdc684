//! UDP clients: send a datagram, wait for the reply with a timeout, resend a
//! bounded number of times. A lost datagram costs one timeout and is counted;
//! it never hangs a client.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use super::{fill_request, Load, Tally, Work};

/// Run `load` against a UDP server; `retries` resends per request at most.
pub fn run(load: &Load, retries: u32) -> super::Report {
    super::run("udp", load, |i, work| client(i, work, load, retries))
}

fn client(index: usize, work: &Work, load: &Load, retries: u32) -> Tally {
    let mut tally = Tally::default();
    let socket = match open(load) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("client {index}: cannot open a UDP socket: {e}");
            tally.errors += 1;
            return tally;
        }
    };
    let mut request = Vec::with_capacity(load.size.max(32));
    let mut reply = vec![0u8; 65_536];
    while let Some(seq) = work.take() {
        fill_request(&mut request, index, seq, load.size);
        let start = Instant::now();
        let mut answered = false;
        for attempt in 0..=retries {
            if attempt > 0 {
                tally.resends += 1;
            }
            if socket.send(&request).is_err() {
                // ECONNREFUSED from an earlier ICMP "port unreachable": the
                // server is not there (yet). Count it and move on.
                break;
            }
            if wait_reply(&socket, load, &request, &mut reply) {
                answered = true;
                break;
            }
        }
        if answered {
            tally.answered(start);
        } else {
            tally.errors += 1;
        }
    }
    tally
}

/// A socket on loopback, connected to the server so that `recv` only takes
/// datagrams from it.
fn open(load: &Load) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(load.addr.ip(), 0))?;
    socket.connect(load.addr)?;
    socket.set_read_timeout(Some(load.timeout))?;
    Ok(socket)
}

/// Wait up to `load.timeout` for the reply to `request`, skipping late
/// replies to earlier requests. `false` on timeout or error.
fn wait_reply(socket: &UdpSocket, load: &Load, request: &[u8], reply: &mut [u8]) -> bool {
    let deadline = Instant::now() + load.timeout;
    let mut shortened = false;
    let answered = loop {
        match socket.recv(reply) {
            Ok(n) => {
                if load
                    .check
                    .matches(request, reply.get(..n).unwrap_or_default())
                {
                    break true;
                }
                // A stale reply (we resent, and both answers came). Keep
                // waiting, but not past this attempt's deadline.
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
                    break false;
                }
                shortened = true;
            }
            Err(_) => break false,
        }
    };
    if shortened {
        let _ = socket.set_read_timeout(Some(load.timeout));
    }
    answered
}
