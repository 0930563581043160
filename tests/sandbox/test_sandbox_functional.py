"""Behaviour every backend must share: notebook state, output capture, errors, files, reset."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sandbox import BackendConfig, ExecStatus, Sandbox

FILES = {"data.csv": "a,b\n1,2\n", "helper.py": "def triple(x):\n    return 3 * x\n",
         "raw/blob.bin": bytes(range(256))}


@pytest.fixture(scope="module")
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox of this backend, reset with this module's files (and back without them)."""
    sandbox.reset(files=FILES)
    yield sandbox
    sandbox.reset(files={})


def test_state_persists(sb: Sandbox) -> None:
    first = sb.run("x = 6\nprint(x * 7)")
    assert first.status is ExecStatus.OK and first.ok
    assert first.stdout == "42\n" and first.stderr == "" and first.error is None
    second = sb.run("print(x)")
    assert second.stdout == "6\n"
    assert not second.state_lost and second.duration_s > 0


def test_backend_name(sb: Sandbox, backend: BackendConfig) -> None:
    assert sb.backend_name == type(backend).__name__.removesuffix("Config").lower()
    assert sb.worker_info.backend == sb.backend_name


@pytest.mark.parametrize(("code", "error"), [
    ("1 / 0", "ZeroDivisionError: division by zero"),
    ("undefined_name", "NameError: name 'undefined_name' is not defined"),
    ("class Boom(Exception):\n    pass\nraise Boom('bad thing')", "Boom: bad thing"),
    ("import json\njson.loads('{')", "json.decoder.JSONDecodeError: Expecting property name enclosed in "
                                     "double quotes: line 1 column 2 (char 1)"),
    ("def f(:\n    pass", "SyntaxError: invalid syntax (line 1)"),
    ("import sys\nsys.exit(2)", "SystemExit: 2"),
    ("input()", "EOFError: EOF when reading a line"),
    ("raise KeyError('k')", "KeyError: 'k'"),
])
def test_errors_have_type_and_message(sb: Sandbox, code: str, error: str) -> None:
    result = sb.run(code)
    assert result.status is ExecStatus.ERROR, result
    assert result.error == error
    assert result.traceback is not None
    assert error.startswith(result.traceback.strip().splitlines()[-1])  # SyntaxError adds "(line N)"
    assert result.stderr.endswith(result.traceback)
    assert not result.state_lost


def test_traceback_points_at_the_cell(sb: Sandbox) -> None:
    result = sb.run("def inner():\n    return 1 / 0\n\ninner()")
    assert result.traceback is not None
    assert '<cell-' in result.traceback and "return 1 / 0" in result.traceback
    assert "worker" not in result.traceback


def test_output_before_an_error_is_kept(sb: Sandbox) -> None:
    result = sb.run("print('partial')\nraise ValueError('late')")
    assert result.stdout == "partial\n" and result.error == "ValueError: late"


def test_clean_exit_is_ok(sb: Sandbox) -> None:
    assert sb.run("import sys\nprint('bye')\nsys.exit(0)").status is ExecStatus.OK


def test_stderr_and_child_process_output(sb: Sandbox) -> None:
    result = sb.run("import os, sys\nprint('to stderr', file=sys.stderr)\nos.system('echo from a child')")
    assert result.stderr == "to stderr\n"
    assert result.stdout == "from a child\n"


def test_unicode_round_trip(sb: Sandbox) -> None:
    assert sb.run("print('héllo ✓ 😀 中文')").stdout == "héllo ✓ 😀 中文\n"


def test_runs_as_main(sb: Sandbox) -> None:
    assert sb.run("if __name__ == '__main__':\n    print('main')").stdout == "main\n"


def test_shipped_files_readable(sb: Sandbox) -> None:
    result = sb.run("import csv, helper\n"
                    "print(list(csv.reader(open('data.csv'))))\n"
                    "print(helper.triple(3))\n"
                    "print(open('raw/blob.bin', 'rb').read() == bytes(range(256)))")
    assert result.stdout == "[['a', 'b'], ['1', '2']]\n9\nTrue\n", result


def test_put_files(sb: Sandbox) -> None:
    sb.put_files({"later.txt": "added later"})
    assert sb.run("print(open('later.txt').read())").stdout == "added later\n"


def test_reset_clears_state_and_reships_files(sb: Sandbox) -> None:
    sb.run("secret_state = 1\nopen('scratch.txt', 'w').write('x')")
    sb.put_files({"kept.txt": "kept"}, keep_on_reset=True)
    sb.reset()
    result = sb.run("import os\nprint('secret_state' in globals(), sorted(os.listdir('.')))")
    assert result.stdout == "False ['data.csv', 'helper.py', 'kept.txt', 'raw']\n", result
    assert not result.state_lost  # asked for, so not reported as a loss


def test_huge_error_message_is_clipped(sb: Sandbox) -> None:
    result = sb.run("raise ValueError('x' * 10_000_000)")
    assert result.status is ExecStatus.ERROR, result
    assert result.error is not None and result.error.startswith("ValueError: xxx")
    assert len(result.error) < sb.limits.output_bytes + 100
    assert not result.state_lost


def test_worker_outlives_the_thread_that_started_it(sb: Sandbox) -> None:
    # bwrap's --die-with-parent and PR_SET_PDEATHSIG fire when the *thread* that forked the jail exits.
    sb.run("before = 1")
    starter = threading.Thread(target=sb.reset)
    starter.start()
    starter.join()
    time.sleep(0.2)
    result = sb.run("print('before' in globals())")
    assert result.status is ExecStatus.OK and not result.state_lost, result
    assert result.stdout == "False\n"
