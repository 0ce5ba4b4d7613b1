//! jq expressions of probe definitions, run with jaq (a maintained jq
//! implementation): compiled once when a definition loads, so a definition
//! with a typo is refused at start-up with the field it is in, and run on
//! every reply.

use std::sync::Arc;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

type Compiled = jaq_core::Filter<data::JustLut<Val>>;

/// One compiled jq expression and its text (for messages).
#[derive(Clone)]
pub struct Expr {
    code: String,
    filter: Arc<Compiled>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.code)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Expr {
    /// Compiles `code`; the error says what jaq could not read.
    pub fn compile(code: &str) -> Result<Expr, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errors| format!("cannot parse jq `{code}` ({} error(s))", errors.len()))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let names: Vec<String> = errors
                    .iter()
                    .flat_map(|(_, errs)| errs.iter().map(|(name, _)| name.to_string()))
                    .collect();
                format!("cannot compile jq `{code}`: unknown {}", names.join(", "))
            })?;
        Ok(Expr {
            code: code.to_string(),
            filter: Arc::new(filter),
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// The expression's first output on `input`; `null` (or no output) is
    /// None. An error of the expression is returned as text.
    pub fn first(&self, input: &Value) -> Result<Option<Value>, String> {
        let input: Val = serde_json::from_value(input.clone()).map_err(|e| e.to_string())?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = self.filter.id.run((ctx, input)).map(unwrap_valr);
        match out.next() {
            None => Ok(None),
            Some(Err(e)) => Err(self.error(&e)),
            Some(Ok(val)) => {
                let value: Value = serde_json::from_str(&val.to_string())
                    .map_err(|e| self.error(&format!("gave no JSON: {e}")))?;
                Ok((!value.is_null()).then_some(value))
            }
        }
    }
}

/// The most of a jq error shown: jaq's message quotes the value it could
/// not use, which may be a whole reply of megabytes.
const ERROR_CHARS: usize = 300;

impl Expr {
    /// An error of this expression as one bounded, escaped line: the
    /// expression (a definition may write it over several lines) and jaq's
    /// message, which quotes the reply with its bidi and C1 controls as
    /// they are.
    fn error(&self, error: &impl std::fmt::Display) -> String {
        let code = self.code.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = error.to_string();
        let mut said: String = text.chars().take(ERROR_CHARS).collect();
        if said.len() < text.len() {
            said.push_str("...");
        }
        crate::escape::escape(&format!("jq `{code}`: {said}")).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_expression_runs_with_the_standard_library() {
        let expr =
            Expr::compile(r#"[.members[] | select(.learner | not) | .name] | join(",")"#).unwrap();
        let input = json!({"members": [
            {"name": "a", "learner": false},
            {"name": "b", "learner": true},
            {"name": "c"}
        ]});
        assert_eq!(expr.first(&input).unwrap(), Some(json!("a,c")));
    }

    #[test]
    fn null_and_no_output_are_nothing() {
        let input = json!({"a": 1});
        assert_eq!(Expr::compile(".b").unwrap().first(&input).unwrap(), None);
        assert_eq!(Expr::compile("empty").unwrap().first(&input).unwrap(), None);
    }

    #[test]
    fn a_typo_is_refused_when_compiled_and_a_type_error_when_run() {
        let error = Expr::compile(".a | nosuchfunction").unwrap_err();
        assert!(error.contains("nosuchfunction"), "{error}");
        assert!(Expr::compile(".a |").is_err());
        let error = Expr::compile(".a + 1")
            .unwrap()
            .first(&json!({"a": "x"}))
            .unwrap_err();
        assert!(error.contains(".a + 1"), "{error}");
    }

    #[test]
    fn an_error_quoting_the_reply_is_bounded_and_escaped() {
        let reply = json!({"a": format!("\u{202e}{}", "x".repeat(100_000))});
        let error = Expr::compile(".a + 1").unwrap().first(&reply).unwrap_err();
        assert!(error.len() < 1000, "{} bytes", error.len());
        assert!(
            !error.contains('\u{202e}') && error.contains("\\u{202e}"),
            "{error}"
        );
        let multi_line = Expr::compile(".a\n  | . + 1").unwrap();
        let error = multi_line.first(&json!({"a": "x"})).unwrap_err();
        assert!(error.starts_with("jq `.a | . + 1`: "), "{error}");
    }
}
