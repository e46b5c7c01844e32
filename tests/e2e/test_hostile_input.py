"""Hostile input against the real binary (issue 18): decompression bombs in
every content coding over OTLP/HTTP and OTLP/gRPC (raw HTTP/2 with the `h2`
package, so each bomb is sent exactly as built), and input holding a fake
API key. oispd answers each bomb with a clear error, counts it, keeps its
peak memory (VmHWM) far below what the bombs inflate to, keeps serving, and
never writes the key to its log.
"""
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
import zlib

import h2.config
import h2.connection
import h2.events
import pytest
from conftest import free_port, read_jsonl, spec_examples, wait_for

FAKE_KEY = "sk-proj-E2EHOSTILEFAKEKEY0123456789abcdefghij"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
# Peak RSS allowed while bombs that inflate to 2 GiB each arrive.
MAX_HWM_KIB = 200 * 1024


def deflate_bomb(mib: int) -> bytes:
    """A raw deflate stream that inflates to `mib` MiB of zeros: one 1 MiB
    block with a full flush (which resets the history), repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return block + again * (mib - 1) + b"\x03\x00"


def gzip_bomb(mib: int) -> bytes:
    # The trailer's CRC is left zero: the receiver stops long before it.
    return b"\x1f\x8b\x08\0\0\0\0\0\0\xff" + deflate_bomb(mib) + b"\0" * 4 + ((mib << 20) & 0xFFFFFFFF).to_bytes(4, "little")


def zlib_bomb(mib: int) -> bytes:
    return b"\x78\xda" + deflate_bomb(mib) + b"\0" * 4


def zstd_bomb(mib: int) -> bytes:
    """A zstd frame of `mib` MiB of zeros as 128 KiB RLE blocks (4 bytes
    each) with an 8 MiB window."""
    out = bytearray(b"\x28\xb5\x2f\xfd\x00" + bytes([(23 - 10) << 3]))
    blocks = mib * 8
    for i in range(blocks):
        header = (128 * 1024) << 3 | 1 << 1 | int(i + 1 == blocks)
        out += header.to_bytes(3, "little") + b"\0"
    return bytes(out)


# A snappy block whose header claims 1 GiB.
SNAPPY_BOMB = b"\x80\x80\x80\x80\x04\x00"


def vm_hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


def post(port: int, body: bytes, content_type="application/x-protobuf", encoding=None):
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/logs", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def grpc_raw(port: int, encoding: str, message: bytes):
    """Sends one gRPC message with the compressed flag set, as raw HTTP/2;
    returns (grpc-status, grpc-message)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    status, text = None, ""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(conn.data_to_send())
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [
            (":method", "POST"), (":scheme", "http"), (":authority", f"127.0.0.1:{port}"), (":path", LOGS),
            ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-encoding", encoding),
        ])
        payload = b"\x01" + len(message).to_bytes(4, "big") + message
        sent, done = 0, False
        while not done:
            while sent < len(payload):
                n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(payload) - sent)
                if n <= 0:
                    break
                conn.send_data(sid, payload[sent:sent + n], end_stream=sent + n == len(payload))
                sent += n
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    for k, v in ev.headers:
                        if k == "grpc-status":
                            status = int(v)
                        elif k == "grpc-message":
                            text = urllib.parse.unquote(v)
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            sock.sendall(conn.data_to_send())
    return status, text


def metric(admin_port: int, name: str, **labels) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"{re.escape(name)}\{{(.*)\}} (\S+)$", line)
        if m and all(f'{k}="{v}"' in m.group(1) for k, v in labels.items()):
            total += float(m.group(2))
    return total


@pytest.fixture
def hostile(start_oispd, tmp_path, spec_dir):
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    out = tmp_path / "events.jsonl"
    replay = tmp_path / "replay.jsonl"
    good = spec_examples(spec_dir)[0]
    lines = [
        json.dumps(good),
        json.dumps(dict(good, ts=FAKE_KEY)),
        json.dumps(dict(good, event_type=FAKE_KEY)),
        json.dumps({k: v for k, v in good.items() if k != "data"} | {"process": {"pid": FAKE_KEY}}),
        f'{{"event_id": {FAKE_KEY}}}',
    ]
    replay.write_text("\n".join(lines) + "\n")
    config = f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{grpc_port}}}
      http: {{endpoint: 127.0.0.1:{http_port}}}
  jsonl:
    path: {replay}
exporters:
  file:
    path: {out}
    format: oisp_jsonl
    flush_interval: 0s
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
service:
  extensions: [admin]
  pipelines:
    logs:
      receivers: [otlp, jsonl]
      exporters: [file]
"""
    o = start_oispd(config, wait_ports=[grpc_port, http_port, admin_port])
    return o, grpc_port, http_port, admin_port, out, good


def test_bombs_are_refused_with_bounded_memory(hostile):
    o, grpc_port, http_port, admin_port, out, _ = hostile
    http_bombs = [
        ("gzip", gzip_bomb(2048)),
        ("deflate", zlib_bomb(2048)),
        ("zstd", zstd_bomb(2048)),
        ("snappy", SNAPPY_BOMB),
    ]
    for coding, bomb in http_bombs:
        assert len(bomb) < 4 << 20, coding
        status, body = post(http_port, bomb, encoding=coding)
        assert status == 413, (coding, status, body)
        assert b"exceeds" in body, (coding, body)
    assert metric(admin_port, "oispd_receiver_rejected_requests", transport="http", reason="too_large") == len(http_bombs)

    # gRPC's default limit is 4 MiB as sent: gzip can carry 3 GiB in that,
    # zstd 2 GiB in 64 KiB.
    for i, (encoding, bomb) in enumerate([("gzip", gzip_bomb(3072)), ("zstd", zstd_bomb(2048))]):
        assert len(bomb) < 4 << 20, encoding
        status, text = grpc_raw(grpc_port, encoding, bomb)
        assert status == 8, (encoding, status, text)  # RESOURCE_EXHAUSTED
        assert "size limit" in text, (encoding, text)
        assert metric(admin_port, "oispd_receiver_rejected_requests", transport="grpc", reason="too_large") == i + 1

    hwm = vm_hwm_kib(o.proc.pid)
    assert hwm < MAX_HWM_KIB, f"peak RSS {hwm} KiB while refusing bombs"
    assert o.proc.poll() is None, o.log()
    # Nothing the bombs carried was exported (the replay's one good event
    # is the only record).
    wait_for(lambda: out.exists() and len(read_jsonl(out)) >= 1, what="the replayed event")
    assert len(read_jsonl(out)) == 1


def test_rejected_input_is_counted_and_never_logged(hostile):
    o, _, http_port, admin_port, out, good = hostile
    # OTLP/JSON with the key where a number belongs, three times, and the
    # key as a gzip body.
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": FAKE_KEY}]}]}]}).encode()
    for _ in range(3):
        status, _ = post(http_port, body, content_type="application/json")
        assert status == 400
    status, _ = post(http_port, FAKE_KEY.encode(), encoding="gzip")
    assert status == 400
    assert metric(admin_port, "oispd_receiver_rejected_requests", transport="http", reason="malformed") == 3
    assert metric(admin_port, "oispd_receiver_rejected_requests", transport="http", reason="bad_compression") == 1

    # The replay: one good event, four lines rejected by the schema check.
    wait_for(lambda: metric(admin_port, "oispd_receiver_malformed_records", receiver="jsonl") == 4,
             what="4 malformed jsonl lines counted")
    wait_for(lambda: out.exists() and len(read_jsonl(out)) == 1, what="the replayed event")
    assert read_jsonl(out)[0]["event_id"] == good["event_id"]
    log = o.log()
    assert "skipping a line that is not an OISP event" in log, log
    assert "rejected an OTLP request" in log, log
    assert "E2EHOSTILEFAKEKEY" not in log, log
    assert o.proc.poll() is None, log
