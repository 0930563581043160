"""State checks: how a state-changing task is judged on the services' tables at the end of the episode.

``expected = {"kind": "state", "check": [check, ...]}``; each check selects the rows of one table whose
fields equal ``where`` and requires that there are ``count`` of them and/or that each has ``fields``::

    {"service": "shop", "table": "orders", "where": {"id": "O-1042"}, "fields": {"status": "cancelled"}}
    {"service": "shop", "table": "orders", "where": {"status": "cancelled"}, "count": 12}

Checks name what the task asked for, not the ids a run happened to create, so any correct sequence of
calls passes, while a wrong target, a duplicate or a missing write fails.
"""

from __future__ import annotations

import math
from typing import Any

from tooluse_envs.episode import Outcome

State = dict[str, dict[str, list[dict[str, Any]]]]


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        return (
            isinstance(got, (int, float)) and isinstance(want, (int, float)) and math.isclose(got, want, abs_tol=1e-6)
        )
    return got == want


def _matches(row: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(_same(row.get(key), value) for key, value in wanted.items())


def check_failure(check: dict[str, Any], state: State) -> str | None:
    """Why one check fails on ``state``, or None when it holds."""
    rows = state.get(check["service"], {}).get(check["table"])
    if rows is None:
        return f"no table {check['service']}.{check['table']}"
    selected = [row for row in rows if _matches(row, check.get("where", {}))]
    where = f"{check['service']}.{check['table']} where {check.get('where', {})}"
    if "count" in check and len(selected) != check["count"]:
        return f"{where}: {len(selected)} rows, expected {check['count']}"
    if "fields" in check:
        if not selected:
            return f"{where}: no such row"
        for row in selected:
            if not _matches(row, check["fields"]):
                return f"{where}: has { ({k: row.get(k) for k in check['fields']}) }, expected {check['fields']}"
    return None


def check_state(checks: list[dict[str, Any]], state: State) -> Outcome:
    """All checks must hold; the score is the fraction that do, the details name the failures."""
    failures = [reason for reason in (check_failure(c, state) for c in checks) if reason is not None]
    score = 1 - len(failures) / len(checks) if checks else 1.0
    return Outcome(not failures and bool(checks), score, {"failed_checks": failures})


def services_of(checks: list[dict[str, Any]]) -> list[str]:
    """The services whose state the checks read, in first-mention order."""
    return list(dict.fromkeys(check["service"] for check in checks))
