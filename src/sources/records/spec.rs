//! Where a recorded leader is read: from the flags (`--registry-key KEY`
//! with `--registry URL`, `etcd=URL` or `http=URL`) or from the config
//! file's `records:`, which may also name the cluster it is compared with.

use serde::Deserialize;

use crate::sources::redis::RedisTarget;

/// One record to read.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    pub store: Store,
    /// The Redis or etcd key, or the jq expression picking the value out of
    /// the HTTP document.
    pub key: String,
    /// A Redis hash's field.
    pub field: Option<String>,
    /// An etcd election: the leader is the oldest key under `key/`.
    pub election: bool,
    /// The cluster (its name, id or the application's own name for it) the
    /// record is compared with; else the one with a member it names.
    pub cluster: Option<String>,
}

/// The storage a record is in.
#[derive(Debug, Clone)]
pub enum Store {
    Redis(RedisTarget),
    /// etcd's v3 JSON gateway, `http(s)://host:port`.
    Etcd {
        url: String,
    },
    /// A JSON document.
    Http {
        url: String,
    },
}

impl RecordSpec {
    /// What the sources list and errors call it (no credentials).
    pub fn label(&self) -> String {
        let what = match &self.field {
            Some(field) => format!("key {} field {field}", self.key),
            None if self.election => format!("election {}", self.key),
            None => format!("key {}", self.key),
        };
        match &self.store {
            Store::Redis(target) => format!("{} {what}", target.redacted()),
            Store::Etcd { url } => format!("etcd {url} {what}"),
            Store::Http { url } => format!("{url} value {}", self.key),
        }
    }
}

/// A `--registry` value: `etcd=URL`, `http=URL`, or a Redis URL (`redis=`
/// optional). The Redis target is made by the caller, who applies
/// credentials.
#[derive(Debug)]
pub enum StoreArg<'a> {
    Redis(&'a str),
    Etcd(String),
    Http(String),
}

pub fn store_arg(flag: &str) -> Result<StoreArg<'_>, String> {
    let (kind, url) = match flag.split_once('=') {
        Some((kind, url)) if !kind.contains("://") => (kind.trim(), url.trim()),
        _ => ("redis", flag),
    };
    match kind {
        "redis" => Ok(StoreArg::Redis(url)),
        "etcd" => Ok(StoreArg::Etcd(http_url(url)?)),
        "http" => Ok(StoreArg::Http(http_url(url)?)),
        other => Err(format!(
            "`{other}=` is not a record store (redis=, etcd= or http=)"
        )),
    }
}

/// An http(s) URL without credentials in it.
fn http_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not http or https", parsed.scheme()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a user or password in the URL would show in the process list".into());
    }
    if parsed.host_str().is_none() {
        return Err("no host in the URL".into());
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// A record as the config file gives it: exactly one of `redis`, `etcd`
/// or `http`, and the key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub redis: Option<String>,
    #[serde(default)]
    pub etcd: Option<String>,
    #[serde(default)]
    pub http: Option<String>,
    pub key: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub election: bool,
}

impl RecordConfig {
    /// The spec; `redis` makes a Redis target (with the caller's credentials).
    pub fn spec(
        &self,
        redis: impl Fn(&str) -> Result<RedisTarget, String>,
    ) -> Result<RecordSpec, String> {
        let store = match (&self.redis, &self.etcd, &self.http) {
            (Some(url), None, None) => Store::Redis(redis(url)?),
            (None, Some(url), None) => Store::Etcd {
                url: http_url(url)?,
            },
            (None, None, Some(url)) => Store::Http {
                url: http_url(url)?,
            },
            _ => {
                return Err(format!(
                    "record `{}`: give exactly one of redis, etcd, http",
                    self.key
                ));
            }
        };
        self.with_store(store)
    }

    /// The spec with this store; says what does not fit it.
    pub fn with_store(&self, store: Store) -> Result<RecordSpec, String> {
        if let Store::Http { .. } = store {
            crate::sources::probes::jq::Expr::compile(&self.key)
                .map_err(|e| format!("record `{}`: {e}", self.key))?;
        }
        if self.field.is_some() && !matches!(store, Store::Redis(_)) {
            return Err(format!(
                "record `{}`: `field` is for a Redis hash",
                self.key
            ));
        }
        if self.election && !matches!(store, Store::Etcd { .. }) {
            return Err(format!("record `{}`: `election` is for etcd", self.key));
        }
        Ok(RecordSpec {
            store,
            key: self.key.clone(),
            field: self.field.clone(),
            election: self.election,
            cluster: self.cluster.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_named_by_its_kind_or_is_redis() {
        assert!(matches!(
            store_arg("redis://h:6379"),
            Ok(StoreArg::Redis("redis://h:6379"))
        ));
        assert!(
            matches!(store_arg("etcd=http://127.0.0.1:2379/"), Ok(StoreArg::Etcd(u)) if u == "http://127.0.0.1:2379")
        );
        assert!(
            store_arg("etcd=http://root:pw@h:2379")
                .unwrap_err()
                .contains("process list")
        );
        assert!(
            store_arg("mongo=x")
                .unwrap_err()
                .contains("not a record store")
        );
        assert!(
            store_arg("http=ftp://x")
                .unwrap_err()
                .contains("scheme `ftp`")
        );
    }

    #[test]
    fn a_config_record_names_one_store() {
        let text = "{etcd: 'http://127.0.0.1:2379', http: 'http://x', key: k}";
        let config: RecordConfig = serde_yaml::from_str(text).unwrap();
        let e = config.spec(|_| Err("unused".into())).unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
        let text = "{etcd: 'http://127.0.0.1:2379', key: /service/x/leader, field: f}";
        let config: RecordConfig = serde_yaml::from_str(text).unwrap();
        assert!(
            config
                .spec(|_| Err("unused".into()))
                .unwrap_err()
                .contains("Redis hash")
        );
    }
}
