"""`python -m cibench.sim`: parse the command line and serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from cibench.sim.app import Simulator
from cibench.sim.options import parse_options
from cibench.sim.waits import new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator in the foreground; returns the exit status."""
    options = parse_options(argv)
    logging.basicConfig(
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = Simulator(options).make_app()
    # the access log costs ~10% of throughput; only debug runs want it
    access_log = logging.getLogger("aiohttp.access") if options.log_level == "debug" else None
    logging.getLogger("cibench.sim").info(
        "serving %s on http://%s:%d", options.model_names[0], options.host, options.port
    )
    # microsecond timers: the default epoll loop would round every token deadline up to 1 ms
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    web.run_app(
        app,
        host=options.host,
        port=options.port,
        print=None,
        access_log=access_log,
        loop=loop,
        # a client that disconnects frees its batch slot at once, as vLLM aborts the request
        handler_cancellation=True,
        # streams in flight must not hold up a stop for aiohttp's default of 60 s
        shutdown_timeout=1.0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
