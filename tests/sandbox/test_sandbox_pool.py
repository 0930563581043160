"""SandboxPool: warm reuse, isolation between leases, blocking acquire, and a clean close."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sandbox import BackendConfig, ExecStatus, Limits, SandboxClosed, SandboxError, SandboxPool, WorkerInfo


@pytest.fixture(scope="module")
def pool(backend: BackendConfig) -> Iterator[SandboxPool]:
    with SandboxPool(size=2, backend=backend, limits=Limits(wall_s=10)) as warm:
        yield warm


def test_lease_runs_with_files_and_state(pool: SandboxPool) -> None:
    with pool.acquire(files={"task.txt": "hello"}) as lease:
        assert lease.backend_name == pool.backend_name
        assert lease.run("x = open('task.txt').read()").status is ExecStatus.OK
        assert lease.run("print(x)").stdout == "hello\n"
        lease.run("del x")
        lease.reset()
        assert lease.run("print(open('task.txt').read(), 'x' in globals())").stdout == "hello False\n"


def test_released_sandbox_comes_back_fresh(pool: SandboxPool) -> None:
    first = pool.acquire(files={"mine.txt": "episode 1"})
    first.run("leak = 'from episode 1'\nopen('made.txt', 'w').write('x')")
    second = pool.acquire()
    first.release()
    again = pool.acquire(timeout_s=60)  # the released one, reset in the background meanwhile
    result = again.run("import os\nprint('leak' in globals(), sorted(os.listdir('.')))")
    assert result.stdout == "False []\n", result
    second.release()
    again.release()


def test_acquire_blocks_when_all_leased(pool: SandboxPool) -> None:
    leases = [pool.acquire(timeout_s=60) for _ in range(pool.size)]
    with pytest.raises(SandboxError, match="no sandbox became free"):
        pool.acquire(timeout_s=0.2)
    for lease in leases:
        lease.release()


def test_released_lease_is_dead(pool: SandboxPool) -> None:
    lease = pool.acquire(timeout_s=60)
    lease.release()
    lease.release()  # idempotent
    with pytest.raises(SandboxClosed):
        lease.run("1")


def test_close_kills_every_member(backend: BackendConfig,
                                  leftovers: Callable[[WorkerInfo], list[str]]) -> None:
    pool = SandboxPool(size=2, backend=backend, limits=Limits(wall_s=10))
    leased = pool.acquire()
    infos = [leased.worker_info]
    idle = pool.acquire()
    infos.append(idle.worker_info)
    idle.release()
    pool.close()
    with pytest.raises(SandboxClosed):
        pool.acquire()
    with pytest.raises(SandboxClosed):
        leased.run("1")
    assert [found for info in infos for found in leftovers(info)] == []
