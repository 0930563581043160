"""Teachers: the oracle's conversations and a policy teacher's filtering and cache."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from mentor_agents.policies import ScriptedPolicy  # noqa: E402
from mentor_agents.teachers import OracleTeacher, PolicyTeacher  # noqa: E402


def test_oracle_conversations_hold_real_tool_responses():
    (conv,) = OracleTeacher().conversations(["calculator/train/00001"])
    roles = [m["role"] for m in conv.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert conv.messages[3]["content"] == "20.04" and conv.tools


@pytest.mark.parametrize(("mode", "kept"), [("oracle", 1.0), ("no_tool", 0.0)])
def test_policy_teacher_keeps_correct_tool_using_episodes_and_caches(tokenizer, train_tasks, tmp_path, mode, kept):
    ids = [task.id for task in train_tasks[:6]]
    cache = tmp_path / f"{mode}.jsonl"
    teacher = PolicyTeacher(ScriptedPolicy(tokenizer, train_tasks, mode), tokenizer, cache, batch_size=4)
    conversations = teacher.conversations(ids)
    assert teacher.kept_fraction == kept and len(conversations) == int(kept * len(ids))
    again = PolicyTeacher(None, tokenizer, cache)  # type: ignore[arg-type] - served from the cache
    assert [c.messages for c in again.conversations(ids)] == [c.messages for c in conversations]
    assert again.kept_fraction == kept
