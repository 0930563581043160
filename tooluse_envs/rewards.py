"""Episode rewards: pure functions of (episode record, teacher reference) -> RewardResult.

Definitions follow MENTOR (arXiv 2510.18383, the authors' public code) and ToolRL (arXiv 2504.13958);
see shared/MENTOR.md. Notation: c = the answer is correct; m = the student called at least one of the
task's tools and the *set* of tool names it called equals the teacher's (order, counts and arguments
ignored; unknown names are left out of the set); h = the student called no tool name outside the task's
tools. Where the teacher used no tool, m = 1 exactly when the student used none either.

Any callable with the signature ``(EpisodeRecord, Reference | None) -> RewardResult`` can be passed to
``gym.make(..., reward=fn)``; built-ins are looked up by name in ``REWARDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tooluse_envs.answers import parse_number
from tooluse_envs.episode import EpisodeRecord
from tooluse_envs.errors import ConfigError
from tooluse_envs.tasks import Reference

NO_ANSWER_REWARD = 0.1  # MENTOR's format floor: answered with EOS but without a usable \boxed{}


@dataclass(frozen=True)
class RewardResult:
    """A scalar reward and the parts it was built from (shown in ``info["reward_components"]``)."""

    value: float
    components: dict[str, float] = field(default_factory=dict)


RewardFn = Callable[[EpisodeRecord, "Reference | None"], RewardResult]


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


def _gated(episode: EpisodeRecord, components: dict[str, float], value: Callable[[], float]) -> RewardResult:
    """MENTOR's format gates: 0 when cut off without EOS, 0.1 without a boxed answer."""
    if not episode.ended_with_eos:
        return RewardResult(0.0, {**components, "gate": 0.0})
    if not episode.has_answer:
        return RewardResult(NO_ANSWER_REWARD, {**components, "gate": NO_ANSWER_REWARD})
    return RewardResult(round(value(), 10), components)


def _mentor_shape(episode: EpisodeRecord, m: float, with_h: bool = True) -> RewardResult:
    c = float(episode.correct)
    h = float(not episode.called_unknown_tool) if with_h else 0.0
    parts = {"c": c, "m": m, "h": h}
    return _gated(episode, parts, lambda: 0.7 * c + 0.3 * m * (c + 0.2 * (1 - c)) + 0.1 * h)


def outcome(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """1 if the task's checker accepts the outcome, else 0 (no format terms)."""
    c = float(episode.correct)
    return RewardResult(c, {"c": c})


def sparse(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """Sparse outcome RL: 0 without EOS, 0.1 without a boxed answer, 1 if correct, 0.1 if wrong."""
    c = float(episode.correct)
    return _gated(episode, {"c": c}, lambda: 1.0 if c else NO_ANSWER_REWARD)


def mentor(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """MENTOR: 0.7·c + 0.3·m·(c + 0.2·(1−c)) + 0.1·h, after the format gates. Max 1.1."""
    return _mentor_shape(episode, tool_set_match(episode, reference))


def mentor_partial(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """MENTOR with m = 1 when the tool-name sets overlap at all, and no h term. Max 1.0."""
    return _mentor_shape(episode, tool_set_overlap(episode, reference), with_h=False)


def mentor_f1(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """MENTOR with the F1 of the tool-name sets in place of m."""
    return _mentor_shape(episode, tool_set_f1(episode, reference))


def mentor_no_match(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """Ablation without the teacher term: 0.7·c + 0.1·h (format gates kept, h not gated by c)."""
    c, h = float(episode.correct), float(not episode.called_unknown_tool)
    return _gated(episode, {"c": c, "h": h}, lambda: 0.7 * c + 0.1 * h)


def strict(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """Strict trajectory matching: MENTOR's shape with m = exact equality of the call sequence."""
    return _mentor_shape(episode, tool_sequence_match(episode, reference))


def _jaccard(a: set[Any], b: set[Any]) -> float:
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def _toolrl_call_score(arguments: dict[str, Any] | None, expected: dict[str, Any]) -> float:
    arguments = arguments or {}
    names = _jaccard(set(arguments), set(expected))
    values = sum(k in arguments and _same_value(arguments[k], v) for k, v in expected.items())
    return names + values


def toolrl(episode: EpisodeRecord, reference: Reference | None) -> RewardResult:
    """ToolRL: R_format ∈ {0, 1} plus R_correct = 6·score/S_max − 3 ∈ [−3, 3].

    score = Jaccard of the call-name sets + Σ over matched calls (parameter-name Jaccard + number of
    exactly matching parameter values); S_max = 1 + Σ over teacher calls (1 + number of parameters).
    Calls are matched greedily in order, by name. Format = EOS, every tool-call block parsed, and an answer.
    """
    teacher = list(reference.tool_calls) if reference else []
    student = [c for c in episode.tool_calls if c.name is not None]
    r_format = float(episode.ended_with_eos and episode.all_calls_parsed and episode.has_answer)
    score = _jaccard({c.name for c in student}, {c.name for c in teacher})
    unused = list(student)
    for expected in teacher:
        match = next((c for c in unused if c.name == expected.name), None)
        if match is not None:
            unused.remove(match)
            score += _toolrl_call_score(match.arguments, expected.arguments)
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


def get_reward(reward: str | RewardFn) -> RewardFn:
    """A built-in reward by name, or the callable itself."""
    if callable(reward):
        return reward
    if reward not in REWARDS:
        raise ConfigError(f"unknown reward {reward!r}; choose one of {', '.join(REWARDS)} or pass a callable")
    return REWARDS[reward]
