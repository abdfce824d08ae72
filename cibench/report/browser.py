"""Open an HTML file in headless Chromium and report what a reader would see.

Talks the DevTools protocol over `--remote-debugging-pipe` (fd 3 in, fd 4 out, JSON messages
ended by NUL), so it needs no websocket library and no port. Used by the tests (no console
errors, every chart drawn) and to take the screenshots in docs/.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium refuses its sandbox
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
_PLOTS_JS = """JSON.stringify(Array.from(document.querySelectorAll('figure.plot')).map(f => {
  const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : null;
  return {id: f.dataset.plot, width: box ? box.width : 0, height: box ? box.height : 0,
          marks: svg ? svg.querySelectorAll('path, use, rect').length : 0};
}))"""


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer."""


@dataclass(frozen=True, slots=True)
class DrawnPlot:
    """One `figure.plot` as laid out: its `data-plot` id, size in CSS pixels, SVG mark count."""

    plot_id: str
    width: float
    height: float
    marks: int


@dataclass(slots=True)
class PageVisit:
    """What happened when the page was opened."""

    console_errors: list[str] = field(default_factory=list)
    plots: list[DrawnPlot] = field(default_factory=list)
    load_s: float = 0.0
    """From navigation to the load event."""
    screenshot: Path | None = None


def find_browser() -> str | None:
    """The path of a Chromium on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """Requests and events of one DevTools connection."""

    def __init__(self, to_browser: int, from_browser: int, timeout_s: float) -> None:
        self.out, self.inp, self.timeout_s = to_browser, from_browser, timeout_s
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.inp], [], [], max(left, 0))
            if not ready:
                raise BrowserError(f"Chromium did not answer within {self.timeout_s:g} s")
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        data: dict[str, Any] = json.loads(message)
        return data

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        request: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self.out, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read_message(deadline))


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(arg.get("value", "")) for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(str(params.get("exceptionDetails", {}).get("text", "exception")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
    return errors


def visit(
    html_file: Path,
    *,
    screenshot: Path | None = None,
    width: int = 1280,
    timeout_s: float = 60.0,
    browser: str | None = None,
) -> PageVisit:
    """Open `html_file`, wait for it to load, list console errors and charts, optionally save a
    full-page PNG screenshot of it."""
    binary = browser or find_browser()
    if binary is None:
        raise BrowserError(f"no Chromium on PATH (looked for {', '.join(BROWSERS)})")
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()

    def wire_fds() -> None:  # in the child: the pipe ends become fds 3 and 4
        a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)

    with tempfile.TemporaryDirectory(prefix="cibench-chromium-") as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,  # noqa: PLW1509  (dup2 only: no locks taken in the child)
            # not pass_fds: it requires fds 3 and 4 to be open here already. Python opens its
            # own files non-inheritable, so only these two (and stdio) reach Chromium.
            close_fds=False,
        )
        os.close(to_r)
        os.close(from_w)
        pipe = _Pipe(to_w, from_r, timeout_s)
        try:
            return _drive(pipe, html_file, screenshot, width)
        finally:
            with contextlib.suppress(BrowserError, OSError):
                pipe.call("Browser.close")
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(to_w)
            os.close(from_r)


def _drive(pipe: _Pipe, html_file: Path, screenshot: Path | None, width: int) -> PageVisit:
    target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
    session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        pipe.call(f"{domain}.enable", session)
    pipe.events.clear()
    started = time.monotonic()
    pipe.call("Page.navigate", session, url=html_file.resolve().as_uri())
    pipe.wait_for("Page.loadEventFired")
    visit_result = PageVisit(load_s=time.monotonic() - started)
    value = pipe.call("Runtime.evaluate", session, expression=_PLOTS_JS, returnByValue=True)
    for item in json.loads(value["result"]["value"]):
        visit_result.plots.append(
            DrawnPlot(
                str(item["id"]), float(item["width"]), float(item["height"]), int(item["marks"])
            )
        )
    if screenshot is not None:
        metrics = pipe.call("Page.getLayoutMetrics", session)
        height = int(metrics["cssContentSize"]["height"])
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = pipe.call(
            "Page.captureScreenshot", session, format="png", captureBeyondViewport=True
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        visit_result.screenshot = screenshot
    visit_result.console_errors = _console_errors(pipe.events)
    return visit_result
