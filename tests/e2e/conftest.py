"""Shared fixtures for oispd's end-to-end tests.

Each test drives the real `oispd` binary (path in $OISPD_BIN, built by
scripts/test.sh) against real peers on loopback ports. Servers are started
by the fixtures and stopped afterwards.
"""
import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _spec_dir() -> pathlib.Path:
    d = pathlib.Path(os.environ.get("OISP_SPEC_DIR", ROOT / "spec" / "oisp-spec"))
    if not (d / "schema" / "v0.1" / "envelope.schema.json").exists():
        pytest.fail(f"OISP spec not found at {d}: set OISP_SPEC_DIR")
    return d


@pytest.fixture(scope="session")
def spec_dir() -> pathlib.Path:
    return _spec_dir()


@pytest.fixture(scope="session")
def oispd_bin() -> str:
    path = os.environ.get("OISPD_BIN") or str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/oispd-target")) / "debug" / "oispd")
    if not os.access(path, os.X_OK):
        pytest.fail(f"oispd binary not found at {path}: build it (scripts/test.sh does) or set OISPD_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


class Oispd:
    """A running oispd process with its config and logs."""

    def __init__(self, binary: str, config: str, workdir: pathlib.Path, extra_args=(), env=None, prefix=()):
        self.workdir = workdir
        self.config_path = workdir / "oispd.yaml"
        self.config_path.write_text(config)
        self.log_path = workdir / "oispd.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*prefix, binary, "--config", str(self.config_path), *extra_args],
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code

    def wait_running(self, needs: str = "") -> None:
        """Waits until oispd says it is running; fails the test with its log
        when it does not start or exits at start (`needs`: what that
        usually means, e.g. "the capture tests need root with BPF")."""
        try:
            wait_for(lambda: "oispd is running" in self.log() or self.proc.poll() is not None,
                     timeout=120, what="oispd to start")
        except TimeoutError:
            self.stop(signal.SIGKILL)
            pytest.fail(f"oispd did not start:\n{self.log()}")
        if self.proc.poll() is not None:
            why = f" ({needs})" if needs else ""
            pytest.fail(f"oispd exited at start{why}:\n{self.log()}")

    def wait(self, timeout: float = 60.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code


@pytest.fixture
def start_oispd(oispd_bin, tmp_path):
    started = []

    def start(config: str, extra_args=(), wait_ports=(), env=None):
        o = Oispd(oispd_bin, config, tmp_path, extra_args, env)
        started.append(o)
        for p in wait_ports:
            try:
                wait_port(p)
            except TimeoutError:
                o.stop()
                pytest.fail(f"oispd did not listen on {p}:\n{o.log()}")
        return o

    yield start
    for o in started:
        if o.proc.poll() is None:
            o.stop(signal.SIGKILL)


def rotel_binary() -> str:
    import rotel  # noqa: F401  (installed by scripts/setup.sh)

    base = pathlib.Path(rotel.__file__).parent
    for candidate in [base / "rotel-agent", *base.rglob("rotel-agent")]:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("rotel-agent") or shutil.which("rotel")
    if not found:
        pytest.fail("rotel agent binary not found in the rotel package")
    return found


class Rotel:
    """rotel as an OTLP sink that prints every record it receives."""

    def __init__(self, workdir: pathlib.Path, name: str = "rotel"):
        self.port = free_port()
        self.http_port = free_port()
        self.out_path = workdir / f"{name}.out"
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [rotel_binary(), "start",
             "--otlp-grpc-endpoint", f"127.0.0.1:{self.port}",
             "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
             "--exporter", "blackhole",
             "--debug-log", "logs", "--debug-log", "traces",
             "--debug-log-verbosity", "detailed"],
            stdout=self._out, stderr=subprocess.STDOUT,
        )
        wait_port(self.port)
        wait_port(self.http_port)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stop(self):
        stop_process(self.proc)
        self._out.close()


@pytest.fixture
def rotel_sink(tmp_path):
    sinks = []

    def start(name="rotel"):
        r = Rotel(tmp_path, name)
        sinks.append(r)
        return r

    yield start
    for r in sinks:
        r.stop()


# The collector peer lives in ../shared beside the checkout (DESIGN.md).
OTELCOL_PEER_CANDIDATES = [ROOT.parent / "shared" / "peers" / "otelcol" / "otelcol-peer",
                           pathlib.Path("/work/shared/peers/otelcol/otelcol-peer")]


def otelcol_peer() -> str:
    """The collector peer's binary (`OTELCOL_PEER` overrides where it is
    looked for); a missing one fails the test."""
    given = os.environ.get("OTELCOL_PEER")
    candidates = [pathlib.Path(given)] if given else OTELCOL_PEER_CANDIDATES
    binary = next((c for c in candidates if os.access(c, os.X_OK)), None)
    if binary is None:
        pytest.fail(f"the OpenTelemetry Collector peer is not at {candidates}: set OTELCOL_PEER")
    return str(binary)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminates a peer process, killing it when it has not exited within
    `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OtelCol:
    """The OpenTelemetry Collector (Go, ../shared/peers/otelcol) as an OTLP
    sink: one receiver (`grpc` or `http`) and the `debug` exporter at
    detailed verbosity, unsampled, printing every log record, span and
    metric data point it receives."""

    def __init__(self, workdir: pathlib.Path, protocol: str, name: str = "otelcol"):
        binary = otelcol_peer()
        self.port = free_port()
        self.protocol = protocol
        config = workdir / f"{name}.yaml"
        config.write_text(f"""
receivers:
  otlp:
    protocols:
      {protocol}: {{endpoint: 127.0.0.1:{self.port}}}
exporters:
  debug: {{verbosity: detailed, sampling_initial: 1000000000, sampling_thereafter: 1}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    logs: {{receivers: [otlp], exporters: [debug]}}
    traces: {{receivers: [otlp], exporters: [debug]}}
    metrics: {{receivers: [otlp], exporters: [debug]}}
""")
        self.out_path = workdir / f"{name}.out"
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen([str(binary), "--config", str(config)],
                                     stdout=self._out, stderr=subprocess.STDOUT)
        wait_port(self.port)

    @property
    def endpoint(self) -> str:
        """The endpoint as oispd's `otlp_grpc` / `otlp_http` exporter takes it."""
        return f"127.0.0.1:{self.port}" if self.protocol == "grpc" else f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def counts(self) -> tuple[int, int]:
        """(log records, spans) printed so far."""
        text = self.output()
        return text.count("\nLogRecord #"), text.count("\nSpan #")

    def stop(self):
        stop_process(self.proc)
        self._out.close()


def read_jsonl(path: pathlib.Path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def spec_examples(spec: pathlib.Path):
    return [json.loads(p.read_text()) for p in sorted((spec / "examples").glob("*.json"))]


def http_get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())
