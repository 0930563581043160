"""Fault injection for the tests of actor replacement: one actor dies mid-unit, once.

Not configuration: tests set ``CRASH_MARKER`` (a file path) in the driver before starting actors; each
actor is handed the path when it is spawned, and the first one to delete the file exits abruptly, as a
lost node would. Left ``None``, nothing happens.
"""

from __future__ import annotations

import os

CRASH_MARKER: str | None = None


def claim(path: str | None) -> bool:
    """True for the one caller that deletes the marker file."""
    if not path:
        return False
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
