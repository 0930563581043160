"""Scripted policies: replay the teacher's reference (the oracle) or answer without tools.

They need no model, so they test the rollout engine end to end and give the ceiling (oracle) and the
floor (no tool) a trained student sits between. They read their context like a real policy does:
the question from the first user turn and the turn index from the number of assistant turns.
"""

from __future__ import annotations

from typing import Any, Literal

from mentor_agents.policies.base import FinishReason, Generation, Prompt, SamplingParams
from mentor_agents.tokenizer import encode
from tooluse_envs.oracle import no_tool_action, reference_actions
from tooluse_envs.tasks import Task

_USER = "<|im_start|>user\n"
_ASSISTANT = "<|im_start|>assistant\n"


class ScriptedPolicy:
    """Replays ``reference_actions`` of the task whose question is in the prompt (mode "oracle"), or
    answers at once with a guess (mode "no_tool")."""

    def __init__(self, tokenizer: Any, tasks: list[Task], mode: Literal["oracle", "no_tool"] = "oracle") -> None:
        if mode not in ("oracle", "no_tool"):
            raise ValueError(f"unknown mode {mode!r}; use 'oracle' or 'no_tool'")
        self.tokenizer = tokenizer
        self.mode = mode
        self._by_question = {task.question: task for task in tasks}

    def _context(self, prompt: Prompt) -> tuple[str, int]:
        """(question, assistant turns already taken) from token ids or chat messages."""
        if prompt and isinstance(prompt[0], dict):
            users = [m["content"] for m in prompt if m["role"] == "user"]
            turns = sum(m["role"] == "assistant" for m in prompt)
            return users[0], turns
        text = self.tokenizer.decode(prompt, skip_special_tokens=False)
        question = text.split(_USER, 1)[1].split(self.tokenizer.eos_token, 1)[0]
        return question, text.count(_ASSISTANT) - 1

    def next_turn(self, prompt: Prompt) -> str:
        """The text of the next assistant turn."""
        if self.mode == "no_tool":
            return no_tool_action()
        question, turn = self._context(prompt)
        task = self._by_question.get(question)
        if task is None:
            return no_tool_action()
        actions = reference_actions(task.reference)
        return actions[min(turn, len(actions) - 1)]

    def generate(self, prompts: list[Prompt], sampling: SamplingParams) -> list[Generation]:
        """Deterministic turns; ``sampling`` is ignored except that ``max_new_tokens`` cuts the turn."""
        out = []
        for prompt in prompts:
            text = self.next_turn(prompt)
            ids = encode(self.tokenizer, text) + [self.tokenizer.eos_token_id]
            reason: FinishReason = "stop"
            if len(ids) > sampling.max_new_tokens:
                ids, reason = ids[: sampling.max_new_tokens], "length"
                text = self.tokenizer.decode(ids, skip_special_tokens=False)
            out.append(Generation(text, ids, [0.0] * len(ids), reason))
        return out
