//! Graceful shutdown on Ctrl+C (SIGINT) and SIGTERM.
//!
//! [`StopSignal::install`] registers a handler (through the `ctrlc` crate, with
//! its `termination` feature so SIGTERM and SIGHUP count too; on Windows it
//! catches the console's Ctrl+C and Ctrl+Break). The first signal sets a
//! flag and then wakes the server (see [`Wake`]): its loops see the flag,
//! finish or close what they have in hand, log `server closed` and return,
//! and the program exits 0. A second signal means "now": the process exits
//! at once with code 130.
//!
//! Why a flag and not an exit straight from the handler? Because exiting in
//! the middle of a reply loses it, and a lesson about servers should show the
//! polite way to stop one.
//!
//! Why a wake-up? The handler runs on a thread of its own (ctrlc's), so the
//! server's thread, blocked in `accept()` or `recv_from()`, hears nothing.
//! On Linux a socket timeout would end such a wait now and then, but macOS
//! and Windows do not apply timeouts to `accept()` at all. What does work on
//! every OS is what ends any wait for a client: a client. So the handler
//! connects to the server, or sends it an empty datagram, and the blocked
//! call returns at once. (tiny_http stops its accept thread the same way.)

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use log::{debug, warn};

/// Exit code for the second Ctrl+C: 128 + SIGINT, as shells report it.
pub const FORCED_EXIT: i32 = 130;

/// A cheap, clonable handle on the "please stop" flag.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    // Lets `sleep` wake at once when the flag is set.
    lock: Mutex<()>,
    wake: Condvar,
    // What to poke when the flag is set: the servers' own sockets.
    sockets: Mutex<Vec<Wake>>,
}

/// How to wake a server thread that is blocked on its socket, for
/// [`StopSignal::wake_on_request`]. The address is the server's own
/// (`local_addr()`); `0.0.0.0` and `::` are reached through loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Connect to this TCP listener: its blocked `accept()` returns.
    Connect(SocketAddr),
    /// Send an empty datagram to this UDP socket: its `recv_from()` returns.
    Datagram(SocketAddr),
}

/// How long the wake-up connection may take. On loopback it takes well
/// under a millisecond; this only bounds a listener whose queue is full.
const WAKE_TIMEOUT: Duration = Duration::from_millis(200);

impl Wake {
    /// Poke the socket once. Errors are the caller's to log.
    fn poke(self) -> io::Result<()> {
        match self {
            Wake::Connect(addr) => {
                // The connection is closed again at once; the server sees
                // the flag before it reads anything from it.
                TcpStream::connect_timeout(&crate::sockets::destination(addr), WAKE_TIMEOUT)
                    .map(drop)
            }
            Wake::Datagram(addr) => {
                let to = crate::sockets::destination(addr);
                let any: IpAddr = match to {
                    SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                    SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
                };
                // A throwaway socket on a free port, one empty datagram.
                UdpSocket::bind((any, 0))?.send_to(&[], to).map(drop)
            }
        }
    }
}

impl StopSignal {
    /// Install the signal handler and return the flag it sets. Call once per
    /// process.
    pub fn install() -> Result<StopSignal, ctrlc::Error> {
        let shutdown = StopSignal::default();
        let flag = shutdown.clone();
        let signals = AtomicUsize::new(0);
        ctrlc::set_handler(move || {
            if signals.fetch_add(1, Ordering::SeqCst) == 0 {
                // Log first, then set the flag: once the flag is set the
                // server may log `server closed` and exit at any moment, and
                // this line must come before that one, not after or never.
                warn!("shutting down (press Ctrl+C again to stop at once)");
                flag.request();
            } else {
                eprintln!("second interrupt: exiting now");
                std::process::exit(FORCED_EXIT);
            }
        })?;
        Ok(shutdown)
    }

    /// Ask everything that holds this handle to stop, and wake the sockets
    /// registered with [`wake_on_request`](StopSignal::wake_on_request).
    pub fn request(&self) {
        self.inner.requested.store(true, Ordering::SeqCst);
        {
            let _guard = self
                .inner
                .lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.inner.wake.notify_all();
        }
        let sockets = self
            .inner
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for socket in sockets {
            match socket.poke() {
                Ok(()) => {}
                // Refused: nobody listens there any more, because the server
                // saw the flag on its own (a client came first) and closed
                // the listener. Timed out: the accept queue is full (Linux and
                // macOS drop the handshake), or, on Windows, either of these,
                // since Windows tries a refused connect again for about two
                // seconds before it gives up. Either way accept() has a client
                // to return, or has stopped already, so there is nothing to
                // warn about, and a warning here could land after the
                // server's last line, `server closed`.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
                    ) =>
                {
                    debug!("no wake-up needed ({socket:?}): {e}");
                }
                Err(e) => {
                    warn!(
                        "could not wake the server ({socket:?}): {e}; it stops at its next client"
                    )
                }
            }
        }
    }

    /// On a stop request, wake a thread that is blocked on this socket (see
    /// the module's introduction for why). The server's loop must check
    /// [`requested`](StopSignal::requested) right after the blocking call
    /// returns, so that it takes the wake-up for what it is. A request that
    /// came already wakes the socket at once.
    pub fn wake_on_request(&self, socket: Wake) {
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(socket);
        if self.requested() {
            let _ = socket.poke();
        }
    }

    /// Has a stop been asked for?
    pub fn requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Sleep for `duration`, or less if a stop is asked for meanwhile. The
    /// lessons use it for `--delay-ms`, their stand-in for slow work, so that
    /// a long delay never holds up Ctrl+C.
    pub fn sleep(&self, duration: Duration) {
        // The common case (no --delay-ms) must cost nothing per request: no
        // lock, which every handler thread would otherwise queue on.
        if duration.is_zero() {
            return;
        }
        let deadline = Instant::now() + duration;
        let mut guard = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !self.requested() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            guard = match self.inner.wake.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_is_cut_short_by_a_request() {
        let shutdown = StopSignal::default();
        let other = shutdown.clone();
        let start = Instant::now();
        let t = std::thread::spawn(move || other.sleep(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        shutdown.request();
        t.join().unwrap();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(shutdown.requested());
    }

    #[test]
    fn a_request_wakes_a_blocked_accept_and_recv_from() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("[::1]:0").unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let shutdown = StopSignal::default();
        shutdown.wake_on_request(Wake::Connect(listener.local_addr().unwrap()));
        shutdown.wake_on_request(Wake::Datagram(udp.local_addr().unwrap()));
        let other = shutdown.clone();
        let t = std::thread::spawn(move || other.request());
        let start = Instant::now();
        listener.accept().unwrap();
        let (len, _) = udp.recv_from(&mut [0u8; 8]).unwrap();
        assert_eq!(len, 0);
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
    }

    #[test]
    fn sleep_without_request_takes_its_time() {
        let start = Instant::now();
        StopSignal::default().sleep(Duration::from_millis(30));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
