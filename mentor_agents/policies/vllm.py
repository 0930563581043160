"""``VLLMPolicy``: fast GPU sampling with vLLM, weights synced from the trainer after each update.

Imported lazily (``from mentor_agents.policies.vllm import VLLMPolicy``); needs ``pip install
'tooluse-mentor[vllm]'`` and a GPU. Token ids in, token ids and log-probs out, like ``HFPolicy``.
Log-probs: vLLM reports them after temperature scaling with ``logprobs_mode="processed_logprobs"``
(top-p truncation included, so they can differ slightly from the trainer's); GRPO's single update
per batch keeps the ratio near 1 either way.
"""

from __future__ import annotations

from typing import Any

from mentor_agents.policies.base import Generation, Prompt, SamplingParams

try:  # pragma: no cover - needs a GPU
    import vllm
    from vllm.inputs import TokensPrompt
except ImportError as exc:  # pragma: no cover
    raise ImportError(
        "VLLMPolicy needs vLLM and a CUDA GPU: pip install 'tooluse-mentor[vllm]'. "
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

    def load_weights(self, model: Any) -> None:
        """Push the trainer's current weights into the engine (call after each optimizer step)."""
        state = ((name, tensor.detach()) for name, tensor in model.state_dict().items())
        engine_model = self.llm.llm_engine.model_executor.driver_worker.worker.model_runner.model
        engine_model.load_weights(state)
        self.llm.reset_prefix_cache()
