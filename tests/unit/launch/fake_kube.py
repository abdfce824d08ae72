"""A minimal fake Kubernetes API server on 127.0.0.1 for driving the k8s launcher in tests.

It speaks the REST paths the launcher's `kubernetes` client calls: API discovery
(`/api/v1`, `/apis/apps/v1`), create/get/delete of namespaced objects, pod lists, pod logs and
the node list, with Kubernetes-shaped JSON (404/409 as `kind: Status`). A Service of type
NodePort is given `node_port` (the port of a real server the test started), so traffic really
flows "through the NodePort" to 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The resources this fake serves: (group/version prefix, plural, kind, namespaced).
RESOURCES = {
    "api/v1": [
        ("services", "Service", True),
        ("pods", "Pod", True),
        ("configmaps", "ConfigMap", True),
        ("nodes", "Node", False),
        ("namespaces", "Namespace", False),
    ],
    "apis/apps/v1": [
        ("deployments", "Deployment", True),
        ("statefulsets", "StatefulSet", True),
    ],
}
OBJECT_PATH = re.compile(
    r"^/(?P<gv>api/v1|apis/[^/]+/[^/]+)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?$"
)


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    """A `kind: Status` failure, as the API server returns for 404 and 409."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def pod(
    name: str,
    labels: dict[str, str],
    *,
    phase: str = "Running",
    waiting_reason: str | None = None,
    namespace: str = "default",
) -> dict[str, Any]:
    """A Pod object whose only container is running, or waiting for `waiting_reason`."""
    state: dict[str, Any] = (
        {"waiting": {"reason": waiting_reason, "message": f"back-off restarting {name}"}}
        if waiting_reason
        else {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    )
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "server", "image": "vllm"}]},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": "server",
                    "image": "vllm",
                    "imageID": "",
                    "ready": waiting_reason is None,
                    "restartCount": 5 if waiting_reason else 0,
                    "state": state,
                }
            ],
        },
    }


@dataclass
class FakeKube:
    """The fake cluster's state; tests script `pods`, `pod_logs` and `node_port`, read the rest."""

    node_port: int
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    pods: list[dict[str, Any]] = field(default_factory=list)
    pod_logs: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    deletions: list[tuple[str, str, str, str]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kinds(self) -> list[tuple[str, str]]:
        """(kind, name) of every object currently stored, in creation order."""
        with self.lock:
            return [(obj["kind"], obj["metadata"]["name"]) for obj in self.objects.values()]

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig whose current context talks to this fake over plain http."""
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: fake\n  user:\n    token: fake-token\n"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
            "current-context: fake\n",
            encoding="utf-8",
        )
        return path

    def handle(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        """Answer one request: (HTTP status, JSON body or plain text)."""
        parts = urlsplit(raw_path)
        with self.lock:
            self.requests.append((method, parts.path))
        if parts.path.strip("/") in RESOURCES:
            return 200, self._discovery(parts.path.strip("/"))
        match = OBJECT_PATH.match(parts.path)
        if match is None:
            return 404, status_body(404, "NotFound", f"the server could not find {parts.path}")
        gv, ns, plural, name, sub = match.group("gv", "ns", "plural", "name", "sub")
        query = parse_qs(parts.query)
        if plural == "nodes":
            return 200, self._nodes()
        if plural == "pods":
            return self._pods(ns or "default", name, sub, query)
        key = (plural, ns or "", name or "")
        with self.lock:
            if method == "POST" and name is None:
                return self._create(gv, plural, ns or "", body)
            if method == "GET" and name is not None:
                if key in self.objects:
                    return 200, self.objects[key]
                return 404, status_body(404, "NotFound", f'{plural} "{name}" not found')
            if method == "DELETE" and name is not None:
                if key not in self.objects:
                    return 404, status_body(404, "NotFound", f'{plural} "{name}" not found')
                del self.objects[key]
                policy = (body or {}).get("propagationPolicy", "")
                self.deletions.append((plural, ns or "", name, policy))
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return 405, status_body(405, "MethodNotAllowed", f"{method} {parts.path}")

    def _discovery(self, gv: str) -> dict[str, Any]:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv.removeprefix("apis/").removeprefix("api/"),
            "resources": [
                {"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                 "verbs": ["create", "delete", "get", "list"]}
                for plural, kind, namespaced in RESOURCES[gv]
            ] + [
                {"name": f"{plural}/status", "singularName": "", "namespaced": namespaced,
                 "kind": kind, "verbs": ["get"]}
                for plural, kind, namespaced in RESOURCES[gv]
            ],
        }  # fmt: skip

    def _create(self, gv: str, plural: str, ns: str, body: dict[str, Any]) -> tuple[int, Any]:
        name = body["metadata"]["name"]
        key = (plural, ns, name)
        if key in self.objects:
            return 409, status_body(409, "AlreadyExists", f'{plural} "{name}" already exists')
        stored = json.loads(json.dumps(body))
        stored["metadata"].setdefault("namespace", ns)
        stored["metadata"]["uid"] = f"uid-{len(self.requests)}"
        stored["metadata"]["resourceVersion"] = "1"
        if plural == "services":
            spec = stored.setdefault("spec", {})
            spec.setdefault("clusterIP", "10.0.0.10")
            if spec.get("type") == "NodePort":
                for port in spec.get("ports", []):
                    port.setdefault("nodePort", self.node_port)
        self.objects[key] = stored
        return 201, stored

    def _nodes(self) -> dict[str, Any]:
        node = {
            "kind": "Node",
            "apiVersion": "v1",
            "metadata": {"name": "node-1"},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "node-1"},
                    {"type": "InternalIP", "address": "127.0.0.1"},
                ]
            },
        }
        return {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": [node]}

    def _pods(
        self, ns: str, name: str | None, sub: str | None, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        with self.lock:
            pods = [p for p in self.pods if p["metadata"]["namespace"] == ns]
            if name is not None and sub == "log":
                if name in self.pod_logs:
                    tail = int(query.get("tailLines", ["0"])[0])
                    lines = self.pod_logs[name].splitlines()
                    return 200, "\n".join(lines[-tail:] if tail else lines) + "\n"
                return 404, status_body(404, "NotFound", f'pods "{name}" not found')
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods}


def _handler(fake: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, answer = fake.handle(self.command, self.path, body)
            if isinstance(answer, str):
                data, content_type = answer.encode(), "text/plain"
            else:
                data, content_type = json.dumps(answer).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `fake.requests` instead."""

    return Handler


@contextmanager
def run_fake_kube(node_port: int) -> Iterator[FakeKube]:
    """Serve a `FakeKube` on a free 127.0.0.1 port for the duration of the block."""
    fake = FakeKube(node_port=node_port)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
