"""Without the `[k8s]` extra, a k8s scenario fails with the install command, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cibench.errors import LaunchError
from cibench.launch.k8s_api import K8S_INSTALL_HINT, KubeApi


def test_a_missing_kubernetes_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # as if not installed

    with pytest.raises(LaunchError, match=r"cibench\[k8s\]") as raised:
        KubeApi(tmp_path / "kubeconfig")
    assert K8S_INSTALL_HINT in str(raised.value)


def test_importing_the_launchers_does_not_import_kubernetes() -> None:
    code = "import cibench.launch, cibench.plugin, sys; print('kubernetes' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "False"
