//! # bare-tcp-echo: the smallest TCP echo server, as a yardstick
//!
//! Not a lesson. `scripts/bench.sh` runs it beside `tcp-server` (and, with
//! `--threaded`, beside `tcp-threaded-server`) to see what the lessons'
//! extras cost. It has none of them: accept, then read and write the same
//! bytes back until the client closes; one connection at a time, or a thread
//! per connection with `--threaded`. Ctrl+C kills it the default way.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use common::cli::{Flag, Spec};

const HOST: Flag<&str> = Flag::with_default("host", "HOST", "127.0.0.1", "address to bind");
const PORT: Flag<u16> = Flag::with_default("port", "PORT", 0, "TCP port; 0 picks any free port");
const THREADED: Flag<bool> =
    Flag::switch("threaded", "serve each connection on a thread of its own");

static SPEC: Spec = Spec {
    name: "bare-tcp-echo",
    about: "accept, echo until EOF, repeat; nothing else (a benchmark yardstick)",
    positionals: &[],
    flags: &[&HOST, &PORT, &THREADED],
    examples: &["bare-tcp-echo --port 0", "bare-tcp-echo --threaded"],
};

fn main() -> std::io::Result<()> {
    let m = SPEC.parse();
    let listener = TcpListener::bind(m.socket_addr(&HOST, &PORT))?;
    println!("listening on {}", listener.local_addr()?);
    let threaded = m.switch(&THREADED);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if threaded {
            thread::spawn(move || echo(stream));
        } else {
            echo(stream);
        }
    }
    Ok(())
}

fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 65_536];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        if stream.write_all(buf.get(..n).unwrap_or_default()).is_err() {
            return;
        }
    }
}
