"""A loopback HTTP proxy that slows an upstream server down by a factor, for injected regressions.

Real engines have no slowdown knob (the simulator has `--slowdown`), yet a gate's power is only
known by catching a regression of a known size. This proxy makes one: every response byte
that reaches the proxy `e` seconds after the request did is passed on `factor x e` seconds
after it, so TTFT, every inter-token gap and E2E all grow by `factor` (the client-proxy hop
excepted) and a closed loop's throughput falls by the same factor. The server's own work
is untouched, so the regression is exactly as big as asked on any engine.

How: one task per request reads the upstream response as it comes and stamps each chunk on
arrival; the writer holds every chunk until its stretched time. Reading never waits for
writing, so the stamps are the upstream's own timing, not the proxy's. Every method and path
is passed through (`/health`, `/v1/models`, `/metrics` too), status and headers included.

Run: `python -m cibench.engines.slowdown --upstream http://127.0.0.1:8000 --port 8001
--factor 1.3`; `python -m cibench.engines.llamacpp --slowdown 1.3` starts one in front of
llama.cpp's server (docs/llamacpp.md).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import FrameType

import aiohttp
from aiohttp import web

# not forwarded: they describe one connection, not the message (RFC 9110 section 7.6.1);
# Content-Length goes too because aiohttp frames the body it passes on itself
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Stretch:
    """Times a response by a factor: an event `e` seconds after `start` is due `factor x e`
    seconds after it."""

    start: float
    factor: float

    def due(self, at: float) -> float:
        return self.start + self.factor * (at - self.start)


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    """The end-to-end headers among `headers`."""
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


async def wait_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class SlowdownProxy:
    """The proxy's request handler; `session` is opened on `start()` and closed on `close()`."""

    def __init__(self, upstream: str, factor: float) -> None:
        if factor < 1.0:
            raise ValueError(f"slowdown factor must be >= 1.0, got {factor}")
        self.upstream = upstream.rstrip("/")
        self.factor = factor
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # no total timeout: a long generation is the upstream's business; raw bytes, so a
        # compressed body is passed on as it came, with its Content-Encoding
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None, "SlowdownProxy.start() was not called"
        stretch = Stretch(time.monotonic(), self.factor)
        body = await request.read()
        url = self.upstream + request.rel_url.path_qs
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=forwarded(request.headers),
                data=body or None,
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            return web.Response(status=502, text=f"slowdown proxy: upstream {url}: {exc}\n")
        async with upstream:
            queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
            reader = asyncio.create_task(self._read(upstream, queue))
            try:
                await wait_until(stretch.due(time.monotonic()))
                response = web.StreamResponse(
                    status=upstream.status,
                    reason=upstream.reason,
                    headers=forwarded(upstream.headers),
                )
                await response.prepare(request)
                while True:
                    arrived, chunk = await queue.get()
                    if chunk is None:
                        break
                    await wait_until(stretch.due(arrived))
                    await response.write(chunk)
                await response.write_eof()
                return response
            finally:
                reader.cancel()

    @staticmethod
    async def _read(
        upstream: aiohttp.ClientResponse, queue: asyncio.Queue[tuple[float, bytes | None]]
    ) -> None:
        """Stamps each chunk as it arrives; a final None, also when the upstream breaks off (the
        client then gets the stream cut where the upstream cut it)."""
        try:
            async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                await queue.put((time.monotonic(), chunk))
        except aiohttp.ClientError:
            pass
        finally:
            queue.put_nowait((time.monotonic(), None))


def application(proxy: SlowdownProxy) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await proxy.start()
        yield
        await proxy.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_route("*", "/{path:.*}", proxy.handle)
    return app


async def serve_until(
    upstream: str,
    host: str,
    port: int,
    factor: float,
    stop: threading.Event,
    listening: threading.Event | None = None,
) -> None:
    """Serve the proxy on host:port until `stop` is set (from a signal handler or a thread);
    `listening` is set once the port accepts connections."""
    runner = web.AppRunner(application(SlowdownProxy(upstream, factor)), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        if listening is not None:
            listening.set()
        await asyncio.to_thread(stop.wait)
    finally:
        await runner.cleanup()


def loopback_port() -> int:
    """A free TCP port on 127.0.0.1 for the upstream server behind the proxy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set (installs the handlers; main thread only)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def factor_arg(text: str) -> float:
    """argparse type for a slowdown factor: a number >= 1."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value >= 1.0:
        raise argparse.ArgumentTypeError(f"must be >= 1.0 (1.3 = 30 % slower), got {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cibench.engines.slowdown",
        description="Proxy an HTTP server, stretching every response's timing by a factor.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--upstream", required=True, help="base URL of the server to slow down")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument(
        "--factor", type=factor_arg, required=True, help="time stretch: 1.3 = 30 %% slower"
    )
    args = parser.parse_args(argv)
    stop = stop_on_signals()
    print(
        f"slowdown proxy: http://{args.host}:{args.port} -> {args.upstream} x{args.factor}",
        flush=True,
    )
    asyncio.run(serve_until(args.upstream, args.host, args.port, args.factor, stop))


if __name__ == "__main__":
    main(sys.argv[1:])
