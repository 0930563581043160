"""The rollout engine: multi-turn episodes over a batch of envs, token-in-token-out, with loss masks and logprobs.

Each conversation is a growing list of token ids: the prompt rendered once by the chat template, then
every sampled turn appended *as sampled* (never decoded and re-tokenised), then only the newly rendered
tool-response turn (the text the template adds after the assistant's ``<|im_end|>``). So the ids the
trainer scores are exactly the ids the policy saw and produced; ``loss_mask`` is 1 on sampled tokens and
0 on prompt and tool-response tokens. Generation is batched across the conversations still running.

Batched generation pads its rows together, so a trajectory's numerics depend on the batch it was
generated in. Trainers therefore cut each step's episodes into fixed ``RolloutChunk`` s, each one batch
with its own seed: the tokens depend on the chunking, never on which process plays a chunk, so
in-process and Ray collection give the same trajectories.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mentor_agents.policies.base import Policy, SamplingParams
from mentor_agents.seeding import derive_seed
from mentor_agents.tokenizer import encode, render


@dataclass
class Trajectory:
    """One finished episode as training data."""

    task_id: str
    token_ids: list[int]
    loss_mask: list[int]
    """1 where the token was sampled by the policy (gets gradient), 0 on prompt and tool tokens."""
    old_logprobs: list[float]
    """Sampling-time log-prob of each token (0 where ``loss_mask`` is 0)."""
    prompt_len: int
    reward: float = 0.0
    reward_components: dict[str, float] = field(default_factory=dict)
    episode: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def generated_tokens(self) -> int:
        return sum(self.loss_mask)


@dataclass
class _Running:
    """A conversation in flight: its env, tools and ids so far."""

    env: Any
    tools: list[dict[str, Any]]
    traj: Trajectory

    def extend(self, ids: list[int], trainable: bool, logprobs: list[float] | None = None) -> None:
        self.traj.token_ids += ids
        self.traj.loss_mask += [int(trainable)] * len(ids)
        self.traj.old_logprobs += logprobs if logprobs else [0.0] * len(ids)


def tool_turn_delta(tokenizer: Any, messages: list[dict], n_before: int, tools: list[dict] | None) -> str:
    """Text the template adds after the assistant turn at ``messages[n_before]``: the tool turns and
    the next generation prompt. Relies on the template being prefix-preserving (checked)."""
    eos = tokenizer.eos_token
    with_assistant = render(tokenizer, messages[: n_before + 1], tools, generation_prompt=False)
    cut = with_assistant.rindex(eos) + len(eos)
    full = render(tokenizer, messages, tools, generation_prompt=True)
    if not full.startswith(with_assistant[:cut]):
        raise ValueError("chat template is not prefix-preserving; token-in-token-out rollouts need it")
    return full[cut:]


def _start(
    env: Any, tokenizer: Any, options: dict[str, Any], seed: int | None, prompts: dict[str, list[int]]
) -> _Running:
    """Reset ``env`` and start its conversation. ``prompts`` caches the prompt ids by their messages and
    tools: a GRPO group's samples render and tokenise their shared prompt once (SmolLM2 on Calculator:
    ~9 ms a prompt, mostly tokenising its 1,200 tokens)."""
    _, info = env.reset(seed=seed, options=options)
    key = json.dumps([info["messages"], info["tools"]], sort_keys=True, default=str)
    if key not in prompts:
        prompts[key] = encode(tokenizer, render(tokenizer, info["messages"], info["tools"], generation_prompt=True))
    ids = list(prompts[key])
    traj = Trajectory(info["task_id"], [], [], [], prompt_len=len(ids), messages=list(info["messages"]))
    running = _Running(env, info["tools"], traj)
    running.extend(ids, trainable=False)
    return running


def _turn_seed(seed: int | None, turn: int) -> int | None:
    """Distinct for every (seed, turn) with turn < 1_000_003; callers give each step its own ``seed``."""
    return None if seed is None else (seed * 1_000_003 + turn) % 2**63


def _generate(policy: Policy, convs: list[_Running], sampling: SamplingParams) -> list[Any]:
    """Token ids to token-level policies; messages (and tools) to message-level ones (remote APIs)."""
    if getattr(policy, "accepts_token_ids", True):
        return policy.generate([c.traj.token_ids for c in convs], sampling)
    out: list[Any] = []
    for conv in convs:  # message policies get their tools per conversation
        out += policy.generate([conv.traj.messages], sampling, tools=conv.tools)  # type: ignore[call-arg]
    return out


def rollout(
    envs: list[Any],
    policy: Policy,
    tokenizer: Any,
    sampling: SamplingParams,
    task_ids: list[str] | None = None,
    seed: int | None = None,
) -> list[Trajectory]:
    """Play one episode in each env (``task_ids[i]`` if given) and return the trajectories in order.

    Turn ``t`` samples with its own seed derived from ``seed``, so a seeded rollout is reproducible.
    """
    options = [{"task_id": tid} for tid in task_ids] if task_ids is not None else [{} for _ in envs]
    if len(options) != len(envs):
        raise ValueError(f"{len(envs)} envs but {len(options)} task ids")
    prompts: dict[str, list[int]] = {}
    running = [
        _start(env, tokenizer, opts, None if seed is None else seed + i, prompts)
        for i, (env, opts) in enumerate(zip(envs, options, strict=True))
    ]
    active = list(range(len(running)))
    turn = 0
    while active:
        turn_sampling = SamplingParams(
            sampling.temperature, sampling.top_p, sampling.max_new_tokens, _turn_seed(seed, turn)
        )
        generations = _generate(policy, [running[i] for i in active], turn_sampling)
        still = []
        for i, gen in zip(active, generations, strict=True):
            conv = running[i]
            conv.extend(gen.token_ids, trainable=True, logprobs=gen.logprobs)
            n_before = len(conv.traj.messages)
            action = {"role": "assistant", "content": gen.text, "finish_reason": gen.finish_reason}
            _, reward, terminated, truncated, info = conv.env.step(action)
            conv.traj.messages = info["messages"]
            if terminated or truncated:
                conv.traj.reward = reward
                conv.traj.reward_components = info["reward_components"]
                conv.traj.episode = info["tool_episode"]
                continue
            delta = tool_turn_delta(tokenizer, info["messages"], n_before, conv.tools)
            conv.extend(encode(tokenizer, delta), trainable=False)
            still.append(i)
        active = still
        turn += 1
    return [conv.traj for conv in running]


@dataclass(frozen=True)
class RolloutChunk:
    """Episodes generated together as one batch under one seed: the unit rollouts reproduce in."""

    index: int
    task_ids: tuple[str, ...]
    seed: int | None


def split_into_chunks(task_ids: list[str], chunks: int, seed: int | None) -> list[RolloutChunk]:
    """``chunks`` contiguous chunks of near-equal size (the first ones one longer), seeded from ``seed``."""
    if not 1 <= chunks <= len(task_ids):
        raise ValueError(f"cannot split {len(task_ids)} episodes into {chunks} chunks")
    size, extra = divmod(len(task_ids), chunks)
    out, start = [], 0
    for i in range(chunks):
        end = start + size + (i < extra)
        chunk_seed = None if seed is None else derive_seed(seed, "rollout-chunk", i)
        out.append(RolloutChunk(i, tuple(task_ids[start:end]), chunk_seed))
        start = end
    return out


def play_chunks(
    envs: list[Any], policy: Policy, tokenizer: Any, sampling: SamplingParams, chunks: list[RolloutChunk]
) -> list[Trajectory]:
    """Every chunk in turn on the first envs of ``envs``: the in-process twin of Ray collection."""
    trajs: list[Trajectory] = []
    for chunk in chunks:
        if len(chunk.task_ids) > len(envs):
            raise ValueError(f"chunk of {len(chunk.task_ids)} episodes but only {len(envs)} envs")
        trajs += rollout(envs[: len(chunk.task_ids)], policy, tokenizer, sampling, list(chunk.task_ids), chunk.seed)
    return trajs


def make_envs(env_id: str, n: int, **kwargs: Any) -> list[Any]:
    """``n`` independent envs of one id (tool-use envs are cheap: tasks are cached per process)."""
    import gymnasium as gym

    import tooluse_envs

    gym.register_envs(tooluse_envs)
    return [gym.make(env_id, **kwargs) for _ in range(n)]
