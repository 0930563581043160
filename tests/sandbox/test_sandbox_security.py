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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import BackendConfig, BwrapConfig, ExecResult, ExecStatus, Limits, Sandbox, SubprocessConfig, WorkerInfo
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


# --- The jail's total memory (issue 13): many processes, tmpfs fills, inode floods ----------------------
#
# Measured from the host while the attack runs, by a thread sampling every few milliseconds:
# * with a cgroup (bwrap's leaf, docker's container): the kernel's own counter of everything charged to
#   the jail — anonymous memory, tmpfs pages, page tables, inodes and dentries — as ``memory.peak`` (v2) or
#   ``memory.max_usage_in_bytes`` (v1), the high-water mark, so no spike between samples is missed;
# * by construction (no cgroup): the anonymous memory of the jail's processes (``RssAnon``; shared library
#   pages belong to the host's page cache) plus the blocks used on the jail's tmpfs mounts (``statvfs``
#   through ``/proc/<jail pid>/root``) plus ``INODE_BYTES`` per inode in use there (500k empty files cost
#   497 MiB of kernel memory: ~1 KiB each). Samples can miss a short spike; the attacks hold their memory
#   for seconds so that they are seen.
ATTACK_LIMITS = Limits(wall_s=20, cpu_s=10, memory_mb=128, output_bytes=65536, max_procs=16, file_size_mb=1024,
                       disk_mb=64)
CONSTRUCTION_LIMITS = Limits(wall_s=20, cpu_s=10, memory_mb=64, output_bytes=65536, max_procs=8,
                             file_size_mb=1024, disk_mb=32)
"""Without a cgroup the bound is max_procs * memory_mb + the tmpfs sizes (here 8 * 64 + 2 * 32 MiB)."""
INODE_BYTES = 1024
OVERSHOOT_MB = 4
"""A cgroup lets a task already picked by the OOM killer (or a __GFP_NOFAIL charge) exceed ``memory.max``
briefly by a few pages; 4 MiB covers that and nothing an attack could use."""
FILES_HEADROOM_MB = 64
"""By construction, the kernel memory of the jail's files must stay within the headroom a cgroup adds."""
HOLD_S = 2
MANY_PROCESSES = """
import os, time
kids = []
for _ in range({count}):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        held = None
        for mb in range({memory_mb}, 0, -4):  # the largest block RLIMIT_AS allows, every page written
            try:
                held = b'\\x01' * (mb << 20)
                break
            except MemoryError:
                pass
        time.sleep({hold_s})
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
print('forked', len(kids))
"""
FILL_TMPFS = """
import os, time
written = {{}}
chunk = b'\\x01' * (8 << 20)
for folder in ('/dev/shm', '/dev', '/tmp', '/work'):
    mb = 0
    try:
        while mb < {max_mb}:
            with open(os.path.join(folder, 'fill-%d' % mb), 'wb') as handle:
                handle.write(chunk)
            mb += 8
    except OSError as exc:
        written[folder] = (mb, type(exc).__name__)
    else:
        written[folder] = (mb, 'not stopped')
time.sleep({hold_s})
print(written)
"""
MANY_FILES = """
import os, time
made = 0
try:
    while made < {count}:
        os.mknod('/work/%d' % made)
        made += 1
    stopped = 'not stopped'
except OSError as exc:
    stopped = type(exc).__name__
time.sleep({hold_s})
print(made, stopped)
"""


def _read_int(path: str) -> int:
    try:
        with open(path) as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def docker_cgroup(container: str) -> str | None:
    """The memory cgroup directory of a container (systemd or cgroupfs driver, cgroup v2 or v1)."""
    done = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", container], capture_output=True,
                          text=True, timeout=30)
    cid = done.stdout.strip()
    for path in (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope", f"/sys/fs/cgroup/docker/{cid}",
                 f"/sys/fs/cgroup/memory/docker/{cid}", f"/sys/fs/cgroup/memory/system.slice/docker-{cid}.scope"):
        if cid and os.path.isdir(path):
            return path
    return None


def cgroup_bytes(path: str) -> int:
    """The high-water mark of a memory cgroup (or its current charge where the kernel keeps no peak)."""
    if os.path.exists(os.path.join(path, "memory.peak")) or os.path.exists(os.path.join(path, "memory.current")):
        return max(_read_int(os.path.join(path, "memory.peak")), _read_int(os.path.join(path, "memory.current")))
    return max(_read_int(os.path.join(path, "memory.max_usage_in_bytes")),
               _read_int(os.path.join(path, "memory.usage_in_bytes")))


def jail_pids(info: WorkerInfo) -> list[int]:
    if info.uid is not None:
        return processes_of(info.uid)
    pids, frontier = [], [info.pid]
    while frontier:
        pid = frontier.pop()
        pids.append(pid)
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as handle:
                frontier += [int(child) for child in handle.read().split()]
        except OSError:
            pass
    return pids


def constructed_bytes(info: WorkerInfo) -> int:
    """RssAnon of the jail's processes + tmpfs blocks and inodes in use (see the comment above)."""
    total, roots = 0, []
    for pid in jail_pids(info):
        try:
            with open(f"/proc/{pid}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            total += int(fields.get("RssAnon", "0 kB").split()[0]) << 10
            if os.readlink(f"/proc/{pid}/root") == "/" and os.stat(f"/proc/{pid}/root/work", follow_symlinks=True):
                roots.append(pid)
        except (OSError, ValueError):
            continue
    for pid in roots[-1:]:
        seen: set[int] = set()
        for mount in ("work", "tmp", "dev"):
            try:
                stats = os.statvfs(f"/proc/{pid}/root/{mount}")
            except OSError:
                continue
            if stats.f_fsid in seen:
                continue
            seen.add(stats.f_fsid)
            total += (stats.f_blocks - stats.f_bfree) * stats.f_frsize
            total += (stats.f_files - stats.f_ffree) * INODE_BYTES
    return total


class JailMeter:
    """Samples the jail's total memory from the host while code runs in it (``with JailMeter(info):``)."""

    def __init__(self, info: WorkerInfo) -> None:
        self.info = info
        self.cgroup = info.cgroup or (docker_cgroup(info.container) if info.container else None)
        self.peak = 0
        self.samples = 0
        # Where the cgroup records its own high-water mark, the peak is exact however short the attack: a container
        # OOM-killed in 0.2 s leaves few samples (and takes its cgroup with it, hence the check here, while it lives).
        self.kernel_keeps_peak = bool(self.cgroup) and any(
            os.path.exists(os.path.join(self.cgroup, name)) for name in ("memory.peak", "memory.max_usage_in_bytes"))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def peak_mb(self) -> float:
        return self.peak / (1 << 20)

    def measure(self) -> int:
        return cgroup_bytes(self.cgroup) if self.cgroup else constructed_bytes(self.info)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.measure())
            self.samples += 1

    def __enter__(self) -> JailMeter:
        self.peak = self.measure()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.measure())


def attack_sandbox(backend: BackendConfig, mode: str) -> Sandbox:
    """A sandbox for one attack: ``mode`` "auto" (the backend as configured: a cgroup where there is one) or
    "construction" (bwrap told not to use a cgroup, with limits whose bound is small)."""
    if isinstance(backend, SubprocessConfig):
        pytest.skip(reason="subprocess backend is not a jail: nothing bounds its total, the attack would hit the host")
    if mode == "construction" and not isinstance(backend, BwrapConfig):
        pytest.skip(reason="only bwrap chooses between a cgroup and construction")
    if mode == "construction":
        backend = BwrapConfig(cgroup=False)
    sb = Sandbox(backend, CONSTRUCTION_LIMITS if mode == "construction" else ATTACK_LIMITS)
    info = sb.worker_info
    if mode == "auto" and info.enforcement != "cgroup":
        sb.close()
        pytest.skip(reason="no usable cgroup here: the construction variant covers this jail")
    if info.container is not None and docker_cgroup(info.container) is None:
        sb.close()
        pytest.skip(reason=f"the cgroup of container {info.container} is not where this test looks")
    return sb


def assert_total_bounded(meter: JailMeter, limits: Limits, what: str) -> None:
    info = meter.info
    if not meter.kernel_keeps_peak:  # sampled from outside: it must have looked often enough to see the peak
        assert meter.samples > 10, f"too few samples ({meter.samples}) to see {what}"
    if info.enforcement == "cgroup":
        assert info.memory_total_mb == limits.memory_mb + 64
    else:
        assert info.enforcement == "construction"
        inode_mb = (info.tmpfs_inodes or 0) * INODE_BYTES >> 20
        assert info.memory_total_mb == limits.max_procs * limits.memory_mb + 2 * (limits.disk_mb + inode_mb)
    assert meter.peak_mb <= info.memory_total_mb + OVERSHOOT_MB, (
        f"{what}: the jail held {meter.peak_mb:.0f} MiB, over its bound of {info.memory_total_mb} MiB "
        f"({info.enforcement})")


def run_attack(sb: Sandbox, code: str) -> tuple[ExecResult, JailMeter]:
    with JailMeter(sb.worker_info) as meter:
        result = sb.run(code)
    return result, meter


@pytest.mark.parametrize("mode", ["auto", "construction"])
def test_many_processes_near_the_cap_stay_within_the_total(backend: BackendConfig, mode: str) -> None:
    with attack_sandbox(backend, mode) as sb:
        limits = sb.limits
        code = MANY_PROCESSES.format(count=limits.max_procs - 5, memory_mb=limits.memory_mb, hold_s=HOLD_S)
        result, meter = run_attack(sb, code)
        # the cap may OOM-kill a child or the executor itself (CRASHED); it must never be exceeded
        assert result.status in (ExecStatus.OK, ExecStatus.CRASHED), result
        assert_total_bounded(meter, limits, "many processes")
        assert_still_works(sb)


@pytest.mark.parametrize("mode", ["auto", "construction"])
def test_filling_tmpfs_and_dev_shm_stays_within_the_total(backend: BackendConfig, mode: str) -> None:
    with attack_sandbox(backend, mode) as sb:
        limits = sb.limits
        result, meter = run_attack(sb, FILL_TMPFS.format(max_mb=1024, hold_s=HOLD_S))
        assert result.status in (ExecStatus.OK, ExecStatus.CRASHED), result
        if result.status is ExecStatus.OK:
            assert "not stopped" not in result.stdout, result.stdout  # ENOSPC (or EROFS) stopped every write
        assert_total_bounded(meter, limits, "filling the tmpfs mounts")
        assert_still_works(sb)


@pytest.mark.parametrize("mode", ["auto", "construction"])
def test_many_empty_files_stay_within_the_total(backend: BackendConfig, mode: str,
                                                request: pytest.FixtureRequest) -> None:
    with attack_sandbox(backend, mode) as sb:
        limits = sb.limits
        if mode == "construction" and sb.worker_info.tmpfs_inodes is None:
            request.applymarker(pytest.mark.xfail(strict=True, reason=(
                "without root and a cgroup nothing caps a tmpfs's inodes: bwrap has no nr_inodes option")))
        # 500k files would cost ~500 MiB: past the cgroup's total (192 MiB) and past the files' headroom
        count = 500_000 if mode == "auto" else 100_000
        result, meter = run_attack(sb, MANY_FILES.format(count=count, hold_s=HOLD_S))
        assert result.status in (ExecStatus.OK, ExecStatus.CRASHED), result
        if result.status is ExecStatus.OK:
            assert "not stopped" not in result.stdout, result.stdout
        assert_total_bounded(meter, limits, "creating empty files")
        if mode == "construction":
            assert meter.peak_mb <= FILES_HEADROOM_MB, f"the jail and its files took {meter.peak_mb:.0f} MiB"
        assert_still_works(sb)


def test_info_says_how_the_total_is_enforced(sandbox: Sandbox, backend: BackendConfig,
                                             battery_limits: Limits) -> None:
    info = sandbox.worker_info
    if isinstance(backend, SubprocessConfig):
        assert info.enforcement == "rlimits" and info.memory_total_mb is None
    elif isinstance(backend, BwrapConfig) and info.enforcement == "construction":
        inode_mb = (info.tmpfs_inodes or 0) * INODE_BYTES >> 20
        assert info.memory_total_mb == (battery_limits.max_procs * battery_limits.memory_mb
                                        + 2 * (battery_limits.disk_mb + inode_mb))
        assert info.cgroup is None
    else:
        assert info.enforcement == "cgroup"
        assert info.memory_total_mb == battery_limits.memory_mb + 64
        assert info.pids_max == battery_limits.max_procs
    if info.tmpfs_inodes is not None:  # bwrap under root, where the jail may mount its tmpfs itself
        assert info.tmpfs_inodes == battery_limits.disk_mb * 256
        result = sandbox.run("import os\nprint(os.statvfs('/work').f_files, os.statvfs('/tmp').f_files)")
        assert result.stdout.split() == [str(info.tmpfs_inodes)] * 2, result
    if info.cgroup is not None:
        assert os.path.isdir(info.cgroup)
        assert info.pid in [int(pid) for pid in Path(info.cgroup, "cgroup.procs").read_text().split()]
