//! `udp-broadcast discover`: the broadcasting client.
//!
//! It sends one `DISCOVER` to a *broadcast address*, which the network hands
//! to every host on the subnet, and prints a line for each listener that
//! answers. The default `--to 127.255.255.255` is the broadcast address of
//! the loopback network, so nothing leaves this machine. On a LAN, pass your
//! subnet's broadcast address (the `brd` that `ip -4 addr` shows) or the
//! all-ones limited broadcast address; `discover --help` and
//! docs/udp-broadcast.md explain both.
//!
//! `SO_BROADCAST` is what makes it work: without it the kernel refuses to
//! send to a broadcast address and `sendto` fails with `EACCES` (Permission
//! denied). `discover --without-so-broadcast` shows that failure.
//!
//! To a multicast group (`--to 239.255.42.99`, `--to ff15::4242`) it sets
//! the TTL / hop limit (`--ttl`, default 1), loopback copies and the
//! interface to send by (`--interface`) instead: see multicast.rs.
//!
//! The listener's address is not in the reply text: every datagram already
//! carries its sender's address, and `recv_from` hands it to us.
//!
//! Read `discover` (socket, SO_BROADCAST, send_to) → `collect_replies`
//! (recv_from until the deadline) → `parse_reply` → `send_error` (what
//! EACCES means).

use std::collections::HashSet;
use std::error::Error;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Instant;

use common::{escape, sockets};
use log::{debug, info, warn};
use socket2::{Domain, Protocol, Socket, Type};

use crate::multicast;
use crate::options::{check_name, DiscoverOptions};
use crate::{REPLY_PREFIX, REQUEST};

/// The client: one request to `--to`, then every reply until the wait ends.
pub fn discover(options: &DiscoverOptions) -> Result<(), Box<dyn Error>> {
    let to = options.to;
    let group = Some(to.ip()).filter(|ip| ip.is_multicast());
    // socket(): a plain UDP socket of the family of --to. No bind: the
    // kernel gives it a free port at the first send_to, and the replies come
    // back to that port.
    let socket = Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(group) = group {
        // Sending to a group needs no membership: TTL, loop and interface.
        multicast::prepare_sender(&socket, group, options.ttl, options.interface)?;
    } else if options.so_broadcast {
        // SO_BROADCAST: "yes, I mean to send to a broadcast address". This
        // one line is all that tells a broadcasting sender from a unicast one.
        socket.set_broadcast(true)?;
    } else {
        warn!("--without-so-broadcast: SO_BROADCAST stays off");
    }
    let socket = UdpSocket::from(socket);

    // send_to(): one datagram. To a broadcast address, the network delivers a
    // copy to every host on the subnet; to a unicast address, to one host.
    socket
        .send_to(REQUEST.as_bytes(), to)
        .map_err(|e| match group {
            Some(_) if multicast::no_route(&e, options.interface) => {
                format!("send_to {to}: {e}: {}", multicast::PASS_INTERFACE).into()
            }
            Some(_) => format!(
                "send_to {to}: {e}: does the interface have a route to the group? (`ip -6 \
                 route show table local` lists ff00::/8 per interface; Linux's loopback has \
                 none for IPv6)"
            )
            .into(),
            None => send_error(to, e, options.so_broadcast),
        })?;
    let ttl = match group {
        Some(IpAddr::V4(_)) => format!(" with TTL {}", options.ttl),
        Some(IpAddr::V6(_)) => format!(" with hop limit {}", options.ttl),
        None => String::new(),
    };
    info!(
        "sent {REQUEST:?} to {to}{ttl}; collecting replies for {:?}",
        options.wait
    );

    let found = collect_replies(&socket, options)?;

    // close()
    drop(socket);
    if found == 0 {
        // Our request leaves from a loopback address only when sent to one.
        let lan_hint = if to.ip().is_loopback() {
            ""
        } else if group.is_some() {
            "; a listener answers only when it joined this group (listen --group), and a \
             request from a non-loopback address only with --lan; behind a router, raise --ttl"
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
    let mut buf = vec![0u8; sockets::RECV_BUFFER];
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
            Err(e) if sockets::is_timeout(&e) => continue,
            // Windows only: our request met a closed port (ICMP "port
            // unreachable"); no listener will answer from there.
            Err(e) if sockets::is_port_unreachable(&e) => {
                warn!(
                    "nothing is listening at {}: its machine answered port unreachable",
                    options.to
                );
                break;
            }
            Err(e) => {
                warn!("recv_from failed: {e}");
                break;
            }
        };
        let Some(name) = parse_reply(&buf[..len]) else {
            warn!(
                "ignored {len} bytes from {from}: not a discovery reply: {}",
                escape::preview(&String::from_utf8_lossy(&buf[..len]))
            );
            continue;
        };
        if seen.insert((name.to_string(), from)) {
            // parse_reply already refused control and format characters;
            // escaping them on output as well costs nothing.
            common::outln!("{} at {from}", escape::printable(name.as_bytes()))?;
        } else {
            debug!("{name} at {from} answered twice");
        }
    }
    Ok(seen.len())
}

/// `HERE <name>` → the name, if it is a name we are willing to print.
/// Pure (no I/O), so that `fuzz/` can reach it and fuzz it.
pub(crate) fn parse_reply(datagram: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(datagram).ok()?;
    let name = text.strip_prefix(REPLY_PREFIX)?;
    check_name(name).ok()?;
    Some(name)
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
