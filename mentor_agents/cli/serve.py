"""``mentor serve``: its flags, and loading the model it serves (the server itself is ``mentor_agents.serve``)."""

from __future__ import annotations

import argparse

from mentor_agents.serve import build_app


def serve(args: argparse.Namespace) -> str:
    """Load the model and serve until interrupted."""
    import uvicorn

    from mentor_agents.models import load_preset
    from mentor_agents.policies.hf import HFPolicy

    model, tokenizer = load_preset(args.model)
    app = build_app(HFPolicy(model, tokenizer), args.name or args.model)
    print(f"serving {args.model} at http://{args.host}:{args.port}/v1 (OpenAI chat completions)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return "stopped"


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve a model over an OpenAI-compatible API")
    p.add_argument("--model", default="tiny", help="tiny | smollm2-135m | hf:<path, e.g. runs/x/final_model>")
    p.add_argument("--name", default=None, help="model name reported to clients (default: --model)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=serve)
