"""The Search domain's question templates: what each asks (a relation path) and how it is worded.

Three question types, as in multi-hop QA benchmarks:

* ``chain`` (bridge): follow relations from one entity ("In which country was the founder of X born?"),
  2–3 hops, one document per hop;
* ``comparison``: the same path from two entities, then the one with the earlier year ("Which company
  was founded earlier, X or Y?"); hops = documents read = 2 × path length (2WikiMultihopQA counts a
  comparison through a bridge, "whose founder was born earlier", as 4 hops);
* ``yesno``: a chain or comparison turned into a claim to confirm ("Was the founder of X born in Y?").

A template's name is its computation (``company.founder.born_in``, ``compare.company.founded``,
``yesno.company.hq.country``), so the same computation worded anew (the paraphrase axis) keeps its name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """One question template.

    Attributes:
        qtype: "chain", "comparison" or "yesno".
        start: The kind of entity the question names.
        path: Relations (then possibly a final attribute) followed from each named entity.
        wording: The question; ``{x}`` is the entity (chain), ``{a}``/``{b}`` the pair (comparison),
            ``{v}`` the value a yes/no question proposes. ``{X}`` is ``{x}`` capitalised.
        pair: A yes/no question built on a comparison (two entities) rather than a chain.
    """

    qtype: str
    start: str
    path: tuple[str, ...]
    wording: str
    pair: bool = False

    @property
    def name(self) -> str:
        base = ".".join((self.start, *self.path))
        if self.qtype == "chain":
            return base
        if self.qtype == "comparison":
            return f"compare.{base}"
        return f"yesno.{'compare.' if self.pair else ''}{base}"

    @property
    def hops(self) -> int:
        """Documents the question needs read: one per relation step, per named entity."""
        return len(self.path) * (2 if self.qtype == "comparison" or self.pair else 1)


def _chains(*rows: tuple[str, str, str]) -> tuple[Template, ...]:
    return tuple(Template("chain", start, tuple(path.split()), wording) for start, path, wording in rows)


def _comparisons(*rows: tuple[str, str, str]) -> tuple[Template, ...]:
    return tuple(Template("comparison", start, tuple(path.split()), wording) for start, path, wording in rows)


# -- in-domain (train, test_id) --------------------------------------------------------------------
ID_CHAINS = _chains(
    ("company", "hq country", "In which country is {x} headquartered?"),
    ("person", "born_in country", "In which country was {x} born?"),
    ("person", "alma_mater city", "In which city is the university {x} attended?"),
    ("band", "lead_singer born_in", "In which city was the lead singer of {x} born?"),
    ("invention", "inventor birth_year", "In what year was the inventor of {x} born?"),
    ("company", "founder alma_mater city", "In which city is the university attended by the founder of {x}?"),
    ("band", "formed_in country capital", "What is the capital of the country where {x} was formed?"),
)
ID_COMPARISONS = _comparisons(
    ("company", "founded", "Which company was founded earlier, {a} or {b}?"),
    ("person", "birth_year", "Who was born earlier, {a} or {b}?"),
    ("band", "formed", "Which band was formed first, {a} or {b}?"),
)
IN_DOMAIN = ID_CHAINS + ID_COMPARISONS

# -- out of domain, one axis each ------------------------------------------------------------------
# paraphrase: the in-domain computations, worded anew.
PARAPHRASES = _chains(
    ("company", "hq country", "{X} has its head office in which country?"),
    ("person", "born_in country", "{X} was born in a city of which country?"),
    ("person", "alma_mater city", "{X} studied at a university located in which city?"),
    ("band", "lead_singer born_in", "Which city is the birthplace of the person who sings lead for {x}?"),
    ("invention", "inventor birth_year", "{X} was invented by someone born in which year?"),
    ("company", "founder alma_mater city", "{X} was started by a graduate of a university in which city?"),
    ("band", "formed_in country capital", "{X} got together in a country whose capital is which city?"),
) + _comparisons(
    ("company", "founded", "Of {a} and {b}, which company is older?"),
    ("person", "birth_year", "Of {a} and {b}, who is the elder?"),
    ("band", "formed", "Of {a} and {b}, which band has been together longer?"),
)
# unseen_template: chains over relations (or combinations) no in-domain template follows.
UNSEEN = _chains(
    ("company", "founder born_in", "In which city was the founder of {x} born?"),
    ("band", "formed_in river", "On which river lies the city where {x} was formed?"),
    ("invention", "maker hq", "In which city is the company that manufactures {x} headquartered?"),
    ("company", "hq country currency", "What currency is used in the country where {x} is headquartered?"),
    ("person", "alma_mater founded", "In what year was the university attended by {x} founded?"),
    ("invention", "inventor alma_mater", "Which university did the inventor of {x} attend?"),
    ("band", "lead_singer alma_mater city", "In which city is the university that the lead singer of {x} attended?"),
    ("invention", "maker founder birth_year", "In what year was the founder of the company that makes {x} born?"),
)
# more_hops: in-domain comparisons through one more relation (4 documents instead of 2).
MORE_HOPS = _comparisons(
    ("company", "founder birth_year", "Whose founder was born earlier, {a} or {b}?"),
    ("band", "lead_singer birth_year", "Which band's lead singer was born earlier, {a} or {b}?"),
    ("invention", "inventor birth_year", "Which was invented by the person born earlier, {a} or {b}?"),
)
# question_type: the in-domain computations asked as yes/no claims.
YES_NO = tuple(
    Template("yesno", start, tuple(path.split()), wording, pair)
    for start, path, wording, pair in (
        ("company", "hq country", "Is {x} headquartered in {v}?", False),
        ("person", "born_in country", "Was {x} born in {v}?", False),
        ("person", "alma_mater city", "Is the university that {x} attended located in {v}?", False),
        ("band", "lead_singer born_in", "Was the lead singer of {x} born in {v}?", False),
        ("invention", "inventor birth_year", "Was the inventor of {x} born in {v}?", False),
        ("company", "founder alma_mater city", "Is the university attended by the founder of {x} in {v}?", False),
        ("band", "formed_in country capital", "Is {v} the capital of the country where {x} was formed?", False),
        ("company", "founded", "Was {a} founded before {b}?", True),
        ("person", "birth_year", "Was {a} born before {b}?", True),
        ("band", "formed", "Was {a} formed before {b}?", True),
    )
)
OOD_AXES = {"paraphrase": PARAPHRASES, "unseen_template": UNSEEN, "more_hops": MORE_HOPS, "question_type": YES_NO}
