"""The fictional world behind the Search domain: entities, their relations and attributes.

Why fictional: multi-hop QA over real Wikipedia needs downloads and can be answered from a model's
memory; an invented world (countries, cities, rivers, universities, people, companies, bands,
inventions) built from a fixed seed is offline and answerable only by reading. Everything is drawn
from ``random.Random(seed)`` over lists (sets serve only membership tests), so the world is identical
on every run and machine. ``search_corpus`` writes one document per entity.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

WORLD_SEED = 20251021
COUNTS = {"country": 30, "city": 300, "river": 50, "university": 80, "person": 1300, "company": 300, "band": 200}
N_INVENTIONS = 200
OOD_SHARE = 0.65  # share of entities that may start a test_ood question; the rest start train/test_id ones

ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "tr", "v")
ONSETS += ("z", "th", "sh", "c", "w", "l", "m", "n", "r", "s", "t")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ia")
CODAS = ("", "", "", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "x")
OFFICIAL = ("Republic of", "Kingdom of", "Federation of", "Commonwealth of", "Grand Duchy of", "United Provinces of")
UNIVERSITY_FORMS = ("{} University", "University of {}", "{} Institute of Technology", "{} College", "{} Polytechnic")
BAND_ADJECTIVES = ("Glass", "Silver", "Velvet", "Hollow", "Electric", "Paper", "Iron", "Midnight", "Golden", "Wild")
BAND_ADJECTIVES += ("Quiet", "Crimson", "Broken", "Northern", "Lunar", "Copper", "Neon", "Pale", "Burning", "Distant")
BAND_NOUNS = ("Herons", "Lanterns", "Wolves", "Engines", "Orchards", "Satellites", "Sparrows", "Tides", "Monarchs")
BAND_NOUNS += ("Foxes", "Harbours", "Comets", "Ravens", "Pilots", "Gardens", "Echoes", "Bishops", "Cyclones")
DEVICE_ADJECTIVES = ("rotary", "pneumatic", "folding", "magnetic", "thermal", "optical", "acoustic", "hydraulic")
DEVICE_ADJECTIVES += ("spiral", "portable", "electric", "gyroscopic", "solar", "mechanical", "tidal", "vacuum")
DEVICES = ("loom", "lantern", "pump", "compass", "valve", "kiln", "telegraph", "press", "sextant", "engine", "scale")
DEVICES += ("harness", "stove", "meter", "drill", "lathe", "barometer", "bellows", "turbine", "winch", "recorder")
INDUSTRIES = ("biotechnology", "shipping", "software", "mining", "textile", "aerospace", "food", "chemical", "banking")
# A company's name suffix and its industry agree ("Vellis Foods" is a food company).
SUFFIX_INDUSTRIES = {"Labs": ("biotechnology", "software", "chemical"), "Systems": ("software", "aerospace")}
SUFFIX_INDUSTRIES |= {"Motors": ("automotive",), "Dynamics": ("aerospace", "robotics"), "Foods": ("food",)}
SUFFIX_INDUSTRIES |= {"Textiles": ("textile",), "Holdings": ("banking", "shipping", "mining")}
SUFFIX_INDUSTRIES |= {"Industries": INDUSTRIES, "Works": INDUSTRIES}
COMPANY_SUFFIXES = tuple(SUFFIX_INDUSTRIES)
GENRES = ("folk", "jazz", "synth-pop", "punk", "blues", "post-rock", "reggae", "metal", "soul", "indie rock")
OCCUPATIONS = ("painter", "novelist", "physician", "architect", "historian", "botanist", "journalist", "teacher")
OCCUPATIONS += ("cartographer", "sculptor", "economist", "photographer")
ROLE_OCCUPATIONS = {
    "founder": ("entrepreneur", "industrialist", "businessperson"),
    "singer": ("singer", "musician", "songwriter"),
    "inventor": ("engineer", "inventor", "chemist", "physicist"),
}
# Words the documents use around names: a generated name must be none of them.
_VOCABULARY = OFFICIAL + COMPANY_SUFFIXES + UNIVERSITY_FORMS + BAND_ADJECTIVES + BAND_NOUNS + DEVICE_ADJECTIVES
_VOCABULARY += DEVICES + INDUSTRIES + GENRES + OCCUPATIONS + sum(ROLE_OCCUPATIONS.values(), ())
_VOCABULARY += ("automotive robotics born city country river company band device university founded capital",)
_VOCABULARY += ("currency lived native",)
RESERVED = frozenset(re.findall("[a-z]+", " ".join(_VOCABULARY).lower()))


@dataclass(eq=False)
class Entity:
    """One thing in the world. ``links`` are relations to other entities, ``attrs`` plain values.

    ``backlinks`` are the same relations seen from the target (a person's founded companies), used only
    to write documents. ``pool`` is "id" or "ood": which splits may ask a question starting here.
    """

    kind: str
    name: str
    pool: str
    aliases: tuple[str, ...] = ()
    links: dict[str, Entity] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)
    backlinks: dict[str, list[Entity]] = field(default_factory=dict)
    doc_id: str = ""

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


def _people(rng: random.Random, names: _Names, cities: list[Entity]) -> dict[str, list[Entity]]:
    """Universities in cities, and people born in cities who studied at universities."""
    universities = []
    for _ in range(COUNTS["university"]):
        university = _entity("university", rng.choice(UNIVERSITY_FORMS).format(names.word()), rng)
        university.link("city", rng.choice(cities), "universities")
        university.attrs["founded"] = str(rng.randint(1200, 1950))
        universities.append(university)
    firsts = [names.word((2, 2)) for _ in range(140)]
    lasts = [names.word() for _ in range(700)]
    people, taken = [], set()
    while len(people) < COUNTS["person"]:
        name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        if name in taken:
            continue
        taken.add(name)
        person = _entity("person", name, rng)
        person.link("born_in", rng.choice(cities), "natives")
        person.link("alma_mater", rng.choice(universities), "alumni")
        person.attrs.update(birth_year=str(rng.randint(1850, 1970)), pronoun=rng.choice(("she", "he")))
        person.attrs["occupation"] = rng.choice(OCCUPATIONS)
        people.append(person)
    return {"university": universities, "person": people}


def _organisations(rng: random.Random, names: _Names, world: dict[str, list[Entity]]) -> dict[str, list[Entity]]:
    """Companies (founder, headquarters), bands (lead singer, city formed in), inventions (inventor, maker)."""
    cities, notable = world["city"], rng.sample(world["person"], COUNTS["company"] + COUNTS["band"] + N_INVENTIONS)
    companies = []
    for founder in notable[: COUNTS["company"]]:
        suffix = rng.choice(COMPANY_SUFFIXES)
        company = _entity("company", f"{names.word()} {suffix}", rng)
        company.link("founder", founder, "founded")
        company.link("hq", rng.choice(cities), "companies")
        company.attrs.update(founded=str(int(founder.attrs["birth_year"]) + rng.randint(22, 50)))
        company.attrs["industry"] = rng.choice(SUFFIX_INDUSTRIES[suffix])
        founder.attrs["occupation"] = rng.choice(ROLE_OCCUPATIONS["founder"])
        companies.append(company)
    bands, band_names = [], [f"The {a} {n}" for a in BAND_ADJECTIVES for n in BAND_NOUNS]
    singers = notable[COUNTS["company"] : -N_INVENTIONS]
    for singer, name in zip(singers, rng.sample(band_names, COUNTS["band"]), strict=True):
        band = _entity("band", name, rng)
        band.link("lead_singer", singer, "sings_in")
        band.link("formed_in", rng.choice(cities), "bands")
        band.attrs.update(formed=str(int(singer.attrs["birth_year"]) + rng.randint(17, 30)), genre=rng.choice(GENRES))
        singer.attrs["occupation"] = rng.choice(ROLE_OCCUPATIONS["singer"])
        bands.append(band)
    inventions, devices = [], [f"{a} {d}" for a in DEVICE_ADJECTIVES for d in DEVICES]
    for inventor, name in zip(notable[-N_INVENTIONS:], rng.sample(devices, N_INVENTIONS), strict=True):
        invention = _entity("invention", name, rng)
        invention.link("inventor", inventor, "invented")
        invention.link("maker", rng.choice(companies), "makes")
        invention.attrs["year"] = str(int(inventor.attrs["birth_year"]) + rng.randint(24, 50))
        inventor.attrs["occupation"] = rng.choice(ROLE_OCCUPATIONS["inventor"])
        inventions.append(invention)
    return {"company": companies, "band": bands, "invention": inventions}


def build_world(seed: int = WORLD_SEED) -> dict[str, list[Entity]]:
    """Every entity of the world, by kind, with its relations (pure function of the seed)."""
    rng = random.Random(seed)
    names = _Names(rng)
    world = _geography(rng, names)
    world |= _people(rng, names, world["city"])
    world |= _organisations(rng, names, world)
    return world
