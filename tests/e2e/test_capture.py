"""The `ebpf` receiver end to end, as root: real AI clients (curl over
HTTP/2, the official `openai` and `anthropic` Python SDKs, node's built-in
fetch) call a local TLS server that answers like OpenAI and Anthropic under
the providers' real host names (fake_provider.py); oispd captures the calls
with eBPF and writes OISP events to a file (and GenAI spans to another).

For every call the tests check the exact model, provider, process name,
streaming flag and token counts; that every event validates against the
OISP schema (envelope and data); that no API key appears anywhere in the
output. Also: two concurrent streams of one node process come out as two
calls; a client started after oispd, with a libssl copy oispd never saw, is
captured; process, network and file events of an agent and its child carry
the right pids; an agent's chunked reads of a file come out as one
`file.read`, and its rename and delete as `file.rename` and `file.delete`;
a body above `max_body_bytes` is marked partial; start-up errors are one
clear line. Stock Bun and a `bun build --compile` app (BoringSSL built in,
stripped) running a small tool-using agent are captured through the
SSL_write/SSL_read oispd locates by structure; a near-miss copy the finder
must refuse stays reported as unhooked.

One oispd runs for the whole module (loading eBPF takes seconds); each test
runs its clients and reads the events of their pids.

Needs root, BPF, port 443 free, python3 with openai/anthropic/h2/jsonschema,
curl, node and openssl (scripts/setup.sh installs them):

    OISPD_BIN=/var/tmp/oispd-target/debug/oispd python3 -m pytest -q tests/e2e/test_capture.py
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

import tls_clients
from conftest import Oispd, _spec_dir, free_port, read_jsonl, wait_for
from fake_provider import (
    ANTHROPIC_PLAIN,
    ANTHROPIC_STREAM,
    ANTHROPIC_TOOLS,
    OPENAI_EMBEDDINGS,
    OPENAI_PLAIN,
    OPENAI_STREAM,
    OPENAI_TOOLS,
    TOOL_CALL_ID,
    TOOL_USE_ID,
    provider_env,  # noqa: F401  (fixture)
)
from test_pipeline import oisp_schema_validator

# Distinctive fake keys, as long as real ones: none may appear in any output.
OPENAI_KEY = "sk-proj-TESTKEY" + "a1B2c3D4e5F6g7H8i9J0" * 3
ANTHROPIC_KEY = "sk-ant-api03-TESTKEY" + "Zy9Xw8Vu7Ts6Rq5Po4Nm" * 4 + "-AA"
KEYS = [OPENAI_KEY, ANTHROPIC_KEY, "TESTKEY"]

MAX_BODY = 65536
CLIENT_TIMEOUT = 90
EVENT_WAIT = 60.0


class Capture:
    """The module's oispd and what it wrote."""

    def __init__(self, oispd: Oispd, events_path: pathlib.Path, spans_path: pathlib.Path, env: dict, watched: pathlib.Path,
                 admin_port: int):
        self.oispd = oispd
        self.admin_port = admin_port
        self.events_path = events_path
        self.spans_path = spans_path
        self.env = env
        self.watched = watched

    def events(self):
        if not self.events_path.exists():
            return []
        return read_jsonl(self.events_path)

    def of_pid(self, pid: int):
        return [e for e in self.events() if (e.get("process") or {}).get("pid") == pid]

    def wait(self, predicate, what: str, timeout: float = EVENT_WAIT):
        try:
            return wait_for(predicate, timeout=timeout, what=what)
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}; oispd log:\n{self.oispd.log()[-4000:]}")

    def spans(self):
        if not self.spans_path.exists():
            return []
        out = []
        for line in read_jsonl(self.spans_path):
            for rs in line.get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    out.extend(ss.get("spans", []))
        return out


@pytest.fixture(scope="module")
def capture(provider_env, oispd_bin, tmp_path_factory):  # noqa: F811
    workdir = tmp_path_factory.mktemp("capture")
    watched = workdir / "watched"
    watched.mkdir()
    events_path, spans_path = workdir / "events.jsonl", workdir / "spans.jsonl"
    admin_port = free_port()
    config = f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
receivers:
  ebpf:
    max_body_bytes: {MAX_BODY}
    ring_buffer_size: 4194304
    activity: agents
    file_paths: ["{watched}/**"]
exporters:
  file:
    path: {events_path}
    format: oisp_jsonl
    flush_interval: 0s
  file/traces:
    path: {spans_path}
    format: json
    flush_interval: 0s
service:
  extensions: [admin]
  pipelines:
    logs:
      receivers: [ebpf]
      exporters: [file]
    traces:
      receivers: [ebpf]
      exporters: [file/traces]
"""
    oispd = Oispd(oispd_bin, config, workdir)
    oispd.wait_running("the capture tests need root with BPF")
    yield Capture(oispd, events_path, spans_path, provider_env["env"], watched, admin_port)
    code = oispd.stop()
    assert code == 0, oispd.log()


def run_client(capture: Capture, args, env_extra=None, cwd=None) -> tuple[int, str]:
    """Runs a client to completion; returns its pid and stdout."""
    env = dict(capture.env)
    env.update(env_extra or {})
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"client {args[0]} timed out:\n{out}\n{err}")
    assert proc.returncode == 0, f"client {args[:3]} failed ({proc.returncode}):\n{out}\n{err}"
    return proc.pid, out


def python_client(capture: Capture, code: str, **kw) -> tuple[int, str]:
    return run_client(capture, [sys.executable, "-c", code], **kw)


def calls_of(events):
    """{request_id: (ai.request, ai.response)} of some events."""
    reqs = {e["data"]["request_id"]: e for e in events if e["event_type"] == "ai.request"}
    resps = {e["data"]["request_id"]: e for e in events if e["event_type"] == "ai.response"}
    return {rid: (req, resps.get(rid)) for rid, req in reqs.items()}


def wait_calls(capture: Capture, pid: int, n: int, what: str):
    """Waits until `pid` has `n` complete calls (and its exit); returns the calls by model."""
    def ready():
        ev = capture.of_pid(pid)
        calls = calls_of(ev)
        done = [c for c in calls.values() if c[1] is not None]
        exited = any(e["event_type"] == "process.exit" for e in ev)
        return calls if len(done) >= n and exited else None

    calls = capture.wait(ready, what)
    by_model = {}
    for req, resp in calls.values():
        by_model.setdefault(req["data"]["model"]["id"], []).append((req, resp))
    return by_model


def check_call(req, resp, *, model, provider, process, streaming, usage, protocol=None):
    for e in (req, resp):
        assert e["process"]["name"] == process, e["process"]
        assert e["data"]["provider"]["name"] == provider
        assert e["data"]["model"]["id"] == model
        assert e["source"]["capture_method"] == "tls_boundary"
        assert e["confidence"]["completeness"] == "full", e["confidence"]
        assert e["host"]["os"] == "linux" and e["host"].get("hostname")
        if protocol:
            assert e["attrs"]["network.protocol.version"] == protocol
    assert req["data"]["streaming"] is streaming
    assert req["data"]["auth"]["type"] == "api_key"
    assert resp["data"]["status_code"] == 200 and resp["data"]["success"] is True
    assert resp["data"]["usage"] == usage, resp["data"]
    assert resp["related_events"][0]["event_id"] == req["event_id"]


def check_clean(events):
    """No key anywhere; every event valid against the schema."""
    text = json.dumps(events)
    for key in KEYS:
        assert key not in text, f"{key[:20]}... leaked into the output"
    for e in events:
        errors = schema_errors(e)
        assert not errors, (e["event_type"], errors)


_VALIDATORS = {}


def schema_errors(event) -> list[str]:
    """Errors of the envelope, and of `data` against the `$defs` entry whose
    title is the event type (as the spec's event schemas name them)."""
    import jsonschema
    from referencing import Registry, Resource

    if "envelope" not in _VALIDATORS:
        envelope, schemas = oisp_schema_validator(_spec_dir())
        _VALIDATORS["envelope"] = envelope
        registry = Registry()
        for doc in schemas.values():
            registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))
        for rel, doc in schemas.items():
            for name, sub in doc.get("$defs", {}).items():
                title = sub.get("title")
                if title and "." in title:
                    _VALIDATORS[title] = jsonschema.Draft202012Validator(
                        {"$ref": f"{doc['$id']}#/$defs/{name}"}, registry=registry,
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [e.message for e in _VALIDATORS["envelope"].iter_errors(event)]
    data_validator = _VALIDATORS.get(event["event_type"])
    assert data_validator is not None, f"no schema for {event['event_type']}"
    errors += [f"data: {e.message}" for e in data_validator.iter_errors(event.get("data", {}))]
    return errors


OPENAI_SDK_CLIENT = f"""
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
msgs = [{{"role": "user", "content": "Say hello"}}]
r = c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
assert r.choices[0].message.content == "Hello from the fake", r
text = ""
for chunk in c.chat.completions.create(model="gpt-4o", messages=msgs, stream=True,
                                       stream_options={{"include_usage": True}}):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
assert text == "Hello from the fake", text
tools = [{{"type": "function", "function": {{"name": "get_weather", "description": "Weather of a city",
          "parameters": {{"type": "object", "properties": {{"city": {{"type": "string"}}}}}}}}}}]
r = c.chat.completions.create(model="gpt-4.1-mini", messages=msgs, tools=tools)
assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
e = c.embeddings.create(model="text-embedding-3-small", input="hello embeddings")
assert len(e.data[0].embedding) == 4
"""


def test_openai_sdk_plain_streaming_tools_embeddings(capture):
    pid, _ = python_client(capture, OPENAI_SDK_CLIENT)
    calls = wait_calls(capture, pid, 3, "the openai SDK's three chat calls")
    common = dict(provider="openai", process="python3", protocol="1.1")
    check_call(*calls["gpt-4o-mini"][0], model="gpt-4o-mini", streaming=False, usage=OPENAI_PLAIN, **common)
    check_call(*calls["gpt-4o"][0], model="gpt-4o", streaming=True, usage=OPENAI_STREAM, **common)
    check_call(*calls["gpt-4.1-mini"][0], model="gpt-4.1-mini", streaming=False, usage=OPENAI_TOOLS, **common)
    streamed = calls["gpt-4o"][0][1]["data"]
    assert streamed["choices"][0]["message"]["content"] == "Hello from the fake"
    tools_req, tools_resp = calls["gpt-4.1-mini"][0]
    assert [t["name"] for t in tools_req["data"]["tools"]] == ["get_weather"]
    assert tools_resp["data"]["tool_calls"][0]["name"] == "get_weather"
    events = capture.of_pid(pid)
    tool_calls = [e for e in events if e["event_type"] == "agent.tool_call"]
    assert [t["data"]["tool"]["name"] for t in tool_calls] == ["get_weather"], tool_calls
    assert tool_calls[0]["data"]["call_id"] == TOOL_CALL_ID
    emb = capture.wait(lambda: [e for e in capture.of_pid(pid) if e["event_type"] == "ai.embedding"],
                       "the ai.embedding event")
    assert len(emb) == 1
    emb = emb[0]
    assert emb["data"]["model"]["id"] == "text-embedding-3-small"
    assert emb["data"]["provider"]["name"] == "openai"
    assert emb["process"]["name"] == "python3"
    assert emb["data"]["total_tokens"] == OPENAI_EMBEDDINGS["total_tokens"]
    assert (emb["data"]["input_count"], emb["data"]["dimensions"]) == (1, 4)
    check_clean(capture.of_pid(pid))


SPLIT_END_CLIENT = f"""
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
for _ in c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "x"}}],
                                   stream=True, extra_headers={{"x-fake-split-end": "1"}}):
    pass
"""


def test_stream_closed_after_its_last_event_is_complete(capture):
    pid, _ = python_client(capture, SPLIT_END_CLIENT)
    calls = wait_calls(capture, pid, 1, "the streamed call")
    req, resp = calls["gpt-4o-mini"][0]
    assert resp["data"]["choices"][0]["message"]["content"] == "Hello from the fake"
    assert resp["confidence"]["completeness"] == "full", resp["confidence"]


ANTHROPIC_SDK_CLIENT = f"""
import anthropic
c = anthropic.Anthropic(api_key={ANTHROPIC_KEY!r})
msgs = [{{"role": "user", "content": "Say hello"}}]
r = c.messages.create(model="claude-sonnet-4-20250514", max_tokens=64, messages=msgs)
assert r.content[0].text == "Hello from the fake", r
with c.messages.stream(model="claude-3-5-haiku-20241022", max_tokens=64, messages=msgs) as s:
    text = "".join(s.text_stream)
assert text == "Hello from the fake", text
tools = [{{"name": "get_weather", "description": "Weather of a city",
          "input_schema": {{"type": "object", "properties": {{"city": {{"type": "string"}}}}}}}}]
r = c.messages.create(model="claude-opus-4-1-20250805", max_tokens=64, messages=msgs, tools=tools)
assert r.content[0].name == "get_weather", r
"""


def anthropic_usage(u):
    return {"prompt_tokens": u["input_tokens"], "completion_tokens": u["output_tokens"],
            "total_tokens": u["input_tokens"] + u["output_tokens"]}


def test_anthropic_sdk_plain_streaming_tools(capture):
    pid, _ = python_client(capture, ANTHROPIC_SDK_CLIENT)
    calls = wait_calls(capture, pid, 3, "the anthropic SDK's three calls")
    common = dict(provider="anthropic", process="python3", protocol="1.1")
    for model, streaming, usage in [
        ("claude-sonnet-4-20250514", False, ANTHROPIC_PLAIN),
        ("claude-3-5-haiku-20241022", True, ANTHROPIC_STREAM),
        ("claude-opus-4-1-20250805", False, ANTHROPIC_TOOLS),
    ]:
        req, resp = calls[model][0]
        check_call(req, resp, model=model, streaming=streaming, usage=anthropic_usage(usage), **common)
    assert calls["claude-3-5-haiku-20241022"][0][1]["data"]["choices"][0]["message"]["content"] == "Hello from the fake"
    assert calls["claude-opus-4-1-20250805"][0][1]["data"]["tool_calls"][0]["name"] == "get_weather"
    tool_calls = [e for e in capture.of_pid(pid) if e["event_type"] == "agent.tool_call"]
    assert [t["data"]["tool"]["name"] for t in tool_calls] == ["get_weather"]
    check_clean(capture.of_pid(pid))


def test_curl_http2_plain_and_streaming(capture, provider_env):  # noqa: F811
    headers = capture.watched.parent / "curl-headers.txt"
    # Headers from a file, as a careful user does: argv holds no key either way
    # (the redaction would catch one there), but this keeps the test about the TLS path.
    headers.write_text(f"Authorization: Bearer {OPENAI_KEY}\nx-api-key: {ANTHROPIC_KEY}\n"
                       "content-type: application/json\nanthropic-version: 2023-06-01\n")
    script = (
        f"curl -sS --http2 --fail https://api.openai.com/v1/chat/completions -H @{headers} "
        "-d '{\"model\":\"gpt-4o-2024-08-06\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' && "
        f"curl -sS --http2 --fail -N https://api.anthropic.com/v1/messages -H @{headers} "
        "-d '{\"model\":\"claude-3-7-sonnet-20250219\",\"max_tokens\":32,\"stream\":true,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
    )
    before = len(provider_env["provider"].requests)
    _, out = run_client(capture, ["bash", "-c", script])
    assert "Hello from the fake" in out and "message_stop" in out, out
    protocols = {r["protocol"] for r in provider_env["provider"].requests[before:]}
    assert protocols == {"h2"}, "curl must speak HTTP/2 to the fake provider"

    def curl_calls():
        found = {}
        for e in capture.events():
            if e["event_type"] == "ai.request" and e["process"]["name"] == "curl":
                found.setdefault(e["data"]["model"]["id"], e)
        if len(found) < 2:
            return None
        calls = calls_of(capture.of_pid(found["gpt-4o-2024-08-06"]["process"]["pid"])
                         + capture.of_pid(found["claude-3-7-sonnet-20250219"]["process"]["pid"]))
        return calls if all(r is not None for _, r in calls.values()) else None

    calls = capture.wait(curl_calls, "curl's two calls")
    by_model = {req["data"]["model"]["id"]: (req, resp) for req, resp in calls.values()}
    check_call(*by_model["gpt-4o-2024-08-06"], model="gpt-4o-2024-08-06", provider="openai",
               process="curl", streaming=False, usage=OPENAI_PLAIN, protocol="2")
    check_call(*by_model["claude-3-7-sonnet-20250219"], model="claude-3-7-sonnet-20250219",
               provider="anthropic", process="curl", streaming=True,
               usage=anthropic_usage(ANTHROPIC_STREAM), protocol="2")
    check_clean([e for pair in calls.values() for e in pair])


NODE_CLIENT = """
const key = process.env.TEST_OPENAI_KEY;
async function call(model, stream) {
  const r = await fetch('https://api.openai.com/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + key },
    body: JSON.stringify({ model, stream, stream_options: stream ? { include_usage: true } : undefined,
                           messages: [{ role: 'user', content: 'hello from ' + model }] }),
  });
  if (r.status !== 200) throw new Error('status ' + r.status);
  const text = await r.text();
  if (!text.includes(stream ? '[DONE]' : 'Hello from the fake')) throw new Error('bad body ' + text);
  return model;
}
(async () => {
  // Two concurrent streams from one process (one connection each, one thread).
  const both = await Promise.all([call('gpt-4o-mini', true), call('gpt-4.1-nano', true)]);
  const plain = await call('o3-mini', false);
  console.log(JSON.stringify([...both, plain]));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_node_fetch_two_concurrent_streams(capture):
    pid, out = run_client(capture, ["node", "-e", NODE_CLIENT], env_extra={"TEST_OPENAI_KEY": OPENAI_KEY})
    assert json.loads(out) == ["gpt-4o-mini", "gpt-4.1-nano", "o3-mini"]
    calls = wait_calls(capture, pid, 3, "node's three calls")
    assert sorted(calls) == ["gpt-4.1-nano", "gpt-4o-mini", "o3-mini"]
    for model in ("gpt-4o-mini", "gpt-4.1-nano"):
        assert len(calls[model]) == 1, f"{model}: {len(calls[model])} calls"
        req, resp = calls[model][0]
        check_call(req, resp, model=model, provider="openai", process="node", streaming=True, usage=OPENAI_STREAM)
        assert req["data"]["messages"][0]["content"] == "hello from " + model
        assert resp["data"]["choices"][0]["message"]["content"] == "Hello from the fake"
    check_call(*calls["o3-mini"][0], model="o3-mini", provider="openai", process="node",
               streaming=False, usage=OPENAI_PLAIN)
    check_clean(capture.of_pid(pid))


AGENT_CLIENT = f"""
import os, subprocess, sys, openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "plan"}}])
child = subprocess.run(["/bin/sh", "-c", "echo child-output > " + sys.argv[1] + "/child.txt"])
with open(os.path.join(sys.argv[1], "agent-notes.md"), "w") as f:
    f.write("notes of the agent\\n")
"""


def test_agent_process_network_and_file_events_carry_the_right_pids(capture):
    pid, _ = run_client(capture, [sys.executable, "-c", AGENT_CLIENT, str(capture.watched)], cwd=capture.watched)
    notes = str(capture.watched / "agent-notes.md")

    def complete():
        ev = capture.of_pid(pid)
        types = {e["event_type"] for e in ev}
        need = {"process.exec", "network.connect", "ai.request", "ai.response", "process.fork",
                "file.open", "file.write", "process.exit"}
        return ev if need <= types else None

    ev = capture.wait(complete, "the agent's process, network and file events")
    by_type = {}
    for e in ev:
        by_type.setdefault(e["event_type"], []).append(e)
    execd = by_type["process.exec"][0]
    assert execd["data"]["exe"].endswith(("python3", "python3.11")), execd["data"]
    assert execd["process"]["name"] == "python3"
    assert execd["data"]["cwd"] == str(capture.watched)
    assert execd["source"] == {**execd["source"], "capture_method": "ebpf_tracepoint",
                               "capture_point": "sched_process_exec"}
    # The exec and the connect came before the first AI call, and were kept for it.
    order = [e["event_type"] for e in ev]
    assert order.index("process.exec") < order.index("ai.request")
    connects = [c for c in by_type["network.connect"] if c["data"]["dest"].get("port") == 443]
    assert connects and connects[0]["data"]["dest"]["ip"] == "127.0.0.1"
    assert connects[0]["data"]["protocol"] == "tcp"
    assert order.index("network.connect") < order.index("ai.request")
    opened = [e for e in by_type["file.open"] if e["data"]["path"] == notes]
    assert opened and "write" in opened[0]["data"]["flags"] and "create" in opened[0]["data"]["flags"]
    written = [e for e in by_type["file.write"] if e["data"]["path"] == notes]
    assert written and written[0]["data"]["bytes_written"] == len("notes of the agent\n")
    assert all(e["process"]["pid"] == pid for e in ev)
    # The child: forked by the agent, so an agent too.
    child_pids = {f["data"]["child_pid"] for f in by_type["process.fork"]}

    def child_events():
        out = [e for e in capture.events() if (e.get("process") or {}).get("pid") in child_pids]
        return out if any(e["event_type"] == "process.exec" for e in out) else None

    child_ev = capture.wait(child_events, "the agent's child's exec")
    child_exec = next(e for e in child_ev if e["event_type"] == "process.exec")
    assert child_exec["process"]["ppid"] == pid
    assert child_exec["data"]["exe"] == "/bin/sh"
    assert child_exec["data"]["is_shell"] is True
    child_txt = str(capture.watched / "child.txt")
    capture.wait(lambda: [e for e in capture.events() if e["event_type"] == "file.open"
                          and e["data"]["path"] == child_txt and e["process"]["pid"] in child_pids],
                 "the child's file.open")
    check_clean(ev + child_ev)


READER_CLIENT = f"""
import os, sys, openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "read"}}])
sys.stdin.readline()  # the test says when oispd traces this process
watched = sys.argv[1]
with open(os.path.join(watched, "read-me.txt"), "rb", buffering=0) as f:
    while f.read(4096):
        pass
os.rename(os.path.join(watched, "plan.tmp"), os.path.join(watched, "plan.md"))
os.remove(os.path.join(watched, "plan.md"))
"""
READ_SIZE = 40_000  # ten 4 KiB reads, the last one short, then one at EOF


def test_agent_file_reads_are_one_event_and_deletes_and_renames_are_reported(capture):
    watched = capture.watched
    (watched / "read-me.txt").write_bytes(b"r" * READ_SIZE)
    (watched / "plan.tmp").write_text("plan\n")
    env = dict(capture.env)
    proc = subprocess.Popen([sys.executable, "-c", READER_CLIENT, str(watched)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Its call in the output: oispd has marked it an agent (activity: agents).
        capture.wait(lambda: [e for e in capture.of_pid(proc.pid) if e["event_type"] == "ai.response"] or None,
                     "the reader's AI call")
        out, err = proc.communicate("go\n", timeout=CLIENT_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    pid = proc.pid
    read_path = str(watched / "read-me.txt")

    def done():
        ev = capture.of_pid(pid)
        types = {e["event_type"] for e in ev}
        return ev if {"file.read", "file.rename", "file.delete", "process.exit"} <= types else None

    ev = capture.wait(done, "the reader's file.read, file.rename and file.delete")
    reads = [e for e in ev if e["event_type"] == "file.read" and e["data"]["path"] == read_path]
    assert len(reads) == 1, [r["data"] for r in reads]
    read = reads[0]
    assert read["process"]["pid"] == pid and read["process"]["name"] == "python3"
    assert read["data"]["bytes_read"] == READ_SIZE
    assert read["data"]["offset"] == 0 and read["data"]["complete"] is True
    assert read["data"]["file"] == {**read["data"]["file"], "name": "read-me.txt", "extension": "txt",
                                    "size": READ_SIZE}
    assert isinstance(read["data"]["fd"], int)
    assert read["source"]["capture_method"] == "ebpf_tracepoint" and read["source"]["capture_point"] == "read"
    assert read["confidence"]["completeness"] == "metadata_only"
    assert "reads_merged" in read["confidence"]["reasons"]
    opened = [e for e in ev if e["event_type"] == "file.open" and e["data"]["path"] == read_path]
    assert opened and opened[0]["data"]["fd"] == read["data"]["fd"]
    renamed = [e for e in ev if e["event_type"] == "file.rename"]
    assert [r["data"]["old_path"] for r in renamed] == [str(watched / "plan.tmp")]
    assert renamed[0]["data"]["new_path"] == str(watched / "plan.md")
    deleted = [e for e in ev if e["event_type"] == "file.delete"]
    assert [d["data"]["path"] for d in deleted] == [str(watched / "plan.md")]
    check_clean(ev)


def test_a_process_that_made_no_ai_call_is_not_reported(capture):
    pid, _ = python_client(capture, "import socket; s = socket.create_connection(('127.0.0.1', 443)); s.close()")
    # Its exit comes after its connect: once a later client's events are in, none of its are.
    marker, _ = python_client(capture, f"""
import openai
openai.OpenAI(api_key={OPENAI_KEY!r}).chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "x"}}])
""")
    wait_calls(capture, marker, 1, "the marker call")
    assert capture.of_pid(pid) == [], "activity of a process that is no agent"


LATE_CLIENT = f"""
import os, ssl, openai
maps = open("/proc/self/maps").read()
assert os.environ["LD_LIBRARY_PATH"] + "/libssl.so.3" in maps, "the libssl copy is not mapped"
c = openai.OpenAI(api_key={OPENAI_KEY!r})
c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "late"}}])
"""


def test_client_started_after_oispd_with_a_new_libssl_copy(capture, tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    for name in ("libssl.so.3", "libcrypto.so.3"):
        shutil.copy2(pathlib.Path("/lib/x86_64-linux-gnu") / name, libdir / name)
    # The client maps a libssl file that did not exist when oispd started
    # (it checks so itself); its call is captured only if oispd probed it then.
    pid, _ = python_client(capture, LATE_CLIENT, env_extra={"LD_LIBRARY_PATH": str(libdir)})
    calls = wait_calls(capture, pid, 1, "the call through the libssl copy")
    check_call(*calls["gpt-4o-mini"][0], model="gpt-4o-mini", provider="openai", process="python3",
               streaming=False, usage=OPENAI_PLAIN)


BIG_CLIENT = f"""
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
big = "x" * ({MAX_BODY} * 3)
c.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": big}}])
"""


def test_body_above_max_body_bytes_is_marked_partial(capture):
    pid, _ = python_client(capture, BIG_CLIENT)
    ev = capture.wait(lambda: [e for e in capture.of_pid(pid) if e["event_type"] == "ai.request"] or None,
                      "the big request")
    req = ev[0]
    assert req["confidence"]["completeness"] == "partial", req["confidence"]
    assert req["data"]["provider"]["name"] == "openai"
    assert req["process"]["name"] == "python3"
    check_clean(capture.of_pid(pid))


SPAN_CLIENT = f"""
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
msgs = [{{"role": "user", "content": "span me"}}]
c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
for _ in c.chat.completions.create(model="gpt-4o", messages=msgs, stream=True):
    pass
"""


def test_every_call_has_a_genai_span(capture):
    pid, _ = python_client(capture, SPAN_CLIENT)
    calls = wait_calls(capture, pid, 2, "the two calls to trace")
    expected = {req["event_id"]: (model, req) for model, pairs in calls.items() for req, _ in pairs}

    def spans_by_request():
        got = {}
        for s in capture.spans():
            for a in s.get("attributes", []):
                if a["key"] == "oisp.event_id":
                    got[a["value"]["stringValue"]] = s
        return got if set(expected) <= set(got) else None

    spans = capture.wait(spans_by_request, "one span per call")
    for event_id, (model, req) in expected.items():
        span = spans[event_id]
        assert span["name"] == f"chat {model}", span["name"]
        attrs = {a["key"]: a["value"] for a in span["attributes"]}
        assert attrs["gen_ai.request.model"] == {"stringValue": model}, attrs
    matched = [s for s in capture.spans() if any(
        a["key"] == "oisp.event_id" and a["value"]["stringValue"] in expected for a in s.get("attributes", []))]
    assert len(matched) == 2, "exactly one span per call"


def test_whole_output_is_valid_and_holds_no_key(capture):
    events = capture.events()
    assert events
    check_clean(events)
    if capture.spans_path.exists():
        assert "TESTKEY" not in capture.spans_path.read_text()
    assert "panicked" not in capture.oispd.log()


def test_startup_errors_are_one_clear_line(oispd_bin, tmp_path):
    # A directory an unprivileged user can read and write (tmp_path's parents are 0700).
    shared = pathlib.Path(tempfile.mkdtemp(prefix="oispd-e2e-", dir="/tmp"))
    shared.chmod(0o777)
    def start(receiver_body: str, prefix=()):
        n = len(list(shared.iterdir()))
        cfg, out = shared / f"c{n}.yaml", shared / f"e{n}.jsonl"
        cfg.write_text(f"""
receivers: {{ebpf: {receiver_body}}}
exporters: {{file: {{path: {out}}}}}
service: {{pipelines: {{logs: {{receivers: [ebpf], exporters: [file]}}}}}}
""")
        r = subprocess.run([*prefix, oispd_bin, "--config", str(cfg)], capture_output=True, text=True, timeout=120)
        errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
        return r.returncode, errors, r.stderr

    try:
        check_startup_errors(start)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def check_startup_errors(start):

    code, errors, err = start("{libraries: [/nonexistent/libssl.so.3]}")
    assert code != 0 and len(errors) == 1, err
    assert errors[0].startswith("Error: receivers::ebpf: cannot probe library /nonexistent/libssl.so.3"), errors

    code, errors, err = start("{}", prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
    assert code != 0 and len(errors) == 1, err
    assert errors[0].startswith("Error: receivers::ebpf: ebpf receiver lacks CAP_SYS_ADMIN"), errors

    code, errors, err = start("{providers: {catalog: /nonexistent/models.json}}")
    assert code != 0 and len(errors) == 1, err
    assert "providers::catalog" in errors[0] and "/nonexistent/models.json" in errors[0], errors


def test_config_typos_are_reported_by_validate(oispd_bin, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("""
receivers: {ebpf: {activty: all, batch: {size: 2}}}
exporters: {file: {path: /tmp/x.jsonl}}
service: {pipelines: {logs: {receivers: [ebpf], exporters: [file]}}}
""")
    r = subprocess.run([oispd_bin, "validate", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "receivers::ebpf" in r.stderr and "activty" in r.stderr, r.stderr


# A Responses API client over WebSocket (the `websockets` package, over
# Python's ssl, i.e. the system libssl): one turn where the model asks for
# exec_command, then the tool output alone in the next response.create,
# chained by previous_response_id, as Codex does.
WS_CLIENT = f"""
import json, os, ssl, sys
from websockets.sync.client import connect

ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
compression = "deflate" if sys.argv[1] == "deflate" else None
tools = [{{"type": "function", "name": "exec_command", "description": "run a shell command",
          "parameters": {{"type": "object", "properties": {{"cmd": {{"type": "string"}}}}}}}}]
with connect("wss://api.openai.com/v1/responses", ssl=ctx, compression=compression,
             additional_headers={{"Authorization": "Bearer {OPENAI_KEY}",
                                 "OpenAI-Beta": "responses_websockets=2026-02-06"}}) as ws:
    print(json.dumps([type(e).__name__ for e in ws.protocol.extensions]))

    def turn(msg):
        ws.send(json.dumps(msg))
        while True:
            ev = json.loads(ws.recv())
            if ev["type"] in ("response.completed", "response.failed", "error"):
                return ev

    first = turn({{"type": "response.create", "model": "gpt-5.1-codex", "stream": True, "tools": tools,
                  "input": [{{"role": "user", "content": [{{"type": "input_text", "text": "run echo"}}]}}]}})
    call = first["response"]["output"][0]
    turn({{"type": "response.create", "model": "gpt-5.1-codex", "stream": True, "tools": tools,
           "previous_response_id": first["response"]["id"],
           "input": [{{"type": "function_call_output", "call_id": call["call_id"], "output": "oispd-ws\\n"}}]}})
"""


@pytest.mark.parametrize("compression", ["deflate", "none"])
def test_responses_api_over_websocket(capture, provider_env, compression):  # noqa: F811
    from fake_responses_ws import WS_TEXT_USAGE, WS_TOOL_ARGS, WS_TOOL_CALL_ID, WS_TOOL_USAGE

    before = len(provider_env["provider"].requests)
    pid, out = run_client(capture, [sys.executable, "-c", WS_CLIENT, compression])
    # The client really negotiated (or really did not) permessage-deflate.
    assert json.loads(out.splitlines()[0]) == (["PerMessageDeflate"] if compression == "deflate" else [])
    seen = [json.loads(r["body"])["type"] for r in provider_env["provider"].requests[before:]
            if r["protocol"] == "websocket"]
    assert seen == ["response.create", "response.create"], seen
    calls = wait_calls(capture, pid, 2, "the two WebSocket turns")
    turns = sorted(calls["gpt-5.1-codex"], key=lambda c: c[0]["ts"])
    assert len(turns) == 2

    def usage(u):
        return {"prompt_tokens": u["input_tokens"], "completion_tokens": u["output_tokens"],
                "total_tokens": u["total_tokens"]}

    for (req, resp), want in zip(turns, (WS_TOOL_USAGE, WS_TEXT_USAGE)):
        for e in (req, resp):
            assert e["process"]["name"] == "python3" and e["process"]["pid"] == pid
            assert e["data"]["provider"]["name"] == "openai"
            assert e["data"]["provider"]["endpoint"] == "wss://api.openai.com/v1/responses"
            assert e["data"]["model"]["id"] == "gpt-5.1-codex"
            assert e["source"]["capture_method"] == "tls_boundary"
            assert e["confidence"]["completeness"] == "full", e["confidence"]
        assert req["data"]["streaming"] is True
        assert req["data"]["auth"]["type"] == "api_key"
        assert resp["data"]["success"] is True
        assert "status_code" not in resp["data"]
        assert resp["data"]["usage"] == usage(want), resp["data"]
        assert resp["data"]["time_to_first_token_ms"] >= 0
        assert resp["related_events"][0]["event_id"] == req["event_id"]
    first_resp, second_resp = turns[0][1]["data"], turns[1][1]["data"]
    assert first_resp["finish_reason"] == "tool_calls"
    assert second_resp["finish_reason"] == "stop"
    assert second_resp["choices"][0]["message"]["content"] == "The tool said oispd-ws."
    assert turns[1][0]["data"]["parameters"]["previous_response_id"] == first_resp["provider_request_id"]

    events = capture.wait(
        lambda: (ev := capture.of_pid(pid)) and any(e["event_type"] == "agent.tool_result" for e in ev) and ev,
        "the tool result")
    tool_calls = [e for e in events if e["event_type"] == "agent.tool_call"]
    assert len(tool_calls) == 1
    tc = tool_calls[0]["data"]
    assert (tc["tool"]["name"], tc["call_id"], tc["arguments"]) == ("exec_command", WS_TOOL_CALL_ID, WS_TOOL_ARGS)
    results = [e for e in events if e["event_type"] == "agent.tool_result"]
    assert len(results) == 1
    assert results[0]["data"]["call_id"] == WS_TOOL_CALL_ID
    assert results[0]["data"]["result"] == "oispd-ws\n"
    assert results[0]["related_events"][0]["event_id"] == tool_calls[0]["event_id"]
    check_clean(events)
    assert "panicked" not in capture.oispd.log()


@pytest.fixture(scope="session")
def sea_app():
    """The Node SEA, built (or taken from the cache) before oispd starts."""
    try:
        return tls_clients.node_sea()
    except Exception as e:  # noqa: BLE001  (any set-up failure fails the test clearly)
        pytest.fail(f"cannot build the Node single-executable app (npm registry needed): {e}")


@pytest.fixture(scope="session")
def bun_exe():
    try:
        return tls_clients.bun()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"cannot install bun from npm: {e}")


def test_node_sea_first_short_run_is_captured(capture, sea_app, tmp_path):
    """A Node single-executable app at a path oispd never saw, that makes
    its call at once and exits (~0.5 s): its first run is captured."""
    app = tmp_path / "sea-app"
    shutil.copy2(sea_app, app)  # a new inode: nothing examined it before this run
    pid, out = run_client(capture, [str(app)], env_extra={"TEST_OPENAI_KEY": OPENAI_KEY})
    assert out.strip() == "ok", out
    calls = wait_calls(capture, pid, 1, "the SEA's first and only call")
    assert sorted(calls) == ["gpt-4o-mini"]
    assert len(calls["gpt-4o-mini"]) == 1
    req, resp = calls["gpt-4o-mini"][0]
    check_call(req, resp, model="gpt-4o-mini", provider="openai", process="sea-app",
               streaming=False, usage=OPENAI_PLAIN)
    assert req["process"]["pid"] == pid
    assert req["data"]["messages"][0]["content"] == "hello from sea"
    check_clean(capture.of_pid(pid))


# A small agent on Bun: asks Claude with a tool, runs the tool the model
# picked as a shell command, sends its output back in a streamed turn, then
# makes one OpenAI call. Keys come from the environment (never in the app).
BUN_AGENT = """
if (process.env.AGENT_IDLE) { console.log("idle"); setInterval(() => {}, 1000); await new Promise(() => {}); }
const anthropic = {
  "content-type": "application/json",
  "x-api-key": process.env.TEST_ANTHROPIC_KEY,
  "anthropic-version": "2023-06-01",
};
const tools = [{ name: "get_weather", description: "Weather of a city",
  input_schema: { type: "object", properties: { city: { type: "string" } } } }];
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
async function messagesCall(body) {
  const r = await fetch("https://api.anthropic.com/v1/messages",
    { method: "POST", headers: anthropic, body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error("anthropic " + r.status);
  return r;
}
const first = await (await messagesCall({ model: "claude-opus-4-1-20250805", max_tokens: 64, messages, tools })).json();
const use = first.content.find((c) => c.type === "tool_use");
if (!use) throw new Error(JSON.stringify(first));
const out = Bun.spawnSync(["echo", "sunny in " + use.input.city]).stdout.toString();
messages.push({ role: "assistant", content: first.content });
messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: out }] });
const streamed = await (await messagesCall(
  { model: "claude-3-5-haiku-20241022", max_tokens: 64, messages, tools, stream: true })).text();
if (!streamed.includes("message_stop")) throw new Error(streamed);
const r = await fetch("https://api.openai.com/v1/chat/completions", {
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer " + process.env.TEST_OPENAI_KEY },
  body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi from bun" }] }),
});
if (r.status !== 200) throw new Error("openai " + r.status);
console.log("ok");
"""
BUN_KEYS = {"TEST_ANTHROPIC_KEY": ANTHROPIC_KEY, "TEST_OPENAI_KEY": OPENAI_KEY}


def admin_get(capture: Capture, path: str) -> str:
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{capture.admin_port}{path}", timeout=5) as r:
        return r.read().decode()


def elf_build_id(path: pathlib.Path) -> str:
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    return next(l.split(":", 1)[1].strip() for l in out.splitlines() if "Build ID:" in l)


def wait_probed_boringssl(capture: Capture, args: list[str]) -> str:
    """Starts the agent (`args`) idle, without network, so oispd examines
    the new file while the process lives (the examination queue may be
    busy with other programs on the host), waits for its `probing
    BoringSSL` line, stops it; returns the line."""
    exe = pathlib.Path(args[0])
    env = dict(capture.env, AGENT_IDLE="1")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "idle"

        def probed():
            lines = [l for l in capture.oispd.log().splitlines()
                     if "probing BoringSSL" in l and f"path={exe} " in l]
            return lines or None

        lines = capture.wait(probed, f"oispd probing {exe.name}")
    finally:
        proc.kill()
        proc.wait()
    assert len(lines) == 1, lines
    return lines[0]


def check_bun_agent(capture: Capture, args: list[str], process: str):
    """Runs the agent (`args`) and checks its three calls, the tool call and
    the linked tool result, exactly; no key anywhere."""
    exe = pathlib.Path(args[0])
    pid, out = run_client(capture, args, env_extra=BUN_KEYS)
    assert out.strip() == "ok", out
    calls = wait_calls(capture, pid, 3, f"the three calls of {exe.name}")
    assert sorted(calls) == ["claude-3-5-haiku-20241022", "claude-opus-4-1-20250805", "gpt-4o-mini"], calls
    assert all(len(c) == 1 for c in calls.values()), calls
    for model, provider, streaming, usage in [
        ("claude-opus-4-1-20250805", "anthropic", False, anthropic_usage(ANTHROPIC_TOOLS)),
        ("claude-3-5-haiku-20241022", "anthropic", True, anthropic_usage(ANTHROPIC_STREAM)),
        ("gpt-4o-mini", "openai", False, OPENAI_PLAIN),
    ]:
        req, resp = calls[model][0]
        check_call(req, resp, model=model, provider=provider, process=process, streaming=streaming,
                   usage=usage, protocol="1.1")
        assert req["process"]["pid"] == pid and resp["process"]["pid"] == pid
    assert calls["claude-3-5-haiku-20241022"][0][1]["data"]["choices"][0]["message"]["content"] == "Hello from the fake"
    events = capture.wait(
        lambda: (ev := capture.of_pid(pid)) and any(e["event_type"] == "agent.tool_result" for e in ev) and ev,
        f"the tool result of {exe.name}")
    tool_calls = [e for e in events if e["event_type"] == "agent.tool_call"]
    assert [(t["data"]["tool"]["name"], t["data"]["call_id"]) for t in tool_calls] == [("get_weather", TOOL_USE_ID)]
    results = [e for e in events if e["event_type"] == "agent.tool_result"]
    assert len(results) == 1, results
    assert results[0]["data"]["call_id"] == TOOL_USE_ID
    assert results[0]["data"]["result"] == "sunny in Paris\n"
    assert results[0]["related_events"][0]["event_id"] == tool_calls[0]["event_id"]
    check_clean(events)
    assert "TESTKEY" not in capture.oispd.log()


def test_stock_bun_agent_is_captured(capture, bun_exe, tmp_path):
    """Stock Bun (BoringSSL built in, stripped, no SSL_* symbols) running an
    agent script: oispd locates SSL_write/SSL_read by structure (one log
    line with the path, build-id and method; listed in /api/health with
    method boringssl_structure; not counted as unhooked) and captures its
    calls with exact provider, model, process, pid, streaming flag, usage,
    tool call and tool result."""
    exe = tmp_path / "bun-agent"
    shutil.copy2(bun_exe, exe)  # a new inode and a process name of its own
    args = [str(exe), "-e", BUN_AGENT]
    line = wait_probed_boringssl(capture, args)
    assert f"build_id={elf_build_id(exe)} " in line and "method=structure" in line, line
    check_bun_agent(capture, args, process="bun-agent")

    def listed():
        health = json.loads(admin_get(capture, "/api/health"))["receivers"]["ebpf"]
        entry = {"path": str(exe), "method": "boringssl_structure"}
        return health if entry in health["probed_binaries"] or health["probed_binaries_more"] > 0 else None

    health = capture.wait(listed, "bun-agent in /api/health")
    assert all(u["path"] != str(exe) for u in health["unhooked_tls_binaries"]), health
    assert "binary does TLS that oispd cannot capture" not in "\n".join(
        l for l in capture.oispd.log().splitlines() if str(exe) in l)


def test_bun_compiled_app_is_captured(capture, tmp_path):
    """The same agent compiled with `bun build --compile` (a single ELF
    with Bun's runtime, as Claude Code ships): probed by structure (the
    build-id is Bun's, so a known build is attached from the cache after
    checking its bytes) and captured exactly."""
    try:
        app = tls_clients.bun_compiled("bun-agent-app", BUN_AGENT)
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"cannot build the bun --compile app (npm registry needed): {e}")
    exe = tmp_path / "agent-app"
    shutil.copy2(app, exe)
    line = wait_probed_boringssl(capture, [str(exe)])
    assert f"build_id={elf_build_id(exe)} " in line and "method=structure" in line, line
    check_bun_agent(capture, [str(exe)], process="agent-app")


def test_boringssl_the_finder_refuses_is_reported_unhooked_once(capture, bun_exe, tmp_path):
    """A near miss: stock Bun with SSL_write's SSL_R_BAD_LENGTH reason (111)
    patched to 112, same build-id and size as the genuine build oispd has
    probed. The finder must refuse it (no single SSL_write candidate), the
    cached result of the genuine build must not be applied to it, and it
    stays reported as unhooked: one warning with the path, the library and
    the refusal, counted in /metrics, listed in /api/health with the
    reason. The patched program itself keeps working."""
    genuine = tmp_path / "bun-genuine"
    shutil.copy2(bun_exe, genuine)
    line = wait_probed_boringssl(capture, [str(genuine), "-e", BUN_AGENT])
    write = int(line.split("ssl_write=")[1].split()[0], 16)
    data = bytearray(genuine.read_bytes())
    # The first mov $111,%edx or mov $111,%esi (the reason register of this
    # build) in SSL_write: its BAD_LENGTH site (the next function may have one too).
    hits = [write + i for i in range(2048)
            if data[write + i] in (0xBA, 0xBE) and data[write + i + 1:write + i + 5] == (111).to_bytes(4, "little")]
    assert hits, "no BAD_LENGTH immediate in SSL_write"
    data[hits[0] + 1] = 112
    exe = tmp_path / "bun-patched"
    exe.write_bytes(bytes(data))
    exe.chmod(0o755)
    for _ in range(2):  # the second run of the same file is not reported again
        _, out = run_client(capture, [str(exe), "-e", BUN_AGENT], env_extra=BUN_KEYS)
        assert out.strip() == "ok", out
    warning = "binary does TLS that oispd cannot capture"

    def reported():
        return [l for l in capture.oispd.log().splitlines() if warning in l and f"path={exe} " in l]

    lines = capture.wait(reported, "the unhooked-binary warning")
    assert len(lines) == 1, lines
    assert 'tls_library="boringssl"' in lines[0] and "0 SSL_write candidates" in lines[0], lines[0]
    assert not [l for l in capture.oispd.log().splitlines() if "probing BoringSSL" in l and f"path={exe} " in l]

    def counted():
        counts = [l for l in admin_get(capture, "/metrics").splitlines()
                  if l.startswith("oispd_ebpf_tls_unhooked_binaries{") and 'library="boringssl"' in l]
        return counts if counts and int(counts[0].split()[-1]) >= 1 else None

    capture.wait(counted, "the unhooked BoringSSL binary counted in /metrics")

    def listed():
        health = json.loads(admin_get(capture, "/api/health"))["receivers"]["ebpf"]
        mine = [u for u in health["unhooked_tls_binaries"] if u["path"] == str(exe)]
        return (health, mine) if mine or health["unhooked_tls_binaries_more"] > 0 else None

    health, mine = capture.wait(listed, "bun-patched in /api/health")
    assert not mine or (mine[0]["tls_library"] == "boringssl" and "0 SSL_write candidates" in mine[0]["reason"]), mine
    assert any(p["method"] == "openssl_exported_symbols" for p in health["probed_binaries"]), health
    assert "TESTKEY" not in capture.oispd.log()
