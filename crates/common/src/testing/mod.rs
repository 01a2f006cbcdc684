//! Helpers for integration tests that run the real lesson binaries.
//!
//! A test starts a binary with [`Lesson::start`], which waits for its
//! `listening on ADDR` line and remembers `ADDR`, then talks to it over real
//! sockets. Nothing here sleeps to "give the server time": every wait is for
//! a line or a reply, and every wait has a deadline so a broken server fails
//! the test instead of hanging CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod command_lines;
pub mod exercise;
pub mod lan;
mod lesson;
pub mod netns;
mod scenarios;
pub mod tcp_server;
pub mod udp_server;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub use lesson::{kill_every_lesson, Launch, Lesson, Ran};

/// The longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// Run a socket read, again and again while it fails with `Interrupted`.
///
/// A test's receives have a timeout (`SO_RCVTIMEO`), and on Linux such a
/// call fails with EINTR when the test process is stopped and continued,
/// even though no signal handler is installed (see signal(7)). A machine
/// that pauses processes now and then must not fail a test for that. (std's
/// `read_line`, `read_exact` and `read_to_end` retry by themselves; plain
/// `read`, `recv` and `recv_from` do not.)
pub fn uninterrupted<T>(mut read: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match read() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The signal Ctrl+C sends, for [`Lesson::signal`] and for checking how a
/// program died (`ExitStatusExt::signal`). The numbers of SIGINT, SIGTERM
/// and SIGKILL are the same on Linux, macOS and the BSDs.
pub const SIGINT: i32 = 2;
/// What `kill PID` sends.
pub const SIGTERM: i32 = 15;
/// What nobody can catch.
pub const SIGKILL: i32 = 9;

/// Send `signal` to the process `pid`, with the `kill` command: std has no
/// kill(2) that takes a signal, and the workspace has no `unsafe` code to
/// call libc's. On Windows only [`SIGKILL`] works (as `taskkill /F`):
/// Windows has no signals, and its console Ctrl+C event needs an API we do
/// not call, so the tests that need SIGINT or SIGTERM are ignored there.
pub fn send_signal(pid: u32, signal: i32) -> std::io::Result<()> {
    let mut command = if cfg!(windows) && signal == SIGKILL {
        let mut taskkill = Command::new("taskkill");
        taskkill.args(["/F", "/PID", &pid.to_string()]);
        taskkill
    } else if cfg!(unix) {
        let mut kill = Command::new("kill");
        kill.arg(format!("-{signal}")).arg(pid.to_string());
        kill
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "signals are Unix-only",
        ));
    };
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::Other,
            format!("{command:?}: {status}"),
        ))
    }
}

/// The signal that killed a process, if one did. Always `None` on Windows,
/// which has no signals (a process there always ends with an exit code).
pub fn killed_by(status: ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal()
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

/// Kill `pid` for good: SIGKILL on Unix, `taskkill /F` on Windows.
pub fn kill_hard(pid: u32) {
    let _ = send_signal(pid, SIGKILL);
}

/// Start `bin` with stdin, stdout and stderr all piped, for a test that
/// feeds stdin in steps. Collect it with [`wait_output`].
pub fn spawn_piped(bin: &str, args: &[&str]) -> Child {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"))
}

/// Wait for a child started by [`spawn_piped`] and collect its output; kill
/// it and panic if it takes longer than `timeout`, so a hung program fails
/// the test instead of hanging CI.
pub fn wait_output(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx.recv_timeout(timeout).unwrap_or_else(|_| {
        // The child we started, not yet reaped.
        kill_hard(pid);
        panic!("pid {pid} did not finish within {timeout:?}")
    });
    output.unwrap()
}

/// Run a program to completion with `stdin` as its input; kill it and panic
/// if it takes longer than `timeout`.
pub fn run(bin: &str, args: &[&str], stdin: &str, timeout: Duration) -> Output {
    let mut child = spawn_piped(bin, args);
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_string();
    let writer = thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let output = wait_output(child, timeout);
    let _ = writer.join();
    output
}

/// SIGTERM is a graceful stop too (ctrlc's `termination` feature).
pub fn terminate_idle(bin: &str) {
    let mut server = Lesson::start(bin, &["--port", "0"]);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit(WAIT).code(), Some(0));
    assert!(server.stderr().contains("server closed"));
}

/// Each command line is a usage mistake: exit 2, and exactly one line on
/// stderr that contains `named` (the bad value).
pub fn expect_usage_errors(bin: &str, cases: &[(&[&str], &str)]) {
    for (args, named) in cases {
        let out = run(bin, args, "", WAIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

/// `--help` exits 0 and its text contains every one of `parts`.
pub fn expect_help(bin: &str, parts: &[&str]) {
    let help = run(bin, &["--help"], "", WAIT);
    let text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0));
    for part in parts {
        assert!(text.contains(part), "--help lacks {part:?}:\n{text}");
    }
}

/// A UDP socket of the same family as `server`, on an ephemeral port, with a
/// receive timeout of [`WAIT`].
pub fn udp_socket_for(server: SocketAddr) -> UdpSocket {
    let any: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .unwrap();
    let socket = UdpSocket::bind(any).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    // macOS: room to send a 65,507-byte datagram.
    crate::sockets::room_for_any_datagram(&socket).unwrap();
    socket
}

/// Send one datagram to `server` and return the reply's bytes.
pub fn udp_request(server: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let socket = udp_socket_for(server);
    socket.send_to(payload, server).unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) =
        uninterrupted(|| socket.recv_from(&mut buf)).expect("no reply within the deadline");
    assert_eq!(from, server, "reply from an unexpected address");
    buf.truncate(n);
    buf
}

/// Like [`udp_text`], but resends every 200 ms (for up to [`WAIT`]) the way
/// a real UDP client must: right after a flood the server's queue may be
/// full, and the kernel drops what does not fit.
pub fn udp_text_with_retries(server: SocketAddr, message: &str) -> String {
    let socket = udp_socket_for(server);
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        socket.send_to(message.as_bytes(), server).unwrap();
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            assert_eq!(from, server);
            return String::from_utf8(buf[..n].to_vec()).unwrap();
        }
    }
    panic!("no reply from {server} within {WAIT:?}, resending all along")
}

/// [`udp_request`] with text in and text out.
pub fn udp_text(server: SocketAddr, message: &str) -> String {
    String::from_utf8(udp_request(server, message.as_bytes())).unwrap()
}

/// `127.0.0.1:port`.
pub fn v4_loopback(port: u16) -> SocketAddr {
    SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port))
}

/// `[::1]:port`.
pub fn v6_loopback(port: u16) -> SocketAddr {
    SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))
}

/// The path of a lesson crate's example program (`crates/X/examples/NAME.rs`),
/// the tutorial's own program in Rust.
///
/// `cargo test` builds every example of the packages it tests, beside their
/// binaries in `target/<profile>/examples/`. A test cannot build it itself:
/// cargo holds the build lock while the tests run. So this only finds it,
/// and fails with the command to run when it is missing or older than its
/// source (after `cargo test --test NAME`, which builds no examples).
pub fn example(package_dir: &str, name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let source = std::path::Path::new(package_dir)
        .join("examples")
        .join(format!("{name}.rs"));
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let edited = std::fs::metadata(&source).and_then(|m| m.modified());
    match (built, edited) {
        (Ok(built), Ok(edited)) if built >= edited => {}
        _ => panic!(
            "the example {name} is not built, or older than {}: run `cargo test` \
             without --test, or `cargo build --examples` first",
            source.display()
        ),
    }
    path.to_string_lossy().into_owned()
}

/// Whether this process runs as root (its effective uid, from
/// `/proc/self/status`, is 0), as network namespaces and tcpdump need.
/// Always `false` off Linux.
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string));
    cfg!(target_os = "linux") && euid.as_deref() == Some("0")
}

/// Whether this Windows test runs under Wine rather than on Windows: Wine
/// hands its Unix environment on to Windows programs, and its launcher sets
/// `WINELOADER`. For the few checks of things Wine does not do as Windows
/// does (they say which); never true on Unix.
pub fn under_wine() -> bool {
    cfg!(windows) && std::env::var_os("WINELOADER").is_some()
}

/// `python3`, if this machine has it. A test that needs it returns early
/// when this is `None`, after printing why, so `cargo test --workspace`
/// passes with only a Rust toolchain.
pub fn python3(test: &str) -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if found {
        Some("python3")
    } else {
        eprintln!("skipped {test}: python3 is not installed");
        None
    }
}
