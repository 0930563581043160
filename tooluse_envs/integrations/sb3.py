"""Stable-Baselines3 on the tool-use envs: ``ToolChoiceEnv`` (a Discrete tool choice with rule-filled
arguments, a fixed-size float32 observation of hashed text features) and ``load_model`` for saved policies.

The envs speak text (``UnicodeText`` spaces), which SB3's ``check_env`` and its policies refuse. The
wrapper makes them a small discrete control problem, the way a classic RL agent can play them::

    import gymnasium as gym
    import tooluse_envs
    from stable_baselines3 import PPO
    from tooluse_envs.integrations.sb3 import ToolChoiceEnv

    gym.register_envs(tooluse_envs)
    env = ToolChoiceEnv(gym.make("tooluse/Calculator-v0", split="train", reward="mentor"))
    model = PPO("MlpPolicy", env, seed=0).learn(5_000)

**Actions** (``Discrete(len(tools) + 1)``): action ``i < len(tools)`` calls ``tools[i]``, the env's tool
vocabulary, i.e. every tool name any task of the env's domain offers in any split (``train``, ``test_id``,
``test_ood``, then a task file's), in first-seen order, so an action means the same tool in every split
and a policy trained on ``train`` plays ``test_ood``. The last action answers. Actions naming a tool the
current task does not offer are invalid: ``action_masks()`` (the method sb3-contrib's ``MaskablePPO``
reads) marks them ``False``; taken anyway, the call still goes to the env, which answers "unknown tool"
and counts an invalid, hallucinated call, exactly as for a text agent.

**Slot filling** (deterministic): the call's arguments are the tool's *required* JSON-schema parameters,
in the schema's order, filled from a pool of values: the last tool result, when it is a number, then
the numbers of the question in order of appearance that no successful call has used yet. ``number``:
the next pool value; ``integer``: the next integral pool value; ``array`` of numbers: every pool value
left; ``string``: the first ``enum`` value if there is one, else the last tool result's text (the question
before any result); ``boolean``: false; ``object``: ``{}``. A parameter the pool cannot fill is left out
(the call then fails the schema). Optional parameters are left to the tool's defaults. A call whose
response is not an error becomes the new last result and uses up the question numbers up to the last
one it took; a call that fails changes neither. The answer action writes the last tool result in
``\\boxed{}`` (before any result: the question's last number).

**Observation** (``Box(0, 1, (dim,), float32)``, ``dim = question_buckets + response_buckets +
turn_buckets + 3``): word unigrams and bigrams (lowercased; every number is the one token ``<num>``)
of the question, hashed with CRC-32 into ``question_buckets`` 0/1 features; the same for the last
tool response (or the env's error message) into ``response_buckets``; the turn index, one-hot
(``0 .. turn_buckets - 1``, later turns in the last; independent of the env's ``max_turns``, so a policy
trained with one turn limit plays under another); and three flags: a tool result is held, the last call
failed, and how many of the question's numbers are still unused (k/4, capped at 1). CRC-32 is fixed
across processes (unlike ``hash()``), so a saved policy sees the same features when it is loaded elsewhere.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import re
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from tooluse_envs.errors import ConfigError
from tooluse_envs.parsing import render_turn
from tooluse_envs.tasks import SPLITS

QUESTION_BUCKETS = 512
RESPONSE_BUCKETS = 64
TURN_BUCKETS = 8
N_FLAGS = 3
MAX_COUNTED_NUMBERS = 4  # the "numbers left" flag saturates here

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3}(?!\d))*(?:\.\d+)?")
_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,]\d+)*|[^\sa-z\d]")
_RESPONSE = re.compile(r"<tool_response>\n(.*?)\n</tool_response>", re.DOTALL)
_INTEGRAL = re.compile(r"-?\d+")

Number = int | float


def question_numbers(text: str) -> list[Number]:
    """The numbers of ``text`` in order of appearance (``1,200`` is 1200; ``3-day`` is 3; ``-5`` is -5)."""
    return [_as_number(m.group().replace(",", "")) for m in _NUMBER.finditer(text)]


def _as_number(text: str) -> Number:
    return int(text) if _INTEGRAL.fullmatch(text) else float(text)


def _number_or_none(text: str) -> Number | None:
    """``text`` as a number when it is exactly one finite number, else None."""
    text = text.strip()
    try:
        value = _as_number(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def hashed_features(text: str, buckets: int, salt: str) -> np.ndarray:
    """0/1 features of ``text``'s word unigrams and bigrams, hashed with CRC-32 into ``buckets``."""
    tokens = ["<num>" if t[0].isdigit() else t for t in _TOKEN.findall(text.lower())]
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    out = np.zeros(buckets, dtype=np.float32)
    for gram in grams:
        out[zlib.crc32(f"{salt}|{gram}".encode()) % buckets] = 1.0
    return out


def tool_vocabulary(env: gym.Env[Any, Any]) -> tuple[str, ...]:
    """Every tool name the tasks of ``env``'s domain offer, over all splits and then the env's own tasks."""
    base: Any = env.unwrapped
    domain = base.domain
    names: dict[str, None] = {}
    for split in SPLITS:
        try:
            tasks = domain.load(split)
        except (ConfigError, OSError, ValueError):  # a domain without this split (a custom env, say)
            continue
        for task in tasks:
            names.update(dict.fromkeys(task.tools))
    for task in base.tasks:  # a task file's tasks
        names.update(dict.fromkeys(task.tools))
    return tuple(names)


class ToolChoiceEnv(gym.Wrapper[np.ndarray, np.int64, str, str]):
    """A text tool-use env as ``Discrete`` tool choices and a fixed-size ``Box`` of hashed features.

    ``env`` is a ``tooluse/...`` env (``gym.make`` or ``make_env``). ``tools``: the action vocabulary
    (default: ``tool_vocabulary(env)``; pass the training env's to be sure an evaluation env agrees).
    See the module docstring for the action, slot-filling and observation rules. ``info`` is the wrapped
    env's (``info["tool_episode"]`` at the end); ``last_action_text`` is the text turn the last action sent.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        tools: Sequence[str] | None = None,
        question_buckets: int = QUESTION_BUCKETS,
        response_buckets: int = RESPONSE_BUCKETS,
        turn_buckets: int = TURN_BUCKETS,
    ) -> None:
        super().__init__(env)
        self.tools: tuple[str, ...] = tuple(tools) if tools is not None else tool_vocabulary(env)
        if not self.tools:
            raise ConfigError("ToolChoiceEnv needs at least one tool in its vocabulary")
        if min(question_buckets, response_buckets, turn_buckets) < 1:
            raise ConfigError("question_buckets, response_buckets and turn_buckets must be at least 1")
        self.question_buckets = question_buckets
        self.response_buckets = response_buckets
        self.turn_buckets = turn_buckets
        self.answer_action = len(self.tools)
        dim = question_buckets + response_buckets + turn_buckets + N_FLAGS
        self.action_space = gym.spaces.Discrete(len(self.tools) + 1)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (dim,), np.float32)
        self.last_action_text = ""
        self._reset_state("", [])

    def _reset_state(self, question: str, task_tools: list[dict[str, Any]]) -> None:
        self._question = question
        self._question_features = hashed_features(question, self.question_buckets, "q")
        self._numbers = question_numbers(question)
        self._used = 0  # question numbers used up by successful calls (always a prefix)
        self._result_text: str | None = None
        self._result: Number | None = None
        self._response = ""
        self._failed = False
        self._turn = 0
        self._params = {t["function"]["name"]: t["function"].get("parameters") or {} for t in task_tools}

    # -- Gymnasium API -------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        text_env: Any = self.env  # the wrapped env speaks text
        question, info = text_env.reset(seed=seed, options=options)
        self._reset_state(question, info.get("tools", []))
        return self._observation(), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        index = int(np.asarray(action).item())
        if not 0 <= index <= self.answer_action:
            raise ValueError(f"action {index} is outside Discrete({self.answer_action + 1})")
        used = self._used
        if index == self.answer_action:
            text = self._answer_text()
        else:
            name = self.tools[index]
            arguments, used = self.fill_arguments(self._params.get(name, {}))
            text = render_turn("", [(name, arguments)])
        self.last_action_text = text
        text_env: Any = self.env
        observation, reward, terminated, truncated, info = text_env.step(text)
        self._turn += 1
        self._read_response(observation, index, used)
        return self._observation(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Valid actions now: the tools the current task offers, and answering (for ``MaskablePPO``)."""
        mask = np.fromiter((name in self._params for name in self.tools), dtype=bool, count=len(self.tools))
        return np.append(mask, True)

    # -- slot filling ----------------------------------------------------------------------------------

    def fill_arguments(self, parameters: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """The arguments of a call to a tool with these JSON-schema ``parameters`` (see the module), and
        how many question numbers will be used up if the call succeeds."""
        pool: list[tuple[Number, int]] = []  # (value, question numbers used up once it is taken)
        if self._result is not None:
            pool.append((self._result, self._used))
        pool += [(value, self._used + i + 1) for i, value in enumerate(self._numbers[self._used :])]
        used = self._used
        arguments: dict[str, Any] = {}
        required = set(parameters.get("required", []))
        for name, schema in (parameters.get("properties") or {}).items():
            if name not in required or not isinstance(schema, dict):
                continue
            value, taken = self._slot_value(schema, pool)
            for item in sorted(taken, reverse=True):
                used = max(used, pool.pop(item)[1])
            if value is not _MISSING:
                arguments[name] = value
        return arguments, used

    def _slot_value(self, schema: dict[str, Any], pool: list[tuple[Number, int]]) -> tuple[Any, list[int]]:
        """A value for one parameter and the pool positions it takes."""
        if schema.get("enum"):
            return schema["enum"][0], []
        kind = _schema_type(schema)
        if kind == "number":
            return (pool[0][0], [0]) if pool else (_MISSING, [])
        if kind == "integer":
            for i, (value, _) in enumerate(pool):
                if float(value).is_integer():
                    return int(value), [i]
            return _MISSING, []
        if kind == "array":
            item_kind = _schema_type(schema.get("items") or {})
            if item_kind in ("number", "integer"):
                taken = [i for i, (v, _) in enumerate(pool) if item_kind == "number" or float(v).is_integer()]
                return [pool[i][0] if item_kind == "number" else int(pool[i][0]) for i in taken], taken
            return ([self._result_text] if self._result_text is not None else []), []
        if kind == "string":
            return (self._result_text if self._result_text is not None else self._question), []
        if kind == "boolean":
            return False, []
        if kind == "object":
            return {}, []
        if kind == "null":
            return None, []
        return _MISSING, []

    def _answer_text(self) -> str:
        if self._result_text is not None:
            answer = self._result_text
        else:
            answer = _format(self._numbers[-1]) if self._numbers else ""
        return f"\\boxed{{{answer}}}"

    # -- observation ---------------------------------------------------------------------------------

    def _read_response(self, observation: str, index: int, used: int) -> None:
        match = _RESPONSE.search(observation)
        content = match.group(1) if match else observation
        self._response = content
        if index == self.answer_action:
            return
        self._failed = match is None or content.startswith("Error")
        if not self._failed:
            self._result_text = content.strip()
            self._result = _number_or_none(content)
            self._used = used

    def _observation(self) -> np.ndarray:
        turn = np.zeros(self.turn_buckets, dtype=np.float32)
        turn[min(self._turn, self.turn_buckets - 1)] = 1.0
        left = min(len(self._numbers) - self._used, MAX_COUNTED_NUMBERS) / MAX_COUNTED_NUMBERS
        flags = np.array([self._result_text is not None, self._failed, left], dtype=np.float32)
        response = hashed_features(self._response, self.response_buckets, "r")
        return np.concatenate([self._question_features, response, turn, flags])


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _schema_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return str(kind)


def _format(value: Number) -> str:
    return str(int(value)) if isinstance(value, int) or float(value).is_integer() else repr(value)


# -- saved policies ------------------------------------------------------------------------------------


def load_model(path: str | Path) -> Any:
    """A saved SB3 ``PPO`` or sb3-contrib ``MaskablePPO`` zip, loaded on the CPU.

    Which class saved it is read from the zip's ``data`` (its policy's module); a MaskablePPO file needs
    ``sb3-contrib`` installed. Imports go through ``importlib`` so this module needs neither package.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such SB3 model file (a .zip saved by model.save)")
    if is_maskable(path):
        try:
            module = importlib.import_module("sb3_contrib")
        except ImportError as exc:
            raise ConfigError(f"{path} is a MaskablePPO model: pip install sb3-contrib") from exc
        return module.MaskablePPO.load(str(path), device="cpu")
    try:
        sb3 = importlib.import_module("stable_baselines3")
    except ImportError as exc:
        raise ConfigError("SB3 models need stable-baselines3: pip install 'tooluse-mentor[sb3]'") from exc
    return sb3.PPO.load(str(path), device="cpu")


def is_maskable(path: str | Path) -> bool:
    """Whether the SB3 zip at ``path`` holds an sb3-contrib maskable policy."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path} is not a model saved by Stable-Baselines3 ({exc})") from exc
    policy = data.get("policy_class") or {}
    return "sb3_contrib" in str(policy.get("__module__", "")) if isinstance(policy, dict) else False


def predict(model: Any, env: ToolChoiceEnv, observation: np.ndarray) -> int:
    """The model's deterministic action (masked to the valid ones for a maskable model)."""
    maskable = "action_masks" in inspect.signature(model.predict).parameters
    kwargs = {"action_masks": env.action_masks()} if maskable else {}
    action, _ = model.predict(observation, deterministic=True, **kwargs)
    return int(np.asarray(action).item())


__all__ = [
    "ToolChoiceEnv",
    "hashed_features",
    "is_maskable",
    "load_model",
    "predict",
    "question_numbers",
    "tool_vocabulary",
]
