"""The one environment class every tool-use domain runs in."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import gymnasium as gym

from tooluse_envs.actions import MAX_ACTION_CHARS, message_problem, text_size_problem
from tooluse_envs.domain import Domain, Session, make_domain
from tooluse_envs.episode import EpisodeRecord, Outcome, ToolCallRecord
from tooluse_envs.errors import ConfigError, ResetNeeded, TaskError, ToolUseError
from tooluse_envs.parsing import ParsedCall, ParsedTurn, extract_boxed, parse_openai_message, parse_turn
from tooluse_envs.rewards import RewardError, RewardFn, RewardResult, get_reward, reward_label, reward_result
from tooluse_envs.spaces import UnicodeText
from tooluse_envs.tasks import SPLITS, Task, read_task_lines
from tooluse_envs.tools import Tool

SYSTEM_PROMPT = (
    "You are a helpful assistant that solves tasks by calling tools. To call a tool, write "
    '<tool_call>{"name": <tool name>, "arguments": <JSON object>}</tool_call>; you may make several calls '
    "in one turn. Results come back in <tool_response> blocks. When you have the result, reply without a "
    "tool call and put the final answer in \\boxed{}."
)
MAX_OBSERVATION_CHARS = 1 << 20
TURN_BUDGET_S = 30.0
# the clock the turn budget reads (a module attribute so that tests can replace it with a fake one)
_clock: Callable[[], float] = time.monotonic


EPISODE_KEY = "tool_episode"  # the info key of the end-of-episode summary


class StepInfo(dict[str, Any]):
    """The info dict of ``step``: a plain dict, except that reading the old summary key fails loudly.

    ``info["episode"]`` used to hold the env's episode summary; it is now ``info["tool_episode"]``,
    since Gymnasium's ``RecordEpisodeStatistics`` and SB3's ``Monitor`` write their own statistics
    under ``"episode"``. Without such a wrapper, ``info["episode"]`` raises a ``KeyError`` naming the new
    key instead of a bare one (``"episode" in info`` and ``info.get("episode")`` behave as for a dict
    without the key, which is what those wrappers check before they write it).
    """

    def __missing__(self, key: str) -> Any:
        if key == "episode":
            raise KeyError(
                "'episode': ToolUseEnv's episode summary is info['tool_episode'] (at the end of an episode); "
                "info['episode'] is only set by episode-statistics wrappers such as RecordEpisodeStatistics"
            )
        raise KeyError(key)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [truncated {len(text) - limit} chars]"


def _file_stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)  # read_task_lines names the missing file
    return (stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_tasks_file(path: Path, mtime_ns: int, size: int) -> tuple[tuple[int, Task], ...]:
    """A task file's (line, task) pairs, read and validated once per process while it stays unchanged
    (many envs share one)."""
    return tuple(read_task_lines(path))


class ToolUseEnv(gym.Env[str, str]):
    """A multi-turn tool-use episode: a question, tools, and a verified outcome.

    ## Description
    The agent reads a question, calls the task's tools (executed for real), reads their responses and
    finally answers in ``\\boxed{}``. The outcome is verified by the domain's checker.

    ## Action
    One assistant turn: a string with zero or more ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
    blocks, or an OpenAI assistant message dict (``content``, ``tool_calls``, optional ``finish_reason``
    "stop"/"length"). A turn without a tool call is the final answer. Malformed actions never raise:
    the observation names the problem and the call counts as invalid. An action over the action space's
    ``max_length`` (1 MiB of text) is refused before it is parsed; message dicts and tool-call arguments
    must hold JSON data (``tooluse_envs.actions``).

    ## Observation
    Text: the question after reset, then the ``<tool_response>`` blocks of the last turn.
    ``info["messages"]`` holds the whole conversation in chat format (tool-call arguments as dicts, as
    chat templates expect), ``info["tools"]`` the OpenAI function schemas (at reset).

    ## Rewards
    0 until the episode ends, then ``reward(episode, reference)``: a name from
    ``tooluse_envs.rewards.REWARDS``, ``"pkg.module:function"``, an installed plugin's name (entry-point
    group ``tooluse_envs.rewards``) or any callable, returning a ``RewardResult`` or a plain number
    (``{"reward": x}`` is then its one component). ``info["reward_components"]`` shows its parts. A reward
    that raises or returns anything else (NaN, a string, None) scores 0.0 and its error, naming it, is in
    ``info["tool_episode"]["reward_error"]`` (and warned about): ending an episode never raises.

    ## Episode End
    Terminated by a final answer or a turn cut off without EOS (``finish_reason="length"``); truncated
    after ``max_turns`` assistant turns. ``info["tool_episode"]`` then summarises the episode (the key
    ``"episode"`` is left to ``RecordEpisodeStatistics`` and SB3's ``Monitor``; reading it from this env's
    own info raises a ``KeyError`` that names the new key).

    ## Arguments
    domain, split ("train" | "test_id" | "test_ood"), max_turns, reward, sandbox (backend for domains
    that run code), task_ids (restrict to these tasks), expose_reference (put the teacher trajectory in
    ``info["reference"]``), max_calls_per_turn, max_tool_output_chars, answer_from ("any_turn", as the
    MENTOR authors' reward reads the last ``\\boxed{}`` of the whole response, tool-call turns included;
    "final_turn": only the final turn's), tasks_file (a JSONL file of this domain's tasks, validated
    against ``tasks/task.schema.json``, played instead of the domain's split; ``split`` then only labels
    the episodes), turn_budget_s (wall-clock seconds for all tool calls of one turn, default 30: a call
    not started by then is answered "turn budget exceeded" and not run; each call also has its domain's
    own limit, so the last one started may end after the budget), and domain options.

    ## Version History
    * v0: initial release. The end-of-episode summary was renamed from ``info["episode"]`` to
      ``info["tool_episode"]`` (Gymnasium's and SB3's episode-statistics wrappers own ``"episode"``).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        domain: str | Domain,
        split: str = "train",
        max_turns: int = 8,
        reward: str | RewardFn = "outcome",
        sandbox: str = "auto",
        task_ids: list[str] | None = None,
        expose_reference: bool = False,
        max_calls_per_turn: int = 16,
        max_tool_output_chars: int = 8192,
        answer_from: str = "any_turn",
        render_mode: str | None = None,
        tasks_file: str | os.PathLike[str] | None = None,
        turn_budget_s: float = TURN_BUDGET_S,
        **domain_options: Any,
    ) -> None:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if max_turns < 1:
            raise ConfigError("max_turns must be at least 1")
        if answer_from not in ("any_turn", "final_turn"):
            raise ConfigError(f"answer_from must be 'any_turn' or 'final_turn', not {answer_from!r}")
        if not turn_budget_s > 0:
            raise ConfigError(f"turn_budget_s must be a positive number of seconds, not {turn_budget_s!r}")
        if render_mode not in (None, "ansi"):
            raise ConfigError(f"unsupported render_mode {render_mode!r}; only 'ansi'")
        if isinstance(domain, str):
            domain = make_domain(domain, sandbox=sandbox, **domain_options)
        self.domain = domain
        self.split = split
        self.max_turns = max_turns
        self.reward_fn = get_reward(reward)
        self.expose_reference = expose_reference
        self.max_calls_per_turn = max_calls_per_turn
        self.max_tool_output_chars = max_tool_output_chars
        self.answer_from = answer_from
        self.turn_budget_s = float(turn_budget_s)
        self.render_mode = render_mode
        tasks = domain.load(split) if tasks_file is None else self._file_tasks(domain, Path(tasks_file))
        self.tasks = self._select_tasks(tasks, task_ids)
        self._by_id = {task.id: task for task in self.tasks}
        self._schemas: dict[str, list[dict[str, Any]]] = {}
        self.observation_space = UnicodeText(MAX_OBSERVATION_CHARS)
        self.action_space = UnicodeText(MAX_ACTION_CHARS)
        self.task: Task | None = None
        self._session: Session | None = None
        self._record: EpisodeRecord | None = None
        self.messages: list[dict[str, Any]] = []

    @staticmethod
    def _file_tasks(domain: Domain, path: Path) -> list[Task]:
        """The tasks of a JSONL task file (e.g. ``mentor teach`` output) in place of the domain's split.

        Every task must belong to this env's domain (Mixed accepts its parts' tasks) and offer only
        tools the domain has, so a wrong file fails here rather than in the middle of an episode.
        """
        lines = _read_tasks_file(path.resolve(), *_file_stamp(path))
        accepted = set(getattr(domain, "parts", ())) or {domain.name}  # Mixed routes its parts' tasks by domain
        foreign = sorted({task.domain for _, task in lines} - accepted)
        if foreign:
            lineno, task = next((n, t) for n, t in lines if t.domain not in accepted)
            raise ConfigError(
                f"{path}:{lineno}: task {task.id!r} is not for this env: the file holds tasks of domain(s) "
                f"{', '.join(foreign)}; this env runs {', '.join(sorted(accepted))}"
            )
        first_line: dict[str, int] = {}
        for lineno, task in lines:
            if task.id in first_line:
                raise ConfigError(
                    f"{path}:{lineno}: repeats task ids: {task.id!r} is already on line {first_line[task.id]}"
                )
            first_line[task.id] = lineno
            ToolUseEnv._check_tools(domain, task, f"{path}:{lineno}")
        return [task for _, task in lines]

    @staticmethod
    def _check_tools(domain: Domain, task: Task, where: str) -> None:
        """Refuse, naming the line, a task whose tools cannot be built or that offers a tool its domain lacks:
        at make time rather than in the middle of an episode.

        Domains that build tools from the task itself (BFCL's ``context.functions``) fail on malformed
        data with whatever their parser raises, so those errors are reported the same way.
        """
        try:
            tools = domain.task_tools(task)
        except ToolUseError as exc:
            raise TaskError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            raise TaskError(f"{where}: task {task.id} has no usable tool definitions ({problem})") from exc
        missing = [name for name in task.tools if name not in tools]
        if missing:
            raise TaskError(f"{where}: task {task.id} offers unknown tools {missing}")

    @staticmethod
    def _select_tasks(tasks: list[Task], task_ids: list[str] | None) -> list[Task]:
        if task_ids is None:
            return tasks
        by_id = {task.id: task for task in tasks}
        unknown = [tid for tid in task_ids if tid not in by_id]
        if unknown:
            raise ConfigError(f"unknown task ids for this split: {unknown[:5]}")
        return [by_id[tid] for tid in task_ids]

    # -- Gymnasium API -------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self._close_session()
        task_id = (options or {}).get("task_id")
        if task_id is not None:
            if task_id not in self._by_id:
                raise ConfigError(f"task {task_id!r} is not in this env's tasks")
            self.task = self._by_id[task_id]
        else:
            self.task = self.domain.pick(self.tasks, self.np_random)
        self._session = self.domain.open(self.task)
        self._record = EpisodeRecord(self.task.id)
        instructions = self.domain.instructions_for(self.task)
        system = SYSTEM_PROMPT + (f"\n{instructions}" if instructions else "")
        self.messages = [{"role": "system", "content": system}, {"role": "user", "content": self.task.question}]
        info: dict[str, Any] = {
            "task_id": self.task.id,
            "domain": self.task.domain,
            "split": self.split,
            "tools": self._tool_schemas(self.task),
            "messages": list(self.messages),
        }
        if self.expose_reference:
            info["reference"] = self.task.reference.to_dict()
        return self.task.question, info

    def step(self, action: str | dict[str, Any]) -> tuple[str, float, bool, bool, dict]:
        if self._record is None or self._session is None or self.task is None:
            raise ResetNeeded("call reset() before step(); the episode has ended or never started")
        record = self._record
        record.turns += 1
        turn, finish_reason, problem = self._read_action(action, MAX_ACTION_CHARS)  # the action space's max_length
        calls = turn.calls[: self.max_calls_per_turn]
        dropped = turn.calls[self.max_calls_per_turn :]
        self.messages.append(self._assistant_message(turn.content, calls, record.turns))
        observation = ""
        if problem is not None:
            record.tool_calls.append(ToolCallRecord(None, None, False, False, problem, record.turns))
            record.all_calls_parsed = False
            observation = f"Error: {problem}"
            terminated = False
        elif finish_reason == "length":
            record.ended_with_eos = False
            observation = "The turn was cut off before it ended (finish_reason=length); the episode is over."
            terminated = True
        elif not calls:
            # a single-turn domain's answer is the turn itself (its calls, or none): no \boxed{} is asked for
            if self.domain.single_turn:
                record.answer = turn.content
            else:
                # with answer_from="any_turn", a \boxed{} of an earlier tool-call turn stands if this one has none
                record.answer = extract_boxed(turn.content) or record.answer
            if record.answer is None:
                observation = "No \\boxed{} answer found in the final turn; the episode is over."
            terminated = True
        else:
            if self.answer_from == "any_turn" and not self.domain.single_turn:
                # the authors' reward reads the last \boxed{} of the whole response, tool-call turns included
                record.answer = extract_boxed(turn.content) or record.answer
            observation = self._run_calls(calls, dropped, record)
            terminated = self.domain.single_turn
            if terminated:
                record.answer = turn.content
        truncated = not terminated and record.turns >= self.max_turns
        record.truncated = truncated
        info: dict[str, Any] = StepInfo(messages=list(self.messages))
        reward = 0.0
        if terminated or truncated:
            reward = self._finish(info)
        return observation, reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        lines = []
        for message in self.messages:
            text = message.get("content") or ""
            for call in message.get("tool_calls", []):
                text += f"\n-> {call['function']['name']}({call['function']['arguments']})"
            lines.append(f"[{message['role']}] {text}")
        return "\n".join(lines)

    def close(self) -> None:
        self._close_session()
        self.domain.close()
        super().close()

    # -- internals ------------------------------------------------------------------------------------

    def _tool_schemas(self, task: Task) -> list[dict[str, Any]]:
        """The task's OpenAI tool schemas, cached per task (BFCL reuses tool names with other docs)."""
        if task.id not in self._schemas:
            self._schemas[task.id] = [tool.schema for tool in self.domain.task_tools(task).values()]
        return self._schemas[task.id]

    @staticmethod
    def _read_action(action: Any, max_chars: int) -> tuple[ParsedTurn, str | None, str | None]:
        """Parse an action; the third element names why it could not be read at all.

        The size and shape are checked before any parsing, so an oversized or odd action costs no more
        than measuring it, and the parsers only ever see a string or a message of JSON data.
        """
        if isinstance(action, str):
            problem = text_size_problem(action, max_chars)
            return (ParsedTurn(""), None, problem) if problem else (parse_turn(action), "stop", None)
        if isinstance(action, dict):
            problem = message_problem(action, max_chars)
            if problem is not None:
                return ParsedTurn(""), None, problem
            return parse_openai_message(action), action.get("finish_reason") or "stop", None
        problem = f"an action must be a string or an assistant message dict, got {type(action).__name__}"
        return ParsedTurn(""), None, problem

    @staticmethod
    def _assistant_message(content: str, calls: list[ParsedCall], turn: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        good = [(i, c) for i, c in enumerate(calls) if c.error is None]
        if good:
            message["tool_calls"] = [
                {"id": f"call_{turn}_{i}", "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for i, c in good
            ]
        return message

    def _run_calls(self, calls: list[ParsedCall], dropped: list[ParsedCall], record: EpisodeRecord) -> str:
        """Run the turn's calls in order while the turn budget lasts; the rest are answered, not run."""
        responses = []
        deadline = _clock() + self.turn_budget_s
        for i, call in enumerate(calls):
            content = self._run_call(call, record, deadline)
            self.messages.append(
                {
                    "role": "tool",
                    "tool_call_id": f"call_{record.turns}_{i}",
                    "name": call.name or "",
                    "content": content,
                }
            )
            responses.append(f"<tool_response>\n{content}\n</tool_response>")
        for call in dropped:
            error = f"too many tool calls in one turn (at most {self.max_calls_per_turn}); this one was not run"
            self._refuse_call(call, record, error)
        if dropped:
            responses.append(f"Error: {len(dropped)} calls beyond the limit of {self.max_calls_per_turn} were not run.")
        return "\n".join(responses)

    def _refuse_call(self, call: ParsedCall, record: EpisodeRecord, error: str) -> str:
        """Record a call that was not run: not valid, though a name the task offers is no hallucinated tool."""
        known = self._session is not None and call.name in self._session.tools
        record.tool_calls.append(ToolCallRecord(call.name, call.arguments, known, False, error, record.turns))
        return f"Error: {error}"

    @staticmethod
    def _schema_error(tool: Tool, arguments: dict[str, Any]) -> str | None:
        """Why the arguments fail the tool's schema, or None; a validator that fails is reported, not raised."""
        try:
            error = tool.validation_error(arguments)
        except Exception as exc:  # e.g. a pattern or a depth the validator cannot handle
            error = f"the arguments could not be validated ({type(exc).__name__})"
        return None if error is None else f"invalid arguments for {tool.name}: {_clip(error, 300)}"

    def _run_call(self, call: ParsedCall, record: EpisodeRecord, deadline: float = float("inf")) -> str:
        """Check one call and run it if it is valid and the turn's budget (``deadline``) is not spent."""
        assert self._session is not None
        tools: dict[str, Tool] = self._session.tools
        known = call.name in tools
        error = call.error
        if error is None and not known:
            error = f"unknown tool {_clip(repr(call.name), 100)}; available tools: {', '.join(tools)}"
        if error is None:
            tool = tools[call.name]  # type: ignore[index]
            error = self._schema_error(tool, call.arguments or {})
        if error is not None:
            record.tool_calls.append(ToolCallRecord(call.name, call.arguments, known, False, error, record.turns))
            record.all_calls_parsed &= call.error is None
            return f"Error: {error}"
        if _clock() >= deadline:
            budget = f"turn budget exceeded ({self.turn_budget_s:g} s of tool calls per turn); this call was not run"
            return self._refuse_call(call, record, budget)
        try:
            content = self._session.call(tool, call.arguments or {})
            runtime_error = None
        except Exception as exc:  # a tool failing is an observation, never a crash of the env
            runtime_error = f"{type(exc).__name__}: {exc}"
            content = f"Error: {runtime_error}"
        record.tool_calls.append(ToolCallRecord(call.name, call.arguments, True, True, runtime_error, record.turns))
        return _clip(content, self.max_tool_output_chars)

    def _finish(self, info: dict[str, Any]) -> float:
        assert self._session is not None and self._record is not None and self.task is not None
        record = self._record
        record.outcome = self._check(self._session, record)
        result, error = self._score(record, self.task.reference)
        info[EPISODE_KEY] = record.summary()
        if error is not None:
            info[EPISODE_KEY]["reward_error"] = error
        info["reward_components"] = dict(result.components)
        info["record"] = record
        self._close_session()
        self._record = None
        return float(result.value)

    def _score(self, record: EpisodeRecord, reference: Any) -> tuple[RewardResult, str | None]:
        """The reward's result, and None; or, when the reward raised or returned something that is not a
        finite number or a ``RewardResult``, reward 0 (no components) and the error naming the reward.

        As with :meth:`_check`, ending the episode must not raise: the error is reported in
        ``info["tool_episode"]["reward_error"]`` and warned about (``RuntimeWarning``, once per message).
        """
        try:
            return reward_result(self.reward_fn(record, reference), self.reward_fn), None
        except RewardError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"reward {reward_label(self.reward_fn)} raised {type(exc).__name__}: {exc}"
        warnings.warn(f"{error} (the episode scores 0.0)", RuntimeWarning, stacklevel=4)
        return RewardResult(0.0, {}), error

    @staticmethod
    def _check(session: Session, record: EpisodeRecord) -> Outcome:
        """The checker's verdict; a checker that fails (a service gone, say) gives a wrong verdict naming why.

        Whatever the policy did, ending the episode must not raise, so the failure is reported in
        ``info["tool_episode"]["check"]["error"]`` rather than propagated.
        """
        try:
            return session.check_episode(record)
        except Exception as exc:
            return Outcome(False, 0.0, {"error": f"the outcome could not be checked: {type(exc).__name__}: {exc}"})

    def _close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
