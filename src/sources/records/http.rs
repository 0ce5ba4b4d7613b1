//! A recorded leader in a JSON document over HTTP: the document is fetched
//! (bounded like every probe reply) and the jq expression picks the value
//! (`.Params["dgraph/leader"]` of a Digital Rebar profile).

use std::time::Duration;

use serde_json::Value;

use super::Reading;
use super::value::recorded_value;
use crate::sources::probes::fetch::{Clients, send};
use crate::sources::probes::jq::Expr;

/// Fetches `url` and picks the value with `expr`.
pub async fn read(
    clients: &Clients,
    url: &str,
    expr: &Expr,
    timeout: Duration,
) -> Result<Reading, String> {
    let request = clients.anonymous().get(url).timeout(timeout);
    let (status, body) = send(request).await?;
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let document: Value =
        serde_json::from_slice(&body).map_err(|e| format!("the reply is not JSON: {e}"))?;
    pick(expr, &document)
}

/// The value `expr` picks out of `document`.
pub fn pick(expr: &Expr, document: &Value) -> Result<Reading, String> {
    let value = match expr.first(document)? {
        None | Some(Value::Null) => return Err(format!("`{}` picks nothing", expr.code())),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    Ok(Reading {
        value: recorded_value(&value)?,
        ttl_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_profile_param_names_the_leader() {
        let expr = Expr::compile(r#".Params["dgraph/leader"]"#).unwrap();
        let doc = json!({"Name": "global", "Params": {"dgraph/leader": "10.0.0.7:5080"}});
        assert_eq!(pick(&expr, &doc).unwrap().value, "10.0.0.7:5080");
        let e = pick(&expr, &json!({"Params": {}})).unwrap_err();
        assert!(e.contains("picks nothing"), "{e}");
    }
}
