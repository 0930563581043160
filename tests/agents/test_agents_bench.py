"""``mentor bench``: the statistics on fixed numbers, the grid's equal-compute rules, and a tiny grid end to
end — stopped part-way (mid-training), continued without redoing a finished cell, re-evaluating only a
cell whose results were deleted, growing by a seed, refusing a changed config."""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys

import pytest

pytest.importorskip("torch")

from mentor_agents.bench.grid import EvalSettings, Grid, GridMismatch, prepare  # noqa: E402
from mentor_agents.bench.report import MEAN_SLOT, validate_bench  # noqa: E402
from mentor_agents.bench.stats import incomplete_beta, mean_ci, paired_difference, summarize, t_quantile  # noqa: E402
from mentor_agents.cli import main  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread here (restored after): the tiny model gains nothing from two, and on a busy 2-core
    machine two spinning threads made this module's grid 6x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- statistics on fixed numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 4, 2.776),
        (0.975, 10, 2.228),
        (0.975, 30, 2.042),
        (0.995, 5, 4.032),
    ],
)
def test_t_quantile_matches_the_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=5e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=5e-4)


def test_t_quantile_tends_to_the_normal_and_the_beta_function_is_exact():
    assert t_quantile(0.975, 1e6) == pytest.approx(1.95996, abs=1e-4)
    assert incomplete_beta(2, 3, 0.5) == pytest.approx(11 / 16, abs=1e-12)  # P(Beta(2, 3) <= 1/2), exactly
    assert incomplete_beta(1, 1, 0.3) == pytest.approx(0.3, abs=1e-12)


def test_mean_ci_on_fixed_numbers():
    s = mean_ci([0.1, 0.2, 0.3], seeds=[0, 1, 2])
    assert (s.n, s.mean, s.sd) == (3, pytest.approx(0.2), pytest.approx(0.1))
    half = 4.302653 * 0.1 / math.sqrt(3)
    assert s.half_width == pytest.approx(half, rel=1e-6)
    assert s.ci == (pytest.approx(0.2 - half, rel=1e-6), pytest.approx(0.2 + half, rel=1e-6))
    assert not s.excludes_zero and mean_ci([1.0, 1.2, 0.9, 1.1, 1.0]).excludes_zero


def test_one_seed_has_a_mean_but_no_ci_and_none_has_neither():
    one = mean_ci([0.4])
    assert (one.n, one.mean, one.sd, one.ci, one.half_width) == (1, 0.4, None, None, None)
    assert not one.excludes_zero
    empty = summarize({0: None})
    assert (empty.n, empty.mean, empty.ci) == (0, None, None)


def test_paired_differences_pair_by_seed_and_skip_missing_values():
    method = {0: 0.50, 1: 0.70, 2: 0.60, 3: None}
    baseline = {0: 0.42, 1: 0.60, 2: 0.53, 4: 0.9}
    d = paired_difference(method, baseline)
    assert d.seeds == [0, 1, 2] and d.values == pytest.approx([0.08, 0.10, 0.07])
    sd = math.sqrt(((0.08 - 0.25 / 3) ** 2 + (0.10 - 0.25 / 3) ** 2 + (0.07 - 0.25 / 3) ** 2) / 2)
    assert d.mean == pytest.approx(0.25 / 3) and d.sd == pytest.approx(sd)
    assert d.half_width == pytest.approx(4.302653 * sd / math.sqrt(3), rel=1e-6)
    assert d.excludes_zero  # +8.3 ± 3.8 points, although each method's own CI is ± 25 points wide:
    assert mean_ci([0.50, 0.70, 0.60]).half_width == pytest.approx(0.248, abs=1e-3)  # seeds shared cancel out


# --- the grid's rules (no training) ---------------------------------------------------------------------

TINY_GRPO = {"steps": 2, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 16, "max_turns": 2}


def test_unknown_method_is_refused_with_the_choices(capsys):
    with pytest.raises(ValueError, match=r"unknown method 'nope'; choose from base, sft, .*sparse, mentor, .*toolrl"):
        Grid.resolve("tiny", ["base", "nope"], [0])
    assert main(["bench", "--methods", "base", "nope", "--out", "unused"]) == 2
    assert "mentor bench: unknown method 'nope'; choose from base, sft" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--start sft"):
        Grid.resolve("tiny", ["sft+mentor"], [0])


def test_rl_cells_share_one_grpo_config_except_reward_and_seed(tmp_path):
    grid = Grid.resolve("tiny", ["base", "sft", "sparse", "mentor", "toolrl"], [0, 1], grpo=TINY_GRPO)
    configs = {(c.method, c.seed): grid.train_config(c) for c in grid.cells(tmp_path)}
    assert configs[("base", 0)] is None
    rl = {k: v.grpo for k, v in configs.items() if k[0] not in ("base", "sft")}
    flat = {k: {f: v for f, v in vars(cfg).items() if f not in ("reward", "seed")} for k, cfg in rl.items()}
    assert len({json.dumps(v, sort_keys=True) for v in flat.values()}) == 1
    assert {(k, cfg.reward, cfg.seed) for k, cfg in rl.items()} == {(k, k[0], k[1]) for k in rl}
    assert all(configs[k].preset == "tiny" and configs[k].sft is None for k in rl)


def test_a_pretrained_base_is_evaluated_once_and_a_seeded_base_per_seed(tmp_path, monkeypatch):
    from mentor_agents.bench.grid import Cell, evaluated_twin

    monkeypatch.setattr(Cell, "evaluated", lambda self: self.eval_path.is_file())  # no schema check here
    for preset, reused in (("smollm2-135m", True), ("tiny", False)):
        out = tmp_path / preset
        grid = Grid.resolve(preset, ["base", "sft", "mentor"], [0, 1, 2], grpo=TINY_GRPO)
        cells = {(c.method, c.seed): c for c in grid.cells(out)}
        assert evaluated_twin(grid, cells[("base", 1)]) is None  # nothing evaluated yet
        cells[("base", 0)].path.mkdir(parents=True)
        cells[("base", 0)].eval_path.write_text("{}")
        twin = evaluated_twin(grid, cells[("base", 2)])
        assert twin == (cells[("base", 0)].eval_path if reused else None)
        assert evaluated_twin(grid, cells[("sft", 1)]) is None  # trained cells differ by seed


def test_lora_flags_reach_every_trained_cell_and_are_part_of_the_saved_grid(tmp_path, capsys):
    grid = Grid.resolve("tiny", ["base", "sft", "mentor"], [0], grpo=TINY_GRPO, lora={"rank": 4, "alpha": 8.0})
    configs = [grid.train_config(c) for c in grid.cells(tmp_path)]
    assert [(c.lora.rank, c.lora.alpha) for c in configs if c is not None] == [(4, 8.0), (4, 8.0)]
    assert Grid.resolve("tiny", ["sft"], [0]).train_config(grid.cells(tmp_path)[1]).lora.rank == 0  # default: off
    grid.save(tmp_path)
    other = Grid.resolve("tiny", ["base", "sft", "mentor"], [0], grpo=TINY_GRPO, lora={"rank": 8, "alpha": 8.0})
    assert "lora.rank: 4 -> 8" in Grid.load(tmp_path).changes(other)
    with pytest.raises(ValueError, match="lora.rank"):
        Grid.resolve("tiny", ["sft"], [0], lora={"rank": -1})
    args = ["bench", "--methods", "sft", "--seeds", "0", "--lora.rank", "-1", "--out", str(tmp_path / "x")]
    assert main(args) == 2 and "lora.rank" in capsys.readouterr().err


def test_sft_steps_match_the_rl_trajectories_unless_given():
    grpo = TINY_GRPO | {"steps": 3}  # 3 steps x 2 prompts x 2 samples = 12 trajectories
    grid = Grid.resolve("tiny", ["sft", "mentor"], [0], sft={"batch_size": 5}, grpo=grpo)
    assert grid.sft is not None and grid.sft["steps"] == 3  # ceil(12 / 5)
    assert grid.compute["rl"]["trajectories"] == 12 and grid.compute["sft"]["examples"] == 15
    assert grid.compute["sft"]["rule"].startswith("matched")
    given = Grid.resolve("tiny", ["sft", "mentor"], [0], sft={"steps": 7}, grpo=grpo)
    assert given.sft is not None and given.sft["steps"] == 7 and given.compute["sft"]["rule"].startswith("given")


def test_grid_flags_that_no_cell_uses_or_that_belong_to_a_cell_are_refused():
    with pytest.raises(ValueError, match=r"--grpo.lr: the grid has no RL method"):
        Grid.resolve("tiny", ["base", "sft"], [0], grpo={"lr": 0.1})
    with pytest.raises(ValueError, match=r"--sft.lr: the grid has no sft cell"):
        Grid.resolve("tiny", ["mentor"], [0], sft={"lr": 0.1})
    with pytest.raises(ValueError, match=r"--grpo.seed: set per cell"):
        Grid.resolve("tiny", ["mentor"], [0], grpo={"seed": 3})
    with pytest.raises(ValueError, match="add sft to --methods"):
        Grid.resolve("tiny", ["mentor"], [0], start="sft")
    with pytest.raises(ValueError, match="seeds must be distinct"):
        Grid.resolve("tiny", ["base"], [0, 0])
    with pytest.raises(ValueError, match="unknown env id"):
        Grid.resolve("tiny", ["base"], [0], eval=EvalSettings(envs=["tooluse/Nope-v0"]))


def test_a_saved_grid_continues_grows_and_refuses_other_changes(tmp_path):
    grid = Grid.resolve("tiny", ["sft", "mentor"], [0, 1], grpo=TINY_GRPO)
    prepare(grid, tmp_path)
    assert prepare(Grid.resolve("tiny", ["sft", "mentor"], [0, 1], grpo=TINY_GRPO), tmp_path) == grid
    grown = prepare(Grid.resolve("tiny", ["sft", "mentor", "sparse"], [0, 1, 2], grpo=TINY_GRPO), tmp_path)
    assert (grown.methods, grown.seeds) == (["sft", "mentor", "sparse"], [0, 1, 2])
    assert Grid.load(tmp_path) == grown
    with pytest.raises(GridMismatch, match=r"grpo.lr: 0.0001 -> 0.0002"):
        prepare(Grid.resolve("tiny", ["sft", "mentor"], [0, 1], grpo=TINY_GRPO | {"lr": 2e-4}), tmp_path)
    every_step = TINY_GRPO | {"checkpoint_every": 1}
    resumed = prepare(Grid.resolve("tiny", ["sft", "mentor", "sparse"], [0, 1, 2], grpo=every_step), tmp_path)
    assert resumed.grpo is not None and resumed.grpo["checkpoint_every"] == 1  # changes no result: allowed
    assert (resumed.methods, resumed.seeds) == (["sft", "mentor", "sparse"], [0, 1, 2])
    with pytest.raises(GridMismatch, match=r"seeds: \[2\] dropped"):
        prepare(Grid.resolve("tiny", ["sft", "mentor", "sparse"], [0, 1], grpo=TINY_GRPO), tmp_path)
    stray = tmp_path / "elsewhere"
    (stray / "x").mkdir(parents=True)
    with pytest.raises(GridMismatch, match="holds no bench_config.json"):
        prepare(grid, stray)


def test_a_grid_saved_before_the_prefill_option_continues_and_a_changed_prefill_is_refused(tmp_path):
    grid = Grid.resolve("tiny", ["sft"], [0])
    saved = grid.to_dict()
    del saved["eval"]["prefill"]  # bench_config.json as written before the option existed
    (tmp_path / "bench_config.json").write_text(json.dumps(saved))
    assert prepare(grid, tmp_path) == grid  # it was evaluated batched, the default
    assert grid.eval.config("tiny", tmp_path / "e.json").options.prefill == "batched"
    faster = Grid.resolve("tiny", ["sft"], [0], eval=EvalSettings(prefill="auto"))
    with pytest.raises(GridMismatch, match=r'eval.prefill: "batched" -> "auto"'):
        prepare(faster, tmp_path)
    assert faster.eval.config("tiny", tmp_path / "e.json").options.prefill == "auto"


def test_the_prefill_flag_offers_what_the_policy_and_the_schema_take():
    from mentor_agents.apart_prefill import PREFILL_MODES
    from mentor_agents.bench.report import SCHEMA_PATH
    from mentor_agents.cli import build_parser

    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$defs"]["config"]["properties"]["eval"]["properties"]["prefill"]["enum"] == list(PREFILL_MODES)
    parser = build_parser()
    assert parser.parse_args(["bench", "--out", "x", "--prefill", "auto"]).prefill == "auto"
    assert parser.parse_args(["bench", "--out", "x"]).prefill == "batched"
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--out", "x", "--prefill", "sometimes"])


# --- a tiny grid end to end -----------------------------------------------------------------------------

EVAL = ["--env", "tooluse/Calculator-v0", "--episodes", "4", "--max-new-tokens", "16", "--max-turns", "2"]
EVAL += ["--batch-size", "4"]
GRPO_FLAGS = [f"--grpo.{k}={v}" for k, v in TINY_GRPO.items()] + ["--grpo.checkpoint_every=1"]
METHODS = ["base", "sft", "sparse", "mentor"]


def bench(out, methods=METHODS, seeds=(0, 1), *extra: str) -> int:
    args = ["bench", "--preset", "tiny", "--methods", *methods, "--seeds", *map(str, seeds), "--out", str(out)]
    return main([*args, *EVAL, "--quiet", *extra])


def grid_flags(methods=METHODS) -> list[str]:
    out = [*GRPO_FLAGS] if set(methods) - {"base", "sft"} else []
    return out + (["--sft.batch_size=2"] if "sft" in methods else [])


class Spies:
    """Which cells were trained (``mentor train``'s ``run_training``) and evaluated (``run_evaluation``)."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        import mentor_agents.eval.run as eval_run
        import mentor_agents.train.run as train_run

        self.trained: list[tuple[str, bool]] = []
        self.evaluated: list[str] = []
        train, evaluate = train_run.run_training, eval_run.run_evaluation

        def train_spy(cfg, out, resume=False, progress=True):
            self.trained.append(("/".join(str(out).split("/")[-2:]), resume))
            return train(cfg, out, resume, progress)

        def eval_spy(config, overwrite=False):
            self.evaluated.append("/".join(config.out.split("/")[-3:-1]))
            return evaluate(config, overwrite)

        mp.setattr(train_run, "run_training", train_spy)
        mp.setattr(eval_run, "run_evaluation", eval_spy)


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory, tiny_cache):
    """A 4 methods x 2 seeds grid, killed in the middle of mentor/seed0's training, then continued."""
    import mentor_agents.train.grpo as grpo

    out = tmp_path_factory.mktemp("bench") / "grid"
    record: dict = {"out": out}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
        save = grpo.save_checkpoint

        def killed_after_step_1(out_dir, step, *args, **kwargs):
            save(out_dir, step, *args, **kwargs)
            if str(out_dir).endswith("mentor/seed0") and step == 1:
                raise KeyboardInterrupt("killed")

        mp.setattr(grpo, "save_checkpoint", killed_after_step_1)
        with pytest.raises(KeyboardInterrupt):
            bench(out, METHODS, (0, 1), *grid_flags())
        mp.setattr(grpo, "save_checkpoint", save)
        record["stopped"] = {c: (out / c / "eval.json").is_file() for c in ("base/seed0", "sparse/seed0")}
        record["progress_stopped"] = json.loads((out / "bench.json").read_text())["progress"]
        record["step1"] = (out / "mentor/seed0/metrics.jsonl").read_text().splitlines()
        record["done_mtimes"] = {c: (out / c / "eval.json").stat().st_mtime_ns for c in ("sft/seed0",)}
        spies = Spies(mp)
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):
                assert bench(out, METHODS, (0, 1), *grid_flags()) == 0
        finally:
            sys.stderr.write(said.getvalue())  # still shown when the run fails
        record["spies"], record["said"] = spies, said.getvalue()
    return record


def test_a_stopped_grid_continues_without_redoing_a_finished_cell(grid_run):
    out, spies = grid_run["out"], grid_run["spies"]
    assert grid_run["stopped"] == {"base/seed0": True, "sparse/seed0": True}
    assert grid_run["step1"] and len(grid_run["step1"]) == 1  # mentor/seed0 had trained one of its 2 steps
    assert spies.trained == [
        ("mentor/seed0", True),
        ("sft/seed1", True),
        ("sparse/seed1", True),
        ("mentor/seed1", True),
    ]
    assert spies.evaluated == ["mentor/seed0", "base/seed1", "sft/seed1", "sparse/seed1", "mentor/seed1"]
    rows = (out / "mentor/seed0/metrics.jsonl").read_text().splitlines()
    assert rows[0] == grid_run["step1"][0] and json.loads(rows[1])["step"] == 2  # step 1 kept, not redone
    assert (out / "sft/seed0/eval.json").stat().st_mtime_ns == grid_run["done_mtimes"]["sft/seed0"]


def test_a_continued_grid_says_how_long_the_rest_will_take(grid_run):
    lines = [line.strip() for line in grid_run["said"].splitlines() if "left, about" in line]
    # 5 cells were left when it continued; every kind had a finished cell by then (base, sft and sparse)
    assert lines[0].startswith("5 cell(s) left, about") and "not counting" not in lines[0]
    assert [line.split()[0] for line in lines] == ["5", "4", "3", "2", "1"]  # none after the last cell
    # the report written after the last cell of the stopped run says it too; a finished grid's does not
    stopped = grid_run["progress_stopped"]
    assert (stopped["done"], stopped["total"]) == (3, 8) and stopped["time_left"].startswith("5 cell(s) left")
    assert "time_left" not in json.loads((grid_run["out"] / "bench.json").read_text())["progress"]


def test_every_cell_is_a_loadable_model_with_validated_results(grid_run):
    from transformers import AutoModelForCausalLM

    from mentor_agents.eval.run import validate_results

    out = grid_run["out"]
    doc = json.loads((out / "bench.json").read_text())
    validate_bench(doc)
    assert doc["progress"] == {"done": 8, "total": 8}
    assert {(c["method"], c["seed"], c["status"]) for c in doc["cells"]} == {
        (m, s, "done") for m in METHODS for s in (0, 1)
    }
    for cell in doc["cells"]:
        model = AutoModelForCausalLM.from_pretrained(out / cell["final_model"])
        assert model.config.num_hidden_layers == 2
        validate_results(json.loads((out / cell["eval"]).read_text()))
    base0 = AutoModelForCausalLM.from_pretrained(out / "base/seed0/final_model").state_dict()
    base1 = AutoModelForCausalLM.from_pretrained(out / "base/seed1/final_model").state_dict()
    assert any(not base0[k].equal(base1[k]) for k in base0)  # tiny's base cell is its seed's own init


def test_rl_cells_ran_identical_configs_except_reward_and_sft_saw_as_many_examples(grid_run):
    out = grid_run["out"]
    configs = {
        (m, s): json.loads((out / m / f"seed{s}" / "config.json").read_text()) for m in METHODS[1:] for s in (0, 1)
    }
    for seed in (0, 1):
        sparse, mentor = configs[("sparse", seed)], configs[("mentor", seed)]
        assert (sparse["grpo"]["reward"], mentor["grpo"]["reward"]) == ("sparse", "mentor")
        assert sparse["grpo"] | {"reward": None} == mentor["grpo"] | {"reward": None}
        assert mentor["grpo"]["seed"] == seed and mentor["grpo"]["steps"] == 2
    sft = configs[("sft", 0)]["sft"]
    assert sft["steps"] * sft["batch_size"] == 2 * 2 * 2 == 8  # grpo steps x prompts x group
    bench_doc = json.loads((out / "bench.json").read_text())
    assert bench_doc["config"]["compute"]["sft"]["examples"] == bench_doc["config"]["compute"]["rl"]["trajectories"]
    tokens = {c["method"]: c["generated_tokens"] for c in bench_doc["cells"] if c["method"] in ("sparse", "mentor")}
    assert all(0 < t <= 8 * 2 * 16 for t in tokens.values())
    assert bench_doc["checks"] == {"rl_configs_identical": True, "sft_matches_grid": True}


def test_the_schema_refuses_a_ci_from_one_seed_and_an_unknown_status(grid_run):
    import copy

    from jsonschema import ValidationError

    doc = json.loads((grid_run["out"] / "bench.json").read_text())
    one_seed = copy.deepcopy(doc)
    one_seed["aggregates"][0] |= {"n": 1, "seeds": [0], "values": [0.0]}  # its CI and sd are still numbers
    unknown = copy.deepcopy(doc)
    unknown["cells"][0]["status"] = "finished"
    for bad in (one_seed, unknown):
        with pytest.raises(ValidationError):
            validate_bench(bad)


def test_the_report_has_cis_paired_differences_curves_and_plots(grid_run):
    out = grid_run["out"]
    doc = json.loads((out / "bench.json").read_text())
    assert doc["slots"] == ["Calculator ID", "Calculator OOD", MEAN_SLOT]
    means = {(r["method"], r["slot"], r["metric"]): r for r in doc["aggregates"]}
    for method in METHODS:
        record = means[(method, MEAN_SLOT, "score")]
        assert record["n"] == 2 and record["seeds"] == [0, 1] and record["half_width"] is not None
        assert (method, "Calculator ID", "js_similarity") in means
    pairs = {(r["baseline"], r["method"]) for r in doc["differences"] if r["slot"] == MEAN_SLOT}
    assert pairs == {("sft", m) for m in METHODS if m != "sft"} | {("sparse", m) for m in METHODS if m != "sparse"}
    assert {c["method"]: c["step"] for c in doc["curves"]} == {"sparse": [1, 2], "mentor": [1, 2]}
    text = (out / "bench.md").read_text()
    for heading in ("Score per slot", "Paired difference vs sft", "Paired difference vs sparse", "Strategic metrics"):
        assert f"## {heading}" in text
    assert "<table>" in (out / "bench.html").read_text()
    pytest.importorskip("matplotlib")
    assert (out / "learning_curves.png").stat().st_size > 0 and (out / "similarity_vs_success.png").is_file()


def test_a_deleted_result_is_the_only_thing_redone_and_a_changed_grid_is_refused(
    grid_run, tiny_cache, monkeypatch, capsys
):
    out = grid_run["out"]
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    (out / "sparse/seed1/eval.json").unlink()
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/seed*/eval.json")}
    spies = Spies(monkeypatch)
    assert bench(out, METHODS, (0, 1), *grid_flags()) == 0
    assert (spies.trained, spies.evaluated) == ([], ["sparse/seed1"])
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    capsys.readouterr()
    assert bench(out, METHODS, (0, 1), *grid_flags(), "--grpo.lr=2e-4") == 2
    assert "grpo.lr: 0.0001 -> 0.0002" in capsys.readouterr().err
    assert bench(out, METHODS[:3], (0, 1), *grid_flags()) == 2
    assert 'methods: ["mentor"] dropped' in capsys.readouterr().err
    assert (spies.trained, spies.evaluated) == ([], ["sparse/seed1"])
    (out / "bench.md").unlink()
    assert main(["bench", "--out", str(out), "--report-only"]) == 0
    assert "| mentor |" in (out / "bench.md").read_text()
    assert (spies.trained, spies.evaluated) == ([], ["sparse/seed1"])


def test_a_grid_grows_by_a_seed_running_only_the_new_cells(tmp_path, tiny_cache, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "grid"
    assert bench(out, ["base"], (0,)) == 0
    spies = Spies(monkeypatch)
    assert bench(out, ["base"], (0, 1)) == 0
    assert (spies.trained, spies.evaluated) == ([], ["base/seed1"])
    doc = json.loads((out / "bench.json").read_text())
    assert doc["config"]["seeds"] == [0, 1] and doc["progress"] == {"done": 2, "total": 2}
    one_seed = [r for r in doc["aggregates"] if r["method"] == "base"]
    assert all(r["n"] == 2 for r in one_seed)
    assert main(["bench", "--out", str(tmp_path / "empty"), "--report-only"]) == 2
    assert "nothing to report" in capsys.readouterr().err


def test_start_sft_trains_rl_cells_from_their_seeds_sft_model(tmp_path, tiny_cache, monkeypatch):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "grid"
    flags = [*grid_flags(["sft", "mentor"]), "--grpo.steps=1", "--start", "sft"]
    spies = Spies(monkeypatch)
    assert bench(out, ["sft", "mentor"], (0,), *flags) == 0
    assert [name for name, _ in spies.trained] == ["sft/seed0", "mentor/seed0"]
    mentor = json.loads((out / "mentor/seed0/config.json").read_text())
    assert mentor["preset"] == f"hf:{(out / 'sft/seed0/final_model').resolve()}"
    assert mentor["sft"] is None and mentor["grpo"]["reward"] == "mentor"
    doc = json.loads((out / "bench.json").read_text())
    validate_bench(doc)
    assert doc["config"]["start"] == "sft" and "note" in doc["config"]["compute"]["sft"]
    assert {c["method"]: c["init"] for c in doc["cells"]} == {"sft": "preset:tiny", "mentor": "sft/seed0/final_model"}


def _fake_cell(root, method, seed, solved: dict[str, set[int]]):
    """An evaluated cell as far as the task-paired comparison reads it: eval.json's slots + its episodes."""
    path = root / method / f"seed{seed}"
    path.mkdir(parents=True)
    slots = [{"env_id": f"tooluse/{name}-v0", "split": "test_ood", "label": name} for name in solved]
    (path / "eval.json").write_text(json.dumps({"results": slots, "episodes_file": "eval.episodes.jsonl"}))
    lines = [json.dumps({"header": {}})]
    for name, tasks in solved.items():
        for task in range(10):
            row = {"env_id": f"tooluse/{name}-v0", "split": "test_ood", "task_id": f"{name}/{task}", "sample": 0}
            lines.append(json.dumps({**row, "success": task in tasks}))
    (path / "eval.episodes.jsonl").write_text("\n".join(lines) + "\n")


def test_task_paired_differences_pair_cells_of_one_seed_task_by_task(tmp_path, monkeypatch):
    from mentor_agents.bench import grid as grid_mod
    from mentor_agents.bench.report import task_differences

    monkeypatch.setattr(grid_mod.Cell, "evaluated", lambda self: (self.path / "eval.json").is_file())
    grid = Grid.resolve("tiny", ["sft", "mentor"], [0, 1], grpo=TINY_GRPO)
    _fake_cell(tmp_path, "sft", 0, {"A": {1, 2}, "B": set()})
    _fake_cell(tmp_path, "mentor", 0, {"A": {2, 3, 4}, "B": {0}})
    _fake_cell(tmp_path, "mentor", 1, {"A": {1}, "B": set()})  # its seed's sft cell is missing: no pairing
    with (tmp_path / "mentor/seed0/eval.episodes.jsonl").open("a") as more:  # a second sample of task A/5,
        row = {"env_id": "tooluse/A-v0", "split": "test_ood", "task_id": "A/5", "sample": 1, "success": True}
        more.write(json.dumps(row) + "\n")  # solved once in two samples: 0.5 for that task, still 10 tasks
    records = {(r["method"], r["seed"], r["slot"]): r for r in task_differences(grid, tmp_path)}
    assert set(records) == {("mentor", 0, "A"), ("mentor", 0, "B"), ("mentor", 0, MEAN_SLOT)}
    a = records[("mentor", 0, "A")]
    assert (a["n"], a["wins"], a["losses"]) == (10, 3, 1) and a["mean"] == pytest.approx(0.15)
    assert a["ci"][0] < 0 < a["ci"][1] and not a["excludes_zero"]  # 3 wins, 1 loss in 10: not resolved
    assert a["p_sign"] == pytest.approx(0.625)  # 2 × P(X ≤ 1), X ~ Binomial(4, ½)
    pooled = records[("mentor", 0, MEAN_SLOT)]
    assert (pooled["n"], pooled["wins"], pooled["losses"]) == (20, 4, 1) and pooled["mean"] == pytest.approx(0.125)


def test_the_report_pairs_every_method_with_sft_and_sparse_task_by_task_per_seed(grid_run):
    out = grid_run["out"]
    doc = json.loads((out / "bench.json").read_text())
    validate_bench(doc)
    pooled = {(r["baseline"], r["method"], r["seed"]) for r in doc["task_differences"] if r["slot"] == MEAN_SLOT}
    expected = {(b, m, s) for b in ("sft", "sparse") for m in METHODS if m != b for s in (0, 1)}
    assert pooled == expected
    assert all(r["n"] == 4 for r in doc["task_differences"] if r["slot"] != MEAN_SLOT)  # --episodes 4
    assert "## Same tasks, per seed: vs sparse" in (out / "bench.md").read_text()
    seeds = doc["seed_differences"]
    same_method = {(r["method"], r["seed"], r["baseline_seed"]) for r in seeds if r["slot"] == MEAN_SLOT}
    assert same_method == {(m, 1, 0) for m in METHODS}  # tiny's untrained base, too, depends on its seed
    assert "## Same tasks, same method, another seed" in (out / "bench.md").read_text()


def test_mentor_ablations_are_also_paired_with_mentor(tmp_path, monkeypatch):
    from mentor_agents.bench import grid as grid_mod
    from mentor_agents.bench.report import task_differences

    monkeypatch.setattr(grid_mod.Cell, "evaluated", lambda self: (self.path / "eval.json").is_file())
    grid = Grid.resolve("tiny", ["sft", "mentor", "mentor_no_match"], [0], grpo=TINY_GRPO)
    _fake_cell(tmp_path, "sft", 0, {"A": {1}})
    _fake_cell(tmp_path, "mentor", 0, {"A": {1, 2, 3}})
    _fake_cell(tmp_path, "mentor_no_match", 0, {"A": {1, 2}})
    records = {(r["baseline"], r["method"]): r for r in task_differences(grid, tmp_path) if r["slot"] == "A"}
    assert set(records) == {("sft", "mentor"), ("sft", "mentor_no_match"), ("mentor", "mentor_no_match")}
    ablation = records[("mentor", "mentor_no_match")]
    assert (ablation["wins"], ablation["losses"]) == (0, 1) and ablation["mean"] == pytest.approx(-0.1)


def test_each_method_is_paired_with_its_other_seeds_and_a_shared_base_is_not(tmp_path, monkeypatch):
    from mentor_agents.bench import grid as grid_mod
    from mentor_agents.bench.report import seed_differences

    monkeypatch.setattr(grid_mod.Cell, "evaluated", lambda self: (self.path / "eval.json").is_file())
    grid = Grid.resolve("tiny", ["base", "sft"], [0, 1, 2])
    _fake_cell(tmp_path, "base", 0, {"A": set()})
    _fake_cell(tmp_path, "base", 1, {"A": {0}})
    _fake_cell(tmp_path, "sft", 0, {"A": {1, 2}})
    _fake_cell(tmp_path, "sft", 1, {"A": {1, 2, 3, 4}})
    _fake_cell(tmp_path, "sft", 2, {"A": {5}})
    records = {(r["method"], r["seed"], r["baseline_seed"], r["slot"]): r for r in seed_differences(grid, tmp_path)}
    assert {key[:3] for key in records} == {("base", 1, 0), ("sft", 1, 0), ("sft", 2, 0), ("sft", 2, 1)}
    later = records[("sft", 2, 1, "A")]
    assert (later["n"], later["wins"], later["losses"]) == (10, 1, 4) and later["mean"] == pytest.approx(-0.3)
    assert later["baseline"] == later["method"] == "sft"
    assert records[("sft", 1, 0, MEAN_SLOT)]["mean"] == pytest.approx(0.2)

    # SmolLM2's base is one model for every seed, evaluated once: comparing it with itself would be noise-free
    # by construction, so it is left out.
    monkeypatch.setattr(grid_mod, "SEEDED_PRESETS", ())
    assert {(r["method"], r["seed"], r["baseline_seed"]) for r in seed_differences(grid, tmp_path)} == {
        ("sft", 1, 0), ("sft", 2, 0), ("sft", 2, 1)
    }


def test_the_resolution_line_counts_the_seeds_finished_not_the_seeds_planned():
    from mentor_agents.bench.report import _resolution

    def doc(*pairs):
        differences = [{"slot": MEAN_SLOT, "n": n, "half_width": w} for n, w in pairs]
        return {"level": 0.95, "config": {"seeds": [0, 1, 2]}, "differences": differences}

    assert "no paired difference has a CI yet" in _resolution(doc((1, None)))
    two = _resolution(doc((2, 0.02), (2, 0.04), (1, None)))
    assert "median 95% CI half-width of 3.0 points" in two and "with 2 seeds (so far: 3 planned)" in two
    assert _resolution(doc((3, 0.05))).endswith("with 3 seeds.")


def test_the_sign_test_is_exact_and_symmetric():
    from mentor_agents.bench.stats import sign_test

    assert sign_test(4, 0) == pytest.approx(0.125)  # 2 × 0.5⁴: the t CI of 4/0 would "exclude 0"
    assert sign_test(0, 4) == sign_test(4, 0)
    assert sign_test(24, 9) == pytest.approx(0.01353, abs=1e-5)  # 2 × P(X ≤ 9), X ~ Binomial(33, ½)
    assert sign_test(5, 5) == 1.0 and sign_test(0, 0) == 1.0
