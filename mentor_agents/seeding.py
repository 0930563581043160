"""Seeds derived from a run seed and a key, the same in every process and on every machine.

Python's ``hash`` is salted per process, so Ray actors and resumed runs would disagree; sha256 does not.
"""

from __future__ import annotations

import hashlib
import json


def derive_seed(seed: int, *key: object) -> int:
    """A 31-bit seed from the run seed and a JSON-serialisable key."""
    digest = hashlib.sha256(json.dumps([seed, *key]).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
