"""The fictional world behind the Search domain: entities, their relations and attributes.

Why fictional: multi-hop QA over real Wikipedia needs downloads and can be answered from a model's
memory; an invented world (countries, cities, rivers, universities, people, companies, bands,
inventions) built from a fixed seed is offline and answerable only by reading. Everything is drawn
from ``random.Random(seed)`` over lists (sets serve only membership tests), so the world is identical
on every run and machine. ``search_corpus`` writes one document per entity.

Why distractors: retrieval is only a skill when the first hit is not always the answer. The world has
*namesakes* (two people with one name, told apart by occupation; a founder, singer or inventor always
has a different occupation from a namesake), *near-duplicate names* (companies sharing a stem with
another suffix, universities sharing a stem in another form: "Vellis Labs" / "Vellis Motors",
"University of Drath" / "Drath College") and, written by the corpus, conflicting minor facts in other
entities' documents.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

WORLD_SEED = 20251021
COUNTS = {"country": 40, "city": 1500, "river": 120, "university": 300, "person": 4300, "company": 1200}
COUNTS |= {"band": 600, "invention": 600}
NAMESAKES = 1800  # extra people who share the full name of an existing person
SHARED_STEMS = {"company": 350, "university": 90}  # entities named with another entity's stem
CITY_STEMS = 0.2  # share of company and university names made from a city's name ("Tarsk Motors")
OOD_SHARE = 0.65  # share of entities that may start a test_ood question; the rest start train/test_id ones

ONSETS: tuple[str, ...] = (
    "b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "tr", "v",
)
ONSETS += ("z", "th", "sh", "c", "w", "l", "m", "n", "r", "s", "t")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ia")
CODAS = ("", "", "", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "x")
OFFICIAL = ("Republic of", "Kingdom of", "Federation of", "Commonwealth of", "Grand Duchy of", "United Provinces of")
UNIVERSITY_FORMS = ("{} University", "University of {}", "{} Institute of Technology", "{} College", "{} Polytechnic")
BAND_ADJECTIVES: tuple[str, ...] = (
    "Glass", "Silver", "Velvet", "Hollow", "Electric", "Paper", "Iron", "Midnight", "Golden", "Wild",
)
BAND_ADJECTIVES += ("Quiet", "Crimson", "Broken", "Northern", "Lunar", "Copper", "Neon", "Pale", "Burning", "Distant")
BAND_ADJECTIVES += ("Amber", "Scarlet", "Marble", "Drifting", "Sleeping", "Restless", "Salt", "Cobalt", "Ivory")
BAND_ADJECTIVES += ("Ashen",)
BAND_NOUNS: tuple[str, ...] = (
    "Herons", "Lanterns", "Wolves", "Engines", "Orchards", "Satellites", "Sparrows", "Tides", "Monarchs",
)
BAND_NOUNS += ("Foxes", "Harbours", "Comets", "Ravens", "Pilots", "Gardens", "Echoes", "Bishops", "Cyclones")
BAND_NOUNS += ("Rivals", "Mirrors", "Drifters", "Kites", "Owls", "Signals", "Anchors")
DEVICE_ADJECTIVES: tuple[str, ...] = (
    "rotary", "pneumatic", "folding", "magnetic", "thermal", "optical", "acoustic", "hydraulic",
)
DEVICE_ADJECTIVES += ("spiral", "portable", "electric", "gyroscopic", "solar", "mechanical", "tidal", "vacuum")
DEVICE_ADJECTIVES += ("compact", "twin", "automatic", "centrifugal", "seismic", "radial", "floating", "sealed")
DEVICE_ADJECTIVES += ("pedal", "coiled", "steam", "clockwork", "ceramic", "dual")
DEVICES: tuple[str, ...] = (
    "loom", "lantern", "pump", "compass", "valve", "kiln", "telegraph", "press", "sextant", "engine", "scale",
)
DEVICES += ("harness", "stove", "meter", "drill", "lathe", "barometer", "bellows", "turbine", "winch", "recorder")
INDUSTRIES = ("biotechnology", "shipping", "software", "mining", "textile", "aerospace", "food", "chemical", "banking")
# A company's name suffix and its industry agree ("Vellis Foods" is a food company).
SUFFIX_INDUSTRIES = {"Labs": ("biotechnology", "software", "chemical"), "Systems": ("software", "aerospace")}
SUFFIX_INDUSTRIES |= {"Motors": ("automotive",), "Dynamics": ("aerospace", "robotics"), "Foods": ("food",)}
SUFFIX_INDUSTRIES |= {"Textiles": ("textile",), "Holdings": ("banking", "shipping", "mining")}
SUFFIX_INDUSTRIES |= {"Industries": INDUSTRIES, "Works": INDUSTRIES}
COMPANY_SUFFIXES = tuple(SUFFIX_INDUSTRIES)
GENRES = ("folk", "jazz", "synth-pop", "punk", "blues", "post-rock", "reggae", "metal", "soul", "indie rock")
OCCUPATIONS: tuple[str, ...] = (
    "painter", "novelist", "physician", "architect", "historian", "botanist", "journalist", "teacher",
)
OCCUPATIONS += ("cartographer", "sculptor", "economist", "photographer")
# Roles (founder, singer, inventor) bring occupations that no ordinary person has, so the lead of a
# notable person's document tells them from a namesake.
ROLE_OCCUPATIONS = {
    "founder": ("entrepreneur", "industrialist", "businessperson"),
    "singer": ("singer", "musician", "songwriter"),
    "inventor": ("engineer", "inventor", "chemist", "physicist"),
}
# Words the documents use around names: a generated name must be none of them.
_VOCABULARY: tuple[str, ...] = (
    OFFICIAL + COMPANY_SUFFIXES + UNIVERSITY_FORMS + BAND_ADJECTIVES + BAND_NOUNS + DEVICE_ADJECTIVES
)
_VOCABULARY += DEVICES + INDUSTRIES + GENRES + OCCUPATIONS + sum(ROLE_OCCUPATIONS.values(), ())
_VOCABULARY += ("automotive robotics born city country river company band device university founded capital",)
_VOCABULARY += ("currency lived native yes no",)
RESERVED = frozenset(re.findall("[a-z]+", " ".join(_VOCABULARY).lower()))


@dataclass(eq=False)
class Entity:
    """One thing in the world. ``links`` are relations to other entities, ``attrs`` plain values.

    ``backlinks`` are the same relations seen from the target (a person's founded companies), used only
    to write documents. ``pool`` is "id" or "ood": which splits may ask a question starting here.
    ``namesakes`` are the other entities with exactly this name.
    """

    kind: str
    name: str
    pool: str
    aliases: tuple[str, ...] = ()
    links: dict[str, Entity] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)
    backlinks: dict[str, list[Entity]] = field(default_factory=dict)
    namesakes: list[Entity] = field(default_factory=list)
    doc_id: str = ""

    def __repr__(self) -> str:  # the generated one would recurse through links and namesakes
        return f"Entity({self.kind!r}, {self.name!r}, doc_id={self.doc_id!r})"

    def link(self, relation: str, target: Entity, inverse: str) -> None:
        self.links[relation] = target
        target.backlinks.setdefault(inverse, []).append(self)

    @property
    def answers(self) -> tuple[str, ...]:
        """The accepted spellings of this entity as an answer (the name first)."""
        return (self.name, *self.aliases)


class _Names:
    """Unique pronounceable invented words (no word twice in the whole world, none a template word)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set(RESERVED)

    def word(self, syllables: tuple[int, int] = (2, 3)) -> str:
        rng = self.rng
        while True:
            count = rng.randint(*syllables)
            word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(count))
            if 4 <= len(word) <= 9 and word not in self.used:
                self.used.add(word)
                return word.capitalize()


def _entity(kind: str, name: str, rng: random.Random, aliases: tuple[str, ...] = ()) -> Entity:
    return Entity(kind, name, "ood" if rng.random() < OOD_SHARE else "id", aliases)


def _stems(rng: random.Random, names: _Names, count: int, shared: int, cities: list[Entity]) -> list[str]:
    """``count`` name stems of which ``shared`` repeat an earlier stem (the near-duplicate names), and a
    share ``CITY_STEMS`` are the name of a city (never the entity's own: see ``_away_from``)."""
    fresh = [rng.choice(cities).name if rng.random() < CITY_STEMS else names.word() for _ in range(count - shared)]
    stems = fresh + [rng.choice(fresh) for _ in range(shared)]
    rng.shuffle(stems)
    return stems


def _geography(rng: random.Random, names: _Names) -> dict[str, list[Entity]]:
    """Countries with capitals and currencies, cities in countries, rivers through cities."""
    countries = []
    for _ in range(COUNTS["country"]):
        word = names.word()
        official = f"{rng.choice(OFFICIAL)} {word}"
        country = _entity("country", word, rng, (official,))
        country.attrs.update(official=official, currency=names.word((2, 2)).lower())
        countries.append(country)
    cities = []
    for i in range(COUNTS["city"]):
        city = _entity("city", names.word(), rng)
        country = countries[i] if i < len(countries) else rng.choice(countries)
        city.link("country", country, "cities")
        city.attrs["founded"] = str(rng.randint(700, 1900))
        cities.append(city)
    for country in countries:
        country.link("capital", country.backlinks["cities"][0], "capital_of")
    rivers, free = [], cities[:]
    rng.shuffle(free)
    for _ in range(COUNTS["river"]):
        word = names.word()
        river = _entity("river", f"{word} River", rng, (word, f"River {word}"))
        river.attrs["length_km"] = str(rng.randint(40, 2400))
        for _ in range(rng.randint(2, 5)):
            free.pop().link("river", river, "cities")
        rivers.append(river)
    return {"country": countries, "city": cities, "river": rivers}


def _away_from(stem: str, cities: list[Entity], rng: random.Random) -> Entity:
    """A city for an entity named ``stem``, never the city of that name: "Tarsk Motors" is not in Tarsk,
    so a name alone never gives away where a company or university is."""
    while (city := rng.choice(cities)).name == stem:
        pass
    return city


def _universities(rng: random.Random, names: _Names, cities: list[Entity]) -> list[Entity]:
    """Universities in cities; a shared stem takes another form ("Drath College" beside "University of Drath")."""
    universities, taken = [], set()
    for stem in _stems(rng, names, COUNTS["university"], SHARED_STEMS["university"], cities):
        forms = [form.format(stem) for form in UNIVERSITY_FORMS if form.format(stem) not in taken]
        name = rng.choice(forms)
        taken.add(name)
        university = _entity("university", name, rng)
        university.link("city", _away_from(stem, cities, rng), "universities")
        university.attrs["founded"] = str(rng.randint(1200, 1950))
        universities.append(university)
    return universities


def _person(name: str, rng: random.Random, cities: list[Entity], universities: list[Entity]) -> Entity:
    person = _entity("person", name, rng)
    person.link("born_in", rng.choice(cities), "natives")
    person.link("alma_mater", rng.choice(universities), "alumni")
    person.attrs.update(birth_year=str(rng.randint(1850, 1970)), pronoun=rng.choice(("she", "he")))
    person.attrs["occupation"] = rng.choice(OCCUPATIONS)
    return person


def _people(rng: random.Random, names: _Names, world: dict[str, list[Entity]]) -> dict[str, list[Entity]]:
    """Universities, and people born in cities who studied at universities; some share a name."""
    cities = world["city"]
    universities = _universities(rng, names, cities)
    firsts = [names.word((2, 2)) for _ in range(260)]
    lasts = [names.word() for _ in range(2200)]
    people: list[Entity] = []
    taken: set[str] = set()
    while len(people) < COUNTS["person"]:
        name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        if name not in taken:
            taken.add(name)
            people.append(_person(name, rng, cities, universities))
    for original in rng.sample(people, NAMESAKES):
        twin = _person(original.name, rng, cities, universities)
        twin.attrs["occupation"] = rng.choice([o for o in OCCUPATIONS if o != original.attrs["occupation"]])
        twin.namesakes.append(original)
        original.namesakes.append(twin)
        people.append(twin)
    return {"university": universities, "person": people}


def _notable(rng: random.Random, people: list[Entity], count: int) -> list[Entity]:
    """``count`` people to give roles, never both of a pair of namesakes (roles tell namesakes apart)."""
    chosen: list[Entity] = []
    blocked: set[int] = set()
    for person in rng.sample(people, len(people)):
        if id(person) in blocked:
            continue
        chosen.append(person)
        blocked.update(id(twin) for twin in person.namesakes)
        if len(chosen) == count:
            return chosen
    raise RuntimeError("too few people for the notable roles")


def _give_role(person: Entity, role: str, rng: random.Random) -> None:
    person.attrs["role"] = role
    person.attrs["occupation"] = rng.choice(ROLE_OCCUPATIONS[role])


def _organisations(rng: random.Random, names: _Names, world: dict[str, list[Entity]]) -> dict[str, list[Entity]]:
    """Companies (founder, headquarters), bands (lead singer, city formed in), inventions (inventor, maker)."""
    cities = world["city"]
    notable = _notable(rng, world["person"], COUNTS["company"] + COUNTS["band"] + COUNTS["invention"])
    founders, singers = notable[: COUNTS["company"]], notable[COUNTS["company"] : -COUNTS["invention"]]
    companies, taken = [], set()
    stems = _stems(rng, names, COUNTS["company"], SHARED_STEMS["company"], cities)
    for founder, stem in zip(founders, stems, strict=True):
        suffix = rng.choice([s for s in COMPANY_SUFFIXES if f"{stem} {s}" not in taken])
        taken.add(f"{stem} {suffix}")
        company = _entity("company", f"{stem} {suffix}", rng)
        company.link("founder", founder, "founded")
        company.link("hq", _away_from(stem, cities, rng), "companies")
        company.attrs.update(founded=str(int(founder.attrs["birth_year"]) + rng.randint(22, 50)))
        company.attrs["industry"] = rng.choice(SUFFIX_INDUSTRIES[suffix])
        _give_role(founder, "founder", rng)
        companies.append(company)
    bands, band_names = [], [f"The {a} {n}" for a in BAND_ADJECTIVES for n in BAND_NOUNS]
    for singer, name in zip(singers, rng.sample(band_names, COUNTS["band"]), strict=True):
        band = _entity("band", name, rng)
        band.link("lead_singer", singer, "sings_in")
        band.link("formed_in", rng.choice(cities), "bands")
        band.attrs.update(formed=str(int(singer.attrs["birth_year"]) + rng.randint(17, 30)), genre=rng.choice(GENRES))
        _give_role(singer, "singer", rng)
        bands.append(band)
    inventions, devices = [], [f"{a} {d}" for a in DEVICE_ADJECTIVES for d in DEVICES]
    inventors = notable[-COUNTS["invention"] :]
    for inventor, name in zip(inventors, rng.sample(devices, COUNTS["invention"]), strict=True):
        invention = _entity("invention", name, rng)
        invention.link("inventor", inventor, "invented")
        invention.link("maker", rng.choice(companies), "makes")
        invention.attrs["year"] = str(int(inventor.attrs["birth_year"]) + rng.randint(24, 50))
        _give_role(inventor, "inventor", rng)
        inventions.append(invention)
    return {"company": companies, "band": bands, "invention": inventions}


def build_world(seed: int = WORLD_SEED) -> dict[str, list[Entity]]:
    """Every entity of the world, by kind, with its relations (pure function of the seed)."""
    rng = random.Random(seed)
    names = _Names(rng)
    world = _geography(rng, names)
    world |= _people(rng, names, world)
    world |= _organisations(rng, names, world)
    return world


def display_name(entity: Entity) -> str:
    """How a question names ``entity``: with its occupation when another entity has the same name."""
    if entity.kind == "person" and entity.namesakes:
        return f"the {entity.attrs['occupation']} {entity.name}"
    return f"the {entity.name}" if entity.kind == "invention" else entity.name
