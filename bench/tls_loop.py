#!/usr/bin/env python3
"""TLS request/response loop over loopback for the capture-overhead case.

    tls_loop.py server --port P --cert C --key K --size N
    tls_loop.py client --port P --size N --iterations K

The server accepts one connection and answers every N-byte request with a
small HTTP response; the client sends K requests shaped like an HTTP/1.1
chat-completions call of N bytes (headers + JSON body) and prints one JSON
line: round trips, seconds, round trips per second and nanoseconds per round
trip. Both sides use Python's `ssl`, i.e. the system libssl, whose SSL_*
functions are what oispd's eBPF capture (or an empty uprobe pair) attaches to.
Only 127.0.0.1 is ever used; the loop is bounded by --iterations.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import time

RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")


def request(size: int) -> bytes:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: api.openai.com\r\n"
            b"content-type: application/json\r\ncontent-length: %d\r\n\r\n")
    prefix = b'{"model":"gpt-4o","messages":[{"role":"user","content":"'
    suffix = b'"}]}'
    fill = max(size - len(head) - len(prefix) - len(suffix), 0)  # about `size` bytes in all
    body = prefix + b"x" * fill + suffix
    return head % len(body) + body


def recv_exactly(sock: ssl.SSLSocket, n: int) -> None:
    got = 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError("peer closed")
        got += len(chunk)


def server(args: argparse.Namespace) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    n = len(request(args.size))
    with socket.create_server(("127.0.0.1", args.port)) as listener:
        print("ready", flush=True)
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(conn, server_side=True) as tls:
            try:
                while True:
                    recv_exactly(tls, n)
                    tls.sendall(RESPONSE)
            except (ConnectionError, ssl.SSLError, OSError):
                return 0


def client(args: argparse.Namespace) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    msg = request(args.size)
    sock = socket.create_connection(("127.0.0.1", args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with ctx.wrap_socket(sock, server_hostname="api.openai.com") as tls:
        for _ in range(min(args.iterations // 10, 200)):  # warm-up
            tls.sendall(msg)
            recv_exactly(tls, len(RESPONSE))
        start = time.perf_counter()
        for _ in range(args.iterations):
            tls.sendall(msg)
            recv_exactly(tls, len(RESPONSE))
        elapsed = time.perf_counter() - start
    print(json.dumps({
        "size": len(msg), "round_trips": args.iterations, "seconds": elapsed,
        "per_s": args.iterations / elapsed, "ns_per_round_trip": elapsed / args.iterations * 1e9,
    }), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--size", type=int, required=True)
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--size", type=int, required=True)
    c.add_argument("--iterations", type=int, required=True)
    args = ap.parse_args()
    return server(args) if args.mode == "server" else client(args)


if __name__ == "__main__":
    sys.exit(main())
