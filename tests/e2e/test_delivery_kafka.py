"""End-to-end tests of the kafka exporter (issue #5) against a real
Kafka-API broker (tansu) read back by an independent consumer (kafka-python).

Scenario coverage:
- a replay of several agents' OISP events goes to a 3-partition topic with
  snappy compression and `required_acks: all`; every event arrives once, is
  valid OISP JSON, is keyed host/pid, and each key's events are in order in
  one partition;
- an exporter written without `encoding` (as a collector config is) writes
  `otlp_proto`, the collector's default: messages decode as OTLP export
  requests holding every record;
- an event above `max_message_bytes` is dropped, counted in /metrics and
  logged with its event id, and the others still arrive;
- the broker starts only after oispd: export fails, is retried, and every
  event arrives once the broker is up.

SASL is not tested: see kafka_support.py for what tansu 0.6.0 lacks.
"""
import json
import time
import urllib.request

from conftest import free_port, spec_examples, wait_for
from delivery_support import agent_events, agent_key, oisp_validator, time_order, write_jsonl
from kafka_support import consume, tansu_broker  # noqa: F401  (fixture)


def kafka_config(src, bootstrap, topic, extra_exporter="", extra_top="", follow=False,
                 encoding="oisp_json"):
    """A replay into `topic`; `encoding=None` leaves the key out (the
    collector's default, otlp_proto)."""
    logs = f"{{topic: {topic}, encoding: {encoding}}}" if encoding else f"{{topic: {topic}}}"
    return f"""
receivers:
  jsonl: {{path: {src}, follow: {str(follow).lower()}}}
exporters:
  kafka:
    brokers: {bootstrap}
    logs: {logs}
    producer: {{compression: snappy, required_acks: all}}
    retry_on_failure: {{initial_interval: 200ms, max_interval: 1s}}
{extra_exporter}
{extra_top}
service:
  pipelines:
    logs: {{receivers: [jsonl], exporters: [kafka]}}
"""


def test_oisp_json_snappy_acks_all_every_event_in_order_per_key(start_oispd, tansu_broker, tmp_path, spec_dir):
    broker = tansu_broker()
    broker.create_topic("oisp.events", partitions=3)
    events = agent_events(spec_dir, 600) + spec_examples(spec_dir)
    src = tmp_path / "replay.jsonl"
    write_jsonl(src, events)
    o = start_oispd(kafka_config(src, broker.bootstrap, "oisp.events"))
    # A finite replay: oispd exits 0 once everything is delivered.
    assert o.wait(timeout=120) == 0, o.log()

    records = consume(broker.bootstrap, "oisp.events", len(events))
    assert len(records) == len(events), f"{len(records)} of {len(events)} arrived"
    validator = oisp_validator(spec_dir)
    by_id = {e["event_id"]: e for e in events}
    partitions_of_key = {}
    ids_of_key = {}
    for r in records:
        event = json.loads(r.value)
        # Valid OISP JSON, identical to what was replayed.
        errors = [e.message for e in validator.iter_errors(event)]
        assert not errors, (event["event_type"], errors)
        assert event == by_id[event["event_id"]]
        key = r.key.decode()
        assert key == agent_key(event)
        partitions_of_key.setdefault(key, set()).add(r.partition)
        ids_of_key.setdefault(key, []).append(event["event_id"])
    assert sorted(ids for k in ids_of_key for ids in ids_of_key[k]) == sorted(by_id)
    # Each agent's events sit in one partition, in the order they happened
    # (the spec examples share one agent but not one time line).
    for key, parts in partitions_of_key.items():
        assert len(parts) == 1, (key, parts)
        happened = [e["event_id"] for e in time_order(events) if agent_key(e) == key]
        assert ids_of_key[key] == happened, key
    assert len({p for parts in partitions_of_key.values() for p in parts}) >= 2


def test_default_encoding_is_otlp_proto_export_requests(start_oispd, tansu_broker, tmp_path, spec_dir):
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    broker = tansu_broker()
    broker.create_topic("otlp.logs", partitions=1)
    events = agent_events(spec_dir, 60)
    src = tmp_path / "replay.jsonl"
    write_jsonl(src, events)
    config = kafka_config(src, broker.bootstrap, "otlp.logs", encoding=None)
    assert "encoding:" not in config
    o = start_oispd(config)
    assert o.wait(timeout=120) == 0, o.log()

    def event_ids(records):
        ids = []
        for r in records:
            req = ExportLogsServiceRequest.FromString(r.value)
            for rl in req.resource_logs:
                attrs = {a.key: a.value for a in rl.resource.attributes}
                key = f"{attrs['host.name'].string_value}/{attrs['process.pid'].int_value}"
                assert r.key.decode() == key
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        body = {kv.key: kv.value for kv in lr.body.kvlist_value.values}
                        ids.append(body["event_id"].string_value)
        return ids

    records = consume(broker.bootstrap, "otlp.logs", done=lambda recs: len(event_ids(recs)) >= len(events))
    assert sorted(event_ids(records)) == sorted(e["event_id"] for e in events)


def test_oversized_event_is_dropped_counted_and_logged(start_oispd, tansu_broker, tmp_path, spec_dir):
    broker = tansu_broker()
    broker.create_topic("oisp.events", partitions=1)
    events = agent_events(spec_dir, 20)
    big = events[7]
    big["data"]["padding"] = "x" * 20000
    src = tmp_path / "replay.jsonl"
    write_jsonl(src, events)
    admin = free_port()
    config = kafka_config(
        src, broker.bootstrap, "oisp.events", follow=True,
        extra_exporter="    timeout: 2s",
        extra_top=f"extensions: {{admin: {{endpoint: 127.0.0.1:{admin}}}}}",
    ).replace("producer: {compression: snappy, required_acks: all}",
              "producer: {compression: snappy, required_acks: all, max_message_bytes: 8000}")
    config = config.replace("service:\n", "service:\n  extensions: [admin]\n")
    o = start_oispd(config, wait_ports=[admin])
    records = consume(broker.bootstrap, "oisp.events", len(events) - 1)
    got = sorted(json.loads(r.value)["event_id"] for r in records)
    assert got == sorted(e["event_id"] for e in events if e is not big)

    def oversized_count():
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("oispd_exporter_kafka_oversized_messages{"):
                    return float(line.rsplit(" ", 1)[1])
        return 0

    assert wait_for(lambda: oversized_count() == 1, what="oversized counter at 1")
    assert o.stop() == 0
    log = o.log()
    assert big["event_id"] in log and "too large" in log, log
    # Dropped for good: never retried, so it is counted exactly once.
    assert log.count(big["event_id"]) == 1, log


def test_broker_down_then_up_every_event_arrives(start_oispd, tansu_broker, tmp_path, spec_dir):
    broker = tansu_broker(start=False)
    events = agent_events(spec_dir, 50)
    src = tmp_path / "replay.jsonl"
    write_jsonl(src, events)
    o = start_oispd(kafka_config(src, broker.bootstrap, "late.events",
                                 extra_exporter="    timeout: 1s"))
    # oispd is exporting into the void: the first attempts fail and are retried.
    wait_for(lambda: "will retry" in o.log() or o.proc.poll() is not None, timeout=30,
             what="a failed attempt")
    assert o.proc.poll() is None, o.log()
    broker.start()  # tansu creates the topic on the first produce
    assert o.wait(timeout=120) == 0, o.log()
    records = consume(broker.bootstrap, "late.events", len(events))
    ids = [json.loads(r.value)["event_id"] for r in records]
    # At least once: every event is there (a retried batch may repeat some).
    assert set(ids) == {e["event_id"] for e in events}
