"""Test helpers: a real Prometheus on loopback and TSDB backfill with `promtool`.

`run_prometheus` scrapes a Pushgateway the way the dashboard expects (`honor_labels: true`);
`as_openmetrics` + `backfill` turn a Pushgateway page into TSDB blocks at an earlier time, so
`offset 1d` / `offset 7d` queries are tested without waiting.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from cibench.launch.process import free_port, parent_death_signal, terminate


@contextlib.contextmanager
def loopback_server(command: list[str], log_path: Path, startup_timeout: float) -> Iterator[str]:
    """Run `command --web.listen-address=127.0.0.1:<free port>` until the block ends.

    Yields the URL once `/-/ready` answers 200 (Prometheus and the Pushgateway both serve it);
    raises RuntimeError with the end of the server's log when it exits or is not ready in time.
    """
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            # libc is loaded before the fork; the child only makes one syscall
            preexec_fn=parent_death_signal(),  # noqa: PLW1509
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{command[0]} exited with {proc.returncode}: {log_path.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} not ready after {startup_timeout} s at {url}")
            time.sleep(0.05)
        yield url
    finally:
        terminate(proc)


@contextlib.contextmanager
def run_prometheus(
    binary: str,
    scrape_url: str,
    scratch: Path,
    *,
    scrape_interval_s: int = 1,
    startup_timeout: float = 30.0,
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """Run Prometheus on a free loopback port scraping `scrape_url`; yield its URL.

    The scrape job is the one the dashboard expects (`honor_labels: true`, so the pushed `job`,
    `instance` and `scenario` labels win). `scratch/data` is the TSDB: blocks put there before
    the start (`promtool tsdb create-blocks-from openmetrics`) are served like scraped data.
    """
    target = scrape_url.split("://", 1)[-1].rstrip("/")
    config = {
        "global": {"scrape_interval": f"{scrape_interval_s}s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    config_path = scratch / "prometheus.yml"
    config_path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={scratch / 'data'}",
        "--storage.tsdb.retention.time=30d",
        *extra_args,
    ]
    with loopback_server(command, scratch / "prometheus.log", startup_timeout) as url:
        yield url


def as_openmetrics(
    exposition: str, job: str, pushed_s: float, scrapes_s: Sequence[float] = ()
) -> str:
    """The `job`'s samples of a Pushgateway `/metrics` page as if pushed at `pushed_s`.

    Each sample is stamped at `pushed_s` and at every time in `scrapes_s` (later scrapes of the
    same page: the Pushgateway keeps serving a group until the next push). The result is what
    `promtool tsdb create-blocks-from openmetrics` reads: samples only (their type is not needed
    to query them), series kept together in time order, `push_time_seconds` = `pushed_s`, and the
    closing `# EOF`.
    """
    stamps = [pushed_s, *sorted(t for t in scrapes_s if t > pushed_s)]
    lines: list[str] = []
    for line in exposition.splitlines():
        if not line or line.startswith("#") or f'job="{job}"' not in line:
            continue
        name_and_labels, _, value = line.rpartition(" ")
        if name_and_labels.startswith("push_failure_time_seconds{"):
            continue
        if name_and_labels.startswith("push_time_seconds{"):
            value = f"{pushed_s:.3f}"
        lines.extend(f"{name_and_labels} {value} {stamp:.3f}" for stamp in stamps)
    return "\n".join([*lines, "# EOF", ""])


def backfill(promtool: str, openmetrics: str, data_dir: Path, scratch: Path) -> None:
    """Write TSDB blocks for `openmetrics` into `data_dir` (`promtool tsdb create-blocks-...`)."""
    source = scratch / f"backfill-{time.monotonic_ns()}.om"
    source.write_text(openmetrics, encoding="utf-8")
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill of {source} failed: {done.stdout}{done.stderr}")
