"""``mentor serve``: its flags, and loading the model it serves (the server itself is ``mentor_agents.serve``)."""

from __future__ import annotations

import argparse

from starlette.applications import Starlette

from mentor_agents.agents import MODELS, AgentSpec, model_dir
from mentor_agents.errors import UserError
from mentor_agents.serve import build_app

MODEL_HELP = "tiny | smollm2-135m | hf:<path or run dir>, as mentor eval --agent (e.g. hf:runs/x)"


def model_preset(model: str) -> str:
    """The preset ``load_preset`` loads for ``--model``: ``hf:`` run directories resolve to their
    ``final_model/`` with ``mentor eval``'s own resolver, so both commands accept the same values."""
    try:
        spec = AgentSpec.parse(model)
    except ValueError:
        spec = AgentSpec("unknown")
    if spec.kind == "hf":
        return f"hf:{model_dir(spec.target)}"
    if spec.kind in MODELS:
        return spec.kind
    raise UserError(f"--model {model}: not a model to serve; choose one of {MODEL_HELP}")


def serve_app(model: str, name: str | None = None) -> Starlette:
    """The ASGI app ``mentor serve --model <model>`` runs: the model behind ``build_app``, which keeps each
    conversation's token ids so a served agent plays as ``mentor eval --agent hf:`` does (``serve``'s
    docstring). Tests serve it on a loopback port."""
    preset = model_preset(model)
    from mentor_agents.models import load_preset
    from mentor_agents.policies.hf import HFPolicy

    weights, tokenizer = load_preset(preset)
    return build_app(HFPolicy(weights, tokenizer), name or model, tokenizer=tokenizer)


def serve(args: argparse.Namespace) -> str:
    """Load the model and serve until interrupted."""
    model_preset(args.model)  # a bad --model is one line, before torch is imported
    import uvicorn

    app = serve_app(args.model, args.name)
    print(f"serving {args.model} at http://{args.host}:{args.port}/v1 (OpenAI chat completions)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return "stopped"


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve a model over an OpenAI-compatible API")
    p.add_argument("--model", default="tiny", help=MODEL_HELP)
    p.add_argument("--name", default=None, help="model name reported to clients (default: --model)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=serve)
