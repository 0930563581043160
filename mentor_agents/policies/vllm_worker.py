"""Weight loading inside vLLM's worker processes, through vLLM's public extension hook.

vLLM runs the model in worker processes that the trainer cannot reach into; its supported way in is
``LLM(worker_extension_cls="...")``, which mixes a class's methods into every worker, and
``LLM.collective_rpc(name, args=...)``, which calls one of them on every worker. This module is that
class. It imports nothing from vLLM, so its logic is tested on a CPU without vLLM installed.
"""

from __future__ import annotations

from typing import Any


class WeightSyncExtension:
    """Methods added to each vLLM worker; ``self.model_runner`` is the worker's own."""

    model_runner: Any

    def load_weights_from_state(self, state: dict[str, Any]) -> int:
        """Load ``name -> tensor`` pairs into the worker's model; returns how many were given."""
        self.model_runner.model.load_weights(weights=list(state.items()))
        return len(state)

    def load_weights_from_path(self, path: str) -> int:
        """Load a weights file (``.safetensors`` or a torch ``.pt``) written by the trainer."""
        from mentor_agents.policies.hf import load_weights_file

        return self.load_weights_from_state(load_weights_file(path))
