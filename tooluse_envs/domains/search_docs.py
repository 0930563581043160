"""The Search domain's documents: one encyclopedia entry per entity of the world.

Every entry opens with a *lead*: a one-sentence description (kind, occupation, industry, genre) that
states no fact any question asks for. ``search`` shows the lead as the result's snippet, as an
encyclopedia's search page shows a short description, so a policy can tell hits apart (the
entrepreneur Vela Dorn from the painter Vela Dorn) but must ``open`` an entry to read a fact.

The body states the entity's own facts (born in, founded by, headquartered in, lies on, ...) in varied
wording, each sentence with an explicit subject, a few of them seen from the other side (a person's
entry names the company they founded); distractor sentences with true facts about *other* entities;
conflicting minor facts (another entry giving a rival's founding year a few years off, as secondary
sources do); and neutral filler. The answer to a question is always read in the entry of the entity
it is about.
"""

from __future__ import annotations

import random

from tooluse_envs.domains.search_world import Entity

World = dict[str, list[Entity]]
Parts = tuple[str, str, list[str], list[str], list[str]]  # title, lead, facts, distractors, filler
CITY_FEATURES: tuple[str, ...] = (
    "covered markets", "stone bridges", "spring festival", "old town", "harbour", "clock tower",
)
CITY_FEATURES += ("botanical garden", "cathedral", "wool trade", "hot springs", "lighthouse", "vineyards")


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _other(rng: random.Random, items: list[Entity], entity: Entity) -> Entity:
    while True:
        other = rng.choice(items)
        if other is not entity:
            return other


def _off(year: str, rng: random.Random) -> str:
    """A year a few years off: the conflicting minor fact a secondary source gives."""
    return str(int(year) + rng.choice((-3, -2, -1, 1, 2, 3)))


def _person(e: Entity, w: World, rng: random.Random) -> Parts:
    n, city, uni, year = e.name, e.links["born_in"].name, e.links["alma_mater"], e.attrs["birth_year"]
    p, pp = e.attrs["pronoun"], e.attrs["pronoun"].capitalize()
    lead = f"{n} is {_a(e.attrs['occupation'])}."
    facts = [
        rng.choice((f"{n} was born in {year}.", f"{n} was born in the year {year}.")),
        rng.choice((f"{n} was born in {city}.", f"{n} was born in the city of {city}.", f"{n} is a native of {city}.")),
        rng.choice((f"{n} studied at {uni.name}.", f"{n} graduated from {uni.name}.", f"{n} attended {uni.name}.")),
    ]
    facts += [f"In {c.attrs['founded']}, {n} founded {c.name}." for c in e.backlinks.get("founded", [])]
    facts += [f"{n} is the lead singer of {b.name}." for b in e.backlinks.get("sings_in", [])]
    facts += [f"{n} invented the {i.name} in {i.attrs['year']}." for i in e.backlinks.get("invented", [])]
    facts += [f"{n} is not to be confused with the {t.attrs['occupation']} of the same name." for t in e.namesakes]
    friend, lecture = _other(rng, w["person"], e), _other(rng, w["university"], uni)
    distractors = [
        f"Later in life {p} lived in {rng.choice(w['city']).name}.",
        f"{pp} was a close friend of {friend.name}, who was born in {friend.links['born_in'].name}.",
        f"{pp} once gave a lecture at {lecture.name}, founded in {_off(lecture.attrs['founded'], rng)}.",
    ]
    filler = [
        f"{pp} is known for a meticulous working style.",
        f"Colleagues remember {n} as patient and curious.",
        f"{pp} rarely spoke to the press.",
    ]
    return n, lead, facts, distractors, filler


def _company(e: Entity, w: World, rng: random.Random) -> Parts:
    n, founder, hq, year = e.name, e.links["founder"].name, e.links["hq"].name, e.attrs["founded"]
    rival = _other(rng, w["company"], e)
    lead = f"{n} is {_a(e.attrs['industry'])} company."
    facts = [
        rng.choice((f"{n} was founded in {year}.", f"{n} was established in {year}.")),
        rng.choice((f"{n} was founded by {founder}.", f"The founder of {n} is {founder}.", f"{founder} founded {n}.")),
        rng.choice((f"{n} is headquartered in {hq}.", f"The head office of {n} is in {hq}.", f"{n} is based in {hq}.")),
    ]
    facts += [f"{n} manufactures the {i.name}." for i in e.backlinks.get("makes", [])]
    distractors = [
        f"The company also runs a regional office in {rng.choice(w['city']).name}.",
        f"The chief rival of {n} is {rival.name}, founded in {_off(rival.attrs['founded'], rng)}.",
        f"The current chief executive of {n} is {rng.choice(w['person']).name}.",
    ]
    filler = [
        f"{n} employs several thousand people.",
        f"The logo of {n} has changed three times.",
        f"{n} is listed on a regional stock exchange.",
    ]
    return n, lead, facts, distractors, filler


def _band(e: Entity, w: World, rng: random.Random) -> Parts:
    n, singer, city, year = e.name, e.links["lead_singer"].name, e.links["formed_in"].name, e.attrs["formed"]
    other = _other(rng, w["band"], e)
    lead = f"{n} is {_a(e.attrs['genre'])} band."
    facts = [
        rng.choice((f"{n} was formed in {city}.", f"{n} formed in the city of {city}.")),
        rng.choice((f"{n} was formed in the year {year}.", f"{n} got together in {year}.")),
        rng.choice(
            (
                f"The lead singer of {n} is {singer}.",
                f"{singer} is the lead singer of {n}.",
                f"{singer} sings lead vocals for {n}.",
            )
        ),
    ]
    distractors = [
        f"The drummer of {n} is {rng.choice(w['person']).name}.",
        f"{n} opened their first tour in {rng.choice(w['city']).name}.",
        f"{n} are often compared to {other.name}, a band formed in {_off(other.attrs['formed'], rng)}.",
    ]
    filler = [
        f"The second album of {n} was recorded in a converted barn.",
        f"{n} rarely give interviews.",
        f"{n} are known for long live shows.",
    ]
    return n, lead, facts, distractors, filler


def _invention(e: Entity, w: World, rng: random.Random) -> Parts:
    n, inventor, maker, year = e.name, e.links["inventor"].name, e.links["maker"].name, e.attrs["year"]
    lead = f"The {n} is a device."
    facts = [
        rng.choice((f"The {n} was invented by {inventor}.", f"{inventor} invented the {n}.")),
        rng.choice((f"The {n} was invented in {year}.", f"The first {n} was built in {year}.")),
        rng.choice(
            (
                f"The {n} is manufactured by {maker}.",
                f"Today the {n} is produced by {maker}.",
                f"{maker} manufactures the {n}.",
            )
        ),
    ]
    distractors = [
        f"An improved {n} was patented by {rng.choice(w['person']).name} decades later.",
        f"The {n} was first demonstrated in {rng.choice(w['city']).name}.",
        f"A rival design to the {n} was sold by {_other(rng, w['company'], e.links['maker']).name}.",
    ]
    filler = [f"Early models of the {n} were heavy and expensive.", f"The {n} is still used in some workshops."]
    return n.capitalize(), lead, facts, distractors, filler


def _city(e: Entity, w: World, rng: random.Random) -> Parts:
    n, country = e.name, e.links["country"].name
    lead = f"{n} is a city known for its {rng.choice(CITY_FEATURES)}."
    # A capital names its country once, as every other city does, so a search for the country does not
    # single the capital out.
    where: tuple[str, ...] = (f"{n} is the capital of {country}.",) if e.backlinks.get("capital_of") else ()
    where = where or (f"{n} lies in {country}.", f"{n} is a city in {country}.", f"{n} is located in {country}.")
    facts = [rng.choice(where), f"{n} was founded in {e.attrs['founded']}."]
    if "river" in e.links:
        river = e.links["river"].name
        facts.append(rng.choice((f"{n} lies on the {river}.", f"The {river} flows through {n}.")))
    twin = _other(rng, w["city"], e)
    distractors = [
        f"{n} is twinned with {twin.name}, a city founded in {_off(twin.attrs['founded'], rng)}.",
        f"Many residents of {n} commute to {_other(rng, w['city'], e).name}.",
    ]
    filler = [f"{n} has a well-preserved old town.", f"The spring festival of {n} draws many visitors."]
    return n, lead, facts, distractors, filler


def _country(e: Entity, w: World, rng: random.Random) -> Parts:
    n, capital, currency = e.name, e.links["capital"].name, e.attrs["currency"]
    lead = f"{n}, officially the {e.attrs['official']}, is a country."
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
    return n, lead, facts, distractors, filler


def _river(e: Entity, w: World, rng: random.Random) -> Parts:
    n, cities = e.name, [c.name for c in e.backlinks["cities"]]
    lead = f"The {n} is a river."
    # The river's entry does not list its cities (each city's entry names its river), so a search for a
    # city does not bring up the river the question asks for.
    facts = [f"The {n} is about {e.attrs['length_km']} km long.", f"The {n} passes {len(cities)} towns and cities."]
    other = _other(rng, w["river"], e)
    distractors = [
        f"The {n} is sometimes confused with the {other.name}, which flows through {other.backlinks['cities'][0].name}."
    ]
    filler = [f"The {n} freezes in hard winters.", f"Barges on the {n} carry timber and grain."]
    return n, lead, facts, distractors, filler


def _university(e: Entity, w: World, rng: random.Random) -> Parts:
    n, city, year = e.name, e.links["city"].name, e.attrs["founded"]
    lead = rng.choice((f"{n} is a university.", f"{n} is a public university.", f"{n} is a private university."))
    facts = [
        rng.choice((f"{n} is located in {city}.", f"{n} is a university in the city of {city}.")),
        rng.choice((f"{n} was founded in {year}.", f"{n} received its charter in {year}.")),
    ]
    alumni = [p.name for p in e.backlinks.get("alumni", [])][:2]
    if alumni:
        facts.append(f"Notable alumni of {n} include {' and '.join(alumni)}.")
    partner = _other(rng, w["university"], e)
    distractors = [
        f"{n} has an exchange programme with {partner.name}, located in {partner.links['city'].name}.",
        f"{rng.choice(w['person']).name} once taught at {n}.",
    ]
    filler = [f"{n} is known for its botanical garden.", f"The library of {n} holds many rare maps."]
    return n, lead, facts, distractors, filler


WRITERS = {"person": _person, "company": _company, "band": _band, "invention": _invention, "city": _city}
WRITERS |= {"country": _country, "river": _river, "university": _university}


SUBJECTS = {"city": "The city", "company": "The company", "band": "The band", "invention": "The device"}
SUBJECTS |= {"university": "The university", "river": "The river", "country": "The country"}


def _refer(sentence: str, entity: Entity, rng: random.Random) -> str:
    """Half the time, a sentence opening with the entity's name opens with "The city", "She"... instead.

    Entries read naturally, and the name's term frequency in its own entry drops to what an entry that
    merely shares the name ("Tarsk Motors" beside the city of Tarsk) has, so a bare-name search does
    not always rank the entity's own entry first.
    """
    for name in (f"The {entity.name} ", f"{entity.name} "):
        if sentence.startswith(name) and rng.random() < 0.5:
            subject = entity.attrs["pronoun"].capitalize() if entity.kind == "person" else SUBJECTS[entity.kind]
            return f"{subject} {sentence[len(name) :]}"
    return sentence


def write_document(entity: Entity, world: World, rng: random.Random) -> tuple[str, str]:
    """Title and text of an entity's entry: the lead, then facts, two distractors and filler, shuffled."""
    title, lead, facts, distractors, filler = WRITERS[entity.kind](entity, world, rng)
    facts = [_refer(sentence, entity, rng) for sentence in facts + [rng.choice(filler)]]
    rest = facts + rng.sample(distractors, min(2, len(distractors)))
    rng.shuffle(rest)
    cut = (len(rest) + 1) // 2
    return title, f"{lead} {' '.join(rest[:cut])}\n\n{' '.join(rest[cut:])}"
