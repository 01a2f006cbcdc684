//! udp-client and the two UDP servers on two "machines": the server in one
//! network namespace at 192.168.47.130, the client in another at
//! 192.168.47.10, joined by a veth cable (see `common::testing::lan`). The
//! commands are the ones docs/udp-client.md and the servers' pages show
//! under "Two machines", on the lessons' default port (each namespace has
//! its own ports).
//!
//! Linux and root only; elsewhere the tests say why they are skipped (on
//! CI a skip is a failure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::lan::{client_asks_server, client_ports, lesson_bin, CLIENT_IP};

const CLIENT: &str = env!("CARGO_BIN_EXE_udp-client");
const PREFIX: &str = "udp2m-";

/// Run `server ARGS` and the client, and check the reply arrived and both
/// logs name the other machine. `pages` show both commands.
fn pair(test: &str, server: &str, args: &[&str], listening: &str, pages: &[&str]) {
    let client = ("udp-client", CLIENT);
    let Some(talk) = client_asks_server(PREFIX, test, client, server, args, listening, pages)
    else {
        return;
    };
    assert!(
        talk.client_log
            .contains("reply from 192.168.47.130:6532 (16 bytes)"),
        "client log: {}",
        talk.client_log
    );
    // The server saw the client's LAN address and its port, in both lines.
    let ports = client_ports(&talk.server_log);
    assert!(
        ports.len() == 2 && ports[0] == ports[1] && ports[0] != 0,
        "the server log lacks the LAN peer {CLIENT_IP}:PORT twice:\n{}",
        talk.server_log
    );
    assert!(talk
        .server_log
        .contains(&format!("from {CLIENT_IP}:{}: \"hello\"", ports[0])));
    assert!(talk.server_status.success(), "{}", talk.server_log);
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn udp_server_bound_to_its_lan_address() {
    pair(
        "udp-server-lan",
        "udp-server",
        &["--host", "192.168.47.130"],
        "192.168.47.130:6532",
        &["docs/udp-client.md", "docs/udp-server.md", "README.md"],
    );
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn udp_threaded_server_bound_to_every_interface() {
    pair(
        "udp-threaded-any",
        "udp-threaded-server",
        &["--host", "0.0.0.0"],
        "0.0.0.0:6532",
        &["docs/udp-client.md", "docs/udp-threaded-server.md"],
    );
}

/// A server binary that cannot be built fails the test with cargo's own
/// words, not with a missing file later on.
#[test]
#[cfg_attr(
    windows,
    ignore = "runs cargo, which the Windows build under Wine has not"
)]
fn lesson_bin_says_when_the_build_fails() {
    let panic = std::panic::catch_unwind(|| lesson_bin("no-such-lesson")).unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.starts_with("lesson_bin(\"no-such-lesson\"): ")
            && message.contains("\"build\"")
            && message.contains("failed")
            && message.contains("no-such-lesson` did not match any packages"),
        "unclear message: {message}"
    );
}
