//! The one rule for printing text that came from a peer.
//!
//! A datagram, a TCP line or a name in a reply is untrusted: printed as it
//! is, it could move our cursor or retitle the window (control characters,
//! escape sequences), or make one text look like another (bidirectional
//! marks, zero-width characters, line separators). Every place that prints
//! peer-supplied text goes through this module:
//!
//! - [`printable`] for output that may span lines (a reply printed by a
//!   client): newlines and tabs stay, everything else [`needs_escape`] says
//!   is written as `\u{…}`;
//! - [`one_line`] for text inside one log or error line: newlines and tabs
//!   are escaped too, as `\n` and `\t`, so a peer cannot forge a line;
//! - [`preview`] for a log: [`one_line`], quoted, cut to 60 characters.
//!
//! Invalid UTF-8 becomes U+FFFD in all three.

/// The characters, other than control characters, that are invisible, can
/// break a line, or can reorder the text around them on screen: the Arabic
/// letter mark (U+061C), the zero-width characters and the left-to-right and
/// right-to-left marks (U+200B–U+200F), the line and paragraph separators
/// (U+2028, U+2029), the bidirectional embeddings and overrides
/// (U+202A–U+202E), the word joiner, its kin and the bidirectional isolates
/// (U+2060–U+2069), and the byte-order mark (U+FEFF).
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// `true` for every character the rule escapes: control characters (C0,
/// DEL and C1) and [`is_invisible_format`]. Newline and tab are control
/// characters too; [`printable`] is the one place that lets them through.
pub fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Peer bytes made safe to print as they are meant to be read: plain text,
/// newlines and tabs come out unchanged, and every other character that
/// [`needs_escape`] is written as `\u{…}`.
pub fn printable(bytes: &[u8]) -> String {
    escape(bytes, |c| c == '\n' || c == '\t')
}

/// Peer bytes made safe to print inside one line: like [`printable`], but a
/// newline becomes `\n` and a tab `\t`, so the text cannot start a line of
/// its own.
pub fn one_line(bytes: &[u8]) -> String {
    escape(bytes, |_| false)
}

/// A short view of a message for the log: [`one_line`], in quotes, and cut
/// to its first 60 characters with its length in bytes after it.
pub fn preview(text: &str) -> String {
    const SHOWN: usize = 60;
    match text.char_indices().nth(SHOWN) {
        None => format!("\"{}\"", one_line(text.as_bytes())),
        Some((cut, _)) => format!(
            "\"{}\"… ({} bytes)",
            one_line(&text.as_bytes()[..cut]),
            text.len()
        ),
    }
}

fn escape(bytes: &[u8], kept: impl Fn(char) -> bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    let escaped = |c: char| needs_escape(c) && !kept(c);
    if !text.chars().any(escaped) {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            _ if !escaped(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            _ => out.extend(c.escape_unicode()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(printable(b"Echo: hi\n\tthere"), "Echo: hi\n\tthere");
        assert_eq!(
            printable("caf\u{e9} \u{4e2d}\u{6587}".as_bytes()),
            "caf\u{e9} \u{4e2d}\u{6587}"
        );
        assert_eq!(one_line(b"too big"), "too big");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable(b"\x1b]0;pwned\x07"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(printable(b"a\rb\x00c\x7f"), "a\\u{d}b\\u{0}c\\u{7f}");
        assert_eq!(printable("\u{85}\u{9b}".as_bytes()), "\\u{85}\\u{9b}");
        assert_eq!(one_line(b"too big\n\x1b[2J"), "too big\\n\\u{1b}[2J");
        assert_eq!(one_line(b"a\tb"), "a\\tb");
    }

    #[test]
    fn bidi_marks_and_separators_are_escaped() {
        for c in ('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200e}', '\u{200f}', '\u{061c}', '\u{2028}', '\u{2029}'])
        {
            let text = format!("a{c}b");
            let want = format!("a\\u{{{:x}}}b", u32::from(c));
            assert_eq!(printable(text.as_bytes()), want);
            assert_eq!(one_line(text.as_bytes()), want);
            assert!(needs_escape(c) && is_invisible_format(c));
        }
        assert!(!is_invisible_format('a') && !is_invisible_format('\u{e9}'));
    }

    #[test]
    fn invalid_utf8_becomes_the_replacement_character() {
        assert_eq!(printable(&[0xff, b'x']), "\u{fffd}x");
        assert_eq!(one_line(&[b'x', 0xc3]), "x\u{fffd}");
    }

    /// Nothing the rule lets through is a control or format character,
    /// whatever bytes come in.
    #[test]
    fn no_unescaped_character_survives() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let text = c.to_string();
            let out = one_line(text.as_bytes());
            assert!(
                out.chars().all(|o| !needs_escape(o)),
                "U+{:04X}",
                u32::from(c)
            );
            assert_eq!(out != text, needs_escape(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn preview_escapes_and_cuts() {
        assert_eq!(preview("hi\n"), "\"hi\\n\"");
        assert_eq!(preview("a\u{202e}b"), "\"a\\u{202e}b\"");
        let long = "x".repeat(100);
        assert!(preview(&long).ends_with("\"… (100 bytes)"));
    }
}
