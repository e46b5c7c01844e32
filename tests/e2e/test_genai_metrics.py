"""The `genai_metrics` connector end to end: a known OISP event file is
replayed (`jsonl` receiver) through a logs pipeline into `genai_metrics`,
whose metrics pipeline exports to the real OpenTelemetry Collector
(../shared/peers/otelcol, over OTLP/gRPC and OTLP/HTTP); the collector's
debug output must show the exact histogram counts and sums and the counter
values, under the OTel GenAI semantic-convention names and attributes. The
same metrics on the admin `/metrics` must parse with `prometheus_client`'s
parser and carry the same numbers.

    OISPD_BIN=$CARGO_TARGET_DIR/debug/oispd python3 -m pytest -q tests/e2e/test_genai_metrics.py
"""
from __future__ import annotations

import json
import re
import urllib.request
from collections import defaultdict

import pytest

from conftest import OtelCol, free_port, wait_for

# (process, provider, model, input tokens, output tokens, latency ms,
#  time to first token ms or None, total cost USD or None, HTTP status)
CALLS = [
    ("claude", "anthropic", "claude-sonnet-4-5", 100, 20, 1500, None, 0.0006, 200),
    ("claude", "anthropic", "claude-sonnet-4-5", 3000, 500, 12000, 300, 0.0165, 200),
    ("claude", "anthropic", "claude-sonnet-4-5", 10, 0, 50, None, None, 429),
    ("python3", "openai", "gpt-4o", 13, 7, 250, None, 0.0000025, 200),
    ("python3", "openai", "gpt-4o", 2048, 9, 900, 120, 0.00042, 200),
]
FINDINGS = [("SEC-01", "high"), ("SEC-01", "high"), ("SEC-03", "critical")]


def envelope(i: int, event_type: str, process: dict | None, data: dict) -> dict:
    e = {
        "oisp_version": "0.1",
        "event_id": f"01JFWK8X5S6T7U8V9W0X1Y2Z{i:02d}",
        "event_type": event_type,
        "ts": "2025-12-22T14:30:18.567890Z",
        "host": {"hostname": "replay-host"},
        "source": {"collector": "oispd", "capture_method": "tls_boundary"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": data,
    }
    if process:
        e["process"] = process
    return e


def known_events() -> list[dict]:
    events = []
    for i, (proc, provider, model, inp, out, latency, ttft, cost, status) in enumerate(CALLS):
        events.append(envelope(2 * i, "ai.request", {"pid": 100 + i, "name": proc}, {
            "request_id": f"req_{i}", "provider": {"name": provider}, "model": {"id": model},
            "request_type": "chat", "streaming": ttft is not None,
            "messages": [{"role": "user", "content": "secret prompt text"}]}))
        data = {"request_id": f"req_{i}", "provider": {"name": provider}, "model": {"id": model},
                "status_code": status, "success": status < 400, "latency_ms": latency,
                "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}}
        if ttft is not None:
            data["time_to_first_token_ms"] = ttft
        if cost is not None:
            data["usage"]["total_cost_usd"] = cost
        if status >= 400:
            data["error"] = {"type": "rate_limit", "message": "slow down"}
        events.append(envelope(2 * i + 1, "ai.response", {"pid": 100 + i, "name": proc}, data))
    for j, (detector, severity) in enumerate(FINDINGS):
        events.append(envelope(50 + j, "security.finding", None, {
            "finding_id": f"find-{j}", "detector_id": detector, "severity": severity,
            "summary": "a finding"}))
    return events


def expected():
    """What the metrics must say, computed from CALLS and FINDINGS:
    {(metric, attribute items): (count, sum)} for histograms and
    {(metric, attribute items): value} for counters."""
    hist = defaultdict(lambda: [0, 0.0])
    counters = defaultdict(float)
    for proc, provider, model, inp, out, latency, ttft, cost, status in CALLS:
        base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                "gen_ai.response.model": model, "process.executable.name": proc}
        for kind, n in (("input", inp), ("output", out)):
            key = ("gen_ai.client.token.usage", frozenset({**base, "gen_ai.token.type": kind}.items()))
            hist[key][0] += 1
            hist[key][1] += n
        call = dict(base)
        if status >= 400:
            call["error.type"] = "rate_limit"
        key = ("gen_ai.client.operation.duration", frozenset(call.items()))
        hist[key][0] += 1
        hist[key][1] += latency / 1000
        if ttft is not None:
            key = ("gen_ai.client.operation.time_to_first_chunk", frozenset(base.items()))
            hist[key][0] += 1
            hist[key][1] += ttft / 1000
        counters[("oispd.ai.calls", frozenset(call.items()))] += 1
        if cost is not None:
            cost_attrs = {k: v for k, v in base.items() if k != "gen_ai.operation.name"}
            counters[("oispd.ai.cost", frozenset(cost_attrs.items()))] += cost
    for detector, severity in FINDINGS:
        counters[("oispd.security.findings",
                  frozenset({"ai.sentinel.detector.id": detector, "ai.sentinel.severity": severity}.items()))] += 1
    return {k: (c, s) for k, (c, s) in hist.items()}, dict(counters)


def parse_debug_metrics(text: str):
    """The collector debug exporter's detailed output as
    ({(metric, attribute items): (count, sum)}, {(metric, attribute items): value},
     {metric: (unit, data type)}); the last point of a series wins (cumulative)."""
    hist, counters, descriptors = {}, {}, {}
    name = unit = dtype = None
    point = None

    def close():
        if point is None:
            return
        key = (name, frozenset(point["attrs"].items()))
        if "count" in point:
            hist[key] = (point["count"], point["sum"])
        elif "value" in point:
            counters[key] = point["value"]

    in_attrs = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Metric #"):
            close()
            point, name, unit, dtype = None, None, None, None
        elif s.startswith("-> Name: ") and point is None:
            name = s[len("-> Name: "):]
        elif s.startswith("-> Unit: ") and point is None:
            unit = s[len("-> Unit: "):]
        elif s.startswith("-> DataType: ") and point is None:
            dtype = s[len("-> DataType: "):]
            descriptors[name] = (unit, dtype)
        elif re.match(r"(Histogram|Number)DataPoints #\d+", s):
            close()
            point, in_attrs = {"attrs": {}}, False
        elif point is not None and s == "Data point attributes:":
            in_attrs = True
        elif point is not None and in_attrs and s.startswith("-> "):
            m = re.match(r"-> ([^:]+): \w+\((.*)\)$", s)
            if m:
                point["attrs"][m.group(1)] = m.group(2)
        elif point is not None and s.startswith("Count: "):
            in_attrs = False
            point["count"] = int(s[len("Count: "):])
        elif point is not None and s.startswith("Sum: "):
            point["sum"] = float(s[len("Sum: "):])
        elif point is not None and s.startswith("Value: "):
            in_attrs = False
            point["value"] = float(s[len("Value: "):])
        elif point is not None and s.startswith(("StartTimestamp", "Timestamp")):
            in_attrs = False
        elif s.startswith(("ResourceMetrics #", "ScopeMetrics #")):
            close()
            point = None
    close()
    return hist, counters, descriptors


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_replay_through_genai_metrics_to_the_collector(start_oispd, tmp_path, protocol):
    collector = OtelCol(tmp_path, protocol, f"otelcol-{protocol}")
    try:
        src = tmp_path / "events.jsonl"
        src.write_text("".join(json.dumps(e) + "\n" for e in known_events()))
        exporter = (f"otlp_grpc: {{endpoint: {collector.endpoint}, tls: {{insecure: true}}}}"
                    if protocol == "grpc" else f"otlp_http: {{endpoint: {collector.endpoint}}}")
        config = f"""
receivers:
  jsonl: {{path: {src}, follow: false}}
connectors:
  genai_metrics: {{metrics_flush_interval: 1h}}
exporters:
  {exporter}
service:
  pipelines:
    logs: {{receivers: [jsonl], exporters: [genai_metrics]}}
    metrics: {{receivers: [genai_metrics], exporters: [otlp_{protocol}]}}
"""
        o = start_oispd(config)
        # Every receiver is finite: oispd drains, sends the final metrics and exits.
        assert o.wait(timeout=60) == 0, o.log()
        want_hist, want_counters = expected()
        got = wait_for(lambda: (lambda p: p if len(p[0]) >= len(want_hist) else None)(
            parse_debug_metrics(collector.output())), what="the metrics at the collector")
        hist, counters, descriptors = got
        assert set(hist) == set(want_hist)
        for key, (count, total) in want_hist.items():
            assert hist[key][0] == count, key
            # The debug exporter prints sums with six decimals.
            assert hist[key][1] == pytest.approx(total, abs=5e-7), key
        assert set(counters) == set(want_counters)
        for key, value in want_counters.items():
            assert counters[key] == pytest.approx(value, abs=5e-7), key
        assert descriptors == {
            "gen_ai.client.token.usage": ("{token}", "Histogram"),
            "gen_ai.client.operation.duration": ("s", "Histogram"),
            "gen_ai.client.operation.time_to_first_chunk": ("s", "Histogram"),
            "oispd.ai.calls": ("{call}", "Sum"),
            "oispd.ai.cost": ("USD", "Sum"),
            "oispd.security.findings": ("{finding}", "Sum"),
        }
        out = collector.output()
        for leaked in ("secret prompt text", "req_0", "01JFWK8X5S6T7U8V9W0X1Y2Z"):
            assert leaked not in out, f"{leaked} reached the metrics"
    finally:
        collector.stop()


def test_prometheus_text_on_admin_metrics_parses(start_oispd, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    src = tmp_path / "events.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in known_events()))
    admin = free_port()
    config = f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{admin}}}
receivers:
  jsonl: {{path: {src}, follow: true}}
connectors:
  genai_metrics: {{}}
exporters:
  debug: {{verbosity: basic}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl], exporters: [genai_metrics]}}
    metrics: {{receivers: [genai_metrics], exporters: [debug]}}
"""
    start_oispd(config, wait_ports=[admin])

    def scrape():
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as r:
            return r.read().decode()

    text = wait_for(lambda: (lambda t: t if 'ai_sentinel_severity="critical"' in t else None)(scrape()),
                    what="the genai metrics on /metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    want_hist, want_counters = expected()

    def prom_labels(attrs):
        return {k.replace(".", "_"): v for k, v in attrs}

    def matches(sample_labels, attrs):
        labels = {k: v for k, v in sample_labels.items() if v != "" and k != "le"}
        return labels == prom_labels(attrs)

    names = {"gen_ai.client.token.usage": "gen_ai_client_token_usage",
             "gen_ai.client.operation.duration": "gen_ai_client_operation_duration_seconds",
             "gen_ai.client.operation.time_to_first_chunk": "gen_ai_client_operation_time_to_first_chunk_seconds",
             "oispd.ai.calls": "oispd_ai_calls", "oispd.ai.cost": "oispd_ai_cost_usd",
             "oispd.security.findings": "oispd_security_findings"}
    for (metric, attrs), (count, total) in want_hist.items():
        family = families[names[metric]]
        assert family.type == "histogram"
        samples = [s for s in family.samples if matches(s.labels, attrs)]
        got_count = [s.value for s in samples if s.name.endswith("_count")]
        got_sum = [s.value for s in samples if s.name.endswith("_sum")]
        assert got_count == [count], (metric, attrs)
        assert got_sum[0] == pytest.approx(total, rel=1e-12), (metric, attrs)
        inf = [s.value for s in samples if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"]
        assert inf == [count]
    for (metric, attrs), value in want_counters.items():
        family = families[names[metric]]
        assert family.type == "counter"
        samples = [s for s in family.samples if s.name.endswith("_total") and matches(s.labels, attrs)]
        assert len(samples) == 1, (metric, attrs)
        assert samples[0].value == pytest.approx(value, rel=1e-12)
    assert "secret prompt text" not in text and "req_0" not in text
    # The collector's own telemetry is still there beside them.
    assert "otelcol_exporter_sent_metric_points" in text
