//! Bad command lines, for the `tests/cli.rs` of every lesson: given flags
//! it does not know, ports out of range, hosts that cannot be resolved,
//! sizes that are negative or absurd, files that are not there, a lesson
//! must stop with exit code 2 (a usage mistake) or 1 (a runtime failure),
//! print exactly one line on stderr, print nothing on stdout, and never
//! panic or print a backtrace. (These were the stress suite's `cli` group.)
//!
//! The hosts are chosen so that no name lookup leaves this machine: a name
//! with a space in it, or with a label longer than DNS allows (63 bytes), is
//! refused by the resolver before it sends any query.
//!
//! The lines that a lesson's own `bad_flags` test already runs are left out
//! here ([`COVERED`]): that test checks the same exit code and single line,
//! and that the message names the bad value.

use std::ffi::OsString;

use super::{Launch, WAIT};

/// One bad command line and the exit codes it may give.
pub struct Case {
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

/// Paths relative to where the tests run (the package's directory), that
/// do not exist.
const MISSING_FILE: &str = "no-such-file-for-cli-test.bin";
const MISSING_DIR_FILE: &str = "no-such-directory-for-cli-test/copy.bin";

const NEGATIVE_OR_ABSURD: &[&str] = &["-5", "0.5", "99999999999999999999999", "1e9", ""];

/// The bad command lines of each binary.
fn all_cases_of(binary: &str) -> Vec<Case> {
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
            // Each discover line starts `--to 127.0.0.1` (a later `--to`
            // wins): a line that were wrongly accepted would send to
            // loopback, never to the default 255.255.255.255.
            let discover = ["discover", "--to", "127.0.0.1"];
            cases.extend(common_cases(&discover, Some("--to"), "--port"));
            cases.extend(values(&discover, "--to", &["::1", "localhost"], USAGE));
            cases.extend(values(&discover, "--port", &["0"], USAGE));
            cases.extend(values(&discover, "--wait-ms", &["0", "-1", "60001"], USAGE));
            cases.extend(values(&discover, "--stop-after", &["-1", "1001"], USAGE));
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

/// The lines each lesson's own usage test runs already (its `bad_flags`,
/// `bad_flags_exit_2`, `bad_usage_is_one_line_and_exit_2` or
/// `bad_command_lines`), left out of [`cases_of`].
pub const COVERED: &[(&str, &[&str])] = &[
    ("udp-server", &["--bogus"]),
    ("udp-server", &["--port"]),
    ("udp-server", &["--host", "bad host name"]),
    ("udp-server", &["--buffer-size", "0"]),
    ("udp-server", &["--buffer-size", "65508"]),
    ("udp-server", &["--reply", "loud"]),
    ("udp-threaded-server", &["--bogus"]),
    ("udp-threaded-server", &["--port"]),
    ("udp-threaded-server", &["--host", "bad host name"]),
    ("udp-threaded-server", &["--buffer-size", "0"]),
    ("udp-threaded-server", &["--buffer-size", "65508"]),
    ("udp-threaded-server", &["--reply", "loud"]),
    ("udp-client", &["--timeout-ms", "0"]),
    ("udp-client", &["--retries", "-1"]),
    ("udp-client", &["--host", "bad host name"]),
    ("tcp-server", &["--bogus"]),
    ("tcp-server", &["--port"]),
    ("tcp-server", &["--host", "bad host name"]),
    ("tcp-server", &["--buffer-size", "0"]),
    ("tcp-server", &["--buffer-size", "65537"]),
    ("tcp-server", &["--backlog", "0"]),
    ("tcp-server", &["--idle-timeout-ms", "0"]),
    ("tcp-server", &["--framing", "lines"]),
    ("tcp-server", &["--reply", "loud"]),
    ("tcp-threaded-server", &["--bogus"]),
    ("tcp-threaded-server", &["--port"]),
    ("tcp-threaded-server", &["--host", "bad host name"]),
    ("tcp-threaded-server", &["--buffer-size", "0"]),
    ("tcp-threaded-server", &["--buffer-size", "65537"]),
    ("tcp-threaded-server", &["--backlog", "0"]),
    ("tcp-threaded-server", &["--idle-timeout-ms", "0"]),
    ("tcp-threaded-server", &["--framing", "lines"]),
    ("tcp-threaded-server", &["--reply", "loud"]),
    ("tcp-client", &["--timeout-ms", "0"]),
    ("tcp-client", &["--burst", "0"]),
    ("tcp-client", &["--host", "bad host name"]),
    ("udp-broadcast", &[]),
    ("udp-broadcast", &["listen", "--name", ""]),
    (
        "udp-broadcast",
        &["discover", "--to", "127.0.0.1", "--to", "::1"],
    ),
    (
        "udp-broadcast",
        &["discover", "--to", "127.0.0.1", "--port", "0"],
    ),
    (
        "udp-broadcast",
        &["discover", "--to", "127.0.0.1", "--wait-ms", "0"],
    ),
    (
        "udp-broadcast",
        &["discover", "--to", "127.0.0.1", "--stop-after", "-1"],
    ),
    (
        "udp-broadcast",
        &["discover", "--to", "127.0.0.1", "--bogus"],
    ),
    ("udp-chunked-transfer", &[]),
    ("udp-chunked-transfer", &["send"]),
    ("udp-chunked-transfer", &["receive"]),
];

/// The bad command lines of `binary` that no other test runs.
pub fn cases_of(binary: &str) -> Vec<Case> {
    let covered: Vec<&[&str]> = COVERED
        .iter()
        .filter(|(bin, _)| *bin == binary)
        .map(|(_, args)| *args)
        .collect();
    all_cases_of(binary)
        .into_iter()
        .filter(|case| !covered.iter().any(|args| case.is(args)))
        .collect()
}

impl Case {
    /// Is this the command line `args`?
    fn is(&self, args: &[&str]) -> bool {
        self.args.len() == args.len() && self.args.iter().zip(args).all(|(a, b)| a == b)
    }
}

/// What is wrong with how the program at `bin` took this line, if anything.
fn problem(bin: &str, case: &Case) -> Option<String> {
    let ran = Launch::new(bin)
        .args(&case.args)
        .env("RUST_BACKTRACE", "1")
        .no_listening()
        .try_start()
        .and_then(|lesson| lesson.collect(WAIT));
    let done = match ran {
        Ok(done) => done,
        Err(e) => return Some(e),
    };
    let code = done.status.code();
    let lines = done.stderr.lines().count();
    if done.stderr.contains("panicked") || done.stderr.contains("backtrace") {
        Some(format!("panicked: {}", done.stderr.trim()))
    } else if !code.is_some_and(|c| case.codes.contains(&c)) {
        Some(format!(
            "exit {code:?} (expected {:?}); stderr {:?}",
            case.codes,
            done.stderr.trim()
        ))
    } else if lines != 1 {
        Some(format!("{lines} lines on stderr: {:?}", done.stderr.trim()))
    } else if !done.stdout.is_empty() {
        Some(format!("wrote to stdout: {:?}", done.stdout.trim()))
    } else {
        None
    }
}

/// `--help` works (exit 0 and a `Usage:` text), and every bad command line
/// of `binary` (the lesson's name; `bin` is the path of its program) is
/// refused as the module's header says. Panics with every line mishandled.
pub fn refuses_bad_command_lines(bin: &str, binary: &str) {
    let help = Launch::new(bin)
        .args(&["--help"])
        .no_listening()
        .start()
        .collect(WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        help.status.code(),
        Some(0),
        "{binary} --help: {}",
        help.stderr
    );
    assert!(
        help.stdout.contains("Usage:"),
        "{binary} --help: {}",
        help.stdout
    );
    let cases = cases_of(binary);
    assert!(!cases.is_empty(), "no bad command lines for {binary}");
    let problems: Vec<String> = cases
        .iter()
        .filter_map(|case| problem(bin, case).map(|p| format!("{:?}: {p}", case.args)))
        .collect();
    eprintln!("{binary}: {} bad command lines checked", cases.len());
    assert!(
        problems.is_empty(),
        "{} of {} bad command lines of {binary} mishandled:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}

#[cfg(test)]
mod tests {
    /// Every line left out is one the table makes: a stale entry would
    /// hide nothing and mislead.
    #[test]
    fn covered_lines_exist() {
        for (binary, args) in super::COVERED {
            let all = super::all_cases_of(binary);
            assert!(
                all.iter().any(|case| case.is(args)),
                "{binary} {args:?} is not in the table"
            );
        }
    }
}
