//! The packet captures of `scripts/capture.sh`, checked: the script runs the
//! lessons inside network namespaces it creates, captures with tcpdump, and
//! these tests read the raw tcpdump lines it prints.
//!
//! It lives with tcp-server because most of what it checks (handshake, FIN,
//! RST, the Nagle stall) is a conversation with tcp-server; the script runs
//! the other lessons' binaries too, from the same target directory.
//!
//! Needs Linux, root, `ip`, `ss` and `tcpdump`, and every lesson binary built
//! (`cargo test --workspace` builds them). Without them the tests say why and
//! pass, except when `CI` is set: there a skip is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SERVER_BIN: &str = env!("CARGO_BIN_EXE_tcp-server");
/// The binaries the script runs.
const LESSONS: &[&str] = &[
    "tcp-server",
    "tcp-client",
    "udp-server",
    "udp-client",
    "udp-broadcast",
];
/// The script's own deadlines add up to well under this.
const SCRIPT_BUDGET: Duration = Duration::from_secs(120);

/// A line on the real stderr (libtest hides `eprintln!` of a passing test).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Why the captures cannot run here, if they cannot.
fn missing_prerequisite(bin_dir: &Path) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("network namespaces exist only on Linux".into());
    }
    if !common::testing::is_root() {
        return Some("not running as root (network namespaces and tcpdump need root)".into());
    }
    for tool in ["ip", "ss", "tcpdump", "timeout"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    LESSONS
        .iter()
        .find(|name| !bin_dir.join(name).exists())
        .map(|name| format!("{name} is not built (cargo build --bins)"))
}

/// The script's output, run once for every test here; None when skipped.
fn captures() -> Option<&'static str> {
    static OUTPUT: OnceLock<Option<String>> = OnceLock::new();
    OUTPUT.get_or_init(run_script).as_deref()
}

fn run_script() -> Option<String> {
    // CAPTURE_TEST_BIN: another directory of lesson binaries to capture.
    let bin_dir = std::env::var_os("CAPTURE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(SERVER_BIN).parent().unwrap().to_path_buf());
    if let Some(why) = missing_prerequisite(&bin_dir) {
        if std::env::var_os("CI").is_some() {
            panic!("on_the_wire: cannot run, and CI is set so a skip is a failure: {why}");
        }
        say(&format!("on_the_wire: skipped: {why}"));
        return None;
    }
    let started = Instant::now();
    let mut child = Command::new("bash")
        .arg(repo_root().join("scripts/capture.sh"))
        .env("BIN", &bin_dir)
        .env("CAPTURE_NO_BUILD", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/capture.sh");
    // Read the pipes on threads, so a full pipe cannot stall the script.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SCRIPT_BUDGET {
            let _ = child.kill();
            panic!("scripts/capture.sh took over {SCRIPT_BUDGET:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "capture.sh failed ({status}):\n{out}\n{err}"
    );
    say(&format!(
        "on_the_wire: capture.sh ran in {:?}",
        started.elapsed()
    ));
    Some(out)
}

/// The lines of part `name` (from its `== name:` header to the next).
fn part<'a>(output: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("== {name}:");
    output
        .lines()
        .skip_while(|l| !l.starts_with(&header))
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .collect()
}

/// One TCP segment as tcpdump printed it.
#[derive(Debug)]
struct Segment {
    from_server: bool,
    /// A SYN or SYN-ACK, whose numbers tcpdump prints in full, not relative.
    syn: bool,
    /// The first sequence number of its data (tcpdump's relative numbers).
    seq: Option<u64>,
    ack: Option<u64>,
    len: u64,
}

/// The TCP segments of a capture in order; the server's port is the one
/// the part's `$ tcp-client --port PORT` line names.
fn segments(lines: &[&str]) -> Vec<Segment> {
    let port = lines
        .iter()
        .find_map(|l| l.strip_prefix("$ tcp-client --port "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|p| format!(".{p}:"));
    let field = |l: &str, name: &str| -> Option<u64> {
        let rest = &l[l.find(name)? + name.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    lines
        .iter()
        .filter(|l| l.starts_with("00:") && l.contains("Flags ["))
        .map(|l| {
            let dst = l
                .split(" > ")
                .nth(1)
                .unwrap_or("")
                .split(' ')
                .next()
                .unwrap_or("");
            Segment {
                from_server: port.as_deref().is_some_and(|p| !dst.ends_with(p)),
                syn: l.contains("Flags [S"),
                seq: field(l, ", seq "),
                ack: field(l, ", ack "),
                len: l
                    .rsplit("length ")
                    .next()
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0),
            }
        })
        .collect()
}

fn flags_of(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("00:") && l.contains("Flags ["))
        .map(|l| {
            l.split("Flags [")
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces and tcpdump: Linux only")]
fn the_handshake_is_syn_then_syn_ack_then_ack() {
    let Some(output) = captures() else { return };
    let flags = flags_of(&part(output, "tcp"));
    assert!(flags.len() >= 3, "too few segments: {flags:?}\n{output}");
    assert_eq!(flags[..3], ["S", "S.", "."], "{output}");
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces and tcpdump: Linux only")]
fn an_orderly_close_is_fin_both_ways_and_leaves_time_wait() {
    let Some(output) = captures() else { return };
    for name in ["tcp", "close"] {
        let lines = part(output, name);
        let flags = flags_of(&lines);
        let fins = flags.iter().filter(|f| f.contains('F')).count();
        assert_eq!(fins, 2, "{name}: one FIN each way: {flags:?}");
        assert!(
            !flags.iter().any(|f| f.contains('R')),
            "{name}: no RST: {flags:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("    0 ") && l.contains("127.0.0.1:")),
            "{name}: ss shows the connection in TIME_WAIT:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces and tcpdump: Linux only")]
fn a_close_with_unread_data_is_a_reset() {
    let Some(output) = captures() else { return };
    let flags = flags_of(&part(output, "rst"));
    assert!(flags.iter().any(|f| f.starts_with('R')), "a RST: {flags:?}");
    assert!(!flags.iter().any(|f| f.contains('F')), "no FIN: {flags:?}");
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces and tcpdump: Linux only")]
fn with_split_the_second_half_leaves_only_after_the_peers_ack() {
    let Some(output) = captures() else { return };
    let lines = part(output, "nagle");
    if lines.iter().any(|l| l.starts_with("skipped")) {
        say("on_the_wire: Nagle assertion skipped: tcp-client has no --split yet");
        return;
    }
    // The first run (without --nodelay) ends where the second command starts.
    let second_run = lines
        .iter()
        .skip(1)
        .position(|l| l.starts_with("$ "))
        .unwrap()
        + 1;
    let (with_nagle, without) = lines.split_at(second_run);
    let check = |lines: &[&str]| -> Vec<bool> {
        // For each second half: had the server acknowledged the first half?
        let segs = segments(lines);
        let mut halves = 0;
        let mut waited = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            if s.from_server || s.len == 0 {
                continue;
            }
            halves += 1;
            if halves % 2 == 0 {
                let start = s.seq.unwrap();
                let acked = segs[..i]
                    .iter()
                    .any(|p| p.from_server && !p.syn && p.ack.is_some_and(|a| a >= start));
                waited.push(acked);
            }
        }
        waited
    };
    let nagle = check(with_nagle);
    assert_eq!(
        nagle.len(),
        3,
        "three split messages:\n{}",
        with_nagle.join("\n")
    );
    assert!(
        nagle.iter().all(|&w| w),
        "every second half left after the server's ACK of the first: {nagle:?}\n{}",
        with_nagle.join("\n")
    );
    let nodelay = check(without);
    say(&format!(
        "on_the_wire: --nodelay second halves sent after an ACK: {nodelay:?}"
    ));
    assert!(
        nodelay.iter().any(|&w| !w),
        "with --nodelay a second half leaves before the ACK: {nodelay:?}\n{}",
        without.join("\n")
    );
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces and tcpdump: Linux only")]
fn a_2000_byte_datagram_crosses_a_1500_byte_link_in_fragments() {
    let Some(output) = captures() else { return };
    let lines = part(output, "fragments");
    let first = lines
        .iter()
        .filter(|l| l.contains("offset 0, flags [+]"))
        .count();
    let last = lines
        .iter()
        .filter(|l| l.contains("offset 1480, flags [none]"))
        .count();
    assert_eq!(
        (first, last),
        (2, 2),
        "request and reply, two fragments each:\n{}",
        lines.join("\n")
    );
}

#[test]
#[cfg_attr(windows, ignore = "network namespaces and tcpdump: Linux only")]
fn udp_is_one_datagram_per_send_and_a_closed_port_answers_icmp() {
    let Some(output) = captures() else { return };
    let udp = part(output, "udp");
    let datagrams = udp
        .iter()
        .filter(|l| l.starts_with("00:") && l.contains(": UDP, length"))
        .count();
    assert_eq!(
        datagrams,
        4,
        "two requests, two replies:\n{}",
        udp.join("\n")
    );
    let icmp = part(output, "icmp");
    assert!(
        icmp.iter().any(|l| l.contains("udp port 9 unreachable")),
        "{}",
        icmp.join("\n")
    );
    let broadcast = part(output, "broadcast");
    let to_all = broadcast
        .iter()
        .filter(|l| l.contains(" > 127.255.255.255."))
        .count();
    let answers = broadcast
        .iter()
        .filter(|l| {
            l.starts_with("00:") && l.contains(": UDP") && !l.contains(" > 127.255.255.255.")
        })
        .count();
    assert_eq!(
        (to_all, answers),
        (1, 3),
        "one datagram, three answers:\n{}",
        broadcast.join("\n")
    );
}
