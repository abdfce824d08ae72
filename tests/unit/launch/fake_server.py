"""A stand-in server process for launcher tests: answers /health, spawns a child, may misbehave.

Usage: python fake_server.py PORT PIDFILE [--ignore-term] [--unhealthy] [--exit-code N]
"""

from __future__ import annotations

import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def main() -> None:
    port, pidfile = int(sys.argv[1]), Path(sys.argv[2])
    flags = sys.argv[3:]
    if "--exit-code" in flags:
        print("fake server: refusing to start (simulated bad model path)", flush=True)
        sys.exit(int(flags[flags.index("--exit-code") + 1]))
    if "--ignore-term" in flags:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pidfile.write_text(f"{child.pid}\n", encoding="utf-8")
    status = 503 if "--unhealthy" in flags else 200

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    print(f"fake server listening on {port}", flush=True)
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
