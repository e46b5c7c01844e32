"""End-to-end tests of concurrent export (`sending_queue.num_consumers`,
issue #14) through the real binary.

oispd receives OTLP/HTTP requests (one log record each, sent with urllib)
and exports them with `otlp_http` to a sink written here: a threaded HTTP
server that holds every export request open until the test releases it,
and counts how many it holds at once. What is in flight is therefore
observed at the sink, never inferred from timing.
"""
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port, wait_for

EXPORTER = "otlp_http/sink"


class HoldingSink:
    """An OTLP/HTTP logs sink that answers nothing until `release()`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.released = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink.lock:
                    sink.in_flight += 1
                    sink.max_in_flight = max(sink.max_in_flight, sink.in_flight)
                sink.released.wait(timeout=120)
                with sink.lock:
                    sink.in_flight -= 1
                    sink.requests += 1
                # An empty ExportLogsServiceResponse: everything accepted.
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def held(self) -> int:
        with self.lock:
            return self.in_flight

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def config(http_port, admin_port, sink_port, queue):
    return f"""
receivers:
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{http_port}}}
exporters:
  {EXPORTER}:
    endpoint: http://127.0.0.1:{sink_port}
    compression: none
    timeout: 120s
    sending_queue: {queue}
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [otlp], exporters: [{EXPORTER}]}}
"""


def post_log(http_port, i):
    """One OTLP/JSON request with one record; returns the HTTP status."""
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": f"record {i}"}}]}]}]}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/v1/logs", data=body,
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def metric(admin_port, name, **labels) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    labels = {"exporter": EXPORTER, **labels}
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def queued_records(admin_port) -> float:
    return metric(admin_port, "oispd_exporter_queue_size_records", data_type="logs")


def run_held_batches(start_oispd, consumers):
    """Ten requests into oispd while the sink holds every export; returns
    (requests held at the sink, batches left in oispd's queue, sink)."""
    sink = HoldingSink()
    http_port, admin_port = free_port(), free_port()
    oispd = start_oispd(config(http_port, admin_port, sink.port, f"{{num_consumers: {consumers}}}"),
                        wait_ports=[http_port, admin_port])
    try:
        for i in range(10):
            assert post_log(http_port, i) == 200
        wait_for(lambda: sink.held() == consumers, what=f"{consumers} exports held at the sink")
        # Everything not at the sink waits in oispd's queue.
        wait_for(lambda: queued_records(admin_port) == 10 - consumers,
                 what="the rest of the batches in oispd's queue")
        assert metric(admin_port, "otelcol_exporter_in_flight_requests") == consumers
        held = sink.held()
        sink.release()
        wait_for(lambda: sink.requests == 10, what="every export answered")
        assert oispd.stop() == 0, oispd.log()
        return held, sink.max_in_flight
    finally:
        sink.close()


def test_four_consumers_keep_four_requests_in_flight(start_oispd):
    """Scenario: `num_consumers: 4`, a sink that holds every request.
    Guarantees: four export requests are held at the sink at once while the
    rest wait in oispd's queue, and /metrics says four are in flight; never
    more than four; all ten delivered."""
    held, most = run_held_batches(start_oispd, 4)
    assert (held, most) == (4, 4)


def test_one_consumer_keeps_one_request_in_flight(start_oispd):
    """Scenario: `num_consumers: 1`, the same sink.
    Guarantees: one request at a time reaches the sink."""
    held, most = run_held_batches(start_oispd, 1)
    assert (held, most) == (1, 1)


def test_sender_is_answered_only_after_delivery(start_oispd):
    """Scenario: `sending_queue: {enabled: false}` (the sender waits for
    its records' export), `num_consumers: 4`, a sink that holds every
    request.
    Guarantees: while the sink holds the export, the sender has no answer;
    once the sink answers, the sender gets 200. (With the queue disabled
    the pipeline waits for each export, so one request is in flight per
    pipeline; several senders at once are covered by the helper's unit
    test `acknowledgements_follow_delivery_in_any_order`.)"""
    sink = HoldingSink()
    http_port, admin_port = free_port(), free_port()
    oispd = start_oispd(config(http_port, admin_port, sink.port, "{enabled: false, num_consumers: 4}"),
                        wait_ports=[http_port, admin_port])
    answer = {}
    try:
        sender = threading.Thread(target=lambda: answer.__setitem__("status", post_log(http_port, 0)))
        sender.start()
        wait_for(lambda: sink.held() == 1, what="the export held at the sink")
        assert answer == {}, answer
        sink.release()
        sender.join(timeout=60)
        assert answer == {"status": 200}
        assert oispd.stop() == 0, oispd.log()
    finally:
        sink.close()
