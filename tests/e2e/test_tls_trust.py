"""End-to-end: which certificate authorities the network exporters trust,
through the real binary, against a local HTTPS server (Python's
http.server over TLS) whose certificate a throw-away private CA signed.

The host's CA store is what `SSL_CERT_FILE` names for the oispd process
(the same loader reads `/etc/ssl/certs/ca-certificates.crt`, which
`update-ca-certificates` writes, when the variable is unset); setting it per
process keeps the test from touching the machine's real trust store.

Scenarios and guarantees:
- the private CA is in the host's store, no `tls` keys: the `otlp_http` and
  `webhook` exporters deliver every event (the collector's default: the
  system pool);
- the host's store holds another CA only: nothing is delivered and the log
  says why (an unknown issuer);
- `tls.ca_file` names another CA and `include_system_ca_certs_pool: true`
  adds the host's store, which holds the private CA: delivered; the same
  without `include_system_ca_certs_pool`: nothing delivered.
"""
import http.server
import json
import os
import ssl
import threading

import pytest

from conftest import wait_for
from delivery_support import agent_events, answer_otlp_accepted, write_jsonl
from fake_provider import make_certs

N_EVENTS = 20


class Sink(http.server.BaseHTTPRequestHandler):
    """Counts OTLP/HTTP log requests and webhook bodies."""
    lock = threading.Lock()
    otlp_requests = 0
    webhook_events = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Sink.lock:
            if self.path == "/v1/logs":
                Sink.otlp_requests += 1
            elif self.path == "/hook":
                Sink.webhook_events += len(json.loads(body)["events"])
        answer_otlp_accepted(self)

    def log_message(self, *args):
        pass


@pytest.fixture
def pki(tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "other").mkdir()
    private_ca, cert, key = make_certs(tmp_path / "private", hosts=["localhost"], ca_name="private CA")
    other_ca, _, _ = make_certs(tmp_path / "other", hosts=["localhost"], ca_name="other CA")
    return {"private_ca": private_ca, "other_ca": other_ca, "cert": cert, "key": key}


@pytest.fixture
def https_sink(pki):
    Sink.otlp_requests = 0
    Sink.webhook_events = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def run_replay(start_oispd, tmp_path, spec_dir, port, tls_yaml, store):
    """Replays N_EVENTS into otlp_http and webhook exporters with `tls_yaml`
    on both, the oispd process seeing `store` as the host's CA store; waits
    for oispd to finish and returns its log."""
    src = tmp_path / "replay.jsonl"
    write_jsonl(src, agent_events(spec_dir, N_EVENTS))
    env = dict(os.environ, SSL_CERT_FILE=str(store))
    env.pop("SSL_CERT_DIR", None)
    o = start_oispd(f"""
receivers:
  jsonl: {{path: {src}, follow: false}}
exporters:
  otlp_http:
    endpoint: https://localhost:{port}
    compression: none
    tls: {tls_yaml}
    retry_on_failure: {{enabled: false}}
  webhook:
    endpoint: https://localhost:{port}/hook
    tls: {tls_yaml}
    flush_interval: 100ms
    retry_on_failure: {{enabled: false}}
service:
  pipelines:
    logs: {{receivers: [jsonl], exporters: [otlp_http, webhook]}}
""", env=env)
    o.wait(timeout=120)
    return o.log()


def test_private_ca_in_the_host_store_is_trusted_without_ca_file(start_oispd, tmp_path, spec_dir, pki, https_sink):
    log = run_replay(start_oispd, tmp_path, spec_dir, https_sink, "{}", pki["private_ca"])
    wait_for(lambda: Sink.webhook_events == N_EVENTS, what=f"{N_EVENTS} webhook events\n{log}")
    assert Sink.otlp_requests >= 1, log
    assert "certificate" not in log.lower(), log


def test_a_ca_outside_the_host_store_is_not_trusted(start_oispd, tmp_path, spec_dir, pki, https_sink):
    log = run_replay(start_oispd, tmp_path, spec_dir, https_sink, "{}", pki["other_ca"])
    assert Sink.otlp_requests == 0 and Sink.webhook_events == 0
    assert "UnknownIssuer" in log or "unknown issuer" in log.lower(), log


@pytest.mark.parametrize("include_system", [True, False])
def test_include_system_ca_certs_pool_adds_the_host_store_to_ca_file(
        start_oispd, tmp_path, spec_dir, pki, https_sink, include_system):
    tls = f"{{ca_file: {pki['other_ca']}, include_system_ca_certs_pool: {str(include_system).lower()}}}"
    log = run_replay(start_oispd, tmp_path, spec_dir, https_sink, tls, pki["private_ca"])
    if include_system:
        wait_for(lambda: Sink.webhook_events == N_EVENTS, what=f"{N_EVENTS} webhook events\n{log}")
        assert Sink.otlp_requests >= 1, log
    else:
        assert Sink.otlp_requests == 0 and Sink.webhook_events == 0, log
        assert "UnknownIssuer" in log or "unknown issuer" in log.lower(), log
