"""End-to-end test of the persistent sending queue (issue #5, "Persistent
queue") through the real binary.

Scenario: oispd receives logs over OTLP/gRPC from the official OpenTelemetry
Python SDK and exports them over OTLP/gRPC to a sink that is down (nothing
listens on its port), with `sending_queue.storage` set and retries without
end: once as the collector writes it (the id of a `file_storage` extension,
with compaction keys), once as a directory path. Records with distinct ids are accepted, oispd is killed with SIGKILL,
restarted with the same config, more records are accepted while the sink is
still down, then the sink (rotel, which prints every record it receives)
comes up on that port.

Guarantees: every accepted record reaches the sink, none more than twice
(at-least-once: only a batch in flight at the kill may repeat); while the
sink is down `/metrics` shows the queue's bytes against its byte capacity,
the queued record count, and no record as failed; the restarted process
starts with every record the killed one had queued; once everything is
delivered the queue is empty.

The kill comes the moment the last export call returns, with no wait: the
OTLP receiver answers only once the exporter's persistent queue has the
records on disk, so every record a client was told is accepted survives
the kill.

A second test kills oispd mid-delivery with `num_consumers: 4` (issue #14):
a live sink (grpcio, written here) answers the first exports, then holds
four at once; oispd is killed with those four unanswered. Nothing the sink
did not answer may be lost: the restarted process delivers every accepted
record.
"""
import re
import signal
import subprocess
import threading
import urllib.request
from concurrent import futures

import grpc
import pytest
from conftest import free_port, rotel_binary, wait_for, wait_port
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

MAX_STORAGE_BYTES = 64 * 1024 * 1024
EXPORTER = "otlp_grpc/sink"


def config(grpc_port, admin_port, sink_port, storage, form, num_consumers=None):
    """`form` "extension": storage is a file_storage extension, as the
    collector writes it (compaction keys included); "path": a directory
    path, oispd's older reading of the key."""
    if form == "extension":
        queue_storage = "file_storage/queue"
        extension = (f"  file_storage/queue: {{directory: {storage}, create_directory: true,"
                     f" compaction: {{on_start: true, directory: {storage}}}}}\n")
        enabled = "[admin, file_storage/queue]"
    else:
        queue_storage, extension, enabled = storage, "", "[admin]"
    consumers = f", num_consumers: {num_consumers}" if num_consumers else ""
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{grpc_port}}}
exporters:
  {EXPORTER}:
    endpoint: 127.0.0.1:{sink_port}
    tls: {{insecure: true}}
    timeout: 2s
    sending_queue: {{storage: {queue_storage}, max_storage_bytes: {MAX_STORAGE_BYTES}{consumers}}}
    retry_on_failure: {{initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0}}
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
{extension}service:
  extensions: {enabled}
  pipelines:
    logs: {{receivers: [otlp], exporters: [{EXPORTER}]}}
"""


def send(grpc_port, ids):
    """Sends one log record per id with the OTel SDK; each export returns
    once oispd accepted the record (SimpleLogRecordProcessor)."""
    from opentelemetry._logs import LogRecord, SeverityNumber
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "e2e-persistent-queue"}))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True))
    )
    logger = provider.get_logger("oispd-e2e")
    for i in ids:
        logger.emit(LogRecord(body=f"queued record {i}", attributes={"e2e.id": i},
                              severity_number=SeverityNumber.INFO))
    assert provider.force_flush()
    provider.shutdown()


def metrics(admin_port) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def start_rotel(port, out_path):
    """rotel as the OTLP sink on a given port, printing every record."""
    out = open(out_path, "wb")
    proc = subprocess.Popen(
        [rotel_binary(), "start",
         "--otlp-grpc-endpoint", f"127.0.0.1:{port}",
         "--otlp-http-endpoint", f"127.0.0.1:{free_port()}",
         "--exporter", "blackhole",
         "--debug-log", "logs", "--debug-log-verbosity", "detailed"],
        stdout=out, stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port)
    except TimeoutError:
        proc.kill()
        proc.wait()
        out.close()
        raise
    return proc, out


@pytest.mark.parametrize("form", ["extension", "path"])
def test_persistent_queue_survives_sigkill_and_delivers_at_least_once(start_oispd, tmp_path, form):
    grpc_port, admin_port, sink_port = free_port(), free_port(), free_port()
    # The extension creates its directory (create_directory: true); a path is created by the queue.
    storage = tmp_path / "queue"
    cfg = config(grpc_port, admin_port, sink_port, storage, form)
    before = [f"id-{i:04d}" for i in range(150)]
    after = [f"id-{i:04d}" for i in range(150, 200)]

    first = start_oispd(cfg, wait_ports=[grpc_port, admin_port])
    send(grpc_port, before)
    # No waiting: an answered export is already on disk.
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    assert list(storage.iterdir()) == [storage / "otlp_grpc%2Fsink"], list(storage.iterdir())

    second = start_oispd(cfg, wait_ports=[grpc_port, admin_port])
    # What the killed process had accepted is back in the queue.
    text = metrics(admin_port)
    assert metric(text, "oispd_exporter_queue_size_records", exporter=EXPORTER, data_type="logs") == len(before)
    assert metric(text, "otelcol_exporter_queue_size", exporter=EXPORTER, data_type="logs") > 0
    assert metric(text, "otelcol_exporter_queue_capacity", exporter=EXPORTER, data_type="logs") == MAX_STORAGE_BYTES
    assert metric(text, "otelcol_exporter_send_failed_log_records", exporter=EXPORTER) == 0
    send(grpc_port, after)

    rotel, out = start_rotel(sink_port, tmp_path / "rotel.out")
    try:
        sink_out = tmp_path / "rotel.out"
        want = set(before + after)

        def received():
            seen = re.findall(r"e2e\.id:\s*Str\((id-\d{4})\)", sink_out.read_text(errors="replace"))
            return seen if want <= set(seen) else None

        seen = wait_for(received, timeout=60, what="every record at the sink")
        counts = {i: seen.count(i) for i in want}
        assert all(c <= 2 for c in counts.values()), {i: c for i, c in counts.items() if c > 2}
        assert set(seen) == want, set(seen) - want

        text = wait_for(
            lambda: (t := metrics(admin_port))
            and metric(t, "otelcol_exporter_queue_size", exporter=EXPORTER, data_type="logs") == 0
            and t,
            what="an empty queue after delivery",
        )
        # The second run sent what the first left plus the new records.
        assert metric(text, "otelcol_exporter_sent_log_records", exporter=EXPORTER) >= len(want)
        assert metric(text, "otelcol_exporter_send_failed_log_records", exporter=EXPORTER) == 0
    finally:
        rotel.terminate()
        rotel.wait(timeout=10)
        out.close()
    assert second.stop() == 0, second.log()


class AnsweringThenHoldingSink:
    """An OTLP/gRPC logs sink (grpcio) that answers the first `answer_first`
    exports, then holds every later one until `release()`. Only answered
    exports count as delivered: an export held until its sender was killed
    was never acknowledged, so its records are not counted."""

    def __init__(self, answer_first: int):
        self.lock = threading.Lock()
        self.answer_first = answer_first
        self.answered = 0
        self.held = 0
        self.max_held = 0
        self.delivered: list[str] = []
        self.released = threading.Event()
        self.holding = True
        sink = self

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request, context):
                ids = [a.value.string_value for rl in request.resource_logs for sl in rl.scope_logs
                       for r in sl.log_records for a in r.attributes if a.key == "e2e.id"]
                with sink.lock:
                    hold = sink.holding and sink.answered >= sink.answer_first
                    if hold:
                        sink.held += 1
                        sink.max_held = max(sink.max_held, sink.held)
                    else:
                        sink.answered += 1
                        sink.delivered.extend(ids)
                if hold:
                    sink.released.wait(timeout=120)
                    with sink.lock:
                        sink.held -= 1
                    context.abort(grpc.StatusCode.UNAVAILABLE, "held until the sender was gone")
                return logs_service_pb2.ExportLogsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def held_now(self) -> int:
        with self.lock:
            return self.held

    def stop_holding(self):
        """Fails the held exports and answers every later one."""
        with self.lock:
            self.holding = False
        self.released.set()

    def close(self):
        self.stop_holding()
        self.server.stop(grace=None)


def test_kill_mid_delivery_with_four_consumers_loses_nothing(start_oispd, tmp_path):
    """Scenario: a persistent queue with `num_consumers: 4` delivers to a
    live sink that answers the first 10 exports and then holds four at once;
    oispd is killed with SIGKILL while those four are unanswered, restarted
    with the same config, sent more records, and the sink answers again.
    Guarantees: four exports were in flight at once; every record a client
    was told is accepted reaches the sink, the held ones included (the sink
    counts only answered exports), none more than twice."""
    grpc_port, admin_port = free_port(), free_port()
    sink = AnsweringThenHoldingSink(answer_first=10)
    storage = tmp_path / "queue"
    cfg = config(grpc_port, admin_port, sink.port, storage, "path", num_consumers=4)
    before = [f"id-{i:04d}" for i in range(100)]
    after = [f"id-{i:04d}" for i in range(100, 130)]
    try:
        first = start_oispd(cfg, wait_ports=[grpc_port, admin_port])
        send(grpc_port, before)
        wait_for(lambda: sink.held_now() == 4, what="four exports held at the sink")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        assert sink.max_held == 4
        answered_before_kill = set(sink.delivered)
        assert len(answered_before_kill) == 10, sorted(answered_before_kill)
        sink.stop_holding()

        # The held exports fail; the restarted process finds every record
        # whose export was not answered on disk and delivers it.
        second = start_oispd(cfg, wait_ports=[grpc_port, admin_port])
        send(grpc_port, after)

        want = set(before + after)
        wait_for(lambda: want <= set(sink.delivered), timeout=60, what="every accepted record at the sink")
        counts = {i: sink.delivered.count(i) for i in want}
        assert all(c <= 2 for c in counts.values()), {i: c for i, c in counts.items() if c > 2}
        assert set(sink.delivered) == want, set(sink.delivered) - want
        assert second.stop() == 0, second.log()
    finally:
        sink.close()
