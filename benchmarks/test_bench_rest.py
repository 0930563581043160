"""One REST tool call, in-process vs over loopback HTTP, side by side (group "rest tool call").

Each round is one ``Session.call``: argument mapping, the HTTP request (ASGI called directly, or a
keep-alive connection to uvicorn on 127.0.0.1), Starlette routing and validation, the handler, and the
observation text. Targets: median <= 0.5 ms in-process, <= 3 ms over HTTP.
Run: ``pytest benchmarks/test_bench_rest.py --benchmark-only``.
"""

from __future__ import annotations

import pytest
from bench_utils import record_rate

from tooluse_envs.domains.rest import RestDomain
from tooluse_envs.tasks import load_tasks

CALL = ("get_product", {"product_id": "P-1042"})  # a service without a rate limit, so every round is a 200


@pytest.mark.parametrize("transport", ["inprocess", "http"])
def test_one_tool_call(benchmark, transport):
    benchmark.group = "rest tool call"
    domain = RestDomain(transport=transport)
    task = next(t for t in load_tasks("rest", "test_id") if "shop" in t.tags)
    session = domain.open(task)
    tool = session.tools[CALL[0]]
    assert session.call(tool, CALL[1]).startswith("HTTP 200")  # warm: connection, routes, caches
    observation = benchmark(session.call, tool, CALL[1])
    assert observation.startswith("HTTP 200")
    record_rate(benchmark, "calls_per_s", 1)
    session.close()
    domain.close()
