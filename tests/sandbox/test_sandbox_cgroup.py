"""The per-jail cgroup leaf (issue 13): the files it writes, how a process enters it, and the sweep of
leaves whose owner died. The attacks it stops are in test_sandbox_security.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sandbox import cgroup
from sandbox.cgroup import CgroupLayout, JailCgroup


def fake_v2_root(tmp_path: Path) -> Path:
    """A directory shaped like a cgroup2 mount (regular files stand in for the kernel's)."""
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("\n")
    (tmp_path / PARENT).mkdir()
    (tmp_path / PARENT / "cgroup.subtree_control").write_text("\n")
    return tmp_path


PARENT = cgroup.PARENT_NAME


def test_v2_parent_enables_memory_and_pids(tmp_path: Path) -> None:
    root = fake_v2_root(tmp_path)
    assert cgroup._v2_parent(str(root)) == str(root / PARENT)
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids"
    assert (root / PARENT / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_v2_without_the_controllers_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")  # a hybrid host's unified mount
    assert cgroup._v2_parent(str(tmp_path)) is None


def test_v2_leaf_limits_and_entry(tmp_path: Path) -> None:
    parent = tmp_path / PARENT
    parent.mkdir()
    leaf = JailCgroup.create(CgroupLayout(2, (str(parent),)), memory_bytes=192 << 20, pids=16)
    path = Path(leaf.memory_dir)
    assert path.parent == parent and path.name.startswith(cgroup.LEAF_PREFIX)
    assert (path / "memory.max").read_text() == str(192 << 20)
    assert (path / "pids.max").read_text() == "16"
    done = subprocess.run(leaf.enter_argv(["sh", "-c", "echo $$"]), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # the shell wrote its own pid into the leaf, then exec'd the command: the same process
    assert (path / "cgroup.procs").read_text().strip() == done.stdout.strip()


def test_entry_failure_stops_the_command(tmp_path: Path) -> None:
    leaf = JailCgroup(CgroupLayout(2, (str(tmp_path),)), (str(tmp_path / "missing"),))
    done = subprocess.run(leaf.enter_argv(["echo", "ran"]), capture_output=True, text=True, timeout=30)
    assert done.returncode == 125 and "ran" not in done.stdout


@pytest.mark.skipif(cgroup.layout() is None, reason="no usable cgroup on this host")
def test_leaves_of_dead_owners_are_swept() -> None:
    found = cgroup.layout()
    assert found is not None
    name = f"{cgroup.LEAF_PREFIX}{cgroup._pid_namespace()}-999999999-0-deadbeef"
    mine = JailCgroup.create(found, memory_bytes=64 << 20, pids=8)
    stale = [os.path.join(parent, name) for parent in found.parents]
    for path in stale:
        os.mkdir(path)
    try:
        cgroup.sweep_stale(found)
        assert not any(os.path.exists(path) for path in stale)
        assert all(os.path.isdir(path) for path in mine.paths)  # a live owner's leaf stays
    finally:
        mine.remove()
        for path in stale:
            if os.path.isdir(path):
                os.rmdir(path)
    assert not any(os.path.exists(path) for path in mine.paths)
