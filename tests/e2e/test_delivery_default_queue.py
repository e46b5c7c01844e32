"""End-to-end test of the default sending queue under saturation (issue
#14, "memory-safe defaults") through the real binary.

Scenario: a config with no `sending_queue` keys at all: the otlp receiver
(gRPC and HTTP) into an `otlp_http` exporter whose sink holds every export
request open (the slowest sink there is) until the end of the test. A
sender pushes OTLP/HTTP requests of 512 records (~1 KiB each) as fast as
oispd answers, up to 300 requests (~160 MB of records); then one OTLP/gRPC
request.

Guarantees: once the default queue (bounded by bytes) is full, oispd
pushes back instead of buffering: HTTP 503 with `Retry-After` and gRPC
UNAVAILABLE, as the collector answers when its sending queue is full;
oispd's peak resident memory (VmHWM) stays under MEMORY_BOUND_MIB; once the
sink answers, every record oispd accepted is delivered.
"""
import gzip
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2

from conftest import free_port, wait_for
from delivery_support import answer_otlp_accepted, serve_http

EXPORTER = "otlp_http/sink"
RECORDS_PER_REQUEST = 512
MAX_REQUESTS = 300
# The default queue holds 16 MiB of encoded records; with ten requests in
# flight, the receiver's buffers and the process itself (45 MiB at rest in a
# debug build), oispd peaked at 85 MiB here. With the collector's default,
# 1000 requests, it accepted all 300 requests and peaked at 269 MiB.
MEMORY_BOUND_MIB = 120


class HoldingSink:
    """An OTLP/HTTP logs sink that holds every request until `release()`,
    then answers 200 and keeps the ids of the records it received."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids = set()
        self.released = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.released.wait(timeout=300)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
                ids = {kv.value.string_value
                       for rl in request.resource_logs for sl in rl.scope_logs
                       for rec in sl.log_records for kv in rec.attributes if kv.key == "e2e.id"}
                with sink.lock:
                    sink.ids |= ids
                answer_otlp_accepted(self)

            def log_message(self, *args):
                pass

        self.server = serve_http(Handler)
        self.port = self.server.server_address[1]

    def received(self):
        with self.lock:
            return set(self.ids)

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def config(grpc_port, http_port, admin_port, sink_port):
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{grpc_port}}}
      http: {{endpoint: 127.0.0.1:{http_port}}}
exporters:
  {EXPORTER}:
    endpoint: http://127.0.0.1:{sink_port}
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [otlp], exporters: [{EXPORTER}]}}
"""


def request(n: int) -> logs_service_pb2.ExportLogsServiceRequest:
    padding = "x" * 1000
    records = [
        logs_pb2.LogRecord(
            body=common_pb2.AnyValue(string_value=f"{padding} {n}-{i}"),
            attributes=[common_pb2.KeyValue(key="e2e.id",
                                            value=common_pb2.AnyValue(string_value=f"{n}-{i}"))])
        for i in range(RECORDS_PER_REQUEST)
    ]
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=records)])])


def post(http_port, body: bytes):
    """Returns (status, Retry-After header)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/v1/logs", data=body,
        headers={"Content-Type": "application/x-protobuf"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Retry-After")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After")


def vm_hwm_mib(pid) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def test_default_queue_pushes_back_and_bounds_memory(start_oispd):
    sink = HoldingSink()
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    oispd = start_oispd(config(grpc_port, http_port, admin_port, sink.port),
                        wait_ports=[grpc_port, http_port, admin_port])
    try:
        accepted, refusals = [], []
        for n in range(MAX_REQUESTS):
            status, retry_after = post(http_port, request(n).SerializeToString())
            if status == 200:
                accepted.append(n)
            else:
                refusals.append((status, retry_after))
                if len(refusals) >= 5:
                    break
        assert refusals, f"all {len(accepted)} requests were accepted: nothing pushed back"
        assert all(status == 503 and retry_after for status, retry_after in refusals), refusals
        assert accepted, "nothing was accepted before the queue filled"

        stub = logs_service_pb2_grpc.LogsServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        try:
            stub.Export(request(MAX_REQUESTS), timeout=60)
            raise AssertionError("the gRPC request was accepted while the queue is full")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, (e.code(), e.details())
            assert "queue is full" in e.details(), e.details()

        peak = vm_hwm_mib(oispd.proc.pid)
        assert peak < MEMORY_BOUND_MIB, f"VmHWM {peak:.0f} MiB with {len(accepted)} requests accepted"

        sink.released.set()
        want = {f"{n}-{i}" for n in accepted for i in range(RECORDS_PER_REQUEST)}
        wait_for(lambda: want <= sink.received(), timeout=120, what="every accepted record at the sink")
        assert oispd.stop() == 0, oispd.log()
    finally:
        sink.close()
