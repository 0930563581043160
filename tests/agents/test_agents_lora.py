"""``mentor train --lora.rank R``: adapters trained by both phases, merged into a plain ``final_model``."""

from __future__ import annotations

import dataclasses
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from mentor_agents.cli import main  # noqa: E402
from mentor_agents.teachers import OracleTeacher  # noqa: E402
from mentor_agents.train.config import LoRAConfig, TrainConfig  # noqa: E402
from mentor_agents.train.lora import add_lora, merge_lora, trainable_parameters  # noqa: E402
from mentor_agents.train.sft import SFTConfig, train_sft  # noqa: E402

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TINY = ["--quiet", "--sft.batch_size", "2", "--sft.checkpoint_every", "1", "--grpo.prompts_per_step", "1"]
TINY += ["--grpo.group_size", "2", "--grpo.max_new_tokens", "8", "--grpo.max_turns", "2"]
TINY += ["--grpo.checkpoint_every", "1"]


def _logits(model, ids):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def _final_weights(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "final_model" / "model.safetensors"))


def _train(out, *flags: str) -> int:
    args = ["train", "--preset", "tiny", "--method", "sft+mentor", "--sft.steps", "3", "--out", str(out), *TINY]
    return main([*args, *flags])


# --- the config ------------------------------------------------------------------------------------------


def test_rank_zero_is_the_default_and_runs_from_before_lora_read_as_rank_zero(tmp_path):
    cfg = TrainConfig.resolve(method="sft+mentor")
    assert cfg.lora == LoRAConfig() and not cfg.lora.enabled
    assert cfg.to_dict()["lora"] == {"rank": 0, "alpha": 16.0, "dropout": 0.0, "targets": "all-linear"}
    old = cfg.to_dict()
    del old["lora"]  # a config.json written before LoRA existed
    assert TrainConfig.from_dict(old) == cfg and TrainConfig.from_dict(old).changes(cfg) == []
    lora = TrainConfig.resolve(method="sft+mentor", lora={"rank": 4, "targets": "q_proj, v_proj"})
    assert lora.lora.target_modules() == ["q_proj", "v_proj"]
    lora.save(tmp_path)
    assert TrainConfig.load(tmp_path) == lora
    assert cfg.changes(lora) == ["lora.rank: 0 -> 4", 'lora.targets: "all-linear" -> "q_proj, v_proj"']


@pytest.mark.parametrize(
    ("lora", "message"),
    [
        ({"rank": -1}, "lora.rank must be"),
        ({"rank": 4, "alpha": 0.0}, "lora.alpha must be positive"),
        ({"rank": 4, "dropout": 1.0}, r"lora.dropout must be in \[0, 1\)"),
        ({"rank": 4, "targets": " , "}, "lora.targets must be"),
        ({"alpha": 32.0}, r"--lora.alpha is given but --lora.rank is 0"),
    ],
)
def test_bad_lora_configs_are_refused(lora, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.resolve(method="sft+mentor", lora=lora)


def test_lora_with_a_vllm_sampler_is_refused_before_training(tmp_path, capsys):
    assert (
        main(["train", "--method", "mentor", "--lora.rank", "4", "--grpo.sampler", "vllm", "--out", str(tmp_path)]) == 2
    )
    assert "--grpo.sampler hf" in capsys.readouterr().err
    assert not (tmp_path / "config.json").exists()


# --- the adapters ----------------------------------------------------------------------------------------


def test_only_adapters_are_trainable_and_only_they_change_in_training(tokenizer, tiny_model, tmp_path):
    embed_before = tiny_model.get_input_embeddings().weight.detach().clone()
    model, handle = add_lora(tiny_model, LoRAConfig(rank=4))
    assert model is tiny_model  # the trainers keep working on the transformers model itself
    trainable, total = trainable_parameters(model)
    assert 0 < trainable < total * 0.05
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(".lora_A." in n or ".lora_B." in n for n in names)
    assert {n.split(".")[-4] for n in names} == set(TARGETS)  # all-linear: every projection, not the head
    before = {k: v.clone() for k, v in model.state_dict().items()}
    conversations = OracleTeacher(split="train").conversations()[:8]
    cfg = SFTConfig(steps=2, batch_size=2, lr=1e-2, warmup_steps=0, checkpoint_every=10)
    model = train_sft(cfg, model, tokenizer, conversations, tmp_path, progress=False)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".lora_" in k for k in changed)
    assert any(".lora_B." in k for k in changed)  # B starts at zero: training moved it
    ckpt = torch.load(tmp_path / "checkpoints" / "step_000002.pt", weights_only=False)
    assert set(ckpt["model"]) == set(after)  # checkpoints hold the adapters
    merged = merge_lora(model, handle)
    assert not any("lora_" in k or "base_layer" in k for k in merged.state_dict())
    assert torch.equal(merged.get_input_embeddings().weight, embed_before)


def test_merged_model_saves_as_plain_transformers_with_the_same_logits(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    model, handle = add_lora(tiny_model, LoRAConfig(rank=4, alpha=8.0))
    torch.manual_seed(0)
    with torch.no_grad():  # B starts at zero (the adapters a no-op): give them something to merge
        for name, param in model.named_parameters():
            if ".lora_B." in name:
                param.normal_(0, 0.05)
    ids = torch.randint(3, 200, (2, 12))
    adapted = _logits(model, ids)
    merged = merge_lora(model, handle)
    assert torch.allclose(_logits(merged, ids), adapted, atol=1e-5)
    merged.save_pretrained(tmp_path / "m")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert type(loaded).__name__ == "LlamaForCausalLM"
    assert torch.equal(_logits(loaded, ids), _logits(merged, ids))


# --- mentor train ----------------------------------------------------------------------------------------


def test_sft_then_mentor_with_lora_changes_base_weights_by_a_low_rank_update(tmp_path, tiny_cache, monkeypatch):
    from mentor_agents.models import load_preset

    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    assert _train(out, "--grpo.steps", "1", "--lora.rank", "4") == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["lora"] == dataclasses.asdict(LoRAConfig(rank=4))
    # GRPO's KL reference is the model as GRPO started: SFT's last checkpoint, adapters included
    reference = torch.load(out / "grpo" / "reference_model.pt")
    sft_end = torch.load(out / "sft" / "checkpoints" / "step_000003.pt", weights_only=False)["model"]
    assert reference.keys() == sft_end.keys() and all(torch.equal(reference[k], sft_end[k]) for k in reference)
    initial = load_preset("tiny", seed=0)[0].state_dict()
    final = _final_weights(out)
    assert not any("lora_" in k or "base_layer" in k for k in final)
    moved = 0
    for name, weight in final.items():
        if name.split(".")[-2] in TARGETS:  # merged: W0 + (alpha / r) B A, a rank <= 4 update
            sigma = torch.linalg.svdvals((weight - initial[name]).double())
            assert sigma[0] > 0 and sigma[4] < 1e-4 * sigma[0], name
            moved += 1
        else:  # embeddings (tied with the head) and norms were frozen
            assert torch.equal(weight, initial[name]), name
    assert moved == 2 * len(TARGETS)  # two layers


def test_lora_resume_is_bit_identical_and_refuses_another_rank(tmp_path, tiny_cache, monkeypatch, capsys):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _train(straight, "--grpo.steps", "2", "--lora.rank", "4", "--lora.dropout", "0.1") == 0
    assert _train(resumed, "--grpo.steps", "1", "--lora.rank", "4", "--lora.dropout", "0.1") == 0
    capsys.readouterr()
    assert _train(resumed, "--grpo.steps", "2", "--lora.rank", "8", "--lora.dropout", "0.1", "--resume") == 2
    refused = capsys.readouterr().err
    assert "lora.rank: 4 -> 8" in refused and "lora.dropout" not in refused
    assert _train(resumed, "--grpo.steps", "2", "--resume") == 2  # dropping --lora.rank is a change too
    assert "lora.rank: 4 -> 0" in capsys.readouterr().err
    assert _train(resumed, "--grpo.steps", "2", "--lora.rank", "4", "--lora.dropout", "0.1", "--resume") == 0
    steps = [json.loads(line)["step"] for line in (resumed / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    a, b = _final_weights(straight), _final_weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_rank_zero_trains_every_weight_as_before(tmp_path, tiny_cache, monkeypatch):
    monkeypatch.setenv("TOOLUSE_MENTOR_CACHE", str(tiny_cache))
    out = tmp_path / "run"
    args = [
        "train",
        "--preset",
        "tiny",
        "--method",
        "sft",
        "--sft.steps",
        "1",
        "--out",
        str(out),
        *TINY[:5],
    ]  # SFT flags only
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["lora"]["rank"] == 0
    state = torch.load(out / "checkpoints" / "step_000001.pt", weights_only=False)
    assert not any("lora_" in k for k in state["model"])
    assert len(state["optimizer"]["state"]) == len(state["optimizer"]["param_groups"][0]["params"])  # all moved


@pytest.mark.slow
@pytest.mark.skipif(
    torch.cuda.is_available(), reason="in-process GRPO samples on the GPU and actors on CPU: identity is CPU-only"
)
def test_grpo_with_lora_on_ray_trains_exactly_as_in_process(tokenizer, tmp_path):
    """Rollout actors get a copy of the adapted model and its adapters' weights every step."""
    pytest.importorskip("ray")
    from mentor_agents.models import build_tiny_model
    from mentor_agents.train.grpo import GRPOConfig, train_grpo

    base = dict(steps=2, prompts_per_step=2, group_size=2, max_new_tokens=8, max_turns=1, rollout_batch=2)
    runs = {}
    try:
        for name, workers in (("local", 0), ("ray", 2)):
            model, _ = add_lora(build_tiny_model(tokenizer, seed=0), LoRAConfig(rank=4))
            with torch.no_grad():  # non-zero adapters, so a stale copy on an actor would sample differently
                for param_name, param in model.named_parameters():
                    if ".lora_B." in param_name:
                        param.fill_(0.01)
            cfg = GRPOConfig(**base, lr=1e-2, rollout_threads=1, ray_workers=workers)
            model = train_grpo(cfg, model, tokenizer, tmp_path / name, progress=False)
            rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
            rows = [{k: v for k, v in r.items() if not k.endswith("_time")} for r in rows]
            runs[name] = (rows, {k: v.detach().clone() for k, v in model.state_dict().items()})
    finally:
        import ray

        ray.shutdown()  # train_grpo started a local cluster; the Ray test modules start their own
    (local_rows, local_state), (ray_rows, ray_state) = runs["local"], runs["ray"]
    assert ray_rows == local_rows and all(r["generated_tokens"] > 0 for r in ray_rows)
    assert all(torch.equal(local_state[k], ray_state[k]) for k in local_state)
