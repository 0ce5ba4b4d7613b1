//! Logs go to a file, never to the terminal the UI draws on. The level comes
//! from `CLUSTERDECK_LOG` (tracing's filter syntax), `info` by default.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Context, Result};
use tracing_subscriber::EnvFilter;

/// Starts logging to `path` (appending); returns the path used.
pub fn init(path: Option<&Path>) -> Result<PathBuf> {
    let path = path.map_or_else(
        || crate::paths::state_dir().join("clusterdeck.log"),
        Path::to_path_buf,
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .wrap_err_with(|| format!("cannot create log directory {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .wrap_err_with(|| format!("cannot open log file {}", path.display()))?;
    let wanted = std::env::var("CLUSTERDECK_LOG").unwrap_or_else(|_| "info".into());
    // bollard logs whole engine responses at debug, container environments
    // (and so passwords) included: kept at warn unless asked for by name.
    let directives = if wanted.contains("bollard") {
        wanted
    } else {
        format!("{wanted},bollard=warn")
    };
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,bollard=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .ok();
    Ok(path)
}
