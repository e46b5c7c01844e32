"""Pod identity without an API server, end to end.

A real TLS client (the official `openai` SDK) runs in a cgroup shaped like
the kubelet's (cgroupfs driver: `kubepods/besteffort/pod<uid>/<container
id>`), and a fake `/var/log` tree holds the kubelet's `pods/<namespace>_
<pod>_<uid>/<container>/` and `containers/<pod>_<namespace>_<container>-
<container id>.log` names for that pod (two containers, so the name must
come from the container id). oispd, pointed at the tree with
`kubelet_log_dir`, captures the call: its events carry the pod UID, the
namespace, the pod name and the container name, in the OISP view
(`host.k8s`) and in the OTel view (`k8s.*` resource attributes).

Needs root, BPF, a writable cgroup hierarchy and port 443 free:

    OISPD_BIN=/var/tmp/oispd-target/debug/oispd python3 -m pytest -q tests/e2e/test_pod_identity.py
"""
from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
import uuid

import pytest

from conftest import Oispd, read_jsonl, wait_for
from fake_provider import provider_env  # noqa: F401  (fixture)

OPENAI_KEY = "sk-proj-PODIDENT" + "z1X2c3V4b5N6m7A8s9D0" * 3
CLIENT = f"""
import sys
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
r = c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Say hello"}}])
assert r.choices[0].message.content == "Hello from the fake", r
print("called", flush=True)
sys.stdin.readline()  # stays in the pod until the test has read its events
"""
NAMESPACE, POD, CONTAINER, SIDECAR = "ai-team", "agent-7d9f8c-x2k4q", "agent", "sidecar"


def cgroup_root() -> pathlib.Path:
    """A cgroup hierarchy this test can make a group in (v1 `pids`, or v2)."""
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if (pathlib.Path(root) / "cgroup.procs").exists():
            return pathlib.Path(root)
    pytest.fail("no cgroup hierarchy with cgroup.procs under /sys/fs/cgroup")


@pytest.fixture
def pod(tmp_path):
    """The pod's cgroup and the kubelet-shaped log tree; removed afterwards."""
    uid, container_id, sidecar_id = str(uuid.uuid4()), uuid.uuid4().hex * 2, uuid.uuid4().hex * 2
    groups = [cgroup_root() / "kubepods", cgroup_root() / "kubepods/besteffort",
              cgroup_root() / f"kubepods/besteffort/pod{uid}", cgroup_root() / f"kubepods/besteffort/pod{uid}/{container_id}"]
    for g in groups:
        g.mkdir(exist_ok=True)
    logs = tmp_path / "var-log"
    for c in (CONTAINER, SIDECAR):
        (logs / "pods" / f"{NAMESPACE}_{POD}_{uid}" / c).mkdir(parents=True)
        (logs / "pods" / f"{NAMESPACE}_{POD}_{uid}" / c / "0.log").write_text("")
    (logs / "containers").mkdir()
    for c, cid in ((CONTAINER, container_id), (SIDECAR, sidecar_id)):
        (logs / "containers" / f"{POD}_{NAMESPACE}_{c}-{cid}.log").symlink_to(
            logs / "pods" / f"{NAMESPACE}_{POD}_{uid}" / c / "0.log")
    try:
        yield {"uid": uid, "cgroup": groups[-1], "logs": logs}
    finally:
        for g in reversed(groups):
            try:
                g.rmdir()
            except OSError:
                pass


def test_events_of_a_process_in_a_pod_carry_its_namespace_pod_and_container(oispd_bin, provider_env, pod, tmp_path):  # noqa: F811
    events_path, otlp_path = tmp_path / "events.jsonl", tmp_path / "otlp.jsonl"
    config = f"""
receivers: {{ebpf: {{kubelet_log_dir: {pod['logs']}}}}}
exporters:
  file: {{path: {events_path}, format: oisp_jsonl, flush_interval: 0s}}
  file/otlp: {{path: {otlp_path}, format: json, flush_interval: 0s}}
service: {{pipelines: {{logs: {{receivers: [ebpf], exporters: [file, file/otlp]}}}}}}
"""
    o = Oispd(oispd_bin, config, tmp_path)
    client = None
    try:
        wait_for(lambda: "oispd is running" in o.log() or o.proc.poll() is not None, timeout=120, what="oispd")
        assert o.proc.poll() is None, o.log()
        # The shell joins the pod's cgroup, then becomes the client, which
        # lives until its events are read (its /proc entry is what names it).
        client = subprocess.Popen(
            ["sh", "-c", f'echo $$ > {pod["cgroup"]}/cgroup.procs && exec "$0" -c "$1"', sys.executable, CLIENT],
            env=provider_env["env"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def calls():
            events = read_jsonl(events_path) if events_path.exists() else []
            mine = [e for e in events if (e.get("host") or {}).get("k8s", {}).get("pod_uid") == pod["uid"]]
            return mine if {"ai.request", "ai.response"} <= {e["event_type"] for e in mine} else None

        try:
            events = wait_for(calls, timeout=60, what="the pod's captured call")
        except TimeoutError:
            client.kill()
            pytest.fail(f"no event of the pod; client: {client.communicate()}; oispd log:\n{o.log()[-4000:]}")
        out, err = client.communicate("\n", timeout=60)
        assert client.returncode == 0 and out == "called\n", err
        for e in events:
            assert e["host"]["k8s"] == {"namespace": NAMESPACE, "pod_name": POD, "pod_uid": pod["uid"],
                                        "container_name": CONTAINER}, e["host"]
        request = next(e for e in events if e["event_type"] == "ai.request")
        assert request["data"]["model"]["id"] == "gpt-4o-mini"

        def resource_of_pod():
            for line in (read_jsonl(otlp_path) if otlp_path.exists() else []):
                for rl in line.get("resourceLogs", []):
                    attrs = {a["key"]: a["value"].get("stringValue") for a in rl["resource"]["attributes"]}
                    if attrs.get("k8s.pod.uid") == pod["uid"]:
                        return attrs
            return None

        attrs = wait_for(resource_of_pod, timeout=30, what="the pod's OTLP resource")
        assert attrs["k8s.namespace.name"] == NAMESPACE
        assert attrs["k8s.pod.name"] == POD
        assert attrs["k8s.container.name"] == CONTAINER
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        code = o.stop()
    assert code == 0, o.log()
    assert OPENAI_KEY not in events_path.read_text()
