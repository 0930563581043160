"""Backend selection, install hints, and validation of limits and file names (no jail needed)."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- Limits validation (issue 13, item 6): every field, every kind of bad value --------------------------------

SECONDS = ("wall_s", "cpu_s", "cpu_total_s")
COUNTS = ("memory_mb", "output_bytes", "max_procs", "file_size_mb", "disk_mb")
FIELDS = SECONDS + COUNTS


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), -1, 0, True, "10", None, 10**30, 10**400])
def test_limits_reject_every_bad_value(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field}"):
        Limits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", COUNTS)
@pytest.mark.parametrize("value", [64.5, 128.0, 1e3])
def test_limits_reject_fractional_and_float_sizes(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field} must be a whole number"):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_limits_accept_fractional_seconds_and_the_bounds() -> None:
    limits = Limits(wall_s=0.5, cpu_s=0.25, cpu_total_s=1_000_000, max_procs=5, memory_mb=64)
    assert limits.wall_s == 0.5 and limits.max_procs == 5
    with pytest.raises(ValueError, match="max_procs must be at least 5"):
        Limits(max_procs=4)


_any_value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(), st.none(), st.text(max_size=3), st.decimals(allow_nan=True), st.fractions(),
)


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(FIELDS), value=_any_value)
def test_limits_accept_exactly_the_valid_values(field: str, value: Any) -> None:
    """Property: a value is accepted iff it is valid for its field, and then stored unchanged; otherwise the
    ValueError names the field."""
    bounds = {"memory_mb": (64, 1 << 30), "output_bytes": (1, 1 << 30), "max_procs": (5, 1 << 22),
              "file_size_mb": (1, 1 << 30), "disk_mb": (1, 1 << 30)}
    if field in SECONDS:
        valid = (type(value) in (int, float) and math.isfinite(value) and 0 < value <= 1_000_000)
    else:
        low, high = bounds[field]
        valid = type(value) is int and low <= value <= high
    if valid:
        assert getattr(Limits(**{field: value}), field) == value
    else:
        with pytest.raises(ValueError, match=f"Limits.{field}"):
            Limits(**{field: value})


@pytest.mark.filterwarnings("ignore::sandbox.NotAJailWarning")
def test_run_rejects_a_bad_wall_clock() -> None:
    with Sandbox("subprocess") as sandbox:
        for wall_s in (0, -1, float("nan"), float("inf"), True, 1e9):
            with pytest.raises(ValueError, match="wall_s"):
                sandbox.run("1", wall_s=wall_s)
        assert sandbox.run("print(1)", wall_s=5).stdout == "1\n"
