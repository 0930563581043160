"""``HFPolicy``: batched sampling from a transformers causal LM, with the log-prob of every sampled token.

A hand-written decode loop (KV cache, left padding) rather than ``model.generate`` because it lets us
use a seeded ``torch.Generator`` (no global RNG), stop each row on its own EOS, and return the exact
log-probs PPO needs without a second forward pass.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import DynamicCache
from transformers.modeling_outputs import CausalLMOutputWithPast

from mentor_agents.apart_prefill import PREFILL_MODES, apart_is_cheaper, prefill_apart, supports_apart
from mentor_agents.kv_cache import GrowingCache
from mentor_agents.policies.base import Generation, Prompt, SamplingParams, Weights
from mentor_agents.prefix_attention import PrefixKV, prefix_attention_enabled, supports_prefix_attention
from mentor_agents.shared_prefix import (
    PrefixPlan,
    cache_of,
    forward_shared,
    left_pad,
    model_call_kwargs,
    plan_prefixes,
    positions_of,
)
from mentor_agents.tokenizer import encode, render
from mentor_agents.train.common import autocast
from mentor_agents.train.precision import resolve_precision

DROP_FINISHED_AT = 4
"""The decode loop drops finished rows from the batch (and their KV cache) once at least 1 in this many
has finished: the rows of an evaluation batch stop anywhere between a few and hundreds of tokens, and a
finished row would otherwise be computed to the end. Dropping costs one copy of the suffix caches."""


def default_device_dtype() -> tuple[torch.device, torch.dtype]:
    """bf16 on a GPU, fp32 on CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def sample_next(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one token per row; return (tokens, log-probs under the temperature-scaled distribution).

    Greedy when ``temperature == 0`` (log-probs then at temperature 1). Top-p only restricts what may
    be sampled; the log-prob is of the untruncated distribution, the one the trainer recomputes.
    """
    logits = logits.float()
    if temperature <= 0:
        tokens = logits.argmax(-1)
        return tokens, torch.log_softmax(logits, -1).gather(-1, tokens[:, None])[:, 0]
    logp = torch.log_softmax(logits / temperature, -1)
    probs = logp.exp()
    if top_p < 1.0:
        sorted_probs, order = probs.sort(-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep the smallest set reaching top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    tokens = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return tokens, logp.gather(-1, tokens[:, None])[:, 0]


def load_weights_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` file or a torch checkpoint (``.pt``/``.bin``) on the CPU."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("model", state) if isinstance(state, dict) else state


class HFPolicy:
    """A transformers model + tokenizer as a ``Policy`` and a ``Sampler`` (CPU or GPU, batched)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        batch_size: int = 32,
        precision: str = "auto",
        share_prefix: bool = True,
        kv_cache: str = "growing",
        prefix_kv: str = "shared",
        prefill: str = "batched",
    ) -> None:
        """``dtype``: the weights' dtype (default: bf16 on a GPU under ``precision="auto"``, else fp32).
        ``precision``: the autocast the decode loop runs under (``mentor_agents.train.precision``): ``auto``
        (bf16 on a GPU, none on CPU), ``bf16`` (on either; fp32 with a warning on a CPU without
        AMX/AVX-512-BF16) or ``fp32``. Log-probs are computed from fp32 logits either way.
        ``share_prefix``: prefill a prefix common to several prompts once (``mentor_agents.shared_prefix``).
        ``kv_cache``: ``growing`` (``mentor_agents.kv_cache``: room for the turn allocated up front, each token
        written in place), ``dynamic`` (transformers' default: every step concatenates, copying the cache) or
        ``static`` (transformers' fixed-length cache; attention runs over its whole length). Same tokens
        every way (tested). Static was not faster than dynamic on the 2-core CPU box (0.60 vs 0.49 s a decode
        step for 32 SmolLM2 rows of ~1,200 prompt tokens, benchmarks/test_bench_levers.py).
        ``prefix_kv``: with a shared prefix and a growing or dynamic cache, ``shared`` keeps one copy of a
        group's prefix keys and values while decoding (``mentor_agents.prefix_attention``; models it was not
        checked on fall back to ``copied``); ``copied`` expands the prefix cache to every row, as a single
        forward does.
        ``prefill``: ``batched`` (one left-padded forward), ``apart`` (one forward per distinct prompt, then
        one decode batch: ``mentor_agents.apart_prefill``) or ``auto`` (on a CPU, apart where it runs well
        under the batched path's token positions, as for BFCL's prompts of different lengths that share
        little; batched elsewhere, and on a GPU, where it was not measured). Batched is the default because
        results so far were made with it; the ways agree up to rounding."""
        if kv_cache not in ("growing", "dynamic", "static"):
            raise ValueError(f"kv_cache must be 'growing', 'dynamic' or 'static', not {kv_cache!r}")
        if prefix_kv not in ("shared", "copied"):
            raise ValueError(f"prefix_kv must be 'shared' or 'copied', not {prefix_kv!r}")
        if prefill not in PREFILL_MODES:
            raise ValueError(f"prefill must be one of {', '.join(PREFILL_MODES)}, not {prefill!r}")
        if prefill == "apart" and kv_cache == "static":
            raise ValueError("prefill='apart' fills a growing or dynamic cache; kv_cache='static' cannot take it")
        auto_device, auto_dtype = default_device_dtype()
        self.device = torch.device(device) if device is not None else auto_device
        resolve_precision(precision, self.device)  # a ValueError or the fallback warning now, not mid-rollout
        self.precision = precision
        if dtype is None and precision != "auto":
            auto_dtype = torch.float32  # an explicit precision sets the compute dtype; weights stay fp32
        # trainers pass dtype=torch.float32 (fp32 master weights; bf16 autocast on GPU or with precision="bf16")
        self.model = model.to(self.device, dtype=dtype or auto_dtype)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.stop_ids = {tokenizer.eos_token_id}
        self.share_prefix = share_prefix
        self.kv_cache = kv_cache
        self.prefix_kv = prefix_kv
        self.prefill = prefill
        if prefill == "apart" and not supports_apart(self.model):
            raise ValueError(f"prefill='apart' copies plain per-layer KV caches; {type(model).__name__}'s is not one")
        self._auto_apart = (
            prefill == "auto" and self.device.type == "cpu" and kv_cache != "static" and supports_apart(self.model)
        )
        self.last_prefill = ""
        """How the last batch was prefilled: ``batched`` or ``apart`` (what ``auto`` chose)."""
        self.timings = {"prefill_s": 0.0, "decode_s": 0.0, "decode_steps": 0.0}
        """Where the last ``generate`` call's time went: prompt prefill vs the token-by-token decode."""
        self._cache_kw, keep = model_call_kwargs(self.model)
        # only the last position's logits are needed while sampling (a full [B, T, vocab] is huge)
        self._keep_last = {keep: 1} if keep else {}

    @torch.no_grad()
    def sync_weights(self, weights: Weights) -> None:
        """Copy the learner's weights in; tensors that already are the model's own (the learner and
        the sampler share one model in-process) are skipped, so the in-process sync costs nothing."""
        state = weights if isinstance(weights, Mapping) else load_weights_file(weights)
        own = self.model.state_dict()
        unknown = sorted(set(state) - set(own))
        if unknown:
            raise ValueError(f"weights for parameters this model does not have: {unknown[:3]}")
        for name, tensor in state.items():
            target = own[name]
            if target.data_ptr() != tensor.data_ptr():
                target.copy_(tensor.to(target.device, target.dtype))

    def _ids(self, prompt: Prompt, tools: list[dict] | None = None) -> list[int]:
        if prompt and isinstance(prompt[0], dict):
            return encode(self.tokenizer, render(self.tokenizer, prompt, tools, generation_prompt=True))
        return list(prompt)  # type: ignore[arg-type]

    def generate(
        self, prompts: list[Prompt], sampling: SamplingParams, tools: list[dict] | None = None
    ) -> list[Generation]:
        """Sample one assistant turn per prompt, ``batch_size`` prompts at a time."""
        generator = None
        if sampling.seed is not None:
            generator = torch.Generator(self.device).manual_seed(sampling.seed)
        ids = [self._ids(p, tools) for p in prompts]
        out: list[Generation] = []
        self.timings = dict.fromkeys(self.timings, 0.0)
        for start in range(0, len(ids), self.batch_size):
            out += self._generate_batch(ids[start : start + self.batch_size], sampling, generator)
        return out

    @torch.no_grad()
    def _generate_batch(
        self, prompts: list[list[int]], sampling: SamplingParams, generator: torch.Generator | None
    ) -> list[Generation]:
        with autocast(self.device, self.precision):
            return self._decode(prompts, sampling, generator)

    def _decode(
        self, prompts: list[list[int]], sampling: SamplingParams, generator: torch.Generator | None
    ) -> list[Generation]:
        was_training = self.model.training
        self.model.eval()
        pad = self.tokenizer.pad_token_id
        started = time.perf_counter()
        out, mask, positions, prefix = self._prefill(prompts, pad, sampling.max_new_tokens)
        rows = len(prompts)
        tokens: list[list[int]] = [[] for _ in range(rows)]
        logprobs: list[list[float]] = [[] for _ in range(rows)]
        done = [False] * rows
        prefilled = time.perf_counter()
        self.timings["prefill_s"] += prefilled - started
        live = list(range(rows))  # the original row of each row still in the batch
        for step in range(sampling.max_new_tokens):
            next_tokens, next_logp = sample_next(out.logits[:, -1], sampling.temperature, sampling.top_p, generator)
            for row, tok, lp in zip(live, next_tokens.tolist(), next_logp.tolist(), strict=True):
                if not done[row]:  # a finished row stays in the batch until enough others finish
                    tokens[row].append(tok)
                    logprobs[row].append(lp)
                    done[row] = tok in self.stop_ids
            if all(done) or step == sampling.max_new_tokens - 1:  # the last token needs no forward pass
                break
            finished = [i for i, row in enumerate(live) if done[row]]
            if self.kv_cache != "static" and len(finished) * DROP_FINISHED_AT >= len(live):
                keep = torch.tensor([i for i, row in enumerate(live) if not done[row]], device=self.device)
                cache_of(out).reorder_cache(keep)
                if prefix is not None:
                    prefix.keep_rows(keep)
                mask, positions, next_tokens = mask[keep], positions[keep], next_tokens[keep]
                live = [row for row in live if not done[row]]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions[:, -1:] + 1
            with prefix_attention_enabled(self.model) if prefix is not None else contextlib.nullcontext():
                out = self.model(
                    input_ids=next_tokens[:, None],
                    attention_mask=mask,
                    position_ids=positions,
                    **{self._cache_kw: cache_of(out)},
                    use_cache=True,
                    **({"shared_prefix": prefix} if prefix is not None else {}),
                )
            self.timings["decode_steps"] += 1
        self.timings["decode_s"] += time.perf_counter() - prefilled
        self.model.train(was_training)
        return [self._finish(t, lp) for t, lp in zip(tokens, logprobs, strict=True)]

    def _prefill(
        self, prompts: list[list[int]], pad: int, new_tokens: int
    ) -> tuple[Any, torch.Tensor, torch.Tensor, PrefixKV | None]:
        """Run the prompts; return the model output (last logits and cache), the attention mask and positions
        the decode loop extends, and the shared prefix KV when decoding attends to one copy of it."""
        plan = plan_prefixes(prompts) if self.share_prefix else None
        apart = self.prefill == "apart" or (self._auto_apart and apart_is_cheaper(prompts, plan))
        self.last_prefill = "apart" if apart else "batched"
        if apart:
            cache = self._new_cache(0, new_tokens)
            if cache is None:
                cache = DynamicCache(config=self.model.config)
            logits, mask, positions = prefill_apart(self.model, prompts, pad, self.device, cache, self._keep_last)
            return CausalLMOutputWithPast(logits=logits[:, None], past_key_values=cache), mask, positions, None  # type: ignore[call-arg]
        if plan is not None and self._prefix_kv_shared():
            return self._prefill_shared_kv(plan, pad, new_tokens)
        if plan is not None:
            width = max(map(len, plan.prefixes)) + max(map(len, plan.suffixes))
            cache = self._new_cache(width + new_tokens, new_tokens)
            shared = forward_shared(self.model, plan, pad, self.device, keep_last_suffix_logit=True, cache=cache)
            return shared.out, shared.mask, shared.positions, None
        input_ids, mask = left_pad(prompts, pad, self.device)
        positions = positions_of(mask)
        cache = self._new_cache(input_ids.shape[1] + new_tokens, new_tokens)
        out = self.model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
            **({self._cache_kw: cache} if cache is not None else {}), **self._keep_last,
        )  # fmt: skip
        return out, mask, positions, None

    def _prefix_kv_shared(self) -> bool:
        return self.prefix_kv == "shared" and self.kv_cache != "static" and supports_prefix_attention(self.model)

    def _prefill_shared_kv(
        self, plan: PrefixPlan, pad: int, new_tokens: int
    ) -> tuple[Any, torch.Tensor, torch.Tensor, PrefixKV]:
        """Prefill for decoding with one copy of each group's prefix: the prefixes in one batch, then the
        suffixes with prefix attention; the model's cache then holds the suffixes only, and the suffix mask
        and positions (which count on from the end of the row's prefix) are what the decode loop extends."""
        prefix_ids, prefix_mask = left_pad(plan.prefixes, pad, self.device)
        prefix_out = self.model(
            input_ids=prefix_ids, attention_mask=prefix_mask, position_ids=positions_of(prefix_mask),
            use_cache=True, **self._keep_last,
        )  # fmt: skip
        lengths = [len(p) for p in plan.prefixes]
        prefix = PrefixKV.from_cache(cache_of(prefix_out), lengths, plan.group_of_row)
        suffix_ids, mask = left_pad(plan.suffixes, pad, self.device)
        offsets = torch.tensor([lengths[g] for g in plan.group_of_row], device=self.device)[:, None]
        positions = positions_of(mask) + offsets
        cache = self._new_cache(suffix_ids.shape[1] + new_tokens, new_tokens)
        with prefix_attention_enabled(self.model):
            out = self.model(
                input_ids=suffix_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                shared_prefix=prefix, **({self._cache_kw: cache} if cache is not None else {}), **self._keep_last,
            )  # fmt: skip
        return out, mask, positions, prefix

    def _new_cache(self, max_len: int, new_tokens: int) -> Any:
        """A cache for a turn of ``max_len`` positions, ``new_tokens`` of them still to be generated: growing
        (room for those after the prefill), static (preallocated at ``max_len``) or None (the model's own)."""
        if self.kv_cache == "growing":
            return GrowingCache(self.model.config, reserve=new_tokens)
        if self.kv_cache != "static":
            return None
        from transformers import StaticCache

        return StaticCache(config=self.model.config, max_cache_len=max_len)

    def _finish(self, token_ids: list[int], logprobs: list[float]) -> Generation:
        stopped = bool(token_ids) and token_ids[-1] in self.stop_ids
        body = token_ids[:-1] if stopped else token_ids
        text = self.tokenizer.decode(body, skip_special_tokens=False)
        return Generation(text, token_ids, logprobs, "stop" if stopped else "length")
