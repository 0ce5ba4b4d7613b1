//! The command line: what to watch, how, and which mode (console, `snapshot`,
//! `watch`, `lab`). Parsing turns every flag into checked values or a clear
//! error, and the source flags into a [`SourcePlan`]; nothing here opens a
//! connection (looking at the environment is [`Discovered`]'s, on the
//! sources side).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError};
use crate::model::SourceKind;
use crate::sources::SourceSpec;
use crate::sources::docker::{DockerHost, DockerSpec};
use crate::sources::kube::{KubeTarget, Namespaces};
use crate::sources::plan::{Discovered, PlannedSource, SourcePlan};
use crate::sources::probes::args::ProbeArgs;
use crate::sources::records::spec::{StoreArg, store_arg};
use crate::sources::records::{RecordConfig, Store};
use crate::sources::redis::watch_sentinel::node_target;
use crate::sources::redis::{Credentials, RedisTarget, TargetError, TrustArgs, UrlKind};
use crate::sources::sim::SimConfig;

/// One live screen for highly available, stateful clusters: who leads, who
/// copies, how far behind, where each runs, and what just changed.
#[derive(Debug, Parser)]
#[command(name = "clusterdeck", version, about, long_about = None)]
// clap's own `help` takes no flags, so `help --help` was an error; ours
// (Command::Help) is a subcommand like the others.
#[command(disable_help_subcommand = true)]
#[command(
    after_help = "Run `clusterdeck lab` for a local demo cluster. Keys: press ? in the console."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub sources: SourceArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// The command line with each subcommand's help scoped to what applies
/// ([`ignored_by`]); parse with [`parse`], not `Cli::parse`, so that the
/// help says so.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().into()).collect();
    for name in names {
        let ignored = ignored_by(&name);
        let hidden = globals.iter().filter(|a| ignored(a.get_id().as_str()));
        let hidden: Vec<clap::Arg> = hidden.map(|a| a.clone().hide(true)).collect();
        // A subcommand that has an argument of a global's id keeps its own
        // (clap does not propagate over it): a hidden copy, which parses
        // the same and hands its value up the same way, so the flag still
        // works there as it always did.
        cmd = cmd.mut_subcommand(&name, |sub| sub.args(hidden));
    }
    cmd
}

/// Parses the process's arguments with [`command`]; exits on bad usage
/// (clap's message, exit 2) or `--help`.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command()).exit())
}

/// The global flags a subcommand ignores, by id: still accepted (scripts
/// pass the same flags to every mode) but not listed in its help.
fn ignored_by(subcommand: &str) -> fn(&str) -> bool {
    const REDIS: &[&str] = &[
        "redis",
        "sentinel",
        "sentinel_master",
        "redis_password_file",
        "registry_key",
        "registry",
        "registry_field",
        "sim",
        "seed",
        "password_file",
        "sentinel_password_file",
        "registry_password_file",
        "allow_net",
        "tls_ca",
        "tls_cert",
        "tls_key",
        "tls_insecure",
    ];
    const KUBE: &[&str] = &[
        "kube",
        "kubeconfig",
        "context",
        "namespace",
        "all_namespaces",
    ];
    const HEAL: &[&str] = &["docker", "interval", "keep_faults", "config"];
    const PROBE: &[&str] = &[
        "probe",
        "probe_ca",
        "probe_cert",
        "probe_key",
        "probe_user",
        "probe_password_file",
    ];
    match subcommand {
        // The lab starts its own cluster (and its own probe); only the
        // engine is chosen.
        "lab" => |id| REDIS.contains(&id) || KUBE.contains(&id) || PROBE.contains(&id),
        // Heal reads the ledger; only the Kubernetes flags add a sweep.
        "heal" => |id| REDIS.contains(&id) || HEAL.contains(&id) || PROBE.contains(&id),
        // Headless modes inject no fault.
        "snapshot" | "watch" => |id| id == "keep_faults",
        _ => |_| true,
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look once, print every cluster and source, exit (0 ok, 1 a source failed).
    Snapshot {
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Json)]
        output: OutputFormat,
        /// How long to wait for the sources before printing what was seen.
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Follow the clusters and print one JSON object a line, until
    /// interrupted or --for ends.
    Watch {
        /// Print timeline events, one a line: what watch prints anyway
        /// unless --snapshots is given (the flag says so in scripts).
        #[arg(long)]
        events: bool,
        /// Print whole snapshots instead of events, one a line, whenever
        /// something changed.
        #[arg(long, conflicts_with = "events")]
        snapshots: bool,
        /// Stop after this long (e.g. 30s); runs until interrupted by default.
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Undo every fault in the ledger (left by a console that died, or still
    /// held): exit 0 when all are healed, 1 otherwise.
    Heal,
    /// Start a real local cluster and open the console on it; everything is
    /// stopped on exit. Redis: 1 master, 2 copies, 3 sentinels. etcd: three
    /// raft members (K kills the selected one, R restarts it). With --docker,
    /// they run as containers on a private network.
    Lab {
        /// What the lab runs.
        #[arg(long, value_enum, default_value_t = LabApp::Redis)]
        app: LabApp,
        /// The image for `--docker`. By default (`local`) one is built here
        /// from busybox-static and the host's redis-server or etcd, so no
        /// registry is needed; another name is pulled if not present (it must
        /// have redis-server, or etcd, on its PATH).
        #[arg(long)]
        image: Option<String>,
        /// Run the Redis instances as a Swarm stack on the engine (implies
        /// --docker; the engine must be a Swarm manager): a `master` service
        /// and a `copies` service, so that scale and cordon act on them.
        /// Redis only.
        #[arg(long)]
        swarm: bool,
        /// Number of Redis replicas.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=8))]
        replicas: u8,
        /// Number of sentinels (Redis only).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=7))]
        sentinels: u8,
    },
    /// Print a shell completion script to stdout, e.g.
    /// `clusterdeck completions bash > ~/.local/share/bash-completion/completions/clusterdeck`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. `clusterdeck man | man -l -`.
    Man,
    /// Print this help, or the help of the given subcommand.
    Help {
        /// The subcommand to describe.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// What `clusterdeck lab` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabApp {
    /// Redis replication with Sentinel.
    Redis,
    /// etcd: three raft members, seen through the etcd probe.
    Etcd,
}

impl LabApp {
    /// The image `--docker` runs when `--image` is not given: built here
    /// from busybox-static and the host's binaries, no registry needed.
    pub fn default_image(self) -> &'static str {
        crate::lab::image::LOCAL
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Table,
}

/// What to watch. Every flag works before or after the subcommand.
#[derive(Debug, Args, Default)]
pub struct SourceArgs {
    /// A Redis instance: redis://[user:password@]host:port or rediss://...
    /// (repeatable; never split at commas, which passwords may hold). Its
    /// replication group is discovered from it.
    #[arg(
        long = "redis",
        value_name = "URL",
        env = "REDIS_URL",
        hide_env_values = true,
        global = true
    )]
    pub redis: Vec<String>,

    /// A Redis Sentinel (repeatable); every master it lists is shown.
    #[arg(long = "sentinel", value_name = "URL", global = true)]
    pub sentinel: Vec<String>,

    /// Only these Sentinel master names (repeatable); all by default.
    #[arg(long = "sentinel-master", value_name = "NAME", global = true)]
    pub sentinel_master: Vec<String>,

    /// A file holding the password of the data nodes a --sentinel names,
    /// when it is not the Sentinel's own (else env REDIS_PASSWORD; else the
    /// --sentinel URL's password is used for them too).
    #[arg(long = "redis-password-file", value_name = "FILE", global = true)]
    pub redis_password_file: Option<PathBuf>,

    /// A key whose value names the leader (host:port or a member's name),
    /// compared with the leader observed: a Redis key (as Dgraph's first
    /// zero writes `zero`), an etcd key (Patroni's /service/SCOPE/leader),
    /// or for http= a jq expression picking it out of the JSON document.
    /// Read from --registry, else the first --redis.
    #[arg(long = "registry-key", value_name = "KEY", global = true)]
    pub registry_key: Option<String>,

    /// Where --registry-key is: a Redis URL, etcd=http://HOST:2379 (its
    /// JSON gateway) or http=URL (a JSON document).
    #[arg(
        long = "registry",
        value_name = "URL",
        global = true,
        requires = "registry_key"
    )]
    pub registry: Option<String>,

    /// The field of the Redis hash --registry-key that names the leader.
    #[arg(
        long = "registry-field",
        value_name = "FIELD",
        global = true,
        requires = "registry_key"
    )]
    pub registry_field: Option<String>,

    /// A simulated fleet of N members (no cluster needed).
    #[arg(long, value_name = "N", global = true, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sim: Option<u32>,

    /// Seed of the simulation, so that runs are repeatable.
    #[arg(long, default_value_t = 1, global = true)]
    pub seed: u64,

    /// Watch Kubernetes through the kubeconfig (KUBECONFIG, else
    /// ~/.kube/config). On by itself when no source is named and a
    /// kubeconfig exists.
    #[arg(long, global = true)]
    pub kube: bool,

    /// Kubeconfig file (implies --kube); KUBECONFIG, else ~/.kube/config, by default.
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// Kubernetes context (implies --kube); the current context by default.
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,

    /// Kubernetes namespace (implies --kube); the context's by default.
    #[arg(
        long,
        short = 'n',
        value_name = "NAME",
        global = true,
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,

    /// Every Kubernetes namespace (implies --kube).
    #[arg(long = "all-namespaces", short = 'A', global = true)]
    pub all_namespaces: bool,
    /// A Docker Engine: containers, Swarm services, tasks and nodes.
    /// `--docker` alone uses DOCKER_HOST or the local socket;
    /// `--docker=unix:///path` or `--docker=tcp://host:port` names one.
    /// With no source named at all, a reachable local engine is used anyway.
    #[arg(
        long,
        value_name = "HOST",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        global = true
    )]
    pub docker: Option<String>,

    /// Passwords from files or the environment, where credentials may go, TLS.
    #[command(flatten)]
    pub trust: TrustArgs,

    /// Application probes (`--probe KIND=URL`) and what they present.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// The cluster config the platform sources use (set from --config).
    #[arg(skip)]
    pub config: Arc<Config>,

    /// Set from --read-only: the Docker source then sends only GET
    /// requests, so it reads nothing inside containers.
    #[arg(skip)]
    pub read_only: bool,
}

/// Options of every mode.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// How often polled sources look (e.g. 1s, 500ms).
    #[arg(long, default_value = "1s", value_parser = parse_interval, global = true)]
    pub interval: Duration,

    /// Bound on every network call.
    #[arg(long = "request-timeout", default_value = "2s", value_parser = parse_duration, global = true)]
    pub request_timeout: Duration,

    /// No mutating key, no mutating request: look, never touch.
    #[arg(long, global = true)]
    pub read_only: bool,

    /// Log file (default: clusterdeck.log in the state directory). Logs never
    /// go to the terminal.
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,

    /// Cluster config (YAML): names and labels to clusters and tiers, app
    /// ports, remove commands. See assets/clusterdeck.yaml.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// On quit, leave the faults this run injected in place (they stay in the
    /// ledger; `clusterdeck heal` undoes them).
    #[arg(long, global = true)]
    pub keep_faults: bool,
}

impl CommonArgs {
    /// The config file, or an empty config when none is given.
    pub fn load_config(&self) -> Result<Config, UsageError> {
        match &self.config {
            Some(path) => Config::load(path).map_err(UsageError::Config),
            None => Ok(Config::default()),
        }
    }
}

/// A flag combination or value that cannot work, said plainly (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("--redis {0}")]
    Redis(TargetError),
    #[error("--sentinel {0}")]
    Sentinel(TargetError),
    #[error("--registry {0}")]
    Registry(TargetError),
    #[error("{0}")]
    Trust(TargetError),
    #[error("--redis-password-file {0}: {1}")]
    PasswordFile(String, String),
    #[error("--registry-key needs a Redis to read it from: add --registry URL or --redis URL")]
    RegistryWithoutRedis,
    #[error(
        "nothing to watch: give --redis URL, --sentinel URL, --probe KIND=URL, --docker, --kube or --sim N \
         (or run `clusterdeck lab` for a local demo cluster)"
    )]
    NoSources,
    #[error("{0}")]
    Config(ConfigError),
    #[error("--redis is empty: give a URL, e.g. redis://host:6379")]
    EmptyRedis,
    #[error("--docker={0:?}: use unix:///path/to/docker.sock or tcp://host:port")]
    DockerHost(String),
    #[error("{0}")]
    Probe(String),
    #[error("--registry: {0}")]
    Record(String),
    #[error("--swarm is for the Redis lab; the etcd lab runs on --docker")]
    SwarmLab,
    #[error("--kubeconfig {}: {error}", .path.display())]
    Kubeconfig { path: PathBuf, error: String },
    #[error(
        "the console needs a terminal (stdin and stdout); for scripts and files use \
         `clusterdeck snapshot` or `clusterdeck watch`"
    )]
    NotATerminal,
}

impl SourceArgs {
    /// Checks what can be checked without a connection, for every mode
    /// (`heal` and `lab` too): no empty `--redis`, a Docker host the client
    /// can speak to, a `--kubeconfig` that is a file.
    pub fn check(&self) -> Result<(), UsageError> {
        // An empty REDIS_URL is as good as none (as an empty DOCKER_HOST
        // is); an empty --redis is a mistake, not a wish to look around.
        if self.redis.iter().any(|u| u.trim().is_empty()) && redis_flag_given() {
            return Err(UsageError::EmptyRedis);
        }
        if let Some(host) = self.docker.as_deref().filter(|h| !h.trim().is_empty())
            && !DockerHost::new(host).is_supported()
        {
            return Err(UsageError::DockerHost(host.to_string()));
        }
        if let Some(path) = &self.kubeconfig {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => return Err(kubeconfig_error(path, "not a regular file".into())),
                Err(e) => return Err(kubeconfig_error(path, e.to_string())),
            }
        }
        Ok(())
    }

    /// Checks every URL and turns the flags into the sources to start,
    /// adding what the environment offers when no source is named.
    pub async fn plan(&self) -> Result<Vec<PlannedSource>, UsageError> {
        // Looking costs a connection attempt; with sources named it is not needed.
        let found = if self.names_any_source() {
            Discovered::default()
        } else {
            Discovered::from_environment().await
        };
        self.plan_with(&found)
    }

    /// Some source is named on the command line: only those start.
    fn names_any_source(&self) -> bool {
        !self.redis.iter().all(|u| u.trim().is_empty())
            || !self.sentinel.is_empty()
            || self.registry_key.is_some()
            || !self.config.records.is_empty()
            || self.sim.is_some()
            || self.docker.is_some()
            || self.kube_target().is_some()
            || self.probes.names_any()
    }

    /// The Kubernetes target the flags ask for, if any.
    pub fn kube_target(&self) -> Option<KubeTarget> {
        let named = self.kube
            || self.kubeconfig.is_some()
            || self.context.is_some()
            || self.namespace.is_some()
            || self.all_namespaces;
        named.then(|| self.kube_target_always())
    }

    fn kube_target_always(&self) -> KubeTarget {
        let namespaces = match (&self.namespace, self.all_namespaces) {
            (_, true) => Namespaces::All,
            (Some(ns), false) => Namespaces::Named(ns.clone()),
            (None, false) => Namespaces::FromContext,
        };
        KubeTarget {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespaces,
        }
    }

    /// [`SourceArgs::plan`] with the environment given: the plan itself,
    /// without looking at the machine (the lab and the tests use it).
    pub fn plan_with(&self, found: &Discovered) -> Result<Vec<PlannedSource>, UsageError> {
        let mut plan = SourcePlan::default();
        let urls = self
            .redis
            .iter()
            .chain(&self.sentinel)
            .chain(&self.registry);
        let urls: Vec<&str> = urls.map(String::as_str).collect();
        let creds = self.trust.credentials(&urls).map_err(UsageError::Trust)?;
        let first_redis = self.plan_redis(&mut plan, &creds)?;
        self.plan_sentinels(&mut plan, &creds)?;
        self.plan_registry(&mut plan, first_redis, &creds)?;
        self.plan_sim(&mut plan);
        self.plan_platforms(&mut plan, found);
        let nets: Vec<_> = self
            .trust
            .allow_net
            .iter()
            .chain(&self.trust.resolved)
            .copied()
            .collect();
        for (label, spec) in self
            .probes
            .plan(&self.config, &nets)
            .map_err(UsageError::Probe)?
        {
            plan.push(SourceKind::Probe, label, spec);
        }
        if plan.is_empty() {
            return Err(UsageError::NoSources);
        }
        Ok(plan.into_sources())
    }

    /// One source per `--redis`; the first one's target, for the registry.
    fn plan_redis(
        &self,
        plan: &mut SourcePlan,
        creds: &Credentials,
    ) -> Result<Option<RedisTarget>, UsageError> {
        let mut first_redis = None;
        for url in self.redis.iter().filter(|u| !u.trim().is_empty()) {
            let target = RedisTarget::parse(url).map_err(UsageError::Redis)?;
            let target = creds.apply(target, UrlKind::Redis);
            first_redis.get_or_insert_with(|| target.clone());
            plan.push(
                SourceKind::Redis,
                target.redacted().to_string(),
                SourceSpec::Redis(target),
            );
        }
        Ok(first_redis)
    }

    fn plan_sentinels(&self, plan: &mut SourcePlan, creds: &Credentials) -> Result<(), UsageError> {
        let password = match self.sentinel.is_empty() {
            true => None,
            false => self.data_node_password(creds)?,
        };
        for url in &self.sentinel {
            let target = RedisTarget::parse(url).map_err(UsageError::Sentinel)?;
            let target = creds.apply(target, UrlKind::Sentinel);
            let masters = self.sentinel_master.clone();
            let nodes = password.as_deref().map(|p| node_target(&target, p));
            plan.push(
                SourceKind::Sentinel,
                target.redacted().to_string(),
                SourceSpec::Sentinel {
                    target,
                    masters,
                    nodes,
                },
            );
        }
        Ok(())
    }

    /// The data nodes' own password: `--redis-password-file` (one line,
    /// bounded read), else the Redis one (`--password-file`,
    /// `REDIS_PASSWORD`), else none (the Sentinel's is used).
    fn data_node_password(&self, creds: &Credentials) -> Result<Option<String>, UsageError> {
        let Some(path) = &self.redis_password_file else {
            return Ok(creds.redis_password().map(str::to_string));
        };
        let bad = |why: String| UsageError::PasswordFile(path.display().to_string(), why);
        let text = crate::bounded::read_text(path, 4096).map_err(|e| bad(e.to_string()))?;
        let password = text.trim_end_matches(['\n', '\r']);
        if password.is_empty() || password.contains(['\n', '\r']) {
            return Err(bad("must hold the password on one line".into()));
        }
        Ok(Some(password.to_string()))
    }

    /// `--registry-key`, read from `--registry`, else the first `--redis`;
    /// then the config file's `records:`.
    fn plan_registry(
        &self,
        plan: &mut SourcePlan,
        first_redis: Option<RedisTarget>,
        creds: &Credentials,
    ) -> Result<(), UsageError> {
        let redis = |url: &str| {
            RedisTarget::parse(url)
                .map(|t| creds.apply(t, UrlKind::Registry))
                .map_err(|e| e.to_string())
        };
        if let Some(key) = &self.registry_key {
            let arg = self.registry.as_deref().map(store_arg).transpose();
            let store = match arg.map_err(UsageError::Record)? {
                Some(StoreArg::Redis(url)) => Store::Redis(creds.apply(
                    RedisTarget::parse(url).map_err(UsageError::Registry)?,
                    UrlKind::Registry,
                )),
                Some(StoreArg::Etcd(url)) => Store::Etcd { url },
                Some(StoreArg::Http(url)) => Store::Http { url },
                None => Store::Redis(first_redis.ok_or(UsageError::RegistryWithoutRedis)?),
            };
            let record = RecordConfig {
                redis: None,
                etcd: None,
                http: None,
                cluster: None,
                key: key.clone(),
                field: self.registry_field.clone(),
                election: false,
            };
            let spec = record.with_store(store).map_err(UsageError::Record)?;
            plan.push(
                SourceKind::Registry,
                spec.label(),
                SourceSpec::Registry(spec),
            );
        }
        for record in &self.config.records {
            let spec = record
                .spec(redis)
                .map_err(|e| UsageError::Record(format!("config records: {e}")))?;
            plan.push(
                SourceKind::Registry,
                spec.label(),
                SourceSpec::Registry(spec),
            );
        }
        Ok(())
    }

    fn plan_sim(&self, plan: &mut SourcePlan) {
        if let Some(members) = self.sim {
            let config = SimConfig {
                members: members as usize,
                seed: self.seed,
            };
            plan.push(
                SourceKind::Sim,
                format!("sim:{members}@seed{}", self.seed),
                SourceSpec::Sim(config),
            );
        }
    }

    /// Kubernetes and Docker: when named, or, only when nothing at all is
    /// named, when the environment offers them.
    fn plan_platforms(&self, plan: &mut SourcePlan, found: &Discovered) {
        let named_any = self.names_any_source();
        let kube = match self.kube_target() {
            Some(target) => Some(target),
            None if !named_any && found.kubeconfig => Some(self.kube_target_always()),
            None => None,
        };
        if let Some(target) = kube {
            plan.push(
                SourceKind::Kube,
                target.label(),
                SourceSpec::Kube(target, Arc::clone(&self.config)),
            );
        }
        if self.docker.is_some() || (!named_any && found.docker) {
            let host = DockerHost::resolve(self.docker.as_deref());
            let spec = DockerSpec {
                host: host.clone(),
                config: Arc::clone(&self.config),
                read_only: self.read_only,
            };
            plan.push(
                SourceKind::Docker,
                host.as_str().to_string(),
                SourceSpec::Docker(spec),
            );
        }
    }
}

/// Whether `--redis` is on the command line (its values may come from
/// REDIS_URL instead).
fn redis_flag_given() -> bool {
    std::env::args_os().any(|a| {
        a.to_str()
            .is_some_and(|a| a == "--redis" || a.starts_with("--redis="))
    })
}

fn kubeconfig_error(path: &std::path::Path, error: String) -> UsageError {
    UsageError::Kubeconfig {
        path: path.to_path_buf(),
        error,
    }
}

/// The longest duration any flag takes: a year is beyond any timeout or
/// watch, and far from the overflow of a deadline computed from it.
pub const LONGEST_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses `1s`, `500ms`, `2m` (humantime), at most [`LONGEST_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration ({e}); write e.g. 1s, 500ms, 2m"))?;
    if d > LONGEST_DURATION {
        return Err(format!("{s:?} is too long; the longest is 366 days"));
    }
    Ok(d)
}

/// A poll interval: a duration of at least 100 ms, so a typo cannot hammer a server.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(100) {
        return Err(format!(
            "{s:?} is too short; the shortest interval is 100ms"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("clusterdeck").chain(args.iter().copied()))
    }

    #[test]
    fn flags_work_before_and_after_the_subcommand() {
        let cli = parse(&[
            "--redis",
            "localhost:7000",
            "snapshot",
            "-o",
            "table",
            "--read-only",
        ])
        .unwrap();
        assert!(cli.common.read_only);
        assert_eq!(cli.sources.redis, vec!["localhost:7000"]);
        assert!(matches!(
            cli.command,
            Some(Command::Snapshot {
                output: OutputFormat::Table,
                ..
            })
        ));
        let cli = parse(&["snapshot", "--redis", "localhost:7000"]).unwrap();
        assert_eq!(cli.sources.redis.len(), 1);
    }

    #[test]
    fn flags_hidden_from_a_subcommand_help_still_work_there() {
        command().debug_assert();
        let scoped = |args: &[&str]| {
            let argv = std::iter::once("clusterdeck").chain(args.iter().copied());
            let matches = command().try_get_matches_from(argv).unwrap();
            Cli::from_arg_matches(&matches).unwrap()
        };
        let cli = scoped(&["lab", "--redis", "h:1", "--context", "c", "-n", "ns"]);
        assert_eq!(cli.sources.redis, ["h:1"]);
        assert_eq!(cli.sources.namespace.as_deref(), Some("ns"));
        let cli = scoped(&["heal", "--sim", "3", "--interval", "2s", "--keep-faults"]);
        assert_eq!(cli.sources.sim, Some(3));
        assert_eq!(cli.common.interval, Duration::from_secs(2));
        assert!(cli.common.keep_faults);
        let cli = scoped(&["--seed", "7", "heal"]);
        assert_eq!(cli.sources.seed, 7);
    }

    #[test]
    fn the_lab_runs_redis_or_etcd_and_its_help_lists_only_what_applies() {
        let cli = parse(&["lab"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Lab {
                app: LabApp::Redis,
                image: None,
                ..
            })
        ));
        let cli = parse(&["lab", "--app", "etcd", "--docker"]).unwrap();
        let Some(Command::Lab { app, .. }) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(app, LabApp::Etcd);
        assert_eq!(app.default_image(), crate::lab::image::LOCAL);
        assert!(parse(&["lab", "--app", "zookeeper"]).is_err());
        let mut cmd = command();
        // Globals reach the subcommands when the command is built.
        cmd.build();
        let help = cmd
            .find_subcommand_mut("lab")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("--app") && help.contains("etcd"), "{help}");
        let flags: Vec<&str> = help.split_whitespace().collect();
        for hidden in ["--probe", "--probe-user", "--redis", "--sentinel", "--kube"] {
            assert!(!flags.contains(&hidden), "{hidden} in lab --help:\n{help}");
        }
        assert!(flags.contains(&"--sentinels") && flags.contains(&"--docker[=<HOST>]"));
    }

    #[tokio::test]
    async fn plan_names_sources_and_hides_passwords() {
        let cli = parse(&[
            "--redis",
            "redis://:pw@h1:1",
            "--redis",
            "h2:2",
            "--sentinel",
            "h3:26379",
            "--registry-key",
            "zero",
        ])
        .unwrap();
        let plan = cli.sources.plan().await.unwrap();
        let ids: Vec<_> = plan.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["redis#0", "redis#1", "sentinel#0", "registry#0"]);
        assert!(plan.iter().all(|p| !p.target.contains("pw")));
        assert_eq!(plan[3].target, "redis://:***@h1:1 key zero");
    }

    #[tokio::test]
    async fn docker_is_added_when_named_and_its_host_is_kept() {
        let cli = parse(&["--docker=unix:///run/x.sock", "snapshot"]).unwrap();
        let plan = cli.sources.plan().await.unwrap();
        assert_eq!(plan[0].id, "docker#0");
        assert_eq!(plan[0].target, "unix:///run/x.sock");
        let cli = parse(&["--redis", "h:1", "--docker"]).unwrap();
        let ids: Vec<_> = cli
            .sources
            .plan()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["redis#0", "docker#0"]);
        // Named sources only: no Docker unless asked for.
        let args = parse(&["--redis", "h:1"]).unwrap().sources;
        let everything = Discovered {
            kubeconfig: true,
            docker: true,
        };
        assert_eq!(args.plan_with(&everything).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn bad_input_is_a_clear_usage_error() {
        let cli = parse(&["--redis", "http://x:1"]).unwrap();
        let e = cli.sources.plan().await.unwrap_err().to_string();
        assert!(e.starts_with("--redis") && e.contains("http"), "{e}");
        let none = Discovered::default();
        let e = parse(&[]).unwrap().sources.plan_with(&none).unwrap_err();
        assert!(matches!(e, UsageError::NoSources));
        let e = parse(&["--docker", "unix:///x"]);
        assert!(e.is_err(), "a host needs --docker=HOST");
        assert!(parse(&["--interval", "1ms"]).is_err());
        assert!(parse(&["--interval", "soon"]).is_err());
        assert!(parse(&["--sim", "0"]).is_err());
        let e = parse(&["--sim", "3", "--registry-key", "k"])
            .unwrap()
            .sources
            .plan()
            .await
            .unwrap_err();
        assert!(matches!(e, UsageError::RegistryWithoutRedis));
    }

    #[test]
    fn kube_flags_plan_one_kube_source() {
        let none = Discovered::default();
        let plan = parse(&["--context", "prod", "-n", "db"])
            .unwrap()
            .sources
            .plan_with(&none)
            .unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].id, "kube#0");
        let SourceSpec::Kube(target, _) = &plan[0].spec else {
            panic!("{plan:?}")
        };
        assert_eq!(target.context.as_deref(), Some("prod"));
        assert_eq!(target.namespaces, Namespaces::Named("db".into()));
        let plan = parse(&["snapshot", "-A"])
            .unwrap()
            .sources
            .plan_with(&none)
            .unwrap();
        assert!(matches!(&plan[0].spec, SourceSpec::Kube(t, _) if t.namespaces == Namespaces::All));
        assert!(parse(&["-A", "-n", "db"]).is_err(), "-A and -n conflict");
    }

    #[test]
    fn a_kubeconfig_turns_kube_on_only_when_nothing_is_named() {
        let found = Discovered {
            kubeconfig: true,
            docker: false,
        };
        let plan = parse(&[]).unwrap().sources.plan_with(&found).unwrap();
        assert!(matches!(&plan[..], [p] if p.kind == SourceKind::Kube));
        let plan = parse(&["--sim", "3"])
            .unwrap()
            .sources
            .plan_with(&found)
            .unwrap();
        assert!(plan.iter().all(|p| p.kind != SourceKind::Kube), "{plan:?}");
        let plan = parse(&["--sim", "3", "--kube"])
            .unwrap()
            .sources
            .plan_with(&found)
            .unwrap();
        assert_eq!(plan.len(), 2);
    }
}
