//! # udp-broadcast: find the listeners on a network with one datagram
//!
//! Two commands in one program. `listen` binds every interface (`0.0.0.0`)
//! on a port it shares with other listeners (SO_REUSEADDR/PORT) and answers each
//! `DISCOVER` datagram with `HERE <name>`. `discover` sets SO_BROADCAST,
//! sends one `DISCOVER` to a broadcast address and prints each listener that
//! answers. The default address, 127.255.255.255, is the loopback network's
//! broadcast address, so nothing leaves this machine. Without `--lan` a
//! listener answers loopback senders only: an open one tells anyone its name
//! and can be aimed at a victim as a reflector. Multicast, IPv4 and IPv6:
//! `listen --group GROUP` joins a group, `discover --to GROUP` sends to it.
//!
//! ## Run it (two terminals)
//!
//! ```text
//! terminal 1 $ cargo run -q -p udp-broadcast -- listen --name alpha
//! listening on 0.0.0.0:6550
//! 10:25:47.282 INFO  answering discovery requests as "alpha" from loopback addresses only; --lan answers the network
//!
//! terminal 2 $ cargo run -q -p udp-broadcast -- discover
//! 10:25:48.780 INFO  sent "DISCOVER" to 127.255.255.255:6550; collecting replies for 1s
//! alpha at 127.0.0.1:6550
//! 10:25:49.794 INFO  1 listener answered
//!
//! terminal 1 now shows
//! 10:25:48.780 INFO  discovery request from 127.0.0.1:46877
//! ```
//!
//! ## Read in this order
//!
//! 1. `options.rs`: the two commands, their flags, `check_name`.
//! 2. `listen.rs`: `listen` (socket, SO_BROADCAST, SO_REUSEADDR/PORT, bind) →
//!    `answer_loop` (recv_from) → `answer` (whom to answer; send_to).
//! 3. `discover.rs`: `discover` (socket, SO_BROADCAST, send_to) →
//!    `collect_replies` (recv_from until the deadline) → `send_error`.
//! 4. `multicast.rs`: `join`, `leave`, IP_MULTICAST_ALL, `prepare_sender`.
//!
//! The tutorial's own server is `examples/udp-broadcast-tutorial.rs`. The
//! lesson page, with experiments that break it: docs/udp-broadcast.md.

mod discover;
mod listen;
mod multicast;
mod options;

use std::process::ExitCode;

use options::BroadcastCommand;

/// What `discover` sends.
const REQUEST: &str = "DISCOVER";
/// What a listener's reply starts with; its name follows.
const REPLY_PREFIX: &str = "HERE ";

fn main() -> ExitCode {
    let command = BroadcastCommand::parse();
    common::logging::init();
    common::exit_code(match &command {
        BroadcastCommand::Listen(options) => listen::listen(options),
        BroadcastCommand::Discover(options) => discover::discover(options),
    })
}
