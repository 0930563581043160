"""Comparing a policy's final answer with the expected one.

Numbers are compared with a tolerance after reading integers, decimals, fractions, percentages,
thousands separators, currency signs and LaTeX (``\\frac{1}{2}``, ``\\text{...}``); text is compared
after normalisation (case, punctuation, articles, whitespace); lists of values are compared as
multisets, or in order when the task asks for an order.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from fractions import Fraction
from typing import Any

_LATEX_FRAC = re.compile(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}")
_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_UNIT_TAIL = re.compile(r"^([-+]?[\d.,/eE+-]+)\s*[A-Za-z$€£%°]*\.?$")


def _strip_latex(text: str) -> str:
    text = _LATEX_TEXT.sub(r"\1", text)
    text = _LATEX_FRAC.sub(r"(\1)/(\2)", text)
    for token in ("\\$", "\\%", "\\,", "\\!", "\\ ", "$", "\\left", "\\right"):
        text = text.replace(token, "" if token != "\\%" else "%")
    return text.strip()


def parse_number(text: Any) -> float | None:
    """Read a number written the way people and models write one; None when it is not a number."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    s = _strip_latex(text).replace("−", "-").strip().rstrip(".")
    for sign in ("€", "£", "USD", "usd"):
        s = s.replace(sign, "")
    percent = s.endswith("%")
    s = s.rstrip("%").strip()
    unit = _UNIT_TAIL.match(s)
    if unit:
        s = unit.group(1)
    s = re.sub(r"\s*/\s*", "/", s)
    if re.fullmatch(r"\(?[-+]?\d+\)?/\(?[-+]?\d+\)?", s):
        num, den = (part.strip("()") for part in s.split("/"))
        if int(den) == 0:
            return None
        value = float(Fraction(int(num), int(den)))
    elif s and _NUMBER.match(s) and any(ch.isdigit() for ch in s):
        value = float(s.replace(",", ""))
    else:
        return None
    return value / 100 if percent else value


def numbers_match(got: float, expected: float, rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> bool:
    """Tolerant equality: relative for large values, absolute near zero."""
    return math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)


def number_answer_correct(answer: str | None, expected: float) -> bool:
    """Whether the answer reads as a number equal to ``expected`` (a percentage may be written either way)."""
    if answer is None:
        return False
    value = parse_number(answer)
    if value is None:
        return False
    if numbers_match(value, expected):
        return True
    return answer.strip().endswith("%") and numbers_match(value * 100, expected)


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze whitespace (SQuAD-style normalisation)."""
    text = _strip_latex(text).lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _value_key(value: Any) -> str:
    number = parse_number(value) if not isinstance(value, bool) else None
    if number is not None:
        return f"n:{round(number, 4):g}"
    return "t:" + normalize_text(str(value))


_SPLIT_ITEMS = re.compile(r";|\n|,(?=\s)|,(?=\D)")


def split_items(answer: str) -> list[str]:
    """Split a list answer on semicolons, newlines or commas that are not thousands separators."""
    inner = answer.strip().strip("[]()")
    return [item.strip().strip("'\"") for item in _SPLIT_ITEMS.split(inner) if item.strip()]


def values_match(answer: str | None, expected: list[Any], ordered: bool = False) -> bool:
    """Compare a list answer with expected values, as a multiset or (when ``ordered``) as a sequence."""
    if answer is None:
        return False
    got = [_value_key(item) for item in split_items(answer)]
    want = [_value_key(item) for item in expected]
    return got == want if ordered else Counter(got) == Counter(want)


def text_answer_correct(answer: str | None, expected: str | list[str]) -> bool:
    """Normalised exact match against one expected string or any of several aliases."""
    if answer is None:
        return False
    options = [expected] if isinstance(expected, str) else expected
    got = normalize_text(answer)
    return any(got == normalize_text(option) for option in options)


def token_f1(answer: str | None, expected: str) -> float:
    """SQuAD token-level F1 between the normalised answer and the expected text."""
    if not answer:
        return 0.0
    got, want = normalize_text(answer).split(), normalize_text(expected).split()
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)
