"""The credential leak matrix through the real binary (issue 18, "Tests").

Every credential class (the rows of `CREDENTIALS`), written in every
encoding (`ENCODINGS`) and planted in every field kind a record has
(`JSONL_FIELDS` for OISP events replayed by the `jsonl` receiver,
`OTLP_LOG_FIELDS` and `OTLP_SPAN_FIELDS` for logs and spans sent to the
`otlp` receiver, as OTLP/JSON over HTTP and as protobuf over gRPC), goes
through one oispd run. oispd exports everything to every exporter at once:

- `file` (OISP JSONL) and `file/otlp` (OTLP JSON);
- `otlp_grpc` and `otlp_http`, each to a real OpenTelemetry Collector
  (conftest.OtelCol) whose `debug` exporter prints every record it gets;
- `webhook` to a local HTTP server, `websocket` read on `/ws/events` (the
  feed of the live page), and `debug` at detailed verbosity;
- its own log (which holds the `debug` exporter's output), and the admin
  server's `/api/health` and `/metrics`.

Lines the `jsonl` receiver rejects and OTLP requests the `otlp` receiver
rejects carry credentials too: they must not reach the log.

A second pipeline of the same run puts OISP events through a `transform`
processor that copies the prompt into an attribute, a resource attribute
and the severity text, and the whole body into an attribute: the copies
are exported, clean. A third puts prompts holding credentials after
filler of several lengths through the `sentinel` processor: its findings
and its audit store (`audit.db` and its WAL) hold none of them.

Every cell gets its own fake credential, made at test time from a seeded
generator (nothing secret-shaped is in the repository), so a hit names its
class, encoding, field and the output it reached. "No leak" is checked the
way the unit matrix (processors/src/redaction/tests/leaks.rs) checks it:
each output is searched in its raw, JSON-unescaped, percent-decoded and
base64-decoded forms (nested, four levels), ignoring case (GNU grep's
fixed-string search for every secret at once keeps this to seconds). A
canary row (text no rule matches) goes through the same cells and must be
found in every output that carries its field, in every encoding, so the
search is known to look where the credentials went.

The `$redacted`-key attack is in the matrix (`marker_sibling`: an
attacker-written `{"$redacted": ...}` map holding a credential next to it)
and, as the issue reported it, through the real capture path: the fake
provider answers with a tool call whose arguments carry `"$redacted"` and
credentials, an OpenAI and an Anthropic client call it, oispd captures with
the `ebpf` receiver and exports to every exporter; no credential appears.
The same agent then runs the command-line rows (`env PGPASSWORD=...`,
`mysql -p...`, `curl -u ...`) as children: their `process.exec`
arguments are exported clean too.

To add a credential format: a row in `CREDENTIALS`. A place: an entry in
one of the field tables. An encoding: an entry in `ENCODINGS`.

Needs root for the capture test (eBPF, port 443, /etc/hosts):

    OISPD_BIN=/var/tmp/oispd-target/debug/oispd OISP_SPEC_DIR=$PWD/spec/oisp-spec \\
        python3 -m pytest -q tests/e2e/test_leak_matrix.py
"""
from __future__ import annotations

import base64
import bisect
import http.server
import json
import math
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import pytest

from conftest import Oispd, OtelCol, free_port, read_jsonl, wait_for, wait_port
from delivery_support import BASE_MS, append_jsonl, rfc3339, ulid
from fake_provider import DEFAULT_TOOL_ARGUMENTS, provider_env  # noqa: F401  (fixture)

# --- credentials ------------------------------------------------------------

ALPHABETS = {
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "upper32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "hex": "0123456789abcdef",
    "digits": "0123456789",
    "letters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "lower": "abcdefghijklmnopqrstuvwxyz",
}

# (class, template). In a template, `{alphabet:N}` is N random characters
# of that alphabet, `<<` and `>>` enclose the secret (what must not
# survive), and a `|` inside them ends a vendor prefix that the
# `other_case_prefix` encoding writes in the other case.
CREDENTIALS: list[tuple[str, str]] = [
    ("openai_api_key", "<<sk-proj-|{alnum:48}>>"),
    ("openai_api_key", "<<sk-|{alnum:48}>>"),
    ("openai_api_key", "<<sk-|{letters:48}>>"),  # no digit: one random key in 5,000
    ("anthropic_api_key", "<<sk-ant-|api03-{alnum:93}AA>>"),
    ("google_api_key", "<<AIza|{alnum:35}>>"),
    ("aws_access_key_id", "<<AKIA{upper32:16}>>"),
    ("aws_access_key_id", "<<ASIA{upper32:16}>>"),
    ("aws_secret_key", "aws_secret_access_key = <<{b64:40}>>"),
    ("aws_secret_key", "<<{aws_alone:40}>>"),
    ("aws_session_token", "export AWS_SESSION_TOKEN=<<{b64:320}>>"),
    ("azure_ad_client_secret", "<<{alnum:3}8Q~{alnum:34}>>"),
    ("azure_storage_key",
     "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=<<{b64:86}==>>;EndpointSuffix=core.windows.net"),
    ("azure_api_key", "api-key: <<{hex:32}>>"),
    ("azure_sas_signature",
     "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&sp=r&sig=<<{alnum:43}>>%3D"),
    ("github_token", "<<ghp_|{alnum:36}>>"),
    ("github_token", "<<gho_|{alnum:36}>>"),
    ("github_token", "<<github_pat_|{alnum:82}>>"),
    ("gitlab_token", "<<glpat-|{alnum:20}>>"),
    ("slack_token", "<<xoxb-|{digits:12}-{alnum:24}>>"),
    ("slack_token", "<<xoxp-|{digits:12}-{alnum:32}>>"),
    ("slack_webhook", "<<https://hooks.slack.com/services/T{upper32:8}/B{upper32:8}/{alnum:24}>>"),
    ("stripe_key", "<<sk_live_|{alnum:24}>>"),
    ("stripe_key", "<<rk_live_|{alnum:24}>>"),
    ("huggingface_token", "<<hf_|{letters:34}>>"),
    ("jwt", "<<eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{alnum:40}.{alnum:43}>>"),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\n<<{b64:70}>>\n{b64:70}\n-----END OPENSSH PRIVATE KEY-----"),
    ("private_key", "-----begin rsa private key-----\n<<{b64:64}>>\n-----end rsa private key-----"),
    ("vault_token", "X-Vault-Token: <<hvs.{alnum:90}>>"),
    ("vault_token", 'curl -H "X-Vault-Token: <<s.{alnum:24}>>" https://vault.internal/v1/kv'),
    ("url_credentials", "postgres://app:<<Pw{alnum:14}>>@db.internal:5432/app"),
    ("url_credentials", "redis://:<<Rd{alnum:14}>>@cache.internal:6379/0"),
    ("basic_auth", "Authorization: Basic <<{b64:28}>>"),
    ("bearer_token", "Authorization: Bearer <<{alnum:40}>>"),
    ("password", "password=<<{letters:14}>>"),
    ("password", '{"password": "<<{lower:7} {lower:5} {lower:7} {lower:6}>>"}'),
    ("password", "password: <<${alnum:15}>>"),
    ("password", "db_password=<<@{alnum:14}>>"),
    ("password", "env PGPASSWORD=<<{alnum:14}>> psql -h db"),
    ("password", "mysql -uroot -p<<{alnum:14}>> shop"),
    ("password", "mysql -u root --password=<<{alnum:13}>> shop"),
    ("password", "docker login -u bob --password <<{alnum:12}>>"),
    ("password", "curl -u alice:<<{alnum:16}>> https://api.internal/v1"),
    ("password", "curl --user alice:<<{alnum:14}>> https://api.internal/v1"),
    ("generic_secret", "SECRET_KEY_BASE=<<{hex:128}>>"),
    ("generic_secret", 'api_key = "<<{alnum:24}>>"'),
]
CLASSES = sorted({cls for cls, _ in CREDENTIALS})

# Text no rule matches: it must come out as it went in.
CANARY = ("canary", "note: <<canary-|{lower:24}>> end")

PLACEHOLDER = re.compile(r"\{(\w+):(\d+)\}")
CHARACTER_CLASSES = [str.isupper, str.islower, str.isdigit]


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    return -sum(n / len(s) * math.log2(n / len(s)) for n in Counter(s).values())


def word_chars(s: str) -> int:
    """Characters in word-like chunks (an optional capital, then three or
    more lower-case letters)."""
    return sum(len(m.group()) for m in re.finditer(r"[A-Z]?[a-z]{3,}", s))


# Alphabets whose runs must also pass a check. A 40-character base64
# string alone is an AWS secret access key to the redactor only when it is
# random (entropy of 4.2 bits) and mostly not words (under 24 characters
# in word-like chunks); about one random key in 1,000 is not, by design
# (camel-case identifiers and paths of 40 characters look the same).
SHAPED_ALPHABETS = {
    "aws_alone": ("b64", lambda run: entropy(run) >= 4.2 and word_chars(run) < 24),
}


def random_run(rng: random.Random, alphabet: str, length: int) -> str:
    """`length` random characters of `alphabet`; a run of 8 or more has at
    least one of each class (upper case, lower case, digit) the alphabet
    has, as nearly every real key does. The redactor's look-alike checks
    weigh such classes (a digit in a bearer token, case and `/`/`+` in an
    AWS secret); a row that wants a key without one says so with its
    alphabet (`{letters:48}`)."""
    while True:
        run = "".join(rng.choice(alphabet) for _ in range(length))
        if length < 8 or all(any(map(cls, run)) for cls in CHARACTER_CLASSES if any(map(cls, alphabet))):
            return run


@dataclass(frozen=True)
class Credential:
    """One generated credential: the text it appears in, the part that must
    not survive, and the length of its vendor prefix (0: none)."""
    cls: str
    text: str
    secret: str
    prefix: int


def generate(row: tuple[str, str], seed: str) -> Credential:
    """A fresh credential of `row` (class, template), the same for a seed."""
    cls, template = row
    rng = random.Random(seed)
    def run(m: re.Match) -> str:
        alphabet, check = SHAPED_ALPHABETS.get(m.group(1), (m.group(1), lambda _: True))
        while True:
            text = random_run(rng, ALPHABETS[alphabet], int(m.group(2)))
            if check(text):
                return text

    text = PLACEHOLDER.sub(run, template)
    before, rest = text.split("<<", 1)
    secret, after = rest.split(">>", 1)
    prefix = secret.find("|")
    secret = secret.replace("|", "")
    return Credential(cls, before + secret + after, secret, max(prefix, 0))


# --- encodings --------------------------------------------------------------

def json_escape(s: str) -> str:
    """The inside of a JSON string literal holding `s`."""
    return json.dumps(s)[1:-1]


def percent_encoded(c: Credential) -> tuple[str, str]:
    """Every character but letters and digits, and the secret's first one."""
    at = c.text.find(c.secret)
    out = "".join(ch if ch.isascii() and ch.isalnum() and i != at else f"%{ord(ch):02X}"
                  for i, ch in enumerate(c.text))
    return out, c.secret


def other_case_prefix(c: Credential) -> tuple[str, str] | None:
    if not c.prefix:
        return None
    secret = c.secret[:c.prefix].swapcase() + c.secret[c.prefix:]
    return c.text.replace(c.secret, secret, 1), secret


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# name -> (credential -> (text as written, secret as it then reads), or
# None when the encoding does not apply).
ENCODINGS: dict[str, Callable[[Credential], tuple[str, str] | None]] = {
    "raw": lambda c: (c.text, c.secret),
    "json_escaped": lambda c: ('{"note": "%s"}' % json_escape(c.text), c.secret),
    "double_escaped": lambda c: (json_escape('{"note": "%s"}' % json_escape(c.text)), c.secret),
    "unicode_escaped": lambda c: ("".join(f"\\u{ord(ch):04x}" for ch in c.text), c.secret),
    "percent_encoded": percent_encoded,
    "base64": lambda c: (b64(c.text), c.secret),
    "data_url": lambda c: (f"data:text/plain;base64,{b64(c.text)}", c.secret),
    "other_case_prefix": other_case_prefix,
}


# --- field kinds: OISP events (jsonl receiver) --------------------------------

def oisp_event(n: int, content: str = "hello") -> dict:
    """A small valid OISP ai.request event, number `n` of the run."""
    return {
        "oisp_version": "0.1",
        "event_id": ulid(BASE_MS + n, n),
        "event_type": "ai.request",
        "ts": rfc3339(BASE_MS + n),
        "host": {"hostname": "leak-host", "os": "linux"},
        "process": {"pid": 4242, "name": "agent", "cmdline": "agent --run"},
        "source": {"collector": "oispd-e2e", "capture_method": "tls_boundary"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": {"request_id": f"req_leak_{n}", "provider": {"name": "openai"}, "model": {"id": "gpt-4o"},
                 "messages": [{"role": "user", "content": content}]},
    }


def at(*path, shape: Callable[[str], object] = lambda t: t):
    """A placement setting `path` of an OISP event to shape(text)."""
    def place(event: dict, text: str) -> None:
        target = event
        for key in path[:-1]:
            target = target[key] if isinstance(key, int) else target.setdefault(key, {})
        target[path[-1]] = shape(text)
    return place


JSONL_FIELDS: dict[str, Callable[[dict, str], None]] = {
    "message_content": at("data", "messages", 0, "content"),
    "map_key": at("attrs", shape=lambda t: {t: "value"}),
    "nested_array": at("attrs", shape=lambda t: {"parts": [["first", t], 7]}),
    "header_array": at("attrs", shape=lambda t: {"headers": {"x-api-key": [t]}}),
    "marker_sibling": at("attrs", shape=lambda t: {"$redacted": {"reason": "secret_detected"}, "note": t}),
    "process_cmdline": at("process", "cmdline"),
    "process_argv": at("process", "cmdline_args", shape=lambda t: t.split(" ")),
    "process_env": at("process", "env", shape=lambda t: {"DATABASE_URL": t}),
    "host_name": at("host", "hostname"),
    "source_collector": at("source", "collector"),
    "related_event": at("related_events", shape=lambda t: [{"event_id": t, "relationship": "caused_by"}]),
    "extension": at("ext", shape=lambda t: {"vendor": {"note": t}}),
}
# The prompt, after filler of several lengths: the sentinel's finding quotes
# an excerpt around what it found, and its edges must not cut a credential
# into a part that no longer looks like one.
SENTINEL_FIELDS: dict[str, Callable[[dict, str], None]] = {
    f"prompt_after_{n}_chars": at("data", "messages", 0, "content",
                                  shape=lambda t, n=n: ("lorem ipsum " * 40)[:n].rstrip() + " " + t
                                  + " and then more prompt text")
    for n in (0, 40, 80, 120, 150, 200, 300)
}
# A line the jsonl receiver rejects (unparsable `ts`): nothing is exported,
# and the log must not quote it.
JSONL_REJECTED = {"rejected_ts": at("ts")}


# --- field kinds: OTLP (otlp receiver) ----------------------------------------

def sv(text: str) -> dict:
    return {"stringValue": text}


def any_value(v) -> dict:
    """JSON -> OTLP/JSON AnyValue."""
    if isinstance(v, str):
        return sv(v)
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, list):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": [kv(k, any_value(x)) for k, x in v.items()]}}
    raise TypeError(type(v))


def kv(key: str, value: dict) -> dict:
    return {"key": key, "value": value}


def oisp_json_body(text: str) -> str:
    """An OISP event as JSON text with `text` in its prompt; text that is
    valid inside a JSON string (`\\u` escapes) goes in as written, so the
    escapes are the event's own."""
    marker = "@@PROMPT@@"
    doc = json.dumps(oisp_event(0, marker))
    try:
        json.loads(f'"{text}"')
        inside = text
    except ValueError:
        inside = json_escape(text)
    return doc.replace(marker, inside)


# Each placement changes `parts` ({"resource": [attributes], "scope":
# {...}, "record": {...}}) of a one-record ResourceLogs.
OTLP_LOG_FIELDS: dict[str, Callable[[dict, str], None]] = {
    "body_string": lambda p, t: p["record"].update(body=sv(t)),
    "body_map_value": lambda p, t: p["record"].update(body=any_value({"content": t})),
    "body_map_key": lambda p, t: p["record"].update(body=any_value({t: "value"})),
    "body_nested_array": lambda p, t: p["record"].update(body=any_value({"parts": [["first", t], 7]})),
    "body_marker_sibling": lambda p, t: p["record"].update(
        body=any_value({"$redacted": {"reason": "secret_detected"}, "note": t})),
    "body_bytes_value": lambda p, t: p["record"].update(
        body={"kvlistValue": {"values": [kv("payload", {"bytesValue": b64(t)})]}}),
    "body_oisp_json": lambda p, t: p["record"].update(body=sv(oisp_json_body(t))),
    "attribute": lambda p, t: p["record"]["attributes"].append(kv("ai.prompt", sv(t))),
    "header_array_attribute": lambda p, t: p["record"]["attributes"].append(
        kv("http.request.header.authorization", any_value([t]))),
    "resource_attribute": lambda p, t: p["resource"].append(kv("process.command_line", sv(t))),
    "scope_name": lambda p, t: p["scope"].update(name=t),
    "scope_attribute": lambda p, t: p["scope"]["attributes"].append(kv("note", sv(t))),
    "event_name": lambda p, t: p["record"].update(eventName=t),
    "severity_text": lambda p, t: p["record"].update(severityText=t),
}

# The same for a one-span ResourceSpans ({"resource", "scope", "span"}).
OTLP_SPAN_FIELDS: dict[str, Callable[[dict, str], None]] = {
    "span_name": lambda p, t: p["span"].update(name=t),
    "span_attribute": lambda p, t: p["span"]["attributes"].append(kv("gen_ai.prompt", sv(t))),
    "span_event_name": lambda p, t: p["span"]["events"].append({"timeUnixNano": "1", "name": t}),
    "span_event_attribute": lambda p, t: p["span"]["events"].append(
        {"timeUnixNano": "1", "name": "exception", "attributes": [kv("exception.message", sv(t))]}),
    "span_link_attribute": lambda p, t: p["span"]["links"].append(
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
         "attributes": [kv("note", sv(t))]}),
    "span_trace_state": lambda p, t: p["span"].update(traceState=t),
    "span_status_message": lambda p, t: p["span"].update(status={"code": 2, "message": t}),
}


def otlp_log(field_name: str, text: str, n: int) -> dict:
    parts = {
        "resource": [kv("service.name", sv("agent"))],
        "scope": {"name": "leak-matrix", "attributes": []},
        "record": {"timeUnixNano": str((BASE_MS + n) * 1_000_000), "body": sv("ordinary body"),
                   "attributes": [kv("leak.cell", sv(str(n)))]},
    }
    OTLP_LOG_FIELDS[field_name](parts, text)
    return {"resource": {"attributes": parts["resource"]},
            "scopeLogs": [{"scope": parts["scope"], "logRecords": [parts["record"]]}]}


def otlp_span(field_name: str, text: str, n: int) -> dict:
    start = (BASE_MS + n) * 1_000_000
    parts = {
        "resource": [kv("service.name", sv("agent"))],
        "scope": {"name": "leak-matrix", "attributes": []},
        "span": {"traceId": f"{n + 1:032x}", "spanId": f"{n + 1:016x}", "name": "chat", "kind": 3,
                 "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1000),
                 "attributes": [kv("leak.cell", sv(str(n)))], "events": [], "links": []},
    }
    OTLP_SPAN_FIELDS[field_name](parts, text)
    return {"resource": {"attributes": parts["resource"]},
            "scopeSpans": [{"scope": parts["scope"], "spans": [parts["span"]]}]}


# A request the otlp receiver rejects (the text where a number belongs).
OTLP_REJECTED = {"rejected_request": None}


# --- the cells ----------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One credential, in one encoding, in one field, sent one way."""
    namespace: str        # "matrix", "transform", "sentinel" or "capture"
    via: str              # receiver and transport: "jsonl", "otlp/http", "otlp/grpc", "ebpf"
    cls: str
    row: int              # index in CREDENTIALS (-1: the canary or not a row)
    encoding: str
    field: str
    text: str             # as planted
    secret: str           # as it reads in that encoding

    def describe(self) -> str:
        return f"{self.cls} (row {self.row}) / {self.encoding} / {self.field} via {self.via}"


def cells(namespace: str, via: str, fields, encodings=ENCODINGS) -> list[Cell]:
    """A cell for every row (and the canary), encoding and field."""
    out = []
    for index, row in list(enumerate(CREDENTIALS)) + [(-1, CANARY)]:
        for enc_name in encodings:
            for field_name in fields:
                cred = generate(row, f"{namespace}/{via}/{index}/{enc_name}/{field_name}")
                encoded = ENCODINGS[enc_name](cred)
                if encoded is None:
                    continue
                text, secret = encoded
                out.append(Cell(namespace, via, cred.cls, index, enc_name, field_name, text, secret))
    return out


# --- searching outputs ----------------------------------------------------------

JSON_ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/bfnrt])')
SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")


def json_unescaped(text: str) -> str:
    """One level of JSON string escapes undone, wherever they are."""
    return JSON_ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5
                           else SIMPLE_ESCAPES[m.group(1)], text)


def percent_decoded(text: str) -> str:
    return urllib.parse.unquote(text, errors="replace")


def base64_decoded(text: str) -> str:
    """Every run of 16 or more base64 characters (either alphabet, padding
    optional) that decodes to text, one per line."""
    out = []
    for m in BASE64_RUN.finditer(text):
        run = m.group()
        if len(run) % 4 == 1:
            run = run[:-1]
        run += "=" * (-len(run) % 4)
        for altchars in (None, b"-_"):
            try:
                decoded = base64.b64decode(run, altchars=altchars, validate=True).decode("utf-8", "replace")
            except ValueError:
                continue
            # Random runs (ids, hashes, keys) decode to binary noise;
            # only text can hold a credential as text.
            if sum(ch.isprintable() or ch in "\n\r\t" for ch in decoded) >= 0.9 * len(decoded):
                out.append(decoded)
    return "\n".join(out)


PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Text kept around each escape when decoding only the parts that change:
# longer than any planted text in any encoding between two escapes.
REGION_CONTEXT = 1000


def escaped_regions(pattern: re.Pattern, decode: Callable[[str], str]) -> Callable[[str], str]:
    """A decoder that decodes only the regions of a text around `pattern`'s
    matches (text with no escape holds nothing new), one region a line."""
    def decoder(text: str) -> str:
        spans: list[list[int]] = []
        for m in pattern.finditer(text):
            start, end = max(0, m.start() - REGION_CONTEXT), m.end() + REGION_CONTEXT
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
        return "\n".join(decode(text[start:end]) for start, end in spans)
    return decoder


DECODERS = {"json": escaped_regions(JSON_ESCAPE, json_unescaped),
            "percent": escaped_regions(PERCENT_ESCAPE, percent_decoded),
            "base64": base64_decoded}


def decoded_views(text: str, depth: int = 4):
    """(name, text) of `text` and of every decoded form of it, nested up to
    `depth` decodings, each distinct text once."""
    seen = set()
    frontier = [("raw", text, depth)]
    while frontier:
        name, t, left = frontier.pop()
        key = hash(t)
        if key in seen:
            continue
        seen.add(key)
        yield name, t
        if left:
            for decoder_name, decode in DECODERS.items():
                d = decode(t)
                if d:
                    frontier.append((f"{name}>{decoder_name}", d, left - 1))


@dataclass
class Hit:
    cell: Cell
    output: str
    view: str
    excerpt: str


def find_secrets(outputs: dict[str, str], all_cells: list[Cell], workdir) -> list[Hit]:
    """Every cell whose secret is in some decoded view of some output,
    ignoring case. The search is GNU grep's fixed-string matcher, over all
    secrets at once and all views of an output at once."""
    by_secret: dict[bytes, list[Cell]] = {}
    for c in all_cells:
        assert "\n" not in c.secret, c  # one needle a line
        by_secret.setdefault(c.secret.lower().encode(), []).append(c)
    needles = workdir / "needles.txt"
    needles.write_bytes(b"".join(s + b"\n" for s in by_secret))
    hits = []
    for output, text in outputs.items():
        names, starts, parts, at_ = [], [], [], 0
        for view, t in decoded_views(text):
            data = t.encode("utf-8", "replace") + b"\n\0\n"
            names.append(view)
            starts.append(at_)
            parts.append(data)
            at_ += len(data)
        data = b"".join(parts)
        r = subprocess.run(["grep", "-a", "-b", "-F", "-i", "-o", "-f", str(needles)], input=data,
                           capture_output=True, env={"LC_ALL": "C"})
        assert r.returncode in (0, 1), r.stderr
        seen = set()
        for line in r.stdout.splitlines():
            offset, match = line.split(b":", 1)
            match = match.lower()
            if match in seen:
                continue
            seen.add(match)
            where = int(offset)
            view = names[bisect.bisect_right(starts, where) - 1]
            excerpt = data[max(0, where - 100):where + len(match) + 60].decode("utf-8", "replace")
            for c in by_secret.get(match, []):
                hits.append(Hit(c, output, view, excerpt))
    return hits


def report(hits: list[Hit], limit: int = 25) -> str:
    lines = [f"{h.cell.namespace}: {h.cell.describe()} -> {h.output} [{h.view}]: ...{h.excerpt!r}..."
             for h in hits[:limit]]
    return f"{len(hits)} leaks, first {min(limit, len(hits))}:\n" + "\n".join(lines)


# --- sinks ------------------------------------------------------------------------

class WebhookSink:
    """A local HTTP server that keeps every body it is sent."""

    def __init__(self):
        bodies = self.bodies = []
        lock = self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    bodies.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> int:
        with self.lock:
            return sum(len(json.loads(b).get("events", [])) for b in self.bodies)

    def text(self) -> str:
        with self.lock:
            return "\n".join(b.decode("utf-8", "replace") for b in self.bodies)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class WebsocketReader:
    """A client of oispd's `/ws/events` (what the live page reads), keeping
    every message."""

    def __init__(self, admin_port: int):
        self.url = f"ws://127.0.0.1:{admin_port}/ws/events"
        self.origin = f"http://127.0.0.1:{admin_port}"
        self.messages: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        try:
            with connect(self.url, max_size=None, origin=self.origin) as ws:
                for message in ws:
                    self.messages.append(message if isinstance(message, str) else message.decode("utf-8", "replace"))
        except ConnectionClosed:
            pass

    def text(self) -> str:
        self.thread.join(timeout=10)
        return "\n".join(self.messages)


def admin_get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.read().decode("utf-8", "replace")


def metric(admin_port: int, name: str, **labels) -> float:
    total = 0.0
    for line in admin_get(admin_port, "/metrics").splitlines():
        m = re.match(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


class Outputs:
    """Every exporter of oispd, with a real peer behind each one that sends
    anywhere, and what they all received."""

    LOG_EXPORTERS = ["file", "file/otlp", "otlp_grpc", "otlp_http", "webhook", "websocket", "debug"]
    TRACE_EXPORTERS = ["file", "file/otlp", "otlp_grpc", "otlp_http", "debug"]

    def __init__(self, workdir):
        self.workdir = workdir
        self.admin_port = free_port()
        self.oisp_path = workdir / "events.jsonl"
        self.otlp_path = workdir / "events.otlp.jsonl"
        self.grpc = OtelCol(workdir, "grpc", "otelcol-grpc")
        self.http = OtelCol(workdir, "http", "otelcol-http")
        self.webhook = WebhookSink()
        self.websocket: WebsocketReader | None = None

    def exporters_yaml(self) -> str:
        return f"""
exporters:
  file: {{path: {self.oisp_path}, format: oisp_jsonl, flush_interval: 0s}}
  file/otlp: {{path: {self.otlp_path}, format: json, flush_interval: 0s}}
  otlp_grpc: {{endpoint: "{self.grpc.endpoint}", tls: {{insecure: true}}}}
  otlp_http: {{endpoint: "{self.http.endpoint}"}}
  webhook: {{endpoint: "http://127.0.0.1:{self.webhook.port}/hook", batch_size: 500, flush_interval: 50ms}}
  websocket: {{client_buffer: 1000000}}
  debug: {{verbosity: detailed, sampling_initial: 1000000000}}
extensions:
  admin: {{endpoint: 127.0.0.1:{self.admin_port}}}
"""

    def connect_websocket(self):
        self.websocket = WebsocketReader(self.admin_port)
        wait_for(lambda: metric(self.admin_port, "oispd_exporter_websocket_connections") == 1,
                 what="the websocket client registered")

    def otlp_file_counts(self) -> tuple[int, int]:
        """(log records, spans) in the OTLP JSON file."""
        logs = spans = 0
        if self.otlp_path.exists():
            for line in read_jsonl(self.otlp_path):
                for rl in line.get("resourceLogs", []):
                    logs += sum(len(sl.get("logRecords", [])) for sl in rl.get("scopeLogs", []))
                for rs in line.get("resourceSpans", []):
                    spans += sum(len(ss.get("spans", [])) for ss in rs.get("scopeSpans", []))
        return logs, spans

    def counts(self) -> dict[str, tuple[int, int]]:
        """(log records, spans) each sink has."""
        ws = len(self.websocket.messages) if self.websocket else 0
        return {"file/otlp": self.otlp_file_counts(), "otlp_grpc": self.grpc.counts(),
                "otlp_http": self.http.counts(), "webhook": (self.webhook.events(), 0), "websocket": (ws, 0)}

    def wait_delivered(self, logs: int, spans: int, oispd: Oispd, timeout: float = 120):
        """Waits until every sink has `logs` log records and `spans` spans
        (the webhook and websocket carry no spans)."""
        expected = {"file/otlp": (logs, spans), "otlp_grpc": (logs, spans), "otlp_http": (logs, spans),
                    "webhook": (logs, 0), "websocket": (logs, 0)}
        deadline = time.monotonic() + timeout
        while True:
            have = self.counts()
            if all(have[k][0] >= n[0] and have[k][1] >= n[1] for k, n in expected.items()):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"not delivered: expected {expected}, have {have}\n{oispd.log()[-3000:]}")
            # Counting reads every output whole: not too often.
            time.sleep(0.5)

    def texts(self, oispd: Oispd, admin: str) -> dict[str, str]:
        """What each output holds (after oispd stopped)."""
        return {
            "file": self.oisp_path.read_text(errors="replace") if self.oisp_path.exists() else "",
            "file/otlp": self.otlp_path.read_text(errors="replace") if self.otlp_path.exists() else "",
            "otlp_grpc (otelcol)": self.grpc.output(),
            "otlp_http (otelcol)": self.http.output(),
            "webhook": self.webhook.text(),
            "websocket": self.websocket.text() if self.websocket else "",
            "log and debug exporter": oispd.log(),
            "admin (/api/health, /metrics)": admin,
        }

    def stop(self):
        self.grpc.stop()
        self.http.stop()
        self.webhook.stop()


# --- the matrix run -------------------------------------------------------------

TRANSFORM_STATEMENTS = [
    'set(log.attributes["leak.copy.prompt"], log.body["data"]["messages"][0]["content"])',
    'set(log.attributes["leak.copy.body"], log.body)',
    'set(resource.attributes["leak.copy.prompt"], log.body["data"]["messages"][0]["content"])',
    'set(log.severity_text, log.body["data"]["messages"][0]["content"])',
]


@dataclass
class MatrixRun:
    cells: list[Cell]
    hits: list[Hit]
    outputs: dict[str, str]
    otlp_file_lines: list[dict] = field(default_factory=list)
    oisp_file_lines: list[dict] = field(default_factory=list)

    def leaks(self, namespace: str, cls: str | None = None) -> list[Hit]:
        return [h for h in self.hits if h.cell.namespace == namespace and h.cell.cls != "canary"
                and (cls is None or h.cell.cls == cls)]


HEX_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def proto_json(v):
    """OTLP/JSON as protobuf's JSON mapping reads it: ids in base64, not hex."""
    if isinstance(v, dict):
        return {k: base64.b64encode(bytes.fromhex(x)).decode() if k in HEX_ID_KEYS and isinstance(x, str)
                else proto_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [proto_json(x) for x in v]
    return v


def export_grpc(port: int, logs: list[dict], spans: list[dict]) -> None:
    """Sends OTLP/JSON records as protobuf over gRPC (the official
    generated stubs), 250 per request."""
    import grpc
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        log_stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        for batch in chunks(logs, 250):
            req = json_format.ParseDict(proto_json({"resourceLogs": batch}),
                                        logs_service_pb2.ExportLogsServiceRequest())
            log_stub.Export(req, timeout=60)
        trace_stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        for batch in chunks(spans, 250):
            req = json_format.ParseDict(proto_json({"resourceSpans": batch}),
                                        trace_service_pb2.ExportTraceServiceRequest())
            trace_stub.Export(req, timeout=60)


def post_json(port: int, path: str, doc: dict) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(doc).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


@pytest.fixture(scope="module")
def matrix(oispd_bin, tmp_path_factory) -> MatrixRun:
    workdir = tmp_path_factory.mktemp("leak-matrix")
    outputs = Outputs(workdir)
    jsonl_cells = cells("matrix", "jsonl", JSONL_FIELDS)
    rejected_jsonl_cells = cells("matrix", "jsonl", JSONL_REJECTED)
    log_cells = cells("matrix", "otlp/http", OTLP_LOG_FIELDS) + cells("matrix", "otlp/grpc", OTLP_LOG_FIELDS)
    span_cells = cells("matrix", "otlp/http", OTLP_SPAN_FIELDS) + cells("matrix", "otlp/grpc", OTLP_SPAN_FIELDS)
    rejected_otlp_cells = cells("matrix", "otlp/http", OTLP_REJECTED, encodings=["raw"])
    transform_cells = cells("transform", "jsonl", {"message_content": JSONL_FIELDS["message_content"]},
                            encodings=["raw", "json_escaped"])
    sentinel_cells = cells("sentinel", "jsonl", SENTINEL_FIELDS, encodings=["raw", "json_escaped"])
    all_cells = (jsonl_cells + rejected_jsonl_cells + log_cells + span_cells + rejected_otlp_cells
                 + transform_cells + sentinel_cells)

    replays = {name: workdir / f"{name}.jsonl" for name in ("matrix", "transform", "sentinel")}
    for path in replays.values():
        path.write_text("")
    otlp_http, otlp_grpc = free_port(), free_port()
    audit_store = workdir / "audit.db"
    logs_to = ", ".join(Outputs.LOG_EXPORTERS)
    oispd = Oispd(oispd_bin, f"""
receivers:
  jsonl: {{path: {replays["matrix"]}, follow: true}}
  jsonl/transform: {{path: {replays["transform"]}, follow: true}}
  jsonl/sentinel: {{path: {replays["sentinel"]}, follow: true}}
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{otlp_http}}}
      grpc: {{endpoint: 127.0.0.1:{otlp_grpc}}}
processors:
  transform:
    log_statements:
      - context: log
        statements:
{"".join(f"          - '{s}'" + chr(10) for s in TRANSFORM_STATEMENTS)}
  sentinel:
    store: {{path: {audit_store}}}
{outputs.exporters_yaml()}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl, otlp], exporters: [{logs_to}]}}
    logs/transform: {{receivers: [jsonl/transform], processors: [transform], exporters: [{logs_to}]}}
    logs/sentinel: {{receivers: [jsonl/sentinel], processors: [sentinel], exporters: [{logs_to}]}}
    traces: {{receivers: [otlp], exporters: [{", ".join(Outputs.TRACE_EXPORTERS)}]}}
""", workdir)
    try:
        try:
            for port in (outputs.admin_port, otlp_http, otlp_grpc):
                wait_port(port)
        except TimeoutError:
            pytest.fail(f"oispd did not start:\n{oispd.log()}")
        outputs.connect_websocket()

        numbered = iter(range(1, 1 << 30))
        events = []
        for c in jsonl_cells + rejected_jsonl_cells:
            event = oisp_event(next(numbered))
            (JSONL_FIELDS | JSONL_REJECTED)[c.field](event, c.text)
            events.append(event)
        append_jsonl(replays["matrix"], events)
        append_jsonl(replays["transform"], [oisp_event(next(numbered), c.text) for c in transform_cells])
        events = []
        for c in sentinel_cells:
            event = oisp_event(next(numbered))
            SENTINEL_FIELDS[c.field](event, c.text)
            events.append(event)
        append_jsonl(replays["sentinel"], events)

        def records(make, fields, via):
            return [make(c.field, c.text, i) for i, c in enumerate(fields) if c.via == via]

        for batch in chunks(records(otlp_log, log_cells, "otlp/http"), 250):
            assert post_json(otlp_http, "/v1/logs", {"resourceLogs": batch}) == 200
        for batch in chunks(records(otlp_span, span_cells, "otlp/http"), 250):
            assert post_json(otlp_http, "/v1/traces", {"resourceSpans": batch}) == 200
        export_grpc(otlp_grpc, records(otlp_log, log_cells, "otlp/grpc"), records(otlp_span, span_cells, "otlp/grpc"))
        for c in rejected_otlp_cells:
            bad = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": c.text}]}]}]}
            assert post_json(otlp_http, "/v1/logs", bad) == 400

        # At least: the sentinel adds its findings.
        expected_logs = len(jsonl_cells) + len(log_cells) + len(transform_cells) + len(sentinel_cells)
        outputs.wait_delivered(expected_logs, len(span_cells), oispd)
        # Every matrix line but the rejected ones was accepted.
        assert metric(outputs.admin_port, "oispd_receiver_malformed_records", receiver="jsonl") == len(
            rejected_jsonl_cells)
        admin = admin_get(outputs.admin_port, "/api/health") + "\n" + admin_get(outputs.admin_port, "/metrics")
        code = oispd.stop()
        assert code == 0, oispd.log()[-3000:]
        # What oispd sent before it exited is what the collectors print.
        outputs.wait_delivered(expected_logs, len(span_cells), oispd, timeout=30)
        texts = outputs.texts(oispd, admin)
        texts["sentinel audit store"] = "\n".join(
            p.read_bytes().decode("utf-8", "replace") for p in sorted(workdir.glob("audit.db*")))
    finally:
        if oispd.proc.poll() is None:
            oispd.stop(signal.SIGKILL)
        outputs.stop()
    hits = find_secrets(texts, all_cells, workdir)
    return MatrixRun(all_cells, hits, texts, read_jsonl(outputs.otlp_path), read_jsonl(outputs.oisp_path))


# --- the tests ------------------------------------------------------------------------

@pytest.mark.parametrize("credential_class", CLASSES)
def test_no_output_holds_a_credential_of_this_class(matrix, credential_class):
    """Scenario: every row of the class, in every encoding and field,
    through both receivers, every exporter and the log.
    Guarantees: no decoded form of any output holds any of them."""
    planted = [c for c in matrix.cells if c.namespace == "matrix" and c.cls == credential_class]
    assert planted, credential_class
    leaks = matrix.leaks("matrix", credential_class)
    assert not leaks, report(leaks)


# Fields an output does not carry at all (nothing to search there): the
# webhook and websocket exporters take logs only; the debug exporter prints
# neither span links nor trace state.
SPAN_FIELDS = set(OTLP_SPAN_FIELDS)
NOT_CARRIED = {
    "file": set(),
    "file/otlp": set(),
    "otlp_grpc (otelcol)": set(),
    "otlp_http (otelcol)": set(),
    "webhook": SPAN_FIELDS,
    "websocket": SPAN_FIELDS,
    "log and debug exporter": {"span_link_attribute", "span_trace_state"},
}
# Rejected input is exported nowhere; every value under a sensitive key
# (`x-api-key`, `authorization`) is redacted whole, the canary too.
NEVER_SHOWN = set(JSONL_REJECTED) | set(OTLP_REJECTED) | {"header_array", "header_array_attribute"}


def test_the_search_finds_the_canary_in_every_output_field_and_encoding(matrix):
    """Scenario: the canary row (text no rule matches) in every cell.
    Guarantees: it is found in every output that carries its field, in
    every encoding, so a leak there could not hide from the search; and
    neither rejected input nor a value under a sensitive key is in any
    output."""
    canaries = [c for c in matrix.cells if c.namespace == "matrix" and c.cls == "canary"]
    found = {(h.output, h.cell) for h in matrix.hits if h.cell.cls == "canary"}
    missing = []
    for output, not_carried in NOT_CARRIED.items():
        for c in canaries:
            expected = c.field not in not_carried and c.field not in NEVER_SHOWN
            if expected != ((output, c) in found):
                missing.append(f"{output}: {c.describe()} {'missing' if expected else 'present'}")
    assert not missing, f"{len(missing)} mismatches, first 40:\n" + "\n".join(missing[:400])


def test_transform_copies_of_a_secret_are_redacted(matrix):
    """Scenario: a `transform` processor copies each OISP event's prompt
    (every credential row, raw and JSON-escaped) into an attribute, a
    resource attribute and the severity text, and the whole body into an
    attribute, before the exporters.
    Guarantees: the copies are exported (the canary's copies are there;
    the events share one resource, so its copy holds the last prompt of a
    batch) and no output holds any of the credentials."""
    canaries = [c.secret for c in matrix.cells if c.namespace == "transform" and c.cls == "canary"]
    copies = set()
    for line in matrix.otlp_file_lines:
        for rl in line.get("resourceLogs", []):
            for a in rl.get("resource", {}).get("attributes", []):
                if a["key"].startswith("leak.copy"):
                    copies.add(f"resource:{a['key']}")
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    for a in rec.get("attributes", []):
                        if any(canary in json.dumps(a) for canary in canaries):
                            copies.add(f"attribute:{a['key']}")
                    if any(canary in rec.get("severityText", "") for canary in canaries):
                        copies.add("severity_text")
    assert copies >= {"resource:leak.copy.prompt", "attribute:leak.copy.prompt", "attribute:leak.copy.body",
                      "severity_text"}, copies
    leaks = matrix.leaks("transform")
    assert not leaks, report(leaks)


def test_sentinel_findings_and_audit_store_hold_no_credential(matrix):
    """Scenario: OISP events whose prompt holds a credential of every row
    (raw and JSON-escaped) after filler of 0 to 300 characters go through
    the `sentinel` processor with an audit store.
    Guarantees: it reports them (a SEC-02 finding for each credential,
    exported and stored) and neither a finding in any output nor the audit
    store holds any of the credentials."""
    findings = [e for e in matrix.oisp_file_lines if e.get("event_type") == "security.finding"
                and e["data"].get("detector_id") == "SEC-02"]
    credentials = [c for c in matrix.cells if c.namespace == "sentinel" and c.cls != "canary"]
    assert len(findings) >= len(credentials), (len(findings), len(credentials))
    assert "SEC-02" in matrix.outputs["sentinel audit store"]
    leaks = matrix.leaks("sentinel")
    assert not leaks, report(leaks)


# --- the capture path ---------------------------------------------------------------

def first_row(cls: str) -> tuple[str, str]:
    return next(row for row in CREDENTIALS if row[0] == cls)


# Rows that are command lines: an agent's child runs them (their argv, with
# /bin/true as the program, so nothing else happens).
COMMAND_ROWS = [(i, row) for i, row in enumerate(CREDENTIALS)
                if row[1].split(" ", 1)[0] in ("env", "mysql", "docker", "curl")]

CAPTURE_CLIENT = """
import json, subprocess, sys
import anthropic, openai
openai_key, anthropic_key, commands = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
r = openai.OpenAI(api_key=openai_key).chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}], tools=tools)
print(r.choices[0].message.tool_calls[0].function.arguments)
m = anthropic.Anthropic(api_key=anthropic_key).messages.create(
    model="claude-3-5-haiku-latest", max_tokens=64, messages=[{"role": "user", "content": "weather?"}],
    tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
print(json.dumps(m.content[0].input))
for argv in commands:
    subprocess.run(argv, executable="/bin/true", check=True)
"""


def attacker_arguments(planted: dict[str, Credential]) -> dict:
    """What the model answers the tool call with: an attacker-written
    `$redacted` map beside credentials, and a nested `"$redacted": true`."""
    return {
        "$redacted": {"reason": "secret_detected", "detector": "none"},
        "url": "https://api.example.net/v1",
        "note": planted["openai_api_key"].text,
        "db": planted["url_credentials"].text,
        "nested": {"$redacted": True, "value": planted["github_token"].text,
                   "aws": planted["aws_secret_key"].text},
    }


@dataclass
class CaptureRun:
    cells: list[Cell]
    hits: list[Hit]
    outputs: dict[str, str]
    responses: list[dict]
    child_execs: list[dict]
    planted: dict[str, Credential]


@pytest.fixture(scope="module")
def capture_run(provider_env, oispd_bin, tmp_path_factory) -> CaptureRun:  # noqa: F811
    """One oispd with the `ebpf` receiver and every exporter; one agent (a
    Python process) makes an OpenAI and an Anthropic call whose answers
    carry the attacker's tool call, then runs the command rows as
    children."""
    workdir = tmp_path_factory.mktemp("leak-capture")
    planted = {cls: generate(first_row(cls), f"capture/{cls}")
               for cls in ["openai_api_key", "github_token", "url_credentials", "aws_secret_key"]}
    client_keys = {cls: generate(first_row(cls), f"capture/client/{cls}")
                   for cls in ["openai_api_key", "anthropic_api_key"]}
    commands = {i: generate(row, f"capture/command/{i}") for i, row in COMMAND_ROWS}
    arguments = attacker_arguments(planted)
    all_cells = [Cell("capture", "ebpf", c.cls, -1, "raw", "tool_call_arguments", c.text, c.secret)
                 for c in planted.values()]
    all_cells += [Cell("capture", "ebpf", c.cls, -1, "raw", "client_api_key", c.text, c.secret)
                  for c in client_keys.values()]
    all_cells += [Cell("capture", "ebpf", c.cls, i, "raw", "exec_argv", c.text, c.secret)
                  for i, c in commands.items()]

    outputs = Outputs(workdir)
    oispd = Oispd(oispd_bin, f"""
receivers:
  ebpf: {{activity: agents, ring_buffer_size: 4194304}}
{outputs.exporters_yaml()}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [ebpf], exporters: [{", ".join(Outputs.LOG_EXPORTERS)}]}}
    traces: {{receivers: [ebpf], exporters: [{", ".join(Outputs.TRACE_EXPORTERS)}]}}
""", workdir)
    provider = provider_env["provider"]
    provider.tool_arguments = arguments
    try:
        try:
            wait_for(lambda: "oispd is running" in oispd.log() or oispd.proc.poll() is not None,
                     timeout=120, what="oispd to start")
        except TimeoutError:
            pytest.fail(f"oispd did not start:\n{oispd.log()[-3000:]}")
        assert oispd.proc.poll() is None, f"oispd exited at start (needs root with BPF):\n{oispd.log()}"
        outputs.connect_websocket()
        argvs = [shlex.split(c.text) for c in commands.values()]
        client = subprocess.Popen([sys.executable, "-c", CAPTURE_CLIENT, client_keys["openai_api_key"].text,
                                   client_keys["anthropic_api_key"].text, json.dumps(argvs)],
                                  env=provider_env["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = client.communicate(timeout=90)
        assert client.returncode == 0, err
        # The clients got the attacker's arguments as sent.
        assert [json.loads(line) for line in out.splitlines()] == [arguments, arguments]

        def captured():
            if not outputs.oisp_path.exists():
                return None
            events = read_jsonl(outputs.oisp_path)
            responses = [e for e in events if e.get("event_type") == "ai.response"
                         and (e.get("process") or {}).get("pid") == client.pid]
            execs = [e for e in events if e.get("event_type") == "process.exec"
                     and (e.get("process") or {}).get("ppid") == client.pid]
            return (responses, execs) if len(responses) >= 2 and len(execs) >= len(argvs) else None

        try:
            responses, execs = wait_for(captured, timeout=60, what="both calls and every child's exec captured")
        except TimeoutError:
            pytest.fail(f"not captured:\n{oispd.log()[-3000:]}")

        def everywhere():
            shown = [outputs.webhook.text(), "\n".join(outputs.websocket.messages), outputs.grpc.output(),
                     outputs.http.output()]
            return all(t.count("https://api.example.net/v1") >= 2 for t in shown)

        try:
            wait_for(everywhere, timeout=60, what="the tool calls at every sink")
        except TimeoutError:
            pytest.fail(f"the tool calls did not reach every sink:\n{oispd.log()[-3000:]}")
        admin = admin_get(outputs.admin_port, "/api/health") + "\n" + admin_get(outputs.admin_port, "/metrics")
        assert oispd.stop() == 0, oispd.log()[-3000:]
        texts = outputs.texts(oispd, admin)
    finally:
        provider.tool_arguments = DEFAULT_TOOL_ARGUMENTS
        if oispd.proc.poll() is None:
            oispd.stop(signal.SIGKILL)
        outputs.stop()
    return CaptureRun(all_cells, find_secrets(texts, all_cells, workdir), texts, responses, execs, planted)


def test_redacted_key_in_a_captured_tool_call_switches_nothing_off(capture_run):
    """Scenario: the model's answer (fake OpenAI and Anthropic over real TLS,
    captured with the `ebpf` receiver) is a tool call whose arguments hold
    an attacker-written `"$redacted"` map next to credentials of several
    classes, and a nested map with `"$redacted": true` next to another;
    the clients authenticate with their own API keys (and have them in
    their command line).
    Guarantees: both calls and their tool calls are captured and exported
    to every exporter, each credential becomes a marker of its class, and
    no credential (the answer's or the clients') appears in any decoded
    form of any output or the log."""
    text = json.dumps(capture_run.responses)
    assert text.count("get_weather") >= 2, text
    assert text.count("https://api.example.net/v1") >= 2, text
    for cls in capture_run.planted:
        assert cls in text, f"no {cls} marker in {text}"
    for name in ["otlp_grpc (otelcol)", "otlp_http (otelcol)", "webhook", "websocket", "file/otlp",
                 "log and debug exporter"]:
        assert "https://api.example.net/v1" in capture_run.outputs[name], f"no captured tool call reached {name}"
    leaks = [h for h in capture_run.hits if h.cell.field != "exec_argv"]
    assert not leaks, report(leaks)


def test_captured_exec_arguments_hold_no_password(capture_run):
    """Scenario: the agent runs `env PGPASSWORD=...`, `mysql -p...`,
    `mysql --password=...`, `docker login --password ...`, `curl -u
    user:...`, `curl --user ...` and `curl -H "X-Vault-Token: ..."` as
    children, captured by the `ebpf` receiver as `process.exec` events;
    its own command line holds the same commands as JSON text.
    Guarantees: every exec is exported with its arguments (the programs'
    names are there) and no password or token appears in any output or
    the log."""
    programs = {(e["data"].get("args") or ["?"])[0] for e in capture_run.child_execs}
    assert programs == {"curl", "docker", "env", "mysql"}, capture_run.child_execs[:2]
    leaks = [h for h in capture_run.hits if h.cell.field == "exec_argv"]
    assert not leaks, report(leaks)
