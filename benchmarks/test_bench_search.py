"""Search domain latency: one BM25 query, the ``search`` tool end to end, and building the corpus once.

Every ``search`` call of every rollout runs a BM25 query, so its latency bounds Search env throughput;
the corpus and index are built once per process on first use. Per-query times land in ``extra_info``.
Run: ``pytest benchmarks/test_bench_search.py --benchmark-only --benchmark-columns=min,median,max,rounds``.
"""

from __future__ import annotations

import pytest

from tooluse_envs.domains.search import corpus, search
from tooluse_envs.domains.search_corpus import build_corpus
from tooluse_envs.tasks import load_tasks

pytest.importorskip("pytest_benchmark")


def _queries() -> dict[str, list[str]]:
    """Queries as agents write them: entity names (the reference's lookups) and whole questions."""
    tasks = load_tasks("search", "test_ood")
    names = [c.arguments["query"] for t in tasks for c in t.reference.tool_calls if c.name == "search"]
    questions = [t.question.split(" Use the search tools")[0] for t in tasks]
    return {"names": names[:500], "questions": questions}


def _run_bm25(queries: list[str]) -> None:
    index = corpus().index
    for query in queries:
        index.search(query, 5)


def _run_tool(queries: list[str]) -> None:
    for query in queries:
        search(query)


@pytest.mark.parametrize("kind", ["names", "questions"])
@pytest.mark.parametrize("layer", ["bm25", "tool"])
def test_search_latency(benchmark, kind, layer):
    benchmark.group = "search: 500 queries, top 5"
    queries = _queries()[kind]
    run = _run_bm25 if layer == "bm25" else _run_tool
    run(queries)  # build the corpus and warm caches outside the timing
    benchmark.pedantic(run, args=(queries,), rounds=10, iterations=1)
    benchmark.extra_info["queries_per_round"] = len(queries)
    if benchmark.stats:  # None under --benchmark-disable (the smoke run of `make test`)
        benchmark.extra_info["median_us_per_query"] = round(benchmark.stats.stats.median / len(queries) * 1e6, 1)


def test_corpus_and_index_build(benchmark):
    benchmark.group = "search: corpus build"
    built = benchmark.pedantic(build_corpus, rounds=3, iterations=1)
    benchmark.extra_info["documents"] = len(built.documents)
    benchmark.extra_info["terms"] = len(built.index.postings)
