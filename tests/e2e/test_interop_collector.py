"""Interop with the real OpenTelemetry Collector (Go, core 0.158,
../shared/peers/otelcol; issue #14): records that travel oispd -> collector
-> sink and collector -> oispd -> sink, over OTLP/gRPC and over OTLP/HTTP,
arrive with every field unchanged.

The test sends one logs request and one traces request built here with
every OTLP field set (every AnyValue kind, nested arrays and kvlists,
resource and scope attributes, schema URLs, ids, flags, events, links,
status) to the first hop. Both hops run with their defaults, so gzip is on
between them and towards the sink. The sink, written here (grpcio and a
stdlib HTTP server), decodes what it receives with the official protobuf
classes; the test compares each record, with its resource and scope, to what
was sent.

The one documented change is redaction (processors/src/redaction): oispd
replaces a credential in any string before it exports. One log record
carries an OpenAI key in an attribute and in its body; the test checks that
the key is gone at the sink whichever hop comes first, and that everything
else in that record arrived unchanged.
"""
import gzip
import subprocess
import urllib.request
from concurrent import futures
from http.server import BaseHTTPRequestHandler

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import (AnyValue, ArrayValue, InstrumentationScope, KeyValue,
                                                      KeyValueList)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from conftest import free_port, otelcol_peer, stop_process, wait_for, wait_port
from delivery_support import serve_http

# The credential one record carries, and the record's marker attribute.
OPENAI_KEY = "sk-proj-" + "Q7vX2mR9kL4pW8nB3tY6hJ1cF5dG0sA2eZ7uI9oK4qM3wN8xV1bT6yP2rL5j"
SECRET_MARKER = "carries-a-key"


def kv(key, value) -> KeyValue:
    return KeyValue(key=key, value=value)


def every_value_kind(tag: str) -> list[KeyValue]:
    """Attributes of every AnyValue kind, nested arrays and kvlists included."""
    return [
        kv("str", AnyValue(string_value=f"text {tag} \u00e9\u4e2d")),
        kv("bool", AnyValue(bool_value=True)),
        kv("int", AnyValue(int_value=-9_007_199_254_740_993)),
        kv("double", AnyValue(double_value=2.718281828)),
        kv("bytes", AnyValue(bytes_value=bytes(range(0, 256, 7)))),
        kv("array", AnyValue(array_value=ArrayValue(values=[
            AnyValue(string_value="a"), AnyValue(int_value=7),
            AnyValue(array_value=ArrayValue(values=[AnyValue(bool_value=False)])),
        ]))),
        kv("kvlist", AnyValue(kvlist_value=KeyValueList(values=[
            kv("inner", AnyValue(kvlist_value=KeyValueList(values=[kv("deep", AnyValue(double_value=-0.5))]))),
            kv("empty_string", AnyValue(string_value="")),
        ]))),
    ]


def resource(host: str) -> Resource:
    return Resource(attributes=[kv("host.name", AnyValue(string_value=host)),
                                kv("service.name", AnyValue(string_value="interop"))] + every_value_kind("resource"),
                    dropped_attributes_count=2)


def scope(name: str) -> InstrumentationScope:
    return InstrumentationScope(name=name, version="1.2.3", attributes=[kv("scope.attr", AnyValue(int_value=5))],
                                dropped_attributes_count=1)


def log_records(n: int, base: int) -> list[LogRecord]:
    return [LogRecord(
        time_unix_nano=1_766_413_800_000_000_000 + base + i,
        observed_time_unix_nano=1_766_413_800_000_000_500 + base + i,
        severity_number=9 + i % 12,
        severity_text=f"SEV{i}",
        body=AnyValue(kvlist_value=KeyValueList(values=every_value_kind(f"body {base + i}"))),
        attributes=[kv("record.index", AnyValue(int_value=base + i))] + every_value_kind(f"attr {i}"),
        dropped_attributes_count=3,
        flags=1,
        trace_id=bytes([base % 256 + 1] * 8 + [i + 1] * 8),
        span_id=bytes([i + 1] * 8),
        event_name=f"interop.event.{i}",
    ) for i in range(n)]


def secret_record() -> LogRecord:
    return LogRecord(
        time_unix_nano=1_766_413_900_000_000_000,
        severity_number=13,
        body=AnyValue(string_value=f"the key is {OPENAI_KEY} here"),
        attributes=[kv("marker", AnyValue(string_value=SECRET_MARKER)),
                    kv("http.request.header.authorization", AnyValue(string_value=f"Bearer {OPENAI_KEY}")),
                    kv("untouched", AnyValue(string_value="nothing secret"))],
        event_name="interop.secret",
    )


def logs_request() -> logs_service_pb2.ExportLogsServiceRequest:
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[
        ResourceLogs(resource=resource("host-a"), schema_url="https://opentelemetry.io/schemas/1.30.0", scope_logs=[
            ScopeLogs(scope=scope("scope.one"), schema_url="https://example.test/scope/1",
                      log_records=log_records(4, 0)),
            ScopeLogs(scope=scope("scope.two"), log_records=log_records(3, 100) + [secret_record()]),
        ]),
        ResourceLogs(resource=resource("host-b"), scope_logs=[
            ScopeLogs(scope=scope("scope.one"), log_records=log_records(5, 200)),
        ]),
    ])


def spans(n: int, base: int) -> list[Span]:
    return [Span(
        trace_id=bytes([base % 256 + 1] * 8 + [i + 1] * 8),
        span_id=bytes([i + 1] * 8),
        trace_state="vendor=value",
        parent_span_id=bytes([i + 2] * 8),
        flags=257,
        name=f"span {base + i}",
        kind=Span.SPAN_KIND_CLIENT if i % 2 else Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1_766_413_800_000_000_000 + base + i,
        end_time_unix_nano=1_766_413_800_001_000_000 + base + i,
        attributes=every_value_kind(f"span {i}"),
        dropped_attributes_count=1,
        events=[Span.Event(time_unix_nano=1_766_413_800_000_500_000 + i, name="event",
                           attributes=[kv("e", AnyValue(int_value=i))], dropped_attributes_count=2)],
        dropped_events_count=3,
        links=[Span.Link(trace_id=bytes([9] * 16), span_id=bytes([8] * 8), trace_state="k=v",
                         attributes=[kv("l", AnyValue(bool_value=True))], dropped_attributes_count=4, flags=256)],
        dropped_links_count=5,
        status=Status(message=f"status {i}", code=Status.STATUS_CODE_ERROR if i % 2 else Status.STATUS_CODE_OK),
    ) for i in range(n)]


def traces_request() -> trace_service_pb2.ExportTraceServiceRequest:
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(resource=resource("host-a"), schema_url="https://opentelemetry.io/schemas/1.30.0", scope_spans=[
            ScopeSpans(scope=scope("scope.one"), schema_url="https://example.test/scope/1", spans=spans(3, 0)),
        ]),
        ResourceSpans(resource=resource("host-c"), scope_spans=[ScopeSpans(scope=scope("scope.two"), spans=spans(2, 50))]),
    ])


def flat_logs(requests) -> list[dict]:
    """Every log record with its resource and scope, as comparable dicts."""
    out = []
    for req in requests:
        for rl in req.resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    one = ResourceLogs(resource=rl.resource, schema_url=rl.schema_url, scope_logs=[
                        ScopeLogs(scope=sl.scope, schema_url=sl.schema_url, log_records=[r])])
                    out.append(MessageToDict(one))
    return out


def flat_spans(requests) -> list[dict]:
    """Every span with its resource and scope, as comparable dicts."""
    out = []
    for req in requests:
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    one = ResourceSpans(resource=rs.resource, schema_url=rs.schema_url, scope_spans=[
                        ScopeSpans(scope=ss.scope, schema_url=ss.schema_url, spans=[s])])
                    out.append(MessageToDict(one))
    return out


def record_key(d: dict) -> str:
    return repr(sorted(d.items()))


class RecordingSink:
    """An OTLP sink over gRPC or HTTP that keeps every request it decodes."""

    def __init__(self, protocol: str):
        self.protocol = protocol
        self.logs: list = []
        self.traces: list = []
        sink = self
        if protocol == "grpc":
            class Logs(logs_service_pb2_grpc.LogsServiceServicer):
                def Export(self, request, context):
                    sink.logs.append(request)
                    return logs_service_pb2.ExportLogsServiceResponse()

            class Traces(trace_service_pb2_grpc.TraceServiceServicer):
                def Export(self, request, context):
                    sink.traces.append(request)
                    return trace_service_pb2.ExportTraceServiceResponse()

            self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
            logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.server)
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.server)
            self.port = self.server.add_insecure_port("127.0.0.1:0")
            self.server.start()
        else:
            class Handler(BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    if self.path == "/v1/logs":
                        req, resp = logs_service_pb2.ExportLogsServiceRequest(), logs_service_pb2.ExportLogsServiceResponse()
                        req.ParseFromString(body)
                        sink.logs.append(req)
                    elif self.path == "/v1/traces":
                        req, resp = trace_service_pb2.ExportTraceServiceRequest(), trace_service_pb2.ExportTraceServiceResponse()
                        req.ParseFromString(body)
                        sink.traces.append(req)
                    else:
                        self.send_error(404)
                        return
                    payload = resp.SerializeToString()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

                def log_message(self, *args):
                    pass

            self.server = serve_http(Handler)
            self.port = self.server.server_address[1]

    def close(self):
        if self.protocol == "grpc":
            self.server.stop(grace=None)
        else:
            self.server.shutdown()
            self.server.server_close()


def endpoint(protocol: str, port: int) -> str:
    """An exporter's endpoint for the next hop: host:port for gRPC, a base URL for HTTP."""
    return f"127.0.0.1:{port}" if protocol == "grpc" else f"http://127.0.0.1:{port}"


def exporter_type(protocol: str) -> str:
    return "otlp_grpc" if protocol == "grpc" else "otlp_http"


def hop_config(protocol: str, port: int, next_port: int, collector: bool) -> str:
    """The same minimal forwarding config for oispd and the collector: the
    OTLP receiver on `protocol`, the OTLP exporter of the same protocol
    (defaults, so gzip) to the next hop, a logs and a traces pipeline."""
    telemetry = "  telemetry: {metrics: {level: none}}\n" if collector else ""
    return f"""
receivers:
  otlp:
    protocols:
      {protocol}: {{endpoint: 127.0.0.1:{port}}}
exporters:
  {exporter_type(protocol)}:
    endpoint: {endpoint(protocol, next_port)}
    tls: {{insecure: true}}
service:
{telemetry}  pipelines:
    logs: {{receivers: [otlp], exporters: [{exporter_type(protocol)}]}}
    traces: {{receivers: [otlp], exporters: [{exporter_type(protocol)}]}}
"""


class CollectorHop:
    """The collector forwarding from its OTLP receiver to the next hop."""

    def __init__(self, workdir, protocol: str, port: int, next_port: int):
        binary = otelcol_peer()
        config = workdir / "collector-hop.yaml"
        config.write_text(hop_config(protocol, port, next_port, collector=True))
        self.log_path = workdir / "collector-hop.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "--config", str(config)], stdout=self._log, stderr=subprocess.STDOUT)
        wait_port(port)

    def stop(self):
        stop_process(self.proc)
        self._log.close()


def send(protocol: str, port: int, logs, traces) -> None:
    """Sends the two requests to the first hop; it must accept both."""
    if protocol == "grpc":
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            logs_service_pb2_grpc.LogsServiceStub(channel).Export(logs, timeout=30)
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(traces, timeout=30)
        return
    for path, msg in (("/v1/logs", logs), ("/v1/traces", traces)):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=msg.SerializeToString(),
                                     headers={"Content-Type": "application/x-protobuf"}, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, f"{path}: {r.status}"


def without_secret(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """(records without the credential-carrying one, that one)."""
    def is_secret(d):
        attrs = d["scopeLogs"][0]["logRecords"][0].get("attributes", [])
        return any(a["key"] == "marker" and a["value"].get("stringValue") == SECRET_MARKER for a in attrs)

    return [d for d in records if not is_secret(d)], [d for d in records if is_secret(d)]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("order", ["oispd_then_collector", "collector_then_oispd"])
def test_records_cross_oispd_and_the_collector_unchanged(start_oispd, tmp_path, protocol, order):
    """Scenario: a logs request and a traces request with every OTLP field
    set go through oispd and the real collector, in either order, over
    `protocol`, both with default settings (gzip between them), to a sink.
    Guarantees: the sink decodes every record and span, each with its
    resource and scope, equal to what was sent, except the credential in one
    log record: oispd's always-on redactor replaced it (whichever hop came
    first), and the rest of that record is unchanged."""
    sink = RecordingSink(protocol)
    first, second = free_port(), free_port()
    collector = None
    try:
        if order == "oispd_then_collector":
            collector = CollectorHop(tmp_path, protocol, second, sink.port)
            start_oispd(hop_config(protocol, first, second, collector=False), wait_ports=[first])
        else:
            start_oispd(hop_config(protocol, second, sink.port, collector=False), wait_ports=[second])
            collector = CollectorHop(tmp_path, protocol, first, second)
        logs, traces = logs_request(), traces_request()
        send(protocol, first, logs, traces)

        sent_logs, sent_spans = flat_logs([logs]), flat_spans([traces])
        wait_for(lambda: len(flat_logs(sink.logs)) >= len(sent_logs) and len(flat_spans(sink.traces)) >= len(sent_spans),
                 timeout=60, what="every record at the sink")
        got_logs, got_spans = flat_logs(sink.logs), flat_spans(sink.traces)

        assert sorted(got_spans, key=record_key) == sorted(sent_spans, key=record_key)
        plain_sent, [secret_sent] = without_secret(sent_logs)
        plain_got, [secret_got] = without_secret(got_logs)
        assert sorted(plain_got, key=record_key) == sorted(plain_sent, key=record_key)

        # The credential is gone from the body and the header attribute ...
        assert OPENAI_KEY not in repr(secret_got)
        got_record = secret_got["scopeLogs"][0]["logRecords"][0]
        sent_record = secret_sent["scopeLogs"][0]["logRecords"][0]
        got_attrs = {a["key"]: a["value"] for a in got_record["attributes"]}
        body = got_record["body"]["stringValue"]
        assert body.startswith("the key is [REDACTED:openai_api_key:") and body.endswith("] here"), body
        assert got_attrs["http.request.header.authorization"]["stringValue"].startswith("[REDACTED:")
        # ... and nothing else in that record changed.
        assert got_attrs["untouched"] == {"stringValue": "nothing secret"}
        same = {k: v for k, v in got_record.items() if k not in ("body", "attributes")}
        assert same == {k: v for k, v in sent_record.items() if k not in ("body", "attributes")}
        assert [a["key"] for a in got_record["attributes"]] == [a["key"] for a in sent_record["attributes"]]
        assert {k: v for k, v in secret_got.items() if k != "scopeLogs"} == \
            {k: v for k, v in secret_sent.items() if k != "scopeLogs"}
    finally:
        if collector is not None:
            collector.stop()
        sink.close()
