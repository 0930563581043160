"""Weather tasks (in-domain): forecast lookups and comparisons, within the 5-request quota.

Strategies: a single forecast is asked for directly or picked out of the day's listing of all cities;
two cities of one country are compared from one filtered listing, others by two lookups; precipitation
over nearby days comes from one range request, over spread-out days from one request per day.
"""

from __future__ import annotations

import random
from typing import Any

from tooluse_envs.rest.services.weather import CITIES, DATES
from tooluse_envs.rest.templates import DIRECT, Api, Draft, Params, Template, ask, number, rows, text, total

S = ("weather",)
CITY_NAMES = sorted(CITIES)


DAY_LISTING, RANGE, PER_DAY = "day_listing", "range", "per_day"
LOOKUP = (DIRECT, DAY_LISTING)
SHARED_COUNTRIES = sorted({c for c, _ in CITIES.values() if sum(c == d for d, _ in CITIES.values()) > 1})


def _city_day(rng: random.Random) -> Params:
    return {"city": rng.choice(CITY_NAMES), "date": rng.choice(DATES)}


def _two_cities(rng: random.Random) -> Params:
    """Half the pairs share a country (one filtered listing covers both), half do not."""
    if rng.random() < 0.5:
        country = rng.choice(SHARED_COUNTRIES)
        pool = [name for name in CITY_NAMES if CITIES[name][0] == country]
    else:
        pool = CITY_NAMES
    a, b = rng.sample(pool, 2)
    return {"cities": sorted([a, b]), "date": rng.choice(DATES)}


def _city_days(rng: random.Random) -> Params:
    """Three days: close together (one range request covers them) or spread over the forecast window."""
    if rng.random() < 0.5:
        first = rng.randrange(0, len(DATES) - 4)
        days = sorted(rng.sample(DATES[first : first + 5], 3))
    else:
        days = sorted(rng.sample(DATES, 3))
    return {"city": rng.choice(CITY_NAMES), "dates": days}


def _forecast(api: Api, city: str, date: str, **units: str) -> dict[str, Any]:
    """One city's forecast: asked for directly, or picked out of the day's listing of every city."""
    if api.strategy == DAY_LISTING:
        listed = api.ok("list_forecasts", date=date, **units)["forecasts"]
        return next(row for row in listed if row["city"] == city)
    return api.ok("get_forecast", city=city, date=date, **units)


def forecast_high(api: Api, p: Params, rng: random.Random) -> Draft:
    body = _forecast(api, p["city"], p["date"])
    standard = rng.choice(
        (
            "What is the forecast high temperature in {city} on {date}, in °C?",
            "How warm will it get in {city} on {date}? Give the forecast high in °C.",
        )
    )
    paraphrase = "I'm planning to be in {city} on {date}. What's the top temperature the forecast predicts (°C)?"
    return number(ask(p, standard, paraphrase).format(**p), body["high"], decimals=0)


def forecast_condition(api: Api, p: Params, rng: random.Random) -> Draft:
    body = _forecast(api, p["city"], p["date"])
    standard = rng.choice(
        (
            "What weather is forecast for {city} on {date}?",
            "Which condition does the forecast give for {city} on {date}?",
        )
    )
    paraphrase = "Should I expect sun or rain in {city} on {date}? Tell me the forecast's sky conditions."
    return text(
        ask(p, standard, paraphrase).format(**p) + " Answer with the condition as the forecast states it.",
        body["condition"],
    )


def forecast_low_f(api: Api, p: Params, rng: random.Random) -> Draft:
    body = _forecast(api, p["city"], p["date"], units="imperial")
    question = ask(
        p,
        f"What is the forecast low for {p['city']} on {p['date']} in degrees Fahrenheit?",
        f"How cold does it get overnight in {p['city']} on {p['date']} according to the forecast? Use °F.",
    )
    return number(question + " Give the value to one decimal place.", body["low"], decimals=1)


def temperature_swing(api: Api, p: Params, rng: random.Random) -> Draft:
    body = _forecast(api, p["city"], p["date"])
    question = ask(
        p,
        f"By how many °C does the forecast high exceed the forecast low in {p['city']} on {p['date']}?",
        f"What is the spread between the day's warmest and coldest forecast temperatures in {p['city']} on "
        f"{p['date']}, in °C?",
    )
    return number(question, total((body["high"], -body["low"]), 0), decimals=0)


def warmer_city(api: Api, p: Params, rng: random.Random) -> Draft | None:
    a, b = rng.sample(p["cities"], 2)
    if api.strategy == DAY_LISTING:
        countries = {CITIES[a][0], CITIES[b][0]}
        query = {"country": countries.pop()} if len(countries) == 1 else {}
        listed = api.ok("list_forecasts", date=p["date"], **query)["forecasts"]
        highs = {row["city"]: row["high"] for row in listed if row["city"] in (a, b)}
    else:
        highs = {city: api.ok("get_forecast", city=city, date=p["date"])["high"] for city in (a, b)}
    if highs[a] == highs[b]:
        return None
    question = ask(
        p,
        f"Which city has the higher forecast high on {p['date']}: {a} or {b}?",
        f"On {p['date']}, will {a} or {b} be the warmer place by forecast high? Name the city.",
    )
    return text(question, max(highs, key=highs.__getitem__), "compare")


def _warmer_teacher(p: Params, rng: random.Random) -> str:
    """Both cities in one country: one listing filtered by the country; otherwise two direct lookups."""
    return DAY_LISTING if CITIES[p["cities"][0]][0] == CITIES[p["cities"][1]][0] else DIRECT


def rain_total(api: Api, p: Params, rng: random.Random) -> Draft:
    if api.strategy == RANGE:
        days = api.ok("get_daily_forecasts", city=p["city"], start=p["dates"][0], end=p["dates"][-1])["days"]
        amounts = [day["precipitation_mm"] for day in days if day["date"] in p["dates"]]
    else:
        amounts = [api.ok("get_forecast", city=p["city"], date=day)["precipitation_mm"] for day in p["dates"]]
    days = ", ".join(p["dates"][:-1]) + f" and {p['dates'][-1]}"
    question = ask(
        p,
        f"How many millimetres of precipitation are forecast for {p['city']} on {days} combined?",
        f"Add up the forecast rainfall in {p['city']} over {days}: how many mm is that altogether?",
    )
    return number(question, total(amounts, 1), "aggregate", decimals=1)


def _rain_teacher(p: Params, rng: random.Random) -> str:
    """Days within five of each other: one range request; spread out: one request per day."""
    span = DATES.index(p["dates"][-1]) - DATES.index(p["dates"][0])
    return RANGE if span <= 4 else PER_DAY


def current_humidity(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_current_weather", city=p["city"])
    question = ask(
        p,
        f"What is the current humidity in {p['city']}, in percent?",
        f"How humid is it in {p['city']} at the moment? Give the relative humidity as a percentage.",
    )
    return number(question, body["humidity"], decimals=0)


def current_temperature_f(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_current_weather", city=p["city"], units="imperial")
    question = ask(
        p,
        f"What is the temperature in {p['city']} right now, in °F?",
        f"My friend in {p['city']} thinks in Fahrenheit: how warm is it there currently?",
    )
    return number(question + " Give the value to one decimal place.", body["temperature"], decimals=1)


def cities_in_country(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("list_cities", country=p["country"])
    return rows(
        ask(
            p,
            f"Which cities in {p['country']} does the weather service cover? List them all.",
            f"For {p['country']}, name every city the weather service has data for.",
        ),
        [c["name"] for c in body["cities"]],
        "list",
    )


def alert_count(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("list_weather_alerts", city=p["city"])
    question = ask(
        p,
        f"How many severe-weather alerts are active for {p['city']}?",
        f"Count the severe-weather warnings currently in force for {p['city']}.",
    )
    return number(question, body["count"], decimals=0)


ID = [
    Template("forecast_high", S, _city_day, forecast_high, LOOKUP),
    Template("forecast_condition", S, _city_day, forecast_condition, LOOKUP),
    Template("forecast_low_f", S, _city_day, forecast_low_f, LOOKUP),
    Template("temperature_swing", S, _city_day, temperature_swing, LOOKUP),
    Template("warmer_city", S, _two_cities, warmer_city, LOOKUP, _warmer_teacher),
    Template("rain_total", S, _city_days, rain_total, (PER_DAY, RANGE), _rain_teacher),
    Template("current_humidity", S, lambda rng: {"city": rng.choice(CITY_NAMES)}, current_humidity),
    Template("current_temperature_f", S, lambda rng: {"city": rng.choice(CITY_NAMES)}, current_temperature_f),
    Template(
        "cities_in_country",
        S,
        lambda rng: {"country": rng.choice(sorted({c for c, _ in CITIES.values()}))},
        cities_in_country,
    ),
    Template("alert_count", S, lambda rng: {"city": rng.choice(CITY_NAMES)}, alert_count),
]
OOD: list[Template] = []
