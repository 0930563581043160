from collections import Counter

import gymnasium as gym
import pytest

from tooluse_envs.errors import ConfigError
from tooluse_envs.protocols import get_protocols


def test_mixed_draws_domains_by_weight():
    env = gym.make("tooluse/Mixed-v0", split="test_id", weights={"calculator": 3, "sql": 1})
    env.reset(seed=0)
    counts = Counter(env.reset()[1]["domain"] for _ in range(800))
    assert set(counts) == {"calculator", "sql"}
    assert 0.68 < counts["calculator"] / 800 < 0.82  # 3:1 within sampling noise


def test_mixed_tasks_keep_their_own_tools_and_instructions():
    env = gym.make("tooluse/Mixed-v0", split="test_id", weights={"calculator": 1, "sql": 1})
    for _ in range(20):
        _, info = env.reset()
        names = {t["function"]["name"] for t in info["tools"]}
        assert ("run_sql" in names) == (info["domain"] == "sql")
        assert ("add" in names) == (info["domain"] == "calculator")


def test_mixed_rejects_unknown_domains_and_bad_weights():
    with pytest.raises(ConfigError, match="weights"):
        gym.make("tooluse/Mixed-v0", weights={"search": 1})
    with pytest.raises(ConfigError, match="weights"):
        gym.make("tooluse/Mixed-v0", weights={"sql": 0})


def test_protocols_name_envs_that_exist():
    paper = get_protocols("paper")[0]
    assert [s.env_id for s in paper.train] == ["tooluse/Calculator-v0"]
    assert {s.env_id for s in paper.evaluate} == {"tooluse/Calculator-v0", "tooluse/BFCL-v0", "tooluse/Search-v0"}
    folds = get_protocols("cross-domain")
    assert len(folds) == 4
    for fold in folds:
        held_out = fold.name.split("/")[1]
        assert held_out not in fold.train[0].kwargs["weights"]
        for slot in fold.evaluate + fold.train:
            env = gym.make(slot.env_id, split=slot.split, **slot.kwargs)
            assert env.unwrapped.tasks
            env.close()
    with pytest.raises(ConfigError):
        get_protocols("cross-domain/search")
