"""An HTTP proxy in front of the simulator that plays one buggy server per path prefix.

`http://127.0.0.1:PORT/m/<mutant>/v1/chat/completions` is forwarded to the simulator as
`/v1/chat/completions` with the mutant's request rewrite, and its answer comes back with the
mutant's response rewrite; `/m/none/...` passes everything through. Answers (streams too) are
read whole before they are rewritten: the functional suite reads streams whole as well, so
only timing is lost, and every mutant is served by one proxy and one simulator at once.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.mutation.mutants import MUTANTS, Exchange

CONTROL = "none"
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def build_app(upstream: str) -> web.Application:
    """The proxy application forwarding to `upstream` (`http://host:port`)."""
    app = web.Application(client_max_size=8 * 1024 * 1024)
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def start(app: web.Application) -> None:
        app[session_key] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=120), auto_decompress=True
        )

    async def stop(app: web.Application) -> None:
        await app[session_key].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        name = request.match_info["mutant"]
        path = "/" + request.match_info["rest"]
        mutant = MUTANTS.get(name)
        if mutant is None and name != CONTROL:
            return web.json_response({"error": f"unknown mutant {name!r}"}, status=599)
        raw = await request.read()
        parsed: dict[str, Any] | None = None
        if raw:
            try:
                loaded = json.loads(raw)
                parsed = loaded if isinstance(loaded, dict) else None
            except (ValueError, UnicodeDecodeError):
                parsed = None
        original = json.loads(json.dumps(parsed)) if parsed is not None else None
        if mutant is not None and mutant.on_request is not None and parsed is not None:
            parsed = mutant.on_request(path, parsed)
            raw = json.dumps(parsed).encode("utf-8")
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS | {"host"}
        }
        async with app[session_key].request(
            request.method, upstream + path, data=raw or None, headers=headers
        ) as answer:
            body = await answer.read()
            exchange = Exchange(
                method=request.method,
                path=path,
                request=original,
                status=answer.status,
                content_type=answer.headers.get("content-type", ""),
                body=body,
            )
        if mutant is not None and mutant.on_response is not None:
            exchange = mutant.on_response(exchange)
        return web.Response(
            status=exchange.status,
            body=exchange.body,
            headers={"Content-Type": exchange.content_type} if exchange.content_type else {},
        )

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/m/{mutant}/{rest:.*}", forward)
    return app
