"""Serve every mock service on one port, for environments pointed at it with ``base_url``.

    python -m tooluse_envs.rest.serve --port 8000
    env = gym.make("tooluse/REST-v0", base_url="http://127.0.0.1:8000")

Each service's OpenAPI document is at ``/<service>/openapi.json``; ``/`` lists them.
"""

from __future__ import annotations

import argparse
import sys

from tooluse_envs.rest import services
from tooluse_envs.rest.hub import build_hub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--services", nargs="*", default=list(services.ALL), choices=services.ALL)
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(
        build_hub([services.load(name) for name in args.services]),
        host=args.host,
        port=args.port,
        log_level="info",
        lifespan="off",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
