"""TRL on the tool-use envs: ``reward_funcs`` (the env's rewards for ``GRPOTrainer``), ``dataset`` (its
prompts, rendered as ``mentor train`` renders them) and ``environment_factory`` (its tools as the methods
of a class, for TRL's multi-turn tool calling).

Two ways to train with TRL's ``GRPOTrainer`` (``pip install 'tooluse-mentor[trl]'``; see docs/trl.md)::

    import tooluse_envs.integrations.trl as ttrl

    # 1. one completion per task, replayed into the env for its reward
    train = ttrl.dataset("tooluse/Calculator-v0", "train", tokenizer)  # prompt text + task_id
    rewards = ttrl.reward_funcs("tooluse/Calculator-v0", "mentor", tokenizer=tokenizer)
    GRPOTrainer(model, reward_funcs=rewards, train_dataset=train, processing_class=tokenizer, args=...)

    # 2. TRL runs the tools (the env's) between turns; the same reward functions end the episode
    train = ttrl.dataset("tooluse/Calculator-v0", "train")  # chat messages + task_id
    GRPOTrainer(model, reward_funcs=rewards, train_dataset=train, args=...,
                processing_class=ttrl.add_response_template(tokenizer),
                environment_factory=ttrl.environment_factory("tooluse/Calculator-v0"))

**Each completion is scored in the env of its task**: the dataset's ``task_id`` column reaches the reward
functions as a keyword argument (TRL passes every dataset column), so the episode is the task the prompt
asked. **Cut-off completions** (``finish_reason="length"``): TRL's own rule (its ``clipped_ratio`` metric
and ``mask_truncated_completions``) is that a completion is clipped when its last token is neither EOS nor
padding; ``reward_funcs(..., tokenizer=...)`` applies exactly that rule to the ``completion_ids`` TRL
passes. Without a tokenizer, give ``max_completion_length`` (the ``GRPOConfig`` value): a completion of
that many tokens counts as clipped (an answer that ends with EOS on the very last token is then counted
as cut off too). One of the two is required, so a clipped completion is never scored as a finished one
(under "mentor" that is 0.1 for "no answer" instead of 0 for "cut off").

**Replay (path 1)**: the completion is one assistant turn played in a fresh episode of its task. A
completion that calls tools and never writes a tool-free turn is closed with an empty final turn (it
ended with EOS; its tools ran and count; its answer is the last ``\\boxed{}`` it wrote, as with
``answer_from="any_turn"``, the env's default). Completions are decoded from their token ids with the
tokenizer keeping special tokens (TRL's own decoding drops them, and ``<tool_call>`` is one in some
tokenizers); without a tokenizer the text TRL decoded is used.

**Environment (path 2)**: ``environment_factory(env_id)`` is a class whose public methods are the
tools of the env's tasks (built from ``info["tools"]``: name, description, parameter types, required
parameters and enums; JSON-schema keywords that a Python signature cannot express, such as
``additionalProperties``, are not in the schema TRL renders, though the env still validates every call
against the full schema). Each instance holds one env; TRL resets it with the dataset row
(``reset(task_id=...)``), every tool call it makes is one env step (a turn of one call), and the reward
function ends the episode with the rollout's last assistant turn. Splits whose tasks offer different
tools (BFCL) give a dict of classes, one per tool set, and ``dataset`` adds the ``environment`` column
that TRL routes each row by.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import keyword
from collections.abc import Callable
from typing import Any, Literal, Union

import gymnasium as gym

import tooluse_envs
from tooluse_envs.episode import EpisodeRecord
from tooluse_envs.errors import ConfigError
from tooluse_envs.rewards import RewardFn, get_reward
from tooluse_envs.tasks import Reference

RESPONSE_TEMPLATE: dict[str, Any] = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {
        "tool_calls": {
            "open": "<tool_call>",
            "close_pattern": r"</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": "{content}"},
        },
        "content": {"close_pattern": r"<\|im_end\|>\s*", "content": "text"},
    },
}
"""A transformers ``response_template`` for ChatML turns with Hermes ``<tool_call>`` blocks: the format the
env's system prompt asks for and the ``tiny`` preset's chat template renders (Qwen's, without thinking)."""

ENVIRONMENT_COLUMN = "environment"  # the dataset column TRL routes rows by when environment_factory is a dict


def add_response_template(tokenizer: Any) -> Any:
    """Give ``tokenizer`` the ``response_template`` TRL parses tool calls with, unless it has one.

    TRL knows the templates of a few model families (Qwen, Llama, ...) and refuses others, the ``tiny``
    preset's included; ``RESPONSE_TEMPLATE`` parses the ``<tool_call>`` format the env asks for.
    """
    if getattr(tokenizer, "response_template", None) is None:
        tokenizer.response_template = RESPONSE_TEMPLATE
    return tokenizer


# -- the env's tasks --------------------------------------------------------------------------------------


def _make_env(env_id: str, split: str, **env_kwargs: Any) -> Any:
    gym.register_envs(tooluse_envs)
    return gym.make(env_id, split=split, **env_kwargs)


def _tool_sets(env: Any) -> dict[str, list[dict[str, Any]]]:
    """{task id: the task's OpenAI tool schemas} for every task of the env."""
    base = env.unwrapped
    return {task.id: [tool.schema for tool in base.domain.task_tools(task).values()] for task in base.tasks}


def _tool_set_key(schemas: list[dict[str, Any]]) -> str:
    """A short stable name for a tool set (BFCL reuses tool names with other schemas, so it hashes them all)."""
    return hashlib.sha256(json.dumps(schemas, sort_keys=True).encode()).hexdigest()[:12]


def dataset(env_id: str, split: str = "train", tokenizer: Any = None, **env_kwargs: Any) -> Any:
    """A ``datasets.Dataset`` of the split's tasks: a ``prompt`` and a ``task_id`` column per task.

    With ``tokenizer``, ``prompt`` is the text ``mentor train`` feeds the model: the chat template applied
    to the env's first messages (system prompt, question) with the task's tools and the generation
    prompt, ``tokenizer.apply_chat_template(info["messages"], tools=info["tools"],
    add_generation_prompt=True, tokenize=False)`` (for ``reward_funcs`` alone: TRL renders chat prompts
    without tools there). Without one, ``prompt`` is those chat messages, which TRL renders with the
    environment's tools (for ``environment_factory``). When the split's tasks have different tool sets,
    an ``environment`` column names each row's (the keys of ``environment_factory``'s dict).
    ``env_kwargs`` go to ``gym.make`` (``task_ids=[...]`` selects tasks).
    """
    datasets = importlib.import_module("datasets")  # a TRL dependency (untyped)

    env = _make_env(env_id, split, **env_kwargs)
    try:
        tool_sets = _tool_sets(env)
        several = len({_tool_set_key(s) for s in tool_sets.values()}) > 1
        rows: dict[str, list[Any]] = {"prompt": [], "task_id": []}
        if several:
            rows[ENVIRONMENT_COLUMN] = []
        for task in env.unwrapped.tasks:
            _, info = env.reset(options={"task_id": task.id})
            messages = info["messages"]
            if tokenizer is not None:
                prompt: Any = tokenizer.apply_chat_template(
                    messages, tools=info["tools"] or None, add_generation_prompt=True, tokenize=False
                )
            else:
                prompt = [dict(m) for m in messages]
            rows["prompt"].append(prompt)
            rows["task_id"].append(task.id)
            if several:
                rows[ENVIRONMENT_COLUMN].append(_tool_set_key(tool_sets[task.id]))
    finally:
        env.close()
    return datasets.Dataset.from_dict(rows)


# -- rewards ----------------------------------------------------------------------------------------------


def _stop_ids(tokenizer: Any) -> set[int]:
    ids = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    extra = getattr(getattr(tokenizer, "generation_config", None), "eos_token_id", None)
    ids.update(extra if isinstance(extra, list) else [extra])
    return {i for i in ids if i is not None}


class _Scorer:
    """One reward function's state: the rule for clipped completions and an env to replay them in."""

    def __init__(
        self, env_id: str, split: str, reward: RewardFn, tokenizer: Any, max_len: int | None, env_kwargs: dict
    ) -> None:
        self.env_id, self.split, self.reward, self.env_kwargs = env_id, split, reward, env_kwargs
        self.tokenizer, self.max_len = tokenizer, max_len
        self.stop = _stop_ids(tokenizer) if tokenizer is not None else set()
        self._env: Any = None

    def clipped(self, ids: list[int] | None) -> bool:
        if ids is None:
            raise ConfigError("the reward function needs TRL's completion_ids to tell cut-off completions")
        if self.tokenizer is not None:
            return not ids or ids[-1] not in self.stop
        assert self.max_len is not None
        return len(ids) >= self.max_len

    def text(self, completion: Any, ids: list[int] | None) -> dict[str, Any]:
        """The completion as one assistant message (content, and tool_calls when TRL parsed them)."""
        if self.tokenizer is not None and ids is not None:
            end = next((i for i, t in enumerate(ids) if t in self.stop), len(ids))
            return {"role": "assistant", "content": self.tokenizer.decode(ids[:end], skip_special_tokens=False)}
        if isinstance(completion, str):
            return {"role": "assistant", "content": completion}
        last = completion[-1] if completion else {}
        message = {"role": "assistant", "content": last.get("content") or ""}
        if last.get("tool_calls"):
            message["tool_calls"] = last["tool_calls"]
        return message

    def replay(self, task_id: str, message: dict[str, Any], clipped: bool) -> float:
        if self._env is None:  # max_turns=2: the completion, then the closing turn if it needs one
            self._env = _make_env(self.env_id, self.split, **{**self.env_kwargs, "max_turns": 2})
        env = self._env
        env.reset(options={"task_id": task_id})
        _, _, terminated, truncated, info = env.step({**message, "finish_reason": "length" if clipped else "stop"})
        if not (terminated or truncated):  # tool calls without a tool-free turn: close the episode
            _, _, _, _, info = env.step({"role": "assistant", "content": "", "finish_reason": "stop"})
        return self.score(info["record"], env.unwrapped.task.reference)

    def score(self, record: EpisodeRecord, reference: Reference | None) -> float:
        return float(self.reward(record, reference).value)


def reward_funcs(
    env_id: str,
    reward: str | RewardFn = "mentor",
    split: str = "train",
    *,
    tokenizer: Any = None,
    max_completion_length: int | None = None,
    **env_kwargs: Any,
) -> list[Callable[..., list[float]]]:
    """``GRPOTrainer(reward_funcs=...)``: a list of one function giving each completion ``reward`` (a name
    from ``tooluse_envs.rewards.REWARDS`` or a ``RewardFn``) in the env of its row's ``task_id``.

    Pass ``tokenizer`` (the trainer's; exact) or ``max_completion_length`` (the ``GRPOConfig`` value) so
    that clipped completions count as cut off (see the module docstring). ``split`` and ``env_kwargs``
    (``gym.make`` arguments) must match the dataset's. Under ``environment_factory`` the function ends
    each rollout's episode in its environment instead of replaying it. Call it once per reward to log
    several (TRL sums them with ``GRPOConfig.reward_weights``).
    """
    if tokenizer is None and max_completion_length is None:
        raise ConfigError(
            "reward_funcs needs tokenizer= (TRL's rule: clipped = no EOS at the end) or max_completion_length= "
            "(the GRPOConfig value) to score a completion cut off by the length limit as cut off"
        )
    fn = get_reward(reward)
    name = reward if isinstance(reward, str) else getattr(reward, "__name__", "reward")
    scorer = _Scorer(env_id, split, fn, tokenizer, max_completion_length, dict(env_kwargs))

    def tooluse_reward(
        prompts: list[Any],
        completions: list[Any],
        completion_ids: list[list[int]] | None = None,
        task_id: list[str] | None = None,
        environments: list[Any] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        out = []
        for i, completion in enumerate(completions):
            ids = completion_ids[i] if completion_ids is not None else None
            clipped = scorer.clipped(ids)
            environment = environments[i] if environments is not None else None
            if isinstance(environment, ToolEnvironment):
                record, reference = environment._finish(completion, clipped)
                out.append(scorer.score(record, reference))
                continue
            if task_id is None:
                raise ConfigError(
                    "the dataset has no task_id column: build it with tooluse_envs.integrations.trl.dataset()"
                )
            out.append(scorer.replay(task_id[i], scorer.text(completion, ids), clipped))
        return out

    tooluse_reward.__name__ = tooluse_reward.__qualname__ = f"tooluse_{name}"
    return [tooluse_reward]


# -- environment_factory ------------------------------------------------------------------------------------


class ToolEnvironment:
    """Base of the classes ``environment_factory`` builds: one env, reset per rollout, tools as methods.

    Public methods other than ``reset`` are tools to TRL, so everything else here is private.
    """

    _env_id: str = ""
    _split: str = "train"
    _env_kwargs: dict[str, Any] = {}

    def __init__(self) -> None:
        self._env = _make_env(self._env_id, self._split, **self._env_kwargs)
        self._record: EpisodeRecord | None = None  # set once the episode has ended
        self._started = False

    def reset(self, task_id: str | None = None, **row: Any) -> None:
        """Start the episode of the row's task (TRL passes every dataset column)."""
        if task_id is None:
            raise ConfigError(
                "environment rows need a task_id column: build them with tooluse_envs.integrations.trl.dataset()"
            )
        self._env.reset(options={"task_id": task_id})
        self._record, self._started = None, True
        return None

    def _step(self, message: dict[str, Any]) -> dict[str, Any]:
        _, _, terminated, truncated, info = self._env.step(message)
        if terminated or truncated:
            self._record = info["record"]
        return info

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        """Run one tool call as an env turn; what the env answers is what the model reads."""
        if not self._started:
            raise RuntimeError("reset() must start an episode before a tool is called")
        if self._record is not None:
            return "Error: the episode is over; no more tool calls are run."
        call = {"type": "function", "function": {"name": name, "arguments": arguments}}
        info = self._step({"role": "assistant", "content": "", "tool_calls": [call]})
        last = info["messages"][-1]
        if last.get("role") == "tool":
            return str(last["content"])
        return "Error: the episode is over; the call was not run."

    def _finish(self, completion: Any, clipped: bool) -> tuple[EpisodeRecord, Reference | None]:
        """End the episode with the rollout's last assistant turn; a rollout that stopped on a tool call or
        a tool response (TRL's length or tool-iteration budget ran out) counts as cut off."""
        if self._record is None:
            last = completion[-1] if isinstance(completion, list) and completion else {}
            answered = isinstance(last, dict) and last.get("role") == "assistant" and not last.get("tool_calls")
            content = str(last.get("content") or "") if answered else ""
            finish = "length" if clipped or not answered else "stop"
            self._step({"role": "assistant", "content": content, "finish_reason": finish})
        assert self._record is not None
        self._started = False
        return self._record, self._env.unwrapped.task.reference


_LITERAL: Any = Literal  # subscripted at run time with a schema's values
_UNION: Any = Union
_LIST: Any = list
_JSON_TYPES: dict[str, Any] = {"number": float, "integer": int, "string": str, "boolean": bool, "object": dict}


def _hint(schema: dict[str, Any]) -> Any:
    """The Python type hint transformers turns back into (most of) ``schema``."""
    if "enum" in schema and schema["enum"]:
        return _LITERAL[tuple(schema["enum"])]
    kind = schema.get("type")
    if isinstance(kind, list):
        parts = [type(None) if k == "null" else _hint({"type": k}) for k in kind]
        return _UNION[tuple(parts)] if len(parts) > 1 else parts[0]
    if kind == "array":
        items = schema.get("items")
        return _LIST[_hint(items)] if isinstance(items, dict) and items.get("type") else list
    return _JSON_TYPES.get(kind, Any) if isinstance(kind, str) else Any


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _tool_method(schema: dict[str, Any]) -> Callable[..., str]:
    """A method with the tool's name, typed parameters and a Google docstring (what TRL reads a tool from)."""
    function = schema.get("function", schema)
    name = function["name"]
    params = function.get("parameters") or {}
    properties: dict[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or [])

    def method(self: ToolEnvironment, **arguments: Any) -> str:
        return self._call(name, arguments)

    signature = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    lines = [_one_line(function.get("description")) or name]
    if properties:
        lines += ["", "Args:"]
    for pname, pschema in properties.items():
        if not pname.isidentifier() or keyword.iskeyword(pname):
            raise ConfigError(
                f"tool {name!r}: parameter {pname!r} is not a Python identifier, so not a method argument"
            )
        annotations[pname] = _hint(pschema)
        default = inspect.Parameter.empty if pname in required else None
        signature.append(
            inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotations[pname])
        )
        lines.append(f"    {pname}: {_one_line(pschema.get('description')) or pname}")
    method.__name__ = method.__qualname__ = name
    method.__doc__ = "\n".join(lines)
    method.__annotations__ = annotations
    method.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    return method


def _environment_class(env_id: str, split: str, schemas: list[dict[str, Any]], env_kwargs: dict) -> type:
    methods: dict[str, Any] = {}
    for schema in schemas:
        method = _tool_method(schema)
        if method.__name__ in ("reset", "get_reward") or method.__name__.startswith("_"):
            raise ConfigError(f"tool {method.__name__!r} cannot be a TRL environment method (reserved or private name)")
        methods[method.__name__] = method
    attrs = {"_env_id": env_id, "_split": split, "_env_kwargs": dict(env_kwargs), **methods}
    base = env_id.split("/")[-1].split("-")[0]
    return type(f"{base}ToolEnvironment", (ToolEnvironment,), attrs)


def environment_factory(env_id: str, split: str = "train", **env_kwargs: Any) -> Any:
    """``GRPOTrainer(environment_factory=...)``: a ``ToolEnvironment`` subclass whose methods are the tools of
    ``env_id``'s tasks in ``split``; when tasks differ in tools, a dict of them keyed as ``dataset``'s
    ``environment`` column. ``env_kwargs`` go to ``gym.make`` (e.g. ``max_turns``, which bounds the tool
    calls of a rollout, one env turn each) and must match the dataset's.
    """
    env = _make_env(env_id, split, **env_kwargs)
    try:
        tool_sets = _tool_sets(env)
    finally:
        env.close()
    by_key = {_tool_set_key(schemas): schemas for schemas in tool_sets.values()}
    classes = {key: _environment_class(env_id, split, schemas, env_kwargs) for key, schemas in by_key.items()}
    if len(classes) == 1:
        return next(iter(classes.values()))
    return classes


__all__ = [
    "RESPONSE_TEMPLATE",
    "ToolEnvironment",
    "add_response_template",
    "dataset",
    "environment_factory",
    "reward_funcs",
]
