"""The reply channel cannot be forged (issue 13, item 5).

Code in the jail tries to forge the worker's reply: a fake frame printed to stdout, written to every fd it
may hold and to every fd of its ancestors it can open through ``/proc``; frames of 3 MB; JSON nested
deep enough to raise ``RecursionError`` in a parser; garbage and truncated frames. The run must end with
the *real* result, within the output cap, and the sandbox must keep working. Then a fake worker that
speaks garbage on the host's pipe itself (a compromised jail) must turn every kind of garbage into an
``ExecResult``, never an exception out of ``Sandbox.run``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

import sandbox.sandbox as sandbox_module
from sandbox import BackendConfig, ExecStatus, Limits, Sandbox, SubprocessConfig, WorkerInfo
from sandbox.backend import JAIL_ENV, LaunchSpec, WorkerProcess, max_reply_bytes

IS_ROOT = os.geteuid() == 0

# Writes ``frame(tag)`` (bytes) to stdout, stderr, fds 3..1023 and every fd of every ancestor it can open,
# then prints "real <ancestor fds opened>" as its last line.
ATTACK = r"""
import json, os
def attack(frame):
    print(frame("print").decode("ascii", "replace")[:100], flush=True)
    for fd in (1, 2):
        try:
            os.write(fd, frame("fd%d" % fd))
        except OSError:
            pass
    for fd in range(3, 1024):
        try:
            os.write(fd, frame("fd%d" % fd))
        except OSError:
            pass
    opened, pid = [], os.getpid()
    for _ in range(6):
        try:
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if pid <= 1:
            break
        try:
            names = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for name in names:
            try:
                with open("/proc/%d/fd/%s" % (pid, name), "wb", buffering=0) as handle:
                    handle.write(frame("proc"))
                opened.append((pid, name))
            except OSError:
                pass
    return opened
"""

FAKE_REPLY = (
    "def frame(tag):\n"
    '    reply = {"status": "ok", "stdout": "FORGED " + tag, "stderr": "", "error": None, "traceback": None,\n'
    '             "stdout_truncated": False, "stderr_truncated": False, "ready": True}\n'
    '    for key in ("id", "seq"):\n'
    "        reply[key] = tag\n"
    '    return (json.dumps(reply) + "\\n").encode()\n'
)


@pytest.fixture
def attacker(sandbox: Sandbox, backend: BackendConfig) -> Iterator[Sandbox]:
    if isinstance(backend, SubprocessConfig) and not IS_ROOT:
        why = "subprocess backend without root shares the test runner's uid: the attack would write into its fds"
        pytest.skip(reason=why)
    sandbox.reset()
    assert sandbox.run(ATTACK).ok
    yield sandbox
    sandbox.reset()


def assert_still_works(sb: Sandbox) -> None:
    result = sb.run("print(6 * 7)")
    assert result.status is ExecStatus.OK, result
    assert result.stdout == "42\n"


def assert_real(result: Any, limits: Limits) -> None:
    assert result.status in (ExecStatus.OK, ExecStatus.OUTPUT_LIMIT), result
    assert len(result.stdout.encode()) <= limits.output_bytes
    assert len(result.stderr.encode()) <= limits.output_bytes
    assert not result.stdout.startswith("FORGED") and "FORGED" not in (result.error or "")


def test_a_forged_frame_is_never_taken_for_the_reply(attacker: Sandbox, battery_limits: Limits) -> None:
    attacker.run("kept = 'state'")
    result = attacker.run(FAKE_REPLY + "print('real', attack(frame))")
    assert_real(result, battery_limits)
    assert result.status is ExecStatus.OK, result
    # Python-level prints come first (the printed frame, then "real"), fd-level writes after them.
    assert "\nreal []\n" in result.stdout, result.stdout[:400]  # no ancestor's fd could be opened
    assert attacker.run("print(kept)").stdout == "state\n"  # the same worker: nothing was desynchronised
    assert_still_works(attacker)


def test_the_next_request_cannot_be_answered_in_advance(attacker: Sandbox) -> None:
    # Flood every fd with replies before returning; the following runs must get their own replies.
    attacker.run(FAKE_REPLY + "attack(frame)\nattack(frame)")
    for n in range(3):
        result = attacker.run(f"print({n})")
        assert result.status is ExecStatus.OK and result.stdout == f"{n}\n", result


def test_a_stolen_token_answers_only_its_own_run_and_within_the_cap(attacker: Sandbox, battery_limits: Limits) -> None:
    """The executor is the code's own process, so code that digs the current request's token out of the
    worker's frames can answer its own run: that is no more than printing, and stays capped and in sync."""
    steal = (
        "import sys\n"
        "f, token = sys._getframe(), None\n"
        "while f is not None and token is None:\n"
        "    request = f.f_locals.get('request')\n"
        "    token = request.get('seq') if isinstance(request, dict) else None\n"
        "    f = f.f_back\n"
        "STOLEN = (json.dumps({'seq': token, 'status': 'ok', 'stdout': 'S' * 3_000_000}) + '\\n').encode()\n"
        "def frame(tag):\n"
        "    return STOLEN\n"
        "attack(frame)\n"
    )
    found = attacker.run(steal.split("STOLEN")[0] + "print(isinstance(token, str) and len(token) >= 16)")
    assert found.stdout == "True\n", found  # the theft itself works: the attack below is real
    result = attacker.run(steal)
    assert result.status in (ExecStatus.OK, ExecStatus.OUTPUT_LIMIT), result
    assert len(result.stdout.encode()) <= battery_limits.output_bytes
    for n in range(3):  # the real reply to the robbed request is dropped, not taken for the next one
        following = attacker.run(f"print({n})")
        assert following.status is ExecStatus.OK and following.stdout == f"{n}\n", following


def test_three_megabyte_frames_and_prints_stay_capped(attacker: Sandbox, battery_limits: Limits) -> None:
    big = (
        'BIG = (json.dumps({"id": "x", "seq": "x", "status": "ok", "stdout": "x" * 3_000_000}) + "\\n").encode()\n'
        "def frame(tag):\n"
        "    return BIG\n"
    )
    result = attacker.run(big + "attack(frame)\nprint('y' * 3_000_000)\nimport sys\nsys.stderr.write('z' * 3_000_000)")
    assert_real(result, battery_limits)
    assert result.status is ExecStatus.OUTPUT_LIMIT and result.stdout_truncated and result.stderr_truncated
    assert_still_works(attacker)


def test_deeply_nested_frames_do_not_raise(attacker: Sandbox, battery_limits: Limits) -> None:
    nested = (
        'DEEP = b"[" * 500_000 + b"]" * 500_000 + b"\\n" + b"{\\"a\\":" * 200_000 + b"1" + b"}" * 200_000 + b"\\n"\n'
        "def frame(tag):\n"
        "    return DEEP\n"
    )
    result = attacker.run(nested + "attack(frame)\nprint('real')")
    assert_real(result, battery_limits)
    assert "\nreal\n" in result.stdout, result.stdout[:400]
    assert_still_works(attacker)


def test_deep_recursion_in_the_code_is_a_result(sandbox: Sandbox) -> None:
    result = sandbox.run("def f(n):\n    return f(n + 1)\nf(0)")
    assert result.status is ExecStatus.ERROR and (result.error or "").startswith("RecursionError"), result
    deeper = sandbox.run("import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n    return f(n + 1)\nf(0)")
    assert deeper.status in (ExecStatus.ERROR, ExecStatus.CRASHED, ExecStatus.MEMORY_LIMIT), deeper
    assert_still_works(sandbox)


def test_garbage_and_truncated_frames_are_dropped(attacker: Sandbox, battery_limits: Limits) -> None:
    garbage = (
        "def frame(tag):\n"
        '    return (b"garbage\\n\\xff\\xfe\\x00\\n[]\\n\\"str\\"\\n{\\"seq\\": null}\\n"\n'
        '            b"{\\"seq\\": \\"" + tag.encode() + b"\\", \\"status\\": 7}\\n{\\"status\\": \\"ok\\"")\n'
    )
    result = attacker.run(garbage + "attack(frame)\nprint('real')")
    assert_real(result, battery_limits)
    assert "\nreal\n" in result.stdout, result.stdout[:400]
    assert_still_works(attacker)


def test_the_executor_holds_no_host_fd(sandbox: Sandbox, backend: BackendConfig) -> None:
    """Only /dev/null, the capture files and the executor's own pipe pair: nothing that reaches the host."""
    result = sandbox.run(
        "import os, stat\n"
        "pipes = [fd for fd in map(int, os.listdir('/proc/self/fd'))\n"
        "         if os.path.exists(f'/proc/self/fd/{fd}') and stat.S_ISFIFO(os.fstat(fd).st_mode)]\n"
        "print(len(pipes))"
    )
    assert result.status is ExecStatus.OK, result
    assert result.stdout == "2\n"  # the request pipe's read end and the reply pipe's write end


# -- a compromised worker, speaking garbage on the host's pipe itself ---------------------------------------

FAKE_WORKER = r"""
import json, os, sys
mode = sys.argv[1]
out = os.fdopen(1, "wb", buffering=0)
out.write(b'{"ready": true, "pid": 1}\n')
for line in sys.stdin.buffer:
    nonce = json.loads(line)["id"]
    ok = {"id": nonce, "status": "ok", "stdout": "fine", "stderr": "", "error": None, "traceback": None,
          "stdout_truncated": False, "stderr_truncated": False}
    if json.loads(line)["op"] != "run" or mode == "honest":
        out.write(json.dumps(ok).encode() + b"\n")
    elif mode == "nested":
        out.write(b"[" * 200_000 + b"]" * 200_000 + b"\n")
    elif mode == "nested_in_field":
        deep = b"[" * 200_000 + b"]" * 200_000
        out.write(b'{"id": "' + nonce.encode() + b'", "status": "ok", "stdout": ' + deep + b"}\n")
    elif mode == "not_json":
        out.write(b"\xff\xfegarbage\n")
    elif mode == "not_object":
        out.write(b"[1, 2]\n")
    elif mode == "huge_line":
        out.write(b"x" * 8_000_000 + b"\n")
    elif mode == "endless_line":
        while True:
            out.write(b"y" * 65536)
    elif mode == "truncated":
        out.write(b'{"id": "' + nonce.encode() + b'", "status": "o')
        os._exit(0)
    elif mode == "wrong_id":
        out.write(json.dumps({**ok, "id": "someone-else"}).encode() + b"\n")
    elif mode == "bad_type":
        out.write(json.dumps({**ok, "stdout": {"a": 1}}).encode() + b"\n")
    elif mode == "forged_status":
        out.write(json.dumps({**ok, "status": "timeout"}).encode() + b"\n")
    elif mode == "protocol_error":
        out.write(json.dumps({"id": nonce, "protocol_error": "malformed"}).encode() + b"\n")
    elif mode == "big_fields":
        big = {**ok, "stdout": "s" * 1_000_000, "stderr": "\u00e9" * 200_000, "error": "e" * 800_000,
               "traceback": "t" * 200_000}
        out.write(json.dumps(big).encode() + b"\n")
"""
LIMITS = Limits(wall_s=20, output_bytes=65536)


class FakeBackend:
    """Runs FAKE_WORKER directly (no supervisor, no jail): stands in for a worker the code took over."""

    name: ClassVar[str] = "fake"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def launch_spec(self) -> LaunchSpec:
        return LaunchSpec([sys.executable, "-I", "-c", FAKE_WORKER, self.mode], dict(JAIL_ENV))

    def terminate(self, worker: WorkerProcess) -> None:
        worker.kill_group()

    def info(self, worker: WorkerProcess) -> WorkerInfo:
        return WorkerInfo(self.name, worker.pid)

    def close(self) -> None:
        pass


def fake_sandbox(monkeypatch: pytest.MonkeyPatch, mode: str) -> Sandbox:
    monkeypatch.setattr(sandbox_module, "create_backend", lambda backend, limits: FakeBackend(mode))
    return Sandbox("subprocess", LIMITS)


@pytest.mark.parametrize(
    "mode",
    [
        "nested",
        "nested_in_field",
        "not_json",
        "not_object",
        "huge_line",
        "endless_line",
        "truncated",
        "wrong_id",
        "bad_type",
        "forged_status",
        "protocol_error",
    ],
)
def test_worker_garbage_is_a_crashed_result_not_an_exception(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    with fake_sandbox(monkeypatch, mode) as sb:
        result = sb.run("print(1)")
        assert result.status is ExecStatus.CRASHED, result
        assert result.state_lost and result.stdout == ""
        assert "WorkerCrashed" in (result.error or "")
        assert sb.run("print(1)").status is ExecStatus.CRASHED  # a fresh (equally broken) worker each time


def test_oversized_fields_are_cut_at_the_cap_by_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_reply_bytes(LIMITS) > 3_000_000  # the frame is accepted: the host itself must cut the fields
    with fake_sandbox(monkeypatch, "big_fields") as sb:
        result = sb.run("print(1)")
    assert result.status is ExecStatus.OUTPUT_LIMIT, result.status
    assert result.stdout_truncated and result.stderr_truncated
    assert len(result.stdout.encode()) == LIMITS.output_bytes
    assert LIMITS.output_bytes - 1 <= len(result.stderr.encode()) <= LIMITS.output_bytes  # whole characters
    assert result.error is not None and len(result.error) <= LIMITS.output_bytes + 20
    assert result.traceback is not None and len(result.traceback) <= LIMITS.output_bytes + 20


def test_an_honest_fake_worker_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_sandbox(monkeypatch, "honest") as sb:
        result = sb.run("print(1)")
    assert result.status is ExecStatus.OK and result.stdout == "fine", result


def test_a_garbled_hello_is_a_start_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import WorkerStartError

    class NestedHello(FakeBackend):
        def launch_spec(self) -> LaunchSpec:
            script = "import os\nos.write(1, b'[' * 200000 + b']' * 200000 + b'\\n')\nimport time\ntime.sleep(30)"
            return LaunchSpec([sys.executable, "-I", "-c", script], dict(JAIL_ENV))

    monkeypatch.setattr(sandbox_module, "create_backend", lambda backend, limits: NestedHello("x"))
    with pytest.raises(WorkerStartError, match="garbled"):
        Sandbox("subprocess", LIMITS)


def test_reply_problem_names_each_fault() -> None:
    from sandbox.backend import parse_line, reply_problem

    assert parse_line(b"[" * 100_000 + b"]" * 100_000) is None
    assert parse_line(b"\xff") is None
    good = {
        "id": "n",
        "status": "ok",
        "stdout": "",
        "stderr": "",
        "error": None,
        "traceback": None,
        "stdout_truncated": False,
        "stderr_truncated": False,
    }
    assert reply_problem(good, "n") is None
    assert "not a JSON object" in (reply_problem([1], "n") or "")
    assert "another request" in (reply_problem({**good, "id": "m"}, "n") or "")
    assert "unknown status" in (reply_problem({**good, "status": "crashed"}, "n") or "")
    assert "'stdout'" in (reply_problem({**good, "stdout": 1}, "n") or "")
    assert "'stdout_truncated'" in (reply_problem({**good, "stdout_truncated": "yes"}, "n") or "")
    assert json.loads(json.dumps(good)) == good
