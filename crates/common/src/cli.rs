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
use std::ops::RangeInclusive;
use std::path::Path;
use std::process;
use std::str::FromStr;
use std::time::Duration;

use crate::escape;

/// One `--flag` of a program, with the type of its value: a `Flag<u16>`
/// is read as a `u16`, a `Flag<bool>` is a switch. The default is a typed
/// constant, and `--help` prints it; the getters of [`Matches`] take the
/// `Flag` itself, so a misspelled flag name cannot compile.
#[derive(Debug, Clone, Copy)]
pub struct Flag<T: 'static> {
    /// The name without the dashes: `"port"` for `--port`.
    pub name: &'static str,
    /// What the value looks like in `--help` (`"PORT"`), or `None` for a
    /// switch that takes no value.
    pub value: Option<&'static str>,
    /// The value used when the flag is absent, shown in `--help`.
    pub default: Option<T>,
    /// One line of help.
    pub help: &'static str,
}

impl<T> Flag<T> {
    /// A flag that takes a value and has a default.
    pub const fn with_default(
        name: &'static str,
        value: &'static str,
        default: T,
        help: &'static str,
    ) -> Flag<T> {
        Flag {
            name,
            value: Some(value),
            default: Some(default),
            help,
        }
    }

    /// A flag that takes a value and may be left out.
    pub const fn optional(name: &'static str, value: &'static str, help: &'static str) -> Flag<T> {
        Flag {
            name,
            value: Some(value),
            default: None,
            help,
        }
    }
}

impl Flag<bool> {
    /// A switch: present or not (read with [`Matches::switch`]).
    pub const fn switch(name: &'static str, help: &'static str) -> Flag<bool> {
        Flag {
            name,
            value: None,
            default: None,
            help,
        }
    }
}

/// What `--help` and the parser need of a [`Flag`], whatever its type: the
/// rows of a [`Spec`]'s table.
pub trait Row: Sync + std::fmt::Debug {
    // The fields of `Flag`, and its default as `--help` prints it.
    fn name(&self) -> &'static str;
    fn value(&self) -> Option<&'static str>;
    fn help(&self) -> &'static str;
    fn default_text(&self) -> Option<String>;
}

impl<T: Display + std::fmt::Debug + Sync> Row for Flag<T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn value(&self) -> Option<&'static str> {
        self.value
    }

    fn help(&self) -> &'static str {
        self.help
    }

    fn default_text(&self) -> Option<String> {
        self.default.as_ref().map(ToString::to_string)
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
    pub flags: &'static [&'static dyn Row],
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
        let left = |f: &&dyn Row| match f.value() {
            Some(v) => format!("--{} {v}", f.name()),
            None => format!("--{}", f.name()),
        };
        let width = self
            .flags
            .iter()
            .map(|f| left(f).len())
            .max()
            .unwrap_or(0)
            .max(10);
        for f in self.flags {
            let _ = write!(out, "  {:width$}  {}", left(f), f.help());
            if let Some(d) = f.default_text() {
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
                .find(|f| f.name() == name)
                .ok_or_else(|| format!("unknown flag '--{name}'"))?;
            let value = match (flag.value(), inline) {
                (None, None) => "true".to_string(),
                (None, Some(_)) => return Err(format!("--{name} takes no value")),
                (Some(_), Some(v)) => v,
                (Some(shape), None) => args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("--{name} needs a value ({shape})"))?,
            };
            values.insert(flag.name(), value);
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
/// lesson can read its options in one line each. They take the [`Flag`], so
/// a flag's name, misspelled or not, does not compile:
///
/// ```compile_fail
/// # use common::cli::{Flag, Spec};
/// # const PORT: Flag<u16> = Flag::with_default("port", "PORT", 6532, "the port");
/// # static SPEC: Spec = Spec { name: "demo", about: "a demo", positionals: &[], flags: &[&PORT], examples: &[] };
/// let m = SPEC.try_parse(["--port=7".into()]).unwrap().unwrap();
/// assert_eq!(m.port("prot"), 7); // m.port(&PORT) is the way
/// ```
#[derive(Debug)]
pub struct Matches {
    spec: &'static Spec,
    values: HashMap<&'static str, String>,
    positionals: Vec<String>,
}

impl Matches {
    /// Whether the flag is on the command line (a default does not count).
    pub fn given<T>(&self, flag: &Flag<T>) -> bool {
        self.raw(flag).is_some()
    }

    /// The value given on the command line, if any. A flag that is not in
    /// this program's table is a bug in the program, caught by its tests.
    fn raw<T>(&self, flag: &Flag<T>) -> Option<&str> {
        debug_assert!(
            self.spec.flags.iter().any(|f| f.name() == flag.name),
            "--{} is not in the spec of {}",
            flag.name,
            self.spec.name
        );
        self.values.get(flag.name).map(String::as_str)
    }

    /// The value of the flag (or its default). Exits 2 when it does not
    /// parse, or when there is neither a value nor a default.
    pub fn get<T: FromStr + Clone>(&self, flag: &Flag<T>) -> T
    where
        T::Err: Display,
    {
        match self.opt(flag) {
            Some(v) => v,
            None => usage_error(&format!("missing --{}", flag.name)),
        }
    }

    /// Like [`Matches::get`], but `None` when the flag is absent and has no
    /// default.
    pub fn opt<T: FromStr + Clone>(&self, flag: &Flag<T>) -> Option<T>
    where
        T::Err: Display,
    {
        let Some(raw) = self.raw(flag) else {
            return flag.default.clone();
        };
        match raw.parse() {
            Ok(v) => Some(v),
            Err(e) => usage_error(&format!("invalid value '{raw}' for --{}: {e}", flag.name)),
        }
    }

    /// [`Matches::get`] plus a range check, so `--buffer-size 0` and
    /// `--buffer-size -5` are refused with the range in the message.
    pub fn get_in<T>(&self, flag: &Flag<T>, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + Display + Clone,
    {
        let raw = match (self.raw(flag), &flag.default) {
            (Some(raw), _) => raw.to_string(),
            (None, Some(default)) => default.to_string(),
            (None, None) => usage_error(&format!("missing --{}", flag.name)),
        };
        match raw.parse::<T>() {
            Ok(v) if range.contains(&v) => v,
            _ => usage_error(&format!(
                "invalid value '{raw}' for --{}: expected a number from {} to {}",
                flag.name,
                range.start(),
                range.end()
            )),
        }
    }

    /// `--name MILLISECONDS` as a [`Duration`], at most `max_ms`.
    pub fn millis(&self, flag: &Flag<u64>, max_ms: u64) -> Duration {
        Duration::from_millis(self.get_in(flag, 0..=max_ms))
    }

    /// Whether a switch was given.
    pub fn switch(&self, flag: &Flag<bool>) -> bool {
        self.given(flag)
    }

    /// The text of a flag as given, or its default as `--help` shows it: for
    /// a value taken as it is (`--host`) or checked with a message of its own.
    pub fn text<T: Display>(&self, flag: &Flag<T>) -> String {
        match (self.raw(flag), &flag.default) {
            (Some(raw), _) => raw.to_string(),
            (None, Some(default)) => default.to_string(),
            (None, None) => String::new(),
        }
    }

    /// [`Matches::text`] parsed as `U`: for a flag declared as text whose
    /// value has a type that cannot print itself for `--help`.
    pub fn parse<U: FromStr>(&self, flag: &Flag<impl Display>) -> U
    where
        U::Err: Display,
    {
        let raw = self.text(flag);
        raw.parse().unwrap_or_else(|e| {
            usage_error(&format!("invalid value '{raw}' for --{}: {e}", flag.name))
        })
    }

    /// A port number, with a message that says what a port is.
    pub fn port(&self, flag: &Flag<u16>) -> u16 {
        let Some(raw) = self.raw(flag) else {
            return flag.default.unwrap_or_default();
        };
        raw.parse().unwrap_or_else(|_| {
            usage_error(&format!(
                "invalid value '{raw}' for --{}: expected a port number from 0 to 65535",
                flag.name
            ))
        })
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

/// The line [`usage_error`] prints. The message quotes what the user typed,
/// so it goes through [`escape::one_line`]: one line, nothing that drives a
/// terminal.
pub fn usage_line(message: &str) -> String {
    escape::one_line(format!("{}: {message} (see --help)", program_name()).as_bytes())
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

    const PORT: Flag<u16> = Flag::with_default("port", "PORT", 6532, "the port");
    const VERBOSE: Flag<bool> = Flag::switch("verbose", "talk more");
    const SIZE: Flag<u32> = Flag::with_default("size", "N", 10, "how many");
    const NAME: Flag<String> = Flag::optional("name", "TEXT", "who");

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
        flags: &[&PORT, &VERBOSE, &SIZE, &NAME],
        examples: &["demo --port 0"],
    };

    fn parse(args: &[&str]) -> Result<Option<Matches>, String> {
        SPEC.try_parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_values_and_switches() {
        let m = parse(&[]).unwrap().unwrap();
        assert_eq!(m.port(&PORT), 6532);
        assert!(!m.switch(&VERBOSE));
        assert_eq!(m.get_in(&SIZE, 1..=10), 10);
        assert_eq!(m.opt(&NAME), None);
        let m = parse(&["--port", "0", "--verbose", "--size=3", "--name", "x"])
            .unwrap()
            .unwrap();
        assert_eq!(m.port(&PORT), 0);
        assert!(m.switch(&VERBOSE));
        assert_eq!(m.get::<u32>(&SIZE), 3);
        assert_eq!(m.get(&NAME), "x");
        let m = parse(&["--port=7"]).unwrap().unwrap();
        assert_eq!(m.port(&PORT), 7);
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
        assert!(help.contains("--size N     how many [default: 10]"));
        assert!(help.contains("--verbose    talk more\n"));
        assert!(help.contains("--name TEXT  who\n"));
        assert!(help.contains("demo --port 0"));
    }
}
