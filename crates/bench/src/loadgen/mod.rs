//! The load generator: N client threads in a closed loop (each sends one
//! request, waits for its reply, sends the next), stopped by a request count
//! or a deadline, whichever comes first.
//!
//! A closed loop keeps exactly `clients` requests in flight, which is what
//! Little's law needs: throughput = requests in flight / time per request.
//! With 32 clients and a server that takes 10 ms per request, a server that
//! works on all of them at once can reach 3,200 requests per second, one that
//! works on them one at a time only 100.
//!
//! The result is one line of `key=value` pairs on stdout, for scripts:
//!
//! ```text
//! udp clients=8 requests=81234 errors=0 resends=0 seconds=1.001 rps=81153.8 p50_us=95 p99_us=240
//! ```

pub mod ctrlc;
pub mod tcp;
pub mod udp;

use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::quantile;

/// What a run asks for. Shared by the UDP and TCP clients.
#[derive(Debug, Clone)]
pub struct Load {
    /// The server (always a loopback address).
    pub addr: SocketAddr,
    /// How many client threads, each with one request in flight.
    pub clients: usize,
    /// Stop after this many requests in total...
    pub requests: u64,
    /// ...or when this much time has passed, whichever comes first.
    pub duration: Duration,
    /// How long to wait for one reply.
    pub timeout: Duration,
    /// Bytes in each request.
    pub size: usize,
    /// How to tell that a reply belongs to the request.
    pub check: Check,
}

/// How a client recognises the reply to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The reply ends with the request (`--reply echo` answers `Echo: X`,
    /// a bare echo answers `X`). Requests carry a sequence number, so a late
    /// reply to an earlier request is told apart and skipped.
    Echo,
    /// Any reply will do (`--reply received`).
    Any,
}

impl std::str::FromStr for Check {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "echo" => Ok(Check::Echo),
            "any" => Ok(Check::Any),
            _ => Err("expected echo or any".to_string()),
        }
    }
}

impl Check {
    /// Does `reply` answer `request`? Trailing newlines are ignored, so line
    /// framing and raw framing are checked alike.
    pub fn matches(self, request: &[u8], reply: &[u8]) -> bool {
        match self {
            Check::Any => !reply.is_empty(),
            Check::Echo => trim_newline(reply).ends_with(trim_newline(request)),
        }
    }
}

fn trim_newline(mut bytes: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = bytes {
        bytes = rest;
    }
    bytes
}

/// What one client thread counted.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests answered correctly.
    pub ok: u64,
    /// Requests that got no (right) answer: timeouts after every resend,
    /// refused or reset connections, busy replies.
    pub errors: u64,
    /// UDP only: datagrams sent again after a timeout.
    pub resends: u64,
    /// TCP only: connections opened.
    pub connects: u64,
    /// Microseconds from first send to the right reply, one per `ok`.
    pub latencies_us: Vec<u32>,
}

impl Tally {
    /// Count one answered request that took `since.elapsed()`.
    pub fn answered(&mut self, since: Instant) {
        self.ok += 1;
        let us = u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.latencies_us.push(us);
    }
}

/// The result of a whole run.
#[derive(Debug)]
pub struct Report {
    pub kind: &'static str,
    pub clients: usize,
    pub tally: Tally,
    pub elapsed: Duration,
}

impl Report {
    /// Answered requests per second of wall time.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.tally.ok as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tally;
        write!(
            f,
            "{} clients={} requests={} errors={} resends={} connects={} seconds={:.3} rps={:.1} p50_us={} p99_us={}",
            self.kind,
            self.clients,
            t.ok,
            t.errors,
            t.resends,
            t.connects,
            self.elapsed.as_secs_f64(),
            self.rps(),
            quantile(&t.latencies_us, 0.5),
            quantile(&t.latencies_us, 0.99),
        )
    }
}

/// Hands out request numbers until the count or the deadline runs out.
#[derive(Debug)]
pub struct Work {
    next: AtomicU64,
    limit: u64,
    deadline: Instant,
}

impl Work {
    fn new(load: &Load, start: Instant) -> Work {
        Work {
            next: AtomicU64::new(0),
            limit: load.requests,
            deadline: start + load.duration,
        }
    }

    /// The number of the next request to send, or `None` when the run is over.
    pub fn take(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.limit).then_some(n)
    }

    /// When the run stops handing out work.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// Run `client` on `load.clients` threads and add up what they counted.
/// Each thread gets its index and the shared [`Work`]; the run's time is
/// from the start until the last thread has its last reply (a closed loop
/// drains: requests in flight at the deadline still count, and so does the
/// time they take).
pub fn run<F>(kind: &'static str, load: &Load, client: F) -> Report
where
    F: Fn(usize, &Work) -> Tally + Sync,
{
    let start = Instant::now();
    let work = Work::new(load, start);
    let tallies: Vec<Tally> = thread::scope(|scope| {
        let handles: Vec<_> = (0..load.clients)
            .map(|i| {
                let client = &client;
                let work = &work;
                scope.spawn(move || client(i, work))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Tally {
                    errors: 1,
                    ..Tally::default()
                })
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let mut total = Tally::default();
    for t in tallies {
        total.ok += t.ok;
        total.errors += t.errors;
        total.resends += t.resends;
        total.connects += t.connects;
        total.latencies_us.extend(t.latencies_us);
    }
    total.latencies_us.sort_unstable();
    Report {
        kind,
        clients: load.clients,
        tally: total,
        elapsed,
    }
}

/// Write request number `seq` of client `client` into `buf`: the numbers,
/// then `.` up to `size` bytes. No allocation: the load generator shares the
/// CPU with the server it measures, so it must stay cheap.
pub fn fill_request(buf: &mut Vec<u8>, client: usize, seq: u64, size: usize) {
    buf.clear();
    let _ = write!(buf, "c{client} r{seq} ");
    while buf.len() < size {
        buf.push(b'.');
    }
}

#[cfg(test)]
mod tests {
    use super::tcp::{Framing, TcpMode};
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, UdpSocket};

    fn load(addr: SocketAddr, clients: usize) -> Load {
        Load {
            addr,
            clients,
            requests: 500,
            duration: Duration::from_secs(5),
            timeout: Duration::from_millis(500),
            size: 32,
            check: Check::Echo,
        }
    }

    /// An echo thread that answers `Echo: ` + the datagram, like
    /// `udp-server --reply echo`, and drops every 10th datagram so resends
    /// are exercised. It stops after `count` datagrams or 10 s.
    fn lossy_udp_echo(count: usize) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 2048];
            for i in 0..count {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    return;
                };
                if i % 10 == 9 {
                    continue;
                }
                let mut reply = b"Echo: ".to_vec();
                reply.extend_from_slice(&buf[..n]);
                socket.send_to(&reply, peer).unwrap();
            }
        });
        addr
    }

    #[test]
    fn udp_counts_answers_and_resends_lost_datagrams() {
        let addr = lossy_udp_echo(10_000);
        let mut l = load(addr, 4);
        l.timeout = Duration::from_millis(50);
        let report = udp::run(&l, 3);
        assert_eq!(report.tally.ok, 500, "{report}");
        assert_eq!(report.tally.errors, 0, "{report}");
        assert!(report.tally.resends >= 40, "{report}");
        assert_eq!(report.tally.latencies_us.len(), 500);
    }

    #[test]
    fn udp_without_a_server_ends_with_errors_not_a_hang() {
        // Bind and drop: nothing listens on this port any more.
        let addr = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut l = load(addr, 2);
        l.requests = 4;
        l.timeout = Duration::from_millis(50);
        let started = Instant::now();
        let report = udp::run(&l, 1);
        assert_eq!(report.tally.ok, 0);
        assert_eq!(report.tally.errors, 4);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// A threaded TCP echo that serves `conns` connections, then stops.
    fn tcp_echo(conns: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().take(conns) {
                let mut stream = stream.unwrap();
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = stream.read(&mut buf) {
                        if stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn tcp_persistent_uses_one_connection_per_client() {
        let addr = tcp_echo(3);
        let mode = TcpMode {
            framing: Framing::Line,
            per_request_connect: false,
        };
        let report = tcp::run(&load(addr, 3), mode);
        assert_eq!(report.tally.ok, 500, "{report}");
        assert_eq!(report.tally.connects, 3, "{report}");
        assert_eq!(report.tally.errors, 0, "{report}");
    }

    #[test]
    fn tcp_per_request_connects_every_time() {
        let addr = tcp_echo(100);
        let mode = TcpMode {
            framing: Framing::Raw,
            per_request_connect: true,
        };
        let mut l = load(addr, 2);
        l.requests = 100;
        let report = tcp::run(&l, mode);
        assert_eq!(report.tally.ok, 100, "{report}");
        assert_eq!(report.tally.connects, 100, "{report}");
    }

    #[test]
    fn the_deadline_stops_a_run() {
        let addr = lossy_udp_echo(usize::MAX);
        let mut l = load(addr, 1);
        l.requests = u64::MAX;
        l.duration = Duration::from_millis(200);
        l.timeout = Duration::from_millis(20);
        let report = udp::run(&l, 0);
        assert!(report.elapsed < Duration::from_secs(2), "{report}");
        assert!(report.tally.ok > 0, "{report}");
        let line = report.to_string();
        for key in ["requests=", "errors=", "seconds=", "rps=", "p99_us="] {
            assert!(line.contains(key), "{line}");
        }
    }

    #[test]
    fn checks() {
        assert!(Check::Echo.matches(b"c1 r2", b"Echo: c1 r2"));
        assert!(Check::Echo.matches(b"c1 r2\n", b"Echo: c1 r2\n"));
        assert!(Check::Echo.matches(b"c1 r2", b"c1 r2\r\n"));
        assert!(!Check::Echo.matches(b"c1 r2", b"Echo: c1 r1"));
        assert!(Check::Any.matches(b"c1 r2", b"Message received"));
        assert!(!Check::Any.matches(b"c1 r2", b""));
    }

    #[test]
    fn requests_are_numbered_and_sized() {
        let mut buf = Vec::new();
        fill_request(&mut buf, 3, 17, 12);
        assert_eq!(buf, b"c3 r17 .....");
        fill_request(&mut buf, 3, 123_456, 4);
        assert_eq!(buf, b"c3 r123456 ");
    }
}
