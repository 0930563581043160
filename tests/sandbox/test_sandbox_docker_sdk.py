"""The docker backend through the docker SDK (``DockerConfig(client="sdk")``): what differs from the CLI path.

The shared battery (``backend`` fixture, id ``docker-sdk``) runs every functional and security test on it;
here: the container is the CLI's container setting for setting, it is labelled and swept like the CLI's,
close and a crashed owner leave nothing, the attach relay passes bytes unchanged, and a missing SDK says
which extra to install.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sandbox as sandbox_package
from sandbox import BackendUnavailable, DockerConfig, Limits, Sandbox, WorkerInfo, docker_sdk, unavailable_reason
from sandbox import docker as docker_backend
from sandbox.docker import LABEL, OWNER_LABEL, ContainerSpec, clean_stale_containers, owner_label_map

SDK = DockerConfig(client="sdk")
SDK_REASON = unavailable_reason(SDK)
REPO_ROOT = Path(sandbox_package.__file__).resolve().parents[1]
needs_sdk = pytest.mark.skipif(SDK_REASON is not None, reason=f"docker SDK backend unavailable: {SDK_REASON}")


def inspect(name: str) -> dict[str, Any] | None:
    """``docker inspect`` through the CLI (an independent witness of what the SDK did), or None if gone."""
    done = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, timeout=30)
    return json.loads(done.stdout)[0] if done.returncode == 0 else None


@pytest.fixture(scope="module")
def sdk_sandbox() -> Iterator[Sandbox]:
    if SDK_REASON is not None:
        pytest.skip(reason=f"docker SDK backend unavailable: {SDK_REASON}")
    with Sandbox(SDK, Limits(wall_s=20, output_bytes=4 << 20)) as sb:
        yield sb


def test_unknown_client_is_rejected() -> None:
    with pytest.raises(ValueError, match="client"):
        DockerConfig(client="api")  # type: ignore[arg-type]


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # `import docker` now raises ModuleNotFoundError
    docker_backend.probe.cache_clear()
    try:
        reason = unavailable_reason(SDK)
        with pytest.raises(BackendUnavailable) as raised:
            Sandbox(SDK)
    finally:
        docker_backend.probe.cache_clear()
    assert reason is not None and "not installed" in reason
    assert "pip install 'tooluse-mentor[docker]'" in str(raised.value)
    assert raised.value.hint == "pip install 'tooluse-mentor[docker]'"


def test_missing_sdk_is_a_user_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from mentor_agents.errors import missing_extra

    monkeypatch.setitem(sys.modules, "docker", None)
    with pytest.raises(ModuleNotFoundError) as raised:
        docker_sdk.load_sdk()
    error = missing_extra(raised.value)
    assert error is not None and "tooluse-mentor[docker]" in str(error)


@pytest.mark.docker
@needs_sdk
def test_sdk_container_has_the_cli_settings() -> None:
    """Created from one :class:`ContainerSpec`, the CLI's and the SDK's containers differ only by name."""
    cli = ContainerSpec(name="tooluse-sandbox-test-cli", image=SDK.image, command=["python3", "-c", "pass"],
                        limits=Limits(memory_mb=200, max_procs=17, disk_mb=33), labels=owner_label_map(),
                        env={"A": "1", "HOME": "/work"})
    sdk = dataclasses.replace(cli, name="tooluse-sandbox-test-sdk")
    try:
        assert subprocess.run(["docker", *cli.cli_args()], capture_output=True, timeout=120).returncode == 0
        assert docker_sdk.create(sdk.sdk_kwargs()) is None
        found = [inspect(cli.name), inspect(sdk.name)]
        assert found[0] is not None and found[1] is not None
        configs = [item["Config"] for item in found if item is not None]
        for config in configs:  # the engine merges image and container env in no fixed order
            config["Env"] = sorted(config.get("Env") or [])
        # The CLI sends empty lists where the SDK leaves a field out: both mean "none"
        hosts = [{key: value if value not in ([], {}) else None for key, value in item["HostConfig"].items()}
                 for item in found if item is not None]
        assert configs[0] == configs[1]
        assert hosts[0] == hosts[1]
        assert configs[1]["StdinOnce"] is True and configs[1]["OpenStdin"] is True  # stdin EOF ends the worker
        assert hosts[1]["NetworkMode"] == "none" and hosts[1]["ReadonlyRootfs"] is True
        assert hosts[1]["Memory"] == (200 + docker_backend.MEMORY_HEADROOM_MB) << 20 and hosts[1]["PidsLimit"] == 17
    finally:
        docker_sdk.remove([cli.name, sdk.name])


@pytest.mark.docker
@needs_sdk
def test_labels_and_close(leftovers: Callable[..., list[str]]) -> None:
    sb = Sandbox(SDK)
    info = sb.worker_info
    assert info.container is not None
    found = inspect(info.container)
    assert found is not None
    labels = found["Config"]["Labels"]
    assert labels[LABEL] == "1"
    assert labels[OWNER_LABEL] == owner_label_map()[OWNER_LABEL]
    assert info.container in docker_backend._live_containers
    sb.close()
    assert leftovers(info) == []  # container removed and the attach relay gone
    assert info.container not in docker_backend._live_containers


@pytest.mark.docker
@needs_sdk
def test_owner_sweep_through_the_sdk() -> None:
    """A dead owner's container is removed; a live owner's (ours) is kept."""
    dead = {LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:999999999:0"}
    specs = [ContainerSpec(name=f"tooluse-sandbox-test-{tag}", image=SDK.image, command=["true"], limits=Limits(),
                           labels=labels) for tag, labels in (("dead", dead), ("live", owner_label_map()))]
    try:
        for spec in specs:
            assert docker_sdk.create(spec.sdk_kwargs()) is None
        clean_stale_containers("sdk")
        assert inspect(specs[0].name) is None
        assert inspect(specs[1].name) is not None
    finally:
        docker_sdk.remove([spec.name for spec in specs])


OWNER = """
import json, os, signal, sys
from sandbox import DockerConfig, Sandbox
sb = Sandbox(DockerConfig(client="sdk"))
assert sb.run("x = 1").ok
print(json.dumps(sb.worker_info.__dict__), flush=True)
if sys.argv[1] == "crash":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("how", ["exit", "crash"])
@pytest.mark.docker
@needs_sdk
def test_owner_gone_means_container_gone(how: str,
                                         leftovers: Callable[..., list[str]]) -> None:
    """At exit the owner removes its container; SIGKILLed, its relay dies, the worker reads EOF, the
    container stops, and the next sweep removes it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", OWNER, how], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.strip(), done.stderr
    info = WorkerInfo(**json.loads(done.stdout))
    assert info.container is not None
    if how == "crash":
        stopped = leftovers(WorkerInfo("docker", pid=info.pid), timeout_s=15) == []
        assert stopped, "the relay outlived its owner"
        for _ in range(150):
            state = inspect(info.container)
            if state is None or not state["State"]["Running"]:
                break
            subprocess.run(["sleep", "0.1"])
        else:
            pytest.fail("container still running after its owner died")
        clean_stale_containers("sdk")
    assert leftovers(info, timeout_s=15) == []


def test_relay_passes_large_and_binary_output_unchanged(sdk_sandbox: Sandbox) -> None:
    """Several MiB of output span many attach frames (and reads that split frame headers)."""
    text = "".join(chr(code) for code in range(32, 0x2FF)) * 3000  # ~3.3 MB of UTF-8 incl. 2-byte characters
    result = sdk_sandbox.run(f"import sys; sys.stdout.write({text!r} * 1)")
    assert result.ok, result
    assert not result.stdout_truncated
    assert result.stdout == text


@pytest.mark.parametrize(("code", "detail"), [
    ("import os; os._exit(7)", "(exit status 7)"),
    ("import os, signal; os.kill(os.getppid(), signal.SIGKILL)", "(exit status 137 (killed by SIGKILL))")])
def test_relay_reports_how_the_worker_ended(sdk_sandbox: Sandbox, code: str, detail: str) -> None:
    """The relay exits with the container's status, as the CLI does (docker-init: 128 + signal)."""
    result = sdk_sandbox.run(code)
    assert result.error is not None and detail in result.error, result
    assert sdk_sandbox.run("print(2)").stdout == "2\n"


def test_terminate_kills_the_relay_and_keeps_the_container(sdk_sandbox: Sandbox) -> None:
    """A timeout stops the container (restarted, not re-created, on respawn) and kills the relay."""
    before = sdk_sandbox.worker_info
    result = sdk_sandbox.run("while True: pass", wall_s=1)
    assert result.timed_out
    after = sdk_sandbox.worker_info
    assert after.container == before.container
    assert after.pid != before.pid
    try:
        os.kill(before.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    assert sdk_sandbox.run("print(3)").stdout == "3\n"


def test_relay_source_is_stdlib_only() -> None:
    """The relay runs with ``-I -S``: it must import only the standard library, never the SDK (whose
    import costs 0.2-0.4 s per worker start)."""
    tree = ast.parse(docker_sdk.RELAY_SOURCE)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported and imported <= set(sys.stdlib_module_names), imported


def test_relay_argv_skips_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-I -S``: no site-packages scan (fast start) and nothing from the environment steers the relay."""
    monkeypatch.setattr(docker_sdk, "api", lambda: type("Api", (), {"api_version": "1.41"})())
    argv = docker_sdk.relay_argv("box")
    assert argv[1:3] == ["-I", "-S"] and argv[-2:] == ["/v1.41", "box"]
