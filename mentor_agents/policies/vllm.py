"""``VLLMPolicy``: fast GPU sampling with vLLM, weights synced from the trainer after each update.

Imported lazily (``from mentor_agents.policies.vllm import VLLMPolicy``); needs ``pip install vllm``
(not an extra: it brings its own CUDA torch) and a GPU. Token ids in, token ids and log-probs out, like ``HFPolicy``; it
is a ``Sampler``. Weights reach vLLM's workers through its public extension hook
(``worker_extension_cls`` + ``collective_rpc``, see ``vllm_worker.py``), not through engine internals.
Log-probs: vLLM reports them after temperature scaling with ``logprobs_mode="processed_logprobs"``
(top-p truncation included, so they can differ slightly from the trainer's). GRPO does not use them
for the ratio: the learner recomputes old log-probs itself; ``sampler_logprob_gap`` logs the gap.

Not run on this project's CI machines (no GPU, no vLLM wheel); the worker extension's logic is tested
on CPU with a stand-in model runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mentor_agents.policies.base import Generation, Prompt, SamplingParams, Weights

try:  # pragma: no cover - needs a GPU
    import vllm
    from vllm.inputs import TokensPrompt
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "VLLMPolicy needs vLLM and a CUDA GPU: pip install vllm. "
        "On CPU use mentor_agents.policies.hf.HFPolicy instead."
    ) from exc


class VLLMPolicy:  # pragma: no cover - needs a GPU
    """A vLLM engine colocated with the trainer (``gpu_memory_utilization`` leaves room for training)."""

    def __init__(
        self, model_path: str, tokenizer: Any, gpu_memory_utilization: float = 0.35, seed: int = 0, **engine: Any
    ) -> None:
        self.tokenizer = tokenizer
        self.llm = vllm.LLM(
            model=model_path,
            tokenizer=model_path,
            dtype="bfloat16",
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=True,
            seed=seed,
            logprobs_mode="processed_logprobs",
            worker_extension_cls="mentor_agents.policies.vllm_worker.WeightSyncExtension",
            **engine,
        )

    def _ids(self, prompt: Prompt) -> list[int]:
        if prompt and isinstance(prompt[0], dict):
            text = self.tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return list(prompt)  # type: ignore[arg-type]

    def generate(self, prompts: list[Prompt], sampling: SamplingParams) -> list[Generation]:
        params = vllm.SamplingParams(
            temperature=sampling.temperature,
            top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
            max_tokens=sampling.max_new_tokens,
            seed=sampling.seed,
            logprobs=0,  # the sampled token's log-prob only
            stop_token_ids=[self.tokenizer.eos_token_id],
            skip_special_tokens=False,
        )
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=self._ids(p)) for p in prompts], params)
        generations = []
        for output in outputs:
            sample = output.outputs[0]
            ids = list(sample.token_ids)
            logprobs = [step[token].logprob for token, step in zip(ids, sample.logprobs or [], strict=False)]
            stopped = sample.finish_reason == "stop" and bool(ids) and ids[-1] == self.tokenizer.eos_token_id
            body = ids[:-1] if stopped else ids
            text = self.tokenizer.decode(body, skip_special_tokens=False)
            generations.append(Generation(text, ids, logprobs, "stop" if stopped else "length"))
        return generations

    def sync_weights(self, weights: Weights) -> None:
        """Load the learner's weights into every vLLM worker, then drop prefix-cache entries computed
        with the old ones (a state dict travels by RPC; a path is read by each worker)."""
        if isinstance(weights, Mapping):
            state = {name: tensor.detach().cpu() for name, tensor in weights.items()}
            self.llm.collective_rpc("load_weights_from_state", args=(state,))
        else:
            self.llm.collective_rpc("load_weights_from_path", args=(str(weights),))
        self.llm.reset_prefix_cache()
