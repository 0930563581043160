"""Soak test (``make soak``): many Code and Calculator episodes, checking that nothing leaks.

Plays each task's teacher reference (:func:`tooluse_envs.oracle.play_reference`), cycling over the
``train`` split, with one env per domain reused through ``reset`` as a user would. Every ``--sample-every``
episodes it records this process's RSS (``VmRSS``), its open fds, its zombie children, and its live jail
processes (its descendants). After closing the envs (and the process's sandbox pools) it also looks for
processes left under the sandbox uids its jails used (unless another process has leased the uid since),
and for leftover cgroup leaves and working directories of ours.

It then asserts:

* each domain's RSS growth, from its first sample after warm-up (the first ``--warmup`` fraction of its
  episodes: module imports, task files, the first jails) to its last sample, is under ``--rss-bound-mib``
  (64 MiB by default). Why 64 MiB: on a 2-core VM the growth measured 1.4 MiB (Code, 2,000 episodes)
  and 0.1 MiB (Calculator, 20,000), so 64 MiB leaves ample room for allocator noise and per-task caches
  (at the defaults each Code task is played only once) while failing on a leak of more than ~3 KiB per
  Calculator episode or ~33 KiB per Code episode (a leaked pipe buffer is 64 KiB, a thread stack more).
  Smaller leaks show in the summary's per-domain slope (KiB per episode), which is recorded, not asserted;
* open fds back to the baseline (before the first env) within 2;
* no zombie children after close, and never more than ``--max-transient-zombies`` (4, the Code pool's
  size) while playing: the pool resets a jail in a background thread after each episode, so a jail that
  just exited can be caught as a zombie for the moment before that thread reaps it; a leak would pile up;
* no leftover jail processes, cgroup leaves or working directories after close.

Prints a one-screen summary, writes the samples and verdict as JSON (``--out``), and exits 1 if any
assertion fails. Not part of ``make test``: at the defaults it takes minutes.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import tooluse_envs
from sandbox import cgroup, uids
from sandbox.subprocess_backend import workdir_prefix
from tooluse_envs.oracle import play_reference

MIB = 1 << 20


def rss_bytes() -> int:
    """This process's resident set size, from ``/proc/self/status``."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    """How many file descriptors this process holds (the listing's own fd excluded)."""
    return len(os.listdir("/proc/self/fd")) - 1


def _process_table() -> dict[int, tuple[int, str, int, str]]:
    """pid -> (ppid, state, real uid, name) of every process on the host."""
    table = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/status") as handle:
                    fields = dict(line.split(":", 1) for line in handle if ":" in line)
            except OSError:
                continue
            try:
                table[int(entry.name)] = (
                    int(fields["PPid"]),
                    fields["State"].split()[0],
                    int(fields["Uid"].split()[0]),
                    fields["Name"].strip(),
                )
            except (KeyError, ValueError, IndexError):
                continue
    return table


OUR_UIDS: set[int] = set()
"""Sandbox uids our jails were seen running under (the pool leases them; other processes lease others)."""


def _uid_leased_elsewhere(uid: int) -> bool:
    """True while another process holds ``uid``'s lease lock (see :mod:`sandbox.uids`): it is theirs now."""
    try:
        fd = os.open(uids._lock_dir() / f"{uid}.lock", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops our lock, if we got it
    return False


def processes(closed: bool = False) -> dict[str, list[str]]:
    """Our zombie children, and our live jail processes: every descendant of ours, and (once ``closed``)
    every process of a sandbox uid our jails used that no other process has leased since.

    Not every process of the sandbox uid range: on a shared host other processes (a test run, another
    trainer) lease uids of that range for their own jails.
    """
    table = _process_table()
    me = os.getpid()
    zombies = [f"{pid} {name}" for pid, (ppid, state, _, name) in table.items() if ppid == me and state == "Z"]
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    descendants, stack = set(), [me]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in descendants:
                descendants.add(child)
                stack.append(child)
    OUR_UIDS.update(
        table[pid][2] for pid in descendants if uids.UID_BASE <= table[pid][2] < uids.UID_BASE + uids.UID_COUNT
    )
    orphaned_uids = {uid for uid in OUR_UIDS if not _uid_leased_elsewhere(uid)} if closed else set()
    jails = sorted(
        pid
        for pid, (_, state, uid, _n) in table.items()
        if state != "Z" and (pid in descendants or uid in orphaned_uids)
    )
    return {"zombies": zombies, "jails": [f"{pid} {table[pid][3]} uid={table[pid][2]}" for pid in jails]}


def cgroup_leaves() -> list[str]:
    """This process's jail cgroup leaves (named after their owner: see :mod:`sandbox.cgroup`)."""
    found = cgroup.layout()
    if found is None:
        return []
    prefix = cgroup._owner_prefix()
    leaves = []
    for parent in found.parents:
        try:
            leaves += [os.path.join(parent, name) for name in os.listdir(parent) if name.startswith(prefix)]
        except OSError:
            continue
    return sorted(leaves)


def workdirs() -> list[str]:
    """This process's sandbox working directories (the subprocess backend's, named after their owner)."""
    root, prefix = tempfile.gettempdir(), workdir_prefix()
    return sorted(os.path.join(root, name) for name in os.listdir(root) if name.startswith(prefix))


def sample(domain: str, episode: int) -> dict[str, Any]:
    procs = processes()
    return {
        "domain": domain,
        "episode": episode,
        "t": round(time.monotonic(), 3),
        "rss": rss_bytes(),
        "fds": open_fds(),
        "zombies": len(procs["zombies"]),
        "jails": len(procs["jails"]),
    }


def soak_domain(
    env_id: str, domain: str, episodes: int, every: int, samples: list[dict[str, Any]], bar: Any
) -> dict[str, Any]:
    """Play ``episodes`` reference episodes on one reused env; return the domain's counts and rate."""
    env = gym.make(env_id, split="train")
    tasks = list(env.unwrapped.tasks)
    failures: list[str] = []
    start = time.monotonic()
    try:
        for episode in range(1, episodes + 1):
            task = tasks[(episode - 1) % len(tasks)]
            reward, _ = play_reference(env, task.id)
            if reward < 1.0 and len(failures) < 20:
                failures.append(f"{task.id}: reward {reward}")
            if bar is not None:
                bar.update(1)
            if episode % every == 0 or episode == episodes:
                samples.append(sample(domain, episode))
    finally:
        env.close()
    elapsed = time.monotonic() - start
    return {
        "episodes": episodes,
        "tasks": len(tasks),
        "seconds": round(elapsed, 2),
        "episodes_per_s": round(episodes / elapsed, 1) if elapsed else None,
        "reward_below_1": failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=int, default=2000, help="Code-v0 episodes (default 2000)")
    parser.add_argument("--calculator", type=int, default=20000, help="Calculator-v0 episodes (default 20000)")
    parser.add_argument("--out", type=Path, default=None, help="write the samples and verdict here as JSON")
    parser.add_argument(
        "--sample-every",
        type=int,
        default=0,
        help="sample every K episodes (default: 1%% of each domain's episodes, at least 1)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.1,
        help="fraction of each domain's episodes before the RSS baseline (default 0.1)",
    )
    parser.add_argument(
        "--rss-bound-mib",
        type=float,
        default=64.0,
        help="largest RSS growth after warm-up allowed, MiB (default 64; see the module doc)",
    )
    parser.add_argument(
        "--max-transient-zombies",
        type=int,
        default=4,
        help="zombie children allowed in any one sample while playing (default 4: see the doc)",
    )
    args = parser.parse_args(argv)

    gym.register_envs(tooluse_envs)
    gc.collect()
    baseline = sample("baseline", 0)
    samples: list[dict[str, Any]] = [baseline]
    plan = [("tooluse/Code-v0", "code", args.code), ("tooluse/Calculator-v0", "calculator", args.calculator)]
    plan = [item for item in plan if item[2] > 0]
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=sum(n for *_, n in plan), unit="ep", dynamic_ncols=True)
    domains: dict[str, dict[str, Any]] = {}
    spans: dict[str, tuple[int, int]] = {}  # domain -> indices into samples of its first warm and last sample
    try:
        for env_id, domain, episodes in plan:
            if bar is not None:
                bar.set_description(domain)
            every = args.sample_every or max(1, episodes // 100)
            first = len(samples)
            domains[domain] = soak_domain(env_id, domain, episodes, every, samples, bar)
            warm = next(
                (i for i in range(first, len(samples)) if samples[i]["episode"] >= args.warmup * episodes),
                len(samples) - 1,
            )
            spans[domain] = (warm, len(samples) - 1)
    finally:
        if bar is not None:
            bar.close()
        from tooluse_envs.domains.code import close_pools

        close_pools()
    gc.collect()
    time.sleep(0.5)  # let killed jails be reaped
    procs = processes(closed=True)
    final = sample("closed", 0)
    samples.append(final)
    leaves, dirs = cgroup_leaves(), workdirs()

    growth: dict[str, dict[str, Any]] = {}
    for domain, (warm, last) in spans.items():
        episodes = samples[last]["episode"] - samples[warm]["episode"]
        delta = samples[last]["rss"] - samples[warm]["rss"]
        growth[domain] = {
            "after_warmup": samples[warm]["rss"],
            "last": samples[last]["rss"],
            "growth": delta,
            "over_episodes": episodes,
            "kib_per_episode": round(delta / 1024 / episodes, 3) if episodes else None,
        }
    checks = {
        "rss_flat": all(g["growth"] < args.rss_bound_mib * MIB for g in growth.values()),
        "fds_back_to_baseline": abs(final["fds"] - baseline["fds"]) <= 2,
        "no_zombies_after_close": not procs["zombies"],
        "zombies_transient": all(s["zombies"] <= args.max_transient_zombies for s in samples),
        "no_leftover_jails": not procs["jails"],
        "no_leftover_cgroup_leaves": not leaves,
        "no_leftover_workdirs": not dirs,
    }
    failed = [name for name, ok in checks.items() if not ok]
    result = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "domains": domains,
        "rss": {
            "baseline": baseline["rss"],
            "per_domain": growth,
            "max": max(s["rss"] for s in samples),
            "bound": int(args.rss_bound_mib * MIB),
        },
        "fds": {"baseline": baseline["fds"], "max": max(s["fds"] for s in samples), "after_close": final["fds"]},
        "max_zombies_seen": max(s["zombies"] for s in samples),
        "max_jail_processes_seen": max(s["jails"] for s in samples),
        "leftovers": {"zombies": procs["zombies"], "jails": procs["jails"], "cgroup_leaves": leaves, "workdirs": dirs},
        "checks": checks,
        "passed": not failed,
        "samples": samples,
    }

    def mib(value: int) -> str:
        return f"{value / MIB:.1f} MiB"

    print("soak:")
    for domain, info in domains.items():
        print(
            f"  {domain:<11} {info['episodes']:>6} episodes over {info['tasks']} train tasks in "
            f"{info['seconds']:.1f} s ({info['episodes_per_s']} episodes/s); "
            f"reward < 1: {len(info['reward_below_1'])}"
        )
    print(
        f"  RSS         baseline {mib(baseline['rss'])}, max {mib(result['rss']['max'])}, "
        f"after close {mib(final['rss'])}; growth after warm-up (bound {args.rss_bound_mib:g} MiB):"
    )
    for domain, g in growth.items():
        print(
            f"    {domain:<11} {mib(g['after_warmup'])} -> {mib(g['last'])}: {mib(g['growth'])} over "
            f"{g['over_episodes']} episodes ({g['kib_per_episode']} KiB/episode)"
        )
    print(f"  fds         baseline {baseline['fds']}, max {result['fds']['max']}, after close {final['fds']}")
    seen = sum(1 for s in samples if s["zombies"])
    print(
        f"  zombies     max {result['max_zombies_seen']} in one sample ({seen} of {len(samples)} samples had any), "
        f"after close {len(procs['zombies'])}"
    )
    print(
        f"  jails       max live processes seen {result['max_jail_processes_seen']}, after close {len(procs['jails'])}"
    )
    print(f"  leftovers   cgroup leaves {len(leaves)}, workdirs {len(dirs)}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"  wrote {args.out}")
    if failed:
        print(f"soak FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("soak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
