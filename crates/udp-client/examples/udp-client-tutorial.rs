//! # udp-client-tutorial: tutorial 5's UDP client, in Rust
//!
//! The Python program call for call, weak spots included: it waits for each
//! reply for ever, takes any datagram for the server's answer, and input
//! that ends before `exit` is an error, as Python's `input()` makes it.
//!
//! ```text
//! cargo run -q -p udp-client --example udp-client-tutorial                    # 127.0.0.1:6532
//! printf 'hi\nexit\n' | cargo run -q -p udp-client --example udp-client-tutorial -- 127.0.0.1:6532
//! ```
//!
//! The full lesson, with a deadline and retries, is `src/main.rs`;
//! docs/udp-client.md breaks this one and shows the fixes.

use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Socket, Type};

fn main() -> io::Result<()> {
    // The tutorial's server address is a constant; here ARG1 can change it.
    let server: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|e| bad_input(format!("{arg}: {e}")))?,
        None => SocketAddr::from(([127, 0, 0, 1], 6532)),
    };
    // Python: socket.socket(AF_INET, SOCK_DGRAM). No bind: the kernel picks
    // a free port at the first send.
    let socket = UdpSocket::from(Socket::new(Domain::for_address(server), Type::DGRAM, None)?);

    // The tutorial always prompts. In a pipe nobody reads the prompt, and it
    // would glue itself to the front of each reply line, so prompt a person only.
    let person = io::stdin().is_terminal();
    let mut buf = [0u8; 1024];
    loop {
        // Python: input(PROMPT). At the end of input Python raises EOFError
        // and dies; read_line's 0 bytes is made the same kind of error.
        if person {
            write!(io::stdout(), "Message for the server ('exit' quits): ")?;
            io::stdout().flush()?;
        }
        let mut line = String::new(); // read_line fails on non-UTF-8, as input() does
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of input before 'exit'",
            ));
        }
        let message = line.strip_suffix('\n').unwrap_or(&line);
        let message = message.strip_suffix('\r').unwrap_or(message);
        // Python: if message.lower() == 'exit': break
        if message.to_lowercase() == "exit" {
            break;
        }
        // Python: .sendto(message.encode(), (SERVER_IP, SERVER_PORT))
        socket.send_to(message.as_bytes(), server)?;
        // Python: .recvfrom(1024), with no timeout: it blocks until some
        // datagram comes, from the server or from anyone else.
        let (len, _from) = socket.recv_from(&mut buf)?;
        // Python: response.decode(), which raises on bytes that are not UTF-8.
        let text = std::str::from_utf8(&buf[..len]).map_err(|e| bad_input(e.to_string()))?;
        writeln!(io::stdout(), "Server response: {text}")?;
    }
    // Python: client_socket.close(); dropping the socket closes it.
    drop(socket);
    Ok(())
}

fn bad_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
