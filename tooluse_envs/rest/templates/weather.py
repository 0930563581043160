"""Weather tasks (in-domain): forecast lookups and comparisons, within the 5-request quota."""

from __future__ import annotations

import random

from tooluse_envs.rest.services.weather import CITIES, DATES
from tooluse_envs.rest.templates import Api, Draft, Params, Template, number, rows, text

S = ("weather",)
CITY_NAMES = sorted(CITIES)


def _city_day(rng: random.Random) -> Params:
    return {"city": rng.choice(CITY_NAMES), "date": rng.choice(DATES)}


def _two_cities(rng: random.Random) -> Params:
    a, b = rng.sample(CITY_NAMES, 2)
    return {"cities": sorted([a, b]), "date": rng.choice(DATES)}


def _city_days(rng: random.Random) -> Params:
    return {"city": rng.choice(CITY_NAMES), "dates": sorted(rng.sample(DATES, 3))}


def forecast_high(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_forecast", city=p["city"], date=p["date"])
    ask = rng.choice(
        (
            "What is the forecast high temperature in {city} on {date}, in °C?",
            "How warm will it get in {city} on {date}? Give the forecast high in °C.",
        )
    )
    return number(ask.format(**p), body["high"])


def forecast_condition(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_forecast", city=p["city"], date=p["date"])
    ask = rng.choice(
        (
            "What weather is forecast for {city} on {date}?",
            "Which condition does the forecast give for {city} on {date}?",
        )
    )
    return text(ask.format(**p) + " Answer with the condition as the forecast states it.", body["condition"])


def forecast_low_f(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_forecast", city=p["city"], date=p["date"], units="imperial")
    return number(f"What is the forecast low for {p['city']} on {p['date']} in degrees Fahrenheit?", body["low"])


def temperature_swing(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_forecast", city=p["city"], date=p["date"])
    return number(
        f"By how many °C does the forecast high exceed the forecast low in {p['city']} on {p['date']}?",
        body["high"] - body["low"],
    )


def warmer_city(api: Api, p: Params, rng: random.Random) -> Draft | None:
    a, b = rng.sample(p["cities"], 2)
    highs = {city: api.ok("get_forecast", city=city, date=p["date"])["high"] for city in (a, b)}
    if highs[a] == highs[b]:
        return None
    return text(
        f"Which city has the higher forecast high on {p['date']}: {a} or {b}?", max(highs, key=highs.get), "compare"
    )


def rain_total(api: Api, p: Params, rng: random.Random) -> Draft:
    total = sum(api.ok("get_forecast", city=p["city"], date=day)["precipitation_mm"] for day in p["dates"])
    days = ", ".join(p["dates"][:-1]) + f" and {p['dates'][-1]}"
    return number(
        f"How many millimetres of precipitation are forecast for {p['city']} on {days} combined?",
        round(total, 1),
        "aggregate",
    )


def current_humidity(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_current_weather", city=p["city"])
    return number(f"What is the current humidity in {p['city']}, in percent?", body["humidity"])


def current_temperature_f(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("get_current_weather", city=p["city"], units="imperial")
    return number(f"What is the temperature in {p['city']} right now, in °F?", body["temperature"])


def cities_in_country(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("list_cities", country=p["country"])
    return rows(
        f"Which cities in {p['country']} does the weather service cover? List them all.",
        [c["name"] for c in body["cities"]],
        "list",
    )


def alert_count(api: Api, p: Params, rng: random.Random) -> Draft:
    body = api.ok("list_weather_alerts", city=p["city"])
    return number(f"How many severe-weather alerts are active for {p['city']}?", body["count"])


ID = [
    Template("forecast_high", S, _city_day, forecast_high),
    Template("forecast_condition", S, _city_day, forecast_condition),
    Template("forecast_low_f", S, _city_day, forecast_low_f),
    Template("temperature_swing", S, _city_day, temperature_swing),
    Template("warmer_city", S, _two_cities, warmer_city),
    Template("rain_total", S, _city_days, rain_total),
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
