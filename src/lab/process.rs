//! One lab process: its config file, how to spawn it so it cannot outlive
//! its parent, and how to kill and reap it.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use super::{LabConfig, LabError, LabMember, LabRole};

pub(super) struct LabProcess {
    pub name: String,
    pub role: LabRole,
    pub port: u16,
    binary: PathBuf,
    /// The command line after the binary (a Redis config file's path, or
    /// an etcd member's flags).
    args: Vec<OsString>,
    log_path: PathBuf,
    /// None before the first spawn and after a kill. A mutex so the lab can be
    /// shared (`&self`) between a console loop and whoever presses "kill".
    child: Mutex<Option<Child>>,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

impl LabProcess {
    pub fn redis(
        dir: &Path,
        binary: &Path,
        name: &str,
        role: LabRole,
        port: u16,
        master_port: Option<u16>,
        config: &LabConfig,
    ) -> Result<LabProcess, LabError> {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).map_err(io(format!("creating {}", data.display())))?;
        let log_path = dir.join(format!("{name}.log"));
        let mut text = common_config(port, &log_path);
        let _ = writeln!(text, "dir {}", data.display());
        // No snapshots on disk, and no 5 s wait before a diskless full sync.
        text.push_str(
            "save \"\"\nappendonly no\nrepl-diskless-sync yes\nrepl-diskless-sync-delay 0\n",
        );
        if let Some(password) = &config.password {
            // Every instance may become a replica after a failover.
            let _ = writeln!(text, "requirepass {password}\nmasterauth {password}");
        }
        if let Some(master) = master_port {
            let _ = writeln!(text, "replicaof 127.0.0.1 {master}");
        }
        Self::new(dir, binary, name, role, port, &text, log_path)
    }

    pub fn sentinel(
        dir: &Path,
        binary: &Path,
        name: &str,
        port: u16,
        master_port: u16,
        config: &LabConfig,
    ) -> Result<LabProcess, LabError> {
        let log_path = dir.join(format!("{name}.log"));
        let mut text = common_config(port, &log_path);
        let _ = writeln!(text, "dir {}", dir.display());
        let master = &config.master_name;
        let _ = writeln!(
            text,
            "sentinel monitor {master} 127.0.0.1 {master_port} {}\n\
             sentinel down-after-milliseconds {master} {}\n\
             sentinel failover-timeout {master} {}\n\
             sentinel parallel-syncs {master} 1",
            config.quorum,
            config.down_after.as_millis(),
            config.failover_timeout.as_millis(),
        );
        if let Some(password) = &config.password {
            let _ = writeln!(text, "sentinel auth-pass {master} {password}");
            if !config.open_sentinels {
                let _ = writeln!(
                    text,
                    "requirepass {password}\nsentinel sentinel-pass {password}"
                );
            }
        }
        Self::new(dir, binary, name, LabRole::Sentinel, port, &text, log_path)
    }

    fn new(
        dir: &Path,
        binary: &Path,
        name: &str,
        role: LabRole,
        port: u16,
        text: &str,
        log_path: PathBuf,
    ) -> Result<LabProcess, LabError> {
        let config_path = dir.join(format!("{name}.conf"));
        std::fs::write(&config_path, text)
            .map_err(io(format!("writing {}", config_path.display())))?;
        let args = vec![config_path.into_os_string()];
        Ok(Self::with_args(binary, name, role, port, args, log_path))
    }

    /// A process started as `binary args...` that writes its own log at
    /// `log_path` (read back for start failures).
    pub fn with_args(
        binary: &Path,
        name: &str,
        role: LabRole,
        port: u16,
        args: Vec<OsString>,
        log_path: PathBuf,
    ) -> LabProcess {
        LabProcess {
            name: name.to_string(),
            role,
            port,
            binary: binary.to_path_buf(),
            args,
            log_path,
            child: Mutex::new(None),
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn member(&self) -> LabMember {
        LabMember {
            name: self.name.clone(),
            role: self.role,
            address: self.address(),
            running: self.is_started() && self.exited().is_none(),
        }
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        // A panic while holding the lock cannot leave a Child half-updated.
        self.child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spawns the process; it gets SIGKILL if the spawning thread dies.
    pub fn spawn(&self) -> Result<(), LabError> {
        let mut command = Command::new(&self.binary);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(io(format!(
            "starting {} for {}",
            self.binary.display(),
            self.name
        )))?;
        *self.child() = Some(child);
        Ok(())
    }

    /// SIGKILL and reap; nothing to do if it is not running.
    pub fn kill(&self) {
        if let Some(mut child) = self.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_started(&self) -> bool {
        self.child().is_some()
    }

    /// The exit status if the process has ended on its own.
    pub fn exited(&self) -> Option<std::process::ExitStatus> {
        self.child()
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last lines of its log, for a start failure.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(3).collect();
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        format!("log {}: {}", self.log_path.display(), tail.join(" | "))
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn common_config(port: u16, log_path: &Path) -> String {
    format!(
        "port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\nlogfile {}\n",
        log_path.display()
    )
}

/// The binary's path, or the install hint.
pub(super) fn find_binary(binary: &'static str) -> Result<PathBuf, LabError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .ok_or(LabError::Missing { binary })
}

/// `count` distinct free ports: all held open at once so none repeats.
pub(super) fn free_ports(count: usize) -> Result<Vec<u16>, LabError> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io("finding free ports"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(io("finding free ports"))
}
