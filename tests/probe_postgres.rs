//! The PostgreSQL probe against real PostgreSQL 15 servers (Debian's
//! `postgresql-15`: a primary and streaming standbys started by the test),
//! through the real binary: `snapshot --probe postgres=URL,URL,URL` and
//! `watch --probe ... --events`. What the console shows is compared with
//! what the servers say through psql: who is in recovery, the timeline,
//! the byte distance between WAL positions, the system identifier. A
//! failover, a split brain (a standby promoted beside a running primary)
//! and SCRAM passwords from a file, the environment and PGPASSFILE are
//! exercised, and the password is checked to appear nowhere.

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::etcd::{make_ca, make_tls};
use common::postgres::{Auth, PgCluster};
use common::watch::Watch;
use serde_json::Value;

/// How long the console may take to see what the servers already did.
const SEEN_WITHIN: Duration = Duration::from_secs(30);

/// `clusterdeck snapshot -o json ARGS`: exit code, the document, stderr.
/// PGPASSFILE points nowhere unless `env` says otherwise, so the machine's
/// own ~/.pgpass never answers for a test.
async fn snapshot(args: &[&str], env: &[(&str, &OsStr)]) -> (i32, Value, String) {
    let mut all = vec!["snapshot", "-o", "json", "--interval", "200ms"];
    all.extend_from_slice(args);
    let mut with = vec![("PGPASSFILE", OsStr::new("/nonexistent/pgpass"))];
    with.extend_from_slice(env);
    let (code, stdout, stderr) = common::run_clusterdeck(&all, &with).await;
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("snapshot is not JSON ({e}):\n{stdout}\nstderr: {stderr}"));
    (code, doc, stderr)
}

/// The one PostgreSQL cluster of a snapshot.
fn pg_cluster(doc: &Value) -> &Value {
    let clusters: Vec<&Value> = doc["clusters"]
        .as_array()
        .unwrap_or_else(|| panic!("no clusters: {doc:#}"))
        .iter()
        .filter(|c| c["kind"] == "postgres")
        .collect();
    assert_eq!(clusters.len(), 1, "one postgres cluster: {doc:#}");
    clusters[0]
}

fn members(cluster: &Value) -> &Vec<Value> {
    cluster["members"].as_array().expect("members")
}

fn member_at<'a>(cluster: &'a Value, address: &str) -> &'a Value {
    members(cluster)
        .iter()
        .find(|m| m["address"] == address)
        .unwrap_or_else(|| panic!("no member at {address}: {cluster:#}"))
}

/// An LSN as psql prints it (`0/4010BC8`) in bytes from 0/0.
fn lsn(text: &str) -> u64 {
    let (high, low) = text.split_once('/').expect("an LSN");
    (u64::from_str_radix(high, 16).unwrap() << 32) + u64::from_str_radix(low, 16).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_servers_make_one_cluster_led_by_the_primary_with_standbys_behind_in_bytes() {
    let pg = PgCluster::start("snap", 2, Auth::Trust);
    // node3 receives but does not replay: behind by what it has not applied.
    pg.sql(2, "select pg_wal_replay_pause()");
    pg.sql(0, "create table t as select generate_series(1, 5000) as n");
    let written = pg.sql(0, "select pg_current_wal_lsn()");
    pg.wait_for(
        2,
        &format!("select pg_last_wal_receive_lsn() >= '{written}'"),
        "t",
        "node3 to receive the rows",
    );
    let replayed = lsn(&pg.sql(2, "select pg_last_wal_replay_lsn()"));
    let before = lsn(&pg.sql(0, "select pg_current_wal_lsn()"));
    let probe = pg.probe();
    let (code, doc, stderr) = snapshot(&["--probe", &probe], &[]).await;
    let after = lsn(&pg.sql(0, "select pg_current_wal_lsn()"));
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    assert_eq!(doc["sources"][0]["status"], "ok", "{doc:#}");
    let cluster = pg_cluster(&doc);
    check_three(&pg, cluster);
    // The primary's position minus node3's replay position, as the probe
    // read them while the primary's WAL went from `before` to `after`.
    let paused = member_at(cluster, &pg.endpoint(2));
    let lag = paused["lag"]["value"].as_u64().unwrap();
    assert!(
        before - replayed <= lag && lag <= after - replayed,
        "lag {lag} not within {}..={}: {paused:#}",
        before - replayed,
        after - replayed
    );
    assert!(lag > 0, "{paused:#}");
    assert!(
        paused["raw"]["replay paused"]
            .as_str()
            .is_some_and(|p| p.starts_with("yes")),
        "{paused:#}"
    );

    // Only the primary named: the standbys come from its pg_stat_replication,
    // with the byte lag and state it reports.
    let primary_only = format!("postgres=postgres://postgres@{}", pg.endpoint(0));
    let (code, doc, stderr) = snapshot(&["--probe", &primary_only], &[]).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    let cluster = pg_cluster(&doc);
    assert_eq!(members(cluster).len(), 3, "{cluster:#}");
    for name in ["node2", "node3"] {
        let standby = named(cluster, name);
        assert_eq!(standby["tier"], "copy", "{standby:#}");
        assert_eq!(standby["raw"]["state"], "streaming", "{standby:#}");
        assert_eq!(standby["lag"]["unit"], "bytes", "{standby:#}");
    }
    let node3 = named(cluster, "node3");
    let lag = node3["lag"]["value"].as_u64().expect("node3's lag");
    assert!(lag >= before - replayed, "{node3:#}");
}

fn named<'a>(cluster: &'a Value, name: &str) -> &'a Value {
    members(cluster)
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {cluster:#}"))
}

/// The primary leading on timeline 1, two standbys behind it in bytes,
/// every member with the system identifier, no raft view, no conflict.
fn check_three(pg: &PgCluster, cluster: &Value) {
    assert_eq!(members(cluster).len(), 3, "{cluster:#}");
    let primary = member_at(cluster, &pg.endpoint(0));
    assert_eq!(primary["leader"], true, "{primary:#}");
    assert_eq!(primary["tier"], "master");
    assert_eq!(primary["native_role"], "primary");
    assert_eq!(primary["name"], "node1");
    assert_eq!(primary["term"], 1, "timeline 1: {primary:#}");
    assert_eq!(cluster["leader"], primary["id"], "{cluster:#}");
    for i in [1, 2] {
        let standby = member_at(cluster, &pg.endpoint(i));
        assert_eq!(standby["leader"], false, "{standby:#}");
        assert_eq!(standby["tier"], "copy", "{standby:#}");
        assert_eq!(standby["native_role"], "standby", "{standby:#}");
        assert_eq!(standby["name"], pg.servers[i].name.as_str());
        assert_eq!(standby["health"], "ok", "{standby:#}");
        assert_eq!(standby["term"], 1, "{standby:#}");
        assert_eq!(standby["lag"]["unit"], "bytes", "{standby:#}");
        assert!(standby["lag"]["value"].is_u64(), "{standby:#}");
        assert_eq!(standby["raw"]["upstream"], pg.endpoint(0).as_str());
        let lsn = standby["raw"]["lsn"].as_str().unwrap_or_default();
        assert!(lsn.contains('/'), "{standby:#}");
    }
    let system = pg.sql(0, "select system_identifier from pg_control_system()");
    for member in members(cluster) {
        let shown = &member["raw"]["system identifier"];
        assert_eq!(shown, system.as_str(), "{member:#}");
    }
    let consensus = &cluster["consensus"];
    assert!(consensus.is_null(), "nobody is elected: {cluster:#}");
    assert!(cluster["leaders_conflict"].as_array().unwrap().is_empty());
}

/// `watch --events` on every server of `pg`, once it has seen all three.
async fn watch_all(pg: &PgCluster) -> Watch {
    let probe = pg.probe();
    let mut watch = Watch::spawn(&["--probe", &probe, "--events", "--interval", "200ms"]);
    for _ in 0..3 {
        watch
            .until("member_added", SEEN_WITHIN, |e| e["kind"] == "member_added")
            .await;
    }
    watch
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_promoted_after_the_primary_stopped_is_the_new_leader_on_a_new_timeline() {
    let mut pg = PgCluster::start("failover", 2, Auth::Trust);
    let mut watch = watch_all(&pg).await;
    pg.stop(0);
    pg.promote(1);
    let timeline = pg.sql(
        1,
        "select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int",
    );
    assert_eq!(timeline, "2", "PostgreSQL's own new timeline");
    let change = watch
        .until("leader_changed to node2", SEEN_WITHIN, |e| {
            e["kind"] == "leader_changed" && e["details"]["to"] == pg.endpoint(1).as_str()
        })
        .await;
    let details = &change["details"];
    assert_eq!(details["from"], pg.endpoint(0).as_str(), "{change:#}");
    assert_eq!(details["to_name"], "node2", "{change:#}");
    let conflicts: Vec<&Value> = watch
        .seen
        .iter()
        .filter(|e| e["kind"] == "leaders_conflict")
        .collect();
    assert!(conflicts.is_empty(), "one leader at a time: {conflicts:#?}");
    let streaming = "select count(*) from pg_stat_wal_receiver where status = 'streaming'";
    pg.wait_for(
        2,
        streaming,
        "0",
        "node3 to stop streaming from the stopped primary",
    );
    let (code, doc, stderr) = snapshot(&["--probe", &pg.probe()], &[]).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    let cluster = pg_cluster(&doc);
    let new = member_at(cluster, &pg.endpoint(1));
    assert_eq!(new["leader"], true, "{cluster:#}");
    assert_eq!(new["term"], 2, "the timeline is the term: {new:#}");
    assert_eq!(new["native_role"], "primary", "{new:#}");
    assert_eq!(member_at(cluster, &pg.endpoint(0))["health"], "down");
    // node3 still points at the stopped primary: a standby not streaming.
    let left = member_at(cluster, &pg.endpoint(2));
    assert_eq!(left["native_role"], "standby", "{left:#}");
    assert_ne!(left["raw"]["wal receiver"], "streaming", "{left:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_promoted_beside_a_running_primary_is_a_conflict_naming_both_until_one_stops() {
    let mut pg = PgCluster::start("split", 2, Auth::Trust);
    let mut watch = watch_all(&pg).await;
    let forced = std::time::Instant::now();
    pg.promote(1);
    let (old, new) = (pg.endpoint(0), pg.endpoint(1));
    let conflict = watch
        .until("leaders_conflict", SEEN_WITHIN, |e| {
            e["kind"] == "leaders_conflict"
        })
        .await;
    // The figure of issue #11 (printed, never asserted): pg_promote() to
    // the alarm, at a 200 ms interval.
    println!(
        "figure: split brain (a standby promoted beside its primary) to leaders_conflict: {} ms",
        forced.elapsed().as_millis()
    );
    let mut named: Vec<&str> = conflict["details"]["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members: {conflict:#}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    named.sort();
    let mut both = [old.as_str(), new.as_str()];
    both.sort();
    assert_eq!(named, both, "{conflict:#}");
    // Both servers still say they are not in recovery: the snapshot shows it.
    assert_eq!(pg.sql(0, "select pg_is_in_recovery()"), "f");
    let (code, doc, stderr) = snapshot(&["--probe", &pg.probe()], &[]).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    let cluster = pg_cluster(&doc);
    let mut shown: Vec<&str> = cluster["leaders_conflict"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    shown.sort();
    assert_eq!(shown, both, "{cluster:#}");
    // The newer timeline is the one shown leading; the other disputes it.
    assert_eq!(member_at(cluster, &new)["leader"], true, "{cluster:#}");
    assert!(
        member_at(cluster, &old)["role_dispute"].is_string(),
        "{cluster:#}"
    );

    pg.stop(0);
    let agree = watch
        .until("leaders_agree", SEEN_WITHIN, |e| {
            e["kind"] == "leaders_agree"
        })
        .await;
    assert_eq!(agree["details"]["leader"], new.as_str(), "{agree:#}");
}

/// The password the SCRAM server was made with, and one it does not take.
const PASSWORD: &str = "pg-Scram-pw-4Rt9";
const WRONG: &str = "not-the-pw-Qm27";

/// A SCRAM server, the password files the tests give it, and the log.
struct ScramLab {
    pg: PgCluster,
    dir: tempfile::TempDir,
    probe: String,
    log: String,
}

impl ScramLab {
    fn new() -> ScramLab {
        let pg = PgCluster::start("scram", 0, Auth::Scram(PASSWORD));
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            let file = dir.path().join(name);
            std::fs::write(&file, text).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("right", &format!("{PASSWORD}\n"), 0o600);
        write("wrong", &format!("{WRONG}\n"), 0o600);
        let port = pg.servers[0].port;
        let line = format!("127.0.0.1:{port}:postgres:postgres:{PASSWORD}\n");
        write("pgpass", &line, 0o600);
        write("pgpass-open", &format!("*:*:*:*:{PASSWORD}\n"), 0o644);
        let probe = format!("postgres=postgres://postgres@{}", pg.endpoint(0));
        let log = dir.path().join("clusterdeck.log").display().to_string();
        ScramLab {
            pg,
            dir,
            probe,
            log,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A snapshot with these flags and environment, logging at debug.
    async fn run(&self, extra: &[&str], env: &[(&str, &OsStr)]) -> (i32, Value, String) {
        let mut args = vec!["--probe", &self.probe, "--log-file", &self.log];
        args.extend_from_slice(extra);
        let mut env = env.to_vec();
        env.push(("CLUSTERDECK_LOG", OsStr::new("debug")));
        snapshot(&args, &env).await
    }

    fn error(doc: &Value) -> String {
        doc["sources"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scram_passwords_from_a_file_the_environment_and_pgpassfile_work_and_stay_hidden() {
    let lab = ScramLab::new();
    let (right, pgpass) = (lab.path("right"), lab.path("pgpass"));
    for (what, extra, env) in [
        (
            "a password file",
            vec!["--probe-password-file", &right],
            vec![],
        ),
        (
            "$PROBE_PASSWORD",
            vec![],
            vec![("PROBE_PASSWORD", OsStr::new(PASSWORD))],
        ),
        (
            "PGPASSFILE",
            vec![],
            vec![("PGPASSFILE", OsStr::new(&pgpass))],
        ),
    ] {
        let (code, doc, stderr) = lab.run(&extra, &env).await;
        assert_eq!(code, 0, "{what}: stderr: {stderr}\n{doc:#}");
        assert_eq!(doc["sources"][0]["status"], "ok", "{what}: {doc:#}");
        let primary = member_at(pg_cluster(&doc), &lab.pg.endpoint(0));
        assert_eq!(primary["leader"], true, "{what}: {primary:#}");
        let text = format!("{doc}{stderr}");
        assert!(
            !text.contains(PASSWORD),
            "{what}: the password shown: {text}"
        );
    }
    refusals(&lab).await;
    let logged = std::fs::read_to_string(&lab.log).expect("the log file was written");
    assert!(!logged.is_empty(), "nothing logged at debug");
    assert!(
        !logged.contains(PASSWORD) && !logged.contains(WRONG),
        "{logged}"
    );
}

/// A wrong password, none, and a password file others may read: each one
/// clear line, no password in it.
async fn refusals(lab: &ScramLab) {
    let wrong = lab.path("wrong");
    let (code, doc, stderr) = lab.run(&["--probe-password-file", &wrong], &[]).await;
    assert_eq!(code, 1, "a wrong password fails: {doc:#}");
    let error = ScramLab::error(&doc);
    assert!(
        error.contains("password authentication failed for user \"postgres\"")
            && !error.contains('\n'),
        "one clear line: {error}"
    );
    let text = format!("{doc}{stderr}");
    assert!(!text.contains(WRONG) && !text.contains(PASSWORD), "{text}");

    let (code, doc, _) = lab.run(&[], &[]).await;
    assert_eq!(code, 1, "no password at all: {doc:#}");
    let error = ScramLab::error(&doc);
    assert!(
        error.contains("--probe-password-file"),
        "what to do: {error}"
    );

    let open = lab.path("pgpass-open");
    let (code, doc, _) = lab.run(&[], &[("PGPASSFILE", OsStr::new(&open))]).await;
    assert_eq!(
        code, 1,
        "a password file others may read is unused: {doc:#}"
    );
    assert!(ScramLab::error(&doc).contains("chmod 0600"), "{doc:#}");
    assert!(!format!("{doc}").contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_shows_down_beside_the_ones_that_answer() {
    let mut pg = PgCluster::start("down", 1, Auth::Trust);
    let probe = pg.probe();
    pg.stop(1);
    let (code, doc, stderr) = snapshot(&["--probe", &probe], &[]).await;
    assert_eq!(code, 0, "one answered: stderr: {stderr}\n{doc:#}");
    let cluster = pg_cluster(&doc);
    let down = member_at(cluster, &pg.endpoint(1));
    assert_eq!(down["health"], "down", "{down:#}");
    assert!(
        down["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot connect")),
        "{down:#}"
    );
    assert_eq!(member_at(cluster, &pg.endpoint(0))["leader"], true);
}

/// A kind of the operator's own over `transport: postgres`, each request's
/// SQL as given in `sql`.
fn own_kind(dir: &std::path::Path, sql: &str) -> std::path::PathBuf {
    let config = dir.join("mine.yaml");
    let text = format!(
        "probes:\n  - kind: mypg\n    transport: postgres\n    default_port: 5432\n    \
         requests:\n      q: {{sql: {}}}\n    member:\n      role: '\"primary\"'\n      \
         leader: 'true'\n      facts: '{{rows: (.q | length)}}'\n",
        serde_json::to_string(sql).unwrap()
    );
    std::fs::write(&config, text).expect("config written");
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn a_definitions_sql_runs_read_only_as_one_statement_and_its_reply_is_bounded() {
    let pg = PgCluster::start("own", 0, Auth::Trust);
    pg.sql(0, "create sequence s");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("mypg=postgres://postgres@{}", pg.endpoint(0));
    let run = |sql: &str| {
        let config = own_kind(dir.path(), sql);
        let url = url.clone();
        async move {
            let config = config.display().to_string();
            snapshot(&["--config", &config, "--probe", &url], &[]).await
        }
    };
    let error_of = |doc: &Value| {
        doc["sources"][0]["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    let (code, doc, stderr) = run("select generate_series(1, 3) as n").await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    let member = member_at(pg_cluster_of(&doc, "mypg"), &pg.endpoint(0));
    assert_eq!(member["raw"]["rows"], "3", "{member:#}");

    let (code, doc, _) = run("select nextval('s') as n").await;
    assert_eq!(code, 1, "{doc:#}");
    assert!(error_of(&doc).contains("read-only transaction"), "{doc:#}");
    assert_eq!(
        pg.sql(0, "select last_value from s"),
        "1",
        "nothing written"
    );

    let escape =
        "select 1 as n) t) s; create table escaped (n int); select 1 from (select 1 from (select 1";
    let (code, doc, _) = run(escape).await;
    assert_eq!(code, 1, "{doc:#}");
    assert!(error_of(&doc).contains("multiple commands"), "{doc:#}");
    assert_eq!(pg.sql(0, "select to_regclass('escaped') is null"), "t");

    let (code, doc, _) = run("select repeat('x', 5 * 1024 * 1024) as big").await;
    assert_eq!(code, 1, "{doc:#}");
    let error = error_of(&doc);
    assert!(error.contains("over 4 MiB, refused"), "{error}");
}

/// The one cluster of `kind` in a snapshot.
fn pg_cluster_of<'a>(doc: &'a Value, kind: &str) -> &'a Value {
    doc["clusters"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["kind"] == kind))
        .unwrap_or_else(|| panic!("no {kind} cluster: {doc:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_client_certificate_works_and_a_wrong_ca_or_plain_tcp_is_refused_clearly() {
    let pg = PgCluster::start("tls", 0, Auth::Trust);
    let dir = tempfile::tempdir().unwrap();
    let tls = make_tls(dir.path());
    pg.require_tls(&tls);
    let plain = format!("postgres=postgres://postgres@{}", pg.endpoint(0));
    let verified = format!("{plain}?sslmode=verify-full");
    let flags = |ca: &std::path::Path, with_cert: bool| -> Vec<String> {
        let mut args = vec!["--probe-ca".to_string(), ca.display().to_string()];
        if with_cert {
            for (flag, path) in [
                ("--probe-cert", &tls.client_cert),
                ("--probe-key", &tls.client_key),
            ] {
                args.push(flag.into());
                args.push(path.display().to_string());
            }
        }
        args
    };
    let run = |url: &str, extra: Vec<String>| {
        let mut args = vec!["--probe".to_string(), url.to_string()];
        args.extend(extra);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            snapshot(&args, &[]).await
        }
    };
    let error_of = |doc: &Value| {
        doc["sources"][0]["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };

    let (code, doc, stderr) = run(&verified, flags(&tls.ca, true)).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    assert_eq!(member_at(pg_cluster(&doc), &pg.endpoint(0))["leader"], true);

    let wrong_ca = make_ca(dir.path(), "other-ca");
    let (code, doc, _) = run(&verified, flags(&wrong_ca, true)).await;
    assert_eq!(code, 1, "{doc:#}");
    let error = error_of(&doc);
    assert!(
        error.contains("invalid peer certificate") && error.contains("UnknownIssuer"),
        "the error names the certificate problem: {error}"
    );

    let (code, doc, _) = run(&verified, flags(&tls.ca, false)).await;
    assert_eq!(code, 1, "no client certificate: {doc:#}");
    assert!(error_of(&doc).contains("certificate"), "{doc:#}");

    let (code, doc, _) = run(&plain, Vec::new()).await;
    assert_eq!(code, 1, "plain TCP: {doc:#}");
    assert!(error_of(&doc).contains("no encryption"), "{doc:#}");
}
