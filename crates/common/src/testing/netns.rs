//! Network namespaces for tests that need more than one "machine".
//!
//! A namespace is a private copy of the network stack: its own interfaces,
//! addresses, routes and ports. A test makes a few, joins them with veth
//! pairs (virtual cables) or a bridge (a virtual switch), and runs a lesson
//! binary in each with `ip netns exec`. [`Namespaces::router`] makes one
//! that forwards between two [`Namespaces::wire`]s. Nothing is added to this machine's
//! own interfaces, and [`Namespaces`] deletes everything again when it is
//! dropped, even when the test panics.
//!
//! The tests need root and `ip` (iproute2), so they run on Linux only.
//! Without them [`skip`] says why and the test passes, except when the `CI`
//! environment variable is set: on CI a skip is a failure, so a namespace
//! test cannot silently stop running.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{run, Lesson, WAIT};

/// A line on the real stderr. libtest captures `eprintln!` of a passing
/// test, so that line would never reach the CI log; a direct write does.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Why namespace tests cannot run on this machine, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("network namespaces exist only on Linux".into());
    }
    if !super::is_root() {
        return Some("not running as root (creating network namespaces needs root)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("`ip` from iproute2 is not installed".into()),
    }
}

/// Say why a test is skipped, or fail it when running on CI.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: cannot run, and CI is set so a skip is a failure: {why}");
    }
    say(&format!("{test}: skipped: {why}"));
}

/// Run `ip ARGS`, for at most WAIT; the error holds its stderr. It never
/// panics, so the Drop guard can use it while a failed test unwinds.
pub fn ip(args: &[&str]) -> Result<Output, String> {
    let mut child = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    let deadline = Instant::now() + WAIT;
    // `ip` prints little, so its output fits in the pipes while we poll.
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("ip {} took over {WAIT:?}", args.join(" ")));
        }
        thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `ip ARGS` that must work.
pub fn must(args: &[&str]) -> Output {
    ip(args).unwrap_or_else(|e| panic!("{e}"))
}

/// The names of all network namespaces (`ip netns list` prints `NAME` or
/// `NAME (id: N)` per line).
pub fn list_namespaces() -> Vec<String> {
    let out = ip(&["netns", "list"]).map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Poll `ip ARGS` until its output contains `needle`, for at most WAIT.
pub fn wait_for(args: &[&str], needle: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = must(args);
        if String::from_utf8_lossy(&out.stdout).contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`ip {}` never showed {needle:?}",
            args.join(" ")
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The namespaces of one test. Dropping it deletes them (and anything else
/// with its prefix), whether the test passed or panicked.
///
/// Names are `PREFIX-PID-TEST-SUFFIX`: the prefix names the test file, the
/// pid keeps parallel runs apart, and leftovers of a crashed run (whose pid
/// is gone) are deleted by the next [`Namespaces::new`] with that prefix.
pub struct Namespaces {
    prefix: String,
    own: String,
    created: Vec<String>,
}

impl Namespaces {
    /// Delete what crashed runs with `prefix` left behind, then start a
    /// fresh set for `test`. `prefix` should end in `-`, for example
    /// `"udpbc-"`.
    pub fn new(prefix: &str, test: &str) -> Namespaces {
        for name in list_namespaces() {
            let pid = name
                .strip_prefix(prefix)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if let Some(pid) = pid {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = ip(&["netns", "delete", &name]);
                }
            }
        }
        Namespaces {
            prefix: prefix.to_string(),
            own: format!("{prefix}{}-{test}-", std::process::id()),
            created: Vec::new(),
        }
    }

    /// The prefix this set was made with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Create the namespace `PREFIX-PID-TEST-suffix`, with its loopback
    /// interface up, and return its name.
    pub fn add(&mut self, suffix: &str) -> Result<String, String> {
        let name = format!("{}{suffix}", self.own);
        ip(&["netns", "add", &name])?;
        self.created.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// Join `a` and `b` with one veth pair, its ends named `eth0` in both,
    /// give each end its addresses (CIDR, IPv4 or IPv6) and wait until the
    /// link is up on both sides. IPv6 addresses skip duplicate address
    /// detection (`nodad`), so they are usable at once.
    pub fn cable(&self, a: (&str, &[&str]), b: (&str, &[&str])) {
        self.wire((a.0, "eth0", a.1), (b.0, "eth0", b.1));
    }

    /// Like [`Namespaces::cable`], with the device names chosen: `(ns,
    /// dev, addresses)` for each end. A router needs this: its second
    /// cable's end cannot be called `eth0` again.
    pub fn wire(&self, a: (&str, &str, &[&str]), b: (&str, &str, &[&str])) {
        must(&[
            "-n", a.0, "link", "add", a.1, "type", "veth", "peer", "name", b.1, "netns", b.0,
        ]);
        for (ns, dev, addresses) in [a, b] {
            configure(ns, dev, addresses);
        }
        for (ns, dev, _) in [a, b] {
            wait_for(&["-n", ns, "link", "show", dev], "LOWER_UP");
        }
    }

    /// Create a namespace that forwards IPv4 and IPv6 between its
    /// interfaces (unicast; multicast also needs a routing daemon to program
    /// the kernel's multicast routes). Returns its name.
    pub fn router(&mut self, suffix: &str) -> Result<String, String> {
        let name = self.add(suffix)?;
        sysctl(&name, "net/ipv4/ip_forward", "1")?;
        sysctl(&name, "net/ipv6/conf/all/forwarding", "1")?;
        Ok(name)
    }

    /// Create a namespace holding a bridge `br0`, a virtual switch that
    /// [`Namespaces::plug`] connects hosts to. Returns its name.
    pub fn switch(&mut self, suffix: &str) -> Result<String, String> {
        let name = self.add(suffix)?;
        ip(&["-n", &name, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &name, "link", "set", "br0", "up"])?;
        Ok(name)
    }

    /// Connect host namespace `host` to the bridge in `switch`: a veth pair
    /// whose `port` end is in the bridge and whose `dev` end (say `eth0`) is
    /// in the host, with `addresses`. Waits until the bridge forwards on the
    /// port and the host's end is up.
    pub fn plug(&self, switch: &str, port: &str, host: &str, dev: &str, addresses: &[&str]) {
        must(&[
            "-n", switch, "link", "add", port, "type", "veth", "peer", "name", dev, "netns", host,
        ]);
        must(&["-n", switch, "link", "set", port, "master", "br0", "up"]);
        configure(host, dev, addresses);
        wait_for(
            &["-d", "-n", switch, "link", "show", port],
            "state forwarding",
        );
        wait_for(&["-n", host, "link", "show", dev], "LOWER_UP");
    }
}

/// Write `value` to `/proc/sys/KEY` inside namespace `ns` (the network
/// sysctls are per namespace: this changes nothing outside it).
pub fn sysctl(ns: &str, key: &str, value: &str) -> Result<(), String> {
    let write = format!("echo {value} > /proc/sys/{key}");
    ip(&["netns", "exec", ns, "sh", "-c", &write]).map(drop)
}

/// Give `dev` in `ns` its addresses and bring it up.
fn configure(ns: &str, dev: &str, addresses: &[&str]) {
    for address in addresses {
        if address.contains(':') {
            must(&["-n", ns, "addr", "add", address, "dev", dev, "nodad"]);
        } else {
            // `brd +`: the broadcast address is the subnet's.
            must(&["-n", ns, "addr", "add", address, "brd", "+", "dev", dev]);
        }
    }
    must(&["-n", ns, "link", "set", dev, "up"]);
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.created.drain(..).rev() {
            let _ = ip(&["netns", "delete", &name]);
        }
        for name in list_namespaces() {
            if name.starts_with(&self.own) {
                let _ = ip(&["netns", "delete", &name]);
            }
        }
    }
}

/// `ip netns exec NS BIN ARGS` as an argument list for `ip`.
fn exec_args<'a>(ns: &'a str, bin: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["netns", "exec", ns, bin];
    all.extend_from_slice(args);
    all
}

/// Start the server `bin ARGS` inside namespace `ns` and wait for its
/// `listening on` line.
pub fn start_in(ns: &str, bin: &str, args: &[&str]) -> Lesson {
    Lesson::start("ip", &exec_args(ns, bin, args))
}

/// Run `bin ARGS` inside namespace `ns` to completion, with `stdin`.
pub fn run_in(ns: &str, bin: &str, args: &[&str], stdin: &str) -> Output {
    run("ip", &exec_args(ns, bin, args), stdin, WAIT)
}
