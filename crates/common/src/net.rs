//! Small socket helpers that the lessons share.

use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::time::Duration;

use socket2::SockRef;

/// How often a blocked `recv_from`, `accept` or `read` wakes up to check for
/// Ctrl+C. Shutdown must finish within 250 ms, so this is well below that.
///
/// Why wake up at all? The `ctrlc` crate installs its signal handler with
/// `SA_RESTART`, so the kernel restarts a blocked call after the signal
/// instead of failing it with `EINTR`. A socket read timeout is the simplest
/// portable way to get control back.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The largest UDP payload over IPv4: 65,535 (the IP length field) minus the
/// 20-byte IPv4 header and the 8-byte UDP header.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// A receive buffer that no UDP datagram can overflow (IPv6 allows 65,527
/// bytes of payload, IPv4 65,507). Receiving into this lets a server see the
/// true size of every datagram, where a smaller buffer would have the kernel
/// cut the datagram short without a word.
pub const RECV_BUFFER: usize = 65_536;

/// `true` for the errors a socket with a read timeout returns when nothing
/// arrived in time. Unix says `WouldBlock` (EAGAIN), Windows `TimedOut`, and
/// a signal can give `Interrupted`: all three mean "nothing yet, try again".
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Resolve `host` (an IP address such as `127.0.0.1`, `::1` or `[::1]`, or a
/// name such as `localhost`) and `port` to one socket address.
///
/// A name can resolve to several addresses; `localhost` often gives `::1`
/// first and `127.0.0.1` second. We take the first IPv4 one when there is
/// one, because the servers bind `127.0.0.1` by default: a client asked for
/// `localhost` should then find them. Use `::1` to mean IPv6.
pub fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let all: Vec<SocketAddr> = (bare, port).to_socket_addrs()?.collect();
    let chosen = all.iter().find(|a| a.is_ipv4()).or(all.first()).copied();
    chosen.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address"))
}

/// Where a client should send to reach a server given as `addr`. An
/// unspecified address (`0.0.0.0`, `::`) means "every interface" to a server
/// binding it, but it is no destination; a client asked for it talks to the
/// loopback address of the same family, which a server on `0.0.0.0` also
/// answers from.
pub fn destination(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// Explain a failed `bind` in words that say what to do next.
pub fn bind_error(addr: SocketAddr, error: io::Error) -> Box<dyn Error> {
    let hint = match error.kind() {
        io::ErrorKind::AddrInUse if addr.port() == 0 => {
            format!("no free port for {addr}: every port in the kernel's ephemeral range is already in use")
        }
        io::ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: another program (perhaps another copy of this \
             server) has it. Stop that program, or pass --port 0 to get any free port"
        ),
        io::ErrorKind::AddrNotAvailable => {
            format!("address {addr} is not an address of this machine: use 127.0.0.1 or ::1")
        }
        io::ErrorKind::PermissionDenied => format!(
            "permission denied for {addr}: ports below 1024 need root; pick a port above 1023"
        ),
        _ => format!("cannot bind {addr}: {error}"),
    };
    hint.into()
}

/// [`bind_error`] for a TCP listener, with one more cause of "address in
/// use" that only TCP has. The side that closes a connection first keeps it
/// in TIME_WAIT for about a minute, and a listener may reuse that port only
/// if both it and the closed one set SO_REUSEADDR. The lessons do; the
/// tutorial examples, like the Python tutorials, do not. So right after a
/// tutorial server served a client, even a lesson's server cannot take its
/// port for a minute, though no program holds it.
pub fn tcp_bind_error(addr: SocketAddr, error: io::Error) -> Box<dyn Error> {
    if error.kind() == io::ErrorKind::AddrInUse && addr.port() != 0 {
        return format!(
            "address {addr} is already in use: another program (perhaps another copy of this \
             server) has it, or a server that did not set SO_REUSEADDR (a tutorial example) \
             closed connections there less than a minute ago and they linger in TIME_WAIT \
             (`ss -tan` shows them). Stop that program or wait a minute, or pass --port 0 to \
             get any free port"
        )
        .into();
    }
    bind_error(addr, error)
}

/// Give a listening socket a receive timeout, so that `accept` returns
/// `WouldBlock` every `timeout` when no client comes, and the accept loop can
/// check for Ctrl+C. (Linux applies `SO_RCVTIMEO` to `accept`; std has no
/// setter for it on `TcpListener`, so we go through socket2.)
pub fn set_accept_timeout(listener: &TcpListener, timeout: Duration) -> io::Result<()> {
    SockRef::from(listener).set_read_timeout(Some(timeout))
}

/// Bytes from a peer, made safe to print on a terminal: invalid UTF-8
/// becomes U+FFFD, and control characters (including the bidi and other
/// invisible format characters) are escaped, so a peer cannot move our
/// cursor, retitle the window or reorder what we print. Plain text,
/// newlines and tabs included, comes out unchanged.
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into_owned();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A short, printable view of a message for the log: control characters
/// escaped (a peer must not be able to drive our terminal) and long messages
/// cut to their first 60 characters.
pub fn preview(text: &str) -> String {
    const SHOWN: usize = 60;
    match text.char_indices().nth(SHOWN) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_literals_brackets_and_names() {
        assert_eq!(
            resolve("127.0.0.1", 5).unwrap(),
            "127.0.0.1:5".parse().unwrap()
        );
        assert_eq!(resolve("::1", 5).unwrap(), "[::1]:5".parse().unwrap());
        assert_eq!(resolve("[::1]", 5).unwrap(), "[::1]:5".parse().unwrap());
        assert!(resolve("localhost", 5).unwrap().ip().is_loopback());
        assert!(resolve("bad host name", 5).is_err());
    }

    #[test]
    fn printable_escapes_only_what_drives_a_terminal() {
        assert_eq!(printable(b"Echo: hi\n\tthere"), "Echo: hi\n\tthere");
        assert_eq!(printable(b"\x1b]0;pwned\x07"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(printable("a\u{202e}b".as_bytes()), "a\\u{202e}b");
        assert_eq!(printable(&[0xff, b'x']), "\u{fffd}x");
    }

    #[test]
    fn unspecified_means_loopback_to_a_client() {
        assert_eq!(
            destination("0.0.0.0:7".parse().unwrap()),
            "127.0.0.1:7".parse().unwrap()
        );
        assert_eq!(
            destination("[::]:7".parse().unwrap()),
            "[::1]:7".parse().unwrap()
        );
        assert_eq!(
            destination("127.0.0.2:7".parse().unwrap()),
            "127.0.0.2:7".parse().unwrap()
        );
    }

    #[test]
    fn preview_escapes_and_cuts() {
        assert_eq!(preview("hi\n"), "\"hi\\n\"");
        let long = "x".repeat(100);
        assert!(preview(&long).ends_with("… (100 bytes)"));
    }
}
