"""``--episodes N`` draws a seeded sample stratified over categories, axes and templates, not the first N."""

from __future__ import annotations

from collections import Counter

import pytest
from eval_helpers import evaluate

from mentor_agents.eval.sampling import allocate, group_of, stratified_sample
from tooluse_envs.tasks import Reference, Task


def _task(i: int, template: str, axis: str | None = None, domain: str = "calculator") -> Task:
    tags = (template, f"axis:{axis}") if axis else (template,)
    return Task(f"t{i}", domain, "test_ood", "q", (), {"kind": "number"}, Reference((), "1"), tags=tags)


def _tasks() -> list[Task]:
    """A split laid out as generators write it: one axis after the other, the big one first."""
    out: list[Task] = []
    layout = [("magnitude", "add", 60), ("magnitude", "mul", 20), ("paraphrase", "add", 15), ("unseen_tool", "gcd", 5)]
    for axis, template, count in layout:
        out += [_task(len(out) + i, template, axis) for i in range(count)]
    return out


@pytest.mark.parametrize("n", [4, 7, 10, 50, 99])
def test_allocation_sums_to_n_gives_every_stratum_one_and_stays_proportional(n):
    sizes = {"a": 60, "b": 20, "c": 15, "d": 5}
    got = allocate(sizes, n, "seed")
    assert sum(got.values()) == n and all(1 <= got[k] <= sizes[k] for k in sizes)
    assert got["a"] >= got["b"] >= got["d"]  # larger strata never get fewer draws


def test_fewer_draws_than_strata_still_sum_to_n():
    assert sum(allocate({"a": 3, "b": 3, "c": 3}, 2, "s").values()) == 2


def test_every_axis_and_template_is_drawn_not_the_first_n():
    tasks = _tasks()
    sample = stratified_sample(tasks, 8, seed=0, where="x")
    assert len(sample.tasks) == 8
    assert {t.axis for t in sample.tasks} == {"magnitude", "paraphrase", "unseen_tool"}
    assert {(t.axis, t.template) for t in sample.tasks} == {(t.axis, t.template) for t in tasks}
    assert [t.id for t in sample.tasks] != [t.id for t in tasks[:8]]
    order = [t.id for t in tasks]
    assert [order.index(t.id) for t in sample.tasks] == sorted(order.index(t.id) for t in sample.tasks)
    drawn = Counter(f"{group_of(t)}|{t.template}" for t in sample.tasks)
    assert sample.strata == {
        name: [drawn[name], size]
        for name, size in [
            ("calculator/axis:magnitude|add", 60),
            ("calculator/axis:magnitude|mul", 20),
            ("calculator/axis:paraphrase|add", 15),
            ("calculator/axis:unseen_tool|gcd", 5),
        ]
    }


def test_the_sample_is_a_function_of_the_seed():
    tasks = _tasks()
    ids = lambda seed, where="x": [t.id for t in stratified_sample(tasks, 10, seed, where).tasks]  # noqa: E731
    assert ids(0) == ids(0)
    assert ids(0) != ids(1) and ids(0) != ids(0, "y")
    assert stratified_sample(tasks, None, 0).tasks == tasks and stratified_sample(tasks, 500, 0).tasks == tasks


def test_bfcl_categories_are_strata():
    tasks = [_task(i, "category:simple", domain="bfcl") for i in range(30)]
    tasks += [_task(30 + i, "category:irrelevance", domain="bfcl") for i in range(3)]
    sample = stratified_sample(tasks, 4, seed=0)
    assert sample.strata == {"bfcl/category:irrelevance|-": [1, 3], "bfcl/category:simple|-": [3, 30]}


def test_eval_plays_the_stratified_sample_and_records_it(tmp_path):
    """BFCL's test_ood file starts with 360 ``simple`` tasks: the first 10 would all be ``simple``."""
    results = evaluate(tmp_path / "s.json", "oracle", envs=["tooluse/BFCL-v0"], splits=["test_ood"], episodes=10)
    slot = results["results"][0]
    assert len(slot["sample"]) == 10 and all(drawn == 1 for drawn, _ in slot["sample"].values())
    assert len(slot["bfcl"]["categories"]) == 10
    assert results["config"]["sampling"]["seed"] == 0 and "stratified" in results["config"]["sampling"]["method"]
    other = evaluate(
        tmp_path / "o.json", "oracle", envs=["tooluse/BFCL-v0"], splits=["test_ood"], episodes=10, sample_seed=1
    )
    assert other["task_set_sha256"] != results["task_set_sha256"]


def test_a_blend_is_stratified_by_domain_before_axes():
    """Mixed: five Calculator axes must not crowd the SQL tasks out of a small sample."""
    tasks = [_task(i, "add", axis=f"axis{i % 5}") for i in range(50)]
    tasks += [_task(50 + i, "join", axis="unseen_database", domain="sql") for i in range(10)]
    assert {t.domain for t in stratified_sample(tasks, 2, seed=0).tasks} == {"calculator", "sql"}
