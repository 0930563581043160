"""The Search domain's corpus: one encyclopedia entry per entity of the world, and a BM25 index.

Each document states its entity's own facts (born in, founded by, headquartered in, lies on, ...) in
varied wording, a few of them seen from the other side (a person's entry names the company they
founded), distractor sentences with true facts about *other* entities (a friend's birthplace, a rival's
headquarters, where someone later lived) and neutral filler.

The index is our own small Okapi BM25: the corpus is a few thousand short documents, and a
dependency-free index built in well under a second keeps the environment offline and importable with
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

import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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
        counts = [Counter(tokenize(text)) for text in texts]
        self.n_docs = len(counts)
        self.lengths = [sum(c.values()) for c in counts]
        self.avgdl = sum(self.lengths) / self.n_docs if self.n_docs else 0.0
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        self.idf = {term: math.log(1 + (self.n_docs - n + 0.5) / (n + 0.5)) for term, n in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for doc, c in enumerate(counts):
            norm = k1 * (1 - b + b * self.lengths[doc] / self.avgdl) if self.avgdl else k1
            for term, tf in c.items():
                docs, weights = postings.setdefault(term, ([], []))
                docs.append(doc)
                weights.append(self.idf[term] * tf * (k1 + 1) / (tf + norm))
        self.postings = {t: (np.array(d, dtype=np.intp), np.array(w)) for t, (d, w) in postings.items()}

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
        return {int(doc): float(dense[doc]) for doc in np.flatnonzero(dense)}

    def search(self, query: str, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` best (document position, score) pairs, best first; ties go to the earlier document."""
        dense = self._dense(query)
        candidates = np.flatnonzero(dense)  # every weight is positive: nonzero means matched
        if len(candidates) > k:
            kth = np.partition(dense[candidates], len(candidates) - k)[len(candidates) - k]
            candidates = candidates[dense[candidates] >= kth]  # the top k, plus any ties with the k-th
        ranked = candidates[np.lexsort((candidates, -dense[candidates]))][:k]
        return [(int(doc), float(dense[doc])) for doc in ranked]


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A document's sentences with their terms (memoised: the same few documents come up again and again)."""
    return tuple((sentence, frozenset(tokenize(sentence))) for sentence in _SENTENCE.split(text.strip()))


def best_sentence(text: str, query: str, limit: int = 200) -> str:
    """The sentence of ``text`` sharing the most distinct terms with ``query`` (the first on ties), clipped.

    Shown as a search result's snippet, so the policy can judge a hit before opening it.
    """
    wanted = set(tokenize(query))
    best = max(_sentences(text), key=lambda pair: len(wanted & pair[1]))[0]
    return best if len(best) <= limit else best[: limit - 3].rstrip() + "..."


@dataclass(frozen=True)
class Document:
    """One encyclopedia entry; ``text`` is what ``open`` returns under the title."""

    id: str
    title: str
    text: str
    entity: Entity


@dataclass
class Corpus:
    """The world's entities by kind, its documents in index order, and the BM25 index over them."""

    entities: dict[str, list[Entity]]
    documents: list[Document]
    by_id: dict[str, Document]
    index: BM25Index

    def doc(self, entity: Entity) -> Document:
        return self.by_id[entity.doc_id]


# -- documents ---------------------------------------------------------------------------------------
# Each writer returns the title, the opening sentence, the entity's facts (every one a question may
# ask about, each with an explicit subject so sentence order never makes it ambiguous), distractor
# sentences with true facts about other entities, and filler.

Parts = tuple[str, str, list[str], list[str], list[str]]


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _other(rng: random.Random, items: list[Entity], entity: Entity) -> Entity:
    while True:
        other = rng.choice(items)
        if other is not entity:
            return other


def _person(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, city, uni = e.name, e.links["born_in"].name, e.links["alma_mater"].name
    p, pp = e.attrs["pronoun"], e.attrs["pronoun"].capitalize()
    first = f"{n} (born {e.attrs['birth_year']}) is {_a(e.attrs['occupation'])}."
    facts = [
        rng.choice((f"{n} was born in {city}.", f"{n} was born in the city of {city}.", f"{n} is a native of {city}.")),
        rng.choice((f"{n} studied at {uni}.", f"{n} graduated from {uni}.", f"{n} attended {uni}.")),
    ]
    facts += [f"In {c.attrs['founded']}, {n} founded {c.name}." for c in e.backlinks.get("founded", [])]
    facts += [f"{n} is the lead singer of {b.name}." for b in e.backlinks.get("sings_in", [])]
    facts += [f"{n} invented the {i.name} in {i.attrs['year']}." for i in e.backlinks.get("invented", [])]
    friend = _other(rng, w["person"], e)
    distractors = [
        f"Later in life {p} lived in {rng.choice(w['city']).name}.",
        f"{pp} was a close friend of {friend.name}, who was born in {friend.links['born_in'].name}.",
        f"{pp} once gave a lecture at {_other(rng, w['university'], e.links['alma_mater']).name}.",
    ]
    filler = [
        f"{pp} is known for a meticulous working style.",
        f"Colleagues remember {n} as patient and curious.",
        f"{pp} rarely spoke to the press.",
    ]
    return n, first, facts, distractors, filler


def _company(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, founder, hq = e.name, e.links["founder"].name, e.links["hq"].name
    rival = _other(rng, w["company"], e)
    first = f"{n} is {_a(e.attrs['industry'])} company founded in {e.attrs['founded']}."
    facts = [
        rng.choice((f"{n} was founded by {founder}.", f"The founder of {n} is {founder}.", f"{founder} founded {n}.")),
        rng.choice((f"{n} is headquartered in {hq}.", f"The head office of {n} is in {hq}.", f"{n} is based in {hq}.")),
    ]
    facts += [f"{n} manufactures the {i.name}." for i in e.backlinks.get("makes", [])]
    distractors = [
        f"The company also runs a regional office in {rng.choice(w['city']).name}.",
        f"The chief rival of {n} is {rival.name}, which is headquartered in {rival.links['hq'].name}.",
        f"The current chief executive of {n} is {rng.choice(w['person']).name}.",
    ]
    filler = [
        f"{n} employs several thousand people.",
        f"The logo of {n} has changed three times.",
        f"{n} is listed on a regional stock exchange.",
    ]
    return n, first, facts, distractors, filler


def _band(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, singer, city, year = e.name, e.links["lead_singer"].name, e.links["formed_in"].name, e.attrs["formed"]
    genre, other = e.attrs["genre"], _other(rng, w["band"], e)
    first = rng.choice(
        (
            f"{n} is {_a(genre)} band formed in {city} in {year}.",
            f"{n} is {_a(genre)} band that was formed in {year} in the city of {city}.",
        )
    )
    facts = [
        rng.choice(
            (
                f"The lead singer of {n} is {singer}.",
                f"{singer} is the lead singer of {n}.",
                f"{singer} sings lead vocals for {n}.",
            )
        )
    ]
    distractors = [
        f"The drummer of {n} is {rng.choice(w['person']).name}.",
        f"{n} opened their first tour in {rng.choice(w['city']).name}.",
        f"{n} are often compared to {other.name}, a band formed in {other.links['formed_in'].name}.",
    ]
    filler = [
        f"The second album of {n} was recorded in a converted barn.",
        f"{n} rarely give interviews.",
        f"{n} are known for long live shows.",
    ]
    return n, first, facts, distractors, filler


def _invention(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, inventor, maker, year = e.name, e.links["inventor"].name, e.links["maker"].name, e.attrs["year"]
    first = rng.choice(
        (f"The {n} is a device invented by {inventor} in {year}.", f"The {n} was invented in {year} by {inventor}.")
    )
    facts = [
        rng.choice(
            (
                f"The {n} is manufactured by {maker}.",
                f"Today the {n} is produced by {maker}.",
                f"{maker} manufactures the {n}.",
            )
        )
    ]
    distractors = [
        f"An improved {n} was patented by {rng.choice(w['person']).name} decades later.",
        f"The {n} was first demonstrated in {rng.choice(w['city']).name}.",
        f"A rival design to the {n} was sold by {_other(rng, w['company'], e.links['maker']).name}.",
    ]
    filler = [f"Early models of the {n} were heavy and expensive.", f"The {n} is still used in some workshops."]
    return n.capitalize(), first, facts, distractors, filler


def _city(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, country = e.name, e.links["country"].name
    first = rng.choice((f"{n} is a city in {country}.", f"{n} is a city located in {country}."))
    facts = [f"{n} was founded in {e.attrs['founded']}."]
    if "river" in e.links:
        river = e.links["river"].name
        facts.append(rng.choice((f"{n} lies on the {river}.", f"The {river} flows through {n}.")))
    if e.backlinks.get("capital_of"):
        facts.append(f"{n} is the capital of {country}.")
    twin = _other(rng, w["city"], e)
    distractors = [
        f"{n} is twinned with {twin.name}, a city in {twin.links['country'].name}.",
        f"Many residents of {n} commute to {_other(rng, w['city'], e).name}.",
    ]
    filler = [
        f"{n} is known for its covered markets.",
        f"{n} is known for its stone bridges.",
        f"The spring festival of {n} draws many visitors.",
        f"{n} has a well-preserved old town.",
    ]
    return n, first, facts, distractors, filler


def _country(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, capital, currency = e.name, e.links["capital"].name, e.attrs["currency"]
    first = f"{n}, officially the {e.attrs['official']}, is a country."
    facts = [
        rng.choice((f"The capital of {n} is {capital}.", f"{capital} is the capital of {n}.")),
        rng.choice((f"The currency of {n} is the {currency}.", f"{n} uses the {currency} as its currency.")),
    ]
    others = [c.name for c in e.backlinks["cities"] if c is not e.links["capital"]][:3]
    if len(others) >= 2:
        facts.append(f"Other cities in {n} include {', '.join(others[:-1])} and {others[-1]}.")
    neighbour = _other(rng, w["country"], e)
    distractors = [
        f"{n} shares a border with {neighbour.name}, whose capital is {neighbour.links['capital'].name}.",
        f"Traders in {n} often accept the {neighbour.attrs['currency']}, the currency of {neighbour.name}.",
    ]
    filler = [f"{n} has a mild climate.", f"Most of {n} is covered by forests and hills."]
    return n, first, facts, distractors, filler


def _river(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, cities = e.name, [c.name for c in e.backlinks["cities"]]
    first = f"The {n} is a river about {e.attrs['length_km']} km long."
    facts = [f"The {n} flows through {', '.join(cities[:-1])} and {cities[-1]}."]
    other = _other(rng, w["river"], e)
    distractors = [
        f"The {n} is sometimes confused with the {other.name}, which flows through {other.backlinks['cities'][0].name}."
    ]
    filler = [f"The {n} freezes in hard winters.", f"Barges on the {n} carry timber and grain."]
    return n, first, facts, distractors, filler


def _university(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> Parts:
    n, city, year = e.name, e.links["city"].name, e.attrs["founded"]
    first = rng.choice(
        (
            f"{n} is a university in {city}, founded in {year}.",
            f"{n} is a university founded in {year} in the city of {city}.",
        )
    )
    alumni = [p.name for p in e.backlinks.get("alumni", [])][:2]
    facts = [f"Notable alumni of {n} include {' and '.join(alumni)}."] if alumni else []
    partner = _other(rng, w["university"], e)
    distractors = [
        f"{n} has an exchange programme with {partner.name}, located in {partner.links['city'].name}.",
        f"{rng.choice(w['person']).name} once taught at {n}.",
    ]
    filler = [f"{n} is known for its botanical garden.", f"The library of {n} holds many rare maps."]
    return n, first, facts, distractors, filler


WRITERS = {"person": _person, "company": _company, "band": _band, "invention": _invention, "city": _city}
WRITERS |= {"country": _country, "river": _river, "university": _university}


def _write(entity: Entity, world: dict[str, list[Entity]], rng: random.Random) -> tuple[str, str]:
    """Title and text of an entity's document: the opening, then facts, two distractors and filler mixed."""
    title, first, facts, distractors, filler = WRITERS[entity.kind](entity, world, rng)
    rest = facts + rng.sample(distractors, min(2, len(distractors))) + [rng.choice(filler)]
    rng.shuffle(rest)
    sentences = [first, *rest]
    cut = (len(sentences) + 1) // 2 if len(sentences) > 4 else len(sentences)
    text = " ".join(sentences[:cut])
    return title, text + ("\n\n" + " ".join(sentences[cut:]) if sentences[cut:] else "")


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
        title, text = _write(entity, world, rng)
        documents.append(Document(entity.doc_id, title, text, entity))
    index = BM25Index([f"{d.title} {d.title} {d.text}" for d in documents])
    return Corpus(world, documents, {d.id: d for d in documents}, index)
