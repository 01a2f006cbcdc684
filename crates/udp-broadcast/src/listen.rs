//! `udp-broadcast listen`: the responder.
//!
//! It binds every interface (`0.0.0.0`) on a port that other listeners may
//! share, and answers each `DISCOVER` datagram with `HERE <name>`.
//!
//! * `SO_REUSEADDR`, and `SO_REUSEPORT` where the OS has it (macOS and the
//!   BSDs need it), let several listeners bind the same port on one
//!   machine. Each of them gets its own copy of every broadcast; a unicast
//!   datagram to that port reaches just one of them.
//! * `SO_BROADCAST` is needed only to *send* to a broadcast address; the
//!   tutorial sets it on its server anyway, and so do we.
//!
//! Safe by default: although it binds `0.0.0.0`, a listener answers only
//! requests sent from a loopback address (127.0.0.0/8, so from this
//! machine); requests from other addresses are logged and ignored, even
//! this machine's own LAN address. `listen --lan` answers everyone. Why not
//! always? A listener on the network tells whoever asks its name (the host
//! name and pid, by default), and it answers an 8-byte request with up to
//! 261 bytes (a 64-character name can be 256 bytes of UTF-8). Since a UDP
//! sender address is easy to forge, an open listener is a small reflector
//! and amplifier that someone can point at a victim.
//! Another safe way to run it is to bind the loopback broadcast address
//! `127.255.255.255` instead of `0.0.0.0`: every listener bound there with
//! SO_REUSEADDR gets each broadcast to it, and nothing from the network (see
//! docs/udp-broadcast.md).
//!
//! With `--group` it also joins a multicast group (IPv4 or IPv6) after the
//! bind, and leaves it before the close (multicast.rs has those calls). It
//! binds the wildcard address of the group's family, `0.0.0.0` or `::`.
//!
//! Read `listen` (socket, SO_BROADCAST, SO_REUSEADDR/PORT, bind, join, leave, close) →
//! `answer_loop` (recv_from) → `answer` (`may_answer` checks the sender,
//! `is_request` the text; send_to).

use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use common::shutdown::Wake;
use common::{escape, sockets, StopSignal};
use log::{debug, info, warn};
use socket2::{Domain, Protocol, Socket, Type};

use crate::multicast;
use crate::options::ListenOptions;
use crate::{REPLY_PREFIX, REQUEST};

/// The responder: bind 0.0.0.0:PORT next to any other listeners, answer
/// discovery requests until Ctrl+C, close.
pub fn listen(options: &ListenOptions) -> Result<(), Box<dyn Error>> {
    let shutdown = StopSignal::install()?;

    // Every interface: 0.0.0.0. A socket bound to one unicast address (say
    // 127.0.0.1) is never handed a datagram sent to a broadcast address, nor
    // one sent to a group. (Binding 127.255.255.255 would get the loopback
    // broadcasts only.) An IPv6 group: `::`, every IPv6 interface.
    let any = match options.group {
        Some(IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let addr = SocketAddr::new(any, options.port);

    // socket(): IPv4, because broadcast exists only in IPv4; IPv6 for an
    // IPv6 group.
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if any.is_ipv4() {
        // SO_BROADCAST: only needed to *send* to a broadcast address;
        // receiving broadcasts works without it. We set it as the tutorial
        // does, and because a responder that one day answers with a
        // broadcast needs it.
        socket.set_broadcast(true)?;
    } else {
        // IPV6_V6ONLY: IPv6 only, so no IPv4 datagram arrives here.
        socket.set_only_v6(true)?;
    }
    // SO_REUSEADDR: let other sockets that set it too bind this same port,
    // so several listeners can run on one machine. SO_REUSEPORT too where
    // it exists: macOS and the BSDs share a UDP port only with it (Linux
    // takes either; Windows has SO_REUSEADDR only). Both must be set before
    // bind(), which is when the kernel checks them.
    socket.set_reuse_address(true)?;
    //
    // Except for a group listener on Linux: there SO_REUSEADDR is enough,
    // and SO_REUSEPORT would be harmful. When a group has one member socket
    // on a port, Linux's early demultiplexing hands the datagram to that
    // socket's SO_REUSEPORT group, which picks one socket by a hash of the
    // addresses without looking at memberships: a member of another group
    // got it (seen on Linux 6.18; tests/multicast_namespaces.rs).
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    if !(cfg!(target_os = "linux") && options.group.is_some()) {
        socket.set_reuse_port(true)?;
    }
    // --port 0 with those options on could be handed a port that another,
    // unrelated program shares out the same way. So first ask the kernel for
    // a port that nobody holds, then bind that one.
    let addr = match options.port {
        0 => SocketAddr::new(any, port_nobody_holds(any)?),
        _ => addr,
    };
    // bind(): 0.0.0.0:PORT.
    socket.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    if let Some(group) = options.group {
        // IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP: from now on the kernel hands
        // us what is sent to GROUP:PORT on that interface (multicast.rs).
        multicast::join(&socket, group, options.interface).map_err(|e| {
            let hint = match multicast::no_route(&e, options.interface) {
                true => multicast::PASS_INTERFACE,
                false => "is --interface an interface of this machine that is up?",
            };
            format!("cannot join group {group}: {e}: {hint}")
        })?;
    }
    // IP_MULTICAST_ALL off (Linux): only the groups *this* socket joined,
    // none for a listener without --group. Left on, Linux would hand it the
    // datagrams of every group that any socket on this machine joined.
    multicast::own_groups_only(&socket, any)?;
    let socket = UdpSocket::from(socket);

    // Wake every POLL_INTERVAL to check for Ctrl+C; and at once on Ctrl+C,
    // when the handler sends us an empty datagram. (With other listeners on
    // the port, the kernel may hand that datagram to one of them instead,
    // which logs that it ignored 0 bytes: then the timeout is what wakes us.)
    socket.set_read_timeout(Some(sockets::POLL_INTERVAL))?;
    let local = socket.local_addr()?;
    shutdown.wake_on_request(Wake::Datagram(local));

    common::outln!("listening on {local}")?;
    if let Some(group) = options.group {
        let on = options
            .interface
            .map(|i| format!(" on {i}"))
            .unwrap_or_default();
        info!("joined multicast group {group}{on}");
    }
    if options.lan {
        info!(
            "answering discovery requests as {:?} from anyone (--lan)",
            options.name
        );
    } else {
        info!(
            "answering discovery requests as {:?} from loopback addresses only; --lan answers \
             the network",
            options.name
        );
    }

    answer_loop(&socket, options, &shutdown);

    let socket = Socket::from(socket);
    if let Some(group) = options.group {
        // IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP: closing would leave too;
        // the last member to leave makes the host tell the routers.
        match multicast::leave(&socket, group, options.interface) {
            Ok(()) => info!("left multicast group {group}"),
            Err(e) => warn!("leaving group {group} failed: {e}"),
        }
    }
    // close(): the port is free again once the last listener closes it.
    drop(socket);
    info!("server closed");
    Ok(())
}

/// Receive datagrams until a shutdown is requested; answer each request.
fn answer_loop(socket: &UdpSocket, options: &ListenOptions, shutdown: &StopSignal) {
    let mut buf = vec![0u8; sockets::RECV_BUFFER];
    while !shutdown.requested() {
        // recv_from(): a broadcast and a unicast datagram look the same here;
        // `peer` is whoever sent it, and the reply goes straight back there.
        let received = socket.recv_from(&mut buf);
        if shutdown.requested() {
            break; // most likely the Ctrl+C handler's empty datagram
        }
        let (len, peer) = match received {
            Ok(received) => received,
            Err(e) if sockets::is_timeout(&e) => continue,
            Err(e) => {
                sockets::log_recv_error(&e);
                continue;
            }
        };
        answer(socket, &buf[..len], peer, options);
    }
}

/// A UDP port that no socket holds right now: bind port 0 without any
/// sharing option (such a socket is never handed a shared port), read the
/// port, close. Another program could take it before we bind it again, but
/// it would have to be quick.
fn port_nobody_holds(any: IpAddr) -> io::Result<u16> {
    Ok(UdpSocket::bind((any, 0))?.local_addr()?.port())
}

/// Answer one datagram if it is a discovery request from a sender we serve;
/// log and drop it if not.
fn answer(socket: &UdpSocket, datagram: &[u8], peer: SocketAddr, options: &ListenOptions) {
    if !may_answer(peer.ip(), options.lan) {
        // Bound to 0.0.0.0 we receive from the whole network, but without
        // --lan we serve loopback senders only: no name handed to strangers, and
        // no replies that a forged sender address could aim at someone else.
        warn!(
            "ignored {} bytes from {peer}: not a loopback address (listen --lan answers the \
             network)",
            datagram.len()
        );
        return;
    }
    if !is_request(datagram) {
        // Anyone on the network can send to this port: never crash on it,
        // and never answer it (a reply to junk only helps the sender of junk).
        warn!(
            "ignored {} bytes from {peer}: not a discovery request: {}",
            datagram.len(),
            escape::preview(&String::from_utf8_lossy(datagram))
        );
        return;
    }
    info!("discovery request from {peer}");
    let reply = format!("{REPLY_PREFIX}{}", options.name);
    // send_to(): a plain unicast reply to the one host that asked.
    match socket.send_to(reply.as_bytes(), peer) {
        Ok(_) => debug!("answered {peer}: {reply:?}"),
        Err(e) => warn!("send_to {peer} failed: {e}"),
    }
}

/// May a listener answer `peer`? Loopback senders always; anyone with
/// `--lan`. Linux drops a packet that arrives from a network with a loopback
/// source address (unless `route_localnet` is switched on), so a stranger
/// cannot pass for 127.0.0.1.
fn may_answer(peer: IpAddr, lan: bool) -> bool {
    lan || peer.is_loopback()
}

/// `DISCOVER`, allowing the newline that `echo` and `nc` add.
fn is_request(datagram: &[u8]) -> bool {
    let text = datagram
        .strip_suffix(b"\n")
        .map(|d| d.strip_suffix(b"\r").unwrap_or(d))
        .unwrap_or(datagram);
    text == REQUEST.as_bytes()
}

/// common's explanation of a failed bind, plus the rule of port sharing.
fn bind_error(addr: SocketAddr, error: io::Error) -> Box<dyn Error> {
    // Windows says "access denied" (WSAEACCES), not "in use", when the
    // port's holder does not share it.
    let in_use = error.kind() == io::ErrorKind::AddrInUse
        || (cfg!(windows) && error.kind() == io::ErrorKind::PermissionDenied);
    let explained = sockets::bind_error(addr, error);
    if in_use {
        format!(
            "{explained}. (Listeners share a port only when every socket on it set \
             SO_REUSEADDR before its bind (macOS and the BSDs: SO_REUSEPORT), as \
             udp-broadcast listeners do.)"
        )
        .into()
    } else {
        explained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert!(is_request(b"DISCOVER"));
        assert!(is_request(b"DISCOVER\n"));
        assert!(is_request(b"DISCOVER\r\n"));
        assert!(!is_request(b"discover"));
        assert!(!is_request(b"DISCOVER\n\n"));
        assert!(!is_request(b""));
        assert!(!is_request(&[0xff, 0xfe]));
    }

    #[test]
    fn only_loopback_without_lan() {
        for local in ["127.0.0.1", "127.3.2.1", "::1"] {
            let ip: IpAddr = local.parse().unwrap();
            assert!(may_answer(ip, false), "{ip}");
            assert!(may_answer(ip, true), "{ip}");
        }
        for remote in ["192.0.2.3", "10.0.0.1", "0.0.0.0", "2001:db8::1"] {
            let ip: IpAddr = remote.parse().unwrap();
            assert!(!may_answer(ip, false), "{ip}");
            assert!(may_answer(ip, true), "{ip}");
        }
    }
}
