//! Tolerant readers over [`redis::Value`]: the same reply arrives as RESP2
//! bulk strings and flat arrays, or as RESP3 maps, verbatim strings and
//! doubles, depending on the protocol a connection speaks. The parsers use
//! these so they never care which one they got.

use redis::Value;

/// The value as text, when it is a scalar (a number becomes its digits).
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Okay => Some("OK".to_string()),
        Value::Attribute { data, .. } => text(data),
        _ => None,
    }
}

/// The value as a signed integer, from an integer or its digits.
pub fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Attribute { data, .. } => integer(data),
        other => text(other).and_then(|t| t.trim().parse().ok()),
    }
}

/// The elements of an array-like value (array, set, push).
pub fn items(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) | Value::Set(items) => Some(items),
        Value::Push { data, .. } => Some(data),
        Value::Attribute { data, .. } => items(data),
        _ => None,
    }
}

/// Field/value pairs from a RESP3 map or a RESP2 flat array of even length.
/// Values that are not scalars (nested arrays) are skipped rather than refused:
/// newer servers may add structured fields the console does not need.
pub fn pairs(value: &Value) -> Option<Vec<(String, String)>> {
    match value {
        Value::Map(entries) => Some(
            entries
                .iter()
                .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                .collect(),
        ),
        Value::Attribute { data, .. } => pairs(data),
        other => {
            let items = items(other)?;
            if items.len() % 2 != 0 {
                return None;
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            for chunk in items.chunks(2) {
                let key = text(&chunk[0])?;
                if let Some(v) = text(&chunk[1]) {
                    out.push((key, v));
                }
            }
            Some(out)
        }
    }
}

/// A short description of a value's shape, for error messages.
pub fn describe(value: &Value) -> String {
    let shown = match value {
        Value::Nil => "nil".to_string(),
        Value::ServerError(e) => format!("error {e}"),
        Value::Array(v) | Value::Set(v) => format!("array of {}", v.len()),
        Value::Map(v) => format!("map of {}", v.len()),
        other => match text(other) {
            Some(t) => format!("{t:?}"),
            None => "unsupported value".to_string(),
        },
    };
    truncate(&shown, 80)
}

/// At most `max` characters, marked with `...` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_read_alike() {
        let flat = Value::Array(vec![
            Value::BulkString(b"name".to_vec()),
            Value::BulkString(b"mymaster".to_vec()),
            Value::BulkString(b"port".to_vec()),
            Value::Int(6379),
        ]);
        let map = Value::Map(vec![
            (
                Value::SimpleString("name".into()),
                Value::VerbatimString {
                    format: redis::VerbatimFormat::Text,
                    text: "mymaster".into(),
                },
            ),
            (Value::SimpleString("port".into()), Value::Int(6379)),
        ]);
        assert_eq!(pairs(&flat), pairs(&map));
        assert_eq!(integer(&Value::BulkString(b" 42".to_vec())), Some(42));
        assert_eq!(pairs(&Value::Array(vec![Value::Int(1)])), None);
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate("ééééé", 2), "éé...");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
