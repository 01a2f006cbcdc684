//! udp-chunked-transfer on two "machines": the receiver in one network
//! namespace at 192.168.47.130, the sender in another at 192.168.47.10,
//! joined by a veth cable (see `common::testing::lan`). Every protocol
//! (`reliable`, the windowed one; `basic`, the tutorial's; `tcp`, the
//! yardstick) moves one file with the receiver bound to its LAN address and
//! once bound to 0.0.0.0, and the copy must equal the original. The
//! commands are the ones docs/udp-chunked-transfer.md shows under "Two
//! machines"; each runs in a scratch folder, so `file.bin` and `copy.bin`
//! are relative as on the page.
//!
//! Linux and root only; elsewhere the tests say why they are skipped (on
//! CI a skip is a failure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use common::testing::lan::{client_ports, serve_and_ask, Lan, Side, CLIENT_IP, SERVER_IP};

const BIN: &str = env!("CARGO_BIN_EXE_udp-chunked-transfer");
const PREFIX: &str = "chunk2m-";
const PAGE: &str = "docs/udp-chunked-transfer.md";
const PACKAGE: &str = "udp-chunked-transfer";

/// 200 KB that are not all alike (a byte pattern with no short period),
/// so a lost, doubled or misplaced chunk changes the copy.
fn content() -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// A fresh scratch folder for one test, under the target directory.
fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("two-machines-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn transfer(test: &str, receive: &[&str], send: &[&str], listening: &str) {
    let Some(lan) = Lan::new(PREFIX, test) else {
        return;
    };
    let dir = scratch(test);
    let sent = content();
    std::fs::write(dir.join("file.bin"), &sent).unwrap();
    let talk = serve_and_ask(
        &lan,
        &[PAGE],
        &Side {
            package: PACKAGE,
            bin: BIN,
            args: receive,
            cwd: Some(&dir),
        },
        &Side {
            package: PACKAGE,
            bin: BIN,
            args: send,
            cwd: Some(&dir),
        },
        true,
    );
    assert_eq!(talk.listening, listening);
    assert!(
        talk.client_status.success(),
        "sender failed:\n{}\nreceiver:\n{}",
        talk.client_log,
        talk.server_log
    );
    assert!(
        talk.server_status.success(),
        "receiver failed:\n{}",
        talk.server_log
    );
    let copy = std::fs::read(dir.join("copy.bin")).unwrap();
    assert!(copy == sent, "copy.bin differs from file.bin");
    // The receiver names the sender's machine and port: 192.168.47.10:PORT.
    let ports = client_ports(&talk.server_log);
    assert!(
        !ports.is_empty() && ports[0] != 0,
        "the receiver's log lacks the LAN peer {CLIENT_IP}:PORT:\n{}",
        talk.server_log
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One file across the LAN with `protocol` (`None`: the default,
/// `reliable`, which the page does not name), the receiver bound to `bind`:
/// the page's two commands, `receive --host BIND [--protocol P] --out
/// copy.bin` and `send file.bin --host 192.168.47.130 [--protocol P]`.
fn across(test: &str, protocol: Option<&str>, bind: &str) {
    let named: &[&str] = match protocol {
        Some(protocol) => &["--protocol", protocol],
        None => &[],
    };
    let receive = [
        &["receive", "--host", bind][..],
        named,
        &["--out", "copy.bin"],
    ]
    .concat();
    let send = [&["send", "file.bin", "--host", SERVER_IP][..], named].concat();
    transfer(test, &receive, &send, &format!("{bind}:6540"));
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn reliable_to_the_lan_address() {
    across("reliable-lan", None, SERVER_IP);
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn reliable_to_every_interface() {
    across("reliable-any", None, "0.0.0.0");
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn basic_to_the_lan_address() {
    across("basic-lan", Some("basic"), SERVER_IP);
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn basic_to_every_interface() {
    across("basic-any", Some("basic"), "0.0.0.0");
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn tcp_to_the_lan_address() {
    across("tcp-lan", Some("tcp"), SERVER_IP);
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn tcp_to_every_interface() {
    across("tcp-any", Some("tcp"), "0.0.0.0");
}
