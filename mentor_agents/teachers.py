"""Teachers: where the trajectories a student is distilled from come from.

A teacher yields ``Conversation``s (chat messages + tool schemas), tokenizer-independent, so one
teacher serves any student. ``OracleTeacher`` replays the tasks' references in the env (real tool
responses); ``PolicyTeacher`` runs any policy and keeps only outcome-correct episodes that used a
tool (as MENTOR filters its teacher), caching them to disk as JSONL.

``episode_reference`` and ``select_reference`` turn a model teacher's sampled episodes into a task's
``Reference`` (``mentor teach``): the calls that ran, grouped by turn, and the answer, chosen among the
verified samples by a documented rule, with the other verified tool sets kept as alternatives.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mentor_agents.policies.base import Policy, SamplingParams
from mentor_agents.rollout import make_envs, rollout
from mentor_agents.tokenizer import encode, render
from tooluse_envs.oracle import reference_actions
from tooluse_envs.tasks import Reference, ReferenceCall


@dataclass
class Conversation:
    """One teacher trajectory."""

    task_id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]


def conversation_ids(tokenizer: Any, messages: list[dict], tools: list[dict] | None) -> tuple[list[int], list[int]]:
    """(token ids, loss mask) of a conversation, built the way rollouts build it: each assistant turn
    tokenised on its own (mask 1, its ``<|im_end|>`` included), everything else mask 0."""
    ids: list[int] = []
    mask: list[int] = []
    eos = tokenizer.eos_token
    done = ""
    for k, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = render(tokenizer, messages[:k], tools, generation_prompt=True)
        if not prefix.startswith(done):
            raise ValueError("chat template is not prefix-preserving")
        context = encode(tokenizer, prefix[len(done) :])
        full = render(tokenizer, messages[: k + 1], tools, generation_prompt=False)
        end = full.rindex(eos) + len(eos)
        turn = encode(tokenizer, full[len(prefix) : end])
        ids += context + turn
        mask += [0] * len(context) + [1] * len(turn)
        done = full[:end]
    return ids, mask


class OracleTeacher:
    """The tasks' reference trajectories, played in the env so tool responses are real."""

    def __init__(
        self, env_id: str = "tooluse/Calculator-v0", split: str = "train", tasks_file: str | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"tasks_file": tasks_file} if tasks_file else {}
        (self.env,) = make_envs(env_id, 1, split=split, **kwargs)

    def conversations(self, task_ids: list[str] | None = None) -> list[Conversation]:
        env = self.env.unwrapped
        out = []
        for task_id in task_ids or [t.id for t in env.tasks]:
            _, info = self.env.reset(options={"task_id": task_id})
            for action in reference_actions(env.task.reference):
                _, _, terminated, truncated, end = self.env.step(action)
                if terminated or truncated:
                    break
            out.append(Conversation(task_id, end["messages"], info["tools"]))
        return out


class PolicyTeacher:
    """Any policy as a teacher: keeps correct episodes with at least one tool call; cached as JSONL."""

    def __init__(
        self,
        policy: Policy,
        tokenizer: Any,
        cache_path: str | Path,
        env_id: str = "tooluse/Calculator-v0",
        split: str = "train",
        sampling: SamplingParams | None = None,
        batch_size: int = 16,
        max_turns: int = 5,
    ) -> None:
        self.policy, self.tokenizer = policy, tokenizer
        self.cache_path = Path(cache_path)
        self.env_id, self.split = env_id, split
        self.sampling = sampling or SamplingParams(temperature=0.0, max_new_tokens=256)
        self.batch_size, self.max_turns = batch_size, max_turns
        self.kept_fraction: float | None = None

    def conversations(self, task_ids: list[str] | None = None) -> list[Conversation]:
        """Load the cache if present, else run the policy over the tasks and write it."""
        if self.cache_path.is_file():
            rows = [json.loads(line) for line in self.cache_path.read_text().splitlines() if line.strip()]
            meta, rows = rows[0], rows[1:]
            self.kept_fraction = meta["kept_fraction"]
            return [Conversation(**row) for row in rows]
        envs = make_envs(self.env_id, self.batch_size, split=self.split, max_turns=self.max_turns)
        ids = task_ids or [t.id for t in envs[0].unwrapped.tasks]
        kept: list[Conversation] = []
        for start in range(0, len(ids), self.batch_size):
            chunk = ids[start : start + self.batch_size]
            trajs = rollout(envs[: len(chunk)], self.policy, self.tokenizer, self.sampling, chunk, seed=start)
            for traj in trajs:
                if traj.episode.get("success") and traj.episode.get("tool_calls"):
                    tools = envs[0].unwrapped._tool_schemas(envs[0].unwrapped._by_id[traj.task_id])
                    kept.append(Conversation(traj.task_id, traj.messages, tools))
        self.kept_fraction = len(kept) / max(1, len(ids))
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with self.cache_path.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps({"kept_fraction": self.kept_fraction, "tasks": len(ids)}) + "\n")
            for conv in kept:
                fh.write(json.dumps(asdict(conv), ensure_ascii=False) + "\n")
        return kept


SELECTIONS = ("first-correct", "majority")


def strategy_name(reference: Reference) -> str:
    """A sampled trajectory's strategy, named by the set of tools it used (what the MENTOR reward compares)."""
    return "+".join(sorted(reference.tool_names)) or "no_tool"


def episode_reference(episode: dict[str, Any], single_turn: bool) -> Reference:
    """The reference an episode summary (``info["tool_episode"]``) stands for: the calls that ran, grouped by
    the turn they were made in, and the answer.

    Calls the env refused (unknown tool, bad arguments) never ran, so leaving them out changes no tool
    state; replaying the reference therefore reaches the same outcome in fewer, cleaner turns. A
    single-turn domain's answer is its calls, so its reference has no answer text (as BFCL's own).
    """
    ran = [c for c in episode["tool_calls"] if c["valid"]]
    calls = tuple(ReferenceCall(c["name"], dict(c["arguments"] or {})) for c in ran)
    turns = tuple(Counter(c["turn"] for c in ran).values())  # dicts keep the turns' order
    answer = None if single_turn else episode["answer"]
    reference = Reference(calls, answer, turns if calls else ())
    return replace(reference, strategy=strategy_name(reference))


def select_reference(samples: list[Reference | None], rule: str) -> tuple[int, Reference] | None:
    """The chosen sample's index and its reference (the others' tool sets as alternatives), or None.

    ``samples`` holds one entry per sample drawn, None for one not verified. ``first-correct`` takes
    the first verified sample. ``majority`` keeps the task only when more than half the samples are
    verified (the teacher solves it reliably, not by luck) and takes the first sample of the tool set
    most verified samples used (ties: the set seen first), i.e. the teacher's usual strategy.
    Each other tool set among the verified samples becomes one alternative (its first sample).
    """
    if rule not in SELECTIONS:
        raise ValueError(f"unknown selection {rule!r}; choose one of {', '.join(SELECTIONS)}")
    verified = [(i, ref) for i, ref in enumerate(samples) if ref is not None]
    if not verified or (rule == "majority" and 2 * len(verified) <= len(samples)):
        return None
    first_of: dict[str, tuple[int, Reference]] = {}
    for i, ref in verified:
        first_of.setdefault(strategy_name(ref), (i, ref))
    if rule == "first-correct":
        index, chosen = verified[0]
    else:
        counts = Counter(strategy_name(ref) for _, ref in verified)
        index, chosen = first_of[max(first_of, key=lambda name: counts[name])]  # max keeps the first of ties
    alternatives = tuple(ref for name, (_, ref) in first_of.items() if name != strategy_name(chosen))
    return index, replace(chosen, alternatives=alternatives)
