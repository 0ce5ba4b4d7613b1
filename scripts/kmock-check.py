#!/usr/bin/env python3
"""A second judge for the Kubernetes source: the real binary against kmock
(https://pypi.org/project/kmock/, an independent Kubernetes API mock server),
so that tests/k8s_emulator is not the only server the source has been run
against.

    python3 -m venv /tmp/kmock && /tmp/kmock/bin/pip install kmock==0.8
    cargo build && /tmp/kmock/bin/python scripts/kmock-check.py [target/debug/clusterdeck]

kmock serves list, watch, create, merge patch and delete of stored JSON
objects. It has no StatefulSet controller, no label selectors and no real
resourceVersions, so this script creates the pods itself (with the labels and
owner references the controller would set, and a resourceVersion each) and
checks two things: `snapshot` shows the AllegroGraph layout (one master, three
copies, one cluster), and `watch --events` shows a readiness change made
through kmock's watch stream. Exit status 0 when both hold.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile

import kmock

NS = "ag"
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/clusterdeck"
version = 0


def next_version():
    global version
    version += 1
    return str(version)


def statefulset(name, replicas):
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                     "labels": {"app": name}, "resourceVersion": next_version()},
        "spec": {"replicas": replicas, "serviceName": name,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}}},
    }


def pod(sts, ordinal, ip, ready=True):
    name = f"{sts}-{ordinal}"
    status = "True" if ready else "False"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": NS, "resourceVersion": next_version(),
            "labels": {"app": sts, "statefulset.kubernetes.io/pod-name": name},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts,
                                 "uid": f"uid-{sts}", "controller": True}],
        },
        "spec": {"nodeName": "node-1", "containers": [
            {"name": "agraph", "image": "agraph", "ports": [{"containerPort": 10035}]}]},
        "status": {"phase": "Running", "podIP": ip,
                   "conditions": [{"type": "Ready", "status": status}],
                   "containerStatuses": [{"name": "agraph", "ready": ready, "restartCount": 0,
                                          "image": "agraph", "imageID": "", "started": True}]},
    }


def node(name):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "resourceVersion": next_version()},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def kubeconfig(url):
    return (
        "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n"
        f"clusters:\n- name: kmock\n  cluster:\n    server: {url}\n"
        "users:\n- name: kmock\n  user:\n    token: kmock-token\n"
        f"contexts:\n- name: kmock\n  context:\n    cluster: kmock\n    user: kmock\n    namespace: {NS}\n"
    )


async def post(client, path, body):
    async with client.post(path, json=body) as resp:
        assert resp.status < 300, (path, resp.status, await resp.text())


async def check_snapshot(env):
    proc = await asyncio.create_subprocess_exec(
        BIN, "snapshot", "--read-only", "--timeout", "10s", env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    doc = json.loads(out)
    clusters = doc["clusters"]
    members = clusters[0]["members"] if clusters else []
    tiers = sorted((m["name"], m["tier"]) for m in members)
    print("snapshot:", proc.returncode, [c["id"] for c in clusters], tiers, doc["sources"][0]["status"])
    ok = (len(clusters) == 1 and clusters[0]["id"] == "k8s/ag"
          and tiers == [("controlling-0", "master"), ("copy-0", "copy"), ("copy-1", "copy"), ("copy-2", "copy")]
          and any(m["leader"] for m in members if m["name"] == "controlling-0"))
    if not ok:
        print(err.decode(), file=sys.stderr)
    return ok


async def check_watch(env, client):
    proc = await asyncio.create_subprocess_exec(
        BIN, "watch", "--events", "--read-only", "--for", "20s", env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        added = 0
        while added < 4:
            event = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
            added += event["kind"] == "member_added"
        patch = {"metadata": {"resourceVersion": next_version()},
                 "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        async with client.patch(f"/api/v1/namespaces/{NS}/pods/copy-1", json=patch,
                                headers={"Content-Type": "application/merge-patch+json"}) as resp:
            assert resp.status < 300, await resp.text()
        while True:
            event = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
            if event["kind"] == "health_changed":
                print("watch:", event["details"].get("name"), event["details"]["from"], "->", event["details"]["to"])
                return event["details"].get("name") == "copy-1" and event["details"]["to"] == "degraded"
    finally:
        proc.kill()
        await proc.wait()


async def main():
    async with kmock.KubernetesEmulator() as handler, kmock.Server(handler) as server:
        url = str(server.url).rstrip("/")
        client = server.client
        await post(client, "/api/v1/nodes", node("node-1"))
        await post(client, f"/apis/apps/v1/namespaces/{NS}/statefulsets", statefulset("controlling", 1))
        await post(client, f"/apis/apps/v1/namespaces/{NS}/statefulsets", statefulset("copy", 3))
        await post(client, f"/api/v1/namespaces/{NS}/pods", pod("controlling", 0, "10.1.0.1"))
        for i in range(3):
            await post(client, f"/api/v1/namespaces/{NS}/pods", pod("copy", i, f"10.1.1.{i}"))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "kubeconfig")
            with open(path, "w") as f:
                f.write(kubeconfig(url))
            env = dict(os.environ, KUBECONFIG=path, CLUSTERDECK_STATE_DIR=tmp)
            env.pop("REDIS_URL", None)
            snapshot_ok = await check_snapshot(env)
            watch_ok = await check_watch(env, client)
    print("kmock check:", "ok" if snapshot_ok and watch_ok else "FAILED")
    sys.exit(0 if snapshot_ok and watch_ok else 1)


asyncio.run(main())
