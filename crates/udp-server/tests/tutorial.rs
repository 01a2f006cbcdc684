//! The tutorial's program, `examples/udp-server-tutorial.rs`: against Rust
//! and Python clients, and the breaks shown on docs/udp-server.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::udp_server as scenario;
use common::testing::{example, python3, udp_socket_for, udp_text, WAIT};

fn tutorial() -> String {
    example(env!("CARGO_MANIFEST_DIR"), "udp-server-tutorial")
}

const PYTHON_CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/tutorial1_client.py"
);

#[test]
fn tutorial_answers_message_received() {
    scenario::tutorial_answers(&tutorial());
}

#[test]
fn tutorial_against_the_python_client() {
    let Some(python) = python3("tutorial_against_the_python_client") else {
        return;
    };
    scenario::tutorial_python_client(&tutorial(), python, PYTHON_CLIENT);
}

#[test]
fn tutorial_against_the_python_line_client() {
    let Some(python) = python3("tutorial_against_the_python_line_client") else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/tutorial5_client.py"
    );
    scenario::tutorial_python_line_client(&tutorial(), python, script);
}

#[test]
fn tutorial_bad_address() {
    scenario::tutorial_bad_address(&tutorial());
}

/// Break: recvfrom(1024) keeps 1,024 of 2,000 bytes, and says nothing.
#[test]
#[cfg_attr(
    windows,
    ignore = "Windows does not cut a datagram longer than the buffer: recvfrom fails with WSAEMSGSIZE (10040), as Python there raises"
)]
fn tutorial_cuts_long_datagrams() {
    scenario::tutorial_cuts_long_datagrams(&tutorial());
}

/// Break: one datagram that is not UTF-8 ends the server: exit 1, and
/// nobody is answered after that.
#[test]
fn tutorial_dies_of_invalid_utf8() {
    let mut server = scenario::tutorial_start(&tutorial(), "127.0.0.1:0");
    let addr = server.addr();
    assert_eq!(udp_text(addr, "before"), "Message received");
    let bad = udp_socket_for(addr);
    bad.send_to(&[0xff, 0xfe], addr).unwrap();
    let status = server.wait_exit(WAIT);
    assert_eq!(status.code(), Some(1));
    assert!(
        server.stderr().contains("invalid utf-8"),
        "{}",
        server.stderr()
    );
    // The port is free again: the server is really gone.
    assert!(std::net::UdpSocket::bind(addr).is_ok());
}

/// Break: Ctrl+C kills it without a word.
#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn tutorial_killed_by_ctrl_c() {
    scenario::tutorial_killed_by_ctrl_c(&tutorial());
}
