"""oispd examining rustls binaries for aws-lc's AEAD entry points, end to
end, as root: the rustls test clients (scripts/build-test-clients.sh) run
while oispd captures; oispd probes aws-lc's EVP_AEAD_CTX_seal, _open and
_seal_scatter in the stripped client at the places it logs, and reports a
rustls binary without aws-lc plainly as rustls (unhooked). The expected
places come from the unstripped client's symbol table read by binutils
(`nm`, `readelf`), not from oispd.

Each client connects to a local socket that never answers, so it stays
alive (blocked in its TLS handshake) while oispd examines it; nothing
leaves 127.0.0.1.

    OISPD_BIN=$CARGO_TARGET_DIR/debug/oispd OISP_SPEC_DIR=$PWD/spec/oisp-spec \\
        python3 -m pytest -q tests/e2e/test_aws_lc_finder.py
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import urllib.request

import pytest

from conftest import Oispd, free_port, wait_for
from fake_provider import make_certs

WARNING = "binary does TLS that oispd cannot capture"
PROBING = "probing aws-lc's AEAD functions"
AEAD_FUNCTIONS = ("EVP_AEAD_CTX_seal", "EVP_AEAD_CTX_open", "EVP_AEAD_CTX_seal_scatter")


def rustls_test_client(provider: str) -> pathlib.Path:
    """The rustls test client with `provider`'s crypto; a missing one fails."""
    path = pathlib.Path(os.environ.get("OISPD_TEST_CLIENTS", "/var/tmp/oispd-test-clients")) / f"rustls-client-{provider}"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the rustls test clients with scripts/build-test-clients.sh")
    return path


class Examining:
    """The module's oispd and its admin port."""

    def __init__(self, oispd: Oispd, admin_port: int):
        self.oispd = oispd
        self.admin_port = admin_port

    def health(self) -> dict:
        url = f"http://127.0.0.1:{self.admin_port}/api/health"
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read().decode())["receivers"]["ebpf"]

    def line_about(self, exe: pathlib.Path, marker: str) -> str:
        """Waits for the one log line holding `marker` about `exe`."""
        def reported():
            return [l for l in self.oispd.log().splitlines() if marker in l and f"path={exe} " in l] or None

        try:
            lines = wait_for(reported, timeout=60, what=f"'{marker}' about {exe.name}")
        except TimeoutError:
            pytest.fail(f"no '{marker}' about {exe}; oispd log:\n{self.oispd.log()[-4000:]}")
        assert len(lines) == 1, lines
        return lines[0]


@pytest.fixture(scope="module")
def examining(oispd_bin, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("oispd's eBPF receiver needs root")
    workdir = tmp_path_factory.mktemp("aws-lc-finder")
    admin_port = free_port()
    config = f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
receivers:
  ebpf: {{}}
exporters:
  file:
    path: {workdir / "events.jsonl"}
    format: oisp_jsonl
service:
  extensions: [admin]
  pipelines:
    logs:
      receivers: [ebpf]
      exporters: [file]
"""
    oispd = Oispd(oispd_bin, config, workdir)
    oispd.wait_running("needs root with BPF")
    yield Examining(oispd, admin_port)
    assert oispd.stop() == 0, oispd.log()


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> pathlib.Path:
    return make_certs(tmp_path_factory.mktemp("ca"))[0]


def run_blocked(exe: pathlib.Path, ca: pathlib.Path, examining: Examining, marker: str) -> str:
    """Runs the client `exe` against a socket that accepts nothing (the
    client blocks in its handshake), waits for oispd's log line holding
    `marker` about it, stops the client; returns the line."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        proc = subprocess.Popen([str(exe), f"https://api.openai.com:{port}", str(ca), "h1", "plain"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            line = examining.line_about(exe, marker)
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        finally:
            proc.kill()
            proc.wait()
    return line


def nm_vaddrs(path: pathlib.Path) -> dict[str, int]:
    """Virtual addresses of the AEAD functions by `nm` (aws-lc-sys prefix dropped)."""
    out = subprocess.run(["nm", "--defined-only", str(path)], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        for name in AEAD_FUNCTIONS:
            if fields[2] == name or fields[2].endswith("_" + name):
                found[name] = int(fields[0], 16)
    return found


def file_offset(path: pathlib.Path, vaddr: int) -> int:
    """`vaddr`'s file offset by `readelf`'s executable LOAD segments."""
    out = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD" and "E" in "".join(f[6:-1]):
            offset, start, size = int(f[1], 16), int(f[2], 16), int(f[4], 16)
            if start <= vaddr < start + size:
                return vaddr - start + offset
    raise AssertionError(f"{vaddr:#x} is in no executable segment of {path}")


def test_stripped_aws_lc_client_is_probed_at_its_aead_entry_points(examining, ca, tmp_path):
    """The aws-lc test client stripped of every symbol (as Codex ships):
    oispd probes it once, by structure, with aws-lc's EVP_AEAD_CTX_seal,
    _open and _seal_scatter at the file offsets the unstripped client's
    symbols give; /api/health lists it as probed, not unhooked."""
    client = rustls_test_client("aws-lc")
    exe = tmp_path / "rustls-awslc-stripped"
    subprocess.run(["objcopy", "--strip-all", str(client), str(exe)], check=True)
    vaddrs = nm_vaddrs(client)
    assert sorted(vaddrs) == sorted(AEAD_FUNCTIONS), vaddrs
    line = run_blocked(exe, ca, examining, PROBING)
    assert "method=aws_lc_aead_structure" in line, line
    for field, name in (("seal", "EVP_AEAD_CTX_seal"), ("open", "EVP_AEAD_CTX_open"),
                        ("seal_scatter", "EVP_AEAD_CTX_seal_scatter")):
        place = f" {field}={file_offset(exe, vaddrs[name]):#x} "
        assert place in line, (place, line)

    entry = {"path": str(exe), "method": "aws_lc_aead_structure"}

    def listed():
        health = examining.health()
        return (health,) if entry in health["probed_binaries"] or health["probed_binaries_more"] > 0 else None

    try:
        (health,) = wait_for(listed, timeout=60, what=f"{exe.name} in /api/health")
    except TimeoutError:
        pytest.fail(f"{exe} not listed as probed in /api/health: {examining.health()}")
    assert all(u["path"] != str(exe) for u in health["unhooked_tls_binaries"]), health


def test_ring_client_is_reported_without_aws_lc(examining, ca, tmp_path):
    """The ring test client (rustls without aws-lc, so without aws-lc's
    aead.c file name): reported once as rustls with the plain reason; the
    aws-lc finder is not run on it."""
    exe = tmp_path / "rustls-ring"
    shutil.copy2(rustls_test_client("ring"), exe)
    line = run_blocked(exe, ca, examining, WARNING)
    assert 'tls_library="rustls"' in line, line
    assert line.endswith("reason=rustls is compiled into the binary and exports no SSL_write/SSL_read to probe"), line
