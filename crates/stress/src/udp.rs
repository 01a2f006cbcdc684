//! UDP tools of the suite: hostile datagrams, pacing by the server's receive
//! queue, request/reply with retries.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::Proc;
use crate::report::{mib, ms};
use common::rng::SplitMix64;
use common::testing::Lesson;

/// The largest UDP payload over IPv4.
pub const MAX_PAYLOAD: usize = 65_507;

/// Before each datagram, wait until the server's receive queue holds at most
/// this many bytes, so the flood reaches the server instead of being dropped
/// by the kernel (a dropped datagram tests nothing).
const QUEUE_LIMIT: u64 = 64 * 1024;

/// The longest a sender waits for the server's queue to drain, per datagram.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// What `/proc/net/udp` says about the sockets bound to one port.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStat {
    /// Bytes waiting in the receive queue.
    pub rx_queue: u64,
    /// Datagrams the kernel dropped because the queue was full.
    pub drops: u64,
}

/// Sum the receive queues and drop counters of every UDP socket (IPv4 and
/// IPv6) bound to `port`. `None` when there is none.
pub fn queue_stat(port: u16) -> Option<QueueStat> {
    let mut found: Option<QueueStat> = None;
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port != Some(port) {
                continue;
            }
            let rx_queue = fields
                .get(4)
                .and_then(|q| q.split(':').nth(1))
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .unwrap_or(0);
            let drops = fields.get(12).and_then(|d| d.parse().ok()).unwrap_or(0);
            let stat = found.get_or_insert_with(QueueStat::default);
            stat.rx_queue += rx_queue;
            stat.drops += drops;
        }
    }
    found
}

/// Wait (bounded) until the server's receive queue is short.
fn wait_for_room(port: u16) {
    let deadline = Instant::now() + DRAIN_WAIT;
    while let Some(stat) = queue_stat(port) {
        if stat.rx_queue <= QUEUE_LIMIT || Instant::now() >= deadline {
            return;
        }
        thread::sleep(Duration::from_micros(50));
    }
}

/// Where to send to reach a server: a server bound to every interface
/// (`0.0.0.0`, `::`) is reached on loopback, so no datagram leaves this host.
pub fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

/// A UDP socket on loopback of the same family as `server`.
pub fn socket_for(server: SocketAddr, timeout: Duration) -> Result<UdpSocket, String> {
    let local = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let socket = UdpSocket::bind(local).map_err(|e| format!("bind {local}: {e}"))?;
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    Ok(socket)
}

/// Send `request` until a reply comes (every 200 ms, for up to 5 s); return
/// the reply and the time from the first send.
pub fn request_with_retries(
    server: SocketAddr,
    request: &[u8],
) -> Result<(Vec<u8>, Duration), String> {
    let socket = socket_for(server, Duration::from_millis(200))?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(5);
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        socket
            .send_to(request, server)
            .map_err(|e| format!("send_to {server}: {e}"))?;
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if from == server {
                return Ok((buf.get(..n).unwrap_or_default().to_vec(), start.elapsed()));
            }
        }
    }
    Err(format!("no reply from {server} within 5 s (resending)"))
}

/// The kinds of hostile datagram, sent in turn.
const KINDS: [&str; 8] = [
    "empty",
    "1 byte",
    "random size",
    "65507 bytes",
    "invalid UTF-8",
    "NUL bytes",
    "fake header",
    "odd text",
];

/// Bytes that are not UTF-8, embedded in otherwise plain text.
fn invalid_utf8(rng: &mut SplitMix64) -> Vec<u8> {
    const BAD: [&[u8]; 8] = [
        &[0xff],
        &[0xfe, 0xff],
        &[0x80],
        &[0xc0, 0xaf],             // overlong '/'
        &[0xed, 0xa0, 0x80],       // a UTF-16 surrogate
        &[0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
        &[0xe2, 0x82],             // cut short
        &[0xc3],                   // cut short at the very end
    ];
    let mut out = b"ECHO ".to_vec();
    out.extend(std::iter::repeat(b'a').take(rng.range(0, 200)));
    if let Some(bad) = rng.pick(&BAD) {
        out.extend_from_slice(bad);
    }
    if rng.percent(50) {
        out.extend(std::iter::repeat(b'z').take(rng.range(0, 200)));
    }
    out
}

/// Valid UTF-8 that is unkind to logs and terminals.
fn odd_text(rng: &mut SplitMix64) -> Vec<u8> {
    const PIECES: [&str; 9] = [
        "\u{1b}[2J\u{1b}[31m",
        "\r\n",
        "\u{202e}reversed",
        "é",
        "日本語",
        "🦀",
        "\t\u{7}",
        "line\nbreak",
        "ECHO ",
    ];
    let mut text = String::new();
    let target = rng.range(1, 3000);
    while text.len() < target {
        if let Some(piece) = rng.pick(&PIECES) {
            text.push_str(piece);
        }
    }
    text.into_bytes()
}

/// One hostile datagram of kind `i % 8`.
fn hostile(i: usize, rng: &mut SplitMix64, fake: &dyn Fn(&mut SplitMix64) -> Vec<u8>) -> Vec<u8> {
    match i % KINDS.len() {
        0 => Vec::new(),
        1 => rng.bytes(1),
        2 => {
            let len = rng.range(0, MAX_PAYLOAD);
            rng.bytes(len)
        }
        3 => {
            if rng.percent(50) {
                vec![b'x'; MAX_PAYLOAD]
            } else {
                rng.bytes(MAX_PAYLOAD)
            }
        }
        4 => invalid_utf8(rng),
        5 => {
            let mut out = vec![0u8; rng.range(1, 2048)];
            if rng.percent(50) {
                out.splice(0..0, b"ECHO ".iter().copied());
            }
            out
        }
        6 => fake(rng),
        _ => odd_text(rng),
    }
}

/// What a flood of hostile datagrams did.
#[derive(Debug, Default)]
pub struct Flood {
    pub sent: usize,
    pub bytes: u64,
    pub replies: usize,
    pub drops: u64,
    pub elapsed: Duration,
    pub rss_start: u64,
    pub rss_half: u64,
    pub rss_end: u64,
    pub rss_peak: u64,
}

impl Flood {
    pub fn figures(&self) -> String {
        format!(
            "sent {} datagrams ({:.0} MiB, {} kinds) in {:.1} s, kernel drops {}, replies {}, \
             RSS {} -> {} (half-way {}, peak {})",
            self.sent,
            self.bytes as f64 / 1_048_576.0,
            KINDS.len(),
            self.elapsed.as_secs_f64(),
            self.drops,
            self.replies,
            mib(self.rss_start),
            mib(self.rss_end),
            mib(self.rss_half),
            mib(self.rss_peak),
        )
    }

    /// Memory stays bounded: the second half of the flood must not grow the
    /// server by more than `growth_kib`, and the peak stays under `peak_kib`.
    pub fn check_memory(&self, growth_kib: u64, peak_kib: u64) -> Result<(), String> {
        let growth = self.rss_end.saturating_sub(self.rss_half);
        if growth > growth_kib {
            return Err(format!(
                "RSS grew by {} in the second half of the flood (limit {})",
                mib(growth),
                mib(growth_kib)
            ));
        }
        if self.rss_peak > peak_kib {
            return Err(format!(
                "peak RSS {} is over {}",
                mib(self.rss_peak),
                mib(peak_kib)
            ));
        }
        Ok(())
    }

    /// At most `percent` % of the flood may have been dropped by the kernel
    /// (so most of it really reached the server).
    pub fn check_delivered(&self, percent: u64) -> Result<(), String> {
        if self.drops * 100 > self.sent as u64 * percent {
            return Err(format!(
                "the kernel dropped {} of {} datagrams: the flood did not reach the server",
                self.drops, self.sent
            ));
        }
        Ok(())
    }
}

/// Send `count` hostile datagrams to `server`, paced by its receive queue,
/// counting the replies that come back. `fake` makes the protocol-specific
/// "fake header" datagrams.
pub fn flood(
    server: &Lesson,
    count: usize,
    seed: u64,
    fake: &dyn Fn(&mut SplitMix64) -> Vec<u8>,
) -> Result<Flood, String> {
    let addr = loopback(server.try_addr()?);
    let socket = socket_for(addr, Duration::from_millis(50))?;
    let drain = socket.try_clone().map_err(|e| format!("try_clone: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let replies = Arc::new(AtomicUsize::new(0));
    let counter = {
        let stop = Arc::clone(&stop);
        let replies = Arc::clone(&replies);
        thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            // Bounded: it ends when told to, and the flood itself is bounded.
            while !stop.load(Ordering::SeqCst) {
                if drain.recv_from(&mut buf).is_ok() {
                    replies.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let drops_before = queue_stat(addr.port()).map(|s| s.drops).unwrap_or(0);
    let mut result = Flood {
        rss_start: server.rss_kib().unwrap_or(0),
        ..Flood::default()
    };
    let mut rng = SplitMix64::new(seed);
    let start = Instant::now();
    for i in 0..count {
        let datagram = hostile(i, &mut rng, fake);
        wait_for_room(addr.port());
        match socket.send_to(&datagram, addr) {
            Ok(_) => {
                result.sent += 1;
                result.bytes += datagram.len() as u64;
            }
            // The server answered an earlier datagram with an ICMP error, or
            // the local buffer is full: not the server's fault, go on.
            Err(_) => continue,
        }
        if i + 1 == count / 2 {
            result.rss_half = server.rss_kib().unwrap_or(0);
        }
    }
    // Let the server work through what is queued before measuring.
    let deadline = Instant::now() + Duration::from_secs(5);
    while queue_stat(addr.port()).is_some_and(|s| s.rx_queue > 0) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    result.elapsed = start.elapsed();
    result.drops = queue_stat(addr.port())
        .map(|s| s.drops.saturating_sub(drops_before))
        .unwrap_or(0);
    // Replies still on their way.
    thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::SeqCst);
    let _ = counter.join();
    result.replies = replies.load(Ordering::SeqCst);
    result.rss_end = server.rss_kib().unwrap_or(0);
    result.rss_peak = server.peak_rss_kib().unwrap_or(0);
    Ok(result)
}

/// Keep `clients` sockets sending `make(i)` and reading replies until `stop`
/// (or `limit`, whichever is first); count the replies in `replies`.
pub fn load(
    server: SocketAddr,
    clients: usize,
    stop: &Arc<AtomicBool>,
    replies: &Arc<AtomicUsize>,
    limit: Duration,
    make: fn(usize, usize) -> Vec<u8>,
) -> Vec<thread::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let stop = Arc::clone(stop);
            let replies = Arc::clone(replies);
            thread::spawn(move || {
                let Ok(socket) = socket_for(server, Duration::from_millis(20)) else {
                    return;
                };
                let end = Instant::now() + limit;
                let mut buf = vec![0u8; 65_536];
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                    i += 1;
                    if socket.send_to(&make(c, i), server).is_err() {
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    if let Ok((_, from)) = socket.recv_from(&mut buf) {
                        if from == server {
                            replies.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect()
}

/// The time a probe took, for the figures.
pub fn probe_figure(latency: Duration) -> String {
    format!("normal request answered in {}", ms(latency))
}
