"""Everyday mistakes give one line on stderr, ``mentor <command>: ...``, and exit 2; ``--debug`` re-raises.

Each case goes through the CLI in-process (``main([...])``): a checkpoint or model file cut short, a
garbage ``latest.json``, an unreachable or wrong ``openai:`` endpoint, a foreign, older or non-JSON
results file for ``mentor leaderboard``, ``mentor train`` without torch, an unknown preset or env, and
``mentor serve`` given a run directory (resolved as ``mentor eval`` resolves it).
"""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading
from pathlib import Path

import pytest

from mentor_agents.cli import main
from mentor_agents.errors import UserError

TINY_SFT = ["--preset", "tiny", "--method", "sft", "--sft.batch_size", "2", "--sft.checkpoint_every", "1", "--quiet"]
EVAL = ["--env", "tooluse/Calculator-v0", "--split", "test_id", "--episodes", "1", "--max-turns", "1", "--quiet"]


def one_line(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The one stderr line of a user error, checked for its prefix and ``words``."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("mentor "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture()
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a model is loaded: flags are checked before anything heavy happens."""
    import mentor_agents.models

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded before the flags were checked")

    monkeypatch.setattr(mentor_agents.models, "load_preset", refuse)


def test_an_unknown_preset_is_one_line_naming_the_flag(tmp_path, capsys, no_model_loading):
    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny2", "--out", str(out)]) == 2
    one_line(capsys, "mentor train: --preset tiny2: unknown preset", "did you mean tiny?", "smollm2-135m")
    assert not out.exists()


def test_an_unknown_env_is_refused_before_anything_is_loaded(tmp_path, capsys, no_model_loading):
    out = tmp_path / "run"
    assert main(["train", "--env", "tooluse/Calc-v0", "--out", str(out)]) == 2
    one_line(capsys, "--env tooluse/Calc-v0: unknown env id", "did you mean tooluse/Calculator-v0?")
    assert not out.exists()


def test_train_without_the_train_extra_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ModuleNotFoundError
    out = tmp_path / "run"
    assert main(["train", "--method", "sft", "--out", str(out)]) == 2
    one_line(capsys, "mentor train: torch is not installed", "[train] extra", "pip install 'tooluse-mentor[train]'")
    assert not out.exists()


def test_debug_re_raises_before_or_after_the_command(tmp_path):
    for argv in (["--debug", "train", "--preset", "tiny2"], ["train", "--preset", "tiny2", "--debug"]):
        with pytest.raises(UserError, match="unknown preset"):
            main([*argv, "--out", str(tmp_path / "run")])


def test_resume_falls_back_to_the_newest_intact_checkpoint_and_fails_when_none_is(
    tmp_path, tiny_cache, monkeypatch, capsys
):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    ckpts = out / "checkpoints"
    assert main(["train", *TINY_SFT, "--sft.steps", "2", "--out", str(out)]) == 0
    assert sorted(p.name for p in ckpts.glob("step_*.pt")) == ["step_000001.pt", "step_000002.pt"]
    newest = ckpts / "step_000002.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # a disk that filled up mid-copy
    (ckpts / "latest.json").write_text('{"path": "step_0000')  # and a latest.json cut short
    capsys.readouterr()
    assert main(["train", *TINY_SFT, "--sft.steps", "3", "--out", str(out), "--resume"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "resuming from" in line]
    assert len(said) == 1, said
    assert "latest.json is unreadable" in said[0] and "step_000002.pt is truncated" in said[0]
    assert said[0].endswith("resuming from step_000001.pt")
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-2:] == [2, 3]  # steps 2 and 3 redone from step 1's state
    assert json.loads((ckpts / "latest.json").read_text())["step"] == 3

    for path in ckpts.glob("step_*.pt"):  # none intact: a clear refusal, not a torch traceback
        path.write_bytes(b"PK\x03\x04 cut")
    (ckpts / "latest.json").write_text("garbage")
    assert main(["train", *TINY_SFT, "--sft.steps", "4", "--out", str(out), "--resume"]) == 2
    one_line(
        capsys,
        f"mentor train: cannot resume from {ckpts}: no intact checkpoint",
        "latest.json is unreadable",
        "step_000003.pt is truncated",
        "step_000002.pt is truncated",
        "--overwrite",
    )


@pytest.fixture()
def trained_run(tmp_path, tiny_model, tokenizer) -> Path:
    """A run directory as ``mentor train`` leaves it: config.json and final_model/."""
    run = tmp_path / "runs" / "x"
    tiny_model.save_pretrained(run / "final_model")
    tokenizer.save_pretrained(run / "final_model")
    (run / "config.json").write_text(json.dumps({"version": 1, "preset": "tiny", "method": "sft", "seed": 0}))
    return run


def test_eval_of_a_run_with_a_truncated_model_names_the_file(trained_run, tmp_path, capsys):
    weights = trained_run / "final_model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    assert main(["eval", "--agent", f"hf:{trained_run}", *EVAL, "--out", str(tmp_path / "r.json")]) == 2
    one_line(capsys, "mentor eval:", f"{weights} is truncated", "re-save the model")


def test_eval_of_an_unfinished_run_says_to_resume_it(trained_run, tmp_path, capsys):
    import shutil

    shutil.rmtree(trained_run / "final_model")
    (trained_run / "checkpoints").mkdir()
    (trained_run / "checkpoints" / "step_000001.pt").write_bytes(b"PK")
    assert main(["eval", "--agent", f"hf:{trained_run}", *EVAL, "--out", str(tmp_path / "r.json")]) == 2
    one_line(capsys, "no final_model/", f"mentor train --resume --out {trained_run}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_eval_against_a_closed_port_is_one_line(tmp_path, tiny_cache, tokenizer, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    url = f"http://127.0.0.1:{_free_port()}/v1"
    assert main(["eval", "--agent", f"openai:{url}#m", *EVAL, "--out", str(tmp_path / "r.json")]) == 2
    one_line(capsys, f"cannot reach {url}/chat/completions", "is the server running?", "port")
    assert not (tmp_path / "r.episodes.jsonl").exists()  # nothing played: the rerun with the right URL starts clean


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b'{"error": "no such route"}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_eval_against_a_wrong_path_names_the_http_error(tmp_path, tiny_cache, tokenizer, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v2"
        assert main(["eval", "--agent", f"openai:{url}#m", *EVAL, "--out", str(tmp_path / "r.json")]) == 2
    finally:
        server.shutdown()
        server.server_close()
    one_line(capsys, f"{url}/chat/completions answered HTTP 404", "no such route", "openai:<base_url>#<model>")


def test_an_openai_url_without_a_scheme_is_one_line(tmp_path, tiny_cache, tokenizer, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    assert main(["eval", "--agent", "openai:localhost:8000/v1#m", *EVAL, "--out", str(tmp_path / "r.json")]) == 2
    one_line(capsys, "localhost:8000/v1: the base URL must start with http://")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json at all\n", ("is not JSON", "mentor eval --out")),
        (json.dumps({"rows": [1, 2]}), ("is not a mentor eval results file", "re-run mentor eval")),
        (json.dumps({"schema_version": "1", "results": []}), ("schema_version '1', this mentor reads '2'",)),
        (json.dumps({"schema_version": "2", "results": []}), ("does not match the results schema at the top level",)),
    ],
    ids=["not-json", "foreign", "older", "broken"],
)
def test_leaderboard_names_a_file_it_cannot_read(tmp_path, capsys, content, words):
    bad = tmp_path / "old-run.json"
    bad.write_text(content)
    assert main(["leaderboard", str(bad), "--out", str(tmp_path / "lb")]) == 2
    line = one_line(capsys, f"mentor leaderboard: {bad}", *words)
    assert len(line) < 400
    assert not (tmp_path / "lb").exists()


def test_leaderboard_debug_shows_the_original_error(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{")
    with pytest.raises(UserError) as raised:
        main(["--debug", "leaderboard", str(bad), "--out", str(tmp_path / "lb")])
    assert isinstance(raised.value.__cause__, json.JSONDecodeError)


def test_serve_resolves_a_run_directory_as_eval_does(trained_run, monkeypatch, capsys):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app, **kwargs))
    assert main(["serve", "--model", f"hf:{trained_run}", "--port", "0"]) == 0
    assert served["app"] is not None and served["port"] == 0
    capsys.readouterr()
    assert main(["serve", "--model", "oracle"]) == 2
    one_line(capsys, "mentor serve: --model oracle: not a model to serve", "hf:<path or run dir>")


def test_serve_of_a_missing_directory_is_one_line(tmp_path, capsys):
    assert main(["serve", "--model", f"hf:{tmp_path / 'nope'}"]) == 2
    one_line(capsys, "mentor serve: hf:", "no such directory")


def test_a_missing_module_that_is_no_extra_names_its_own_install_command():
    from mentor_agents.errors import missing_extra

    vllm = missing_extra(ModuleNotFoundError("No module named 'vllm'", name="vllm"))
    assert vllm is not None and "pip install vllm" in str(vllm) and "tooluse-mentor[" not in str(vllm)
    bfcl = missing_extra(ModuleNotFoundError("No module named 'bfcl_eval'", name="bfcl_eval"))
    assert bfcl is not None and "scripts/data_wheel.py bfcl-eval" in str(bfcl)
    assert missing_extra(ModuleNotFoundError("No module named 'numpyy'", name="numpyy")) is None
