"""How long `import cibench.plugin` takes (every pytest run pays it), best of N runs.

    .venv/bin/python benchmarks/import_time.py [RUNS]

Prints the wall time and the CPU time (user + sys) of the import, with and without `pytest`
itself (already loaded when pytest loads the plugin). CPU time is the figure to compare on a
busy machine: other processes stretch the wall time, not the CPU time.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import resource, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
wall0, cpu0 = time.perf_counter(), cpu()
import pytest
cpu1 = cpu()
import cibench.plugin
print(time.perf_counter() - wall0, cpu() - cpu0, cpu() - cpu1)
"""


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
        ).stdout
        samples.append(tuple(float(value) for value in out.split()))
    wall, cpu, plugin_cpu = (min(column) for column in zip(*samples, strict=True))
    print(f"import cibench.plugin, best of {runs}:")
    print(f"  wall {wall:.3f} s, CPU {cpu:.3f} s (pytest included)")
    print(f"  CPU {plugin_cpu:.3f} s (pytest already loaded)")


if __name__ == "__main__":
    main()
