"""The Search domain's corpus, cached per process, and its two tools: ``search`` (BM25) and ``open``."""

from __future__ import annotations

from functools import cache

from tooluse_envs.domains.search_corpus import Corpus, Document, build_corpus
from tooluse_envs.domains.search_world import WORLD_SEED
from tooluse_envs.tools import Tool

DEFAULT_K = 5
MAX_K = 20


@cache
def corpus() -> Corpus:
    """The world, its documents and index: built once per process (about a second), shared by all envs."""
    return build_corpus(WORLD_SEED)


def search_hits(query: str, k: int = DEFAULT_K) -> list[Document]:
    """The documents ``search`` lists for ``query``, best first."""
    c = corpus()
    return [c.documents[position] for position, _ in c.index.search(query, k)]


def search(query: str, k: int = DEFAULT_K) -> str:
    """The ``search`` tool: numbered hits with doc id, title and the document's lead as snippet."""
    hits = search_hits(query, k)
    if not hits:
        return f"No documents match {query!r}. Try other keywords, such as a name."
    return "\n".join(f"{i}. [{doc.id}] {doc.title}: {doc.lead}" for i, doc in enumerate(hits, 1))


def open_document(doc_id: str) -> str:
    """The ``open`` tool: a document's full text under its id and title."""
    doc = corpus().by_id.get(doc_id.strip())
    if doc is None:
        raise ValueError(f"unknown doc_id {doc_id[:40]!r}; ids look like 'd01234' (take one from search results)")
    return f"[{doc.id}] {doc.title}\n\n{doc.text}"


@cache
def search_tools() -> dict[str, Tool]:
    """The two tools, declared once; ``search`` comes first (its ``query`` is required)."""
    query = {"type": "string", "minLength": 1, "maxLength": 500, "description": "Keywords, e.g. a name to look up."}
    k = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K, "description": "Results (1-20)."}
    doc_id = {"type": "string", "minLength": 1, "maxLength": 64, "description": "A doc id from search results."}
    return {
        "search": Tool(
            "search",
            "Keyword search (BM25) over the encyclopedia; lists the best documents with id, title and a "
            "one-sentence description. Facts are in the documents: open one to read it.",
            {"type": "object", "properties": {"query": query, "k": k}, "required": ["query"]}
            | {"additionalProperties": False},
            search,
        ),
        "open": Tool(
            "open",
            "Read the full text of one document, by the doc id that search returned.",
            {"type": "object", "properties": {"doc_id": doc_id}, "required": ["doc_id"], "additionalProperties": False},
            open_document,
        ),
    }
