"""Prints the derived rates (steps/s, calls/s) that benchmarks store in ``extra_info``."""

import gymnasium as gym

import tooluse_envs

gym.register_envs(tooluse_envs)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    rows = [(b.fullname, b.extra_info) for b in getattr(session, "benchmarks", []) if b.extra_info]
    if rows:
        terminalreporter.section("derived rates (from the median round)")
        for name, extra in rows:
            terminalreporter.line(f"{name}: {extra}")
