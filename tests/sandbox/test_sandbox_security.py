"""The attack battery, run against every backend: each limit must fire, and the sandbox must survive it.

Every attack is followed by a correct ``run`` on the same sandbox. The subprocess backend is not a jail:
the attacks only a jail can stop are strict xfails there (an unexpected pass fails the suite).
"""

from __future__ import annotations

import os
import resource
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import BackendConfig, ExecStatus, Limits, Sandbox, SubprocessConfig, WorkerInfo
from sandbox.uids import processes_of

IS_ROOT = os.geteuid() == 0
NotAJail = Callable[..., None]


def assert_still_works(sb: Sandbox) -> None:
    result = sb.run("print(6 * 7)")
    assert result.status is ExecStatus.OK, result
    assert result.stdout == "42\n"


def host_addresses() -> list[str]:
    """Loopback plus this host's primary address (found without sending a packet)."""
    addresses = ["127.0.0.1"]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        addresses.append(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    return sorted(set(addresses))


@pytest.fixture
def tcp_server() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(8)
    yield server
    server.close()


def test_no_network(sandbox: Sandbox, tcp_server: socket.socket, not_a_jail: NotAJail) -> None:
    not_a_jail("it shares the host's network")
    port = tcp_server.getsockname()[1]
    code = (
        "import socket\n"
        "outcomes = []\n"
        f"for host in {host_addresses()!r}:\n"
        "    s = socket.socket(); s.settimeout(2)\n"
        "    try:\n"
        f"        s.connect((host, {port})); outcomes.append('connected')\n"
        "    except OSError as exc:\n"
        "        outcomes.append(type(exc).__name__)\n"
        "print(outcomes)\n"
    )
    result = sandbox.run(code)
    tcp_server.settimeout(0.5)
    try:
        connection, peer = tcp_server.accept()
        connection.close()
        seen = f"server saw a connection from {peer}"
    except TimeoutError:
        seen = ""
    assert result.status is ExecStatus.OK, result
    assert "connected" not in result.stdout
    assert not seen


def test_host_secret_unreadable(sandbox: Sandbox, not_a_jail: NotAJail) -> None:
    not_a_jail("a world-readable host file is readable by any uid")
    folder = Path("/tmp") / f"sandbox-secret-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o755)
    secret = folder / "secret.txt"
    token = secrets.token_hex(16)
    secret.write_text(token)
    secret.chmod(0o644)
    try:
        result = sandbox.run(f"try:\n    print(open({str(secret)!r}).read())\nexcept OSError as exc:\n"
                             "    print('denied', type(exc).__name__)")
    finally:
        secret.unlink()
        folder.rmdir()
    assert result.status is ExecStatus.OK, result
    assert token not in result.stdout
    assert result.stdout.startswith("denied")


def test_writes_outside_workdir_fail(sandbox: Sandbox, not_a_jail: NotAJail) -> None:
    not_a_jail("a world-writable host directory is writable by any uid")
    folder = Path("/tmp") / f"sandbox-escape-{secrets.token_hex(4)}"
    folder.mkdir()
    folder.chmod(0o777)
    targets = [str(folder / "escape.txt"), f"/escape-{folder.name}", f"/usr/escape-{folder.name}"]
    code = (
        "outcomes = []\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x'); outcomes.append('written')\n"
        "    except OSError as exc:\n"
        "        outcomes.append(type(exc).__name__)\n"
        "print(outcomes)\n"
    )
    try:
        result = sandbox.run(code)
        escaped = [target for target in targets if os.path.exists(target)]
    finally:
        for target in targets:
            if os.path.exists(target):
                os.unlink(target)
        folder.rmdir()
    assert result.status is ExecStatus.OK, result
    assert "written" not in result.stdout
    assert escaped == []


def test_workdir_is_writable(sandbox: Sandbox) -> None:
    result = sandbox.run("open('note.txt', 'w').write('kept')\nprint(open('note.txt').read())")
    assert result.stdout == "kept\n"


FORK_COUNT = """
import os, time
children = []
try:
    for _ in range(1000):
        pid = os.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print('stopped', len(children), type(exc).__name__)
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
"""


def test_fork_bomb_stopped_at_process_limit(sandbox: Sandbox, backend: BackendConfig,
                                            battery_limits: Limits) -> None:
    if isinstance(backend, SubprocessConfig) and not IS_ROOT:
        pytest.skip(reason="subprocess backend without root has no uid of its own: a fork bomb would hit the host")
    result = sandbox.run(FORK_COUNT)
    assert result.status is ExecStatus.OK, result
    stopped, count, error = result.stdout.split()
    assert stopped == "stopped" and error == "BlockingIOError"
    assert 0 < int(count) < battery_limits.max_procs
    assert_still_works(sandbox)


def test_exponential_fork_bomb_contained(sandbox: Sandbox, backend: BackendConfig) -> None:
    if isinstance(backend, SubprocessConfig) and not IS_ROOT:
        pytest.skip(reason="subprocess backend without root has no uid of its own: a fork bomb would hit the host")
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = sandbox.run(bomb, wall_s=2)
    assert result.status in (ExecStatus.TIMEOUT, ExecStatus.CPU_LIMIT), result
    assert_still_works(sandbox)
    sandbox.reset()  # children that outlived a CPU_LIMIT would burn CPU for the next tests


def test_memory_bomb_contained(sandbox: Sandbox) -> None:
    sandbox.run("kept = 'state survives'")
    result = sandbox.run("x = bytearray(8 * 1024 ** 3)")
    assert result.status is ExecStatus.MEMORY_LIMIT, result
    assert result.error == "MemoryError"
    growing = sandbox.run("hog = []\nwhile True:\n    hog.append(bytearray(10 ** 7))")
    assert growing.status is ExecStatus.MEMORY_LIMIT, growing
    assert sandbox.run("del hog\nprint(kept)").stdout == "state survives\n"


def test_infinite_loop_hits_cpu_limit(sandbox: Sandbox) -> None:
    sandbox.run("kept = 1")
    result = sandbox.run("while True:\n    pass")
    assert result.status is ExecStatus.CPU_LIMIT, result
    assert result.error is not None and result.error.startswith("CpuLimitExceeded")
    assert not result.state_lost
    assert sandbox.run("print(kept)").stdout == "1\n"


def test_wall_clock_timeout_kills_and_respawns(sandbox: Sandbox) -> None:
    sandbox.run("kept = 1")
    result = sandbox.run("import time\ntime.sleep(60)", wall_s=1)
    assert result.status is ExecStatus.TIMEOUT and result.timed_out, result
    assert result.state_lost
    assert 1 <= result.duration_s < 5
    assert sandbox.run("print('kept' in globals())").stdout == "False\n"
    assert_still_works(sandbox)


def test_huge_print_truncated_inside_jail(sandbox: Sandbox, battery_limits: Limits) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = sandbox.run("print('x' * 100_000_000)\nimport os\nos.write(2, b'y' * 100_000_000)")
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.status is ExecStatus.OUTPUT_LIMIT, result
    assert result.stdout_truncated and result.stderr_truncated
    assert len(result.stdout.encode()) == battery_limits.output_bytes
    assert len(result.stderr.encode()) <= battery_limits.output_bytes
    assert (peak_after - peak_before) * 1024 < 20 * 1024 * 1024  # the host never held 100 MB
    assert_still_works(sandbox)


def test_segfault_replaced(sandbox: Sandbox) -> None:
    result = sandbox.run("import ctypes\nctypes.string_at(0)")
    assert result.status is ExecStatus.CRASHED, result
    assert result.state_lost and "SIGSEGV" in (result.error or "")
    assert_still_works(sandbox)


def test_sigkill_from_inside_replaced(sandbox: Sandbox) -> None:
    result = sandbox.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert result.status is ExecStatus.CRASHED, result
    assert "SIGKILL" in (result.error or "")
    assert_still_works(sandbox)


def sigkill_jail_from_host(info: WorkerInfo) -> None:
    """SIGKILL every process of the jail from outside, and wait until they are gone."""
    deadline = time.monotonic() + 20
    if info.uid is not None:
        while pids := processes_of(info.uid):
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # died meanwhile (the executor dies with its supervisor)
                    pass
            assert time.monotonic() < deadline
            time.sleep(0.01)
    elif info.container is not None:
        subprocess.run(["docker", "kill", "--signal", "KILL", info.container], capture_output=True, timeout=30)
    else:
        os.kill(info.pid, signal.SIGKILL)


def test_sigkill_from_host_replaced(sandbox: Sandbox) -> None:
    sandbox.run("kept = 1")
    sigkill_jail_from_host(sandbox.worker_info)
    result = sandbox.run("print('kept' in globals())")
    assert result.state_lost, result
    if result.status is ExecStatus.CRASHED:  # the death was noticed during this call, not before it
        result = sandbox.run("print('kept' in globals())")
    assert result.status is ExecStatus.OK, result
    assert result.stdout == "False\n"
    assert_still_works(sandbox)


def test_close_leaves_nothing(backend: BackendConfig, battery_limits: Limits, not_a_jail: NotAJail,
                              leftovers: Callable[[WorkerInfo], list[str]]) -> None:
    not_a_jail("without root there is no uid to sweep for a child that left the process group",
               when=not IS_ROOT)
    sb = Sandbox(backend, battery_limits)
    result = sb.run("import subprocess\n"
                    "a = subprocess.Popen(['sleep', '60'])\n"
                    "b = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
                    "print('started')")
    assert result.stdout == "started\n", result
    info = sb.worker_info
    sb.close()
    assert leftovers(info) == []
    assert sb.closed
