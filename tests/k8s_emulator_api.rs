//! The emulated API server itself, through the same client library the
//! console uses (kube), so the semantics the later actions rely on are
//! pinned down: pagination, selectors, patches, the scale subresource,
//! grace periods, NetworkPolicies, and the error codes.

mod k8s_emulator;

use std::time::Duration;

use futures::StreamExt;
use k8s_emulator::{Emulator, Kind, Verb};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client, Config};
use serde_json::json;

async fn client(emulator: &Emulator) -> Client {
    let mut config = Config::new(emulator.url().parse().unwrap());
    config.auth_info = Default::default();
    config.default_namespace = "db".into();
    Client::try_from(config).unwrap()
}

fn status_code(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(status) => status.code,
        other => panic!("not an API error: {other}"),
    }
}

async fn setup() -> (Emulator, Client) {
    let emulator = Emulator::start().await;
    emulator.add_nodes(&["node-1", "node-2"]);
    let client = client(&emulator).await;
    (emulator, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_and_select_by_label() {
    let (emu, client) = setup().await;
    emu.create_statefulset("db", "a", 5, &[("app", "a")], 1);
    emu.create_statefulset("db", "b", 2, &[("app", "b")], 1);
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(3);
    loop {
        let page = pods.list(&params).await.unwrap();
        assert!(page.items.len() <= 3);
        names.extend(page.items.iter().map(|p| p.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(names, ["a-0", "a-1", "a-2", "a-3", "a-4", "b-0", "b-1"]);
    assert_eq!(emu.requests(Verb::List, Kind::Pod), 3);
    let b = pods
        .list(&ListParams::default().labels("app=b"))
        .await
        .unwrap();
    assert_eq!(b.items.len(), 2);
    let none = pods
        .list(&ListParams::default().labels("app in (c),statefulset.kubernetes.io/pod-name"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scale_subresource_drives_the_controller() {
    let (emu, client) = setup().await;
    emu.create_statefulset("db", "copy", 1, &[("app", "copy")], 1);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "db");
    let scale = sets.get_scale("copy").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    let patch = Patch::Merge(json!({"spec": {"replicas": 3}}));
    let scale = sets
        .patch_scale("copy", &PatchParams::default(), &patch)
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=copy"));
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let listed = pods.list(&ListParams::default()).await.unwrap();
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["copy-0", "copy-1", "copy-2"]);
    let pod = &listed.items[2];
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "copy-2");
    assert_eq!(labels["app"], "copy");
    assert!(pod.spec.as_ref().unwrap().node_name.is_some());
    let sts = sets.get("copy").await.unwrap();
    assert_eq!(sts.status.unwrap().ready_replicas, Some(3));
    let bad = Patch::Merge(json!({"spec": {"replicas": -1}}));
    let e = sets
        .patch_scale("copy", &PatchParams::default(), &bad)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 422);
    assert_eq!(emu.requests(Verb::Patch, Kind::StatefulSet), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn patches_merge_and_strategic_and_conflicts_are_409() {
    let (_emu, client) = setup().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let cordon = Patch::Strategic(json!({"spec": {"unschedulable": true}}));
    let node = nodes
        .patch("node-1", &PatchParams::default(), &cordon)
        .await
        .unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true));
    let uncordon = Patch::Merge(json!({"spec": {"unschedulable": null}}));
    let node = nodes
        .patch("node-1", &PatchParams::default(), &uncordon)
        .await
        .unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, None);
    let stale = Patch::Merge(
        json!({"metadata": {"resourceVersion": "1"}, "spec": {"unschedulable": true}}),
    );
    let e = nodes
        .patch("node-1", &PatchParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 409);
    let e = nodes
        .patch("nowhere", &PatchParams::default(), &cordon)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn network_policies_are_created_once_and_deleted() {
    let (emu, client) = setup().await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client, "db");
    let policy: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "clusterdeck-isolate-copy-1",
                     "labels": {"app.kubernetes.io/managed-by": "clusterdeck"}},
        "spec": {"podSelector": {"matchLabels": {"statefulset.kubernetes.io/pod-name": "copy-1"}},
                 "policyTypes": ["Ingress", "Egress"]},
    }))
    .unwrap();
    policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    let e = policies
        .create(&PostParams::default(), &policy)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 409);
    let mut nameless = policy.clone();
    nameless.metadata.name = Some("Not A Name".into());
    let e = policies
        .create(&PostParams::default(), &nameless)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 422);
    let ours = policies
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=clusterdeck"))
        .await
        .unwrap();
    assert_eq!(ours.items.len(), 1);
    policies
        .delete("clusterdeck-isolate-copy-1", &DeleteParams::default())
        .await
        .unwrap();
    let e = policies
        .delete("clusterdeck-isolate-copy-1", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 404);
    assert_eq!(emu.requests(Verb::Delete, Kind::NetworkPolicy), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_pod_terminates_for_its_grace_period_then_comes_back() {
    let (emu, client) = setup().await;
    emu.create_statefulset("db", "copy", 2, &[("app", "copy")], 1);
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let listed = pods.list(&ListParams::default()).await.unwrap();
    let version = listed.metadata.resource_version.unwrap();
    let old_uid = pods.get("copy-1").await.unwrap().metadata.uid;
    let mut events = pods
        .watch(&WatchParams::default().timeout(10), &version)
        .await
        .unwrap()
        .boxed();
    pods.delete("copy-1", &DeleteParams::default().grace_period(1))
        .await
        .unwrap();
    let terminating = pods.get("copy-1").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    // Seen through the watch: terminating, gone, and created again by the controller.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("a watch event")
            .expect("the watch goes on")
            .unwrap();
        match event {
            WatchEvent::Modified(p) if p.metadata.deletion_timestamp.is_some() => {
                seen.push("terminating")
            }
            WatchEvent::Deleted(p) if p.metadata.name.as_deref() == Some("copy-1") => {
                seen.push("deleted")
            }
            WatchEvent::Added(p) if p.metadata.name.as_deref() == Some("copy-1") => {
                seen.push("added")
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["terminating", "deleted", "added"]);
    assert_ne!(pods.get("copy-1").await.unwrap().metadata.uid, old_uid);
    let e = pods
        .delete("nowhere", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn old_versions_are_gone_and_failures_can_be_injected() {
    let (emu, client) = setup().await;
    emu.create_statefulset("db", "a", 1, &[("app", "a")], 1);
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let version = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    emu.edit(|s| s.expire_watches());
    let mut events = pods
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    match events.next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => assert_eq!(status.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    emu.inject_failure(Some(Verb::Get), Some(Kind::Pod), 500, 1);
    let e = pods.get("a-0").await.unwrap_err();
    assert_eq!(status_code(e), 500);
    pods.get("a-0").await.expect("only the next request fails");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_requests_are_recorded_with_the_grace_period_asked() {
    let (emu, client) = setup().await;
    emu.create_statefulset("db", "copy", 3, &[("app", "copy")], 1);
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let uid = pods.get("copy-1").await.unwrap().metadata.uid.unwrap();
    pods.delete("copy-1", &DeleteParams::default().grace_period(7))
        .await
        .unwrap();
    pods.delete("copy-2", &DeleteParams::default())
        .await
        .unwrap();
    let deletes = emu.delete_requests(Kind::Pod);
    assert_eq!(deletes.len(), 2, "{deletes:?}");
    assert_eq!(
        (deletes[0].name.as_str(), deletes[0].namespace.as_str()),
        ("copy-1", "db")
    );
    assert_eq!(deletes[0].uid, uid);
    assert_eq!(deletes[0].grace_period_seconds, Some(7));
    assert_eq!(deletes[1].grace_period_seconds, None, "none asked");
    let terminating = pods.get("copy-1").await.unwrap();
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(7));
}

#[tokio::test(flavor = "multi_thread")]
async fn field_selectors_pick_an_object_by_name_in_lists_and_watches() {
    let (emu, client) = setup().await;
    emu.create_statefulset("db", "copy", 3, &[("app", "copy")], 1);
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let one = pods
        .list(&ListParams::default().fields("metadata.name=copy-1"))
        .await
        .unwrap();
    let names: Vec<_> = one.items.iter().map(|p| p.metadata.name.clone()).collect();
    assert_eq!(names, [Some("copy-1".to_string())]);
    let version = one.metadata.resource_version.unwrap();
    let mut events = pods
        .watch(
            &WatchParams::default()
                .fields("metadata.name=copy-2")
                .timeout(10),
            &version,
        )
        .await
        .unwrap()
        .boxed();
    emu.set_pod_ready("db", "copy-0", false);
    emu.set_pod_ready("db", "copy-2", false);
    match tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("a watch event")
        .expect("the watch goes on")
        .unwrap()
    {
        WatchEvent::Modified(p) => assert_eq!(p.metadata.name.as_deref(), Some("copy-2")),
        other => panic!("expected copy-2 modified, got {other:?}"),
    }
    let e = pods
        .list(&ListParams::default().fields("spec.nodeName=node-1"))
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_speaks_the_v4_channel_protocol_and_is_recorded() {
    use k8s_emulator::ExecScript;
    use kube::api::AttachParams;
    use tokio::io::AsyncReadExt;

    let (emu, client) = setup().await;
    emu.create_statefulset("db", "copy", 1, &[("app", "copy")], 1);
    emu.script_exec(
        "fail",
        ExecScript {
            stderr: "no\n".into(),
            exit_code: 3,
            ..ExecScript::default()
        },
    );
    let pods: Api<Pod> = Api::namespaced(client, "db");
    let params = AttachParams::default().stderr(true).container("main");
    let mut process = pods
        .exec("copy-0", ["echo", "hello", "there"], &params)
        .await
        .unwrap();
    let status = process.take_status().unwrap();
    let mut stdout = String::new();
    process
        .stdout()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert_eq!(stdout, "hello there\n");
    assert_eq!(status.await.unwrap().status.as_deref(), Some("Success"));
    process.join().await.unwrap();

    let mut process = pods.exec("copy-0", ["fail"], &params).await.unwrap();
    let status = process.take_status().unwrap().await.unwrap();
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let cause = &status.details.unwrap().causes.unwrap()[0];
    assert_eq!(cause.message.as_deref(), Some("3"));

    let requests = emu.exec_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].command, ["echo", "hello", "there"]);
    assert_eq!(requests[0].container.as_deref(), Some("main"));
    assert_eq!(emu.requests(Verb::Exec, Kind::Pod), 2);
    assert_eq!(emu.mutating_requests(), 2, "an exec is a mutating request");

    let e = pods
        .exec("nowhere", ["echo"], &params)
        .await
        .err()
        .expect("refused before the upgrade");
    assert_eq!(status_code(e), 404);
    let other = AttachParams::default().stderr(true).container("sidecar");
    let e = pods
        .exec("copy-0", ["echo"], &other)
        .await
        .err()
        .expect("refused before the upgrade");
    assert_eq!(status_code(e), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_watch_that_asks_for_bookmarks_gets_the_current_version() {
    let emu = Emulator::start_with(k8s_emulator::Options {
        bookmark_every: Some(Duration::from_millis(100)),
        ..Default::default()
    })
    .await;
    emu.add_nodes(&["node-1"]);
    emu.create_statefulset("db", "a", 1, &[("app", "a")], 1);
    let pods: Api<Pod> = Api::namespaced(client(&emu).await, "db");
    let listed = pods.list(&ListParams::default()).await.unwrap();
    let version = listed.metadata.resource_version.unwrap();
    let mut events = pods
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    let bookmark = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await {
                Some(Ok(WatchEvent::Bookmark(b))) => return b,
                Some(Ok(_)) => continue,
                other => panic!("the watch ended without a bookmark: {other:?}"),
            }
        }
    })
    .await
    .expect("a bookmark within 10 s");
    let marked: u64 = bookmark.metadata.resource_version.parse().unwrap();
    assert!(
        marked >= version.parse::<u64>().unwrap(),
        "{marked} < {version}"
    );
    // Without asking, an idle watch stays silent.
    let mut quiet = pods
        .watch(&WatchParams::default().disable_bookmarks(), &version)
        .await
        .unwrap()
        .boxed();
    // Ten bookmark periods of silence.
    let heard = tokio::time::timeout(Duration::from_secs(1), quiet.next()).await;
    assert!(
        heard.is_err(),
        "an idle watch without bookmarks said {heard:?}"
    );
}
