//! The flags and defaults of the request/response lessons.
//!
//! A server and its threaded twin share one options struct, so the two
//! `main.rs` files differ only where threading differs. Each client's defaults
//! are its server's defaults, so both run with no arguments.

pub mod tcp;
pub mod udp;

use std::net::SocketAddr;

use crate::cli::{usage_error, Flag, Matches};
use crate::sockets;

/// The address every server binds by default: this machine only. A lesson
/// server is a toy; it should not be reachable from the network unless the
/// student asks for that with `--host 0.0.0.0`.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// `--host`, shared by every server.
pub const HOST: Flag<&str> = Flag::with_default(
    "host",
    "HOST",
    DEFAULT_HOST,
    "IP address or name (127.0.0.1, ::1, localhost; 0.0.0.0 or :: for every interface)",
);

/// `--host` of a client: the server's address, by default [`DEFAULT_HOST`],
/// where the servers listen by default.
pub const SERVER_HOST: Flag<&str> =
    Flag::with_default("host", "HOST", DEFAULT_HOST, "the server's address or name");

/// `--ipv6-only`, shared by every server. A server on `::` takes IPv4
/// clients too unless this is given (see [`crate::cli::Matches::ipv6_only`]).
pub const IPV6_ONLY: Flag<bool> = Flag::switch(
    "ipv6-only",
    "with an IPv6 --host such as ::, refuse IPv4 clients (by default they come in as ::ffff:a.b.c.d)",
);

/// The address flags of the servers and clients, read together.
impl Matches {
    /// `--host` and `--port` together, resolved to one socket address.
    /// Names like `localhost` are looked up; an address that cannot be
    /// resolved is a usage error.
    pub fn socket_addr(&self, host: &Flag<&'static str>, port: &Flag<u16>) -> SocketAddr {
        let port = self.port(port);
        let name = self.text(host);
        sockets::resolve(&name, port)
            .unwrap_or_else(|e| usage_error(&format!("--{} '{name}': {e}", host.name)))
    }

    /// `--ipv6-only` of a server that binds `addr`: the value for
    /// IPV6_V6ONLY. Off by default, so that `--host ::` means the same on
    /// every OS: IPv6 and IPv4 clients alike (Linux and macOS default to
    /// that, Windows to IPv6 only). The switch with an IPv4 address is a
    /// usage error: it would mean nothing.
    pub fn ipv6_only(&self, flag: &Flag<bool>, addr: SocketAddr) -> bool {
        let asked = self.switch(flag);
        if asked && addr.is_ipv4() {
            usage_error(&format!(
                "--{} needs an IPv6 --host such as :: or ::1, not {}",
                flag.name,
                addr.ip()
            ));
        }
        asked
    }

    /// `--host` and `--port` of a *client*: the server to reach. Port 0 is
    /// refused (a server can bind port 0, but nothing can be sent to it), and
    /// an unspecified host such as `0.0.0.0` means this machine (see
    /// [`sockets::destination`]).
    pub fn server_addr(&self, host: &Flag<&'static str>, port: &Flag<u16>) -> SocketAddr {
        let addr = self.socket_addr(host, port);
        if addr.port() == 0 {
            usage_error(&format!(
                "invalid value '0' for --{}: a client needs the server's real port (the one it printed)",
                port.name
            ));
        }
        sockets::destination(addr)
    }
}
