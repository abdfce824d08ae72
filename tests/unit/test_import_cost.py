"""Loading the pytest plugin does not import the heavy clients: every pytest run pays for it.

The plugin is loaded by every `pytest` in a checkout with cibench installed, the unit suite and
every pytest-in-pytest test included. `openai`, `kubernetes` and `jsonschema` load on first use
(`benchmarks/import_time.py` measures the time).
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("openai", "kubernetes", "jsonschema", "numpy", "pandas")


def test_importing_the_plugin_leaves_the_heavy_clients_unloaded() -> None:
    code = f"import sys, cibench.plugin; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == []


def test_the_k8s_launcher_still_loads_on_demand() -> None:
    from cibench.launch import K8sLauncher

    assert K8sLauncher.__name__ == "K8sLauncher"
