//! Label selectors as the API server parses them from `?labelSelector=`:
//! `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, joined
//! by commas (all must hold). Field selectors (`?fieldSelector=`) only as
//! far as clients use them: `metadata.name` and `metadata.namespace`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses the query form; a malformed selector is an error the server
    /// answers with 400, as the real one does.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut out = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            out.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(out))
    }

    /// True when every requirement holds for the object's `metadata.labels`.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
        })
    }
}

/// A parsed field selector: `metadata.name=x`, `metadata.namespace!=y`, ...
/// Other fields are a 400 from the real server too unless the resource
/// registers them, which none of the emulated ones needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = match part.split_once("!=") {
                Some((f, v)) => (f, false, v),
                None => {
                    let (f, v) = part
                        .split_once("==")
                        .or_else(|| part.split_once('='))
                        .ok_or_else(|| format!("invalid field selector: {part:?}"))?;
                    (f, true, v)
                }
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace") {
                return Err(format!("field label not supported: {field}"));
            }
            out.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = object.pointer(&pointer).and_then(Value::as_str);
            (actual == Some(value.as_str())) == *equal
        })
    }
}

/// Splits on commas that are not inside `( ... )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(valid_key(key)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(valid_key(k)?, v.trim().into()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(valid_key(k)?, v.trim().into()));
    }
    for (word, negate) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = part.split_once(word) {
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("unable to parse requirement: {part:?}"))?;
            let values = inner.split(',').map(|v| v.trim().to_string()).collect();
            let key = valid_key(k)?;
            return Ok(if negate {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            });
        }
    }
    Ok(Requirement::Exists(valid_key(part)?))
}

fn valid_key(key: &str) -> Result<String, String> {
    let key = key.trim();
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operator() {
        let pod = json!({"metadata": {"labels": {"app": "redis", "tier": "copy"}}});
        let yes = [
            "",
            "app=redis",
            "app==redis",
            "app!=dgraph",
            "tier",
            "!zone",
            "tier in (master,copy)",
            "tier notin (master)",
            "app=redis,tier in (copy)",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&pod), "{s}");
        }
        for s in [
            "app=dgraph",
            "!tier",
            "zone",
            "tier in (master)",
            "tier notin (copy)",
        ] {
            assert!(!LabelSelector::parse(s).unwrap().matches(&pod), "{s}");
        }
        assert!(LabelSelector::parse("a b c").is_err());
    }

    #[test]
    fn field_selectors_on_name_and_namespace() {
        let pod = json!({"metadata": {"name": "copy-1", "namespace": "db"}});
        for s in [
            "",
            "metadata.name=copy-1",
            "metadata.name==copy-1,metadata.namespace=db",
            "metadata.name!=copy-2",
        ] {
            assert!(FieldSelector::parse(s).unwrap().matches(&pod), "{s}");
        }
        for s in ["metadata.name=copy-2", "metadata.namespace!=db"] {
            assert!(!FieldSelector::parse(s).unwrap().matches(&pod), "{s}");
        }
        assert!(FieldSelector::parse("spec.nodeName=node-1").is_err());
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
