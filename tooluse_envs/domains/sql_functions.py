"""Built-in SQL functions whose single call can outlast the time budget, replaced by bounded versions.

A statement's time budget is kept by a progress handler that SQLite calls between VM instructions, so
it cannot stop work done inside one C function call, and with strings of up to ``SQLITE_LIMIT_LENGTH``
(1 MB here) some of SQLite's built-ins (3.40, the version Python ships) take seconds to hours in one call:

* ``printf``/``format`` pad a ``%c`` to its precision one append at a time, even after the result has
  outgrown the length limit: ``printf('%.*c', 2147483647, 'x')`` runs for about 40 s;
* ``trim``/``ltrim``/``rtrim`` compare each character with every character of the set to remove: a
  1 MB string and a 1 MB set is about 10**12 comparisons (an hour);
* ``instr`` and ``replace`` compare the pattern at every position: 1 MB against 500 kB is seconds.

Capping the result length does not help (the work happens before the cap is looked at); capping the
argument that multiplies the work does. ``install_bounded_functions`` replaces these functions on a
connection with Python functions that refuse an argument past its bound and hand every other call to
SQLite's own function on a private helper connection, so every result is exactly SQLite's. ``LIKE`` and
``GLOB`` have a limit of SQLite's own for the same reason (``SQLITE_LIMIT_LIKE_PATTERN_LENGTH``, set by
the SQL domain).
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from typing import Any

MAX_PRINTF_WIDTH = 10_000  # a printf width or precision
MAX_TRIM_SET = 100  # characters in the set trim() removes
MAX_SEARCH_PATTERN = 10_000  # characters of the string instr() and replace() look for

# SQLite's conversion syntax: %[flags][width][.precision][l|ll]type; each part optional, no two overlap
_SPEC = re.compile(r"%[-+ #!,0]*(\*|\d+)?(?:\.(\*|\d*))?l{0,2}(.)?", re.DOTALL)
_LEADING_INT = re.compile(r"\s*([-+]?\d{1,19})")
_NO_ARGUMENT = frozenset("%n")  # conversions that read no argument in SQL's printf

Check = Callable[[tuple[Any, ...]], str | None]


class FunctionRefused(Exception):
    """A call of a bounded function passed its bound; the message says which and why."""


def _as_int(value: Any) -> int:
    """An argument read as an integer the way SQLite does for ``*`` (text: its leading integer; else 0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if abs(value) < 2**63 else 2**63
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        match = _LEADING_INT.match(value)
        return int(match.group(1)) if match else 0
    return 0


def _printf_sizes(fmt: str, args: tuple[Any, ...]) -> Iterator[int]:
    """Every width and precision the format asks for, ``*`` ones read from the arguments they consume."""
    next_arg = 0
    for spec in _SPEC.finditer(fmt):
        for part in spec.group(1), spec.group(2):
            if part == "*":
                yield abs(_as_int(args[next_arg])) if next_arg < len(args) else 0
                next_arg += 1
            elif part:
                yield int(part) if len(part) <= 18 else 10**18  # refused either way; no need to read it all
        if spec.group(3) is not None and spec.group(3) not in _NO_ARGUMENT:
            next_arg += 1


def _length(value: Any) -> int:
    """Characters of text, bytes of a blob, 0 for anything else (numbers and NULL are short)."""
    return len(value) if isinstance(value, (str, bytes)) else 0


def check_printf(args: tuple[Any, ...]) -> str | None:
    """Why a printf/format call is refused (a width or precision past ``MAX_PRINTF_WIDTH``), or None."""
    if not args or not isinstance(args[0], (str, bytes)):
        return None
    fmt = args[0].decode("utf-8", "replace") if isinstance(args[0], bytes) else args[0]
    largest = max(_printf_sizes(fmt, args[1:]), default=0)
    if largest > MAX_PRINTF_WIDTH:
        return f"printf/format width or precision {largest} is above the limit of {MAX_PRINTF_WIDTH}"
    return None


def check_trim(args: tuple[Any, ...]) -> str | None:
    """Why a two-argument trim call is refused (a set of more than ``MAX_TRIM_SET`` characters), or None."""
    if _length(args[1]) > MAX_TRIM_SET:
        return f"the set of characters to trim has {_length(args[1])}; the limit is {MAX_TRIM_SET}"
    return None


def check_search(args: tuple[Any, ...]) -> str | None:
    """Why an instr/replace call is refused (a pattern past ``MAX_SEARCH_PATTERN``), or None."""
    if _length(args[1]) > MAX_SEARCH_PATTERN:
        return f"the string to search for has {_length(args[1])} characters; the limit is {MAX_SEARCH_PATTERN}"
    return None


# name -> (argument count as SQLite registers it, -1 = any; the check)
BOUNDED: dict[str, tuple[int, Check]] = {
    "printf": (-1, check_printf),
    "format": (-1, check_printf),
    "trim": (2, check_trim),
    "ltrim": (2, check_trim),
    "rtrim": (2, check_trim),
    "instr": (2, check_search),
    "replace": (3, check_search),
}


def bounded(name: str, check: Check, helper: sqlite3.Connection, refuse: Callable[[str], None]) -> Callable[..., Any]:
    """SQLite's ``name`` with ``check`` in front; other calls run on ``helper``, whose functions are SQLite's.

    ``refuse`` is told why before a call is refused (the connection's error then only says that a
    user-defined function raised), so the statement's error can name the real reason.
    """

    def function(*args: Any) -> Any:
        reason = check(args)
        if reason is not None:
            reason += " (a longer one could stall the database past its time budget)"
            refuse(reason)
            raise FunctionRefused(reason)
        placeholders = ", ".join("?" * len(args))
        try:
            return helper.execute(f"SELECT {name}({placeholders})", args).fetchone()[0]
        except sqlite3.Error as exc:  # e.g. "string or blob too big": say so, as the built-in would
            refuse(f"{name}(): {exc}")
            raise

    function.__name__ = name
    return function


def install_bounded_functions(
    conn: sqlite3.Connection, refuse: Callable[[str], None], max_length: int
) -> sqlite3.Connection:
    """Replace the functions of ``BOUNDED`` on ``conn``; returns the helper connection (close it with ``conn``)."""
    helper = sqlite3.connect(":memory:", check_same_thread=False)
    if sys.version_info >= (3, 11):  # Connection.setlimit
        helper.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_length)
    for name, (arity, check) in BOUNDED.items():
        conn.create_function(name, arity, bounded(name, check, helper, refuse), deterministic=True)
    return helper
