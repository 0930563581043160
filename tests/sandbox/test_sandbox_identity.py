"""Jails start under their dedicated uid (real, effective, saved; gid the same; no supplementary groups),
whether ``setpriv`` switches the ids after exec or ``Popen(user=...)`` does before it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import BwrapConfig, Sandbox, SubprocessConfig, unavailable_reason
from sandbox import backend as backend_module
from sandbox.uids import processes_of

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="only root switches jails to a dedicated uid"),
    pytest.mark.filterwarnings("ignore::sandbox.NotAJailWarning"),
]


def _ids(pid: int) -> dict[str, list[str]]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            fields[key] = value.split()
    return fields


@pytest.mark.parametrize("switch", ["setpriv", "popen-user"])
@pytest.mark.parametrize("config", [SubprocessConfig(), BwrapConfig()], ids=["subprocess", "bwrap"])
def test_jail_processes_hold_only_the_dedicated_uid(monkeypatch, config, switch):
    if isinstance(config, BwrapConfig) and (reason := unavailable_reason(config)):
        pytest.skip(reason=f"bwrap backend unavailable: {reason}")
    if switch == "popen-user":
        monkeypatch.setattr(backend_module, "setpriv_path", lambda: None)
    elif backend_module.setpriv_path() is None:
        pytest.skip(reason="setpriv (util-linux) is not installed")
    with Sandbox(config) as sandbox:
        assert sandbox.run("x = 1").ok
        uid = sandbox.worker_info.uid
        pids = processes_of(uid)
        assert uid is not None and uid != 0 and pids
        for pid in pids:
            ids = _ids(pid)
            assert ids["Uid"] == [str(uid)] * 4 and ids["Gid"] == [str(uid)] * 4 and ids["Groups"] == []


def test_setpriv_is_used_when_installed(monkeypatch):
    monkeypatch.setattr(backend_module, "setpriv_path", lambda: "/usr/bin/setpriv")
    argv, kwargs = backend_module.as_user(["bwrap", "x"], 12345)
    assert argv[:4] == ["/usr/bin/setpriv", "--reuid=12345", "--regid=12345", "--clear-groups"] and kwargs == {}
    monkeypatch.setattr(backend_module, "setpriv_path", lambda: None)
    assert backend_module.as_user(["bwrap"], 12345) == (["bwrap"], {"user": 12345, "group": 12345, "extra_groups": []})
    assert backend_module.as_user(["bwrap"], None) == (["bwrap"], {})
