//! `e`: an interactive shell in the selected member, run in the console's
//! own terminal while the console is suspended.
//!
//! Which program:
//! - a container: `docker exec -it <id> sh` through the docker CLI. The CLI
//!   already does what an interactive session needs and bollard would make
//!   us rewrite: raw mode on the tty, window size and its changes
//!   (SIGWINCH), the detach keys, the exit code. `DOCKER_HOST` is the
//!   console's engine.
//! - a pod: `kubectl exec -it -n NS POD -- sh`, on the console's kubeconfig
//!   (`KUBECONFIG`) and context;
//! - no container: `redis-cli -h H -p P` for Redis, `psql -h H -p P` for
//!   PostgreSQL, and for etcd a local `sh` with `ETCDCTL_ENDPOINTS` set
//!   (etcdctl is not interactive).
//!
//! Credentials go through the environment (`REDISCLI_AUTH`, `PGPASSWORD`),
//! never argv, where any user of the machine could read them in `ps`.
//! A shell can change anything, so `e` asks y/N first, is logged, and does
//! not exist under `--read-only`.

use std::path::{Path, PathBuf};

use super::switchover::backend::{ProbeLogin, RedisLogin};
use crate::model::{Cluster, Member};
use crate::sources::inspect::Subject;

/// What the shell opens in, from the member alone (the confirm dialog's
/// command is completed by [`ShellCommand::plan`] with the session's platforms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellTarget {
    Container { id: String, name: String },
    Pod { namespace: String, pod: String },
    Redis { cluster: String, address: String },
    Etcd { address: String },
    Postgres { address: String },
}

impl ShellTarget {
    /// The shell `member` of `cluster` offers, or why it offers none.
    pub fn of(member: &Member, cluster: &Cluster) -> Result<ShellTarget, String> {
        match Subject::of(member) {
            Subject::Container { id, name } => return Ok(ShellTarget::Container { id, name }),
            Subject::SwarmTask {
                container: Some(id),
                name,
                ..
            } => return Ok(ShellTarget::Container { id, name }),
            Subject::SwarmTask { name, .. } => {
                return Err(format!(
                    "a shell needs the task's container; {name} runs on another Swarm node"
                ));
            }
            Subject::Pod { namespace, pod } => return Ok(ShellTarget::Pod { namespace, pod }),
            Subject::Facts { .. } => {}
        }
        let address = member.address.clone().ok_or_else(|| {
            format!(
                "{} has no container, pod or address to open a shell on",
                member.name
            )
        })?;
        match cluster.kind.as_str() {
            "redis" => Ok(ShellTarget::Redis {
                cluster: cluster.id.clone(),
                address,
            }),
            "etcd" => Ok(ShellTarget::Etcd { address }),
            "postgres" => Ok(ShellTarget::Postgres { address }),
            other => Err(format!(
                "a shell needs a container or pod, or a Redis, etcd or PostgreSQL member; \
                 {} is a {other} member known only through its application",
                member.name
            )),
        }
    }
}

/// What the session can give a shell: the engine, the Kubernetes
/// target, the applications' credentials. Filled by the app loop.
#[derive(Debug, Clone, Default)]
pub struct ShellAccess {
    pub docker_host: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub kube_context: Option<String>,
    /// For Redis: the login of the source that watches it.
    pub redis: Option<RedisLogin>,
    /// For etcd and PostgreSQL: the login of the probe of that kind.
    pub probe: Option<ProbeLogin>,
}

/// A program to run in the terminal: what it is shown as, and the
/// environment it gets (values never shown, logged or put in argv).
#[derive(Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// The member's name, for the dialog and the log.
    pub member: String,
    pub program: String,
    pub args: Vec<String>,
    /// Names shown; values kept out of sight.
    pub env: Vec<(String, String)>,
    /// Environment entries that are not secret and are shown with their value.
    pub shown_env: Vec<(String, String)>,
}

impl std::fmt::Debug for ShellCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellCommand")
            .field("member", &self.member)
            .field("command", &self.shown())
            .finish()
    }
}

impl ShellCommand {
    /// The command line as the dialog and the log show it: public
    /// variables with their value, secret ones by name only.
    pub fn shown(&self) -> String {
        let mut words: Vec<String> = self
            .shown_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        words.extend(self.env.iter().map(|(k, _)| format!("{k}=…")));
        words.push(self.program.clone());
        words.extend(self.args.iter().map(|a| quote(a)));
        words.join(" ")
    }
}

impl ShellCommand {
    /// The command for `target`, with what `access` gives ([`ShellCommand::check`]
    /// then says whether its program is there).
    pub fn plan(
        member: &str,
        target: &ShellTarget,
        access: &ShellAccess,
    ) -> Result<ShellCommand, String> {
        let mut command = ShellCommand {
            member: member.to_string(),
            program: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            shown_env: Vec::new(),
        };
        match target {
            ShellTarget::Container { id, .. } => {
                command.program = "docker".into();
                command.args = words(&["exec", "-it", id, "sh"]);
                if let Some(host) = &access.docker_host {
                    command.shown_env.push(("DOCKER_HOST".into(), host.clone()));
                }
            }
            ShellTarget::Pod { namespace, pod } => kubectl(&mut command, namespace, pod, access)?,
            ShellTarget::Redis { address, .. } => redis_cli(&mut command, address, access)?,
            ShellTarget::Etcd { address } => {
                let scheme = access.probe.as_ref().map_or("http", |p| p.scheme.as_str());
                command.program = "sh".into();
                command.shown_env = vec![
                    ("ETCDCTL_API".into(), "3".into()),
                    ("ETCDCTL_ENDPOINTS".into(), format!("{scheme}://{address}")),
                ];
            }
            ShellTarget::Postgres { address } => psql(&mut command, address, access)?,
        }
        Ok(command)
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

fn kubectl(
    command: &mut ShellCommand,
    namespace: &str,
    pod: &str,
    access: &ShellAccess,
) -> Result<(), String> {
    command.program = "kubectl".into();
    if let Some(context) = &access.kube_context {
        command.args = words(&["--context", context]);
    }
    command
        .args
        .extend(words(&["exec", "-it", "-n", namespace, pod, "--", "sh"]));
    if let Some(path) = &access.kubeconfig {
        let path = path.to_string_lossy().into_owned();
        command.shown_env.push(("KUBECONFIG".into(), path));
    }
    Ok(())
}

fn redis_cli(
    command: &mut ShellCommand,
    address: &str,
    access: &ShellAccess,
) -> Result<(), String> {
    let (host, port) = split(address)?;
    command.program = "redis-cli".into();
    command.args = words(&["-h", host, "-p", port]);
    if let Some(login) = &access.redis {
        if login.tls {
            command.args.push("--tls".into());
        }
        if let Some(user) = &login.user {
            command.args.extend(words(&["--user", user]));
        }
        if let Some(password) = &login.password {
            command.env.push(("REDISCLI_AUTH".into(), password.clone()));
        }
    }
    Ok(())
}

fn psql(command: &mut ShellCommand, address: &str, access: &ShellAccess) -> Result<(), String> {
    let (host, port) = split(address)?;
    command.program = "psql".into();
    command.args = words(&["-h", host, "-p", port]);
    if let Some(login) = &access.probe {
        if let Some(user) = &login.user {
            command.args.extend(words(&["-U", user]));
        }
        if let Some(password) = &login.password {
            command.env.push(("PGPASSWORD".into(), password.clone()));
        }
    }
    Ok(())
}

/// `host:port` (an IPv6 host in brackets) into its parts.
fn split(address: &str) -> Result<(&str, &str), String> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("{address} is not host:port"))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']'), port))
}

impl ShellCommand {
    /// Whether the program is on `PATH`; the error names it and the member.
    pub fn check(&self) -> Result<(), String> {
        let why = format!("a shell in {}", self.member);
        // The etcd shell is a plain `sh` that is only useful with etcdctl.
        let etcd = self.shown_env.iter().any(|(k, _)| k == "ETCDCTL_ENDPOINTS");
        let program = if etcd { "etcdctl" } else { &self.program };
        on_path(program, &why).map(|_| ())
    }
}

/// A word as a shell would need it typed.
fn quote(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c));
    if plain && !word.is_empty() {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `program` found on `PATH`, or a message naming it and what needs it.
pub fn on_path(program: &str, why: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .ok_or_else(|| format!("{why} needs `{program}` on PATH; install it (it is not here)"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What the session's platforms and sources give a shell on `target`.
pub fn shell_access(platforms: &super::Platforms, target: &ShellTarget) -> ShellAccess {
    let kube = platforms.kube.as_ref().map(|k| k.current());
    let host_of = |address: &str| {
        split(address)
            .map(|(h, _)| h.to_string())
            .unwrap_or_default()
    };
    ShellAccess {
        docker_host: platforms.docker.as_ref().map(|h| h.as_str().to_string()),
        kubeconfig: kube.as_ref().and_then(|k| k.kubeconfig.clone()),
        kube_context: kube.and_then(|k| k.context),
        redis: match target {
            ShellTarget::Redis { cluster, address } => platforms.apps.redis_login(cluster, address),
            _ => None,
        },
        probe: match target {
            ShellTarget::Etcd { address } => platforms.apps.probe_login("etcd", &host_of(address)),
            ShellTarget::Postgres { address } => {
                platforms.apps.probe_login("postgres", &host_of(address))
            }
            _ => None,
        },
    }
}

/// Runs `command` on the terminal as it is (the caller gave it back) and
/// waits for it; its exit code, None when a signal ended it.
///
/// The program gets a process group of its own, made the terminal's
/// foreground group, as a shell does for a job: Ctrl-C and Ctrl-\ then
/// reach it and not the console (which would take them for a stop).
/// Ctrl-Z is ignored in it: a stopped child would leave the console waiting.
pub async fn run(command: &ShellCommand) -> std::io::Result<Option<i32>> {
    let mut child = tokio::process::Command::new(&command.program);
    child.args(&command.args);
    for (name, value) in command.shown_env.iter().chain(&command.env) {
        child.env(name, value);
    }
    // SAFETY: isatty(3) on our own stdin.
    let on_terminal = unsafe { libc::isatty(0) } == 1;
    if on_terminal {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            child.pre_exec(|| {
                libc::setpgid(0, 0);
                libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                libc::tcsetpgrp(0, libc::getpid());
                libc::signal(libc::SIGTTOU, libc::SIG_DFL);
                libc::signal(libc::SIGTSTP, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let status = child.status().await;
    if on_terminal {
        take_terminal_back();
    }
    Ok(status?.code())
}

/// Makes the console's process group the terminal's foreground group
/// again (SIGTTOU ignored meanwhile: the call is made from the background).
fn take_terminal_back() {
    // SAFETY: plain libc calls on our own stdin and signal dispositions.
    unsafe {
        let previous = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::tcsetpgrp(0, libc::getpgrp());
        libc::signal(libc::SIGTTOU, previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_password_goes_to_the_environment_only_and_is_never_shown() {
        let access = ShellAccess {
            redis: Some(RedisLogin {
                user: Some("ops".into()),
                password: Some("s3cret".into()),
                tls: true,
            }),
            ..ShellAccess::default()
        };
        let target = ShellTarget::Redis {
            cluster: "redis/127.0.0.1:6379".into(),
            address: "127.0.0.1:6379".into(),
        };
        let command = ShellCommand::plan("r1", &target, &access).unwrap();
        assert_eq!(
            command.args,
            ["-h", "127.0.0.1", "-p", "6379", "--tls", "--user", "ops"]
        );
        assert_eq!(command.env, [("REDISCLI_AUTH".into(), "s3cret".into())]);
        let shown = command.shown();
        assert_eq!(
            shown,
            "REDISCLI_AUTH=… redis-cli -h 127.0.0.1 -p 6379 --tls --user ops"
        );
        assert!(!format!("{command:?}").contains("s3cret"));
    }

    #[test]
    fn a_pod_shell_names_its_context_and_a_missing_program_is_named() {
        let access = ShellAccess {
            kube_context: Some("prod".into()),
            ..ShellAccess::default()
        };
        let target = ShellTarget::Pod {
            namespace: "ag".into(),
            pod: "copy-0".into(),
        };
        let command = ShellCommand::plan("copy-0", &target, &access).unwrap();
        assert_eq!(
            command.shown(),
            "kubectl --context prod exec -it -n ag copy-0 -- sh"
        );
        let missing = on_path("clusterdeck-no-such-program", "a shell in x").unwrap_err();
        assert_eq!(
            missing,
            "a shell in x needs `clusterdeck-no-such-program` on PATH; install it (it is not here)"
        );
    }

    #[test]
    fn odd_words_are_quoted_for_the_dialog() {
        assert_eq!(quote("plain-word_1.2:3"), "plain-word_1.2:3");
        assert_eq!(quote("it's here"), r"'it'\''s here'");
        assert_eq!(quote(""), "''");
    }
}
