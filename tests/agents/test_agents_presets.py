"""Presets carry their hyperparameters: a run starts from its preset's values, flags still win."""

from __future__ import annotations

import dataclasses

import pytest

from mentor_agents.presets import PAPER_GRPO, PRESETS, preset_of
from mentor_agents.train.config import GRPOConfig, SFTConfig, TrainConfig


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_value_is_a_real_config_field_and_its_reason_is_written(name):
    preset = PRESETS[name]
    for cls, values in ((SFTConfig, preset.sft), (GRPOConfig, preset.grpo)):
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(values) <= fields, f"{name}: {sorted(set(values) - fields)} are not {cls.__name__} fields"
        cls(**values)  # each config's own checks accept them
    assert len(preset.why.split()) > 20, "say where the preset leaves the paper's values and why"


def test_a_run_starts_from_its_presets_values():
    small = TrainConfig.resolve("smollm2-135m", "sft+mentor")
    assert small.sft is not None and small.grpo is not None
    assert small.sft.lr == PRESETS["smollm2-135m"].sft["lr"] != SFTConfig().lr
    assert (small.grpo.lr, small.grpo.group_size, small.grpo.top_p) == (5e-6, 8, 0.99)
    tiny = TrainConfig.resolve("tiny", "sft+mentor")
    assert tiny.grpo is not None and (tiny.grpo.lr, tiny.grpo.group_size) == (1e-4, 4)


def test_a_flag_wins_over_the_preset_and_run_values_fill_the_rest():
    cfg = TrainConfig.resolve("smollm2-135m", "mentor", seed=5, grpo={"lr": 1e-3})
    assert cfg.grpo is not None and cfg.grpo.lr == 1e-3 and cfg.grpo.group_size == 8 and cfg.grpo.seed == 5


def test_any_local_model_gets_the_papers_grpo_settings():
    cfg = TrainConfig.resolve("hf:/models/qwen", "mentor")
    assert cfg.grpo is not None
    assert {k: getattr(cfg.grpo, k) for k in PAPER_GRPO} == PAPER_GRPO
    assert cfg.grpo.prompts_per_step // cfg.grpo.ppo_mini_batch == 4  # 4 clipped updates per batch


def test_an_unknown_preset_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="tiny, smollm2-135m, hf:<path>"):
        preset_of("qwen")
