"""The ``tiny`` preset's tokenizer: a byte-level BPE trained by the project on the task corpus.

Why train our own: the tiny model is built from scratch, so it needs a vocabulary; a BPE trained on
the calculator questions, tool schemas and reference trajectories compresses the long tool-schema
system turn to a few hundred tokens, which is what makes CPU training feasible. Training takes a few
seconds and the result is cached on disk (keyed by a hash of the corpus recipe and template).

The chat template is ChatML with Hermes tool calls. It is *prefix-preserving*: rendering
``messages[:k]`` (plus the generation prompt when ``messages[k]`` is an assistant turn) is a string
prefix of rendering ``messages[:k+1]``; every tool message is its own ``user`` turn holding one
``<tool_response>`` block. The rollout engine relies on this to append only the newly rendered
tokens (token-in-token-out).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = [
    "<|pad|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
]
PAD, EOS = "<|pad|>", "<|im_end|>"
TINY_VOCAB_SIZE = 4096
TOKENIZER_VERSION = "2"

CHAT_TEMPLATE = r"""
{%- if messages and messages[0]['role'] == 'system' -%}
  {%- set system = messages[0]['content'] -%}
  {%- set loop_messages = messages[1:] -%}
{%- else -%}
  {%- set system = '' -%}
  {%- set loop_messages = messages -%}
{%- endif -%}
{%- if system or tools -%}
  {{- '<|im_start|>system\n' + system -}}
  {%- if tools -%}
    {{- '\n\n# Tools\n<tools>' -}}
    {%- for tool in tools -%}{{- '\n' + (tool | tojson) -}}{%- endfor -%}
    {{- '\n</tools>' -}}
  {%- endif -%}
  {{- '<|im_end|>\n' -}}
{%- endif -%}
{%- for message in loop_messages -%}
  {%- if message['role'] == 'assistant' -%}
    {%- set content = message['content'] or '' -%}
    {{- '<|im_start|>assistant\n' + content -}}
    {%- if message['tool_calls'] is defined and message['tool_calls'] -%}
      {%- for call in message['tool_calls'] -%}
        {%- set fn = call['function'] if call['function'] is defined else call -%}
        {%- if content or not loop.first -%}{{- '\n' -}}{%- endif -%}
        {{- '<tool_call>\n{"name": ' + (fn['name'] | tojson) + ', "arguments": ' -}}
        {%- if fn['arguments'] is string -%}{{- fn['arguments'] -}}
        {%- else -%}{{- fn['arguments'] | tojson -}}{%- endif -%}
        {{- '}\n</tool_call>' -}}
      {%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
  {%- elif message['role'] == 'tool' -%}
    {{- '<|im_start|>user\n<tool_response>\n' + message['content'] + '\n</tool_response><|im_end|>\n' -}}
  {%- else -%}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
""".strip()


def default_cache_dir() -> Path:
    """Where built artefacts live: ``$TOOLUSE_MENTOR_CACHE`` or ``~/.cache/tooluse-mentor``."""
    return Path(os.environ.get("TOOLUSE_MENTOR_CACHE", Path.home() / ".cache" / "tooluse-mentor"))


TRAINING_SPLIT = "train"  # never the test splits: their questions and unseen tools must not shape the vocabulary


def _corpus(domain: str = "calculator") -> Iterator[str]:
    """Texts the BPE is trained on: the train split's system prompt and schemas (weighted up), its
    questions and reference turns.

    The constant system turn is repeated so it compresses to a few long tokens; role headers too.
    """
    import gymnasium as gym

    import tooluse_envs
    from tooluse_envs.oracle import reference_actions
    from tooluse_envs.tasks import load_tasks

    gym.register_envs(tooluse_envs)
    env = gym.make("tooluse/Calculator-v0", split=TRAINING_SPLIT)
    _, info = env.reset(seed=0)
    env.close()
    system = info["messages"][0]["content"] + "\n\n# Tools\n<tools>\n"
    schemas = "".join(json.dumps(tool, ensure_ascii=False) + "\n" for tool in info["tools"])
    yield from [system, schemas + "</tools>"] * 300
    yield from ["system\n", "user\n", "assistant\n"] * 1000
    for task in load_tasks(domain, TRAINING_SPLIT):
        yield task.question
        yield from reference_actions(task.reference)
        if task.reference.answer is not None:
            yield f"\n{task.reference.answer}\n"


def _recipe_hash(vocab_size: int, domain: str = "calculator") -> str:
    """Names the cached tokenizer: it changes with the recipe and with the training tasks it reads."""
    from tooluse_envs.tasks import tasks_dir

    corpus = hashlib.sha256((tasks_dir() / domain / f"{TRAINING_SPLIT}.jsonl").read_bytes()).hexdigest()
    key = json.dumps([TOKENIZER_VERSION, vocab_size, SPECIAL_TOKENS, CHAT_TEMPLATE, corpus])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def train_tokenizer(vocab_size: int = TINY_VOCAB_SIZE) -> Any:
    """Train the byte-level BPE (a ``tokenizers.Tokenizer``); deterministic for a fixed corpus."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    # Digits stay single tokens (numbers are copied from question to call to answer, so they must
    # tokenize the same everywhere); pieces end at newlines, so a rendered prompt that ends with
    # "assistant\n" tokenizes the same alone as inside the full conversation.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\d"), "isolated"),
            pre_tokenizers.Split("\n", "merged_with_previous"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(_corpus()), trainer=trainer)
    return tok


def wrap_tokenizer(tok: Any) -> Any:
    """Wrap a ``tokenizers.Tokenizer`` as a transformers fast tokenizer with our chat template."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=PAD,
        bos_token=None,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def load_tiny_tokenizer(cache_dir: str | Path | None = None, vocab_size: int = TINY_VOCAB_SIZE) -> Any:
    """The tiny tokenizer, trained once and then loaded from ``cache_dir`` (atomic write, safe to share)."""
    from transformers import PreTrainedTokenizerFast

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"tiny-tokenizer-{_recipe_hash(vocab_size)}"
    if not (path / "tokenizer.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tok-"))
        wrap_tokenizer(train_tokenizer(vocab_size)).save_pretrained(tmp)
        try:
            tmp.rename(path)
        except OSError:  # another process won the race; theirs is identical
            shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    tokenizer.padding_side = "left"
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def render(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict] | None, generation_prompt: bool) -> str:
    """The chat template as text (one place, so every caller renders identically)."""
    return tokenizer.apply_chat_template(
        messages, tools=tools or None, tokenize=False, add_generation_prompt=generation_prompt
    )


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered text piece: no BOS/EOS added, special tokens recognised."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
