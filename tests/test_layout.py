"""The package layout holds: layers import only downward, mentor_agents has no import cycles, and every
module opens with a docstring saying what it owns.

Imports are read from the source (every ``import`` statement, including those inside functions, which
run later but still tie the modules together), so the test needs none of the optional dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sandbox", "tooluse_envs", "mentor_agents")
LAYER = {name: rank for rank, name in enumerate(PACKAGES)}  # each package may import only lower ranks


def module_files() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = module_files()


def imported_modules(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports: for ``from a.b import c``, ``a.b.c`` when that is a module, else
    ``a.b``; plus the packages above each one (their ``__init__`` runs first) that ``name`` is not inside."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a non-module attribute path
                target = target.rpartition(".")[0]
            if not target:
                continue
            found.add(target)
            parts = target.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if not (name == parent or name.startswith(parent + ".")):
                    found.add(parent)
    found.discard(name)
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_reader_sees_function_level_and_relative_imports(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import os\ndef f():\n    from mentor_agents.eval import run\n    from . import seeding\n")
    assert imported_modules("mentor_agents.fake", path) == {  # not mentor_agents itself: fake is inside it
        "mentor_agents.eval",
        "mentor_agents.eval.run",
        "mentor_agents.seeding",
    }


def test_mentor_agents_has_no_import_cycle():
    graph = {name: {t for t in deps if t.startswith("mentor_agents")} for name, deps in GRAPH.items()}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_layers_import_only_downward(name):
    own = LAYER[name.split(".")[0]]
    upward = sorted(t for t in GRAPH[name] if LAYER[t.split(".")[0]] > own)
    assert not upward, f"{name} imports a higher layer: {upward}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("mentor_agents")))
def test_every_mentor_agents_module_opens_with_what_it_owns(name):
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text()))
    first_line = (doc or "").split("\n")[0]
    assert len(first_line.split()) >= 4, f"{MODULES[name]} needs a first docstring line saying what it owns"


def test_the_mentor_command_line_builds_without_torch():
    """``mentor eval --agent oracle`` and ``mentor --help`` must work with the base install: building
    the whole parser (train's --sft.* / --grpo.* flags included) imports no torch or transformers."""
    import subprocess
    import sys

    code = (
        "import sys; from mentor_agents.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
