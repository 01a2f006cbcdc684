//! Bad command lines: every lesson binary, given flags it does not know,
//! ports out of range, hosts that cannot be resolved, sizes that are negative
//! or absurd, files that are not there, must stop with exit code 2 (a usage
//! mistake) or 1 (a runtime failure), print exactly one line on stderr, print
//! nothing on stdout, and never panic or print a backtrace.
//!
//! The hosts are chosen so that no name lookup leaves this machine: a name
//! with a space in it, or with a label longer than DNS allows (63 bytes), is
//! refused by the resolver before it sends any query.

use std::ffi::OsString;
use std::time::Duration;

use crate::process::{run, Bins};
use crate::report::{ms, Outcome, Report};

/// One bad command line and the exit codes it may give.
struct Case {
    args: Vec<OsString>,
    codes: &'static [i32],
}

const USAGE: &[i32] = &[2];
const USAGE_OR_RUNTIME: &[i32] = &[1, 2];

fn case(args: &[&str], codes: &'static [i32]) -> Case {
    Case {
        args: args.iter().map(OsString::from).collect(),
        codes,
    }
}

/// A name no resolver will send a query for: its first label has 64 bytes.
fn overlong_host() -> String {
    format!("{}.invalid", "a".repeat(64))
}

/// The mistakes every binary must refuse, after `prefix` (a subcommand).
fn common_cases(prefix: &[&str], host_flag: Option<&str>, port_flag: &str) -> Vec<Case> {
    let with = |rest: &[&str], codes| {
        let mut args: Vec<&str> = prefix.to_vec();
        args.extend_from_slice(rest);
        case(&args, codes)
    };
    let long_host = overlong_host();
    let mut cases = vec![
        with(&["--bogus"], USAGE),
        with(&["--bogus=1"], USAGE),
        with(&["-x"], USAGE),
        with(&["stray-positional-argument", "another"], USAGE_OR_RUNTIME),
        with(&[port_flag, "65536"], USAGE),
        with(&[port_flag, "-1"], USAGE),
        with(&[port_flag, "99999999999999999999999"], USAGE),
        with(&[port_flag, "http"], USAGE),
        with(&[port_flag], USAGE),
    ];
    if let Some(host_flag) = host_flag {
        cases.push(with(&[host_flag, "bad host name"], USAGE_OR_RUNTIME));
        cases.push(with(&[host_flag, &long_host], USAGE_OR_RUNTIME));
        cases.push(with(&[host_flag], USAGE));
    }
    // An argument that is not UTF-8 at all.
    let mut args: Vec<OsString> = prefix.iter().map(OsString::from).collect();
    args.push(not_utf8());
    cases.push(Case { args, codes: USAGE });
    cases
}

/// `--` and then bytes that are no text: 0xff 0xfe on Unix, where an
/// argument is bytes; a lone UTF-16 surrogate on Windows, where it is UTF-16.
#[cfg(unix)]
fn not_utf8() -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(vec![b'-', b'-', 0xff, 0xfe])
}
#[cfg(windows)]
fn not_utf8() -> OsString {
    use std::os::windows::ffi::OsStringExt;
    OsString::from_wide(&[u16::from(b'-'), u16::from(b'-'), 0xd800])
}

/// `--name VALUE` for each value, after `prefix`.
fn values(prefix: &[&str], name: &str, bad: &[&str], codes: &'static [i32]) -> Vec<Case> {
    bad.iter()
        .map(|value| {
            let mut args: Vec<&str> = prefix.to_vec();
            args.extend_from_slice(&[name, value]);
            case(&args, codes)
        })
        .collect()
}

/// Paths relative to where the suite runs (the repository), that do not
/// exist.
const MISSING_FILE: &str = "no-such-file-for-stress.bin";
const MISSING_DIR_FILE: &str = "no-such-directory-for-stress/copy.bin";

const NEGATIVE_OR_ABSURD: &[&str] = &["-5", "0.5", "99999999999999999999999", "1e9", ""];

/// The bad command lines of each binary.
fn cases_of(binary: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    match binary {
        "udp-server" | "udp-threaded-server" => {
            cases.extend(common_cases(&[], Some("--host"), "--port"));
            cases.extend(values(&[], "--buffer-size", NEGATIVE_OR_ABSURD, USAGE));
            cases.extend(values(&[], "--buffer-size", &["0", "65508"], USAGE));
            cases.extend(values(&[], "--delay-ms", &["-1", "3600001"], USAGE));
            cases.extend(values(&[], "--reply", &["loud", ""], USAGE));
            if binary == "udp-threaded-server" {
                cases.extend(values(&[], "--max-threads", &["0", "4097", "-3"], USAGE));
            }
        }
        "udp-client" => {
            cases.extend(common_cases(&[], Some("--host"), "--port"));
            cases.extend(values(&[], "--timeout-ms", &["-1", "0", "1e3"], USAGE));
            cases.extend(values(
                &[],
                "--retries",
                &["-1", "101", "99999999999999999999999"],
                USAGE,
            ));
        }
        "tcp-server" | "tcp-threaded-server" => {
            cases.extend(common_cases(&[], Some("--host"), "--port"));
            cases.extend(values(&[], "--buffer-size", NEGATIVE_OR_ABSURD, USAGE));
            cases.extend(values(&[], "--buffer-size", &["0", "65537"], USAGE));
            cases.extend(values(&[], "--backlog", &["0", "4097", "-1"], USAGE));
            cases.extend(values(
                &[],
                "--idle-timeout-ms",
                &["0", "-1", "3600001"],
                USAGE,
            ));
            cases.extend(values(&[], "--delay-ms", &["-1", "3600001"], USAGE));
            cases.extend(values(&[], "--framing", &["lines", ""], USAGE));
            cases.extend(values(&[], "--reply", &["loud"], USAGE));
            if binary == "tcp-threaded-server" {
                cases.extend(values(
                    &[],
                    "--max-connections",
                    &["0", "4097", "-3"],
                    USAGE,
                ));
            }
        }
        "tcp-client" => {
            cases.extend(common_cases(&[], Some("--host"), "--port"));
            cases.extend(values(&[], "--timeout-ms", &["-1", "0", "600001"], USAGE));
            cases.extend(values(&[], "--burst", &["0", "1001", "-1"], USAGE));
            cases.extend(values(&[], "--framing", &["lines"], USAGE));
        }
        "udp-broadcast" => {
            cases.push(case(&[], USAGE)); // no command at all
            cases.push(case(&["frobnicate"], USAGE));
            cases.push(case(&["--bogus"], USAGE));
            cases.extend(common_cases(&["listen"], None, "--port"));
            let long_name = "n".repeat(65);
            cases.extend(values(
                &["listen"],
                "--name",
                &["", &long_name, "\u{1b}[31mred", "tab\there"],
                USAGE,
            ));
            // discover's host is --to: an IPv4 address, never looked up.
            // (Only loopback or invalid addresses here: a case that were
            // wrongly accepted would really send.)
            cases.extend(common_cases(&["discover"], Some("--to"), "--port"));
            cases.extend(values(&["discover"], "--to", &["::1", "localhost"], USAGE));
            cases.extend(values(&["discover"], "--port", &["0"], USAGE));
            cases.extend(values(
                &["discover"],
                "--wait-ms",
                &["0", "-1", "60001"],
                USAGE,
            ));
            cases.extend(values(
                &["discover"],
                "--stop-after",
                &["-1", "1001"],
                USAGE,
            ));
        }
        "udp-chunked-transfer" => {
            cases.push(case(&[], USAGE)); // no command at all
            cases.push(case(&["frobnicate"], USAGE));
            cases.push(case(&["send"], USAGE)); // no FILE
            cases.push(case(&["receive"], USAGE)); // no --out
                                                   // Missing files: nothing to send, nowhere to write.
            cases.push(case(&["send", MISSING_FILE], USAGE_OR_RUNTIME));
            cases.push(case(&["send", "."], USAGE_OR_RUNTIME));
            cases.push(case(
                &["receive", "--out", MISSING_DIR_FILE, "--port", "0"],
                USAGE_OR_RUNTIME,
            ));
            let send = ["send", MISSING_FILE];
            cases.extend(common_cases(&send, Some("--host"), "--port"));
            cases.extend(values(&send, "--chunk-size", NEGATIVE_OR_ABSURD, USAGE));
            cases.extend(values(&send, "--chunk-size", &["0", "65499"], USAGE));
            cases.extend(values(&send, "--window", &["0", "16385", "-1"], USAGE));
            cases.extend(values(&send, "--retries", &["0", "101"], USAGE));
            cases.extend(values(&send, "--min-rto-ms", &["0", "10001"], USAGE));
            cases.extend(values(&send, "--protocol", &["quic", ""], USAGE));
            for flag in [
                "--simulate-loss",
                "--simulate-duplicate",
                "--simulate-reorder",
            ] {
                cases.extend(values(&send, flag, &["1.5", "-0.1", "NaN", "ten"], USAGE));
            }
            cases.extend(values(&send, "--seed", &["-1", "x"], USAGE));
            let receive = ["receive", "--out", MISSING_DIR_FILE];
            cases.extend(common_cases(&receive, Some("--host"), "--port"));
            cases.extend(values(
                &receive,
                "--max-size",
                &["-5", "0.5K", "99999999999999999999G", "20000000000G", "K"],
                USAGE,
            ));
            cases.extend(values(&receive, "--timeout-ms", &["0", "-1"], USAGE));
            cases.extend(values(&receive, "--chunk-size", &["0", "-1"], USAGE));
            cases.extend(values(&receive, "--simulate-loss", &["2"], USAGE));
        }
        _ => cases.extend(common_cases(&[], Some("--host"), "--port")),
    }
    cases
}

/// Run every bad command line of `binary`.
fn check_binary(bins: &Bins, binary: &str) -> Outcome {
    let path = bins.path(binary);
    // First, `--help` must work: it says the binary is a real lesson.
    let help = run(&path, &[OsString::from("--help")], Duration::from_secs(5))?;
    if help.status.code() != Some(0) || !help.stdout.contains("Usage:") {
        return Err(format!(
            "`{binary} --help` gave exit {} and no usage text (has the lesson landed?)",
            help.status
        ));
    }
    let cases = cases_of(binary);
    let mut slowest = Duration::ZERO;
    let mut problems = Vec::new();
    for case in &cases {
        let shown = case
            .args
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        let done = match run(&path, &case.args, Duration::from_secs(5)) {
            Ok(done) => done,
            Err(e) => {
                problems.push(format!("[{shown}]: {e}"));
                continue;
            }
        };
        slowest = slowest.max(done.elapsed);
        let code = done.status.code();
        let lines = done.stderr.lines().count();
        let problem = if done.stderr.contains("panicked") || done.stderr.contains("backtrace") {
            Some(format!("panicked: {}", done.stderr.trim()))
        } else if !code.is_some_and(|c| case.codes.contains(&c)) {
            Some(format!(
                "exit {:?} (expected {:?}); stderr {:?}",
                code,
                case.codes,
                done.stderr.trim()
            ))
        } else if lines != 1 {
            Some(format!("{lines} lines on stderr: {:?}", done.stderr.trim()))
        } else if !done.stdout.is_empty() {
            Some(format!("wrote to stdout: {:?}", done.stdout.trim()))
        } else {
            None
        };
        if let Some(p) = problem {
            problems.push(format!("[{shown}]: {p}"));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} bad command lines, each refused with exit 2 (or 1) and one line, no panic; \
             slowest {}",
            cases.len(),
            ms(slowest)
        ))
    } else {
        Err(format!(
            "{} of {} bad command lines mishandled; {}",
            problems.len(),
            cases.len(),
            problems.join("; ")
        ))
    }
}

pub fn run_all(bins: &Bins, binaries: &[&str], report: &mut Report) {
    for binary in binaries {
        report.record(binary, "bad-command-lines", check_binary(bins, binary));
    }
}
