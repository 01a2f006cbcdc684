//! udp-broadcast multicast across real (virtual) networks made of network
//! namespaces; nothing is added to this machine's own interfaces and all
//! multicast stays inside them.
//!
//! Membership: four hosts on one bridge, IPv4 (239.255.42.99) and IPv6
//! (ff02::4242, link-local). a and b join, c discovers, d never joins.
//!
//! ```text
//!   a 192.0.2.1 2001:db8::1 ─┐
//!   b 192.0.2.2 2001:db8::2 ─┼─ br: br0
//!   c 192.0.2.3 2001:db8::3 ─┤
//!   d 192.0.2.4 2001:db8::4 ─┘
//! ```
//!
//! TTL: a sender, a router, and a host with listeners behind it. The router
//! forwards multicast only because smcrouted (smcroute) runs inside its
//! namespace with static routes for 239.255.42.99 and ff15::4242.
//!
//! ```text
//!   s 192.0.2.1 ── eth0 r eth1 ── 198.51.100.1 l
//!     2001:db8:1::1  (router)     2001:db8:2::1
//! ```
//!
//! They need root and `ip` (and `smcrouted` for the TTL test); without them
//! they say why and pass, unless `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Output;

use common::testing::netns::{missing_prerequisite, must, run_in, say, skip, start_in, Namespaces};
use common::testing::{Lesson, SIGTERM, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_udp-broadcast");
const PREFIX: &str = "udpmc-";

fn listener_in(ns: &str, args: &[&str]) -> Lesson {
    let mut all = vec!["listen", "--lan"];
    all.extend_from_slice(args);
    start_in(ns, BIN, &all)
}

fn discover_in(ns: &str, args: &[&str]) -> Output {
    let mut all = vec!["discover"];
    all.extend_from_slice(args);
    run_in(ns, BIN, &all, "")
}

/// discover's `NAME at ADDR` lines, sorted.
fn lines(out: &Output) -> BTreeSet<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn names(out: &Output) -> BTreeSet<String> {
    lines(out)
        .iter()
        .map(|line| line.rsplit_once(" at ").expect(line).0.to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn membership_v4() {
    membership(
        "239.255.42.99",
        "239.255.42.100",
        &["--interface", "eth0"],
        "192.0.2.",
    )
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn membership_v6() {
    membership(
        "ff02::4242",
        "ff02::4243",
        &["--interface", "eth0"],
        "[2001:db8::",
    )
}

/// Listeners of `group` in a and b (plus, in a, a member of `other` on the
/// same port), a non-member listener in d; c discovers and finds exactly
/// alpha and beta. Then beta stops (leaves), and a plain listener started
/// in b stays silent too: b is no longer a member.
fn membership(group: &str, other: &str, iface: &[&str], address_start: &str) {
    let test = format!("multicast membership test ({group})");
    if let Some(why) = missing_prerequisite() {
        return skip(&test, &why);
    }
    let tag = if group.contains(':') { "m6" } else { "m4" };
    let mut netns = Namespaces::new(PREFIX, tag);
    let switch = match netns.switch("br") {
        Ok(name) => name,
        Err(e) => return skip(&test, &format!("cannot create a network namespace: {e}")),
    };
    // No IGMP/MLD snooping: the bridge floods every group to every port, so
    // only the hosts' own memberships decide who hears what.
    must(&[
        "-n",
        &switch,
        "link",
        "set",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    let mut hosts = Vec::new();
    for (i, host) in ["a", "b", "c", "d"].iter().enumerate() {
        let ns = netns.add(host).unwrap_or_else(|e| panic!("{e}"));
        let v4 = format!("192.0.2.{}/24", i + 1);
        let v6 = format!("2001:db8::{}/64", i + 1);
        netns.plug(&switch, &format!("to-{host}"), &ns, "eth0", &[&v4, &v6]);
        hosts.push(ns);
    }
    let join = |ns: &str, g: &str, name: &str| {
        let mut args = vec!["--group", g, "--name", name];
        args.extend_from_slice(iface);
        listener_in(ns, &args)
    };
    let alpha = join(&hosts[0], group, "alpha");
    let mut beta = join(&hosts[1], group, "beta");
    let other_member = join(&hosts[0], other, "other-group");
    let delta = listener_in(&hosts[3], &["--name", "delta"]);
    alpha.expect_stderr(&format!("joined multicast group {group}"));

    let mut args = vec!["--to", group, "--wait-ms", "1000"];
    args.extend_from_slice(iface);
    let out = discover_in(&hosts[2], &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(names(&out), set(&["alpha", "beta"]), "{}", stderr(&out));
    for line in lines(&out) {
        assert!(line.contains(&format!(" at {address_start}")), "{line}");
    }
    let found = lines(&out);
    alpha.expect_stderr("discovery request from ");
    for silent in [&other_member, &delta] {
        assert!(
            !silent.stderr().contains("discovery request from"),
            "{}",
            silent.stderr()
        );
    }

    // Again and again: Linux's early demultiplexing takes a different path
    // from the second datagram on (see `listen` in listen.rs).
    for _ in 0..2 {
        let out = discover_in(&hosts[2], &args);
        assert_eq!(names(&out), set(&["alpha", "beta"]), "{}", stderr(&out));
    }
    let (_, status) = beta.interrupt_and_time();
    assert_eq!(status.code(), Some(0), "{}", beta.stderr());
    beta.expect_stderr(&format!("left multicast group {group}"));
    let plain = listener_in(&hosts[1], &["--name", "plain"]);
    let out = discover_in(&hosts[2], &args);
    assert_eq!(
        names(&out),
        set(&["alpha"]),
        "{}\n{:?}\nother: {}\nalpha: {}",
        stderr(&out),
        lines(&out),
        other_member.stderr(),
        alpha.stderr()
    );
    assert!(
        !plain.stderr().contains("discovery request from"),
        "{}",
        plain.stderr()
    );
    say(&format!(
        "{test}: c found {found:?}; after beta left, only alpha"
    ));
}

/// A namespace with only its loopback interface up has no route to any
/// group: joining or sending without --interface fails with a hint.
#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn no_multicast_route() {
    const TEST: &str = "multicast no-route test";
    if let Some(why) = missing_prerequisite() {
        return skip(TEST, &why);
    }
    let mut netns = Namespaces::new(PREFIX, "nr");
    let ns = match netns.add("alone") {
        Ok(name) => name,
        Err(e) => return skip(TEST, &format!("cannot create a network namespace: {e}")),
    };
    let out = run_in(&ns, BIN, &["listen", "--group", "239.255.42.99"], "");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("No such device") && text.contains("pass --interface"),
        "{text}"
    );
    let out = discover_in(&ns, &["--to", "239.255.42.99"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Network is unreachable") && text.contains("pass --interface"),
        "{text}"
    );
    say(&format!(
        "{TEST}: join and send without a route explain --interface"
    ));
}

/// smcrouted inside namespace `ns`, with its own config, pid file and
/// control socket in a fresh temporary directory; stopped by its pid.
struct Smcroute {
    daemon: Lesson,
    dir: std::path::PathBuf,
}

impl Smcroute {
    fn start(ns: &str, config: &str) -> Result<Smcroute, String> {
        let ok = std::process::Command::new("smcrouted")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Err("smcrouted (apt-get install smcroute) is not installed".into());
        }
        let dir = std::env::temp_dir().join(format!("{ns}-smcroute"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let conf = dir.join("smcroute.conf");
        std::fs::write(&conf, config).map_err(|e| e.to_string())?;
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let (conf, pid, sock) = (
            conf.to_string_lossy().into_owned(),
            path("pid"),
            path("sock"),
        );
        // -n: foreground; -l info: log each route it adds.
        let args = [
            "netns",
            "exec",
            ns,
            "smcrouted",
            "-n",
            "-l",
            "info",
            "-f",
            &conf,
            "-P",
            &pid,
            "-u",
            &sock,
        ];
        let daemon = Lesson::spawn("ip", &args);
        if !daemon.wait_stderr("Ready", WAIT) {
            return Err(format!("smcrouted did not get ready: {}", daemon.stderr()));
        }
        Ok(Smcroute { daemon, dir })
    }
}

impl Drop for Smcroute {
    fn drop(&mut self) {
        self.daemon.signal(SIGTERM);
        let _ = self.daemon.wait_exit(WAIT);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces are Linux only")]
fn ttl_across_a_router() {
    const TEST: &str = "multicast TTL test";
    if let Some(why) = missing_prerequisite() {
        return skip(TEST, &why);
    }
    let mut netns = Namespaces::new(PREFIX, "ttl");
    let s = match netns.add("s") {
        Ok(name) => name,
        Err(e) => return skip(TEST, &format!("cannot create a network namespace: {e}")),
    };
    let r = netns.router("r").unwrap_or_else(|e| panic!("{e}"));
    let l = netns.add("l").unwrap_or_else(|e| panic!("{e}"));
    netns.wire(
        (&s, "eth0", &["192.0.2.1/24", "2001:db8:1::1/64"]),
        (&r, "eth0", &["192.0.2.254/24", "2001:db8:1::fe/64"]),
    );
    netns.wire(
        (&r, "eth1", &["198.51.100.254/24", "2001:db8:2::fe/64"]),
        (&l, "eth0", &["198.51.100.1/24", "2001:db8:2::1/64"]),
    );
    for (ns, v4, v6) in [
        (&s, "192.0.2.254", "2001:db8:1::fe"),
        (&l, "198.51.100.254", "2001:db8:2::fe"),
    ] {
        must(&["-n", ns, "route", "add", "default", "via", v4]);
        must(&["-n", ns, "-6", "route", "add", "default", "via", v6]);
    }
    let config = "mroute from eth0 group 239.255.42.99 to eth1\n\
                  mroute from eth0 group ff15::4242 to eth1\n\
                  mroute from eth0 group ff02::4242 to eth1\n";
    let _smcroute = match Smcroute::start(&r, config) {
        Ok(daemon) => daemon,
        Err(why) => return skip(TEST, &why),
    };

    let mut report = Vec::new();
    for (group, at) in [
        ("239.255.42.99", "198.51.100.1:6550"),
        ("ff15::4242", "[2001:db8:2::1]:6550"),
    ] {
        let mut listeners = Vec::new();
        for name in ["alpha", "beta"] {
            listeners.push(listener_in(&l, &["--group", group, "--name", name]));
        }
        let ttl1 = discover_in(&s, &["--to", group, "--ttl", "1", "--wait-ms", "700"]);
        assert_eq!(ttl1.status.code(), Some(1), "{}", stderr(&ttl1));
        assert!(ttl1.stdout.is_empty());
        let ttl2 = discover_in(
            &s,
            &[
                "--to",
                group,
                "--ttl",
                "2",
                "--wait-ms",
                "5000",
                "--stop-after",
                "2",
            ],
        );
        let want = [format!("alpha at {at}"), format!("beta at {at}")];
        assert_eq!(
            lines(&ttl2),
            want.iter().map(String::as_str).map(String::from).collect(),
            "{}",
            stderr(&ttl2)
        );
        report.push(format!("{group}: TTL 1 none, TTL 2 {}", lines(&ttl2).len()));
    }

    // ff02:: is link-local: no router forwards it, whatever the hop limit
    // and even with a route configured for it.
    let gamma = listener_in(
        &l,
        &[
            "--group",
            "ff02::4242",
            "--interface",
            "eth0",
            "--name",
            "gamma",
        ],
    );
    let out = discover_in(
        &s,
        &[
            "--to",
            "ff02::4242",
            "--interface",
            "eth0",
            "--ttl",
            "255",
            "--wait-ms",
            "700",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!gamma.stderr().contains("discovery request from"));
    report.push("ff02::4242: hop limit 255, none".into());
    say(&format!("{TEST}: {}", report.join("; ")));
}
