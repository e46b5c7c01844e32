"""End-to-end test of the websocket exporter (issue #5) with real WebSocket
clients (the `websockets` package) against the real binary.

Scenario: oispd tails a JSONL file into a websocket exporter (client_buffer
64) and a file exporter. Three clients connect to /ws/events: one reads
everything, one asks for `?event_type=ai.resp`, and one never reads (a tiny
receive buffer, a one-message queue). Thousands of events are appended.

Guarantees: the silent client is disconnected and counted
(`oispd_exporter_websocket_clients_dropped` = 1); the reading client gets
every event, exact OISP JSON, in the order they happened; the filtered
client gets exactly the responses; the file exporter writes every event; oispd stops cleanly.
"""
import asyncio
import json
import socket
import urllib.request

from conftest import free_port, read_jsonl, wait_for
from delivery_support import agent_events, append_jsonl


def metric(admin_port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def websocket_config(src, out, admin_port, client_buffer):
    return f"""
receivers:
  jsonl: {{path: {src}, follow: true}}
exporters:
  websocket: {{client_buffer: {client_buffer}}}
  file: {{path: {out}, format: oisp_jsonl, flush_interval: 0s}}
extensions:
  admin: {{endpoint: 127.0.0.1:{admin_port}}}
service:
  extensions: [admin]
  pipelines:
    logs: {{receivers: [jsonl], exporters: [websocket, file]}}
"""


def test_silent_client_is_cut_off_pipeline_and_readers_go_on(start_oispd, tmp_path, spec_dir):
    import websockets

    src = tmp_path / "live.jsonl"
    src.write_text("")
    out = tmp_path / "out.jsonl"
    admin = free_port()
    o = start_oispd(websocket_config(src, out, admin, 64), wait_ports=[admin])
    url = f"ws://127.0.0.1:{admin}/ws/events"

    events = agent_events(spec_dir, 3000)
    # ~10 KB per event, so that the silent client's socket buffers fill.
    for e in events:
        e["data"]["padding"] = "p" * 10_000
    responses = [e["event_id"] for e in events if e["event_type"] == "ai.response"]

    async def scenario():
        # The silent client: a tiny kernel receive buffer and a one-message
        # queue in the library, and it never calls recv().
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", admin))
        silent = await websockets.connect(url, sock=raw, max_queue=1, max_size=None)
        reader = await websockets.connect(url, max_size=None)
        filtered = await websockets.connect(url + "?event_type=ai.resp", max_size=None)
        # All three are registered once the server counted them.
        await asyncio.to_thread(
            wait_for, lambda: metric(admin, "oispd_exporter_websocket_connections") == 3,
            20, "three websocket connections")

        got, got_filtered = [], []

        async def read(ws, into):
            async for m in ws:
                into.append(json.loads(m))

        reading = asyncio.create_task(read(reader, got))
        reading_filtered = asyncio.create_task(read(filtered, got_filtered))
        # Append in chunks; the next chunk goes once the reader has the
        # previous one (this test is about the silent client, not about
        # racing the reader).
        for start in range(0, len(events), 200):
            append_jsonl(src, events[start:start + 200])
            target = start + len(events[start:start + 200])
            for _ in range(600):
                if len(got) >= target:
                    break
                await asyncio.sleep(0.05)
            assert len(got) >= target, f"reader stalled at {len(got)} of {target}"
        for _ in range(600):
            if len(got_filtered) >= len(responses):
                break
            await asyncio.sleep(0.05)
        await reader.close()
        await filtered.close()
        await asyncio.gather(reading, reading_filtered)

        # The silent client was cut off: once its buffered data is read,
        # the connection is closed.
        async def drain():
            try:
                async for _ in silent:
                    pass
            except websockets.ConnectionClosed:
                pass

        await asyncio.wait_for(drain(), timeout=60)
        return got, got_filtered

    got, got_filtered = asyncio.run(scenario())

    assert [e["event_id"] for e in got] == [e["event_id"] for e in events]
    assert got == events
    assert [e["event_id"] for e in got_filtered] == responses
    assert metric(admin, "oispd_exporter_websocket_clients_dropped") == 1
    # The pipeline went on: the file has every event.
    lines = wait_for(lambda: len(read_jsonl(out)) >= len(events) and read_jsonl(out), what="every event in the file")
    assert sorted(l["event_id"] for l in lines) == sorted(e["event_id"] for e in events)
    assert o.stop() == 0, o.log()
    assert "websocket client too slow; disconnected" in o.log()
