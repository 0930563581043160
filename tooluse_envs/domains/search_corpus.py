"""The Search domain's corpus: the world's documents (``search_docs``) under a BM25 index.

The index is our own small Okapi BM25: the corpus is some ten thousand short documents, and a
dependency-free index built in about a second keeps the environment offline and importable with
the base install. Every ``search`` call of every rollout goes through it, so each term's BM25 weight for
each document is precomputed at build time and a query only sums the postings of its terms::

    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(q, d) = sum over distinct terms t of q of
                  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))

Tokens are lower-cased runs of letters and digits; a short list of English stop words is dropped from
documents and queries alike (they carry no signal and would make every query touch every document).
Ties are broken by document position, so rankings are fully deterministic.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tooluse_envs.domains.search_docs import write_document
from tooluse_envs.domains.search_world import WORLD_SEED, Entity, build_world

_TOKEN = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the to was were which who with".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens without stop words (the same for documents and queries)."""
    return [token for token in _TOKEN.findall(text.lower()) if token not in STOP_WORDS]


class BM25Index:
    """An inverted index over ``texts`` with precomputed per-posting BM25 weights.

    Postings are numpy arrays (document positions, weights), so a query adds a few arrays into one
    dense score vector instead of looping in Python over every document that contains "born".

    Args:
        texts: The documents, in order; results refer to them by position.
        k1: Term-frequency saturation.
        b: Length normalisation (0 = none, 1 = full).
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n_docs = len(texts)
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        self.lengths = []
        for text in texts:
            tokens = tokenize(text)
            term_ids.extend(vocabulary.setdefault(token, len(vocabulary)) for token in tokens)
            self.lengths.append(len(tokens))
        self.avgdl = sum(self.lengths) / self.n_docs if self.n_docs else 0.0
        # One (term, document) key per token; unique keys come out sorted by term, then document, with
        # their counts as term frequencies: every posting list at once, without a Python loop per posting.
        n = max(1, self.n_docs)
        doc_of_token = np.repeat(np.arange(self.n_docs, dtype=np.int64), self.lengths)
        keys, tf = np.unique(np.array(term_ids, dtype=np.int64) * n + doc_of_token, return_counts=True)
        terms, docs = keys // n, (keys % n).astype(np.intp)
        df = np.bincount(terms, minlength=len(vocabulary))
        idf = np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))
        lengths = np.array(self.lengths, dtype=float)
        norm = k1 * (1 - b + b * lengths / self.avgdl) if self.avgdl else np.full(self.n_docs, k1)
        weights = idf[terms] * tf * (k1 + 1) / (tf + norm[docs])
        bounds = np.concatenate(([0], np.cumsum(df)))
        names = list(vocabulary)
        self.idf = {term: float(idf[i]) for i, term in enumerate(names)}
        self.postings = {
            term: (docs[bounds[i] : bounds[i + 1]], weights[bounds[i] : bounds[i + 1]]) for i, term in enumerate(names)
        }

    def _dense(self, query: str) -> np.ndarray:
        """Scores of all documents; terms are summed once each, in query order (deterministic sums)."""
        dense = np.zeros(self.n_docs)
        for term in dict.fromkeys(tokenize(query)):
            if term in self.postings:
                docs, weights = self.postings[term]
                dense[docs] += weights  # a term lists each document once, so no index repeats
        return dense

    def scores(self, query: str) -> dict[int, float]:
        """BM25 score of every document that shares at least one term with ``query``."""
        dense = self._dense(query)
        return {int(doc): float(dense[doc]) for doc in np.flatnonzero(dense > 0)}

    def search(self, query: str, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` best (document position, score) pairs, best first; ties go to the earlier document."""
        dense = self._dense(query)
        # Every weight is positive, so > 0 means matched (nonzero() on a bool array is ~20x faster than on floats).
        candidates = np.flatnonzero(dense > 0)
        if len(candidates) > k:
            kth = np.partition(dense[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[dense[candidates] >= kth]  # the top k, plus any ties with the k-th
        ranked = candidates[np.lexsort((candidates, -dense[candidates]))][:k]
        return [(int(doc), float(dense[doc])) for doc in ranked]


SNIPPET_CHARS = 200


def lead_of(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A document's first sentence, clipped: what ``search`` shows as the result's snippet.

    The lead is a description that states no asked-for fact (``search_docs``), so whatever the query,
    an answer is read only by opening the document.
    """
    lead = _SENTENCE.split(text.strip(), maxsplit=1)[0]
    return lead if len(lead) <= limit else lead[: limit - 3].rstrip() + "..."


@dataclass(frozen=True)
class Document:
    """One encyclopedia entry; ``text`` is what ``open`` returns under the title, ``lead`` its snippet."""

    id: str
    title: str
    text: str
    entity: Entity
    lead: str = ""


@dataclass
class Corpus:
    """The world's entities by kind, its documents in index order, and the BM25 index over them."""

    entities: dict[str, list[Entity]]
    documents: list[Document]
    by_id: dict[str, Document]
    index: BM25Index

    def doc(self, entity: Entity) -> Document:
        return self.by_id[entity.doc_id]


def build_corpus(seed: int = WORLD_SEED) -> Corpus:
    """The world, one document per entity under shuffled ids ``d00000``..., and the BM25 index.

    Titles are indexed twice (a cheap title boost, as search engines weight titles), so looking an
    entity up by name finds its own entry rather than the many entries that merely mention it.
    """
    world = build_world(seed)
    rng = random.Random(seed + 1)
    entities = [entity for kind in world for entity in world[kind]]
    order = list(range(len(entities)))
    rng.shuffle(order)
    for position, entity_index in enumerate(order):
        entities[entity_index].doc_id = f"d{position:05d}"
    documents = []
    for entity_index in order:
        entity = entities[entity_index]
        title, text = write_document(entity, world, rng)
        documents.append(Document(entity.doc_id, title, text, entity, lead_of(text)))
    index = BM25Index([f"{d.title} {d.title} {d.text}" for d in documents])
    return Corpus(world, documents, {d.id: d for d in documents}, index)
