"""A local TLS server that answers like the OpenAI and Anthropic APIs, for the
eBPF capture tests (tests/e2e/test_capture.py), and the fixtures around it.

- A test CA and a server certificate for api.openai.com and
  api.anthropic.com are made at test time with the `openssl` command.
- The providers' real host names point at 127.0.0.1 through lines added to
  /etc/hosts for the duration of the tests (marked, and removed afterwards
  whatever happens); the server listens on 127.0.0.1:443, so clients use
  their default base URLs.
- One server speaks HTTP/2 (with the `h2` package) to clients whose ALPN
  asks for it (curl) and HTTP/1.1 with keep-alive to the others (the
  Python SDKs, node's fetch).
- Endpoints: OpenAI `/v1/chat/completions` (plain, streaming with
  `stream_options.include_usage`, tool calls), `/v1/embeddings` (float and
  base64), `/v1/responses`, and the Responses API's WebSocket mode on
  `GET /v1/responses` (fake_responses_ws.py); Anthropic `/v1/messages`
  (plain, streaming, tool use). The model in each answer is the model asked for; token usage
  comes from the constants below, so tests know the exact counts. A request
  that asks for prompt caching (OpenAI `prompt_cache_key`, Anthropic
  `cache_control` on a block) is answered with cached tokens. A tool
  call's arguments are `FakeProvider.tool_arguments` (a test may set them:
  the model's output is attacker-written).
- Every request is recorded (path, headers, JSON body) for the tests.

Run as a program, it serves on 127.0.0.1 until killed (for a test that
runs it inside another network namespace, where the test's own threads
cannot listen), prints `listening PORT` once bound and appends each
request to a JSON-lines journal:

    python3 fake_provider.py CERT KEY PORT JOURNAL   # PORT 0: any free port
"""
from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import pathlib
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest

HOSTS = ("api.openai.com", "api.anthropic.com")
HOSTS_MARK = "# oispd-e2e-capture"

# Token usage the fake provider reports, by (API, mode).
OPENAI_PLAIN = {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20}
OPENAI_STREAM = {"prompt_tokens": 17, "completion_tokens": 5, "total_tokens": 22}
OPENAI_TOOLS = {"prompt_tokens": 31, "completion_tokens": 12, "total_tokens": 43}
OPENAI_EMBEDDINGS = {"prompt_tokens": 8, "total_tokens": 8}
ANTHROPIC_PLAIN = {"input_tokens": 21, "output_tokens": 9}
ANTHROPIC_STREAM = {"input_tokens": 25, "output_tokens": 11}
ANTHROPIC_TOOLS = {"input_tokens": 40, "output_tokens": 15}
# Plain answers to requests that ask for prompt caching.
OPENAI_CACHED = {"prompt_tokens": 2048, "completion_tokens": 7, "total_tokens": 2055,
                 "prompt_tokens_details": {"cached_tokens": 1536}}
ANTHROPIC_CACHED = {"input_tokens": 21, "output_tokens": 9,
                    "cache_read_input_tokens": 1800, "cache_creation_input_tokens": 400}

TOOL_CALL_ID = "call_weather_0001"
TOOL_USE_ID = "toolu_weather_0001"
# The arguments of the tool call the fake model answers with, unless a test
# sets `FakeProvider.tool_arguments` (the model's output is attacker-written).
DEFAULT_TOOL_ARGUMENTS = {"city": "Paris"}
REPLY_PARTS = ["Hel", "lo ", "from ", "the ", "fake"]
# Pause between streamed events, so that a stream really is a sequence of reads.
STREAM_PAUSE = 0.02


def make_certs(workdir: pathlib.Path, hosts=HOSTS,
               ca_name="oispd e2e test CA") -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """(ca.pem, server.pem, server.key): a test CA named `ca_name` and a
    server certificate for `hosts` (by default the providers' host names)
    signed by it."""
    ca_key, ca = workdir / "ca.key", workdir / "ca.pem"
    key, csr, cert = workdir / "server.key", workdir / "server.csr", workdir / "server.pem"
    ext = workdir / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=" + ",".join(f"DNS:{h}" for h in hosts) + "\n"
    )

    def run(*args):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca_name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", ca_key, "-out", ca)
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hosts[0]}", "-keyout", key, "-out", csr)
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
        "-extfile", ext, "-out", cert)
    return ca, cert, key


@contextlib.contextmanager
def hosts_mapped(hosts=HOSTS, hosts_file=pathlib.Path("/etc/hosts")):
    """Maps `hosts` to 127.0.0.1 in /etc/hosts; removes exactly the added
    lines afterwards (other lines, even ones added meanwhile, stay)."""
    added = [f"127.0.0.1 {h} {HOSTS_MARK}" for h in hosts]
    original = hosts_file.read_text()
    text = original if original.endswith("\n") or not original else original + "\n"
    hosts_file.write_text(text + "".join(line + "\n" for line in added))
    try:
        yield
    finally:
        kept = [line for line in hosts_file.read_text().splitlines() if HOSTS_MARK not in line]
        hosts_file.write_text("".join(line + "\n" for line in kept))


def sse(data) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def sse_event(name: str, data) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n"


def openai_chat(req: dict, tool_arguments: dict):
    """(content type, body parts, streamed) of a chat completion answer."""
    model = req.get("model", "unknown")
    created = int(time.time())
    base = {"id": "chatcmpl-fake0001", "created": created, "model": model}
    tools = bool(req.get("tools"))
    if not req.get("stream"):
        if tools:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": TOOL_CALL_ID, "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps(tool_arguments)}}]}
            finish, usage = "tool_calls", OPENAI_TOOLS
        else:
            message = {"role": "assistant", "content": "".join(REPLY_PARTS)}
            finish, usage = "stop", OPENAI_CACHED if req.get("prompt_cache_key") else OPENAI_PLAIN
        body = {**base, "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": usage}
        return "application/json", [json.dumps(body).encode()], False
    chunk = {**base, "object": "chat.completion.chunk"}
    parts = [sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})]
    for p in REPLY_PARTS:
        parts.append(sse({**chunk, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}))
    parts.append(sse({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if (req.get("stream_options") or {}).get("include_usage"):
        parts.append(sse({**chunk, "choices": [], "usage": OPENAI_STREAM}))
    parts.append(b"data: [DONE]\n\n")
    return "text/event-stream", parts, True


def openai_embeddings(req: dict):
    vector = [0.125, -0.5, 0.75, 0.0625]
    inputs = req.get("input")
    n = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    if req.get("encoding_format") == "base64":
        value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    else:
        value = vector
    body = {"object": "list", "model": req.get("model", "unknown"), "usage": OPENAI_EMBEDDINGS,
            "data": [{"object": "embedding", "index": i, "embedding": value} for i in range(n)]}
    return "application/json", [json.dumps(body).encode()], False


def asks_cache(req: dict) -> bool:
    """An Anthropic request with `cache_control` on a system or message block."""
    blocks = req.get("system") if isinstance(req.get("system"), list) else []
    for m in req.get("messages") or []:
        if isinstance(m.get("content"), list):
            blocks = blocks + m["content"]
    return any(isinstance(b, dict) and "cache_control" in b for b in blocks)


def anthropic_messages(req: dict, tool_arguments: dict):
    model = req.get("model", "unknown")
    tools = bool(req.get("tools"))
    if not req.get("stream"):
        if tools:
            content = [{"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": tool_arguments}]
            stop, usage = "tool_use", ANTHROPIC_TOOLS
        else:
            content = [{"type": "text", "text": "".join(REPLY_PARTS)}]
            stop, usage = "end_turn", ANTHROPIC_CACHED if asks_cache(req) else ANTHROPIC_PLAIN
        body = {"id": "msg_fake0001", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}
        return "application/json", [json.dumps(body).encode()], False
    start_usage = {"input_tokens": ANTHROPIC_STREAM["input_tokens"], "output_tokens": 1}
    parts = [
        sse_event("message_start", {"type": "message_start", "message": {
            "id": "msg_fake0002", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
        sse_event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}}),
        sse_event("ping", {"type": "ping"}),
    ]
    for p in REPLY_PARTS:
        parts.append(sse_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                       "delta": {"type": "text_delta", "text": p}}))
    parts += [
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse_event("message_delta", {"type": "message_delta",
                                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                    "usage": {"output_tokens": ANTHROPIC_STREAM["output_tokens"]}}),
        sse_event("message_stop", {"type": "message_stop"}),
    ]
    return "text/event-stream", parts, True


def answer(path: str, body: bytes, tool_arguments: dict = DEFAULT_TOOL_ARGUMENTS):
    """(status, content type, body parts, streamed) for a request; a tool
    call in the answer carries `tool_arguments`."""
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return 400, "application/json", [b'{"error":{"message":"invalid JSON"}}'], False
    route = path.split("?")[0]
    if route.endswith("/chat/completions"):
        return (200, *openai_chat(req, tool_arguments))
    if route.endswith("/embeddings"):
        return (200, *openai_embeddings(req))
    if route.endswith("/messages"):
        return (200, *anthropic_messages(req, tool_arguments))
    return 404, "application/json", [b'{"error":{"message":"no such route"}}'], False


class FakeProvider:
    """The server: one thread accepts, one thread per connection."""

    def __init__(self, cert: pathlib.Path, key: pathlib.Path, port: int = 443,
                 max_tls: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
                 journal: pathlib.Path | None = None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.maximum_version = max_tls
        self.ctx.load_cert_chain(cert, key)
        self.ctx.set_alpn_protocols(["h2", "http/1.1"])
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.requests: list[dict] = []
        self.journal = journal
        self.tool_arguments: dict = DEFAULT_TOOL_ARGUMENTS
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.handler = type("Http1Handler", (_Http1Handler,), {"provider": self})
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopped.set()
        # close() alone does not wake a thread blocked in accept(), and the
        # socket keeps the port until it returns; shutdown() wakes it, so the
        # port is free for the next test module as soon as stop() returns.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.listener.close()

    def record(self, protocol: str, path: str, headers: dict, body: bytes):
        entry = {"protocol": protocol, "path": path, "headers": headers, "body": body}
        with self.lock:
            self.requests.append(entry)
            if self.journal is not None:
                with open(self.journal, "a") as f:
                    f.write(json.dumps({**entry, "body": body.decode("utf-8", "replace")}) + "\n")

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn, addr):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        try:
            if tls.selected_alpn_protocol() == "h2":
                self._serve_h2(tls)
            else:
                self.handler(tls, addr, self)
        except (ssl.SSLError, OSError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def _serve_h2(self, tls):
        import h2.config
        import h2.connection
        import h2.events

        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        tls.sendall(conn.data_to_send())
        streams: dict[int, dict] = {}
        while True:
            data = tls.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = {"headers": dict(ev.headers), "body": b""}
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id]["body"] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    s = streams.pop(ev.stream_id)
                    path = s["headers"].get(":path", "/")
                    self.record("h2", path, s["headers"], s["body"])
                    status, ctype, parts, streamed = answer(path, s["body"], self.tool_arguments)
                    conn.send_headers(ev.stream_id, [(":status", str(status)), ("content-type", ctype)])
                    tls.sendall(conn.data_to_send())
                    for i, part in enumerate(parts):
                        if streamed and i:
                            time.sleep(STREAM_PAUSE)
                        conn.send_data(ev.stream_id, part, end_stream=i == len(parts) - 1)
                        tls.sendall(conn.data_to_send())
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    tls.sendall(conn.data_to_send())
                    return
            tls.sendall(conn.data_to_send())


class _Http1Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    provider: FakeProvider

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if "websocket" in (self.headers.get("Upgrade") or "").lower() and self.path.split("?")[0].endswith("/responses"):
            import fake_responses_ws

            headers = {k.lower(): v for k, v in self.headers.items()}
            fake_responses_ws.serve(self, lambda body: self.provider.record("websocket", self.path, headers, body))
            return
        self.send_error(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.provider.record("http/1.1", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        status, ctype, parts, streamed = answer(self.path, body, self.provider.tool_arguments)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if streamed:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            # The last chunk and the terminator go in one write (one TLS
            # record) unless the client asks for them apart: a client that
            # stops reading at the stream's last event (the openai SDK's
            # sync Stream closes at [DONE]) then never reads the terminator.
            split_end = self.headers.get("x-fake-split-end") == "1"
            for i, part in enumerate(parts):
                if i:
                    time.sleep(STREAM_PAUSE)
                chunk = b"%x\r\n%s\r\n" % (len(part), part)
                if i == len(parts) - 1 and not split_end:
                    chunk += b"0\r\n\r\n"
                self.wfile.write(chunk)
                self.wfile.flush()
            if split_end:
                time.sleep(STREAM_PAUSE)
                self.wfile.write(b"0\r\n\r\n")
        else:
            payload = b"".join(parts)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        self.wfile.flush()


@pytest.fixture(scope="module")
def provider_env(tmp_path_factory):
    """The CA, the server on 127.0.0.1:443 and the /etc/hosts mapping for a
    test module. Yields a dict: ca, provider (FakeProvider), env (what a
    client process needs to trust the CA)."""
    if os.geteuid() != 0:
        pytest.fail("the capture tests run as root (eBPF, port 443, /etc/hosts)")
    workdir = tmp_path_factory.mktemp("provider")
    ca, cert, key = make_certs(workdir)
    try:
        provider = FakeProvider(cert, key, 443)
    except OSError as e:
        pytest.fail(f"cannot listen on 127.0.0.1:443 for the fake provider: {e}")
    env = dict(os.environ)
    env.update({"SSL_CERT_FILE": str(ca), "NODE_EXTRA_CA_CERTS": str(ca), "CURL_CA_BUNDLE": str(ca)})
    env.pop("OPENAI_BASE_URL", None)
    env.pop("ANTHROPIC_BASE_URL", None)
    with hosts_mapped():
        try:
            yield {"ca": ca, "provider": provider, "env": env, "workdir": workdir}
        finally:
            provider.stop()


if __name__ == "__main__":
    import sys

    cert, key, port, journal = sys.argv[1:5]
    server = FakeProvider(pathlib.Path(cert), pathlib.Path(key), int(port), journal=pathlib.Path(journal))
    print("listening", server.port, flush=True)
    server.thread.join()
