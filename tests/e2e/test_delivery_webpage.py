"""End-to-end test of the live web page (issue #5) in a real browser:
headless Chromium (Debian's `chromium` package) driven by Playwright.

Scenario: oispd tails a JSONL file into the websocket exporter; the page at
http://<admin>/ is opened; AI calls (OpenAI streaming, Anthropic), and a
security finding about the OpenAI call, are appended to the file while the
page stays open; then a second wave.

Guarantees: without a reload, the page shows each call (time, process,
provider, model, tokens, latency, streaming), the totals by provider and
model, the finding (highlighted, with the flagged call, counted by
severity), and exporter
health from /api/health; the page loads nothing from outside oispd.
A screenshot is saved next to the test's files.
"""
import copy

import pytest

from conftest import free_port, http_get_json, spec_examples, wait_for
from delivery_support import BASE_MS, append_jsonl, rfc3339, ulid

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def call_pair(spec_dir, n, provider, model, pid, streaming, tokens_in, tokens_out, latency):
    """An ai.request / ai.response pair of call number `n`."""
    examples = spec_examples(spec_dir)
    req = copy.deepcopy(next(e for e in examples if e["event_type"] == "ai.request"))
    resp = copy.deepcopy(next(e for e in examples if e["event_type"] == "ai.response"))
    request_id = f"req_page_{n}"
    for i, e in enumerate((req, resp)):
        e["event_id"] = ulid(BASE_MS + 10 * n + i, 1000 + 10 * n + i)
        e["ts"] = rfc3339(BASE_MS + 10 * n + i)
        e.pop("ts_mono", None)
        e["process"]["pid"] = pid
        e["process"]["name"] = "python3"
        e["data"]["request_id"] = request_id
        e["data"]["provider"]["name"] = provider
        e["data"]["model"] = {"id": model}
        e.pop("related_events", None)
    req["data"]["streaming"] = streaming
    resp["data"]["usage"] = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                             "total_tokens": tokens_in + tokens_out}
    resp["data"]["latency_ms"] = latency
    return req, resp


def serve_page(start_oispd, src, websocket="{}", admin_auth=""):
    """Starts oispd replaying `src` (followed) to the websocket exporter
    (`websocket`: its settings, as YAML flow) with the admin server on a
    free loopback port; returns the page's base URL."""
    admin = free_port()
    start_oispd(f"""
receivers:
  jsonl: {{path: {src}, follow: true}}
exporters:
  websocket: {websocket}
extensions:
  admin:
    endpoint: 127.0.0.1:{admin}
{admin_auth}service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl], exporters: [websocket]}}
""", wait_ports=[admin])
    return f"http://127.0.0.1:{admin}"


def finding_about(event, n):
    f = copy.deepcopy(event)
    f["event_id"] = ulid(BASE_MS + 10 * n + 5, 5000 + n)
    f["event_type"] = "security.finding"
    f["data"] = {
        "finding_id": ulid(BASE_MS + 10 * n + 6, 6000 + n),
        "detector_id": "SEC-03",
        "detector_name": "secret-in-prompt",
        "severity": "high",
        "summary": "API key pasted into a prompt",
    }
    f["related_events"] = [{"event_id": event["event_id"], "relationship": "caused_by"}]
    return f


def test_page_shows_calls_totals_findings_and_health_live(start_oispd, tmp_path, spec_dir):
    from playwright.sync_api import expect, sync_playwright

    src = tmp_path / "live.jsonl"
    src.write_text("")
    base = serve_page(start_oispd, src)
    openai_req, openai_resp = call_pair(spec_dir, 1, "openai", "gpt-4o", 4242, True, 1823, 156, 2222)
    claude_req, claude_resp = call_pair(spec_dir, 2, "anthropic", "claude-sonnet-4", 5151, False, 900, 300, 1500)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        outside = []
        page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("ws" + base.removeprefix("http"))
                else outside.append(r.url))
        page.goto(base + "/")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        # Mark this document: a reload would lose the mark.
        page.evaluate("window.__oispdTestMark = 42")

        append_jsonl(src, [openai_req, openai_resp, claude_req, claude_resp])
        calls = page.locator("#calls tbody tr")
        expect(calls).to_have_count(2)
        openai_row = page.locator("#calls tbody tr[data-key='req_page_1'] td")
        expect(openai_row.nth(1)).to_have_text("python3 (4242)")
        expect(openai_row.nth(2)).to_have_text("openai")
        expect(openai_row.nth(3)).to_have_text("gpt-4o")
        expect(openai_row.nth(4)).to_have_text("1,823")
        expect(openai_row.nth(5)).to_have_text("156")
        expect(openai_row.nth(6)).to_have_text("2,222 ms")
        expect(openai_row.nth(7)).to_have_text("yes")
        expect(openai_row.nth(8)).to_have_text("ok")
        claude_row = page.locator("#calls tbody tr[data-key='req_page_2'] td")
        expect(claude_row.nth(2)).to_have_text("anthropic")
        expect(claude_row.nth(3)).to_have_text("claude-sonnet-4")
        expect(claude_row.nth(7)).to_have_text("no")
        expect(page.locator("#totals tbody tr")).to_have_count(2)
        expect(page.locator("#stat-calls")).to_have_text("2")

        # A finding about the OpenAI call, and a second OpenAI call.
        again_req, again_resp = call_pair(spec_dir, 3, "openai", "gpt-4o", 4243, False, 100, 20, 800)
        append_jsonl(src, [finding_about(openai_req, 1), again_req, again_resp])
        expect(page.locator("#findings tbody tr")).to_have_count(1)
        expect(page.locator("#findings-by-severity span")).to_have_text(["high 1"])
        finding = page.locator("#findings tbody tr td")
        expect(finding.nth(1)).to_have_text("high")
        expect(finding.nth(2)).to_have_text("SEC-03 secret-in-prompt")
        expect(finding.nth(3)).to_have_text("API key pasted into a prompt")
        expect(page.locator("#findings-section")).to_have_class("wide has-findings")
        expect(page.locator("#calls tbody tr[data-key='req_page_1']")).to_have_class("flagged")
        expect(calls).to_have_count(3)
        gpt_total = page.locator("#totals tbody tr", has_text="gpt-4o").locator("td")
        expect(gpt_total.nth(2)).to_have_text("2")
        expect(gpt_total.nth(3)).to_have_text("1,923")
        expect(gpt_total.nth(4)).to_have_text("176")
        expect(gpt_total.nth(5)).to_have_text("1,511 ms")

        # Exporter health, polled from /api/health.
        chip = page.locator("#health .chip[data-exporter='websocket']")
        expect(chip).to_have_attribute("data-status", "ok")
        expect(chip.locator(".detail")).to_have_text("7 exported", timeout=10_000)
        expect(page.locator("#health-overall")).to_have_text("healthy")

        assert page.evaluate("window.__oispdTestMark") == 42, "the page reloaded"
        page.screenshot(path=str(tmp_path / "live-page.png"), full_page=True)
        browser.close()
    assert outside == [], f"the page loaded resources from outside oispd: {outside}"


def test_page_with_admin_token(start_oispd, tmp_path, spec_dir):
    """Scenario: the admin server has `auth` (bearer_token_file). The page is
    opened once with the token in its URL fragment (`/#token=...`), and once
    without it, where the user types a wrong token, then the right one.

    Guarantees: with the fragment, the page goes live, shows calls from the
    stream and health from /api/health, and drops the token from the address
    bar; without it, the page asks for the token (the stream and health are
    refused), a wrong token keeps it asking, and the right one makes it live
    without a reload. The token never appears in any request URL but the
    stream's own handshake.
    """
    from playwright.sync_api import expect, sync_playwright

    token = "page-admin-token-0123456789abcdef"
    token_file = tmp_path / "admin.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    src = tmp_path / "live.jsonl"
    src.write_text("")
    base = serve_page(start_oispd, src, admin_auth=f"    auth: {{bearer_token_file: {token_file}}}\n")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        urls = []

        # With the token in the fragment.
        page = browser.new_page()
        page.on("request", lambda r: urls.append(r.url))
        page.goto(base + "/#token=" + token)
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        expect(page.locator("#auth")).to_be_hidden()
        assert "token" not in page.url, page.url
        req, resp = call_pair(spec_dir, 1, "openai", "gpt-4o", 4242, True, 10, 5, 100)
        append_jsonl(src, [req, resp])
        expect(page.locator("#calls tbody tr")).to_have_count(1)
        expect(page.locator("#health-overall")).to_have_text("healthy", timeout=10_000)
        page.close()

        # Without it (a new context: nothing in sessionStorage).
        context = browser.new_context()
        page = context.new_page()
        page.on("request", lambda r: urls.append(r.url))
        page.goto(base + "/")
        expect(page.locator("#auth")).to_be_visible()
        expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
        page.fill("#auth-token", "wrong-token-0123456789abcdef")
        page.click("#auth button")
        expect(page.locator("#auth")).to_be_visible(timeout=10_000)
        expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
        page.fill("#auth-token", token)
        page.click("#auth button")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        expect(page.locator("#auth")).to_be_hidden()
        req, resp = call_pair(spec_dir, 2, "anthropic", "claude-sonnet-4", 5151, False, 10, 5, 100)
        append_jsonl(src, [req, resp])
        expect(page.locator("#calls tbody tr[data-key='req_page_2']")).to_have_count(1)
        expect(page.locator("#health-overall")).to_have_text("healthy", timeout=10_000)
        browser.close()
    leaked = [u for u in urls if token in u and not u.startswith(f"ws://127.0.0.1:{admin}/ws/events?")]
    assert leaked == [], leaked


def test_page_opened_after_calls_shows_them(start_oispd, tmp_path, spec_dir):
    """Scenario: two AI calls are exported before any page is open; then the
    page opens; then a third call arrives.
    Guarantees: the page shows the two earlier calls and their totals (the
    exporter's history), then the third live, each call once; the totals
    table and the header carry the calls' cost; the per-minute chart sums
    calls, tokens and cost by model and agent; the agent, provider and
    model filters narrow the calls table."""
    from playwright.sync_api import expect, sync_playwright

    src = tmp_path / "live.jsonl"
    src.write_text("")
    base = serve_page(start_oispd, src, websocket="{history: 100}")
    first = call_pair(spec_dir, 1, "openai", "gpt-4o", 4242, True, 1823, 156, 2222)
    second = call_pair(spec_dir, 2, "anthropic", "claude-sonnet-4", 5151, False, 900, 300, 1500)
    first[1]["data"]["usage"]["total_cost_usd"] = 0.006117
    second[1]["data"]["usage"]["total_cost_usd"] = 0.0072
    append_jsonl(src, [*first, *second])
    wait_for(lambda: http_get_json(base + "/api/health")["exports"]["websocket"]["events_exported"] >= 4,
             what="the four events exported before the page opens")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        calls = page.locator("#calls tbody tr")
        expect(calls).to_have_count(2)
        expect(page.locator("#calls tbody tr[data-key='req_page_1'] td").nth(3)).to_have_text("gpt-4o")
        expect(page.locator("#stat-calls")).to_have_text("2")
        expect(page.locator("#totals tbody tr")).to_have_count(2)
        expect(page.locator("#stat-cost")).to_have_text("$0.013317")

        third = call_pair(spec_dir, 3, "openai", "gpt-4o", 4243, False, 100, 20, 800)
        third[1]["data"]["usage"]["total_cost_usd"] = 0.0005
        append_jsonl(src, list(third))
        expect(calls).to_have_count(3)
        expect(page.locator("#stat-calls")).to_have_text("3")
        gpt_total = page.locator("#totals tbody tr", has_text="gpt-4o").locator("td")
        expect(gpt_total.nth(2)).to_have_text("2")
        expect(gpt_total.nth(6)).to_have_text("$0.006617")
        claude_total = page.locator("#totals tbody tr", has_text="claude-sonnet-4").locator("td")
        expect(claude_total.nth(6)).to_have_text("$0.0072")
        expect(page.locator("#stat-cost")).to_have_text("$0.013817")

        # The per-minute chart: calls by model, tokens by agent.
        def chart_sums():
            return page.evaluate("""() => {
                const sums = {};
                for (const r of document.querySelectorAll('#chart rect')) {
                    sums[r.dataset.group] = (sums[r.dataset.group] || 0) + Number(r.dataset.value);
                }
                return sums;
            }""")
        page.select_option("#chart-group", "model")
        assert chart_sums() == {"gpt-4o": 2, "claude-sonnet-4": 1}
        expect(page.locator("#chart-legend span")).to_have_text(["gpt-4o", "claude-sonnet-4"])
        page.select_option("#chart-measure", "tokens")
        page.select_option("#chart-group", "agent")
        assert chart_sums() == {"python3": 1823 + 156 + 900 + 300 + 100 + 20}
        page.select_option("#chart-measure", "cost")
        assert chart_sums()["python3"] == pytest.approx(0.013817)

        # Filters narrow the calls table to one provider, model or agent.
        visible = page.locator("#calls tbody tr:visible")
        page.select_option("#filter-provider", "anthropic")
        expect(visible).to_have_count(1)
        expect(visible.locator("td").nth(3)).to_have_text("claude-sonnet-4")
        page.select_option("#filter-provider", "")
        page.select_option("#filter-model", "gpt-4o")
        expect(visible).to_have_count(2)
        page.select_option("#filter-model", "")
        expect(visible).to_have_count(3)
        expect(page.locator("#filter-agent option")).to_have_text(["all", "python3"])
        page.screenshot(path=str(tmp_path / "live-page-history.png"), full_page=True)
        browser.close()
