"""End-to-end tests of oispd's pipeline (issue #2): real binary, real peers.

Scenario coverage:
- the official OpenTelemetry Python SDK sends logs over OTLP/gRPC and
  OTLP/HTTP, oispd writes them to a file;
- oispd replays the spec's examples with the jsonl receiver and exports them
  over OTLP/gRPC to rotel, which prints what it received;
- the file exporter's output validates against the OISP schema (`oisp_jsonl`);
  its collector formats (`json` by default, `proto`) are what a collector
  consumer reads, parsed with the opentelemetry-proto package; like the
  collector's, it truncates the file at start unless `append: true`;
- rotation keeps max_backups files and loses no line;
- SIGTERM flushes what was accepted; a finite replay exits 0 by itself;
- bad input (malformed lines, garbage OTLP, a port in use) is reported, not fatal;
- oispd runs without transparent huge pages.
"""
import json
import pathlib
import signal
import socket
import urllib.error
import urllib.request

import pytest
from conftest import free_port, read_jsonl, spec_examples, wait_for, http_get_json


def otlp_config(grpc_port, http_port, out, extra_exporter=""):
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{grpc_port}}}
      http: {{endpoint: 127.0.0.1:{http_port}}}
exporters:
  file:
    path: {out}
    format: oisp_jsonl
    flush_interval: 0s
{extra_exporter}
service:
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [file]
"""


def sdk_logger(exporter):
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "e2e-sdk", "host.name": "e2e-host"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider


def emit(provider, body, attributes, event_name=None):
    from opentelemetry._logs import LogRecord, SeverityNumber

    provider.get_logger("oispd-e2e").emit(
        LogRecord(body=body, attributes=attributes, severity_number=SeverityNumber.WARN, event_name=event_name)
    )


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_python_sdk_logs_reach_the_file(start_oispd, tmp_path, spec_dir, transport):
    grpc_port, http_port = free_port(), free_port()
    out = tmp_path / "events.jsonl"
    o = start_oispd(otlp_config(grpc_port, http_port, out), wait_ports=[grpc_port, http_port])
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/logs")
    provider = sdk_logger(exporter)
    # An ordinary application log and an OISP event carried as a structured body.
    emit(provider, "plain application log line", {"app.user": "alice"})
    oisp_example = next(e for e in spec_examples(spec_dir) if e["event_type"] == "ai.request")
    emit(provider, oisp_example, {"ai.provider": "openai"}, event_name="ai.request")
    assert provider.force_flush()
    lines = wait_for(lambda: len(read_jsonl(out)) >= 2 and read_jsonl(out), what="two lines in the file")
    assert o.stop() == 0
    plain = next(l for l in lines if "event_type" not in l)
    assert json.dumps(plain).find("plain application log line") >= 0
    assert json.dumps(plain).find("alice") >= 0
    # The OISP record comes out as the identical OISP JSON.
    carried = next(l for l in lines if l.get("event_type") == "ai.request")
    assert carried == oisp_example


def test_jsonl_replay_to_rotel_over_otlp(start_oispd, rotel_sink, tmp_path, spec_dir):
    rotel = rotel_sink()
    examples = spec_examples(spec_dir)
    src = tmp_path / "replay.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in examples))
    config = f"""
receivers:
  jsonl: {{path: {src}, follow: false}}
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:{rotel.port}
    tls: {{insecure: true}}
service:
  pipelines:
    logs: {{receivers: [jsonl], exporters: [otlp_grpc]}}
"""
    o = start_oispd(config)
    # Every receiver is finite: oispd drains, flushes and exits 0 on its own.
    assert o.wait(timeout=60) == 0, o.log()
    got = wait_for(
        lambda: all(f"event_id:Str({e['event_id']})" in rotel.output() for e in examples) and rotel.output(),
        what="every example at rotel",
    )
    for e in examples:
        assert f"EventName: {e['event_type']}" in got
    assert got.count("LogRecord #") >= len(examples)


def oisp_schema_validator(spec_dir: pathlib.Path):
    import jsonschema
    from referencing import Registry, Resource

    base = spec_dir / "schema" / "v0.1"
    registry = Registry()
    schemas = {}
    for path in base.rglob("*.schema.json"):
        doc = json.loads(path.read_text())
        schemas[path.relative_to(base).as_posix()] = doc
        registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))
    envelope = schemas["envelope.schema.json"]
    return jsonschema.Draft202012Validator(envelope, registry=registry), schemas


def test_file_output_validates_against_the_oisp_schema(start_oispd, tmp_path, spec_dir):
    examples = spec_examples(spec_dir)
    src = tmp_path / "replay.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in examples))
    out = tmp_path / "out.jsonl"
    o = start_oispd(f"""
receivers: {{jsonl: {{path: {src}}}}}
exporters: {{file: {{path: {out}, format: oisp_jsonl}}}}
service: {{pipelines: {{logs: {{receivers: [jsonl], exporters: [file]}}}}}}
""")
    assert o.wait(timeout=60) == 0, o.log()
    validator, _ = oisp_schema_validator(spec_dir)
    lines = read_jsonl(out)
    assert len(lines) == len(examples)
    for line in lines:
        errors = [e.message for e in validator.iter_errors(line)]
        assert not errors, (line["event_type"], errors)
    assert sorted(l["event_id"] for l in lines) == sorted(e["event_id"] for e in examples)


def event_ids_of(request):
    """The OISP event ids carried by the log records of an ExportLogsServiceRequest."""
    ids = []
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            for lr in sl.log_records:
                body = {kv.key: kv.value for kv in lr.body.kvlist_value.values}
                ids.append(body["event_id"].string_value)
    return ids


def read_length_prefixed(path):
    """The messages of a collector `proto` file: a 4-byte big-endian length, then the message."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        assert pos + 4 + size <= len(data), f"torn frame at {pos}"
        out.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return out


def test_file_json_default_and_proto_are_what_a_collector_consumer_reads(start_oispd, tmp_path, spec_dir):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    examples = spec_examples(spec_dir)
    src = tmp_path / "replay.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in examples))
    json_out, proto_out = tmp_path / "otlp.json", tmp_path / "otlp.binpb"
    o = start_oispd(f"""
receivers: {{jsonl: {{path: {src}}}}}
exporters:
  file/json: {{path: {json_out}}}
  file/proto: {{path: {proto_out}, format: proto}}
service: {{pipelines: {{logs: {{receivers: [jsonl], exporters: [file/json, file/proto]}}}}}}
""")
    assert o.wait(timeout=60) == 0, o.log()
    from_json = [json_format.Parse(line, ExportLogsServiceRequest())
                 for line in json_out.read_text().splitlines()]
    from_proto = [ExportLogsServiceRequest.FromString(m) for m in read_length_prefixed(proto_out)]
    assert from_json and from_json == from_proto
    ids = [i for req in from_json for i in event_ids_of(req)]
    assert sorted(ids) == sorted(e["event_id"] for e in examples)


def test_file_truncates_at_start_unless_append(start_oispd, tmp_path, spec_dir):
    examples = spec_examples(spec_dir)
    src = tmp_path / "replay.jsonl"
    src.write_text(json.dumps(examples[0]) + "\n")
    out = tmp_path / "events.jsonl"

    def run(extra):
        o = start_oispd(f"""
receivers: {{jsonl: {{path: {src}}}}}
exporters: {{file: {{path: {out}, format: oisp_jsonl{extra}}}}}
service: {{pipelines: {{logs: {{receivers: [jsonl], exporters: [file]}}}}}}
""")
        assert o.wait(timeout=60) == 0, o.log()
        return len(read_jsonl(out))

    assert [run(""), run(""), run(", append: true"), run(", append: false")] == [1, 1, 2, 1]


def many_events(spec_dir, n):
    base = next(e for e in spec_examples(spec_dir) if e["event_type"] == "ai.request")
    for i in range(n):
        e = dict(base)
        e["event_id"] = f"01JROTATION{i:015d}"
        yield e


@pytest.mark.parametrize("count,max_backups", [(1500, 5), (6000, 2)])
def test_rotation_keeps_max_backups_and_whole_lines(start_oispd, tmp_path, spec_dir, count, max_backups):
    src = tmp_path / "replay.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in many_events(spec_dir, count)))
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "events.jsonl"
    o = start_oispd(f"""
receivers: {{jsonl: {{path: {src}}}}}
exporters:
  file:
    path: {out}
    format: oisp_jsonl
    rotation: {{max_megabytes: 1, max_backups: {max_backups}}}
service: {{pipelines: {{logs: {{receivers: [jsonl], exporters: [file]}}}}}}
""")
    assert o.wait(timeout=120) == 0, o.log()
    files = sorted(outdir.iterdir())
    backups = [f for f in files if f != out]
    ids = []
    for f in files:
        assert f.stat().st_size <= 1024 * 1024 + 8192, f
        for line in f.read_text().splitlines():
            ids.append(json.loads(line)["event_id"])  # every line is whole JSON
    assert len(ids) == len(set(ids))
    if count == 1500:
        # ~3.5 MB fits in the current file plus five backups: nothing lost.
        assert len(ids) == count
        assert len(backups) >= 2
    else:
        # More rotations than backups: exactly max_backups are kept, and the
        # newest events are all there, in one contiguous run.
        assert len(backups) == max_backups
        numbers = sorted(int(i[-15:]) for i in ids)
        assert numbers == list(range(numbers[0], count))


def test_sigterm_flushes_accepted_records(start_oispd, tmp_path, spec_dir):
    grpc_port, http_port = free_port(), free_port()
    out = tmp_path / "events.jsonl"
    # flush_interval 10s: records sit in the exporter until shutdown flushes them.
    o = start_oispd(otlp_config(grpc_port, http_port, out).replace("flush_interval: 0s", "flush_interval: 10s"),
                    wait_ports=[grpc_port])
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    provider = sdk_logger(OTLPLogExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True))
    for i in range(50):
        emit(provider, f"record {i}", {"i": i})
    assert provider.force_flush()
    assert o.stop(signal.SIGTERM) == 0, o.log()
    assert len(read_jsonl(out)) == 50


def test_malformed_jsonl_lines_are_counted_not_fatal(start_oispd, tmp_path, spec_dir):
    examples = spec_examples(spec_dir)
    src = tmp_path / "replay.jsonl"
    src.write_text(json.dumps(examples[0]) + "\n{not json\n" + json.dumps(examples[1]) + "\n")
    out = tmp_path / "out.jsonl"
    o = start_oispd(f"""
receivers: {{jsonl: {{path: {src}}}}}
exporters: {{file: {{path: {out}, format: oisp_jsonl}}}}
service: {{pipelines: {{logs: {{receivers: [jsonl], exporters: [file]}}}}}}
""")
    assert o.wait(timeout=60) == 0
    assert len(read_jsonl(out)) == 2
    assert "line=2" in o.log() or "line: 2" in o.log(), o.log()


def test_garbage_otlp_is_rejected_and_service_keeps_running(start_oispd, tmp_path):
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    out = tmp_path / "events.jsonl"
    config = otlp_config(grpc_port, http_port, out) + f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
"""
    config = config.replace("service:\n", "service:\n  extensions: [admin]\n")
    o = start_oispd(config, wait_ports=[http_port, admin_port])
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}/v1/logs", data=b"\xff\x00garbage",
                                 headers={"Content-Type": "application/x-protobuf"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400
    # Garbage on the gRPC port is a protocol error for that connection only.
    with socket.create_connection(("127.0.0.1", grpc_port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)))
    health = http_get_json(f"http://127.0.0.1:{admin_port}/api/health")
    assert health["status"] == "healthy"
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
    assert "otelcol_exporter_queue_size" in metrics
    assert o.proc.poll() is None
    assert o.stop() == 0


def test_port_in_use_is_a_one_line_startup_error(start_oispd, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        o = start_oispd(otlp_config(port, free_port(), tmp_path / "x.jsonl"))
        code = o.wait(timeout=30)
    assert code != 0
    err = [l for l in o.log().splitlines() if l.startswith("Error:")]
    assert err and f"127.0.0.1:{port}" in err[0] and "receivers::otlp" in err[0], o.log()


def test_runs_without_transparent_huge_pages(start_oispd, tmp_path):
    # mimalloc asks for huge pages on its arenas; oispd opts out at start-up so
    # that its resident memory follows what it uses (src/main.rs, use_small_pages).
    grpc_port, http_port = free_port(), free_port()
    o = start_oispd(otlp_config(grpc_port, http_port, tmp_path / "out.jsonl"), wait_ports=[grpc_port])
    status = pathlib.Path(f"/proc/{o.proc.pid}/status").read_text()
    assert "THP_enabled:\t0" in status, [line for line in status.splitlines() if "THP" in line]
    assert o.stop() == 0, o.log()
