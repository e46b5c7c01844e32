"""The OpenAI Responses API's WebSocket mode for the fake provider
(fake_provider.py): `GET /v1/responses` with `Upgrade: websocket` on the
same TLS server, spoken with the `websockets` package's sans-I/O server
(permessage-deflate accepted when the client offers it, with context
takeover, as api.openai.com and Codex's recorded sessions do).

Each `response.create` is answered with the events of one turn, like the
real API: `response.created`, `response.in_progress`, then either a
`function_call` to `exec_command` (when the request offers tools and
carries no tool output) or a text answer in `response.output_text.delta`
pieces (when it carries a `function_call_output`, or has no tools), then
`response.completed` with usage. A `generate: false` prewarm gets
`response.created` and an empty `response.completed`. The model is the one
asked for; the usage comes from the constants below.
"""
from __future__ import annotations

import itertools
import json
import time

# Usage reported by the fake, in the Responses API's names.
WS_TOOL_USAGE = {"input_tokens": 52, "output_tokens": 14, "total_tokens": 66}
WS_TEXT_USAGE = {"input_tokens": 61, "output_tokens": 6, "total_tokens": 67}
WS_TOOL_CALL_ID = "call_ws_exec_0001"
WS_TOOL_ARGS = {"cmd": "echo oispd-ws"}
WS_REPLY_PARTS = ["The ", "tool ", "said ", "oispd-ws."]
# Pause between events, so that a turn really is a sequence of reads.
PAUSE = 0.02

_ids = itertools.count(1)


def turn_events(req: dict) -> list[dict]:
    """The server's messages answering one response.create."""
    n = next(_ids)
    rid = f"resp_ws_{n:04d}"
    model = req.get("model", "unknown")
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model}
    events = [{"type": "response.created", "response": {**base, "status": "in_progress", "output": [], "usage": None}}]
    if req.get("generate") is False:
        done = {**base, "status": "completed", "output": [],
                "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}
        return events + [{"type": "response.completed", "response": done}]
    events.append({"type": "response.in_progress", "response": {**base, "status": "in_progress", "output": [], "usage": None}})
    items = req.get("input") if isinstance(req.get("input"), list) else []
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if req.get("tools") and not answered:
        args = json.dumps(WS_TOOL_ARGS)
        item = {"id": f"fc_ws_{n:04d}", "type": "function_call", "status": "in_progress",
                "call_id": WS_TOOL_CALL_ID, "name": "exec_command", "arguments": ""}
        events.append({"type": "response.output_item.added", "output_index": 0, "item": item})
        for piece in (args[:7], args[7:]):
            events.append({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                           "output_index": 0, "delta": piece})
        final = {**item, "status": "completed", "arguments": args}
        events.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                       "output_index": 0, "arguments": args})
        events.append({"type": "response.output_item.done", "output_index": 0, "item": final})
        output, usage = [final], WS_TOOL_USAGE
    else:
        mid = f"msg_ws_{n:04d}"
        text = "".join(WS_REPLY_PARTS)
        events.append({"type": "response.output_item.added", "output_index": 0,
                       "item": {"id": mid, "type": "message", "status": "in_progress", "role": "assistant", "content": []}})
        for piece in WS_REPLY_PARTS:
            events.append({"type": "response.output_text.delta", "item_id": mid, "output_index": 0,
                           "content_index": 0, "delta": piece})
        final = {"id": mid, "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": text, "annotations": []}]}
        events.append({"type": "response.output_item.done", "output_index": 0, "item": final})
        output, usage = [final], WS_TEXT_USAGE
    events.append({"type": "response.completed",
                   "response": {**base, "status": "completed", "output": output, "usage": usage}})
    return events


def serve(handler, record) -> None:
    """Serves one upgraded connection on a BaseHTTPRequestHandler whose
    request head has been read; `record(message_bytes)` is called for each
    client message."""
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
    from websockets.frames import Opcode
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    proto = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()])
    head = handler.requestline + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in handler.headers.items()) + "\r\n"
    proto.receive_data(head.encode("latin-1"))
    request = proto.events_received()[0]
    proto.send_response(proto.accept(request))
    sock = handler.connection
    handler.close_connection = True

    def flush():
        for chunk in proto.data_to_send():
            if chunk:
                sock.sendall(chunk)

    flush()
    while proto.state is not State.CLOSED:
        data = handler.rfile.read1(65536)
        if not data:
            proto.receive_eof()
            flush()
            return
        proto.receive_data(data)
        for frame in proto.events_received():
            if frame.opcode is not Opcode.TEXT:
                continue
            record(frame.data)
            try:
                req = json.loads(frame.data)
            except ValueError:
                continue
            if req.get("type") != "response.create":
                continue
            for i, ev in enumerate(turn_events(req)):
                if i:
                    time.sleep(PAUSE)
                proto.send_text(json.dumps(ev).encode())
                flush()
        flush()
