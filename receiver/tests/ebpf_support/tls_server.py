"""TLS test server for receiver/tests/ebpf_capture.rs.

Listens on 127.0.0.1 (ephemeral port), prints {"port": N}, then for every
connection reads one HTTP/1.1 request (headers + Content-Length body), answers
with a JSON body naming the path (padded with `pad` bytes for /size/N paths),
closes, and prints {"path", "req", "resp"} with the exact bytes received and
sent (base64), so the test can compare them with what the capture saw.
"""
import base64
import json
import socket
import ssl
import sys
import threading

cert, key = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(json.dumps({"port": listener.getsockname()[1]}), flush=True)


out_lock = threading.Lock()


def report(obj):
    # one whole line per report, whatever the threads do
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def b64(b):
    return base64.b64encode(b).decode()


def handle(conn):
    try:
        s = ctx.wrap_socket(conn, server_side=True)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return
            buf += d
        head, _, body = buf.partition(b"\r\n\r\n")
        path = head.split(b" ")[1].decode()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            d = s.recv(65536)
            if not d:
                break
            body += d
        pad = int(path.rsplit("/", 1)[1]) if path.startswith("/size/") else 0
        payload = b'{"path":"' + path.encode() + b'","pad":"' + b"x" * pad + b'"}'
        resp = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + payload
        )
        s.sendall(resp)
        req = head + b"\r\n\r\n" + body
        report({"path": path, "req": b64(req), "resp": b64(resp)})
        try:
            s.unwrap()
        except (ssl.SSLError, OSError):
            pass
        s.close()
    except Exception as e:  # a broken client must not stop the server
        report({"error": repr(e)})


while True:
    c, _ = listener.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
