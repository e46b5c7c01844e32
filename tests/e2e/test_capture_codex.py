"""The real Codex CLI end to end, as root: `codex exec` (the pinned npm
release, a stripped static-pie musl Rust binary: rustls with aws-lc-rs,
no symbols, no build-id) with a fake API key talks to the fake provider
(fake_provider.py, Responses API over WebSocket: fake_responses_ws.py)
inside a network namespace that has only `lo`, so Codex cannot reach
anything but 127.0.0.1 whatever it tries (update checks, telemetry).
oispd runs in the root namespace and captures Codex at aws-lc's AEAD
functions, located by structure.

In the namespace, api.openai.com is 127.0.0.1 (`ip netns exec` binds
/etc/netns/NAME/hosts over /etc/hosts) and Codex's built-in OpenAI
provider is pointed at the fake's port with `openai_base_url`; Codex
trusts the test CA through CODEX_CA_CERTIFICATE and SSL_CERT_FILE and
gets the fake key from `codex login --with-api-key`, as a user gives it.

The prompt makes one Codex turn of three WebSocket requests on one
connection: the `generate: false` prewarm, the user's prompt (the fake
answers with a call to `exec_command` running `echo oispd-ws`, which Codex
runs itself) and the tool's output alone, chained by
`previous_response_id` (the fake answers with text). The test checks
Codex's process (pid, name, exe) on every event; the three ai.request /
ai.response pairs with the model, provider openai, the endpoint, the user
prompt, the answer text and the fake's exact usage; the agent.tool_call
and its linked agent.tool_result (the echo's output); Codex's child
running the echo; that the API key appears only as oispd's redacted form
(prefix and hash) and nowhere in the events or the log; that every event
validates against the OISP schema; and that oispd probed the Codex
binary by structure at the AEAD offsets traced by hand, and /api/health
lists it as probed with method aws_lc_aead_structure, not as unhooked.

Needs root, BPF, `ip` (iproute2) and the Codex CLI (npm; installed and
cached by tls_clients.py, as scripts/setup.sh does):

    OISPD_BIN=$CARGO_TARGET_DIR/debug/oispd OISP_SPEC_DIR=$PWD/spec/oisp-spec \\
        python3 -m pytest -q tests/e2e/test_capture_codex.py
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest

import tls_clients
from conftest import Oispd, free_port, read_jsonl
from fake_provider import make_certs
from fake_responses_ws import WS_REPLY_PARTS, WS_TEXT_USAGE, WS_TOOL_ARGS, WS_TOOL_CALL_ID, WS_TOOL_USAGE
from test_capture import Capture, admin_get, calls_of, check_clean

# A distinctive fake key, as long as a real one: it may appear nowhere.
CODEX_KEY = "sk-proj-CODEXTESTKEY" + "q1W2e3R4t5Y6u7I8o9P0" * 3
PROMPT = "Run echo oispd-ws and tell me what it printed"
MODEL = "gpt-5.1-codex"
CODEX_TIMEOUT = 120
EVENT_WAIT = 60.0
# The fake's server script, run inside the namespace.
FAKE_SERVER = pathlib.Path(__file__).resolve().parent / "fake_provider.py"


def usage_of(u: dict) -> dict:
    """The fake's Responses API usage in OISP's names."""
    return {"prompt_tokens": u["input_tokens"], "completion_tokens": u["output_tokens"],
            "total_tokens": u["total_tokens"]}


@pytest.fixture(scope="module")
def codex_exe() -> pathlib.Path:
    """The Codex CLI's binary, installed (or taken from the cache) before oispd starts."""
    try:
        return tls_clients.codex()
    except Exception as e:  # noqa: BLE001  (any set-up failure fails the test clearly)
        pytest.fail(f"cannot install the Codex CLI (npm registry needed): {e}")


@pytest.fixture(scope="module")
def capture(oispd_bin, tmp_path_factory):
    """oispd capturing with eBPF, writing OISP events to a file."""
    if os.geteuid() != 0:
        pytest.fail("the Codex capture test runs as root (eBPF, network namespaces)")
    workdir = tmp_path_factory.mktemp("capture")
    events_path = workdir / "events.jsonl"
    admin_port = free_port()
    config = f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
receivers:
  ebpf:
    activity: agents
exporters:
  file:
    path: {events_path}
    format: oisp_jsonl
    flush_interval: 0s
service:
  extensions: [admin]
  pipelines:
    logs:
      receivers: [ebpf]
      exporters: [file]
"""
    oispd = Oispd(oispd_bin, config, workdir)
    oispd.wait_running("the capture tests need root with BPF")
    yield Capture(oispd, events_path, workdir / "no-spans.jsonl", {}, workdir, admin_port)
    code = oispd.stop()
    assert code == 0, oispd.log()


def netns_pids(name: str) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@contextlib.contextmanager
def loopback_netns(name: str):
    """A network namespace with only `lo` (up), where api.openai.com is
    127.0.0.1; removed afterwards whatever happens, with the processes
    this test started in it."""
    if shutil.which("ip") is None:
        pytest.fail("`ip` (iproute2) is needed for the network namespace")
    etc = pathlib.Path("/etc/netns") / name
    made_etc_netns = not etc.parent.exists()
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        links = subprocess.run(["ip", "-n", name, "-o", "link"], check=True, capture_output=True, text=True).stdout
        assert [l.split(":")[1].strip() for l in links.splitlines()] == ["lo"], links
        etc.mkdir(parents=True)
        (etc / "hosts").write_text("127.0.0.1 localhost api.openai.com\n::1 localhost\n")
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        yield name
    finally:
        for pid in netns_pids(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)
        if made_etc_netns:
            with contextlib.suppress(OSError):
                etc.parent.rmdir()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The namespace, the test CA and the fake provider serving inside it;
    a dict: netns, port, ca, journal (the fake's requests), workdir."""
    workdir = tmp_path_factory.mktemp("codex")
    ca, cert, key = make_certs(workdir)
    journal = workdir / "requests.jsonl"
    with loopback_netns(f"oispd-e2e-codex-{os.getpid()}") as netns:
        server = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, str(FAKE_SERVER), str(cert), str(key), "0", str(journal)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = server.stdout.readline().split() if server.stdout else []
            if first[:1] != ["listening"]:
                server.kill()
                pytest.fail(f"the fake provider did not start in {netns}: {first} {server.communicate()[1]}")
            yield {"netns": netns, "port": int(first[1]), "ca": ca, "journal": journal, "workdir": workdir}
        finally:
            server.kill()
            server.wait()


def codex_env(sandbox, home: pathlib.Path) -> dict:
    """Codex's environment: its own home and config (the built-in OpenAI
    provider at the fake's port, no update check, no analytics), the test
    CA. The fake key is given as a user does, with `codex login
    --with-api-key` (`codex exec` does not send OPENAI_API_KEY by itself)."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'openai_base_url = "https://api.openai.com:{sandbox["port"]}/v1"\n'
        f'model = "{MODEL}"\n'
        "check_for_update_on_startup = false\n"
        "[analytics]\nenabled = false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_", "SSL_CERT"))}
    env.update({"HOME": str(home), "CODEX_HOME": str(codex_home),
                "CODEX_CA_CERTIFICATE": str(sandbox["ca"]), "SSL_CERT_FILE": str(sandbox["ca"])})
    return env


def codex_login(sandbox, codex_exe: pathlib.Path, env: dict) -> None:
    r = subprocess.run(in_netns(sandbox, [str(codex_exe), "login", "--with-api-key"]), env=env,
                       input=CODEX_KEY, capture_output=True, text=True, timeout=CODEX_TIMEOUT)
    assert r.returncode == 0, f"codex login failed:\n{r.stdout}\n{r.stderr}"


def in_netns(sandbox, args: list[str]) -> list[str]:
    # `ip netns exec` execs the command itself: its pid is the command's.
    return ["ip", "netns", "exec", sandbox["netns"], *args]


@pytest.fixture(scope="module")
def probed_codex(capture, sandbox, codex_exe):
    """Codex examined by oispd: an idle `codex exec` (waiting for its
    prompt on stdin, before any network) lives until oispd's `probing
    aws-lc's AEAD functions` line for its path appears (examining the
    300 MB binary may take longer than a short run lives); returns the line."""
    home = sandbox["workdir"] / "warm-up"
    proc = subprocess.Popen(in_netns(sandbox, [str(codex_exe), "exec", "--skip-git-repo-check"]),
                            env=codex_env(sandbox, home), cwd=sandbox["workdir"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def probed():
        return [l for l in capture.oispd.log().splitlines()
                if "probing aws-lc's AEAD functions" in l and f"path={codex_exe} " in l] or None

    try:
        lines = capture.wait(probed, "oispd probing Codex")
    finally:
        proc.kill()
        proc.wait()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def codex_run(capture, sandbox, codex_exe, probed_codex):
    """One `codex exec PROMPT` to completion; (pid, stdout, stderr, its
    events once its three calls, tool result and exit are in)."""
    home = sandbox["workdir"] / "run"
    workspace = home / "workspace"
    workspace.mkdir(parents=True)
    env = codex_env(sandbox, home)
    codex_login(sandbox, codex_exe, env)
    proc = subprocess.Popen(
        in_netns(sandbox, [str(codex_exe), "exec", "--skip-git-repo-check",
                           "--dangerously-bypass-approvals-and-sandbox", PROMPT]),
        env=env, cwd=workspace,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=CODEX_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"codex exec timed out:\n{out}\n{err}")
    assert proc.returncode == 0, f"codex exec failed ({proc.returncode}):\n{out}\n{err}"

    def complete():
        events = capture.of_pid(proc.pid)
        done = [c for c in calls_of(events).values() if c[1] is not None]
        kinds = {e["event_type"] for e in events}
        return events if len(done) >= 3 and {"agent.tool_result", "process.exit"} <= kinds else None

    return proc.pid, out, err, capture.wait(complete, "Codex's three calls, tool result and exit", EVENT_WAIT)


def test_codex_talked_to_the_fake_over_websocket_and_ran_the_tool(sandbox, codex_run):
    _, out, err, _ = codex_run
    requests = read_jsonl(sandbox["journal"])
    assert {(r["protocol"], r["path"]) for r in requests} == {("websocket", "/v1/responses")}, requests
    assert "permessage-deflate" in requests[0]["headers"].get("sec-websocket-extensions", "")
    # The key really went over the wire (so the redaction test means something).
    assert requests[0]["headers"].get("authorization") == f"Bearer {CODEX_KEY}"
    bodies = [json.loads(r["body"]) for r in requests]
    assert [b.get("generate") for b in bodies] == [False, None, None]
    assert [i["type"] for i in bodies[2]["input"]] == ["function_call_output"]
    # Codex ran the echo the fake asked for, and printed the fake's answer.
    assert "oispd-ws" in bodies[2]["input"][0]["output"]
    assert out.strip().splitlines()[-1] == "".join(WS_REPLY_PARTS), out
    assert WS_TOOL_ARGS["cmd"] in err, err


def test_codex_calls_are_captured(sandbox, codex_exe, codex_run):
    pid, _, _, events = codex_run
    execs = [e for e in events if e["event_type"] == "process.exec"]
    assert [e["data"]["exe"] for e in execs][-1] == str(codex_exe), execs
    for e in events:
        assert e["process"]["pid"] == pid
        if e["event_type"] == "process.exec" and e["data"]["exe"] != str(codex_exe):
            # `ip netns exec`, on the same pid before it execs Codex: its
            # own name and path (as recorded or as /proc resolved it,
            # depending on when the record was read), not Codex's.
            assert e["process"]["name"] == "ip", e
            assert os.path.realpath(e["process"]["exe"]) == os.path.realpath(e["data"]["exe"]), e
            continue
        assert e["process"]["name"] == "codex", e["process"]
        assert e["process"]["exe"] == str(codex_exe), e["process"]
    turns = sorted(((q, r) for q, r in calls_of(events).values()), key=lambda c: c[0]["ts_mono"])
    assert len(turns) == 3 and all(r is not None for _, r in turns), turns
    for req, resp in turns:
        for e in (req, resp):
            assert e["data"]["provider"]["name"] == "openai"
            assert e["data"]["provider"]["endpoint"] == f"wss://api.openai.com:{sandbox['port']}/v1/responses"
            assert e["data"]["model"]["id"] == MODEL
            assert e["source"]["capture_method"] == "tls_boundary"
            assert e["confidence"]["completeness"] == "full", e["confidence"]
        assert req["data"]["streaming"] is True
        assert resp["data"]["success"] is True
        assert resp["related_events"][0]["event_id"] == req["event_id"]
    (_, prewarm), (ask, tool_turn), (answer_req, answer) = turns
    assert prewarm["data"]["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert {"role": "user", "content": PROMPT} in [
        {"role": m["role"], "content": m.get("content")} for m in ask["data"]["messages"]], ask["data"]["messages"]
    assert ask["data"]["parameters"]["previous_response_id"] == prewarm["data"]["provider_request_id"]
    assert tool_turn["data"]["finish_reason"] == "tool_calls"
    assert tool_turn["data"]["usage"] == usage_of(WS_TOOL_USAGE), tool_turn["data"]
    assert answer_req["data"]["parameters"]["previous_response_id"] == tool_turn["data"]["provider_request_id"]
    assert answer["data"]["finish_reason"] == "stop"
    assert answer["data"]["choices"][0]["message"]["content"] == "".join(WS_REPLY_PARTS)
    assert answer["data"]["usage"] == usage_of(WS_TEXT_USAGE), answer["data"]


def test_codex_tool_call_and_result_are_captured(codex_run):
    pid, _, _, events = codex_run
    tool_calls = [e for e in events if e["event_type"] == "agent.tool_call"]
    assert len(tool_calls) == 1, tool_calls
    tc = tool_calls[0]["data"]
    assert (tc["tool"]["name"], tc["call_id"], tc["arguments"]) == ("exec_command", WS_TOOL_CALL_ID, WS_TOOL_ARGS)
    results = [e for e in events if e["event_type"] == "agent.tool_result"]
    assert len(results) == 1, results
    assert results[0]["data"]["call_id"] == WS_TOOL_CALL_ID
    # Codex's tool output: its own header lines, then the command's output.
    assert "Process exited with code 0" in results[0]["data"]["result"]
    assert results[0]["data"]["result"].endswith("Output:\noispd-ws\n"), results[0]["data"]
    assert results[0]["related_events"][0]["event_id"] == tool_calls[0]["event_id"]


def test_codex_child_running_the_echo_is_reported(capture, codex_run):
    pid, _, _, _ = codex_run
    children = capture.wait(
        lambda: [e for e in capture.events() if e["event_type"] == "process.exec"
                 and e["process"].get("ppid") == pid and WS_TOOL_ARGS["cmd"] in e["process"].get("cmdline", "")],
        "the exec of Codex's child running the echo")
    assert children, children


def test_codex_key_appears_only_redacted_and_every_event_is_valid(capture, codex_run):
    _, _, _, events = codex_run
    requests = [e for e in events if e["event_type"] == "ai.request"]
    want = {"type": "api_key", "key_prefix": "sk-proj-",
            "key_hash": "sha256:" + hashlib.sha256(CODEX_KEY.encode()).hexdigest()[:16]}
    for req in requests:
        assert req["data"]["auth"] == want, req["data"]["auth"]
    assert CODEX_KEY[8:] not in json.dumps(capture.events())
    assert CODEX_KEY[8:] not in capture.oispd.log()
    pid = codex_run[0]
    children = [e for e in capture.events() if e["process"].get("ppid") == pid]
    assert children
    check_clean(events + children)
    assert "panicked" not in capture.oispd.log()


# Where Codex 0.171.0's EVP_AEAD_CTX_seal / open / seal_scatter start (file
# offsets), as traced by hand with bpftrace when the finder was designed.
CODEX_AEAD_OFFSETS = "seal=0x12628450 open=0x12628690 seal_scatter=0x12628570"


def test_codex_is_listed_as_probed_by_structure(capture, codex_exe, probed_codex):
    assert tls_clients.CODEX_VERSION == "0.171.0"
    assert "build_id=none method=aws_lc_aead_structure" in probed_codex, probed_codex
    assert CODEX_AEAD_OFFSETS in probed_codex, probed_codex
    health = json.loads(admin_get(capture, "/api/health"))["receivers"]["ebpf"]
    entry = {"path": str(codex_exe), "method": "aws_lc_aead_structure"}
    assert entry in health["probed_binaries"] or health["probed_binaries_more"] > 0, health
    assert all(u["path"] != str(codex_exe) for u in health["unhooked_tls_binaries"]), health
