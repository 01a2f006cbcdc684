//! `common::cli`, the flag parser of every lesson: any command line, UTF-8
//! or not, is parsed without a panic, and a refusal is one line as the user
//! sees it, naming what was wrong.
//!
//! Input: the arguments, separated by NUL bytes (which no argument of a
//! real command line can hold).
#![no_main]

use std::ffi::OsString;

use common::cli::{Flag, Spec};
use libfuzzer_sys::fuzz_target;

const PORT: Flag<u16> = Flag::with_default("port", "PORT", 0, "the port");
const HOST: Flag<&str> = Flag::with_default("host", "HOST", "127.0.0.1", "the address");
const NAME: Flag<String> = Flag::optional("name", "NAME", "a name");
const IPV6_ONLY: Flag<bool> = Flag::switch("ipv6-only", "a switch");

/// A spec with every kind of flag a lesson has: values with and without a
/// default, a switch, and a positional argument.
static SPEC: Spec = Spec {
    name: "fuzzed",
    about: "Takes every kind of flag.",
    positionals: &["FILE"],
    flags: &[&PORT, &HOST, &NAME, &IPV6_ONLY],
    examples: &["fuzzed --port 0 FILE"],
};

fuzz_target!(|input: &[u8]| {
    let args: Vec<OsString> = if input.is_empty() {
        Vec::new()
    } else {
        input.split(|&b| b == 0).map(os_string).collect()
    };
    match SPEC.try_parse(args.clone()) {
        Ok(Some(matches)) => {
            assert_eq!(matches.positionals().len(), SPEC.positionals.len());
        }
        // --help or -h was among the arguments.
        Ok(None) => assert!(args.iter().any(|a| a == "--help" || a == "-h")),
        Err(message) => {
            assert!(!message.is_empty());
            let line = common::cli::usage_line(&message);
            if let Some(c) = line.chars().find(|c| c.is_control()) {
                panic!(
                    "the error {line:?} holds U+{:04X}: not one line",
                    u32::from(c)
                );
            }
            assert!(line.ends_with("(see --help)"), "{line:?}");
        }
    }
});

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    String::from_utf8_lossy(bytes).into_owned().into()
}
