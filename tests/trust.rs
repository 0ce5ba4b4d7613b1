//! What the console trusts and what it does not: cluster text that carries
//! terminal sequences, passwords, where credentials go, and TLS. Real
//! redis-server and redis-sentinel processes, the real binary.

mod common;

use std::time::Duration;

use common::pty::PtyConsole;

/// A master name that would set the window title, ring the bell and clear
/// the screen if it reached a terminal raw.
const HOSTILE: &str = "ev\x1b]0;pwned\x07il\x1b[2J";
/// The same, as the operator must see it.
const SHOWN: &str = "ev\\e]0;pwned\\x07il\\e[2J";

/// Makes the lab's Sentinel monitor a second master under a hostile name.
async fn monitor_hostile_name(lab: &clusterdeck::lab::RedisLab) -> String {
    let sentinel = lab.sentinel_urls()[0].clone();
    let master = lab.address_of("master").unwrap();
    let (host, port) = master.rsplit_once(':').unwrap();
    let client = redis::Client::open(sentinel.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SENTINEL")
        .arg("MONITOR")
        .arg(HOSTILE)
        .arg(host)
        .arg(port)
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    sentinel
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_master_name_is_shown_escaped_in_the_table() {
    let lab = common::lab(common::config(0, 1)).await;
    let sentinel = monitor_hostile_name(&lab).await;
    let (code, stdout, stderr) = common::run_clusterdeck(
        &[
            "snapshot",
            "-o",
            "table",
            "--sentinel",
            &sentinel,
            "--interval",
            "200ms",
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains(SHOWN), "{stdout}");
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\x07'),
        "{stdout:?}"
    );
    // JSON keeps the real name (serde escapes it).
    let (_, json, _) = common::run_clusterdeck(&["snapshot", "--sentinel", &sentinel], &[]).await;
    assert!(
        json.contains(r"ev\u001b]0;pwned\u0007il\u001b[2J"),
        "{json}"
    );
}

#[test]
fn a_hostile_master_name_is_shown_escaped_on_the_console() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lab = runtime.block_on(common::lab(common::config(0, 1)));
    let sentinel = runtime.block_on(monitor_hostile_name(&lab));
    let state = tempfile::tempdir().unwrap();
    let mut console = PtyConsole::spawn(
        &["--sentinel", &sentinel, "--interval", "200ms"],
        140,
        36,
        &[("CLUSTERDECK_STATE_DIR", state.path().to_str().unwrap())],
    );
    let screen = console.wait_for_text(SHOWN, Duration::from_secs(30));
    // `ESC [ 2 J` did not clear the screen: the header is still there.
    assert!(screen.contains("clusterdeck"), "{screen}");
    console.send("q");
    console.wait_exit(Duration::from_secs(10));
    assert!(console.is_cooked());
    drop(lab);
}

/// A redis-server of the test's own, killed when dropped.
struct Server {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Starts `redis-server` bound to `ip:port` with `args`, and waits until the
/// port accepts connections.
fn server(ip: &str, port: u16, args: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new("redis-server")
        .args(["--bind", ip, "--save", "", "--appendonly", "no"])
        .args(["--dir", dir.path().to_str().unwrap()])
        .args(["--logfile", dir.path().join("log").to_str().unwrap()])
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .spawn()
        .expect("redis-server is installed");
    let server = Server { child, _dir: dir };
    let end = std::time::Instant::now() + Duration::from_secs(10);
    let listen = args
        .iter()
        .position(|a| *a == "--tls-port")
        .map_or(port, |i| args[i + 1].parse().unwrap());
    while std::net::TcpStream::connect((ip, listen)).is_err() {
        assert!(
            std::time::Instant::now() < end,
            "redis-server on {ip}:{listen} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// `INFO section` of the server at `url`, through a connection of its own.
async fn info(url: &str, section: &str) -> String {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("INFO")
        .arg(section)
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// How many AUTH commands the server at `url` has run (this look's included).
async fn auth_calls(url: &str) -> u64 {
    let stats = info(url, "commandstats").await;
    let line = stats.lines().find(|l| l.starts_with("cmdstat_auth:"));
    let calls = line.and_then(|l| l.split("calls=").nth(1)?.split(',').next()?.parse().ok());
    calls.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comma_in_a_password_neither_splits_the_url_nor_leaks() {
    let port = free_port("127.0.0.1");
    let url = format!("redis://:Head,TailSecret@127.0.0.1:{port}");
    for env in [true, false] {
        let (_, stdout, stderr) = if env {
            common::run_clusterdeck(&["snapshot"], &[("REDIS_URL", url.as_ref())]).await
        } else {
            common::run_clusterdeck(&["snapshot", "--redis", &url], &[]).await
        };
        let all = format!("{stdout}{stderr}");
        assert!(
            !all.contains("TailSecret") && !all.contains("Head"),
            "{all}"
        );
        let doc: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
        assert_eq!(doc["sources"].as_array().unwrap().len(), 1, "{doc:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unparseable_url_is_refused_without_its_password() {
    for url in ["app:hunter2@h:99999", "redis://app:hun@ter2@[::1"] {
        let (code, stdout, stderr) =
            common::run_clusterdeck(&["snapshot", "--redis", url], &[]).await;
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("clusterdeck: --redis"), "{stderr}");
        assert!(!format!("{stdout}{stderr}").contains("ter2"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_come_from_a_file_or_the_environment() {
    let secret = "file-secret-81x";
    let port = free_port("127.0.0.1");
    let _redis = server("127.0.0.1", port, &["--requirepass", secret]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let address = format!("127.0.0.1:{port}");
    let with_file = [
        "snapshot",
        "--redis",
        &address,
        "--password-file",
        file.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = common::run_clusterdeck(&with_file, &[]).await;
    assert_eq!(code, 0, "{stderr}{stdout}");
    assert!(!stdout.contains(secret), "{stdout}");
    let env = [("REDIS_PASSWORD", secret.as_ref())];
    let (code, _, stderr) = common::run_clusterdeck(&["snapshot", "--redis", &address], &env).await;
    assert_eq!(code, 0, "{stderr}");
    // Without either, the server refuses: the password did come from them.
    let (code, _, _) = common::run_clusterdeck(&["snapshot", "--redis", &address], &[]).await;
    assert_eq!(code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_go_only_to_allowed_addresses() {
    let secret = "allow-secret-55q";
    let (master_port, replica_port) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    let trap_port = free_port("127.0.0.2");
    let auth = ["--requirepass", secret, "--masterauth", secret];
    let _master = server("127.0.0.1", master_port, &auth);
    // The trap listens where the replica claims to be, with the same password
    // (so an AUTH would succeed and be counted).
    let trap = server("127.0.0.2", trap_port, &auth);
    let (master_s, trap_s) = (master_port.to_string(), trap_port.to_string());
    let mut replica_args = auth.to_vec();
    replica_args.extend(["--replicaof", "127.0.0.1", &master_s]);
    replica_args.extend(["--replica-announce-ip", "127.0.0.2"]);
    replica_args.extend(["--replica-announce-port", &trap_s]);
    let _replica = server("127.0.0.1", replica_port, &replica_args);
    let master_url = format!("redis://:{secret}@127.0.0.1:{master_port}");
    let trap_url = format!("redis://:{secret}@127.0.0.2:{trap_port}");
    let announced = format!("127.0.0.2:{trap_port}");
    // Wait until the master lists the replica at its announced address.
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while !info(&master_url, "replication")
        .await
        .contains("ip=127.0.0.2")
    {
        assert!(
            std::time::Instant::now() < end,
            "the replica never attached"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each look at the trap is one AUTH of the test's own.
    assert_eq!(auth_calls(&trap_url).await, 1);
    let args = ["snapshot", "--redis", &master_url, "--interval", "200ms"];
    let (_, stdout, stderr) = common::run_clusterdeck(&args, &[]).await;
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let members = doc["clusters"][0]["members"].as_array().unwrap();
    let shown = members
        .iter()
        .find(|m| m.to_string().contains(&announced))
        .unwrap_or_else(|| panic!("{announced} not shown: {doc:#}"));
    assert!(
        shown["error"].as_str().unwrap_or("").contains("not probed"),
        "{shown:#}"
    );
    // Not probed says nothing of its health: not DOWN.
    assert_eq!(shown["health"], "unknown", "{shown:#}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    // The trap's own count: no AUTH but the test's two.
    assert_eq!(
        auth_calls(&trap_url).await,
        2,
        "the console sent AUTH to {announced}"
    );
    // Allowed explicitly, it is probed (with the password).
    let allowed = [
        "snapshot",
        "--redis",
        &master_url,
        "--allow-net",
        "127.0.0.2/32",
    ];
    let (_, stdout, stderr) = common::run_clusterdeck(&allowed, &[]).await;
    assert!(!stdout.contains("not probed"), "{stdout}{stderr}");
    assert!(auth_calls(&trap_url).await >= 4);
    drop(trap);
}

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it
/// signed, and a second, unrelated CA.
fn certificates(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (key, crt, subj) = (
            format!("{ca}.key"),
            format!("{ca}.crt"),
            format!("/CN={ca}"),
        );
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subj];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &crt]);
        openssl(dir, &args);
    }
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for who in ["server", "client"] {
        let (key, csr, crt, ext) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("{who}.crt"),
            format!("{who}.ext"),
        );
        let subj = format!("/CN={who}");
        let mut args = vec!["req", "-new", "-subj", &subj];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ],
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_ca_file_and_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let port = free_port("127.0.0.1");
    let tls_port = port.to_string();
    let _server = server(
        "127.0.0.1",
        0,
        &[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &file("server.crt"),
            "--tls-key-file",
            &file("server.key"),
            "--tls-ca-cert-file",
            &file("ca.crt"),
        ],
    );
    let url = format!("rediss://127.0.0.1:{port}");
    let (ca, other_ca, cert, key) = (
        file("ca.crt"),
        file("other-ca.crt"),
        file("client.crt"),
        file("client.key"),
    );
    let client = ["--tls-cert", cert.as_str(), "--tls-key", key.as_str()];
    let snapshot = |extra: Vec<&str>| {
        let mut args = vec!["snapshot", "--redis", url.as_str()];
        args.extend(extra);
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::run_clusterdeck(&args, &[]).await
        }
    };
    let mut with_ca = vec!["--tls-ca", ca.as_str()];
    with_ca.extend(client);
    let (code, stdout, stderr) = snapshot(with_ca).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    // A CA that did not sign the server's certificate.
    let mut wrong = vec!["--tls-ca", other_ca.as_str()];
    wrong.extend(client);
    let (code, stdout, _) = snapshot(wrong).await;
    assert_eq!(code, 1);
    let error = source_error(&stdout);
    assert!(error.contains("certificate"), "{error}");
    // No client certificate, which the server requires.
    let (code, stdout, _) = snapshot(vec!["--tls-ca", ca.as_str()]).await;
    assert_eq!(code, 1);
    let error = source_error(&stdout);
    assert!(error.contains("client certificate"), "{error}");
    // Verification off, and only when asked by name.
    let mut insecure = vec!["--tls-insecure"];
    insecure.extend(client);
    let (code, stdout, stderr) = snapshot(insecure).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let fragment = format!("{url}#insecure");
    let (code, _, stderr) = common::run_clusterdeck(&["snapshot", "--redis", &fragment], &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--tls-insecure"), "{stderr}");
}

/// The first source's error in a JSON snapshot.
fn source_error(stdout: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(stdout).expect(stdout);
    doc["sources"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn skipping_tls_verification_is_shown_in_the_header() {
    let state = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1").to_string();
    let url = format!("rediss://127.0.0.1:{port}");
    let mut console = PtyConsole::spawn(
        &["--redis", &url, "--tls-insecure"],
        120,
        30,
        &[("CLUSTERDECK_STATE_DIR", state.path().to_str().unwrap())],
    );
    console.wait_for_text("TLS NOT VERIFIED (--tls-insecure)", Duration::from_secs(20));
    console.send("q");
    console.wait_exit(Duration::from_secs(10));
}
