//! udp-broadcast `discover`: a reply datagram from anyone on the network.
//! `parse_reply` takes `HERE <name>` and nothing else, and the name it
//! returns, as `discover` prints it, holds no control character, line break
//! or invisible format character that is not escaped.
#![no_main]
#![allow(dead_code)]

use libfuzzer_sys::fuzz_target;

// The fuzz target stands in for udp-broadcast's main.rs: discover.rs reads
// these two from the crate root, and main.rs cannot be compiled in here.
/// What `discover` sends (udp-broadcast's main.rs).
const REQUEST: &str = "DISCOVER";
/// What a listener's reply starts with (udp-broadcast's main.rs).
const REPLY_PREFIX: &str = "HERE ";

#[path = "../../crates/udp-broadcast/src/discover.rs"]
mod discover;
#[path = "../../crates/udp-broadcast/src/multicast.rs"]
mod multicast;
#[path = "../../crates/udp-broadcast/src/options.rs"]
mod options;

fuzz_target!(|datagram: &[u8]| {
    let Some(name) = discover::parse_reply(datagram) else {
        return;
    };
    let mut expected = REPLY_PREFIX.as_bytes().to_vec();
    expected.extend_from_slice(name.as_bytes());
    assert_eq!(
        expected, datagram,
        "the name is all that follows the prefix"
    );
    assert!(!name.is_empty());
    assert!(options::check_name(name).is_ok());
    // What discover prints: `{name} at {from}`.
    let printed = common::escape::printable(name.as_bytes());
    if let Some(c) = printed.chars().find(|&c| dangerous(c)) {
        panic!(
            "{name:?} prints as {printed:?}, with U+{:04X} unescaped",
            u32::from(c)
        );
    }
});

/// A character that must never reach the terminal as it is: a control
/// character (a newline or a tab too: one reply is one line), or one of the
/// invisible format characters that reorder or hide text and that the
/// lessons escape (the bidi marks, U+061C, U+2028, U+2029, the zero-width
/// ones and U+FEFF).
fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}'
            | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}
