"""Shared fixtures: the tiny tokenizer (trained once per session into a temp cache) and tiny models.

No top-level torch import: without the ``[train]`` extra every module here skips itself
(``pytest.importorskip``) and this file must still import.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _two_threads():
    """Timings and numerics as on the 2-core CI machine."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("mentor-cache")


@pytest.fixture(scope="session")
def tokenizer(tiny_cache):
    from mentor_agents.tokenizer import load_tiny_tokenizer

    return load_tiny_tokenizer(tiny_cache)


@pytest.fixture()
def tiny_model(tokenizer):
    from mentor_agents.models import build_tiny_model

    return build_tiny_model(tokenizer, seed=0)


@pytest.fixture(scope="session")
def train_tasks():
    from tooluse_envs.tasks import load_tasks

    return load_tasks("calculator", "train")


@pytest.fixture()
def serve_http():
    """``serve_http(handler_class)`` serves it on a free loopback port in a thread and returns it with
    ``handler_class.url`` set to the server's ``/v1`` base; every server is shut down after the test."""
    import threading
    from http.server import ThreadingHTTPServer

    servers = []

    def start(handler):
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        handler.url = f"http://127.0.0.1:{httpd.server_port}/v1"
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return handler

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def gqa_model(tokenizer):
    """A tiny Llama with grouped-query attention (3 query heads per KV head), as SmolLM2 has."""
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        initializer_range=0.6,  # large weights: greedy tokens vary from row to row and step to step
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()
