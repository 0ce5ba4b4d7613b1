//! What a recorded leader's value may be: a `host:port` (normalised, so it
//! compares with members' addresses) or a member's name (Patroni records
//! `node1`). Anything else is refused with the reason, never shown raw.

use crate::model::normalize_address;
use crate::sources::redis::registry::parse_host_port;
use crate::sources::redis::value::truncate;

/// The longest name accepted (a DNS name's limit).
const MAX_NAME: usize = 253;

/// The value as the model compares it, or what is wrong with it.
pub fn recorded_value(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("the value is empty".into());
    }
    if let Some((host, port)) = parse_host_port(text) {
        return Ok(normalize_address(host, port));
    }
    let name_like = text.chars().count() <= MAX_NAME
        && text
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"');
    if name_like {
        return Ok(text.to_string());
    }
    let shown = crate::escape::escape(&truncate(text, 60)).into_owned();
    Err(format!(
        "value \"{shown}\" is neither host:port nor a member's name"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_normalised_and_names_kept() {
        assert_eq!(
            recorded_value("LOCALHOST:7000\n"),
            Ok("127.0.0.1:7000".into())
        );
        assert_eq!(recorded_value("node1"), Ok("node1".into()));
        assert_eq!(
            recorded_value("zero-0.zero:5080"),
            Ok("zero-0.zero:5080".into())
        );
    }

    #[test]
    fn garbage_says_what_is_wrong_without_echoing_control_characters() {
        assert_eq!(recorded_value("  "), Err("the value is empty".into()));
        let e = recorded_value("not an address").unwrap_err();
        assert!(e.contains("not an address"), "{e}");
        let e = recorded_value("a\u{1b}[2J b").unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
        let e = recorded_value(&"x y".repeat(300)).unwrap_err();
        assert!(e.len() < 140, "{e}");
    }

    proptest! {
        #[test]
        fn never_panics_and_never_returns_control_characters(text in "\\PC*|.*") {
            if let Ok(v) = recorded_value(&text) {
                prop_assert!(!v.chars().any(char::is_control));
            }
        }
    }
}
