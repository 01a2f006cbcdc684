//! # bare-udp-echo: the smallest UDP echo server, as a yardstick
//!
//! Not a lesson. `scripts/bench.sh` runs it beside `udp-server` (and, with
//! `--threaded`, beside `udp-threaded-server`) to see what the lessons'
//! extras cost: logging, option checks, decoding, Ctrl+C polling. It has
//! none of them: receive, send the same bytes back, repeat. Ctrl+C kills it
//! the default way.

use std::net::UdpSocket;
use std::thread;

use common::cli::{Flag, Spec};

const HOST: Flag<&str> = Flag::with_default("host", "HOST", "127.0.0.1", "address to bind");
const PORT: Flag<u16> = Flag::with_default("port", "PORT", 0, "UDP port; 0 picks any free port");
const THREADED: Flag<bool> =
    Flag::switch("threaded", "answer each datagram on a thread of its own");

static SPEC: Spec = Spec {
    name: "bare-udp-echo",
    about: "recv_from, send_to the same bytes, repeat; nothing else (a benchmark yardstick)",
    positionals: &[],
    flags: &[&HOST, &PORT, &THREADED],
    examples: &["bare-udp-echo --port 0", "bare-udp-echo --threaded"],
};

fn main() -> std::io::Result<()> {
    let m = SPEC.parse();
    let socket = UdpSocket::bind(m.socket_addr(&HOST, &PORT))?;
    println!("listening on {}", socket.local_addr()?);
    let threaded = m.switch(&THREADED);
    let socket = &socket;
    let mut buf = [0u8; 65_536];
    thread::scope(|scope| loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let datagram = buf.get(..len).unwrap_or_default();
        if threaded {
            let datagram = datagram.to_vec();
            scope.spawn(move || socket.send_to(&datagram, peer));
        } else {
            let _ = socket.send_to(datagram, peer);
        }
    })
}
