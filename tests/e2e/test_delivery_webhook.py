"""End-to-end test of the webhook exporter (issue #5) through the real binary,
against a local HTTP server (Python's http.server) that fails the first
attempts and then accepts.

Scenario: oispd replays 120 events into a webhook (batch_size 25, a secret,
one request in flight).
The server answers the first request 503 with Retry-After: 0, reads the
second one and answers only after oispd's timeout (a lost answer), and
accepts everything after.

Guarantees: every event arrives; after de-duplication by batch_id each event
is there exactly once (the lost answer made one batch arrive twice, under
the same batch_id); every body carries a valid HMAC-SHA256 signature of its
bytes and the configured sensor_id; oispd exits 0 once everything is
delivered.
"""
import hashlib
import hmac
import http.server
import json
import threading
import time

from delivery_support import agent_events, write_jsonl

SECRET = b"e2e-secret"


class Hook(http.server.BaseHTTPRequestHandler):
    lock = threading.Lock()
    seen = []  # (attempt, batch_id header, body dict, signature ok, processed)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, self.headers.get("X-OISP-Signature", ""))
        with Hook.lock:
            attempt = len(Hook.seen) + 1
            Hook.seen.append((attempt, self.headers.get("X-OISP-Batch-Id"), json.loads(body), ok, attempt >= 2))
        if attempt == 1:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        if attempt == 2:
            time.sleep(2)  # longer than oispd's timeout: the answer is lost
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_retries_keep_batch_id_and_signature(start_oispd, tmp_path, spec_dir):
    Hook.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        events = agent_events(spec_dir, 120)
        src = tmp_path / "replay.jsonl"
        write_jsonl(src, events)
        o = start_oispd(f"""
receivers:
  jsonl: {{path: {src}, follow: false}}
exporters:
  webhook:
    endpoint: http://127.0.0.1:{server.server_address[1]}/hook
    secret: {SECRET.decode()}
    sensor_id: e2e-sensor
    batch_size: 25
    flush_interval: 100ms
    timeout: 500ms
    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms}}
    # One batch at a time, so the server's scripted answers meet the
    # first batch's attempts in order.
    sending_queue: {{num_consumers: 1}}
service:
  pipelines:
    logs: {{receivers: [jsonl], exporters: [webhook]}}
""")
        assert o.wait(timeout=120) == 0, o.log()
    finally:
        server.shutdown()

    seen = list(Hook.seen)
    assert all(ok for _, _, _, ok, _ in seen), "every body is validly signed"
    assert all(b["sensor_id"] == "e2e-sensor" and b["batch_id"] == h for _, h, b, _, _ in seen)
    # The first batch was tried three times under one batch_id.
    assert seen[0][1] == seen[1][1] == seen[2][1]
    batches = {}
    processed = 0
    for _, batch_id, body, _, was_processed in seen:
        if not was_processed:
            continue
        ids = [e["event_id"] for e in body["events"]]
        processed += len(ids)
        assert batches.setdefault(batch_id, ids) == ids, "one batch_id, one content"
        assert len(ids) <= 25
    assert processed > len(events), "the lost answer delivered one batch twice"
    delivered = [i for ids in batches.values() for i in ids]
    assert sorted(delivered) == sorted(e["event_id"] for e in events)
    by_id = {e["event_id"]: e for e in events}
    for _, _, body, _, _ in seen:
        for e in body["events"]:
            assert e == by_id[e["event_id"]], "exact OISP JSON"
