"""Regenerate the committed task files: ``python -m tooluse_envs.generate [domain ...] [--check]``.

Generation is deterministic (fixed seeds per split), so ``--check`` verifies that the committed files
are exactly what the generators produce today.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tooluse_envs import registry
from tooluse_envs.domain import make_domain
from tooluse_envs.task_stats import axis_counts, leaked_computations, strategy_stats
from tooluse_envs.tasks import SPLITS, load_tasks, read_task_file, tasks_dir, write_tasks

GENERATED_DOMAINS = registry.generated_domains()  # derived alias for older imports; main() asks the registry


def generate(domain_name: str, out_dir: Path) -> dict[str, int]:
    """Write every split of one domain; returns the task count per split."""
    domain = make_domain(domain_name)
    counts = {}
    for split in SPLITS:
        tasks = domain.generate(split)
        write_tasks(tasks, out_dir / domain_name / f"{split}.jsonl")
        counts[split] = len(tasks)
    domain.close()
    return counts


def report(domain_name: str, root: Path | None = None) -> str:
    """What ``make tasks`` prints per domain: strategy variety, OOD axes and train/test_id leaks."""

    def tasks(split: str) -> list:
        return read_task_file(root / domain_name / f"{split}.jsonl") if root else load_tasks(domain_name, split)

    lines = [f"## {domain_name}"]
    for split in SPLITS:
        row = strategy_stats(tasks(split)).as_row()
        lines.append(f"  {split:<8} " + "  ".join(f"{key}: {value}" for key, value in row.items()))
    axes = axis_counts(tasks("test_ood"))
    lines.append("  test_ood axes: " + ", ".join(f"{axis} {n}" for axis, n in sorted(axes.items())))
    leaked = leaked_computations(tasks("train"), tasks("test_id"))
    lines.append(f"  test_id tasks computing a train task's computation: {len(leaked)}")
    if domain_name == "search" and root is None:  # retrieval difficulty: does the task need searching?
        from tooluse_envs.domains.search_audit import retrieval_report

        lines += [f"  {split:<8} {retrieval_report((split,)).summary()}" for split in SPLITS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "domains", nargs="*", default=list(registry.generated_domains()), help="default: every generated domain"
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the package's tasks/)")
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        import tempfile

        stale = []
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.domains:
                generate(name, Path(tmp))
                for split in SPLITS:
                    rel = Path(name) / f"{split}.jsonl"
                    if (Path(tmp) / rel).read_bytes() != (tasks_dir() / rel).read_bytes():
                        stale.append(str(rel))
        print(json.dumps({"stale": stale}))
        return 1 if stale else 0
    out = args.out or tasks_dir()
    for name in args.domains:
        print(name, generate(name, out))
        print(report(name, None if args.out is None else out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
