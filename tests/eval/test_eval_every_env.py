"""``mentor eval`` runs on every env id and every protocol (BFCL and Mixed own no task files)."""

from __future__ import annotations

import json

import pytest

import tooluse_envs
from mentor_agents.cli.eval import main
from mentor_agents.eval.run import validate_results

PROTOCOLS = ["paper", "cross-domain"]


def _axes(sample: dict[str, list[int]], drawn_only: bool) -> set[str]:
    """The OOD axes in a slot's sample strata, named as the breakdown names them (domain/axis in a blend)."""
    groups = [name.split("|")[0] for name, (k, _) in sample.items() if k or not drawn_only]
    blend = len({group.split("/")[0] for group in sample}) > 1
    return {
        group.replace("/axis:", "/") if blend else group.split("/axis:")[1] for group in groups if "/axis:" in group
    }


@pytest.mark.parametrize("target", [*tooluse_envs.ENV_IDS, *PROTOCOLS])
def test_mentor_eval_runs_on_every_env_id_and_protocol(target, tmp_path):
    out = tmp_path / "o.json"
    argv = ["eval", "--agent", "oracle", "--env", target, "--episodes", "4", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    validate_results(doc)
    assert doc["results"], target
    if target in tooluse_envs.ENV_IDS:
        assert {slot["split"] for slot in doc["results"]} == {"test_id", "test_ood"}
    for slot in doc["results"]:
        assert slot["metrics"]["n_episodes"] == 4 and slot["metrics"]["success"] == 1.0, slot["label"]
        axes, drawn = _axes(slot["sample"], drawn_only=False), _axes(slot["sample"], drawn_only=True)
        assert set(slot["breakdown"].get("axis", {})) == drawn, slot["label"]  # reported per OOD axis
        groups = {name.split("|")[0] for name in slot["sample"]}
        assert len(groups) > 4 or drawn == axes, slot["label"]  # every axis drawn when --episodes allows
    if target == "tooluse/Mixed-v0":  # the sample covers the blend, not the first domain's file
        assert all(len(slot["breakdown"]["domain"]) == 4 for slot in doc["results"])
