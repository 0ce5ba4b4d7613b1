//! Text from a cluster made safe for a person's terminal: control characters
//! (and the invisible bidi controls that reorder what is shown) become
//! visible escapes, so a master name carrying `ESC ] 52` cannot write the
//! operator's clipboard or clear the screen, and the operator sees that
//! something odd is there instead of nothing.
//!
//! Applied where text reaches a person (the `snapshot -o table` output, the
//! console's panes and dialogs, stderr), never where data comes in: JSON and
//! YAML keep the real bytes, escaped by their serialisers.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character shown as an escape (`\e`, `\n`,
/// `\x07`, `\u{202e}`); borrowed when there is none, which is nearly always.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        let _ = match c {
            '\x1b' => out.write_str("\\e"),
            '\n' => out.write_str("\\n"),
            '\r' => out.write_str("\\r"),
            '\t' => out.write_str("\\t"),
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// C0, DEL and C1 controls, and the Unicode bidi controls (which reorder the
/// characters around them without showing themselves).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape("mymaster 10.0.0.1:6379 ★"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn terminal_sequences_become_visible() {
        assert_eq!(
            escape("a\x1b]52;c;aGk=\x07b\x1b[2J"),
            "a\\e]52;c;aGk=\\x07b\\e[2J"
        );
        assert_eq!(escape("x\ny\r\t\u{7f}\u{9b}"), "x\\ny\\r\\t\\x7f\\x9b");
        assert_eq!(escape("ab\u{202e}cd"), "ab\\u{202e}cd");
    }
}
