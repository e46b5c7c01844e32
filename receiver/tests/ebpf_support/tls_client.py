"""TLS test client for receiver/tests/ebpf_capture.rs (system libssl via _ssl).

usage: tls_client.py PORT PATH BODY_BYTES [EXIT_CODE] [SLEEP_BEFORE_CONNECT]
Sends one POST whose body is BODY_BYTES bytes with a single sendall (one
SSL_write), reads the response until the server closes, prints it, exits
with EXIT_CODE.
"""
import socket
import ssl
import sys
import time

port, path, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
code = int(sys.argv[4]) if len(sys.argv) > 4 else 0
if len(sys.argv) > 5:
    time.sleep(float(sys.argv[5]))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
body = (b'{"model":"gpt-test","input":"' + b"z" * size)[:size]
req = (
    b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
)
s.sendall(req)
resp = b""
while True:
    try:
        d = s.recv(65536)
    except ssl.SSLError:
        break
    if not d:
        break
    resp += d
sys.stdout.write(resp.decode(errors="replace"))
sys.exit(code)
