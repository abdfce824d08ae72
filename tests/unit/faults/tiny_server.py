"""A small stand-in server for fault tests: answers /health after a delay, may exit on its own.

Usage: python tiny_server.py PORT PIDFILE [--delay S] [--exit-after S CODE]
It writes its pid to PIDFILE first, so a test can check that the process is gone afterwards.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    port, pidfile = int(sys.argv[1]), Path(sys.argv[2])
    flags = sys.argv[3:]
    pidfile.write_text(f"{os.getpid()}\n", encoding="utf-8")
    if "--delay" in flags:
        time.sleep(float(flags[flags.index("--delay") + 1]))
    if "--exit-after" in flags:
        index = flags.index("--exit-after")
        seconds, code = float(flags[index + 1]), int(flags[index + 2])
        threading.Timer(seconds, lambda: os._exit(code)).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"object": "list", "data": [{"id": "tiny"}]}'
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
