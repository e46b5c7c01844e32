"""Least privilege, end to end (docs/security.md).

oispd runs as an unprivileged user (nobody) given exactly the documented
capability set of the `ebpf` receiver as ambient capabilities (`setpriv`,
as systemd's AmbientCapabilities= does) and captures a real TLS client's AI
call: the official `openai` SDK, run as root, so reading its /proc entries
takes CAP_SYS_PTRACE. With any one capability of the set missing, or with
only the CAP_BPF + CAP_PERFMON an older kernel accepted, it exits non-zero
with one line naming what is missing and the receiver that needs it. An
OTLP-only pipeline runs with no capability at all. Started as root, every
thread of oispd keeps only what its receivers need.

Needs root, BPF, port 443 free and the peers of scripts/setup.sh:

    OISPD_BIN=/var/tmp/oispd-target/debug/oispd python3 -m pytest -q tests/e2e/test_least_privilege.py
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import Oispd, free_port, read_jsonl, wait_for, wait_port
from fake_provider import provider_env  # noqa: F401  (fixture)
from test_pipeline import emit, sdk_logger

# The documented set (docs/security.md), as setpriv and /proc name them.
EBPF_CAPABILITIES = {"sys_admin": 21, "sys_ptrace": 19, "dac_read_search": 2}
NOBODY = ("--reuid=65534", "--regid=65534", "--clear-groups")
OPENAI_KEY = "sk-proj-LEASTPRIV" + "q1W2e3R4t5Y6u7I8o9P0" * 3
CLIENT = f"""
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
r = c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Say hello"}}])
assert r.choices[0].message.content == "Hello from the fake", r
"""


def mask(numbers) -> int:
    return sum(1 << n for n in numbers)


def as_nobody(capabilities) -> list[str]:
    """setpriv's prefix running a command as nobody with these ambient capabilities."""
    caps = ",".join(f"+{c}" for c in capabilities)
    prefix = ["setpriv", *NOBODY]
    if caps:
        prefix += [f"--inh-caps={caps}", f"--ambient-caps={caps}"]
    return prefix


def capability_sets(pid: int) -> set[tuple[str, int]]:
    """The (set name, mask) pairs of every thread of `pid`."""
    out = set()
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cap") and line[3:6] in ("Inh", "Prm", "Eff", "Bnd", "Amb"):
                name, value = line.split(":")
                out.add((name, int(value.strip(), 16)))
    return out


@pytest.fixture
def shared_dir():
    """A directory nobody can write in (pytest's tmp_path parents are 0700)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="oispd-e2e-priv-", dir="/tmp"))
    d.chmod(0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def ebpf_config(out: pathlib.Path) -> str:
    return f"""
receivers: {{ebpf: {{}}}}
exporters: {{file: {{path: {out}, format: oisp_jsonl, flush_interval: 0s}}}}
service: {{pipelines: {{logs: {{receivers: [ebpf], exporters: [file]}}}}}}
"""


def start(oispd_bin, config: str, workdir: pathlib.Path, prefix=()) -> Oispd:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(workdir)}
    o = Oispd(oispd_bin, config, workdir, env=env, prefix=prefix)
    o.wait_running()
    return o


def test_nobody_with_exactly_the_documented_set_captures_a_tls_ai_call(oispd_bin, provider_env, shared_dir):  # noqa: F811
    out = shared_dir / "events.jsonl"
    o = start(oispd_bin, ebpf_config(out), shared_dir, prefix=as_nobody(EBPF_CAPABILITIES))
    try:
        expected = mask(EBPF_CAPABILITIES.values())
        sets = capability_sets(o.proc.pid)
        assert ("CapEff", expected) in sets and ("CapPrm", expected) in sets, sets
        client = subprocess.run([sys.executable, "-c", CLIENT], env=provider_env["env"], capture_output=True,
                                text=True, timeout=90)
        assert client.returncode == 0, client.stderr

        def call():
            events = read_jsonl(out) if out.exists() else []
            mine = [e for e in events if (e.get("process") or {}).get("name") == "python3"]
            kinds = {e["event_type"] for e in mine}
            return mine if {"ai.request", "ai.response"} <= kinds else None

        try:
            events = wait_for(call, timeout=60, what="the captured call")
        except TimeoutError:
            pytest.fail(f"no captured call; oispd log:\n{o.log()[-4000:]}")
        request = next(e for e in events if e["event_type"] == "ai.request")
        response = next(e for e in events if e["event_type"] == "ai.response")
        assert request["data"]["model"]["id"] == "gpt-4o-mini"
        assert request["data"]["provider"]["name"] == "openai"
        assert response["data"]["status_code"] == 200
        assert OPENAI_KEY not in out.read_text()
    finally:
        code = o.stop()
    assert code == 0, o.log()


@pytest.mark.parametrize("missing", [*EBPF_CAPABILITIES, "all but CAP_BPF and CAP_PERFMON"])
def test_a_missing_capability_is_one_line_naming_it(oispd_bin, shared_dir, missing):
    if missing in EBPF_CAPABILITIES:
        given = [c for c in EBPF_CAPABILITIES if c != missing]
        named = [f"CAP_{missing.upper()}"]
    else:
        given = ["bpf", "perfmon"]
        named = [f"CAP_{c.upper()}" for c in EBPF_CAPABILITIES]
    cfg = shared_dir / "c.yaml"
    cfg.write_text(ebpf_config(shared_dir / "e.jsonl"))
    r = subprocess.run([*as_nobody(given), oispd_bin, "--config", str(cfg)], capture_output=True, text=True,
                       timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(shared_dir)})
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert r.returncode != 0 and len(errors) == 1, r.stderr
    assert errors[0].startswith("Error: receivers::ebpf: ebpf receiver lacks CAP_"), errors
    for cap in named:
        assert cap in errors[0], errors
    for cap in set(f"CAP_{c.upper()}" for c in given) - set(named):
        assert f"{cap} (" not in errors[0], errors


def otlp_config(port: int, out: pathlib.Path) -> str:
    return f"""
receivers: {{otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{port}}}}}}}}}
exporters: {{file: {{path: {out}, flush_interval: 0s}}}}
service: {{pipelines: {{logs: {{receivers: [otlp], exporters: [file]}}}}}}
"""


def test_otlp_only_pipeline_runs_without_any_capability(oispd_bin, shared_dir):
    port, out = free_port(), shared_dir / "events.jsonl"
    o = start(oispd_bin, otlp_config(port, out), shared_dir, prefix=as_nobody([]))
    try:
        wait_port(port)
        assert ("CapEff", 0) in capability_sets(o.proc.pid)
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        provider = sdk_logger(OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}/v1/logs"))
        emit(provider, "a log through an unprivileged oispd", {"app.user": "bob"})
        assert provider.force_flush()
        lines = wait_for(lambda: out.exists() and read_jsonl(out), what="the record in the file")
        assert "a log through an unprivileged oispd" in out.read_text(), lines
    finally:
        code = o.stop()
    assert code == 0, o.log()


@pytest.mark.parametrize("pipeline", ["ebpf", "otlp"])
def test_root_keeps_only_what_its_receivers_need(oispd_bin, shared_dir, pipeline):
    port, out = free_port(), shared_dir / "events.jsonl"
    if pipeline == "ebpf":
        config, kept = ebpf_config(out), mask(EBPF_CAPABILITIES.values())
    else:
        config, kept = otlp_config(port, out), 0
    o = start(oispd_bin, config, shared_dir)
    try:
        sets = capability_sets(o.proc.pid)
        assert sets == {("CapInh", 0), ("CapPrm", kept), ("CapEff", kept), ("CapBnd", kept), ("CapAmb", 0)}, sets
        assert "dropped the capabilities no configured receiver needs" in o.log()
    finally:
        code = o.stop()
    assert code == 0, o.log()
