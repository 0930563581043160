"""From a template and its named entities to a task: the facts read, the answer, and the teacher's trajectory.

A ``Plan`` walks the template's path in the world (per named entity: the entities whose documents are
read, and the value read last), and keeps the evidence that answers the question, so that
``search_audit`` can measure whether the search results alone would have given it away.

The teacher reads as a careful person would: per hop, ``search`` for the entity in hand, ``open`` the
right hit, read the next fact. What varies per task is how (the strategy):

* ``names``: search each entity by its bare name and pick the right hit from the titles and
  descriptions, a namesake or near-duplicate title sometimes ranking above it;
* ``qualified``: add a disambiguating word to each query (the occupation the question gives, the
  company a founder is reached from, the kind of thing), which usually lifts the right hit to the top;
* for comparisons, ``parallel`` (both entities' lookups in the same turns) or ``sequential`` (one
  entity after the other).

The teacher prefers qualified queries when names in the question are ambiguous and chains are long, and
parallel lookups for longer comparisons (a sequential 4-hop comparison would not fit the turn budget);
the choice is drawn per task from a seed and those features. Every other strategy that fits the turn
budget is shipped as an alternative. A query is used only if the document it leads to is in the top
``DEFAULT_K`` hits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tooluse_envs.answers import normalize_text
from tooluse_envs.domains.search_templates import Template
from tooluse_envs.domains.search_tools import DEFAULT_K, corpus, search_hits
from tooluse_envs.domains.search_world import Entity, display_name
from tooluse_envs.tasks import Reference, ReferenceCall

MAX_TOOL_TURNS = 7  # the env's default 8 turns, less the answer turn
KIND_WORDS = {"city": "city", "country": "country", "company": "company", "band": "band", "invention": "device"}
KIND_WORDS |= {"university": "university", "river": "river", "person": "born"}
STYLES = ("names", "qualified")


@dataclass(frozen=True)
class Plan:
    """What one question asks of the world, and what reading it takes.

    Attributes:
        starts: The entities the question names.
        reads: Per named entity, the entities whose documents are read, in order.
        values: Per named entity, the value read last (an entity or an attribute string).
        answers: Accepted answers, the canonical one first.
        question: The question text (without the tool instructions).
        evidence: Alias sets, one per fact the final step needs; all present in the search results'
            text would make the question answerable without opening a document.
    """

    template: Template
    starts: tuple[Entity, ...]
    reads: tuple[tuple[Entity, ...], ...]
    values: tuple[Entity | str, ...]
    answers: tuple[str, ...]
    question: str
    evidence: tuple[tuple[str, ...], ...]


def walk(start: Entity, path: tuple[str, ...]) -> tuple[tuple[Entity, ...], Entity | str] | None:
    """The entities read along ``path`` from ``start`` and the value found last (None if a link is missing)."""
    current: Entity | str = start
    read = []
    for step in path:
        assert isinstance(current, Entity)
        found = current.links.get(step, current.attrs.get(step))
        if found is None:
            return None
        text = corpus().doc(current).text
        if (found.name if isinstance(found, Entity) else found) not in text:
            raise AssertionError(f"{current.doc_id} does not state {step} of {current.name}")  # a corpus bug
        read.append(current)
        current = found
    return tuple(read), current


def aliases(value: Entity | str) -> tuple[str, ...]:
    return value.answers if isinstance(value, Entity) else (value,)


def _year(value: Entity | str) -> int:
    if isinstance(value, Entity):
        raise TypeError(f"a comparison must end in a year, not in {value.name!r}")
    return int(value)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _entity_answers(entity: Entity) -> tuple[str, ...]:
    """A named entity as the answer to a comparison: its name, aliases, and how the question named it."""
    return tuple(dict.fromkeys((*entity.answers, display_name(entity))))


def _decoy(value: Entity | str, rng: random.Random) -> str:
    """A wrong value of the same kind for a "no" claim: another entity's name, or a year a little off."""
    if isinstance(value, Entity):
        others = corpus().entities[value.kind]
        while (other := rng.choice(others)) is value or other.name == value.name:
            pass
        return other.name
    return str(int(value) + rng.choice((-1, 1)) * rng.randint(1, 12))


def make_plan(template: Template, starts: tuple[Entity, ...], rng: random.Random) -> Plan | None:
    """The plan for ``template`` about ``starts``, or None if the world cannot answer it unambiguously."""
    walked = [walk(start, template.path) for start in starts]
    walks = [w for w in walked if w is not None]
    if len(walks) < len(walked):
        return None
    reads = tuple(w[0] for w in walks)
    values = tuple(w[1] for w in walks)
    names = [display_name(start) for start in starts]
    evidence = tuple(aliases(value) for value in values)
    if template.qtype == "chain" or (template.qtype == "yesno" and not template.pair):
        proposed = ""
        if template.qtype == "yesno":
            proposed = aliases(values[0])[0] if rng.random() < 0.5 else _decoy(values[0], rng)
        question = template.wording.format(x=names[0], X=_capitalised(names[0]), v=proposed)
        if template.qtype == "chain":
            answers = aliases(values[0])
            if normalize_text(answers[0]) in normalize_text(question):  # e.g. the capital asked about is the start
                return None
        else:
            answers = ("yes",) if proposed == aliases(values[0])[0] else ("no",)
        return Plan(template, starts, reads, values, answers, question, evidence)
    years = [_year(value) for value in values]  # comparisons end in a year
    if years[0] == years[1] or starts[0].name == starts[1].name:
        return None
    question = template.wording.format(a=names[0], b=names[1])
    if template.qtype == "yesno":
        answers = ("yes",) if years[0] < years[1] else ("no",)
    else:
        answers = _entity_answers(starts[0] if years[0] < years[1] else starts[1])
    return Plan(template, starts, reads, values, answers, question, evidence)


# -- the teacher's trajectories --------------------------------------------------------------------


def _query(entity: Entity, came_from: Entity | None, style: str) -> str:
    if style == "names":
        return entity.name
    if entity.kind == "person":
        word = came_from.name if came_from else (entity.attrs["occupation"] if entity.namesakes else "born")
    else:
        word = KIND_WORDS[entity.kind]
    return entity.name if word.lower() in entity.name.lower().split() else f"{entity.name} {word}"


def hop_query(entity: Entity, came_from: Entity | None, style: str) -> str | None:
    """A query in ``style`` (else the other style) whose top hits list ``entity``'s document."""
    for option in (style, *(s for s in STYLES if s != style)):
        query = _query(entity, came_from, option)
        if any(doc.id == entity.doc_id for doc in search_hits(query, DEFAULT_K)):
            return query
    return None


def trajectory(plan: Plan, style: str, parallel: bool) -> Reference | None:
    """The calls of one strategy (None when a hop cannot be found or the turns do not fit)."""
    branches = []
    for read in plan.reads:
        pairs = []
        for i, entity in enumerate(read):
            query = hop_query(entity, read[i - 1] if i else None, style)
            if query is None:
                return None
            pairs.append((ReferenceCall("search", {"query": query}), ReferenceCall("open", {"doc_id": entity.doc_id})))
        branches.append(pairs)
    if parallel and len(branches) > 1:
        calls, turns = [], []
        for hop in range(max(map(len, branches))):
            for position in (0, 1):
                group = [pairs[hop][position] for pairs in branches if hop < len(pairs)]
                calls += group
                turns.append(len(group))
        strategy = f"parallel_{style}"
    else:
        calls = [call for pairs in branches for pair in pairs for call in pair]
        turns = []
        strategy = f"sequential_{style}" if len(branches) > 1 else style
    if (len(turns) if turns else len(calls)) > MAX_TOOL_TURNS:
        return None
    return Reference(tuple(calls), plan.answers[0], tuple(turns) if turns != [1] * len(calls) else (), strategy)


def _ambiguous(plan: Plan) -> bool:
    """Whether a person along the way shares a name with another (a careful reader then qualifies queries)."""
    return any(entity.namesakes for read in plan.reads for entity in read)


def teacher_reference(plan: Plan, rng: random.Random) -> Reference | None:
    """The teacher's strategy, drawn from the plan's features, with every other working strategy as alternatives."""
    hops = max(map(len, plan.reads))
    p_qualified = 0.2 + (0.4 if _ambiguous(plan) else 0.0) + 0.15 * (hops - 1)
    style = "qualified" if rng.random() < p_qualified else "names"
    comparison = len(plan.reads) > 1
    parallel = comparison and (hops > 1 or rng.random() < 0.65)
    options = [(style, parallel)] + [
        (s, p) for s in STYLES for p in ((False, True) if comparison else (False,)) if (s, p) != (style, parallel)
    ]
    found = [ref for ref in (trajectory(plan, s, p) for s, p in options) if ref is not None]
    if not found:
        return None
    teacher = found[0]
    others: list[Reference] = []
    for ref in found[1:]:
        if ref.tool_calls != teacher.tool_calls and all(ref.tool_calls != o.tool_calls for o in others):
            others.append(ref)
    return Reference(teacher.tool_calls, teacher.answer, teacher.turns, teacher.strategy, tuple(others))
