"""An API key reaches the server with every request of every stage, and is written nowhere."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.support.configs import configs_for_a_busy_host

REPO = Path(__file__).resolve().parents[2]


def test_api_key_is_sent_everywhere_and_written_nowhere(tmp_path: Path) -> None:
    secret = f"sk-cibench-{secrets.token_hex(12)}"
    configs = configs_for_a_busy_host(tmp_path / "configs")
    scenario = configs / "scenarios" / "local-sim.yaml"
    scenario.write_text(scenario.read_text() + "api_key_env: CIBENCH_TEST_KEY\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIBENCH_", "PYTEST_"))}
    # cibench reads the key from the env var the scenario names; the simulator, like
    # `vllm serve`, takes its own from VLLM_API_KEY and answers 401 on /v1/* without it.
    env |= {"CIBENCH_TEST_KEY": secret, "VLLM_API_KEY": secret}
    artifacts = tmp_path / "artifacts"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--scenario", "local-sim", "-p", "no:cacheprovider",
         f"--configs={configs}", f"--artifacts={artifacts}", "--run-id", "keyed", "-rs"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    # every stage passed against a server that refuses requests without the key
    assert result.returncode == 0, result.stdout[-4000:]
    run = artifacts / "keyed" / "local-sim"
    assert (run / "functional.csv").read_text().count(",pass,") >= 100
    assert list((run / "perf").glob("summary_*.csv"))
    assert (run / "accuracy.csv").exists()

    written = [path for path in artifacts.rglob("*") if path.is_file()]
    assert len(written) > 10
    leaks = [str(p) for p in written if secret in p.read_text(encoding="utf-8", errors="replace")]
    assert leaks == []
    assert secret not in result.stdout + result.stderr
