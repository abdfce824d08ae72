"""Read manifest files and create, read and delete their objects through the `kubernetes` client.

Objects are addressed the way kubectl does it: the REST path of a kind comes from API
discovery (`GET /api/v1`, `GET /apis/<group>/<version>`), so custom resources (an inference
operator's CRD, say) work like Deployments. Requests go through the official client's
`ApiClient` (kubeconfig, TLS and auth handled there); bodies stay plain JSON dicts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cibench.errors import LaunchError

REQUEST_TIMEOUT_SECONDS = 30.0
DEFAULT_KUBECONFIG = "~/.kube/config"
K8S_INSTALL_HINT = "pip install 'cibench[k8s]'"


def _kubernetes() -> tuple[Any, Any]:
    """The `kubernetes` client and config modules, imported on first use (the `[k8s]` extra).

    Raises `LaunchError` with the install command when the package is missing, so a core install
    runs local and external scenarios without the 100+ MB client.
    """
    try:
        from kubernetes import client as kube_client
        from kubernetes import config as kube_config
    except ImportError as exc:
        raise LaunchError(
            f"k8s scenarios need the kubernetes client, which is not installed ({exc}). "
            f"Install it: {K8S_INSTALL_HINT}"
        ) from exc
    return kube_client, kube_config


@dataclass(frozen=True)
class ManifestObject:
    """One object from a manifest file, with the namespace it lands in (None: cluster-scoped)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    body: dict[str, Any]
    source: str

    def describe(self) -> str:
        """`Deployment llm-bench/vllm`, for logs and messages."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def read_manifests(paths: list[Path], namespace: str) -> list[ManifestObject]:
    """Every object in `paths`, in file and document order; `kind: List` documents are expanded.

    Objects without `metadata.namespace` go to `namespace` (as `kubectl apply -n` does);
    whether a kind is namespaced at all is decided later, from API discovery.
    """
    objects: list[ManifestObject] = []
    for path in paths:
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise LaunchError(
                f"k8s manifest {path}: cannot read it ({exc.strerror}). Check k8s.manifests "
                f"in the scenario file (relative paths start at the configs dir's parent)."
            ) from exc
        except yaml.YAMLError as exc:
            raise LaunchError(f"k8s manifest {path}: not valid YAML ({exc}).") from exc
        for index, document in enumerate(documents):
            if document is None:
                continue
            items = document.get("items", []) if _is_list(document) else [document]
            for item in items:
                objects.append(_manifest_object(item, path, index, namespace))
    if not objects:
        raise LaunchError(
            f"k8s manifests {', '.join(map(str, paths))}: no Kubernetes object in them."
        )
    return objects


def _is_list(document: Any) -> bool:
    return isinstance(document, dict) and str(document.get("kind", "")).endswith("List")


def _manifest_object(item: Any, path: Path, index: int, namespace: str) -> ManifestObject:
    where = f"k8s manifest {path} (document {index + 1})"
    if not isinstance(item, dict):
        raise LaunchError(f"{where}: expected a mapping with apiVersion, kind and metadata.")
    metadata = item.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not item.get("apiVersion") or not item.get("kind") or not name:
        raise LaunchError(f"{where}: needs apiVersion, kind and metadata.name.")
    assert isinstance(metadata, dict)
    return ManifestObject(
        api_version=str(item["apiVersion"]),
        kind=str(item["kind"]),
        name=str(name),
        namespace=str(metadata.get("namespace") or namespace),
        body=item,
        source=str(path),
    )


def resolve_kubeconfig(configured: str | None) -> Path:
    """The kubeconfig file to use: the scenario's, else `$KUBECONFIG` (first entry), else default.

    Raises `LaunchError` naming the file when it does not exist.
    """
    if configured:
        origin, raw = "k8s.kubeconfig in the scenario file", configured
    elif os.environ.get("KUBECONFIG"):
        origin, raw = "$KUBECONFIG", os.environ["KUBECONFIG"].split(os.pathsep)[0]
    else:
        origin, raw = "the default location", DEFAULT_KUBECONFIG
    path = Path(raw).expanduser()
    if not path.is_file():
        raise LaunchError(
            f"kubeconfig {path} (from {origin}) does not exist. Set k8s.kubeconfig in the "
            f"scenario file or export KUBECONFIG to a file that reaches the cluster."
        )
    return path


class KubeApi:
    """A thin JSON-in, JSON-out door to one cluster; `close()` releases its connections."""

    def __init__(self, kubeconfig: Path) -> None:
        kube_client, kube_config = _kubernetes()
        self._errors: tuple[type[BaseException], ...] = (
            kube_client.ApiException,
            _urllib3_error(),
            OSError,
        )
        try:
            self._client: Any = kube_config.new_client_from_config(config_file=str(kubeconfig))
        except (kube_config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise LaunchError(
                f"kubeconfig {kubeconfig}: cannot load it ({exc}). Check the file with "
                f"`kubectl --kubeconfig {kubeconfig} get nodes`."
            ) from exc
        self.server = str(self._client.configuration.host)
        self._resources: dict[str, list[dict[str, Any]]] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def request(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """(status, decoded body) of one call; JSON is decoded, anything else returned as text.

        Raises `LaunchError` when the API server cannot be reached at all.
        """
        headers = {"Accept": "application/json, */*"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        serialized = self._client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._client.call_api(*serialized, _request_timeout=REQUEST_TIMEOUT_SECONDS)
            raw = response.read()
        except self._errors as exc:
            raise LaunchError(
                f"Kubernetes API {self.server}: {method} {path} failed ({exc}). Check that the "
                f"cluster in the kubeconfig is reachable."
            ) from exc
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        try:
            return int(response.status), json.loads(text)
        except ValueError:
            return int(response.status), text

    def object_path(self, obj: ManifestObject) -> tuple[str, str]:
        """(collection path, object path) of `obj`: `/apis/apps/v1/namespaces/ns/deployments`, …"""
        resource = self._resource(obj.api_version, obj.kind)
        base = _group_version_path(obj.api_version)
        if resource.get("namespaced") and obj.namespace:
            base = f"{base}/namespaces/{obj.namespace}"
        collection = f"{base}/{resource['name']}"
        return collection, f"{collection}/{obj.name}"

    def _resource(self, api_version: str, kind: str) -> dict[str, Any]:
        if api_version not in self._resources:
            path = _group_version_path(api_version)
            status, answer = self.request("GET", path)
            if status != 200 or not isinstance(answer, dict):
                raise LaunchError(
                    f"Kubernetes API {self.server}: apiVersion '{api_version}' is not served "
                    f"(GET {path}: HTTP {status}). Install its CRD or fix the manifest."
                )
            self._resources[api_version] = [
                r for r in answer.get("resources", []) if "/" not in str(r.get("name", ""))
            ]
        for resource in self._resources[api_version]:
            if resource.get("kind") == kind:
                return resource
        raise LaunchError(
            f"Kubernetes API {self.server}: kind '{kind}' is not served under apiVersion "
            f"'{api_version}'. Fix the manifest or install the CRD that defines it."
        )


def _urllib3_error() -> type[BaseException]:
    import urllib3  # installed with kubernetes

    error: type[BaseException] = urllib3.exceptions.HTTPError
    return error


def _group_version_path(api_version: str) -> str:
    # the core group lives under /api/v1, every other group under /apis/<group>/<version>
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def failure_text(status: int, answer: Any) -> str:
    """`HTTP 409 AlreadyExists: services "x" already exists` from an API error answer."""
    if isinstance(answer, dict):
        return f"HTTP {status} {answer.get('reason', '')}: {answer.get('message', '')}".strip()
    return f"HTTP {status}: {str(answer)[:200]}"
