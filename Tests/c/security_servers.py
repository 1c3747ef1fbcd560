#!/usr/bin/env python3
"""Loopback servers that misbehave, for the security tests (test_security.c).

    python3 security_servers.py ./test_security

Starts, each on a free 127.0.0.1 port:
  tls       HTTPS with a self-signed certificate made now (openssl req -x509), answers 202
  redirect  answers every request 307 -> http://127.0.0.1:<trap>/api/v1/track
  trap      the redirect's target: records every request (and whether it carried X-API-Key)
  big       answers 200 and streams a 100 MB body
  garbage   reads the request, writes bytes that are not HTTP, keeps the connection open
  hang      reads the request and never answers
then runs the command with HM_SEC_<NAME>_PORT and HM_SEC_CA (the certificate) in its
environment and afterwards checks what the servers saw: the trap got nothing, the big
answer was cut off far short of 100 MB. Every socket has a timeout; the run is bounded.
"""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG = 100 * 1024 * 1024
seen = {"tls": 0, "trap": 0, "trap_key": 0, "big_sent": 0, "big_requests": 0, "hang": 0, "garbage": 0}
lock = threading.Lock()


def count(name: str, n: int = 1) -> None:
    with lock:
        seen[name] += n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "tls"
    trap_port = 0

    def log_message(self, *args) -> None:  # quiet
        pass

    def read_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))

    def do_GET(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def handle_any(self) -> None:
        self.read_body()
        if self.mode == "tls":
            count("tls")
            self.answer(202, b'{"success":true}')
        elif self.mode == "redirect":
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{self.trap_port}/api/v1/track")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.mode == "trap":
            count("trap")
            if self.headers.get("X-API-Key"):
                count("trap_key")
            self.answer(202, b'{"success":true}')
        elif self.mode == "big":
            count("big_requests")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < BIG:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            finally:
                count("big_sent", sent)
            self.close_connection = True

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def http_server(mode: str, context: ssl.SSLContext | None = None, **attributes) -> ThreadingHTTPServer:
    handler = type(f"{mode}Handler", (Handler,), dict(mode=mode, **attributes))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def raw_server(mode: str) -> socket.socket:
    """garbage / hang: a plain socket server that reads a request and never answers properly."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def serve(conn: socket.socket) -> None:
        conn.settimeout(60)
        try:
            conn.recv(65536)
            count(mode)
            if mode == "garbage":
                conn.sendall(b"\x00\xff\xfeNOT HTTP AT ALL\r\n\x01\x02" * 64)
            while conn.recv(65536):  # keep it open until the client goes away (or 60 s)
                pass
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


def main() -> int:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tmp = tempfile.mkdtemp(prefix="himetrica-security-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    tls = http_server("tls", context)
    trap = http_server("trap")
    redirect = http_server("redirect", trap_port=trap.server_address[1])
    big = http_server("big")
    garbage = raw_server("garbage")
    hang = raw_server("hang")

    env = dict(os.environ, HM_SEC_CA=cert, HM_SEC_TLS_PORT=str(tls.server_address[1]),
               HM_SEC_REDIRECT_PORT=str(redirect.server_address[1]), HM_SEC_BIG_PORT=str(big.server_address[1]),
               HM_SEC_GARBAGE_PORT=str(garbage.getsockname()[1]), HM_SEC_HANG_PORT=str(hang.getsockname()[1]))
    try:
        result = subprocess.run(sys.argv[1:], env=env, timeout=300)
    except subprocess.TimeoutExpired:
        print("FAIL: the security test did not finish in 300 s")
        return 1
    failures = 0
    with lock:
        snapshot = dict(seen)
    print(f"servers saw: {snapshot}")
    if snapshot["trap"] or snapshot["trap_key"]:
        print("FAIL: the redirect was followed (the second port got a request)")
        failures += 1
    if snapshot["big_requests"] and snapshot["big_sent"] >= BIG:
        print("FAIL: the client read the whole 100 MB answer")
        failures += 1
    if snapshot["tls"] != 1:
        print(f"FAIL: the TLS server should have answered exactly the one verified request, got {snapshot['tls']}")
        failures += 1
    return 1 if result.returncode or failures else 0


if __name__ == "__main__":
    sys.exit(main())
