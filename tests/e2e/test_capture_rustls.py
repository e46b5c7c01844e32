"""rustls with the aws-lc-rs provider, end to end, as root: the static Rust
test client (tests/fixtures/rustls-client, built by
scripts/build-test-clients.sh; no SSL_* functions anywhere) calls the fake
provider over HTTP/1.1 and HTTP/2, plain and streaming, with TLS 1.3 and
with a server limited to TLS 1.2; oispd captures the calls at aws-lc's
EVP_AEAD_CTX_seal/open and writes OISP events. Each test runs twice: with
the client as built (the functions located through its symbol table) and
with a copy stripped of every symbol and its build-id, as Codex CLI ships
(located by structure).

For every call the tests check the exact model, provider, process name and
pid, streaming flag, protocol version, content and token counts; that every
event validates against the OISP schema; that the client's API key appears
nowhere in the output or the log; that /api/health lists the client as
probed with method aws_lc_aead_symbols / aws_lc_aead_structure and not as
unhooked.

Needs what test_capture.py needs, and the test client:

    OISPD_BIN=$CARGO_TARGET_DIR/debug/oispd OISP_SPEC_DIR=$PWD/spec/oisp-spec \\
        python3 -m pytest -q tests/e2e/test_capture_rustls.py
"""
from __future__ import annotations

import json
import pathlib
import shutil
import ssl
import subprocess

import pytest

from fake_provider import OPENAI_PLAIN, OPENAI_STREAM, FakeProvider, provider_env  # noqa: F401
from test_capture import admin_get, capture, check_call, check_clean, run_client, wait_calls  # noqa: F401

CLIENT = pathlib.Path("/var/tmp/oispd-test-clients/rustls-client-aws-lc")
# The key the test client sends (tests/fixtures/rustls-client/src/main.rs).
CLIENT_KEY = "sk-test-not-a-real-key"
# Runs at most until oispd examined the client at its exec (a run that
# ends before oispd reads its exec record is not examined).
WARM_UP_RUNS = 10


# How oispd locates the client's AEAD functions -> the copy it runs.
# (Names fit the 15 characters of a process name.)
LOCATED_BY = {"symbols": "rustls-aws-lc", "structure": "rustls-stripped"}


@pytest.fixture(scope="module", params=sorted(LOCATED_BY))
def client(request, capture, provider_env, tmp_path_factory):  # noqa: F811
    """A copy of the test client (its own inode and process name), as built
    or stripped of every symbol, examined by oispd: warm-up runs until the
    `probing aws-lc's AEAD functions` line for its path appears, naming
    the method."""
    if not CLIENT.exists():
        pytest.fail(f"{CLIENT} is missing: build it with scripts/build-test-clients.sh")
    located_by = request.param
    exe = tmp_path_factory.mktemp("rustls") / LOCATED_BY[located_by]
    if located_by == "structure":
        # Without its build-id too, as Codex ships (and so that oispd's
        # examination cache, keyed by build-id, cannot answer for it from
        # the unstripped copy's examination).
        subprocess.run(["objcopy", "--strip-all", "--remove-section=.note.gnu.build-id",
                        str(CLIENT), str(exe)], check=True)
        assert "no symbols" in subprocess.run(["nm", str(exe)], capture_output=True, text=True).stderr
    else:
        shutil.copy2(CLIENT, exe)

    def probed():
        return [l for l in capture.oispd.log().splitlines()
                if "probing aws-lc's AEAD functions" in l and f"path={exe} " in l]

    url = f"https://api.openai.com:{provider_env['provider'].port}"
    for _ in range(WARM_UP_RUNS):
        run_client(capture, [str(exe), url, str(provider_env["ca"]), "h1", "plain", "20"])
        if probed():
            break
    lines = probed()
    assert len(lines) == 1, capture.oispd.log()[-4000:]
    assert f"method=aws_lc_aead_{located_by}" in lines[0], lines[0]
    return exe, located_by


@pytest.fixture(scope="module")
def tls12_provider(provider_env):  # noqa: F811
    """A second fake provider on an ephemeral port that speaks TLS 1.2 at most."""
    workdir = provider_env["workdir"]
    provider = FakeProvider(workdir / "server.pem", workdir / "server.key", port=0,
                            max_tls=ssl.TLSVersion.TLSv1_2)
    yield provider
    provider.stop()


@pytest.mark.parametrize("tls", ["tls1.3", "tls1.2"])
@pytest.mark.parametrize("http", ["h1", "h2"])
def test_rustls_aws_lc_calls(capture, provider_env, tls12_provider, client, http, tls):  # noqa: F811
    client, _ = client
    provider = tls12_provider if tls == "tls1.2" else provider_env["provider"]
    url = f"https://api.openai.com:{provider.port}"
    before = len(provider.requests)
    for mode in ("plain", "sse"):
        pid, out = run_client(capture, [str(client), url, str(provider_env["ca"]), http, mode])
        assert "200 OK" in out, out
        calls = wait_calls(capture, pid, 1, f"the {mode} call of {client.name} ({http}, {tls})")
        assert list(calls) == ["gpt-4o-mini"] and len(calls["gpt-4o-mini"]) == 1, calls
        req, resp = calls["gpt-4o-mini"][0]
        check_call(req, resp, model="gpt-4o-mini", provider="openai", process=client.name,
                   streaming=mode == "sse", usage=OPENAI_STREAM if mode == "sse" else OPENAI_PLAIN,
                   protocol="1.1" if http == "h1" else "2")
        assert req["process"]["pid"] == pid and resp["process"]["pid"] == pid
        assert req["data"]["messages"][0]["content"] == "Say hello from rustls (rustls-client)"
        assert resp["data"]["choices"][0]["message"]["content"] == "Hello from the fake"
        events = capture.of_pid(pid)
        check_clean(events)
        assert CLIENT_KEY not in json.dumps(events)
    protocols = {r["protocol"] for r in provider.requests[before:]}
    assert protocols == {"http/1.1" if http == "h1" else "h2"}, protocols
    assert CLIENT_KEY not in capture.oispd.log()


def test_rustls_client_is_listed_as_probed_not_unhooked(capture, client):  # noqa: F811
    client, located_by = client
    health = json.loads(admin_get(capture, "/api/health"))["receivers"]["ebpf"]
    entry = {"path": str(client), "method": f"aws_lc_aead_{located_by}"}
    assert entry in health["probed_binaries"] or health["probed_binaries_more"] > 0, health
    assert all(u["path"] != str(client) for u in health["unhooked_tls_binaries"]), health
