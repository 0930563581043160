"""Suite protocols: which envs and splits a method trains on and is evaluated on.

``paper`` is the MENTOR setting: train on Calculator; evaluate on Calculator in- and out-of-domain,
BFCL (function calling) and Search (multi-hop retrieval). ``cross-domain`` holds one multi-turn domain
out: train on a Mixed blend of the others, evaluate on the held-out domain's test splits; it expands to
one fold per domain (``cross-domain/sql`` and so on). docs/benchmark.md states them; docs/architecture.md the flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tooluse_envs import registry
from tooluse_envs.errors import ConfigError


@dataclass(frozen=True)
class Slot:
    """One env and split, with the extra ``gym.make`` arguments it needs."""

    env_id: str
    split: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Protocol:
    name: str
    description: str
    train: tuple[Slot, ...]
    evaluate: tuple[Slot, ...]


PAPER = Protocol(
    "paper",
    "MENTOR: train on Calculator; evaluate on Calculator ID/OOD, BFCL and Search (both out of domain)",
    train=(Slot("tooluse/Calculator-v0", "train"),),
    evaluate=(
        Slot("tooluse/Calculator-v0", "test_id"),
        Slot("tooluse/Calculator-v0", "test_ood"),
        Slot("tooluse/BFCL-v0", "test_ood"),
        Slot("tooluse/Search-v0", "test_ood"),
    ),
)


def cross_domain_fold(held_out: str) -> Protocol:
    """Train on the other multi-turn domains, evaluate on ``held_out``."""
    mixable = registry.mixable_domains()
    if held_out not in mixable:
        raise ConfigError(f"cannot hold out {held_out!r}; choose one of {', '.join(mixable)}")
    weights = {name: 1.0 for name in mixable if name != held_out}
    env_id = registry.info(held_out).env_id
    return Protocol(
        f"cross-domain/{held_out}",
        f"leave {held_out} out: train on {', '.join(weights)}; evaluate on {held_out}",
        train=(Slot("tooluse/Mixed-v0", "train", {"weights": weights}),),
        evaluate=(Slot(env_id, "test_id"), Slot(env_id, "test_ood")),
    )


def get_protocols(name: str) -> list[Protocol]:
    """``paper``, ``cross-domain`` (every fold) or one fold such as ``cross-domain/sql``."""
    if name == "paper":
        return [PAPER]
    if name == "cross-domain":
        return [cross_domain_fold(domain) for domain in registry.mixable_domains()]
    if name.startswith("cross-domain/"):
        return [cross_domain_fold(name.split("/", 1)[1])]
    raise ConfigError(f"unknown protocol {name!r}; choose paper, cross-domain or cross-domain/<domain>")
