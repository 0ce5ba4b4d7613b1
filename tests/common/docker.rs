//! The machine's real Docker Engine for the tests, without a registry.
//!
//! - [`test_image`]: an image built locally, once per content (its tag is a
//!   hash of what goes in) by the labs' own builder
//!   (`clusterdeck::lab::image`): a static busybox, the host's
//!   `redis-server` and `redis-cli` with their shared libraries. Nothing is
//!   ever pulled.
//! - [`DockerTest`]: one test's resources (containers, networks, services),
//!   all named uniquely and labelled `clusterdeck.test=<run>`, removed when it
//!   is dropped, even when the test fails; resources of test processes that
//!   died are swept at the next start.
//!
//! A missing `docker`, engine, busybox or Redis fails the test with what to
//! install. Networks always get an explicit private subnet.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What to install when something is missing (Debian).
pub const INSTALL_HINT: &str = "apt-get install -y docker.io busybox-static redis-server redis-tools (and a running Docker Engine)";

/// The label on everything a test creates.
pub const TEST_LABEL: &str = "clusterdeck.test";
const PID_LABEL: &str = "clusterdeck.test.pid";

/// Runs `docker ARGS`; panics with its stderr on failure.
pub fn docker(args: &[&str]) -> String {
    try_docker(args).unwrap_or_else(|e| panic!("docker {}: {e}", args.join(" ")))
}

/// Runs `docker ARGS`; stdout, or stderr as the error.
pub fn try_docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run docker ({e}); install it: {INSTALL_HINT}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Fails the test unless the engine answers.
pub fn require_engine() {
    if let Err(e) = try_docker(&["version", "--format", "{{.Server.Version}}"]) {
        panic!("the Docker Engine does not answer: {e}\ninstall and start it: {INSTALL_HINT}");
    }
}

/// The test image, built once per process (and once per content on the
/// machine) by the same builder the labs use: a static busybox and the
/// host's `redis-server` and `redis-cli` with their libraries. Its id.
pub fn test_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        require_engine();
        let recipe = clusterdeck::lab::image::Recipe {
            name: "clusterdeck-test-redis",
            binaries: &["redis-server", "redis-cli"],
            hint: INSTALL_HINT,
            changes: &[
                "EXPOSE 6379/tcp",
                "WORKDIR /data",
                r#"CMD ["redis-server", "--protected-mode", "no", "--save", ""]"#,
            ],
        };
        // The builder is async and tests call this from inside a runtime
        // and outside one: it gets a thread and a runtime of its own.
        std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    let docker = bollard::Docker::connect_with_local_defaults()
                        .map_err(|e| format!("{e}; {INSTALL_HINT}"))?;
                    clusterdeck::lab::image::local(&docker, &recipe, Duration::from_secs(120)).await
                })
            })
            .join()
            .expect("the image builder")
        })
        .unwrap_or_else(|e| panic!("cannot build the test image: {e}"))
    })
}

/// The id of an image (services name images by id so no pull is tried).
pub fn image_id(tag: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", tag])
}

/// One test's resources on the engine.
pub struct DockerTest {
    pub run: String,
    containers: Vec<String>,
    networks: Vec<String>,
    services: Vec<String>,
}

impl DockerTest {
    pub fn new(name: &str) -> DockerTest {
        require_engine();
        sweep_dead_runs();
        DockerTest {
            run: format!(
                "cdt-{name}-{}-{:04x}",
                std::process::id(),
                fastrand::u16(..)
            ),
            containers: Vec::new(),
            networks: Vec::new(),
            services: Vec::new(),
        }
    }

    fn labels(&self) -> Vec<String> {
        vec![
            "--label".into(),
            format!("{TEST_LABEL}={}", self.run),
            "--label".into(),
            format!("{PID_LABEL}={}", std::process::id()),
        ]
    }

    /// A network with its own private subnet; returns (name, subnet prefix
    /// such as `10.214.37`). Overlays are attachable.
    pub fn network(&mut self, driver: &str) -> (String, String) {
        self.network_named("net", driver, driver == "overlay", "10.214")
    }

    /// A Swarm overlay, attachable or not, in `10.215.x.0/24`.
    pub fn overlay(&mut self, name: &str, attachable: bool) -> (String, String) {
        self.network_named(name, "overlay", attachable, "10.215")
    }

    fn network_named(
        &mut self,
        name: &str,
        driver: &str,
        attachable: bool,
        base: &str,
    ) -> (String, String) {
        let name = format!("{}-{name}", self.run);
        let mut last = String::new();
        for _ in 0..20 {
            let prefix = format!("{base}.{}", fastrand::u8(1..250));
            let mut args: Vec<String> = vec![
                "network".into(),
                "create".into(),
                "--driver".into(),
                driver.into(),
            ];
            if attachable {
                args.push("--attachable".into());
            }
            args.extend(["--subnet".into(), format!("{prefix}.0/24")]);
            args.extend(self.labels());
            args.push(name.clone());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            match try_docker(&refs) {
                Ok(_) => {
                    self.networks.push(name.clone());
                    return (name, prefix);
                }
                Err(e) if e.contains("overlap") => last = e,
                Err(e) => panic!("docker network create: {e}"),
            }
        }
        panic!("no free private subnet: {last}");
    }

    /// `docker run -d` with the test's labels; `name` is made unique.
    pub fn run(&mut self, name: &str, options: &[&str], command: &[&str]) -> String {
        let full = format!("{}-{name}", self.run);
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), full.clone()];
        args.extend(self.labels());
        args.extend(options.iter().map(|s| s.to_string()));
        args.push(test_image().to_string());
        args.extend(command.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&refs);
        self.containers.push(full.clone());
        full
    }

    /// `docker service create` from the test image, by id.
    pub fn service(
        &mut self,
        name: &str,
        replicas: u32,
        options: &[&str],
        command: &[&str],
    ) -> String {
        let full = format!("{}-{name}", self.run);
        let mut args: Vec<String> = vec![
            "service".into(),
            "create".into(),
            "--detach".into(),
            "--no-resolve-image".into(),
            "--name".into(),
            full.clone(),
            "--replicas".into(),
            replicas.to_string(),
        ];
        args.extend(self.labels());
        args.extend([
            "--container-label".into(),
            format!("{TEST_LABEL}={}", self.run),
            "--container-label".into(),
            format!("{PID_LABEL}={}", std::process::id()),
        ]);
        args.extend(options.iter().map(|s| s.to_string()));
        args.push(image_id(test_image()));
        args.extend(command.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&refs);
        self.services.push(full.clone());
        full
    }

    /// A container's IPv4 address on `network`.
    pub fn ip(&self, container: &str, network: &str) -> String {
        let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        docker(&["inspect", "--format", &format, container])
    }

    /// Aliases of a container on `network`, sorted.
    pub fn aliases(&self, container: &str, network: &str) -> Vec<String> {
        let format =
            format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}");
        let json = docker(&["inspect", "--format", &format, container]);
        let mut list: Vec<String> = serde_json::from_str(&json).unwrap_or_default();
        list.sort();
        list
    }

    /// The networks a container is on.
    pub fn networks_of(&self, container: &str) -> Vec<String> {
        let json = docker(&[
            "inspect",
            "--format",
            "{{json .NetworkSettings.Networks}}",
            container,
        ]);
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&json).unwrap_or_default();
        map.keys().cloned().collect()
    }
}

/// Polls `cond` until it holds or `within` passes; panics naming `what`.
pub fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for DockerTest {
    fn drop(&mut self) {
        remove_labelled(&format!("{TEST_LABEL}={}", self.run));
    }
}

/// Removes every service, container and network carrying `label`.
pub fn remove_labelled(label: &str) {
    let filter = format!("label={label}");
    if let Ok(services) = try_docker(&["service", "ls", "-q", "--filter", &filter]) {
        for s in services.split_whitespace() {
            let _ = try_docker(&["service", "rm", s]);
        }
    }
    if let Ok(ids) = try_docker(&["ps", "-aq", "--filter", &filter]) {
        for id in ids.split_whitespace() {
            let _ = try_docker(&["rm", "-f", "-v", id]);
        }
    }
    if let Ok(ids) = try_docker(&["network", "ls", "-q", "--filter", &filter]) {
        for id in ids.split_whitespace() {
            // Service tasks let go of a network a moment after the service goes.
            let end = Instant::now() + Duration::from_secs(20);
            while try_docker(&["network", "rm", id]).is_err() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

/// Removes resources of test processes that are not running any more (a
/// test killed before its guards ran). The process is read from the pid
/// label, or from the run's name (`cdt-<test>-<pid>-<n>`) for what carries
/// only the run label (a service's task containers, once the service went
/// with the Swarm).
fn sweep_dead_runs() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let format = format!("{{{{.Label \"{TEST_LABEL}\"}}}}");
        let mut runs = Vec::new();
        for kind in [["ps", "-a"], ["network", "ls"], ["service", "ls"]] {
            if let Ok(out) = try_docker(&[
                kind[0],
                kind[1],
                "--filter",
                &format!("label={TEST_LABEL}"),
                "--format",
                &format,
            ]) {
                runs.extend(out.lines().map(str::to_string));
            }
        }
        runs.sort();
        runs.dedup();
        for run in runs {
            let pid = run.rsplit('-').nth(1).and_then(|p| p.parse::<i32>().ok());
            let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if pid.is_some() && !alive {
                remove_labelled(&format!("{TEST_LABEL}={run}"));
            }
        }
    });
}

/// The engine in Swarm mode for as long as a test needs it. Several tests
/// (in this process or in other test processes) may hold it at once: each
/// holds a shared lock on a file; the first that finds the engine outside a
/// Swarm joins it (`docker swarm init --advertise-addr 127.0.0.1`) and leaves
/// a mark; the last one out, if the mark says tests made the Swarm, leaves
/// it again. A Swarm the machine was already in is never left.
pub struct SwarmGuard {
    _shared: std::fs::File,
}

fn swarm_lock_path() -> PathBuf {
    std::env::temp_dir().join("clusterdeck-test-swarm.lock")
}

fn swarm_mark_path() -> PathBuf {
    std::env::temp_dir().join("clusterdeck-test-swarm.joined")
}

fn swarm_state() -> String {
    docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"])
}

fn open_swarm_lock() -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(swarm_lock_path())
        .expect("the Swarm lock file")
}

impl SwarmGuard {
    pub fn enter() -> SwarmGuard {
        require_engine();
        let shared = open_swarm_lock();
        shared
            .lock_shared()
            .expect("shared lock on the Swarm lock file");
        if swarm_state() != "active" {
            std::fs::write(swarm_mark_path(), b"made by clusterdeck tests\n").unwrap();
            if let Err(e) = try_docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]) {
                // Another test process may have joined it at the same moment.
                assert_eq!(
                    swarm_state(),
                    "active",
                    "the engine refused `docker swarm init --advertise-addr 127.0.0.1`: {e}"
                );
            }
        }
        SwarmGuard { _shared: shared }
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        // Our shared lock goes with `self._shared` only after this body, so
        // take the exclusive lock on a second handle once it is released.
        let _ = self._shared.unlock();
        let exclusive = open_swarm_lock();
        if exclusive.try_lock().is_ok() && swarm_mark_path().exists() {
            let _ = try_docker(&["swarm", "leave", "--force"]);
            // Swarm made it for overlays; it is not ours to keep.
            let _ = try_docker(&["network", "rm", "docker_gwbridge"]);
            let _ = std::fs::remove_file(swarm_mark_path());
        }
    }
}
