"""A Gymnasium text space for LLM text: any Unicode string up to a length."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Text

_SAMPLE_CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()[]{}<>/\\_-+=*\n"


class UnicodeText(Text):
    """Like ``gymnasium.spaces.Text`` but every string up to ``max_length`` characters is a member.

    Gymnasium's ``Text`` only admits its charset (letters and digits by default), which rejects any
    real model output or tool response. Sampling still draws from a small printable charset.
    """

    def __init__(self, max_length: int, *, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(max_length, min_length=0, charset=_SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        length = int(self.np_random.integers(0, 200))
        chars = self.np_random.choice(len(_SAMPLE_CHARSET), size=length)
        return "".join(_SAMPLE_CHARSET[i] for i in chars)

    def __repr__(self) -> str:
        return f"UnicodeText({self.max_length})"
