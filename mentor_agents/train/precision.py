"""Which dtype the forward and backward passes compute in: the ``precision`` of the trainers and ``HFPolicy``.

``auto``: bf16 autocast on a GPU, fp32 on a CPU (what the project always did). ``bf16``: bf16 autocast on
either; a CPU without native bf16 matmuls (AMX or AVX-512-BF16) would emulate them, slower than fp32, so
there it warns once and runs fp32. ``fp32``: no autocast anywhere. Only the matmuls change: weights,
gradients and optimizer state stay fp32 (fp32 master weights, so small lr updates are not rounded away),
and autocast keeps softmax and norms in fp32.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import torch

from mentor_agents.train.config import PRECISIONS, check_precision  # noqa: F401 (public here too)

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")

_fallback_warned = False


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 matmuls: AMX or AVX-512-BF16.

    torch's own check where it has one (``torch.cpu._is_amx_tile_supported`` /
    ``_is_avx512_bf16_supported``, any OS), else the Linux ``/proc/cpuinfo`` flags.
    """
    names = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    if all(callable(getattr(torch.cpu, name, None)) for name in names):
        return any(bool(getattr(torch.cpu, name)()) for name in names)
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_precision(precision: str, device: Any) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None``: no autocast, fp32 compute).

    ``bf16`` on a CPU without AMX/AVX-512-BF16 warns (once per process) and gives ``None``.
    """
    check_precision(precision)
    device_type = torch.device(device).type
    if precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if device_type == "cuda" else None
    if device_type == "cpu" and not cpu_has_bf16():
        global _fallback_warned
        if not _fallback_warned:
            _fallback_warned = True
            warnings.warn(
                "precision 'bf16' asked for, but this CPU has neither AMX nor AVX-512-BF16 "
                f"(/proc/cpuinfo flags {' / '.join(BF16_CPU_FLAGS)}), so bf16 matmuls would be emulated "
                "and slower: running fp32 instead",
                RuntimeWarning,
                stacklevel=2,
            )
        return None
    return torch.bfloat16
