"""Shared fixtures: the tiny tokenizer (trained once per session into a temp cache) and tiny models.

No top-level torch import: without the ``[train]`` extra every module here skips itself
(``pytest.importorskip``) and this file must still import.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _two_threads():
    """Timings and numerics as on the 2-core CI machine."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("mentor-cache")


@pytest.fixture(scope="session")
def tokenizer(tiny_cache):
    from mentor_agents.tokenizer import load_tiny_tokenizer

    return load_tiny_tokenizer(tiny_cache)


@pytest.fixture()
def tiny_model(tokenizer):
    from mentor_agents.models import build_tiny_model

    return build_tiny_model(tokenizer, seed=0)


@pytest.fixture(scope="session")
def train_tasks():
    from tooluse_envs.tasks import load_tasks

    return load_tasks("calculator", "train")
