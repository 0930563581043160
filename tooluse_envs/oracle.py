"""Scripted agents every env can be played with: the teacher's reference, and a no-tool baseline.

They need no model, so they check data and checkers (the oracle must always succeed) and give the
floor a trained student has to beat (answering without tools).
"""

from __future__ import annotations

from typing import Any

from tooluse_envs.parsing import render_turn
from tooluse_envs.tasks import Reference


def reference_actions(reference: Reference) -> list[str]:
    """The teacher's trajectory as assistant turns: its calls grouped into turns, then the boxed answer."""
    turns = [render_turn("", [(c.name, c.arguments) for c in group]) for group in reference.call_groups()]
    final = reference.answer if reference.answer is not None else ""
    turns.append(f"The answer is \\boxed{{{final}}}." if final else "I will not call any tool for this request.")
    return turns


def no_tool_action() -> str:
    """A baseline that answers at once without calling a tool (and so, usually, without an answer)."""
    return "I cannot compute this without tools, so my best guess is \\boxed{0}."


def play_reference(env: Any, task_id: str, reference: Reference | None = None) -> tuple[float, dict]:
    """Reset ``env`` to ``task_id``, replay a trajectory, return the final reward and info.

    ``reference`` defaults to the task's teacher reference; pass one of its ``alternatives`` to
    check that another strategy is correct too.
    """
    _, info = env.reset(options={"task_id": task_id})
    for action in reference_actions(reference or env.unwrapped.task.reference):
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward, info
    raise RuntimeError(f"{task_id}: the reference did not end the episode")
