"""The mock services, one module each (``SERVICE``: its OpenAPI document, handlers and seed data).

Adding a service is adding a module here and its name below: tools, routes and validation all come
from its OpenAPI document.
"""

from __future__ import annotations

import importlib
from functools import cache

from tooluse_envs.rest.service import Service

IN_DOMAIN = ("weather", "calendar", "shop", "bank")
"""Services of the train and test_id splits."""
OUT_OF_DOMAIN = ("flights", "library")
"""Services seen only in test_ood."""
ALL = IN_DOMAIN + OUT_OF_DOMAIN


@cache
def load(name: str) -> Service:
    """The service called ``name`` (its module is imported on first use)."""
    if name not in ALL:
        raise KeyError(f"unknown REST service {name!r}; known: {', '.join(ALL)}")
    return importlib.import_module(f"tooluse_envs.rest.services.{name}").SERVICE
