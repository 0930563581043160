"""Dataclass fields as typed flags (``mentor_agents.train.config``) and the resolved run config."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

pytest.importorskip("torch")

from mentor_agents.cli.train import add_config_flags  # noqa: E402
from mentor_agents.train.config import NO_FLAG, NOT_COMPARED, TrainConfig  # noqa: E402
from mentor_agents.train.flags import add_dataclass_flags, field_docs, flags_given  # noqa: E402
from mentor_agents.train.grpo import GRPOConfig  # noqa: E402
from mentor_agents.train.sft import SFTConfig  # noqa: E402


@dataclasses.dataclass
class Knobs:
    """A throwaway config."""

    count: int = 3
    """How many."""
    rate: float = 0.5
    """How fast,
    over two lines (100%)."""
    name: str = "a"
    """What to call it."""
    on: bool = False
    """Whether."""
    bound: float | None = None
    """An optional bound."""
    where: str | None = "here"


@dataclasses.dataclass
class MoreKnobs(Knobs):
    extra: int = 7
    """A field added later."""


def knob_parser(cls: type = Knobs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knobs", allow_abbrev=False)
    add_dataclass_flags(parser, cls, "k")
    return parser


def given(*flags: str, cls: type = Knobs) -> dict:
    return flags_given(knob_parser(cls).parse_args(list(flags)), cls, "k")


def test_every_field_becomes_a_documented_flag_with_its_default():
    text = knob_parser().format_help()
    for f in dataclasses.fields(Knobs):
        assert f"--k.{f.name}" in text
    assert "How fast, over two lines (100%). (default: 0.5)" in " ".join(text.split())
    assert "(default: none)" in text and "(default: false)" in text
    assert field_docs(Knobs)["bound"] == "An optional bound." and "where" not in field_docs(Knobs)
    assert field_docs(MoreKnobs)["extra"] == "A field added later." and field_docs(MoreKnobs)["count"] == "How many."


def test_a_field_added_to_the_dataclass_is_a_flag():
    with pytest.raises(SystemExit):
        given("--k.extra", "9")
    assert given("--k.extra", "9", cls=MoreKnobs) == {"extra": 9}
    assert "A field added later. (default: 7)" in knob_parser(MoreKnobs).format_help()


def test_values_are_parsed_by_the_annotation_and_only_given_flags_are_returned():
    assert given() == {}
    got = given("--k.count", "4", "--k.rate", "1e-3", "--k.name", "b", "--k.on", "true", "--k.bound", "2")
    assert got == {"count": 4, "rate": 0.001, "name": "b", "on": True, "bound": 2.0}
    assert isinstance(got["bound"], float) and isinstance(got["count"], int)
    assert given("--k.on", "False", "--k.bound", "none", "--k.where", "None") == {
        "on": False,
        "bound": None,
        "where": None,
    }
    assert given("--k.count", "3") == {"count": 3}  # given, even though it is the default


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--k.count", "1.5", "an integer"),
        ("--k.rate", "x", "a number"),
        ("--k.on", "yes", "true or false"),
        ("--k.bound", "big", "a number or none"),
        ("--k.count", "none", "an integer"),
    ],
)
def test_a_bad_value_exits_naming_the_flag(capsys, flag, value, expected):
    with pytest.raises(SystemExit):
        given(flag, value)
    err = capsys.readouterr().err
    assert f"argument {flag}: expected {expected}, not {value!r}" in err


def test_a_field_type_with_no_flag_form_is_refused():
    @dataclasses.dataclass
    class Listy:
        items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="no flag form"):
        knob_parser(Listy)


def test_every_sft_and_grpo_field_has_a_flag_but_the_run_level_ones():
    parser = argparse.ArgumentParser(allow_abbrev=False)
    add_config_flags(parser)
    text = parser.format_help()
    for prefix, cls in (("sft", SFTConfig), ("grpo", GRPOConfig)):
        for f in dataclasses.fields(cls):
            assert (f"--{prefix}.{f.name} " in text) == (f.name not in NO_FLAG[prefix])
    assert set(NO_FLAG["grpo"]) == {"env_id", "tasks_file", "reward"}  # from --env, --tasks-file, --method


def config(method: str = "sft+mentor", **phases: dict) -> TrainConfig:
    return TrainConfig.resolve(method=method, **phases)


def test_the_config_round_trips_through_json(tmp_path):
    cfg = config(grpo={"dual_clip": 3.0, "lr": 2e-4}, sft={"steps": 5})
    cfg.save(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["version"] == 1 and data["grpo"]["lr"] == 2e-4 and data["sft"]["steps"] == 5
    assert TrainConfig.load(tmp_path) == cfg
    assert TrainConfig.resolve(method="sft").to_dict()["grpo"] is None
    with pytest.raises(ValueError, match="version"):
        TrainConfig.from_dict({**data, "version": 2})


def test_changes_list_each_changed_key():
    old = config()
    assert old.changes(config()) == []
    assert old.changes(config(grpo={"lr": 2e-4})) == ["grpo.lr: 0.0001 -> 0.0002"]
    assert old.changes(config(sft={"seed": 1}, grpo={"dual_clip": 3.0})) == [
        "grpo.dual_clip: null -> 3.0",
        "sft.seed: 0 -> 1",
    ]
    assert old.changes(config("mentor")) == ['method: "sft+mentor" -> "mentor"', "sft: (SFTConfig) -> null"]


def test_changes_skip_what_does_not_change_results():
    old = config(grpo={"steps": 5})
    unchanged = {"checkpoint_every": 1, "ray_workers": 2, "ray_address": "auto"}
    assert old.changes(config(grpo={"steps": 5, **unchanged}, sft={"checkpoint_every": 1})) == []
    assert len(NOT_COMPARED) <= 5  # a short, documented list
    assert old.changes(config(grpo={"steps": 9})) == []  # the last phase may run longer
    assert old.changes(config(grpo={"steps": 4})) == ["grpo.steps: 5 -> 4"]  # but not shorter
    assert old.changes(config(grpo={"steps": 5}, sft={"steps": 300})) == ["sft.steps: 200 -> 300"]
    assert config("sft").changes(config("sft", sft={"steps": 300})) == []
