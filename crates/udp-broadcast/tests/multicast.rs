//! udp-broadcast's multicast on this machine only: IPv4 groups joined and
//! sent on the loopback interface (`--interface 127.0.0.1`), so nothing
//! leaves the machine, and every bad multicast flag value. The tests never
//! send to a group without `--interface 127.0.0.1`: without it the kernel
//! would pick a real network interface. (tests/multicast_namespaces.rs
//! takes multicast across namespaces, a bridge and a router.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Output;

use common::testing::netns::say;
use common::testing::udp_server::SHUTDOWN_BUDGET;
use common::testing::{expect_usage_errors, run, Launch, Lesson, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-broadcast");
const GROUP: &str = "239.255.42.99";
const OTHER: &str = "239.255.42.100";

fn listener(port: u16, group: &str, name: &str) -> Lesson {
    let port = port.to_string();
    Lesson::start(
        BIN,
        &[
            "listen",
            "--port",
            &port,
            "--group",
            group,
            "--interface",
            "127.0.0.1",
            "--name",
            name,
        ],
    )
}

/// discover to `group` on loopback, for the whole `wait_ms`.
fn discover(port: u16, group: &str, wait_ms: &str) -> Output {
    let port = port.to_string();
    let args = [
        "discover",
        "--to",
        group,
        "--interface",
        "127.0.0.1",
        "--port",
        &port,
        "--wait-ms",
        wait_ms,
    ];
    run(BIN, &args, "", WAIT)
}

fn names(out: &Output, port: u16) -> BTreeSet<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let (name, addr) = line.rsplit_once(" at ").expect(line);
            assert_eq!(addr, format!("127.0.0.1:{port}"), "{line}");
            name.to_string()
        })
        .collect()
}

/// Where the OS lets a socket join a group on the loopback interface
/// (Linux does, for IPv4), two members of one group on one port both
/// answer, a member of another group on that port does not (Linux:
/// IP_MULTICAST_ALL is off), and a member that stopped has left.
#[test]
fn loopback_group_members_answer() {
    let started = Launch::new(BIN)
        .args(&[
            "listen",
            "--port",
            "0",
            "--group",
            GROUP,
            "--interface",
            "127.0.0.1",
            "--name",
            "alpha",
        ])
        .try_start();
    let alpha = match started {
        Ok(alpha) => alpha,
        Err(why) => {
            return say(&format!(
                "multicast loopback test: skipped: this OS does not let a socket join {GROUP} on \
                 the loopback interface: {}",
                why.trim()
            ))
        }
    };
    let port = alpha.addr().port();
    let mut beta = listener(port, GROUP, "beta");
    let other = listener(port, OTHER, "other");
    // A listener that joined nothing, on the same port: it hears broadcasts
    // and unicast, but no group's datagrams.
    let plain = Lesson::start(
        BIN,
        &["listen", "--port", &port.to_string(), "--name", "plain"],
    );
    alpha.expect_stderr(&format!(
        "joined multicast group {GROUP} on interface 127.0.0.1"
    ));

    let out = discover(port, GROUP, "700");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    if common::testing::under_wine() {
        // Wine runs on a Linux kernel, and IP_MULTICAST_ALL is a Linux
        // option a Windows program never sets: members of other groups on
        // the port hear the request too. Windows itself delivers only joined
        // groups.
        let found = names(&out, port);
        assert!(
            found.contains("alpha") && found.contains("beta"),
            "{stderr}"
        );
        return say(&format!(
            "multicast loopback test: under Wine only the join is checked: {found:?} answered"
        ));
    }
    assert_eq!(
        names(&out, port),
        ["alpha", "beta"].map(String::from).into(),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("to {GROUP}:{port} with TTL 1")),
        "{stderr}"
    );
    if cfg!(target_os = "linux") {
        // IP_MULTICAST_ALL off: the member of OTHER never saw it, nor did
        // the listener that joined no group.
        for bystander in [&other, &plain] {
            assert!(
                !bystander.stderr().contains("discovery request from"),
                "{}",
                bystander.stderr()
            );
        }
    }

    // TTL 0: the datagram never leaves this machine, but the members here
    // still get their IP_MULTICAST_LOOP copy.
    let port_text = port.to_string();
    let ttl0 = [
        "discover",
        "--to",
        GROUP,
        "--interface",
        "127.0.0.1",
        "--port",
        &port_text,
        "--ttl",
        "0",
        "--wait-ms",
        "500",
    ];
    let out = run(BIN, &ttl0, "", WAIT);
    assert_eq!(
        names(&out, port),
        ["alpha", "beta"].map(String::from).into()
    );

    // beta stops: it leaves the group, and only alpha is left to answer.
    let (took, status) = beta.interrupt_and_time();
    assert_eq!(status.code(), Some(0), "{}", beta.stderr());
    assert!(took <= SHUTDOWN_BUDGET, "took {took:?}");
    beta.expect_stderr(&format!("left multicast group {GROUP}"));
    let out = discover(port, GROUP, "500");
    assert_eq!(names(&out, port), ["alpha"].map(String::from).into());

    // Sent to OTHER, only its own member answers, every time (Linux's early
    // demultiplexing changes the path from the second datagram on).
    for _ in 0..3 {
        let out = discover(port, OTHER, "300");
        assert_eq!(names(&out, port), ["other"].map(String::from).into());
        let out = discover(port, GROUP, "300");
        assert_eq!(names(&out, port), ["alpha"].map(String::from).into());
    }
    say("multicast loopback test: 2 members of 239.255.42.99 answered, the member of .100 did not");
}

/// IPv6 on loopback: Linux lets a socket join ff02::4242 on `lo`, but `lo`
/// has no ff00::/8 route, so the send fails; the test says so and checks the
/// message. Where the send works, the member must answer.
#[test]
fn loopback_ipv6_group() {
    const TEST: &str = "multicast IPv6 loopback test";
    if !cfg!(target_os = "linux") {
        // Only Linux names its loopback interface `lo` for sure.
        return say(&format!("{TEST}: skipped: only tried on Linux"));
    }
    let six = Lesson::start(
        BIN,
        &[
            "listen",
            "--port",
            "0",
            "--group",
            "ff02::4242",
            "--interface",
            "lo",
            "--name",
            "six",
        ],
    );
    let port = six.addr().port().to_string();
    let args = [
        "discover",
        "--to",
        "ff02::4242",
        "--interface",
        "lo",
        "--port",
        &port,
        "--wait-ms",
        "500",
    ];
    let out = run(BIN, &args, "", WAIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Network is unreachable") {
        assert!(stderr.contains("loopback has none for IPv6"), "{stderr}");
        return say(&format!(
            "{TEST}: skipped: joined on lo, but the kernel has no IPv6 multicast route on lo: \
             {}",
            stderr.trim()
        ));
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("six at [::1]:"),
        "{stderr}"
    );
}

#[test]
fn bad_multicast_flags() {
    expect_usage_errors(
        BIN,
        &[
            // A group that is not multicast.
            (
                &["listen", "--group", "192.0.2.1"],
                "not a multicast address",
            ),
            (
                &["listen", "--group", "2001:db8::1"],
                "not a multicast address",
            ),
            (&["listen", "--group", "kitchen"], "'kitchen' for --group"),
            // --interface without a group to join or send to.
            (
                &["listen", "--interface", "lo"],
                "--interface needs --group",
            ),
            (
                &["discover", "--interface", "lo"],
                "--interface needs a multicast --to",
            ),
            // Unknown interfaces.
            (
                &["listen", "--group", GROUP, "--interface", "nosuchif0"],
                "'nosuchif0' for --interface",
            ),
            (
                &["listen", "--group", GROUP, "--interface", "0"],
                "leave out --interface",
            ),
            (
                &["discover", "--to", "ff15::4242", "--interface", "127.0.0.1"],
                "IPv6 group needs the interface's name or index",
            ),
            // An IPv6 link-local group needs an interface.
            (
                &["listen", "--group", "ff02::4242"],
                "--interface NAME or INDEX",
            ),
            (
                &["discover", "--to", "ff02::4242"],
                "--interface NAME or INDEX",
            ),
            // TTLs.
            (
                &["discover", "--to", GROUP, "--ttl", "256"],
                "'256' for --ttl: expected a number from 0 to 255",
            ),
            (
                &["discover", "--to", GROUP, "--ttl", "-1"],
                "'-1' for --ttl",
            ),
            (&["discover", "--to", GROUP, "--ttl", "x"], "'x' for --ttl"),
            (&["discover", "--ttl", "2"], "--ttl needs a multicast --to"),
            // IPv6 without a group.
            (&["discover", "--to", "::1"], "IPv6 has no broadcast"),
        ],
    );
    if cfg!(target_os = "linux") {
        expect_usage_errors(
            BIN,
            &[(
                &["listen", "--group", GROUP, "--interface", "999999"],
                "no interface has index 999999",
            )],
        );
    }
}

#[test]
fn help_explains_multicast() {
    for command in ["listen", "discover"] {
        let out = run(BIN, &[command, "--help"], "", WAIT);
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0));
        for part in ["--interface", "ff02::"] {
            assert!(
                help.contains(part),
                "{command} --help lacks {part}:\n{help}"
            );
        }
    }
    let out = run(BIN, &["discover", "--help"], "", WAIT);
    assert!(String::from_utf8_lossy(&out.stdout).contains("hop limit"));
}
