"""The e2e fake provider (tests/e2e/fake_provider.py: OpenAI-style
/v1/chat/completions, plain and SSE, HTTP/1.1 and HTTP/2 by ALPN) for
receiver/tests/ebpf_capture_rustls.rs.

    python3 fake_provider_server.py WORKDIR [tls1.2]

Makes a test CA and a certificate for api.openai.com in WORKDIR, listens on
127.0.0.1 (ephemeral port; TLS 1.2 at most with `tls1.2`), prints
{"port": N, "ca": PATH}, then one line per request it answers:
{"protocol", "path", "body"} (body base64).
"""
import base64
import json
import pathlib
import ssl
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "e2e"))
import fake_provider  # noqa: E402

work = pathlib.Path(sys.argv[1])
max_tls = ssl.TLSVersion.TLSv1_2 if sys.argv[2:] == ["tls1.2"] else ssl.TLSVersion.MAXIMUM_SUPPORTED
ca, cert, key = fake_provider.make_certs(work)
server = fake_provider.FakeProvider(cert, key, port=0, max_tls=max_tls)
print(json.dumps({"port": server.port, "ca": str(ca)}), flush=True)
reported = 0
while True:
    time.sleep(0.05)
    with server.lock:
        fresh = server.requests[reported:]
        reported = len(server.requests)
    for r in fresh:
        body = base64.b64encode(r["body"]).decode()
        print(json.dumps({"protocol": r["protocol"], "path": r["path"], "body": body}), flush=True)
