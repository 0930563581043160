"""A Gymnasium text space for LLM text: any Unicode string up to a length.

``UnicodeText`` subclasses ``gymnasium.spaces.Text`` (so wrappers and vector envs treat it as text) but
admits every Unicode string, which ``Text``'s own helpers cannot represent: they index characters in
the space's charset (``KeyError`` on any other character) and, for ``AsyncVectorEnv``'s shared memory,
read the buffer once when the vector env is built (every later observation is that first, empty
buffer). This module registers ``UnicodeText``'s own versions of those singledispatch helpers:

* ``flatten`` / ``unflatten`` / ``flatten_space``: the string as ``max_length`` int32 Unicode code
  points, padded with -1 (``Box(-1, 0x10FFFF, (max_length,), int32)``); any string round-trips, NUL
  characters and lone surrogates included.
* ``create_shared_memory`` / ``write_to_shared_memory`` / ``read_from_shared_memory``: one row of
  ``max_length + 1`` int32 per env, the string's length then its code points. The reader returns a
  live view (``SharedTextBatch``) that decodes the buffer when indexed, so
  ``AsyncVectorEnv(..., shared_memory=True)`` returns the current observations; with the vector env's
  default ``copy=True`` they arrive as a plain ``tuple`` of ``str``, as from ``SyncVectorEnv``.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, overload

import numpy as np
from gymnasium.spaces import Box, Space, Text
from gymnasium.spaces.utils import flatten, flatten_space, is_space_dtype_shape_equiv, unflatten
from gymnasium.vector.utils.shared_memory import (
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)

_SAMPLE_CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()[]{}<>/\\_-+=*\n"
MAX_CODE_POINT = 0x10FFFF
PAD = -1  # what fills a flattened string after its last character


class UnicodeText(Text):
    """Like ``gymnasium.spaces.Text`` but every string up to ``max_length`` characters is a member.

    Gymnasium's ``Text`` only admits its charset (letters and digits by default), which rejects any
    real model output or tool response. Sampling still draws from a small printable charset.
    Flattening and ``AsyncVectorEnv`` shared memory work on Unicode code points (see the module).
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

    def __eq__(self, other: object, /) -> bool:
        return isinstance(other, UnicodeText) and other.max_length == self.max_length

    __hash__ = None  # type: ignore[assignment]  # as Text's: spaces compare by value

    def __repr__(self) -> str:
        return f"UnicodeText({self.max_length})"


def code_points(space: UnicodeText, text: str) -> np.ndarray:
    """The string's Unicode code points as int32; ``ValueError`` if it is not a member of ``space``."""
    if not isinstance(text, str):
        raise ValueError(f"{space!r} holds strings, not {type(text).__name__}")
    if len(text) > space.max_length:
        raise ValueError(f"a string of {len(text)} characters does not fit {space!r}")
    # utf-32-le is the code points as little-endian int32; surrogatepass keeps lone surrogates (valid str)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<i4")


def from_code_points(points: np.ndarray) -> str:
    """The string of these code points (int32, no padding)."""
    return np.ascontiguousarray(points, dtype="<i4").tobytes().decode("utf-32-le", "surrogatepass")


# -- flattening (gymnasium.spaces.utils) ------------------------------------------------------------------


# mypy does not see UnicodeText (a Space[str]) as a Space[T] for flatten's dispatch: hence the ignores
@flatten.register(UnicodeText)
def _flatten_unicode_text(space: UnicodeText, x: str) -> np.ndarray:  # type: ignore[misc]
    points = code_points(space, x)
    flat = np.full(space.max_length, PAD, dtype=np.int32)
    flat[: len(points)] = points
    return flat


@unflatten.register(UnicodeText)
def _unflatten_unicode_text(space: UnicodeText, x: Any) -> str:  # type: ignore[misc]
    flat = np.asarray(x, dtype=np.int32).reshape(-1)
    ends = np.flatnonzero(flat < 0)
    return from_code_points(flat[: ends[0]] if len(ends) else flat)


@flatten_space.register(UnicodeText)
def _flatten_space_unicode_text(space: UnicodeText) -> Box:
    return Box(low=PAD, high=MAX_CODE_POINT, shape=(space.max_length,), dtype=np.int32)


@is_space_dtype_shape_equiv.register(UnicodeText)
def _unicode_text_equiv(space_1: UnicodeText, space_2: Space[Any]) -> bool:
    return isinstance(space_2, UnicodeText) and space_1.max_length == space_2.max_length


# -- AsyncVectorEnv shared memory (gymnasium.vector.utils.shared_memory) -------------------------------


def _rows(space: UnicodeText, shared_memory: Any) -> np.ndarray:
    """The buffer as one int32 row per env: ``[length, code point, ...]``."""
    flat = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)
    return flat.reshape(-1, space.max_length + 1)


class SharedTextBatch(Sequence[str]):
    """The strings in a ``UnicodeText`` shared-memory buffer, decoded when read (a live view).

    Like the numpy views Gymnasium returns for array spaces, it shows what the workers wrote last;
    ``copy.copy``, ``copy.deepcopy`` and pickling give a plain ``tuple`` of ``str`` (what
    ``AsyncVectorEnv`` returns with its default ``copy=True``).
    """

    def __init__(self, space: UnicodeText, shared_memory: Any, n: int) -> None:
        self._space = space
        self._shared_memory = shared_memory
        self._n = n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(self._n)))
        if not -self._n <= index < self._n:
            raise IndexError(f"env index {index} out of range for {self._n} envs")
        row = _rows(self._space, self._shared_memory)[index]
        length = int(row[0])
        return from_code_points(row[1 : 1 + length])

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(self._n))

    def snapshot(self) -> tuple[str, ...]:
        """The strings as they are now."""
        return tuple(self)

    def __copy__(self) -> tuple[str, ...]:
        return self.snapshot()

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return self.snapshot()

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (self.snapshot(),))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SharedTextBatch):
            return self.snapshot() == other.snapshot()
        return isinstance(other, (tuple, list)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # its contents change

    def __repr__(self) -> str:
        return f"SharedTextBatch({self.snapshot()!r})"


@create_shared_memory.register(UnicodeText)
def _create_unicode_text_shared_memory(space: UnicodeText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


@read_from_shared_memory.register(UnicodeText)
def _read_unicode_text_from_shared_memory(space: UnicodeText, shared_memory: Any, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(space, shared_memory, n)


@write_to_shared_memory.register(UnicodeText)
def _write_unicode_text_to_shared_memory(space: UnicodeText, index: int, value: str, shared_memory: Any) -> None:
    points = code_points(space, value)
    row = _rows(space, shared_memory)[index]
    row[1 : 1 + len(points)] = points
    row[0] = len(points)
