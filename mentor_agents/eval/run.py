"""``mentor eval``: play an agent on envs x splits, write per-episode JSONL and a results JSON.

Why it is built this way:

* Every episode is a request keyed by (env, split, task_id, sample) with a seed derived from those
  and the run seed (sha256, not Python's salted ``hash``), so an episode's outcome depends only on
  its key: local, Ray and resumed runs produce the same rows.
* Rows are appended to ``<out>.episodes.jsonl`` and flushed as they finish; its first line records the
  config. Rerunning with the same ``--out`` skips the keys already there (a torn last line from a kill is
  dropped), so nothing is lost or counted twice; a different config is refused rather than mixed in.
* Metrics are computed at the end from the rows (``eval.metrics``, ``eval.schema``), independent of
  finishing order: per slot, success broken down by OOD axis, template and BFCL category, and for
  BFCL its own summaries (``eval.bfcl``) with a headline that a no-call agent cannot game.
* ``--episodes N`` plays a seeded sample stratified over categories, axes and templates
  (``eval.sampling``), recorded in the fingerprint; never the first N tasks of a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mentor_agents.agents import AgentOptions, AgentSpec, EpisodeRequest, build_agent, describe, identity
from mentor_agents.apart_prefill import PREFILL_MODES
from mentor_agents.errors import UserError
from mentor_agents.eval.log import EpisodeLog, ResumeMismatch, episodes_path  # noqa: F401 (public here)
from mentor_agents.eval.sampling import METHOD, stratified_sample
from mentor_agents.eval.schema import (  # noqa: F401 (SCHEMA_PATH and validate_results: public here too)
    SCHEMA_PATH,
    _version,
    dependency_versions,
    slot_result,
    validate_results,
    write_results,
)
from mentor_agents.eval.slots import DEFAULT_SPLITS, make_env, resolve_slots  # noqa: F401 (public here)
from mentor_agents.seeding import derive_seed
from mentor_agents.train.logs import SlotProgress, ensure_handler
from tooluse_envs.protocols import Slot

SCHEMA_VERSION = "2"  # 2: headline, sample strata, breakdowns, BFCL report, sampling in the config
SPLIT_LABELS = {"test_id": "ID", "test_ood": "OOD", "train": "train"}


@dataclass
class EvalConfig:
    """One evaluation run. Everything except ``out``, ``ray*`` and ``progress`` defines the results."""

    agent: str
    """An ``--agent`` spec (see ``mentor_agents.agents``)."""
    envs: list[str] = field(default_factory=lambda: ["paper"])
    """Env ids, or protocol names (paper, cross-domain, cross-domain/<domain>) for their evaluate slots."""
    splits: list[str] | None = None
    """Splits to play; None: the protocol's, or test_id and test_ood for plain env ids."""
    episodes: int | None = None
    """N tasks of each env x split, a sample stratified over categories/axes/templates (None: all)."""
    sample_seed: int = 0
    """Seed of that sample; apart from ``seed`` so runs with other episode seeds play the same tasks."""
    samples: int = 1
    """Samples per task (k of pass@k)."""
    seed: int = 0
    """Run seed; each episode's seed is derived from it and the episode's key."""
    reward: str = "outcome"
    """Reward reported besides success: a name from tooluse_envs.rewards.REWARDS, ``pkg.module:function``
    or an installed plugin's name (``tooluse_envs.rewards.resolve_reward``)."""
    max_turns: int = 8
    """Assistant turns before an episode is truncated."""
    options: AgentOptions = field(default_factory=AgentOptions)
    """Sampling and batching of model agents."""
    out: str = "runs/eval.json"
    """Results JSON; episodes go to the same name with ``.episodes.jsonl``."""
    ray: bool = False
    """Run episodes on Ray actors (a local cluster unless ``ray_address``)."""
    ray_address: str | None = None
    """Address of an existing Ray cluster."""
    workers: int = 2
    """Ray actors."""
    threads: int = 0
    """Torch CPU threads of model agents, here or in each Ray actor (which reserves as many CPUs);
    0: this process's count. Local and Ray results are identical at equal counts."""
    progress: bool = True
    """Progress per slot: tqdm bars when stderr is a terminal, else logging lines (``train.logs``)."""
    tasks_file: str | None = None
    """A JSONL task file (``mentor teach`` output, say) played instead of each slot's split; the env
    refuses tasks of another domain. Its path is in the fingerprint, its tasks in the task-set hash."""

    def __post_init__(self) -> None:
        """Refuse a config that could only fail after playing every episode (at the schema check)."""
        from tooluse_envs.rewards import resolve_reward

        if self.threads < 0:
            raise ValueError(f"threads={self.threads}: must not be negative")
        counts = {"samples": self.samples, "max_turns": self.max_turns, "workers": self.workers}
        counts |= {"batch_size": self.options.batch_size, "max_new_tokens": self.options.max_new_tokens}
        if self.episodes is not None:
            counts["episodes"] = self.episodes
        bad = [f"{name}={value}" for name, value in counts.items() if value < 1]
        if bad:
            raise ValueError(f"{', '.join(bad)}: must be at least 1")
        resolve_reward(self.reward)  # an unknown reward, or one that cannot be imported: one line, now
        unknown = [s for s in self.splits or [] if s not in SPLIT_LABELS]
        if unknown:
            raise ValueError(f"unknown split(s) {unknown}; choose from {', '.join(SPLIT_LABELS)}")
        if self.options.prefill not in PREFILL_MODES:
            raise ValueError(f"prefill must be one of {', '.join(PREFILL_MODES)}, not {self.options.prefill!r}")
        if self.options.temperature < 0 or not 0 < self.options.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")

    def fingerprint(self, spec: AgentSpec, slots: list[Slot]) -> dict[str, Any]:
        """The part of the config results depend on: what a resumed run must match."""
        out: dict[str, Any] = {
            "agent": spec.label,
            "agent_identity": identity(spec),
            "slots": [{"env_id": s.env_id, "split": s.split, "kwargs": s.kwargs} for s in slots],
            "episodes": self.episodes,
            "sampling": {"method": METHOD, "seed": self.sample_seed},
            "samples": self.samples,
            "seed": self.seed,
            "reward": self.reward,
            "max_turns": self.max_turns,
        }
        if path := self.reward_path():
            out["reward_path"] = path
        if self.tasks_file is not None:
            out["tasks_file"] = str(self.tasks_file)
        if not spec.scripted:
            out["options"] = asdict(self.options)
            if self.options.prefill == "batched" or spec.kind in ("openai", "sb3"):  # batched: as before the
                del out["options"]["prefill"]  # option existed, so older files resume; other agents ignore it
        if threads := self.torch_threads(spec):  # thread count changes a model's last bits, now and then a token
            out["torch_threads"] = threads
        return json.loads(json.dumps(out))

    def reward_path(self) -> str | None:
        """The ``pkg.module:function`` import path of a reward that is not built in (None for a built-in): in
        the fingerprint, so results say which code scored them and a resume notices a plugin that moved."""
        from tooluse_envs.rewards import REWARDS, resolve_reward

        if self.reward in REWARDS:
            return None
        return resolve_reward(self.reward)[0]

    def torch_threads(self, spec: AgentSpec) -> int:
        """Torch threads a local model computes with, here or per Ray actor (0: no local model)."""
        if spec.scripted or spec.kind == "openai":
            return 0
        import torch

        return self.threads or torch.get_num_threads()


@dataclass(frozen=True)
class Unit:
    """Episodes played together: one per task for scripted agents, a fixed batch for model agents."""

    slot_index: int
    slot: Slot
    requests: tuple[EpisodeRequest, ...]


@dataclass
class TaskSet:
    """The tasks each slot plays, the teacher's tool-call counts on them, and the set's hash."""

    tasks: list[list[Any]]
    """Per slot, in the order of the slots."""
    teacher: list[Counter[str]]
    sha256: str
    strata: list[dict[str, list[int]]] = field(default_factory=list)
    """Per slot, ``stratum -> [drawn, population]`` of the sample."""


def load_task_set(slots: list[Slot], config: EvalConfig) -> TaskSet:
    tasks: list[list[Any]] = []
    teacher: list[Counter[str]] = []
    strata: list[dict[str, list[int]]] = []
    digest = hashlib.sha256()
    for slot in slots:
        env = make_env(slot, config)
        where = json.dumps({"env_id": slot.env_id, "split": slot.split, "kwargs": slot.kwargs}, sort_keys=True)
        sample = stratified_sample(env.unwrapped.tasks, config.episodes, config.sample_seed, where)
        env.close()
        chosen = sample.tasks
        strata.append(sample.strata)
        tasks.append(chosen)
        teacher.append(Counter(c.name for t in chosen for c in t.reference.tool_calls))
        head = {"env_id": slot.env_id, "split": slot.split, "kwargs": slot.kwargs}
        digest.update(json.dumps(head, sort_keys=True).encode())
        for task in chosen:
            digest.update(json.dumps(task.to_dict(), sort_keys=True, default=str).encode())
    return TaskSet(tasks, teacher, digest.hexdigest(), strata)


def make_units(slots: list[Slot], task_set: TaskSet, config: EvalConfig, batch: int) -> list[Unit]:
    """Requests grouped into units of ``batch`` (fixed: a model batch must replay identically)."""
    units = []
    for index, (slot, tasks) in enumerate(zip(slots, task_set.tasks, strict=True)):
        for sample in range(config.samples):
            reqs = [
                EpisodeRequest(
                    slot.env_id,
                    slot.split,
                    t.id,
                    sample,
                    derive_seed(config.seed, slot.env_id, slot.split, t.id, sample),
                )
                for t in tasks
            ]
            units += [Unit(index, slot, tuple(reqs[i : i + batch])) for i in range(0, len(reqs), batch)]
    return units


def pending(units: list[Unit], done: dict[tuple, dict], independent: bool) -> list[Unit]:
    """Units with episodes still missing; batch-dependent units are replayed whole (rows deduplicated)."""
    out = []
    for unit in units:
        missing = tuple(r for r in unit.requests if r.key not in done)
        if missing:
            out.append(Unit(unit.slot_index, unit.slot, missing if independent else unit.requests))
    return out


def play_local(units: list[Unit], config: EvalConfig, agent: Any) -> Iterator[dict]:
    """Play units in this process, one set of envs per slot, streaming rows as they finish."""
    envs: dict[int, list[Any]] = {}
    try:
        for unit in units:
            if unit.slot_index not in envs:
                n = 1 if agent.independent else agent.batch_size
                envs[unit.slot_index] = [make_env(unit.slot, config) for _ in range(n)]
            yield from agent.play(envs[unit.slot_index], list(unit.requests))
    finally:
        for group in envs.values():
            for env in group:
                env.close()


def run_evaluation(config: EvalConfig, overwrite: bool = False) -> dict[str, Any]:
    """Evaluate, resuming from ``config.out``'s episodes file; returns (and writes) the results dict."""
    start = time.perf_counter()
    spec = AgentSpec.parse(config.agent)
    if not spec.scripted and config.samples > 1 and config.options.temperature == 0:
        warnings.warn(
            f"{config.samples} samples per task at temperature 0 are identical (greedy): pass@k equals pass@1; "
            "pass --temperature 0.6 (or so) for distinct samples",
            stacklevel=2,
        )
    slots = resolve_slots(config.envs, config.splits, config.tasks_file)
    task_set = load_task_set(slots, config)
    header = {
        "schema_version": SCHEMA_VERSION,
        "config": config.fingerprint(spec, slots),
        "task_set_sha256": task_set.sha256,
    }
    path = episodes_path(config.out)
    if overwrite and path.exists():
        path.unlink()
    fresh = not path.exists()
    log = EpisodeLog(path, header)
    batch = 16 if spec.scripted else config.options.batch_size
    units = make_units(slots, task_set, config, batch)
    todo = pending(units, log.rows, independent=spec.scripted)
    bar = slot_progress(slots, todo, f"eval {spec.label}", config.progress)
    try:
        if todo:
            rows = _execute(todo, config, spec)
            for row in rows:
                log.write(row)
                bar.update((row["env_id"], row["split"]))
    except UserError:  # a wrong model path or URL before any episode: the corrected rerun must not be refused
        if fresh and not log.rows:
            log.close()
            path.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
        log.close()
    results = build_results(config, spec, slots, task_set, log, time.perf_counter() - start)
    write_results(results, Path(config.out))
    return results


def slot_label(slot: Slot) -> str:
    """``Calculator ID``: the env's short name and the split's label (results and progress bars)."""
    name = slot.env_id.split("/")[-1].rsplit("-v", 1)[0]
    return f"{name} {SPLIT_LABELS.get(slot.split, slot.split)}"


def slot_progress(slots: list[Slot], todo: list[Unit], desc: str, enabled: bool) -> SlotProgress:
    """Progress per slot (env x split) of the episodes still to play: tqdm bars on a terminal, else
    logging lines (``train.logs``), so a long eval says which slot it is on."""
    totals: dict[tuple[str, str], tuple[str, int]] = {}
    for unit in todo:
        key = (unit.slot.env_id, unit.slot.split)
        label, count = totals.get(key, (slot_label(unit.slot), 0))
        totals[key] = (label, count + len(unit.requests))
    if enabled and totals:
        ensure_handler()
    return SlotProgress(totals, desc, enabled=enabled)


def _execute(units: list[Unit], config: EvalConfig, spec: AgentSpec) -> Iterator[dict]:
    threads = config.torch_threads(spec)  # the same count here and on Ray (see mentor_agents.distributed)
    if config.ray or config.ray_address:
        from mentor_agents.distributed.eval_actors import RayEvalConfig, play_on_ray

        ray_cfg = RayEvalConfig(
            config.ray_address,
            config.workers,
            cpus_per_worker=threads or 1,
            torch_threads=threads or None,
        )
        return play_on_ray(units, config, ray_cfg)
    return _play_local_with_threads(units, config, spec, threads)


def _play_local_with_threads(units: list[Unit], config: EvalConfig, spec: AgentSpec, threads: int) -> Iterator[dict]:
    threads_set: contextlib.AbstractContextManager = contextlib.nullcontext()
    if threads:  # model agents only: scripted ones never import torch
        from mentor_agents.train.common import torch_threads

        threads_set = torch_threads(threads)
    with threads_set:
        yield from play_local(units, config, build_agent(spec, config.options, seed=config.seed))


def build_results(
    config: EvalConfig, spec: AgentSpec, slots: list[Slot], task_set: TaskSet, log: EpisodeLog, wall: float
) -> dict[str, Any]:
    """The results document (see ``results.schema.json``)."""
    results = []
    for index, slot in enumerate(slots):
        wanted = {t.id for t in task_set.tasks[index]}
        rows = [
            r
            for k, r in sorted(log.rows.items())
            if k[0] == slot.env_id and k[1] == slot.split and k[2] in wanted and k[3] < config.samples
        ]
        label = slot_label(slot)
        tasks, teacher, strata = task_set.tasks[index], task_set.teacher[index], task_set.strata[index]
        results.append(slot_result(slot, label, rows, tasks, teacher, strata, config.samples))
    return {
        "schema_version": SCHEMA_VERSION,
        "project": {"name": "tooluse-mentor", "version": _version("tooluse-mentor")},
        "versions": dependency_versions(),
        "agent": describe(spec),
        "config": config.fingerprint(spec, slots),
        "env_ids": sorted({s.env_id for s in slots}),
        "task_set_sha256": task_set.sha256,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "execution": {
            "backend": "ray" if (config.ray or config.ray_address) else "local",
            "workers": config.workers if (config.ray or config.ray_address) else 1,
            "resumed_episodes": log.resumed,
            "torch_threads": config.torch_threads(spec),
            "wall_s": wall,
        },
        "episodes_file": episodes_path(config.out).name,
        "results": results,
    }
