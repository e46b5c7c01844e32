"""Helpers shared by the delivery exporter tests (kafka, webhook, websocket,
web page): OISP events with valid, increasing ULIDs spread over several
agents (host + pid), the OISP JSON Schema validator, and config snippets.
"""
import copy
import datetime
import http.server
import json
import pathlib
import threading

from conftest import spec_examples

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 2025-12-22T14:30:00Z in milliseconds: the spec examples' day.
BASE_MS = 1766413800000


def ulid(ms: int, rand: int) -> str:
    """A ULID (26 Crockford base32 characters) from a time and 80 random bits."""
    n = (ms << 80) | (rand & ((1 << 80) - 1))
    return "".join(CROCKFORD[(n >> (5 * (25 - i))) & 31] for i in range(26))


def rfc3339(ms: int) -> str:
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def agent_events(spec_dir: pathlib.Path, n: int, hosts=("host-a", "host-b"), pids=(101, 202, 303)):
    """`n` ai.request / ai.response events (copies of the spec examples) with
    increasing event ids and times, round-robin over every (host, pid) agent."""
    examples = spec_examples(spec_dir)
    bases = [next(e for e in examples if e["event_type"] == t) for t in ("ai.request", "ai.response")]
    agents = [(h, p) for h in hosts for p in pids]
    out = []
    for i in range(n):
        e = copy.deepcopy(bases[i % 2])
        host, pid = agents[i % len(agents)]
        e["event_id"] = ulid(BASE_MS + i, i)
        e["ts"] = rfc3339(BASE_MS + i)
        e.pop("ts_mono", None)
        e["host"]["hostname"] = host
        e["process"]["pid"] = pid
        out.append(e)
    return out


def agent_key(event) -> str:
    """The Kafka key oispd gives an event: host.name/process.pid."""
    return f"{event['host']['hostname']}/{event['process']['pid']}"


def time_order(events):
    """Events sorted by time, ties in their given order."""
    def when(e):
        return datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))

    return [e for _, _, e in sorted(((when(e), i, e) for i, e in enumerate(events)), key=lambda t: t[:2])]


def write_jsonl(path: pathlib.Path, events) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def append_jsonl(path: pathlib.Path, events) -> None:
    with open(path, "a") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
        f.flush()


def oisp_validator(spec_dir: pathlib.Path):
    """A JSON Schema validator of the OISP v0.1 envelope."""
    import jsonschema
    from referencing import Registry, Resource

    base = spec_dir / "schema" / "v0.1"
    registry = Registry()
    envelope = None
    for path in base.rglob("*.schema.json"):
        doc = json.loads(path.read_text())
        registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))
        if path.name == "envelope.schema.json":
            envelope = doc
    return jsonschema.Draft202012Validator(envelope, registry=registry)


def answer_otlp_accepted(handler) -> None:
    """Answers an OTLP/HTTP request with an empty ExportLogsServiceResponse:
    everything accepted."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-protobuf")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def serve_http(handler_class):
    """Serves `handler_class` on a loopback port in a daemon thread; returns
    the server (its `server_address[1]` is the port)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
