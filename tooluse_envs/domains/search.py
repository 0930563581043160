"""Search: multi-hop questions answered by searching an offline encyclopedia (the MENTOR paper's RAG OOD).

The paper evaluates out of domain on multi-hop QA (Bamboogle, HotpotQA, 2WikiMultihopQA) with a
Wikipedia search tool. Offline and answerable only by reading, ours asks 2–3-hop questions ("In which
country was the founder of Quorvin Labs born?") about a generated fictional world
(``search_world``; ~2,500 documents written by ``search_corpus``, built in memory on first use and cached
per process) through two tools: ``search`` (BM25) and ``open``. Answers are checked by normalised exact match
against aliases; token F1 is reported in ``info["episode"]["check"]["f1"]``.

Splits. Search is an out-of-domain domain, so ``test_ood`` (500 tasks) is the main evaluation: 14
question shapes (relation chains) and start entities drawn from the world's "ood" pool. ``train``
(200) and ``test_id`` (100, disjoint questions) exist for the env API and for cross-domain protocols;
they use 7 *other* shapes and start entities from the disjoint "id" pool, so no test_ood question
shares its shape or its subject with a train question (the corpus itself is shared, as Wikipedia is).

Every task's reference trajectory is search(name of the entity in hand) then open(its document), once
per hop; at generation time each reference query is run and must return the needed document in its
top 5, and each opened document must state the fact that leads to the next hop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from tooluse_envs.answers import normalize_text
from tooluse_envs.domain import Domain
from tooluse_envs.domains.search_corpus import Corpus, Document, best_sentence, build_corpus
from tooluse_envs.domains.search_world import WORLD_SEED, Entity
from tooluse_envs.tasks import Reference, ReferenceCall, Task
from tooluse_envs.tools import Tool

DEFAULT_K = 5
MAX_K = 20
SPLIT_SIZES = {"train": 200, "test_id": 100, "test_ood": 500}
SPLIT_SEEDS = {"train": 101, "test_id": 202, "test_ood": 303}
QUESTION_SUFFIX = " Use the search tools to find out, and give the final answer in \\boxed{}."
# A word that, added to an entity's name, singles out its own document when the name alone does not.
KIND_WORDS = {"person": "born", "city": "city", "country": "country", "company": "company", "band": "band"}
KIND_WORDS |= {"invention": "invented", "university": "university", "river": "river"}


@cache
def corpus() -> Corpus:
    """The world, its documents and index: built once per process (about 0.2 s), shared by all envs."""
    return build_corpus(WORLD_SEED)


def search_hits(query: str, k: int = DEFAULT_K) -> list[Document]:
    """The documents ``search`` lists for ``query``, best first."""
    c = corpus()
    return [c.documents[position] for position, _ in c.index.search(query, k)]


def search(query: str, k: int = DEFAULT_K) -> str:
    """The ``search`` tool: numbered hits with doc id, title and the sentence that best matches the query."""
    hits = search_hits(query, k)
    if not hits:
        return f"No documents match {query!r}. Try other keywords, such as a name."
    lines = [f"{i}. [{doc.id}] {doc.title}: {best_sentence(doc.text, query)}" for i, doc in enumerate(hits, 1)]
    return "\n".join(lines)


def open_document(doc_id: str) -> str:
    """The ``open`` tool: a document's full text under its id and title."""
    doc = corpus().by_id.get(doc_id.strip())
    if doc is None:
        raise ValueError(f"unknown doc_id {doc_id[:40]!r}; ids look like 'd01234' (take one from search results)")
    return f"[{doc.id}] {doc.title}\n\n{doc.text}"


@cache
def _tools() -> dict[str, Tool]:
    """The two tools, declared once; ``search`` comes first (its ``query`` is required)."""
    query = {"type": "string", "minLength": 1, "maxLength": 500, "description": "Keywords, e.g. a name to look up."}
    k = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K, "description": "Results (1-20)."}
    doc_id = {"type": "string", "minLength": 1, "maxLength": 64, "description": "A doc id from search results."}
    return {
        "search": Tool(
            "search",
            "Keyword search (BM25) over the encyclopedia; lists the best documents with id, title and a snippet.",
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


@dataclass(frozen=True)
class Shape:
    """A question shape: a chain of relations (the last step may be an attribute) from a start kind."""

    start: str
    path: tuple[str, ...]
    question: str

    @property
    def name(self) -> str:
        return "_".join((self.start, *self.path))


def _shapes(*rows: tuple[str, str, str]) -> tuple[Shape, ...]:
    return tuple(Shape(start, tuple(path.split()), question) for start, path, question in rows)


ID_SHAPES = _shapes(
    ("company", "hq country", "In which country is {x} headquartered?"),
    ("person", "born_in country", "In which country was {x} born?"),
    ("person", "alma_mater city", "In which city is the university {x} attended?"),
    ("band", "lead_singer born_in", "In which city was the lead singer of {x} born?"),
    ("invention", "inventor birth_year", "In what year was the inventor of the {x} born?"),
    ("company", "founder alma_mater city", "In which city is the university attended by the founder of {x}?"),
    ("band", "formed_in country capital", "What is the capital of the country where {x} was formed?"),
)
OOD_SHAPES = _shapes(
    ("company", "founder born_in", "In which city was the founder of {x} born?"),
    ("company", "founder born_in country", "In which country was the founder of {x} born?"),
    ("band", "lead_singer birth_year", "In what year was the lead singer of {x} born?"),
    ("band", "lead_singer alma_mater city", "In which city is the university that the lead singer of {x} attended?"),
    ("band", "formed_in river", "On which river lies the city where {x} was formed?"),
    ("invention", "inventor alma_mater", "Which university did the inventor of the {x} attend?"),
    ("invention", "inventor born_in country", "In which country was the inventor of the {x} born?"),
    ("invention", "maker hq", "In which city is the company that manufactures the {x} headquartered?"),
    ("invention", "maker founder birth_year", "In what year was the founder of the maker of the {x} born?"),
    ("company", "hq country currency", "What currency is used in the country where {x} is headquartered?"),
    ("city", "country capital", "What is the capital of the country in which {x} lies?"),
    ("person", "alma_mater founded", "In what year was the university attended by {x} founded?"),
    (
        "company",
        "founder alma_mater founded",
        "In what year was the university that the founder of {x} attended founded?",
    ),
    ("band", "lead_singer born_in river", "On which river lies the birthplace of the lead singer of {x}?"),
)


def lookup_query(entity: Entity) -> str | None:
    """A query whose top results contain ``entity``'s own document: its name, else name plus a kind word."""
    doc_id = entity.doc_id
    for query in (entity.name, f"{entity.name} {KIND_WORDS[entity.kind]}"):
        if any(doc.id == doc_id for doc in search_hits(query)):
            return query
    return None


def trace(shape: Shape, start: Entity) -> tuple[list[ReferenceCall], tuple[str, ...]] | None:
    """Walk ``shape`` from ``start`` as a reader would: per hop, search the entity, open its document,
    read the next fact there. Returns the calls and the answer's aliases, or None when a hop fails.
    """
    c, calls, current = corpus(), [], start
    for step in shape.path:
        query = lookup_query(current)
        if query is None:
            return None
        doc = c.doc(current)
        calls += [ReferenceCall("search", {"query": query}), ReferenceCall("open", {"doc_id": doc.id})]
        found = current.links.get(step, current.attrs.get(step))
        if found is None:
            return None
        if (found.name if isinstance(found, Entity) else found) not in doc.text:
            raise AssertionError(f"{doc.id} does not state {step} of {current.name}")  # a corpus bug, not bad luck
        current = found
    answers = current.answers if isinstance(current, Entity) else (current,)
    return calls, answers


def make_task(shape: Shape, start: Entity, split: str, number: int) -> Task | None:
    """The task asking ``shape`` about ``start``, or None if unanswerable or the question gives it away."""
    traced = trace(shape, start)
    if traced is None:
        return None
    calls, answers = traced
    question = shape.question.format(x=start.name)
    if normalize_text(answers[0]) in normalize_text(question):  # e.g. the capital asked about is the start
        return None
    return Task(
        id=f"search/{split}/{number:05d}",
        domain="search",
        split=split,
        question=question + QUESTION_SUFFIX,
        tools=("search", "open"),
        expected={"kind": "text", "answer": list(answers)},
        reference=Reference(tuple(calls), answers[0]),
        tags=(shape.name, f"hops:{len(shape.path)}", f"start:{shape.start}"),
    )


class SearchDomain(Domain):
    """Multi-hop questions over a generated offline encyclopedia, with BM25 ``search`` and ``open``."""

    name = "search"
    instructions = (
        "The documents describe a fictional world: search them rather than relying on memory. Put only the "
        "name, year or word asked for in the box, e.g. \\boxed{Tarsk}."
    )

    def tools(self) -> dict[str, Tool]:
        return _tools()

    def generate(self, split: str) -> list[Task]:
        """Cycle through the split's shapes, each over its own shuffled start entities, until full.

        ``test_id`` skips questions that ``train`` asks; shapes whose starts run out drop from the cycle.
        """
        ood = split == "test_ood"
        shapes, pool = (OOD_SHAPES, "ood") if ood else (ID_SHAPES, "id")
        rng = random.Random(SPLIT_SEEDS[split])
        taken = {t.question for t in self.generate("train")} if split == "test_id" else set()
        queues = []
        for shape in shapes:
            starts = [e for e in corpus().entities[shape.start] if e.pool == pool]
            rng.shuffle(starts)
            queues.append((shape, starts))
        tasks: list[Task] = []
        turn = 0
        while len(tasks) < SPLIT_SIZES[split]:
            live = [(shape, starts) for shape, starts in queues if starts]
            if not live:
                raise RuntimeError(f"search/{split}: the world has too few entities for {SPLIT_SIZES[split]} tasks")
            shape, starts = live[turn % len(live)]
            task = make_task(shape, starts.pop(), split, len(tasks))
            if task is not None and task.question not in taken:
                taken.add(task.question)
                tasks.append(task)
                turn += 1
        return tasks


DOMAIN_CLASS = SearchDomain
