"""A reset jail keeps nothing of the episode before it: processes, files, IPC objects, keys, interpreter state.

Run against every backend (bwrap recycles its jail in place by default; the others start a new one), each
test leaves something behind in "episode 1", resets — through ``Sandbox.reset`` and through a pool's
release and acquire — and looks for it in "episode 2". The bwrap-only tests cover what recycling a jail in
place must add to a new jail's guarantees: kernel objects that outlive processes, attributes of the
jail's PID 1 that the code can change from outside, and the host's own check of the result.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Iterator

import pytest

from sandbox import BackendConfig, BwrapConfig, ExecStatus, Limits, Sandbox, SandboxPool, SubprocessConfig
from sandbox.bwrap import recycled_jail_problem

LIMITS = Limits(wall_s=20, cpu_s=5)
KEYS_MACHINE = platform.machine() in ("x86_64", "aarch64")
LIBC = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
        f"KEYCTL = {250 if platform.machine() == 'x86_64' else 219}\n")

EPISODE_1 = """
import os, subprocess, sys, json
os.environ['LEAK'] = 'from episode 1'
import string
string.ascii_letters = 'patched by episode 1'
sys.modules['os'].leaked_attribute = 'episode 1'
open('/tmp/episode1.txt', 'w').write('x')
open('/dev/shm/episode1.shm', 'w').write('x')
open('work-file.txt', 'w').write('x')
os.makedirs('locked/deeper', exist_ok=True)
open('locked/deeper/file', 'w').write('x')
os.chmod('locked/deeper', 0)
os.chmod('locked', 0)
background = subprocess.Popen(['sleep', '600'], start_new_session=True)
print(background.pid)
"""
EPISODE_2 = """
import os, json, string, sys

def sleepers():  # /proc, not pgrep: the docker image has no procps
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as handle:
                if handle.read().split(b'\\0')[:2] == [b'sleep', b'600']:
                    found.append(pid)
        except OSError:  # gone meanwhile
            pass
    return found

print(json.dumps({
    'env': os.environ.get('LEAK'),
    'module_patched': string.ascii_letters != string.ascii_lowercase + string.ascii_uppercase,
    'os_attribute': hasattr(sys.modules['os'], 'leaked_attribute'),
    'tmp': sorted(os.listdir('/tmp')),
    'work': sorted(os.listdir('.')),
    'sleepers': sleepers(),
}))
"""
CLEAN = {"env": None, "module_patched": False, "os_attribute": False, "tmp": [], "work": [], "sleepers": []}


def _episode_2_view(run: Callable[[str], object]) -> dict[str, object]:
    result = run(EPISODE_2)
    assert result.status is ExecStatus.OK, result  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined]


@pytest.fixture
def jail(backend: BackendConfig) -> Iterator[Sandbox]:
    with Sandbox(backend, LIMITS) as sb:
        yield sb


def _skip_unless_a_jail(backend: BackendConfig) -> None:
    if isinstance(backend, SubprocessConfig):
        pytest.skip(reason="the subprocess backend shares the host's /tmp and processes: it is not a jail")


def test_reset_leaves_nothing_of_the_episode(jail: Sandbox, backend: BackendConfig) -> None:
    _skip_unless_a_jail(backend)
    first = jail.run(EPISODE_1)
    assert first.status is ExecStatus.OK, first
    jail.reset()
    assert _episode_2_view(jail.run) == CLEAN


def test_pool_release_leaves_nothing_of_the_episode(backend: BackendConfig) -> None:
    _skip_unless_a_jail(backend)
    with SandboxPool(size=1, backend=backend, limits=LIMITS) as pool:
        with pool.acquire(files={"task.txt": "episode 1"}) as lease:
            first = lease.run(EPISODE_1)
            assert first.status is ExecStatus.OK, first
        with pool.acquire(timeout_s=60) as lease:
            assert _episode_2_view(lease.run) == CLEAN


def test_reset_ships_the_kept_files_again(jail: Sandbox) -> None:
    jail.put_files({"data.txt": "kept"}, keep_on_reset=True)
    jail.run("open('data.txt', 'w').write('changed by episode 1')")
    jail.reset()
    assert jail.run("print(open('data.txt').read())").stdout == "kept\n"


def test_many_resets_keep_working(jail: Sandbox) -> None:
    for episode in range(20):
        assert jail.run(f"x = {episode}").ok
        jail.reset()
        assert jail.run("print('x' in globals())").stdout == "False\n"


# --- bwrap: what recycling a jail in place must also clear ----------------------------------------------


@pytest.fixture
def bwrap_jail(backend: BackendConfig) -> Iterator[Sandbox]:
    if not isinstance(backend, BwrapConfig):
        pytest.skip(reason="only bwrap recycles a jail in place")
    with Sandbox(backend, LIMITS) as sb:
        yield sb


def _recycled(sb: Sandbox) -> bool:
    """Reset, and say whether the jail was recycled in place (its bwrap process is the same)."""
    before = sb.worker_info.pid
    sb.reset()
    return sb.worker_info.pid == before


def test_bwrap_recycles_in_place_by_default(bwrap_jail: Sandbox) -> None:
    bwrap_jail.run("x = 1")
    assert _recycled(bwrap_jail)
    info = bwrap_jail.worker_info
    cgroup_pids = None
    if info.cgroup is not None:
        with open(os.path.join(info.cgroup, "cgroup.procs")) as handle:
            cgroup_pids = [int(pid) for pid in handle.read().split()]
    assert recycled_jail_problem(info.pid, cgroup_pids) is None


def test_bwrap_recycle_off_starts_a_new_jail(backend: BackendConfig) -> None:
    if not isinstance(backend, BwrapConfig):
        pytest.skip(reason="only bwrap recycles a jail in place")
    with Sandbox(BwrapConfig(recycle=False), LIMITS) as sb:
        assert not _recycled(sb)


def test_bwrap_daemon_of_episode_1_is_gone(bwrap_jail: Sandbox) -> None:
    # a double fork: the grandchild is reparented to the jail's PID 1, out of every process group of ours
    daemon = "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        import time\n" \
             "        time.sleep(600)\n    os._exit(0)\nos.wait()\nprint(sorted(os.listdir('/proc')))"
    assert bwrap_jail.run(daemon).ok
    assert _recycled(bwrap_jail)
    pids = bwrap_jail.run("import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    assert pids.stdout == "3\n", pids  # the jail's PID 1, the supervisor and the executor: nothing else


def test_bwrap_sysv_ipc_of_episode_1_is_gone(bwrap_jail: Sandbox) -> None:
    made = bwrap_jail.run(LIBC + "print(libc.shmget(0x5eed, 4096, 0o1600), libc.semget(0x5eed, 1, 0o1600),"
                                 " libc.msgget(0x5eed, 0o1600))")
    assert made.ok and "-1" not in made.stdout.split(), made
    assert _recycled(bwrap_jail)
    left = bwrap_jail.run("print([len(open('/proc/sysvipc/' + kind).read().splitlines()) - 1"
                          " for kind in ('shm', 'sem', 'msg')])")
    assert left.stdout == "[0, 0, 0]\n", left


def test_bwrap_posix_message_queues_cannot_be_made(bwrap_jail: Sandbox) -> None:
    made = bwrap_jail.run(LIBC + "print(libc.mq_open(b'/episode1', 0o100 | 2, 0o600, None))")
    assert made.stdout == "-1\n", made  # RLIMIT_MSGQUEUE is 0: nothing for a recycled jail to keep


@pytest.mark.skipif(not KEYS_MACHINE, reason="keyctl's syscall number is known for x86_64 and aarch64 only")
def test_bwrap_keys_of_episode_1_are_gone(bwrap_jail: Sandbox) -> None:
    add = LIBC + ("ids = [libc.syscall(KEYCTL - 2, b'user', b'episode1', b'secret', 6, ring)"
                  " for ring in (-3, -4, -5)]\n"
                  "persistent = libc.syscall(KEYCTL, 22, -1, -3)\n"
                  "if persistent > 0:\n"
                  "    ids.append(libc.syscall(KEYCTL - 2, b'user', b'episode1', b'secret', 6, persistent))\n"
                  "print(ids)")
    made = bwrap_jail.run(add)
    assert made.ok and "-1" not in made.stdout, made
    assert _recycled(bwrap_jail)
    search = LIBC + ("found = [libc.syscall(KEYCTL, 10, ring, b'user', b'episode1', 0) for ring in (-3, -4, -5)]\n"
                     "persistent = libc.syscall(KEYCTL, 22, -1, -3)\n"
                     "if persistent > 0:\n"
                     "    found.append(libc.syscall(KEYCTL, 10, persistent, b'user', b'episode1', 0))\n"
                     "print(max(found))")
    assert bwrap_jail.run(search).stdout == "-1\n"


def test_bwrap_mount_roots_are_restored(bwrap_jail: Sandbox) -> None:
    before = bwrap_jail.run("import os\nprint([oct(os.stat(d).st_mode) for d in ('/work', '/tmp')])").stdout
    tamper = ("import os\nfor d in ('/work', '/tmp'):\n    os.setxattr(d, 'user.leak', b'episode 1')\n"
              "    os.chmod(d, 0o755)\nprint('ok')")
    result = bwrap_jail.run(tamper)
    if result.status is not ExecStatus.OK:
        pytest.skip(reason=f"this kernel's tmpfs has no user xattrs: {result.error}")
    assert _recycled(bwrap_jail)
    after = bwrap_jail.run("import os\nprint([oct(os.stat(d).st_mode) for d in ('/work', '/tmp')])").stdout
    assert after == before
    assert bwrap_jail.run("import os\nprint([os.listxattr(d) for d in ('/work', '/tmp')])").stdout == "[[], []]\n"


@pytest.mark.parametrize("tamper", [
    "import os\nos.setpriority(os.PRIO_PROCESS, 1, os.getpriority(os.PRIO_PROCESS, 1) + 1)",
    "import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE, (64, 64))",
    "import os\nos.sched_setaffinity(1, {sorted(os.sched_getaffinity(1))[0]})",
])
def test_bwrap_tampered_pid_1_gets_a_new_jail(bwrap_jail: Sandbox, tamper: str) -> None:
    """What the code changed of the jail's PID 1 would reach the next episode's interpreter: a new jail."""
    if tamper.endswith("getaffinity(1))[0]})") and len(os.sched_getaffinity(0)) < 2:
        pytest.skip(reason="one CPU: an affinity cannot be narrowed")
    if "setpriority" in tamper and os.getpriority(os.PRIO_PROCESS, 0) >= 19:
        pytest.skip(reason="the tests run at nice 19 already: the jail's nice value cannot be raised")
    result = bwrap_jail.run(tamper)
    assert result.ok, result
    assert not _recycled(bwrap_jail)
    nice = bwrap_jail.run("import os\nprint(os.getpriority(os.PRIO_PROCESS, 0))")
    assert nice.stdout == f"{os.getpriority(os.PRIO_PROCESS, 0)}\n", nice  # the new jail's, not the tampered one


def test_bwrap_pid_1_is_out_of_reach(bwrap_jail: Sandbox) -> None:
    """The jail's PID 1 outlives episodes, so the code may neither kill, stop nor ptrace it."""
    attack = LIBC + ("import os, signal\n"
                     "for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):\n"
                     "    os.kill(1, sig)\n"
                     "print(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())")  # PTRACE_ATTACH
    result = bwrap_jail.run(attack)
    assert result.ok and result.stdout == "-1 1\n", result  # EPERM
    assert _recycled(bwrap_jail)
    assert bwrap_jail.run("print(6 * 7)").stdout == "42\n"


def test_bwrap_fork_bomb_then_recycle(bwrap_jail: Sandbox) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = bwrap_jail.run(bomb, wall_s=2)
    assert result.status in (ExecStatus.TIMEOUT, ExecStatus.CPU_LIMIT), result
    bwrap_jail.reset()
    pids = bwrap_jail.run("import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    assert pids.stdout == "3\n", pids


HOST_KEYRING_SCRIPT = """
import json, sys
from sandbox import Limits, Sandbox
assert libc.syscall(KEYCTL, 1, b'tooluse-test-host') > 0  # KEYCTL_JOIN_SESSION_KEYRING: the host's own
key = libc.syscall(KEYCTL - 2, b'user', b'host-secret', b'host-payload', 12, -3)  # add_key to it
assert key > 0
with Sandbox(sys.argv[1], Limits(wall_s=20, cpu_s=5)) as sb:
    search = LIBC + "print(libc.syscall(KEYCTL, 10, -3, b'user', b'host-secret', 0))"  # KEYCTL_SEARCH
    seen = sb.run(search).stdout.strip()
    before = sb.worker_info.pid
    sb.reset()  # a bwrap jail is recycled: it clears its session keyring
    recycled = sb.worker_info.pid == before
buffer = ctypes.create_string_buffer(64)
size = libc.syscall(KEYCTL, 11, key, buffer, 64)  # KEYCTL_READ, by the host after the jail is gone
print(json.dumps({'seen': seen, 'recycled': recycled, 'read': buffer.raw[:size].decode() if size > 0 else None}))
"""


@pytest.mark.skipif(not KEYS_MACHINE, reason="keyctl's syscall number is known for x86_64 and aarch64 only")
def test_the_hosts_session_keyring_is_out_of_the_jails_reach(backend: BackendConfig) -> None:
    """bwrap and subprocess would hand the jail the host's session keyring: the worker joins one of its own,
    so the code cannot find the host's keys and a recycle does not clear them. Run in a child process, whose
    session keyring the test may replace."""
    import subprocess
    import sys

    if not isinstance(backend, (BwrapConfig, SubprocessConfig)):
        pytest.skip(reason="a docker container has no access to the host's keyrings")
    name = "bwrap" if isinstance(backend, BwrapConfig) else "subprocess"
    script = LIBC + f"LIBC = {LIBC!r}\n" + HOST_KEYRING_SCRIPT
    done = subprocess.run([sys.executable, "-c", script, name], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seen"] == "-1"  # the jail's session keyring is not the host's
    assert result["read"] == "host-payload"  # and the reset left the host's key alone
    if name == "bwrap":
        assert result["recycled"] is True
