"""Backend selection, install hints, and validation of limits and file names (no jail needed)."""

from __future__ import annotations

import logging

import pytest

from sandbox import (
    BackendUnavailable,
    BwrapConfig,
    DockerConfig,
    InvalidFileName,
    Limits,
    Sandbox,
    SandboxClosed,
    SubprocessConfig,
    registry,
    unavailable_reason,
)
from sandbox.sandbox import encode_files


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown sandbox backend 'bwarp'"):
        Sandbox("bwarp")


def test_missing_bwrap_interpreter_says_how_to_install() -> None:
    with pytest.raises(BackendUnavailable, match="apt-get install bubblewrap") as caught:
        Sandbox(BwrapConfig(python="/nonexistent/python3"))
    assert caught.value.backend == "bwrap"


def test_missing_docker_image_says_how_to_build_it() -> None:
    with pytest.raises(BackendUnavailable, match=r"docker_image\.sh"):
        Sandbox(DockerConfig(image="tooluse-sandbox-no-such-image"))


def test_auto_prefers_a_jail_and_says_which(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sandbox"):
        chosen = registry.resolve("auto")
    if unavailable_reason(BwrapConfig()) is None:
        assert isinstance(chosen, BwrapConfig)
    assert "sandbox backend auto" in caplog.text


def test_auto_falls_back_to_subprocess_loudly(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(registry, "unavailable_reason", lambda config: "not installed")
    with caplog.at_level(logging.WARNING, logger="sandbox"):
        assert isinstance(registry.resolve("auto"), SubprocessConfig)
    assert "WITHOUT a jail" in caplog.text


def test_subprocess_backend_warns_it_is_not_a_jail() -> None:
    with pytest.warns(UserWarning, match="NOT a jail"):
        Sandbox("subprocess").close()


@pytest.mark.filterwarnings("ignore::sandbox.NotAJailWarning")
def test_closed_sandbox_refuses_work() -> None:
    sandbox = Sandbox("subprocess")
    sandbox.close()
    sandbox.close()  # idempotent
    assert sandbox.closed
    with pytest.raises(SandboxClosed):
        sandbox.run("1")
    with pytest.raises(SandboxClosed):
        sandbox.reset()


@pytest.mark.parametrize("field", ["wall_s", "cpu_s", "memory_mb", "output_bytes", "max_procs", "file_size_mb"])
def test_limits_reject_non_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


def test_limits_reject_too_small_values() -> None:
    with pytest.raises(ValueError, match="max_procs"):
        Limits(max_procs=2)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=16)


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.txt", "a/../../b", ""])
def test_file_names_must_stay_inside(name: str) -> None:
    with pytest.raises(InvalidFileName):
        encode_files({name: "x"})


def test_files_are_encoded_as_utf8_or_bytes() -> None:
    encoded = encode_files({"a.txt": "é", "./b.bin": b"\x00"})
    assert encoded == [{"path": "a.txt", "b64": "w6k="}, {"path": "b.bin", "b64": "AA=="}]
