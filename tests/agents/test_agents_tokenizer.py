"""The tiny tokenizer and its chat template."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from mentor_agents.rollout import make_envs  # noqa: E402
from mentor_agents.tokenizer import SPECIAL_TOKENS, encode, load_tiny_tokenizer, render  # noqa: E402
from tooluse_envs.oracle import reference_actions  # noqa: E402


def _oracle_conversation(task_id: str) -> tuple[list[dict], list[dict]]:
    (env,) = make_envs("tooluse/Calculator-v0", 1, split="train")
    _, info = env.reset(options={"task_id": task_id})
    for action in reference_actions(env.unwrapped.task.reference):
        _, _, terminated, truncated, end = env.step(action)
    assert terminated or truncated
    return end["messages"], info["tools"]


def test_special_tokens_are_single_ids(tokenizer):
    for token in SPECIAL_TOKENS:
        assert len(encode(tokenizer, token)) == 1
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.padding_side == "left"


def test_cached_tokenizer_is_identical(tokenizer, tiny_cache):
    again = load_tiny_tokenizer(tiny_cache)
    assert again.get_vocab() == tokenizer.get_vocab()


@pytest.mark.parametrize("task_id", ["calculator/train/00001", "calculator/train/00002"])
def test_template_is_prefix_preserving(tokenizer, task_id):
    messages, tools = _oracle_conversation(task_id)
    for k in range(1, len(messages)):
        shorter = render(tokenizer, messages[:k], tools, generation_prompt=messages[k]["role"] == "assistant")
        longer = render(tokenizer, messages[: k + 1], tools, generation_prompt=False)
        assert longer.startswith(shorter), k


def test_template_renders_tools_calls_and_responses(tokenizer):
    messages, tools = _oracle_conversation("calculator/train/00001")
    text = render(tokenizer, messages, tools, generation_prompt=False)
    assert text.startswith("<|im_start|>system\n") and "<tools>" in text
    assert json.dumps(tools[0], ensure_ascii=False) in text
    call = messages[2]["tool_calls"][0]["function"]
    assert '<tool_call>\n{"name": "multiply", "arguments": ' + json.dumps(call["arguments"]) + "}\n</tool_call>" in text
    assert "<|im_start|>user\n<tool_response>\n" in text
    assert text.endswith("\\boxed{29.96}.<|im_end|>\n")


def test_digits_tokenize_alone(tokenizer):
    ids = encode(tokenizer, "2.65")
    assert tokenizer.convert_ids_to_tokens(ids) == ["2", ".", "6", "5"]


def test_training_is_deterministic(tokenizer):
    from mentor_agents.tokenizer import train_tokenizer

    assert train_tokenizer().get_vocab() == tokenizer.get_vocab()


def test_tokenizer_corpus_holds_no_test_question():
    from mentor_agents.tokenizer import _corpus
    from tooluse_envs.tasks import load_tasks

    corpus = set(_corpus())
    test_questions = {t.question for split in ("test_id", "test_ood") for t in load_tasks("calculator", split)}
    train_questions = {t.question for t in load_tasks("calculator", "train")}
    assert train_questions <= corpus
    assert not (test_questions - train_questions) & corpus
