//! From a kubeconfig (`KUBECONFIG`, else `~/.kube/config`) and the
//! command line's context and namespace to a connected client.

use std::path::PathBuf;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Which namespaces to watch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Namespaces {
    /// The context's namespace (`default` when it names none).
    #[default]
    FromContext,
    Named(String),
    All,
}

/// What the Kubernetes source watches, as the command line says it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KubeTarget {
    /// A kubeconfig file (`--kubeconfig`); else `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; the current context when None.
    pub context: Option<String>,
    pub namespaces: Namespaces,
}

impl KubeTarget {
    /// How the header names the source before it has connected.
    pub fn label(&self) -> String {
        let context = self.context.as_deref().unwrap_or("(current context)");
        let namespace = match &self.namespaces {
            Namespaces::FromContext => "(its namespace)",
            Namespaces::Named(ns) => ns,
            Namespaces::All => "*",
        };
        format!("kube:{context}/{namespace}")
    }
}

/// Why the source could not get a client.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the kubeconfig ({0}); set KUBECONFIG or create ~/.kube/config")]
    Kubeconfig(String),
    #[error("kubeconfig context: {0}")]
    Context(String),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(String),
}

/// A client and what it was resolved to.
pub struct Connected {
    pub client: Client,
    pub context: String,
    /// None: every namespace.
    pub namespace: Option<String>,
}

impl Connected {
    /// `kube:<context>/<namespace or *>`, the report's target.
    pub fn label(&self) -> String {
        format!(
            "kube:{}/{}",
            self.context,
            self.namespace.as_deref().unwrap_or("*")
        )
    }
}

/// The kubeconfig files the client would read: `KUBECONFIG`'s existing
/// files, else `~/.kube/config` when it exists. Empty when there is none,
/// which is what decides whether the source starts on its own.
pub fn kubeconfig_paths() -> Vec<PathBuf> {
    match std::env::var_os("KUBECONFIG") {
        Some(value) if !value.is_empty() => std::env::split_paths(&value)
            .filter(|p| p.is_file())
            .collect(),
        _ => std::env::home_dir()
            .map(|h| h.join(".kube").join("config"))
            .filter(|p| p.is_file())
            .into_iter()
            .collect(),
    }
}

/// The user agent of every request: `clusterdeck/<version>`.
pub const USER_AGENT: &str = concat!("clusterdeck/", env!("CARGO_PKG_VERSION"));

/// How long the server keeps one watch request open (`timeoutSeconds`);
/// the watcher then watches again from the last version, without a re-list.
pub const WATCH_SECONDS: u32 = 55;

/// Refuses a kubeconfig that is not a regular file or is over
/// [`KUBECONFIG_BYTES`](crate::bounded::KUBECONFIG_BYTES) before the
/// library reads it whole: the given one, else those `KUBECONFIG` lists,
/// else `~/.kube/config` (a missing file is left to the library's error).
fn check_kubeconfig_files(given: Option<&std::path::Path>) -> Result<(), ConnectError> {
    let paths: Vec<std::path::PathBuf> = match (given, std::env::var_os("KUBECONFIG")) {
        (Some(path), _) => vec![path.to_path_buf()],
        (None, Some(list)) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        (None, None) => dirs::home_dir()
            .map(|home| home.join(".kube").join("config"))
            .into_iter()
            .collect(),
    };
    for path in paths.iter().filter(|p| p.exists()) {
        crate::bounded::check_file(path, crate::bounded::KUBECONFIG_BYTES)
            .map_err(|e| ConnectError::Kubeconfig(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// Reads the kubeconfig and builds a client. `timeout` bounds connecting
/// and writing. Reads are bounded too, but longer: a watch is one long read
/// that the server ends after [`WATCH_SECONDS`], and a large list can take
/// a while on a busy server.
pub async fn connect(target: &KubeTarget, timeout: Duration) -> Result<Connected, ConnectError> {
    let read_timeout = Duration::from_secs(u64::from(WATCH_SECONDS) + 15);
    connect_with(target, timeout, Some(read_timeout)).await
}

/// [`connect`] with its reads bounded by `read_timeout`; None for a
/// followed log, which may stay quiet for as long as its container does.
pub async fn connect_with(
    target: &KubeTarget,
    timeout: Duration,
    read_timeout: Option<Duration>,
) -> Result<Connected, ConnectError> {
    check_kubeconfig_files(target.kubeconfig.as_deref())?;
    let kubeconfig = match &target.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|e| ConnectError::Kubeconfig(e.to_string()))?;
    let context = target
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .ok_or_else(|| ConnectError::Context("no context given and no current-context".into()))?;
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ConnectError::Context(format!("{context}: {e}")))?;
    config.connect_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.read_timeout = read_timeout;
    // Count the read timeout from the request, not from when a pooled
    // connection went idle.
    config.reset_reader_on_write = true;
    // So that API server audit logs and rate limits can tell the console apart.
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    let namespace = match &target.namespaces {
        Namespaces::FromContext => Some(config.default_namespace.clone()),
        Namespaces::Named(ns) => Some(ns.clone()),
        Namespaces::All => None,
    };
    let client = Client::try_from(config).map_err(|e| ConnectError::Client(e.to_string()))?;
    Ok(Connected {
        client,
        context,
        namespace,
    })
}
