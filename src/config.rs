//! The cluster config file (`--config FILE`, YAML): which platform objects
//! (containers, Swarm services and tasks, StatefulSets, pods) form which
//! cluster, which of them are the master tier and which the copy tier, the
//! port the application listens on, and how to remove an instance gently.
//!
//! Matching is generic on purpose: a [`Selector`] looks at a name and a map
//! of labels, so the Docker source and the Kubernetes source use the same
//! file. Errors name the file, the line and the field (serde's location).
//! Examples are in `assets/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::Tier;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Clusters, first match wins.
    #[serde(default)]
    pub clusters: Vec<ClusterRule>,
    /// Probe kinds of your own (the generic `http` probe), or replacements
    /// of built-in ones, in the form of `assets/probes/*.yaml`.
    #[serde(default)]
    pub probes: Vec<crate::sources::probes::Definition>,
    /// Leaders recorded in shared storage, each compared with the leader of
    /// its cluster (`cluster:`, else the one with a member it names).
    #[serde(default)]
    pub records: Vec<crate::sources::records::RecordConfig>,
}

/// One cluster: what belongs to it and how its tiers are told apart.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterRule {
    /// The cluster's name on screen; its id is `config/<name>`.
    pub name: String,
    /// What belongs to the cluster.
    #[serde(rename = "match")]
    pub selector: Selector,
    /// Members matching this are the master tier (Dgraph `zero`, AllegroGraph `controlling`).
    #[serde(default)]
    pub master: Option<Selector>,
    /// Members matching this are the copy tier (Dgraph `server`, AllegroGraph `copy`).
    #[serde(default)]
    pub copy: Option<Selector>,
    /// The port the application listens on inside the container or pod; the
    /// member's address is `<its IP>:<port>`, which is how it joins what the
    /// application itself reports (a Redis at that address).
    #[serde(default)]
    pub port: Option<u16>,
    /// How `x` removes an instance of this cluster.
    #[serde(default)]
    pub remove: Option<RemoveRule>,
    /// Ask every member of this cluster what the application says about
    /// its role (`{kind: etcd, port: 2379}`, plus TLS files and a
    /// password file or variable).
    #[serde(default)]
    pub probe: Option<crate::sources::probes::RuleProbe>,
}

/// How to remove an instance: by default SIGTERM and a grace period; with
/// `exec`, a command run inside the instance (a remove script).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveRule {
    /// A command run inside the container or pod, e.g. `["/remove-instance.sh"]`.
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    /// How long to wait: for the command, or between SIGTERM and the end.
    #[serde(default = "default_grace", with = "humantime_serde_compat")]
    pub grace: Duration,
}

fn default_grace() -> Duration {
    Duration::from_secs(30)
}

/// Matches an object by name patterns (`*` wildcards) and labels.
/// Empty means "anything"; every given part must match.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Patterns on the object's names (container, service, StatefulSet, pod);
    /// any one of them may match any one name.
    #[serde(default)]
    pub names: Vec<String>,
    /// Labels that must all be present with these values.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Selector {
    /// True when one of `names` matches a pattern (or there are no patterns)
    /// and every label matches.
    pub fn matches<'a>(
        &self,
        mut names: impl Iterator<Item = &'a str>,
        labels: &dyn Fn(&str) -> Option<&'a str>,
    ) -> bool {
        let named = self.names.is_empty()
            || names.any(|name| self.names.iter().any(|p| wildcard_match(p, name)));
        named
            && self
                .labels
                .iter()
                .all(|(k, v)| labels(k) == Some(v.as_str()))
    }
}

/// What the config says about one platform object.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment<'a> {
    pub rule: &'a ClusterRule,
    pub tier: Tier,
}

impl ClusterRule {
    /// The cluster id members of this rule get.
    pub fn cluster_id(&self) -> String {
        format!("config/{}", self.name)
    }
}

/// Deepest nesting of `[`/`{` a config may have; real ones have a few.
const MAX_NESTING: usize = 32;

impl Config {
    /// Reads and checks a config file; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            crate::bounded::read_text(path, crate::bounded::CONFIG_BYTES).map_err(|source| {
                ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Config::parse(&text, path)
    }

    /// Parses `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let depth = crate::bounded::flow_depth(text);
        if depth > MAX_NESTING {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                field: "(document)".into(),
                message: format!("nested {depth} levels deep; at most {MAX_NESTING} are read"),
            });
        }
        let config: Config = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.location().map(|l| l.line()),
            column: e.location().map(|l| l.column()),
            message: without_location(&e.to_string()),
        })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        for (i, rule) in self.clusters.iter().enumerate() {
            let invalid = |field: &str, why: &str| ConfigError::Invalid {
                path: path.to_path_buf(),
                field: format!("clusters[{i}].{field}"),
                message: why.to_string(),
            };
            if rule.name.trim().is_empty() {
                return Err(invalid("name", "must not be empty"));
            }
            if rule.port == Some(0) {
                return Err(invalid("port", "must be 1..65535"));
            }
            if let Some(RemoveRule {
                exec: Some(command),
                ..
            }) = &rule.remove
                && command.is_empty()
            {
                return Err(invalid("remove.exec", "must name a command"));
            }
        }
        self.check_probes(path)
    }

    /// Every probe definition compiles and every rule's probe names a kind.
    fn check_probes(&self, path: &Path) -> Result<(), ConfigError> {
        let catalog = self
            .probe_catalog()
            .map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                field: "probes".into(),
                message,
            })?;
        for (i, rule) in self.clusters.iter().enumerate() {
            if let Some(probe) = &rule.probe
                && let Err(message) = catalog.get(&probe.kind)
            {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    field: format!("clusters[{i}].probe.kind"),
                    message,
                });
            }
        }
        Ok(())
    }

    /// The built-in probe kinds and this file's.
    pub fn probe_catalog(&self) -> Result<crate::sources::probes::Catalog, String> {
        crate::sources::probes::Catalog::new(&self.probes)
    }

    /// The first rule an object with these names and labels belongs to, and
    /// its tier there.
    pub fn assign<'a>(
        &'a self,
        names: &[&'a str],
        labels: &dyn Fn(&str) -> Option<&'a str>,
    ) -> Option<Assignment<'a>> {
        let rule = self
            .clusters
            .iter()
            .find(|r| r.selector.matches(names.iter().copied(), labels))?;
        let is = |s: &Option<Selector>| {
            s.as_ref()
                .is_some_and(|s| s.matches(names.iter().copied(), labels))
        };
        let tier = if is(&rule.master) {
            Tier::Master
        } else if is(&rule.copy) {
            Tier::Copy
        } else {
            Tier::Unknown
        };
        Some(Assignment { rule, tier })
    }

    /// The rule of the cluster with this id (`config/<name>`).
    pub fn rule_for_cluster(&self, cluster_id: &str) -> Option<&ClusterRule> {
        self.clusters.iter().find(|r| r.cluster_id() == cluster_id)
    }
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--config {}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::bounded::ReadError,
    },
    #[error("--config {}{}: {message}", path.display(), location(*line, *column))]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("--config {}: {field}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

/// serde_yaml ends its messages with the location, which the error already
/// says up front.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" line {l} column {c}"),
        (Some(l), None) => format!(" line {l}"),
        _ => String::new(),
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Durations written as `30s`, `2m` (humantime), in serde.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        let duration = humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration ({e}); write e.g. 30s"))
        })?;
        // A deadline is computed from it: a huge one would overflow (a panic).
        if duration > crate::cli::LONGEST_DURATION {
            return Err(serde::de::Error::custom(format!(
                "{text:?} is too long; the longest is 366 days"
            )));
        }
        Ok(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("deck.yaml"))
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("dgraph_zero*", "dgraph_zero.1.abc"));
        assert!(wildcard_match("*zero*", "dgraph_zero.1"));
        assert!(wildcard_match("redis", "redis"));
        assert!(!wildcard_match("redis", "redis-1"));
        assert!(wildcard_match("*-1", "redis-1"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn the_examples_parse() {
        for file in ["assets/clusterdeck.yaml", "assets/dgraph-swarm.yaml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn services_of_one_stack_are_one_cluster_with_tiers() {
        let config = parse(
            "clusters:\n  - name: dgraph\n    match: {labels: {com.docker.stack.namespace: dgraph}}\n    master: {names: ['*_zero*']}\n    copy: {names: ['*_server*']}\n",
        )
        .unwrap();
        let labels = |k: &str| (k == "com.docker.stack.namespace").then_some("dgraph");
        let zero = config
            .assign(&["dgraph_zero.1", "dgraph_zero"], &labels)
            .unwrap();
        assert_eq!(
            (zero.rule.cluster_id().as_str(), zero.tier),
            ("config/dgraph", Tier::Master)
        );
        let server = config.assign(&["dgraph_server.2"], &labels).unwrap();
        assert_eq!(server.tier, Tier::Copy);
        assert!(config.assign(&["other"], &|_| None).is_none());
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let e = parse("clusters:\n  - name: x\n    match: {}\n    tier: master\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("deck.yaml line 4 column 5: clusters[0]: unknown field `tier`")
                && text.contains("tier"),
            "{text}"
        );
        assert!(!text.ends_with("column 5"), "{text}");
        let e = parse("clusters:\n  - name: x\n    match: {}\n    port: 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--config deck.yaml: clusters[0].port: must be 1..65535"
        );
        let e = parse("clusters:\n  - name: x\n    match: {}\n    remove: {grace: soon}\n")
            .unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
        let e =
            parse("clusters:\n  - name: x\n    match: {}\n    remove: {grace: 500000000000y}\n")
                .unwrap_err();
        assert!(e.to_string().contains("the longest is 366 days"), "{e}");
    }

    mod fuzz {
        //! Random and mangled configs: parsing never panics, and any error
        //! names the file. Bounded: proptest's default 256 cases each.
        use super::*;
        use proptest::prelude::*;

        const EXAMPLE: &str = include_str!("../assets/clusterdeck.yaml");

        fn checked(text: &str) {
            if let Err(e) = parse(text) {
                assert!(e.to_string().starts_with("--config deck.yaml"), "{e}");
            }
        }

        proptest! {
            #[test]
            fn any_text_is_a_config_or_an_error_naming_the_file(text in "\\PC{0,400}") {
                checked(&text);
            }

            #[test]
            fn the_example_cut_or_with_bytes_changed_never_panics(
                cut in 0..EXAMPLE.len(),
                edits in proptest::collection::vec((0..EXAMPLE.len(), any::<char>()), 0..8),
            ) {
                let mut chars: Vec<char> = EXAMPLE.chars().collect();
                chars.truncate(cut.min(chars.len()));
                for (at, c) in edits {
                    if at < chars.len() {
                        chars[at] = c;
                    }
                }
                checked(&chars.into_iter().collect::<String>());
            }

            #[test]
            fn deep_nesting_is_refused_quickly(depth in 33usize..5000) {
                let text = format!("clusters: {}", "[".repeat(depth));
                let e = parse(&text).unwrap_err();
                prop_assert!(e.to_string().contains("levels deep"), "{}", e);
            }
        }
    }
}
