//! Small socket helpers that the lessons share (`common::sockets`, so as
//! not to read as `std::net` beside it). Printing what a peer sent is
//! [`crate::escape`]'s job.

use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use socket2::SockRef;

/// How often a blocked `read` on a client's connection, or a `recv_from` in
/// the middle of a transfer, wakes up to check its clocks and Ctrl+C.
/// StopSignal must finish within 250 ms, so this is well below that.
///
/// A server waiting for its *next* client does not poll: Ctrl+C wakes it
/// (see [`crate::shutdown::Wake`]). A socket timeout is still the simplest
/// portable way to give up on a quiet client, and SO_RCVTIMEO on a
/// connected or UDP socket works the same on Linux, macOS and Windows.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The largest UDP payload over IPv4: 65,535 (the IP length field) minus the
/// 20-byte IPv4 header and the 8-byte UDP header.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// A receive buffer that no UDP datagram can overflow (IPv6 allows 65,527
/// bytes of payload, IPv4 65,507). Receiving into this lets a server see the
/// true size of every datagram, where a smaller buffer would have the kernel
/// cut the datagram short without a word.
pub const RECV_BUFFER: usize = 65_536;

/// Make sure `socket` can send the largest datagram, [`MAX_UDP_PAYLOAD`].
/// macOS refuses a datagram larger than the socket's send buffer (SO_SNDBUF),
/// which is only 9,216 bytes there by default (`net.inet.udp.maxdgram`);
/// Linux's default is far larger, and Windows sends any size. So the buffer
/// is raised where it is too small, and never lowered.
pub fn room_for_any_datagram(socket: &UdpSocket) -> io::Result<()> {
    let socket = SockRef::from(socket);
    if socket.send_buffer_size()? < RECV_BUFFER {
        socket.set_send_buffer_size(RECV_BUFFER)?;
    }
    Ok(())
}

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

/// `true` for the error Windows gives `recv_from` on a UDP socket after a
/// datagram we sent met a closed port: the other machine answered with an
/// ICMP "port unreachable", and Windows reports it as WSAECONNRESET (10054)
/// on the next receive. Linux and macOS report nothing on an unconnected
/// socket: there the datagram is simply never answered.
pub fn is_port_unreachable(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionReset
}

/// Log a failed `recv_from` of a server, which then goes on. Windows' "port
/// unreachable" (see [`is_port_unreachable`]) is no fault of ours: a peer
/// we sent to has gone. Anything else is worth a warning.
pub fn log_recv_error(error: &io::Error) {
    if is_port_unreachable(error) {
        log::info!("a peer had gone before our datagram came (port unreachable)");
    } else {
        log::warn!("recv_from failed: {error}");
    }
}

/// Where a student can see which program holds a port, on this OS.
const WHO_HAS_THE_PORT: &str = if cfg!(windows) {
    "`netstat -ano` lists it with its process id"
} else if cfg!(target_os = "macos") {
    "`lsof -nP -i :PORT` shows which"
} else {
    "`ss -tulpn` shows which"
};

/// Explain a failed `bind` in words that say what to do next.
pub fn bind_error(addr: SocketAddr, error: io::Error) -> Box<dyn Error> {
    let hint = match error.kind() {
        io::ErrorKind::AddrInUse if addr.port() == 0 => {
            format!("no free port for {addr}: every port in the kernel's ephemeral range is already in use")
        }
        io::ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: another program (perhaps another copy of this \
             server) has it ({}). Stop that program, or pass --port 0 to get any free port",
            WHO_HAS_THE_PORT.replace("PORT", &addr.port().to_string())
        ),
        io::ErrorKind::AddrNotAvailable => {
            format!("address {addr} is not an address of this machine: use 127.0.0.1 or ::1")
        }
        // Windows: no port needs an administrator, but the system reserves
        // some ranges (Hyper-V, WSL) and another program may hold a port for
        // itself alone (SO_EXCLUSIVEADDRUSE); both give WSAEACCES.
        io::ErrorKind::PermissionDenied if cfg!(windows) => format!(
            "permission denied for {addr}: Windows reserves this port or another program holds \
             it for itself (`netsh interface ipv4 show excludedportrange protocol=udp` and \
             `protocol=tcp` list the reserved ranges); pick another port, or pass --port 0"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "permission denied for {addr}: ports below 1024 need root here; pick a port above 1023"
        ),
        _ => format!("cannot bind {addr}: {error}"),
    };
    hint.into()
}

/// [`bind_error`] for a TCP listener, with one more cause of "address in
/// use" that only TCP has on Linux and macOS. The side that closes a
/// connection first keeps it in TIME_WAIT for about a minute, and a listener
/// may reuse that port only if both it and the closed one set SO_REUSEADDR.
/// The lessons do; the tutorial examples, like the Python tutorials, do not.
/// So right after a tutorial server served a client, even a lesson's server
/// cannot take its port for a minute, though no program holds it. (Windows
/// lets a listener bind over TIME_WAIT without any option, so there the
/// plain message is the right one.)
pub fn tcp_bind_error(addr: SocketAddr, error: io::Error) -> Box<dyn Error> {
    if error.kind() == io::ErrorKind::AddrInUse && addr.port() != 0 && cfg!(not(windows)) {
        let lists = if cfg!(target_os = "macos") {
            "`netstat -an -p tcp`"
        } else {
            "`ss -tan`"
        };
        return format!(
            "address {addr} is already in use: another program (perhaps another copy of this \
             server) has it, or a server that did not set SO_REUSEADDR (a tutorial example) \
             closed connections there less than a minute ago and they linger in TIME_WAIT \
             ({lists} shows them). Stop that program or wait a minute, or pass --port 0 to \
             get any free port"
        )
        .into();
    }
    bind_error(addr, error)
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
}
