//! The etcd probe against real etcd (3.4 from Debian), through the real
//! binary: `snapshot --probe etcd=URL` and `watch --probe ... --events`.
//! What the console shows is compared with what `etcdctl` says: the
//! leader, the members, the learner, the new leader after a SIGKILL. TLS
//! with client certificates and password authentication are exercised too,
//! and the password is checked to appear nowhere.

mod common;

use std::ffi::OsStr;
use std::time::Duration;

use common::etcd::{EtcdCluster, make_ca};
use common::watch::Watch;
use serde_json::Value;
use tokio::time::Instant;

/// How long etcd may take to elect a leader after one is killed.
const ELECTION_WITHIN: Duration = Duration::from_secs(15);

/// `clusterdeck snapshot -o json ARGS`: exit code, the document, stderr.
async fn snapshot(args: &[&str], env: &[(&str, &OsStr)]) -> (i32, Value, String) {
    let mut all = vec!["snapshot", "-o", "json", "--interval", "200ms"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = common::run_clusterdeck(&all, env).await;
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("snapshot is not JSON ({e}):\n{stdout}\nstderr: {stderr}"));
    (code, doc, stderr)
}

/// The one etcd cluster of a snapshot.
fn etcd_cluster(doc: &Value) -> &Value {
    let clusters: Vec<&Value> = doc["clusters"]
        .as_array()
        .unwrap_or_else(|| panic!("no clusters: {doc:#}"))
        .iter()
        .filter(|c| c["kind"] == "etcd")
        .collect();
    assert_eq!(clusters.len(), 1, "one etcd cluster: {doc:#}");
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

/// `--probe etcd=URL` of member `i`.
fn probe(etcd: &EtcdCluster, i: usize) -> [String; 2] {
    ["--probe".into(), format!("etcd={}", etcd.client_url(i))]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_members_url_shows_all_three_and_the_leader_etcdctl_names() {
    let etcd = EtcdCluster::start(3);
    // A busy machine may hold an election between two looks: the snapshot
    // is compared with etcd only when etcd named the same leader before and
    // after it.
    for _ in 0..3 {
        let before = etcd.wait_leader(ELECTION_WITHIN);
        // A follower's URL: the leader is found through the member list.
        let seed = (before + 1) % 3;
        let (code, doc, stderr) = snapshot(&strs(&probe(&etcd, seed)), &[]).await;
        let after = etcd.wait_leader(ELECTION_WITHIN);
        if before != after {
            continue;
        }
        assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
        assert_eq!(doc["sources"][0]["status"], "ok", "{doc:#}");
        check_three(&etcd, etcd_cluster(&doc), before);
        return;
    }
    panic!("etcd changed leaders during every one of three snapshots");
}

/// Three members, exactly one leading (`leader`, as etcdctl names it),
/// two followers, and the cluster's raft view.
fn check_three(etcd: &EtcdCluster, cluster: &Value, leader: usize) {
    let mut addresses: Vec<&str> = members(cluster)
        .iter()
        .map(|m| m["address"].as_str().unwrap_or_default())
        .collect();
    addresses.sort();
    let mut expected = etcd.endpoints();
    expected.sort();
    assert_eq!(addresses, expected, "{cluster:#}");
    let leaders: Vec<&Value> = members(cluster)
        .iter()
        .filter(|m| m["leader"] == true)
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {cluster:#}");
    let shown = leaders[0];
    assert_eq!(shown["address"], etcd.address(leader).as_str());
    assert_eq!(shown["name"], etcd.members[leader].name.as_str());
    assert_eq!(shown["tier"], "master");
    assert_eq!(shown["native_role"], "leader");
    let id = etcd.member_id(leader).expect("leader's member id");
    assert_eq!(shown["raw"]["etcd id"], id.to_string().as_str());
    assert_eq!(cluster["leader"], etcd.address(leader).as_str());
    for follower in members(cluster).iter().filter(|m| m["leader"] == false) {
        assert_eq!(follower["tier"], "copy", "{follower:#}");
        assert_eq!(follower["native_role"], "follower", "{follower:#}");
        assert_eq!(follower["health"], "ok", "{follower:#}");
    }
    let consensus = &cluster["consensus"];
    let term = consensus["term"]
        .as_u64()
        .unwrap_or_else(|| panic!("term: {cluster:#}"));
    assert!(
        term >= 2,
        "etcd's first elected term is 2 or more: {consensus:#}"
    );
    assert_eq!(consensus["voters"], 3, "{consensus:#}");
    assert_eq!(consensus["quorum"], 2, "{consensus:#}");
    assert_eq!(consensus["leader"], etcd.address(leader).as_str());
    assert!(consensus["in_progress"].is_null(), "{consensus:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_leader_shows_leader_changed_to_the_member_etcd_elects() {
    let mut etcd = EtcdCluster::start(3);
    let old = etcd.wait_leader(ELECTION_WITHIN);
    let old_term = etcd.statuses()[0].1["raftTerm"].as_u64().unwrap();
    // The leader's own URL: the probe must keep asking the peers it found
    // once its seed is gone.
    let mut args = probe(&etcd, old).to_vec();
    args.extend(["--events", "--interval", "200ms"].map(String::from));
    let mut watch = Watch::spawn(&strs(&args));
    for _ in 0..3 {
        watch
            .until("member_added", Duration::from_secs(20), |e| {
                e["kind"] == "member_added"
            })
            .await;
    }
    etcd.kill(old);
    let new = etcd.wait_leader(ELECTION_WITHIN);
    assert_ne!(new, old);
    let change = watch
        .until("leader_changed", Duration::from_secs(20), |e| {
            e["kind"] == "leader_changed"
        })
        .await;
    // etcd names the same leader still: no second election meanwhile.
    assert_eq!(etcd.wait_leader(ELECTION_WITHIN), new, "{change:#}");
    let details = &change["details"];
    assert_eq!(change["member"], etcd.address(new).as_str(), "{change:#}");
    assert_eq!(details["to"], etcd.address(new).as_str(), "{change:#}");
    assert_eq!(details["from"], etcd.address(old).as_str(), "{change:#}");
    assert!(details["leaderless_ms"].is_u64(), "{change:#}");
    let term = details["term"]
        .as_u64()
        .unwrap_or_else(|| panic!("leader_changed carries the new term: {change:#}"));
    assert!(term > old_term, "term {term} after {old_term}: {change:#}");
    let (_, status) = etcd
        .statuses()
        .into_iter()
        .find(|(i, _)| *i == new)
        .unwrap();
    assert_eq!(
        Some(term),
        status["raftTerm"].as_u64(),
        "etcd's term: {status:#}"
    );
    assert_eq!(details["to_name"], etcd.members[new].name.as_str());

    // Back on its data, the old leader is a member in good health again.
    etcd.restart(old);
    let back = etcd.address(old);
    watch
        .until(
            "the old leader healthy again",
            Duration::from_secs(30),
            |e| {
                e["kind"] == "health_changed"
                    && e["member"] == back.as_str()
                    && e["details"]["to"] == "ok"
            },
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_started_learner_is_an_unknown_tier_learner_and_not_a_voter() {
    let mut etcd = EtcdCluster::start(3);
    let learner = etcd.add_learner("learner1", true);
    let address = etcd.address(learner);
    let args = probe(&etcd, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Started, the learner answers for itself (health ok) once it caught up
    // enough to serve; until then the member list is all that names it.
    let cluster = loop {
        let (_, doc, _) = snapshot(&strs(&args), &[]).await;
        let cluster = etcd_cluster(&doc).clone();
        let answered = members(&cluster)
            .iter()
            .any(|m| m["address"] == address.as_str() && m["health"] == "ok");
        if answered {
            break cluster;
        }
        assert!(
            Instant::now() < deadline,
            "the learner never answered: {cluster:#}\n{}",
            etcd.logs()
        );
    };
    assert_eq!(members(&cluster).len(), 4, "{cluster:#}");
    let shown = member_at(&cluster, &address);
    assert_eq!(shown["tier"], "unknown", "{shown:#}");
    assert_eq!(shown["native_role"], "learner", "{shown:#}");
    assert_eq!(shown["leader"], false, "{shown:#}");
    assert_eq!(shown["name"], "learner1", "{shown:#}");
    assert_eq!(cluster["consensus"]["voters"], 3, "a learner does not vote");
    assert_eq!(cluster["consensus"]["quorum"], 2);
    let leaders = members(&cluster)
        .iter()
        .filter(|m| m["leader"] == true)
        .count();
    assert_eq!(leaders, 1, "{cluster:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_client_certificate_works_and_a_wrong_ca_is_a_clear_error() {
    let etcd = EtcdCluster::start_tls(3);
    let tls = etcd.tls.as_ref().unwrap();
    let leader = etcd.wait_leader(ELECTION_WITHIN);
    let seed = probe(&etcd, leader);
    assert!(seed[1].starts_with("etcd=https://127.0.0.1:"), "{seed:?}");
    let files = |ca: &std::path::Path| -> Vec<String> {
        let mut args = seed.to_vec();
        for (flag, path) in [
            ("--probe-ca", ca),
            ("--probe-cert", &tls.client_cert),
            ("--probe-key", &tls.client_key),
        ] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        args
    };
    let (code, doc, stderr) = snapshot(&strs(&files(&tls.ca)), &[]).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    let cluster = etcd_cluster(&doc);
    assert_eq!(members(cluster).len(), 3, "{cluster:#}");
    let leaders = members(cluster)
        .iter()
        .filter(|m| m["leader"] == true)
        .count();
    assert_eq!(leaders, 1, "{cluster:#}");

    // Another CA, under another name: one named as the right one would be
    // tried and fail on its signature (BadSignature) instead.
    let wrong_ca = make_ca(etcd.dir(), "other-ca");
    let (code, doc, stderr) = snapshot(&strs(&files(&wrong_ca)), &[]).await;
    assert_eq!(code, 1, "a CA that did not sign the server fails: {doc:#}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let source = &doc["sources"][0];
    assert_eq!(source["status"], "error", "{doc:#}");
    let error = source["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("invalid peer certificate") && error.contains("UnknownIssuer"),
        "the error names the certificate problem: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_client_certificate_a_tls_member_refuses_clearly() {
    let etcd = EtcdCluster::start_tls(1);
    let tls = etcd.tls.as_ref().unwrap();
    let mut args = probe(&etcd, 0).to_vec();
    args.extend(["--probe-ca".into(), tls.ca.display().to_string()]);
    let (code, doc, stderr) = snapshot(&strs(&args), &[]).await;
    assert_eq!(code, 1, "{doc:#}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let error = doc["sources"][0]["error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "{doc:#}");
}

/// The password given to etcd, and one it does not take.
const PASSWORD: &str = "etcd-Root-pw-7Qx2";
const WRONG: &str = "not-the-pw-Zk81";

#[tokio::test(flavor = "multi_thread")]
async fn auth_from_a_file_or_the_environment_works_and_the_password_stays_hidden() {
    let mut etcd = EtcdCluster::start(3);
    etcd.enable_auth(PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong, log) = (
        dir.path().join("password"),
        dir.path().join("wrong"),
        dir.path().join("clusterdeck.log"),
    );
    std::fs::write(&right, format!("{PASSWORD}\n")).unwrap();
    std::fs::write(&wrong, format!("{WRONG}\n")).unwrap();
    let log_flag = ["--log-file".to_string(), log.display().to_string()];
    let user = ["--probe-user".to_string(), "root".to_string()];
    let with = |extra: &[String]| -> Vec<String> {
        [&probe(&etcd, 0)[..], &user[..], &log_flag[..], extra].concat()
    };
    let file =
        |path: &std::path::Path| ["--probe-password-file".into(), path.display().to_string()];
    // Every line the console writes is logged at debug, where a leak would be.
    let debug = ("CLUSTERDECK_LOG", OsStr::new("debug"));

    let (code, doc, stderr) = snapshot(&strs(&with(&file(&right))), &[debug]).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    check_auth_snapshot(&doc, &stderr);
    let env = ("PROBE_PASSWORD", OsStr::new(PASSWORD));
    let (code, doc, stderr) = snapshot(&strs(&with(&[])), &[debug, env]).await;
    assert_eq!(
        code, 0,
        "password from $PROBE_PASSWORD; stderr: {stderr}\n{doc:#}"
    );
    check_auth_snapshot(&doc, &stderr);

    let (code, doc, stderr) = snapshot(&strs(&with(&file(&wrong))), &[debug]).await;
    assert_eq!(code, 1, "a wrong password fails: {doc:#}");
    let error = doc["sources"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("login as `root` refused"), "{error}");
    let text = format!("{doc}{stderr}");
    assert!(!text.contains(WRONG), "the wrong password shown: {text}");

    let logged = std::fs::read_to_string(&log).expect("the log file was written");
    assert!(!logged.is_empty(), "nothing logged at debug");
    assert!(
        !logged.contains(PASSWORD) && !logged.contains(WRONG),
        "{logged}"
    );
}

/// A snapshot made with the password: whole, and without the password.
fn check_auth_snapshot(doc: &Value, stderr: &str) {
    let cluster = etcd_cluster(doc);
    assert_eq!(members(cluster).len(), 3, "{cluster:#}");
    assert_eq!(doc["sources"][0]["status"], "ok", "{doc:#}");
    let text = format!("{doc}{stderr}");
    assert!(!text.contains(PASSWORD), "the password shown: {text}");
}

/// A probe kind of the operator's own, defined in the config file in the
/// generic form (requests and jq), read against real etcd: roles, leader
/// and term come out of the user's expressions, and a typo in one is refused
/// at start naming the kind and the field.
#[tokio::test(flavor = "multi_thread")]
async fn a_probe_defined_in_the_config_file_reads_a_real_server() {
    let etcd = EtcdCluster::start(3);
    let config = etcd.dir().join("mine.yaml");
    std::fs::write(
        &config,
        r#"probes:
  - kind: myetcd
    default_port: 2379
    lag_unit: entries
    requests:
      st: {method: POST, path: /v3/maintenance/status, body: "{}"}
      ls: {method: POST, path: /v3/cluster/member/list, body: "{}"}
    member:
      id: .st.header.member_id
      role: 'if .st.leader == .st.header.member_id then "boss" else "worker" end'
      leader: .st.leader == .st.header.member_id
      term: .st.raftTerm
    peers: '[.ls.members[] | {id: .ID, name: .name, address: (.clientURLs[0] | ltrimstr("http://"))}]'
    tiers: {boss: master, worker: copy}
"#,
    )
    .expect("config written");
    let leader = etcd.wait_leader(ELECTION_WITHIN);
    let url = format!("myetcd={}", etcd.client_url((leader + 1) % 3));
    let config_arg = config.to_str().expect("utf-8 path");
    let (code, doc, stderr) = snapshot(&["--config", config_arg, "--probe", &url], &[]).await;
    assert_eq!(code, 0, "stderr: {stderr}\n{doc:#}");
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["kind"], "myetcd", "{doc:#}");
    let roles: Vec<(&str, &str)> = members(cluster)
        .iter()
        .map(|m| {
            (
                m["native_role"].as_str().unwrap_or("-"),
                m["tier"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        roles.iter().filter(|r| **r == ("boss", "master")).count(),
        1,
        "{roles:?}"
    );
    assert_eq!(
        roles.iter().filter(|r| **r == ("worker", "copy")).count(),
        2,
        "{roles:?}"
    );
    let shown = members(cluster)
        .iter()
        .find(|m| m["leader"] == true)
        .expect("a leader");
    assert_eq!(
        shown["address"],
        etcd.address(etcd.wait_leader(ELECTION_WITHIN)),
        "{doc:#}"
    );
    assert!(
        cluster["consensus"]["term"]
            .as_u64()
            .is_some_and(|t| t >= 2),
        "{doc:#}"
    );

    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace("term: .st.raftTerm", "term: .st.raftTerm |"),
    )
    .expect("config");
    let (code, stdout, stderr) =
        common::run_clusterdeck(&["snapshot", "--config", config_arg, "--probe", &url], &[]).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("probe `myetcd`, member.term"), "{stderr}");
}

/// A leader recorded in an etcd key (`--registry etcd=URL`), compared with
/// the leader etcd elects: a key naming a follower for longer than two
/// intervals is a leaders conflict naming both, cleared once the key names
/// the leader again.
#[tokio::test(flavor = "multi_thread")]
async fn an_etcd_key_naming_a_follower_is_a_conflict_until_fixed() {
    let etcd = EtcdCluster::start(3);
    let leader = etcd.wait_leader(ELECTION_WITHIN);
    let follower = (leader + 1) % 3;
    let key = "/clusterdeck-test/leader";
    etcd.etcdctl(&["put", key, &etcd.address(leader)]).unwrap();
    let mut args = probe(&etcd, leader).to_vec();
    args.extend([
        "--registry".into(),
        format!("etcd={}", etcd.client_url(leader)),
        "--registry-key".into(),
        key.into(),
        "--events".into(),
        "--interval".into(),
        "300ms".into(),
    ]);
    let mut watch = Watch::spawn(&strs(&args));
    for _ in 0..3 {
        watch
            .until("member_added", Duration::from_secs(20), |e| {
                e["kind"] == "member_added"
            })
            .await;
    }
    let wrong = etcd.address(follower);
    etcd.etcdctl(&["put", key, &wrong]).unwrap();
    let mismatch = watch
        .until("registry_mismatch", Duration::from_secs(10), |e| {
            e["kind"] == "registry_mismatch"
        })
        .await;
    assert_eq!(
        mismatch["details"]["recorded"],
        wrong.as_str(),
        "{mismatch:#}"
    );
    let conflict = watch
        .until("leaders_conflict", Duration::from_secs(10), |e| {
            e["kind"] == "leaders_conflict"
        })
        .await;
    let named: Vec<&str> = conflict["details"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(named.len(), 2, "{conflict:#}");
    assert!(
        named.contains(&wrong.as_str()) && named.contains(&etcd.address(leader).as_str()),
        "{conflict:#}"
    );
    let after = time::OffsetDateTime::parse(
        conflict["at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
        - time::OffsetDateTime::parse(
            mismatch["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
    assert!(
        after >= time::Duration::milliseconds(600),
        "two intervals first: {after}"
    );
    etcd.etcdctl(&["put", key, &etcd.address(leader)]).unwrap();
    watch
        .until("leaders_agree", Duration::from_secs(10), |e| {
            e["kind"] == "leaders_agree"
        })
        .await;
}

/// An election (`etcdctl elect`), configured under `records:` in the config
/// file: its leader is the oldest candidate's proposal, and its lease gives
/// the record's time to live.
#[tokio::test(flavor = "multi_thread")]
async fn an_etcd_election_in_the_config_names_its_leader_and_its_lease() {
    let etcd = EtcdCluster::start(3);
    let leader = etcd.wait_leader(ELECTION_WITHIN);
    let mut candidate = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", etcd.endpoints().join(",")))
        .args(["elect", "zero-election", &etcd.address(leader)])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("etcdctl elect");
    struct Reap<'a>(&'a mut std::process::Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _reap = Reap(&mut candidate);
    let config = etcd.dir().join("records.yaml");
    std::fs::write(
        &config,
        format!(
            "records:\n  - etcd: {}\n    key: zero-election\n    election: true\n",
            etcd.client_url(leader)
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let probe_args = probe(&etcd, leader);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, doc, stderr) = snapshot(
            &["--config", config_arg, &probe_args[0], &probe_args[1]],
            &[],
        )
        .await;
        let cluster = etcd_cluster(&doc);
        if cluster["recorded_leader_agrees"] == true {
            assert_eq!(code, 0, "{stderr}");
            let recorded = &cluster["recorded_leader"];
            assert_eq!(
                recorded["address"],
                etcd.address(leader).as_str(),
                "{cluster:#}"
            );
            assert!(
                recorded["ttl_ms"].as_u64().is_some_and(|t| t <= 60_000),
                "etcdctl elect's lease: {recorded:#}"
            );
            assert!(
                recorded["from"]
                    .as_str()
                    .unwrap()
                    .contains("election zero-election"),
                "{recorded:#}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the election's leader not recorded: {doc:#}\n{stderr}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
