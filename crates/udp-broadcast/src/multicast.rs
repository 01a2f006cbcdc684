//! Multicast: the socket calls that `listen --group` and `discover --to
//! GROUP` add to the broadcast lesson, and the checks of their flags.
//!
//! A multicast group is an address that names no host but a set of them:
//! 224.0.0.0/4 in IPv4, ff00::/8 in IPv6. A socket *joins* a group
//! (`IP_ADD_MEMBERSHIP` / `IPV6_JOIN_GROUP`, socket2's `join_multicast_v4`
//! and `join_multicast_v6`) on one interface; the kernel then tells the
//! network (IGMP / MLD) and hands the socket each datagram sent to the group
//! on its port. Unlike a broadcast, only members receive it, routers can
//! forward it, and IPv6 has it (IPv6 has no broadcast at all).
//!
//! Sending needs no membership, only three choices, each a socket option:
//! which interface it leaves by (`IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`),
//! how many routers it may cross (`IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`,
//! 1 by default: this link only), and whether members on the sending
//! machine get a copy too (`IP_MULTICAST_LOOP`, on by default).
//!
//! Interfaces are named here portably, without libc: a number is an
//! interface index (every OS has them); on Linux a name such as `eth0` is
//! looked up in `/sys/class/net/NAME/ifindex`; for IPv4 an address of the
//! interface (such as `192.0.2.1`) works everywhere.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use socket2::Socket;

/// `--interface`: the interface to join a group on or send by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// An interface index: `ip link` (Linux), the `scopeid` of `ifconfig`
    /// (macOS), the `Idx` of `netsh interface ipv6 show interfaces` (Windows).
    Index(u32),
    /// One of the interface's IPv4 addresses (IPv4 groups only).
    Address(Ipv4Addr),
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interface::Index(index) => write!(f, "interface {index}"),
            Interface::Address(ip) => write!(f, "interface {ip}"),
        }
    }
}

/// Parse `--interface TEXT` for a group of the family of `group`.
pub fn parse_interface(text: &str, group: IpAddr) -> Result<Interface, String> {
    if let Ok(index) = text.parse::<u32>() {
        if index == 0 {
            return Err("interface 0 means \"any\": leave out --interface instead".into());
        }
        return match known_index(index) {
            Some(false) => Err(format!("no interface has index {index} (see `ip link`)")),
            _ => Ok(Interface::Index(index)),
        };
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return match (ip, group) {
            (IpAddr::V4(ip), IpAddr::V4(_)) => Ok(Interface::Address(ip)),
            _ => Err(format!(
                "an IPv6 group needs the interface's name or index, not an address \
                 ({})",
                how_to_find_index()
            )),
        };
    }
    index_of_name(text).map(Interface::Index)
}

/// Linux: does an interface with this index exist? `None` elsewhere.
fn known_index(index: u32) -> Option<bool> {
    let dir = std::fs::read_dir("/sys/class/net").ok()?;
    let found = dir.filter_map(Result::ok).any(|entry| {
        std::fs::read_to_string(entry.path().join("ifindex"))
            .is_ok_and(|text| text.trim() == index.to_string())
    });
    Some(found)
}

/// An interface name's index. std has no `if_nametoindex`, and this
/// workspace no libc, so only where the kernel shows it as a file: Linux.
fn index_of_name(name: &str) -> Result<u32, String> {
    let valid = !name.is_empty()
        && name.len() < 16
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        && name != "."
        && name != "..";
    if cfg!(target_os = "linux") && valid {
        if let Ok(text) = std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex")) {
            if let Ok(index) = text.trim().parse() {
                return Ok(index);
            }
        }
        return Err(format!("unknown interface {name:?} (see `ip link`)"));
    }
    if cfg!(target_os = "linux") {
        return Err(format!(
            "unknown interface {:?} (see `ip link`)",
            name.escape_debug()
        ));
    }
    Err(format!(
        "cannot look up interface names on this OS: give its index ({}), or for IPv4 \
         one of its addresses",
        how_to_find_index()
    ))
}

fn how_to_find_index() -> &'static str {
    "`ip link` on Linux, the scopeid of `ifconfig` on macOS, the Idx column of `netsh \
     interface ipv6 show interfaces` on Windows"
}

/// Does an IPv6 group need `--interface`? Interface-local (ff01::) and
/// link-local (ff02::) groups exist on every link at once, so the kernel
/// cannot pick one by its routes (and macOS refuses interface 0 outright).
pub fn needs_interface(group: Ipv6Addr) -> bool {
    matches!(group.segments()[0] & 0x000f, 1 | 2)
}

/// Parse `--ttl`: 0 to 255. 0 keeps the datagram on this machine (members
/// here get their loopback copy), 1 on this link, each more crosses one
/// more router.
pub fn parse_ttl(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(ttl) if ttl <= 255 => Ok(ttl),
        _ => Err(format!(
            "invalid value '{text}' for --ttl: expected a number from 0 to 255 (routers it \
             may cross; 1 stays on this link)"
        )),
    }
}

/// Join `group` on `interface` (`None`: let the kernel choose by its routes).
pub fn join(socket: &Socket, group: IpAddr, interface: Option<Interface>) -> io::Result<()> {
    match (group, interface) {
        // IP_ADD_MEMBERSHIP with an interface address; 0.0.0.0 means "the
        // interface the route to the group uses".
        (IpAddr::V4(group), None) => socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED),
        (IpAddr::V4(group), Some(Interface::Address(ip))) => socket.join_multicast_v4(&group, &ip),
        // IP_ADD_MEMBERSHIP with an ip_mreqn, which takes an index.
        (IpAddr::V4(group), Some(Interface::Index(index))) => {
            v4_by_index(socket, group, index, true)
        }
        // IPV6_JOIN_GROUP always takes an index; 0 lets the kernel choose.
        (IpAddr::V6(group), interface) => socket.join_multicast_v6(&group, index_of(interface)),
    }
}

/// Leave `group` again: the same arguments as [`join`]. Closing the socket
/// would leave it too; saying so explicitly is the lesson.
pub fn leave(socket: &Socket, group: IpAddr, interface: Option<Interface>) -> io::Result<()> {
    match (group, interface) {
        // IP_DROP_MEMBERSHIP
        (IpAddr::V4(group), None) => socket.leave_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED),
        (IpAddr::V4(group), Some(Interface::Address(ip))) => socket.leave_multicast_v4(&group, &ip),
        (IpAddr::V4(group), Some(Interface::Index(index))) => {
            v4_by_index(socket, group, index, false)
        }
        // IPV6_LEAVE_GROUP
        (IpAddr::V6(group), interface) => socket.leave_multicast_v6(&group, index_of(interface)),
    }
}

fn index_of(interface: Option<Interface>) -> u32 {
    match interface {
        Some(Interface::Index(index)) => index,
        _ => 0,
    }
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    windows
))]
fn v4_by_index(socket: &Socket, group: Ipv4Addr, index: u32, join: bool) -> io::Result<()> {
    let interface = socket2::InterfaceIndexOrAddress::Index(index);
    if join {
        socket.join_multicast_v4_n(&group, &interface)
    } else {
        socket.leave_multicast_v4_n(&group, &interface)
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    windows
)))]
fn v4_by_index(_: &Socket, _: Ipv4Addr, _: u32, _: bool) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Other,
        "this OS joins IPv4 groups by interface address only: give --interface ADDRESS",
    ))
}

/// Linux's `IP_MULTICAST_ALL` (on by default) hands a socket bound to
/// 0.0.0.0:PORT the datagrams of *every* group that any socket on the
/// machine joined on that port. A listener wants its own group only (none
/// without --group), so it turns the option off for its family (`any`, the
/// address it binds). Other OSes deliver only joined groups.
#[cfg(target_os = "linux")]
pub fn own_groups_only(socket: &Socket, any: IpAddr) -> io::Result<()> {
    match any {
        IpAddr::V4(_) => socket.set_multicast_all_v4(false),
        IpAddr::V6(_) => socket.set_multicast_all_v6(false),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn own_groups_only(_: &Socket, _: IpAddr) -> io::Result<()> {
    Ok(())
}

/// Prepare a sending socket for a group: TTL / hop limit, loopback copies,
/// and the interface to send by.
pub fn prepare_sender(
    socket: &Socket,
    group: IpAddr,
    ttl: u32,
    interface: Option<Interface>,
) -> io::Result<()> {
    match group {
        IpAddr::V4(_) => {
            // IP_MULTICAST_TTL: how many routers the datagram may cross.
            socket.set_multicast_ttl_v4(ttl)?;
            // IP_MULTICAST_LOOP: members on this machine get a copy (the
            // default; set here to show it).
            socket.set_multicast_loop_v4(true)?;
            match interface {
                // IP_MULTICAST_IF: leave by the interface with this address.
                Some(Interface::Address(ip)) => socket.set_multicast_if_v4(&ip)?,
                Some(Interface::Index(index)) => send_v4_by_index(socket, index)?,
                None => {}
            }
        }
        IpAddr::V6(_) => {
            // IPV6_MULTICAST_HOPS: the hop limit, IPv6's TTL.
            socket.set_multicast_hops_v6(ttl)?;
            // IPV6_MULTICAST_LOOP
            socket.set_multicast_loop_v6(true)?;
            if let Some(interface) = interface {
                // IPV6_MULTICAST_IF takes an index.
                socket.set_multicast_if_v6(index_of(Some(interface)))?;
            }
        }
    }
    Ok(())
}

/// IPv4 `IP_MULTICAST_IF` takes an address. By index: Linux and macOS bind
/// the socket to the interface (SO_BINDTOIFINDEX / IP_BOUND_IF); Windows
/// reads an address 0.0.0.INDEX as the index.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
fn send_v4_by_index(socket: &Socket, index: u32) -> io::Result<()> {
    socket.bind_device_by_index_v4(std::num::NonZeroU32::new(index))
}

#[cfg(windows)]
fn send_v4_by_index(socket: &Socket, index: u32) -> io::Result<()> {
    socket.set_multicast_if_v4(&Ipv4Addr::from(index))
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    windows
)))]
fn send_v4_by_index(_: &Socket, _: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Other,
        "this OS sends IPv4 multicast by interface address only: give --interface ADDRESS",
    ))
}

/// Did the kernel refuse because it found no interface for the group?
/// "No such device" (ENODEV, a join) or "Network is unreachable"
/// (ENETUNREACH, a send): no route covers 224.0.0.0/4 (no default route
/// either), and no `--interface` said which to use.
pub fn no_route(error: &io::Error, interface: Option<Interface>) -> bool {
    // The errno values: ENODEV is 19 on Linux, macOS and the BSDs;
    // ENETUNREACH is 101 on Linux, 51 on macOS and the BSDs, and Windows
    // says WSAENETUNREACH, 10051.
    let codes: &[i32] = if cfg!(windows) {
        &[10051]
    } else if cfg!(any(target_os = "linux", target_os = "android")) {
        &[19, 101]
    } else {
        &[19, 51]
    };
    interface.is_none()
        && error
            .raw_os_error()
            .is_some_and(|code| codes.contains(&code))
}

/// The hint for [`no_route`].
pub const PASS_INTERFACE: &str = "no interface has a route to that group (no default route?): \
     pass --interface NAME, INDEX or (IPv4) ADDRESS, such as --interface eth0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert!(needs_interface(v6("ff02::4242")));
        assert!(needs_interface(v6("ff12::1")));
        assert!(needs_interface(v6("ff01::1")));
        assert!(!needs_interface(v6("ff15::4242")));
        assert!(!needs_interface(v6("ff05::2")));
        assert!(!needs_interface(v6("ff0e::1")));
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("0"), Ok(0));
        assert_eq!(parse_ttl("255"), Ok(255));
        for bad in ["256", "-1", "x", ""] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interfaces() {
        let v4: IpAddr = "239.255.42.99".parse().unwrap();
        let v6: IpAddr = "ff02::4242".parse().unwrap();
        assert_eq!(
            parse_interface("192.0.2.1", v4),
            Ok(Interface::Address(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert!(parse_interface("192.0.2.1", v6).is_err());
        assert!(parse_interface("0", v4).is_err());
        assert!(parse_interface("no-such-if0", v4).is_err());
        if cfg!(target_os = "linux") {
            assert_eq!(parse_interface("lo", v6), Ok(Interface::Index(1)));
            assert_eq!(parse_interface("1", v6), Ok(Interface::Index(1)));
            assert!(parse_interface("../lo", v6).is_err());
        }
    }
}
