"""The domain registry: the one list of domains in the suite, and what each one is.

Everything that needs to know which domains exist reads it: ``make_domain`` (valid names), the Gymnasium
ids registered at ``import tooluse_envs``, ``python -m tooluse_envs.generate`` (whose task files are
generated and committed), the Mixed domain's default blend and the cross-domain protocol folds. Adding a
domain is one module ``tooluse_envs.domains.<name>`` (tools, generator, checker, ``DOMAIN_CLASS``) and one
``DomainInfo`` line in ``REGISTERED`` below; see docs/adding-a-domain.md.

This module is imported by ``import tooluse_envs``, so it imports nothing but the standard library and
``tooluse_envs.errors``. Consumers call the helpers when they need the list (not once at import), so a
change to ``REGISTERED`` (a test's monkeypatch, say) is seen everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from tooluse_envs.errors import ConfigError


@dataclass(frozen=True)
class DomainInfo:
    """One domain of the suite.

    Attributes:
        name: the domain's name: its module ``tooluse_envs.domains.<name>``, its ``Domain.name`` and its
            folder under tasks/.
        env_name: the middle of its Gymnasium id, ``tooluse/<env_name>-v0``.
        generated: its task files are made by its generator and committed (``make tasks``); False for
            domains whose tasks come from elsewhere (BFCL's data) or from other domains (Mixed).
        mixable: a multi-turn domain that Mixed blends by default and the cross-domain protocol holds out.
        summary: one line on what the domain is.
    """

    name: str
    env_name: str
    generated: bool
    mixable: bool
    summary: str

    @property
    def env_id(self) -> str:
        """The Gymnasium id, e.g. ``tooluse/SQL-v0``."""
        return f"tooluse/{self.env_name}-v0"

    @property
    def module(self) -> str:
        """The module that defines the domain's ``DOMAIN_CLASS``."""
        return f"tooluse_envs.domains.{self.name}"


# The order is meaningful: Gymnasium ids are registered (and ``tooluse_envs.ENV_IDS`` iterated) in it,
# and Mixed's default weights follow it, so a seeded Mixed episode draws the same domain as before.
REGISTERED: tuple[DomainInfo, ...] = (
    DomainInfo("calculator", "Calculator", generated=True, mixable=True, summary="math word problems, 12 tools"),
    DomainInfo("code", "Code", generated=True, mixable=True, summary="Python run in a sandboxed, stateful interpreter"),
    DomainInfo("bfcl", "BFCL", generated=False, mixable=False, summary="BFCL single-turn function calling, AST-graded"),
    DomainInfo("sql", "SQL", generated=True, mixable=True, summary="questions about and changes to SQLite databases"),
    DomainInfo("rest", "REST", generated=True, mixable=True, summary="mock HTTP services, OpenAPI operations as tools"),
    DomainInfo("mixed", "Mixed", generated=False, mixable=False, summary="a weighted blend of the mixable domains"),
    DomainInfo("search", "Search", generated=True, mixable=False, summary="multi-hop QA over an offline encyclopedia"),
)


def all_domains() -> tuple[DomainInfo, ...]:
    """Every registered domain, in registry order."""
    return REGISTERED


def domain_names() -> tuple[str, ...]:
    """Every domain's name, in registry order."""
    return tuple(d.name for d in REGISTERED)


def env_ids() -> dict[str, str]:
    """``{env id: domain name}`` for every domain, e.g. ``{"tooluse/SQL-v0": "sql", ...}``."""
    return {d.env_id: d.name for d in REGISTERED}


def generated_domains() -> tuple[str, ...]:
    """The domains whose task files are generated and committed (what ``make tasks`` regenerates)."""
    return tuple(d.name for d in REGISTERED if d.generated)


def mixable_domains() -> tuple[str, ...]:
    """The multi-turn domains Mixed blends by default (and the cross-domain protocol's folds)."""
    return tuple(d.name for d in REGISTERED if d.mixable)


def info(name: str) -> DomainInfo:
    """The registry entry of domain ``name``; ``ConfigError`` naming the choices if there is none."""
    for d in REGISTERED:
        if d.name == name:
            return d
    raise ConfigError(f"unknown domain {name!r}; choose one of {', '.join(domain_names())}")
