"""Whether Search tasks need searching: gold-document ranks and the share answerable from snippets.

Two measurements over the teacher's trajectories, printed by ``python -m tooluse_envs.domains.search_audit``
and held to targets by the tests:

* the rank of each hop's gold document (the one the teacher then opens) among the hits of the
  teacher's query (1 = first; a namesake or near-duplicate title often ranks above it);
* the share of tasks whose search results (titles and snippets of every hit the teacher's queries
  list) contain all the evidence the final step needs — the answer for a chain, both compared values
  for a comparison, the true value for a yes/no claim — so a policy could answer without opening a
  document. The target is at most ``SNIPPET_TARGET``. For reference, the same share is reported when
  the whole question is the query (what a policy that searches once and never opens would see).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass

from tooluse_envs.answers import normalize_text
from tooluse_envs.domains.search import split_plans
from tooluse_envs.domains.search_plans import Plan
from tooluse_envs.domains.search_tools import DEFAULT_K, MAX_K, search, search_hits
from tooluse_envs.tasks import SPLITS, Reference

SNIPPET_TARGET = 0.05


@dataclass(frozen=True)
class RetrievalReport:
    """Gold ranks (rank -> hops; ``MAX_K + 1`` = not in the top ``MAX_K``) and snippet-answerable tasks."""

    tasks: int
    gold_ranks: Counter[int]
    snippet_answerable: tuple[str, ...]  # task ids
    question_answerable: tuple[str, ...] = ()  # task ids whose evidence shows when the question is the query

    @property
    def snippet_share(self) -> float:
        return len(self.snippet_answerable) / max(1, self.tasks)

    @property
    def first_share(self) -> float:
        return self.gold_ranks[1] / max(1, sum(self.gold_ranks.values()))

    def summary(self) -> str:
        ranks = ", ".join(f"{rank}: {n}" for rank, n in sorted(self.gold_ranks.items()))
        return (
            f"gold rank per hop ({sum(self.gold_ranks.values())} hops; rank: count) {ranks}; "
            f"first {self.first_share:.0%}; answerable from snippets {len(self.snippet_answerable)}/{self.tasks} "
            f"({self.snippet_share:.1%}, target <= {SNIPPET_TARGET:.0%}); with the question as the query "
            f"{len(self.question_answerable)}/{self.tasks}"
        )


def hop_pairs(reference: Reference) -> list[tuple[str, str]]:
    """(query, opened doc id) per hop: the i-th search pairs with the i-th open, in either layout."""
    calls = reference.tool_calls
    queries = [c.arguments["query"] for c in calls if c.name == "search"]
    opened = [c.arguments["doc_id"] for c in calls if c.name == "open"]
    return list(zip(queries, opened, strict=True))


def gold_rank(query: str, doc_id: str) -> int:
    """1-based rank of ``doc_id`` among ``query``'s hits (``MAX_K + 1`` when not in the top ``MAX_K``)."""
    ids = [doc.id for doc in search_hits(query, MAX_K)]
    return ids.index(doc_id) + 1 if doc_id in ids else MAX_K + 1


def _contains(haystack: str, phrase: str) -> bool:
    return re.search(rf"(?<!\S){re.escape(normalize_text(phrase))}(?!\S)", haystack) is not None


def answerable_from_snippets(queries: list[str], plan: Plan) -> bool:
    """Whether every piece of the final step's evidence shows in the search results of ``queries``."""
    shown = normalize_text(" ".join(search(query, DEFAULT_K) for query in queries))
    return all(any(_contains(shown, alias) for alias in options) for options in plan.evidence)


def retrieval_report(splits: tuple[str, ...] = SPLITS) -> RetrievalReport:
    """Both measurements over the teacher references of ``splits``."""
    ranks: Counter[int] = Counter()
    answerable, lazy, tasks = [], [], 0
    for split in splits:
        for task, plan in split_plans(split):
            tasks += 1
            pairs = hop_pairs(task.reference)
            ranks.update(gold_rank(query, doc_id) for query, doc_id in pairs)
            if answerable_from_snippets([query for query, _ in pairs], plan):
                answerable.append(task.id)
            if answerable_from_snippets([plan.question], plan):
                lazy.append(task.id)
    return RetrievalReport(tasks, ranks, tuple(answerable), tuple(lazy))


def main() -> int:
    for split in SPLITS:
        print(f"search {split}: {retrieval_report((split,)).summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
