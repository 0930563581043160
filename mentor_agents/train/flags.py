"""Dataclass fields as typed, namespaced command-line flags: ``--<prefix>.<field>``.

A dataclass is the one source of truth for its flags: each field becomes a flag typed from its annotation
(``int``, ``float``, ``str``, ``bool`` as ``true``/``false``, ``X | None`` also accepting ``none``),
documented by the string under the field, with its default shown. A field added is a flag with no other edit.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any


def field_docs(cls: type) -> dict[str, str]:
    """Each field's attribute docstring (the string literal under it, also in base classes), on one line."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):  # a subclass's docstring wins
        docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # no source (e.g. defined in a REPL): no help text
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for stmt, after in zip(body, body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _bool(text: str) -> bool:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise ValueError


def value_parser(annotation: Any) -> tuple[Callable[[str], Any], str]:
    """A string-to-value function for a field type, and its metavar; ``TypeError`` for a type with no flag form."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"no flag form for {annotation}")
        annotation = args[0]
    if annotation not in (int, float, str, bool):
        raise TypeError(f"no flag form for {annotation}")
    base = _bool if annotation is bool else annotation
    metavar = "{true,false}" if annotation is bool else annotation.__name__.upper()
    name = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[annotation]

    def parse(text: str) -> Any:
        if optional and text.lower() == "none":
            return None
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {name}{' or none' if optional else ''}, not {text!r}") from None

    return parse, f"{metavar}|none" if optional else metavar


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def add_dataclass_flags(
    parser: argparse.ArgumentParser, cls: type, prefix: str, exclude: Iterable[str] = (), title: str | None = None
) -> argparse._ArgumentGroup:
    """One ``--<prefix>.<field>`` flag per field of the dataclass ``cls`` (except ``exclude``), in a group.

    A flag not given leaves no attribute on the namespace (read the given ones with :func:`flags_given`),
    so "not given" and "given the default" stay apart.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    group = parser.add_argument_group(title or f"{prefix} ({cls.__name__})")
    skip = set(exclude)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        parse, metavar = value_parser(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        shown = "" if f.default is dataclasses.MISSING else f" (default: {_shown(default)})"
        help_text = (docs.get(f.name, "") + shown).strip().replace("%", "%%")
        group.add_argument(
            f"--{prefix}.{f.name}",
            dest=f"{prefix}.{f.name}",
            type=parse,
            metavar=metavar,
            default=argparse.SUPPRESS,
            help=help_text,
        )
    return group


def flags_given(namespace: argparse.Namespace, cls: type, prefix: str) -> dict[str, Any]:
    """The fields of ``cls`` given as ``--<prefix>.<field>`` flags, by field name."""
    return {
        f.name: getattr(namespace, f"{prefix}.{f.name}")
        for f in dataclasses.fields(cls)
        if hasattr(namespace, f"{prefix}.{f.name}")
    }
