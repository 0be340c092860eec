# SPDX-License-Identifier: MIT
"""Loopback HTTP server for tests/workspace/test_dataset.cpp.

usage: http_server.py DIR   -> prints "PORT PID" and serves until killed:
  /files/NAME        DIR/NAME, with Range support (206)
  /truncated/NAME    always announces the full length and sends half, then closes
  /flaky/NAME        the first request per NAME is truncated like /truncated; later ones
                     honour Range, so a client that resumes gets the whole file
  /once503/NAME      the first request per NAME gets 503, later ones the file
  /norange/NAME      the first request is truncated; Range is ignored (always 200 + all)
  /count/NAME        how many requests NAME got on any route (text)
  anything else      404
"""
import http.server
import os
import sys
import threading

ROOT = sys.argv[1]
COUNTS = {}
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self, name):
        path = os.path.join(ROOT, os.path.basename(name))
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def _send(self, code, body, extra=None, cut=None):
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True

    def _ranged(self, body, honour=True):
        rng = self.headers.get("Range")
        if honour and rng and rng.startswith("bytes="):
            start = int(rng[len("bytes="):].split("-")[0])
            part = body[start:]
            self._send(206, part, {"Content-Range": "bytes %d-%d/%d" % (start, len(body) - 1,
                                                                        len(body))})
        else:
            self._send(200, body)

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/", 1)
        if len(parts) != 2:
            return self._send(404, b"not found\n")
        route, name = parts
        with LOCK:
            COUNTS[name] = COUNTS.get(name, 0) + 1
            count = COUNTS[name]
        if route == "count":
            return self._send(200, str(COUNTS.get(name, 0)).encode())
        body = self._body(name)
        if body is None:
            return self._send(404, b"not found\n")
        if route == "files":
            return self._ranged(body)
        if route == "truncated":
            return self._send(200, body, cut=len(body) // 2)
        if route == "flaky":
            if count == 1:
                return self._send(200, body, cut=len(body) // 2)
            return self._ranged(body)
        if route == "norange":
            if count == 1:
                return self._send(200, body, cut=len(body) // 3)
            return self._ranged(body, honour=False)
        if route == "once503":
            if count == 1:
                return self._send(503, b"busy\n")
            return self._ranged(body)
        return self._send(404, b"not found\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up on a cut body are expected here


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], os.getpid(), flush=True)
server.serve_forever()
