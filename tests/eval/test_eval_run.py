"""``run_evaluation`` on the scripted agents: metrics, the results schema, determinism and resume."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from eval_helpers import episode_rows, evaluate, metrics_without_time

from mentor_agents.agents import AgentSpec, identity, random_value
from mentor_agents.eval.run import (
    SCHEMA_PATH,
    EvalConfig,
    ResumeMismatch,
    episodes_path,
    resolve_slots,
    validate_results,
)


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))


def test_results_file_validates_and_records_the_run(baseline_runs):
    doc = json.loads(baseline_runs["oracle"].read_text())
    validate_results(doc)
    assert doc["agent"]["spec"] == "oracle" and doc["project"]["name"] == "tooluse-mentor"
    assert {"python", "gymnasium", "numpy"} <= doc["versions"].keys()
    assert doc["env_ids"] == ["tooluse/BFCL-v0", "tooluse/Calculator-v0", "tooluse/Search-v0"]
    assert [s["label"] for s in doc["results"]] == ["Calculator ID", "Calculator OOD", "BFCL OOD", "Search OOD"]
    assert len(doc["task_set_sha256"]) == 64
    broken = copy.deepcopy(doc)
    broken["results"][0]["metrics"]["success"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validate_results(broken)


def test_baselines_bracket_the_tasks(baseline_runs):
    oracle = json.loads(baseline_runs["oracle"].read_text())["results"]
    no_tool = json.loads(baseline_runs["no-tool"].read_text())["results"]
    rand = json.loads(baseline_runs["random"].read_text())["results"]
    assert all(s["metrics"]["success"] == 1.0 and s["metrics"]["js_similarity"] == 1.0 for s in oracle)
    assert all(s["metrics"]["tool_calls_per_task"] == 0 and s["metrics"]["js_similarity"] == 0 for s in no_tool)
    assert all(s["metrics"]["tool_calls_per_task"] >= 1 for s in rand)


def test_same_seed_same_episodes_other_seed_differs(tmp_path):
    a = evaluate(tmp_path / "a.json", "random", envs=["tooluse/Calculator-v0"], splits=["test_id"], samples=2)
    b = evaluate(tmp_path / "b.json", "random", envs=["tooluse/Calculator-v0"], splits=["test_id"], samples=2)
    evaluate(tmp_path / "c.json", "random", envs=["tooluse/Calculator-v0"], splits=["test_id"], samples=2, seed=1)
    assert metrics_without_time(a) == metrics_without_time(b)
    strip = [
        {k: r[k] for k in ("task_id", "sample", "tool_calls", "answer")}
        for r in episode_rows(tmp_path / "a.episodes.jsonl")
    ]
    other = [
        {k: r[k] for k in ("task_id", "sample", "tool_calls", "answer")}
        for r in episode_rows(tmp_path / "c.episodes.jsonl")
    ]
    assert strip != other
    assert a["results"][0]["metrics"]["pass_at_k"].keys() == {"1", "2"}
    assert len(episode_rows(tmp_path / "a.episodes.jsonl")) == 8  # 4 tasks x 2 samples


def test_rerun_resumes_and_drops_a_torn_line(tmp_path):
    out = tmp_path / "r.json"
    full = evaluate(out, "random", envs=["tooluse/Search-v0"], splits=["test_ood"], episodes=6)
    path = episodes_path(out)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:20])  # 2 rows kept, a third torn mid-write
    again = evaluate(out, "random", envs=["tooluse/Search-v0"], splits=["test_ood"], episodes=6)
    assert again["execution"]["resumed_episodes"] == 2
    rows = episode_rows(path)
    assert sorted((r["task_id"], r["sample"]) for r in rows) == sorted({(r["task_id"], r["sample"]) for r in rows})
    assert len(rows) == 6
    assert metrics_without_time(again) == metrics_without_time(full)


def test_config_mismatch_is_refused(tmp_path):
    out = tmp_path / "m.json"
    evaluate(out, "oracle", envs=["tooluse/Calculator-v0"], splits=["test_id"], episodes=2)
    with pytest.raises(ResumeMismatch, match="another config"):
        evaluate(out, "oracle", envs=["tooluse/Calculator-v0"], splits=["test_id"], episodes=3)


def test_slots_from_protocols_and_ids():
    paper = resolve_slots(["paper"], None)
    assert [(s.env_id, s.split) for s in paper][:2] == [
        ("tooluse/Calculator-v0", "test_id"),
        ("tooluse/Calculator-v0", "test_ood"),
    ]
    assert [s.split for s in resolve_slots(["paper"], ["test_ood"])] == ["test_ood"] * 3
    assert {s.split for s in resolve_slots(["tooluse/SQL-v0"], None)} == {"test_id", "test_ood"}
    assert len(resolve_slots(["cross-domain"], None)) >= 4
    with pytest.raises(ValueError, match="unknown env id"):
        resolve_slots(["tooluse/Nope-v0"], None)
    assert episodes_path("runs/x.json").name == "x.episodes.jsonl"


def test_agent_specs():
    assert AgentSpec.parse("hf:runs/a").target == "runs/a"
    spec = AgentSpec.parse("openai:http://localhost:8000/v1#qwen")
    assert (spec.target, spec.model, spec.label) == ("http://localhost:8000/v1", "qwen", "openai:qwen")
    for bad in ("gpt", "openai:http://x", "hf:"):
        with pytest.raises(ValueError):
            AgentSpec.parse(bad)


def test_random_values_follow_the_schema_shape():
    import numpy as np

    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 3},
            "xs": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["n", "xs"],
    }
    value = random_value(schema, np.random.default_rng(0))
    assert 1 <= value["n"] <= 3 and all(isinstance(x, float) for x in value["xs"])


def test_a_header_torn_by_a_kill_starts_afresh(tmp_path):
    out = tmp_path / "h.json"
    episodes_path(out).write_text('{"header": {"schema_ver')  # killed before the header's newline
    again = evaluate(out, "oracle", envs=["tooluse/Calculator-v0"], splits=["test_id"], episodes=2)
    assert again["execution"]["resumed_episodes"] == 0 and len(episode_rows(episodes_path(out))) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"samples": 0}, "samples=0"),
        ({"episodes": 0}, "episodes=0"),
        ({"workers": 0}, "workers=0"),
        ({"reward": "nope"}, "unknown reward"),
        ({"splits": ["test"]}, "unknown split"),
    ],
)
def test_configs_that_could_only_fail_at_the_end_are_refused_up_front(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        EvalConfig(agent="oracle", out=str(tmp_path / "x.json"), **change)


def test_a_retrained_model_at_the_same_path_is_not_mixed_into_its_old_episodes(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"a": 1}')
    (model_dir / "model.safetensors").write_bytes(b"weights v1")
    spec = AgentSpec.parse(f"hf:{model_dir}")
    before = identity(spec)
    (model_dir / "model.safetensors").write_bytes(b"weights v2, retrained")
    assert identity(spec) != before and len(before["weights_sha256"]) == 64
    with pytest.raises(ValueError, match="no model files"):
        identity(AgentSpec.parse(f"hf:{tmp_path}"))
    server_a, server_b = (AgentSpec.parse(f"openai:http://{h}:8000/v1#m") for h in ("a", "b"))
    assert identity(server_a) != identity(server_b)
