"""End-to-end tests of concurrent export (`sending_queue.num_consumers`,
issue #14) through the real binary.

oispd receives OTLP/HTTP requests (one log record each, sent with urllib)
and exports them with `otlp_http` or `otlp_grpc` to a sink written here
(a threaded HTTP server, or a gRPC server on grpcio) that holds every
export request open until the test releases it, and counts how many it
holds at once. What is in flight is therefore observed at the sink, never
inferred from timing.
"""
import json
import threading
import urllib.error
import urllib.request
from concurrent import futures
from http.server import BaseHTTPRequestHandler

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

from conftest import free_port, wait_for
from delivery_support import answer_otlp_accepted, serve_http

class Holding:
    """Counts the export requests a sink holds until `release()`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.released = threading.Event()

    def hold(self):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.released.wait(timeout=120)
        with self.lock:
            self.in_flight -= 1
            self.requests += 1

    def held(self) -> int:
        with self.lock:
            return self.in_flight

    def release(self):
        self.released.set()


class HoldingSink(Holding):
    """An OTLP/HTTP logs sink that answers nothing until `release()`."""

    exporter = "otlp_http/sink"

    def __init__(self):
        super().__init__()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.hold()
                answer_otlp_accepted(self)

            def log_message(self, *args):
                pass

        self.server = serve_http(Handler)
        self.port = self.server.server_address[1]

    def endpoint(self) -> str:
        return f"endpoint: http://127.0.0.1:{self.port}"

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


class HoldingGrpcSink(Holding):
    """An OTLP/gRPC logs sink (grpcio, 32 worker threads) that answers
    nothing until `release()`."""

    exporter = "otlp_grpc/sink"

    def __init__(self):
        super().__init__()
        sink = self

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request, context):
                sink.hold()
                return logs_service_pb2.ExportLogsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def endpoint(self) -> str:
        return f"endpoint: 127.0.0.1:{self.port}\n    tls: {{insecure: true}}"

    def close(self):
        self.release()
        self.server.stop(grace=None)


def config(http_port, admin_port, sink, queue):
    return f"""
receivers:
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{http_port}}}
exporters:
  {sink.exporter}:
    {sink.endpoint()}
    compression: none
    timeout: 120s
    sending_queue: {queue}
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [otlp], exporters: [{sink.exporter}]}}
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
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def run_held_batches(start_oispd, sink, consumers):
    """Ten requests into oispd while `sink` holds every export; returns
    (requests held at the sink, the most it ever held at once)."""
    http_port, admin_port = free_port(), free_port()
    oispd = start_oispd(config(http_port, admin_port, sink, f"{{num_consumers: {consumers}}}"),
                        wait_ports=[http_port, admin_port])
    exporter = sink.exporter
    for i in range(10):
        assert post_log(http_port, i) == 200
    wait_for(lambda: sink.held() == consumers, what=f"{consumers} exports held at the sink")
    # Everything not at the sink waits in oispd's queue.
    wait_for(lambda: metric(admin_port, "oispd_exporter_queue_size_records",
                            exporter=exporter, data_type="logs") == 10 - consumers,
             what="the rest of the batches in oispd's queue")
    assert metric(admin_port, "otelcol_exporter_in_flight_requests", exporter=exporter) == consumers
    held = sink.held()
    sink.release()
    wait_for(lambda: sink.requests == 10, what="every export answered")
    assert oispd.stop() == 0, oispd.log()
    return held, sink.max_in_flight


SINKS = [pytest.param(HoldingSink, id="otlp_http"), pytest.param(HoldingGrpcSink, id="otlp_grpc")]


@pytest.mark.parametrize("sink_type", SINKS)
def test_four_consumers_keep_four_requests_in_flight(start_oispd, sink_type):
    """Scenario: `num_consumers: 4`, a sink that holds every request, for
    the `otlp_http` exporter and the `otlp_grpc` one (one HTTP/2 channel).
    Guarantees: four export requests are held at the sink at once while the
    rest wait in oispd's queue, and /metrics says four are in flight; never
    more than four; all ten delivered."""
    sink = sink_type()
    try:
        assert run_held_batches(start_oispd, sink, 4) == (4, 4)
    finally:
        sink.close()


@pytest.mark.parametrize("sink_type", SINKS)
def test_one_consumer_keeps_one_request_in_flight(start_oispd, sink_type):
    """Scenario: `num_consumers: 1`, the same sinks.
    Guarantees: one request at a time reaches the sink."""
    sink = sink_type()
    try:
        assert run_held_batches(start_oispd, sink, 1) == (1, 1)
    finally:
        sink.close()


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
    oispd = start_oispd(config(http_port, admin_port, sink, "{enabled: false, num_consumers: 4}"),
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
