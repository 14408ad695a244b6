#!/usr/bin/env python3
"""A tiny real service for the example infra repo (stdlib only).

Reads config.json (written by the reconciler into the release directory) for PORT and FAIL_HEALTH,
and VERSION/SERVICE (packaged in the artifact). GET /health answers 200 with the version, or 500 when
FAIL_HEALTH is "true" so demos and tests can show a failing health gate. GET / says hello.
"""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def read_text(name, default):
    try:
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return default


def read_config():
    try:
        with open(os.path.join(HERE, "config.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


CONFIG = read_config()
VERSION = read_text("VERSION", "0.0.0")
SERVICE = read_text("SERVICE", "app")
PORT = int(CONFIG.get("PORT", os.environ.get("PORT", "8080")))
BIND = CONFIG.get("BIND", "127.0.0.1")
FAIL_HEALTH = str(CONFIG.get("FAIL_HEALTH", "false")).lower() == "true"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            status = 500 if FAIL_HEALTH else 200
            body = {"service": SERVICE, "version": VERSION, "healthy": not FAIL_HEALTH}
        elif self.path == "/":
            status = 200
            body = {"service": SERVICE, "version": VERSION, "message": "hello from the example infra repo"}
        else:
            status = 404
            body = {"error": "not found"}
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (SERVICE, fmt % args))


def main():
    server = ThreadingHTTPServer((BIND, PORT), Handler)
    signal.signal(signal.SIGTERM, lambda *_: (server.server_close(), sys.exit(0)))
    sys.stderr.write("%s %s listening on %s:%d\n" % (SERVICE, VERSION, BIND, PORT))
    server.serve_forever()


if __name__ == "__main__":
    main()
