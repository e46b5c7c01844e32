"""End-to-end tests of what oispd exposes (issue 18, exposure part): who may
read the admin server, what it and the log show about endpoints, and who may
read the files oispd writes. All against the real binary.

- The admin server (with `auth.bearer_token_file`): a rebinding `Host`, a
  foreign `Origin` and a missing or wrong token are refused on every route,
  the WebSocket stream included; the right token (header, or `?token=` on
  the stream) gets the data.
- Credentials in URLs: an OTLP/HTTP endpoint with a password and a query
  token, and a webhook URL whose path and query are secrets, both failing;
  neither secret reaches `/api/health`, `/metrics` or the log.
- File modes: the file exporter's output, its rotated backups and the
  directory it creates, a persistent queue, and the audit store with its
  WAL/SHM files are 0600 in 0700 directories, while oispd runs and after.
"""
import asyncio
import http.client
import json
import os
import stat

from conftest import free_port, spec_examples, wait_for
from delivery_support import agent_events, append_jsonl

TOKEN = "e2e-admin-token-0123456789abcdef"
PASSWORD = "S3cretPassw0rdXYZ"
QUERY_TOKEN = "Qu3ryT0kenXYZ"
HOOK_SECRET = "XXXXSECRETPATHXYZ"
HOOK_QUERY = "H00kQueryXYZ"
SECRETS = [PASSWORD, QUERY_TOKEN, HOOK_SECRET, HOOK_QUERY]


def request(port, path, headers=None, method="GET"):
    """One HTTP request with exactly these headers (Host included); returns
    (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors="replace")
    finally:
        conn.close()


def upgrade_headers(host, extra=None):
    return {"Host": host, "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
            **(extra or {})}


def test_admin_server_checks_host_origin_and_token(start_oispd, tmp_path, spec_dir):
    import websockets

    src = tmp_path / "live.jsonl"
    src.write_text("")
    token_file = tmp_path / "admin.token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    admin = free_port()
    o = start_oispd(f"""
receivers:
  jsonl: {{path: {src}, follow: true}}
exporters:
  websocket: {{}}
extensions:
  admin:
    endpoint: 127.0.0.1:{admin}
    auth: {{bearer_token_file: {token_file}}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl], exporters: [websocket]}}
""", wait_ports=[admin])
    own = f"127.0.0.1:{admin}"
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    # DNS rebinding: a hostile name that resolves to 127.0.0.1.
    for path in ["/api/health", "/metrics", "/"]:
        status, _, body = request(admin, path, {"Host": f"attacker.example:{admin}", **bearer})
        assert status == 403, (path, status, body)
    # The token: required on data routes, not on the static page.
    for path in ["/api/health", "/metrics"]:
        assert request(admin, path, {"Host": own})[0] == 401, path
        assert request(admin, path, {"Host": own, "Authorization": "Bearer wrong-token-0123456789"})[0] == 401
        assert request(admin, path, {"Host": f"localhost:{admin}", **bearer})[0] == 200, path
    status, _, page = request(admin, "/", {"Host": own})
    assert status == 200 and "oispd live" in page and TOKEN not in page
    # A foreign web page reading the health cross-origin, even with a token.
    assert request(admin, "/api/health", {"Host": own, "Origin": "http://evil.example", **bearer})[0] == 403

    # WebSocket handshakes: foreign Origin, foreign Host, no token, wrong token.
    refused = {
        "foreign origin": ("/ws/events?token=" + TOKEN, upgrade_headers(own, {"Origin": "http://evil.example"}), 403),
        "other local port": ("/ws/events?token=" + TOKEN,
                             upgrade_headers(own, {"Origin": f"http://127.0.0.1:{admin + 1}"}), 403),
        "foreign host": ("/ws/events?token=" + TOKEN,
                         upgrade_headers(f"attacker.example:{admin}",
                                         {"Origin": f"http://attacker.example:{admin}"}), 403),
        "no token": ("/ws/events", upgrade_headers(own, {"Origin": f"http://{own}"}), 401),
        "wrong token": ("/ws/events?token=nope", upgrade_headers(own, {"Origin": f"http://{own}"}), 401),
    }
    for what, (path, headers, expected) in refused.items():
        status, _, _ = request(admin, path, headers)
        assert status == expected, (what, status)

    events = agent_events(spec_dir, 2)

    async def read_one(url, **kwargs):
        async with websockets.connect(url, **kwargs) as ws:
            # The hub registers the client right after the handshake; then
            # the events are appended.
            await asyncio.sleep(0.3)
            append_jsonl(src, events)
            return json.loads(await asyncio.wait_for(ws.recv(), 20))

    # The page's way (token in the query, own Origin) and a tool's way.
    got = asyncio.run(read_one(f"ws://{own}/ws/events?token={TOKEN}", origin=f"http://{own}"))
    assert got["event_id"] in {e["event_id"] for e in events}
    got = asyncio.run(read_one(f"ws://{own}/ws/events", additional_headers=bearer))
    assert got["event_id"] in {e["event_id"] for e in events}

    status, _, metrics = request(admin, "/metrics", {"Host": own, **bearer})
    for reason in ["host", "origin", "token"]:
        line = next(l for l in metrics.splitlines()
                    if l.startswith("oispd_admin_requests_refused{") and f'reason="{reason}"' in l)
        assert float(line.split()[-1]) > 0, line
    assert o.stop() == 0
    assert TOKEN not in o.log()


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def loose_modes(root):
    """Every directory under `root` (itself included) that is not 0700 and
    every file that is not 0600, with its mode."""
    bad = []
    if mode(root) != 0o700:
        bad.append((str(root), oct(mode(root))))
    for d, dirs, files in os.walk(root):
        for name in dirs:
            p = os.path.join(d, name)
            if mode(p) != 0o700:
                bad.append((p, oct(mode(p))))
        for name in files:
            p = os.path.join(d, name)
            if mode(p) != 0o600:
                bad.append((p, oct(mode(p))))
    return bad


def test_urls_show_no_credentials_and_files_are_private(start_oispd, tmp_path, spec_dir):
    src = tmp_path / "capture.jsonl"
    src.write_text("")
    data = tmp_path / "data"
    out_dir = data / "out"
    queue = data / "queue"
    store = data / "audit" / "audit.db"
    admin = free_port()
    down = free_port()  # nothing listens here: every export fails
    logs_url = f"http://alice:{PASSWORD}@127.0.0.1:{down}/v1/logs?token={QUERY_TOKEN}"
    hook_url = f"http://127.0.0.1:{down}/services/T000/B000/{HOOK_SECRET}?token={HOOK_QUERY}"
    # The files are created under a permissive umask: the modes must not
    # depend on the umask oispd inherits.
    old_umask = os.umask(0o022)
    try:
        o = start_oispd(f"""
receivers:
  jsonl: {{path: {src}, follow: true}}
processors:
  sentinel:
    store: {{path: {store}}}
exporters:
  file:
    path: {out_dir}/events.jsonl
    format: oisp_jsonl
    create_directory: true
    flush_interval: 10ms
    rotation: {{max_megabytes: 1, max_backups: 3}}
  otlp_http/siem:
    logs_endpoint: "{logs_url}"
    timeout: 2s
    sending_queue: {{storage: {queue}}}
    retry_on_failure: {{initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 0}}
  webhook/chat:
    endpoint: "{hook_url}"
    timeout: 2s
    retry_on_failure: {{initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 0}}
extensions:
  admin: {{endpoint: 127.0.0.1:{admin}}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl], processors: [sentinel], exporters: [file, otlp_http/siem, webhook/chat]}}
""", extra_args=["--shutdown-timeout", "1s"], wait_ports=[admin])
    finally:
        os.umask(old_umask)

    # A credential in a prompt makes a finding for the audit store; padded
    # events push the output past 1 MB so that it rotates.
    leak = next(e for e in spec_examples(spec_dir) if e["event_type"] == "ai.request")
    leak["event_id"] = "01JEXPOSURELEAK00000000000"
    leak["data"]["messages"] = [{"role": "user", "content":
                                 "deploy with aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYx"}]
    padded = agent_events(spec_dir, 150)
    for e in padded:
        e["data"]["padding"] = "p" * 10_000
    append_jsonl(src, [leak, *padded])

    def health():
        status, _, body = request(admin, "/api/health", {"Host": f"127.0.0.1:{admin}"})
        return json.loads(body) if status == 200 else None

    def both_failed():
        h = health()
        exports = (h or {}).get("exports", {})
        failing = [exports.get(i, {}).get("last_error") for i in ("otlp_http/siem", "webhook/chat")]
        return all(failing) and h

    h = wait_for(both_failed, what="both exporters reporting their failure in /api/health")
    siem_error = h["exports"]["otlp_http/siem"]["last_error"]
    hook_error = h["exports"]["webhook/chat"]["last_error"]
    assert f"127.0.0.1:{down}" in siem_error, siem_error  # still says where
    assert f"127.0.0.1:{down}" in hook_error, hook_error

    out_files = lambda: sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []
    wait_for(lambda: len(out_files()) >= 2, what=f"a rotated backup in {out_dir}")
    wal = store.parent / "audit.db-wal"
    wait_for(lambda: wal.exists(), what="the audit store's WAL file")
    segments = lambda: [p for p in queue.rglob("*") if p.is_file()]
    wait_for(lambda: segments(), what="persistent queue files")

    assert loose_modes(data) == [], "while running"
    _, _, metrics = request(admin, "/metrics", {"Host": f"127.0.0.1:{admin}"})
    # The sinks stay down, so shutdown gives up on them after 1s; what
    # matters is that oispd stopped by itself and closed its files.
    assert o.stop() == 0, o.log()
    assert "some records were not flushed" in o.log()
    assert loose_modes(data) == [], "after stopping"
    assert (store.parent / "audit.db").exists()

    log = o.log()
    shown = {"health": json.dumps(h), "metrics": metrics, "log": log}
    for where, text in shown.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {where}:\n{text[-4000:]}"
    # The log does name the failing endpoints, without their secrets.
    assert f"127.0.0.1:{down}" in log, log[-4000:]
