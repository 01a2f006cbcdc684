//! udp-broadcast, run for real on this machine: listeners on 0.0.0.0 with a
//! port the kernel picked, `discover` sending to the loopback network's
//! broadcast address 127.255.255.255. Nothing leaves the machine.
//! (tests/namespaces.rs takes it across three network namespaces.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::Output;
use std::time::Duration;

use common::testing::udp_server::SHUTDOWN_BUDGET;
use common::testing::{run, uninterrupted, Lesson, SIGTERM, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-broadcast");

/// A listener on a port the kernel picks.
fn first_listener(name: &str) -> Lesson {
    Lesson::start(BIN, &["listen", "--port", "0", "--name", name])
}

/// Another listener on `port` (SO_REUSEADDR lets it share).
fn listener_on(port: u16, name: &str) -> Lesson {
    Lesson::start(
        BIN,
        &["listen", "--port", &port.to_string(), "--name", name],
    )
}

/// Run `discover` with `args`; the port is added.
fn discover(port: u16, args: &[&str]) -> Output {
    let port = port.to_string();
    let mut all = vec!["discover", "--port", &port];
    all.extend_from_slice(args);
    run(BIN, &all, "", WAIT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The names in discover's `NAME at ADDR` lines, checking each address.
fn names(out: &Output, port: u16) -> BTreeSet<String> {
    let stdout = text(&out.stdout);
    stdout
        .lines()
        .map(|line| {
            let (name, addr) = line.rsplit_once(" at ").expect(line);
            assert_eq!(addr, format!("127.0.0.1:{port}"), "{line}");
            name.to_string()
        })
        .collect()
}

/// A port nobody listens on (bound, read, and freed again).
fn unused_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn three_listeners_one_broadcast_finds_all() {
    let alpha = first_listener("alpha");
    let port = alpha.addr().port();
    assert_eq!(alpha.addr().to_string(), format!("0.0.0.0:{port}"));
    let beta = listener_on(port, "beta");
    let gamma = listener_on(port, "gamma");

    let out = discover(port, &["--wait-ms", "5000", "--stop-after", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let found = names(&out, port);
    assert_eq!(
        found,
        ["alpha", "beta", "gamma"].map(String::from).into(),
        "stdout:\n{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("3 listeners answered"));
    // Each listener logged who asked.
    for listener in [&alpha, &beta, &gamma] {
        listener.expect_stderr("discovery request from 127.0.0.1:");
    }
}

/// The same three, but a unicast request: exactly one of them gets it.
#[test]
fn unicast_reaches_only_one_listener() {
    let listeners = {
        let first = first_listener("one");
        let port = first.addr().port();
        [first, listener_on(port, "two"), listener_on(port, "three")]
    };
    let port = listeners[0].addr().port();

    // The full wait, so a second answer would have time to come.
    let out = discover(port, &["--to", "127.0.0.1", "--wait-ms", "500"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let found = names(&out, port);
    assert_eq!(found.len(), 1, "stdout:\n{}", text(&out.stdout));

    // The one that answered logged the request; the others never saw it.
    let answered = found.first().unwrap();
    let name_of = |l: &Lesson| {
        ["one", "two", "three"]
            .into_iter()
            .find(|n| l.stderr().contains(&format!("as \"{n}\"")))
            .unwrap()
    };
    for listener in &listeners {
        if name_of(listener) == answered {
            listener.expect_stderr("discovery request from");
        } else {
            assert!(
                !listener.stderr().contains("discovery request from"),
                "{}",
                listener.stderr()
            );
        }
    }
}

#[test]
fn no_listener_means_exit_1_and_no_responders() {
    let port = unused_port();
    let out = discover(port, &["--wait-ms", "200"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(&format!("no responders at 127.255.255.255:{port}")),
        "{stderr}"
    );
}

/// Without SO_BROADCAST the kernel refuses the send with EACCES; discover
/// explains it in one line and exits 1, and no listener hears anything.
#[test]
fn without_so_broadcast_is_permission_denied() {
    let listener = first_listener("alpha");
    let port = listener.addr().port();
    let out = discover(port, &["--without-so-broadcast"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(error.len(), 1, "{stderr}");
    for part in [
        "udp-broadcast: error: send_to 127.255.255.255:",
        // The OS's words for EACCES; Windows has its own for WSAEACCES.
        if cfg!(windows) {
            "(os error 10013)"
        } else {
            "Permission denied"
        },
        "SO_BROADCAST",
        "Drop --without-so-broadcast",
    ] {
        assert!(error[0].contains(part), "{part:?} missing: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");

    // SO_BROADCAST matters only for broadcast addresses: unicast still works.
    let out = discover(
        port,
        &[
            "--to",
            "127.0.0.1",
            "--without-so-broadcast",
            "--wait-ms",
            "5000",
            "--stop-after",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("alpha at 127.0.0.1:{port}\n"));
    // Exactly one request reached the listener: the unicast one.
    listener.expect_stderr("discovery request from");
    assert_eq!(
        listener.stderr().matches("discovery request from").count(),
        1,
        "{}",
        listener.stderr()
    );
}

/// Junk to the listener's port is logged and not answered; a request that
/// follows it on the same socket is answered.
#[test]
fn listener_ignores_malformed_datagrams() {
    let listener = first_listener("steady");
    let port = listener.addr().port();
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    // macOS: room to send the 65,507-byte datagram below.
    common::sockets::room_for_any_datagram(&client).unwrap();
    let junk: [&[u8]; 5] = [
        b"hello",
        b"",
        &[0xff, 0xfe, 0x00],
        b"discover",
        &[b'x'; 65_507],
    ];
    for datagram in junk {
        client.send_to(datagram, server).unwrap();
    }
    client.send_to(b"DISCOVER\n", server).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = uninterrupted(|| client.recv_from(&mut buf)).unwrap();
    assert_eq!(from, server);
    // The first thing back is the answer to DISCOVER: the junk got nothing.
    assert_eq!(&buf[..n], b"HERE steady");
    for logged in [
        "ignored 5 bytes from",
        "ignored 0 bytes from",
        "ignored 3 bytes from",
        "ignored 8 bytes from",
        "ignored 65507 bytes from",
    ] {
        listener.expect_stderr(logged);
    }
    assert!(!listener.stderr().contains("panicked"));
}

/// By default a listener says it serves only loopback senders; `--lan` says
/// it serves everyone, and still answers this machine. (That a listener without
/// `--lan` ignores other hosts is shown in tests/namespaces.rs, where there
/// are other hosts to ask from.)
#[test]
fn listener_says_whom_it_answers() {
    let local = first_listener("homebody");
    local.expect_stderr("as \"homebody\" from loopback addresses only; --lan answers the network");

    let open = Lesson::start(BIN, &["listen", "--port", "0", "--name", "open", "--lan"]);
    open.expect_stderr("as \"open\" from anyone (--lan)");
    let port = open.addr().port();
    let out = discover(port, &["--wait-ms", "5000", "--stop-after", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("open at 127.0.0.1:{port}\n"));
}

/// Names dressed up with invisible characters (a right-to-left override, a
/// zero-width space) are refused like control characters: logged, never
/// printed.
#[test]
fn discover_refuses_names_with_invisible_characters() {
    let fake = UdpSocket::bind("0.0.0.0:0").unwrap();
    fake.set_read_timeout(Some(WAIT)).unwrap();
    let port = fake.local_addr().unwrap().port();
    let mut discover = Lesson::spawn(
        BIN,
        &["discover", "--port", &port.to_string(), "--wait-ms", "500"],
    );
    let mut buf = [0u8; 2048];
    let (_, asker) = uninterrupted(|| fake.recv_from(&mut buf)).unwrap();
    for reply in [
        "HERE admin\u{202e}gnp.exe",
        "HERE al\u{200b}pha",
        "HERE \u{feff}beta",
        "HERE \u{2066}gamma\u{2069}",
        "HERE honest",
    ] {
        fake.send_to(reply.as_bytes(), asker).unwrap();
    }
    let status = discover.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{}", discover.stderr());
    let line = discover.stdout_line(WAIT).unwrap();
    assert_eq!(line, format!("honest at 127.0.0.1:{port}"));
    assert_eq!(discover.stdout_line(Duration::from_millis(50)), None);
    let log = discover.stderr();
    assert_eq!(log.matches("not a discovery reply").count(), 4, "{log}");
    // The log shows them escaped, never raw.
    for raw in ['\u{202e}', '\u{200b}', '\u{feff}', '\u{2066}'] {
        assert!(!log.contains(raw), "{raw:?} reached the log: {log}");
    }
}

/// discover prints only well-formed replies, once each, and logs the rest.
/// The "listener" here is the test itself, answering with junk first.
#[test]
fn discover_ignores_malformed_and_duplicate_replies() {
    let fake = UdpSocket::bind("0.0.0.0:0").unwrap();
    fake.set_read_timeout(Some(WAIT)).unwrap();
    let port = fake.local_addr().unwrap().port();
    let mut discover = Lesson::spawn(
        BIN,
        &["discover", "--port", &port.to_string(), "--wait-ms", "500"],
    );
    let mut buf = [0u8; 2048];
    let (n, asker) = uninterrupted(|| fake.recv_from(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"DISCOVER");
    let replies: [&[u8]; 6] = [
        b"HELLO",
        b"HERE ",
        b"HERE \x1b[2Jgotcha",
        &[b'H', b'E', b'R', b'E', b' ', 0xff],
        b"HERE fake",
        b"HERE fake",
    ];
    for reply in replies {
        fake.send_to(reply, asker).unwrap();
    }
    let status = discover.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{}", discover.stderr());
    let line = discover.stdout_line(WAIT).unwrap();
    assert_eq!(line, format!("fake at 127.0.0.1:{port}"));
    assert_eq!(discover.stdout_line(Duration::from_millis(50)), None);
    let log = discover.stderr();
    assert_eq!(log.matches("not a discovery reply").count(), 4, "{log}");
    assert!(log.contains("1 listener answered"), "{log}");
}

/// Without --name a listener is HOSTNAME-PID, so listeners differ by default.
#[test]
fn default_name_ends_with_the_pid() {
    let listener = Lesson::start(BIN, &["listen", "--port", "0"]);
    let port = listener.addr().port();
    let out = discover(port, &["--wait-ms", "5000", "--stop-after", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.ends_with(&format!("-{} at 127.0.0.1:{port}\n", listener.pid())),
        "{line}"
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "Ctrl+C is a signal here: Windows has none to send, and Wine cannot deliver a console Ctrl+C to a child (scripts/wine-smoke.sh checks Ctrl+C under Wine)"
)]
fn ctrl_c_and_sigterm_stop_a_listener_gracefully() {
    let mut listener = first_listener("alpha");
    let (took, status) = listener.interrupt_and_time();
    assert_eq!(status.code(), Some(0), "{}", listener.stderr());
    assert!(took <= SHUTDOWN_BUDGET, "took {took:?}");
    assert!(listener.stderr().contains("server closed"));

    let mut listener = first_listener("beta");
    listener.signal(SIGTERM);
    assert_eq!(listener.wait_exit(WAIT).code(), Some(0));
    assert!(listener.stderr().contains("server closed"));
}

/// A port held by a socket *without* SO_REUSEADDR cannot be shared: every
/// socket on the port must ask for sharing.
#[test]
fn port_held_without_reuseaddr_is_refused() {
    let holder = UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let out = run(BIN, &["listen", "--port", &port], "", WAIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    if cfg!(windows) {
        // Wine refuses this bind with WSAEACCES, not WSAEADDRINUSE; the
        // lesson then adds the sharing rule to the Windows explanation.
        assert!(
            stderr.contains(&format!("0.0.0.0:{port} is already in use"))
                || stderr.contains(&format!("0.0.0.0:{port}: Windows reserves this port")),
            "{stderr}"
        );
        assert!(stderr.contains("Listeners share a port only"), "{stderr}");
        return;
    }
    assert!(
        stderr.contains(&format!("0.0.0.0:{port} is already in use")),
        "{stderr}"
    );
    assert!(
        stderr.contains("every socket on it set SO_REUSEADDR"),
        "{stderr}"
    );
}

#[test]
fn bad_usage_is_one_line_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "missing COMMAND"),
        (&["shout"], "unknown command 'shout'"),
        (&["listen", "--port", "abc"], "'abc' for --port"),
        (&["listen", "--name", ""], "'' for --name"),
        (&["listen", "--name", "a\nb"], "control characters"),
        (
            &["listen", "--name", "admin\u{202e}gnp.exe"],
            "invisible formatting characters such as U+202E",
        ),
        (
            &["listen", "--name", "al\u{200b}pha"],
            "invisible formatting characters such as U+200B",
        ),
        (&["listen", "--lan", "yes"], "yes"),
        (&["listen", "--name", &"x".repeat(65)], "at most 64"),
        (&["discover", "--to", "::1"], "IPv6 has no broadcast"),
        (&["discover", "--to", "lan"], "'lan' for --to"),
        (&["discover", "--port", "0"], "'0' for --port"),
        (&["discover", "--wait-ms", "0"], "'0' for --wait-ms"),
        (&["discover", "--stop-after", "-1"], "'-1' for --stop-after"),
        (&["discover", "--bogus"], "--bogus"),
    ];
    for (args, named) in cases {
        let out = run(BIN, args, "", WAIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[test]
fn help_explains_the_commands_and_the_lan() {
    let top = run(BIN, &["--help"], "", WAIT);
    assert_eq!(top.status.code(), Some(0));
    let top = text(&top.stdout);
    assert!(top.contains("listen") && top.contains("discover"), "{top}");

    let listen = text(&run(BIN, &["listen", "--help"], "", WAIT).stdout);
    assert!(listen.contains("[default: 6550]"), "{listen}");
    assert!(listen.contains("SO_REUSEADDR"), "{listen}");
    for part in ["--lan", "127.0.0.0/8", "reflector", "amplifier"] {
        assert!(listen.contains(part), "{part:?}:\n{listen}");
    }

    let discover = text(&run(BIN, &["discover", "--help"], "", WAIT).stdout);
    for part in [
        "[default: 127.255.255.255]",
        "--without-so-broadcast",
        "limited broadcast",
        "brd",
        "IPv6 has no broadcast",
        "Examples:",
    ] {
        assert!(discover.contains(part), "{part:?}:\n{discover}");
    }
}
