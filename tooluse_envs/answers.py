"""Comparing a policy's final answer with the expected one.

Numbers are read exactly (as fractions) from integers, decimals, fractions, percentages, thousands
separators, currency signs and LaTeX (``\\frac{1}{2}``, ``\\text{...}``). A task that states its
precision (``expected.decimals``) is checked by exact equality, so an unrounded value is wrong where the
question asks for rounding; without it (user tasks) a 1e-6 relative tolerance applies. Text is compared
after normalisation (case, punctuation, articles, whitespace); lists of values are compared as
multisets, or in order when the task asks for an order.

Every check runs in time linear in the answer's length, and is bounded besides: a "number" longer than
``MAX_NUMBER_CHARS`` is not read as one, and an answer longer than ``MAX_ANSWER_CHARS`` is wrong without
being read (the longest expected answer of the suite has a few hundred characters), so a megabyte of
adversarial text costs microseconds, not seconds. The regular expressions are written so that no two
adjacent parts can match the same characters (no backtracking over a long run).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

_LATEX_FRAC = re.compile(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}")
_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?$")
# a number followed by a unit ("12 kg", "5%", "3.5m."): the number part, then what may follow it
_NUMBER_HEAD = re.compile(r"[-+]?[\d.,/eE+-]+")
_UNIT_TAIL = re.compile(r"\s*[A-Za-z$€£%°]*\.?")
_FRACTION = re.compile(r"\(?[-+]?\d+\)?/\(?[-+]?\d+\)?")


def _strip_latex(text: str) -> str:
    text = _LATEX_TEXT.sub(r"\1", text)
    text = _LATEX_FRAC.sub(r"(\1)/(\2)", text)
    for token in ("\\$", "\\%", "\\,", "\\!", "\\ ", "$", "\\left", "\\right"):
        text = text.replace(token, "" if token != "\\%" else "%")
    return text.strip()


MAX_NUMBER_CHARS = 200  # longer "numbers" are not answers, and bounded input keeps parsing cheap
MAX_EXPONENT = 400
MAX_ANSWER_CHARS = 100_000  # a longer answer is wrong unread; expected answers have a few hundred characters


def _without_unit(s: str) -> str:
    """``"12 kg"`` -> ``"12"``: the leading number-like run when only a unit follows it, else ``s``.

    The same strings as the old single pattern (number characters, spaces, unit letters), in linear time:
    that pattern let the number and the unit both match ``e``, so ``1eee…e!`` backtracked over every
    split of the run (quadratic). Taking the longest run and checking the rest once loses no match: a
    shorter run leaves ``e``/``E`` characters that the unit part would have to take, which it could have
    taken after the longest run too.
    """
    head = _NUMBER_HEAD.match(s)
    if head is not None and _UNIT_TAIL.fullmatch(s, head.end()):
        return head.group()
    return s


def parse_number(text: Any) -> float | None:
    """Read a number written the way people and models write one; None when it is not a number."""
    exact = parse_exact(text)
    if exact is None:
        return None
    try:
        return float(exact)
    except OverflowError:
        return None


def parse_exact(text: Any) -> Fraction | None:
    """Like ``parse_number``, but exact: ``"0.1"`` is 1/10, not the nearest float."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return Fraction(text) if abs(text) < 10**MAX_EXPONENT else None
    if isinstance(text, float):
        return Fraction(Decimal(repr(text))) if math.isfinite(text) else None
    if not isinstance(text, str) or len(text) > MAX_NUMBER_CHARS:
        return None
    s = _strip_latex(text).replace("−", "-").strip().rstrip(".")
    for sign in ("€", "£", "USD", "usd"):
        s = s.replace(sign, "")
    percent = s.endswith("%")
    s = _without_unit(s.rstrip("%").strip())
    s = "/".join(part.strip() for part in s.split("/"))  # "1 / 2" -> "1/2" (a regex \s*/ would backtrack)
    if _FRACTION.fullmatch(s):
        num, den = (part.strip("()") for part in s.split("/"))
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
    elif s and _NUMBER.match(s) and any(ch.isdigit() for ch in s):
        try:
            decimal = Decimal(s.replace(",", ""))
        except InvalidOperation:
            return None
        if not decimal.is_finite() or abs(decimal.adjusted()) > MAX_EXPONENT:
            return None
        value = Fraction(decimal)
    else:
        return None
    return value / 100 if percent else value


def numbers_match(got: float, expected: float, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Tolerant equality for values that are not rounded: relative for large values, absolute near zero."""
    return math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)


def number_answer_correct(answer: str | None, expected: float, decimals: int | None = None) -> bool:
    """Whether the answer reads as a number equal to ``expected`` (a percentage may be written either way).

    With ``decimals`` (the task's stated precision) equality is exact: the expected value is a decimal
    with at most that many places, and ``36.3239`` is not ``36.32``. Without it, ``numbers_match``.
    """
    if answer is None:
        return False
    value = parse_exact(answer)
    if value is None:
        return False
    candidates = [value, value * 100] if answer.strip().endswith("%") else [value]
    if decimals is not None:
        want = parse_exact(expected)
        return want is not None and any(got == want for got in candidates)
    try:
        return any(numbers_match(float(got), expected) for got in candidates)
    except OverflowError:
        return False


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


def _too_long(answer: str) -> bool:
    """Whether an answer is past ``MAX_ANSWER_CHARS``: wrong without reading it, whatever it holds."""
    return len(answer) > MAX_ANSWER_CHARS


def values_match(answer: str | None, expected: list[Any], ordered: bool = False) -> bool:
    """Compare a list answer with expected values, as a multiset or (when ``ordered``) as a sequence.

    Items are counted before any is read: a list of another length cannot match either way, so a
    100,000-item answer costs one split, not 100,000 number parses.
    """
    if answer is None or _too_long(answer):
        return False
    items = split_items(answer)
    if len(items) != len(expected):
        return False
    got = [_value_key(item) for item in items]
    want = [_value_key(item) for item in expected]
    return got == want if ordered else Counter(got) == Counter(want)


def text_answer_correct(answer: str | None, expected: str | list[str]) -> bool:
    """Normalised exact match against one expected string or any of several aliases."""
    if answer is None or _too_long(answer):
        return False
    options = [expected] if isinstance(expected, str) else expected
    got = normalize_text(answer)
    return any(got == normalize_text(option) for option in options)


def token_f1(answer: str | None, expected: str) -> float:
    """SQuAD token-level F1 between the normalised answer and the expected text."""
    if not answer or _too_long(answer):
        return 0.0
    got, want = normalize_text(answer).split(), normalize_text(expected).split()
    common = sum((Counter(got) & Counter(want)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)
