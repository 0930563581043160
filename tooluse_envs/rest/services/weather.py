"""Weather: forecasts, current conditions and alerts for 24 European cities (in-domain; rate-limited).

The free tier allows ``RATE_LIMIT`` requests per episode; after that every call answers 429 with
``Retry-After``, so a policy that spams calls loses the information it needs.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import cache
from typing import Any

from tooluse_envs.rest.service import ApiError, Call, Service, Tables
from tooluse_envs.rest.services._spec import DATE, document, obj, param, responses

RATE_LIMIT = 5
FIRST_DAY = dt.date(2025, 6, 1)
DAYS = 10
DATES = tuple((FIRST_DAY + dt.timedelta(days=i)).isoformat() for i in range(DAYS))
CITIES = {  # name -> (country, typical June high in °C)
    "Oslo": ("Norway", 19),
    "Bergen": ("Norway", 16),
    "Stockholm": ("Sweden", 20),
    "Gothenburg": ("Sweden", 19),
    "Copenhagen": ("Denmark", 19),
    "Helsinki": ("Finland", 18),
    "Berlin": ("Germany", 23),
    "Munich": ("Germany", 22),
    "Hamburg": ("Germany", 20),
    "Paris": ("France", 24),
    "Lyon": ("France", 26),
    "Marseille": ("France", 28),
    "Madrid": ("Spain", 30),
    "Barcelona": ("Spain", 26),
    "Seville": ("Spain", 33),
    "Rome": ("Italy", 28),
    "Milan": ("Italy", 27),
    "Naples": ("Italy", 28),
    "Lisbon": ("Portugal", 25),
    "Porto": ("Portugal", 22),
    "Vienna": ("Austria", 24),
    "Zurich": ("Switzerland", 22),
    "Amsterdam": ("Netherlands", 20),
    "Dublin": ("Ireland", 18),
}
CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "heavy rain", "thunderstorms")
UNITS = {
    "type": "string",
    "enum": ["metric", "imperial"],
    "default": "metric",
    "description": "metric: °C and km/h; imperial: °F and mph.",
}
CITY_Q = param("city", "query", {"type": "string", "minLength": 1}, "City name, e.g. Oslo.", required=True)

FORECAST = obj(
    {
        "city": {"type": "string"},
        "country": {"type": "string"},
        "date": DATE,
        "condition": {"type": "string"},
        "high": {"type": "number"},
        "low": {"type": "number"},
        "precipitation_mm": {"type": "number"},
        "wind": {"type": "number"},
        "units": {"type": "string"},
    }
)
SPEC = document(
    "Weather API",
    f"Forecasts for {DATES[0]} to {DATES[-1]}. Free tier: {RATE_LIMIT} requests per session, then 429.",
    {
        "/forecast": {
            "get": {
                "operationId": "get_forecast",
                "summary": "The forecast for one city on one day.",
                "parameters": [
                    CITY_Q,
                    param("date", "query", DATE, "The day, YYYY-MM-DD.", required=True),
                    param("units", "query", UNITS, "Unit system."),
                ],
                "responses": responses(200, {"$ref": "#/components/schemas/Forecast"}, 404, 429),
            }
        },
        "/forecast/daily": {
            "get": {
                "operationId": "get_daily_forecasts",
                "summary": "Day-by-day forecasts for one city over a range of dates (one request for the range).",
                "parameters": [
                    CITY_Q,
                    param("start", "query", DATE, "First day, YYYY-MM-DD.", required=True),
                    param("end", "query", DATE, "Last day (inclusive), YYYY-MM-DD.", required=True),
                    param("units", "query", UNITS, "Unit system."),
                ],
                "responses": responses(200, None, 404, 429),
            }
        },
        "/forecasts": {
            "get": {
                "operationId": "list_forecasts",
                "summary": "The forecasts of every covered city for one day, optionally only one country's.",
                "parameters": [
                    param("date", "query", DATE, "The day, YYYY-MM-DD.", required=True),
                    param("country", "query", {"type": "string"}, "Country name, e.g. Spain."),
                    param("units", "query", UNITS, "Unit system."),
                ],
                "responses": responses(200, None, 429),
            }
        },
        "/cities/{city}/current": {
            "get": {
                "operationId": "get_current_weather",
                "summary": "Current conditions in a city: temperature, condition, humidity and wind.",
                "parameters": [
                    param("city", "path", {"type": "string"}, "City name."),
                    param("units", "query", UNITS, "Unit system."),
                ],
                "responses": responses(200, None, 404, 429),
            }
        },
        "/cities": {
            "get": {
                "operationId": "list_cities",
                "summary": "The cities the service covers, optionally only those of one country.",
                "parameters": [param("country", "query", {"type": "string"}, "Country name, e.g. Spain.")],
                "responses": responses(200, None, 429),
            }
        },
        "/alerts": {
            "get": {
                "operationId": "list_weather_alerts",
                "summary": "Active severe-weather alerts, optionally for one city.",
                "parameters": [param("city", "query", {"type": "string"}, "City name.")],
                "responses": responses(200, None, 429),
            }
        },
    },
    {"Forecast": FORECAST},
)


@cache
def seed() -> Tables:
    """Ten days of deterministic weather per city."""
    rng = random.Random(4242)
    cities, forecasts, alerts = {}, {}, {}
    for name, (country, typical) in CITIES.items():
        cities[name] = {"name": name, "country": country}
        for day in DATES:
            condition = rng.choices(CONDITIONS, weights=(5, 4, 3, 3, 1, 1))[0]
            high = typical + rng.randint(-5, 5) - (3 if "rain" in condition or "storm" in condition else 0)
            rain = condition in ("light rain", "heavy rain", "thunderstorms")
            forecasts[f"{name}|{day}"] = {
                "city": name,
                "country": country,
                "date": day,
                "condition": condition,
                "high": high,
                "low": high - rng.randint(5, 11),
                "humidity": rng.randint(35, 95) if rain else rng.randint(25, 70),
                "precipitation_mm": round(rng.uniform(0.5, 30.0), 1) if rain else 0.0,
                "wind_kph": rng.randint(3, 45),
            }
            if condition == "thunderstorms":
                alerts[f"{name}|{day}"] = {
                    "city": name,
                    "date": day,
                    "severity": rng.choice(["yellow", "orange"]),
                    "event": "thunderstorm",
                }
    return {"cities": cities, "forecasts": forecasts, "alerts": alerts}


def _city(call: Call, name: str) -> dict[str, Any]:
    for city in call.tables["cities"].values():
        if city["name"].lower() == name.strip().lower():
            return city
    raise ApiError(404, "not_found", f"no city named {name!r}; list_cities shows the cities covered")


def _convert(row: dict[str, Any], units: str, temperatures: tuple[str, ...]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("wind_kph", "humidity")}
    if units == "imperial":
        for key in temperatures:
            out[key] = round(row[key] * 9 / 5 + 32, 1)
        out["wind"] = round(row["wind_kph"] / 1.609344, 1)
    else:
        out["wind"] = row["wind_kph"]
    out["units"] = units
    return out


def get_forecast(call: Call) -> dict[str, Any]:
    city = _city(call, call.params["city"])
    day = call.params["date"]
    row = call.tables["forecasts"].get(f"{city['name']}|{day}")
    if row is None:
        raise ApiError(422, "out_of_range", f"forecasts cover {DATES[0]} to {DATES[-1]}, not {day}")
    return _convert(row, call.params.get("units", "metric"), ("high", "low"))


def _day(day: str) -> str:
    if day not in DATES:
        raise ApiError(422, "out_of_range", f"forecasts cover {DATES[0]} to {DATES[-1]}, not {day}")
    return day


def get_daily_forecasts(call: Call) -> dict[str, Any]:
    city = _city(call, call.params["city"])
    start, end = _day(call.params["start"]), _day(call.params["end"])
    if end < start:
        raise ApiError(422, "invalid_range", f"end {end} is before start {start}")
    units = call.params.get("units", "metric")
    days = [
        _convert(call.tables["forecasts"][f"{city['name']}|{day}"], units, ("high", "low"))
        for day in DATES
        if start <= day <= end
    ]
    return {"city": city["name"], "days": days, "count": len(days)}


def list_forecasts(call: Call) -> dict[str, Any]:
    day, country = _day(call.params["date"]), call.params.get("country")
    units = call.params.get("units", "metric")
    rows = [
        _convert(row, units, ("high", "low"))
        for row in call.tables["forecasts"].values()
        if row["date"] == day and (country is None or row["country"].lower() == country.strip().lower())
    ]
    return {"date": day, "forecasts": rows, "count": len(rows)}


def get_current_weather(call: Call) -> dict[str, Any]:
    city = _city(call, call.params["city"])
    today = call.tables["forecasts"][f"{city['name']}|{DATES[0]}"]
    row = {
        "city": city["name"],
        "observed_at": f"{DATES[0]}T12:00:00Z",
        "condition": today["condition"],
        "temperature": today["high"] - 2,
        "humidity": today["humidity"],
        "wind_kph": today["wind_kph"],
    }
    out = _convert(row, call.params.get("units", "metric"), ("temperature",))
    out["humidity"] = today["humidity"]
    return out


def list_cities(call: Call) -> dict[str, Any]:
    country = call.params.get("country")
    rows = [c for c in call.tables["cities"].values() if country is None or c["country"].lower() == country.lower()]
    return {"cities": rows, "count": len(rows)}


def list_weather_alerts(call: Call) -> dict[str, Any]:
    city = call.params.get("city")
    name = _city(call, city)["name"] if city else None
    rows = [a for a in call.tables["alerts"].values() if name is None or a["city"] == name]
    return {"alerts": rows, "count": len(rows)}


SERVICE = Service(
    name="weather",
    spec=SPEC,
    handlers={
        "get_forecast": get_forecast,
        "get_daily_forecasts": get_daily_forecasts,
        "list_forecasts": list_forecasts,
        "get_current_weather": get_current_weather,
        "list_cities": list_cities,
        "list_weather_alerts": list_weather_alerts,
    },
    seed=seed,
    rate_limit=RATE_LIMIT,
)
