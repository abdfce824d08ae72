"""Fixtures for the accuracy unit tests: synthetic CSVs, a simulator, a scripted loopback server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from acc_support import SIM_MODEL, Reply, ScriptedServer

from cibench.accuracy.synthetic import write_csv
from cibench.sim.testing import run_simulator


@pytest.fixture
def synthetic_csv(tmp_path: Path) -> Path:
    """A 12-question synthetic GPQA-shaped CSV."""
    return write_csv(tmp_path / "gpqa_synthetic.csv", 12, seed=3)


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    """One well-behaved simulator shared by the tests that only read its answers."""
    with run_simulator("--served-model-name", SIM_MODEL) as url:
        yield url


@pytest.fixture
def scripted_server() -> Iterator[Callable[[Callable[[str, bytes], Reply]], ScriptedServer]]:
    """Start loopback servers answering with a script; all of them stop at teardown."""
    servers: list[ThreadingHTTPServer] = []
    release = threading.Event()

    def start(script: Callable[[str, bytes], Reply]) -> ScriptedServer:
        record = ScriptedServer(base_url="")

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                record.requests.append((self.path, dict(self.headers), body))
                reply = script(self.path, body)
                if reply.hang:
                    release.wait(30)  # until teardown: a server that never answers
                    return
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        record.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        return record

    yield start
    release.set()
    for server in servers:
        server.shutdown()
        server.server_close()
