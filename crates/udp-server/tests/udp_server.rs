//! udp-server, run for real on 127.0.0.1 (and ::1), port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::udp_server as scenario;
use common::testing::{udp_socket_for, Lesson};

const BIN: &str = env!("CARGO_BIN_EXE_udp-server");

#[test]
fn every_reply_mode() {
    scenario::every_reply_mode(BIN);
}

#[test]
fn invalid_utf8() {
    scenario::invalid_utf8(BIN);
}

#[test]
fn empty_datagram() {
    scenario::empty_datagram(BIN);
}

#[test]
fn largest_datagram() {
    scenario::largest_datagram(BIN);
}

#[test]
fn oversize_reported() {
    scenario::oversize_reported(BIN);
}

#[test]
fn flood_then_answer() {
    scenario::flood_then_answer(BIN);
}

#[test]
fn ipv6() {
    scenario::ipv6(BIN);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn interrupt_mid_request() {
    scenario::interrupt_mid_request(BIN);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn terminate_idle() {
    scenario::terminate_idle(BIN);
}

#[test]
fn bad_flags() {
    scenario::bad_flags(BIN);
}

#[test]
fn port_in_use() {
    scenario::port_in_use(BIN);
}

/// Sequential means strictly one request at a time: B is not even read
/// until A has been answered, however early B arrives.
#[test]
fn one_request_at_a_time() {
    let server = Lesson::start(BIN, &["--port", "0", "--delay-ms", "300"]);
    let a = udp_socket_for(server.addr());
    let b = udp_socket_for(server.addr());
    a.send_to(b"A", server.addr()).unwrap();
    server.expect_stderr("\"A\"");
    b.send_to(b"B", server.addr()).unwrap();
    let mut buf = [0u8; 64];
    b.recv_from(&mut buf).unwrap();
    let log = server.stderr();
    let replied_a = log
        .find(&format!("replied to {}", a.local_addr().unwrap()))
        .unwrap();
    let got_b = log.find("\"B\"").unwrap();
    assert!(
        replied_a < got_b,
        "B was read before A was answered:\n{log}"
    );
}
