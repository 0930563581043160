"""How ``--ray`` / ``--ray-address`` reach ``ray.init`` (a recording stand-in for Ray: no cluster starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mentor_agents
from mentor_agents.distributed import cluster as distributed


class RecordingRay:
    def __init__(self, initialized: bool = False) -> None:
        self.initialized, self.calls = initialized, []

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs) -> None:
        self.calls.append(kwargs)


@pytest.fixture()
def fake_ray(monkeypatch):
    def install(initialized: bool = False) -> RecordingRay:
        fake = RecordingRay(initialized)
        monkeypatch.setattr(distributed, "import_ray", lambda: fake)
        return fake

    return install


def test_a_local_cluster_gets_this_checkout_on_its_workers_path(fake_ray):
    ray = fake_ray()
    distributed.ensure_ray(None)
    (call,) = ray.calls
    root = str(Path(mentor_agents.__file__).resolve().parent.parent)
    assert "address" not in call and call["runtime_env"]["env_vars"]["PYTHONPATH"].split(":")[0] == root


def test_a_remote_address_is_passed_and_its_nodes_keep_their_own_path(fake_ray):
    ray = fake_ray()
    distributed.ensure_ray("ray://head:10001")
    (call,) = ray.calls
    assert call["address"] == "ray://head:10001" and "runtime_env" not in call


def test_an_address_is_not_silently_dropped_when_ray_is_already_up(fake_ray):
    ray = fake_ray(initialized=True)
    with pytest.warns(UserWarning, match="ignoring address 'auto'"):
        distributed.ensure_ray("auto")
    assert ray.calls == []
