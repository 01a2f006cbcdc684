//! udp-broadcast across a real (virtual) network: three network namespaces,
//! each a "host" with its own eth0 and an address in TEST-NET-1
//! (192.0.2.0/24, reserved for documentation and tests), joined by a bridge
//! that lives in a fourth namespace. Nothing is added to this machine's own
//! interfaces, and everything is deleted again, even when a test fails.
//!
//! ```text
//!   ns a: eth0 192.0.2.1 ─┐
//!   ns b: eth0 192.0.2.2 ─┼─ ns br: br0 (a bridge)
//!   ns c: eth0 192.0.2.3 ─┘
//! ```
//!
//! The tests need root and `ip` (iproute2). Without them they say why and
//! pass, except when the `CI` environment variable is set: on CI a skip is a
//! failure, so the namespace test cannot silently stop running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use common::testing::netns::{
    missing_prerequisite, must, run_in as run_in_ns, say, skip, start_in, wait_for, Namespaces,
};
use common::testing::udp_server::SHUTDOWN_BUDGET;
use common::testing::{Lesson, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-broadcast");

/// Every namespace these tests create starts with this, then the test
/// process's pid, so parallel runs never clash and leftovers are easy to
/// recognise.
const PREFIX: &str = "udpbc-";

/// A listener inside namespace `ns`.
fn listener_in(ns: &str, args: &[&str]) -> Lesson {
    let mut all = vec!["listen"];
    all.extend_from_slice(args);
    start_in(ns, BIN, &all)
}

/// `udp-broadcast ARGS` inside namespace `ns`, to completion.
fn run_in(ns: &str, args: &[&str]) -> Output {
    run_in_ns(ns, BIN, args, "")
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn discover_across_three_namespaces() {
    const TEST: &str = "namespace test";
    if let Some(why) = missing_prerequisite() {
        return skip(TEST, &why);
    }
    // Declared first, so it is dropped last: after the listeners have been
    // killed, the namespaces are deleted.
    let mut netns = Namespaces::new(PREFIX, "bc");
    let bridge = match netns.add("br") {
        Ok(name) => name,
        Err(e) => return skip(TEST, &format!("cannot create a network namespace: {e}")),
    };
    must(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
    must(&["-n", &bridge, "link", "set", "br0", "up"]);

    let hosts = [("a", "192.0.2.1"), ("b", "192.0.2.2"), ("c", "192.0.2.3")];
    let mut names = Vec::new();
    for (host, address) in hosts {
        let ns = netns.add(host).unwrap_or_else(|e| panic!("{e}"));
        let port = format!("to-{host}");
        // A veth pair is a virtual cable: one end in the bridge's namespace,
        // the other end (eth0) in the host's.
        must(&[
            "-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ]);
        must(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
        let cidr = format!("{address}/24");
        // `brd +`: the broadcast address is the subnet's, 192.0.2.255.
        must(&["-n", &ns, "addr", "add", &cidr, "brd", "+", "dev", "eth0"]);
        must(&["-n", &ns, "link", "set", "eth0", "up"]);
        must(&["-n", &ns, "link", "set", "lo", "up"]);
        names.push(ns);
    }
    for (host, _) in hosts {
        let port = format!("to-{host}");
        wait_for(
            &["-d", "-n", &bridge, "link", "show", &port],
            "state forwarding",
        );
    }
    for ns in &names {
        wait_for(&["-n", ns, "link", "show", "eth0"], "LOWER_UP");
    }

    // Listeners in a and b, on the default port, with --lan because the
    // request comes from another host; discover in c, sent to the
    // subnet-directed broadcast address. Next to alpha, a listener without
    // --lan, which must ignore the request: it serves only loopback senders.
    let mut alpha = listener_in(&names[0], &["--name", "alpha", "--lan"]);
    let mut beta = listener_in(&names[1], &["--name", "beta", "--lan"]);
    let shy = listener_in(&names[0], &["--name", "shy"]);
    assert_eq!(alpha.addr().to_string(), "0.0.0.0:6550");
    assert_eq!(beta.addr().to_string(), "0.0.0.0:6550");
    assert_eq!(shy.addr().to_string(), "0.0.0.0:6550");
    let out = run_in(
        &names[2],
        &[
            "discover",
            "--to",
            "192.0.2.255",
            "--wait-ms",
            "5000",
            "--stop-after",
            "2",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    let found = lines.len();
    assert_eq!(
        lines,
        ["alpha at 192.0.2.1:6550", "beta at 192.0.2.2:6550"],
        "discover exited {:?}\nstderr:\n{stderr}\nalpha:\n{}\nbeta:\n{}",
        out.status.code(),
        alpha.stderr(),
        beta.stderr()
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    alpha.expect_stderr("discovery request from 192.0.2.3:");
    beta.expect_stderr("discovery request from 192.0.2.3:");
    shy.expect_stderr("ignored 8 bytes from 192.0.2.3:");
    assert!(
        !shy.stderr().contains("discovery request from"),
        "{}",
        shy.stderr()
    );

    // Ctrl+C works inside a namespace too.
    for listener in [&mut alpha, &mut beta] {
        let (took, status) = listener.interrupt_and_time();
        assert_eq!(status.code(), Some(0), "{}", listener.stderr());
        assert!(took <= SHUTDOWN_BUDGET, "took {took:?}");
        assert!(listener.stderr().contains("server closed"));
    }

    // Only shy is left, and it does not answer other hosts: discover fails
    // and says why that may be.
    let out = run_in(
        &names[2],
        &["discover", "--to", "192.0.2.255", "--wait-ms", "200"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no responders at 192.0.2.255:6550")
            && stderr.contains("only when started with --lan"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    say(&format!(
        "{TEST}: {found} of 2 listeners found across 3 namespaces (discover --to 192.0.2.255)"
    ));
}

/// With SO_REUSEADDR set before bind, Linux may hand a `--port 0` listener a
/// port that another SO_REUSEADDR socket already holds (see `listen` in
/// main.rs). A namespace with a one-port ephemeral range makes that
/// deterministic: the first `--port 0` listener takes the only port; a
/// second `--port 0` must fail rather than share it, while a listener that
/// asks for that port by number still may.
#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn port_zero_never_lands_on_a_shared_port() {
    const TEST: &str = "port-0 namespace test";
    if let Some(why) = missing_prerequisite() {
        return skip(TEST, &why);
    }
    let mut netns = Namespaces::new(PREFIX, "p0");
    let ns = match netns.add("solo") {
        Ok(name) => name,
        Err(e) => return skip(TEST, &format!("cannot create a network namespace: {e}")),
    };
    must(&["-n", &ns, "link", "set", "lo", "up"]);
    // The port range is per namespace: this changes nothing outside it.
    let port_range = |range: &str| {
        let write = format!("echo {range} > /proc/sys/net/ipv4/ip_local_port_range");
        must(&["netns", "exec", &ns, "sh", "-c", &write]);
    };
    port_range("40000 40000");

    let first = listener_in(&ns, &["--port", "0", "--name", "first"]);
    assert_eq!(first.addr().to_string(), "0.0.0.0:40000");

    let second = run_in(&ns, &["listen", "--port", "0", "--name", "second"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");

    // Ports again for discover's own socket, then a listener that joins.
    port_range("40001 40100");
    let _joined = listener_in(&ns, &["--port", "40000", "--name", "joined"]);
    let out = run_in(
        &ns,
        &[
            "discover",
            "--port",
            "40000",
            "--wait-ms",
            "5000",
            "--stop-after",
            "2",
        ],
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["first at 127.0.0.1:40000", "joined at 127.0.0.1:40000"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tutorial's server (`examples/udp-broadcast-tutorial.rs`) answers
/// another host; the lesson's listener next to it, without `--lan`, does
/// not. Two namespaces joined by one veth pair: host a (192.0.2.1) runs
/// both on port 6550, host b (192.0.2.2) broadcasts to 192.0.2.255.
#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn example_answers_another_host() {
    const TEST: &str = "example namespace test";
    if let Some(why) = missing_prerequisite() {
        return skip(TEST, &why);
    }
    let example = common::testing::example(env!("CARGO_MANIFEST_DIR"), "udp-broadcast-tutorial");
    let mut netns = Namespaces::new(PREFIX, "ex");
    let a = match netns.add("a") {
        Ok(name) => name,
        Err(e) => return skip(TEST, &format!("cannot create a network namespace: {e}")),
    };
    let b = netns.add("b").unwrap_or_else(|e| panic!("{e}"));
    // One virtual cable, its ends named eth0 in both hosts.
    must(&[
        "-n", &a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &b,
    ]);
    for (ns, address) in [(&a, "192.0.2.1/24"), (&b, "192.0.2.2/24")] {
        must(&["-n", ns, "addr", "add", address, "brd", "+", "dev", "eth0"]);
        must(&["-n", ns, "link", "set", "eth0", "up"]);
        must(&["-n", ns, "link", "set", "lo", "up"]);
    }
    for ns in [&a, &b] {
        wait_for(&["-n", ns, "link", "show", "eth0"], "LOWER_UP");
    }

    let tutorial = Lesson::start("ip", &["netns", "exec", &a, &example]);
    assert_eq!(tutorial.addr().to_string(), "0.0.0.0:6550");
    let lesson = listener_in(&a, &["--name", "shy"]);
    assert_eq!(lesson.addr().to_string(), "0.0.0.0:6550");

    let out = run_in(
        &b,
        &["discover", "--to", "192.0.2.255", "--wait-ms", "1000"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The example answered the stranger; its reply is not the lesson's
    // protocol, so discover drops it and finds no listener.
    assert!(
        stderr.contains(
            "ignored 15 bytes from 192.0.2.1:6550: not a discovery reply: \"Server response\""
        ),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = tutorial.stdout_line(WAIT).unwrap_or_default();
    assert!(
        line.starts_with("Received from 192.0.2.2:") && line.ends_with(": DISCOVER"),
        "{line:?}; stderr: {}",
        tutorial.stderr()
    );
    // The lesson's listener got the same broadcast and kept quiet.
    lesson.expect_stderr("ignored 8 bytes from 192.0.2.2:");
    assert!(!lesson.stderr().contains("discovery request from"));
    say(&format!(
        "{TEST}: the example answered 192.0.2.2, the lesson's listener did not"
    ));
}
