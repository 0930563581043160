"""Calculator: math word problems solved with the 12 calculator tools of the MENTOR paper.

In-domain tasks (``train``, ``test_id``) come from 16 templates of 1–3 teacher steps with small numbers
and the 12 tools; the teacher's strategy is chosen per problem and other correct strategies ship as
``reference.alternatives``. ``test_ood`` is the union of five axes, each changing one thing: unseen
templates, longer chains, larger magnitudes, distractor tools, and tools never needed in training
(``calculator_splits``).
"""

from __future__ import annotations

from tooluse_envs.domain import Domain
from tooluse_envs.domains.calculator_splits import generate_split
from tooluse_envs.domains.calculator_tools import all_tools
from tooluse_envs.tasks import Task
from tooluse_envs.tools import Tool


class CalculatorDomain(Domain):
    """Math word problems with the paper's 12 calculator tools."""

    name = "calculator"

    def tools(self) -> dict[str, Tool]:
        return all_tools()

    def generate(self, split: str) -> list[Task]:
        return generate_split(split)


DOMAIN_CLASS = CalculatorDomain
