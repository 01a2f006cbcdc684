//! tcp-client and the two TCP servers on two "machines": the server in one
//! network namespace at 192.168.47.130, the client in another at
//! 192.168.47.10, joined by a veth cable (see `common::testing::lan`). The
//! commands are the ones docs/tcp-client.md and the servers' pages show
//! under "Two machines", on the lessons' default port (each namespace has
//! its own ports).
//!
//! Linux and root only; elsewhere the tests say why they are skipped (on
//! CI a skip is a failure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::lan::{client_asks_server, client_ports, CLIENT_IP};

const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");
const PREFIX: &str = "tcp2m-";

/// Run `server ARGS` and the client, and check the reply arrived and both
/// logs name the other machine. `pages` show both commands.
fn pair(test: &str, server: &str, args: &[&str], listening: &str, pages: &[&str]) {
    let client = ("tcp-client", CLIENT);
    let Some(talk) = client_asks_server(PREFIX, test, client, server, args, listening, pages)
    else {
        return;
    };
    // Both ends name the same connection: the client's machine and the
    // port its OS picked, 192.168.47.10:PORT.
    let client_side = client_ports(&talk.client_log);
    let server_side = client_ports(&talk.server_log);
    assert!(
        talk.client_log
            .contains("connected to 192.168.47.130:65432 from 192.168.47.10:")
            && client_side.len() == 1,
        "client log: {}",
        talk.client_log
    );
    let port = client_side[0];
    assert!(
        server_side.len() >= 3 && server_side.iter().all(|&p| p == port),
        "the server log does not name the client as {CLIENT_IP}:{port}:\n{}",
        talk.server_log
    );
    for line in ["connected", "\"hello\""] {
        let want = format!("{CLIENT_IP}:{port}: {line}");
        assert!(
            talk.server_log.contains(&want),
            "no {want:?} in:\n{}",
            talk.server_log
        );
    }
    assert!(talk.server_status.success(), "{}", talk.server_log);
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn tcp_server_bound_to_its_lan_address() {
    pair(
        "tcp-server-lan",
        "tcp-server",
        &["--host", "192.168.47.130"],
        "192.168.47.130:65432",
        &["docs/tcp-client.md", "docs/tcp-server.md"],
    );
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn tcp_threaded_server_bound_to_every_interface() {
    pair(
        "tcp-threaded-any",
        "tcp-threaded-server",
        &["--host", "0.0.0.0"],
        "0.0.0.0:65432",
        &["docs/tcp-client.md", "docs/tcp-threaded-server.md"],
    );
}
