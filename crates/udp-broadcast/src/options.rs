//! Options of `udp-broadcast`, a program with two commands: `listen` (the
//! responder) and `discover` (the broadcasting client).
//!
//! Unlike the other servers, `listen` always binds `0.0.0.0`: a socket bound
//! to one unicast address such as `127.0.0.1` never sees a datagram sent to a
//! broadcast address, so there is no `--host`. To stay safe by default it
//! still answers only requests from a loopback source address (this
//! machine); `--lan` lets it answer the network. `listen --group GROUP`
//! also joins a multicast group, and `discover --to GROUP` sends to one
//! (multicast.rs).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use common::cli::{self, Flag, Matches, Spec};

use crate::multicast::{self, Interface};

/// The port the listeners share and `discover` sends to.
const SHARED_PORT: u16 = 6550;

/// Where `discover` sends by default: the broadcast address of the loopback
/// network 127.0.0.0/8, so the default never leaves this machine.
const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// The longest `--name`, in characters. A reply must stay small: it is one
/// datagram, and a responder should not answer a tiny request with a big one.
/// Even so, 64 characters can be 256 bytes of UTF-8, so the 8-byte request
/// can draw a 261-byte reply: one reason `listen` answers only this machine
/// unless given `--lan`.
pub const MAX_NAME: usize = 64;

const PORT: Flag<u16> = Flag::with_default(
    "port",
    "PORT",
    SHARED_PORT,
    "UDP port the listeners share; 0 picks any free port",
);
const NAME: Flag<String> = Flag::optional(
    "name",
    "NAME",
    "what to answer (1-64 printable characters) [default: HOSTNAME-PID]",
);
const LAN: Flag<bool> = Flag::switch(
    "lan",
    "answer requests from every address, not only loopback ones. Off by default: an \
     open listener tells anyone its name (host name and pid by default) and answers an \
     8-byte request with up to 261 bytes, so forged requests could aim it at a victim \
     (a reflector and amplifier)",
);
const TO: Flag<IpAddr> = Flag::with_default(
    "to",
    "ADDR",
    IpAddr::V4(LOOPBACK_BROADCAST),
    "IPv4 broadcast address, or a multicast group (IPv4 or IPv6), to send to; the \
     default stays on this machine (IPv6 has no broadcast: it uses multicast)",
);
const GROUP: Flag<String> = Flag::optional(
    "group",
    "GROUP",
    "also join this multicast group (IPv4 224.0.0.0/4 such as 239.255.42.99, IPv6 \
     ff00::/8 such as ff02::4242 or ff15::4242) and answer requests sent to it",
);
const TTL: Flag<String> = Flag::optional(
    "ttl",
    "N",
    "with a group: the IPv4 TTL / IPv6 hop limit, 0-255: how many routers the request \
     may cross (0: this machine only) [default: 1, this link only]",
);
const LISTENERS_PORT: Flag<u16> =
    Flag::with_default("port", "PORT", SHARED_PORT, "the listeners' UDP port");
const WAIT: Flag<u64> = Flag::with_default(
    "wait-ms",
    "MS",
    1000,
    "how long to collect replies (1-60000)",
);
const STOP_AFTER: Flag<usize> = Flag::with_default(
    "stop-after",
    "N",
    0,
    "stop as soon as N listeners have answered; 0 waits the whole time",
);
const WITHOUT_SO_BROADCAST: Flag<bool> = Flag::switch(
    "without-so-broadcast",
    "do not set SO_BROADCAST, to see the kernel refuse the send (Permission denied)",
);

static LISTEN: Spec = Spec {
    name: "listen",
    about: "bind 0.0.0.0:PORT with SO_REUSEADDR (and SO_REUSEPORT where it exists) and answer each DISCOVER request with this \
            listener's name. Only requests from a loopback address (127.0.0.0/8, this machine) \
            are answered unless --lan is given",
    positionals: &[],
    flags: &[&PORT, &NAME, &LAN, &GROUP, &INTERFACE],
    examples: &[
        "udp-broadcast listen",
        "udp-broadcast listen --group 239.255.42.99 --interface 127.0.0.1  # multicast on this machine",
        "udp-broadcast listen --group ff02::4242 --interface eth0 --lan    # IPv6, link-local",
        "udp-broadcast listen --name kitchen",
        "udp-broadcast listen --port 0 --name alpha     # then more listeners on the port it prints",
        "udp-broadcast listen --lan --name kitchen      # answer other hosts too",
    ],
};

const INTERFACE: Flag<String> = Flag::optional(
    "interface",
    "IFACE",
    "with a group: the interface to join / send by: its index (any OS), its name (Linux: \
     eth0), or for IPv4 one of its addresses; ff02:: groups need it [default: the kernel \
     picks by its routes]",
);

static DISCOVER: Spec = Spec {
    name: "discover",
    about: "set SO_BROADCAST, send one DISCOVER to a broadcast address, print every listener \
            that answers before the wait ends (exit 1 if none does)",
    positionals: &[],
    flags: &[
        &TO,
        &INTERFACE,
        &TTL,
        &LISTENERS_PORT,
        &WAIT,
        &STOP_AFTER,
        &WITHOUT_SO_BROADCAST,
    ],
    examples: &[
        "udp-broadcast discover",
        "udp-broadcast discover --to 127.0.0.1          # unicast: only one listener on the port hears it",
        "udp-broadcast discover --without-so-broadcast  # the EACCES lesson",
        "udp-broadcast discover --to 239.255.42.99 --interface 127.0.0.1  # multicast",
        "udp-broadcast discover --to ff15::4242 --ttl 2  # IPv6, across one router: sends on your real network",
        "udp-broadcast discover --to 192.168.1.255      # your LAN (sends on your real network): \
         your subnet's broadcast address, the brd of `ip -4 addr`",
        // --help text only: no test or script ever sends there.
        "udp-broadcast discover --to 255.255.255.255    # your LAN (sends on your real network): limited broadcast, every host on the link, never routed", // help

    ],
};

/// What to do, with its options.
#[derive(Debug, Clone)]
pub enum BroadcastCommand {
    Listen(ListenOptions),
    Discover(DiscoverOptions),
}

/// Options of `udp-broadcast listen`.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// The port to share with the other listeners.
    pub port: u16,
    /// What this listener answers.
    pub name: String,
    /// `--lan`: answer requests from any address, not only loopback ones.
    pub lan: bool,
    /// `--group`: the multicast group to join, if any.
    pub group: Option<IpAddr>,
    /// `--interface`: where to join it (`None`: the kernel picks).
    pub interface: Option<Interface>,
}

/// Options of `udp-broadcast discover`.
#[derive(Debug, Clone, Copy)]
pub struct DiscoverOptions {
    /// Where the request goes: a broadcast address, any IPv4 address, or a
    /// multicast group (IPv4 or IPv6).
    pub to: SocketAddr,
    /// `--ttl` for a group: TTL or hop limit.
    pub ttl: u32,
    /// `--interface` for a group: where to send it from.
    pub interface: Option<Interface>,
    /// How long to collect replies.
    pub wait: Duration,
    /// Stop after this many responders; 0 means wait the whole time.
    pub stop_after: usize,
    /// `false` with `--without-so-broadcast`.
    pub so_broadcast: bool,
}

impl BroadcastCommand {
    /// Parse the command line: `udp-broadcast listen ...` or
    /// `udp-broadcast discover ...`. Exits 2 on a usage error.
    pub fn parse() -> BroadcastCommand {
        let (spec, m) = cli::parse_subcommand(
            "udp-broadcast",
            "find the listeners on a network with one UDP broadcast",
            &[&LISTEN, &DISCOVER],
        );
        if spec.name == LISTEN.name {
            let name = match m.opt(&NAME) {
                Some(name) => name,
                None => default_name(),
            };
            if let Err(why) = check_name(&name) {
                cli::usage_error(&format!(
                    "invalid value '{}' for --name: {why}",
                    name.escape_debug()
                ));
            }
            let group = m.opt(&GROUP).map(|text| parse_group(&text));
            let interface = membership_interface(&m, group, "--group");
            return BroadcastCommand::Listen(ListenOptions {
                port: m.port(&PORT),
                name,
                lan: m.switch(&LAN),
                group,
                interface,
            });
        }
        let port = m.port(&LISTENERS_PORT);
        if port == 0 {
            cli::usage_error(&format!(
                "invalid value '0' for --port: give the port the listeners printed (default \
                 {SHARED_PORT})"
            ));
        }
        let to = m.text(&TO);
        let ip = match to.parse::<IpAddr>() {
            Ok(ip) if ip.is_multicast() || ip.is_ipv4() => ip,
            Ok(_) => cli::usage_error(&format!(
                "invalid value '{to}' for --to: IPv6 has no broadcast (it uses multicast \
                 instead); give an IPv6 group such as ff15::4242 or an IPv4 address such as \
                 {LOOPBACK_BROADCAST}"
            )),
            Err(_) => cli::usage_error(&format!(
                "invalid value '{to}' for --to: expected an IPv4 address such as \
                 {LOOPBACK_BROADCAST} or a multicast group"
            )),
        };
        let group = Some(ip).filter(IpAddr::is_multicast);
        let interface = membership_interface(&m, group, "a multicast --to");
        let ttl = match (m.opt(&TTL), group) {
            (None, _) => 1,
            (Some(_), None) => cli::usage_error(
                "--ttl needs a multicast --to (a broadcast never crosses a router)",
            ),
            (Some(text), Some(_)) => {
                multicast::parse_ttl(&text).unwrap_or_else(|e| cli::usage_error(&e))
            }
        };
        let to = match (ip, interface) {
            // A link-local group's address means nothing without its link:
            // the scope id says which.
            (IpAddr::V6(ip), Some(Interface::Index(index))) => {
                SocketAddr::V6(SocketAddrV6::new(ip, port, 0, index))
            }
            _ => SocketAddr::new(ip, port),
        };
        BroadcastCommand::Discover(DiscoverOptions {
            to,
            ttl,
            interface,
            wait: Duration::from_millis(m.get_in(&WAIT, 1..=60_000)),
            stop_after: m.get_in(&STOP_AFTER, 0..=1000),
            so_broadcast: !m.switch(&WITHOUT_SO_BROADCAST),
        })
    }
}

/// `--group` / a group `--to`: a multicast address, or exit 2.
fn parse_group(text: &str) -> IpAddr {
    match text.parse::<IpAddr>() {
        Ok(ip) if ip.is_multicast() => ip,
        Ok(ip) => cli::usage_error(&format!(
            "invalid value '{ip}' for --group: not a multicast address (IPv4 224.0.0.0/4 such \
             as 239.255.42.99, IPv6 ff00::/8 such as ff15::4242)"
        )),
        Err(_) => cli::usage_error(&format!(
            "invalid value '{}' for --group: expected a multicast address such as \
             239.255.42.99 or ff15::4242",
            text.escape_debug()
        )),
    }
}

/// `--interface`, checked against the group it is for (`what` names the
/// flag that gives the group, for the message when there is none).
fn membership_interface(m: &Matches, group: Option<IpAddr>, what: &str) -> Option<Interface> {
    let text = m.opt(&INTERFACE);
    let Some(group) = group else {
        if text.is_some() {
            cli::usage_error(&format!("--interface needs {what}"));
        }
        return None;
    };
    let interface = text.map(|text| {
        multicast::parse_interface(&text, group).unwrap_or_else(|why| {
            cli::usage_error(&format!(
                "invalid value '{}' for --interface: {why}",
                text.escape_debug()
            ))
        })
    });
    if let (IpAddr::V6(v6), None) = (group, interface) {
        if multicast::needs_interface(v6) {
            cli::usage_error(&format!(
                "{v6} is a link-local group (ff02::, or ff01:: for one interface): it exists on \
                 every link, so say which with --interface NAME or INDEX"
            ));
        }
    }
    interface
}

/// Is `name` fit to be a listener's name? 1 to [`MAX_NAME`] characters, none
/// of them a control character (printing it must not drive a terminal) or an
/// invisible format character (it must not pass itself off as another name).
/// `discover` applies the same check to the names in replies.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("a name has at most {MAX_NAME} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot contain control characters".into());
    }
    if let Some(c) = name.chars().find(|&c| is_invisible_format(c)) {
        return Err(format!(
            "a name cannot contain invisible formatting characters such as U+{:04X} \
             (zero-width and text-direction marks can make one name look like another)",
            u32::from(c)
        ));
    }
    Ok(())
}

/// The Arabic letter mark, the zero-width characters, the bidirectional
/// marks, embeddings, overrides and isolates, the line and paragraph
/// separators, the word joiner and its kin, and the byte-order mark:
/// invisible, able to break a line, or able to reorder the text around them
/// on screen. These are exactly the characters other than control characters
/// that `common::escape` escapes: this is its predicate.
fn is_invisible_format(c: char) -> bool {
    common::escape::is_invisible_format(c)
}

/// `HOSTNAME-PID`: the host tells machines apart, the process id tells apart
/// several listeners on one machine.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 40 && check_name(h).is_ok())
        .unwrap_or_else(|| "listener".to_string());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("kitchen").is_ok());
        assert!(check_name("living room").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("\u{1b}[31mred").is_err());
        for spoof in [
            "\u{061c}", "\u{200b}", "\u{200f}", "\u{2028}", "\u{2029}", "\u{202a}", "\u{202e}",
            "\u{2060}", "\u{2069}", "\u{feff}",
        ] {
            let name = format!("kitchen{spoof}");
            let why = check_name(&name).unwrap_err();
            assert!(why.contains("invisible formatting"), "{why}");
        }
        assert!(check_name("caf\u{e9} \u{4e2d}\u{6587}").is_ok());
        assert!(check_name(&"x".repeat(MAX_NAME)).is_ok());
        assert!(check_name(&"x".repeat(MAX_NAME + 1)).is_err());
        let name = default_name();
        assert!(check_name(&name).is_ok(), "{name}");
        assert!(name.ends_with(&format!("-{}", std::process::id())));
    }

    /// Every character is refused in a name exactly when it is not a control
    /// character and `printable` would escape it, so the two lists cannot
    /// drift apart again.
    #[test]
    fn refuses_what_printable_escapes() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            if c.is_control() {
                continue;
            }
            let text = c.to_string();
            let escaped = common::escape::printable(text.as_bytes()) != text;
            assert_eq!(is_invisible_format(c), escaped, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn help_explains_broadcast() {
        let help = DISCOVER.help();
        for part in [
            "[default: 127.255.255.255]",
            "limited broadcast",
            "brd",
            "IPv6",
        ] {
            assert!(help.contains(part), "{part}:\n{help}");
        }
        let listen = LISTEN.help();
        for part in [
            "[default: 6550]",
            "--lan",
            "127.0.0.0/8",
            "reflector",
            "261 bytes",
        ] {
            assert!(listen.contains(part), "{part}:\n{listen}");
        }
    }
}
