"""Unit tests of the in-jail worker's pure parts (no jail needed): output caps and error descriptions."""

from __future__ import annotations

import pytest

from sandbox import worker


def test_capture_keeps_first_bytes_and_flags_the_rest() -> None:
    capture = worker.Capture(5)
    capture.add_text("abc")
    capture.add_text("defgh")
    assert capture.text() == "abcde" and capture.truncated


def test_capture_never_splits_a_character() -> None:
    capture = worker.Capture(5)
    capture.add_text("ab😀")  # 2 + 4 bytes: the emoji does not fit
    assert capture.text() == "ab" and capture.truncated


def test_capture_of_a_huge_string_encodes_only_what_fits() -> None:
    capture = worker.Capture(10)
    capture.add_text("x" * 10_000_000)
    assert bytes(capture.data) == b"x" * 10 and capture.truncated


def test_capture_bytes_and_exact_fit() -> None:
    capture = worker.Capture(4)
    capture.add_bytes(b"1234")
    assert not capture.truncated
    capture.add_bytes(b"")
    assert not capture.truncated
    capture.add_bytes(b"5")
    assert capture.truncated and capture.text() == "1234"


def test_capped_text_stream_behaves_like_stdout() -> None:
    capture = worker.Capture(100)
    stream = worker.CappedText(capture, 1)
    print("hi", 1, file=stream)
    stream.buffer.write(b"raw\n")
    stream.writelines(["a", "b\n"])
    assert capture.text() == "hi 1\nraw\nab\n"
    assert stream.fileno() == 1 and not stream.isatty()
    with pytest.raises(TypeError):
        stream.write(b"bytes")


def _raised(code: str) -> BaseException:
    try:
        exec(code, {})
    except BaseException as exc:  # noqa: B036 - capturing whatever the snippet raises
        return exc
    raise AssertionError("no exception")


def test_describe_formats_type_and_message() -> None:
    assert worker.describe(_raised("1/0")) == "ZeroDivisionError: division by zero"
    assert worker.describe(_raised("raise MemoryError")) == "MemoryError"
    assert worker.describe(_raised("import json; json.loads('x')")).startswith("json.decoder.JSONDecodeError: ")
    assert worker.describe(SyntaxError("invalid syntax", ("<cell-1>", 3, 1, "x y"))) == \
        "SyntaxError: invalid syntax (line 3)"


def test_classify_maps_exceptions_to_statuses() -> None:
    assert worker.classify(None, False)[0] == "ok"
    assert worker.classify(SystemExit(0), False)[0] == "ok"
    assert worker.classify(SystemExit(1), False)[:2] == ("error", "SystemExit: 1")
    assert worker.classify(MemoryError(), False)[0] == "memory_limit"
    assert worker.classify(worker.CpuLimitExceeded("cpu"), True)[0] == "cpu_limit"
    status, error, trace = worker.classify(_raised("1/0"), False)
    assert (status, error) == ("error", "ZeroDivisionError: division by zero")
    assert trace is not None and trace.endswith("ZeroDivisionError: division by zero\n")


def test_cap_text_cuts_at_whole_characters() -> None:
    assert worker.cap_text("abc", 3) == ("abc", False)
    assert worker.cap_text("abcd", 3) == ("abc", True)
    assert worker.cap_text("é" * 4, 5) == ("éé", True)  # 2 bytes each: the third would straddle the cap
    assert worker.cap_text("😀x", 4) == ("😀", True)
    text = "x" * 10_000_000
    assert worker.cap_text(text, 8) == ("x" * 8, True)


def test_clean_reply_keeps_known_fields_typed_and_capped() -> None:
    raw = {"status": "ok", "stdout": "a" * 50, "stderr": "b", "error": None, "traceback": None, "evil": "x",
           "stdout_truncated": "yes", "id": "forged"}
    clean = worker.clean_reply(raw, 10)
    assert clean == {"status": "ok", "stdout": "a" * 10, "stdout_truncated": True, "stderr": "b",
                     "stderr_truncated": False, "error": None, "traceback": None}
    assert worker.clean_reply({**raw, "status": "timeout"}, 10) is None  # the host's verdicts, never the jail's
    assert worker.clean_reply({**raw, "stdout": ["a"]}, 10) is None
    assert worker.clean_reply({**raw, "error": 1}, 10) is None
    assert worker.clean_reply([raw], 10) is None
    assert worker.clean_reply({"status": "error", "error": "e" * 20}, 10)["error"] == "e" * 10 + " ...[truncated]"
