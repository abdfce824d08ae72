"""Deploy a `k8s-hybrid` / `k8s-pd` scenario's manifests, reach it through a NodePort, delete it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import IO, Any

from cibench.client.endpoint import Endpoint, auth_headers
from cibench.config.scenario import AUTO_MODEL, Scenario
from cibench.errors import LaunchError
from cibench.launch.base import resolve_api_key
from cibench.launch.external import discover_model
from cibench.launch.health import wait_healthy
from cibench.launch.k8s_api import (
    KubeApi,
    ManifestObject,
    failure_text,
    read_manifests,
    resolve_kubeconfig,
)

# Container waiting reasons that will not fix themselves: fail the launch instead of waiting.
FAILING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
POD_CHECK_INTERVAL_SECONDS = 2.0
POD_LOG_TAIL_LINES = 500
MAX_POD_LOGS = 10
DELETE_OPTIONS = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}


class K8sLauncher:
    """Creates every object of `k8s.manifests`, health-checks `service_name`'s NodePort, and
    deletes exactly what it created on `stop()` (reverse order, foreground propagation).

    Nothing happens until `start()`. An object that already exists is deleted and created
    again (`kubectl replace --force`), so a run always measures the manifests as written and
    a run that crashed before cleaning up does not block the next one. What happens is logged
    to `log_dir/k8s.log`; when start fails the pods' logs land in `log_dir/pod-<name>.log`.
    """

    def __init__(
        self,
        scenario: Scenario,
        log_dir: Path,
        api_key: str | None = None,
        delete_timeout_seconds: float = 300.0,
    ) -> None:
        if scenario.k8s is None:
            raise LaunchError(f"scenario '{scenario.id}': mode '{scenario.mode}' needs 'k8s'.")
        self.scenario = scenario
        self.spec = scenario.k8s
        self.log_dir = log_dir
        self.log_path = log_dir / "k8s.log"
        self.delete_timeout_seconds = delete_timeout_seconds
        self._api_key = api_key
        self._api: KubeApi | None = None
        self._created: list[ManifestObject] = []
        self._log_handle: IO[str] | None = None
        self._next_pod_check = 0.0

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def created(self) -> list[str]:
        """What this launcher created and has not deleted yet (`Kind ns/name`)."""
        return [obj.describe() for obj in self._created]

    def start(self) -> Endpoint:
        """Apply the manifests and block until the NodePort answers `/health` with 200."""
        scenario = self.scenario
        api_key = self._api_key if self._api_key is not None else resolve_api_key(scenario)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_path.open("a", encoding="utf-8")
        started = time.monotonic()
        deadline = started + scenario.startup_timeout_seconds
        try:
            kubeconfig = resolve_kubeconfig(self.spec.kubeconfig)
            objects = read_manifests(
                [Path(p).expanduser() for p in self.spec.manifests], self.spec.namespace
            )
            self._api = KubeApi(kubeconfig)
            self._log(f"scenario {scenario.id}: kubeconfig {kubeconfig}, API {self._api.server}")
            for obj in objects:
                self._create(self._api, obj, deadline)
            base_url = self._node_url(self._api, deadline)
            self._log(f"health check: GET {base_url}/health")
            result = wait_healthy(
                base_url,
                max(0.0, deadline - time.monotonic()),
                headers=auth_headers(api_key),
                still_running=self._pod_failure,
            )
            if not result.healthy:
                # the rollout shares the start-up budget: name the whole wait, not its last part
                waited = time.monotonic() - started
                raise LaunchError(self._unhealthy_message(base_url, result, waited))
            self._log(f"healthy after {result.waited_seconds:.1f} s")
            model = scenario.model_name
            if model == AUTO_MODEL:
                model = discover_model(base_url, scenario.id, api_key)
        except LaunchError as exc:
            self._log(f"start failed: {exc}")
            self._save_pod_logs()
            self.stop()
            raise
        return Endpoint(scenario=scenario, base_url=base_url, model=model, api_key=api_key)

    def died(self) -> str | None:
        """Not watched between tests: a failed pod shows in the requests that fail."""
        return None

    def stop(self) -> None:
        """Delete what `start()` created, newest first, and wait (bounded) until it is gone.

        Idempotent; never raises: objects already gone are fine, other failures are logged.
        """
        api, created, self._created = self._api, self._created, []
        self._api = None
        if api is not None:
            pending: list[tuple[ManifestObject, str]] = []
            for obj in reversed(created):
                try:
                    _, path = api.object_path(obj)
                    status, answer = api.request("DELETE", path, body=DELETE_OPTIONS)
                except LaunchError as exc:
                    self._log(f"delete {obj.describe()}: {exc}")
                    continue
                if status in (200, 202):
                    self._log(f"deleted {obj.describe()}")
                    pending.append((obj, path))
                elif status == 404:
                    self._log(f"{obj.describe()} already gone")
                else:
                    self._log(f"delete {obj.describe()}: {failure_text(status, answer)}")
            self._wait_gone(api, pending, time.monotonic() + self.delete_timeout_seconds)
            api.close()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def _create(self, api: KubeApi, obj: ManifestObject, deadline: float) -> None:
        collection, path = api.object_path(obj)
        status, answer = api.request("POST", collection, body=obj.body)
        if status == 409:
            self._log(
                f"{obj.describe()} already exists: deleting it to create it from {obj.source}"
            )
            status, answer = api.request("DELETE", path, body=DELETE_OPTIONS)
            if status not in (200, 202, 404):
                raise LaunchError(
                    f"scenario '{self.scenario.id}': {obj.describe()} already exists and cannot "
                    f"be deleted ({failure_text(status, answer)}). Delete it by hand."
                )
            self._wait_gone(api, [(obj, path)], deadline)
            status, answer = api.request("POST", collection, body=obj.body)
        if status not in (200, 201, 202):
            raise LaunchError(
                f"scenario '{self.scenario.id}': cannot create {obj.describe()} from "
                f"{obj.source} ({failure_text(status, answer)})."
            )
        self._created.append(obj)
        self._log(f"created {obj.describe()} from {obj.source}")

    def _wait_gone(
        self, api: KubeApi, pending: list[tuple[ManifestObject, str]], deadline: float
    ) -> None:
        while pending:
            still = []
            for obj, path in pending:
                try:
                    status, _ = api.request("GET", path)
                except LaunchError:
                    status = 0
                if status != 404:
                    still.append((obj, path))
            pending = still
            if not pending:
                return
            if time.monotonic() >= deadline:
                names = ", ".join(obj.describe() for obj, _ in pending)
                self._log(f"still terminating after the wait: {names}")
                return
            time.sleep(0.5)

    def _node_url(self, api: KubeApi, deadline: float) -> str:
        """`http://<node>:<nodePort>` of `service_name`, waiting for the Service to exist."""
        spec = self.spec
        path = f"/api/v1/namespaces/{spec.namespace}/services/{spec.service_name}"
        node_port = spec.node_port
        observed = "not found"
        while node_port is None:
            status, answer = api.request("GET", path)
            if status == 200 and isinstance(answer, dict):
                node_port, observed = _node_port(answer, spec.port_name)
                if node_port is not None:
                    break
            else:
                observed = failure_text(status, answer)
            if time.monotonic() >= deadline:
                raise LaunchError(
                    f"scenario '{self.scenario.id}': Service {spec.namespace}/"
                    f"{spec.service_name} has no usable NodePort ({observed}). Make it "
                    f"`type: NodePort` in the manifests, or set k8s.node_port."
                )
            time.sleep(0.5)
        host = spec.node_host or _internal_ip(api, self.scenario.id)
        self._log(f"Service {spec.namespace}/{spec.service_name}: node {host}, port {node_port}")
        return f"http://{host}:{node_port}"

    def _pod_failure(self) -> str | None:
        """Why a pod of ours cannot start (checked every few seconds), or None."""
        now = time.monotonic()
        if now < self._next_pod_check or self._api is None:
            return None
        self._next_pod_check = now + POD_CHECK_INTERVAL_SECONDS
        try:
            pods = self._our_pods(self._api)
        except LaunchError as exc:
            self._log(f"pod check skipped: {exc}")
            return None
        for pod in pods:
            reason = pod_failure_reason(pod)
            if reason is not None:
                return reason
        return None

    def _our_pods(self, api: KubeApi) -> list[dict[str, Any]]:
        # Pods matching a created workload's selector; with no selector known (e.g. a custom
        # resource without spec.selector) every pod of the namespace counts.
        status, answer = api.request("GET", f"/api/v1/namespaces/{self.spec.namespace}/pods")
        if status != 200 or not isinstance(answer, dict):
            raise LaunchError(f"cannot list pods ({failure_text(status, answer)})")
        pods = [p for p in answer.get("items", []) if isinstance(p, dict)]
        selectors = [s for s in (_selector(obj.body) for obj in self._created) if s]
        if not selectors:
            return pods
        return [
            pod
            for pod in pods
            if any(
                selector.items() <= (pod.get("metadata", {}).get("labels") or {}).items()
                for selector in selectors
            )
        ]

    def _unhealthy_message(self, base_url: str, result: Any, waited: float) -> str:
        head = f"scenario '{self.scenario.id}': "
        if result.stopped_reason is not None:
            head += (
                f"{result.stopped_reason}, after {waited:.1f} s "
                f"(GET {base_url}/health never answered 200)."
            )
        else:
            head += (
                f"not healthy after {waited:.0f} s (GET {base_url}/health: "
                f"{result.last_observation}). Raise startup_timeout_seconds if the model loads "
                f"slowly, or check that node {base_url} is reachable from this machine."
            )
        return f"{head}\n  Kubernetes log: {self.log_path} (pod logs beside it)"

    def _save_pod_logs(self) -> None:
        if self._api is None:
            return
        try:
            pods = self._our_pods(self._api)[:MAX_POD_LOGS]
            for pod in pods:
                name = str(pod.get("metadata", {}).get("name", ""))
                path = f"/api/v1/namespaces/{self.spec.namespace}/pods/{name}/log"
                status, text = self._api.request(
                    "GET", path, query={"tailLines": str(POD_LOG_TAIL_LINES)}
                )
                if status == 200:
                    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
                    (self.log_dir / f"pod-{safe}.log").write_text(str(text), encoding="utf-8")
                    self._log(f"saved the log of pod {name}")
        except (LaunchError, OSError) as exc:
            self._log(f"could not save pod logs: {exc}")

    def _log(self, line: str) -> None:
        if self._log_handle is not None:
            self._log_handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
            self._log_handle.flush()


def pod_failure_reason(pod: dict[str, Any]) -> str | None:
    """Why a pod cannot start (`pod vllm-0: container server is in CrashLoopBackOff …`), or None."""
    name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        return f"pod {name} failed ({status.get('reason') or status.get('message') or 'Failed'})"
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_REASONS:
                message = f" ({waiting['message']})" if waiting.get("message") else ""
                return (
                    f"pod {name}: container {container.get('name')} is in "
                    f"{waiting['reason']}{message}, restarted {container.get('restartCount', 0)}"
                    f" times"
                )
    return None


def _node_port(service: dict[str, Any], port_name: str | None) -> tuple[int | None, str]:
    ports = (service.get("spec") or {}).get("ports") or []
    if port_name is not None:
        ports = [p for p in ports if p.get("name") == port_name]
        if not ports:
            return None, f"no port named '{port_name}'"
    if not ports:
        return None, "no ports"
    node_port = ports[0].get("nodePort")
    if not node_port:
        return None, "no nodePort assigned (is it `type: NodePort`?)"
    return int(node_port), "ok"


def _internal_ip(api: KubeApi, scenario_id: str) -> str:
    status, answer = api.request("GET", "/api/v1/nodes")
    if status == 200 and isinstance(answer, dict):
        for node in answer.get("items", []):
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == "InternalIP" and address.get("address"):
                    return str(address["address"])
    raise LaunchError(
        f"scenario '{scenario_id}': cannot find a node InternalIP (GET /api/v1/nodes: "
        f"{failure_text(status, answer)}). Set k8s.node_host in the scenario file."
    )


def _selector(body: dict[str, Any]) -> dict[str, str]:
    spec = body.get("spec") or {}
    selector = spec.get("selector") or {}
    labels = selector.get("matchLabels") if isinstance(selector, dict) else None
    if body.get("kind") == "Service":
        return {}  # a Service's selector also names pods, but workloads already cover them
    return {str(k): str(v) for k, v in (labels or {}).items()}
