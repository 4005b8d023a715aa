//! Text from an image made safe to print in a terminal.
//!
//! File names, history commands, labels, tags and the messages that quote them come from
//! whoever built the image. Printed raw, a name holding `ESC ] 0 ; ... BEL` retitles the
//! user's terminal, `ESC [ 2 J` clears it, a carriage return overwrites the line before it
//! and U+202E (right-to-left override) makes `exe.txt` read as `txt.exe`. [`escape`] writes
//! every such character as a visible escape instead, the way Rust's `{:?}` does for strings:
//! `\n`, `\r`, `\t`, `\x1b`, `\u{202e}`. JSON output keeps the exact text (JSON escapes
//! control characters itself); only what goes to a terminal is escaped.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control, C1 and bidirectional-formatting character written as an
/// escape; borrowed unchanged when there is none (the usual case).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Characters a terminal acts on or that reorder what is shown: C0 controls and DEL, C1
/// controls (some terminals read U+009B as CSI), and the Unicode bidirectional embeddings,
/// overrides, isolates and marks, plus the line and paragraph separators.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{061c}'
    )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "/bin/sh -c apt-get install -y curl … ünïcode";
        assert!(matches!(escape(text), std::borrow::Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn terminal_controls_are_written_as_escapes() {
        assert_eq!(escape("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape("\u{1b}]0;owned\u{7}x"), "\\x1b]0;owned\\x07x");
        assert_eq!(escape("\u{1b}[2J"), "\\x1b[2J");
        assert_eq!(escape("nul\0"), "nul\\x00");
        assert_eq!(escape("del\u{7f}"), "del\\x7f");
        // C1 CSI, and the right-to-left override.
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("exe\u{202e}txt.sh"), "exe\\u{202e}txt.sh");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn nothing_escaped_is_left_raw() {
        let hostile: String = (0u32..0x300)
            .chain(0x2000..0x2070)
            .filter_map(char::from_u32)
            .collect();
        let shown = escape(&hostile);
        assert!(!shown
            .chars()
            .any(|c| (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32))));
        assert!(!shown.contains('\u{202e}') && !shown.contains('\u{2066}'));
    }
}
