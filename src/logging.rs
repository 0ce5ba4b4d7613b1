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
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .wrap_err_with(|| format!("cannot open log file {}", path.display()))?;
    // A file that cannot be written (a full disk, /dev/full) is said now,
    // before the screen is up, not on the screen later.
    let opened = format!(
        "--- clusterdeck {} (pid {}) opens this log\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    std::io::Write::write_all(&mut file, opened.as_bytes())
        .and_then(|()| file.sync_data().or_else(ignore_unsupported))
        .wrap_err_with(|| format!("cannot write log file {}", path.display()))?;
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
        // The terminal belongs to the UI: a failed write to the log file
        // must not be reported there.
        .log_internal_errors(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .ok();
    Ok(path)
}

/// `fsync` of a device or pipe may be unsupported; that is not a failure.
fn ignore_unsupported(e: std::io::Error) -> std::io::Result<()> {
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::EROFS) => Ok(()),
        _ => Err(e),
    }
}
