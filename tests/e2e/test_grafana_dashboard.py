"""The Grafana dashboard (deploy/grafana/oispd.json) against what oispd
really emits: its structure is a Grafana dashboard's (panels, grid,
targets, datasource variables), and every PromQL query names only metrics
and labels present on oispd's `/metrics` after a replay of known events
through `genai_metrics`, and every Loki query only labels and structured
metadata that oispd's OTLP log records carry (Loki maps `a.b` to `a_b`).

    OISPD_BIN=$CARGO_TARGET_DIR/debug/oispd python3 -m pytest -q tests/e2e/test_grafana_dashboard.py
"""
from __future__ import annotations

import json
import pathlib
import re
import urllib.request

from conftest import ROOT, free_port, read_jsonl, wait_for
from test_genai_metrics import known_events

DASHBOARD = ROOT / "deploy" / "grafana" / "oispd.json"
PANEL_TYPES = {"row", "stat", "timeseries", "barchart", "logs", "table", "piechart", "bargauge"}
# A metric name: followed by its selector, range or (in label_values) a comma.
METRIC = re.compile(r"\b(?:gen_ai|oispd)_[a-z0-9_]+(?=\s*[{\[,])")


def metrics_in(expr: str) -> set[str]:
    """The metric names of a PromQL expression (label lists and selectors
    removed first, as their label names look like metric names)."""
    bare = re.sub(r"by \([^)]*\)", "", expr)
    bare = re.sub(r"\{[^}]*\}", "{}", bare)
    return set(METRIC.findall(bare))


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def prom_queries(d: dict) -> list[str]:
    out = [v["query"]["query"] for v in d["templating"]["list"] if v["type"] == "query"]
    for p in d["panels"]:
        for t in p.get("targets", []):
            if t["datasource"]["type"] == "prometheus":
                out.append(t["expr"])
    return out


def loki_queries(d: dict) -> list[str]:
    return [t["expr"] for p in d["panels"] for t in p.get("targets", []) if t["datasource"]["type"] == "loki"]


def test_dashboard_is_grafana_dashboard_json():
    d = dashboard()
    for key in ("title", "uid", "schemaVersion", "panels", "templating", "time"):
        assert key in d, key
    assert isinstance(d["schemaVersion"], int)
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["prometheus"]["type"] == "datasource" and variables["prometheus"]["query"] == "prometheus"
    assert variables["loki"]["type"] == "datasource" and variables["loki"]["query"] == "loki"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for p in d["panels"]:
        assert p["type"] in PANEL_TYPES, p["type"]
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in ("x", "y", "w", "h"))
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] in ("${prometheus}", "${loki}"), p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] in ("${prometheus}", "${loki}") and t["expr"].strip()
    # Every variable a query uses is defined.
    used = set(re.findall(r"\$(\w+)", json.dumps(d))) - {"__range", "__rate_interval", "__all", "__field"}
    assert used <= set(variables), used - set(variables)
    kinds = {p["type"] for p in d["panels"]}
    assert {"stat", "timeseries", "barchart", "logs"} <= kinds


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def test_every_query_names_what_oispd_emits(start_oispd, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    src = tmp_path / "events.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in known_events()))
    records = tmp_path / "records.jsonl"
    admin = free_port()
    start_oispd(f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{admin}}}
receivers:
  jsonl: {{path: {src}, follow: true}}
connectors:
  genai_metrics: {{}}
exporters:
  file: {{path: {records}, format: json, flush_interval: 0s}}
  debug: {{verbosity: basic}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl], exporters: [file, genai_metrics]}}
    metrics: {{receivers: [genai_metrics], exporters: [debug]}}
""", wait_ports=[admin])
    text = wait_for(lambda: (lambda t: t if 'ai_sentinel_severity="critical"' in t else None)(scrape(admin)),
                    what="the genai metrics on /metrics")
    labels_of: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels_of.setdefault(s.name, set()).update(s.labels)

    d = dashboard()
    for expr in prom_queries(d):
        names = metrics_in(expr)
        assert names, f"no oispd metric in {expr}"
        for n in names:
            assert n in labels_of, f"{n} (in {expr}) is not on /metrics"
        known = set().union(*(labels_of[n] for n in names))
        used = set()
        for group in re.findall(r"by \(([^)]*)\)", expr):
            used |= {x.strip() for x in group.split(",")}
        for selector in re.findall(r"\{([^}]*)\}", expr):
            used |= set(re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", selector))
        used |= set(re.findall(r"label_values\(\w+,\s*(\w+)\)", expr))
        assert used <= known, f"{expr}: labels {used - known} are not on {names}"
    # Legends and data links name labels of their panel's metrics too.
    for p in d["panels"]:
        for t in p.get("targets", []):
            if t["datasource"]["type"] != "prometheus":
                continue
            known = set().union(*(labels_of[n] for n in metrics_in(t["expr"])))
            legend = set(re.findall(r"\{\{(\w+)\}\}", t.get("legendFormat", "")))
            assert legend <= known, (p["title"], legend - known)
        for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", []):
            for label in re.findall(r"__field\.labels\.(\w+)", link["url"]):
                targets = [metrics_in(t["expr"]) for t in p["targets"]]
                assert any(label in labels_of[n] for names in targets for n in names), label

    # Loki: stream labels are resource attributes, filters are record attributes.
    resource_keys, record_keys = set(), set()
    for line in read_jsonl(records):
        for rl in line.get("resourceLogs", []):
            resource_keys |= {a["key"].replace(".", "_") for a in rl.get("resource", {}).get("attributes", [])}
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    record_keys |= {a["key"].replace(".", "_") for a in rec.get("attributes", [])}
    assert "service_name" in resource_keys
    for expr in loki_queries(d):
        stream = re.match(r"\{([^}]*)\}", expr)
        assert stream, expr
        assert set(re.findall(r"(\w+)\s*(?:=~|!=|=)", stream.group(1))) <= resource_keys, expr
        filters = set(re.findall(r"\|\s*(\w+)\s*(?:=~|!=|=)", expr))
        assert filters and filters <= record_keys, f"{expr}: {filters - record_keys}"


def test_dashboard_file_is_where_the_readme_says():
    assert DASHBOARD.relative_to(ROOT) == pathlib.Path("deploy/grafana/oispd.json")
    assert "deploy/grafana/oispd.json" in (ROOT / "README.md").read_text()
