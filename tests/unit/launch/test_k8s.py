"""The k8s launcher applies manifests through a real client, reaches the NodePort, cleans up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fake_kube import FakeKube, pod, run_fake_kube

from cibench.config.loader import load_configs_collecting
from cibench.config.scenario import K8sSpec, PDSpec, Scenario
from cibench.errors import LaunchError
from cibench.launch import K8sLauncher, make_launcher
from cibench.launch.process import free_port
from cibench.sim.testing import run_simulator

MODEL = "sim-k8s"


def deployment(name: str, labels: dict[str, str]) -> str:
    label_text = ", ".join(f"{k}: {v}" for k, v in labels.items())
    return (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n  replicas: 1\n"
        f"  selector: {{matchLabels: {{{label_text}}}}}\n"
        f"  template:\n    metadata: {{labels: {{{label_text}}}}}\n"
        "    spec: {containers: [{name: server, image: vllm/vllm-openai}]}\n"
    )


def service(name: str, app: str, node_port: int | None = None) -> str:
    fixed = f", nodePort: {node_port}" if node_port else ""
    return (
        "apiVersion: v1\nkind: Service\n"
        f"metadata: {{name: {name}}}\n"
        f"spec:\n  type: NodePort\n  selector: {{app: {app}}}\n"
        f"  ports: [{{name: http, port: 8000, targetPort: 8000{fixed}}}]\n"
    )


@pytest.fixture(scope="module")
def sim_port() -> Iterator[int]:
    with run_simulator("--model", MODEL) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture
def fake(sim_port: int) -> Iterator[FakeKube]:
    with run_fake_kube(node_port=sim_port) as running:
        yield running


def hybrid(tmp_path: Path, fake: FakeKube, timeout: float = 10.0, **k8s: object) -> Scenario:
    manifest = tmp_path / "infer_vllm.yaml"
    manifest.write_text(
        deployment("vllm", {"app": "vllm"}) + "---\n" + service("vllm-svc", "vllm"),
        encoding="utf-8",
    )
    spec = {
        "namespace": "bench",
        "manifests": [str(manifest)],
        "service_name": "vllm-svc",
        "port_name": "http",
        "kubeconfig": str(fake.write_kubeconfig(tmp_path / "kubeconfig")),
        **k8s,
    }
    return Scenario(
        id="k8s-sim",
        mode="k8s-hybrid",
        model=MODEL,
        k8s=K8sSpec.model_validate(spec),
        startup_timeout_seconds=timeout,
    )


def test_hybrid_deploys_serves_through_the_node_port_and_deletes_what_it_created(
    tmp_path: Path, fake: FakeKube, sim_port: int
) -> None:
    launcher = make_launcher(hybrid(tmp_path, fake), tmp_path / "logs")
    assert isinstance(launcher, K8sLauncher)
    assert fake.requests == []  # constructing starts nothing
    endpoint = launcher.start()
    try:
        assert fake.kinds() == [("Deployment", "vllm"), ("Service", "vllm-svc")]
        assert fake.objects[("deployments", "bench", "vllm")]["spec"]["replicas"] == 1
        assert endpoint.base_url == f"http://127.0.0.1:{sim_port}"
        answer = httpx.post(
            f"{endpoint.api_base}/chat/completions",
            json={
                "model": endpoint.model,
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 4,
            },
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"]
    finally:
        launcher.stop()
    assert fake.kinds() == []
    assert fake.deletions == [
        ("services", "bench", "vllm-svc", "Foreground"),
        ("deployments", "bench", "vllm", "Foreground"),
    ]
    launcher.stop()  # idempotent
    log = (tmp_path / "logs" / "k8s.log").read_text(encoding="utf-8")
    assert "created Deployment bench/vllm" in log
    assert "deleted Service bench/vllm-svc" in log


def test_an_object_that_already_exists_is_replaced(tmp_path: Path, fake: FakeKube) -> None:
    fake.handle(
        "POST",
        "/api/v1/namespaces/bench/services",
        {"kind": "Service", "metadata": {"name": "vllm-svc"}, "spec": {"ports": []}},
    )
    with K8sLauncher(hybrid(tmp_path, fake), tmp_path):
        assert ("services", "bench", "vllm-svc", "Foreground") in fake.deletions
        service_ports = fake.objects[("services", "bench", "vllm-svc")]["spec"]["ports"]
        assert service_ports[0]["name"] == "http"
    assert fake.kinds() == []


def test_unhealthy_node_port_times_out_naming_the_url(tmp_path: Path, fake: FakeKube) -> None:
    fake.node_port = free_port("127.0.0.1")
    # a crashing pod of someone else's workload in the namespace is not ours: it is ignored
    fake.pods = [
        pod("other-1", {"app": "other"}, waiting_reason="CrashLoopBackOff", namespace="bench")
    ]
    launcher = K8sLauncher(hybrid(tmp_path, fake, timeout=1.0), tmp_path)
    url = f"http://127.0.0.1:{fake.node_port}/health"
    with pytest.raises(
        LaunchError, match=rf"not healthy after [1-9]\d* s \(GET {url}: connection refused\)"
    ):
        launcher.start()
    assert fake.kinds() == []


def test_crash_looping_pod_fails_fast_with_its_name_reason_and_log(
    tmp_path: Path, fake: FakeKube
) -> None:
    fake.node_port = free_port("127.0.0.1")
    fake.pods = [
        pod("vllm-7d9-x2", {"app": "vllm"}, waiting_reason="CrashLoopBackOff", namespace="bench")
    ]
    fake.pod_logs["vllm-7d9-x2"] = "loading weights\nCUDA out of memory\n"
    started = time.monotonic()
    with pytest.raises(
        LaunchError, match=r"pod vllm-7d9-x2: container server is in CrashLoopBackOff"
    ):
        K8sLauncher(hybrid(tmp_path, fake, timeout=60.0), tmp_path).start()
    assert time.monotonic() - started < 10
    assert "CUDA out of memory" in (tmp_path / "pod-vllm-7d9-x2.log").read_text(encoding="utf-8")
    assert fake.kinds() == []


def test_missing_kubeconfig_is_named(tmp_path: Path, fake: FakeKube) -> None:
    missing = tmp_path / "nope" / "kubeconfig"
    scenario = hybrid(tmp_path, fake, kubeconfig=str(missing))
    with pytest.raises(LaunchError, match=rf"kubeconfig {missing} \(from k8s.kubeconfig"):
        K8sLauncher(scenario, tmp_path).start()
    assert fake.requests == []


def test_missing_manifest_is_named(tmp_path: Path, fake: FakeKube) -> None:
    missing = tmp_path / "deploy" / "absent.yaml"
    scenario = hybrid(tmp_path, fake, manifests=[str(missing)])
    with pytest.raises(LaunchError, match=rf"k8s manifest {missing}: cannot read it"):
        K8sLauncher(scenario, tmp_path).start()
    assert fake.requests == []


def test_pd_health_is_checked_on_the_proxy_service(
    tmp_path: Path, fake: FakeKube, sim_port: int
) -> None:
    dead = free_port("127.0.0.1")
    files = {
        "prefill.yaml": deployment("prefill", {"app": "pd", "role": "prefill"})
        + "---\n"
        + service("prefill-svc", "pd", node_port=dead),
        "decode.yaml": deployment("decode", {"app": "pd", "role": "decode"}),
        "proxy.yaml": deployment("proxy", {"app": "pd", "role": "proxy"})
        + "---\n"
        + service("pd-proxy", "pd"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    scenario = Scenario(
        id="pd-sim",
        mode="k8s-pd",
        model=MODEL,
        k8s=K8sSpec(
            namespace="bench",
            manifests=[str(tmp_path / name) for name in files],
            service_name="pd-proxy",
            kubeconfig=str(fake.write_kubeconfig(tmp_path / "kubeconfig")),
        ),
        pd=PDSpec(prefill_params={"tensor_parallel_size": 4}),
        startup_timeout_seconds=10.0,
    )
    with K8sLauncher(scenario, tmp_path) as endpoint:
        assert endpoint.base_url == f"http://127.0.0.1:{sim_port}"
        assert len(fake.kinds()) == 5
    assert fake.kinds() == []


def test_relative_manifest_paths_start_at_the_configs_parent(tmp_path: Path) -> None:
    scenarios = tmp_path / "configs" / "scenarios"
    scenarios.mkdir(parents=True)
    (scenarios / "k.yaml").write_text(
        "id: k\nmode: k8s-hybrid\nmodel: m\n"
        "k8s: {manifests: [deploy/infer.yaml], service_name: s, kubeconfig: kube/config}\n",
        encoding="utf-8",
    )
    configs, _ = load_configs_collecting(tmp_path / "configs")  # no matrix: irrelevant here
    spec = configs.scenarios["k"].k8s
    assert spec is not None
    assert spec.manifests == [str(tmp_path.resolve() / "deploy" / "infer.yaml")]
    assert spec.kubeconfig == str(tmp_path.resolve() / "kube" / "config")


PLUGIN_TEST = """
import pytest


@pytest.mark.perf
def test_point(perf_point, server):
    assert server.base_url == "http://127.0.0.1:{port}"
    assert server.model == "{model}"
"""


def test_the_plugin_deploys_a_k8s_scenario_and_deletes_it_at_the_end(
    tmp_path: Path, fake: FakeKube, sim_port: int
) -> None:
    configs = tmp_path / "configs"
    manifest = deployment("vllm", {"app": "vllm"}) + "---\n" + service("vllm-svc", "vllm")
    files = {
        "configs/scenarios/k8s.yaml": (
            f"id: k8s\nmode: k8s-hybrid\nmodel: {MODEL}\nstartup_timeout_seconds: 20\n"
            "k8s: {namespace: bench, manifests: [deploy/sim.yaml], service_name: vllm-svc,\n"
            "      port_name: http, kubeconfig: kubeconfig}\n"
        ),
        "configs/tests/perf/profiles/pr.yaml": (
            "concurrency: [1, 2]\ninput_length: [8]\noutput_length: [4]\n"
        ),
        "configs/matrix.yaml": "scenarios:\n  k8s:\n    pr: {perf: true, perf_profile: pr}\n",
        "deploy/sim.yaml": manifest,
        "test_stage.py": PLUGIN_TEST.replace("{port}", str(sim_port)).replace("{model}", MODEL),
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    fake.write_kubeconfig(tmp_path / "kubeconfig")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "test_stage.py"), "-p", "no:cacheprovider",
         f"--configs={configs}", f"--artifacts={tmp_path / 'artifacts'}", "--run-id=run1",
         "-m", "perf", "--scenario=k8s", "--no-gates", "-rA"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert ("POST", "/apis/apps/v1/namespaces/bench/deployments") in fake.requests
    assert fake.kinds() == []  # deleted when the session ended
    scenario_dir = tmp_path / "artifacts" / "run1" / "k8s"
    assert json.loads((scenario_dir / "run.json").read_text())["launch_error"] is None
    assert "deleted Deployment bench/vllm" in (scenario_dir / "k8s.log").read_text()
