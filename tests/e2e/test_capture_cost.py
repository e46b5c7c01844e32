"""What captured AI calls cost, end to end, as root: the official `openai`
and `anthropic` SDKs call the fake provider (fake_provider.py) while oispd
captures them with eBPF, with the official OISP catalogue (`models.json`)
and a pricing file configured on the `ebpf` receiver.

For each call the test checks the exact `usage.input_cost_usd`,
`output_cost_usd` and `total_cost_usd` of the `ai.response` event (and the
`ai.cost.total_usd` attribute of its OTLP log record) against the
catalogue's prices, computed here in decimal from the same models.json:
cached OpenAI input at the cache-read price, Anthropic cache reads and cache
writes at theirs, a dated model id at its undated catalogue entry, the
pricing file's price winning over the catalogue's and adding a model, and
no cost at all for a model nobody prices.

Needs root, BPF, port 443 free and python3 with openai/anthropic
(scripts/setup.sh installs them):

    OISPD_BIN=$CARGO_TARGET_DIR/debug/oispd OISP_SPEC_DIR=$PWD/spec/oisp-spec \\
        python3 -m pytest -q tests/e2e/test_capture_cost.py
"""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from conftest import Oispd, _spec_dir, free_port, read_jsonl
from fake_provider import (
    ANTHROPIC_CACHED,
    ANTHROPIC_STREAM,
    OPENAI_CACHED,
    OPENAI_PLAIN,
    OPENAI_STREAM,
    provider_env,  # noqa: F401  (fixture)
)
from test_capture import ANTHROPIC_KEY, OPENAI_KEY, Capture, check_clean, python_client, wait_calls

# The pricing file: a negotiated rate for gpt-4.1 and an in-house model.
PRICING_FILE = """
models:
  - {model: gpt-4.1, provider: openai, input_cost_per_1k: "0.0015", output_cost_per_1k: 0.006}
  - {model: acme-internal-1, provider: openai, input_cost_per_1k: 0.0005, output_cost_per_1k: 0.0015}
"""
FILE_PRICES = {
    "gpt-4.1": {"input_cost_per_1k": "0.0015", "output_cost_per_1k": "0.006"},
    "acme-internal-1": {"input_cost_per_1k": "0.0005", "output_cost_per_1k": "0.0015"},
}


@pytest.fixture(scope="module")
def priced_capture(provider_env, oispd_bin, tmp_path_factory):  # noqa: F811
    workdir = tmp_path_factory.mktemp("capture-cost")
    events_path, records_path = workdir / "events.jsonl", workdir / "records.jsonl"
    pricing = workdir / "prices.yaml"
    pricing.write_text(PRICING_FILE)
    catalog = _spec_dir() / "semconv/providers/_generated/models.json"
    config = f"""
extensions:
  admin: {{endpoint: 127.0.0.1:{free_port()}}}
receivers:
  ebpf:
    ring_buffer_size: 4194304
    providers: {{catalog: {catalog}, pricing_file: {pricing}}}
exporters:
  file:
    path: {events_path}
    format: oisp_jsonl
    flush_interval: 0s
  file/otlp:
    path: {records_path}
    format: json
    flush_interval: 0s
service:
  extensions: [admin]
  pipelines:
    logs:
      receivers: [ebpf]
      exporters: [file, file/otlp]
"""
    oispd = Oispd(oispd_bin, config, workdir)
    oispd.wait_running("the capture tests need root with BPF")
    capture = Capture(oispd, events_path, workdir / "no-spans.jsonl", provider_env["env"], workdir, 0)
    capture.records_path = records_path
    yield capture
    code = oispd.stop()
    assert code == 0, oispd.log()


def catalog_price(provider: str, model: str) -> dict:
    models = json.loads((_spec_dir() / "semconv/providers/_generated/models.json").read_text())["models"]
    found = [m for m in models.values() if m["provider"] == provider and m["id"] == model]
    assert len(found) == 1, f"{provider}/{model} in the catalogue: {found}"
    return found[0]


def dec(v) -> Decimal:
    """A price or cost as the decimal its JSON text writes."""
    return Decimal(v if isinstance(v, str) else repr(v))


def expected_cost(price: dict, prompt: int, completion: int, cached: int = 0, written: int = 0):
    fresh = prompt - cached - written
    input_cost = (fresh * dec(price["input_cost_per_1k"])
                  + cached * dec(price.get("cache_read_cost_per_1k", 0))
                  + written * dec(price.get("cache_write_cost_per_1k", 0))) / 1000
    output_cost = completion * dec(price["output_cost_per_1k"]) / 1000
    return input_cost, output_cost, input_cost + output_cost


def costs_of(resp: dict):
    u = resp["data"]["usage"]
    return tuple(dec(u[k]) if k in u else None for k in ("input_cost_usd", "output_cost_usd", "total_cost_usd"))


def record_attributes(capture, event_id: str) -> dict:
    """The attributes of the OTLP log record of an event, as {key: value}."""
    if not capture.records_path.exists():
        return {}
    for line in read_jsonl(capture.records_path):
        for rl in line.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    if event_id in json.dumps(rec.get("body", {})):
                        return {a["key"]: a["value"] for a in rec.get("attributes", [])}
    return {}


OPENAI_CLIENT = f"""
import openai
c = openai.OpenAI(api_key={OPENAI_KEY!r})
msgs = [{{"role": "user", "content": "Say hello"}}]
c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
c.chat.completions.create(model="gpt-4o-2024-08-06", messages=msgs, extra_body={{"prompt_cache_key": "e2e"}})
for _ in c.chat.completions.create(model="gpt-4.1-2025-04-14", messages=msgs, stream=True,
                                   stream_options={{"include_usage": True}}):
    pass
c.chat.completions.create(model="acme-internal-1", messages=msgs)
c.chat.completions.create(model="my-finetune-7b", messages=msgs)
"""

ANTHROPIC_CLIENT = f"""
import anthropic
c = anthropic.Anthropic(api_key={ANTHROPIC_KEY!r})
msgs = [{{"role": "user", "content": "Say hello"}}]
system = [{{"type": "text", "text": "You are terse.", "cache_control": {{"type": "ephemeral"}}}}]
c.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=64, system=system, messages=msgs)
with c.messages.stream(model="claude-3-5-haiku-20241022", max_tokens=64, messages=msgs) as s:
    "".join(s.text_stream)
"""


def test_openai_calls_cost_the_catalogue_and_pricing_file_prices(priced_capture):
    pid, _ = python_client(priced_capture, OPENAI_CLIENT)
    calls = wait_calls(priced_capture, pid, 5, "the openai SDK's five calls")
    want = {
        "gpt-4o-mini": expected_cost(catalog_price("openai", "gpt-4o-mini"),
                                     OPENAI_PLAIN["prompt_tokens"], OPENAI_PLAIN["completion_tokens"]),
        "gpt-4o-2024-08-06": expected_cost(
            catalog_price("openai", "gpt-4o-2024-08-06"), OPENAI_CACHED["prompt_tokens"],
            OPENAI_CACHED["completion_tokens"], cached=OPENAI_CACHED["prompt_tokens_details"]["cached_tokens"]),
        # Dated and absent from the catalogue: priced as gpt-4.1, whose
        # pricing-file price wins over the catalogue's.
        "gpt-4.1-2025-04-14": expected_cost(FILE_PRICES["gpt-4.1"], OPENAI_STREAM["prompt_tokens"],
                                            OPENAI_STREAM["completion_tokens"]),
        "acme-internal-1": expected_cost(FILE_PRICES["acme-internal-1"], OPENAI_PLAIN["prompt_tokens"],
                                         OPENAI_PLAIN["completion_tokens"]),
        "my-finetune-7b": (None, None, None),
    }
    assert expected_cost(FILE_PRICES["gpt-4.1"], 1, 1) != expected_cost(catalog_price("openai", "gpt-4.1"), 1, 1)
    for model, cost in want.items():
        req, resp = calls[model][0]
        assert costs_of(resp) == cost, (model, resp["data"]["usage"])
    cached = calls["gpt-4o-2024-08-06"][0][1]["data"]["usage"]
    assert cached["cached_tokens"] == OPENAI_CACHED["prompt_tokens_details"]["cached_tokens"]
    assert costs_of(calls["gpt-4o-mini"][0][1]) == (Decimal("0.00000195"), Decimal("0.0000042"),
                                                    Decimal("0.00000615"))
    total = priced_capture.wait(
        lambda: record_attributes(priced_capture, calls["gpt-4o-mini"][0][1]["event_id"]).get("ai.cost.total_usd"),
        "the OTLP record of the gpt-4o-mini response")
    assert dec(total["doubleValue"]) == want["gpt-4o-mini"][2]
    check_clean(priced_capture.of_pid(pid))


def test_anthropic_cache_reads_and_writes_cost_their_prices(priced_capture):
    pid, _ = python_client(priced_capture, ANTHROPIC_CLIENT)
    calls = wait_calls(priced_capture, pid, 2, "the anthropic SDK's two calls")
    c = ANTHROPIC_CACHED
    prompt = c["input_tokens"] + c["cache_read_input_tokens"] + c["cache_creation_input_tokens"]
    sonnet = catalog_price("anthropic", "claude-sonnet-4-5-20250929")
    assert "cache_write_cost_per_1k" in sonnet and "cache_read_cost_per_1k" in sonnet
    want = {
        "claude-sonnet-4-5-20250929": expected_cost(sonnet, prompt, c["output_tokens"],
                                                    cached=c["cache_read_input_tokens"],
                                                    written=c["cache_creation_input_tokens"]),
        "claude-3-5-haiku-20241022": expected_cost(catalog_price("anthropic", "claude-3-5-haiku-20241022"),
                                                   ANTHROPIC_STREAM["input_tokens"],
                                                   ANTHROPIC_STREAM["output_tokens"]),
    }
    for model, cost in want.items():
        assert costs_of(calls[model][0][1]) == cost, (model, calls[model][0][1]["data"]["usage"])
    usage = calls["claude-sonnet-4-5-20250929"][0][1]["data"]["usage"]
    assert (usage["prompt_tokens"], usage["cached_tokens"], usage["cache_creation_tokens"]) == (
        prompt, c["cache_read_input_tokens"], c["cache_creation_input_tokens"])
    assert costs_of(calls["claude-sonnet-4-5-20250929"][0][1]) == (
        Decimal("0.002103"), Decimal("0.000135"), Decimal("0.002238"))
    check_clean(priced_capture.of_pid(pid))
