import pytest
from gymnasium.utils.env_checker import check_env

from tooluse_envs import make_env
from tooluse_envs.errors import ConfigError, ToolDefinitionError
from tooluse_envs.oracle import play_reference
from tooluse_envs.tools import function_tool


def get_price(item: str, quantity: int = 1) -> float:
    """Price of some units of an item, in dollars.

    Args:
        item: The item's name.
        quantity: How many units.
    """
    return {"apple": 0.5, "pear": 0.75}[item] * quantity


TASKS = [
    {
        "id": "apples",
        "question": "What do 4 apples cost?",
        "answer": 2,
        "reference": [("get_price", {"item": "apple", "quantity": 4})],
    },
    {
        "id": "fruit",
        "question": "Which is dearer, an apple or a pear?",
        "answer": "pear",
        "reference": [("get_price", {"item": "apple"}), ("get_price", {"item": "pear"})],
    },
]


def test_schema_comes_from_signature_and_docstring():
    schema = function_tool(get_price).schema["function"]
    assert schema["description"] == "Price of some units of an item, in dollars."
    assert schema["parameters"]["properties"] == {
        "item": {"type": "string", "description": "The item's name."},
        "quantity": {"type": "integer", "description": "How many units."},
    }
    assert schema["parameters"]["required"] == ["item"]


def test_a_few_lines_make_a_working_env():
    env = make_env(tools=[get_price], tasks=TASKS, reward="mentor")
    check_env(env, skip_render_check=True)
    for task in TASKS:
        reward, info = play_reference(env, task["id"])
        assert reward == pytest.approx(1.1) and info["episode"]["success"]
    env.reset(options={"task_id": "apples"})
    obs, *_ = env.step('<tool_call>{"name": "get_price", "arguments": {"item": "kiwi"}}</tool_call>')
    assert "KeyError" in obs


def test_bad_tools_and_tasks_fail_early_and_clearly():
    def untyped(x):
        """Does nothing."""

    with pytest.raises(ToolDefinitionError, match="type annotation"):
        make_env(tools=[untyped], tasks=TASKS)
    with pytest.raises(ConfigError, match="needs id, question and answer"):
        make_env(tools=[get_price], tasks=[{"id": "x", "question": "?"}])
