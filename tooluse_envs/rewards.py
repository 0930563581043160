"""Episode rewards: pure functions of (episode record, teacher reference) -> RewardResult.

Definitions follow MENTOR (arXiv 2510.18383, the authors' public code) and ToolRL (arXiv 2504.13958,
its ``rlla`` reward code); docs/rewards.md states them in full. Notation: c = the answer is correct;
m = the student called at least one of the task's tools and the *set* of tool names it called equals
the teacher's (order, counts and arguments ignored; unknown names are left out of the set); h = the
student called no tool name outside the task's tools.

Edge cases follow the authors' code by default (``AUTHORS``): a teacher that used no tool gives a flat
0.1 to the teacher-guided rewards; an episode that ran out of turns ended without EOS, so 0.0. The
project's earlier choices are kept as named options (``RewardOptions``, ``make_reward``). docs/rewards.md
lists every edge case (cut-off turns, empty boxes, unknown or unparsable calls, empty tool sets) and the value.

Any callable with the signature ``(EpisodeRecord, Reference | None) -> RewardResult | float`` can be passed
to ``gym.make(..., reward=fn)``; a plain number becomes ``RewardResult(x, {"reward": x})``
(:func:`reward_result`). A reward may also be named by a string (:func:`resolve_reward`, the one resolver
the env, ``mentor train``, ``mentor eval``, ``mentor bench`` and Ray actors all use): a built-in name from
``REWARDS``, ``"pkg.module:function"``, or the name an installed package registers in the entry-point group
``tooluse_envs.rewards`` (``my_reward = "pkg.module:function"``). docs/add-a-method.md walks through it.
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from tooluse_envs.answers import parse_number
from tooluse_envs.episode import EpisodeRecord
from tooluse_envs.errors import ConfigError
from tooluse_envs.tasks import Reference

NO_ANSWER_REWARD = 0.1  # MENTOR's format floor: answered with EOS but without a usable \boxed{}
TEACHER_WITHOUT_TOOLS_REWARD = 0.1  # the authors' flat value when the teacher trajectory has no tool call


@dataclass(frozen=True)
class RewardOptions:
    """Where the project may depart from the authors' reward code; the defaults are the authors'.

    Attributes:
        teacher_without_tools: ``"flat"`` (authors): the teacher-guided rewards return 0.1 when the
            teacher called no tool. ``"match"``: score normally, with m = 1 exactly when the student
            called no tool either (useful for irrelevance tasks, where calling nothing is the skill).
        out_of_turns: ``"no_eos"`` (authors): an episode cut at ``max_turns`` never ended its sequence,
            so it scores 0.0 like any cut-off turn. ``"no_answer"``: it scores like a missing answer (0.1).
    """

    teacher_without_tools: Literal["flat", "match"] = "flat"
    out_of_turns: Literal["no_eos", "no_answer"] = "no_eos"

    def __post_init__(self) -> None:
        if self.teacher_without_tools not in ("flat", "match"):
            raise ConfigError(f"teacher_without_tools must be 'flat' or 'match', not {self.teacher_without_tools!r}")
        if self.out_of_turns not in ("no_eos", "no_answer"):
            raise ConfigError(f"out_of_turns must be 'no_eos' or 'no_answer', not {self.out_of_turns!r}")


AUTHORS = RewardOptions()


@dataclass(frozen=True)
class RewardResult:
    """A scalar reward and the parts it was built from (shown in ``info["reward_components"]``)."""

    value: float
    components: dict[str, float] = field(default_factory=dict)


RewardFn = Callable[[EpisodeRecord, "Reference | None"], RewardResult]

FLOAT_COMPONENT = "reward"
"""The one component of a reward that returned a plain number: ``RewardResult(x, {"reward": x})``."""

ENTRY_POINT_GROUP = "tooluse_envs.rewards"
"""Entry-point group where installed packages register rewards: ``my_reward = "pkg.module:function"``."""


class RewardError(ConfigError):
    """A reward returned something that is not a finite number or a ``RewardResult`` (or could not be loaded)."""


def reward_label(fn: Any) -> str:
    """A readable name of a reward callable for messages: ``module:qualname`` (a partial: its function's)."""
    if isinstance(fn, CheckedReward):
        return fn.name
    base = fn.func if isinstance(fn, functools.partial) else fn
    name = getattr(base, "__qualname__", None) or getattr(base, "__name__", None) or type(base).__name__
    module = getattr(base, "__module__", None)
    return f"{module}:{name}" if module else str(name)


def reward_result(value: Any, fn: Any) -> RewardResult:
    """``value`` as a ``RewardResult``: a ``RewardResult`` with a finite value is kept, a finite real number
    (float, int, bool, numpy scalar) ``x`` becomes ``RewardResult(float(x), {"reward": float(x)})``; anything
    else (NaN, ±inf, a string, None, a tensor, ...) raises :class:`RewardError` naming the reward ``fn``."""
    if isinstance(value, RewardResult):
        number: Any = value.value
        where = "a RewardResult whose value is "
    else:
        number, where = value, ""
    if not isinstance(number, numbers.Real) or not math.isfinite(float(number)):
        shown = repr(number) if len(repr(number)) <= 80 else repr(number)[:77] + "..."
        raise RewardError(
            f"reward {reward_label(fn)} returned {where}{shown} ({type(number).__name__}); a reward returns a "
            "finite float (or int/bool) or a RewardResult with a finite value"
        )
    if isinstance(value, RewardResult):
        return value if type(value.value) is float else RewardResult(float(number), value.components)
    return RewardResult(float(number), {FLOAT_COMPONENT: float(number)})


@dataclass(frozen=True)
class CheckedReward:
    """A reward that is not built in, wrapped so that it always gives a ``RewardResult`` (:func:`reward_result`).

    ``name`` is how messages name it (its spec, or ``module:qualname`` for a callable). Picklable when ``fn``
    is, so envs holding one can go to Ray actors.
    """

    fn: Callable[..., Any]
    name: str

    def __call__(self, episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
        return reward_result(self.fn(episode, reference), self)


def _teacher_names(reference: Reference | None) -> set[str]:
    return reference.tool_names if reference else set()


def tool_set_match(episode: EpisodeRecord, reference: Reference | None) -> float:
    """MENTOR's m: ≥1 known tool called and the same name set as the teacher (1 if both used none)."""
    student, teacher = episode.known_tool_names, _teacher_names(reference)
    if not teacher:
        return float(not episode.tool_calls)
    return float(bool(student) and student == teacher)


def tool_set_overlap(episode: EpisodeRecord, reference: Reference | None) -> float:
    """m of ``mentor_partial``: the two name sets share at least one tool."""
    student, teacher = episode.known_tool_names, _teacher_names(reference)
    if not teacher:
        return float(not episode.tool_calls)
    return float(bool(student & teacher))


def tool_set_f1(episode: EpisodeRecord, reference: Reference | None) -> float:
    """F1 between the student's and the teacher's tool-name sets (1 when both are empty)."""
    student, teacher = episode.known_tool_names, _teacher_names(reference)
    if not student and not teacher:
        return float(not episode.tool_calls)
    common = len(student & teacher)
    if common == 0:
        return 0.0
    precision, recall = common / len(student), common / len(teacher)
    return 2 * precision * recall / (precision + recall)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    na, nb = parse_number(a), parse_number(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and na is not None and nb is not None:
        return abs(na - nb) <= 1e-9 * max(1.0, abs(na), abs(nb))
    return a == b


def tool_sequence_match(episode: EpisodeRecord, reference: Reference | None) -> float:
    """Strict trajectory matching: the valid calls equal the teacher's calls in order, names and arguments."""
    teacher = list(reference.tool_calls) if reference else []
    student = [c for c in episode.tool_calls if c.valid]
    if len(student) != len(teacher) or len(episode.tool_calls) != len(student):
        return 0.0
    pairs = zip(student, teacher, strict=True)
    return float(all(s.name == t.name and _same_value(s.arguments, t.arguments) for s, t in pairs))


def ended_with_eos(episode: EpisodeRecord, options: RewardOptions = AUTHORS) -> bool:
    """Whether the episode's sequence ended with EOS (running out of turns does not, by default)."""
    if episode.truncated and options.out_of_turns == "no_eos":
        return False
    return episode.ended_with_eos


def _gated(
    episode: EpisodeRecord,
    components: dict[str, float],
    value: Callable[[], float],
    options: RewardOptions = AUTHORS,
) -> RewardResult:
    """MENTOR's format gates: 0 when cut off without EOS, 0.1 without a boxed answer."""
    if not ended_with_eos(episode, options):
        return RewardResult(0.0, {**components, "gate": 0.0})
    if not episode.has_answer:
        return RewardResult(NO_ANSWER_REWARD, {**components, "gate": NO_ANSWER_REWARD})
    return RewardResult(round(value(), 10), components)


def _mentor_shape(
    episode: EpisodeRecord,
    reference: Reference | None,
    m: Callable[[EpisodeRecord, Reference | None], float],
    options: RewardOptions,
    with_h: bool = True,
) -> RewardResult:
    if not _teacher_names(reference) and options.teacher_without_tools == "flat":
        return RewardResult(TEACHER_WITHOUT_TOOLS_REWARD, {"teacher_without_tools": TEACHER_WITHOUT_TOOLS_REWARD})
    c = float(episode.correct)
    h = float(not episode.called_unknown_tool) if with_h else 0.0
    parts = {"c": c, "m": m(episode, reference), "h": h}
    formula = lambda: 0.7 * c + 0.3 * parts["m"] * (c + 0.2 * (1 - c)) + 0.1 * h  # noqa: E731
    return _gated(episode, parts, formula, options)


def outcome(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """1 if the task's checker accepts the outcome, else 0 (no format terms)."""
    c = float(episode.correct)
    return RewardResult(c, {"c": c})


def sparse(episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS) -> RewardResult:
    """Sparse outcome RL: 0 without EOS, 0.1 without a boxed answer, 1 if correct, 0.1 if wrong."""
    c = float(episode.correct)
    return _gated(episode, {"c": c}, lambda: 1.0 if c else NO_ANSWER_REWARD, options)


def mentor(episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS) -> RewardResult:
    """MENTOR: 0.7·c + 0.3·m·(c + 0.2·(1−c)) + 0.1·h, after the format gates. Max 1.1."""
    return _mentor_shape(episode, reference, tool_set_match, options)


def mentor_partial(
    episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS
) -> RewardResult:
    """MENTOR with m = 1 when the tool-name sets overlap at all, and no h term. Max 1.0."""
    return _mentor_shape(episode, reference, tool_set_overlap, options, with_h=False)


def mentor_f1(episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS) -> RewardResult:
    """MENTOR with the F1 of the tool-name sets in place of m."""
    return _mentor_shape(episode, reference, tool_set_f1, options)


def mentor_no_match(
    episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS
) -> RewardResult:
    """Ablation without the teacher term: 0.7·c + 0.1·h (format gates kept, h not gated by c)."""
    c, h = float(episode.correct), float(not episode.called_unknown_tool)
    return _gated(episode, {"c": c, "h": h}, lambda: 0.7 * c + 0.1 * h, options)


def strict(episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS) -> RewardResult:
    """Strict trajectory matching: MENTOR's shape with m = exact equality of the call sequence."""
    return _mentor_shape(episode, reference, tool_sequence_match, options)


def multiset_jaccard(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """|a ∩ b| / |a ∪ b| counting repeats: calling a tool 17 times where it was needed once costs credit.

    Equal sequences score 1 (two empty ones too); one empty side scores 0.
    """
    if list(a) == list(b):
        return 1.0
    if not a or not b:
        return 0.0
    common = sum((Counter(a) & Counter(b)).values())
    return common / (len(a) + len(b) - common)


def _toolrl_call_score(arguments: dict[str, Any], expected: dict[str, Any]) -> float:
    names = multiset_jaccard(list(expected), list(arguments))
    return names + sum(1.0 for k, v in expected.items() if k in arguments and arguments[k] == v)


def toolrl(episode: EpisodeRecord, reference: Reference | None, options: RewardOptions = AUTHORS) -> RewardResult:
    """ToolRL: R_format ∈ {0, 1} plus R_correct ∈ [−3, 3], as ToolRL's own reward code computes it.

    R_correct = 0 when the teacher made no call; 3 when the calls equal the teacher's exactly; else
    6·score/S_max − 3 with score = multiset Jaccard of the call names + Σ over teacher calls of the best
    still-unpaired student call of that name (parameter-name multiset Jaccard + number of parameters
    with exactly the teacher's value; only a pairing scoring above 0 counts) and S_max = 1 + Σ over
    teacher calls (1 + number of parameters). Format = EOS, every tool-call block parsed, and an answer.
    """
    teacher = list(reference.tool_calls) if reference else []
    student = [c for c in episode.tool_calls if c.name is not None]
    r_format = float(ended_with_eos(episode, options) and episode.all_calls_parsed and episode.has_answer)
    pairs = [(c.name, c.arguments or {}) for c in student]
    if not teacher:
        r_correct = 0.0
    elif pairs == [(c.name, c.arguments) for c in teacher]:
        r_correct = 3.0
    else:
        score = multiset_jaccard([c.name for c in teacher], [name for name, _ in pairs])
        paired: set[int] = set()
        for expected in teacher:
            best, best_index = 0.0, -1
            for i, (name, arguments) in enumerate(pairs):
                if i in paired or name != expected.name:
                    continue
                candidate = _toolrl_call_score(arguments, expected.arguments)
                if candidate > best:
                    best, best_index = candidate, i
            if best_index >= 0:
                paired.add(best_index)
                score += best
        s_max = 1 + sum(1 + len(c.arguments) for c in teacher)
        r_correct = 6 * score / s_max - 3
    return RewardResult(round(r_format + r_correct, 10), {"format": r_format, "correct": r_correct})


REWARDS: dict[str, RewardFn] = {
    "outcome": outcome,
    "sparse": sparse,
    "mentor": mentor,
    "mentor_partial": mentor_partial,
    "mentor_f1": mentor_f1,
    "mentor_no_match": mentor_no_match,
    "strict": strict,
    "toolrl": toolrl,
}


_PLUGIN_ROOTS: dict[str, None] = {}
"""sys.path directories plugin reward modules were imported from (ordered, no repeats): see :func:`plugin_roots`."""


def reward_plugins() -> dict[str, str]:
    """Installed rewards: entry-point name -> ``"pkg.module:function"`` (group ``tooluse_envs.rewards``)."""
    return {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def plugin_roots() -> list[str]:
    """The directories plugin reward modules were imported from, so that a local Ray cluster can put them
    on its workers' ``PYTHONPATH`` (a package on ``sys.path`` only, not installed, is found there too)."""
    return list(_PLUGIN_ROOTS)


def _note_root(module: Any) -> None:
    file = getattr(module, "__file__", None)
    if not file:
        return
    root = Path(file).resolve().parent
    for _ in range(module.__name__.count(".") + (Path(file).name == "__init__.py")):
        root = root.parent
    _PLUGIN_ROOTS.setdefault(str(root), None)


def _import_reward(spec: str, what: str) -> Callable[..., Any]:
    """The callable ``"pkg.module:attr"`` names (``attr`` may be dotted); ``what`` says where ``spec`` came
    from in messages. Any failure is one :class:`RewardError` line naming the spec and what failed."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr or ":" in attr:
        raise RewardError(f"{what}: {spec!r} is not module:function (e.g. mypkg.rewards:my_reward)")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        where = "is it installed, or its directory on PYTHONPATH?"
        raise RewardError(f"{what}: cannot import {module_name!r} ({exc}); {where}") from exc
    except Exception as exc:  # the module's own code failed: name it, in one line
        raise RewardError(f"{what}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise RewardError(f"{what}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise RewardError(f"{what}: {spec} is a {type(obj).__name__}, not a function (episode, reference) -> reward")
    _note_root(module)
    return obj


def resolve_reward(spec: str | RewardFn) -> tuple[str, RewardFn]:
    """``(name, fn)`` for a reward spec: the one place reward names are turned into functions.

    * a built-in name (``REWARDS``): ``(name, REWARDS[name])``;
    * ``"pkg.module:function"``: imported; ``(spec, fn)``;
    * an installed plugin's name (entry-point group ``tooluse_envs.rewards``): ``(its "pkg.module:function",
      fn)``, so what is saved (a run's ``config.json``) records the code itself, not a name;
    * a callable: ``(module:qualname, fn)``.

    Built-ins first, so a plugin cannot shadow one. Every function that is not built in is wrapped in
    :class:`CheckedReward` (a plain number becomes a ``RewardResult``; anything else raises naming it). An
    unknown name, or a plugin that cannot be imported, raises :class:`RewardError` (a ``ConfigError``) in
    one line naming what failed.
    """
    if callable(spec):
        built_in = spec in REWARDS.values() or (isinstance(spec, functools.partial) and spec.func in REWARDS.values())
        if built_in or isinstance(spec, CheckedReward):
            return reward_label(spec), spec
        label = reward_label(spec)
        return label, CheckedReward(spec, label)
    if not isinstance(spec, str):
        raise RewardError(f"a reward is a name, 'module:function' or a callable, not {type(spec).__name__}")
    if spec in REWARDS:
        return spec, REWARDS[spec]
    if ":" in spec:
        return spec, CheckedReward(_import_reward(spec, f"reward {spec!r}"), spec)
    plugins = reward_plugins()
    if spec in plugins:
        path = plugins[spec]
        fn = _import_reward(path, f"reward {spec!r} (entry point {ENTRY_POINT_GROUP}: {spec} = {path!r})")
        return path, CheckedReward(fn, f"{spec} ({path})")
    installed = f", an installed one ({', '.join(sorted(plugins))})" if plugins else ""
    raise RewardError(
        f"unknown reward {spec!r}; choose one of {', '.join(REWARDS)}{installed}, 'pkg.module:function', "
        "or pass a callable"
    )


def get_reward(reward: str | RewardFn) -> RewardFn:
    """The reward function a spec names (:func:`resolve_reward`); a built-in function is returned as is."""
    return resolve_reward(reward)[1]


def make_reward(name: str, **options: Any) -> RewardFn:
    """A built-in reward with ``RewardOptions`` other than the authors', e.g.
    ``make_reward("mentor", teacher_without_tools="match")`` for ``gym.make(..., reward=...)``."""
    # Every built-in reward but ``outcome`` takes ``options=``, which the two-argument ``RewardFn`` type hides.
    if name not in REWARDS:
        raise ConfigError(f"unknown reward {name!r}: make_reward takes a built-in one ({', '.join(REWARDS)})")
    base: Callable[..., RewardResult] = REWARDS[name]
    if base is outcome:
        raise ConfigError("the outcome reward takes no options")
    try:
        reward_options = RewardOptions(**options)
    except TypeError as exc:
        fields = "teacher_without_tools, out_of_turns"
        raise ConfigError(f"unknown reward option: {exc}; RewardOptions has {fields}") from None
    return functools.partial(base, options=reward_options)
