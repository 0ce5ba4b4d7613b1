#!/usr/bin/env python3
"""A stand-in for kube-scheduler + kubelet, talking only to a real API server on 127.0.0.1.

Environment: K8S_SERVER (https://127.0.0.1:PORT), K8S_TOKEN_FILE (a file holding a
bearer token with rights on nodes and pods), K8S_CA (the API server's CA file),
FAKE_NODE (node name, default node-1), KUBELET_PORT (the exec endpoint's port,
published in the node's status so the API server proxies exec there).


- keeps Node node-1 (created if missing) with status Ready and InternalIP 127.0.0.1;
- binds pods without spec.nodeName to node-1 (unless node-1 is cordoned: then they stay Pending);
- marks bound pods Running and Ready once (podIP 127.0.0.N), as a kubelet would after start;
  after that their status is left alone, so tests can patch readiness by hand;
- finishes a deletion as the kubelet does (DELETE with gracePeriodSeconds=0) 2 s after it
  began, or at its deletionTimestamp (end of the grace period) when the pod carries the
  annotation fake-kubelet/ignore-sigterm=true; pods annotated fake-kubelet/stuck=true are
  never finished (no kubelet).
Polls every 0.5 s (it is a test helper; the console under test watches).
"""
import datetime as dt
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

SERVER = os.environ["K8S_SERVER"]
TOKEN = open(os.environ["K8S_TOKEN_FILE"]).read().strip()
CTX = ssl.create_default_context(cafile=os.environ["K8S_CA"])
NODE = os.environ.get("FAKE_NODE", "node-1")
KUBELET_PORT = int(os.environ.get("KUBELET_PORT", "10250"))


def call(method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(SERVER + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"{}")
        except Exception:
            return e.code, {}


def now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def stamp(t=None):
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(*a):
    print(stamp(), *a, flush=True)


def ensure_node():
    code, node = call("GET", f"/api/v1/nodes/{NODE}")
    if code == 404:
        code, node = call("POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}})
        log("created node", NODE, code)
    ready = [c for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"]
    if not ready:  # only once: tests may set the node NotReady by hand
        t = stamp()
        code, _ = call("PATCH", f"/api/v1/nodes/{NODE}/status", {"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "fake kubelet is posting ready status",
                            "lastHeartbeatTime": t, "lastTransitionTime": t}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": NODE}],
            "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.20.2-fake", "architecture": "amd64",
                         "operatingSystem": "linux", "bootID": "", "containerRuntimeVersion": "fake://0",
                         "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "osImage": "",
                         "systemUUID": ""}}}, "application/merge-patch+json")
        log("node status Ready", code)
    return node


def ip_for(used):
    # never reuse an address that a pod (even a terminating one) still holds;
    # 127.0.0.10-249 first, then 127.0.1.2 onwards (thousands of pods)
    for n in range(10, 250):
        if f"127.0.0.{n}" not in used:
            return f"127.0.0.{n}"
    for third in range(1, 256):
        for fourth in range(2, 255):
            ip = f"127.0.{third}.{fourth}"
            if ip not in used:
                return ip


def tick():
    node = ensure_node()
    cordoned = node.get("spec", {}).get("unschedulable", False)
    code, pods = call("GET", "/api/v1/pods")
    if code != 200:
        log("list pods", code, pods.get("message"))
        return
    used = {p.get("status", {}).get("podIP") for p in pods.get("items", [])}
    for p in pods.get("items", []):
        md, spec, st = p["metadata"], p["spec"], p.get("status", {})
        ns, name = md["namespace"], md["name"]
        ann = md.get("annotations", {}) or {}
        base = f"/api/v1/namespaces/{ns}/pods/{name}"
        if md.get("deletionTimestamp"):
            if ann.get("fake-kubelet/stuck") == "true":
                continue
            end = dt.datetime.strptime(md["deletionTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
            grace = md.get("deletionGracePeriodSeconds", 0) or 0
            began = end - dt.timedelta(seconds=grace)
            due = end if ann.get("fake-kubelet/ignore-sigterm") == "true" else min(end, began + dt.timedelta(seconds=2))
            if now() >= due:
                code, _ = call("DELETE", base, {"apiVersion": "v1", "kind": "DeleteOptions",
                                                "gracePeriodSeconds": 0,
                                                "preconditions": {"uid": md["uid"]}})
                log("finished deletion of", f"{ns}/{name}", "grace", grace, "->", code)
            continue
        if not spec.get("nodeName"):
            if cordoned:
                continue
            code, r = call("POST", base + "/binding", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}})
            log("bound", f"{ns}/{name}", "->", code, r.get("message", ""))
            continue
        if st.get("phase") != "Running" and not ann.get("fake-kubelet/pending"):
            t = stamp()
            ip = ip_for(used)
            used.add(ip)
            cs = [{"name": c["name"], "image": c["image"], "imageID": "fake://" + c["image"],
                   "containerID": "fake://" + md["uid"][:8] + c["name"], "ready": True, "started": True,
                   "restartCount": 0, "state": {"running": {"startedAt": t}}} for c in spec["containers"]]
            code, r = call("PATCH", base + "/status", {"status": {
                "phase": "Running", "hostIP": "127.0.0.1", "podIP": ip, "podIPs": [{"ip": ip}],
                "startTime": t, "containerStatuses": cs,
                "conditions": [{"type": t_, "status": "True", "lastTransitionTime": t}
                               for t_ in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]}},
                "application/merge-patch+json")
            log("running+ready", f"{ns}/{name}", ip, "->", code, r.get("message", "") if code >= 300 else "")


def main():
    log("fake kubelet for", NODE, "on", SERVER)
    while True:
        try:
            tick()
        except Exception as e:  # the server may be restarting
            log("error", type(e).__name__, e)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
