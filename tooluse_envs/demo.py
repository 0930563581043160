"""Play the suite with the scripted agents: ``python -m tooluse_envs.demo [--episodes N]``.

Runs the teacher (oracle: replays each task's reference) and a no-tool baseline on every registered
environment and split, and prints success rate and mean MENTOR reward. The oracle row checks the data
and checkers (it must score 100%); the no-tool row is the floor a trained student has to beat.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import gymnasium as gym
from tqdm import tqdm

import tooluse_envs
from tooluse_envs.env import ToolUseEnv
from tooluse_envs.oracle import no_tool_action, reference_actions
from tooluse_envs.tasks import SPLITS, Task

AGENTS: dict[str, Callable[[Task], list[str]]] = {
    "oracle": lambda task: reference_actions(task.reference),
    "no-tool": lambda task: [no_tool_action()],
}


def play(env: gym.Env, actions: list[str], task_id: str) -> tuple[bool, float]:
    """One episode of scripted actions; returns (success, reward)."""
    env.reset(options={"task_id": task_id})
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return bool(info["tool_episode"]["success"]), float(reward)
    raise RuntimeError(f"scripted actions did not end the episode of {task_id}")


def run(episodes: int, reward: str = "mentor") -> list[dict]:
    """Success and mean reward of each agent on ``episodes`` tasks spread over each env and split."""
    gym.register_envs(tooluse_envs)
    jobs = [(env_id, split) for env_id in tooluse_envs.ENV_IDS for split in SPLITS]
    rows = []
    with tqdm(total=len(jobs) * len(AGENTS) * episodes, desc="episodes", unit="ep", file=sys.stderr) as bar:
        for env_id, split in jobs:
            env = gym.make(env_id, split=split, reward=reward)
            unwrapped = env.unwrapped
            assert isinstance(unwrapped, ToolUseEnv)
            every = unwrapped.tasks
            tasks = every[:: max(1, len(every) // episodes)][:episodes]  # spread over the split (Mixed: all parts)
            for agent, policy in AGENTS.items():
                start, results = time.perf_counter(), []
                for task in tasks:
                    results.append(play(env, policy(task), task.id))
                    bar.update()
                bar.update(episodes - len(tasks))
                rows.append(
                    {
                        "env": env_id,
                        "split": split,
                        "agent": agent,
                        "episodes": len(results),
                        "success": sum(ok for ok, _ in results) / len(results),
                        "reward": sum(r for _, r in results) / len(results),
                        "seconds": time.perf_counter() - start,
                    }
                )
            env.close()
    return rows


def format_table(rows: list[dict], reward: str) -> str:
    header = f"| env | split | agent | episodes | success | mean {reward} reward |"
    lines = [header, "|---|---|---|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['env']} | {row['split']} | {row['agent']} | {row['episodes']} | "
            f"{row['success']:.1%} | {row['reward']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100, help="tasks per env and split (default 100)")
    parser.add_argument("--reward", default="mentor", help="reward to report (default mentor)")
    args = parser.parse_args(argv)
    print(format_table(run(args.episodes, args.reward), args.reward))
    return 0


if __name__ == "__main__":
    sys.exit(main())
