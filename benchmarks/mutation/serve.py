"""`python -m benchmarks.mutation.serve UPSTREAM PORT`: run the mutation proxy on 127.0.0.1."""

from __future__ import annotations

import sys

from aiohttp import web

from benchmarks.mutation.proxy import build_app


def main() -> None:
    upstream, port = sys.argv[1], int(sys.argv[2])
    web.run_app(build_app(upstream), host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
