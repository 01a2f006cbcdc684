//! udp-server, run for real on 127.0.0.1 (and ::1), port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use common::testing::udp_server as scenario;
use common::testing::{udp_socket_for, uninterrupted, Lesson};

const BIN: &str = env!("CARGO_BIN_EXE_udp-server");

// The shared scenarios (common::testing::udp_server), one test each.
common::scenario_tests!(
    scenario,
    BIN,
    every_reply_mode,
    invalid_utf8,
    empty_datagram,
    largest_datagram,
    oversize_reported,
    flood_then_answer,
    ipv6,
    ctrl_c interrupt_mid_request,
    ctrl_c terminate_idle,
    bad_flags,
    port_in_use,
);

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
    uninterrupted(|| b.recv_from(&mut buf)).unwrap();
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
