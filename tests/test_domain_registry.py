"""tooluse_envs.registry is the one list of domains: every entry is backed by a module, an env id and (when
generated) task files, and every consumer reads it, so a new entry needs no edit anywhere else."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import gymnasium as gym
import pytest

import tooluse_envs
from tooluse_envs import generate, protocols, registry
from tooluse_envs.domain import Domain, make_domain
from tooluse_envs.domains.mixed import MixedDomain
from tooluse_envs.errors import ConfigError
from tooluse_envs.tasks import SPLITS, tasks_dir

NAMES = registry.domain_names()


def test_names_and_env_ids_are_unique():
    infos = registry.all_domains()
    assert len({d.name for d in infos}) == len(infos)
    assert len({d.env_id for d in infos}) == len(infos)
    assert all(d.env_id == f"tooluse/{d.env_name}-v0" for d in infos)
    assert set(registry.generated_domains()) <= set(NAMES)
    assert set(registry.mixable_domains()) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_domain_has_a_module_whose_class_carries_its_name(name):
    module = importlib.import_module(f"tooluse_envs.domains.{name}")
    assert issubclass(module.DOMAIN_CLASS, Domain)
    assert module.DOMAIN_CLASS.name == name
    assert registry.info(name).module == module.__name__


def test_every_env_id_is_registered_with_gymnasium_for_its_domain():
    assert tooluse_envs.ENV_IDS == registry.env_ids()
    for info in registry.all_domains():
        assert gym.spec(info.env_id).kwargs["domain"] == info.name


@pytest.mark.parametrize("name", registry.generated_domains())
def test_every_generated_domain_has_committed_task_files(name):
    for split in SPLITS:
        path = tasks_dir() / name / f"{split}.jsonl"
        assert path.is_file() and path.stat().st_size > 0, path


def test_every_committed_task_folder_belongs_to_a_generated_domain():
    """A folder of task files outside the registry's generated domains would escape ``generate --check``."""
    folders = {p.name for p in tasks_dir().iterdir() if p.is_dir()}
    assert folders == set(registry.generated_domains())


def test_mixed_blends_the_mixable_domains_in_registry_order():
    mixed = MixedDomain()
    try:
        assert list(mixed.weights) == list(registry.mixable_domains())
        assert all(type(part).name == name for name, part in mixed.parts.items())
    finally:
        mixed.close()


def test_cross_domain_folds_hold_out_each_mixable_domain():
    folds = protocols.get_protocols("cross-domain")
    assert [f.name for f in folds] == [f"cross-domain/{d}" for d in registry.mixable_domains()]
    for fold in folds:
        held_out = fold.name.split("/")[1]
        assert {slot.env_id for slot in fold.evaluate} == {registry.info(held_out).env_id}


def test_unknown_domain_is_a_config_error_naming_the_choices():
    for call in (lambda: make_domain("nope"), lambda: registry.info("nope")):
        with pytest.raises(ConfigError, match="'nope'") as excinfo:
            call()
        assert all(name in str(excinfo.value) for name in NAMES)


def test_registry_imports_only_the_standard_library_and_errors():
    tree = ast.parse(Path(registry.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "dataclasses", "tooluse_envs.errors"}, imported


def test_importing_the_package_imports_no_domain_module():
    code = (
        "import sys, tooluse_envs; "
        "loaded = [m for m in sys.modules if m.startswith(('tooluse_envs.domain', 'tooluse_envs.env'))]; "
        "assert not loaded, loaded; assert tooluse_envs.ENV_IDS"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# A domain added by one registry line: every consumer must see it without being edited.


class ToyDomain(Domain):
    name = "toy"

    def tools(self):
        return {}

    def generate(self, split):
        return []


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> registry.DomainInfo:
    module = types.ModuleType("tooluse_envs.domains.toy")
    module.DOMAIN_CLASS = ToyDomain
    monkeypatch.setitem(sys.modules, module.__name__, module)
    info = registry.DomainInfo("toy", "Toy", generated=True, mixable=True, summary="a test domain")
    monkeypatch.setattr(registry, "REGISTERED", (*registry.REGISTERED, info))
    return info


def test_a_new_entry_is_a_valid_domain_name(toy):
    assert isinstance(make_domain("toy"), ToyDomain)
    assert registry.info("toy") is toy
    assert "toy" in registry.domain_names()


def test_a_new_entry_gets_its_gymnasium_id(toy):
    assert toy.env_id == "tooluse/Toy-v0" and toy.env_id not in gym.registry
    try:
        tooluse_envs.register_all()
        assert gym.spec(toy.env_id).kwargs["domain"] == "toy"
    finally:
        gym.registry.pop(toy.env_id, None)


def test_a_new_generated_entry_is_regenerated_by_default(toy, monkeypatch, tmp_path):
    made: list[str] = []
    monkeypatch.setattr(generate, "generate", lambda name, out: made.append(name) or {})
    monkeypatch.setattr(generate, "report", lambda name, root=None: name)
    assert generate.main(["--out", str(tmp_path)]) == 0
    assert made == [*registry.generated_domains()] and made[-1] == "toy"


def test_a_new_mixable_entry_joins_mixed_and_the_cross_domain_folds(toy):
    mixed = MixedDomain(weights={"toy": 1.0, "calculator": 1.0})
    assert isinstance(mixed.parts["toy"], ToyDomain)
    folds = {fold.name: fold for fold in protocols.get_protocols("cross-domain")}
    assert {slot.env_id for slot in folds["cross-domain/toy"].evaluate} == {"tooluse/Toy-v0"}
    assert "toy" in folds["cross-domain/sql"].train[0].kwargs["weights"]
    assert protocols.get_protocols("cross-domain/toy")[0].name == "cross-domain/toy"
