"""What happened in an episode: the record rewards and metrics are computed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallRecord:
    """One call the policy made.

    ``known`` means the name is one of the task's tools; ``valid`` means it is known, its arguments
    passed the tool's schema (so it ran). ``error`` holds the parse, schema or runtime error.
    """

    name: str | None
    arguments: dict[str, Any] | None
    known: bool
    valid: bool
    error: str | None = None
    turn: int = 0

    def to_dict(self) -> dict[str, Any]:
        # by hand rather than dataclasses.asdict, which deep-copies and shows up in step profiles
        return {
            "name": self.name,
            "arguments": self.arguments,
            "known": self.known,
            "valid": self.valid,
            "error": self.error,
            "turn": self.turn,
        }


@dataclass
class Outcome:
    """The checker's verdict. ``score`` is a graded view (token F1, partial state) shown alongside."""

    correct: bool
    score: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpisodeRecord:
    """Everything rewards need about one episode, and what ``info["tool_episode"]`` shows.

    Attributes:
        task_id: The task played.
        tool_calls: Every call in order, valid or not.
        turns: Assistant turns taken.
        answer: The content of the final ``\\boxed{}``, or None.
        ended_with_eos: False when the final turn was cut off (``finish_reason="length"``).
        all_calls_parsed: False when some tool-call block of any turn could not be parsed.
        outcome: The checker's verdict (None until the episode ends).
        truncated: The episode hit ``max_turns`` before a final answer.
    """

    task_id: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    turns: int = 0
    answer: str | None = None
    ended_with_eos: bool = True
    all_calls_parsed: bool = True
    outcome: Outcome | None = None
    truncated: bool = False

    @property
    def correct(self) -> bool:
        return bool(self.outcome and self.outcome.correct)

    @property
    def has_answer(self) -> bool:
        return self.answer is not None

    @property
    def known_tool_names(self) -> set[str]:
        """Names of the task's tools the policy called (unknown names excluded, arguments ignored)."""
        return {c.name for c in self.tool_calls if c.known and c.name}

    @property
    def called_unknown_tool(self) -> bool:
        return any(c.name is not None and not c.known for c in self.tool_calls)

    @property
    def invalid_calls(self) -> int:
        return sum(not c.valid for c in self.tool_calls)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary for ``info["tool_episode"]``."""
        return {
            "task_id": self.task_id,
            "success": self.correct,
            "answer": self.answer,
            "score": self.outcome.score if self.outcome else 0.0,
            "turns": self.turns,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "invalid_calls": self.invalid_calls,
            "ended_with_eos": self.ended_with_eos,
            "truncated": self.truncated,
            "check": self.outcome.details if self.outcome else {},
        }
