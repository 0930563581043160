"""This distribution's ``sandbox`` package, even where a user's own ``sandbox`` module shadows it.

``sandbox`` is the public import name (``from sandbox import Sandbox``), and a short one: a project with
its own ``sandbox.py`` next to its script puts that file first on ``sys.path``, and a plain ``import
sandbox`` inside ``tooluse_envs`` would then get the user's module (Code-v0 failed with ImportError). The
envs therefore import it through :func:`project_sandbox`, which asks the import system *where*
``sandbox`` would come from without running it, takes it normally when that is this distribution's
package, and otherwise loads this distribution's package (installed next to ``tooluse_envs``) under the
private name :data:`PRIVATE_NAME`. The user's module is neither run nor replaced: their ``import sandbox``
still gets their own. The package works under any name (its imports are relative, and its worker runs
from source text), so the private copy is the full package.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "sandbox"
"""Where this distribution installs ``sandbox``: next to ``tooluse_envs``, in site-packages or a checkout."""

PRIVATE_NAME = "tooluse_envs._sandbox"
"""The name this distribution's ``sandbox`` is loaded under when another module owns ``sandbox``."""

_lock = threading.Lock()


def _ours(origin: str | None) -> bool:
    return origin is not None and Path(origin).resolve().parent == PACKAGE_DIR


def _where_sandbox_comes_from() -> str | None:
    """The file ``import sandbox`` loads (or has loaded), found without running it; None if none would."""
    loaded = sys.modules.get("sandbox")
    if loaded is not None:
        return getattr(loaded, "__file__", None)
    try:
        spec = importlib.util.find_spec("sandbox")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def project_sandbox() -> ModuleType:
    """The ``sandbox`` package of this distribution (imported normally where nothing shadows it)."""
    with _lock:
        origin = _where_sandbox_comes_from()
        if _ours(origin):
            return importlib.import_module("sandbox")
        if PRIVATE_NAME in sys.modules:
            return sys.modules[PRIVATE_NAME]
        init = PACKAGE_DIR / "__init__.py"
        if not init.is_file():
            raise ImportError(f"the tooluse-mentor sandbox package is missing from {PACKAGE_DIR}")
        log.info("'sandbox' resolves to %s, not this distribution's package: loading %s as %s", origin,
                 PACKAGE_DIR, PRIVATE_NAME)
        spec = importlib.util.spec_from_file_location(
            PRIVATE_NAME, init, submodule_search_locations=[str(PACKAGE_DIR)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[PRIVATE_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(PRIVATE_NAME, None)
            raise
        return module
