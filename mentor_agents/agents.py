"""Agents for evaluation, built from an ``--agent`` spec string.

``oracle`` (replays the teacher's reference), ``no-tool`` (answers at once) and ``random`` (random
tools with schema-shaped random arguments, then a guess) drive the env directly: they need no model,
tokenizer or torch, so the baselines of the leaderboard cost milliseconds per episode. ``sb3:<model.zip>``
plays a saved Stable-Baselines3 PPO / MaskablePPO policy through ``tooluse_envs.integrations.sb3``'s
``ToolChoiceEnv`` (tool choices with rule-filled arguments; deterministic actions). ``tiny``,
``smollm2-135m``, ``hf:<path or run dir>`` and ``openai:<base_url>#<model>`` wrap a ``Policy`` and play
through ``mentor_agents.rollout.rollout``, exactly as training does.

An agent turns a list of :class:`EpisodeRequest` into per-episode rows (plain dicts, the lines of the
episodes JSONL). Every request carries its own seed, so a row depends only on its request (and, for
model agents, on the fixed batch it was played in), never on which process or worker ran it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tooluse_envs.oracle import no_tool_action, reference_actions
from tooluse_envs.parsing import render_turn

SCRIPTED = ("oracle", "no-tool", "random")
MODELS = ("tiny", "smollm2-135m")
OPENAI_KEY_VAR = "OPENAI_API_KEY"
"""The variable ``openai:`` agents read their API key from (``OpenAIPolicy``'s default)."""
AGENT_HELP = (
    "oracle | no-tool | random | tiny | smollm2-135m | hf:<path or run dir> | openai:<base_url>#<model> "
    "| sb3:<model.zip>"
)


@dataclass(frozen=True)
class AgentSpec:
    """A parsed ``--agent`` value. ``target`` is the path (hf, sb3) or base URL (openai); ``model`` the
    served model name (openai)."""

    kind: str
    target: str = ""
    model: str = ""

    @classmethod
    def parse(cls, text: str) -> AgentSpec:
        if text in SCRIPTED or text in MODELS:
            return cls(text)
        if text.startswith("hf:") and len(text) > 3:
            return cls("hf", text[3:])
        if text.startswith("sb3:") and len(text) > 4:
            return cls("sb3", text[4:])
        if text.startswith("openai:"):
            base, sep, model = text[len("openai:") :].partition("#")
            if not sep or not base or not model:
                raise ValueError(f"--agent {text!r}: expected openai:<base_url>#<model>")
            return cls("openai", base, model)
        raise ValueError(f"unknown agent {text!r}; choose one of {AGENT_HELP}")

    @property
    def label(self) -> str:
        if self.kind in ("hf", "sb3"):
            return f"{self.kind}:{self.target}"
        if self.kind == "openai":
            return f"openai:{self.model}"
        return self.kind

    @property
    def scripted(self) -> bool:
        return self.kind in SCRIPTED


@dataclass(frozen=True)
class AgentOptions:
    """Sampling and batching for model agents (scripted agents ignore them)."""

    temperature: float = 0.0
    """0 is greedy; use > 0 with ``--samples k`` > 1 so samples differ."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_new_tokens: int = 256
    """Longest assistant turn."""
    batch_size: int = 8
    """Episodes played together in one rollout (a model agent's unit of work)."""
    prefill: str = "batched"
    """How a HF model prefills a turn's prompts (``HFPolicy``'s ``prefill``): ``batched``, ``apart`` or
    ``auto``. Other agents ignore it."""


@dataclass(frozen=True)
class EpisodeRequest:
    """One episode to play: which task, which sample of it, and the seed that makes it reproducible."""

    env_id: str
    split: str
    task_id: str
    sample: int
    seed: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.env_id, self.split, self.task_id, self.sample)


def episode_row(
    request: EpisodeRequest, episode: dict, reward: float, components: dict, tokens: int, wall: float
) -> dict[str, Any]:
    """The JSONL row of a finished episode (tool-call arguments left out: names and validity suffice)."""
    calls = [{k: c[k] for k in ("name", "known", "valid", "turn")} for c in episode["tool_calls"]]
    return {
        "env_id": request.env_id,
        "split": request.split,
        "task_id": request.task_id,
        "sample": request.sample,
        "seed": request.seed,
        "success": bool(episode["success"]),
        "reward": float(reward),
        "reward_components": components,
        "answer": episode["answer"]
        if isinstance(episode["answer"], str) or episode["answer"] is None
        else str(episode["answer"]),
        "tool_calls": calls,
        "invalid_calls": int(episode["invalid_calls"]),
        "turns": int(episode["turns"]),
        "truncated": bool(episode["truncated"]),
        "generated_tokens": int(tokens),
        "wall_s": wall,
    }


class ScriptedAgent:
    """oracle / no-tool / random, one episode at a time on the first env given."""

    independent = True
    batch_size = 16

    def __init__(self, kind: str) -> None:
        if kind not in SCRIPTED:
            raise ValueError(f"not a scripted agent: {kind!r}")
        self.kind = kind

    def play(self, envs: list[Any], requests: list[EpisodeRequest]) -> Iterator[dict]:
        env = envs[0]
        for request in requests:
            start = time.perf_counter()
            _, info = env.reset(seed=request.seed, options={"task_id": request.task_id})
            rng = np.random.default_rng(request.seed)
            n_calls = int(rng.integers(1, 4))  # random agent: 1-3 tool turns before its guess
            obs, turn = "", 0
            while True:
                action = self._action(env.unwrapped.task, info, obs, turn, n_calls, rng)
                obs, reward, terminated, truncated, step_info = env.step(action)
                turn += 1
                if terminated or truncated:
                    break
            wall = time.perf_counter() - start
            yield episode_row(request, step_info["tool_episode"], reward, step_info["reward_components"], 0, wall)

    def _action(self, task: Any, info: dict, obs: str, turn: int, n_calls: int, rng: np.random.Generator) -> str:
        if self.kind == "oracle":
            actions = reference_actions(task.reference)
            return actions[min(turn, len(actions) - 1)]
        if self.kind == "no-tool":
            return no_tool_action()
        return random_action(info["tools"], obs, turn, n_calls, rng)


def random_action(tools: list[dict], obs: str, turn: int, n_calls: int, rng: np.random.Generator) -> str:
    """A random tool with schema-shaped arguments on the first ``n_calls`` turns, then a guess.

    The guess is the last number the tools returned (a plausible, uninformed answer), else a random
    integer. All randomness comes from the episode's own generator, so a seed replays the episode.
    """
    if tools and turn < n_calls:
        fn = tools[int(rng.integers(len(tools)))]["function"]
        args = random_value(fn.get("parameters", {"type": "object"}), rng)
        return render_turn("", [(fn["name"], args if isinstance(args, dict) else {})])
    numbers = re.findall(r"-?\d+(?:\.\d+)?", obs)
    guess = numbers[-1] if numbers else str(int(rng.integers(0, 100)))
    return f"My guess is \\boxed{{{guess}}}."


_WORDS = ("alpha", "paris", "42", "data", "report", "user", "2024", "blue", "search", "value")


def random_value(schema: dict[str, Any], rng: np.random.Generator, depth: int = 0) -> Any:
    """A random JSON value shaped like ``schema`` (types, enums, bounds, required keys), not
    necessarily valid: random agents should also make the mistakes a weak model makes."""
    if "enum" in schema and schema["enum"]:
        return schema["enum"][int(rng.integers(len(schema["enum"])))]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = kind[int(rng.integers(len(kind)))]
    if kind == "object" and depth < 3:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return {
            name: random_value(sub, rng, depth + 1)
            for name, sub in props.items()
            if name in required or rng.random() < 0.3
        }
    if kind == "array" and depth < 3:
        return [random_value(schema.get("items", {}), rng, depth + 1) for _ in range(int(rng.integers(1, 4)))]
    if kind == "integer":
        lo, hi = int(schema.get("minimum", -10)), int(schema.get("maximum", 100))
        return int(rng.integers(lo, max(lo, hi) + 1))
    if kind == "number":
        low, high = float(schema.get("minimum", -10)), float(schema.get("maximum", 100))
        return round(float(rng.uniform(low, max(low, high))), 2)
    if kind == "boolean":
        return bool(rng.random() < 0.5)
    if kind == "null":
        return None
    return _WORDS[int(rng.integers(len(_WORDS)))]


class ModelAgent:
    """A ``Policy`` played through the rollout engine, ``batch_size`` episodes per rollout.

    Batched generation pads prompts together, so an episode depends on its batch: requests are grouped
    into fixed batches by the evaluator (``independent = False``) and a batch is always replayed whole.
    A message-level policy (``openai:``) returns no token ids, so its generated tokens are the counts the
    server reports (``_UsageTally``) rather than the rollout's sampled ids.
    """

    independent = False

    def __init__(self, policy: Any, tokenizer: Any, options: AgentOptions) -> None:
        self.policy, self.tokenizer, self.options = policy, tokenizer, options
        self.batch_size = options.batch_size

    def play(self, envs: list[Any], requests: list[EpisodeRequest]) -> Iterator[dict]:
        from mentor_agents.policies.base import SamplingParams
        from mentor_agents.rollout import rollout

        o = self.options
        sampling = SamplingParams(o.temperature, o.top_p, o.max_new_tokens)
        played, policy, tallies = envs[: len(requests)], self.policy, None
        if not getattr(self.policy, "accepts_token_ids", True):
            policy = _UsageTally(self.policy)
            played = tallies = [policy.counting(env) for env in played]
        start = time.perf_counter()
        trajs = rollout(played, policy, self.tokenizer, sampling, [r.task_id for r in requests], requests[0].seed)
        wall = (time.perf_counter() - start) / len(requests)
        for i, (request, traj) in enumerate(zip(requests, trajs, strict=True)):
            tokens = traj.generated_tokens + (tallies[i].tokens if tallies else 0)
            yield episode_row(request, traj.episode, traj.reward, traj.reward_components, tokens, wall)


class _UsageTally:
    """Wraps a message-level policy and credits each turn's ``completion_tokens`` to the env it is played in.

    The rollout builds each env's action from its generation's text, so the count waits under that text
    until an env steps with it (two turns with the same text are the same completion, whichever env gets
    which). A turn the server sent no usage for counts 0, with one warning naming the server: a count is
    never invented from another tokenizer.
    """

    accepts_token_ids = False

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.pending: defaultdict[str, deque[int]] = defaultdict(deque)
        self.warned = False

    def generate(self, prompts: list[Any], sampling: Any, tools: list[dict] | None = None) -> list[Any]:
        generations = self.policy.generate(prompts, sampling, tools=tools)
        for gen in generations:
            self.pending[gen.text].append(self._count(gen))
        return generations

    def _count(self, gen: Any) -> int:
        count = getattr(gen, "completion_tokens", None)
        if count is not None:
            return int(count)
        if not self.warned:
            self.warned = True
            where = getattr(self.policy, "url", type(self.policy).__name__)
            warnings.warn(
                f"{where} sent no usage.completion_tokens: generated_tokens counts 0 for its turns",
                RuntimeWarning,
                stacklevel=2,
            )
        return 0

    def take(self, text: str) -> int:
        """The count of the completion whose text an env is stepping with (0 if none is waiting)."""
        waiting = self.pending.get(text)
        return waiting.popleft() if waiting else 0

    def counting(self, env: Any) -> _CountingEnv:
        return _CountingEnv(env, self)


class _CountingEnv:
    """An env that adds up the completion tokens of the turns stepped into it (reset and step pass through)."""

    def __init__(self, env: Any, tally: _UsageTally) -> None:
        self.env, self.tally, self.tokens = env, tally, 0

    def reset(self, **kwargs: Any) -> Any:
        self.tokens = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        if isinstance(action, dict):
            self.tokens += self.tally.take(str(action.get("content") or ""))
        return self.env.step(action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


class SB3Agent:
    """A saved Stable-Baselines3 policy (``sb3:<model.zip>``), one episode at a time on the first env given.

    Each env is wrapped in ``ToolChoiceEnv`` (its default tool vocabulary, the one training used) and
    the policy picks deterministic actions (masked to the task's tools for a MaskablePPO model), so an
    episode depends only on its request.
    """

    independent = True
    batch_size = 16

    def __init__(self, path: str) -> None:
        from tooluse_envs.integrations.sb3 import load_model

        self.path = path
        self.model = load_model(path)
        self._wrappers: dict[int, Any] = {}

    def _wrapper(self, env: Any) -> Any:
        from tooluse_envs.integrations.sb3 import ToolChoiceEnv

        wrapped: Any = self._wrappers.get(id(env))
        if wrapped is None or wrapped.env is not env:
            wrapped = ToolChoiceEnv(env)
            model_obs = getattr(self.model.observation_space, "shape", None)
            model_n = getattr(self.model.action_space, "n", None)
            if model_obs != wrapped.observation_space.shape or model_n != wrapped.action_space.n:
                raise ValueError(
                    f"sb3:{self.path} was trained on observations {model_obs} and {model_n} actions; "
                    f"ToolChoiceEnv on {wrapped.spec.id if wrapped.spec else 'this env'} gives "
                    f"{wrapped.observation_space.shape} and {wrapped.action_space.n} (another env or wrapper settings)"
                )
            self._wrappers[id(env)] = wrapped
        return wrapped

    def play(self, envs: list[Any], requests: list[EpisodeRequest]) -> Iterator[dict]:
        from tooluse_envs.integrations.sb3 import predict

        env = self._wrapper(envs[0])
        for request in requests:
            start = time.perf_counter()
            obs, _ = env.reset(seed=request.seed, options={"task_id": request.task_id})
            while True:
                obs, reward, terminated, truncated, info = env.step(predict(self.model, env, obs))
                if terminated or truncated:
                    break
            wall = time.perf_counter() - start
            yield episode_row(request, info["tool_episode"], float(reward), info["reward_components"], 0, wall)


def model_dir(target: str) -> str:
    """A model directory, or a training run directory holding ``final_model/``."""
    path = Path(target)
    if (path / "final_model" / "config.json").is_file():
        return str(path / "final_model")
    return str(path)


def build_agent(
    spec: AgentSpec, options: AgentOptions | None = None, seed: int = 0
) -> ScriptedAgent | ModelAgent | SB3Agent:
    """The agent a spec names. Model agents import torch here, so scripted runs never do."""
    options = options or AgentOptions()
    if spec.scripted:
        return ScriptedAgent(spec.kind)
    if spec.kind == "sb3":
        return SB3Agent(spec.target)
    if spec.kind == "openai":
        from mentor_agents.policies.openai import OpenAIPolicy
        from mentor_agents.tokenizer import load_tiny_tokenizer

        # the rollout renders prompts with a tokenizer even for message-level policies; any will do
        policy = OpenAIPolicy(spec.model, base_url=spec.target)  # its key: OPENAI_KEY_VAR (see use_api_key)
        return ModelAgent(policy, load_tiny_tokenizer(), options)
    from mentor_agents.models import load_preset
    from mentor_agents.policies.hf import HFPolicy

    preset = f"hf:{model_dir(spec.target)}" if spec.kind == "hf" else spec.kind
    model, tokenizer = load_preset(preset, seed=seed)
    hf = HFPolicy(model, tokenizer, batch_size=options.batch_size, prefill=options.prefill)
    return ModelAgent(hf, tokenizer, options)


def api_key_from(api_key: str | None, api_key_env: str | None) -> str | None:
    """The key ``--api-key`` / ``--api-key-env NAME`` give (None: neither; OPENAI_API_KEY stays as it is).

    Errors name the flag or variable, never a key's value.
    """
    if api_key is not None and api_key_env is not None:
        raise ValueError("give --api-key or --api-key-env, not both")
    if api_key_env is None:
        return api_key
    value = os.environ.get(api_key_env)
    if not value:
        raise ValueError(f"--api-key-env {api_key_env}: the environment variable {api_key_env} is not set or empty")
    return value


def use_api_key(api_key: str | None) -> None:
    """Make ``openai:`` agents built in this process and its workers (Ray actors) send ``api_key``.

    It goes where ``OpenAIPolicy`` reads its key, this process's OPENAI_API_KEY, which Ray workers started
    from here inherit; it is never part of an agent's spec, options or identity, so no results file holds it.
    """
    if api_key is not None:
        os.environ[OPENAI_KEY_VAR] = api_key


def identity(spec: AgentSpec) -> dict[str, Any]:
    """What makes two runs' episodes the same agent's: part of the resume fingerprint and the results.

    The label alone is not enough: a model retrained at the same ``hf:`` path, or the same model name
    behind another server, must not be mixed into an earlier run's episodes.
    """
    if spec.kind == "hf":
        return {"weights_sha256": weights_digest(Path(model_dir(spec.target)))}
    if spec.kind == "sb3":
        return {"weights_sha256": file_digest(Path(spec.target))}
    if spec.kind == "openai":
        return {"base_url": spec.target, "model": spec.model}
    return {}


def weights_digest(model_dir: Path) -> str:
    """sha256 over the config and weight files of a model directory (names and contents).

    The directory must exist where ``mentor eval`` runs, also for Ray runs. Hashed once per process
    while the files' sizes and modification times stay the same.
    """
    patterns = ("config.json", "*.safetensors", "*.bin", "*.gguf", "*.pt")
    files = sorted({f for pattern in patterns for f in model_dir.glob(pattern) if f.is_file()})
    if not files:
        raise ValueError(f"{model_dir}: no model files (config.json, *.safetensors, ...) to load")
    return _digest(tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))


def file_digest(path: Path) -> str:
    """sha256 over one model file (an SB3 zip): its name and contents, hashed once while it is unchanged."""
    if not path.is_file():
        raise ValueError(f"{path}: no such model file")
    return _digest(((str(path), path.stat().st_size, path.stat().st_mtime_ns),))


@functools.lru_cache(maxsize=16)
def _digest(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in files:
        file = Path(name)
        digest.update(file.name.encode() + b"\0")
        with file.open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def describe(spec: AgentSpec) -> dict[str, Any]:
    """What the results file records about the agent (JSON-ready)."""
    out: dict[str, Any] = {"spec": spec.label, "kind": spec.kind, **identity(spec)}
    if spec.kind == "hf":
        run_config = Path(spec.target) / "config.json"  # a `mentor train` run directory's config
        if (Path(spec.target) / "final_model").is_dir() and run_config.is_file():
            out["run"] = json.loads(run_config.read_text())
    return out
