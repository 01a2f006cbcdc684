//! A UDP peer for this crate's integration tests to play the server with
//! (`mod peer;` in each that needs it), and the client's stdout as text.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::process::Output;
use std::thread::{self, JoinHandle};

use common::testing::uninterrupted;
use common::testing::WAIT;

/// A peer on `host` that answers up to `count` datagrams with `prefix` plus
/// the message, and returns what it received.
pub fn peer(host: &str, prefix: &'static str, count: usize) -> (String, JoinHandle<Vec<String>>) {
    let socket = UdpSocket::bind((host, 0)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    let handle = thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 2048];
        for _ in 0..count {
            let Ok((n, from)) = uninterrupted(|| socket.recv_from(&mut buf)) else {
                break;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            socket
                .send_to(format!("{prefix}{text}").as_bytes(), from)
                .unwrap();
            seen.push(text);
        }
        seen
    });
    (port, handle)
}

/// A finished client's stdout, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
