"""Code problems: how the data reaches the solver, and the strategies a teacher can take to solve them.

A problem is a computation over some data (a list of integers, or one or two parameters). The data is
either written into the question or shipped as a file in one of several layouts. Plain-text layouts
(one integer per line, comma- or space-separated, behind a header) are read with ``open`` and
``str.split`` — all that training ever needs. The ``json``/``csv``/``log`` layouts need the ``json``,
``csv`` or ``re`` module, which no training reference imports: they make the ``unseen_module`` axis.

Several strategies solve the same problem, and they are what the teacher chooses between:

* data in the question: one ``python`` call, or store the data and check its length first, then compute
  (a careful model does that for long lists, so the teacher does it from 12 values on);
* data in a file: open it inside ``python`` at once (the teacher does when the question states the
  layout), ``read_file`` first to see the layout and then open it in ``python`` (when it does not),
  or read the file and paste its values into ``python``;
* a scalar computation: one script, or define a function, test it on a tiny known case, then call it
  (the teacher does so when the input is large).

Only the python-only and the read-first strategies differ in tool set, so file problems are where a
teacher-matching reward has signal: a student can be right either way.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

PLAIN_LAYOUTS = ("lines", "commas", "spaces", "header")
MODULE_LAYOUTS = ("json", "csv", "log")
FILE_AFTER = 17  # lists longer than this come in a file, shorter ones in the question
STORE_FROM = 12  # the teacher stores an in-question list and checks its length first from this length on

PLAIN_FILES = ("scores.txt", "readings.txt", "values.txt", "measurements.txt", "samples.txt", "counts.txt")
JSON_FILES = (("readings.json", "readings"), ("scores.json", "scores"), ("batch.json", "values"))
CSV_FILES = (("orders.csv", "quantity"), ("results.csv", "score"), ("stock.csv", "units"))
LOG_FILES = ("sensor.log", "meter.log", "probe.log", "station.log")


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``12th``, ``13th``, ``21st``, ``111th``."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Call:
    """One teacher call: ``python`` with code, or ``read_file`` with a path."""

    tool: str
    argument: str

    def arguments(self) -> dict[str, str]:
        return {"code": self.argument} if self.tool == "python" else {"path": self.argument}


@dataclass(frozen=True)
class Strategy:
    name: str
    calls: tuple[Call, ...]

    @property
    def tools(self) -> frozenset[str]:
        return frozenset(call.tool for call in self.calls)


def python(code: str) -> Call:
    return Call("python", code)


def read_file(path: str) -> Call:
    return Call("read_file", path)


@dataclass(frozen=True)
class Problem:
    """A question with the teacher's strategy and the other correct ones.

    ``key`` is the computation (template, data, parameters) regardless of wording and layout: a test
    split may not hold a key that train holds.
    """

    template: str
    key: str
    question: str
    teacher: Strategy
    alternatives: tuple[Strategy, ...]
    decimals: int
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Data:
    """A list of integers as the question presents it: in the text, or in a file of some layout."""

    xs: tuple[int, ...]
    layout: str  # "inline", one of PLAIN_LAYOUTS or one of MODULE_LAYOUTS
    path: str = ""
    noun: str = ""  # the JSON key / CSV column that holds the values
    stated: bool = False  # whether the question describes the file's layout
    content: str = ""

    @property
    def phrase(self) -> str:
        """How the question refers to the values."""
        n = len(self.xs)
        if self.layout == "inline":
            return str(list(self.xs))
        if self.layout == "json":
            return f"the {n} {self.noun} in {self.path}"
        if self.layout == "csv":
            return f'the {n} "{self.noun}" values in {self.path}'
        if self.layout == "log":
            return f"the {n} values logged in {self.path}"
        return f"the {n} integers in {self.path}"

    @property
    def note(self) -> str:
        """The sentence that states the file's layout (empty when not stated)."""
        if self.layout == "inline":
            return ""
        notes = {
            "lines": f"{self.path} holds one integer per line.",
            "commas": f"{self.path} holds the integers on one line, separated by commas.",
            "spaces": f"{self.path} holds the integers separated by spaces, several per line.",
            "header": f"{self.path} starts with a one-line header, then holds one integer per line.",
            "json": f'{self.path} is a JSON object whose "{self.noun}" key holds the list of integers.',
            "csv": f'{self.path} is a CSV file with a header row; the integers are in its "{self.noun}" column.',
            "log": f'Each line of {self.path} ends with "value=<integer>".',
        }
        where = f"{self.path} is in the working directory."
        return f"{notes[self.layout]} {where}" if self.stated else where

    def loader(self) -> str:
        """Python that assigns the values to ``xs`` from the file."""
        p = repr(self.path)
        return {
            "lines": f"xs = [int(line) for line in open({p})]",
            "commas": f"xs = [int(t) for t in open({p}).read().split(',')]",
            "spaces": f"xs = [int(t) for t in open({p}).read().split()]",
            "header": f"xs = [int(line) for line in open({p}).readlines()[1:]]",
            "json": f"import json\nwith open({p}) as f:\n    xs = json.load(f)[{self.noun!r}]",
            "csv": f"import csv\nwith open({p}, newline='') as f:\n"
            f"    xs = [int(row[{self.noun!r}]) for row in csv.DictReader(f)]",
            "log": f"import re\nxs = [int(v) for v in re.findall(r'value=(-?\\d+)', open({p}).read())]",
        }[self.layout]


def make_data(r: random.Random, xs: list[int], layout: str | None = None) -> Data:
    """Present ``xs``: short lists in the question, longer ones in a plain file (or ``layout``)."""
    if layout is None:
        if len(xs) <= FILE_AFTER:
            return Data(tuple(xs), "inline")
        layout = r.choice(PLAIN_LAYOUTS)
    stated = r.random() < 0.5
    if layout == "json":
        path, noun = r.choice(JSON_FILES)
        meta = {"station": r.choice(["alder", "birch", "cedar", "dune", "elm"]), "id": r.randint(1, 999)}
        content = json.dumps({**meta, noun: xs}, indent=1) + "\n"
    elif layout == "csv":
        path, noun = r.choice(CSV_FILES)
        rows = [f"id,{noun},batch"] + [f"{i + 1},{x},{r.randint(1, 9)}" for i, x in enumerate(xs)]
        content = "\n".join(rows) + "\n"
    elif layout == "log":
        path, noun = r.choice(LOG_FILES), ""
        content = "".join(
            f"2024-05-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d} "
            f"unit-{r.randint(1, 12)} value={x}\n"
            for x in xs
        )
    else:
        path, noun = r.choice(PLAIN_FILES), ""
        content = _plain(r, xs, layout, path)
    return Data(tuple(xs), layout, path, noun, stated, content)


def _plain(r: random.Random, xs: list[int], layout: str, path: str) -> str:
    if layout == "lines":
        return "".join(f"{x}\n" for x in xs)
    if layout == "commas":
        return ",".join(map(str, xs)) + "\n"
    if layout == "spaces":
        width = r.randint(4, 8)
        return "".join(" ".join(map(str, xs[i : i + width])) + "\n" for i in range(0, len(xs), width))
    title = path.split(".")[0].replace("_", " ")
    return f"# {title} as recorded, oldest first\n" + "".join(f"{x}\n" for x in xs)


def list_strategies(data: Data, compute: str) -> tuple[Strategy, tuple[Strategy, ...]]:
    """The teacher's strategy and the alternatives for a computation over ``xs`` (``compute`` prints it)."""
    literal = f"xs = {list(data.xs)}"
    if data.layout == "inline":
        one = Strategy("one_call", (python(f"{literal}\n{compute}"),))
        store = Strategy("store_then_compute", (python(f"{literal}\nprint(len(xs))"), python(compute)))
        return (store, (one,)) if len(data.xs) >= STORE_FROM else (one, (store,))
    load = data.loader()
    direct = Strategy("open_in_python", (python(f"{load}\n{compute}"),))
    inspect = Strategy("inspect_then_open", (read_file(data.path), python(f"{load}\n{compute}")))
    paste = Strategy("read_then_paste", (read_file(data.path), python(f"{literal}\n{compute}")))
    return (direct, (inspect, paste)) if data.stated else (inspect, (direct, paste))


def scalar_strategies(
    script: str, function: str, check: str, call: str, large: bool
) -> tuple[Strategy, tuple[Strategy, ...]]:
    """One script, or define a function, print it on a small known case, then call it (for large inputs)."""
    one = Strategy("one_call", (python(script),))
    staged = Strategy("define_then_call", (python(f"{function}\nprint({check})"), python(f"print({call})")))
    return (staged, (one,)) if large else (one, (staged,))
