//! The flags and defaults of the request/response lessons.
//!
//! A server and its threaded twin share one options struct, so the two
//! `main.rs` files differ only where threading differs. Each client's defaults
//! are its server's defaults, so both run with no arguments.

pub mod tcp;
pub mod udp;

use crate::cli::Flag;

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
