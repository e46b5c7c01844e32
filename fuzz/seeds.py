#!/usr/bin/env python3
"""Writes the seed corpora (fuzz/corpus/<target>/) and the crash inputs of
the first campaign (fuzz/regressions/<target>/).

Seeds come from the repository's fixtures (config/*.yaml, the embedded
default config, spec/oisp-spec/examples, tests/data/gitleaks, the sensor
TOML of src/config/sensor_toml.rs's tests) and, for binary formats
(capture operations, kernel records, OTLP protobuf), are encoded here the
way fuzz/targets/src documents them. Run from anywhere:
`python3 fuzz/seeds.py`; then `cargo fuzz cmin` keeps what adds coverage.

WebSocket: add `ws_*` seeds to capture() when the decoder learns frames
(an HTTP/1.1 Upgrade exchange, then frames on the same connection).
"""
import gzip
import json
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
REGRESSIONS = ROOT / "fuzz" / "regressions"


def write(base, target, name, data):
    d = base / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- capture_decoder: [flags] then ops [ctl][u16 len][bytes]([u64 extra]) --
def op(data, read=False, conn=0, kind=0, extra=None):
    ctl = (1 if read else 0) | (conn << 1) | (kind << 3)
    out = bytes([ctl]) + struct.pack("<H", len(data)) + data
    if kind == 5:
        out += struct.pack("<Q", extra or 0)
    return out


def close(conn=0):
    return bytes([(conn << 1) | (6 << 3)])


def h1_request(host, path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def h1_response(body, ctype=b"application/json", extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def chunked(pieces):
    out = b""
    for p in pieces:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n\r\n"


def h2_frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(headers):
    out = b""
    for name, value in headers:
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out


def capture():
    openai_req = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                             "stream": False}).encode()
    openai_resp = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello",
                                                                   "tool_calls": [{"id": "call_1", "type": "function",
                                                                                   "function": {"name": "f", "arguments": "{}"}}]},
                                           "finish_reason": "tool_calls"}],
                              "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()
    auth = b"Authorization: Bearer sk-proj-Tq3Lm8Zx1Vb6Nc4Kd9Hs2Jf7Gp0Wr5Ye3Ua8Io1Pz6Xc\r\n"
    req = h1_request(b"api.openai.com", b"/v1/chat/completions", openai_req, auth)
    write(CORPUS, "capture_decoder", "h1_openai",
          b"\x00" + op(req) + op(h1_response(openai_resp), read=True) + close())
    # The same exchange cut into 7-byte chunks, server side, streaming.
    cut = b"\x03"
    for i in range(0, len(req), 7):
        cut += op(req[i:i + 7], read=True)
    write(CORPUS, "capture_decoder", "h1_openai_server_chunked", cut)
    anthropic_req = json.dumps({"model": "claude-sonnet-4", "max_tokens": 64, "stream": True,
                                "messages": [{"role": "user", "content": "hi"}]}).encode()
    sse = (b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4\",\"usage\":{\"input_tokens\":3}}}\n\n"
           b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hel\"}}\n\n"
           b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n"
           b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunked([sse[:50], sse[50:170], sse[170:]]))
    write(CORPUS, "capture_decoder", "h1_anthropic_sse",
          b"\x01" + op(h1_request(b"api.anthropic.com", b"/v1/messages", anthropic_req,
                                  b"x-api-key: sk-ant-api03-abc\r\n")) + op(resp[:90], read=True)
          + op(resp[90:], read=True, kind=5, extra=0) + close())
    gz = gzip.compress(openai_resp)
    write(CORPUS, "capture_decoder", "h1_gzip_truncated",
          b"\x08" + op(req, conn=2) + op(h1_response(gz, extra=b"Content-Encoding: gzip\r\n")[:60], read=True, conn=2,
                                         kind=5, extra=100) + bytes([(7 << 3)]))
    ollama = json.dumps({"model": "llama3", "prompt": "hi"}).encode()
    write(CORPUS, "capture_decoder", "h1_ollama_pipelined",
          b"\x00" + op(h1_request(b"localhost:11434", b"/api/generate", ollama) * 2)
          + op(h1_response(b'{"model":"llama3","response":"x","done":true}') * 2, read=True)
          + bytes([(7 << 3) | 1]))
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    settings = h2_frame(4, 0, 0, b"")
    headers = hpack_literal([(b":method", b"POST"), (b":path", b"/v1/chat/completions"),
                             (b":authority", b"api.openai.com"), (b":scheme", b"https"),
                             (b"content-type", b"application/json")])
    client = preface + settings + h2_frame(1, 4, 1, headers) + h2_frame(0, 1, 1, openai_req)
    rheaders = hpack_literal([(b":status", b"200"), (b"content-type", b"application/json")])
    server = settings + h2_frame(1, 4, 1, rheaders) + h2_frame(0, 1, 1, openai_resp)
    write(CORPUS, "capture_decoder", "h2_openai", b"\x00" + op(client) + op(server, read=True) + close())
    write(CORPUS, "capture_decoder", "h2_continuation_rst",
          b"\x00" + op(preface + settings + h2_frame(1, 0, 3, headers[:20]) + h2_frame(9, 4, 3, headers[20:])
                       + h2_frame(3, 0, 3, b"\x00\x00\x00\x08")) + op(h2_frame(7, 0, 0, b"\x00" * 8), read=True))
    # First campaign: counters overflowed on two chunks claiming ~u64::MAX uncaptured.
    write(REGRESSIONS, "capture_decoder", "uncaptured_u64_max",
          b"\x00" + op(b"A" * 42, kind=5, extra=2**64 - 1) + op(b"B" * 42, kind=5, extra=2**64 - 1)
          + op(b"GET / HTTP/1.1\r\n", kind=5, extra=2**64 - 1) + op(b"x", kind=5, extra=2**64 - 1))
    write(REGRESSIONS, "capture_decoder", "h2_gap_u64_max",
          b"\x00" + op(preface + settings, kind=5, extra=2**64 - 1) + op(b"x" * 9, kind=5, extra=2**64 - 1)
          + op(b"y", read=True, kind=5, extra=2**64 - 1))


# --- kernel_record: one ring-buffer record -----------------------------------
def hdr(kind, data_len, flags=0, pid=4242):
    return struct.pack("<QIIHHI", 123456789, pid, pid + 1, kind, flags, data_len)


def kernel_records():
    data = b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n\r\n"
    write(CORPUS, "kernel_record", "tls_data",
          hdr(1, len(data), flags=1) + struct.pack("<QQQiI", 0x55aa, len(data), 0, 7, 0) + data)
    write(CORPUS, "kernel_record", "tls_data_gap_ex",
          hdr(1, len(data), flags=1 | 8) + struct.pack("<QQQiI", 0x55aa, 5000, 300, 7, 0) + data)
    write(CORPUS, "kernel_record", "exec", hdr(4, 24) + b"\x00" * 64 + b"/usr/bin/node\x00app.js\x00--x\x00")
    qname = b"\x03api\x06openai\x03com\x00"
    write(CORPUS, "kernel_record", "dns",
          hdr(9, 12 + len(qname) + 4) + b"\x00" * 32 + b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
          + qname + b"\x00\x01\x00\x01")
    for k in (2, 3, 5, 6, 7, 8, 10, 11, 12, 13):
        write(CORPUS, "kernel_record", "kind_%d" % k, hdr(k, 0) + b"\x01" * 96)
    # First campaign: a 42-byte record with full_len = u64::MAX (and a u64::MAX loss).
    body = b"x" * 42
    write(REGRESSIONS, "kernel_record", "full_len_u64_max",
          hdr(1, 42, flags=1 | 8) + struct.pack("<QQQiI", 7, 2**64 - 1, 2**64 - 1, 3, 0) + body)


# --- otlp_request: [codec/signal byte] body -----------------------------------
def pb_field(num, wire, payload):
    key = (num << 3) | wire

    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])
    if wire == 2:
        return varint(key) + varint(len(payload)) + payload
    return varint(key) + varint(payload)


def otlp():
    anyv = pb_field(1, 2, b"hello sk-proj-Tq3Lm8Zx1Vb6Nc4Kd9Hs2Jf7Gp0Wr5Ye3Ua8Io1Pz6Xc")
    kv = pb_field(1, 2, b"ai.provider") + pb_field(2, 2, pb_field(1, 2, b"openai"))
    nested = pb_field(1, 2, b"n") + pb_field(2, 2, pb_field(6, 2, pb_field(1, 2, kv)))
    record = pb_field(2, 0, 9) + pb_field(5, 2, anyv) + pb_field(6, 2, kv) + pb_field(6, 2, nested)
    logs = pb_field(1, 2, pb_field(2, 2, pb_field(2, 2, record)))
    write(CORPUS, "otlp_request", "logs_proto", b"\x00" + logs)
    span = pb_field(1, 2, b"\x01" * 16) + pb_field(2, 2, b"\x02" * 8) + pb_field(5, 2, b"chat") + pb_field(9, 2, kv)
    write(CORPUS, "otlp_request", "traces_proto", b"\x02" + pb_field(1, 2, pb_field(2, 2, pb_field(2, 2, span))))
    logs_json = {"resourceLogs": [{"resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "h"}}]},
                                   "scopeLogs": [{"logRecords": [{"timeUnixNano": "1", "severityNumber": 9,
                                                                  "body": {"kvlistValue": {"values": [
                                                                      {"key": "oisp_version", "value": {"stringValue": "0.1"}},
                                                                      {"key": "event_type", "value": {"stringValue": "ai.request"}}]}},
                                                                  "attributes": [{"key": "a", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"bytesValue": "AAE="}]}}}]}]}]}]}
    write(CORPUS, "otlp_request", "logs_json", b"\x01" + json.dumps(logs_json).encode())
    traces_json = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "01" * 16, "spanId": "02" * 8, "name": "chat",
                                                                 "kind": 3, "attributes": [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}
    write(CORPUS, "otlp_request", "traces_json", b"\x03" + json.dumps(traces_json).encode())


def ottl():
    statements = [
        'set(attributes["x"], "y") where attributes["ai.provider"] == "openai"',
        'delete_key(attributes, "http.request.header.authorization")',
        'keep_keys(attributes, ["ai.provider", "x"])',
        'replace_pattern(body, "sk-[a-z]+", "***")',
        'limit(attributes, 3, ["password.db"])',
        'merge_maps(attributes, ParseJSON("{\\"a\\": [1, 2, {\\"b\\": 3.5}]}"), "upsert")',
        'set(body, Concat([body, "!"], "")) where severity_number < SEVERITY_NUMBER_ERROR',
        'truncate_all(attributes, 4)',
        'set(attributes["n"], Len(body) * 2 + 1)',
    ]
    conditions = [
        'attributes["ai.provider"] == "openai" and severity_number >= 9',
        'IsMatch(body, "^h.*o$") or not (name == "chat")',
        'resource.attributes["host.name"] != nil',
    ]
    for i, s in enumerate(statements):
        write(CORPUS, "ottl", "statement_%d" % i, b"\x00" + s.encode())
        write(CORPUS, "ottl", "inferred_%d" % i, b"\x03" + s.replace("attributes", "log.attributes").encode())
    for i, c in enumerate(conditions):
        write(CORPUS, "ottl", "condition_%d" % i, b"\x01" + c.encode())
        write(CORPUS, "ottl", "span_condition_%d" % i, b"\x05" + c.encode())
    write(CORPUS, "ottl", "route_0", b"\x02" + b'route() where attributes["x"] == "y"')
    # First campaign: nesting overflowed the parser's (and compiler's) stack.
    write(REGRESSIONS, "ottl", "nested_parens", b"\x01" + b"(" * 5900 + b"true" + b")" * 5900)
    write(REGRESSIONS, "ottl", "nested_lists", b"\x00set(body, " + b"[" * 5900 + b"1" + b"]" * 5900 + b")")
    write(REGRESSIONS, "ottl", "nested_maps", b"\x00set(body, " + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b")")
    write(REGRESSIONS, "ottl", "nested_calls", b"\x01" + b"Len(" * 4000 + b"body" + b")" * 4000 + b" > 1")
    write(REGRESSIONS, "ottl", "nested_not", b"\x01" + b"not " * 6000 + b"true")


def configs():
    for p in sorted((ROOT / "config").glob("*.yaml")) + [ROOT / "src" / "config" / "default.yaml"]:
        write(CORPUS, "config_load", p.name, p.read_bytes())
    write(CORPUS, "config_load", "expand_merge",
          b"receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: ${HOST}:${env:PORT}\n"
          b"exporters:\n  debug: {}\nservice:\n  pipelines:\n    logs:\n      receivers: [otlp]\n      exporters: [debug]\n"
          b"\x00exporters:\n  debug:\n    verbosity: ${NESTED}$${HOST}${UNSET:-fallback}\n")
    # First campaign: ~15,400 levels of `${` overflowed the expander's stack.
    write(REGRESSIONS, "config_load", "nested_dollar_brace", b"a: " + b"${" * 15400)
    text = (ROOT / "src" / "config" / "sensor_toml.rs").read_text()
    m = re.search(r'const FULL: &str = r#"(.*?)"#;', text, re.S)
    if m:
        write(CORPUS, "sensor_toml", "full", m.group(1))
    write(CORPUS, "sensor_toml", "minimal", '[export.jsonl]\nenabled = true\npath = "/tmp/x.jsonl"\n')


def oisp_events():
    for p in sorted((ROOT / "spec" / "oisp-spec" / "examples").glob("*.json")):
        write(CORPUS, "oisp_json", p.name, p.read_bytes())


def gitleaks():
    text = (ROOT / "tests" / "data" / "gitleaks" / "gitleaks.toml").read_text()
    # The public file's rules one by one, every 8th (smaller inputs mutate
    # faster; the whole file takes a second per execution to compile).
    head, *rules = text.split("[[rules]]")
    for i, r in enumerate(rules[::8]):
        write(CORPUS, "gitleaks_rules", "rule_%02d" % i, "[[rules]]" + r)
    write(CORPUS, "gitleaks_rules", "allowlists",
          '[allowlist]\nregexes = ["EXAMPLE"]\n[[rules]]\nid = "x"\nregex = \'\'\'(?i)token\\s*=\\s*([a-z0-9]{16,})\'\'\'\n'
          'secretGroup = 1\nentropy = 3.0\nkeywords = ["token"]\n[[rules.allowlists]]\nregexTarget = "line"\n'
          'regexes = ["test"]\nstopwords = ["dummy"]\ncondition = "AND"\n')


def redactor():
    texts = [b"my key is", b'{"messages": [{"role": "user", "content": "', b"Authorization: Bearer",
             b"https://user:pw@example.com/?token=", b"line one\nline two"]
    for secret in range(10):
        for how in range(6):
            place = (secret + how) % 5
            t = texts[(secret * 6 + how) % len(texts)]
            write(CORPUS, "redactor_leaks", "s%d_e%d" % (secret, how),
                  bytes([secret, how, 3, place, how, secret, secret % 5]) + struct.pack("<H", len(t) // 2) + t)


capture()
kernel_records()
otlp()
ottl()
configs()
oisp_events()
gitleaks()
redactor()
