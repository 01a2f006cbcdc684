//! A small command-line parser, so the lessons need no argument crate.
//!
//! A lesson describes its flags once, in a [`Spec`]; the same table drives
//! `--help` and the parser. Every mistake (an unknown flag, a missing or bad
//! value) ends the program with exit code 2 and one line on stderr that names
//! the bad value, for example:
//!
//! ```text
//! udp-server: invalid value 'abc' for --port: expected a port number from 0 to 65535 (see --help)
//! ```
//!
//! Flags are written `--name VALUE` or `--name=VALUE`; when a flag is given
//! twice the last one wins.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::{Display, Write as _};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::Path;
use std::process;
use std::str::FromStr;
use std::time::Duration;

use crate::net;

/// One `--flag` of a program.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The name without the dashes: `"port"` for `--port`.
    pub name: &'static str,
    /// What the value looks like in `--help` (`"PORT"`), or `None` for a
    /// switch that takes no value.
    pub value: Option<&'static str>,
    /// The value used when the flag is absent, shown in `--help`.
    pub default: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
}

impl Flag {
    /// A flag that takes a value and has a default.
    pub const fn with_default(
        name: &'static str,
        value: &'static str,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag {
            name,
            value: Some(value),
            default: Some(default),
            help,
        }
    }

    /// A flag that takes a value and may be left out.
    pub const fn optional(name: &'static str, value: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            value: Some(value),
            default: None,
            help,
        }
    }

    /// A switch: present or not.
    pub const fn switch(name: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            value: None,
            default: None,
            help,
        }
    }
}

/// Everything `--help` shows and the parser accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The program (or subcommand) name, as the user types it.
    pub name: &'static str,
    /// One or two sentences: what it does.
    pub about: &'static str,
    /// Positional arguments, as shown after the name in `Usage:`. For
    /// example `&["FILE"]`. They are all required.
    pub positionals: &'static [&'static str],
    pub flags: &'static [Flag],
    /// Whole command lines a student can copy.
    pub examples: &'static [&'static str],
}

impl Spec {
    /// The text `--help` prints.
    pub fn help(&self) -> String {
        self.help_as(self.name)
    }

    /// The help text, with the command shown as `shown` (for a subcommand:
    /// `udp-broadcast discover` rather than `discover`).
    fn help_as(&self, shown: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{shown} - {}\n", self.about);
        let _ = write!(out, "Usage: {shown} [OPTIONS]");
        for p in self.positionals {
            let _ = write!(out, " {p}");
        }
        out.push_str("\n\nOptions:\n");
        let left = |f: &Flag| match f.value {
            Some(v) => format!("--{} {v}", f.name),
            None => format!("--{}", f.name),
        };
        let width = self
            .flags
            .iter()
            .map(|f| left(f).len())
            .max()
            .unwrap_or(0)
            .max(10);
        for f in self.flags {
            let _ = write!(out, "  {:width$}  {}", left(f), f.help);
            if let Some(d) = f.default {
                let _ = write!(out, " [default: {d}]");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "  {:width$}  print this help and exit", "-h, --help");
        if !self.examples.is_empty() {
            out.push_str("\nExamples:\n");
            for e in self.examples {
                let _ = writeln!(out, "  {e}");
            }
        }
        out.push_str("\nLogging: RUST_LOG=debug shows more, RUST_LOG=warn less.\n");
        out
    }

    /// Parse the process arguments. Prints help and exits 0 on `--help`;
    /// prints one line and exits 2 on a usage error.
    pub fn parse(&'static self) -> Matches {
        self.parse_from(std::env::args_os().skip(1))
    }

    /// Like [`Spec::parse`], for arguments that do not come from the process
    /// (after a subcommand, say).
    pub fn parse_from(&'static self, args: impl IntoIterator<Item = OsString>) -> Matches {
        self.parse_shown_as(self.name, args)
    }

    fn parse_shown_as(
        &'static self,
        shown: &str,
        args: impl IntoIterator<Item = OsString>,
    ) -> Matches {
        match self.try_parse(args) {
            Ok(Some(m)) => m,
            Ok(None) => {
                // Not print!: that panics if stdout is a closed pipe.
                let _ = io::stdout().write_all(self.help_as(shown).as_bytes());
                process::exit(0);
            }
            Err(message) => usage_error(&message),
        }
    }

    /// The parser itself: `Ok(None)` means help was asked for.
    pub fn try_parse(
        &'static self,
        args: impl IntoIterator<Item = OsString>,
    ) -> Result<Option<Matches>, String> {
        let mut values = HashMap::new();
        let mut positionals = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg
                .into_string()
                .map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
            if arg == "-h" || arg == "--help" {
                return Ok(None);
            }
            let Some(body) = arg.strip_prefix("--") else {
                if arg.starts_with('-') && arg.len() > 1 {
                    return Err(format!("unknown flag '{arg}'"));
                }
                positionals.push(arg);
                continue;
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let flag = self
                .flags
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| format!("unknown flag '--{name}'"))?;
            let value = match (flag.value, inline) {
                (None, None) => String::new(),
                (None, Some(_)) => return Err(format!("--{name} takes no value")),
                (Some(_), Some(v)) => v,
                (Some(shape), None) => args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("--{name} needs a value ({shape})"))?,
            };
            values.insert(flag.name, value);
        }
        if positionals.len() > self.positionals.len() {
            return Err(format!(
                "unexpected argument '{}'",
                positionals[self.positionals.len()]
            ));
        }
        if let Some(missing) = self.positionals.get(positionals.len()) {
            return Err(format!("missing argument {missing}"));
        }
        Ok(Some(Matches {
            spec: self,
            values,
            positionals,
        }))
    }
}

/// The parsed arguments. The getters exit with code 2 on a bad value, so a
/// lesson can read its options in one line each.
#[derive(Debug)]
pub struct Matches {
    spec: &'static Spec,
    values: HashMap<&'static str, String>,
    positionals: Vec<String>,
}

impl Matches {
    fn raw(&self, name: &str) -> Option<&str> {
        let flag = self.spec.flags.iter().find(|f| f.name == name);
        debug_assert!(
            flag.is_some(),
            "--{name} is not in the spec of {}",
            self.spec.name
        );
        self.values
            .get(name)
            .map(String::as_str)
            .or(flag.and_then(|f| f.default))
    }

    /// The value of `--name` (or its default), parsed as `T`. Exits 2 when
    /// it does not parse, or when there is neither a value nor a default.
    pub fn get<T: FromStr>(&self, name: &str) -> T
    where
        T::Err: Display,
    {
        match self.opt(name) {
            Some(v) => v,
            None => usage_error(&format!("missing --{name}")),
        }
    }

    /// Like [`Matches::get`], but `None` when the flag is absent and has no
    /// default.
    pub fn opt<T: FromStr>(&self, name: &str) -> Option<T>
    where
        T::Err: Display,
    {
        let raw = self.raw(name)?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(e) => usage_error(&format!("invalid value '{raw}' for --{name}: {e}")),
        }
    }

    /// [`Matches::get`] plus a range check, so `--buffer-size 0` and
    /// `--buffer-size -5` are refused with the range in the message.
    pub fn get_in<T>(&self, name: &str, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + Display,
    {
        let raw = self.raw(name).unwrap_or_default().to_string();
        let expected = || {
            format!(
                "invalid value '{raw}' for --{name}: expected a number from {} to {}",
                range.start(),
                range.end()
            )
        };
        match raw.parse::<T>() {
            Ok(v) if range.contains(&v) => v,
            _ => usage_error(&expected()),
        }
    }

    /// `--name MILLISECONDS` as a [`Duration`], at most `max_ms`.
    pub fn millis(&self, name: &str, max_ms: u64) -> Duration {
        Duration::from_millis(self.get_in(name, 0..=max_ms))
    }

    /// Whether a switch was given.
    pub fn switch(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A port number, with a message that says what a port is.
    pub fn port(&self, name: &str) -> u16 {
        let raw = self.raw(name).unwrap_or_default();
        raw.parse().unwrap_or_else(|_| {
            usage_error(&format!(
                "invalid value '{raw}' for --{name}: expected a port number from 0 to 65535"
            ))
        })
    }

    /// `--host` and `--port` together, resolved to one socket address.
    /// Names like `localhost` are looked up; an address that cannot be
    /// resolved is a usage error.
    pub fn socket_addr(&self) -> SocketAddr {
        let port = self.port("port");
        let host = self.raw("host").unwrap_or_default();
        net::resolve(host, port).unwrap_or_else(|e| usage_error(&format!("--host '{host}': {e}")))
    }

    /// `--ipv6-only` of a server that binds `addr`: the value for
    /// IPV6_V6ONLY. Off by default, so that `--host ::` means the same on
    /// every OS: IPv6 and IPv4 clients alike (Linux and macOS default to
    /// that, Windows to IPv6 only). The switch with an IPv4 address is a
    /// usage error: it would mean nothing.
    pub fn ipv6_only(&self, addr: SocketAddr) -> bool {
        let asked = self.switch("ipv6-only");
        if asked && addr.is_ipv4() {
            usage_error(&format!(
                "--ipv6-only needs an IPv6 --host such as :: or ::1, not {}",
                addr.ip()
            ));
        }
        asked
    }

    /// `--host` and `--port` of a *client*: the server to reach. Port 0 is
    /// refused (a server can bind port 0, but nothing can be sent to it), and
    /// an unspecified host such as `0.0.0.0` means this machine (see
    /// [`net::destination`]).
    pub fn server_addr(&self) -> SocketAddr {
        let addr = self.socket_addr();
        if addr.port() == 0 {
            usage_error("invalid value '0' for --port: a client needs the server's real port (the one it printed)");
        }
        net::destination(addr)
    }

    /// The positional arguments, in order.
    pub fn positionals(&self) -> &[String] {
        &self.positionals
    }
}

/// Print `NAME: MESSAGE (see --help)` on stderr and exit with code 2.
pub fn usage_error(message: &str) -> ! {
    eprintln!("{}", usage_line(message));
    process::exit(2)
}

/// The line [`usage_error`] prints: `NAME: MESSAGE (see --help)`. The
/// message quotes what the user typed, so control characters (a newline
/// too: it is one line) and bidi marks in it come out escaped.
pub fn usage_line(message: &str) -> String {
    let line = format!("{}: {message} (see --help)", program_name());
    net::printable(line.as_bytes())
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

/// A program made of subcommands (`udp-broadcast listen`, `... discover`):
/// picks the subcommand from the first argument and parses the rest with its
/// [`Spec`]. `--help` before a subcommand lists them.
pub fn parse_subcommand(
    name: &str,
    about: &str,
    subcommands: &[&'static Spec],
) -> (&'static Spec, Matches) {
    let mut args = std::env::args_os().skip(1);
    let first = args.next().and_then(|a| a.into_string().ok());
    let list = || {
        let mut text =
            format!("{name} - {about}\n\nUsage: {name} COMMAND [OPTIONS]\n\nCommands:\n");
        for s in subcommands {
            let _ = writeln!(text, "  {:10}  {}", s.name, s.about);
        }
        let _ = writeln!(
            text,
            "\nRun '{name} COMMAND --help' for the flags of a command."
        );
        text
    };
    match first.as_deref() {
        None => usage_error(&format!("missing COMMAND (one of {})", names(subcommands))),
        Some("-h" | "--help") => {
            let _ = io::stdout().write_all(list().as_bytes());
            process::exit(0)
        }
        Some(word) => match subcommands.iter().find(|s| s.name == word) {
            Some(spec) => (spec, spec.parse_shown_as(&format!("{name} {word}"), args)),
            None => usage_error(&format!(
                "unknown command '{word}': expected one of {}",
                names(subcommands)
            )),
        },
    }
}

fn names(subcommands: &[&Spec]) -> String {
    subcommands
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name this program was started as, without its directory.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lesson".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzz/fuzz_targets/flags.rs: `fuzzed $'\x04' $'\x04'` echoed
    /// the control character into the error line as it was.
    #[test]
    fn usage_line_is_one_printable_line() {
        let line = usage_line("unexpected argument '\u{4}\n\t\u{1b}[2J\u{202e}'");
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(
            line.contains(r"'\u{4}\n\t\u{1b}[2J\u{202e}' (see --help)"),
            "{line}"
        );
    }

    static SPEC: Spec = Spec {
        name: "demo",
        about: "a test",
        positionals: &[],
        flags: &[
            Flag::with_default("port", "PORT", "6532", "the port"),
            Flag::switch("verbose", "talk more"),
        ],
        examples: &["demo --port 0"],
    };

    fn parse(args: &[&str]) -> Result<Option<Matches>, String> {
        SPEC.try_parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_values_and_switches() {
        let m = parse(&[]).unwrap().unwrap();
        assert_eq!(m.port("port"), 6532);
        assert!(!m.switch("verbose"));
        let m = parse(&["--port", "0", "--verbose"]).unwrap().unwrap();
        assert_eq!(m.port("port"), 0);
        assert!(m.switch("verbose"));
        let m = parse(&["--port=7"]).unwrap().unwrap();
        assert_eq!(m.port("port"), 7);
    }

    #[test]
    fn mistakes_name_the_bad_part() {
        assert_eq!(parse(&["--nope"]).unwrap_err(), "unknown flag '--nope'");
        assert_eq!(
            parse(&["--port"]).unwrap_err(),
            "--port needs a value (PORT)"
        );
        assert_eq!(
            parse(&["--verbose=1"]).unwrap_err(),
            "--verbose takes no value"
        );
        assert_eq!(
            parse(&["extra"]).unwrap_err(),
            "unexpected argument 'extra'"
        );
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn help_lists_flags_defaults_and_examples() {
        let help = SPEC.help();
        assert!(help.contains("--port PORT"));
        assert!(help.contains("[default: 6532]"));
        assert!(help.contains("demo --port 0"));
    }
}
