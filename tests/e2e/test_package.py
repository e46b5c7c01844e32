"""The Debian package, end to end: `scripts/build-deb.sh` builds it (from
the binary under test, so CI needs no release build); `dpkg -i` puts every
file in place, marks /etc/oispd/config.yaml as a conffile and creates the
`oispd` system user; `oispd validate` accepts the installed config;
`systemd-analyze verify` accepts the unit, whose capabilities are exactly
the documented set; the installed config runs as the `oispd` user with the
unit's ambient capabilities, state and logs directories; `dpkg --purge`
takes it all away again.

Needs root, dpkg and systemd-analyze (scripts/setup.sh installs systemd);
fails rather than touch an oispd package already installed:

    OISPD_BIN=/var/tmp/oispd-target/debug/oispd python3 -m pytest -q tests/e2e/test_package.py
"""
from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import signal
import subprocess

import pytest

from conftest import wait_for
from test_least_privilege import EBPF_CAPABILITIES

REPO = pathlib.Path(__file__).resolve().parents[2]
UNIT = pathlib.Path("/lib/systemd/system/oispd.service")
FILES = [pathlib.Path(p) for p in (
    "/usr/bin/oispd", "/etc/oispd/config.yaml", str(UNIT), "/usr/share/doc/oispd/copyright",
    "/usr/share/doc/oispd/README.md", "/usr/share/doc/oispd/security.md")]


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def unit_values(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]


@pytest.fixture(scope="module")
def installed(oispd_bin, tmp_path_factory):
    if run("dpkg", "-s", "oispd").returncode == 0:
        pytest.fail("an oispd package is already installed here; remove it before this test")
    out = tmp_path_factory.mktemp("deb")
    built = run("bash", str(REPO / "scripts/build-deb.sh"), "--binary", oispd_bin, "--out", str(out))
    assert built.returncode == 0, built.stderr
    deb = pathlib.Path(built.stdout.strip().splitlines()[-1])
    assert deb.is_file() and deb.name.endswith("_amd64.deb") or deb.name.endswith(".deb"), built.stdout
    install = run("dpkg", "-i", str(deb))
    try:
        assert install.returncode == 0, install.stdout + install.stderr
        yield deb
    finally:
        purge = run("dpkg", "--purge", "oispd")
        assert purge.returncode == 0, purge.stdout + purge.stderr
        for f in FILES:
            assert not f.exists(), f"{f} is left after purge"
        assert not pathlib.Path("/var/lib/oispd").exists()


def test_install_puts_every_file_in_place_with_a_conffile_and_a_user(installed):
    for f in FILES:
        assert f.is_file(), f
    assert os.access("/usr/bin/oispd", os.X_OK)
    assert (REPO / "config/otel-style.yaml").read_text() == pathlib.Path("/etc/oispd/config.yaml").read_text()
    conffiles = run("dpkg-query", "--showformat=${Conffiles}", "--show", "oispd").stdout
    assert "/etc/oispd/config.yaml" in conffiles, conffiles
    user = pwd.getpwnam("oispd")
    assert user.pw_uid < 1000 and user.pw_shell == "/usr/sbin/nologin", user
    version = run("/usr/bin/oispd", "--version")
    assert version.returncode == 0 and version.stdout.startswith("oispd "), version


def test_installed_config_validates(installed):
    r = run("/usr/bin/oispd", "validate", "--config", "/etc/oispd/config.yaml")
    assert r.returncode == 0, r.stderr


def test_systemd_accepts_the_unit_and_it_holds_exactly_the_documented_capabilities(installed):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: scripts/setup.sh installs systemd")
    r = run("systemd-analyze", "verify", str(UNIT))
    assert r.returncode == 0, r.stderr
    assert "oispd.service" not in r.stderr, r.stderr
    documented = {f"CAP_{c.upper()}" for c in EBPF_CAPABILITIES}
    assert set(unit_values("AmbientCapabilities")[0].split()) == documented
    assert set(unit_values("CapabilityBoundingSet")[0].split()) == documented
    assert unit_values("NoNewPrivileges") == ["yes"] and unit_values("ProtectSystem") == ["strict"]
    assert unit_values("User") == ["oispd"]
    assert unit_values("ExecStartPre") == ["/usr/bin/oispd validate --config /etc/oispd/config.yaml"]


def test_installed_config_runs_as_the_oispd_user_with_the_units_capabilities(installed, tmp_path):
    """What the unit starts, without systemd: the oispd user, the unit's
    ambient capabilities, its state and logs directories; every endpoint
    of the reference config pointed at a closed loopback port."""
    for d in ("/var/lib/oispd", "/var/log/oispd"):
        os.makedirs(d, exist_ok=True)
        shutil.chown(d, "oispd", "oispd")
    caps = ",".join(f"+{c}" for c in EBPF_CAPABILITIES)
    env = {"PATH": "/usr/bin:/bin", "STATE_DIRECTORY": "/var/lib/oispd", "OISPD_SIEM_ENDPOINT": "127.0.0.1:9",
           "OISPD_LOKI_ENDPOINT": "http://127.0.0.1:9/otlp", "OISPD_ADMIN_ENDPOINT": "127.0.0.1:0"}
    log = tmp_path / "oispd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["setpriv", "--reuid=oispd", "--regid=oispd", "--init-groups", f"--inh-caps={caps}",
             f"--ambient-caps={caps}", "/usr/bin/oispd", "--config", "/etc/oispd/config.yaml"],
            cwd="/var/lib/oispd", env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "oispd is running" in log.read_text() or proc.poll() is not None, timeout=120,
                     what="the installed oispd")
            assert proc.poll() is None, log.read_text()
            assert pathlib.Path("/var/lib/oispd/audit.db").exists() or any(
                p.name.startswith("audit") for p in pathlib.Path("/var/lib/oispd").iterdir()), log.read_text()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
    assert code == 0, log.read_text()
