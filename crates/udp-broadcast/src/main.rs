//! # udp-broadcast: find the listeners on a network with one datagram
//!
//! Two commands in one program. `listen` is a responder: it binds every
//! interface (`0.0.0.0`) on a shared port and answers each `DISCOVER`
//! datagram with `HERE <name>`. `discover` is the client: it sends one
//! `DISCOVER` to a *broadcast address*, which the network hands to every host
//! on the subnet, and prints a line for each listener that answers.
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
//! Two socket options make it work:
//!
//! * `SO_BROADCAST` on the sender. Without it the kernel refuses to send to a
//!   broadcast address and `sendto` fails with `EACCES` (Permission denied).
//!   `discover --without-so-broadcast` shows that failure.
//! * `SO_REUSEADDR` on the listeners, so several of them can bind the same
//!   port on one machine. Each of them gets its own copy of every broadcast;
//!   a unicast datagram to that port reaches just one of them.
//!
//! The little protocol: a request is the text `DISCOVER` (a trailing newline
//! is allowed); a reply is `HERE ` and the listener's name. The listener's
//! address is not in the text: every datagram already carries its sender's
//! address, and `recv_from` hands it to `discover`. Anything else is logged
//! and ignored on both sides.
//!
//! ## Run it (three terminals)
//!
//! ```text
//! terminal 1 $ cargo run -p udp-broadcast -- listen --name alpha
//! listening on 0.0.0.0:6550
//!
//! terminal 2 $ cargo run -p udp-broadcast -- listen --name beta
//! listening on 0.0.0.0:6550
//!
//! terminal 3 $ cargo run -p udp-broadcast -- discover
//! 10:15:02.310 INFO  sent "DISCOVER" to 127.255.255.255:6550; collecting replies for 1s
//! beta at 127.0.0.1:6550
//! alpha at 127.0.0.1:6550
//! 10:15:03.311 INFO  2 listeners answered
//!
//! terminal 1 now shows
//! 10:15:02.310 INFO  discovery request from 127.0.0.1:48111
//! ```
//!
//! The default `--to 127.255.255.255` is the broadcast address of the
//! loopback network, so nothing leaves this machine. On a LAN, pass your
//! subnet's broadcast address (the `brd` that `ip -4 addr` shows) or the
//! all-ones limited broadcast address; `discover --help` and
//! docs/udp-broadcast.md explain both.
//!
//! ## Read in this order
//!
//! `listen` (socket, SO_BROADCAST, SO_REUSEADDR, bind, close) → `answer_loop`
//! (recv_from) → `answer` (`may_answer` checks the sender, `is_request` the
//! text; send_to) → `discover` (socket, SO_BROADCAST, send_to) →
//! `collect_replies` (recv_from until the deadline) → `send_error` (what
//! EACCES means).

use std::collections::HashSet;
use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Instant;

use common::options::broadcast::{check_name, BroadcastCommand, DiscoverOptions, ListenOptions};
use common::{net, Shutdown};
use log::{debug, info, warn};
use socket2::{Domain, Protocol, Socket, Type};

/// What `discover` sends.
const REQUEST: &str = "DISCOVER";
/// What a listener's reply starts with; its name follows.
const REPLY_PREFIX: &str = "HERE ";

fn main() -> ExitCode {
    let command = BroadcastCommand::parse();
    common::logging::init();
    common::finish(match &command {
        BroadcastCommand::Listen(options) => listen(options),
        BroadcastCommand::Discover(options) => discover(options),
    })
}

/// The responder: bind 0.0.0.0:PORT next to any other listeners, answer
/// discovery requests until Ctrl+C, close.
fn listen(options: &ListenOptions) -> Result<(), Box<dyn Error>> {
    let shutdown = Shutdown::install()?;

    // Every interface: 0.0.0.0. A socket bound to one unicast address (say
    // 127.0.0.1) is never handed a datagram sent to a broadcast address.
    // (Binding 127.255.255.255 would get the loopback broadcasts only.)
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, options.port));

    // socket(): IPv4 only, because broadcast exists only in IPv4.
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // SO_BROADCAST: only needed to *send* to a broadcast address; receiving
    // broadcasts works without it. We set it as the tutorial does, and
    // because a responder that one day answers with a broadcast needs it.
    socket.set_broadcast(true)?;
    // SO_REUSEADDR: let other sockets that set it too bind this same port,
    // so several listeners can run on one machine. To join a port that
    // others hold, it must be set before bind().
    //
    // With --port 0 we set it just *after* bind(). Linux treats a port held
    // only by SO_REUSEADDR sockets as free for sharing, so a port-0 bind
    // with the option already on may be handed a port that some unrelated
    // listener is using. Bound first, we get a port nobody has; set right
    // after, the listeners that follow can still share it.
    let share_port_now = options.port != 0;
    if share_port_now {
        socket.set_reuse_address(true)?;
    }
    // bind(): 0.0.0.0:PORT.
    socket.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    if !share_port_now {
        socket.set_reuse_address(true)?;
    }
    let socket = UdpSocket::from(socket);

    // Wake every POLL_INTERVAL to check for Ctrl+C (see common::net).
    socket.set_read_timeout(Some(net::POLL_INTERVAL))?;

    common::outln!("listening on {}", socket.local_addr()?)?;
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

    // close(): the port is free again once the last listener closes it.
    drop(socket);
    info!("server closed");
    Ok(())
}

/// Receive datagrams until a shutdown is requested; answer each request.
fn answer_loop(socket: &UdpSocket, options: &ListenOptions, shutdown: &Shutdown) {
    let mut buf = vec![0u8; net::RECV_BUFFER];
    while !shutdown.requested() {
        // recv_from(): a broadcast and a unicast datagram look the same here;
        // `peer` is whoever sent it, and the reply goes straight back there.
        let (len, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                warn!("recv_from failed: {e}");
                continue;
            }
        };
        answer(socket, &buf[..len], peer, options);
    }
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
            net::preview(&String::from_utf8_lossy(datagram))
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

/// The client: one request to `--to`, then every reply until the wait ends.
fn discover(options: &DiscoverOptions) -> Result<(), Box<dyn Error>> {
    // socket(): a plain IPv4 UDP socket. No bind: the kernel gives it a free
    // port at the first send_to, and the replies come back to that port.
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    if options.so_broadcast {
        // SO_BROADCAST: "yes, I mean to send to a broadcast address". This
        // one line is all that tells a broadcasting sender from a unicast one.
        socket.set_broadcast(true)?;
    } else {
        warn!("--without-so-broadcast: SO_BROADCAST stays off");
    }
    let socket = UdpSocket::from(socket);

    let to = SocketAddr::V4(options.to);
    // send_to(): one datagram. To a broadcast address, the network delivers a
    // copy to every host on the subnet; to a unicast address, to one host.
    socket
        .send_to(REQUEST.as_bytes(), to)
        .map_err(|e| send_error(to, e, options.so_broadcast))?;
    info!(
        "sent {REQUEST:?} to {to}; collecting replies for {:?}",
        options.wait
    );

    let found = collect_replies(&socket, options)?;

    // close()
    drop(socket);
    if found == 0 {
        // Our request leaves from a loopback address only when sent to one.
        let lan_hint = if to.ip().is_loopback() {
            ""
        } else {
            "; a listener answers a request from a non-loopback address only when started \
             with --lan"
        };
        return Err(format!(
            "no responders at {to} within {:?}: start `udp-broadcast listen` (same --port), \
             or wait longer with --wait-ms{lan_hint}",
            options.wait
        )
        .into());
    }
    info!(
        "{found} {} answered",
        if found == 1 { "listener" } else { "listeners" }
    );
    Ok(())
}

/// Print one line per listener that answers before the deadline; return how
/// many did.
fn collect_replies(socket: &UdpSocket, options: &DiscoverOptions) -> io::Result<usize> {
    let mut buf = vec![0u8; net::RECV_BUFFER];
    // Several listeners on one host share an address and port, so a listener
    // is its name *and* its address.
    let mut seen = HashSet::new();
    let deadline = Instant::now() + options.wait;
    loop {
        if options.stop_after > 0 && seen.len() >= options.stop_after {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if let Err(e) = socket.set_read_timeout(Some(left)) {
            warn!("cannot set the read timeout: {e}");
            break;
        }
        // recv_from(): each reply, and who sent it.
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if net::is_timeout(&e) => continue,
            Err(e) => {
                warn!("recv_from failed: {e}");
                break;
            }
        };
        let Some(name) = parse_reply(&buf[..len]) else {
            warn!(
                "ignored {len} bytes from {from}: not a discovery reply: {}",
                net::preview(&String::from_utf8_lossy(&buf[..len]))
            );
            continue;
        };
        if seen.insert((name.to_string(), from)) {
            // parse_reply already refused control and format characters;
            // escaping them on output as well costs nothing.
            common::outln!("{} at {from}", net::printable(name.as_bytes()))?;
        } else {
            debug!("{name} at {from} answered twice");
        }
    }
    Ok(seen.len())
}

/// `HERE <name>` → the name, if it is a name we are willing to print.
fn parse_reply(datagram: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(datagram).ok()?;
    let name = text.strip_prefix(REPLY_PREFIX)?;
    check_name(name).ok()?;
    Some(name)
}

/// common's explanation of a failed bind, plus the rule of port sharing.
fn bind_error(addr: SocketAddr, error: io::Error) -> Box<dyn Error> {
    let in_use = error.kind() == io::ErrorKind::AddrInUse;
    let explained = net::bind_error(addr, error);
    if in_use {
        format!(
            "{explained}. (Listeners share a port only when every socket on it set \
             SO_REUSEADDR before its bind, as udp-broadcast listeners do.)"
        )
        .into()
    } else {
        explained
    }
}

/// Explain a failed send in words that say what to do.
fn send_error(to: SocketAddr, error: io::Error, so_broadcast: bool) -> Box<dyn Error> {
    if error.kind() == io::ErrorKind::PermissionDenied && !so_broadcast {
        return format!(
            "send_to {to}: {error}. The kernel will not send to a broadcast address from a \
             socket without SO_BROADCAST; the option is a safety catch against flooding a \
             network by mistake. Drop --without-so-broadcast and discover sets it first"
        )
        .into();
    }
    if error.kind() == io::ErrorKind::PermissionDenied {
        return format!("send_to {to}: {error}: is a firewall rule blocking it?").into();
    }
    format!(
        "send_to {to}: {error}: is {} the broadcast address of a network this machine is on? \
         `ip -4 addr` shows each network's broadcast address after `brd`",
        to.ip()
    )
    .into()
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

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"HERE alpha"), Some("alpha"));
        assert_eq!(parse_reply(b"HERE living room"), Some("living room"));
        assert_eq!(parse_reply(b"HERE "), None);
        assert_eq!(parse_reply(b"HERE \x1b[2J"), None);
        assert_eq!(parse_reply("HERE admin\u{202e}gnp".as_bytes()), None);
        assert_eq!(parse_reply("HERE al\u{200b}pha".as_bytes()), None);
        assert_eq!(parse_reply(b"THERE alpha"), None);
        assert_eq!(parse_reply(&[b'H', b'E', b'R', b'E', b' ', 0xff]), None);
    }
}
