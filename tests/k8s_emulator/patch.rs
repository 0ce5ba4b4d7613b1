//! The two patch types the console sends.
//!
//! - JSON merge patch (RFC 7386, `application/merge-patch+json`): objects
//!   merge key by key, `null` deletes, anything else replaces (lists too).
//! - Strategic merge patch (`application/strategic-merge-patch+json`): the
//!   same, except that lists of objects that all carry a `name` (containers,
//!   ports, volumes, env) merge element by element on that key, and a
//!   `$patch: delete` element removes its match. The real server takes the
//!   merge key from the OpenAPI schema; `name` is the key of every list the
//!   console touches, so this is the subset kept here.

use serde_json::{Map, Value};

/// Applies an RFC 7386 merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    apply(target, patch, false);
}

/// Applies a strategic merge patch (the subset described above).
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    apply(target, patch, true);
}

fn apply(target: &mut Value, patch: &Value, strategic: bool) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        unreachable!("made an object above")
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
            continue;
        }
        let slot = target.entry(key.clone()).or_insert(Value::Null);
        match (strategic, &mut *slot, value) {
            (true, Value::Array(mine), Value::Array(theirs)) if all_named(mine, theirs) => {
                merge_named_lists(mine, theirs);
            }
            _ => apply(slot, value, strategic),
        }
    }
}

fn all_named(a: &[Value], b: &[Value]) -> bool {
    let named = |v: &Value| v.get("name").and_then(Value::as_str).is_some();
    !b.is_empty() && a.iter().all(named) && b.iter().all(named)
}

fn merge_named_lists(mine: &mut Vec<Value>, theirs: &[Value]) {
    for item in theirs {
        let name = item.get("name").cloned();
        let position = mine.iter().position(|m| m.get("name") == name.as_ref());
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                mine.remove(i);
            }
            (Some(i), false) => apply(&mut mine[i], item, true),
            (None, true) => {}
            (None, false) => mine.push(item.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_replaces_lists_and_deletes_nulls() {
        let mut doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [{"name": "x", "v": 1}]});
        merge_patch(
            &mut doc,
            &json!({"a": null, "b": {"c": 5}, "l": [{"name": "y"}]}),
        );
        assert_eq!(doc, json!({"b": {"c": 5, "d": 3}, "l": [{"name": "y"}]}));
    }

    #[test]
    fn strategic_patch_merges_named_lists() {
        let mut doc =
            json!({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]});
        strategic_merge_patch(
            &mut doc,
            &json!({"containers": [{"name": "b", "image": "2"}, {"name": "c"}, {"name": "a", "$patch": "delete"}]}),
        );
        assert_eq!(
            doc,
            json!({"containers": [{"name": "b", "image": "2"}, {"name": "c"}]})
        );
    }
}
