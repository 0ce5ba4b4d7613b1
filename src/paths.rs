//! Where the console keeps its files: logs, the audit log, the fault ledger.

use std::path::PathBuf;

/// `$CLUSTERDECK_STATE_DIR`, else the user's state directory
/// (`$XDG_STATE_HOME/clusterdeck`, `~/.local/state/clusterdeck`), else the
/// temporary directory.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLUSTERDECK_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("clusterdeck")
}
